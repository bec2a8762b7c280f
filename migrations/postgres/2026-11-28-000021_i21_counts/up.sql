-- The summary of a composante (vaults per status, subscriptions queued) as stored counts: one
-- row per (composante, status), so the dashboard reads a handful of rows instead of counting
-- the composante's students and probing the job queue for each (28 ms at 6,000 students with
-- 60,000 subscriptions queued).
-- `queued`: the vault has a subscription job pending or running (the summary's
-- `queued_subscriptions`), kept by triggers on jobs.
ALTER TABLE vault_registry ADD COLUMN queued BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE vault_registry SET queued = TRUE
WHERE vault_id IN (SELECT subject_id FROM jobs
                   WHERE kind = 'vault_subscribe' AND status IN ('pending', 'running'));

CREATE TABLE vault_registry_counts (
    composante TEXT NOT NULL,
    status TEXT NOT NULL,
    vaults BIGINT NOT NULL,
    queued BIGINT NOT NULL,
    PRIMARY KEY (composante, status)
);
INSERT INTO vault_registry_counts (composante, status, vaults, queued)
SELECT composante, status, COUNT(*), COUNT(*) FILTER (WHERE queued)
FROM vault_registry GROUP BY composante, status;

-- Writers never update a count while they work: every statement appends its changes here
-- (one row per composante and status it changed), and the transaction folds its own rows into
-- the counts when it commits (a deferred trigger), all in one statement in key order. Count
-- rows are so locked only for the instant of a commit, always in the same order: writers that
-- change statuses concurrently wait for each other's commit at most, never deadlock, and a
-- rolled-back transaction leaves no trace.
CREATE TABLE vault_registry_count_deltas (
    tx BIGINT NOT NULL DEFAULT txid_current(),
    composante TEXT NOT NULL,
    status TEXT NOT NULL,
    vaults BIGINT NOT NULL,
    queued BIGINT NOT NULL
);
CREATE INDEX vault_registry_count_deltas_tx ON vault_registry_count_deltas (tx);

CREATE FUNCTION vault_registry_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO vault_registry_count_deltas (composante, status, vaults, queued)
        SELECT composante, status, COUNT(*), COUNT(*) FILTER (WHERE queued)
        FROM new_rows GROUP BY composante, status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO vault_registry_count_deltas (composante, status, vaults, queued)
        SELECT composante, status, -COUNT(*), -COUNT(*) FILTER (WHERE queued)
        FROM old_rows GROUP BY composante, status;
    ELSE
        INSERT INTO vault_registry_count_deltas (composante, status, vaults, queued)
        SELECT composante, status, SUM(v), SUM(q)
        FROM (SELECT composante, status, -1 AS v, -(queued::int) AS q FROM old_rows
              UNION ALL
              SELECT composante, status, 1, queued::int FROM new_rows) d
        GROUP BY composante, status
        HAVING SUM(v) <> 0 OR SUM(q) <> 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_counts_inserted AFTER INSERT ON vault_registry
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_counts_changed();
CREATE TRIGGER vault_registry_counts_deleted AFTER DELETE ON vault_registry
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_counts_changed();
CREATE TRIGGER vault_registry_counts_updated AFTER UPDATE ON vault_registry
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_counts_changed();

CREATE FUNCTION vault_registry_counts_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        DELETE FROM vault_registry_count_deltas WHERE tx = txid_current()
        RETURNING composante, status, vaults, queued
    )
    INSERT INTO vault_registry_counts AS c (composante, status, vaults, queued)
    SELECT composante, status, SUM(vaults), SUM(queued) FROM d
    GROUP BY composante, status
    ORDER BY composante, status
    ON CONFLICT (composante, status) DO UPDATE
    SET vaults = c.vaults + excluded.vaults, queued = c.queued + excluded.queued;
    RETURN NULL;
END $$;
-- Fires at commit for each row appended; the first folds them all, the others find none.
CREATE CONSTRAINT TRIGGER vault_registry_counts_fold AFTER INSERT ON vault_registry_count_deltas
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION vault_registry_counts_fold();

-- A registry row may arrive after its vault's subscription was queued (an enrolment in another
-- composante): it starts queued.
CREATE FUNCTION vault_registry_queued_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE vault_registry r SET queued = TRUE
    FROM new_rows n
    WHERE r.vault_id = n.vault_id AND r.composante = n.composante AND NOT n.queued
      AND EXISTS (SELECT 1 FROM jobs j
                  WHERE j.kind = 'vault_subscribe' AND j.subject_id = n.vault_id
                    AND j.status IN ('pending', 'running'));
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_queued_on_insert AFTER INSERT ON vault_registry
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_queued_on_insert();

CREATE FUNCTION vault_registry_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE vault_registry r SET queued = TRUE
    WHERE NOT r.queued
      AND r.vault_id IN (SELECT subject_id FROM new_rows
                         WHERE kind = 'vault_subscribe' AND status IN ('pending', 'running'));
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_jobs_inserted AFTER INSERT ON jobs
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_jobs_inserted();

CREATE FUNCTION vault_registry_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only rows whose flag changes: a job going from pending to running rewrites nothing.
    UPDATE vault_registry r SET queued = NOT r.queued
    WHERE r.vault_id IN (OLD.subject_id, CASE WHEN TG_OP = 'UPDATE' THEN NEW.subject_id END)
      AND r.queued IS DISTINCT FROM EXISTS (SELECT 1 FROM jobs j
        WHERE j.kind = 'vault_subscribe' AND j.subject_id = r.vault_id
          AND j.status IN ('pending', 'running'));
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_job_updated AFTER UPDATE OF kind, subject_id, status ON jobs
FOR EACH ROW WHEN ((OLD.kind = 'vault_subscribe' OR NEW.kind = 'vault_subscribe')
  AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.kind IS DISTINCT FROM NEW.kind
       OR OLD.subject_id IS DISTINCT FROM NEW.subject_id))
EXECUTE FUNCTION vault_registry_job_changed();
CREATE TRIGGER vault_registry_job_deleted AFTER DELETE ON jobs
FOR EACH ROW WHEN (OLD.kind = 'vault_subscribe' AND OLD.status IN ('pending', 'running'))
EXECUTE FUNCTION vault_registry_job_changed();

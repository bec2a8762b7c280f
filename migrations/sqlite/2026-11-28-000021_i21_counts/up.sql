-- The summary of a composante (vaults per status, subscriptions queued) as stored counts: one
-- row per (composante, status), kept by triggers on vault_registry, so the dashboard reads a
-- handful of rows instead of counting the composante's students and probing the job queue for
-- each (150 ms at 6,000 students with 60,000 subscriptions queued).
-- `queued`: the vault has a subscription job pending or running (the summary's
-- `queued_subscriptions`), kept by triggers on jobs.
ALTER TABLE vault_registry ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
UPDATE vault_registry SET queued = 1
WHERE vault_id IN (SELECT subject_id FROM jobs
                   WHERE kind = 'vault_subscribe' AND status IN ('pending', 'running'));

CREATE TABLE vault_registry_counts (
    composante TEXT NOT NULL,
    status TEXT NOT NULL,
    vaults BIGINT NOT NULL,
    queued BIGINT NOT NULL,
    PRIMARY KEY (composante, status)
) WITHOUT ROWID;
INSERT INTO vault_registry_counts (composante, status, vaults, queued)
SELECT composante, status, COUNT(*), SUM(queued) FROM vault_registry GROUP BY composante, status;

-- SQLite has one writer at a time: the counts are updated in place.
CREATE TRIGGER vault_registry_counts_inserted AFTER INSERT ON vault_registry BEGIN
    INSERT INTO vault_registry_counts (composante, status, vaults, queued)
    VALUES (NEW.composante, NEW.status, 1, NEW.queued)
    ON CONFLICT (composante, status) DO UPDATE
    SET vaults = vaults + 1, queued = queued + excluded.queued;
END;
CREATE TRIGGER vault_registry_counts_deleted AFTER DELETE ON vault_registry BEGIN
    UPDATE vault_registry_counts SET vaults = vaults - 1, queued = queued - OLD.queued
    WHERE composante = OLD.composante AND status = OLD.status;
END;
CREATE TRIGGER vault_registry_counts_updated AFTER UPDATE OF composante, status, queued ON vault_registry
WHEN OLD.composante IS NOT NEW.composante OR OLD.status IS NOT NEW.status OR OLD.queued IS NOT NEW.queued
BEGIN
    UPDATE vault_registry_counts SET vaults = vaults - 1, queued = queued - OLD.queued
    WHERE composante = OLD.composante AND status = OLD.status;
    INSERT INTO vault_registry_counts (composante, status, vaults, queued)
    VALUES (NEW.composante, NEW.status, 1, NEW.queued)
    ON CONFLICT (composante, status) DO UPDATE
    SET vaults = vaults + 1, queued = queued + excluded.queued;
END;

-- A registry row may arrive after its vault's subscription was queued (an enrolment in another
-- composante): it starts queued.
CREATE TRIGGER vault_registry_queued_on_insert AFTER INSERT ON vault_registry
WHEN NEW.queued = 0 AND EXISTS (SELECT 1 FROM jobs j
    WHERE j.kind = 'vault_subscribe' AND j.subject_id = NEW.vault_id
      AND j.status IN ('pending', 'running'))
BEGIN
    UPDATE vault_registry SET queued = 1
    WHERE vault_id = NEW.vault_id AND composante = NEW.composante;
END;

CREATE TRIGGER vault_registry_job_inserted AFTER INSERT ON jobs
WHEN NEW.kind = 'vault_subscribe' AND NEW.status IN ('pending', 'running') BEGIN
    UPDATE vault_registry SET queued = 1 WHERE vault_id = NEW.subject_id AND queued = 0;
END;
-- Only rows whose flag changes: a job going from pending to running rewrites nothing.
CREATE TRIGGER vault_registry_job_updated AFTER UPDATE OF kind, subject_id, status ON jobs
WHEN (OLD.kind = 'vault_subscribe' OR NEW.kind = 'vault_subscribe')
 AND (OLD.status IS NOT NEW.status OR OLD.kind IS NOT NEW.kind OR OLD.subject_id IS NOT NEW.subject_id)
BEGIN
    UPDATE vault_registry SET queued = 1 - queued
    WHERE vault_id IN (OLD.subject_id, NEW.subject_id)
      AND queued <> EXISTS (SELECT 1 FROM jobs j
        WHERE j.kind = 'vault_subscribe' AND j.subject_id = vault_registry.vault_id
          AND j.status IN ('pending', 'running'));
END;
CREATE TRIGGER vault_registry_job_deleted AFTER DELETE ON jobs
WHEN OLD.kind = 'vault_subscribe' AND OLD.status IN ('pending', 'running') BEGIN
    UPDATE vault_registry SET queued = 1 - queued
    WHERE vault_id = OLD.subject_id
      AND queued <> EXISTS (SELECT 1 FROM jobs j
        WHERE j.kind = 'vault_subscribe' AND j.subject_id = vault_registry.vault_id
          AND j.status IN ('pending', 'running'));
END;

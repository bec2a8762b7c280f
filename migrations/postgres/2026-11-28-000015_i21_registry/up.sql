-- The manager's registry as one row per (composante, vault): the columns a list filters and
-- sorts on, next to each other, so a composante's first page, its totals and its per-status
-- counts are ranges of one index instead of a semi-join of enrolments, vaults and students
-- sorted per request. Kept by triggers, so every write path (imports, workers, erasures)
-- keeps it right; the pages still read the vaults and students themselves. Inserts are
-- handled once per statement (the import writes hundreds of rows per INSERT); updates and
-- deletes once per changed row. No count is stored: no row every writer must lock.
-- `words`: the student's search terms (student_terms), each preceded by a space, so a word
-- prefix is `words LIKE '% prefix%'` within the composante's rows.
CREATE TABLE vault_registry (
    composante TEXT NOT NULL,
    vault_id TEXT NOT NULL,
    student_id TEXT NOT NULL,
    status TEXT NOT NULL,
    search_name TEXT NOT NULL,
    cod_etu TEXT NOT NULL,
    words TEXT NOT NULL,
    PRIMARY KEY (vault_id, composante)
);
CREATE INDEX vault_registry_name ON vault_registry (composante, search_name, cod_etu) INCLUDE (status, words, vault_id);
CREATE INDEX vault_registry_status ON vault_registry (composante, status, search_name, cod_etu) INCLUDE (vault_id);
CREATE INDEX vault_registry_number ON vault_registry (composante, cod_etu);
CREATE INDEX vault_registry_student ON vault_registry (student_id);

CREATE FUNCTION vault_registry_words(sid TEXT) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT ' ' || string_agg(t.term, ' ') FROM student_terms t WHERE t.student_id = sid), '')
$$;

INSERT INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
SELECT e.composante, v.id, v.student_id, v.status, s.search_name, s.cod_etu, vault_registry_words(s.id)
FROM vaults v
JOIN students s ON s.id = v.student_id
JOIN (SELECT DISTINCT student_id, composante FROM enrolments) e ON e.student_id = v.student_id;

CREATE FUNCTION vault_registry_vaults_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
    SELECT e.composante, n.id, n.student_id, n.status, s.search_name, s.cod_etu, vault_registry_words(s.id)
    FROM new_rows n
    JOIN students s ON s.id = n.student_id
    JOIN (SELECT DISTINCT student_id, composante FROM enrolments
          WHERE student_id IN (SELECT student_id FROM new_rows)) e ON e.student_id = n.student_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_vaults_inserted AFTER INSERT ON vaults
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_vaults_inserted();

CREATE FUNCTION vault_registry_vault_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE vault_registry SET status = NEW.status WHERE vault_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_vault_status AFTER UPDATE OF status ON vaults
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION vault_registry_vault_status();

CREATE FUNCTION vault_registry_vault_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM vault_registry WHERE vault_id = OLD.id;
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_vault_deleted AFTER DELETE ON vaults
FOR EACH ROW EXECUTE FUNCTION vault_registry_vault_deleted();

CREATE FUNCTION vault_registry_enrolments_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
    SELECT n.composante, v.id, v.student_id, v.status, s.search_name, s.cod_etu, vault_registry_words(s.id)
    FROM (SELECT DISTINCT student_id, composante FROM new_rows) n
    JOIN vaults v ON v.student_id = n.student_id
    JOIN students s ON s.id = v.student_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_enrolments_inserted AFTER INSERT ON enrolments
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_enrolments_inserted();

-- Row by row: the rows of an enrolment that left a composante (moved or deleted).
CREATE FUNCTION vault_registry_enrolment_left() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM vault_registry
    WHERE student_id = OLD.student_id AND composante = OLD.composante
      AND NOT EXISTS (SELECT 1 FROM enrolments e
                      WHERE e.student_id = OLD.student_id AND e.composante = OLD.composante);
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
        SELECT NEW.composante, v.id, v.student_id, v.status, s.search_name, s.cod_etu, vault_registry_words(s.id)
        FROM vaults v JOIN students s ON s.id = v.student_id
        WHERE v.student_id = NEW.student_id
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_enrolment_moved AFTER UPDATE OF composante, student_id ON enrolments
FOR EACH ROW WHEN (OLD.composante IS DISTINCT FROM NEW.composante OR OLD.student_id IS DISTINCT FROM NEW.student_id)
EXECUTE FUNCTION vault_registry_enrolment_left();
CREATE TRIGGER vault_registry_enrolment_deleted AFTER DELETE ON enrolments
FOR EACH ROW EXECUTE FUNCTION vault_registry_enrolment_left();

CREATE FUNCTION vault_registry_student_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE vault_registry SET search_name = NEW.search_name, cod_etu = NEW.cod_etu
    WHERE student_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_student_renamed AFTER UPDATE OF search_name, cod_etu ON students
FOR EACH ROW WHEN (OLD.search_name IS DISTINCT FROM NEW.search_name OR OLD.cod_etu IS DISTINCT FROM NEW.cod_etu)
EXECUTE FUNCTION vault_registry_student_renamed();

-- Terms are written in bulk by the import: once per statement, for the students it touched.
CREATE FUNCTION vault_registry_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE vault_registry r SET words = vault_registry_words(r.student_id)
    WHERE r.student_id IN (SELECT DISTINCT student_id FROM changed_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER vault_registry_terms_inserted AFTER INSERT ON student_terms
REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_terms_changed();
CREATE TRIGGER vault_registry_terms_deleted AFTER DELETE ON student_terms
REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION vault_registry_terms_changed();

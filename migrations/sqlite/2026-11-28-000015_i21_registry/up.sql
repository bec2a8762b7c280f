-- The manager's registry as one row per (composante, vault): the columns a list filters and
-- sorts on, next to each other, so a composante's first page, its totals and its per-status
-- counts are ranges of one index instead of a semi-join of enrolments, vaults and students
-- sorted per request. Kept by triggers, so every write path (imports, workers, erasures)
-- keeps it right; the pages still read the vaults and students themselves.
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
) WITHOUT ROWID;
CREATE INDEX vault_registry_name ON vault_registry (composante, search_name, cod_etu, status, words);
CREATE INDEX vault_registry_status ON vault_registry (composante, status, search_name, cod_etu);
CREATE INDEX vault_registry_number ON vault_registry (composante, cod_etu);
CREATE INDEX vault_registry_student ON vault_registry (student_id);

INSERT INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
SELECT e.composante, v.id, v.student_id, v.status, s.search_name, s.cod_etu,
       COALESCE((SELECT ' ' || group_concat(t.term, ' ') FROM student_terms t WHERE t.student_id = s.id), '')
FROM vaults v
JOIN students s ON s.id = v.student_id
JOIN (SELECT DISTINCT student_id, composante FROM enrolments) e ON e.student_id = v.student_id;

CREATE TRIGGER vault_registry_vault_inserted AFTER INSERT ON vaults BEGIN
    INSERT OR IGNORE INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
    SELECT DISTINCT e.composante, NEW.id, NEW.student_id, NEW.status, s.search_name, s.cod_etu,
           COALESCE((SELECT ' ' || group_concat(t.term, ' ') FROM student_terms t WHERE t.student_id = s.id), '')
    FROM enrolments e JOIN students s ON s.id = e.student_id
    WHERE e.student_id = NEW.student_id;
END;
CREATE TRIGGER vault_registry_vault_status AFTER UPDATE OF status ON vaults
WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE vault_registry SET status = NEW.status WHERE vault_id = NEW.id;
END;
CREATE TRIGGER vault_registry_vault_deleted AFTER DELETE ON vaults BEGIN
    DELETE FROM vault_registry WHERE vault_id = OLD.id;
END;

CREATE TRIGGER vault_registry_enrolment_inserted AFTER INSERT ON enrolments BEGIN
    INSERT OR IGNORE INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
    SELECT NEW.composante, v.id, v.student_id, v.status, s.search_name, s.cod_etu,
           COALESCE((SELECT ' ' || group_concat(t.term, ' ') FROM student_terms t WHERE t.student_id = s.id), '')
    FROM vaults v JOIN students s ON s.id = v.student_id
    WHERE v.student_id = NEW.student_id;
END;
CREATE TRIGGER vault_registry_enrolment_moved AFTER UPDATE OF composante, student_id ON enrolments
WHEN OLD.composante IS NOT NEW.composante OR OLD.student_id IS NOT NEW.student_id BEGIN
    DELETE FROM vault_registry
    WHERE student_id = OLD.student_id AND composante = OLD.composante
      AND NOT EXISTS (SELECT 1 FROM enrolments e
                      WHERE e.student_id = OLD.student_id AND e.composante = OLD.composante);
    INSERT OR IGNORE INTO vault_registry (composante, vault_id, student_id, status, search_name, cod_etu, words)
    SELECT NEW.composante, v.id, v.student_id, v.status, s.search_name, s.cod_etu,
           COALESCE((SELECT ' ' || group_concat(t.term, ' ') FROM student_terms t WHERE t.student_id = s.id), '')
    FROM vaults v JOIN students s ON s.id = v.student_id
    WHERE v.student_id = NEW.student_id;
END;
CREATE TRIGGER vault_registry_enrolment_deleted AFTER DELETE ON enrolments BEGIN
    DELETE FROM vault_registry
    WHERE student_id = OLD.student_id AND composante = OLD.composante
      AND NOT EXISTS (SELECT 1 FROM enrolments e
                      WHERE e.student_id = OLD.student_id AND e.composante = OLD.composante);
END;

CREATE TRIGGER vault_registry_student_renamed AFTER UPDATE OF search_name, cod_etu ON students
WHEN OLD.search_name IS NOT NEW.search_name OR OLD.cod_etu IS NOT NEW.cod_etu BEGIN
    UPDATE vault_registry SET search_name = NEW.search_name, cod_etu = NEW.cod_etu
    WHERE student_id = NEW.id;
END;

CREATE TRIGGER vault_registry_term_inserted AFTER INSERT ON student_terms BEGIN
    UPDATE vault_registry
    SET words = COALESCE((SELECT ' ' || group_concat(t.term, ' ') FROM student_terms t WHERE t.student_id = NEW.student_id), '')
    WHERE student_id = NEW.student_id;
END;
CREATE TRIGGER vault_registry_term_deleted AFTER DELETE ON student_terms BEGIN
    UPDATE vault_registry
    SET words = COALESCE((SELECT ' ' || group_concat(t.term, ' ') FROM student_terms t WHERE t.student_id = OLD.student_id), '')
    WHERE student_id = OLD.student_id;
END;

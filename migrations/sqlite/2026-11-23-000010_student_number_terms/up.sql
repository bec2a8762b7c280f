-- Student numbers become search terms: a number prefix is then a range of the same index as a
-- name prefix (one semi-join instead of an OR the planner cannot drive from an index).
INSERT OR IGNORE INTO student_terms (term, student_id)
SELECT lower(cod_etu), id FROM students WHERE erased_at IS NULL;

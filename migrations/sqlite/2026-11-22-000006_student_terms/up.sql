-- Every word of every student's name, folded (lower case, no accents): the name search is a
-- prefix range on this index ("lefevre" finds LEFÈVRE, "dup" finds DUPONT and DUPOND).
CREATE TABLE student_terms (
    term TEXT NOT NULL,
    student_id TEXT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    PRIMARY KEY (term, student_id)
) WITHOUT ROWID;
CREATE INDEX student_terms_student ON student_terms (student_id);

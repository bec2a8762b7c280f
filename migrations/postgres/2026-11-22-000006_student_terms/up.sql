-- Every word of every student's name, folded (lower case, no accents): the name search is a
-- prefix range on this index ("lefevre" finds LEFÈVRE, "dup" finds DUPONT and DUPOND).
-- Byte order (COLLATE "C") so that a prefix is exactly a range of the index.
CREATE TABLE student_terms (
    term TEXT COLLATE "C" NOT NULL,
    student_id TEXT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    PRIMARY KEY (term, student_id)
);
CREATE INDEX student_terms_student ON student_terms (student_id);

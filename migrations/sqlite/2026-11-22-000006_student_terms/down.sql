DROP TABLE student_terms;

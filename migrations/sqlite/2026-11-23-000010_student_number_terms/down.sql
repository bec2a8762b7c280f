DELETE FROM student_terms WHERE term IN (SELECT lower(cod_etu) FROM students);

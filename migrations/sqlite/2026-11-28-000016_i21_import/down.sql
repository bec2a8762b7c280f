DROP INDEX students_ine;

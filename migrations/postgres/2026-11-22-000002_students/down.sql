DROP TABLE enrolments;
DROP TABLE students;

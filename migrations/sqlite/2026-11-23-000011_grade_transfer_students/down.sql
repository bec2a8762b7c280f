DROP TABLE grade_transfer_students;

DROP TABLE grade_transfers;

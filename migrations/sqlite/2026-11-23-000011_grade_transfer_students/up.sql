-- The students a grade transfer concerns (every student row of its maquette), so that the
-- data subject's rights reach their grades: the access export lists the transfers and the
-- erasure rewrites the number here (pseudonym) and in the stored report.
CREATE TABLE grade_transfer_students (
    transfer_id TEXT NOT NULL REFERENCES grade_transfers (id),
    cod_etu TEXT NOT NULL,
    PRIMARY KEY (transfer_id, cod_etu)
);
CREATE INDEX grade_transfer_students_cod_etu ON grade_transfer_students (cod_etu);

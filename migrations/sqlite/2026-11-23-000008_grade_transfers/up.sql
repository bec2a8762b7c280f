-- One grade transfer: an Apogée maquette filled (or checked) from a grade source. The files
-- (maquette as exported, source, filled maquette) are in the content-addressed document store.
CREATE TABLE grade_transfers (
    id TEXT PRIMARY KEY NOT NULL,
    composante TEXT NOT NULL REFERENCES composantes (code),
    academic_year INTEGER NOT NULL,
    -- the VET code of the maquette, and its version (VDI)
    etape TEXT NOT NULL,
    etape_version TEXT NOT NULL,
    -- filled_by_passerelle | filled_by_scodoc
    mode TEXT NOT NULL,
    -- filled_maquette | csv | json | scodoc_api
    source_kind TEXT NOT NULL,
    scodoc_department TEXT,
    maquette_sha256 TEXT NOT NULL,
    maquette_file_name TEXT NOT NULL,
    source_sha256 TEXT,
    source_file_name TEXT,
    -- the file to import into Apogée (ISO-8859-1, CRLF), named as apoC_Fichier_Exp says
    output_sha256 TEXT NOT NULL,
    output_size BIGINT NOT NULL,
    output_file_name TEXT NOT NULL,
    students INTEGER NOT NULL,
    students_changed INTEGER NOT NULL,
    cells_changed INTEGER NOT NULL,
    problems INTEGER NOT NULL,
    -- the report (checks, fill summary, diff) as JSON
    report TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX grade_transfers_composante ON grade_transfers (composante, created_at);
CREATE INDEX grade_transfers_etape ON grade_transfers (etape, academic_year);

CREATE TABLE students (
    id TEXT PRIMARY KEY NOT NULL,
    cod_etu TEXT NOT NULL UNIQUE,
    ine TEXT,
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    -- lower-case, accent-free "last first" for accent-insensitive search
    search_name TEXT NOT NULL,
    birth_date DATE,
    email TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
) WITHOUT ROWID; -- looked up by id for every vault a list filters: one b-tree, not two
CREATE INDEX students_search_name ON students (search_name);

CREATE TABLE enrolments (
    student_id TEXT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    -- first calendar year of the academic year: 2025 means 2025-2026
    academic_year INTEGER NOT NULL,
    etape TEXT NOT NULL,
    composante TEXT NOT NULL REFERENCES composantes (code),
    -- Apogée ETA_IAE: E (enrolled), A (cancelled), R (refunded/withdrawn)
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (student_id, academic_year, etape)
);
CREATE INDEX enrolments_composante ON enrolments (composante, student_id);

-- One uploaded batch PDF and its processing (a "traitement").
CREATE TABLE treatments (
    id TEXT PRIMARY KEY NOT NULL,
    composante TEXT NOT NULL REFERENCES composantes (code),
    -- releve_notes | attestation_reussite
    document_type TEXT NOT NULL,
    academic_year INTEGER NOT NULL,
    session TEXT,
    label TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    file_size BIGINT NOT NULL,
    -- splitting | split | split_failed | sent | cancelled
    status TEXT NOT NULL,
    pages_total INTEGER,
    pages_done INTEGER NOT NULL DEFAULT 0,
    rejection_code TEXT,
    rejection_detail TEXT,
    -- JSON arrays
    skipped_pages TEXT NOT NULL,
    warnings TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    split_at TIMESTAMP,
    sent_at TIMESTAMP,
    sent_by TEXT,
    cancelled_at TIMESTAMP
);
CREATE INDEX treatments_composante ON treatments (composante, created_at);

-- One student's document split out of a treatment, and its delivery to Digiposte.
CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL,
    treatment_id TEXT NOT NULL REFERENCES treatments (id) ON DELETE CASCADE,
    -- the student passerelle knows under this number, if any
    student_id TEXT REFERENCES students (id),
    -- the number as read on the pages
    cod_etu TEXT NOT NULL,
    ine TEXT,
    -- JSON arrays: 1-based pages, flags (continuation, merged, identity_mismatch, unknown_student…)
    pages TEXT NOT NULL,
    flags TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    identity_confirmed_by TEXT,
    identity_confirmed_at TIMESTAMP,
    -- null until sent; then no_vault | queued | awaiting_receipt | transmitted | transmission_error | not_transmitted | cancelled
    delivery_status TEXT,
    delivery_reason TEXT,
    digiposte_document_id TEXT,
    -- set before calling Digiposte: a crash after this point is reconciled, never re-deposited blindly
    deposit_started_at TIMESTAMP,
    queued_at TIMESTAMP,
    deposited_at TIMESTAMP,
    receipt_at TIMESTAMP,
    file_deleted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One document per student and treatment: a split that ran twice (a worker taken over)
-- can never register a student twice.
CREATE UNIQUE INDEX documents_treatment ON documents (treatment_id, cod_etu);
CREATE INDEX documents_student ON documents (student_id, delivery_status);
CREATE UNIQUE INDEX documents_digiposte_id ON documents (digiposte_document_id);

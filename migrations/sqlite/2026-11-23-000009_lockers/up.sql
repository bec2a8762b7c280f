-- Lockers (casiers): person-to-person deposits, immutable once made.

-- Staff addressable in lockers: a manager or admin becomes known the first time they use
-- their locker (students are addressed through the students table).
CREATE TABLE locker_users (
    -- manager:<sub> | admin:<sub>
    id TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL,
    display_name TEXT,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);

-- Named groups an admin defines (e.g. "Enseignants L1 Informatique").
CREATE TABLE locker_groups (
    name TEXT PRIMARY KEY NOT NULL,
    label TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE locker_group_members (
    group_name TEXT NOT NULL REFERENCES locker_groups (name) ON DELETE CASCADE,
    -- a locker user id (student:<cod_etu>, manager:<sub>, admin:<sub>)
    member_id TEXT NOT NULL,
    PRIMARY KEY (group_name, member_id)
);

-- One deposit: never updated after insert.
CREATE TABLE locker_deposits (
    id TEXT PRIMARY KEY NOT NULL,
    sender_id TEXT NOT NULL,
    title TEXT NOT NULL,
    file_name TEXT NOT NULL,
    -- detected on the content, not on the name
    media_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- the previous version; unique: a version is replaced at most once (linear chains)
    replaces TEXT REFERENCES locker_deposits (id),
    -- JSON array of the recipients as addressed (users and groups)
    recipients TEXT NOT NULL,
    recipient_count INTEGER NOT NULL,
    received_at TIMESTAMP NOT NULL,
    -- the audit entry that proves the deposit
    audit_seq BIGINT NOT NULL,
    audit_hash TEXT NOT NULL
);
CREATE INDEX locker_deposits_sender ON locker_deposits (sender_id, received_at);
CREATE UNIQUE INDEX locker_deposits_replaces ON locker_deposits (replaces);

-- A deposit in one recipient's locker; deleted for good when purged from the trash.
CREATE TABLE locker_items (
    deposit_id TEXT NOT NULL REFERENCES locker_deposits (id),
    recipient_id TEXT NOT NULL,
    read_at TIMESTAMP,
    trashed_at TIMESTAMP,
    PRIMARY KEY (deposit_id, recipient_id)
);
CREATE INDEX locker_items_recipient ON locker_items (recipient_id, trashed_at);

-- Supporting documents (pièces justificatives) required per étape and year.
CREATE TABLE supporting_document_kinds (
    academic_year INTEGER NOT NULL,
    etape TEXT NOT NULL,
    -- identity_document | cvec_certificate | photo | scholarship_notice | any snake_case code
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (academic_year, etape, kind)
);

-- Every deposit of a supporting document; the newest per (student, year, étape, kind) is current,
-- older ones are the history.
CREATE TABLE supporting_documents (
    id TEXT PRIMARY KEY NOT NULL,
    student_id TEXT NOT NULL REFERENCES students (id),
    academic_year INTEGER NOT NULL,
    etape TEXT NOT NULL,
    composante TEXT NOT NULL,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- pending | accepted | rejected
    status TEXT NOT NULL,
    reason TEXT,
    submitted_at TIMESTAMP NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP
);
CREATE INDEX supporting_documents_student ON supporting_documents (student_id, academic_year, etape, kind);
CREATE INDEX supporting_documents_etape ON supporting_documents (academic_year, etape, composante);

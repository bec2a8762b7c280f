-- Append-only RGPD ledger: the current state is derived from the events, never stored alone.
CREATE TABLE consent_events (
    id TEXT PRIMARY KEY NOT NULL,
    student_id TEXT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    -- vault_precreation | document_delivery
    purpose TEXT NOT NULL,
    -- objected | withdrawn | granted | restored
    event TEXT NOT NULL,
    -- ent | paper | manager | import
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- e.g. the scanned letter's id
    evidence_ref TEXT,
    comment TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX consent_events_student ON consent_events (student_id, purpose, at);

-- Tamper-evident audit log: each entry carries the hash of the previous one.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    -- the student's pseudonym (HMAC of the student number), never the number or the name
    student_ref TEXT,
    object_type TEXT NOT NULL,
    object_id TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_student ON audit_log (student_ref, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

-- The chain's head: appending takes its row lock, so concurrent appends never fork the chain.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

ALTER TABLE students ADD COLUMN erased_at TIMESTAMP;

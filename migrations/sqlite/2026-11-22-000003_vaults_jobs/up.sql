CREATE TABLE vaults (
    id TEXT PRIMARY KEY NOT NULL,
    student_id TEXT NOT NULL UNIQUE REFERENCES students (id) ON DELETE CASCADE,
    -- one of the seven statuses of domain::vault::VaultStatus
    status TEXT NOT NULL,
    -- Acceptation: the student accepted full dematerialisation
    accepted BOOLEAN NOT NULL DEFAULT FALSE,
    -- Personnalisé: the student finished the account with a personal e-mail
    personalised BOOLEAN NOT NULL DEFAULT FALSE,
    -- Digiposte's route code, stored before anything else once known
    route_code TEXT,
    membership_id TEXT,
    customization_url TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    status_changed_at TIMESTAMP NOT NULL
);
CREATE INDEX vaults_status ON vaults (status, student_id);

-- Append-only: every transition of every vault.
CREATE TABLE vault_history (
    id TEXT PRIMARY KEY NOT NULL,
    vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    cause TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX vault_history_vault ON vault_history (vault_id, at);

-- The durable job queue (subscriptions, terminations, deliveries, sync…).
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending, running, done, failed, cancelled
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    requested_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
-- At most one open job per kind and subject: asking twice enqueues nothing new.
CREATE UNIQUE INDEX jobs_one_open_per_subject ON jobs (kind, subject_id) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_due ON jobs (status, run_at);
-- A subject's jobs (open-job checks at every enqueue, a vault's pending actions): the partial
-- unique index above cannot serve them when the statuses are bound parameters.
CREATE INDEX jobs_subject ON jobs (subject_id, kind);
-- A dead worker's expired job, found without reading the (many) pending ones.
CREATE INDEX jobs_expired ON jobs (locked_until) WHERE status = 'running';

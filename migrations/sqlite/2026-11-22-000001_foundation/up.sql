CREATE TABLE composantes (
    code TEXT PRIMARY KEY NOT NULL,
    label TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- sha256 of the key: the key itself is shown once and never stored.
    key_hash TEXT NOT NULL UNIQUE,
    -- space-separated scopes, e.g. "vaults:read students:import"
    scopes TEXT NOT NULL,
    -- space-separated composante codes the key is limited to; empty = all
    composantes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

-- Every authenticated receipt Digiposte posted, raw, processed once per receipt id.
CREATE TABLE digiposte_receipts (
    receipt_id TEXT PRIMARY KEY NOT NULL,
    -- Digiposte's id of the deposited document
    digiposte_document_id TEXT NOT NULL,
    -- passerelle's document, once matched
    document_id TEXT,
    -- PROCESSING | DELIVERED | FAILED | VAULT_CLOSED (as Digiposte sent it)
    status TEXT NOT NULL,
    -- applied | ignored (final state already reached, or intermediate) | unknown_document
    outcome TEXT NOT NULL,
    raw TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    applied_at TIMESTAMP
);
CREATE INDEX digiposte_receipts_document ON digiposte_receipts (digiposte_document_id, outcome);
-- Overdue receipts are looked up by state and deposit time.
CREATE INDEX documents_awaiting ON documents (delivery_status, deposited_at);

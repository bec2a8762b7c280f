ALTER TABLE students DROP COLUMN erased_at;
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP TABLE consent_events;

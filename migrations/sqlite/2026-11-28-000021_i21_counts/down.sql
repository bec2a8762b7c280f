DROP TRIGGER IF EXISTS vault_registry_job_deleted;
DROP TRIGGER IF EXISTS vault_registry_job_updated;
DROP TRIGGER IF EXISTS vault_registry_job_inserted;
DROP TRIGGER IF EXISTS vault_registry_queued_on_insert;
DROP TRIGGER IF EXISTS vault_registry_counts_updated;
DROP TRIGGER IF EXISTS vault_registry_counts_deleted;
DROP TRIGGER IF EXISTS vault_registry_counts_inserted;
DROP TABLE vault_registry_counts;
ALTER TABLE vault_registry DROP COLUMN queued;

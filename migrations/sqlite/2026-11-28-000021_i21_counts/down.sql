DROP TRIGGER IF EXISTS vault_registry_counts_job_deleted;
DROP TRIGGER IF EXISTS vault_registry_counts_job_moved;
DROP TRIGGER IF EXISTS vault_registry_counts_job_opened;
DROP TRIGGER IF EXISTS vault_registry_counts_updated;
DROP TRIGGER IF EXISTS vault_registry_counts_deleted;
DROP TRIGGER IF EXISTS vault_registry_counts_inserted;
DROP TABLE vault_registry_counts;

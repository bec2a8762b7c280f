DROP TABLE jobs;
DROP TABLE vault_history;
DROP TABLE vaults;

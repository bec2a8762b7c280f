//! Work that spans several repositories (consents and their effects, personal data, erasure).
//! Blocking code, run inside a write transaction by the handlers or the CLI.

pub mod consents;
pub mod context;
pub mod delivery;
pub mod export;
pub mod grade_transfers;
pub mod lockers;
pub mod personal_data;
pub mod student_vault;
pub mod students;
pub mod supporting_documents;
pub mod treatments;
pub mod vault_subscriptions;
pub mod vaults;

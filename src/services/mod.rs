//! The use cases, one module per capability. Each takes a narrow [`context::Context`]
//! (database, store, audit key, the clock's academic year) and a typed command, and answers a
//! typed result or its capability's own error (mapped to problem documents in `api`). Some
//! older modules are still blocking functions run inside the caller's write transaction.

pub mod audit;
pub mod composantes;
pub mod consents;
pub mod context;
pub mod delivery;
pub mod digiposte;
pub mod export;
pub mod grade_transfers;
pub mod lockers;
pub mod orphans;
pub mod personal_data;
pub mod student_vault;
pub mod students;
pub mod supporting_documents;
pub mod treatments;
pub mod vault_subscriptions;
pub mod vaults;

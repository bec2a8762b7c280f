//! What a use case may reach: the database, the document store, the audit key and the clock
//! (the current academic year) — never the HTTP state. Built by the API from its state and by
//! the command line from the configuration alone.

use std::sync::Arc;

use crate::auth::DataScope;
use crate::config::Secret;
use crate::db::Db;
use crate::storage::DocumentStore;

#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub store: Arc<dyn DocumentStore>,
    /// Key of students' pseudonyms in the audit log.
    pub audit_key: Arc<Secret>,
    /// The current academic year, as the configured clock says (enrolments are valid for it).
    pub year: i32,
}

impl Context {
    pub fn audit_key(&self) -> &[u8] {
        self.audit_key.expose().as_bytes()
    }
}

/// Who acts: what they may see, and their name as the audit log writes it (`manager:…`).
#[derive(Clone, Debug)]
pub struct Caller {
    pub scope: DataScope,
    pub name: String,
}

impl Caller {
    /// The command line: every student, as `system:cli`.
    pub fn command_line() -> Self {
        Caller {
            scope: DataScope::All,
            name: "system:cli".into(),
        }
    }
}

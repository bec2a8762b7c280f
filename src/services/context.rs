//! What a use case may reach: the database, the document store, the audit key and the clock
//! (the current academic year) — never the HTTP state. Built by the API from its state and by
//! the command line from the configuration alone. Its transactions give a use case's own error
//! back.

use std::sync::Arc;

use crate::auth::DataScope;
use crate::config::Secret;
use crate::db::{Db, DbConnection};
use crate::error::ApiError;
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

    /// Runs `f` on a connection (no transaction); its error comes back as it was.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<ApiError> + Send + 'static,
    {
        self.db.run_as(f).await
    }

    /// Runs `f` in a write transaction; any error rolls it back and comes back as it was.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<ApiError> + Send + 'static,
    {
        self.db.write_as(f).await
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

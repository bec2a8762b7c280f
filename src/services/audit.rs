//! Reading the audit log: entries by filter (a student through their pseudonym, never their
//! number) and the verification of the whole chain.

use crate::db::DbConnection;
use crate::db::audit::{self as repo, AuditFilter, AuditRow, ChainReport};
use crate::domain::audit::pseudonym;
use crate::error::ApiError;
use crate::pagination::Window;

/// What to look for in the log.
pub struct AuditSearch {
    pub actor: Option<String>,
    /// A student number, looked up through its pseudonym.
    pub student: Option<String>,
    pub action: Option<String>,
    pub since: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
}

/// One page of matching entries in chain order, and their total.
pub fn search(
    conn: &mut DbConnection,
    audit_key: &[u8],
    search: AuditSearch,
    window: Window,
) -> Result<(Vec<AuditRow>, i64), ApiError> {
    let filter = AuditFilter {
        actor: search.actor,
        student_ref: search.student.map(|s| pseudonym(audit_key, &s)),
        action: search.action,
        since: search.since,
        until: search.until,
    };
    repo::list(conn, &filter, window)
}

/// Recomputes the whole chain; names the first entry that does not verify.
pub fn verify(conn: &mut DbConnection) -> Result<ChainReport, ApiError> {
    repo::verify(conn)
}

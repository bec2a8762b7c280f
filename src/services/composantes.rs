//! Composantes: the faculties, institutes and departments managers are scoped by. Their
//! creation and renaming are audited.

use crate::auth::DataScope;
use crate::db::composantes::{self as repo, ComposanteChanges, ComposanteRow, NewComposante};
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::pagination::Window;

/// Why a composante's use case refuses.
#[derive(Debug, thiserror::Error)]
pub enum ComposanteError {
    #[error("composante {0} exists already")]
    Exists(String),
    #[error("no such composante")]
    NotFound,
    /// From the layers below (database).
    #[error(transparent)]
    Lower(#[from] ApiError),
}

/// One page of the composantes in `scope`, and their total.
pub fn list(
    conn: &mut DbConnection,
    scope: &DataScope,
    window: Window,
) -> Result<(Vec<ComposanteRow>, i64), ComposanteError> {
    Ok(repo::list(conn, scope, window)?)
}

/// One composante in `scope`.
pub fn get(
    conn: &mut DbConnection,
    scope: &DataScope,
    code: &str,
) -> Result<ComposanteRow, ComposanteError> {
    repo::get(conn, scope, code)?.ok_or(ComposanteError::NotFound)
}

/// Creates a composante, audited. In a write transaction.
pub fn create(
    conn: &mut DbConnection,
    audit_key: &[u8],
    actor: &str,
    code: &str,
    label: &str,
) -> Result<ComposanteRow, ComposanteError> {
    audit_change(conn, audit_key, actor, "composante.create", code)?;
    if repo::exists(conn, code)? {
        return Err(ComposanteError::Exists(code.to_owned()));
    }
    let now = db::now();
    Ok(repo::insert(
        conn,
        &NewComposante {
            code,
            label,
            created_at: now,
            updated_at: now,
        },
    )?)
}

/// Renames a composante, audited. In a write transaction.
pub fn rename(
    conn: &mut DbConnection,
    audit_key: &[u8],
    actor: &str,
    code: &str,
    label: &str,
) -> Result<ComposanteRow, ComposanteError> {
    audit_change(conn, audit_key, actor, "composante.update", code)?;
    let changes = ComposanteChanges {
        label,
        updated_at: db::now(),
    };
    repo::update(conn, code, &changes)?.ok_or(ComposanteError::NotFound)
}

fn audit_change(
    conn: &mut DbConnection,
    key: &[u8],
    actor: &str,
    action: &str,
    code: &str,
) -> Result<(), ApiError> {
    db::audit::append(
        conn,
        key,
        db::audit::AuditEvent {
            actor,
            action,
            student: None,
            object_type: "composante",
            object_id: Some(code),
            details: serde_json::json!({}),
        },
    )?;
    Ok(())
}

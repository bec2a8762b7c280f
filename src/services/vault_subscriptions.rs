//! The managers' bulk subscription (`POST /vaults/subscribe`): the vaults a registry filter
//! selects that may be subscribed now, confirmed by their count as the bulk send is, each
//! queued as one job the queue carries out paced under the Digiposte quota.

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::DataScope;
use crate::db::audit::{self, AuditEvent};
use crate::db::vaults::{self, VaultFilter};
use crate::db::{DbConnection, jobs};
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkSubscription {
    /// Vaults of the filter a subscription was asked for: `not_transmitted` or
    /// `transmission_error`, no refused consent. The confirmed count.
    pub subscribable: i64,
    /// Subscriptions queued now.
    pub queued: i64,
    /// Subscriptions that were queued already (nothing new for them).
    pub already_queued: i64,
}

/// Queues the subscription of every subscribable vault the filter selects, if there are
/// `expected` of them (409 `confirmation_mismatch` with the number otherwise, nothing queued).
pub fn subscribe_all(
    conn: &mut DbConnection,
    audit_key: &[u8],
    scope: &DataScope,
    filter: &VaultFilter,
    expected: i64,
    actor: &str,
) -> Result<BulkSubscription, ApiError> {
    let matching = vaults::all_matching(conn, scope, filter)?;
    let ready = vaults::subscribable(conn, matching, true)?;
    let subscribable = ready.len() as i64;
    if subscribable != expected {
        return Err(ApiError::new(
            ErrorCode::ConfirmationMismatch,
            crate::text!(
                "{subscribable} coffres seraient soumis à Digiposte maintenant, et non {expected} : vérifiez avant de confirmer",
                "{subscribable} vaults would be subscribed now, not {expected}: look again before confirming"
            ),
        )
        .with("expected_vaults", subscribable));
    }
    let mut open = 0;
    for v in &ready {
        if jobs::open_job(conn, jobs::kind::VAULT_SUBSCRIBE, &v.id)?.is_some() {
            open += 1;
        }
    }
    let queued = vaults::queue_subscriptions(conn, &ready, actor)? as i64;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor,
            action: "vault.subscribe_all",
            student: None,
            object_type: "vault",
            object_id: None,
            details: serde_json::json!({
                "subscribable": subscribable,
                "queued": queued,
                "composante": filter.composante,
                "statuses": filter.statuses,
                "year": filter.year,
            }),
        },
    )?;
    Ok(BulkSubscription {
        subscribable,
        queued,
        already_queued: open,
    })
}

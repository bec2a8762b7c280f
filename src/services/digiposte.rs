//! Digiposte's side of delivery: its receipts, recorded once each, and the membership
//! synchronisation asked for on demand.

use crate::auth::DataScope;
use crate::db::audit::{self, AuditEvent};
use crate::db::jobs::{self, JobRow};
use crate::db::receipts::{self, ReceiptOutcome};
use crate::digiposte::Receipt;
use crate::error::{ApiError, ErrorCode};
use crate::services::context::Context;

/// Records a receipt whose signature was checked (`raw`: its body as received).
pub async fn record_receipt(
    ctx: &Context,
    receipt: Receipt,
    raw: String,
    signed_at: chrono::NaiveDateTime,
) -> Result<ReceiptOutcome, ApiError> {
    let record = |parsed: Receipt, raw: String| {
        ctx.db
            .write(move |conn| receipts::record(conn, &parsed, &raw, signed_at))
    };
    let (outcome, _) = match record(receipt.clone(), raw.clone()).await {
        // The same receipt delivered twice at once (a retry crossing the first attempt): on
        // PostgreSQL both transactions can miss each other's row and one insert then fails on
        // the receipt id. The other one committed: recorded again, it is a plain duplicate.
        Err(e) if e.code == ErrorCode::AlreadyExists => record(receipt, raw).await?,
        other => other?,
    };
    Ok(outcome)
}

/// Queues the membership synchronisation within `scope` (once: an identical one queued is
/// answered), audited when queued.
pub async fn queue_sync(
    ctx: &Context,
    scope: &DataScope,
    actor: String,
) -> Result<JobRow, ApiError> {
    let (subject, payload) = crate::jobs::sync::manual_subject(scope);
    let key = ctx.audit_key.clone();
    ctx.write(move |conn| {
        let (job, created) =
            jobs::enqueue(conn, jobs::kind::VAULT_SYNC, &subject, &payload, &actor)?;
        if created {
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "digiposte.sync",
                    student: None,
                    object_type: "job",
                    object_id: Some(&job.id),
                    details: serde_json::json!({}),
                },
            )?;
        }
        Ok(job)
    })
    .await
}

//! Deliveries: the Digiposte side of split documents (queue, deposit, receipts).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::documents;
use crate::domain::delivery::{DeliveryCounts, DeliveryStatus, DeliveryTrigger, delivery_allows};
use crate::error::ApiError;

/// Refuses a write that is not a row of the delivery transition table (a bug, never a
/// request's fault): every status change below goes through it.
fn allowed(
    from: Option<DeliveryStatus>,
    trigger: DeliveryTrigger,
    to: DeliveryStatus,
) -> Result<(), ApiError> {
    if delivery_allows(from, trigger, to) {
        Ok(())
    } else {
        Err(ApiError::internal(format!(
            "delivery transition {from:?} --{trigger:?}--> {to:?} is not in the table"
        )))
    }
}

/// Cancels the student's documents still queued (not yet handed to Digiposte); returns how many.
/// A document whose deposit already started is left to it (it may end `uncertain`, for a
/// manager to settle).
pub fn cancel_queued_for_student(
    conn: &mut DbConnection,
    student_id: &str,
    reason: &str,
) -> Result<usize, ApiError> {
    allowed(
        Some(DeliveryStatus::Queued),
        DeliveryTrigger::ConsentWithdrawn,
        DeliveryStatus::Cancelled,
    )?;
    let now = super::now();
    Ok(diesel::update(
        documents::table
            .filter(documents::student_id.eq(student_id))
            .filter(documents::delivery_status.eq(DeliveryStatus::Queued.as_str()))
            .filter(documents::deposit_started_at.is_null()),
    )
    .set((
        documents::delivery_status.eq(DeliveryStatus::Cancelled.as_str()),
        documents::delivery_reason.eq(reason),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// How many documents are in each delivery state (`None`: split, not sent yet).
pub fn count_by_state(conn: &mut DbConnection) -> Result<Vec<(Option<String>, i64)>, ApiError> {
    use diesel::dsl::count_star;
    Ok(documents::table
        .group_by(documents::delivery_status)
        .select((documents::delivery_status, count_star()))
        .load(conn)?)
}

/// Marks the document queued (guarded: only a document never sent).
pub fn queue(conn: &mut DbConnection, document_id: &str) -> Result<bool, ApiError> {
    allowed(None, DeliveryTrigger::Send, DeliveryStatus::Queued)?;
    let now = super::now();
    Ok(diesel::update(
        documents::table
            .filter(documents::id.eq(document_id))
            .filter(documents::delivery_status.is_null()),
    )
    .set((
        documents::delivery_status.eq(DeliveryStatus::Queued.as_str()),
        documents::queued_at.eq(now),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// [`queue`] for many documents (a bulk send of thousands): a few statements per 500
/// documents rather than one per document (on PostgreSQL each is a round trip). Returns the
/// ids queued now (those never sent). Runs inside the send's transaction.
pub fn queue_many(conn: &mut DbConnection, document_ids: &[&str]) -> Result<Vec<String>, ApiError> {
    allowed(None, DeliveryTrigger::Send, DeliveryStatus::Queued)?;
    let now = super::now();
    let mut queued = Vec::with_capacity(document_ids.len());
    for chunk in document_ids.chunks(500) {
        let fresh: Vec<String> = documents::table
            .filter(documents::id.eq_any(chunk))
            .filter(documents::delivery_status.is_null())
            .select(documents::id)
            .load(conn)?;
        diesel::update(
            documents::table
                .filter(documents::id.eq_any(&fresh))
                .filter(documents::delivery_status.is_null()),
        )
        .set((
            documents::delivery_status.eq(DeliveryStatus::Queued.as_str()),
            documents::queued_at.eq(now),
            documents::updated_at.eq(now),
        ))
        .execute(conn)?;
        queued.extend(fresh);
    }
    Ok(queued)
}

/// Records that a document will not be sent, and why (no active vault, identity to check…),
/// with the earlier document a duplicate or a correction refers to.
pub fn hold(
    conn: &mut DbConnection,
    document_id: &str,
    reason: &str,
    earlier: Option<&str>,
) -> Result<(), ApiError> {
    allowed(None, DeliveryTrigger::Hold, DeliveryStatus::NoVault)?;
    let now = super::now();
    diesel::update(
        documents::table
            .filter(documents::id.eq(document_id))
            .filter(documents::delivery_status.is_null()),
    )
    .set((
        documents::delivery_status.eq(DeliveryStatus::NoVault.as_str()),
        documents::delivery_reason.eq(reason),
        documents::earlier_document_id.eq(earlier),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// A held or failed document sent again, one at a time: back to `queued` with a clean
/// slate (no intent, no earlier deposit id), compare-and-set on the state it was seen in.
/// The caller enqueues its delivery job in the same transaction; the job then follows the
/// same intent path as any deposit. False if the document moved meanwhile.
pub fn requeue(
    conn: &mut DbConnection,
    document_id: &str,
    from: DeliveryStatus,
) -> Result<bool, ApiError> {
    if !from.may_send_again() {
        return Ok(false);
    }
    let now = super::now();
    Ok(diesel::update(
        documents::table
            .filter(documents::id.eq(document_id))
            .filter(documents::delivery_status.eq(from.as_str())),
    )
    .set((
        documents::delivery_status.eq(DeliveryStatus::Queued.as_str()),
        documents::delivery_reason.eq(None::<String>),
        documents::earlier_document_id.eq(None::<String>),
        documents::digiposte_document_id.eq(None::<String>),
        documents::deposit_started_at.eq(None::<NaiveDateTime>),
        documents::deposited_at.eq(None::<NaiveDateTime>),
        documents::receipt_at.eq(None::<NaiveDateTime>),
        documents::queued_at.eq(now),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// What the delivery worker needs to decide about one document, read in one go.
pub struct DeliveryContext {
    pub document: super::treatments::DocumentRow,
    pub treatment: super::treatments::TreatmentRow,
    pub vault: Option<super::vaults::VaultRow>,
    pub consent_refused: bool,
}

pub fn context(
    conn: &mut DbConnection,
    document_id: &str,
) -> Result<Option<DeliveryContext>, ApiError> {
    use super::treatments::DocumentRow;
    let Some(document) = documents::table
        .find(document_id)
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let treatment = super::treatments::find(conn, &document.treatment_id)?;
    let (vault, consent_refused) = match &document.student_id {
        Some(s) => (
            super::vaults::by_student(conn, s)?,
            super::consents::refused_students(conn, std::slice::from_ref(s))?.contains(s),
        ),
        None => (None, false),
    };
    Ok(Some(DeliveryContext {
        document,
        treatment,
        vault,
        consent_refused,
    }))
}

/// Records the intent to deposit, durably, before calling Digiposte. Compare-and-swap on the
/// previous attempt's time, so two workers can never both start a deposit of the same
/// document. Returns the new attempt's time, or `None` if someone else moved first.
pub fn start_attempt(
    conn: &mut DbConnection,
    document_id: &str,
    previous: Option<NaiveDateTime>,
) -> Result<Option<NaiveDateTime>, ApiError> {
    let now = super::now();
    let target = documents::table
        .filter(documents::id.eq(document_id))
        .filter(documents::delivery_status.eq(DeliveryStatus::Queued.as_str()));
    let updated = match previous {
        None => diesel::update(target.filter(documents::deposit_started_at.is_null()))
            .set((
                documents::deposit_started_at.eq(now),
                documents::updated_at.eq(now),
            ))
            .execute(conn)?,
        Some(p) => diesel::update(target.filter(documents::deposit_started_at.eq(p)))
            .set((
                documents::deposit_started_at.eq(now),
                documents::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok((updated == 1).then_some(now))
}

/// The deposit is known to have happened: `queued` → `awaiting_receipt` with Digiposte's id,
/// then any receipt that arrived before this bookkeeping is applied. Returns false if the
/// document had already left `queued`.
pub fn record_deposit(
    conn: &mut DbConnection,
    document_id: &str,
    digiposte_id: &str,
) -> Result<bool, ApiError> {
    super::receipts::lock_reference(conn, digiposte_id)?;
    allowed(
        Some(DeliveryStatus::Queued),
        DeliveryTrigger::Deposited,
        DeliveryStatus::AwaitingReceipt,
    )?;
    let now = super::now();
    let updated = diesel::update(
        documents::table
            .filter(documents::id.eq(document_id))
            .filter(documents::delivery_status.eq(DeliveryStatus::Queued.as_str())),
    )
    .set((
        documents::delivery_status.eq(DeliveryStatus::AwaitingReceipt.as_str()),
        documents::digiposte_document_id.eq(digiposte_id),
        documents::deposited_at.eq(now),
        documents::delivery_reason.eq(None::<String>),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?;
    if updated == 1 {
        super::receipts::apply_waiting(conn, digiposte_id)?;
    }
    Ok(updated == 1)
}

/// A deposit attempt surely never reached Digiposte (refused connection, 429, 503 before any
/// processing, open breaker): its intent is withdrawn, so the next attempt is not mistaken
/// for one whose outcome is unknown. Compare-and-swap on the attempt's time.
pub fn clear_attempt(
    conn: &mut DbConnection,
    document_id: &str,
    started: NaiveDateTime,
) -> Result<bool, ApiError> {
    Ok(diesel::update(
        documents::table
            .filter(documents::id.eq(document_id))
            .filter(documents::delivery_status.eq(DeliveryStatus::Queued.as_str()))
            .filter(documents::deposit_started_at.eq(started)),
    )
    .set(documents::deposit_started_at.eq(None::<NaiveDateTime>))
    .execute(conn)?
        == 1)
}

/// A manager's decision on an uncertain deposit: `received` → `transmitted` (receipt time:
/// now); `deposit_again` → `queued` with the intent withdrawn, and a delivery job. Returns
/// false if the document is not (any more) `uncertain`.
pub fn resolve_uncertain(
    conn: &mut DbConnection,
    document_id: &str,
    resolution: crate::domain::delivery::UncertainResolution,
    actor: &str,
) -> Result<bool, ApiError> {
    use crate::domain::delivery::UncertainResolution;
    allowed(
        Some(DeliveryStatus::Uncertain),
        DeliveryTrigger::ManagerChecked,
        resolution.target(),
    )?;
    let now = super::now();
    let target = documents::table
        .filter(documents::id.eq(document_id))
        .filter(documents::delivery_status.eq(DeliveryStatus::Uncertain.as_str()));
    let moved = match resolution {
        UncertainResolution::Received => diesel::update(target)
            .set((
                documents::delivery_status.eq(DeliveryStatus::Transmitted.as_str()),
                documents::delivery_reason.eq(Some("confirmed_received")),
                documents::receipt_at.eq(Some(now)),
                documents::updated_at.eq(now),
            ))
            .execute(conn)?,
        UncertainResolution::DepositAgain => diesel::update(target)
            .set((
                documents::delivery_status.eq(DeliveryStatus::Queued.as_str()),
                documents::delivery_reason.eq(None::<String>),
                documents::deposit_started_at.eq(None::<NaiveDateTime>),
                // An earlier deposit whose receipt never came: its late receipt must not
                // settle the new one.
                documents::digiposte_document_id.eq(None::<String>),
                documents::deposited_at.eq(None::<NaiveDateTime>),
                documents::updated_at.eq(now),
            ))
            .execute(conn)?,
    } == 1;
    if moved && resolution == UncertainResolution::DepositAgain {
        super::jobs::enqueue(
            conn,
            super::jobs::kind::DELIVER,
            document_id,
            &serde_json::json!({}),
            actor,
        )?;
    }
    Ok(moved)
}

/// Moves a document to `to` if the delivery state machine allows it from where it is;
/// returns whether it moved. A final state never changes.
pub fn finish(
    conn: &mut DbConnection,
    document_id: &str,
    to: DeliveryStatus,
    reason: Option<&str>,
) -> Result<bool, ApiError> {
    let current: Option<Option<String>> = documents::table
        .find(document_id)
        .select(documents::delivery_status)
        .first(conn)
        .optional()?;
    let Some(Some(current)) = current else {
        return Ok(false);
    };
    let Some(from) = DeliveryStatus::parse(&current) else {
        return Ok(false);
    };
    if !from.may_become(to) {
        return Ok(false);
    }
    let now = super::now();
    let receipt_at = matches!(from, DeliveryStatus::AwaitingReceipt).then_some(now);
    Ok(diesel::update(
        documents::table
            .filter(documents::id.eq(document_id))
            .filter(documents::delivery_status.eq(from.as_str())),
    )
    .set((
        documents::delivery_status.eq(to.as_str()),
        documents::delivery_reason.eq(reason),
        documents::receipt_at.eq(receipt_at),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// The receipt never came and Digiposte cannot tell: the document goes from awaiting its
/// receipt to `uncertain`, for a manager to check the vault. No receipt time is recorded.
pub fn receipt_lost(
    conn: &mut DbConnection,
    document_id: &str,
    reason: &str,
) -> Result<bool, ApiError> {
    allowed(
        Some(DeliveryStatus::AwaitingReceipt),
        DeliveryTrigger::ReceiptLost,
        DeliveryStatus::Uncertain,
    )?;
    let now = super::now();
    Ok(diesel::update(
        documents::table
            .filter(documents::id.eq(document_id))
            .filter(documents::delivery_status.eq(DeliveryStatus::AwaitingReceipt.as_str())),
    )
    .set((
        documents::delivery_status.eq(DeliveryStatus::Uncertain.as_str()),
        documents::delivery_reason.eq(Some(reason)),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Documents still awaiting their receipt that were deposited before `before`, per treatment.
pub fn overdue_by_treatment(
    conn: &mut DbConnection,
    treatment_ids: &[String],
    before: NaiveDateTime,
) -> Result<std::collections::HashMap<String, i64>, ApiError> {
    use diesel::dsl::count_star;
    let rows: Vec<(String, i64)> = documents::table
        .filter(documents::treatment_id.eq_any(treatment_ids))
        .filter(documents::delivery_status.eq(DeliveryStatus::AwaitingReceipt.as_str()))
        .filter(documents::deposited_at.lt(before))
        .group_by(documents::treatment_id)
        .select((documents::treatment_id, count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Each treatment's delivery counts, in one grouped query.
pub fn counts_by_treatment(
    conn: &mut DbConnection,
    treatment_ids: &[String],
) -> Result<std::collections::HashMap<String, DeliveryCounts>, ApiError> {
    use diesel::dsl::count_star;
    let rows: Vec<(String, Option<String>, i64)> = documents::table
        .filter(documents::treatment_id.eq_any(treatment_ids))
        .group_by((documents::treatment_id, documents::delivery_status))
        .select((
            documents::treatment_id,
            documents::delivery_status,
            count_star(),
        ))
        .load(conn)?;
    let mut counts = std::collections::HashMap::<String, DeliveryCounts>::new();
    for (treatment, status, n) in rows {
        let status = status
            .map(|s| {
                DeliveryStatus::parse(&s).ok_or_else(|| {
                    ApiError::internal(format!("unknown delivery status {s:?} in the database"))
                })
            })
            .transpose()?;
        counts.entry(treatment).or_default().add(status, n);
    }
    Ok(counts)
}

/// Documents awaiting their receipt since before `before` (their deposit's time), oldest
/// first, at most `limit`: the ones to reconcile.
pub fn awaiting_since(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> Result<Vec<String>, ApiError> {
    Ok(documents::table
        .filter(documents::delivery_status.eq(DeliveryStatus::AwaitingReceipt.as_str()))
        .filter(documents::deposited_at.lt(before))
        .order(documents::deposited_at.asc())
        .limit(limit)
        .select(documents::id)
        .load(conn)?)
}

/// A document awaiting its receipt: its id, Digiposte's reference and its student.
pub fn awaiting_receipt(
    conn: &mut DbConnection,
    document_id: &str,
) -> Result<Option<(String, Option<String>)>, ApiError> {
    Ok(documents::table
        .filter(documents::id.eq(document_id))
        .filter(documents::delivery_status.eq(DeliveryStatus::AwaitingReceipt.as_str()))
        .select((documents::digiposte_document_id, documents::cod_etu))
        .first::<(Option<String>, String)>(conn)
        .optional()?
        .map(|(reference, cod_etu)| (cod_etu, reference)))
}

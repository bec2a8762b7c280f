//! Digiposte's receipts: stored raw, processed once per receipt id, applied to documents by
//! the delivery state machine (never out of a final state). A receipt for a document not known
//! yet is kept and applied when the deposit is recorded.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{digiposte_receipts, documents};
use crate::digiposte::{Receipt, receipt_status};
use crate::domain::delivery::DeliveryStatus;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// The document moved.
    Applied,
    /// This receipt id was processed before: nothing changed.
    Duplicate,
    /// Authentic, but changes nothing (final state reached, or an intermediate status).
    Ignored,
    /// No document carries this Digiposte id (kept for audit, and applied if one appears).
    UnknownDocument,
}

impl ReceiptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptOutcome::Applied => "applied",
            ReceiptOutcome::Duplicate => "duplicate",
            ReceiptOutcome::Ignored => "ignored",
            ReceiptOutcome::UnknownDocument => "unknown_document",
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = digiposte_receipts)]
struct NewReceipt<'a> {
    receipt_id: &'a str,
    digiposte_document_id: &'a str,
    document_id: Option<&'a str>,
    status: &'a str,
    outcome: &'a str,
    raw: &'a str,
    signed_at: NaiveDateTime,
    received_at: NaiveDateTime,
    applied_at: Option<NaiveDateTime>,
}

/// The delivery state a receipt status leads to (`None`: intermediate, changes nothing).
pub fn target_of(status: &str) -> Option<(DeliveryStatus, Option<&'static str>)> {
    match status {
        receipt_status::DELIVERED => Some((DeliveryStatus::Transmitted, None)),
        receipt_status::FAILED => Some((DeliveryStatus::NotTransmitted, Some("digiposte_failed"))),
        receipt_status::VAULT_CLOSED => Some((
            DeliveryStatus::TransmissionError,
            Some("digiposte_vault_closed"),
        )),
        _ => None,
    }
}

fn apply(
    conn: &mut DbConnection,
    document_id: &str,
    receipt: &Receipt,
) -> Result<ReceiptOutcome, ApiError> {
    let Some((to, default_reason)) = target_of(&receipt.status) else {
        return Ok(ReceiptOutcome::Ignored);
    };
    let reason = receipt.reason.as_deref().or(default_reason);
    Ok(
        if super::deliveries::finish(conn, document_id, to, reason)? {
            ReceiptOutcome::Applied
        } else {
            ReceiptOutcome::Ignored
        },
    )
}

fn document_of(conn: &mut DbConnection, digiposte_id: &str) -> Result<Option<String>, ApiError> {
    Ok(documents::table
        .filter(documents::digiposte_document_id.eq(digiposte_id))
        .select(documents::id)
        .first(conn)
        .optional()?)
}

/// Serialises, per deposit reference, the recording of a deposit and of its receipts. On
/// PostgreSQL (read committed) a receipt arriving while the deposit's bookkeeping commits
/// could otherwise miss the document, and the bookkeeping miss the receipt: both committed,
/// the receipt would wait for ever. SQLite's single writer already orders them.
pub fn lock_reference(conn: &mut DbConnection, digiposte_id: &str) -> Result<(), ApiError> {
    if let DbConnection::Postgresql(pg) = conn {
        // Two-key form: apart from the one-key locks taken elsewhere.
        diesel::sql_query("SELECT pg_advisory_xact_lock(16, hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(digiposte_id)
            .execute(pg)?;
    }
    Ok(())
}

/// Processes one authenticated receipt. Must run inside a write transaction.
pub fn record(
    conn: &mut DbConnection,
    receipt: &Receipt,
    raw: &str,
    signed_at: NaiveDateTime,
) -> Result<(ReceiptOutcome, Option<String>), ApiError> {
    lock_reference(conn, &receipt.document_id)?;
    let seen: Option<(Option<String>, String)> = digiposte_receipts::table
        .find(&receipt.receipt_id)
        .select((digiposte_receipts::document_id, digiposte_receipts::outcome))
        .first(conn)
        .optional()?;
    if let Some((document, outcome)) = seen {
        if document.is_none() && outcome == ReceiptOutcome::UnknownDocument.as_str() {
            // Kept while its deposit was unknown: if the deposit is known now, apply it (a
            // repeated receipt is never left waiting).
            apply_waiting(conn, &receipt.document_id)?;
            return Ok((
                ReceiptOutcome::Duplicate,
                document_of(conn, &receipt.document_id)?,
            ));
        }
        return Ok((ReceiptOutcome::Duplicate, document));
    }
    let document = document_of(conn, &receipt.document_id)?;
    let outcome = match &document {
        Some(d) => apply(conn, d, receipt)?,
        None => ReceiptOutcome::UnknownDocument,
    };
    let now = super::now();
    diesel::insert_into(digiposte_receipts::table)
        .values(&NewReceipt {
            receipt_id: &receipt.receipt_id,
            digiposte_document_id: &receipt.document_id,
            document_id: document.as_deref(),
            status: &receipt.status,
            outcome: outcome.as_str(),
            raw,
            signed_at,
            received_at: now,
            applied_at: (outcome == ReceiptOutcome::Applied).then_some(now),
        })
        .execute(conn)?;
    Ok((outcome, document))
}

/// Applies the receipts that came before the deposit was recorded (oldest first).
pub fn apply_waiting(conn: &mut DbConnection, digiposte_id: &str) -> Result<usize, ApiError> {
    let Some(document) = document_of(conn, digiposte_id)? else {
        return Ok(0);
    };
    let waiting: Vec<(String, String)> = digiposte_receipts::table
        .filter(digiposte_receipts::digiposte_document_id.eq(digiposte_id))
        .filter(digiposte_receipts::outcome.eq(ReceiptOutcome::UnknownDocument.as_str()))
        .order(digiposte_receipts::signed_at.asc())
        .select((digiposte_receipts::receipt_id, digiposte_receipts::raw))
        .load(conn)?;
    let mut applied = 0;
    for (id, raw) in waiting {
        let Ok(receipt) = serde_json::from_str::<Receipt>(&raw) else {
            continue;
        };
        let outcome = apply(conn, &document, &receipt)?;
        let now = super::now();
        diesel::update(digiposte_receipts::table.find(&id))
            .set((
                digiposte_receipts::document_id.eq(&document),
                digiposte_receipts::outcome.eq(outcome.as_str()),
                digiposte_receipts::applied_at
                    .eq((outcome == ReceiptOutcome::Applied).then_some(now)),
            ))
            .execute(conn)?;
        applied += usize::from(outcome == ReceiptOutcome::Applied);
    }
    Ok(applied)
}

/// How many receipts of each outcome were stored (tests and monitoring).
pub fn count_by_outcome(conn: &mut DbConnection) -> Result<Vec<(String, i64)>, ApiError> {
    use diesel::dsl::count_star;
    Ok(digiposte_receipts::table
        .group_by(digiposte_receipts::outcome)
        .select((digiposte_receipts::outcome, count_star()))
        .load(conn)?)
}

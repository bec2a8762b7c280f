//! Delivering a treatment's documents, only where and when it is right: the bulk send, the
//! per-document send and the send of every document held since, the administrator's release
//! of a document outside the uploader's composantes, the confirmation of a corrected
//! document, the refusal of a batch uploaded twice, and the blocks (frozen at the send).
//!
//! Rules (the pure one is [`crate::domain::delivery::deliverability`]):
//! - a document goes only to a student validly enrolled this year in a composante the
//!   uploader could act for when uploading (`treatments.authority`), unless an administrator
//!   released it; the others are held `outside_composante` and their student's name and vault
//!   are not shown to a caller whose scope is limited;
//! - never the same content twice to a student (`already_delivered`), and a correction
//!   (same student, kind and year, other content) only once a manager confirmed it
//!   (`replaces_delivered`);
//! - every send goes through `queued` and the delivery job's intent path (exactly once).
//!
//! Blocking code, run inside a write transaction by the handlers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::DataScope;
use crate::db::audit::{self, AuditEvent};
use crate::db::treatments::{self as repo, Block, DocumentRow, Reach, TreatmentRow, Verdict};
use crate::db::{DbConnection, deliveries, jobs};
use crate::domain::delivery::{
    DeliveryStatus, Held, HeldCount, Hold, TreatmentStatus, count_holds,
};
use crate::error::ApiError;
use crate::pagination::Window;

/// Why a delivery use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No such treatment or document within the caller's scope.
    #[error("no such {0} within the caller's scope")]
    NotFound(&'static str),
    /// Only a split treatment can be sent.
    #[error("a treatment in status {0:?} cannot be sent")]
    NotSendable(TreatmentStatus),
    /// The treatment was not sent yet: send it as a whole first.
    #[error("the treatment was not sent yet")]
    NotSentYet(TreatmentStatus),
    /// Only a held or failed document can be sent again.
    #[error("only a held or failed document can be sent again")]
    NotHeldNorFailed(Option<DeliveryStatus>),
    /// The document cannot be sent now (its reason, and the earlier document).
    #[error("the document is held: {0:?}")]
    Held(Held),
    #[error("the document changed meanwhile")]
    ChangedMeanwhile,
    #[error("the document is not held outside the uploader's composantes")]
    NotOutsideComposante,
    #[error("the document does not replace a delivered one")]
    ReplacesNothing,
    #[error("the replacement was already confirmed")]
    ReplacementAlreadyConfirmed,
    /// The confirmed number is not the number of documents a send would queue now.
    #[error("{deliverable} documents would be sent now, not {expected}")]
    ConfirmationMismatch { deliverable: i64, expected: i64 },
    /// The bytes are those of live treatments the caller can see (newest first).
    #[error("these bytes were already uploaded as treatment {}", .0[0])]
    DuplicateUpload(Vec<String>),
    /// The declared kind is not a configured one.
    #[error(transparent)]
    UnknownKind(crate::pdf::PdfError),
    /// What the repositories answered, passed on unchanged.
    #[error(transparent)]
    Lower(#[from] ApiError),
}

type Result<T, E = DeliveryError> = std::result::Result<T, E>;

/// Who acts, and in which academic year.
pub struct Actor<'a> {
    pub scope: &'a DataScope,
    /// As the audit log names them (`manager:…`).
    pub name: &'a str,
    pub audit_key: &'a [u8],
    /// The current academic year (enrolments are valid for it).
    pub year: i32,
}

/// A treatment's blocks: its students, those with an active vault, those without, those
/// outside the uploader's composantes; once sent, frozen as they stood at the send (with what
/// was sent and what was held, and why).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Blocks {
    /// Bleu — Etudiants: every student of the treatment.
    pub students: i64,
    /// Vert — Etudiants ayant un coffre: students whose vault is active (within the
    /// uploader's composantes).
    pub with_vault: i64,
    /// Rouge — Etudiants sans coffre (unknown students included).
    pub without_vault: i64,
    /// Hors de votre composante: no valid enrolment this year in the uploader's composantes.
    /// Never sent unless an administrator releases them.
    #[serde(default)]
    pub outside_composante: i64,
    /// Documents held, per reason (before the send: what the send would hold now).
    #[serde(default)]
    pub held: Vec<HeldCount>,
    /// When the blocks were frozen (the send); `null` while they are live.
    #[serde(default)]
    pub frozen_at: Option<DateTime<Utc>>,
    /// Once sent: the documents the send queued.
    #[serde(default)]
    pub sent: Option<i64>,
}

/// The blocks as they stand now.
pub fn live_blocks(
    conn: &mut DbConnection,
    t: &TreatmentRow,
    verdicts: &[Verdict],
    year: i32,
) -> Result<Blocks> {
    let (students, with_vault, without_vault, outside_composante) =
        repo::block_counts(conn, &t.id, &Reach::of(t, year))?;
    Ok(Blocks {
        students,
        with_vault,
        without_vault,
        outside_composante,
        held: held_counts(verdicts),
        frozen_at: None,
        sent: None,
    })
}

/// The blocks to show: frozen at the send, or live before it.
pub fn blocks(
    conn: &mut DbConnection,
    t: &TreatmentRow,
    verdicts: &[Verdict],
    year: i32,
) -> Result<Blocks> {
    if let Some(frozen) = t
        .sent_blocks
        .as_deref()
        .and_then(|b| serde_json::from_str::<Blocks>(b).ok())
    {
        return Ok(frozen);
    }
    live_blocks(conn, t, verdicts, year)
}

fn held_counts(verdicts: &[Verdict]) -> Vec<HeldCount> {
    count_holds(
        verdicts
            .iter()
            .filter_map(|(_, v)| v.as_ref().err().map(|h| &h.hold)),
    )
}

/// How many documents the next send would queue: the bulk send before the treatment is
/// sent; the send of the held and failed documents after.
pub fn deliverable(verdicts: &[Verdict], t: &TreatmentRow) -> i64 {
    candidates(verdicts, t).filter(|(_, v)| v.is_ok()).count() as i64
}

/// The documents a send considers: all of them before the treatment is sent, then only
/// those held or failed.
fn candidates<'v>(
    verdicts: &'v [Verdict],
    t: &TreatmentRow,
) -> impl Iterator<Item = &'v Verdict> + 'v {
    let sent = t.status() == TreatmentStatus::Sent;
    verdicts.iter().filter(move |(d, _)| {
        let status = d.delivery_status.as_deref().and_then(DeliveryStatus::parse);
        if sent {
            status.is_some_and(DeliveryStatus::may_send_again)
        } else {
            status.is_none()
        }
    })
}

/// What a send did.
pub struct SendOutcome {
    pub treatment: TreatmentRow,
    pub queued: i64,
    pub held: Vec<HeldCount>,
    pub newly_sent: bool,
}

/// On PostgreSQL, one send decides at a time (transaction-scoped advisory lock): two sends
/// of the same content to the same student, in two treatments at once, would otherwise both
/// see "not sent yet". SQLite's writer lock already does it.
fn one_send_at_a_time(conn: &mut DbConnection) -> Result<()> {
    use diesel::RunQueryDsl;
    if let DbConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(16016016)")
            .execute(pg)
            .map_err(ApiError::from)?;
    }
    Ok(())
}

fn visible_treatment(conn: &mut DbConnection, scope: &DataScope, id: &str) -> Result<TreatmentRow> {
    repo::get(conn, scope, id)?.ok_or(DeliveryError::NotFound("treatment"))
}

fn audit(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    student: Option<&str>,
    object: (&str, &str),
    details: serde_json::Value,
) -> Result<()> {
    audit::append(
        conn,
        actor.audit_key,
        AuditEvent {
            actor: actor.name,
            action,
            student,
            object_type: object.0,
            object_id: Some(object.1),
            details,
        },
    )?;
    Ok(())
}

/// Queues one deliverable document through the same path as every deposit.
fn queue_one(conn: &mut DbConnection, d: &DocumentRow, actor: &str) -> Result<bool> {
    let status = d.delivery_status.as_deref().and_then(DeliveryStatus::parse);
    let queued = match status {
        None => deliveries::queue(conn, &d.id)?,
        Some(from) => deliveries::requeue(conn, &d.id, from)?,
    };
    if queued {
        jobs::enqueue(
            conn,
            crate::db::jobs::kind::DELIVER,
            &d.id,
            &serde_json::json!({}),
            actor,
        )?;
    }
    Ok(queued)
}

/// Queues every deliverable document of a send: the never-sent ones in batches, the held or
/// failed ones (sent again) one by one. Returns how many were queued.
fn queue_all(conn: &mut DbConnection, docs: &[&DocumentRow], actor: &str) -> Result<i64> {
    let (fresh, again): (Vec<&DocumentRow>, Vec<&DocumentRow>) =
        docs.iter().partition(|d| d.delivery_status.is_none());
    let ids: Vec<&str> = fresh.iter().map(|d| d.id.as_str()).collect();
    let queued = deliveries::queue_many(conn, &ids)?;
    let queued_ids: Vec<&str> = queued.iter().map(String::as_str).collect();
    jobs::enqueue_many(
        conn,
        crate::db::jobs::kind::DELIVER,
        &queued_ids,
        |_| serde_json::json!({}),
        actor,
    )?;
    let mut count = queued.len() as i64;
    for d in again {
        if queue_one(conn, d, actor)? {
            count += 1;
        }
    }
    Ok(count)
}

fn mismatch(deliverable: i64, expected: i64) -> Result<()> {
    if deliverable != expected {
        return Err(DeliveryError::ConfirmationMismatch {
            deliverable,
            expected,
        });
    }
    Ok(())
}

/// "Envoyer dans les coffres": queues every deliverable document, holds the others with
/// their reason, freezes the blocks. Sending again queues nothing.
pub fn send_treatment(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    expected: i64,
) -> Result<SendOutcome> {
    one_send_at_a_time(conn)?;
    let t = visible_treatment(conn, actor.scope, id)?;
    if t.status() == TreatmentStatus::Sent {
        // What the send held, as frozen then.
        let held = t
            .sent_blocks
            .as_deref()
            .and_then(|b| serde_json::from_str::<Blocks>(b).ok())
            .map(|b| b.held)
            .unwrap_or_default();
        return Ok(SendOutcome {
            treatment: t,
            queued: 0,
            held,
            newly_sent: false,
        });
    }
    if t.status() != TreatmentStatus::Split {
        return Err(DeliveryError::NotSendable(t.status()));
    }
    let verdicts = repo::deliverability(conn, &t, actor.year)?;
    mismatch(deliverable(&verdicts, &t), expected)?;
    let mut blocks = live_blocks(conn, &t, &verdicts, actor.year)?;
    let mut deliverable = Vec::new();
    for (d, verdict) in &verdicts {
        match verdict {
            Ok(()) => deliverable.push(d),
            Err(held) => {
                deliveries::hold(conn, &d.id, held.hold.as_str(), held.earlier.as_deref())?
            }
        }
    }
    let queued = queue_all(conn, &deliverable, actor.name)?;
    repo::change_status(
        conn,
        &t.id,
        TreatmentStatus::Split,
        TreatmentStatus::Sent,
        actor.name,
    )?;
    let held = held_counts(&verdicts);
    blocks.frozen_at = Some(Utc::now());
    blocks.sent = Some(queued);
    repo::freeze_blocks(
        conn,
        &t.id,
        &serde_json::to_string(&blocks).unwrap_or_default(),
    )?;
    audit(
        conn,
        actor,
        "treatment.send",
        None,
        ("treatment", &t.id),
        serde_json::json!({ "queued": queued, "held": held }),
    )?;
    Ok(SendOutcome {
        treatment: repo::find(conn, &t.id)?,
        queued,
        held,
        newly_sent: true,
    })
}

/// Sends every held or failed document of a sent treatment that has become deliverable,
/// with the count confirmation of the bulk send.
pub fn send_held(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    expected: i64,
) -> Result<SendOutcome> {
    one_send_at_a_time(conn)?;
    let t = visible_treatment(conn, actor.scope, id)?;
    must_be_sent(&t)?;
    let verdicts = repo::deliverability(conn, &t, actor.year)?;
    mismatch(deliverable(&verdicts, &t), expected)?;
    let mut deliverable = Vec::new();
    let mut still_held: Vec<Hold> = Vec::new();
    for (d, verdict) in candidates(&verdicts, &t) {
        match verdict {
            Ok(()) => deliverable.push(d),
            Err(h) => still_held.push(h.hold),
        }
    }
    let queued = queue_all(conn, &deliverable, actor.name)?;
    let held = count_holds(&still_held);
    audit(
        conn,
        actor,
        "treatment.send_held",
        None,
        ("treatment", &t.id),
        serde_json::json!({ "queued": queued, "held": held }),
    )?;
    Ok(SendOutcome {
        treatment: repo::find(conn, &t.id)?,
        queued,
        held,
        newly_sent: false,
    })
}

fn must_be_sent(t: &TreatmentRow) -> Result<()> {
    if t.status() != TreatmentStatus::Sent {
        return Err(DeliveryError::NotSentYet(t.status()));
    }
    Ok(())
}

fn document_of(conn: &mut DbConnection, t: &TreatmentRow, doc: &str) -> Result<DocumentRow> {
    repo::document(conn, &t.id, doc)?.ok_or(DeliveryError::NotFound("document"))
}

/// Sends one held or failed document of a sent treatment that has become deliverable
/// (vault now active, consent restored, transmission error, released, replacement
/// confirmed). Returns the document's id.
pub fn send_document(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    doc: &str,
) -> Result<String> {
    one_send_at_a_time(conn)?;
    let t = visible_treatment(conn, actor.scope, id)?;
    let d = document_of(conn, &t, doc)?;
    must_be_sent(&t)?;
    let status = d.delivery_status.as_deref().and_then(DeliveryStatus::parse);
    if !status.is_some_and(DeliveryStatus::may_send_again) {
        return Err(DeliveryError::NotHeldNorFailed(status));
    }
    let (d, verdict) = repo::verdicts(conn, &t, vec![d], actor.year)?
        .pop()
        .ok_or(DeliveryError::NotFound("document"))?;
    if let Err(held) = verdict {
        return Err(DeliveryError::Held(held));
    }
    if !queue_one(conn, &d, actor.name)? {
        return Err(DeliveryError::ChangedMeanwhile);
    }
    audit(
        conn,
        actor,
        "document.send",
        Some(&d.cod_etu),
        ("document", &d.id),
        serde_json::json!({
            "treatment_id": t.id,
            "previous_status": status.map(DeliveryStatus::as_str),
            "previous_reason": d.delivery_reason,
            "sha256": d.sha256,
        }),
    )?;
    Ok(d.id)
}

/// An administrator releases a document held outside the uploader's composantes: it may be
/// sent (by the bulk send, or one at a time once the treatment is sent).
pub fn release(conn: &mut DbConnection, actor: &Actor, id: &str, doc: &str) -> Result<String> {
    let t = visible_treatment(conn, actor.scope, id)?;
    let d = document_of(conn, &t, doc)?;
    let (d, verdict) = repo::verdicts(conn, &t, vec![d], actor.year)?
        .pop()
        .ok_or(DeliveryError::NotFound("document"))?;
    if verdict.as_ref().err().map(|h| h.hold) != Some(Hold::OutsideComposante)
        || !repo::release(conn, &d.id, actor.name)?
    {
        return Err(DeliveryError::NotOutsideComposante);
    }
    audit(
        conn,
        actor,
        "document.release",
        Some(&d.cod_etu),
        ("document", &d.id),
        serde_json::json!({ "treatment_id": t.id, "authority": t.authority() }),
    )?;
    Ok(d.id)
}

/// A manager confirms that a corrected document replaces the one the student already
/// received: it may be sent.
pub fn confirm_replacement(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    doc: &str,
) -> Result<String> {
    let t = visible_treatment(conn, actor.scope, id)?;
    let d = document_of(conn, &t, doc)?;
    let (d, verdict) = repo::verdicts(conn, &t, vec![d], actor.year)?
        .pop()
        .ok_or(DeliveryError::NotFound("document"))?;
    let earlier = match &verdict {
        Err(Held {
            hold: Hold::ReplacesDelivered,
            earlier,
        }) => earlier.clone(),
        _ => {
            return Err(DeliveryError::ReplacesNothing);
        }
    };
    if !repo::confirm_replacement(conn, &d.id, actor.name)? {
        return Err(DeliveryError::ReplacementAlreadyConfirmed);
    }
    audit(
        conn,
        actor,
        "document.confirm_replacement",
        Some(&d.cod_etu),
        ("document", &d.id),
        serde_json::json!({
            "treatment_id": t.id,
            "earlier_document_id": earlier,
            "sha256": d.sha256,
        }),
    )?;
    Ok(d.id)
}

/// A document as a caller may see it, with its hold now (for documents not sent).
pub struct ShownDocument {
    pub view: repo::DocumentView,
    pub hold: Option<Held>,
}

/// Documents of a treatment with their holds; a document held outside the uploader's
/// composantes shows a caller whose scope is limited only what its pages say (no registry
/// name, no vault status).
pub fn shown(
    conn: &mut DbConnection,
    scope: &DataScope,
    t: &TreatmentRow,
    views: Vec<repo::DocumentView>,
    year: i32,
) -> Result<Vec<ShownDocument>> {
    let rows: Vec<DocumentRow> = views.iter().map(|v| v.0.clone()).collect();
    let verdicts = repo::verdicts(conn, t, rows, year)?;
    Ok(views
        .into_iter()
        .zip(verdicts)
        .map(|((d, name, vault), (_, verdict))| {
            let hold = verdict.err();
            let outside = hold
                .as_ref()
                .is_some_and(|h| h.hold == Hold::OutsideComposante);
            let limited = !matches!(scope, DataScope::All);
            let (name, vault) = if outside && limited {
                (None, None)
            } else {
                (name, vault)
            };
            let status = d.delivery_status.as_deref().and_then(DeliveryStatus::parse);
            let pending = status.is_none_or(DeliveryStatus::may_send_again);
            ShownDocument {
                view: (d, name, vault),
                hold: hold.filter(|_| pending),
            }
        })
        .collect())
}

/// A page of a treatment's documents in a block, as the caller may see them.
pub fn documents_page(
    conn: &mut DbConnection,
    scope: &DataScope,
    t: &TreatmentRow,
    block: Block,
    window: Window,
    year: i32,
) -> Result<(Vec<ShownDocument>, i64)> {
    let (views, total) = repo::documents_page(conn, &t.id, block, &Reach::of(t, year), window)?;
    Ok((shown(conn, scope, t, views, year)?, total))
}

/// One document of a treatment, as the caller may see it.
pub fn document(
    conn: &mut DbConnection,
    scope: &DataScope,
    t: &TreatmentRow,
    doc: &str,
    year: i32,
) -> Result<ShownDocument> {
    let view = repo::document_view(conn, &t.id, doc)?.ok_or(DeliveryError::NotFound("document"))?;
    shown(conn, scope, t, vec![view], year)?
        .pop()
        .ok_or(DeliveryError::NotFound("document"))
}

/// The kind an upload declares, when it is one of the configured kinds; otherwise 422
/// `unknown_document_kind` naming the configured codes (`known_kinds`).
pub fn document_kind(
    kinds: &crate::domain::document_kind::DocumentKinds,
    declared: &str,
) -> Result<crate::domain::document_kind::DocumentKindCode> {
    let declared = declared.trim();
    match kinds.get(declared) {
        Some(kind) => Ok(kind.code.clone()),
        None => Err(DeliveryError::UnknownKind(
            crate::pdf::PdfError::UnknownDocumentKind {
                kind: declared.chars().take(64).collect(),
                known: kinds.codes(),
            },
        )),
    }
}

/// An upload whose bytes are those of a live treatment the caller can see is refused (409
/// naming it), unless the caller names that treatment in `replace_of` to confirm a new one on
/// purpose. (Treatments of other composantes are not named: their documents are guarded at
/// the send by `already_delivered`.)
pub fn check_not_uploaded_twice(
    conn: &mut DbConnection,
    scope: &DataScope,
    file_sha256: &str,
    replace_of: Option<&str>,
) -> Result<()> {
    let live = repo::live_with_file(conn, scope, file_sha256)?;
    if live.is_empty() {
        return Ok(());
    }
    if replace_of.is_some_and(|r| live.iter().any(|l| l == r)) {
        return Ok(());
    }
    Err(DeliveryError::DuplicateUpload(live))
}

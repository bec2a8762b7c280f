//! Treatments (Apogée batches): the upload and its validation, the list and the detail with
//! their delivery figures, a document's PDF, the manager's checks (identity, uncertain
//! deposit), the cancellation, and the sends — the delivery rules themselves are in
//! [`super::delivery`].

use std::path::Path;

use chrono::NaiveDateTime;

use super::context::{Caller, Context};
use super::delivery::{self, Blocks, ShownDocument};
use crate::auth::DataScope;
use crate::db::audit::{self, AuditEvent};
use crate::db::{DbConnection, composantes, deliveries, jobs};
use crate::domain::delivery::{DeliveryCounts, DeliveryStatus, TreatmentStatus};
use crate::domain::document_kind::{DocumentKindCode, DocumentKinds};
use crate::error::ApiError;
use crate::pagination::Window;
use crate::pdf::{PdfError, SplitConfig};

use crate::db::treatments as repo;
pub use crate::db::treatments::{Block, TreatmentFilter, TreatmentRow};

/// Why a treatment use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TreatmentError {
    /// No such treatment or document within the caller's scope.
    #[error("no such {0} within the caller's scope")]
    NotFound(&'static str),
    #[error("the document's file was deleted by retention")]
    FileDeleted,
    #[error("unknown composante, or one the caller does not manage")]
    UnknownComposante,
    /// The batch was refused; the treatment stays listed as "Erreur de découpage".
    #[error("the batch was refused: {error}")]
    Refused {
        error: PdfError,
        treatment_id: String,
    },
    #[error("a treatment in status {0:?} cannot be cancelled")]
    NotCancellable(TreatmentStatus),
    #[error("the treatment is not waiting to be sent")]
    NotWaitingToSend(TreatmentStatus),
    #[error("this document has no identity to confirm")]
    NoIdentityToConfirm,
    #[error("this document is not waiting for a check (uncertain)")]
    NotUncertain { current_status: String },
    /// A delivery rule refused (sends, holds, duplicates).
    #[error(transparent)]
    Delivery(#[from] delivery::DeliveryError),
    /// What the repositories or the store answered, passed on unchanged (those layers still
    /// speak the API's problem type).
    #[error(transparent)]
    Lower(#[from] ApiError),
}

type Result<T, E = TreatmentError> = std::result::Result<T, E>;

/// A batch to deposit: the form's fields, checked for shape, and the file received.
pub struct NewBatch<'a> {
    pub document_type: DocumentKindCode,
    pub academic_year: i32,
    pub composante: String,
    pub label: String,
    pub session: Option<String>,
    pub replace_of: Option<String>,
    pub file_name: String,
    pub file_sha256: String,
    pub file_size: u64,
    /// The received file, still in the temporary directory.
    pub file_path: &'a Path,
    pub bytes: Vec<u8>,
    /// The split settings of the declared kind.
    pub split: SplitConfig,
    /// The author's display name, when the identity provider gave one.
    pub author_name: Option<String>,
}

/// Deposits a batch: the composante must be the caller's, the bytes new (or the replaced
/// treatment named), the PDF valid; then the file is stored and the split queued. A refused
/// batch is recorded too (listed as "Erreur de découpage") and answered as refused.
pub async fn upload(ctx: &Context, caller: &Caller, batch: NewBatch<'_>) -> Result<TreatmentRow> {
    let scope = caller.scope.clone();
    // The composante must be one the caller manages (same answer whether it exists or not).
    {
        let (code, scope) = (batch.composante.clone(), scope.clone());
        let known = ctx
            .db
            .run(move |conn| composantes::get(conn, &scope, &code))
            .await?;
        if known.is_none() {
            return Err(TreatmentError::UnknownComposante);
        }
    }
    // The same bytes twice are refused unless confirmed (a deposit is permanent).
    {
        let (sha, replace_of, scope) = (
            batch.file_sha256.clone(),
            batch.replace_of.clone(),
            scope.clone(),
        );
        ctx.db
            .run_as(move |conn| {
                delivery::check_not_uploaded_twice(conn, &scope, &sha, replace_of.as_deref())
            })
            .await?;
    }
    // Validation is quick (structure, producer, metadata); the split itself runs as a job.
    let mut config = batch.split;
    config.academic_year = Some(batch.academic_year);
    let bytes = batch.bytes;
    let verdict = actix_web::web::block(move || crate::pdf::validate(&bytes, &config))
        .await
        .map_err(ApiError::from)?;
    let rejection = verdict.as_ref().err().cloned();
    if rejection.is_none() {
        crate::storage::adopt_off_thread(&ctx.store, batch.file_path, &batch.file_sha256).await?;
    }
    let id = uuid::Uuid::now_v7().to_string();
    let record = Record {
        id: id.clone(),
        composante: batch.composante,
        document_type: batch.document_type,
        academic_year: batch.academic_year,
        session: batch.session,
        label: batch.label,
        file_name: batch.file_name,
        sha: batch.file_sha256,
        size: batch.file_size as i64,
        replace_of: batch.replace_of,
        rejection: rejection.as_ref().map(|e| (e.code(), e.text().to_stored())),
        actor: caller.name.clone(),
        author_name: batch.author_name,
    };
    let key = ctx.audit_key.clone();
    let row = ctx
        .db
        .write_as(move |conn| record_upload(conn, key.expose().as_bytes(), &scope, record))
        .await?;
    match rejection {
        Some(error) => Err(TreatmentError::Refused {
            error,
            treatment_id: id,
        }),
        None => Ok(row),
    }
}

/// An upload as recorded.
struct Record {
    id: String,
    composante: String,
    document_type: DocumentKindCode,
    academic_year: i32,
    session: Option<String>,
    label: String,
    file_name: String,
    sha: String,
    size: i64,
    replace_of: Option<String>,
    rejection: Option<(&'static str, String)>,
    actor: String,
    author_name: Option<String>,
}

/// Records the treatment (and queues its split when the batch was accepted), audited.
fn record_upload(
    conn: &mut DbConnection,
    audit_key: &[u8],
    scope: &DataScope,
    r: Record,
) -> Result<TreatmentRow> {
    delivery::check_not_uploaded_twice(conn, scope, &r.sha, r.replace_of.as_deref())?;
    let status = if r.rejection.is_some() {
        TreatmentStatus::SplitFailed
    } else {
        TreatmentStatus::Splitting
    };
    let now = crate::db::now();
    let row = repo::insert(
        conn,
        &repo::NewTreatment {
            id: &r.id,
            composante: &r.composante,
            document_type: r.document_type.as_str(),
            academic_year: r.academic_year,
            session: r.session.as_deref(),
            label: &r.label,
            file_name: &r.file_name,
            file_sha256: &r.sha,
            file_size: r.size,
            status: status.as_str(),
            pages_total: None,
            pages_done: 0,
            rejection_code: r.rejection.as_ref().map(|(c, _)| *c),
            rejection_detail: r.rejection.as_ref().map(|(_, d)| d.as_str()),
            skipped_pages: "[]",
            warnings: "[]",
            created_by: &r.actor,
            created_by_name: r.author_name.as_deref(),
            created_at: now,
            updated_at: now,
            authority: repo::authority_of(scope),
        },
    )?;
    if r.rejection.is_none() {
        jobs::enqueue(
            conn,
            crate::jobs::split::KIND,
            &r.id,
            &serde_json::json!({}),
            &r.actor,
        )?;
    }
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor: &r.actor,
            action: "treatment.upload",
            student: None,
            object_type: "treatment",
            object_id: Some(&r.id),
            details: serde_json::json!({
                "composante": row.composante,
                "document_type": row.document_type,
                "sha256": row.file_sha256,
                "size": row.file_size,
                "rejection": r.rejection.as_ref().map(|(c, _)| *c),
                "replace_of": r.replace_of,
            }),
        },
    )?;
    Ok(row)
}

/// Documents deposited before this instant and still awaiting their receipt are overdue
/// (`digiposte.receipt_timeout_secs` after their deposit).
pub fn overdue_before(receipt_timeout_secs: i64) -> NaiveDateTime {
    crate::db::now() - chrono::Duration::seconds(receipt_timeout_secs)
}

/// A treatment as listed: with its delivery counts and overdue receipts.
pub struct Listed {
    pub row: TreatmentRow,
    pub overdue_receipts: i64,
    pub counts: DeliveryCounts,
}

/// One page of treatments with their delivery counts and the receipts overdue (documents
/// deposited before `overdue_before` and still awaiting their return).
pub fn page(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &TreatmentFilter,
    window: Window,
    overdue_before: NaiveDateTime,
) -> Result<(Vec<Listed>, i64), ApiError> {
    let (rows, total) = repo::list(conn, scope, filter, window)?;
    let ids: Vec<String> = rows.iter().map(|t| t.id.clone()).collect();
    let overdue = deliveries::overdue_by_treatment(conn, &ids, overdue_before)?;
    let counts = deliveries::counts_by_treatment(conn, &ids)?;
    let items = rows
        .into_iter()
        .map(|row| Listed {
            overdue_receipts: overdue.get(&row.id).copied().unwrap_or(0),
            counts: counts.get(&row.id).copied().unwrap_or_default(),
            row,
        })
        .collect();
    Ok((items, total))
}

/// One treatment with its blocks and, once sent, its documents per delivery state.
pub struct Detail {
    pub row: TreatmentRow,
    pub overdue_receipts: i64,
    pub blocks: Blocks,
    pub deliverable: i64,
    /// Documents per delivery state (`None`: not sent).
    pub deliveries: Vec<(Option<DeliveryStatus>, i64)>,
}

pub async fn detail(
    ctx: &Context,
    scope: DataScope,
    id: String,
    overdue_before: NaiveDateTime,
) -> Result<Detail> {
    let year = ctx.year;
    ctx.db
        .run_as(move |conn| {
            let t = visible(conn, &scope, &id)?;
            let overdue_receipts = deliveries::overdue_by_treatment(
                conn,
                std::slice::from_ref(&t.id),
                overdue_before,
            )?
            .get(&t.id)
            .copied()
            .unwrap_or(0);
            let verdicts = repo::deliverability(conn, &t, year)?;
            let deliverable = delivery::deliverable(&verdicts, &t);
            let blocks = delivery::blocks(conn, &t, &verdicts, year)?;
            let deliveries = repo::delivery_counts(conn, &t.id)?
                .into_iter()
                .map(|(status, count)| (status.as_deref().and_then(DeliveryStatus::parse), count))
                .collect();
            Ok(Detail {
                row: t,
                overdue_receipts,
                blocks,
                deliverable,
                deliveries,
            })
        })
        .await
}

fn visible(conn: &mut DbConnection, scope: &DataScope, id: &str) -> Result<TreatmentRow> {
    repo::get(conn, scope, id)?.ok_or(TreatmentError::NotFound("treatment"))
}

/// A treatment within the caller's scope.
pub async fn find(ctx: &Context, scope: DataScope, id: String) -> Result<TreatmentRow> {
    ctx.db.run_as(move |conn| visible(conn, &scope, &id)).await
}

/// A page of a treatment's documents, by block, as the caller may see them.
pub fn documents_page(
    conn: &mut DbConnection,
    scope: &DataScope,
    t: &TreatmentRow,
    block: Block,
    window: Window,
    year: i32,
) -> Result<(Vec<ShownDocument>, i64)> {
    Ok(delivery::documents_page(
        conn, scope, t, block, window, year,
    )?)
}

/// A document's PDF: its id and bytes (while retention keeps it).
pub async fn document_pdf(
    ctx: &Context,
    scope: DataScope,
    id: String,
    doc: String,
) -> Result<(String, Vec<u8>)> {
    let d = ctx
        .db
        .run_as(move |conn| {
            let t = visible(conn, &scope, &id)?;
            repo::document(conn, &t.id, &doc)?.ok_or(TreatmentError::NotFound("document"))
        })
        .await?;
    if d.file_deleted_at.is_some() {
        return Err(TreatmentError::FileDeleted);
    }
    let store = ctx.store.clone();
    let sha = d.sha256.clone();
    let bytes = actix_web::web::block(move || store.get(&sha))
        .await
        .map_err(ApiError::from)?
        .map_err(ApiError::from)?;
    Ok((d.id, bytes))
}

/// "Annuler le traitement": only a split treatment; its documents' files are deleted once
/// the cancellation is committed.
pub async fn cancel(ctx: &Context, caller: &Caller, id: String) -> Result<TreatmentRow> {
    let (scope, actor, key) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
    );
    let (row, blobs) = ctx
        .db
        .write_as(move |conn| {
            let t = visible(conn, &scope, &id)?;
            if !repo::change_status(
                conn,
                &t.id,
                TreatmentStatus::Split,
                TreatmentStatus::Cancelled,
                &actor,
            )? {
                return Err(TreatmentError::NotCancellable(t.status()));
            }
            let docs = repo::all_documents(conn, &t.id)?;
            let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
            let blobs: Vec<String> = docs.iter().map(|d| d.sha256.clone()).collect();
            let blobs = repo::blobs_only_kept_by(conn, &ids, &blobs)?;
            repo::mark_files_deleted(conn, &ids)?;
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "treatment.cancel",
                    student: None,
                    object_type: "treatment",
                    object_id: Some(&t.id),
                    details: serde_json::json!({ "documents": docs.len() }),
                },
            )?;
            Ok((repo::find(conn, &t.id)?, blobs))
        })
        .await?;
    crate::storage::delete_off_thread(&ctx.store, blobs).await?;
    Ok(row)
}

/// A manager confirms that a flagged document is the student's: it becomes deliverable.
pub async fn confirm_identity(
    ctx: &Context,
    caller: &Caller,
    id: String,
    doc: String,
) -> Result<ShownDocument> {
    let (scope, actor, key, year) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
        ctx.year,
    );
    ctx.db
        .write_as(move |conn| {
            let t = visible(conn, &scope, &id)?;
            let d =
                repo::document(conn, &t.id, &doc)?.ok_or(TreatmentError::NotFound("document"))?;
            if t.status() != TreatmentStatus::Split {
                return Err(TreatmentError::NotWaitingToSend(t.status()));
            }
            if !d.needs_identity_check() {
                return Err(TreatmentError::NoIdentityToConfirm);
            }
            repo::confirm_identity(conn, &d.id, &actor)?;
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "document.confirm_identity",
                    student: Some(&d.cod_etu),
                    object_type: "document",
                    object_id: Some(&d.id),
                    details: serde_json::json!({ "treatment_id": t.id, "flags": d.flags() }),
                },
            )?;
            Ok(delivery::document(conn, &scope, &t, &d.id, year)?)
        })
        .await
}

/// "À vérifier": a manager settles a deposit whose answer was lost (`uncertain`).
pub async fn resolve_uncertain(
    ctx: &Context,
    caller: &Caller,
    id: String,
    doc: String,
    resolution: crate::domain::delivery::UncertainResolution,
) -> Result<ShownDocument> {
    let (scope, actor, key, year) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
        ctx.year,
    );
    ctx.db
        .write_as(move |conn| {
            let t = visible(conn, &scope, &id)?;
            let d =
                repo::document(conn, &t.id, &doc)?.ok_or(TreatmentError::NotFound("document"))?;
            if !deliveries::resolve_uncertain(conn, &d.id, resolution, &actor)? {
                return Err(TreatmentError::NotUncertain {
                    current_status: d.delivery_status.clone().unwrap_or_else(|| "unsent".into()),
                });
            }
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "document.resolve_uncertain",
                    student: Some(&d.cod_etu),
                    object_type: "document",
                    object_id: Some(&d.id),
                    details: serde_json::json!({
                        "treatment_id": t.id,
                        "resolution": resolution,
                        "deposit_started_at": d.deposit_started_at,
                        "sha256": d.sha256,
                    }),
                },
            )?;
            Ok(delivery::document(conn, &scope, &t, &d.id, year)?)
        })
        .await
}

/// Which send: the bulk send ("Envoyer dans les coffres") or that of the documents held since.
#[derive(Clone, Copy, Debug)]
pub enum Sending {
    Treatment,
    Held,
}

/// A send, confirmed by the number of documents the manager was shown.
pub async fn send(
    ctx: &Context,
    caller: &Caller,
    which: Sending,
    id: String,
    expected: i64,
) -> Result<delivery::SendOutcome> {
    let service = match which {
        Sending::Treatment => delivery::send_treatment,
        Sending::Held => delivery::send_held,
    };
    let (scope, name, key, year) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
        ctx.year,
    );
    ctx.db
        .write_as(move |conn| {
            let actor = delivery::Actor {
                scope: &scope,
                name: &name,
                audit_key: key.expose().as_bytes(),
                year,
            };
            Ok(service(conn, &actor, &id, expected)?)
        })
        .await
}

/// A per-document delivery action.
#[derive(Clone, Copy, Debug)]
pub enum DocumentAction {
    /// Send one held or failed document that has become deliverable.
    Send,
    /// An administrator releases a document held outside the uploader's composantes.
    Release,
    /// A manager confirms a corrected document replaces the delivered one.
    ConfirmReplacement,
}

/// A per-document action in one write transaction; answers the document as the caller may
/// see it.
pub async fn document_action(
    ctx: &Context,
    caller: &Caller,
    action: DocumentAction,
    id: String,
    doc: String,
) -> Result<ShownDocument> {
    let action = match action {
        DocumentAction::Send => delivery::send_document,
        DocumentAction::Release => delivery::release,
        DocumentAction::ConfirmReplacement => delivery::confirm_replacement,
    };
    let (scope, name, key, year) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
        ctx.year,
    );
    ctx.db
        .write_as(move |conn| {
            let actor = delivery::Actor {
                scope: &scope,
                name: &name,
                audit_key: key.expose().as_bytes(),
                year,
            };
            let doc = action(conn, &actor, &id, &doc)?;
            let t = repo::find(conn, &id)?;
            Ok(delivery::document(conn, &scope, &t, &doc, year)?)
        })
        .await
}

/// The declared kind, if configured.
pub fn document_kind(kinds: &DocumentKinds, declared: &str) -> Result<DocumentKindCode> {
    Ok(delivery::document_kind(kinds, declared)?)
}

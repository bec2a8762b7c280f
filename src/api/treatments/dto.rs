//! The treatments' API shapes: what `/uploads` and `/treatments` take and answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::delivery::{DeliveryStatus, TreatmentStatus};
use crate::domain::document_kind::{DocumentKindCode, DocumentKinds};
use crate::domain::vault::VaultStatus;
use crate::error::ErrorCode;
use crate::i18n::{Localized, Text};
use crate::services::delivery::{self as delivery, ShownDocument};
use crate::services::export::ListFormat;
use crate::services::treatments::{self as service, TreatmentRow};

pub use crate::services::delivery::Blocks;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryCount {
    /// `null` for documents not sent yet.
    pub status: Option<DeliveryStatus>,
    pub label: &'static str,
    pub count: i64,
}

/// Why a batch was refused (`TreatmentRejection` in the description: `Rejection` names the
/// refusal of a supporting document).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TreatmentRejection)]
pub struct Rejection {
    /// The problem code (e.g. `scanned_pdf`, `not_from_apogee`): the stable key.
    pub code: String,
    /// The code's title, in the request's language (`Accept-Language`, French by default).
    #[schema(value_type = Option<String>)]
    pub title: Option<Localized>,
    /// Why, in the request's language.
    #[schema(value_type = String)]
    pub detail: Localized,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Treatment {
    pub id: String,
    pub label: String,
    pub document_type: DocumentKindCode,
    /// The kind's label as configured, in the request's language ("Certificat de scolarité").
    #[schema(value_type = String)]
    pub document_type_label: Localized,
    pub composante: String,
    pub academic_year: i32,
    pub session: Option<String>,
    pub status: TreatmentStatus,
    /// The status as the managers' manual names it, e.g. "Fichier découpé".
    pub status_label: &'static str,
    pub file_name: String,
    pub file_sha256: String,
    pub file_size: i64,
    /// Split progress: pages read so far, and in all (known once reading began).
    pub pages_done: i32,
    pub pages_total: Option<i32>,
    /// Cover pages skipped (1-based).
    pub skipped_pages: Vec<u32>,
    /// Notes of the split (pages merged…), in the request's language.
    #[schema(value_type = Vec<String>)]
    pub warnings: Vec<Localized>,
    pub rejection: Option<Rejection>,
    pub created_by: String,
    /// The author's display name (the identity provider's `name` at upload time), when known.
    pub created_by_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub split_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Documents still "En attente du retour" longer than `digiposte.receipt_timeout_secs`
    /// (48 h by default) after their deposit: Digiposte's return is overdue.
    pub overdue_receipts: i64,
    /// What became of its documents (in lists: `GET /treatments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<crate::domain::delivery::DeliveryCounts>,
}

impl Treatment {
    /// The treatment as the API shows it, its kind labelled as `kinds` say.
    pub fn of(t: TreatmentRow, kinds: &DocumentKinds) -> Self {
        let status = t.status();
        Treatment {
            status,
            status_label: status.label(),
            document_type_label: Localized(kinds.label_of(&t.document_type)),
            // Stored codes were checked at upload; a malformed one reads as the default kind.
            document_type: DocumentKindCode::parse(&t.document_type).unwrap_or_default(),
            rejection: t.rejection_code.map(|code| Rejection {
                title: ErrorCode::ALL
                    .iter()
                    .find(|c| c.as_str() == code)
                    .map(|c| Localized(c.title_text())),
                code,
                detail: Localized(Text::from_stored(&t.rejection_detail.unwrap_or_default())),
            }),
            skipped_pages: serde_json::from_str(&t.skipped_pages).unwrap_or_default(),
            warnings: Text::stored_list(&t.warnings)
                .into_iter()
                .map(Localized)
                .collect(),
            id: t.id,
            label: t.label,
            composante: t.composante,
            academic_year: t.academic_year,
            session: t.session,
            file_name: t.file_name,
            file_sha256: t.file_sha256,
            file_size: t.file_size,
            pages_done: t.pages_done,
            pages_total: t.pages_total,
            created_by: t.created_by,
            created_by_name: t.created_by_name,
            created_at: t.created_at.and_utc(),
            split_at: t.split_at.map(|d| d.and_utc()),
            sent_at: t.sent_at.map(|d| d.and_utc()),
            cancelled_at: t.cancelled_at.map(|d| d.and_utc()),
            overdue_receipts: 0,
            counts: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TreatmentDetail {
    #[serde(flatten)]
    pub treatment: Treatment,
    /// The blocks; once sent, frozen as they stood at the send (`frozen_at`), while
    /// `deliveries` tells what became of the documents since.
    pub blocks: Blocks,
    /// Documents the next send would queue now, the number its confirmation must carry:
    /// before the send, "Envoyer dans les coffres" (known student within the uploader's
    /// composantes, identity checked, consent given, not delivered before, active vault);
    /// after it, `POST /treatments/{id}/send-held` (held or failed documents that have
    /// become deliverable).
    pub deliverable: i64,
    /// After sending: documents per delivery state (Transmis, Erreur transmission…), live.
    pub deliveries: Vec<DeliveryCount>,
}

/// The multipart form of `POST /uploads`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The batch PDF edited from Apogée.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// A configured kind (built in, or of `[[document_kinds]]`); else 422 `unknown_document_kind`.
    document_type: DocumentKindCode,
    /// 2025 means 2025-2026.
    academic_year: i32,
    /// COD_CMP of the composante the batch belongs to.
    composante: String,
    /// A label for the treatment list, e.g. "Relevés L1 Informatique S1".
    label: String,
    /// Optional session (1 or 2).
    session: Option<String>,
    /// Confirms a new treatment on purpose when these bytes were already uploaded: the id of
    /// the live treatment holding them (without it such an upload answers 409
    /// `duplicate_upload` naming that treatment). Documents already delivered to a student
    /// are still never sent twice (`already_delivered`).
    replace_of: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TreatmentQuery {
    /// One or more statuses, comma-separated: splitting, split, split_failed, sent, cancelled.
    pub status: Option<String>,
    pub composante: Option<String>,
    pub document_type: Option<DocumentKindCode>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Part of the label (case does not matter for unaccented letters).
    pub label: Option<String>,
    /// The author as `created_by` shows it, e.g. `manager:jdupont`.
    pub author: Option<String>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
    /// `csv`: the whole filtered list as CSV (as `Accept: text/csv` asks).
    #[param(inline)]
    pub format: Option<ListFormat>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TreatmentDocument {
    pub id: String,
    /// The student number read on the pages.
    pub cod_etu: String,
    /// The registry's name, when the student is known.
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub ine: Option<String>,
    pub pages: Vec<u32>,
    /// continuation, merged, identity_mismatch, ambiguous_student, unknown_student.
    pub flags: Vec<String>,
    /// Whether a manager must confirm the identity before the document can be sent.
    pub needs_identity_check: bool,
    pub identity_confirmed_by: Option<String>,
    /// The student's vault status, when they have one.
    pub vault_status: Option<VaultStatus>,
    pub has_active_vault: bool,
    pub sha256: String,
    pub size: i64,
    pub delivery_status: Option<DeliveryStatus>,
    pub delivery_status_label: Option<&'static str>,
    pub delivery_reason: Option<String>,
    pub deposited_at: Option<DateTime<Utc>>,
    pub receipt_at: Option<DateTime<Utc>>,
    /// When the last deposit was sent; for an `uncertain` document, the time to look for in
    /// the vault (with `sha256`, and the routing code in `delivery_reason`).
    pub deposit_started_at: Option<DateTime<Utc>>,
    /// The PDF is still stored (retention deletes it after a final delivery state).
    pub file_available: bool,
    /// Why the document is not sent now (documents not sent, held or failed); `null` when
    /// it may be sent or is on its way. For `outside_composante`, a caller limited to some
    /// composantes sees no registry name and no vault status.
    pub hold: Option<crate::domain::delivery::Hold>,
    /// The hold as managers read it, e.g. "Hors de votre composante".
    pub hold_label: Option<&'static str>,
    /// The earlier document this one duplicates (`already_delivered`) or corrects
    /// (`replaces_delivered`).
    pub earlier_document_id: Option<String>,
    /// Who confirmed that this corrected document replaces the delivered one.
    pub replacement_confirmed_by: Option<String>,
    /// The administrator who released it from `outside_composante`.
    pub released_by: Option<String>,
}

impl TreatmentDocument {
    pub fn from_view(shown: ShownDocument) -> Self {
        let (d, name, vault) = shown.view;
        let hold = shown.hold.as_ref().map(|h| h.hold);
        let earlier = shown
            .hold
            .and_then(|h| h.earlier)
            .or_else(|| d.earlier_document_id.clone());
        let vault_status = vault.as_deref().and_then(VaultStatus::parse);
        let delivery_status = d.delivery_status.as_deref().and_then(DeliveryStatus::parse);
        TreatmentDocument {
            needs_identity_check: d.needs_identity_check(),
            flags: d.flags(),
            has_active_vault: vault_status == Some(VaultStatus::Active),
            vault_status,
            delivery_status_label: delivery_status.map(DeliveryStatus::label),
            delivery_status,
            last_name: name.as_ref().map(|n| n.0.clone()),
            first_name: name.map(|n| n.1),
            pages: serde_json::from_str(&d.pages).unwrap_or_default(),
            file_available: d.file_deleted_at.is_none(),
            id: d.id,
            cod_etu: d.cod_etu,
            ine: d.ine,
            identity_confirmed_by: d.identity_confirmed_by,
            sha256: d.sha256,
            size: d.size,
            delivery_reason: d.delivery_reason,
            deposited_at: d.deposited_at.map(|t| t.and_utc()),
            receipt_at: d.receipt_at.map(|t| t.and_utc()),
            deposit_started_at: d.deposit_started_at.map(|t| t.and_utc()),
            hold,
            hold_label: hold.map(crate::domain::delivery::Hold::label),
            earlier_document_id: earlier,
            replacement_confirmed_by: d.replacement_confirmed_by,
            released_by: d.released_by,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum BlockParam {
    #[default]
    All,
    WithVault,
    WithoutVault,
    OutsideComposante,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    /// all (Etudiants), with_vault (Etudiants ayant un coffre), without_vault (sans coffre),
    /// outside_composante (Hors de votre composante).
    #[param(inline)]
    pub block: Option<BlockParam>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
    /// `csv`: every document of the block as CSV (as `Accept: text/csv` asks).
    #[param(inline)]
    pub format: Option<ListFormat>,
}

#[derive(Debug, Deserialize, validator::Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UncertainDecision {
    /// `received`: the document is in the student's vault (→ `transmitted`); `deposit_again`:
    /// it is not (→ `queued`, deposited once more).
    pub resolution: crate::domain::delivery::UncertainResolution,
}

#[derive(Debug, Deserialize, validator::Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendConfirmation {
    /// The number of documents the manager was shown as about to be sent (`deliverable` of
    /// the treatment). If it changed meanwhile, nothing is sent (409).
    #[validate(range(min = 0))]
    pub expected_documents: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendSummary {
    pub treatment: Treatment,
    /// Documents queued for Digiposte by this request (0 when the treatment was already sent).
    pub queued: i64,
    /// Documents kept back, per reason.
    pub held: Vec<HeldCount>,
    /// False when the treatment had been sent before: nothing new was queued.
    pub newly_sent: bool,
}

pub use crate::domain::delivery::HeldCount;

impl SendSummary {
    pub fn of(o: delivery::SendOutcome, kinds: &DocumentKinds) -> Self {
        SendSummary {
            treatment: Treatment::of(o.treatment, kinds),
            queued: o.queued,
            held: o.held,
            newly_sent: o.newly_sent,
        }
    }
}

impl Treatment {
    /// A listed treatment, with its delivery counts and overdue receipts.
    pub fn listed(l: service::Listed, kinds: &DocumentKinds) -> Self {
        Treatment {
            overdue_receipts: l.overdue_receipts,
            counts: Some(l.counts),
            ..Treatment::of(l.row, kinds)
        }
    }
}

impl TreatmentDetail {
    pub fn of(d: service::Detail, kinds: &DocumentKinds) -> Self {
        TreatmentDetail {
            treatment: Treatment {
                overdue_receipts: d.overdue_receipts,
                ..Treatment::of(d.row, kinds)
            },
            blocks: d.blocks,
            deliverable: d.deliverable,
            deliveries: d
                .deliveries
                .into_iter()
                .map(|(status, count)| DeliveryCount {
                    label: status.map_or("Non envoyé", DeliveryStatus::label),
                    status,
                    count,
                })
                .collect(),
        }
    }
}

impl From<BlockParam> for service::Block {
    fn from(b: BlockParam) -> Self {
        match b {
            BlockParam::All => service::Block::All,
            BlockParam::WithVault => service::Block::WithVault,
            BlockParam::WithoutVault => service::Block::WithoutVault,
            BlockParam::OutsideComposante => service::Block::OutsideComposante,
        }
    }
}

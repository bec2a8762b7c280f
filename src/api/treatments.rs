//! `/uploads` and `/treatments`: deposit an Apogée batch, follow its split, look at the three
//! blocks (students, with a vault, without), preview a document, confirm an identity, cancel.

use actix_web::{Either, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::upload;
use crate::auth::{DataScope, Permission, Principal};
use crate::db::audit::{self, AuditEvent};
use crate::db::treatments::{self as repo, Block, TreatmentFilter};
use crate::db::{composantes, jobs};
use crate::domain::delivery::{DeliveryStatus, TreatmentStatus};
use crate::domain::document_kind::{DocumentKindCode, DocumentKinds};
use crate::domain::vault::VaultStatus;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::i18n::{Localized, Text};
use crate::pagination::{Page, Window};
use crate::services::export::{self, ListFormat};
use crate::state::AppState;
use crate::text;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(upload_batch)
        .service(list)
        .service(show)
        .service(documents)
        .service(document_pdf)
        .service(confirm_identity)
        .service(resolve_uncertain)
        .service(send)
        .service(send_document)
        .service(send_held)
        .service(release_document)
        .service(confirm_replacement)
        .service(cancel);
}

pub use crate::services::delivery::Blocks;
use crate::services::delivery::{self as delivery, ShownDocument};

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
    pub fn of(t: repo::TreatmentRow, kinds: &DocumentKinds) -> Self {
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

fn field_error(field: &str, code: &str, message: crate::i18n::Text) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: crate::i18n::Localized(message),
    }])
}

/// Deposits a batch PDF edited from Apogée ("Déposer un document"). The file is streamed to
/// disk under the size limit and validated; a refused file answers its problem code (the
/// treatment is listed as "Erreur de découpage"); an accepted one answers 202 with the
/// treatment's location while the split runs in the background ("Découper").
#[utoipa::path(
    operation_id = "createUpload",
    tag = "treatments",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, body = Treatment, description = "Accepted; follow the Location header"),
        (status = 403, description = "Not allowed to upload"),
        (status = 413, description = "The file is over the size limit (`file_too_large`)"),
        (status = 409, description = "The same bytes are a live treatment's (`duplicate_upload`, `treatment_id`); confirm with `replace_of`"),
        (status = 415, description = "Not a multipart form"),
        (status = 422, description = "Invalid fields, or the PDF was refused (its code says why)"),
        (status = 507, description = "The data directory cannot take the file"),
    )
)]
#[post("/uploads")]
async fn upload_batch(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::UploadsWrite)?;
    if upload::media_type(&req) != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            Text::fixed(
                "envoyez le lot en multipart/form-data avec une partie `file`",
                "send the batch as multipart/form-data with a `file` part",
            ),
        ));
    }
    let form = upload::form(&req, payload, &state.config.limits);
    let mut form = upload::receive_form(
        form,
        &state.config.data_dir.join("tmp"),
        "file",
        state.config.split.max_bytes,
        ErrorCode::FileTooLarge,
    )
    .await?;
    let kinds = state.config.document_kinds();
    let document_type = delivery::document_kind(&kinds, form.required("document_type")?)?;
    let academic_year: i32 = form
        .required("academic_year")?
        .trim()
        .parse()
        .ok()
        .filter(|y| (1990..=2100).contains(y))
        .ok_or_else(|| {
            field_error(
                "academic_year",
                "year",
                crate::i18n::Text::fixed(
                    "une année comme 2025 est attendue",
                    "expected a year such as 2025",
                ),
            )
        })?;
    let composante = form.required("composante")?.trim().to_owned();
    let label = form.required("label")?.trim().to_owned();
    if label.chars().count() > 200 {
        return Err(field_error(
            "label",
            "length",
            crate::i18n::Text::fixed("200 caractères au plus", "at most 200 characters"),
        ));
    }
    let session = form.optional("session").map(|s| s.trim().to_owned());
    let replace_of = form
        .optional("replace_of")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let file = form.take_file("file")?;
    let file_name = file
        .file_name
        .clone()
        .unwrap_or_else(|| "batch.pdf".into())
        .chars()
        .take(200)
        .collect::<String>();

    // The composante must be one the caller manages (same answer whether it exists or not).
    {
        let code = composante.clone();
        let scope = scope.clone();
        let known = state
            .db
            .run(move |conn| composantes::get(conn, &scope, &code))
            .await?;
        if known.is_none() {
            return Err(field_error(
                "composante",
                "unknown",
                crate::i18n::Text::fixed(
                    "composante inconnue, ou que vous ne gérez pas",
                    "unknown composante, or one you do not manage",
                ),
            ));
        }
    }
    // The same bytes twice are refused unless confirmed (a deposit is permanent).
    {
        let (sha, replace_of, scope) = (file.sha256.clone(), replace_of.clone(), scope.clone());
        state
            .db
            .run(move |conn| {
                delivery::check_not_uploaded_twice(conn, &scope, &sha, replace_of.as_deref())
            })
            .await?;
    }
    let authority = repo::authority_of(&scope);
    let dup_scope = scope.clone();
    // Validation is quick (structure, producer, metadata); the split itself runs as a job.
    let mut config = state.config.split.for_kind(&kinds, &document_type);
    config.academic_year = Some(academic_year);
    let bytes = file.read().await?;
    let verdict = web::block(move || crate::pdf::validate(&bytes, &config)).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let actor = principal.actor();
    let author_name = principal.name.clone();
    let key = state.audit_key.clone();
    let rejection = verdict
        .as_ref()
        .err()
        .map(|e| (e.code(), e.text().to_stored()));
    if rejection.is_none() {
        crate::storage::adopt_off_thread(&state.store, &file.temp, &file.sha256).await?;
    }
    let status = if rejection.is_some() {
        TreatmentStatus::SplitFailed
    } else {
        TreatmentStatus::Splitting
    };
    let (sha, size) = (file.sha256.clone(), file.size as i64);
    let id_tx = id.clone();
    let rejection_tx = rejection.clone();
    let row = state
        .db
        .write(move |conn| {
            delivery::check_not_uploaded_twice(conn, &dup_scope, &sha, replace_of.as_deref())?;
            let now = crate::db::now();
            let row = repo::insert(
                conn,
                &repo::NewTreatment {
                    id: &id_tx,
                    composante: &composante,
                    document_type: document_type.as_str(),
                    academic_year,
                    session: session.as_deref(),
                    label: &label,
                    file_name: &file_name,
                    file_sha256: &sha,
                    file_size: size,
                    status: status.as_str(),
                    pages_total: None,
                    pages_done: 0,
                    rejection_code: rejection_tx.as_ref().map(|(c, _)| *c),
                    rejection_detail: rejection_tx.as_ref().map(|(_, d)| d.as_str()),
                    skipped_pages: "[]",
                    warnings: "[]",
                    created_by: &actor,
                    created_by_name: author_name.as_deref(),
                    created_at: now,
                    updated_at: now,
                    authority,
                },
            )?;
            if rejection_tx.is_none() {
                jobs::enqueue(
                    conn,
                    crate::jobs::split::KIND,
                    &id_tx,
                    &serde_json::json!({}),
                    &actor,
                )?;
            }
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "treatment.upload",
                    student: None,
                    object_type: "treatment",
                    object_id: Some(&id_tx),
                    details: serde_json::json!({
                        "composante": row.composante,
                        "document_type": row.document_type,
                        "sha256": row.file_sha256,
                        "size": row.file_size,
                        "rejection": rejection_tx.as_ref().map(|(c, _)| *c),
                        "replace_of": replace_of,
                    }),
                },
            )?;
            Ok(row)
        })
        .await?;
    let location = format!("/treatments/{id}");
    if let Err(e) = verdict {
        return Err(ApiError::from(e)
            .with("treatment_id", &id)
            .with_header(actix_web::http::header::LOCATION, &location));
    }
    Ok(HttpResponse::Accepted()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(Treatment::of(row, &kinds)))
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

fn parse_statuses(s: Option<&str>) -> Result<Vec<TreatmentStatus>, ApiError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            TreatmentStatus::parse(p).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    text!(
                        "`{p}` n'est pas un statut de traitement (splitting, split, split_failed, sent, cancelled)",
                        "`{p}` is not a treatment status (splitting, split, split_failed, sent, cancelled)"
                    ),
                )
            })
        })
        .collect()
}

/// The treatments of the caller's composantes ("Traitements"), newest first; with
/// `Accept: text/csv` or `format=csv`, the whole filtered list as CSV.
#[utoipa::path(
    operation_id = "listTreatments",
    tag = "treatments",
    params(TreatmentQuery),
    responses((status = 200, description = "One page of treatments, or the whole list as CSV", content(
        (Page<Treatment> = "application/json"),
        (String = "text/csv", example = json!("\u{feff}Libellé;Type de document;Composante;Année universitaire;Session;Statut;Fichier;Pages;Documents;Envoyés;Transmis;Erreurs;Retenus;Retours en retard;Déposé par;Déposé le;Envoyé le\r\nRelevés L1 Informatique S1;Relevé de notes;905;2025;1;Fichier découpé;releves.pdf;12;12;0;0;0;0;0;manager:jdupont;2025-09-01T08:00:00Z;\r\n"))
    )))
)]
#[get("/treatments")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<TreatmentQuery>,
) -> Result<Either<web::Json<Page<Treatment>>, HttpResponse>, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsRead)?;
    let query = query.into_inner();
    let filter = TreatmentFilter {
        statuses: parse_statuses(query.status.as_deref())?,
        composante: query.composante,
        document_type: query.document_type.map(|d| d.as_str().to_owned()),
        from: query.from.map(|t| t.naive_utc()),
        to: query.to.map(|t| t.naive_utc()),
        label: query.label.filter(|l| !l.trim().is_empty()),
        author: query.author,
    };
    let overdue_before = receipts_due_before(&state);
    let kinds = state.config.document_kinds();
    if export::wants_csv(&req, query.format) {
        return Ok(Either::Right(export::stream(
            &state.db,
            "traitements.csv",
            Treatment::CSV_COLUMNS,
            move |conn, window| {
                Ok(treatments_page(conn, &scope, &filter, window, overdue_before, &kinds)?.0)
            },
            Treatment::csv_cells,
        )));
    }
    let window = Window::new(query.page, query.per_page)?;
    let (items, total) = state
        .db
        .run(move |conn| treatments_page(conn, &scope, &filter, window, overdue_before, &kinds))
        .await?;
    Ok(Either::Left(web::Json(window.wrap(items, total))))
}

/// One page of treatments with their delivery counts and overdue receipts.
fn treatments_page(
    conn: &mut crate::db::DbConnection,
    scope: &DataScope,
    filter: &TreatmentFilter,
    window: Window,
    overdue_before: chrono::NaiveDateTime,
    kinds: &DocumentKinds,
) -> Result<(Vec<Treatment>, i64), ApiError> {
    let (rows, total) = repo::list(conn, scope, filter, window)?;
    let ids: Vec<String> = rows.iter().map(|t| t.id.clone()).collect();
    let overdue = crate::db::deliveries::overdue_by_treatment(conn, &ids, overdue_before)?;
    let counts = crate::db::deliveries::counts_by_treatment(conn, &ids)?;
    let items = rows
        .into_iter()
        .map(|t| {
            let n = overdue.get(&t.id).copied().unwrap_or(0);
            let c = counts.get(&t.id).copied().unwrap_or_default();
            Treatment {
                overdue_receipts: n,
                counts: Some(c),
                ..Treatment::of(t, kinds)
            }
        })
        .collect();
    Ok((items, total))
}

/// Documents deposited before this instant and still awaiting their receipt are overdue.
fn receipts_due_before(state: &AppState) -> chrono::NaiveDateTime {
    crate::db::now() - chrono::Duration::seconds(state.config.digiposte.receipt_timeout_secs)
}

async fn load_treatment(
    state: &AppState,
    scope: DataScope,
    id: String,
) -> Result<repo::TreatmentRow, ApiError> {
    state
        .db
        .run(move |conn| {
            repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("treatment"))
        })
        .await
}

/// One treatment with its progress, its blocks (students / with a vault / without) and, once
/// sent, the documents per delivery state.
#[utoipa::path(
    operation_id = "getTreatment",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id")),
    responses((status = 200, body = TreatmentDetail), (status = 404, description = "No such treatment within the caller's scope"))
)]
#[get("/treatments/{id}")]
async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<TreatmentDetail>, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsRead)?;
    let id = id.into_inner();
    let overdue_before = receipts_due_before(&state);
    let year = state.config.current_academic_year();
    let kinds = state.config.document_kinds();
    let detail = state
        .db
        .run(move |conn| {
            let t =
                repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("treatment"))?;
            let overdue_receipts = crate::db::deliveries::overdue_by_treatment(
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
                .map(|(status, count)| {
                    let status = status.as_deref().and_then(DeliveryStatus::parse);
                    DeliveryCount {
                        label: status.map_or("Non envoyé", DeliveryStatus::label),
                        status,
                        count,
                    }
                })
                .collect();
            Ok(TreatmentDetail {
                treatment: Treatment {
                    overdue_receipts,
                    ..Treatment::of(t, &kinds)
                },
                blocks,
                deliverable,
                deliveries,
            })
        })
        .await?;
    Ok(web::Json(detail))
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
    fn from_view(shown: ShownDocument) -> Self {
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

/// The documents of a treatment, by block; with `Accept: text/csv` or `format=csv`, every
/// document of the block as CSV.
#[utoipa::path(
    operation_id = "listTreatmentDocuments",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id"), DocumentQuery),
    responses(
        (status = 200, description = "One page of documents, or all of them as CSV", content(
            (Page<TreatmentDocument> = "application/json"),
            (String = "text/csv", example = json!("\u{feff}Numéro étudiant;Nom;Prénom;INE;Pages;Signalements;Identité à vérifier;Statut du coffre;Statut de l'envoi;Motif;Déposé le;Retour le\r\n21900001;LEFÈVRE;Zoé;;1 2;;non;Validé;Transmis;;2025-09-01T08:00:00Z;2025-09-01T09:00:00Z\r\n"))
        )),
        (status = 404, description = "No such treatment within the caller's scope")
    )
)]
#[get("/treatments/{id}/documents")]
async fn documents(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<DocumentQuery>,
) -> Result<Either<web::Json<Page<TreatmentDocument>>, HttpResponse>, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsRead)?;
    let block = match query.block.unwrap_or_default() {
        BlockParam::All => Block::All,
        BlockParam::WithVault => Block::WithVault,
        BlockParam::WithoutVault => Block::WithoutVault,
        BlockParam::OutsideComposante => Block::OutsideComposante,
    };
    let year = state.config.current_academic_year();
    let csv = export::wants_csv(&req, query.format);
    let window = if csv {
        None
    } else {
        Some(Window::new(query.page, query.per_page)?)
    };
    let t = load_treatment(&state, scope.clone(), id.into_inner()).await?;
    let Some(window) = window else {
        // The same view as the JSON list: outside the uploader's composantes, only what the
        // pages show.
        return Ok(Either::Right(export::stream(
            &state.db,
            "documents.csv",
            TreatmentDocument::CSV_COLUMNS,
            move |conn, window| {
                Ok(delivery::documents_page(conn, &scope, &t, block, window, year)?.0)
            },
            |view| TreatmentDocument::from_view(view).csv_cells(),
        )));
    };
    let (rows, total) = state
        .db
        .run(move |conn| delivery::documents_page(conn, &scope, &t, block, window, year))
        .await?;
    Ok(Either::Left(web::Json(window.wrap(
        rows.into_iter().map(TreatmentDocument::from_view).collect(),
        total,
    ))))
}

#[utoipa::path(
    operation_id = "downloadTreatmentDocumentPdf",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id"), ("doc" = String, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "No such document within the caller's scope, or its file was deleted by retention"),
    )
)]
#[get("/treatments/{id}/documents/{doc}/pdf")]
async fn document_pdf(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsRead)?;
    let (id, doc) = path.into_inner();
    let t = load_treatment(&state, scope, id).await?;
    let d = state
        .db
        .run(move |conn| {
            repo::document(conn, &t.id, &doc)?.ok_or_else(|| ApiError::not_found("document"))
        })
        .await?;
    if d.file_deleted_at.is_some() {
        return Err(ApiError::not_found("document file (deleted by retention)"));
    }
    let store = state.store.clone();
    let sha = d.sha256.clone();
    let bytes = web::block(move || store.get(&sha)).await??;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"{}.pdf\"", d.id),
        ))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(bytes))
}

/// A manager confirms that a flagged document (name mismatch, two numbers on a page) is the
/// student's: it becomes deliverable.
#[utoipa::path(
    operation_id = "confirmTreatmentDocumentIdentity",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id"), ("doc" = String, Path, description = "Document id")),
    responses(
        (status = 200, body = TreatmentDocument),
        (status = 404, description = "No such document within the caller's scope"),
        (status = 409, description = "Nothing to confirm, or the treatment was already sent or cancelled"),
    )
)]
#[post("/treatments/{id}/documents/{doc}/confirm-identity")]
async fn confirm_identity(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<TreatmentDocument>, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsAct)?;
    let (id, doc) = path.into_inner();
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let year = state.config.current_academic_year();
    let view = state
        .db
        .write(move |conn| {
            let t =
                repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("treatment"))?;
            let d = repo::document(conn, &t.id, &doc)?
                .ok_or_else(|| ApiError::not_found("document"))?;
            if t.status() != TreatmentStatus::Split {
                return Err(ApiError::new(
                    ErrorCode::InvalidTransition,
                    Text::fixed(
                        "le traitement n'est pas en attente d'envoi",
                        "the treatment is not waiting to be sent",
                    ),
                )
                .with("current_status", t.status().as_str()));
            }
            if !d.needs_identity_check() {
                return Err(ApiError::new(
                    ErrorCode::InvalidTransition,
                    Text::fixed(
                        "ce document n'a pas d'identité à confirmer",
                        "this document has no identity to confirm",
                    ),
                ));
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
            delivery::document(conn, &scope, &t, &d.id, year)
        })
        .await?;
    Ok(web::Json(TreatmentDocument::from_view(view)))
}

#[derive(Debug, Deserialize, validator::Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UncertainDecision {
    /// `received`: the document is in the student's vault (→ `transmitted`); `deposit_again`:
    /// it is not (→ `queued`, deposited once more).
    pub resolution: crate::domain::delivery::UncertainResolution,
}

/// "À vérifier": a manager settles a deposit whose answer was lost (`uncertain`), after
/// checking the student's vault. Digiposte publishes no listing passerelle could look in, so
/// it never deposits such a document again by itself.
#[utoipa::path(
    operation_id = "resolveUncertainTreatmentDocument",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id"), ("doc" = String, Path, description = "Document id")),
    request_body = UncertainDecision,
    responses(
        (status = 200, body = TreatmentDocument),
        (status = 404, description = "No such document within the caller's scope"),
        (status = 409, description = "The document is not uncertain (`invalid_transition`)"),
    )
)]
#[post("/treatments/{id}/documents/{doc}/uncertain")]
async fn resolve_uncertain(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: super::extract::ValidJson<UncertainDecision>,
) -> Result<web::Json<TreatmentDocument>, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsAct)?;
    let (id, doc) = path.into_inner();
    let resolution = body.0.resolution;
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let year = state.config.current_academic_year();
    let view = state
        .db
        .write(move |conn| {
            let t =
                repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("treatment"))?;
            let d = repo::document(conn, &t.id, &doc)?
                .ok_or_else(|| ApiError::not_found("document"))?;
            if !crate::db::deliveries::resolve_uncertain(conn, &d.id, resolution, &actor)? {
                return Err(ApiError::new(
                    ErrorCode::InvalidTransition,
                    Text::fixed(
                        "ce document n'attend pas de vérification (incertain)",
                        "this document is not waiting for a check (uncertain)",
                    ),
                )
                .with(
                    "current_status",
                    d.delivery_status.as_deref().unwrap_or("unsent"),
                ));
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
            delivery::document(conn, &scope, &t, &d.id, year)
        })
        .await?;
    Ok(web::Json(TreatmentDocument::from_view(view)))
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
    fn of(o: delivery::SendOutcome, kinds: &DocumentKinds) -> Self {
        SendSummary {
            treatment: Treatment::of(o.treatment, kinds),
            queued: o.queued,
            held: o.held,
            newly_sent: o.newly_sent,
        }
    }
}

/// "Envoyer dans les coffres": queues every deliverable document for Digiposte (students
/// validly enrolled this year in the uploader's composantes, identity checked, consent
/// given, content not delivered before, active vault); the others stay held with their
/// reason, and the blocks are frozen. Requires the confirmation of the number of documents
/// the manager was shown. Sending again queues nothing new.
#[utoipa::path(
    operation_id = "sendTreatment",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id")),
    request_body = SendConfirmation,
    responses(
        (status = 202, body = SendSummary),
        (status = 404, description = "No such treatment within the caller's scope"),
        (status = 409, description = "The confirmed number no longer matches (`confirmation_mismatch`), or the treatment is not split"),
    )
)]
#[post("/treatments/{id}/send")]
async fn send(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: super::extract::ValidJson<SendConfirmation>,
) -> Result<HttpResponse, ApiError> {
    treatment_send(
        state,
        principal,
        id.into_inner(),
        body.0.expected_documents,
        delivery::send_treatment,
    )
    .await
}

/// Sends every held or failed document of a sent treatment that has become deliverable
/// since (vault now active, consent restored, transmission error, released, replacement
/// confirmed), with the same confirmation as the bulk send: `expected_documents` is the
/// treatment's `deliverable`. Same exactly-once path as the bulk send.
#[utoipa::path(
    operation_id = "sendTreatmentHeldDocuments",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id")),
    request_body = SendConfirmation,
    responses(
        (status = 202, body = SendSummary),
        (status = 404, description = "No such treatment within the caller's scope"),
        (status = 409, description = "The confirmed number no longer matches (`confirmation_mismatch`), or the treatment was not sent yet (`invalid_transition`)"),
    )
)]
#[post("/treatments/{id}/send-held")]
async fn send_held(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: super::extract::ValidJson<SendConfirmation>,
) -> Result<HttpResponse, ApiError> {
    treatment_send(
        state,
        principal,
        id.into_inner(),
        body.0.expected_documents,
        delivery::send_held,
    )
    .await
}

/// The treatment sends (bulk and held documents): a service call in one write transaction,
/// with the count the manager confirmed.
async fn treatment_send(
    state: web::Data<AppState>,
    principal: Principal,
    id: String,
    expected: i64,
    service: fn(
        &mut crate::db::DbConnection,
        &delivery::Actor,
        &str,
        i64,
    ) -> Result<delivery::SendOutcome, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsAct)?;
    let (name, key, year) = (
        principal.actor(),
        state.audit_key.clone(),
        state.config.current_academic_year(),
    );
    let outcome = state
        .db
        .write(move |conn| {
            let actor = delivery::Actor {
                scope: &scope,
                name: &name,
                audit_key: key.expose().as_bytes(),
                year,
            };
            service(conn, &actor, &id, expected)
        })
        .await?;
    let kinds = state.config.document_kinds();
    Ok(HttpResponse::Accepted().json(SendSummary::of(outcome, &kinds)))
}

/// The per-document actions: a service call in one write transaction, answered with the
/// document as the caller may see it.
async fn document_action(
    state: web::Data<AppState>,
    principal: Principal,
    permission: Permission,
    path: (String, String),
    action: fn(
        &mut crate::db::DbConnection,
        &delivery::Actor,
        &str,
        &str,
    ) -> Result<String, ApiError>,
) -> Result<TreatmentDocument, ApiError> {
    let scope = principal.authorize(permission)?;
    let (id, doc) = path;
    let (name, key, year) = (
        principal.actor(),
        state.audit_key.clone(),
        state.config.current_academic_year(),
    );
    let shown = state
        .db
        .write(move |conn| {
            let actor = delivery::Actor {
                scope: &scope,
                name: &name,
                audit_key: key.expose().as_bytes(),
                year,
            };
            let doc = action(conn, &actor, &id, &doc)?;
            let t = repo::find(conn, &id)?;
            delivery::document(conn, &scope, &t, &doc, year)
        })
        .await?;
    Ok(TreatmentDocument::from_view(shown))
}

/// Sends one held or failed document of a sent treatment that has become deliverable
/// (vault now active, consent restored, transmission error, released, replacement
/// confirmed), through the same exactly-once delivery path as the bulk send. Audited.
#[utoipa::path(
    operation_id = "sendTreatmentDocument",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id"), ("doc" = String, Path, description = "Document id")),
    responses(
        (status = 202, body = TreatmentDocument, description = "Queued for Digiposte"),
        (status = 404, description = "No such document within the caller's scope"),
        (status = 409, description = "Still held (`document_held`, with `reason` and `earlier_document_id`), or not held nor failed, or the treatment was not sent yet (`invalid_transition`)"),
    )
)]
#[post("/treatments/{id}/documents/{doc}/send")]
async fn send_document(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let doc = document_action(
        state,
        principal,
        Permission::TreatmentsAct,
        path.into_inner(),
        delivery::send_document,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(doc))
}

/// An administrator releases a document held `outside_composante` (the student has no valid
/// enrolment this year in the uploader's composantes): it may then be sent. Audited.
#[utoipa::path(
    operation_id = "releaseTreatmentDocument",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id"), ("doc" = String, Path, description = "Document id")),
    responses(
        (status = 200, body = TreatmentDocument),
        (status = 403, description = "Only an administrator may release"),
        (status = 404, description = "No such document"),
        (status = 409, description = "The document is not held outside the composante (`invalid_transition`)"),
    )
)]
#[post("/treatments/{id}/documents/{doc}/release")]
async fn release_document(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<TreatmentDocument>, ApiError> {
    document_action(
        state,
        principal,
        Permission::TreatmentsRelease,
        path.into_inner(),
        delivery::release,
    )
    .await
    .map(web::Json)
}

/// A manager confirms that a corrected document (same student, kind and year as one already
/// delivered, another content) is to replace it: it is no longer held `replaces_delivered`.
/// Audited (who, and the earlier document).
#[utoipa::path(
    operation_id = "confirmTreatmentDocumentReplacement",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id"), ("doc" = String, Path, description = "Document id")),
    responses(
        (status = 200, body = TreatmentDocument),
        (status = 404, description = "No such document within the caller's scope"),
        (status = 409, description = "The document replaces no delivered one (`invalid_transition`)"),
    )
)]
#[post("/treatments/{id}/documents/{doc}/confirm-replacement")]
async fn confirm_replacement(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<web::Json<TreatmentDocument>, ApiError> {
    document_action(
        state,
        principal,
        Permission::TreatmentsAct,
        path.into_inner(),
        delivery::confirm_replacement,
    )
    .await
    .map(web::Json)
}

/// Cancels a split treatment ("Annuler le traitement"): nothing will be sent, and its
/// documents are deleted. Only while the file is split and not sent.
#[utoipa::path(
    operation_id = "cancelTreatment",
    tag = "treatments",
    params(("id" = String, Path, description = "Treatment id")),
    responses(
        (status = 200, body = Treatment),
        (status = 404, description = "No such treatment within the caller's scope"),
        (status = 409, description = "Only a split treatment can be cancelled"),
    )
)]
#[post("/treatments/{id}/cancel")]
async fn cancel(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<Treatment>, ApiError> {
    let scope = principal.authorize(Permission::TreatmentsAct)?;
    let id = id.into_inner();
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let (row, blobs) = state
        .db
        .write(move |conn| {
            let t =
                repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("treatment"))?;
            if !repo::change_status(
                conn,
                &t.id,
                TreatmentStatus::Split,
                TreatmentStatus::Cancelled,
                &actor,
            )? {
                return Err(ApiError::new(ErrorCode::InvalidTransition, {
                    let (label, status) = (t.status().label(), t.status().as_str());
                    crate::text!(
                        "un traitement « {label} » ne peut pas être annulé",
                        "a treatment in status `{status}` cannot be cancelled"
                    )
                })
                .with("current_status", t.status().as_str())
                .with("current_status_label", t.status().label()));
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
    crate::storage::delete_off_thread(&state.store, blobs).await?;
    Ok(web::Json(Treatment::of(
        row,
        &state.config.document_kinds(),
    )))
}

impl Treatment {
    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Libellé",
        "Type de document",
        "Composante",
        "Année universitaire",
        "Session",
        "Statut",
        "Fichier",
        "Pages",
        "Documents",
        "Envoyés",
        "Transmis",
        "Erreurs",
        "Retenus",
        "Retours en retard",
        "Déposé par",
        "Déposé le",
        "Envoyé le",
    ];

    fn csv_cells(self) -> Vec<String> {
        use crate::domain::csv::{date, opt};
        let counts = self.counts.unwrap_or_default();
        vec![
            self.label,
            self.document_type_label.0.fr.to_string(),
            self.composante,
            self.academic_year.to_string(),
            opt(self.session),
            self.status_label.to_owned(),
            self.file_name,
            opt(self.pages_total),
            counts.documents.to_string(),
            counts.sent.to_string(),
            counts.transmitted.to_string(),
            counts.errors.to_string(),
            counts.held.to_string(),
            self.overdue_receipts.to_string(),
            self.created_by,
            date(self.created_at),
            opt(self.sent_at.map(date)),
        ]
    }
}

impl TreatmentDocument {
    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Numéro étudiant",
        "Nom",
        "Prénom",
        "INE",
        "Pages",
        "Signalements",
        "Identité à vérifier",
        "Statut du coffre",
        "Statut de l'envoi",
        "Motif",
        "Déposé le",
        "Retour le",
    ];

    fn csv_cells(self) -> Vec<String> {
        use crate::domain::csv::{date, opt, yes_no};
        let pages: Vec<String> = self.pages.iter().map(u32::to_string).collect();
        vec![
            self.cod_etu,
            opt(self.last_name),
            opt(self.first_name),
            opt(self.ine),
            pages.join(" "),
            self.flags.join(" "),
            yes_no(self.needs_identity_check),
            opt(self.vault_status.map(|v| v.label())),
            opt(self.delivery_status_label),
            opt(self.delivery_reason),
            opt(self.deposited_at.map(date)),
            opt(self.receipt_at.map(date)),
        ]
    }
}

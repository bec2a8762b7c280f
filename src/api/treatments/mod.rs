//! `/uploads` and `/treatments`: deposit an Apogée batch, follow its split, look at the three
//! blocks (students, with a vault, without), preview a document, confirm an identity, cancel.
//! The use cases are in [`crate::services::treatments`]; the shapes in [`dto`].

mod csv;
mod dto;
mod errors;
mod form;

use actix_web::http::header;
use actix_web::{Either, HttpRequest, HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub use self::dto::*;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::pagination::{Page, Window};
use crate::services::export;
use crate::services::treatments::{self as service, DocumentAction, Sending, TreatmentFilter};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(upload_batch)
        .service(list)
        .service(show)
        .service(documents)
        .service(document_pdf)
        .service(confirm_identity)
        .service(resolve_uncertain)
        .service(send)
        .service(send_held)
        .service(send_document)
        .service(release_document)
        .service(confirm_replacement)
        .service(cancel);
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
    let caller = super::caller(&principal, Permission::UploadsWrite)?;
    let (fields, file) = form::receive(&state, &req, payload).await?;
    let kinds = state.config.document_kinds();
    let split = state.config.split.for_kind(&kinds, &fields.document_type);
    let batch = service::NewBatch {
        document_type: fields.document_type,
        academic_year: fields.academic_year,
        composante: fields.composante,
        label: fields.label,
        session: fields.session,
        replace_of: fields.replace_of,
        file_name: fields.file_name,
        file_sha256: file.sha256.clone(),
        file_size: file.size,
        file_path: &file.temp,
        bytes: file.read().await?,
        split,
        author_name: principal.name.clone(),
    };
    let row = service::upload(&state.context(), &caller, batch).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/treatments/{}", row.id)))
        .json(Treatment::of(row, &kinds)))
}

/// Documents deposited before this instant and still awaiting their receipt are overdue.
fn receipts_due_before(state: &AppState) -> chrono::NaiveDateTime {
    service::overdue_before(state.config.digiposte.receipt_timeout_secs)
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
        statuses: form::parse_statuses(query.status.as_deref())?,
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
            move |conn, window| Ok(service::page(conn, &scope, &filter, window, overdue_before)?.0),
            move |l| Treatment::listed(l, &kinds).csv_cells(),
        )));
    }
    let window = Window::new(query.page, query.per_page)?;
    let (items, total) = state
        .db
        .run(move |conn| service::page(conn, &scope, &filter, window, overdue_before))
        .await?;
    let items = items
        .into_iter()
        .map(|l| Treatment::listed(l, &kinds))
        .collect();
    Ok(Either::Left(web::Json(window.wrap(items, total))))
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
    let overdue_before = receipts_due_before(&state);
    let detail = service::detail(&state.context(), scope, id.into_inner(), overdue_before).await?;
    Ok(web::Json(TreatmentDetail::of(
        detail,
        &state.config.document_kinds(),
    )))
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
    let block = query.block.unwrap_or_default().into();
    let ctx = state.context();
    let year = ctx.year;
    let csv = export::wants_csv(&req, query.format);
    let window = if csv {
        None
    } else {
        Some(Window::new(query.page, query.per_page)?)
    };
    let t = service::find(&ctx, scope.clone(), id.into_inner()).await?;
    let Some(window) = window else {
        // The same view as the JSON list: outside the uploader's composantes, only what the
        // pages show.
        return Ok(Either::Right(export::stream(
            &state.db,
            "documents.csv",
            TreatmentDocument::CSV_COLUMNS,
            move |conn, window| {
                Ok(service::documents_page(conn, &scope, &t, block, window, year)?.0)
            },
            |view| TreatmentDocument::from_view(view).csv_cells(),
        )));
    };
    let (rows, total) = state
        .db
        .run(move |conn| {
            Ok(service::documents_page(
                conn, &scope, &t, block, window, year,
            )?)
        })
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
    let (doc, bytes) = service::document_pdf(&state.context(), scope, id, doc).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"{doc}.pdf\""),
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
    let caller = super::caller(&principal, Permission::TreatmentsAct)?;
    let (id, doc) = path.into_inner();
    let shown = service::confirm_identity(&state.context(), &caller, id, doc).await?;
    Ok(web::Json(TreatmentDocument::from_view(shown)))
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
    body: crate::api::extract::ValidJson<UncertainDecision>,
) -> Result<web::Json<TreatmentDocument>, ApiError> {
    let caller = super::caller(&principal, Permission::TreatmentsAct)?;
    let (id, doc) = path.into_inner();
    let resolution = body.0.resolution;
    let shown = service::resolve_uncertain(&state.context(), &caller, id, doc, resolution).await?;
    Ok(web::Json(TreatmentDocument::from_view(shown)))
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
    body: crate::api::extract::ValidJson<SendConfirmation>,
) -> Result<HttpResponse, ApiError> {
    treatment_send(
        state,
        principal,
        Sending::Treatment,
        id.into_inner(),
        body.0,
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
    body: crate::api::extract::ValidJson<SendConfirmation>,
) -> Result<HttpResponse, ApiError> {
    treatment_send(state, principal, Sending::Held, id.into_inner(), body.0).await
}

/// The treatment sends (bulk and held documents), with the count the manager confirmed.
async fn treatment_send(
    state: web::Data<AppState>,
    principal: Principal,
    which: Sending,
    id: String,
    body: SendConfirmation,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&principal, Permission::TreatmentsAct)?;
    let expected = body.expected_documents;
    let outcome = service::send(&state.context(), &caller, which, id, expected).await?;
    let kinds = state.config.document_kinds();
    Ok(HttpResponse::Accepted().json(SendSummary::of(outcome, &kinds)))
}

/// The per-document actions, answered with the document as the caller may see it.
async fn document_action(
    state: web::Data<AppState>,
    principal: Principal,
    action: DocumentAction,
    (id, doc): (String, String),
) -> Result<TreatmentDocument, ApiError> {
    let permission = match action {
        DocumentAction::Release => Permission::TreatmentsRelease,
        DocumentAction::Send | DocumentAction::ConfirmReplacement => Permission::TreatmentsAct,
    };
    let caller = super::caller(&principal, permission)?;
    let shown = service::document_action(&state.context(), &caller, action, id, doc).await?;
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
    let doc = document_action(state, principal, DocumentAction::Send, path.into_inner()).await?;
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
    document_action(state, principal, DocumentAction::Release, path.into_inner())
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
    let action = DocumentAction::ConfirmReplacement;
    document_action(state, principal, action, path.into_inner())
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
    let caller = super::caller(&principal, Permission::TreatmentsAct)?;
    let row = service::cancel(&state.context(), &caller, id.into_inner()).await?;
    Ok(web::Json(Treatment::of(
        row,
        &state.config.document_kinds(),
    )))
}

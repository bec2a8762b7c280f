//! `/supporting-documents` and `/me/supporting-documents`: the pièces justificatives of
//! enrolment. An admin defines the kinds each étape requires in a year; a student deposits
//! each one; a manager of the student's composante accepts it or rejects it with a reason the
//! student sees; the student deposits again after a rejection (history kept). The follow-up
//! ("suivi") shows completeness per student and per étape.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::extract::ValidJson;
use super::upload::{self, check_type, safe_file_name};
use crate::auth::{DataScope, Permission, Principal};
use crate::db::students;
use crate::db::supporting_documents as repo;
use crate::domain::supporting::SupportingStatus;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Text;
use crate::services::supporting_documents::{
    self as service, EnrolmentDocuments, EtapeFollowUp, KindSpec, PaperPiece, RequiredKind,
    Submission,
};
use crate::state::AppState;

mod list;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(put_requirements)
        .service(get_requirements)
        .service(my_deposit)
        .service(my_documents)
        .service(list::list)
        .service(follow_up)
        .service(student_follow_up)
        .service(record_paper)
        .service(accept)
        .service(reject)
        .service(download);
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequirementsBody {
    /// Default: the current academic year.
    pub academic_year: Option<i32>,
    /// COD_ETP.
    #[validate(length(min = 1, max = 32))]
    pub etape: String,
    /// The complete list (replaces the previous one; empty: nothing required).
    #[validate(length(max = 50), nested)]
    pub kinds: Vec<KindSpec>,
}

/// Sets the supporting documents an étape requires in a year (admins).
#[utoipa::path(
    operation_id = "updateSupportingDocumentsRequirements",
    tag = "supporting_documents",
    request_body = RequirementsBody,
    responses((status = 200, body = Vec<RequiredKind>), (status = 422, description = "Invalid kinds or labels"))
)]
#[put("/supporting-documents/requirements")]
async fn put_requirements(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<RequirementsBody>,
) -> Result<web::Json<Vec<RequiredKind>>, ApiError> {
    principal.authorize(Permission::SupportingDocumentsConfigure)?;
    let body = body.0;
    let year = body
        .academic_year
        .unwrap_or_else(|| state.config.current_academic_year());
    let etape = body.etape.trim().to_owned();
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let rows = state
        .db
        .write(move |conn| {
            service::set_requirements(
                conn,
                key.expose().as_bytes(),
                &actor,
                year,
                &etape,
                &body.kinds,
            )
        })
        .await?;
    Ok(web::Json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequirementsQuery {
    pub etape: Option<String>,
    /// Default: the current academic year.
    pub year: Option<i32>,
}

/// The supporting documents required per étape in a year.
#[utoipa::path(
    operation_id = "getSupportingDocumentsRequirements",
    tag = "supporting_documents",
    params(RequirementsQuery),
    responses((status = 200, body = Vec<RequiredKind>))
)]
#[get("/supporting-documents/requirements")]
async fn get_requirements(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<RequirementsQuery>,
) -> Result<web::Json<Vec<RequiredKind>>, ApiError> {
    principal.authorize(Permission::SupportingDocumentsRead)?;
    let RequirementsQuery { etape, year } = query.into_inner();
    let year = year.unwrap_or_else(|| state.config.current_academic_year());
    let rows = state
        .db
        .run(move |conn| repo::kinds(conn, year, etape.as_deref()))
        .await?;
    Ok(web::Json(
        rows.into_iter().map(RequiredKind::from).collect(),
    ))
}

/// The multipart form of `POST /me/supporting-documents`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SupportingForm {
    /// The document (PDF, PNG or JPEG by default; detected on the content).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The required kind it answers, e.g. `cvec_certificate`.
    kind: String,
    /// COD_ETP, only when the kind is required by several of the student's enrolments.
    etape: Option<String>,
}

/// A student deposits a required supporting document (again after a rejection). 409 while
/// the current one is pending or accepted.
#[utoipa::path(
    operation_id = "createMySupportingDocument",
    tag = "supporting_documents",
    request_body(content = SupportingForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Submission),
        (status = 403, description = "Only students deposit their own documents"),
        (status = 404, description = "The student is not known to passerelle"),
        (status = 409, description = "The current document is pending or accepted (`invalid_transition`)"),
        (status = 413, description = "The file is over the size limit"),
        (status = 415, description = "Not a multipart form"),
        (status = 422, description = "Kind not required for the student's enrolment, empty file, or a type not accepted"),
    )
)]
#[post("/me/supporting-documents")]
async fn my_deposit(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let cod_etu = principal.own_cod_etu()?.to_owned();
    if upload::media_type(&req) != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            Text::fixed(
                "envoyez le document en multipart/form-data avec les parties `file` et `kind`",
                "send the document as multipart/form-data with `file` and `kind` parts",
            ),
        ));
    }
    let config = &state.config.supporting_documents;
    let form = upload::form(&req, payload, &state.config.limits);
    let mut form = upload::receive_form(
        form,
        &state.config.data_dir.join("tmp"),
        "file",
        config.max_file_bytes,
        ErrorCode::FileTooLarge,
    )
    .await?;
    let kind = form.required("kind")?.trim().to_owned();
    let etape = form.optional("etape").map(|e| e.trim().to_owned());
    let file = form.take_file("file")?;
    let media_type = check_type(&file, &config.allowed_types).await?;
    let file_name = safe_file_name(file.file_name.as_deref(), "document");
    let year = state.config.current_academic_year();
    let upload = service::Upload {
        kind,
        etape,
        file_name,
        media_type,
        sha256: file.sha256.clone(),
        size: file.size as i64,
    };
    let submission = service::deposit(&state.context(), year, cod_etu, upload, &file.temp).await?;
    drop(file);
    Ok(HttpResponse::Created().json(submission))
}

/// The caller's supporting documents, per current enrolment: what is required, each one's
/// status (with the rejection reason) and history.
#[utoipa::path(
    operation_id = "listMySupportingDocuments",
    tag = "supporting_documents",
    responses(
        (status = 200, body = Vec<EnrolmentDocuments>),
        (status = 403, description = "Only students have supporting documents"),
    )
)]
#[get("/me/supporting-documents")]
async fn my_documents(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<EnrolmentDocuments>>, ApiError> {
    let cod_etu = principal.own_cod_etu()?.to_owned();
    let year = state.config.current_academic_year();
    let views = state
        .db
        .run(move |conn| {
            let scope = DataScope::Student(cod_etu.clone());
            service::documents(conn, &scope, year, None, Some(&cod_etu))
        })
        .await?;
    Ok(web::Json(views))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FollowUpQuery {
    /// One étape; default: every étape of the caller's composantes that requires documents.
    pub etape: Option<String>,
    /// Default: the current academic year.
    pub year: Option<i32>,
}

/// Completeness per étape ("suivi des pièces"): students, complete ones, counts per kind and
/// status, and each student's missing, pending and rejected kinds.
#[utoipa::path(
    operation_id = "getSupportingDocumentsFollowUp",
    tag = "supporting_documents",
    params(FollowUpQuery),
    responses((status = 200, body = Vec<EtapeFollowUp>))
)]
#[get("/supporting-documents/follow-up")]
async fn follow_up(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<FollowUpQuery>,
) -> Result<web::Json<Vec<EtapeFollowUp>>, ApiError> {
    let scope = principal.authorize(Permission::SupportingDocumentsRead)?;
    let FollowUpQuery { etape, year } = query.into_inner();
    let year = year.unwrap_or_else(|| state.config.current_academic_year());
    let views = state
        .db
        .run(move |conn| service::documents(conn, &scope, year, etape.as_deref(), None))
        .await?;
    Ok(web::Json(service::follow_up(year, views)))
}

/// One student's supporting documents per current enrolment (managers: students of their
/// composantes; anyone else: 404).
#[utoipa::path(
    operation_id = "getSupportingDocumentsStudent",
    tag = "supporting_documents",
    params(("cod_etu" = String, Path, description = "Student number")),
    responses(
        (status = 200, body = Vec<EnrolmentDocuments>),
        (status = 404, description = "No such student within the caller's scope"),
    )
)]
#[get("/supporting-documents/students/{cod_etu}")]
async fn student_follow_up(
    state: web::Data<AppState>,
    principal: Principal,
    cod_etu: web::Path<String>,
) -> Result<web::Json<Vec<EnrolmentDocuments>>, ApiError> {
    let scope = principal.authorize(Permission::SupportingDocumentsRead)?;
    let cod_etu = cod_etu.into_inner();
    let year = state.config.current_academic_year();
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                students::get(conn, &scope, &cod_etu)?
                    .ok_or_else(|| ApiError::not_found("student"))?;
                service::documents(conn, &scope, year, None, Some(&cod_etu))
            })
            .await?,
    ))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Why, in words the student understands (they see it), e.g. "Document illisible".
    #[validate(length(min = 1, max = 500))]
    pub reason: String,
}

async fn decide(
    state: &AppState,
    principal: &Principal,
    id: String,
    status: SupportingStatus,
    reason: Option<String>,
) -> Result<Submission, ApiError> {
    let scope = principal.authorize(Permission::SupportingDocumentsReview)?;
    let actor = principal.actor();
    let key = state.audit_key.clone();
    state
        .db
        .write(move |conn| {
            service::decide(
                conn,
                key.expose().as_bytes(),
                &scope,
                &actor,
                &id,
                status,
                reason.as_deref(),
            )
        })
        .await
}

/// Records a piece a manager received on paper for a student of their composantes (who and
/// when are kept and audited); pending, or accepted at once with `"accept": true`.
#[utoipa::path(
    operation_id = "recordSupportingDocumentPaper",
    tag = "supporting_documents",
    params(("cod_etu" = String, Path, description = "Student number")),
    request_body = PaperPiece,
    responses(
        (status = 201, body = Submission),
        (status = 404, description = "No such student within the caller's scope"),
        (status = 409, description = "The current piece is pending or accepted (`invalid_transition`)"),
        (status = 422, description = "Kind not required of the student, or a date of receipt in the future"),
    )
)]
#[post("/supporting-documents/students/{cod_etu}/paper")]
async fn record_paper(
    state: web::Data<AppState>,
    principal: Principal,
    cod_etu: web::Path<String>,
    body: ValidJson<PaperPiece>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::SupportingDocumentsReview)?;
    let (actor, name, key) = (
        principal.actor(),
        principal.name.clone(),
        state.audit_key.clone(),
    );
    let year = state.config.current_academic_year();
    let cod_etu = cod_etu.into_inner();
    let submission = state
        .db
        .write(move |conn| {
            let by = service::Recorder {
                scope: &scope,
                actor: &actor,
                name: name.as_deref(),
            };
            service::record_paper(conn, key.expose().as_bytes(), year, &by, &cod_etu, &body.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(submission))
}

/// Accepts a pending supporting document (managers of the student's composante).
#[utoipa::path(
    operation_id = "acceptSupportingDocument",
    tag = "supporting_documents",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 200, body = Submission),
        (status = 404, description = "No such deposit within the caller's scope"),
        (status = 409, description = "Not the current, pending deposit (`invalid_transition`)"),
    )
)]
#[post("/supporting-documents/{id}/accept")]
async fn accept(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<Submission>, ApiError> {
    Ok(web::Json(
        decide(
            &state,
            &principal,
            id.into_inner(),
            SupportingStatus::Accepted,
            None,
        )
        .await?,
    ))
}

/// Rejects a pending supporting document with a reason the student sees; they may deposit again.
#[utoipa::path(
    operation_id = "rejectSupportingDocument",
    tag = "supporting_documents",
    params(("id" = String, Path, description = "Deposit id")),
    request_body = Rejection,
    responses(
        (status = 200, body = Submission),
        (status = 404, description = "No such deposit within the caller's scope"),
        (status = 409, description = "Not the current, pending deposit (`invalid_transition`)"),
    )
)]
#[post("/supporting-documents/{id}/reject")]
async fn reject(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: ValidJson<Rejection>,
) -> Result<web::Json<Submission>, ApiError> {
    let reason = body.0.reason.trim().to_owned();
    Ok(web::Json(
        decide(
            &state,
            &principal,
            id.into_inner(),
            SupportingStatus::Rejected,
            Some(reason),
        )
        .await?,
    ))
}

/// The deposited file, for the manager who checks it.
#[utoipa::path(
    operation_id = "downloadSupportingDocumentFile",
    tag = "supporting_documents",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 200, description = "The file, with its detected media type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such deposit within the caller's scope"),
    )
)]
#[get("/supporting-documents/{id}/file")]
async fn download(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::SupportingDocumentsRead)?;
    let id = id.into_inner();
    let s = state
        .db
        .run(move |conn| {
            repo::get(conn, &scope, &id)?
                .filter(|s| !s.sha256.is_empty())
                .ok_or_else(|| ApiError::not_found("supporting document file"))
        })
        .await?;
    let store = state.store.clone();
    let sha = s.sha256.clone();
    let bytes = web::block(move || store.get(&sha)).await??;
    Ok(HttpResponse::Ok()
        .content_type(s.media_type.as_str())
        .insert_header((
            "Content-Disposition",
            upload::content_disposition("attachment", &s.file_name),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(bytes))
}

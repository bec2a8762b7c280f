//! `/students`: the registry imported from Apogée, and its reads.

use actix_web::{HttpRequest, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::upload;
use crate::apogee::enrolment_file;
use crate::auth::DataScope;
use crate::auth::{Permission, Principal};
use crate::domain::enrolment::ImportReport;
use crate::error::{ApiError, ErrorCode};
use crate::pagination::{Page, Window};
use crate::services::personal_data::{ErasureReport, PersonalData};
use crate::services::students::{
    self as service, EnrolmentRow, Extraction, StudentError, StudentFilter, StudentRow,
};
use crate::state::AppState;
use crate::text;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(import)
        .service(list)
        .service(show)
        .service(personal_data)
        .service(erase);
}

impl From<StudentError> for ApiError {
    fn from(e: StudentError) -> Self {
        match e {
            StudentError::NotFound => ApiError::not_found("student"),
            StudentError::Lower(e) => e,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolment {
    /// 2025 means 2025-2026.
    pub academic_year: i32,
    /// Étape (COD_ETP).
    pub etape: String,
    /// Composante (COD_CMP).
    pub composante: String,
    /// ETA_IAE: E (valid), A (cancelled), R (withdrawn).
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Student {
    /// Student number (COD_ETU).
    pub cod_etu: String,
    /// National student identifier (11 characters).
    pub ine: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StudentRow> for Student {
    fn from(s: StudentRow) -> Self {
        Student {
            cod_etu: s.cod_etu,
            ine: s.ine,
            last_name: s.last_name,
            first_name: s.first_name,
            birth_date: s.birth_date,
            email: s.email,
            created_at: s.created_at.and_utc(),
            updated_at: s.updated_at.and_utc(),
        }
    }
}

impl From<EnrolmentRow> for Enrolment {
    fn from(e: EnrolmentRow) -> Self {
        Enrolment {
            academic_year: e.academic_year,
            etape: e.etape,
            composante: e.composante,
            state: e.state,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentDetail {
    #[serde(flatten)]
    pub student: Student,
    pub enrolments: Vec<Enrolment>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StudentQuery {
    /// Student number prefix, or part of a name (case- and accent-insensitive).
    pub q: Option<String>,
    /// Students enrolled in this composante.
    pub composante: Option<String>,
    /// Students enrolled in this academic year.
    pub year: Option<i32>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
}

/// Students within the caller's scope (a manager: those enrolled in their composantes).
#[utoipa::path(operation_id = "listStudents", tag = "students", params(StudentQuery), responses((status = 200, body = Page<Student>)))]
#[get("/students")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StudentQuery>,
) -> Result<web::Json<Page<Student>>, ApiError> {
    let scope = principal.authorize(Permission::StudentsRead)?;
    let window = Window::new(query.page, query.per_page)?;
    let filter = StudentFilter {
        q: query.q.clone(),
        composante: query.composante.clone(),
        year: query.year,
    };
    let (rows, total) = service::page(&state.context(), scope, filter, window).await?;
    Ok(web::Json(window.wrap(
        rows.into_iter().map(Student::from).collect(),
        total,
    )))
}

/// One student and their enrolments (404 outside the caller's scope).
#[utoipa::path(
    operation_id = "getStudent",
    tag = "students",
    params(("cod_etu" = String, Path, description = "Student number (COD_ETU)")),
    responses((status = 200, body = StudentDetail), (status = 404, description = "No such student within the caller's scope"))
)]
#[get("/students/{cod_etu}")]
async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    cod_etu: web::Path<String>,
) -> Result<web::Json<StudentDetail>, ApiError> {
    let scope = principal.authorize(Permission::StudentsRead)?;
    let (student, enrolments) =
        service::detail(&state.context(), scope, cod_etu.into_inner()).await?;
    let detail = StudentDetail {
        student: student.into(),
        enrolments: enrolments.into_iter().map(Enrolment::from).collect(),
    };
    Ok(web::Json(detail))
}

/// Everything passerelle holds on one student, as one JSON document (admin; students use
/// `/me/personal-data`).
#[utoipa::path(
    operation_id = "getStudentPersonalData",
    tag = "students",
    params(("cod_etu" = String, Path, description = "Student number (COD_ETU)")),
    responses((status = 200, body = PersonalData), (status = 403, description = "Administrators only"), (status = 404, description = "No such student"))
)]
#[get("/students/{cod_etu}/personal-data")]
async fn personal_data(
    state: web::Data<AppState>,
    principal: Principal,
    cod_etu: web::Path<String>,
) -> Result<web::Json<PersonalData>, ApiError> {
    let scope = principal.authorize(Permission::PersonalDataRead)?;
    Ok(web::Json(
        export_for(&state, scope, cod_etu.into_inner()).await?,
    ))
}

/// The personal data export, shared with `GET /me/personal-data`.
pub async fn export_for(
    state: &AppState,
    scope: DataScope,
    cod_etu: String,
) -> Result<PersonalData, ApiError> {
    Ok(service::personal_data(&state.context(), scope, cod_etu).await?)
}

/// Erases (anonymises) a student: identity replaced by a pseudonym, stored PDFs deleted;
/// counts and the audit chain remain (admin). The vault must not be live at Digiposte.
#[utoipa::path(
    operation_id = "eraseStudent",
    tag = "students",
    params(("cod_etu" = String, Path, description = "Student number (COD_ETU)")),
    responses(
        (status = 200, body = ErasureReport),
        (status = 403, description = "Administrators only"),
        (status = 404, description = "No such student"),
        (status = 409, description = "The vault is still live at Digiposte, or the student was already erased"),
    )
)]
#[post("/students/{cod_etu}/erase")]
async fn erase(
    state: web::Data<AppState>,
    principal: Principal,
    cod_etu: web::Path<String>,
) -> Result<web::Json<ErasureReport>, ApiError> {
    principal.authorize(Permission::StudentsErase)?;
    let (ctx, actor) = (state.context(), principal.actor());
    Ok(web::Json(
        service::erase(&ctx, &actor, cod_etu.into_inner()).await?,
    ))
}

/// Imports enrolments from an Apogée extraction: a CSV body (`text/csv`, `;` or TAB separated,
/// UTF-8 or ISO-8859-1, header names such as `COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;…`; see the
/// README for the accepted names), the same CSV as the `file` part of a multipart form, or a
/// JSON array of rows. Idempotent: students and enrolments are upserted. A bad row never
/// aborts the others; the report lists each rejected row with its line and reason.
#[utoipa::path(
    operation_id = "importStudents",
    tag = "students",
    request_body(
        description = "The extraction: CSV (text/csv), multipart with a `file` part, or JSON rows",
        content(
            (String = "text/csv"),
            (Vec<enrolment_file::EnrolmentInput> = "application/json"),
            (ImportForm = "multipart/form-data"),
        )
    ),
    responses(
        (status = 200, body = ImportReport, description = "What the import did, row by row"),
        (status = 400, description = "Not such a CSV or JSON at all: nothing imported"),
        (status = 403, description = "Not allowed to import"),
        (status = 413, description = "The file is too large"),
        (status = 415, description = "Unsupported media type"),
    )
)]
#[post("/students/import")]
async fn import(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<ImportReport>, ApiError> {
    let scope = principal.authorize(Permission::StudentsImport)?;
    let limit = state.config.import_limit_bytes;
    let media = upload::media_type(&req);
    let (bytes, is_json) = match media.as_str() {
        "application/json" => (upload::read_body(payload, limit).await?, true),
        "multipart/form-data" => {
            let form = upload::form(&req, payload, &state.config.limits);
            let mut form = upload::receive_form(
                form,
                &state.config.data_dir.join("tmp"),
                "file",
                limit as u64,
                ErrorCode::PayloadTooLarge,
            )
            .await?;
            (form.take_file("file")?.read().await?, false)
        }
        "text/csv"
        | "text/plain"
        | "text/tab-separated-values"
        | "application/csv"
        | "application/octet-stream"
        | "application/vnd.ms-excel" => (upload::read_body(payload, limit).await?, false),
        other => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                text!(
                    "`{other}` n'est pas accepté : envoyez text/csv, multipart/form-data ou application/json",
                    "`{other}` is not accepted: send text/csv, multipart/form-data or application/json"
                ),
            ));
        }
    };
    let caller = crate::services::context::Caller {
        scope,
        name: principal.actor(),
    };
    let file = Extraction {
        bytes: &bytes,
        is_json,
        auto_subscribe: state.config.vaults.auto_subscribe,
    };
    Ok(web::Json(
        service::import(&state.context(), &caller, file).await?,
    ))
}

/// A CSV extraction sent as a multipart form.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// The Apogée extraction (CSV).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

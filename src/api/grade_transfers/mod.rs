//! `/grade-transfers`: ScoDoc → Apogée. A manager sends the maquette Apogée exported and either
//! a grade file (ScoDoc's export zip or filled `.TXT`, a CSV/JSON of NIP × element) or the name
//! of a configured ScoDoc department to pull from; passerelle fills (or checks) the maquette,
//! keeps the three files in the document store and answers the report. The filled file is
//! then downloaded for Apogée's "Import Base / Mise à jour de l'existant".
//!
//! The use cases (and the scope rules) are in [`crate::services::grade_transfers`].

mod form;

use actix_web::{Either, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{Permission, Principal};
use crate::error::{ApiError, FieldError};
use crate::pagination::{Page, Window};
use crate::services::export::{self, ListFormat};
use crate::services::grade_transfers::{
    self as service, GradeTransferError, GradeTransferRow, ScoDocAccess, StoredReport,
    TransferFilter,
};
use crate::state::AppState;
use crate::text;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(show)
        .service(file)
        .service(diff);
}

/// A grade transfer, as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradeTransfer {
    pub id: String,
    pub composante: String,
    /// First year of the maquette's academic year (2024 for 2024/2025).
    pub academic_year: i32,
    /// The maquette's étape (VET code) and its version.
    pub etape: String,
    pub etape_version: String,
    /// `filled_by_passerelle` (from grades) or `filled_by_scodoc` (ScoDoc's own export,
    /// checked and returned unchanged).
    pub mode: String,
    /// `filled_maquette`, `csv`, `json` or `scodoc_api`.
    pub source_kind: String,
    pub scodoc_department: Option<String>,
    pub maquette_file_name: String,
    pub maquette_sha256: String,
    pub source_file_name: Option<String>,
    pub source_sha256: Option<String>,
    /// The name Apogée expects (`apoC_Fichier_Exp`), used by `GET …/file`.
    pub file_name: String,
    pub file_sha256: String,
    pub file_size: i64,
    /// Student rows in the maquette.
    pub students: i32,
    /// Rows and cells the transfer changed.
    pub students_changed: i32,
    pub cells_changed: i32,
    /// Problems of the check that call for a decision before import (0: clean).
    pub problems: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<&GradeTransferRow> for GradeTransfer {
    fn from(r: &GradeTransferRow) -> Self {
        GradeTransfer {
            id: r.id.clone(),
            composante: r.composante.clone(),
            academic_year: r.academic_year,
            etape: r.etape.clone(),
            etape_version: r.etape_version.clone(),
            mode: r.mode.clone(),
            source_kind: r.source_kind.clone(),
            scodoc_department: r.scodoc_department.clone(),
            maquette_file_name: r.maquette_file_name.clone(),
            maquette_sha256: r.maquette_sha256.clone(),
            source_file_name: r.source_file_name.clone(),
            source_sha256: r.source_sha256.clone(),
            file_name: r.output_file_name.clone(),
            file_sha256: r.output_sha256.clone(),
            file_size: r.output_size,
            students: r.students,
            students_changed: r.students_changed,
            cells_changed: r.cells_changed,
            problems: r.problems,
            created_by: r.created_by.clone(),
            created_at: r.created_at.and_utc(),
        }
    }
}

/// A transfer with its report.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradeTransferDetail {
    #[serde(flatten)]
    pub transfer: GradeTransfer,
    /// `mode`, `output_file_name`, `check` (students in the maquette and not in the source and
    /// the reverse, unknown elements, missing decisions, duplicates, year/étape mismatch,
    /// notes out of range, unmapped codes), `fill` (counts, skipped notes) and `diff` (counts
    /// and structure differences; the changes themselves are at `…/diff`).
    #[schema(value_type = Object)]
    pub report: Value,
    /// The same report as readable text, in the request's language (the cell-by-cell
    /// changes: `…/diff?format=text`).
    pub report_text: String,
}

fn detail(row: &GradeTransferRow) -> GradeTransferDetail {
    let stored = StoredReport::parse(&row.report);
    GradeTransferDetail {
        transfer: row.into(),
        report_text: stored.text_in(crate::i18n::current()).to_owned(),
        report: stored.report,
    }
}

/// The multipart form of `POST /grade-transfers`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GradeTransferForm {
    /// The maquette Apogée exported (.TXT, ISO-8859-1 or UTF-8).
    #[schema(value_type = String, format = Binary)]
    maquette: Vec<u8>,
    /// The grades: ScoDoc's export (zip or filled .TXT), or a CSV/JSON `nip, element, note,
    /// result[, jury_points]`. Either this or `scodoc_department`.
    #[schema(value_type = Option<String>, format = Binary)]
    source: Option<Vec<u8>>,
    /// Pull the grades from this configured ScoDoc department (`grades.scodoc.<name>`).
    scodoc_department: Option<String>,
    /// With `scodoc_department`: only this ScoDoc semester (`formsemestre_id`); default: every
    /// semester of the maquette's étape and year.
    scodoc_semester: Option<i64>,
    /// COD_CMP of the composante the étape belongs to (one the caller manages).
    composante: String,
    /// `true` to accept a maquette whose last row is cut short (fewer cells than declared, no
    /// final line ending): that row is left as read, not filled, and the report names it.
    /// Without it such a maquette is refused (`maquette_malformed`, `truncated: true`).
    accept_truncated_last_row: Option<bool>,
}

fn field_error(field: &str, code: &str, message: crate::i18n::Text) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: crate::i18n::Localized(message),
    }])
}

/// Fills (or checks) a maquette from a grade file or from ScoDoc and keeps the result. Answers
/// 201 with the report; the filled file is at `…/file`. A maquette or source passerelle
/// cannot read answers its problem code (`not_a_maquette`, `unsupported_encoding`,
/// `invalid_maquette` with `section` and `line`, `maquette_malformed` with `line`, `cells` and
/// `expected`, `invalid_grade_source` with `problems`…); a source of another étape or year is
/// refused (`etape_mismatch`, `year_mismatch`, with `maquette` and `source`).
#[utoipa::path(
    operation_id = "createGradeTransfer",
    tag = "grades",
    request_body(content = GradeTransferForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = GradeTransferDetail, description = "Created; the report says what was filled and what to check"),
        (status = 403, description = "Not allowed to create transfers"),
        (status = 413, description = "A file is over `grades.max_bytes` (`file_too_large`)"),
        (status = 415, description = "Not a multipart form"),
        (status = 422, description = "Invalid fields, or a maquette / source that cannot be read (its code says why, `section` and `line` where)"),
        (status = 502, description = "ScoDoc unavailable, refused the credentials, or answered something unreadable"),
    )
)]
#[post("/grade-transfers")]
async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = super::caller(&principal, Permission::GradesWrite)?;
    let new = form::receive(&state, &req, payload).await?;
    let scodoc = ScoDocAccess {
        departments: &state.config.grades.scodoc,
        clients: &state.scodoc,
    };
    let row = service::create(&state.context(), &caller, scodoc, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/grade-transfers/{}", row.id),
        ))
        .json(detail(&row)))
}

impl From<GradeTransferError> for ApiError {
    fn from(e: GradeTransferError) -> Self {
        match e {
            GradeTransferError::NotFound => ApiError::not_found("grade transfer"),
            GradeTransferError::UnknownComposante => field_error(
                "composante",
                "unknown",
                crate::i18n::Text::fixed(
                    "composante inconnue, ou que vous ne gérez pas",
                    "unknown composante, or one you do not manage",
                ),
            ),
            GradeTransferError::EtapeElsewhere { etape, year } => {
                field_error("composante", "etape_elsewhere", {
                    let next = year + 1;
                    text!(
                        "les inscriptions de {year}-{next} placent l'étape {etape} dans une autre composante",
                        "the enrolments of {year}-{next} place étape {etape} in another composante"
                    )
                })
            }
            GradeTransferError::UnknownDepartment => field_error(
                "scodoc_department",
                "unknown",
                crate::i18n::Text::fixed(
                    "aucun département ScoDoc de ce nom n'est configuré pour cette composante",
                    "no ScoDoc department of this name is configured for this composante",
                ),
            ),
            GradeTransferError::Transfer(e) => e.into(),
            GradeTransferError::Stored(e) => e.into(),
            GradeTransferError::ScoDoc(e) => e.into(),
            GradeTransferError::Storage(e) => e.into(),
            GradeTransferError::Lower(e) => e,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    pub composante: Option<String>,
    /// The étape (VET code).
    pub etape: Option<String>,
    /// First year of the academic year (2024 for 2024/2025).
    pub academic_year: Option<i32>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
    /// `csv`: the whole filtered list as CSV (as `Accept: text/csv` asks).
    #[param(inline)]
    pub format: Option<ListFormat>,
}

/// The grade transfers of the caller's composantes, newest first; with `Accept: text/csv` or
/// `format=csv`, the whole filtered list as CSV.
#[utoipa::path(
    operation_id = "listGradeTransfers",
    tag = "grades",
    params(TransferQuery),
    responses((status = 200, description = "One page of transfers, or the whole list as CSV", content(
        (Page<GradeTransfer> = "application/json"),
        (String = "text/csv", example = json!("\u{feff}Composante;Année universitaire;Étape;Version d'étape;Mode;Source;Département ScoDoc;Fichier;Étudiants;Étudiants modifiés;Cellules modifiées;Problèmes;Créé par;Créé le\r\n905;2025;L1INF;1;filled_by_passerelle;csv;;L1INF.TXT;42;40;80;0;manager:jdupont;2026-01-15T10:00:00Z\r\n"))
    )))
)]
#[get("/grade-transfers")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<TransferQuery>,
) -> Result<Either<web::Json<Page<GradeTransfer>>, HttpResponse>, ApiError> {
    let scope = principal.authorize(Permission::GradesRead)?;
    let query = query.into_inner();
    let filter = TransferFilter {
        composante: query.composante,
        etape: query.etape,
        academic_year: query.academic_year,
    };
    if export::wants_csv(&req, query.format) {
        return Ok(Either::Right(export::stream(
            &state.db,
            "transferts-de-notes.csv",
            GradeTransfer::CSV_COLUMNS,
            move |conn, window| Ok(service::page(conn, &scope, &filter, window)?.0),
            |row| GradeTransfer::from(&row).csv_cells(),
        )));
    }
    let window = Window::new(query.page, query.per_page)?;
    let (rows, total) = state
        .db
        .run(move |conn| service::page(conn, &scope, &filter, window))
        .await?;
    Ok(Either::Left(web::Json(window.wrap(
        rows.iter().map(GradeTransfer::from).collect(),
        total,
    ))))
}

impl GradeTransfer {
    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Composante",
        "Année universitaire",
        "Étape",
        "Version d'étape",
        "Mode",
        "Source",
        "Département ScoDoc",
        "Fichier",
        "Étudiants",
        "Étudiants modifiés",
        "Cellules modifiées",
        "Problèmes",
        "Créé par",
        "Créé le",
    ];

    fn csv_cells(self) -> Vec<String> {
        use crate::domain::csv::{date, opt};
        vec![
            self.composante,
            self.academic_year.to_string(),
            self.etape,
            self.etape_version,
            self.mode,
            self.source_kind,
            opt(self.scodoc_department),
            self.file_name,
            self.students.to_string(),
            self.students_changed.to_string(),
            self.cells_changed.to_string(),
            self.problems.to_string(),
            self.created_by,
            date(self.created_at),
        ]
    }
}

/// One transfer with its report (JSON and text).
#[utoipa::path(
    operation_id = "getGradeTransfer",
    tag = "grades",
    params(("id" = String, Path, description = "Transfer id")),
    responses((status = 200, body = GradeTransferDetail), (status = 404, description = "No such transfer within the caller's scope"))
)]
#[get("/grade-transfers/{id}")]
async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<GradeTransferDetail>, ApiError> {
    let scope = principal.authorize(Permission::GradesRead)?;
    let row = service::find(&state.context(), scope, id.into_inner()).await?;
    Ok(web::Json(detail(&row)))
}

/// The filled maquette to import into Apogée: ISO-8859-1, CRLF, named as `apoC_Fichier_Exp`
/// says.
#[utoipa::path(
    operation_id = "downloadGradeTransferFile",
    tag = "grades",
    params(("id" = String, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "The filled maquette", content_type = "text/plain; charset=ISO-8859-1", body = Vec<u8>),
        (status = 404, description = "No such transfer within the caller's scope"),
    )
)]
#[get("/grade-transfers/{id}/file")]
async fn file(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::GradesRead)?;
    let (row, bytes) = service::file(&state.context(), scope, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=ISO-8859-1")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", row.output_file_name),
        ))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(bytes))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiffFormat {
    #[default]
    Json,
    Text,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// `json` (default) or `text` (French, one student after the other).
    #[param(inline)]
    pub format: Option<DiffFormat>,
    /// Only these students (NIPs, comma-separated): the seed's check of a regular, a
    /// repeating and a bonus-UE student.
    pub nip: Option<String>,
}

/// The cells the transfer changed, student by student: the maquette as Apogée exported it
/// compared with the file to import (recomputed from the stored files).
#[utoipa::path(
    operation_id = "getGradeTransferDiff",
    tag = "grades",
    params(("id" = String, Path, description = "Transfer id"), DiffQuery),
    responses(
        (status = 200, description = "`changes` (nip, names, column, element, before, after), students only before/after, structure differences; or text", body = Object),
        (status = 404, description = "No such transfer within the caller's scope"),
    )
)]
#[get("/grade-transfers/{id}/diff")]
async fn diff(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    query: web::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = principal.authorize(Permission::GradesRead)?;
    let nips = query
        .nip
        .as_ref()
        .map(|n| n.split(',').map(|n| n.trim().to_owned()).collect());
    let diff = service::diff(&state.context(), scope, id.into_inner(), nips).await?;
    Ok(match query.format.unwrap_or_default() {
        DiffFormat::Json => HttpResponse::Ok().json(diff),
        DiffFormat::Text => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(diff.to_text_in(crate::i18n::current())),
    })
}

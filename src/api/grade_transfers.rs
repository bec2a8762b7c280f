//! `/grade-transfers`: ScoDoc → Apogée. A manager sends the maquette Apogée exported and either
//! a grade file (ScoDoc's export zip or filled `.TXT`, a CSV/JSON of NIP × element) or the name
//! of a configured ScoDoc department to pull from; passerelle fills (or checks) the maquette,
//! keeps the three files in the document store and answers the report. The filled file is
//! then downloaded for Apogée's "Import Base / Mise à jour de l'existant".
//!
//! Scope: a transfer belongs to the composante given in the form, which the caller must
//! manage; when passerelle's enrolments place the maquette's étape (for its year) in other
//! composantes only, the transfer is refused.

use actix_web::{Either, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::upload;
use crate::apogee::fill::FillOptions;
use crate::apogee::maquette::{Maquette, ParseOptions};
use crate::apogee::{FillReport, TransferSource};
use crate::auth::{DataScope, Permission, Principal};
use crate::db::audit::{self, AuditEvent};
use crate::db::composantes;
use crate::db::grade_transfers::{self as repo, GradeTransferRow, StoredReport, TransferFilter};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::i18n::Text;
use crate::pagination::{Page, Window};
use crate::services::export::{self, ListFormat};
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

fn field_error(field: &str, code: &str, message: Text) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: crate::i18n::Localized(message),
    }])
}

/// A file name safe for a Content-Disposition header and any file system.
fn safe_file_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if cleaned.trim_matches(['.', '_']).is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
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
    let scope = principal.authorize(Permission::GradesWrite)?;
    if upload::media_type(&req) != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            Text::fixed(
                "envoyez un formulaire multipart/form-data avec une partie `maquette` et une partie `source` (ou `scodoc_department`)",
                "send multipart/form-data with a `maquette` part and a `source` part (or `scodoc_department`)",
            ),
        ));
    }
    let form = upload::form(&req, payload, &state.config.limits);
    let (fields, mut files) = upload::receive_form_files(
        form,
        &state.config.data_dir.join("tmp"),
        &["maquette", "source"],
        state.config.grades.max_bytes,
        ErrorCode::FileTooLarge,
    )
    .await?;
    let text = |name: &str| {
        fields
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let composante = text("composante").ok_or_else(|| upload::missing("composante"))?;
    let maquette_file = files
        .remove("maquette")
        .ok_or_else(|| upload::missing("maquette"))?;
    let source_file = files.remove("source");
    let department = text("scodoc_department");
    let accept_truncated_last_row = match text("accept_truncated_last_row").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(field_error(
                "accept_truncated_last_row",
                "boolean",
                crate::i18n::Text::fixed("true ou false", "true or false"),
            ));
        }
    };
    let semester = text("scodoc_semester")
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                field_error(
                    "scodoc_semester",
                    "number",
                    crate::i18n::Text::fixed(
                        "un formsemestre_id de ScoDoc",
                        "a ScoDoc formsemestre_id",
                    ),
                )
            })
        })
        .transpose()?;
    match (&source_file, &department) {
        (Some(_), Some(_)) => {
            return Err(field_error(
                "source",
                "exclusive",
                crate::i18n::Text::fixed(
                    "envoyez soit un fichier `source`, soit un `scodoc_department`, pas les deux",
                    "send either a `source` file or a `scodoc_department`, not both",
                ),
            ));
        }
        (None, None) => {
            return Err(field_error(
                "source",
                "required",
                crate::i18n::Text::fixed(
                    "envoyez un fichier `source` ou un `scodoc_department` d'où tirer les notes",
                    "send a `source` file or a `scodoc_department` to pull from",
                ),
            ));
        }
        _ => {}
    }
    {
        let (code, scope) = (composante.clone(), scope.clone());
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

    let maquette_bytes = maquette_file.read().await?;
    // The student numbers of its rows: the students the transfer concerns (data subject's
    // rights).
    let (etape, etape_version, year, maquette_name, students) = {
        let bytes = maquette_bytes.clone();
        let options = ParseOptions {
            accept_truncated_last_row,
        };
        web::block(move || {
            Maquette::parse_with(&bytes, options).map(|m| {
                (
                    m.etape().to_owned(),
                    m.etape_version().to_owned(),
                    m.academic_year(),
                    m.file_name().map(str::to_owned),
                    m.students()
                        .iter()
                        .map(|s| s.nip().to_owned())
                        .collect::<Vec<_>>(),
                )
            })
        })
        .await?
        .map_err(|e| ApiError::from(e).with("part", "maquette"))?
    };
    // The étape belongs to one composante: when the enrolments say which, it must be this one.
    {
        let (e, c) = (etape.clone(), composante.clone());
        let placed = state
            .db
            .run(move |conn| repo::etape_composantes(conn, &e, year))
            .await?;
        if !placed.is_empty() && !placed.contains(&c) {
            return Err(field_error("composante", "etape_elsewhere", {
                let next = year + 1;
                text!(
                    "les inscriptions de {year}-{next} placent l'étape {etape} dans une autre composante",
                    "the enrolments of {year}-{next} place étape {etape} in another composante"
                )
            }));
        }
    }

    let options = FillOptions {
        accept_truncated_last_row,
        ..state.config.grades.fill.clone()
    };
    let (source_bytes, pulled, department_key) = match (&source_file, &department) {
        (Some(f), _) => (Some(f.read().await?), None, None),
        (None, Some(name)) => {
            let (key, settings) = state
                .config
                .grades
                .scodoc
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .filter(|(_, d)| d.composantes.is_empty() || d.composantes.contains(&composante))
                .ok_or_else(|| {
                    field_error(
                        "scodoc_department",
                        "unknown",
                        crate::i18n::Text::fixed("aucun département ScoDoc de ce nom n'est configuré pour cette composante", "no ScoDoc department of this name is configured for this composante"),
                    )
                })?;
            let client = state.scodoc.get(key, settings.client_config(key))?;
            let grades =
                crate::scodoc::pull_grade_source_from(&*client, year, &etape, semester).await?;
            (None, Some(grades), Some(key.clone()))
        }
        (None, None) => unreachable!("checked above"),
    };
    let (output, report, pulled_copy) = {
        let maquette = maquette_bytes.clone();
        let source = source_bytes.clone();
        web::block(move || {
            let from = match (&source, &pulled) {
                (Some(bytes), _) => TransferSource::File(bytes),
                (None, Some(grades)) => TransferSource::Grades(grades),
                (None, None) => unreachable!("one source"),
            };
            crate::apogee::transfer(&maquette, from, &options)
                .map(|(output, report)| (output, report, pulled))
        })
        .await??
    };

    // Keep the three files (content-addressed: the same maquette twice is stored once). Grades
    // pulled from ScoDoc are kept as the JSON passerelle read, to show later what ScoDoc said.
    let (kept_source, source_name) = match (source_bytes, &pulled_copy) {
        (Some(bytes), _) => (
            Some(bytes),
            source_file.as_ref().and_then(|f| f.file_name.clone()),
        ),
        (None, Some(grades)) => (
            Some(serde_json::to_vec_pretty(grades).map_err(ApiError::internal)?),
            department_key.as_ref().map(|k| format!("scodoc-{k}.json")),
        ),
        (None, None) => (None, None),
    };
    let store = state.store.clone();
    let (maquette_sha, source_sha, output_sha) = {
        let (m, s, o) = (maquette_bytes, kept_source, output.clone());
        web::block(move || -> Result<_, crate::storage::StorageError> {
            let m = store.put(&m)?;
            let s = s.map(|s| store.put(&s)).transpose()?;
            let o = store.put(&o)?;
            Ok((m, s, o))
        })
        .await??
    };
    let row = new_row(NewTransfer {
        composante,
        etape,
        etape_version,
        year,
        department: department_key,
        maquette_sha,
        maquette_name: maquette_file.file_name.clone(),
        fallback_name: maquette_name,
        source_sha,
        source_name,
        output_sha,
        output_size: output.len() as i64,
        report: &report,
        actor: principal.actor(),
    });
    let key = state.audit_key.clone();
    let inserted = row.clone();
    state
        .db
        .write(move |conn| {
            repo::insert(conn, &inserted, &students)?;
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &inserted.created_by,
                    action: "grade_transfer.create",
                    student: None,
                    object_type: "grade_transfer",
                    object_id: Some(&inserted.id),
                    details: serde_json::json!({
                        "composante": inserted.composante,
                        "etape": inserted.etape,
                        "academic_year": inserted.academic_year,
                        "mode": inserted.mode,
                        "source_kind": inserted.source_kind,
                        "scodoc_department": inserted.scodoc_department,
                        "maquette_sha256": inserted.maquette_sha256,
                        "source_sha256": inserted.source_sha256,
                        "output_sha256": inserted.output_sha256,
                        "cells_changed": inserted.cells_changed,
                        "problems": inserted.problems,
                    }),
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/grade-transfers/{}", row.id),
        ))
        .json(detail(&row)))
}

struct NewTransfer<'a> {
    composante: String,
    etape: String,
    etape_version: String,
    year: i32,
    department: Option<String>,
    maquette_sha: String,
    maquette_name: Option<String>,
    /// The maquette's own `apoC_Fichier_Exp`, when the report has no output name.
    fallback_name: Option<String>,
    source_sha: Option<String>,
    source_name: Option<String>,
    output_sha: String,
    output_size: i64,
    report: &'a FillReport,
    actor: String,
}

fn new_row(t: NewTransfer<'_>) -> GradeTransferRow {
    let report = t.report;
    let fallback = format!("{}.TXT", safe_file_name(&t.etape, "maquette"));
    let output_name = report
        .output_file_name
        .clone()
        .or(t.fallback_name)
        .map(|n| safe_file_name(&n, &fallback))
        .unwrap_or(fallback);
    // The cell-by-cell changes are not kept (a large maquette has hundreds of thousands):
    // `GET …/diff` recomputes them from the stored files.
    let mut json = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Some(counts) = json.get_mut("diff").and_then(Value::as_object_mut) {
        counts.remove("changes");
        counts.insert("cells_changed".into(), report.diff.changes.len().into());
        counts.insert(
            "students_changed".into(),
            report.diff.students_changed().into(),
        );
    }
    let stored = StoredReport {
        report: json,
        text: report.summary_text(),
        text_en: report.summary_text_in(crate::i18n::Lang::En),
    };
    GradeTransferRow {
        id: uuid::Uuid::now_v7().to_string(),
        composante: t.composante,
        academic_year: t.year,
        etape: t.etape,
        etape_version: t.etape_version,
        mode: snake_name(&report.mode),
        source_kind: snake_name(&report.check.source.kind),
        scodoc_department: t.department,
        maquette_sha256: t.maquette_sha,
        maquette_file_name: t
            .maquette_name
            .map(|n| n.chars().take(200).collect())
            .unwrap_or_else(|| "maquette.txt".into()),
        source_sha256: t.source_sha,
        source_file_name: t.source_name.map(|n| n.chars().take(200).collect()),
        output_sha256: t.output_sha,
        output_size: t.output_size,
        output_file_name: output_name,
        students: report.check.maquette.students as i32,
        students_changed: report.diff.students_changed() as i32,
        cells_changed: report.diff.changes.len() as i32,
        problems: report.check.problem_count() as i32,
        report: stored.to_column(),
        created_by: t.actor,
        created_at: crate::db::now(),
    }
}

/// A unit enum's serialised (snake_case) name.
fn snake_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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
            move |conn, window| Ok(repo::list(conn, &scope, &filter, window)?.0),
            |row| GradeTransfer::from(&row).csv_cells(),
        )));
    }
    let window = Window::new(query.page, query.per_page)?;
    let (rows, total) = state
        .db
        .run(move |conn| repo::list(conn, &scope, &filter, window))
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

async fn load(
    state: &AppState,
    scope: DataScope,
    id: String,
) -> Result<GradeTransferRow, ApiError> {
    state
        .db
        .run(move |conn| {
            repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("grade transfer"))
        })
        .await
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
    let row = load(&state, scope, id.into_inner()).await?;
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
    let row = load(&state, scope, id.into_inner()).await?;
    let store = state.store.clone();
    let sha = row.output_sha256.clone();
    let bytes = web::block(move || store.get(&sha)).await??;
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
    let row = load(&state, scope, id.into_inner()).await?;
    let store = state.store.clone();
    let diff = web::block(move || -> Result<_, ApiError> {
        // Stored files were accepted once (a cut last row only when the caller said so).
        let before = Maquette::parse_kept(&store.get(&row.maquette_sha256)?)?;
        let after = Maquette::parse_kept(&store.get(&row.output_sha256)?)?;
        Ok(crate::apogee::diff::diff_maquettes(&before, &after))
    })
    .await??;
    let mut diff = diff;
    if let Some(nips) = &query.nip {
        let wanted: Vec<&str> = nips.split(',').map(str::trim).collect();
        diff.changes.retain(|c| wanted.contains(&c.nip.as_str()));
        diff.students_only_before
            .retain(|n| wanted.contains(&n.as_str()));
        diff.students_only_after
            .retain(|n| wanted.contains(&n.as_str()));
    }
    Ok(match query.format.unwrap_or_default() {
        DiffFormat::Json => HttpResponse::Ok().json(diff),
        DiffFormat::Text => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(diff.to_text_in(crate::i18n::current())),
    })
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn file_names_are_header_safe() {
        assert_eq!(safe_file_name("VDRT_V1RT.TXT", "x"), "VDRT_V1RT.TXT");
        assert_eq!(safe_file_name("a\"b;c é.TXT", "x"), "a_b_c__.TXT");
        assert_eq!(safe_file_name("..", "V1RT.TXT"), "V1RT.TXT");
    }
}

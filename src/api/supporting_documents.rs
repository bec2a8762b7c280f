//! `/supporting-documents` and `/me/supporting-documents`: the pièces justificatives of
//! enrolment. An admin defines the kinds each étape requires in a year; a student deposits
//! each one; a manager of the student's composante accepts it or rejects it with a reason the
//! student sees; the student deposits again after a rejection (history kept). The follow-up
//! ("suivi") shows completeness per student and per étape.

use std::collections::{BTreeMap, HashMap};

use actix_web::{Either, HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::extract::ValidJson;
use super::lockers::{check_type, safe_file_name};
use super::upload;
use crate::auth::{DataScope, Permission, Principal};
use crate::db::audit::{self, AuditEvent};
use crate::db::students;
use crate::db::supporting_documents::{self as repo, EnrolledStudent, KindRow, SubmissionRow};
use crate::domain::supporting::{self, SupportingStatus};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::pagination::{Page, Window};
use crate::services::export::{self, ListFormat};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(put_requirements)
        .service(get_requirements)
        .service(my_deposit)
        .service(my_documents)
        .service(list)
        .service(follow_up)
        .service(student_follow_up)
        .service(accept)
        .service(reject)
        .service(download);
}

fn field_error(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }])
}

/// A kind an étape requires.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequiredKind {
    pub academic_year: i32,
    pub etape: String,
    /// e.g. `identity_document`, `cvec_certificate`, `photo`, `scholarship_notice`.
    pub kind: String,
    /// The label students and managers see, e.g. "Attestation CVEC".
    pub label: String,
}

impl From<KindRow> for RequiredKind {
    fn from(k: KindRow) -> Self {
        RequiredKind {
            academic_year: k.academic_year,
            etape: k.etape,
            kind: k.kind,
            label: k.label,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KindSpec {
    /// snake_case code; the usual ones (`identity_document`, `cvec_certificate`, `photo`,
    /// `scholarship_notice`, `previous_diploma`, `apprenticeship_contract`) have a default label.
    #[validate(length(min = 1, max = 64))]
    pub kind: String,
    /// Required for other kinds.
    #[validate(length(min = 1, max = 200))]
    pub label: Option<String>,
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
    let mut kinds: Vec<(String, String)> = Vec::new();
    for (i, k) in body.kinds.iter().enumerate() {
        if !supporting::valid_kind(&k.kind) {
            return Err(field_error(
                &format!("kinds[{i}].kind"),
                "format",
                "a snake_case code (a-z, 0-9, _)",
            ));
        }
        let label = match (&k.label, supporting::known_label(&k.kind)) {
            (Some(l), _) => l.trim().to_owned(),
            (None, Some(l)) => l.to_owned(),
            (None, None) => {
                return Err(field_error(
                    &format!("kinds[{i}].label"),
                    "required",
                    "a label is required for this kind",
                ));
            }
        };
        if kinds.iter().any(|(existing, _)| *existing == k.kind) {
            return Err(field_error(
                &format!("kinds[{i}].kind"),
                "duplicate",
                "listed twice",
            ));
        }
        kinds.push((k.kind.clone(), label));
    }
    let etape = body.etape.trim().to_owned();
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let rows = state
        .db
        .write(move |conn| {
            repo::set_kinds(conn, year, &etape, &kinds, &actor)?;
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "supporting_documents.requirements",
                    student: None,
                    object_type: "etape",
                    object_id: Some(&etape),
                    details: serde_json::json!({
                        "academic_year": year,
                        "kinds": kinds.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                    }),
                },
            )?;
            repo::kinds(conn, year, Some(&etape))
        })
        .await?;
    Ok(web::Json(
        rows.into_iter().map(RequiredKind::from).collect(),
    ))
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

/// One deposit of a supporting document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submission {
    pub id: String,
    pub kind: String,
    pub etape: String,
    pub academic_year: i32,
    pub file_name: String,
    /// Detected on the content.
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub status: SupportingStatus,
    pub status_label: &'static str,
    /// Why it was rejected (the student sees it).
    pub reason: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<&SubmissionRow> for Submission {
    fn from(s: &SubmissionRow) -> Self {
        let status = SupportingStatus::parse(&s.status).unwrap_or(SupportingStatus::Pending);
        Submission {
            id: s.id.clone(),
            kind: s.kind.clone(),
            etape: s.etape.clone(),
            academic_year: s.academic_year,
            file_name: s.file_name.clone(),
            media_type: s.media_type.clone(),
            sha256: s.sha256.clone(),
            size: s.size,
            status,
            status_label: status.label(),
            reason: s.reason.clone(),
            submitted_at: s.submitted_at.and_utc(),
            decided_by: s.decided_by.clone(),
            decided_at: s.decided_at.map(|t| t.and_utc()),
        }
    }
}

/// Where one required document stands for a student.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindStatus {
    pub kind: String,
    pub label: String,
    pub status: SupportingStatus,
    /// "Pièce manquante", "En attente de contrôle", "Pièce validée", "Pièce refusée".
    pub status_label: &'static str,
    /// The reason of the current rejection.
    pub reason: Option<String>,
    /// The current deposit, if any.
    pub current: Option<Submission>,
    /// Every deposit of this kind, oldest first (rejected ones included).
    pub history: Vec<Submission>,
}

/// A student's supporting documents for one enrolment (étape), and whether they are complete.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentDocuments {
    pub cod_etu: String,
    pub last_name: String,
    pub first_name: String,
    pub academic_year: i32,
    pub etape: String,
    pub composante: String,
    /// Every required document is accepted.
    pub complete: bool,
    pub documents: Vec<KindStatus>,
}

/// The current status of every required document of each enrolled student.
fn views(
    year: i32,
    students: Vec<EnrolledStudent>,
    kinds: &[KindRow],
    submissions: &[SubmissionRow],
) -> Vec<EnrolmentDocuments> {
    let mut by_key: HashMap<(&str, &str, &str), Vec<&SubmissionRow>> = HashMap::new();
    for s in submissions {
        by_key
            .entry((s.student_id.as_str(), s.etape.as_str(), s.kind.as_str()))
            .or_default()
            .push(s);
    }
    students
        .into_iter()
        .map(|st| {
            let documents: Vec<KindStatus> = kinds
                .iter()
                .filter(|k| k.etape == st.etape)
                .map(|k| {
                    let history = by_key
                        .get(&(st.student_id.as_str(), st.etape.as_str(), k.kind.as_str()))
                        .cloned()
                        .unwrap_or_default();
                    let current = history.last().map(|s| Submission::from(*s));
                    let status = current
                        .as_ref()
                        .map_or(SupportingStatus::Missing, |c| c.status);
                    KindStatus {
                        kind: k.kind.clone(),
                        label: k.label.clone(),
                        status,
                        status_label: status.label(),
                        reason: current
                            .as_ref()
                            .filter(|c| c.status == SupportingStatus::Rejected)
                            .and_then(|c| c.reason.clone()),
                        current,
                        history: history.iter().map(|s| Submission::from(*s)).collect(),
                    }
                })
                .collect();
            EnrolmentDocuments {
                complete: documents
                    .iter()
                    .all(|d| d.status == SupportingStatus::Accepted),
                cod_etu: st.cod_etu,
                last_name: st.last_name,
                first_name: st.first_name,
                academic_year: year,
                etape: st.etape,
                composante: st.composante,
                documents,
            }
        })
        .collect()
}

/// Loads the views of the students enrolled in `year` within `scope` (one étape, one student).
async fn load_views(
    state: &AppState,
    scope: DataScope,
    year: i32,
    etape: Option<String>,
    cod_etu: Option<String>,
) -> Result<Vec<EnrolmentDocuments>, ApiError> {
    state
        .db
        .run(move |conn| {
            let students =
                repo::enrolled(conn, &scope, year, etape.as_deref(), cod_etu.as_deref())?;
            let kinds = repo::kinds(conn, year, etape.as_deref())?;
            let ids: Vec<String> = students.iter().map(|s| s.student_id.clone()).collect();
            let submissions = repo::submissions_of(conn, &ids, year)?;
            Ok(views(year, students, &kinds, &submissions))
        })
        .await
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
            "send the document as multipart/form-data with `file` and `kind` parts",
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
    let store = state.store.clone();
    let key = state.audit_key.clone();
    let (sha, size, temp) = (
        file.sha256.clone(),
        file.size as i64,
        file.temp.to_path_buf(),
    );
    let row = state
        .db
        .write(move |conn| {
            let scope = DataScope::Student(cod_etu.clone());
            let student = students::get(conn, &scope, &cod_etu)?
                .ok_or_else(|| ApiError::not_found("student"))?;
            let enrolments = repo::enrolled(conn, &scope, year, etape.as_deref(), None)?;
            let kinds = repo::kinds(conn, year, None)?;
            let matching: Vec<&EnrolledStudent> = enrolments
                .iter()
                .filter(|e| kinds.iter().any(|k| k.etape == e.etape && k.kind == kind))
                .collect();
            let enrolment = match matching.as_slice() {
                [] => {
                    return Err(field_error(
                        "kind",
                        "not_required",
                        "this document is not required by any of your current enrolments",
                    ));
                }
                [one] => *one,
                _ => {
                    return Err(field_error(
                        "etape",
                        "required",
                        "several of your enrolments require this document: name the étape",
                    ));
                }
            };
            let current = repo::latest(conn, &student.id, year, &enrolment.etape, &kind)?;
            let status = current
                .as_ref()
                .and_then(|c| SupportingStatus::parse(&c.status))
                .unwrap_or(SupportingStatus::Missing);
            if !status.accepts_deposit() {
                return Err(ApiError::new(ErrorCode::InvalidTransition, {
                    let (code, label) = (status.as_str(), status.label());
                    crate::text!(
                        "cette pièce est déjà « {label} »",
                        "this document is already {code} ({label})"
                    )
                })
                .with("current_status", status.as_str()));
            }
            store.adopt(&temp, &sha)?;
            let row = SubmissionRow {
                id: uuid::Uuid::now_v7().to_string(),
                student_id: student.id.clone(),
                academic_year: year,
                etape: enrolment.etape.clone(),
                composante: enrolment.composante.clone(),
                kind: kind.clone(),
                file_name,
                media_type,
                sha256: sha,
                size,
                status: SupportingStatus::Pending.as_str().into(),
                reason: None,
                submitted_at: crate::db::now(),
                decided_by: None,
                decided_at: None,
            };
            repo::insert(conn, &row)?;
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: "student",
                    action: "supporting_document.deposit",
                    student: Some(&student.cod_etu),
                    object_type: "supporting_document",
                    object_id: Some(&row.id),
                    details: serde_json::json!({
                        "kind": row.kind, "etape": row.etape, "sha256": row.sha256,
                        "size": row.size, "previous_status": status.as_str(),
                    }),
                },
            )?;
            Ok(row)
        })
        .await?;
    drop(file);
    Ok(HttpResponse::Created().json(Submission::from(&row)))
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
    let views = load_views(
        &state,
        DataScope::Student(cod_etu.clone()),
        year,
        None,
        Some(cod_etu),
    )
    .await?;
    Ok(web::Json(views))
}

/// One required document of one student, as the managers' list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupportingRow {
    pub cod_etu: String,
    pub last_name: String,
    pub first_name: String,
    pub etape: String,
    pub composante: String,
    pub kind: String,
    pub label: String,
    pub status: SupportingStatus,
    pub status_label: &'static str,
    pub reason: Option<String>,
    /// The current deposit (accept, reject or download it by this id).
    pub submission_id: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// Deposits of this kind so far.
    pub deposits: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SupportingQuery {
    /// COD_ETP.
    pub etape: Option<String>,
    /// missing, pending, accepted or rejected (comma-separated for several).
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Default: the current academic year.
    pub year: Option<i32>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
    /// `csv`: the whole filtered list as CSV (as `Accept: text/csv` asks).
    #[param(inline)]
    pub format: Option<ListFormat>,
}

fn parse_statuses(s: Option<&str>) -> Result<Vec<SupportingStatus>, ApiError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            SupportingStatus::parse(p).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!("`{p}` is not a status (missing, pending, accepted, rejected)"),
                )
            })
        })
        .collect()
}

/// The required documents of the students of the caller's composantes, by étape and status
/// (e.g. `?etape=L1INF&status=pending` is the control queue; `status=missing` whom to remind).
#[utoipa::path(
    operation_id = "listSupportingDocuments",
    tag = "supporting_documents",
    params(SupportingQuery),
    responses((status = 200, description = "One page of required documents, or the whole list as CSV", content(
        (Page<SupportingRow> = "application/json"),
        (String = "text/csv", example = json!("\u{feff}Numéro étudiant;Nom;Prénom;Étape;Composante;Pièce;Statut;Motif;Déposée le;Dépôts\r\n21900001;LEFÈVRE;Zoé;L1INF;905;Attestation CVEC;À contrôler;;2025-09-01T08:00:00Z;1\r\n"))
    )))
)]
#[get("/supporting-documents")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<SupportingQuery>,
) -> Result<Either<web::Json<Page<SupportingRow>>, HttpResponse>, ApiError> {
    let scope = principal.authorize(Permission::SupportingDocumentsRead)?;
    let query = query.into_inner();
    let csv = export::wants_csv(&req, query.format);
    let window = Window::new(query.page, query.per_page)?;
    let statuses = parse_statuses(query.status.as_deref())?;
    let year = query
        .year
        .unwrap_or_else(|| state.config.current_academic_year());
    let views = load_views(&state, scope, year, query.etape, None).await?;
    let rows: Vec<SupportingRow> = views
        .into_iter()
        .flat_map(|v| {
            let EnrolmentDocuments {
                cod_etu,
                last_name,
                first_name,
                etape,
                composante,
                documents,
                ..
            } = v;
            documents.into_iter().map(move |d| SupportingRow {
                cod_etu: cod_etu.clone(),
                last_name: last_name.clone(),
                first_name: first_name.clone(),
                etape: etape.clone(),
                composante: composante.clone(),
                submission_id: d.current.as_ref().map(|c| c.id.clone()),
                submitted_at: d.current.as_ref().map(|c| c.submitted_at),
                deposits: d.history.len(),
                kind: d.kind,
                label: d.label,
                status: d.status,
                status_label: d.status_label,
                reason: d.reason,
            })
        })
        .filter(|r| statuses.is_empty() || statuses.contains(&r.status))
        .filter(|r| query.kind.as_ref().is_none_or(|k| *k == r.kind))
        .collect();
    if csv {
        return Ok(Either::Right(export::whole(
            "pieces-justificatives.csv",
            SupportingRow::CSV_COLUMNS,
            rows,
            SupportingRow::csv_cells,
        )));
    }
    let total = rows.len() as i64;
    let items = rows
        .into_iter()
        .skip(window.offset() as usize)
        .take(window.limit() as usize)
        .collect();
    Ok(Either::Left(web::Json(window.wrap(items, total))))
}

impl SupportingRow {
    /// The columns of the CSV export, in French for the spreadsheet's readers.
    pub const CSV_COLUMNS: &'static [&'static str] = &[
        "Numéro étudiant",
        "Nom",
        "Prénom",
        "Étape",
        "Composante",
        "Pièce",
        "Statut",
        "Motif",
        "Déposée le",
        "Dépôts",
    ];

    fn csv_cells(self) -> Vec<String> {
        use crate::domain::csv::{date, opt};
        vec![
            self.cod_etu,
            self.last_name,
            self.first_name,
            self.etape,
            self.composante,
            self.label,
            self.status_label.to_owned(),
            opt(self.reason),
            opt(self.submitted_at.map(date)),
            self.deposits.to_string(),
        ]
    }
}

/// Counts of one kind over an étape's students.
#[derive(Debug, Serialize, ToSchema, Default)]
pub struct KindCounts {
    pub kind: String,
    pub label: String,
    pub missing: i64,
    pub pending: i64,
    pub accepted: i64,
    pub rejected: i64,
}

/// One student in the follow-up of an étape.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentCompleteness {
    pub cod_etu: String,
    pub last_name: String,
    pub first_name: String,
    pub complete: bool,
    /// Kinds per status (accepted ones are not listed).
    pub missing: Vec<String>,
    pub pending: Vec<String>,
    pub rejected: Vec<String>,
}

/// The follow-up ("suivi") of one étape.
#[derive(Debug, Serialize, ToSchema)]
pub struct EtapeFollowUp {
    pub etape: String,
    pub academic_year: i32,
    pub students: i64,
    /// Students whose every required document is accepted.
    pub complete: i64,
    pub kinds: Vec<KindCounts>,
    pub by_student: Vec<StudentCompleteness>,
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
    let views = load_views(&state, scope, year, etape, None).await?;
    let mut by_etape: BTreeMap<String, EtapeFollowUp> = BTreeMap::new();
    for v in views {
        if v.documents.is_empty() {
            continue;
        }
        let entry = by_etape
            .entry(v.etape.clone())
            .or_insert_with(|| EtapeFollowUp {
                etape: v.etape.clone(),
                academic_year: year,
                students: 0,
                complete: 0,
                kinds: v
                    .documents
                    .iter()
                    .map(|d| KindCounts {
                        kind: d.kind.clone(),
                        label: d.label.clone(),
                        ..KindCounts::default()
                    })
                    .collect(),
                by_student: Vec::new(),
            });
        entry.students += 1;
        entry.complete += i64::from(v.complete);
        let mut student = StudentCompleteness {
            cod_etu: v.cod_etu,
            last_name: v.last_name,
            first_name: v.first_name,
            complete: v.complete,
            missing: Vec::new(),
            pending: Vec::new(),
            rejected: Vec::new(),
        };
        for d in v.documents {
            if let Some(c) = entry.kinds.iter_mut().find(|k| k.kind == d.kind) {
                match d.status {
                    SupportingStatus::Missing => c.missing += 1,
                    SupportingStatus::Pending => c.pending += 1,
                    SupportingStatus::Accepted => c.accepted += 1,
                    SupportingStatus::Rejected => c.rejected += 1,
                }
            }
            match d.status {
                SupportingStatus::Missing => student.missing.push(d.kind),
                SupportingStatus::Pending => student.pending.push(d.kind),
                SupportingStatus::Rejected => student.rejected.push(d.kind),
                SupportingStatus::Accepted => {}
            }
        }
        entry.by_student.push(student);
    }
    Ok(web::Json(by_etape.into_values().collect()))
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
    {
        let (scope, cod_etu) = (scope.clone(), cod_etu.clone());
        state
            .db
            .run(move |conn| {
                students::get(conn, &scope, &cod_etu)?.ok_or_else(|| ApiError::not_found("student"))
            })
            .await?;
    }
    let year = state.config.current_academic_year();
    Ok(web::Json(
        load_views(&state, scope, year, None, Some(cod_etu)).await?,
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
    let row = state
        .db
        .write(move |conn| {
            let s = repo::get(conn, &scope, &id)?
                .ok_or_else(|| ApiError::not_found("supporting document"))?;
            let current = SupportingStatus::parse(&s.status).unwrap_or(SupportingStatus::Pending);
            let latest = repo::latest(conn, &s.student_id, s.academic_year, &s.etape, &s.kind)?;
            if current != SupportingStatus::Pending || latest.is_some_and(|l| l.id != s.id) {
                return Err(ApiError::new(
                    ErrorCode::InvalidTransition,
                    "only the current, pending deposit can be accepted or rejected",
                )
                .with("current_status", current.as_str()));
            }
            let row = repo::decide(conn, &s.id, status.as_str(), reason.as_deref(), &actor)?;
            let student = students::find(conn, &s.student_id)?;
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: if status == SupportingStatus::Accepted {
                        "supporting_document.accept"
                    } else {
                        "supporting_document.reject"
                    },
                    student: Some(&student.cod_etu),
                    object_type: "supporting_document",
                    object_id: Some(&row.id),
                    details: serde_json::json!({"kind": row.kind, "etape": row.etape}),
                },
            )?;
            Ok(row)
        })
        .await?;
    Ok(Submission::from(&row))
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
            repo::get(conn, &scope, &id)?.ok_or_else(|| ApiError::not_found("supporting document"))
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

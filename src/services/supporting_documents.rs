//! Supporting documents' rules besides HTTP: which requirements apply to a student (by étape
//! and population), where each stands, the deposits and decisions, pieces received on paper,
//! and the follow-up. Blocking code, run by the handlers inside `db.run`/`db.write`.
//!
//! Populations: a requirement may target régimes (formation initiale, apprentissage, formation
//! continue) and/or boursiers (yes or no). A student's population comes from the enrolment
//! import's optional `regime` and `boursier` columns. When it is unknown, a population-targeted
//! requirement is **required** of the student (never silently skipped) and flagged
//! `population_unknown` so that a manager checks it; a known mismatch skips it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::DataScope;
use crate::db::DbConnection;
use crate::db::audit::{self, AuditEvent};
use crate::db::students;
use crate::db::supporting_documents::{
    self as repo, EnrolledStudent, KindRow, NewKind, SubmissionRow,
};
use crate::domain::enrolment::Regime;
use crate::domain::supporting::{self, Applies, SupportingStatus};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::services::context::Context;

fn field_error(field: &str, code: &str, message: crate::i18n::Text) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: crate::i18n::Localized(message),
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
    /// Only students of these régimes (empty: every régime).
    pub regimes: Vec<Regime>,
    /// Only boursiers (true) or non-boursiers (false); null: either.
    pub boursier: Option<bool>,
}

impl From<KindRow> for RequiredKind {
    fn from(k: KindRow) -> Self {
        RequiredKind {
            regimes: supporting::parse_regimes(k.regimes.as_deref()),
            boursier: k.boursier,
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
    /// Only students of these régimes (absent or empty: every régime). A student whose régime
    /// is unknown is required the document, flagged `population_unknown`.
    pub regimes: Option<Vec<Regime>>,
    /// Only boursiers (true) or non-boursiers (false); absent: either. Unknown: as for régimes.
    pub boursier: Option<bool>,
}

/// Checks and replaces the kinds an étape requires in `year` (audited); returns them.
pub fn set_requirements(
    conn: &mut DbConnection,
    audit_key: &[u8],
    actor: &str,
    year: i32,
    etape: &str,
    specs: &[KindSpec],
) -> Result<Vec<RequiredKind>, ApiError> {
    let mut kinds: Vec<NewKind> = Vec::new();
    for (i, k) in specs.iter().enumerate() {
        if !supporting::valid_kind(&k.kind) {
            return Err(field_error(
                &format!("kinds[{i}].kind"),
                "format",
                crate::i18n::Text::fixed(
                    "un code en snake_case (a-z, 0-9, _)",
                    "a snake_case code (a-z, 0-9, _)",
                ),
            ));
        }
        let label = match (&k.label, supporting::known_label(&k.kind)) {
            (Some(l), _) => l.trim().to_owned(),
            (None, Some(l)) => l.to_owned(),
            (None, None) => {
                return Err(field_error(
                    &format!("kinds[{i}].label"),
                    "required",
                    crate::i18n::Text::fixed(
                        "un libellé est obligatoire pour ce type",
                        "a label is required for this kind",
                    ),
                ));
            }
        };
        if kinds.iter().any(|existing| existing.kind == k.kind) {
            return Err(field_error(
                &format!("kinds[{i}].kind"),
                "duplicate",
                crate::i18n::Text::fixed("listé deux fois", "listed twice"),
            ));
        }
        let mut regimes = k.regimes.clone().unwrap_or_default();
        regimes.sort_by_key(|r| r.as_str());
        regimes.dedup();
        kinds.push(NewKind {
            kind: k.kind.clone(),
            label,
            regimes: supporting::regimes_column(&regimes),
            boursier: k.boursier,
        });
    }
    repo::set_kinds(conn, year, etape, &kinds, actor)?;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor,
            action: "supporting_documents.requirements",
            student: None,
            object_type: "etape",
            object_id: Some(etape),
            details: serde_json::json!({
                "academic_year": year,
                "kinds": kinds.iter().map(|k| &k.kind).collect::<Vec<_>>(),
                "populations": kinds.iter().map(|k| serde_json::json!({
                    "kind": k.kind, "regimes": k.regimes, "boursier": k.boursier,
                })).collect::<Vec<_>>(),
            }),
        },
    )?;
    Ok(repo::kinds(conn, year, Some(etape))?
        .into_iter()
        .map(RequiredKind::from)
        .collect())
}

/// How a piece came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The student deposited a file.
    Upload,
    /// A manager recorded a piece received on paper (no file).
    Paper,
}

/// One deposit of a supporting document, or a piece received on paper.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submission {
    pub id: String,
    pub kind: String,
    pub etape: String,
    pub academic_year: i32,
    pub channel: Channel,
    /// Empty for a piece received on paper (as are `media_type` and `sha256`; `size` 0).
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
    /// Paper: who recorded it (audit actor) and their name, and when it was received.
    pub received_by: Option<String>,
    pub received_by_name: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
}

impl From<&SubmissionRow> for Submission {
    fn from(s: &SubmissionRow) -> Self {
        let status = SupportingStatus::parse(&s.status).unwrap_or(SupportingStatus::Pending);
        Submission {
            id: s.id.clone(),
            kind: s.kind.clone(),
            etape: s.etape.clone(),
            academic_year: s.academic_year,
            channel: if s.channel == "paper" {
                Channel::Paper
            } else {
                Channel::Upload
            },
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
            received_by: s.received_by.clone(),
            received_by_name: s.received_by_name.clone(),
            received_at: s.received_at.map(|t| t.and_utc()),
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
    /// Required because the requirement targets a population and the student's is unknown
    /// (the import had no `regime`/`boursier` value): a manager checks it.
    pub population_unknown: bool,
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
    /// From the enrolment import; null: unknown.
    pub regime: Option<Regime>,
    /// From the enrolment import; null: unknown.
    pub boursier: Option<bool>,
    /// Every required document is accepted.
    pub complete: bool,
    /// The documents that apply to this student's étape and population.
    pub documents: Vec<KindStatus>,
}

fn regime_of(s: &EnrolledStudent) -> Option<Regime> {
    s.regime.as_deref().and_then(Regime::parse)
}

/// Whether a requirement applies to an enrolled student.
fn applies_to(k: &KindRow, st: &EnrolledStudent) -> Applies {
    if k.etape != st.etape {
        return Applies::No;
    }
    supporting::applies(
        &supporting::parse_regimes(k.regimes.as_deref()),
        k.boursier,
        regime_of(st),
        st.boursier,
    )
}

/// The current status of every requirement that applies to each enrolled student.
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
                .filter_map(|k| {
                    let applies = applies_to(k, &st);
                    (applies != Applies::No).then_some((k, applies))
                })
                .map(|(k, applies)| {
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
                        population_unknown: applies == Applies::Unknown,
                        current,
                        history: history.iter().map(|s| Submission::from(*s)).collect(),
                    }
                })
                .collect();
            EnrolmentDocuments {
                complete: documents
                    .iter()
                    .all(|d| d.status == SupportingStatus::Accepted),
                regime: regime_of(&st),
                boursier: st.boursier,
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

/// The views of the students enrolled in `year` within `scope` (one étape, one student).
pub fn documents(
    conn: &mut DbConnection,
    scope: &DataScope,
    year: i32,
    etape: Option<&str>,
    cod_etu: Option<&str>,
) -> Result<Vec<EnrolmentDocuments>, ApiError> {
    let students = repo::enrolled(conn, scope, year, etape, cod_etu)?;
    let kinds = repo::kinds(conn, year, etape)?;
    let ids: Vec<String> = students.iter().map(|s| s.student_id.clone()).collect();
    let submissions = repo::submissions_of(conn, &ids, year)?;
    Ok(views(year, students, &kinds, &submissions))
}

/// The enrolment of a student (within `scope`) a piece of `kind` answers: the one whose
/// étape requires it of this student; `etape` chooses when several do.
fn enrolment_for(
    conn: &mut DbConnection,
    scope: &DataScope,
    year: i32,
    cod_etu: &str,
    kind: &str,
    etape: Option<&str>,
    not_required: crate::i18n::Text,
) -> Result<EnrolledStudent, ApiError> {
    let enrolments = repo::enrolled(conn, scope, year, etape, Some(cod_etu))?;
    let kinds = repo::kinds(conn, year, None)?;
    let mut matching: Vec<EnrolledStudent> = enrolments
        .into_iter()
        .filter(|e| {
            kinds
                .iter()
                .any(|k| k.kind == kind && applies_to(k, e) != Applies::No)
        })
        .collect();
    match matching.len() {
        0 => Err(field_error("kind", "not_required", not_required)),
        1 => Ok(matching.remove(0)),
        _ => Err(field_error(
            "etape",
            "required",
            crate::i18n::Text::fixed(
                "plusieurs inscriptions demandent ce document : précisez l'étape",
                "several enrolments require this document: name the étape",
            ),
        )),
    }
}

/// The status of the current piece of this kind, refusing a new one unless it is missing or
/// rejected (409 `invalid_transition`).
fn ready_for_new_piece(
    conn: &mut DbConnection,
    student_id: &str,
    year: i32,
    etape: &str,
    kind: &str,
) -> Result<SupportingStatus, ApiError> {
    let status = repo::latest(conn, student_id, year, etape, kind)?
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
    Ok(status)
}

/// A file a student deposits, received and hashed.
pub struct Upload {
    pub kind: String,
    pub etape: Option<String>,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
}

/// A student deposits a document: checked first (a refused deposit stores nothing), its file
/// then stored, then checked again and recorded (pending) in one transaction with its audit
/// entry — no upload ever runs under a database lock; a transaction refused after the upload
/// leaves an orphan that retention collects.
pub async fn deposit(
    ctx: &Context,
    year: i32,
    cod_etu: String,
    upload: Upload,
    temp: &Path,
) -> Result<Submission, ApiError> {
    let (who, kind, etape) = (cod_etu.clone(), upload.kind.clone(), upload.etape.clone());
    ctx.read(move |conn| admissible(conn, year, &who, &kind, etape.as_deref()).map(|_| ()))
        .await?;
    crate::storage::adopt_off_thread(&ctx.store, temp, &upload.sha256).await?;
    let key = ctx.audit_key.clone();
    ctx.write(move |conn| record(conn, key.expose().as_bytes(), year, &cod_etu, upload))
        .await
}

/// The student, the enrolment that requires the kind and the current piece's status, when a
/// new piece may be deposited.
fn admissible(
    conn: &mut DbConnection,
    year: i32,
    cod_etu: &str,
    kind: &str,
    etape: Option<&str>,
) -> Result<(students::StudentRow, EnrolledStudent, SupportingStatus), ApiError> {
    let scope = DataScope::Student(cod_etu.to_owned());
    let student =
        students::get(conn, &scope, cod_etu)?.ok_or_else(|| ApiError::not_found("student"))?;
    let enrolment = enrolment_for(
        conn,
        &scope,
        year,
        cod_etu,
        kind,
        etape,
        crate::i18n::Text::fixed(
            "ce document n'est demandé par aucune de vos inscriptions en cours",
            "this document is not required by any of your current enrolments",
        ),
    )?;
    let previous = ready_for_new_piece(conn, &student.id, year, &enrolment.etape, kind)?;
    Ok((student, enrolment, previous))
}

/// Records a student's deposit (pending), its file already stored; audited.
fn record(
    conn: &mut DbConnection,
    audit_key: &[u8],
    year: i32,
    cod_etu: &str,
    upload: Upload,
) -> Result<Submission, ApiError> {
    let (student, enrolment, previous) =
        admissible(conn, year, cod_etu, &upload.kind, upload.etape.as_deref())?;
    let row = SubmissionRow {
        id: uuid::Uuid::now_v7().to_string(),
        student_id: student.id.clone(),
        academic_year: year,
        etape: enrolment.etape,
        composante: enrolment.composante,
        kind: upload.kind,
        file_name: upload.file_name,
        media_type: upload.media_type,
        sha256: upload.sha256,
        size: upload.size,
        status: SupportingStatus::Pending.as_str().into(),
        reason: None,
        submitted_at: crate::db::now(),
        decided_by: None,
        decided_at: None,
        channel: "upload".into(),
        received_by: None,
        received_by_name: None,
        received_at: None,
    };
    repo::insert(conn, &row)?;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor: "student",
            action: "supporting_document.deposit",
            student: Some(&student.cod_etu),
            object_type: "supporting_document",
            object_id: Some(&row.id),
            details: serde_json::json!({
                "kind": row.kind, "etape": row.etape, "sha256": row.sha256,
                "size": row.size, "previous_status": previous.as_str(),
            }),
        },
    )?;
    Ok(Submission::from(&row))
}

/// A piece a manager received on paper.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaperPiece {
    /// The required kind it answers, e.g. `apprenticeship_contract`.
    #[validate(length(min = 1, max = 64))]
    pub kind: String,
    /// COD_ETP, only when several of the student's enrolments require the kind.
    #[validate(length(min = 1, max = 32))]
    pub etape: Option<String>,
    /// When it was received (default: now); not in the future.
    pub received_at: Option<DateTime<Utc>>,
    /// Accept it at once (default false: it waits, pending, like a deposit).
    pub accept: Option<bool>,
}

/// Who records a paper piece.
pub struct Recorder<'a> {
    pub scope: &'a DataScope,
    /// The audit actor.
    pub actor: &'a str,
    /// Their display name (JWT `name` claim).
    pub name: Option<&'a str>,
}

/// Records a piece received on paper for a student of the recorder's composantes (pending, or
/// accepted when asked); audited with who and when. The same rules as a deposit: the kind must
/// apply to the student, and the current piece be missing or rejected.
pub fn record_paper(
    conn: &mut DbConnection,
    audit_key: &[u8],
    year: i32,
    by: &Recorder,
    cod_etu: &str,
    piece: &PaperPiece,
) -> Result<Submission, ApiError> {
    let student =
        students::get(conn, by.scope, cod_etu)?.ok_or_else(|| ApiError::not_found("student"))?;
    let now = crate::db::now();
    let received_at: NaiveDateTime = piece.received_at.map_or(now, |t| t.naive_utc());
    if received_at > now + chrono::Duration::minutes(5) {
        return Err(field_error(
            "received_at",
            "future",
            crate::i18n::Text::fixed(
                "la date de réception ne peut pas être dans le futur",
                "the date of receipt cannot be in the future",
            ),
        ));
    }
    let kind = piece.kind.trim();
    let enrolment = enrolment_for(
        conn,
        by.scope,
        year,
        cod_etu,
        kind,
        piece.etape.as_deref().map(str::trim),
        crate::i18n::Text::fixed(
            "ce document n'est pas demandé à cet étudiant par une inscription en cours dans vos composantes",
            "this document is not required of this student by a current enrolment in your composantes",
        ),
    )?;
    let previous = ready_for_new_piece(conn, &student.id, year, &enrolment.etape, kind)?;
    let accept = piece.accept.unwrap_or(false);
    let row = SubmissionRow {
        id: uuid::Uuid::now_v7().to_string(),
        student_id: student.id.clone(),
        academic_year: year,
        etape: enrolment.etape,
        composante: enrolment.composante,
        kind: kind.to_owned(),
        file_name: String::new(),
        media_type: String::new(),
        sha256: String::new(),
        size: 0,
        status: if accept {
            SupportingStatus::Accepted
        } else {
            SupportingStatus::Pending
        }
        .as_str()
        .into(),
        reason: None,
        submitted_at: now,
        decided_by: accept.then(|| by.actor.to_owned()),
        decided_at: accept.then_some(now),
        channel: "paper".into(),
        received_by: Some(by.actor.to_owned()),
        received_by_name: by.name.map(str::to_owned),
        received_at: Some(received_at),
    };
    repo::insert(conn, &row)?;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor: by.actor,
            action: "supporting_document.paper",
            student: Some(&student.cod_etu),
            object_type: "supporting_document",
            object_id: Some(&row.id),
            details: serde_json::json!({
                "kind": row.kind, "etape": row.etape,
                "received_at": received_at.and_utc().to_rfc3339(),
                "received_by": by.actor, "accepted": accept,
                "previous_status": previous.as_str(),
            }),
        },
    )?;
    Ok(Submission::from(&row))
}

/// Accepts or rejects the current, pending piece `id` of a student of `scope` (audited).
pub fn decide(
    conn: &mut DbConnection,
    audit_key: &[u8],
    scope: &DataScope,
    actor: &str,
    id: &str,
    status: SupportingStatus,
    reason: Option<&str>,
) -> Result<Submission, ApiError> {
    let s =
        repo::get(conn, scope, id)?.ok_or_else(|| ApiError::not_found("supporting document"))?;
    let current = SupportingStatus::parse(&s.status).unwrap_or(SupportingStatus::Pending);
    let latest = repo::latest(conn, &s.student_id, s.academic_year, &s.etape, &s.kind)?;
    if current != SupportingStatus::Pending || latest.is_some_and(|l| l.id != s.id) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            crate::i18n::Text::fixed(
                "seul le dépôt courant, en attente, peut être accepté ou refusé",
                "only the current, pending deposit can be accepted or rejected",
            ),
        )
        .with("current_status", current.as_str()));
    }
    let row = repo::decide(conn, &s.id, status.as_str(), reason, actor)?;
    let student = students::find(conn, &s.student_id)?;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor,
            action: if status == SupportingStatus::Accepted {
                "supporting_document.accept"
            } else {
                "supporting_document.reject"
            },
            student: Some(&student.cod_etu),
            object_type: "supporting_document",
            object_id: Some(&row.id),
            details: serde_json::json!({"kind": row.kind, "etape": row.etape, "channel": row.channel}),
        },
    )?;
    Ok(Submission::from(&row))
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
    /// Kinds per status (accepted ones are not listed), only those that apply to the student's
    /// étape and population.
    pub missing: Vec<String>,
    pub pending: Vec<String>,
    pub rejected: Vec<String>,
    /// Kinds required because the student's population is unknown (to check).
    pub population_unknown: Vec<String>,
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

/// Completeness per étape of the students of `views` that are required something.
pub fn follow_up(year: i32, views: Vec<EnrolmentDocuments>) -> Vec<EtapeFollowUp> {
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
                kinds: Vec::new(),
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
            population_unknown: Vec::new(),
        };
        for d in v.documents {
            // Kinds of a population appear as the first student they apply to is met.
            let position = match entry.kinds.iter().position(|k| k.kind == d.kind) {
                Some(p) => p,
                None => {
                    entry.kinds.push(KindCounts {
                        kind: d.kind.clone(),
                        label: d.label.clone(),
                        ..KindCounts::default()
                    });
                    entry.kinds.len() - 1
                }
            };
            let c = &mut entry.kinds[position];
            match d.status {
                SupportingStatus::Missing => c.missing += 1,
                SupportingStatus::Pending => c.pending += 1,
                SupportingStatus::Accepted => c.accepted += 1,
                SupportingStatus::Rejected => c.rejected += 1,
            }
            if d.population_unknown {
                student.population_unknown.push(d.kind.clone());
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
    let mut out: Vec<EtapeFollowUp> = by_etape.into_values().collect();
    for e in &mut out {
        e.kinds.sort_by(|a, b| a.kind.cmp(&b.kind));
    }
    out
}

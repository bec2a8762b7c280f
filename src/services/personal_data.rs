//! The data subject's rights: everything passerelle holds on one student, as one document
//! (right of access), and erasure (anonymisation) that keeps counts and the audit chain.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::apogee::diff::student_changes;
use crate::apogee::erasure::{ErasedStudent, erase_student_from_report};
use crate::apogee::maquette::Maquette;
use crate::db::audit::{self, AuditEvent, AuditRow};
use crate::db::grade_transfers::{self as grade_transfer_repo, StoredReport};
use crate::db::schema::{consent_events, documents, students, treatments, vaults};
use crate::db::students::StudentRow;
use crate::db::{self, DbConnection, consents, vaults as vault_repo};
use crate::domain::audit::pseudonym;
use crate::domain::vault::VaultStatus;
use crate::error::{ApiError, ErrorCode};
use crate::storage::DocumentStore;

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalIdentity {
    pub cod_etu: String,
    pub ine: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the student was erased (anonymised).
    pub erased_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalEnrolment {
    pub academic_year: i32,
    pub etape: String,
    pub composante: String,
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalVault {
    pub status: VaultStatus,
    pub status_label: &'static str,
    pub accepted: bool,
    pub personalised: bool,
    pub route_code: Option<String>,
    pub customization_url: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub history: Vec<PersonalVaultChange>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalVaultChange {
    pub from_status: Option<String>,
    pub to_status: String,
    pub cause: String,
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalConsentEvent {
    pub purpose: String,
    pub event: String,
    pub source: String,
    pub actor: String,
    pub evidence_ref: Option<String>,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalDocument {
    pub document_id: String,
    pub treatment_id: String,
    pub document_type: String,
    pub treatment_label: String,
    pub academic_year: i32,
    pub pages: Vec<u32>,
    pub sha256: String,
    pub delivery_status: Option<String>,
    pub delivery_reason: Option<String>,
    pub deposited_at: Option<DateTime<Utc>>,
    pub receipt_at: Option<DateTime<Utc>>,
    /// Whether the PDF itself is still stored (retention deletes it after delivery).
    pub file_stored: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalAuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A supporting document (pièce justificative) the student deposited.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalSupportingDocument {
    pub id: String,
    pub academic_year: i32,
    pub etape: String,
    pub kind: String,
    pub file_name: String,
    pub sha256: String,
    pub status: String,
    pub reason: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// A grade transfer whose maquette holds the student: its stored files (the maquette Apogée
/// exported, the grade source, the filled maquette) hold the student's grades.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalGradeTransfer {
    pub id: String,
    pub composante: String,
    /// First year of the academic year (2024 for 2024/2025).
    pub academic_year: i32,
    pub etape: String,
    pub etape_version: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The student's cells the transfer changed, recomputed from the stored files (as
    /// `GET /grade-transfers/{id}/diff?nip=` does). Empty after erasure: the files still hold
    /// the grades under the student number, which is no longer linked to the student.
    pub changes: Vec<PersonalGradeChange>,
    /// sha256 of the maquette as exported and of the filled one (to recompute the changes).
    #[serde(skip)]
    files: (String, String),
}

/// One cell of the student's row that a grade transfer changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalGradeChange {
    pub element_code: String,
    pub label: String,
    /// `N` (note), `B` (barème), `R` (result), `J` (jury points)…
    pub result_type: String,
    pub before: String,
    pub after: String,
}

/// Everything passerelle holds on one student.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalData {
    pub generated_at: DateTime<Utc>,
    pub identity: PersonalIdentity,
    pub enrolments: Vec<PersonalEnrolment>,
    pub vault: Option<PersonalVault>,
    pub consents: Vec<PersonalConsentEvent>,
    pub documents: Vec<PersonalDocument>,
    pub supporting_documents: Vec<PersonalSupportingDocument>,
    /// Grade transfers (ScoDoc → Apogée) whose maquette holds the student, with the student's
    /// changes.
    pub grade_transfers: Vec<PersonalGradeTransfer>,
    /// Audit entries about the student (recorded under a pseudonym).
    pub audit: Vec<PersonalAuditEntry>,
}

/// The student's vault and its history.
fn personal_vault(
    conn: &mut DbConnection,
    student_id: &str,
) -> Result<Option<PersonalVault>, ApiError> {
    Ok(match vault_repo::by_student(conn, student_id)? {
        Some(v) => {
            let history = vault_repo::history(conn, &v.id)?
                .into_iter()
                .map(|h| PersonalVaultChange {
                    from_status: h.from_status,
                    to_status: h.to_status,
                    cause: h.cause,
                    actor: h.actor,
                    reason: h.reason,
                    at: h.at.and_utc(),
                })
                .collect();
            let status = v.status();
            Some(PersonalVault {
                status,
                status_label: status.label(),
                accepted: v.accepted,
                personalised: v.personalised,
                route_code: v.route_code,
                customization_url: v.customization_url,
                last_error: v.last_error,
                created_at: v.created_at.and_utc(),
                history,
            })
        }
        None => None,
    })
}

/// The student's split documents and where each stands.
fn personal_documents(
    conn: &mut DbConnection,
    student_id: &str,
) -> Result<Vec<PersonalDocument>, ApiError> {
    type DocRow = (
        String,
        String,
        String,
        String,
        i32,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<chrono::NaiveDateTime>,
        Option<chrono::NaiveDateTime>,
        Option<chrono::NaiveDateTime>,
    );
    let rows: Vec<DocRow> = documents::table
        .inner_join(treatments::table)
        .filter(documents::student_id.eq(student_id))
        .order(documents::created_at.asc())
        .select((
            documents::id,
            documents::treatment_id,
            treatments::document_type,
            treatments::label,
            treatments::academic_year,
            documents::pages,
            documents::sha256,
            documents::delivery_status,
            documents::delivery_reason,
            documents::deposited_at,
            documents::receipt_at,
            documents::file_deleted_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| PersonalDocument {
            document_id: r.0,
            treatment_id: r.1,
            document_type: r.2,
            treatment_label: r.3,
            academic_year: r.4,
            pages: serde_json::from_str(&r.5).unwrap_or_default(),
            sha256: r.6,
            delivery_status: r.7,
            delivery_reason: r.8,
            deposited_at: r.9.map(|t| t.and_utc()),
            receipt_at: r.10.map(|t| t.and_utc()),
            file_stored: r.11.is_none(),
        })
        .collect())
}

/// Collects the student's data. Read-only. The grade transfers come without their changes:
/// [`add_grade_changes`] reads them from the document store, once the connection is released.
pub fn export(
    conn: &mut DbConnection,
    audit_key: &[u8],
    student: &StudentRow,
) -> Result<PersonalData, ApiError> {
    let enrolments = db::students::enrolments_of(conn, &student.id)?
        .into_iter()
        .map(|e| PersonalEnrolment {
            academic_year: e.academic_year,
            etape: e.etape,
            composante: e.composante,
            state: e.state,
        })
        .collect();
    let vault = personal_vault(conn, &student.id)?;
    let consents = consents::events_of(conn, &student.id)?
        .into_iter()
        .map(|c| PersonalConsentEvent {
            purpose: c.purpose,
            event: c.event,
            source: c.source,
            actor: c.actor,
            evidence_ref: c.evidence_ref,
            comment: c.comment,
            at: c.at.and_utc(),
        })
        .collect();
    let documents = personal_documents(conn, &student.id)?;
    let supporting_documents = {
        use crate::db::schema::supporting_documents as sd;
        sd::table
            .filter(sd::student_id.eq(&student.id))
            .order((sd::submitted_at.asc(), sd::id.asc()))
            .select(crate::db::supporting_documents::SubmissionRow::as_select())
            .load(conn)?
            .into_iter()
            .map(|r| PersonalSupportingDocument {
                id: r.id,
                academic_year: r.academic_year,
                etape: r.etape,
                kind: r.kind,
                file_name: r.file_name,
                sha256: r.sha256,
                status: r.status,
                reason: r.reason,
                submitted_at: r.submitted_at.and_utc(),
                decided_by: r.decided_by,
                decided_at: r.decided_at.map(|t| t.and_utc()),
            })
            .collect()
    };
    let grade_transfers = grade_transfer_repo::of_student(conn, &student.cod_etu)?
        .into_iter()
        .map(|t| PersonalGradeTransfer {
            id: t.id,
            composante: t.composante,
            academic_year: t.academic_year,
            etape: t.etape,
            etape_version: t.etape_version,
            created_at: t.created_at.and_utc(),
            created_by: t.created_by,
            changes: Vec::new(),
            files: (t.maquette_sha256, t.output_sha256),
        })
        .collect();
    let audit = audit::for_student(conn, &pseudonym(audit_key, &student.cod_etu))?
        .into_iter()
        .map(|a: AuditRow| PersonalAuditEntry {
            seq: a.seq,
            at: a.at.and_utc(),
            actor: a.actor,
            action: a.action,
            object_type: a.object_type,
            object_id: a.object_id,
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(PersonalData {
        generated_at: Utc::now(),
        identity: PersonalIdentity {
            cod_etu: student.cod_etu.clone(),
            ine: student.ine.clone(),
            last_name: student.last_name.clone(),
            first_name: student.first_name.clone(),
            birth_date: student.birth_date,
            email: student.email.clone(),
            created_at: student.created_at.and_utc(),
            updated_at: student.updated_at.and_utc(),
            erased_at: student.erased_at.map(|t| t.and_utc()),
        },
        enrolments,
        vault,
        consents,
        documents,
        supporting_documents,
        grade_transfers,
        audit,
    })
}

/// Fills each grade transfer of `data` with the student's changes, recomputed from the stored
/// maquette and filled file. Reads the document store (blocking): call it without holding a
/// database connection. Nothing for an erased student (the files know the number only).
pub fn add_grade_changes(
    data: &mut PersonalData,
    store: &dyn DocumentStore,
) -> Result<(), ApiError> {
    if data.identity.erased_at.is_some() {
        return Ok(());
    }
    let number = data.identity.cod_etu.clone();
    for transfer in &mut data.grade_transfers {
        let before = Maquette::parse_kept(&store.get(&transfer.files.0)?)?;
        let after = Maquette::parse_kept(&store.get(&transfer.files.1)?)?;
        transfer.changes = student_changes(&before, &after, &number)
            .into_iter()
            .map(|c| PersonalGradeChange {
                element_code: c.element_code,
                label: c.label,
                result_type: c.result_type,
                before: c.before,
                after: c.after,
            })
            .collect();
    }
    Ok(())
}

/// What an erasure removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureReport {
    /// The pseudonym the student now appears under (in the registry and the audit log).
    pub pseudonym: String,
    /// Stored PDFs deleted.
    pub documents_deleted: usize,
    /// Grade transfers that still hold the student's grades. Their record now lists the student
    /// under the pseudonym and their report (JSON and text) no longer names them, but their
    /// three stored files (the maquette Apogée exported, the grade source, the filled maquette)
    /// are kept as they are, student number and name included: they hold the whole étape's
    /// grades, which the university must keep (RGPD art. 17(3)(b); Apogée is the record).
    pub grade_transfers_kept: usize,
    /// sha256 of the deleted files (the caller removes them from the store after commit).
    #[serde(skip)]
    pub blobs: Vec<String>,
}

/// A student is erased once, and only when no vault of theirs is still live at Digiposte.
fn check_erasable(conn: &mut DbConnection, student: &StudentRow) -> Result<(), ApiError> {
    if student.erased_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            crate::i18n::Text::fixed(
                "cet étudiant a déjà été effacé",
                "this student was already erased",
            ),
        ));
    }
    if let Some(v) = vault_repo::by_student(conn, &student.id)?
        && matches!(
            v.status(),
            VaultStatus::Active | VaultStatus::Preregistered | VaultStatus::TerminationPending
        )
    {
        return Err(vault_repo::invalid_transition(
            v.status(),
            crate::i18n::Text::fixed(
                "le coffre est toujours actif chez Digiposte : résiliez-le avant d'effacer l'étudiant",
                "the vault is still live at Digiposte: terminate it before erasing the student",
            ),
        ));
    }
    Ok(())
}

/// Anonymises the student: identity replaced by a pseudonym, Digiposte identifiers and free
/// text removed, stored PDFs released (their blobs listed for deletion). Enrolments, statuses
/// and the audit chain stay, so counts and verification still hold. Grade transfers list the
/// student under the pseudonym and their stored reports stop naming them; their files are
/// kept (see [`ErasureReport::grade_transfers_kept`]). A vault still live at Digiposte must
/// be terminated first (409). Runs inside a write transaction.
pub fn erase(
    conn: &mut DbConnection,
    audit_key: &[u8],
    student: &StudentRow,
    actor: &str,
) -> Result<ErasureReport, ApiError> {
    check_erasable(conn, student)?;
    let alias = pseudonym(audit_key, &student.cod_etu);
    let now = db::now();
    let mut blobs: Vec<String> = documents::table
        .filter(documents::student_id.eq(&student.id))
        .filter(documents::file_deleted_at.is_null())
        .select(documents::sha256)
        .load(conn)?;
    diesel::update(documents::table.filter(documents::student_id.eq(&student.id)))
        .set((
            documents::cod_etu.eq(&alias),
            documents::ine.eq(None::<String>),
            documents::file_deleted_at.eq(now),
            documents::updated_at.eq(now),
        ))
        .execute(conn)?;
    // Supporting documents are personal: their rows and files go. Locker copies addressed to
    // the student go too; deposits they sent stay with their recipients under the pseudonym.
    {
        use crate::db::schema::{
            locker_deposits, locker_group_members, locker_items, supporting_documents,
        };
        let mut pj: Vec<String> = supporting_documents::table
            .filter(supporting_documents::student_id.eq(&student.id))
            // A piece received on paper has no file.
            .filter(supporting_documents::sha256.ne(""))
            .select(supporting_documents::sha256)
            .load(conn)?;
        diesel::delete(
            supporting_documents::table.filter(supporting_documents::student_id.eq(&student.id)),
        )
        .execute(conn)?;
        let locker_id = format!("student:{}", student.cod_etu);
        diesel::delete(locker_items::table.filter(locker_items::recipient_id.eq(&locker_id)))
            .execute(conn)?;
        diesel::delete(
            locker_group_members::table.filter(locker_group_members::member_id.eq(&locker_id)),
        )
        .execute(conn)?;
        diesel::update(locker_deposits::table.filter(locker_deposits::sender_id.eq(&locker_id)))
            .set(locker_deposits::sender_id.eq(format!("student:{alias}")))
            .execute(conn)?;
        pj.sort();
        pj.dedup();
        blobs.extend(pj);
    }
    diesel::update(vaults::table.filter(vaults::student_id.eq(&student.id)))
        .set((
            vaults::route_code.eq(None::<String>),
            vaults::membership_id.eq(None::<String>),
            vaults::customization_url.eq(None::<String>),
            vaults::last_error.eq(None::<String>),
            vaults::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(consent_events::table.filter(consent_events::student_id.eq(&student.id)))
        .set(consent_events::comment.eq(None::<String>))
        .execute(conn)?;
    // Grade transfers: the link and the reports go under the pseudonym; the files stay.
    let transfers = grade_transfer_repo::of_student(conn, &student.cod_etu)?;
    let erased = ErasedStudent {
        number: &student.cod_etu,
        alias: &alias,
        names: vec![(student.last_name.clone(), student.first_name.clone())],
    };
    for t in &transfers {
        let mut stored = StoredReport::parse(&t.report);
        // The English text first, on a copy: the report still names the student there.
        let mut report = stored.report.clone();
        let english = erase_student_from_report(&mut report, &mut stored.text_en, &erased);
        if erase_student_from_report(&mut stored.report, &mut stored.text, &erased) || english {
            grade_transfer_repo::set_report(conn, &t.id, &stored.to_column())?;
        }
    }
    grade_transfer_repo::rename_student(conn, &student.cod_etu, &alias)?;
    db::students::delete_terms(conn, &student.id)?;
    diesel::update(students::table.find(&student.id))
        .set((
            students::cod_etu.eq(&alias),
            students::ine.eq(None::<String>),
            students::last_name.eq("ANONYME"),
            students::first_name.eq(""),
            students::search_name.eq(""),
            students::birth_date.eq(None::<NaiveDate>),
            students::email.eq(None::<String>),
            students::erased_at.eq(now),
            students::updated_at.eq(now),
        ))
        .execute(conn)?;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor,
            action: "student.erase",
            student: Some(&student.cod_etu),
            object_type: "student",
            object_id: Some(&alias),
            details: serde_json::json!({
                "documents_deleted": blobs.len(),
                "grade_transfers_kept": transfers.len(),
            }),
        },
    )?;
    Ok(ErasureReport {
        pseudonym: alias,
        documents_deleted: blobs.len(),
        grade_transfers_kept: transfers.len(),
        blobs,
    })
}

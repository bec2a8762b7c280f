//! The student registry: the import of an Apogée enrolment extraction (students,
//! enrolments, objections, vaults), the list and one student; their personal data and its
//! erasure are in [`super::personal_data`].

use super::context::{Caller, Context};
use super::personal_data::{self, ErasureReport, PersonalData};
use crate::apogee::enrolment_file;
use crate::auth::DataScope;
use crate::domain::enrolment::ImportReport;
use crate::error::ApiError;
use crate::pagination::Window;

use crate::db::students as repo;
pub use crate::db::students::{EnrolmentRow, StudentFilter, StudentRow};

/// Why a student use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StudentError {
    #[error("no such student within the caller's scope")]
    NotFound,
    /// What the file reader, the repositories or the erasure rules answered, passed on
    /// unchanged.
    #[error(transparent)]
    Lower(#[from] ApiError),
}

type Result<T, E = StudentError> = std::result::Result<T, E>;

/// An enrolment extraction to import.
pub struct Extraction<'a> {
    pub bytes: &'a [u8],
    /// A JSON array of rows (else a CSV).
    pub is_json: bool,
    /// `vaults.auto_subscribe`: queue the subscription of the vaults waiting for it.
    pub auto_subscribe: bool,
}

/// Parses and imports an extraction; idempotent (students and enrolments are upserted). A
/// bad row never aborts the others: the report lists it with its line and reason.
pub async fn import(ctx: &Context, caller: &Caller, file: Extraction<'_>) -> Result<ImportReport> {
    let parsed = if file.is_json {
        enrolment_file::parse_json(file.bytes)?
    } else {
        enrolment_file::parse_csv(file.bytes)?
    };
    let mut report = ImportReport {
        rows: parsed.rows,
        ..ImportReport::default()
    };
    for r in parsed.rejections {
        report.reject(r);
    }
    let (records, objections) = (parsed.records, parsed.objections);
    let (scope, actor, key) = (
        caller.scope.clone(),
        caller.name.clone(),
        ctx.audit_key.clone(),
    );
    let (current_year, auto_subscribe) = (ctx.year, file.auto_subscribe);
    Ok(ctx
        .db
        .run(move |conn| {
            let import = repo::ImportContext {
                scope: &scope,
                actor: &actor,
                current_year,
                audit_key: key.expose().as_bytes(),
                auto_subscribe,
            };
            repo::import(conn, &records, &objections, &import, &mut report)?;
            crate::db::write_transaction(conn, |conn| {
                crate::db::audit::append(
                    conn,
                    key.expose().as_bytes(),
                    crate::db::audit::AuditEvent {
                        actor: &actor,
                        action: "students.import",
                        student: None,
                        object_type: "import",
                        object_id: None,
                        details: serde_json::json!({
                            "rows": report.rows,
                            "created": report.created,
                            "updated": report.updated,
                            "unchanged": report.unchanged,
                            "rejected": report.rejected,
                            "vaults_created": report.vaults_created,
                            "objections_recorded": report.objections_recorded,
                            "vaults_queued": report.vaults_queued,
                        }),
                    },
                )
            })?;
            Ok(report)
        })
        .await?)
}

/// One page of the students within the scope.
pub async fn page(
    ctx: &Context,
    scope: DataScope,
    filter: StudentFilter,
    window: Window,
) -> Result<(Vec<StudentRow>, i64)> {
    Ok(ctx
        .db
        .run(move |conn| repo::list(conn, &scope, &filter, window))
        .await?)
}

/// One student within the scope, and their enrolments.
pub async fn detail(
    ctx: &Context,
    scope: DataScope,
    cod_etu: String,
) -> Result<(StudentRow, Vec<EnrolmentRow>)> {
    ctx.db
        .run_as(move |conn| {
            let student = repo::get(conn, &scope, &cod_etu)?.ok_or(StudentError::NotFound)?;
            let enrolments = repo::enrolments_of(conn, &student.id)?;
            Ok((student, enrolments))
        })
        .await
}

/// Everything passerelle holds on one student within the scope (the data subject's access).
pub async fn personal_data(
    ctx: &Context,
    scope: DataScope,
    cod_etu: String,
) -> Result<PersonalData> {
    let key = ctx.audit_key.clone();
    let mut data: PersonalData = ctx
        .db
        .run_as(move |conn| -> Result<_> {
            let student = repo::get(conn, &scope, &cod_etu)?.ok_or(StudentError::NotFound)?;
            Ok(personal_data::export(
                conn,
                key.expose().as_bytes(),
                &student,
            )?)
        })
        .await?;
    let store = ctx.store.clone();
    actix_web::web::block(move || {
        personal_data::add_grade_changes(&mut data, &*store).map(|()| data)
    })
    .await
    .map_err(ApiError::from)?
    .map_err(StudentError::from)
}

/// Erases (anonymises) a student: identity replaced by a pseudonym, stored files deleted once
/// the anonymisation is committed (a failure then leaves orphan files, never a registered
/// document without its file), and SQLite's write-ahead log purged of the erased pages.
pub async fn erase(ctx: &Context, actor: &str, cod_etu: String) -> Result<ErasureReport> {
    let (key, actor) = (ctx.audit_key.clone(), actor.to_owned());
    let report: ErasureReport = ctx
        .db
        .write_as(move |conn| -> Result<_> {
            let student = repo::by_cod_etu(conn, &cod_etu)?.ok_or(StudentError::NotFound)?;
            Ok(personal_data::erase(
                conn,
                key.expose().as_bytes(),
                &student,
                &actor,
            )?)
        })
        .await?;
    crate::storage::delete_off_thread(&ctx.store, report.blobs.clone()).await?;
    ctx.db.purge_write_ahead_log().await?;
    Ok(report)
}

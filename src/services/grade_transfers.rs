//! Grade transfers (ScoDoc → Apogée): fill (or check) a maquette from a grade file or from
//! ScoDoc, keep the three files and the report; read them back, and the cell-by-cell diff.
//!
//! Scope: a transfer belongs to the composante given, which the caller must manage; when the
//! enrolments place the maquette's étape (for its year) in other composantes only, the
//! transfer is refused.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::context::{Caller, Context};
use crate::apogee::diff::MaquetteDiff;
use crate::apogee::fill::FillOptions;
use crate::apogee::maquette::{Maquette, MaquetteError, ParseOptions};
use crate::apogee::{FillCommandError, FillReport, TransferSource};
use crate::auth::DataScope;
use crate::config::ScoDocDepartment;
use crate::db::audit::{self, AuditEvent};
use crate::db::{DbConnection, composantes};
use crate::error::ApiError;
use crate::pagination::Window;
use crate::scodoc::{ScoDocClients, ScoDocError};
use crate::storage::StorageError;

use crate::db::grade_transfers as repo;
pub use crate::db::grade_transfers::{GradeTransferRow, StoredReport, TransferFilter};

/// Why a grade transfer use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum GradeTransferError {
    #[error("no such grade transfer within the caller's scope")]
    NotFound,
    #[error("unknown composante, or one the caller does not manage")]
    UnknownComposante,
    /// The enrolments place the maquette's étape in other composantes.
    #[error("the enrolments of {year} place étape {etape} in another composante")]
    EtapeElsewhere { etape: String, year: i32 },
    #[error("no ScoDoc department of this name is configured for this composante")]
    UnknownDepartment,
    /// The maquette or the source cannot be used (its code says why).
    #[error(transparent)]
    Transfer(#[from] FillCommandError),
    /// A stored maquette no longer reads.
    #[error(transparent)]
    Stored(#[from] MaquetteError),
    #[error(transparent)]
    ScoDoc(#[from] ScoDocError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// What the repositories answered, passed on unchanged.
    #[error(transparent)]
    Lower(#[from] ApiError),
}

type Result<T, E = GradeTransferError> = std::result::Result<T, E>;

/// Where the grades come from.
pub enum Grades {
    /// ScoDoc's export (zip or filled `.TXT`), or a CSV/JSON of NIP × element.
    File {
        bytes: Vec<u8>,
        name: Option<String>,
    },
    /// Pulled from a configured ScoDoc department (optionally one semester only).
    ScoDoc {
        department: String,
        semester: Option<i64>,
    },
}

/// The configured ScoDoc departments and their clients.
pub struct ScoDocAccess<'a> {
    pub departments: &'a BTreeMap<String, ScoDocDepartment>,
    pub clients: &'a ScoDocClients,
}

pub struct NewTransfer {
    pub composante: String,
    pub maquette: Vec<u8>,
    pub maquette_name: Option<String>,
    pub grades: Grades,
    /// The filling rules (with the caller's `accept_truncated_last_row`).
    pub options: FillOptions,
}

/// Fills (or checks) the maquette and keeps the transfer: the maquette is parsed once.
pub async fn create(
    ctx: &Context,
    caller: &Caller,
    scodoc: ScoDocAccess<'_>,
    new: NewTransfer,
) -> Result<GradeTransferRow> {
    {
        let (code, scope) = (new.composante.clone(), caller.scope.clone());
        let known = ctx
            .db
            .run(move |conn| composantes::get(conn, &scope, &code))
            .await?;
        if known.is_none() {
            return Err(GradeTransferError::UnknownComposante);
        }
    }
    let options = new.options;
    let maquette = {
        let (bytes, parse) = (
            new.maquette.clone(),
            ParseOptions {
                accept_truncated_last_row: options.accept_truncated_last_row,
            },
        );
        actix_web::web::block(move || Maquette::parse_with(&bytes, parse))
            .await
            .map_err(ApiError::from)?
            .map_err(FillCommandError::Maquette)?
    };
    let (etape, year) = (maquette.etape().to_owned(), maquette.academic_year());
    // The étape belongs to one composante: when the enrolments say which, it must be this one.
    {
        let (e, c) = (etape.clone(), new.composante.clone());
        let placed = ctx
            .db
            .run(move |conn| repo::etape_composantes(conn, &e, year))
            .await?;
        if !placed.is_empty() && !placed.contains(&c) {
            return Err(GradeTransferError::EtapeElsewhere { etape, year });
        }
    }
    let (source, department) = gather(&scodoc, &new.composante, new.grades, &maquette).await?;
    // The student numbers of its rows: the students the transfer concerns (data subject's
    // rights).
    let students: Vec<String> = maquette
        .students()
        .iter()
        .map(|s| s.nip().to_owned())
        .collect();
    let etape_version = maquette.etape_version().to_owned();
    let fallback_name = maquette.file_name().map(str::to_owned);
    let (output, report, source) = actix_web::web::block(move || {
        let from = match &source {
            Gathered::File { bytes, .. } => TransferSource::File(bytes),
            Gathered::Pulled(grades) => TransferSource::Grades(grades),
        };
        crate::apogee::transfer_parsed(maquette, from, &options)
            .map(|(output, report)| (output, report, source))
    })
    .await
    .map_err(ApiError::from)??;
    // Keep the three files (content-addressed: the same maquette twice is stored once). Grades
    // pulled from ScoDoc are kept as the JSON passerelle read, to show later what ScoDoc said.
    let (kept_source, source_name) = match source {
        Gathered::File { bytes, name } => (bytes, name),
        Gathered::Pulled(grades) => (
            serde_json::to_vec_pretty(&grades).map_err(ApiError::internal)?,
            department.as_ref().map(|k| format!("scodoc-{k}.json")),
        ),
    };
    let store = ctx.store.clone();
    let (maquette_sha, source_sha, output_sha) = {
        let (m, s, o) = (new.maquette, kept_source, output.clone());
        actix_web::web::block(move || -> Result<_, StorageError> {
            Ok((store.put(&m)?, store.put(&s)?, store.put(&o)?))
        })
        .await
        .map_err(ApiError::from)??
    };
    let row = new_row(Kept {
        composante: new.composante,
        etape,
        etape_version,
        year,
        department,
        maquette_sha,
        maquette_name: new.maquette_name,
        fallback_name,
        source_sha: Some(source_sha),
        source_name,
        output_sha,
        output_size: output.len() as i64,
        report: &report,
        actor: caller.name.clone(),
    });
    let (key, inserted) = (ctx.audit_key.clone(), row.clone());
    ctx.db
        .write(move |conn| record(conn, key.expose().as_bytes(), &inserted, &students))
        .await?;
    Ok(row)
}

/// The grades as gathered: the file sent, or what ScoDoc answered.
enum Gathered {
    File {
        bytes: Vec<u8>,
        name: Option<String>,
    },
    Pulled(crate::apogee::grades::GradeSource),
}

/// Reads the grades: the file as sent, or pulled from the named ScoDoc department (one
/// configured for this composante). Returns the department's configured name, if any.
async fn gather(
    scodoc: &ScoDocAccess<'_>,
    composante: &str,
    grades: Grades,
    maquette: &Maquette,
) -> Result<(Gathered, Option<String>)> {
    match grades {
        Grades::File { bytes, name } => Ok((Gathered::File { bytes, name }, None)),
        Grades::ScoDoc {
            department,
            semester,
        } => {
            let (key, settings) = scodoc
                .departments
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&department))
                .filter(|(_, d)| {
                    d.composantes.is_empty() || d.composantes.iter().any(|c| c == composante)
                })
                .ok_or(GradeTransferError::UnknownDepartment)?;
            let client = scodoc.clients.get(key, settings.client_config(key))?;
            let (year, etape) = (maquette.academic_year(), maquette.etape());
            let grades =
                crate::scodoc::pull_grade_source_from(&*client, year, etape, semester).await?;
            Ok((Gathered::Pulled(grades), Some(key.clone())))
        }
    }
}

/// Inserts the transfer and its students, audited.
fn record(
    conn: &mut DbConnection,
    audit_key: &[u8],
    row: &GradeTransferRow,
    students: &[String],
) -> Result<(), ApiError> {
    repo::insert(conn, row, students)?;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor: &row.created_by,
            action: "grade_transfer.create",
            student: None,
            object_type: "grade_transfer",
            object_id: Some(&row.id),
            details: serde_json::json!({
                "composante": row.composante,
                "etape": row.etape,
                "academic_year": row.academic_year,
                "mode": row.mode,
                "source_kind": row.source_kind,
                "scodoc_department": row.scodoc_department,
                "maquette_sha256": row.maquette_sha256,
                "source_sha256": row.source_sha256,
                "output_sha256": row.output_sha256,
                "cells_changed": row.cells_changed,
                "problems": row.problems,
            }),
        },
    )?;
    Ok(())
}

/// A transfer's files and report, as kept.
struct Kept<'a> {
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

fn new_row(t: Kept<'_>) -> GradeTransferRow {
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

/// A unit enum's serialised (snake_case) name.
fn snake_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One page of the transfers within the caller's scope, newest first.
pub fn page(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &TransferFilter,
    window: Window,
) -> Result<(Vec<GradeTransferRow>, i64), ApiError> {
    repo::list(conn, scope, filter, window)
}

/// A transfer within the caller's scope.
pub async fn find(ctx: &Context, scope: DataScope, id: String) -> Result<GradeTransferRow> {
    ctx.db
        .run_as(move |conn| repo::get(conn, &scope, &id)?.ok_or(GradeTransferError::NotFound))
        .await
}

/// The filled maquette to import into Apogée: the transfer and the file's bytes.
pub async fn file(
    ctx: &Context,
    scope: DataScope,
    id: String,
) -> Result<(GradeTransferRow, Vec<u8>)> {
    let row = find(ctx, scope, id).await?;
    let (store, sha) = (ctx.store.clone(), row.output_sha256.clone());
    let bytes = actix_web::web::block(move || store.get(&sha))
        .await
        .map_err(ApiError::from)??;
    Ok((row, bytes))
}

/// The cells the transfer changed (recomputed from the stored files), only for these
/// students when `nips` names some.
pub async fn diff(
    ctx: &Context,
    scope: DataScope,
    id: String,
    nips: Option<Vec<String>>,
) -> Result<MaquetteDiff> {
    let row = find(ctx, scope, id).await?;
    let store = ctx.store.clone();
    let mut diff = actix_web::web::block(move || -> Result<_> {
        // Stored files were accepted once (a cut last row only when the caller said so).
        let before = Maquette::parse_kept(&store.get(&row.maquette_sha256)?)?;
        let after = Maquette::parse_kept(&store.get(&row.output_sha256)?)?;
        Ok(crate::apogee::diff::diff_maquettes(&before, &after))
    })
    .await
    .map_err(ApiError::from)??;
    if let Some(wanted) = nips {
        diff.changes.retain(|c| wanted.contains(&c.nip));
        diff.students_only_before.retain(|n| wanted.contains(n));
        diff.students_only_after.retain(|n| wanted.contains(n));
    }
    Ok(diff)
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

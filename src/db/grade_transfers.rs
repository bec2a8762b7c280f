//! Grade transfers (a maquette filled or checked from a grade source), scoped by composante.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema::{enrolments, grade_transfer_students, grade_transfers};
use super::{DbBackend, DbConnection};
use crate::domain::scope::DataScope;
use crate::error::ApiError;
use crate::pagination::Window;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = grade_transfers)]
pub struct GradeTransferRow {
    pub id: String,
    pub composante: String,
    pub academic_year: i32,
    pub etape: String,
    pub etape_version: String,
    pub mode: String,
    pub source_kind: String,
    pub scodoc_department: Option<String>,
    pub maquette_sha256: String,
    pub maquette_file_name: String,
    pub source_sha256: Option<String>,
    pub source_file_name: Option<String>,
    pub output_sha256: String,
    pub output_size: i64,
    pub output_file_name: String,
    pub students: i32,
    pub students_changed: i32,
    pub cells_changed: i32,
    pub problems: i32,
    pub report: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = grade_transfer_students)]
struct TransferStudent {
    transfer_id: String,
    cod_etu: String,
}

/// What the `report` column holds: the report as JSON (without the cell-by-cell changes) and
/// its text in French and in English (`text_en` is absent from reports written before it).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredReport {
    pub report: Value,
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_en: String,
}

impl StoredReport {
    /// Reads the column (an unreadable one reads as an empty report).
    pub fn parse(column: &str) -> StoredReport {
        serde_json::from_str(column).unwrap_or(StoredReport {
            report: Value::Null,
            text: String::new(),
            text_en: String::new(),
        })
    }

    /// The text in `lang` (the French one where no English was kept).
    pub fn text_in(&self, lang: crate::i18n::Lang) -> &str {
        match lang {
            crate::i18n::Lang::En if !self.text_en.is_empty() => &self.text_en,
            _ => &self.text,
        }
    }

    pub fn to_column(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn visible<'a>(scope: &DataScope) -> grade_transfers::BoxedQuery<'a, DbBackend> {
    let query = grade_transfers::table.into_boxed();
    match scope {
        DataScope::All => query,
        DataScope::Composantes(codes) => {
            query.filter(grade_transfers::composante.eq_any(codes.clone()))
        }
        // Students never see transfers (their grades reach them through Apogée).
        DataScope::Student(_) => query.filter(grade_transfers::id.ne(grade_transfers::id)),
    }
}

#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    pub composante: Option<String>,
    pub etape: Option<String>,
    pub academic_year: Option<i32>,
}

fn filtered<'a>(
    scope: &DataScope,
    f: &TransferFilter,
) -> grade_transfers::BoxedQuery<'a, DbBackend> {
    let mut q = visible(scope);
    if let Some(c) = &f.composante {
        q = q.filter(grade_transfers::composante.eq(c.clone()));
    }
    if let Some(e) = &f.etape {
        q = q.filter(grade_transfers::etape.eq(e.clone()));
    }
    if let Some(y) = f.academic_year {
        q = q.filter(grade_transfers::academic_year.eq(y));
    }
    q
}

/// A page of transfers, newest first, without their reports (they can be large).
pub fn list(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &TransferFilter,
    window: Window,
) -> Result<(Vec<GradeTransferRow>, i64), ApiError> {
    let rows = filtered(scope, filter)
        .order((
            grade_transfers::created_at.desc(),
            grade_transfers::id.desc(),
        ))
        .offset(window.offset())
        .limit(window.limit())
        .select(GradeTransferRow::as_select())
        .load(conn)?;
    let total = window.total_or(rows.len(), || {
        filtered(scope, filter).count().get_result(conn)
    })?;
    Ok((rows, total))
}

pub fn get(
    conn: &mut DbConnection,
    scope: &DataScope,
    id: &str,
) -> Result<Option<GradeTransferRow>, ApiError> {
    Ok(visible(scope)
        .filter(grade_transfers::id.eq(id.to_owned()))
        .select(GradeTransferRow::as_select())
        .first(conn)
        .optional()?)
}

/// Inserts a transfer and the students it concerns (the student numbers of its maquette's rows,
/// duplicates allowed). Call inside the write transaction.
pub fn insert(
    conn: &mut DbConnection,
    row: &GradeTransferRow,
    students: &[String],
) -> Result<(), ApiError> {
    diesel::insert_into(grade_transfers::table)
        .values(row)
        .execute(conn)?;
    let mut numbers: Vec<&str> = students
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let rows: Vec<TransferStudent> = numbers
        .into_iter()
        .map(|n| TransferStudent {
            transfer_id: row.id.clone(),
            cod_etu: n.to_owned(),
        })
        .collect();
    // Two bound values a row: well under SQLite's and PostgreSQL's limits per statement.
    for batch in rows.chunks(300) {
        super::batch_insert!(conn, grade_transfer_students::table, batch);
    }
    Ok(())
}

/// The transfers whose maquette holds the student, oldest first (whatever the composante:
/// for the data subject's rights).
pub fn of_student(
    conn: &mut DbConnection,
    cod_etu: &str,
) -> Result<Vec<GradeTransferRow>, ApiError> {
    Ok(grade_transfers::table
        .inner_join(grade_transfer_students::table)
        .filter(grade_transfer_students::cod_etu.eq(cod_etu.to_owned()))
        .order((grade_transfers::created_at.asc(), grade_transfers::id.asc()))
        .select(GradeTransferRow::as_select())
        .load(conn)?)
}

/// Files the student's transfers under `alias` (erasure).
pub fn rename_student(
    conn: &mut DbConnection,
    cod_etu: &str,
    alias: &str,
) -> Result<usize, ApiError> {
    Ok(diesel::update(
        grade_transfer_students::table
            .filter(grade_transfer_students::cod_etu.eq(cod_etu.to_owned())),
    )
    .set(grade_transfer_students::cod_etu.eq(alias.to_owned()))
    .execute(conn)?)
}

pub fn set_report(conn: &mut DbConnection, id: &str, report: &str) -> Result<(), ApiError> {
    diesel::update(grade_transfers::table.find(id.to_owned()))
        .set(grade_transfers::report.eq(report.to_owned()))
        .execute(conn)?;
    Ok(())
}

/// The composantes passerelle's enrolments put an étape in, for one academic year.
pub fn etape_composantes(
    conn: &mut DbConnection,
    etape: &str,
    academic_year: i32,
) -> Result<Vec<String>, ApiError> {
    Ok(enrolments::table
        .filter(enrolments::etape.eq(etape.to_owned()))
        .filter(enrolments::academic_year.eq(academic_year))
        .select(enrolments::composante)
        .distinct()
        .order(enrolments::composante)
        .load(conn)?)
}

//! Grade transfers (a maquette filled or checked from a grade source), scoped by composante.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{enrolments, grade_transfers};
use super::{DbBackend, DbConnection};
use crate::auth::DataScope;
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
    let total = match window.total_if_last(rows.len()) {
        Some(total) => total,
        None => filtered(scope, filter).count().get_result(conn)?,
    };
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

pub fn insert(conn: &mut DbConnection, row: &GradeTransferRow) -> Result<(), ApiError> {
    diesel::insert_into(grade_transfers::table)
        .values(row)
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

//! Composantes (COD_CMP): the unit of a manager's scope.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{composantes, enrolments, students};
use super::{DbBackend, DbConnection};
use crate::domain::scope::DataScope;
use crate::error::ApiError;
use crate::pagination::Window;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = composantes)]
pub struct ComposanteRow {
    pub code: String,
    pub label: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = composantes)]
pub struct NewComposante<'a> {
    pub code: &'a str,
    pub label: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = composantes)]
pub struct ComposanteChanges<'a> {
    pub label: &'a str,
    pub updated_at: NaiveDateTime,
}

/// The composantes visible in `scope`, as a boxed query to refine.
fn visible(scope: &DataScope) -> composantes::BoxedQuery<'static, DbBackend> {
    let query = composantes::table.into_boxed();
    match scope {
        DataScope::All => query,
        DataScope::Composantes(codes) => query.filter(composantes::code.eq_any(codes.clone())),
        // Students see the composantes they are enrolled in.
        DataScope::Student(cod_etu) => {
            let enrolled_in = enrolments::table
                .inner_join(students::table)
                .filter(students::cod_etu.eq(cod_etu.clone()))
                .select(enrolments::composante);
            query.filter(composantes::code.eq_any(enrolled_in))
        }
    }
}

/// One page of the composantes visible in `scope`, and how many there are in all.
pub fn list(
    conn: &mut DbConnection,
    scope: &DataScope,
    window: Window,
) -> Result<(Vec<ComposanteRow>, i64), ApiError> {
    let rows = visible(scope)
        .order(composantes::code.asc())
        .offset(window.offset())
        .limit(window.limit())
        .select(ComposanteRow::as_select())
        .load(conn)?;
    let total = window.total_or(rows.len(), || visible(scope).count().get_result(conn))?;
    Ok((rows, total))
}

/// One composante, if it exists within `scope`.
pub fn get(
    conn: &mut DbConnection,
    scope: &DataScope,
    code: &str,
) -> Result<Option<ComposanteRow>, ApiError> {
    Ok(visible(scope)
        .filter(composantes::code.eq(code.to_owned()))
        .select(ComposanteRow::as_select())
        .first(conn)
        .optional()?)
}

/// Whether a composante exists (regardless of scope).
pub fn exists(conn: &mut DbConnection, code: &str) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(composantes::table.find(code))).get_result(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &NewComposante) -> Result<ComposanteRow, ApiError> {
    diesel::insert_into(composantes::table)
        .values(row)
        .execute(conn)?;
    find(conn, row.code)?.ok_or(ApiError::from(diesel::result::Error::NotFound))
}

fn find(conn: &mut DbConnection, code: &str) -> Result<Option<ComposanteRow>, ApiError> {
    Ok(composantes::table
        .find(code)
        .select(ComposanteRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn update(
    conn: &mut DbConnection,
    code: &str,
    changes: &ComposanteChanges,
) -> Result<Option<ComposanteRow>, ApiError> {
    // RETURNING with a Selectable is not portable through MultiConnection: update, then read.
    let updated = diesel::update(composantes::table.find(code))
        .set(changes)
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find(conn, code)
}

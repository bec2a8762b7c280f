//! Supporting documents' storage: the kinds each étape requires in a year, and every deposit
//! (the newest per student, étape and kind is current; older ones are the history).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{enrolments, students, supporting_document_kinds, supporting_documents};
use crate::domain::enrolment::EnrolmentState;
use crate::domain::scope::DataScope;
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = supporting_document_kinds)]
pub struct KindRow {
    pub academic_year: i32,
    pub etape: String,
    pub kind: String,
    pub label: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    /// Comma-separated `Regime` codes; None: every régime.
    pub regimes: Option<String>,
    /// None: boursiers or not.
    pub boursier: Option<bool>,
}

/// One kind an étape requires, as set.
pub struct NewKind {
    pub kind: String,
    pub label: String,
    pub regimes: Option<String>,
    pub boursier: Option<bool>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = supporting_documents)]
pub struct SubmissionRow {
    pub id: String,
    pub student_id: String,
    pub academic_year: i32,
    pub etape: String,
    pub composante: String,
    pub kind: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub status: String,
    pub reason: Option<String>,
    pub submitted_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    /// `upload` or `paper`.
    pub channel: String,
    /// Paper: who recorded it (actor) and their display name, and when it was received.
    pub received_by: Option<String>,
    pub received_by_name: Option<String>,
    pub received_at: Option<NaiveDateTime>,
}

/// A student validly enrolled in an étape, as the follow-up lists them.
#[derive(Debug, Clone, Queryable)]
pub struct EnrolledStudent {
    pub student_id: String,
    pub cod_etu: String,
    pub last_name: String,
    pub first_name: String,
    pub etape: String,
    pub composante: String,
    /// `Regime` code; None: unknown.
    pub regime: Option<String>,
    pub boursier: Option<bool>,
}

/// Replaces the kinds an étape requires in a year.
pub fn set_kinds(
    conn: &mut DbConnection,
    year: i32,
    etape: &str,
    kinds: &[NewKind],
    actor: &str,
) -> Result<(), ApiError> {
    diesel::delete(
        supporting_document_kinds::table
            .filter(supporting_document_kinds::academic_year.eq(year))
            .filter(supporting_document_kinds::etape.eq(etape)),
    )
    .execute(conn)?;
    let now = super::now();
    for k in kinds {
        diesel::insert_into(supporting_document_kinds::table)
            .values((
                supporting_document_kinds::academic_year.eq(year),
                supporting_document_kinds::etape.eq(etape),
                supporting_document_kinds::kind.eq(&k.kind),
                supporting_document_kinds::label.eq(&k.label),
                supporting_document_kinds::regimes.eq(&k.regimes),
                supporting_document_kinds::boursier.eq(k.boursier),
                supporting_document_kinds::created_by.eq(actor),
                supporting_document_kinds::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The kinds required in `year`, for one étape or all.
pub fn kinds(
    conn: &mut DbConnection,
    year: i32,
    etape: Option<&str>,
) -> Result<Vec<KindRow>, ApiError> {
    let mut q = supporting_document_kinds::table
        .filter(supporting_document_kinds::academic_year.eq(year))
        .into_boxed();
    if let Some(e) = etape {
        q = q.filter(supporting_document_kinds::etape.eq(e.to_owned()));
    }
    Ok(q.order((
        supporting_document_kinds::etape.asc(),
        supporting_document_kinds::kind.asc(),
    ))
    .select(KindRow::as_select())
    .load(conn)?)
}

/// Students validly enrolled (state E) in `year`, within `scope`, optionally in one étape or
/// one student only.
pub fn enrolled(
    conn: &mut DbConnection,
    scope: &DataScope,
    year: i32,
    etape: Option<&str>,
    cod_etu: Option<&str>,
) -> Result<Vec<EnrolledStudent>, ApiError> {
    let mut q = enrolments::table
        .inner_join(students::table)
        .filter(enrolments::academic_year.eq(year))
        .filter(enrolments::state.eq(EnrolmentState::E.as_str()))
        .filter(students::erased_at.is_null())
        .into_boxed();
    match scope {
        DataScope::All => {}
        DataScope::Composantes(codes) => q = q.filter(enrolments::composante.eq_any(codes.clone())),
        DataScope::Student(own) => q = q.filter(students::cod_etu.eq(own.clone())),
    }
    if let Some(e) = etape {
        q = q.filter(enrolments::etape.eq(e.to_owned()));
    }
    if let Some(c) = cod_etu {
        q = q.filter(students::cod_etu.eq(c.to_owned()));
    }
    Ok(q.order((
        enrolments::etape.asc(),
        students::search_name.asc(),
        students::cod_etu.asc(),
    ))
    .select((
        students::id,
        students::cod_etu,
        students::last_name,
        students::first_name,
        enrolments::etape,
        enrolments::composante,
        enrolments::regime,
        enrolments::boursier,
    ))
    .load(conn)?)
}

/// Every deposit of these students in `year`, oldest first.
pub fn submissions_of(
    conn: &mut DbConnection,
    student_ids: &[String],
    year: i32,
) -> Result<Vec<SubmissionRow>, ApiError> {
    Ok(supporting_documents::table
        .filter(supporting_documents::student_id.eq_any(student_ids))
        .filter(supporting_documents::academic_year.eq(year))
        .order((
            supporting_documents::submitted_at.asc(),
            supporting_documents::id.asc(),
        ))
        .select(SubmissionRow::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &SubmissionRow) -> Result<(), ApiError> {
    diesel::insert_into(supporting_documents::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// A deposit, if it belongs to a composante of `scope` (404 otherwise).
pub fn get(
    conn: &mut DbConnection,
    scope: &DataScope,
    id: &str,
) -> Result<Option<SubmissionRow>, ApiError> {
    let row: Option<SubmissionRow> = supporting_documents::table
        .find(id)
        .select(SubmissionRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.filter(|r| match scope {
        DataScope::Student(_) => false,
        other => other.covers_composante(&r.composante),
    }))
}

/// The newest deposit for this student, year, étape and kind.
pub fn latest(
    conn: &mut DbConnection,
    student_id: &str,
    year: i32,
    etape: &str,
    kind: &str,
) -> Result<Option<SubmissionRow>, ApiError> {
    Ok(supporting_documents::table
        .filter(supporting_documents::student_id.eq(student_id))
        .filter(supporting_documents::academic_year.eq(year))
        .filter(supporting_documents::etape.eq(etape))
        .filter(supporting_documents::kind.eq(kind))
        .order((
            supporting_documents::submitted_at.desc(),
            supporting_documents::id.desc(),
        ))
        .select(SubmissionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records a manager's decision on a pending deposit (a paper piece's too).
pub fn decide(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    reason: Option<&str>,
    actor: &str,
) -> Result<SubmissionRow, ApiError> {
    diesel::update(supporting_documents::table.find(id))
        .set((
            supporting_documents::status.eq(status),
            supporting_documents::reason.eq(reason),
            supporting_documents::decided_by.eq(Some(actor)),
            supporting_documents::decided_at.eq(Some(super::now())),
        ))
        .execute(conn)?;
    Ok(supporting_documents::table
        .find(id)
        .select(SubmissionRow::as_select())
        .first(conn)?)
}

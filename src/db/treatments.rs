//! Treatments (one uploaded batch each) and their split documents.

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;

use super::schema::{documents, students, treatments, vaults};
use super::{DbBackend, DbConnection};
use crate::domain::delivery::{DeliveryStatus, TreatmentStatus};
use crate::domain::scope::DataScope;
use crate::domain::vault::VaultStatus;
use crate::error::ApiError;
use crate::pagination::Window;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = treatments)]
pub struct TreatmentRow {
    pub id: String,
    pub composante: String,
    pub document_type: String,
    pub academic_year: i32,
    pub session: Option<String>,
    pub label: String,
    pub file_name: String,
    pub file_sha256: String,
    pub file_size: i64,
    pub status: String,
    pub pages_total: Option<i32>,
    pub pages_done: i32,
    pub rejection_code: Option<String>,
    pub rejection_detail: Option<String>,
    pub skipped_pages: String,
    pub warnings: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub split_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub sent_by: Option<String>,
    pub cancelled_at: Option<NaiveDateTime>,
    /// JSON array of the composantes the uploader could act for; `None`: every composante.
    pub authority: Option<String>,
    /// The blocks as they stood at the send (JSON), frozen.
    pub sent_blocks: Option<String>,
    /// The author's display name at upload time (JWT `name`), when known.
    pub created_by_name: Option<String>,
}

impl TreatmentRow {
    pub fn status(&self) -> TreatmentStatus {
        TreatmentStatus::parse(&self.status).unwrap_or(TreatmentStatus::SplitFailed)
    }

    /// The composantes the uploader could act for (`None`: every composante).
    pub fn authority(&self) -> Option<Vec<String>> {
        self.authority
            .as_deref()
            .map(|a| serde_json::from_str(a).unwrap_or_default())
    }
}

/// What a treatment's authority is, from the uploader's scope: `None` for every composante.
pub fn authority_of(scope: &DataScope) -> Option<String> {
    match scope {
        DataScope::All => None,
        DataScope::Composantes(codes) => Some(serde_json::to_string(codes).unwrap_or_default()),
        DataScope::Student(_) => Some("[]".to_owned()),
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = treatments)]
pub struct NewTreatment<'a> {
    pub id: &'a str,
    pub composante: &'a str,
    pub document_type: &'a str,
    pub academic_year: i32,
    pub session: Option<&'a str>,
    pub label: &'a str,
    pub file_name: &'a str,
    pub file_sha256: &'a str,
    pub file_size: i64,
    pub status: &'a str,
    pub pages_total: Option<i32>,
    pub pages_done: i32,
    pub rejection_code: Option<&'a str>,
    pub rejection_detail: Option<&'a str>,
    pub skipped_pages: &'a str,
    pub warnings: &'a str,
    pub created_by: &'a str,
    pub created_by_name: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub authority: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = documents)]
pub struct DocumentRow {
    pub id: String,
    pub treatment_id: String,
    pub student_id: Option<String>,
    pub cod_etu: String,
    pub ine: Option<String>,
    pub pages: String,
    pub flags: String,
    pub sha256: String,
    pub size: i64,
    pub identity_confirmed_by: Option<String>,
    pub identity_confirmed_at: Option<NaiveDateTime>,
    pub delivery_status: Option<String>,
    pub delivery_reason: Option<String>,
    pub digiposte_document_id: Option<String>,
    pub deposit_started_at: Option<NaiveDateTime>,
    pub queued_at: Option<NaiveDateTime>,
    pub deposited_at: Option<NaiveDateTime>,
    pub receipt_at: Option<NaiveDateTime>,
    pub file_deleted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The earlier document this one duplicates or corrects, when held for it.
    pub earlier_document_id: Option<String>,
    pub replacement_confirmed_by: Option<String>,
    pub replacement_confirmed_at: Option<NaiveDateTime>,
    /// An administrator released a document held outside the uploader's composantes.
    pub released_by: Option<String>,
    pub released_at: Option<NaiveDateTime>,
}

impl DocumentRow {
    pub fn flags(&self) -> Vec<String> {
        serde_json::from_str(&self.flags).unwrap_or_default()
    }

    /// Flags that stop delivery until a manager confirms the identity.
    pub fn needs_identity_check(&self) -> bool {
        let blocking = self.flags().iter().any(|f| {
            matches!(
                f.as_str(),
                crate::domain::delivery::flags::IDENTITY_MISMATCH
                    | crate::pdf::flag::AMBIGUOUS_STUDENT
            )
        });
        blocking && self.identity_confirmed_at.is_none()
    }
}

fn visible<'a>(scope: &DataScope) -> treatments::BoxedQuery<'a, DbBackend> {
    let query = treatments::table.into_boxed();
    match scope {
        DataScope::All => query,
        DataScope::Composantes(codes) => query.filter(treatments::composante.eq_any(codes.clone())),
        // Students never see treatments (their documents reach them through Digiposte).
        DataScope::Student(_) => query.filter(treatments::id.ne(treatments::id)),
    }
}

#[derive(Debug, Clone, Default)]
pub struct TreatmentFilter {
    pub statuses: Vec<TreatmentStatus>,
    pub composante: Option<String>,
    pub document_type: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Part of the label, in any case (ASCII letters).
    pub label: Option<String>,
    /// The author, as recorded (`manager:…`, `admin:…`, `service:…`).
    pub author: Option<String>,
}

fn filtered<'a>(scope: &DataScope, f: &TreatmentFilter) -> treatments::BoxedQuery<'a, DbBackend> {
    let mut q = visible(scope);
    if !f.statuses.is_empty() {
        let s: Vec<&'static str> = f.statuses.iter().map(|s| s.as_str()).collect();
        q = q.filter(treatments::status.eq_any(s));
    }
    if let Some(c) = &f.composante {
        q = q.filter(treatments::composante.eq(c.clone()));
    }
    if let Some(t) = &f.document_type {
        q = q.filter(treatments::document_type.eq(t.clone()));
    }
    if let Some(t) = f.from {
        q = q.filter(treatments::created_at.ge(t));
    }
    if let Some(t) = f.to {
        q = q.filter(treatments::created_at.lt(t));
    }
    if let Some(label) = &f.label {
        let escaped: String = label
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        q = q.filter(
            lower(treatments::label)
                .like(format!("%{escaped}%"))
                .escape('\\'),
        );
    }
    if let Some(author) = &f.author {
        q = q.filter(treatments::created_by.eq(author.clone()));
    }
    q
}

diesel::define_sql_function! {
    /// SQL `lower()`, on SQLite and PostgreSQL alike.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub fn list(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &TreatmentFilter,
    window: Window,
) -> Result<(Vec<TreatmentRow>, i64), ApiError> {
    let rows = filtered(scope, filter)
        .order((treatments::created_at.desc(), treatments::id.desc()))
        .offset(window.offset())
        .limit(window.limit())
        .select(TreatmentRow::as_select())
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
) -> Result<Option<TreatmentRow>, ApiError> {
    Ok(visible(scope)
        .filter(treatments::id.eq(id.to_owned()))
        .select(TreatmentRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<TreatmentRow, ApiError> {
    Ok(treatments::table
        .find(id)
        .select(TreatmentRow::as_select())
        .first(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &NewTreatment) -> Result<TreatmentRow, ApiError> {
    diesel::insert_into(treatments::table)
        .values(row)
        .execute(conn)?;
    find(conn, row.id)
}

pub fn set_progress(
    conn: &mut DbConnection,
    id: &str,
    done: i32,
    total: i32,
) -> Result<(), ApiError> {
    diesel::update(treatments::table.find(id))
        .set((
            treatments::pages_done.eq(done),
            treatments::pages_total.eq(total),
            treatments::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a successful split: status, pages, skipped pages and warnings. False when the
/// treatment was no longer `splitting` (another worker recorded it first): the update is the
/// compare-and-set that makes one split win, since on PostgreSQL it locks the row until the
/// winner's transaction ends and then re-reads the status.
pub fn mark_split(
    conn: &mut DbConnection,
    id: &str,
    pages: i32,
    skipped: &[u32],
    warnings: &[crate::i18n::Text],
) -> Result<bool, ApiError> {
    treatment_allowed(TreatmentStatus::Splitting, TreatmentStatus::Split)?;
    let now = super::now();
    let updated = diesel::update(
        treatments::table
            .filter(treatments::id.eq(id))
            .filter(treatments::status.eq(TreatmentStatus::Splitting.as_str())),
    )
    .set((
        treatments::status.eq(TreatmentStatus::Split.as_str()),
        treatments::pages_total.eq(pages),
        treatments::pages_done.eq(pages),
        treatments::skipped_pages.eq(serde_json::to_string(skipped).unwrap_or_default()),
        treatments::warnings.eq(serde_json::to_string(warnings).unwrap_or_default()),
        treatments::split_at.eq(now),
        treatments::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Whether another treatment still waiting for its split holds the same batch file (the
/// same PDF uploaded twice: the store keeps one content-addressed copy for both).
pub fn batch_file_still_needed(
    conn: &mut DbConnection,
    file_sha256: &str,
    except_id: &str,
) -> Result<bool, ApiError> {
    Ok(diesel::select(exists(
        treatments::table
            .filter(treatments::file_sha256.eq(file_sha256))
            .filter(treatments::id.ne(except_id))
            .filter(treatments::status.eq(TreatmentStatus::Splitting.as_str())),
    ))
    .get_result(conn)?)
}

/// Records a refused batch; false when the treatment was no longer `splitting`.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: &str,
    code: &str,
    detail: &str,
) -> Result<bool, ApiError> {
    treatment_allowed(TreatmentStatus::Splitting, TreatmentStatus::SplitFailed)?;
    let updated = diesel::update(
        treatments::table
            .filter(treatments::id.eq(id))
            .filter(treatments::status.eq(TreatmentStatus::Splitting.as_str())),
    )
    .set((
        treatments::status.eq(TreatmentStatus::SplitFailed.as_str()),
        treatments::rejection_code.eq(code),
        treatments::rejection_detail.eq(detail),
        treatments::updated_at.eq(super::now()),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Refuses a status change that is not a row of the treatment transition table (a bug,
/// never a request's fault).
fn treatment_allowed(from: TreatmentStatus, to: TreatmentStatus) -> Result<(), ApiError> {
    if from.may_become(to) {
        Ok(())
    } else {
        Err(ApiError::internal(format!(
            "treatment transition {from:?} -> {to:?} is not in the table"
        )))
    }
}

/// Moves a treatment from `from` to `to`; false if it was not in `from` any more.
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    from: TreatmentStatus,
    to: TreatmentStatus,
    actor: &str,
) -> Result<bool, ApiError> {
    treatment_allowed(from, to)?;
    let now = super::now();
    let query = diesel::update(
        treatments::table
            .filter(treatments::id.eq(id))
            .filter(treatments::status.eq(from.as_str())),
    );
    let n = match to {
        TreatmentStatus::Cancelled => query
            .set((
                treatments::status.eq(to.as_str()),
                treatments::cancelled_at.eq(now),
                treatments::updated_at.eq(now),
            ))
            .execute(conn)?,
        TreatmentStatus::Sent => query
            .set((
                treatments::status.eq(to.as_str()),
                treatments::sent_at.eq(now),
                treatments::sent_by.eq(actor),
                treatments::updated_at.eq(now),
            ))
            .execute(conn)?,
        _ => query
            .set((
                treatments::status.eq(to.as_str()),
                treatments::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

pub fn insert_documents(conn: &mut DbConnection, rows: &[DocumentRow]) -> Result<(), ApiError> {
    for batch in rows.chunks(100) {
        super::batch_insert!(conn, documents::table, batch);
    }
    Ok(())
}

/// Which block of the treatment view a document belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    All,
    /// Within the uploader's authority, with an active vault.
    WithVault,
    /// Unknown students, and students within the authority without an active vault.
    WithoutVault,
    /// Students with no valid enrolment this year in the uploader's composantes (and not
    /// released by an administrator).
    OutsideComposante,
}

/// A document with its student's registry name and vault status, as the treatment view shows it.
pub type DocumentView = (DocumentRow, Option<(String, String)>, Option<String>);

/// Whose documents a treatment may deliver: its authority and the current academic year.
#[derive(Debug, Clone)]
pub struct Reach {
    /// `None`: every composante.
    pub composantes: Option<Vec<String>>,
    pub year: i32,
}

impl Reach {
    pub fn of(t: &TreatmentRow, year: i32) -> Reach {
        Reach {
            composantes: t.authority(),
            year,
        }
    }
}

fn documents_of<'a>(
    treatment_id: &str,
    block: Block,
    reach: &Reach,
) -> documents::BoxedQuery<'a, DbBackend> {
    use super::schema::enrolments;
    use diesel::dsl::not;
    use diesel::sql_types::Bool;
    let q = documents::table
        .filter(documents::treatment_id.eq(treatment_id.to_owned()))
        .into_boxed();
    let every = reach.composantes.is_none();
    // A never-matching code stands in for "every composante" (no empty IN list).
    let codes = reach
        .composantes
        .clone()
        .unwrap_or_else(|| vec![String::new()]);
    let year = reach.year;
    macro_rules! within {
        () => {
            exists(
                enrolments::table
                    .filter(enrolments::student_id.nullable().eq(documents::student_id))
                    .filter(enrolments::academic_year.eq(year))
                    .filter(
                        enrolments::state.eq(crate::domain::enrolment::EnrolmentState::E.as_str()),
                    )
                    .filter(
                        enrolments::composante
                            .eq_any(codes.clone())
                            .or(every.into_sql::<Bool>()),
                    ),
            )
            .or(documents::released_at.is_not_null())
        };
    }
    macro_rules! active {
        () => {
            exists(
                vaults::table
                    .filter(vaults::student_id.nullable().eq(documents::student_id))
                    .filter(vaults::status.eq(VaultStatus::Active.as_str())),
            )
        };
    }
    match block {
        Block::All => q,
        Block::WithVault => q.filter(within!().and(active!())),
        Block::WithoutVault => q.filter(
            documents::student_id
                .is_null()
                .or(within!().and(not(active!()))),
        ),
        Block::OutsideComposante => {
            q.filter(documents::student_id.is_not_null().and(not(within!())))
        }
    }
}

pub fn documents_page(
    conn: &mut DbConnection,
    treatment_id: &str,
    block: Block,
    reach: &Reach,
    window: Window,
) -> Result<(Vec<DocumentView>, i64), ApiError> {
    let rows: Vec<DocumentRow> = documents_of(treatment_id, block, reach)
        .order((documents::cod_etu.asc(), documents::id.asc()))
        .offset(window.offset())
        .limit(window.limit())
        .select(DocumentRow::as_select())
        .load(conn)?;
    let total = window.total_or(rows.len(), || {
        documents_of(treatment_id, block, reach)
            .count()
            .get_result(conn)
    })?;
    Ok((views_of(conn, rows)?, total))
}

/// One document of a treatment with its student's name and vault status.
pub fn document_view(
    conn: &mut DbConnection,
    treatment_id: &str,
    id: &str,
) -> Result<Option<DocumentView>, ApiError> {
    let row = document(conn, treatment_id, id)?;
    Ok(views_of(conn, row.into_iter().collect())?.pop())
}

/// Documents with their students' names and vault statuses (two queries, whatever the count).
fn views_of(
    conn: &mut DbConnection,
    rows: Vec<DocumentRow>,
) -> Result<Vec<DocumentView>, ApiError> {
    let student_ids: Vec<String> = rows.iter().filter_map(|d| d.student_id.clone()).collect();
    let names: std::collections::HashMap<String, (String, String)> = students::table
        .filter(students::id.eq_any(&student_ids))
        .select((students::id, students::last_name, students::first_name))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, l, f)| (id, (l, f)))
        .collect();
    let statuses: std::collections::HashMap<String, String> = vaults::table
        .filter(vaults::student_id.eq_any(&student_ids))
        .select((vaults::student_id, vaults::status))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let views = rows
        .into_iter()
        .map(|d| {
            let name = d.student_id.as_ref().and_then(|id| names.get(id).cloned());
            let vault = d
                .student_id
                .as_ref()
                .and_then(|id| statuses.get(id).cloned());
            (d, name, vault)
        })
        .collect();
    Ok(views)
}

/// The blocks: students, with an active vault, without one, outside the uploader's
/// composantes (the last three add up to the first).
pub fn block_counts(
    conn: &mut DbConnection,
    treatment_id: &str,
    reach: &Reach,
) -> Result<(i64, i64, i64, i64), ApiError> {
    let mut count = |block| -> Result<i64, ApiError> {
        Ok(documents_of(treatment_id, block, reach)
            .count()
            .get_result(conn)?)
    };
    let all = count(Block::All)?;
    let with = count(Block::WithVault)?;
    let outside = count(Block::OutsideComposante)?;
    Ok((all, with, all - with - outside, outside))
}

/// Documents per delivery state in a treatment.
pub fn delivery_counts(
    conn: &mut DbConnection,
    treatment_id: &str,
) -> Result<Vec<(Option<String>, i64)>, ApiError> {
    use diesel::dsl::count_star;
    Ok(documents::table
        .filter(documents::treatment_id.eq(treatment_id))
        .group_by(documents::delivery_status)
        .select((documents::delivery_status, count_star()))
        .load(conn)?)
}

pub fn document(
    conn: &mut DbConnection,
    treatment_id: &str,
    id: &str,
) -> Result<Option<DocumentRow>, ApiError> {
    Ok(documents::table
        .filter(documents::treatment_id.eq(treatment_id))
        .filter(documents::id.eq(id))
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn all_documents(
    conn: &mut DbConnection,
    treatment_id: &str,
) -> Result<Vec<DocumentRow>, ApiError> {
    Ok(documents::table
        .filter(documents::treatment_id.eq(treatment_id))
        .order(documents::cod_etu.asc())
        .select(DocumentRow::as_select())
        .load(conn)?)
}

pub fn confirm_identity(conn: &mut DbConnection, id: &str, actor: &str) -> Result<(), ApiError> {
    let now = super::now();
    diesel::update(documents::table.find(id))
        .set((
            documents::identity_confirmed_by.eq(actor),
            documents::identity_confirmed_at.eq(now),
            documents::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Documents whose file retention has run out: stored, in a final delivery state (or held
/// for want of a vault) reached before `before` (at most `limit`, oldest first).
pub fn expired_files(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> Result<Vec<(String, String)>, ApiError> {
    // `no_vault` is as settled as a final state: the send skipped the student, and sending to
    // them once they have a vault is a new treatment.
    let finals: Vec<&str> = DeliveryStatus::ALL
        .into_iter()
        .filter(|s| s.is_final() || *s == DeliveryStatus::NoVault)
        .map(DeliveryStatus::as_str)
        .collect();
    let reached = documents::receipt_at.lt(before).or(documents::receipt_at
        .is_null()
        .and(documents::updated_at.lt(before)));
    Ok(documents::table
        .filter(documents::file_deleted_at.is_null())
        .filter(documents::delivery_status.eq_any(finals))
        .filter(reached)
        .order(documents::updated_at.asc())
        .limit(limit)
        .select((documents::id, documents::sha256))
        .load(conn)?)
}

/// Of these blobs, the ones no document outside `ids` still keeps: content-addressed storage
/// shares one file between identical documents, so a blob goes only with its last keeper.
pub fn blobs_only_kept_by(
    conn: &mut DbConnection,
    ids: &[String],
    blobs: &[String],
) -> Result<Vec<String>, ApiError> {
    let kept: std::collections::HashSet<String> = documents::table
        .filter(documents::sha256.eq_any(blobs))
        .filter(documents::file_deleted_at.is_null())
        .filter(documents::id.ne_all(ids))
        .select(documents::sha256)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut only: Vec<String> = blobs
        .iter()
        .filter(|b| !kept.contains(*b))
        .cloned()
        .collect();
    only.sort();
    only.dedup();
    Ok(only)
}

/// Marks the files of these documents deleted (the caller removes the blobs after commit).
pub fn mark_files_deleted(conn: &mut DbConnection, ids: &[String]) -> Result<(), ApiError> {
    let now = super::now();
    diesel::update(documents::table.filter(documents::id.eq_any(ids)))
        .set((
            documents::file_deleted_at.eq(now),
            documents::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A document and whether it may be sent (or why not).
pub type Verdict = (DocumentRow, Result<(), crate::domain::delivery::Held>);

/// Delivery states in which a document counts as sent to its student (it may be, or is, in
/// the vault): a second document with its content must not follow.
pub const SENT_STATES: [DeliveryStatus; 4] = [
    DeliveryStatus::Queued,
    DeliveryStatus::AwaitingReceipt,
    DeliveryStatus::Transmitted,
    DeliveryStatus::Uncertain,
];

/// Every document of a treatment with whether it may be sent (and why not).
pub fn deliverability(
    conn: &mut DbConnection,
    t: &TreatmentRow,
    year: i32,
) -> Result<Vec<Verdict>, ApiError> {
    let docs = all_documents(conn, &t.id)?;
    verdicts(conn, t, docs, year)
}

/// These documents of `t` with whether each may be sent now (and why not).
pub fn verdicts(
    conn: &mut DbConnection,
    t: &TreatmentRow,
    docs: Vec<DocumentRow>,
    year: i32,
) -> Result<Vec<Verdict>, ApiError> {
    use super::schema::enrolments;
    use std::collections::{HashMap, HashSet};
    let ids: Vec<String> = docs.iter().filter_map(|d| d.student_id.clone()).collect();
    let active: HashSet<String> = vaults::table
        .filter(vaults::student_id.eq_any(&ids))
        .filter(vaults::status.eq(VaultStatus::Active.as_str()))
        .select(vaults::student_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let refused = super::consents::refused_students(conn, &ids)?;
    let mut enrolled = enrolments::table
        .filter(enrolments::student_id.eq_any(&ids))
        .filter(enrolments::academic_year.eq(year))
        .filter(enrolments::state.eq(crate::domain::enrolment::EnrolmentState::E.as_str()))
        .select(enrolments::student_id)
        .distinct()
        .into_boxed();
    if let Some(codes) = t.authority() {
        enrolled = enrolled.filter(enrolments::composante.eq_any(codes));
    }
    let within: HashSet<String> = enrolled.load::<String>(conn)?.into_iter().collect();
    // What these students already were sent: (document, student, sha256, kind, year).
    let sent: Vec<(String, Option<String>, String, String, i32)> = documents::table
        .inner_join(treatments::table)
        .filter(documents::student_id.eq_any(&ids))
        .filter(documents::delivery_status.eq_any(SENT_STATES.map(DeliveryStatus::as_str)))
        .order((documents::queued_at.asc(), documents::id.asc()))
        .select((
            documents::id,
            documents::student_id,
            documents::sha256,
            treatments::document_type,
            treatments::academic_year,
        ))
        .load(conn)?;
    let mut by_student: HashMap<String, Vec<(String, String, String, i32)>> = HashMap::new();
    for (id, student, sha, kind, y) in sent {
        if let Some(student) = student {
            by_student
                .entry(student)
                .or_default()
                .push((id, sha, kind, y));
        }
    }
    Ok(docs
        .into_iter()
        .map(|d| {
            let student = d.student_id.as_deref();
            let earlier = student
                .and_then(|s| by_student.get(s))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let others = || earlier.iter().filter(|(id, ..)| *id != d.id);
            let facts = crate::domain::delivery::DeliveryFacts {
                known_student: student.is_some(),
                within_authority: d.released_at.is_some()
                    || student.is_some_and(|s| within.contains(s)),
                needs_identity_check: d.needs_identity_check(),
                consent_refused: student.is_some_and(|s| refused.contains(s)),
                vault_active: student.is_some_and(|s| active.contains(s)),
                same_content_sent: others()
                    .find(|(_, sha, ..)| *sha == d.sha256)
                    .map(|(id, ..)| id.clone()),
                unconfirmed_replacement_of: others()
                    .filter(|_| d.replacement_confirmed_at.is_none())
                    .find(|(_, sha, kind, y)| {
                        *sha != d.sha256 && *kind == t.document_type && *y == t.academic_year
                    })
                    .map(|(id, ..)| id.clone()),
            };
            let verdict = crate::domain::delivery::deliverability(&facts);
            (d, verdict)
        })
        .collect())
}

/// The live (not cancelled, not refused) treatments within `scope` holding a batch with these
/// bytes, newest first.
pub fn live_with_file(
    conn: &mut DbConnection,
    scope: &DataScope,
    file_sha256: &str,
) -> Result<Vec<String>, ApiError> {
    Ok(visible(scope)
        .filter(treatments::file_sha256.eq(file_sha256.to_owned()))
        .filter(treatments::status.ne_all([
            TreatmentStatus::Cancelled.as_str(),
            TreatmentStatus::SplitFailed.as_str(),
        ]))
        .order((treatments::created_at.desc(), treatments::id.desc()))
        .select(treatments::id)
        .load(conn)?)
}

/// Freezes the blocks as they stood at the send (JSON).
pub fn freeze_blocks(conn: &mut DbConnection, id: &str, blocks: &str) -> Result<(), ApiError> {
    diesel::update(treatments::table.find(id))
        .set(treatments::sent_blocks.eq(blocks))
        .execute(conn)?;
    Ok(())
}

/// An administrator releases a document held outside the uploader's composantes.
pub fn release(conn: &mut DbConnection, id: &str, actor: &str) -> Result<bool, ApiError> {
    let now = super::now();
    Ok(diesel::update(
        documents::table
            .filter(documents::id.eq(id))
            .filter(documents::released_at.is_null()),
    )
    .set((
        documents::released_by.eq(actor),
        documents::released_at.eq(now),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// A manager confirms a corrected document replaces the one already delivered.
pub fn confirm_replacement(
    conn: &mut DbConnection,
    id: &str,
    actor: &str,
) -> Result<bool, ApiError> {
    let now = super::now();
    Ok(diesel::update(
        documents::table
            .filter(documents::id.eq(id))
            .filter(documents::replacement_confirmed_at.is_null()),
    )
    .set((
        documents::replacement_confirmed_by.eq(actor),
        documents::replacement_confirmed_at.eq(now),
        documents::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

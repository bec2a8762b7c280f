//! Students and their enrolments: the idempotent import from Apogée extractions, and reads.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{enrolments, student_terms, students};
use super::{DbBackend, DbConnection};
use crate::domain::enrolment::{
    EnrolmentRecord, EnrolmentState, ImportReport, Rejection, RowOutcome,
};
use crate::domain::scope::DataScope;
use crate::domain::text::fold;
use crate::error::ApiError;
use crate::i18n::Text;
use crate::pagination::Window;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = students)]
pub struct StudentRow {
    pub id: String,
    pub cod_etu: String,
    pub ine: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub search_name: String,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub erased_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = students)]
struct NewStudent {
    id: String,
    cod_etu: String,
    ine: Option<String>,
    last_name: String,
    first_name: String,
    search_name: String,
    birth_date: Option<NaiveDate>,
    email: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = students, treat_none_as_null = true)]
struct StudentIdentity<'a> {
    ine: Option<&'a str>,
    last_name: &'a str,
    first_name: &'a str,
    search_name: String,
    birth_date: Option<NaiveDate>,
    email: Option<&'a str>,
    updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = enrolments)]
pub struct EnrolmentRow {
    pub student_id: String,
    pub academic_year: i32,
    pub etape: String,
    pub composante: String,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// `Regime` code; None: unknown.
    pub regime: Option<String>,
    /// None: unknown.
    pub boursier: Option<bool>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = student_terms)]
struct NewTerm {
    term: String,
    student_id: String,
}

/// The words a student is found by: the student number (so a number prefix is the same index
/// range as a name prefix, and the search is one semi-join), then the names.
fn terms_of(student_id: &str, cod_etu: &str, last_name: &str, first_name: &str) -> Vec<NewTerm> {
    crate::domain::text::search_terms(&[cod_etu, last_name, first_name])
        .into_iter()
        .map(|term| NewTerm {
            term,
            student_id: student_id.to_owned(),
        })
        .collect()
}

/// Forgets a student's search terms (before new ones, or for an erasure).
pub fn delete_terms(conn: &mut DbConnection, student_id: &str) -> Result<(), ApiError> {
    diesel::delete(student_terms::table.filter(student_terms::student_id.eq(student_id)))
        .execute(conn)?;
    Ok(())
}

/// The text students are sorted by: folded "last first".
pub fn search_name(last_name: &str, first_name: &str) -> String {
    fold(&format!("{last_name} {first_name}"))
}

/// What the import needs to know besides the rows.
pub struct ImportContext<'a> {
    /// The caller's scope: rows of composantes outside it are rejected.
    pub scope: &'a DataScope,
    pub actor: &'a str,
    pub current_year: i32,
    /// The audit log's key: identity changes are audited one by one.
    pub audit_key: &'a [u8],
    /// `vaults.auto_subscribe`: queue the subscription of the vaults waiting for it.
    pub auto_subscribe: bool,
}

/// Rows are written in chunks, each in its own transaction: a large file neither holds the
/// write lock for long nor is lost whole on a late failure.
pub const IMPORT_CHUNK: usize = 500;

/// Upserts one chunk of valid rows; adds outcomes and rejections to `report`, and the ids of
/// students whose enrolments were seen to `touched`.
pub fn import_chunk(
    conn: &mut DbConnection,
    rows: &[EnrolmentRecord],
    ctx: &ImportContext,
    known_composantes: &HashSet<String>,
    report: &mut ImportReport,
    touched: &mut HashMap<String, String>,
) -> Result<(), ApiError> {
    let cod_etus: Vec<&str> = rows.iter().map(|r| r.cod_etu.as_str()).collect();
    let mut existing: HashMap<String, StudentRow> = students::table
        .filter(students::cod_etu.eq_any(&cod_etus))
        .select(StudentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|s| (s.cod_etu.clone(), s))
        .collect();
    let ines: Vec<&str> = rows.iter().filter_map(|r| r.ine.as_deref()).collect();
    let mut ine_owner: HashMap<String, String> = students::table
        .filter(students::ine.eq_any(&ines))
        .select((students::ine.assume_not_null(), students::cod_etu))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let ids: Vec<&str> = existing.values().map(|s| s.id.as_str()).collect();
    let mut enrolled: HashMap<(String, i32, String), EnrolmentRow> = enrolments::table
        .filter(enrolments::student_id.eq_any(&ids))
        .select(EnrolmentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|e| ((e.student_id.clone(), e.academic_year, e.etape.clone()), e))
        .collect();
    let limits = ScopeLimits::load(conn, ctx.scope, rows, &enrolled)?;

    let now = super::now();
    let mut new_students: Vec<NewStudent> = Vec::new();
    let mut new_terms: Vec<NewTerm> = Vec::new();
    let mut new_enrolments: Vec<EnrolmentRow> = Vec::new();
    for row in rows {
        let reject = |code: &str, reason: Text| Rejection::new(row.line, code, reason);
        if !known_composantes.contains(&row.composante) {
            report.reject(reject(
                "unknown_composante",
                Text::fixed(
                    "composante (COD_CMP) n'est pas une composante connue ; un administrateur la crée d'abord",
                    "composante (COD_CMP) is not a known composante; an administrator creates it first",
                ),
            ));
            continue;
        }
        if !ctx.scope.covers_composante(&row.composante) {
            report.reject(reject(
                "composante_out_of_scope",
                Text::fixed(
                    "composante (COD_CMP) est hors des composantes que vous gérez",
                    "composante (COD_CMP) is outside the composantes you manage",
                ),
            ));
            continue;
        }
        if limits.etape_elsewhere(row) {
            report.reject(reject(
                "outside_scope",
                Text::fixed(
                    "étape (COD_ETP) appartient à une composante hors de celles que vous gérez",
                    "étape (COD_ETP) belongs to a composante outside the ones you manage",
                ),
            ));
            continue;
        }
        if let Some(student) = existing.get(&row.cod_etu)
            && limits.enrolled_elsewhere(&student.id)
            && identity_differs(student, row)
        {
            report.reject(reject(
                "outside_scope",
                Text::fixed(
                    "l'étudiant est inscrit dans une composante hors de celles que vous gérez : \
                     seuls cette composante ou un administrateur changent son identité",
                    "the student is enrolled in a composante outside the ones you manage: their \
                     identity is changed only by that composante or an administrator",
                ),
            ));
            continue;
        }
        if let Some(ine) = &row.ine
            && let Some(owner) = ine_owner.get(ine)
            && owner != &row.cod_etu
        {
            report.reject(reject(
                "duplicate_ine",
                Text::fixed(
                    "ine (COD_NNE_IND) appartient déjà à un autre numéro d'étudiant (doublon)",
                    "ine (COD_NNE_IND) already belongs to another student number (doublon)",
                ),
            ));
            continue;
        }

        let mut outcome = RowOutcome::Unchanged;
        let student_id = match existing.get(&row.cod_etu) {
            Some(student) => {
                if identity_differs(student, row) {
                    super::audit::append(
                        conn,
                        ctx.audit_key,
                        super::audit::AuditEvent {
                            actor: ctx.actor,
                            action: "student.identity_changed",
                            student: Some(&student.cod_etu),
                            object_type: "student",
                            object_id: Some(&student.id),
                            details: serde_json::json!({
                                "fields": changed_identity_fields(student, row),
                            }),
                        },
                    )?;
                    diesel::update(students::table.find(&student.id))
                        .set(&StudentIdentity {
                            ine: row.ine.as_deref(),
                            last_name: &row.last_name,
                            first_name: &row.first_name,
                            search_name: search_name(&row.last_name, &row.first_name),
                            birth_date: row.birth_date,
                            email: row.email.as_deref(),
                            updated_at: now,
                        })
                        .execute(conn)?;
                    delete_terms(conn, &student.id)?;
                    new_terms.extend(terms_of(
                        &student.id,
                        &row.cod_etu,
                        &row.last_name,
                        &row.first_name,
                    ));
                    if let Some(old) = &student.ine {
                        ine_owner.remove(old);
                    }
                    outcome = RowOutcome::Updated;
                    let updated = StudentRow {
                        ine: row.ine.clone(),
                        last_name: row.last_name.clone(),
                        first_name: row.first_name.clone(),
                        birth_date: row.birth_date,
                        email: row.email.clone(),
                        ..student.clone()
                    };
                    existing.insert(row.cod_etu.clone(), updated);
                }
                existing[&row.cod_etu].id.clone()
            }
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                let student = NewStudent {
                    id: id.clone(),
                    cod_etu: row.cod_etu.clone(),
                    ine: row.ine.clone(),
                    last_name: row.last_name.clone(),
                    first_name: row.first_name.clone(),
                    search_name: search_name(&row.last_name, &row.first_name),
                    birth_date: row.birth_date,
                    email: row.email.clone(),
                    created_at: now,
                    updated_at: now,
                };
                existing.insert(
                    row.cod_etu.clone(),
                    StudentRow {
                        id: id.clone(),
                        cod_etu: student.cod_etu.clone(),
                        ine: student.ine.clone(),
                        last_name: student.last_name.clone(),
                        first_name: student.first_name.clone(),
                        search_name: student.search_name.clone(),
                        birth_date: student.birth_date,
                        email: student.email.clone(),
                        created_at: now,
                        updated_at: now,
                        erased_at: None,
                    },
                );
                new_terms.extend(terms_of(
                    &id,
                    &student.cod_etu,
                    &student.last_name,
                    &student.first_name,
                ));
                new_students.push(student);
                outcome = RowOutcome::Created;
                id
            }
        };
        if let Some(ine) = &row.ine {
            ine_owner.insert(ine.clone(), row.cod_etu.clone());
        }

        let key = (student_id.clone(), row.academic_year, row.etape.clone());
        // The population columns are optional: a row without them keeps what is known.
        let regime = row
            .regime
            .map(|r| r.as_str().to_owned())
            .or_else(|| enrolled.get(&key).and_then(|e| e.regime.clone()));
        let boursier = row
            .boursier
            .or_else(|| enrolled.get(&key).and_then(|e| e.boursier));
        match enrolled.get(&key) {
            Some(e)
                if e.composante == row.composante
                    && e.state == row.state.as_str()
                    && e.regime == regime
                    && e.boursier == boursier => {}
            Some(_) => {
                diesel::update(enrolments::table.find((
                    &student_id,
                    row.academic_year,
                    &row.etape,
                )))
                .set((
                    enrolments::composante.eq(&row.composante),
                    enrolments::state.eq(row.state.as_str()),
                    enrolments::regime.eq(&regime),
                    enrolments::boursier.eq(boursier),
                    enrolments::updated_at.eq(now),
                ))
                .execute(conn)?;
                if outcome == RowOutcome::Unchanged {
                    outcome = RowOutcome::Updated;
                }
            }
            None => {
                outcome = RowOutcome::Created;
                new_enrolments.push(EnrolmentRow {
                    student_id: student_id.clone(),
                    academic_year: row.academic_year,
                    etape: row.etape.clone(),
                    composante: row.composante.clone(),
                    state: row.state.as_str().into(),
                    created_at: now,
                    updated_at: now,
                    regime: regime.clone(),
                    boursier,
                });
            }
        }
        let entry = EnrolmentRow {
            student_id: student_id.clone(),
            academic_year: row.academic_year,
            etape: row.etape.clone(),
            composante: row.composante.clone(),
            state: row.state.as_str().into(),
            created_at: now,
            updated_at: now,
            regime,
            boursier,
        };
        enrolled.insert(key, entry);
        touched.insert(row.cod_etu.clone(), student_id);
        report.count(outcome);
    }
    // New rows go in as multi-row inserts: far fewer round trips on a 50,000-row file.
    for batch in new_students.chunks(100) {
        super::batch_insert!(conn, students::table, batch);
    }
    for batch in new_enrolments.chunks(200) {
        super::batch_insert!(conn, enrolments::table, batch);
    }
    for batch in new_terms.chunks(300) {
        super::batch_insert!(conn, student_terms::table, batch);
    }
    Ok(())
}

fn identity_differs(student: &StudentRow, row: &EnrolmentRecord) -> bool {
    !changed_identity_fields(student, row).is_empty()
}

/// The names (never the values) of the identity fields a row changes.
fn changed_identity_fields(student: &StudentRow, row: &EnrolmentRecord) -> Vec<&'static str> {
    [
        ("ine", student.ine != row.ine),
        ("last_name", student.last_name != row.last_name),
        ("first_name", student.first_name != row.first_name),
        ("birth_date", student.birth_date != row.birth_date),
        ("email", student.email != row.email),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// What a caller limited to some composantes may not touch in one chunk: students enrolled in a
/// composante outside their scope (their identity belongs to that composante), and étapes the
/// enrolments place in such a composante (an enrolment there would pass the étape checks of
/// grade transfers and lockers). Empty for a caller who sees every composante.
#[derive(Default)]
struct ScopeLimits {
    students_elsewhere: HashSet<String>,
    etapes_elsewhere: HashSet<(String, i32)>,
}

impl ScopeLimits {
    fn load(
        conn: &mut DbConnection,
        scope: &DataScope,
        rows: &[EnrolmentRecord],
        enrolled: &HashMap<(String, i32, String), EnrolmentRow>,
    ) -> Result<ScopeLimits, ApiError> {
        let DataScope::Composantes(mine) = scope else {
            return Ok(ScopeLimits::default());
        };
        let students_elsewhere = enrolled
            .values()
            .filter(|e| !mine.contains(&e.composante))
            .map(|e| e.student_id.clone())
            .collect();
        let etapes: HashSet<&str> = rows.iter().map(|r| r.etape.as_str()).collect();
        let etapes_elsewhere = enrolments::table
            .filter(enrolments::etape.eq_any(etapes))
            .filter(enrolments::composante.ne_all(mine))
            .select((enrolments::etape, enrolments::academic_year))
            .distinct()
            .load::<(String, i32)>(conn)?
            .into_iter()
            .collect();
        Ok(ScopeLimits {
            students_elsewhere,
            etapes_elsewhere,
        })
    }

    fn enrolled_elsewhere(&self, student_id: &str) -> bool {
        self.students_elsewhere.contains(student_id)
    }

    fn etape_elsewhere(&self, row: &EnrolmentRecord) -> bool {
        self.etapes_elsewhere
            .contains(&(row.etape.clone(), row.academic_year))
    }
}

/// Students created or updated by one import from which the planner statistics are refreshed
/// at its end (see `refresh_statistics`).
pub const ANALYZE_AFTER_ROWS: usize = 1_000;

/// Imports valid rows chunk by chunk (each chunk one transaction), records the objections to
/// vault pre-creation collected at enrolment (`objections`: student numbers), then applies the
/// vault rule to every student seen. Outcomes and rejections are added to `report`. A large
/// import ends by refreshing the planner statistics of the registry tables.
pub fn import(
    conn: &mut DbConnection,
    records: &[EnrolmentRecord],
    objections: &HashSet<String>,
    ctx: &ImportContext,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    let known = composante_codes(conn)?;
    let mut touched = HashSet::new();
    for chunk in records.chunks(IMPORT_CHUNK) {
        // Outcomes count only once their chunk is committed.
        let mut chunk_report = ImportReport::default();
        let mut chunk_touched = HashMap::new();
        super::write_transaction(conn, |conn| {
            plan_each_statement(conn)?;
            import_chunk(
                conn,
                chunk,
                ctx,
                &known,
                &mut chunk_report,
                &mut chunk_touched,
            )?;
            for (cod_etu, student_id) in &chunk_touched {
                if objections.contains(cod_etu)
                    && record_import_objection(conn, student_id, ctx.actor)?
                {
                    chunk_report.objections_recorded += 1;
                }
            }
            Ok(())
        })?;
        report.objections_recorded += chunk_report.objections_recorded;
        report.created += chunk_report.created;
        report.updated += chunk_report.updated;
        report.unchanged += chunk_report.unchanged;
        for r in chunk_report.rejections {
            report.reject(r);
        }
        touched.extend(chunk_touched.into_values());
    }
    let mut touched: Vec<String> = touched.into_iter().collect();
    touched.sort();
    for chunk in touched.chunks(IMPORT_CHUNK) {
        let outcome = super::write_transaction(conn, |conn| {
            plan_each_statement(conn)?;
            let valid = validly_enrolled(conn, chunk, ctx.current_year)?;
            let objected = super::consents::precreation_objections(conn, chunk)?;
            let outcome =
                super::vaults::apply_enrolment_rule(conn, chunk, &valid, &objected, ctx.actor)?;
            let queued = if ctx.auto_subscribe {
                super::vaults::auto_subscribe(conn, chunk, ctx.actor)?
            } else {
                0
            };
            Ok((outcome, queued))
        })?;
        let (outcome, queued) = outcome;
        report.vaults_created += outcome.created;
        report.vaults_updated += outcome.moved;
        report.vaults_queued += queued;
    }
    report.finish();
    // The rows are committed by now: statistics that cannot be refreshed (VACUUM refuses to
    // run inside a caller's transaction, say) are left to autovacuum, not a failed import.
    if report.created + report.updated >= ANALYZE_AFTER_ROWS
        && let Err(e) = super::refresh_statistics(
            conn,
            &[
                "students",
                "student_terms",
                "enrolments",
                "vaults",
                "vault_registry",
            ],
        )
    {
        tracing::warn!(error = %e, "planner statistics not refreshed after the import");
    }
    Ok(())
}

/// Within the current transaction, PostgreSQL plans every statement for its parameters and
/// the tables as they are now. An import repeats the same statements chunk after chunk while
/// the tables grow from nothing; after five runs PostgreSQL keeps a generic plan made for the
/// tables as they were (a sequential scan of `students` per INE check, a scan of every
/// `not_transmitted` vault per chunk to find that chunk's): 60,000 rows took 60 s instead of
/// a few. Planning anew costs well under a millisecond per statement.
fn plan_each_statement(conn: &mut DbConnection) -> Result<(), ApiError> {
    if let DbConnection::Postgresql(pg) = conn {
        diesel::connection::SimpleConnection::batch_execute(
            pg,
            "SET LOCAL plan_cache_mode = force_custom_plan",
        )?;
    }
    Ok(())
}

/// Records an objection to pre-creation collected at enrolment, unless one is in force already.
fn record_import_objection(
    conn: &mut DbConnection,
    student_id: &str,
    actor: &str,
) -> Result<bool, ApiError> {
    use crate::domain::consent::{ConsentEventKind, ConsentPurpose, ConsentSource, ConsentState};
    let events = super::consents::events_of(conn, student_id)?;
    if super::consents::state_of(&events, ConsentPurpose::VaultPrecreation).0
        == ConsentState::Refused
    {
        return Ok(false);
    }
    super::consents::append(
        conn,
        &super::consents::NewEvent {
            student_id,
            purpose: ConsentPurpose::VaultPrecreation,
            event: ConsentEventKind::Objected,
            source: ConsentSource::Import,
            actor,
            evidence_ref: None,
            comment: Some("refus collecté à l'inscription"),
        },
    )?;
    Ok(true)
}

/// Which of these students hold a valid enrolment (state E) in `year`.
pub fn validly_enrolled(
    conn: &mut DbConnection,
    student_ids: &[String],
    year: i32,
) -> Result<HashSet<String>, ApiError> {
    Ok(enrolments::table
        .filter(enrolments::student_id.eq_any(student_ids))
        .filter(enrolments::academic_year.eq(year))
        .filter(enrolments::state.eq(EnrolmentState::E.as_str()))
        .select(enrolments::student_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

pub fn composante_codes(conn: &mut DbConnection) -> Result<HashSet<String>, ApiError> {
    use super::schema::composantes;
    Ok(composantes::table
        .select(composantes::code)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Students visible in `scope`: a manager sees students enrolled (any year) in their composantes.
fn visible<'a>(scope: &DataScope) -> students::BoxedQuery<'a, DbBackend> {
    let query = students::table.into_boxed();
    match scope {
        DataScope::All => query,
        DataScope::Composantes(codes) => query.filter(
            students::id.eq_any(
                enrolments::table
                    .filter(enrolments::composante.eq_any(codes.clone()))
                    .select(enrolments::student_id),
            ),
        ),
        DataScope::Student(cod_etu) => query.filter(students::cod_etu.eq(cod_etu.clone())),
    }
}

#[derive(Debug, Clone, Default)]
pub struct StudentFilter {
    pub q: Option<String>,
    pub composante: Option<String>,
    pub year: Option<i32>,
}

fn filtered<'a>(scope: &DataScope, filter: &StudentFilter) -> students::BoxedQuery<'a, DbBackend> {
    let mut query = visible(scope);
    query = super::filter_enrolled!(query, students::id, filter.composante.clone(), filter.year);
    query = super::filter_search!(query, filter.q.as_deref());
    query
}

pub fn list(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &StudentFilter,
    window: Window,
) -> Result<(Vec<StudentRow>, i64), ApiError> {
    let rows = filtered(scope, filter)
        .order((students::search_name.asc(), students::cod_etu.asc()))
        .offset(window.offset())
        .limit(window.limit())
        .select(StudentRow::as_select())
        .load(conn)?;
    let total = window.total_or(rows.len(), || {
        filtered(scope, filter).count().get_result(conn)
    })?;
    Ok((rows, total))
}

/// A student by number, within scope.
pub fn get(
    conn: &mut DbConnection,
    scope: &DataScope,
    cod_etu: &str,
) -> Result<Option<StudentRow>, ApiError> {
    Ok(visible(scope)
        .filter(students::cod_etu.eq(cod_etu.to_owned()))
        .select(StudentRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn by_cod_etu(conn: &mut DbConnection, cod_etu: &str) -> Result<Option<StudentRow>, ApiError> {
    get(conn, &DataScope::All, cod_etu)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<StudentRow, ApiError> {
    Ok(students::table
        .find(id)
        .select(StudentRow::as_select())
        .first(conn)?)
}

pub fn enrolments_of(
    conn: &mut DbConnection,
    student_id: &str,
) -> Result<Vec<EnrolmentRow>, ApiError> {
    Ok(enrolments::table
        .filter(enrolments::student_id.eq(student_id))
        .order((enrolments::academic_year.desc(), enrolments::etape.asc()))
        .select(EnrolmentRow::as_select())
        .load(conn)?)
}

//! Vaults, their append-only history, and the registry filters managers use every day.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::schema::{enrolments, students, vault_history, vault_registry, vaults};
use super::{DbBackend, DbConnection};
use crate::domain::scope::DataScope;
use crate::domain::vault::{self, VaultStatus, VaultTrigger};
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Text;
use crate::pagination::Window;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vaults)]
pub struct VaultRow {
    pub id: String,
    pub student_id: String,
    pub status: String,
    pub accepted: bool,
    pub personalised: bool,
    pub route_code: Option<String>,
    pub membership_id: Option<String>,
    pub customization_url: Option<String>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub status_changed_at: NaiveDateTime,
}

impl VaultRow {
    pub fn status(&self) -> VaultStatus {
        // Only this module writes the column, always from a VaultStatus.
        VaultStatus::parse(&self.status).unwrap_or(VaultStatus::NotTransmitted)
    }
}

/// The student fields a vault list shows.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = students)]
pub struct VaultStudent {
    pub cod_etu: String,
    pub ine: Option<String>,
    pub last_name: String,
    pub first_name: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vault_history)]
pub struct HistoryRow {
    pub id: String,
    pub vault_id: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub cause: String,
    pub actor: String,
    pub reason: Option<String>,
    pub at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = vault_history)]
struct NewHistory<'a> {
    id: String,
    vault_id: &'a str,
    from_status: Option<&'a str>,
    to_status: &'a str,
    cause: &'a str,
    actor: &'a str,
    reason: Option<&'a str>,
    at: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VaultSort {
    #[default]
    Name,
    NameDesc,
    CodEtu,
    CodEtuDesc,
    Status,
    UpdatedAt,
    UpdatedAtDesc,
}

#[derive(Debug, Clone, Default)]
pub struct VaultFilter {
    pub statuses: Vec<VaultStatus>,
    pub composante: Option<String>,
    pub accepted: Option<bool>,
    pub personalised: Option<bool>,
    /// Student number prefix, or part of a name (case- and accent-insensitive).
    pub q: Option<String>,
    /// Only students enrolled in this academic year.
    pub year: Option<i32>,
    pub sort: VaultSort,
}

type Joined = diesel::dsl::InnerJoin<vaults::table, students::table>;

/// Vaults joined with their students, restricted to the caller's scope and the filter.
fn filtered<'a>(
    scope: &DataScope,
    filter: &VaultFilter,
) -> diesel::dsl::IntoBoxed<'a, Joined, DbBackend> {
    let mut query = vaults::table.inner_join(students::table).into_boxed();
    match scope {
        DataScope::All => {}
        DataScope::Composantes(codes) => {
            query = query.filter(
                vaults::student_id.eq_any(
                    enrolments::table
                        .filter(enrolments::composante.eq_any(codes.clone()))
                        .select(enrolments::student_id),
                ),
            );
        }
        DataScope::Student(cod_etu) => {
            query = query.filter(students::cod_etu.eq(cod_etu.clone()));
        }
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&'static str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(vaults::status.eq_any(statuses));
    }
    query = super::filter_enrolled!(
        query,
        vaults::student_id,
        filter.composante.clone(),
        filter.year
    );
    if let Some(a) = filter.accepted {
        query = query.filter(vaults::accepted.eq(a));
    }
    if let Some(p) = filter.personalised {
        query = query.filter(vaults::personalised.eq(p));
    }
    query = super::filter_search!(query, filter.q.as_deref());
    query
}

/// A composante filter inside a manager's scope makes the scope redundant (one subquery
/// fewer); outside it, nothing can match.
fn narrowed(scope: &DataScope, filter: &VaultFilter) -> Option<DataScope> {
    match (scope, &filter.composante) {
        (DataScope::Composantes(codes), Some(c)) if codes.contains(c) => Some(DataScope::All),
        (DataScope::Composantes(_), Some(_)) => None,
        _ => Some(scope.clone()),
    }
}

/// The one composante a registry query is about, when `vault_registry` answers it: the
/// composante asked for (within the caller's scope), or the only one a manager manages; no
/// year, no Acceptation/Personnalisé flag, and a sort the table holds. Anything else takes the
/// general query (`filtered`), which gives the same rows.
fn registry_composante(scope: &DataScope, filter: &VaultFilter) -> Option<String> {
    if filter.year.is_some() || filter.accepted.is_some() || filter.personalised.is_some() {
        return None;
    }
    if matches!(filter.sort, VaultSort::UpdatedAt | VaultSort::UpdatedAtDesc) {
        return None;
    }
    match (scope, &filter.composante) {
        (DataScope::All, Some(c)) => Some(c.clone()),
        (DataScope::Composantes(codes), Some(c)) if codes.contains(c) => Some(c.clone()),
        (DataScope::Composantes(codes), None) if codes.len() == 1 => Some(codes[0].clone()),
        _ => None,
    }
}

/// Restricts a boxed query holding `vault_registry` to one composante's rows matching the
/// status and search filters: the same matches as `filtered` (a search word is a prefix of
/// one of the student's terms, the words the terms index holds; a query without words is a
/// student-number prefix).
macro_rules! registry_where {
    ($query:expr, $composante:expr, $filter:expr) => {{
        use crate::db::schema::vault_registry as r;
        use crate::domain::text::{prefix_upper_bound, search_terms};
        let mut query = $query.filter(r::composante.eq($composante.to_owned()));
        if !$filter.statuses.is_empty() {
            let statuses: Vec<&'static str> = $filter.statuses.iter().map(|s| s.as_str()).collect();
            query = query.filter(r::status.eq_any(statuses));
        }
        if let Some(q) = $filter
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            let words = search_terms(&[q]);
            if words.is_empty() {
                query = query
                    .filter(r::cod_etu.ge(q.to_owned()))
                    .filter(r::cod_etu.lt(prefix_upper_bound(q)));
            }
            // At most three words, as the general search.
            for w in words.iter().take(3) {
                let pattern = format!("% {}%", crate::db::like_escape(w));
                query = query.filter(r::words.like(pattern).escape('\\'));
            }
        }
        query
    }};
}

/// `list` over `vault_registry`: one index range of the composante, in the index's order.
fn registry_list(
    conn: &mut DbConnection,
    composante: &str,
    filter: &VaultFilter,
    window: Window,
) -> Result<(Vec<(VaultRow, VaultStudent)>, i64), ApiError> {
    use vault_registry as r;
    let query = registry_where!(
        // Students are joined through the vault, so the composante's rows are read from the
        // index alone (SQLite: a covering index; the table is not visited per row skipped).
        r::table
            .inner_join(vaults::table.inner_join(students::table))
            .into_boxed::<DbBackend>(),
        composante,
        filter
    );
    let query = match filter.sort {
        VaultSort::NameDesc => query.order((r::search_name.desc(), r::cod_etu.desc())),
        VaultSort::CodEtu => query.order(r::cod_etu.asc()),
        VaultSort::CodEtuDesc => query.order(r::cod_etu.desc()),
        VaultSort::Status => query.order((r::status.asc(), r::search_name.asc(), r::cod_etu.asc())),
        _ => query.order((r::search_name.asc(), r::cod_etu.asc())),
    };
    let rows: Vec<(VaultRow, VaultStudent)> = query
        .offset(window.offset())
        .limit(window.limit())
        .select((VaultRow::as_select(), VaultStudent::as_select()))
        .load(conn)?;
    let total = window.total_or(rows.len(), || -> Result<i64, ApiError> {
        if filter.q.is_none() {
            // Without a search, the total is the stored counts of the statuses asked for.
            return Ok(registry_counts(conn, composante)?
                .into_iter()
                .filter(|(status, _, _)| {
                    filter.statuses.is_empty()
                        || filter.statuses.iter().any(|s| s.as_str() == status)
                })
                .map(|(_, vaults, _)| vaults)
                .sum());
        }
        Ok(
            registry_where!(r::table.into_boxed::<DbBackend>(), composante, filter)
                .count()
                .get_result(conn)?,
        )
    })?;
    Ok((rows, total))
}

pub fn list(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &VaultFilter,
    window: Window,
) -> Result<(Vec<(VaultRow, VaultStudent)>, i64), ApiError> {
    if let Some(composante) = registry_composante(scope, filter) {
        return registry_list(conn, &composante, filter, window);
    }
    let Some(scope) = narrowed(scope, filter) else {
        return Ok((Vec::new(), 0));
    };
    let scope = &scope;
    let query = filtered(scope, filter);
    let query = match filter.sort {
        VaultSort::Name => query.order((students::search_name.asc(), students::cod_etu.asc())),
        VaultSort::NameDesc => {
            query.order((students::search_name.desc(), students::cod_etu.desc()))
        }
        VaultSort::CodEtu => query.order(students::cod_etu.asc()),
        VaultSort::CodEtuDesc => query.order(students::cod_etu.desc()),
        VaultSort::Status => query.order((vaults::status.asc(), students::search_name.asc())),
        VaultSort::UpdatedAt => query.order((vaults::updated_at.asc(), vaults::id.asc())),
        VaultSort::UpdatedAtDesc => query.order((vaults::updated_at.desc(), vaults::id.desc())),
    };
    // No window count (`COUNT(*) OVER ()`) in the page query: it made PostgreSQL produce every
    // matching vault before cutting the page (a composante's unfiltered list, the managers'
    // landing page, took 0.6 s on 60,000 vaults). On its own the page query stops after
    // `offset + limit` rows in index order; a short page is its own total, and only a full one
    // costs a count (a semi-join on the enrolments index).
    let rows: Vec<(VaultRow, VaultStudent)> = query
        .offset(window.offset())
        .limit(window.limit())
        .select((VaultRow::as_select(), VaultStudent::as_select()))
        .load(conn)?;
    let total = window.total_or(rows.len(), || {
        filtered(scope, filter).count().get_result(conn)
    })?;
    Ok((rows, total))
}

/// How many vaults per status, within scope and filter (the dashboard blocks).
pub fn summary(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &VaultFilter,
) -> Result<Vec<(VaultStatus, i64)>, ApiError> {
    if let Some(composante) = registry_composante(scope, filter)
        .filter(|_| filter.statuses.is_empty() && filter.q.is_none())
    {
        // Stored counts (kept on write by the registry's triggers): a few rows, whatever the
        // composante's size.
        let counts: HashMap<String, i64> = registry_counts(conn, &composante)?
            .into_iter()
            .map(|(status, vaults, _)| (status, vaults))
            .collect();
        return Ok(VaultStatus::ALL
            .into_iter()
            .map(|s| (s, counts.get(s.as_str()).copied().unwrap_or(0)))
            .collect());
    }
    let Some(scope) = narrowed(scope, filter) else {
        return Ok(VaultStatus::ALL.into_iter().map(|s| (s, 0)).collect());
    };
    let scope = &scope;
    // GROUP BY cannot apply to a boxed query: one pass of conditional sums instead. The
    // statuses interpolated are our own constants, never user input.
    let columns: Vec<String> = VaultStatus::ALL
        .iter()
        .map(|s| {
            format!(
                "COALESCE(SUM(CASE WHEN vaults.status = '{}' THEN 1 ELSE 0 END), 0)",
                s.as_str()
            )
        })
        .collect();
    type Counts = (
        BigInt,
        BigInt,
        BigInt,
        BigInt,
        BigInt,
        BigInt,
        BigInt,
        BigInt,
    );
    let c: (i64, i64, i64, i64, i64, i64, i64, i64) = filtered(scope, filter)
        .select(diesel::dsl::sql::<Counts>(&columns.join(", ")))
        .get_result(conn)?;
    let counts = [c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7];
    debug_assert_eq!(counts.len(), VaultStatus::ALL.len());
    Ok(VaultStatus::ALL.into_iter().zip(counts).collect())
}

/// A composante's stored counts: (status, vaults, vaults with a subscription queued).
fn registry_counts(
    conn: &mut DbConnection,
    composante: &str,
) -> Result<Vec<(String, i64, i64)>, ApiError> {
    use super::schema::vault_registry_counts as c;
    Ok(c::table
        .filter(c::composante.eq(composante))
        .select((c::status, c::vaults, c::queued))
        .load(conn)?)
}

/// How many subscriptions are queued (pending or running) for the vaults within scope and
/// filter: the progress of a pre-creation under way.
pub fn queued_subscriptions(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &VaultFilter,
) -> Result<i64, ApiError> {
    use super::schema::jobs;
    let Some(scope) = narrowed(scope, filter) else {
        return Ok(0);
    };
    let queued = jobs::table
        .filter(jobs::kind.eq(super::jobs::kind::VAULT_SUBSCRIBE))
        .filter(jobs::status.eq_any([super::jobs::status::PENDING, super::jobs::status::RUNNING]))
        .select(jobs::subject_id);
    if let Some(composante) = registry_composante(&scope, filter)
        .filter(|_| filter.statuses.is_empty() && filter.q.is_none())
    {
        return Ok(registry_counts(conn, &composante)?
            .into_iter()
            .map(|(_, _, queued)| queued)
            .sum());
    }
    if let Some(composante) = registry_composante(&scope, filter) {
        return Ok(registry_where!(
            vault_registry::table.into_boxed::<DbBackend>(),
            &composante,
            filter
        )
        .filter(vault_registry::vault_id.eq_any(queued))
        .count()
        .get_result(conn)?);
    }
    Ok(filtered(&scope, filter)
        .filter(vaults::id.eq_any(queued))
        .count()
        .get_result(conn)?)
}

/// Every vault within scope and filter (no page): the subjects of a bulk action.
pub fn all_matching(
    conn: &mut DbConnection,
    scope: &DataScope,
    filter: &VaultFilter,
) -> Result<Vec<VaultRow>, ApiError> {
    let Some(scope) = narrowed(scope, filter) else {
        return Ok(Vec::new());
    };
    Ok(filtered(&scope, filter)
        .order(vaults::id.asc())
        .select(VaultRow::as_select())
        .load(conn)?)
}

/// Of these vaults, those a subscription may be queued for now: a status that allows it
/// (`not_transmitted`, or `transmission_error` when `retry_errors`) and no refused consent.
pub fn subscribable(
    conn: &mut DbConnection,
    candidates: Vec<VaultRow>,
    retry_errors: bool,
) -> Result<Vec<VaultRow>, ApiError> {
    let candidates: Vec<VaultRow> = candidates
        .into_iter()
        .filter(|v| match v.status() {
            VaultStatus::NotTransmitted => true,
            VaultStatus::TransmissionError => retry_errors,
            _ => false,
        })
        .collect();
    let mut refused = HashSet::new();
    let students: Vec<String> = candidates.iter().map(|v| v.student_id.clone()).collect();
    for chunk in students.chunks(1000) {
        refused.extend(super::consents::refused_students(conn, chunk)?);
    }
    Ok(candidates
        .into_iter()
        .filter(|v| !refused.contains(&v.student_id))
        .collect())
}

/// Queues the Digiposte subscription of each vault (one job each; the job queue carries them
/// out paced under the partner quota). Returns how many were queued now; a vault whose
/// subscription is queued already keeps its job.
pub fn queue_subscriptions(
    conn: &mut DbConnection,
    vaults: &[VaultRow],
    actor: &str,
) -> Result<usize, ApiError> {
    let ids: Vec<&str> = vaults.iter().map(|v| v.id.as_str()).collect();
    super::jobs::enqueue_many(
        conn,
        super::jobs::kind::VAULT_SUBSCRIBE,
        &ids,
        |id| serde_json::json!({ "vault_id": id }),
        actor,
    )
}

/// Pre-creation (`vaults.auto_subscribe`): queues the subscription of these students' vaults
/// that wait for it (`not_transmitted`, no refused consent). Returns how many were queued.
pub fn auto_subscribe(
    conn: &mut DbConnection,
    student_ids: &[String],
    actor: &str,
) -> Result<usize, ApiError> {
    let candidates: Vec<VaultRow> = vaults::table
        .filter(vaults::student_id.eq_any(student_ids))
        .filter(vaults::status.eq(VaultStatus::NotTransmitted.as_str()))
        .select(VaultRow::as_select())
        .load(conn)?;
    let ready = subscribable(conn, candidates, false)?;
    queue_subscriptions(conn, &ready, actor)
}

/// One vault within scope.
pub fn get(
    conn: &mut DbConnection,
    scope: &DataScope,
    id: &str,
) -> Result<Option<(VaultRow, VaultStudent)>, ApiError> {
    Ok(filtered(scope, &VaultFilter::default())
        .filter(vaults::id.eq(id.to_owned()))
        .select((VaultRow::as_select(), VaultStudent::as_select()))
        .first(conn)
        .optional()?)
}

pub fn by_student(conn: &mut DbConnection, student_id: &str) -> Result<Option<VaultRow>, ApiError> {
    Ok(vaults::table
        .filter(vaults::student_id.eq(student_id))
        .select(VaultRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<VaultRow, ApiError> {
    Ok(vaults::table
        .find(id)
        .select(VaultRow::as_select())
        .first(conn)?)
}

pub fn history(conn: &mut DbConnection, vault_id: &str) -> Result<Vec<HistoryRow>, ApiError> {
    Ok(vault_history::table
        .filter(vault_history::vault_id.eq(vault_id))
        .order((vault_history::at.asc(), vault_history::id.asc()))
        .select(HistoryRow::as_select())
        .load(conn)?)
}

#[allow(clippy::too_many_arguments)]
fn record(
    conn: &mut DbConnection,
    vault_id: &str,
    from: Option<VaultStatus>,
    to: VaultStatus,
    cause: &str,
    actor: &str,
    reason: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    diesel::insert_into(vault_history::table)
        .values(&NewHistory {
            id: uuid::Uuid::now_v7().to_string(),
            vault_id,
            from_status: from.map(|s| s.as_str()),
            to_status: to.as_str(),
            cause,
            actor,
            reason,
            at,
        })
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Insertable)]
#[diesel(table_name = vaults)]
struct NewVault<'a> {
    id: &'a str,
    student_id: &'a str,
    status: &'a str,
    accepted: bool,
    personalised: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    status_changed_at: NaiveDateTime,
}

/// Moves a vault by the state machine's table and records the transition. A forbidden
/// transition is a 409 naming the current status.
pub fn transition(
    conn: &mut DbConnection,
    vault: &VaultRow,
    trigger: VaultTrigger,
    actor: &str,
    reason: Option<&str>,
) -> Result<VaultRow, ApiError> {
    let from = vault.status();
    let to = vault::next(from, trigger).map_err(|e| {
        let label = from.label();
        let en = e.to_string();
        invalid_transition(
            from,
            crate::text!(
                "un coffre « {label} » ne permet pas cette opération",
                "{en}"
            ),
        )
    })?;
    let now = super::now();
    // Guarded on the status read, so two concurrent transitions cannot both apply.
    let updated = diesel::update(
        vaults::table
            .filter(vaults::id.eq(&vault.id))
            .filter(vaults::status.eq(from.as_str())),
    )
    .set((
        vaults::status.eq(to.as_str()),
        vaults::updated_at.eq(now),
        vaults::status_changed_at.eq(now),
    ))
    .execute(conn)?;
    if updated == 0 {
        let current = find(conn, &vault.id)?.status();
        return Err(invalid_transition(
            current,
            Text::fixed(
                "le coffre a changé entre-temps",
                "the vault changed meanwhile",
            ),
        ));
    }
    let cause = serde_json::to_value(trigger)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    record(conn, &vault.id, Some(from), to, &cause, actor, reason, now)?;
    find(conn, &vault.id)
}

pub fn invalid_transition(current: VaultStatus, detail: impl Into<Text>) -> ApiError {
    ApiError::new(ErrorCode::InvalidTransition, detail)
        .with("current_status", current.as_str())
        .with("current_status_label", current.label())
}

/// What applying the enrolment rule changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RuleOutcome {
    pub created: usize,
    pub moved: usize,
}

/// Applies the enrolment rule to these students' vaults: a missing vault is created
/// (pre-creation: `not_transmitted`, or `no_valid_enrolment` without a valid enrolment), and a
/// never-transmitted vault moves between those two as enrolments change. Students in
/// `objected` (RGPD objection to pre-creation) get a vault in `objected` ("Opposition
/// enregistrée"): listed, never sent; a never-transmitted vault of theirs moves there.
pub fn apply_enrolment_rule(
    conn: &mut DbConnection,
    student_ids: &[String],
    validly_enrolled: &HashSet<String>,
    objected: &HashSet<String>,
    actor: &str,
) -> Result<RuleOutcome, ApiError> {
    let existing: HashMap<String, VaultRow> = vaults::table
        .filter(vaults::student_id.eq_any(student_ids))
        .select(VaultRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|v| (v.student_id.clone(), v))
        .collect();
    let now = super::now();
    let mut outcome = RuleOutcome::default();
    let mut new_vaults = Vec::new();
    let mut new_history = Vec::new();
    let ids: Vec<(String, String)> = student_ids
        .iter()
        .filter(|id| !existing.contains_key(*id))
        .map(|id| (id.clone(), uuid::Uuid::now_v7().to_string()))
        .collect();
    for (student_id, vault_id) in &ids {
        let valid = validly_enrolled.contains(student_id);
        let status = if objected.contains(student_id) {
            VaultStatus::Objected
        } else {
            vault::initial_status(valid)
        };
        new_vaults.push(NewVault {
            id: vault_id,
            student_id,
            status: status.as_str(),
            accepted: false,
            personalised: false,
            created_at: now,
            updated_at: now,
            status_changed_at: now,
        });
        new_history.push(NewHistory {
            id: uuid::Uuid::now_v7().to_string(),
            vault_id,
            from_status: None,
            to_status: status.as_str(),
            cause: if status == VaultStatus::Objected {
                "objection_recorded"
            } else if valid {
                "enrolment_valid"
            } else {
                "enrolment_invalid"
            },
            actor,
            reason: None,
            at: now,
        });
    }
    for batch in new_vaults.chunks(200) {
        super::batch_insert!(conn, vaults::table, batch);
    }
    for batch in new_history.chunks(200) {
        super::batch_insert!(conn, vault_history::table, batch);
    }
    outcome.created = new_vaults.len();
    for vault in existing.values() {
        let trigger = match (vault.status(), validly_enrolled.contains(&vault.student_id)) {
            (VaultStatus::NotTransmitted | VaultStatus::NoValidEnrolment, _)
                if objected.contains(&vault.student_id) =>
            {
                VaultTrigger::ObjectionRecorded
            }
            (VaultStatus::NoValidEnrolment, true) => VaultTrigger::EnrolmentValid,
            (VaultStatus::NotTransmitted, false) => VaultTrigger::EnrolmentInvalid,
            _ => continue,
        };
        transition(conn, vault, trigger, actor, None)?;
        outcome.moved += 1;
    }
    Ok(outcome)
}

/// Records Digiposte facts on a vault (route code, membership, link, flags, error).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = vaults)]
pub struct VaultFacts<'a> {
    pub route_code: Option<&'a str>,
    pub membership_id: Option<&'a str>,
    pub customization_url: Option<&'a str>,
    pub accepted: Option<bool>,
    pub personalised: Option<bool>,
    pub last_error: Option<Option<&'a str>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn set_facts(
    conn: &mut DbConnection,
    vault_id: &str,
    mut facts: VaultFacts,
) -> Result<(), ApiError> {
    facts.updated_at = Some(super::now());
    diesel::update(vaults::table.find(vault_id))
        .set(&facts)
        .execute(conn)?;
    Ok(())
}

/// Every vault Digiposte knows (it has a route code), for the membership synchronisation;
/// `composantes`: only those of students enrolled in these composantes.
pub fn with_route_code(
    conn: &mut DbConnection,
    composantes: Option<&[String]>,
) -> Result<Vec<VaultRow>, ApiError> {
    let mut query = vaults::table
        .filter(vaults::route_code.is_not_null())
        .into_boxed();
    if let Some(codes) = composantes {
        query = query.filter(
            vaults::student_id.eq_any(
                enrolments::table
                    .filter(enrolments::composante.eq_any(codes.to_vec()))
                    .select(enrolments::student_id),
            ),
        );
    }
    Ok(query
        .order(vaults::id.asc())
        .select(VaultRow::as_select())
        .load(conn)?)
}

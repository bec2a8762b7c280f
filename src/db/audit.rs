//! The audit log's storage: appends chained entries (inside the caller's write transaction, so
//! an action and its entry commit together), lists them, and verifies the chain.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::DbConnection;
use super::schema::{audit_head, audit_log};
use crate::domain::audit::{ChainedFields, GENESIS, entry_hash, pseudonym};
use crate::error::ApiError;
use crate::pagination::Window;

/// What an action writes to the audit log. `student` is a student number: it is stored only
/// as its pseudonym.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub actor: &'a str,
    /// Dotted action name, e.g. `students.import`, `vault.terminate`, `consent.objected`.
    pub action: &'a str,
    pub student: Option<&'a str>,
    pub object_type: &'a str,
    pub object_id: Option<&'a str>,
    /// Non-personal details (counts, statuses, ids). Never names, e-mails or numbers.
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub seq: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub student_ref: Option<String>,
    pub object_type: String,
    pub object_id: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    fn fields(&self) -> ChainedFields<'_> {
        ChainedFields {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            student_ref: self.student_ref.as_deref(),
            object_type: &self.object_type,
            object_id: self.object_id.as_deref(),
            details: &self.details,
        }
    }
}

/// Appends an entry. Must run inside a write transaction: the head row's lock serialises
/// appends (PostgreSQL), and SQLite's write lock does the same.
pub fn append(conn: &mut DbConnection, key: &[u8], event: AuditEvent) -> Result<i64, ApiError> {
    // Taking the head's row lock first: a concurrent append waits here.
    diesel::update(audit_head::table.find(1))
        .set(audit_head::seq.eq(audit_head::seq + 1))
        .execute(conn)?;
    let (seq, prev_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let mut row = AuditRow {
        seq,
        at: super::now(),
        actor: event.actor.to_owned(),
        action: event.action.to_owned(),
        student_ref: event.student.map(|s| pseudonym(key, s)),
        object_type: event.object_type.to_owned(),
        object_id: event.object_id.map(str::to_owned),
        details: event.details.to_string(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = entry_hash(&row.prev_hash, &row.fields());
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)?;
    diesel::update(audit_head::table.find(1))
        .set(audit_head::hash.eq(&row.hash))
        .execute(conn)?;
    Ok(seq)
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// A pseudonym (computed from the student number by the caller).
    pub student_ref: Option<String>,
    pub action: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    window: Window,
) -> Result<(Vec<AuditRow>, i64), ApiError> {
    let build = || {
        let mut q = audit_log::table.into_boxed();
        if let Some(a) = &filter.actor {
            q = q.filter(audit_log::actor.eq(a.clone()));
        }
        if let Some(s) = &filter.student_ref {
            q = q.filter(audit_log::student_ref.eq(s.clone()));
        }
        if let Some(a) = &filter.action {
            q = q.filter(audit_log::action.eq(a.clone()));
        }
        if let Some(t) = filter.since {
            q = q.filter(audit_log::at.ge(t));
        }
        if let Some(t) = filter.until {
            q = q.filter(audit_log::at.lt(t));
        }
        q
    };
    let rows = build()
        .order(audit_log::seq.asc())
        .offset(window.offset())
        .limit(window.limit())
        .select(AuditRow::as_select())
        .load(conn)?;
    let total = window.total_or(rows.len(), || build().count().get_result(conn))?;
    Ok((rows, total))
}

/// Every entry about one student (by pseudonym), oldest first.
pub fn for_student(conn: &mut DbConnection, student_ref: &str) -> Result<Vec<AuditRow>, ApiError> {
    Ok(audit_log::table
        .filter(audit_log::student_ref.eq(student_ref))
        .order(audit_log::seq.asc())
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// The outcome of a chain verification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq, Eq)]
pub struct ChainReport {
    /// True when every entry's hash recomputes and links to its predecessor.
    pub valid: bool,
    /// Entries checked.
    pub entries: i64,
    /// The first entry that does not verify, if any.
    pub first_broken_seq: Option<i64>,
    /// Why it does not verify, in the request's language.
    #[serde(serialize_with = "crate::i18n::localized_option")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<crate::i18n::Text>,
}

/// Recomputes the whole chain, page by page, and names the first broken entry.
pub fn verify(conn: &mut DbConnection) -> Result<ChainReport, ApiError> {
    const PAGE: i64 = 2000;
    let mut prev_hash = GENESIS.to_owned();
    let mut expected_seq = 1;
    let mut checked = 0;
    let broken = |seq: i64, checked: i64, reason: crate::i18n::Text| ChainReport {
        valid: false,
        entries: checked,
        first_broken_seq: Some(seq),
        reason: Some(reason),
    };
    loop {
        let page: Vec<AuditRow> = audit_log::table
            .filter(audit_log::seq.ge(expected_seq))
            .order(audit_log::seq.asc())
            .limit(PAGE)
            .select(AuditRow::as_select())
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            checked += 1;
            if row.seq != expected_seq {
                return Ok(broken(
                    expected_seq,
                    checked,
                    crate::text!(
                        "l'entrée {expected_seq} manque",
                        "entry {expected_seq} is missing"
                    ),
                ));
            }
            if row.prev_hash != prev_hash {
                return Ok(broken(
                    row.seq,
                    checked,
                    crate::i18n::Text::fixed(
                        "son empreinte précédente ne correspond pas à l'entrée d'avant",
                        "its previous-hash does not match the entry before it",
                    ),
                ));
            }
            if entry_hash(&row.prev_hash, &row.fields()) != row.hash {
                return Ok(broken(
                    row.seq,
                    checked,
                    crate::i18n::Text::fixed(
                        "son contenu ne correspond pas à son empreinte (modifié)",
                        "its content does not match its hash (edited)",
                    ),
                ));
            }
            prev_hash = row.hash.clone();
            expected_seq += 1;
        }
    }
    // The head records the last append: entries removed from the end are detected too.
    let (head_seq, head_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    if head_seq != expected_seq - 1 || head_hash != prev_hash {
        return Ok(broken(expected_seq, checked, {
            let last = expected_seq - 1;
            crate::text!(
                "le journal s'arrête à l'entrée {last} alors que {head_seq} entrées ont été ajoutées",
                "the log ends at entry {last} but {head_seq} entries were appended"
            )
        }));
    }
    Ok(ChainReport {
        valid: true,
        entries: checked,
        first_broken_seq: None,
        reason: None,
    })
}

//! The RGPD consent ledger's storage: append-only events; states are derived on read.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::consent_events;
use crate::domain::consent::{self, ConsentEventKind, ConsentPurpose, ConsentSource, ConsentState};
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consent_events)]
pub struct ConsentRow {
    pub id: String,
    pub student_id: String,
    pub purpose: String,
    pub event: String,
    pub source: String,
    pub actor: String,
    pub evidence_ref: Option<String>,
    pub comment: Option<String>,
    pub at: NaiveDateTime,
}

impl ConsentRow {
    pub fn kind(&self) -> Option<ConsentEventKind> {
        ConsentEventKind::parse(&self.event)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = consent_events)]
struct NewConsent<'a> {
    id: &'a str,
    student_id: &'a str,
    purpose: &'a str,
    event: &'a str,
    source: &'a str,
    actor: &'a str,
    evidence_ref: Option<&'a str>,
    comment: Option<&'a str>,
    at: NaiveDateTime,
}

/// A student's events, oldest first.
pub fn events_of(conn: &mut DbConnection, student_id: &str) -> Result<Vec<ConsentRow>, ApiError> {
    Ok(consent_events::table
        .filter(consent_events::student_id.eq(student_id))
        .order((consent_events::at.asc(), consent_events::id.asc()))
        .select(ConsentRow::as_select())
        .load(conn)?)
}

/// The derived state of one purpose, and whether any event exists for it.
pub fn state_of(events: &[ConsentRow], purpose: ConsentPurpose) -> (ConsentState, bool) {
    let kinds: Vec<ConsentEventKind> = events
        .iter()
        .filter(|e| e.purpose == purpose.as_str())
        .filter_map(ConsentRow::kind)
        .collect();
    (consent::derive(kinds.iter().copied()), !kinds.is_empty())
}

/// Whether any purpose is currently refused (then nothing is sent for the student).
pub fn any_refused(conn: &mut DbConnection, student_id: &str) -> Result<bool, ApiError> {
    let events = events_of(conn, student_id)?;
    Ok(ConsentPurpose::ALL
        .iter()
        .any(|p| state_of(&events, *p).0 == ConsentState::Refused))
}

pub struct NewEvent<'a> {
    pub student_id: &'a str,
    pub purpose: ConsentPurpose,
    pub event: ConsentEventKind,
    pub source: ConsentSource,
    pub actor: &'a str,
    pub evidence_ref: Option<&'a str>,
    pub comment: Option<&'a str>,
}

pub fn append(conn: &mut DbConnection, e: &NewEvent) -> Result<ConsentRow, ApiError> {
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(consent_events::table)
        .values(&NewConsent {
            id: &id,
            student_id: e.student_id,
            purpose: e.purpose.as_str(),
            event: e.event.as_str(),
            source: e.source.as_str(),
            actor: e.actor,
            evidence_ref: e.evidence_ref,
            comment: e.comment,
            at: super::now(),
        })
        .execute(conn)?;
    Ok(consent_events::table
        .find(&id)
        .select(ConsentRow::as_select())
        .first(conn)?)
}

/// The students among `student_ids` whose objection to vault pre-creation is in force.
pub fn precreation_objections(
    conn: &mut DbConnection,
    student_ids: &[String],
) -> Result<HashSet<String>, ApiError> {
    let rows: Vec<(String, String)> = consent_events::table
        .filter(consent_events::student_id.eq_any(student_ids))
        .filter(consent_events::purpose.eq(ConsentPurpose::VaultPrecreation.as_str()))
        .order((consent_events::at.asc(), consent_events::id.asc()))
        .select((consent_events::student_id, consent_events::event))
        .load(conn)?;
    let mut per_student: HashMap<String, Vec<ConsentEventKind>> = HashMap::new();
    for (student, event) in rows {
        if let Some(k) = ConsentEventKind::parse(&event) {
            per_student.entry(student).or_default().push(k);
        }
    }
    Ok(per_student
        .into_iter()
        .filter(|(_, events)| consent::derive(events.iter().copied()) == ConsentState::Refused)
        .map(|(student, _)| student)
        .collect())
}

/// The objection to vault pre-creation in force for each of these students that has one: when
/// it was recorded and from where (ENT, paper, manager, import).
pub fn objections_in_force(
    conn: &mut DbConnection,
    student_ids: &[String],
) -> Result<HashMap<String, (NaiveDateTime, ConsentSource)>, ApiError> {
    let rows: Vec<(String, String, String, NaiveDateTime)> = consent_events::table
        .filter(consent_events::student_id.eq_any(student_ids))
        .filter(consent_events::purpose.eq(ConsentPurpose::VaultPrecreation.as_str()))
        .order((consent_events::at.asc(), consent_events::id.asc()))
        .select((
            consent_events::student_id,
            consent_events::event,
            consent_events::source,
            consent_events::at,
        ))
        .load(conn)?;
    let mut out: HashMap<String, (NaiveDateTime, ConsentSource)> = HashMap::new();
    for (student, event, source, at) in rows {
        match ConsentEventKind::parse(&event) {
            Some(ConsentEventKind::Objected | ConsentEventKind::Withdrawn) => {
                let source = ConsentSource::parse(&source).unwrap_or(ConsentSource::Manager);
                out.entry(student).or_insert((at, source));
            }
            Some(ConsentEventKind::Granted | ConsentEventKind::Restored) => {
                out.remove(&student);
            }
            None => {}
        }
    }
    Ok(out)
}

/// The students among `student_ids` with any purpose currently refused.
pub fn refused_students(
    conn: &mut DbConnection,
    student_ids: &[String],
) -> Result<HashSet<String>, ApiError> {
    let rows: Vec<(String, String, String)> = consent_events::table
        .filter(consent_events::student_id.eq_any(student_ids))
        .order((consent_events::at.asc(), consent_events::id.asc()))
        .select((
            consent_events::student_id,
            consent_events::purpose,
            consent_events::event,
        ))
        .load(conn)?;
    let mut per: HashMap<(String, String), Vec<ConsentEventKind>> = HashMap::new();
    for (student, purpose, event) in rows {
        if let Some(k) = ConsentEventKind::parse(&event) {
            per.entry((student, purpose)).or_default().push(k);
        }
    }
    Ok(per
        .into_iter()
        .filter(|(_, events)| consent::derive(events.iter().copied()) == ConsentState::Refused)
        .map(|((student, _), _)| student)
        .collect())
}

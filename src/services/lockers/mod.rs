//! Lockers' rules besides HTTP: whom a caller may write to (resolving the recipients of a
//! deposit, searching them), and the names senders and recipients are shown by.
//!
//! Who may write to whom (unchanged by the search, which applies the same rules): a manager
//! writes to the students and étapes of their composantes, an admin to anyone; both to staff
//! known to the lockers and named groups. A student writes to staff and named groups only —
//! never to a student or an étape, so the lockers are no directory of students; and a student
//! is answered the same for staff ids that exist and ones that do not (no directory of staff
//! either): the search shows students named groups only.

use std::collections::HashSet;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::DataScope;
use crate::db::DbConnection;
use crate::db::lockers as repo;
use crate::db::schema::{enrolments, locker_groups, locker_users, students};
use crate::domain::locker::Recipient;
use crate::domain::text::fold;
use crate::error::ApiError;
use crate::pagination::{Page, Window};
use crate::storage::StorageError;

pub mod deposits;
pub mod folders;
pub mod groups;

/// Why a lockers' use case refuses (the HTTP layer maps each to its problem).
#[derive(Debug, thiserror::Error)]
pub enum LockerError {
    #[error("unknown recipient(s), or ones the sender may not address: {0:?}")]
    UnknownRecipient(Vec<String>),
    #[error("group members are people: {0:?}")]
    MembersNotPeople(Vec<String>),
    #[error("the recipients resolve to no one")]
    NoOne,
    #[error("no deposit of the sender has this id")]
    UnknownReplaced,
    #[error("the deposit already has a newer version, {latest_id}")]
    Superseded { latest_id: String },
    #[error("{size} bytes would go over the quota of {quota} ({used} used)")]
    QuotaExceeded { size: i64, quota: u64, used: i64 },
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("a deposit cannot be changed or deleted")]
    Immutable,
    #[error("invalid group name")]
    InvalidGroupName,
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// From the layers below (database).
    #[error(transparent)]
    Lower(#[from] ApiError),
}

impl From<diesel::result::Error> for LockerError {
    fn from(e: diesel::result::Error) -> Self {
        LockerError::Lower(e.into())
    }
}

/// The scope students are resolved in: a student addresses no student (not even themselves).
fn student_scope(scope: &DataScope) -> DataScope {
    match scope {
        DataScope::Student(_) => DataScope::Composantes(Vec::new()),
        other => other.clone(),
    }
}

/// Expands the addressed recipients into locker user ids, within what the sender may address
/// (see the module's rules). Everything that does not resolve is named in one
/// `unknown_recipient` problem.
pub fn resolve(
    conn: &mut DbConnection,
    scope: &DataScope,
    year: i32,
    addressed: &[String],
) -> Result<Vec<String>, LockerError> {
    let mut unknown = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |id: String, out: &mut Vec<String>| {
        if seen.insert(id.clone()) {
            out.push(id);
        }
    };
    let student_scope = student_scope(scope);
    for a in addressed {
        match Recipient::parse(a) {
            None => unknown.push(a.clone()),
            Some(Recipient::Student(c)) => {
                if repo::known_students(conn, &student_scope, std::slice::from_ref(&c))?
                    .contains(&c)
                {
                    push(format!("student:{c}"), &mut out);
                } else {
                    unknown.push(a.clone());
                }
            }
            // A student is answered the same for staff ids that exist and ones that do not:
            // a deposit to an unknown id reaches nobody (or the person of that id, once they
            // use the lockers).
            Some(Recipient::Staff(id)) if matches!(scope, DataScope::Student(_)) => {
                push(id, &mut out);
            }
            Some(Recipient::Staff(id)) => {
                if repo::known_staff(conn, std::slice::from_ref(&id))?.contains(&id) {
                    push(id, &mut out);
                } else {
                    unknown.push(a.clone());
                }
            }
            Some(Recipient::Etape(e)) => match repo::etape_students(conn, scope, &e, year)? {
                Some(list) => {
                    for c in list {
                        push(format!("student:{c}"), &mut out);
                    }
                }
                None => unknown.push(a.clone()),
            },
            Some(Recipient::Group(g)) => match repo::group_members(conn, &g)? {
                Some(list) => {
                    for m in list {
                        push(m, &mut out);
                    }
                }
                None => unknown.push(a.clone()),
            },
        }
    }
    if !unknown.is_empty() {
        return Err(LockerError::UnknownRecipient(unknown));
    }
    Ok(out)
}

/// What a recipient is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    Student,
    /// A manager or an admin.
    Staff,
    /// The students validly enrolled in an étape this year.
    Etape,
    /// A named group.
    Group,
}

/// A recipient with the name people read.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NamedRecipient {
    /// As a deposit addresses it: `student:<COD_ETU>`, `manager:<sub>`, `admin:<sub>`,
    /// `etape:<COD_ETP>`, `group:<name>`.
    pub address: String,
    pub kind: RecipientKind,
    /// A student's name from the registry ("Prénom NOM"), a staff member's as their token
    /// named them (JWT `name` claim) when they last used the lockers, a group's label, the
    /// étape's code; None when unknown.
    pub name: Option<String>,
}

fn kind_of(address: &str) -> RecipientKind {
    match Recipient::parse(address) {
        Some(Recipient::Student(_)) => RecipientKind::Student,
        Some(Recipient::Etape(_)) => RecipientKind::Etape,
        Some(Recipient::Group(_)) => RecipientKind::Group,
        _ => RecipientKind::Staff,
    }
}

/// The names of addressed recipients, in the order given. A student's deposits name no staff
/// member (null, known or not), so that the lockers stay no directory of staff for students.
pub fn names_of(
    conn: &mut DbConnection,
    sender: &str,
    addressed: &[String],
) -> Result<Vec<NamedRecipient>, LockerError> {
    let mut people = repo::names(conn, addressed)?;
    if sender.starts_with("student:") {
        people.retain(|id, _| id.starts_with("student:"));
    }
    let groups: Vec<String> = addressed
        .iter()
        .filter_map(|a| a.strip_prefix("group:").map(str::to_owned))
        .collect();
    let labels: std::collections::HashMap<String, String> = if groups.is_empty() {
        Default::default()
    } else {
        locker_groups::table
            .filter(locker_groups::name.eq_any(&groups))
            .select((locker_groups::name, locker_groups::label))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect()
    };
    Ok(addressed
        .iter()
        .map(|a| {
            let kind = kind_of(a);
            let name = match kind {
                RecipientKind::Group => a.strip_prefix("group:").and_then(|g| labels.get(g)),
                RecipientKind::Etape => None,
                _ => people.get(a),
            }
            .cloned()
            .or_else(|| (kind == RecipientKind::Etape).then(|| a["etape:".len()..].to_owned()));
            NamedRecipient {
                address: a.clone(),
                kind,
                name,
            }
        })
        .collect())
}

/// The name a deposit's sender is shown by: the name they had when they deposited (staff),
/// else the registry's or the lockers' current one.
pub fn sender_name(
    conn: &mut DbConnection,
    sender: &str,
    at_deposit: Option<&str>,
) -> Result<Option<String>, LockerError> {
    if let Some(n) = at_deposit {
        return Ok(Some(n.to_owned()));
    }
    Ok(repo::names(conn, &[sender.to_owned()])?.remove(sender))
}

/// Whether every word of the folded query appears in `text` (folded).
fn matches(words: &[String], text: &str) -> bool {
    let text = fold(text);
    words.iter().all(|w| text.contains(w.as_str()))
}

/// The recipients the caller may write to whose name or address matches `q` (accent- and
/// case-folded words; a student number prefix), one page: named groups, étapes, staff, then
/// students by name. The rules are those of [`resolve`]: a manager finds only their
/// composantes' students and étapes, a student finds named groups only.
pub fn search(
    conn: &mut DbConnection,
    scope: &DataScope,
    year: i32,
    q: Option<&str>,
    window: Window,
) -> Result<Page<NamedRecipient>, LockerError> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let words: Vec<String> = q
        .map(|q| fold(q).split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    // The few groups, étapes and staff are matched here; students are paged in the database.
    let mut small: Vec<NamedRecipient> = Vec::new();
    for (g, _) in repo::groups(conn)? {
        if matches(&words, &format!("{} {}", g.name, g.label)) {
            small.push(NamedRecipient {
                address: format!("group:{}", g.name),
                kind: RecipientKind::Group,
                name: Some(g.label),
            });
        }
    }
    let etapes: Vec<String> = match scope {
        DataScope::Student(_) => Vec::new(),
        DataScope::All => enrolments::table
            .filter(enrolments::academic_year.eq(year))
            .select(enrolments::etape)
            .distinct()
            .order(enrolments::etape.asc())
            .load(conn)?,
        DataScope::Composantes(codes) => enrolments::table
            .filter(enrolments::academic_year.eq(year))
            .filter(enrolments::composante.eq_any(codes))
            .select(enrolments::etape)
            .distinct()
            .order(enrolments::etape.asc())
            .load(conn)?,
    };
    for e in etapes {
        if matches(&words, &e) {
            small.push(NamedRecipient {
                address: format!("etape:{e}"),
                kind: RecipientKind::Etape,
                name: Some(e),
            });
        }
    }
    // Students are answered the same for staff who exist and who do not (see `resolve`): the
    // search is no directory of staff for them.
    let staff: Vec<(String, Option<String>)> = if matches!(scope, DataScope::Student(_)) {
        Vec::new()
    } else {
        locker_users::table
            .order(locker_users::id.asc())
            .select((locker_users::id, locker_users::display_name))
            .load(conn)?
    };
    for (id, name) in staff {
        if matches(
            &words,
            &format!("{id} {}", name.as_deref().unwrap_or_default()),
        ) {
            small.push(NamedRecipient {
                address: id,
                kind: RecipientKind::Staff,
                name,
            });
        }
    }
    let small_len = small.len() as i64;
    let items: Vec<NamedRecipient> = small
        .into_iter()
        .skip(window.offset() as usize)
        .take(window.limit() as usize)
        .collect();
    let (students, student_total) = match scope {
        DataScope::Student(_) => (Vec::new(), 0),
        scope => {
            let offset = (window.offset() - small_len).max(0);
            let limit = window.limit() - items.len() as i64;
            search_students(conn, scope, q, offset, limit)?
        }
    };
    let mut items = items;
    items.extend(
        students
            .into_iter()
            .map(|(cod_etu, first, last)| NamedRecipient {
                address: format!("student:{cod_etu}"),
                kind: RecipientKind::Student,
                name: Some(format!("{first} {last}")),
            }),
    );
    Ok(window.wrap(items, small_len + student_total))
}

/// A student number, first name and last name.
type StudentName = (String, String, String);

/// Students visible in `scope` (not erased) matching `q`, by name: one slice and the total.
fn search_students(
    conn: &mut DbConnection,
    scope: &DataScope,
    q: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<StudentName>, i64), LockerError> {
    let build = || {
        let mut query = students::table
            .filter(students::erased_at.is_null())
            .into_boxed();
        if let DataScope::Composantes(codes) = scope {
            query = query.filter(
                students::id.eq_any(
                    enrolments::table
                        .filter(enrolments::composante.eq_any(codes.clone()))
                        .select(enrolments::student_id),
                ),
            );
        }
        crate::db::filter_search!(query, q)
    };
    let rows = if limit > 0 {
        build()
            .order((students::search_name.asc(), students::cod_etu.asc()))
            .offset(offset)
            .limit(limit)
            .select((students::cod_etu, students::first_name, students::last_name))
            .load(conn)?
    } else {
        Vec::new()
    };
    let total = build().count().get_result(conn)?;
    Ok((rows, total))
}

/// Records a staff member who uses the lockers (role `manager` or `admin`), so that others can
/// address them, under the name their token gives.
pub fn register_staff(
    conn: &mut DbConnection,
    id: &str,
    role: &str,
    name: Option<&str>,
) -> Result<(), LockerError> {
    Ok(repo::ensure_user(conn, id, role, name)?)
}

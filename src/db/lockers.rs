//! Lockers' storage: deposits (never updated once inserted), the per-recipient items that
//! carry read and trash marks, staff known to the lockers, and named groups.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{
    enrolments, locker_deposits, locker_group_members, locker_groups, locker_items, locker_users,
    students,
};
use crate::domain::scope::DataScope;
use crate::error::ApiError;
use crate::pagination::Window;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = locker_deposits)]
pub struct DepositRow {
    pub id: String,
    pub sender_id: String,
    pub title: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub replaces: Option<String>,
    pub recipients: String,
    pub recipient_count: i32,
    pub received_at: NaiveDateTime,
    pub audit_seq: i64,
    pub audit_hash: String,
    /// A staff sender's display name when they deposited (JWT `name` claim).
    pub sender_name: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = locker_items)]
pub struct ItemRow {
    pub deposit_id: String,
    pub recipient_id: String,
    pub read_at: Option<NaiveDateTime>,
    pub trashed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = locker_groups)]
pub struct GroupRow {
    pub name: String,
    pub label: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Records a staff member the first time they use their locker, so others can address them;
/// later, keeps the name their token gives (JWT `name` claim) when it changed.
pub fn ensure_user(
    conn: &mut DbConnection,
    id: &str,
    role: &str,
    display_name: Option<&str>,
) -> Result<(), ApiError> {
    let known = locker_users::table
        .find(id)
        .select(locker_users::display_name)
        .first::<Option<String>>(conn)
        .optional()?;
    if let Some(known) = known {
        if display_name.is_some() && known.as_deref() != display_name {
            diesel::update(locker_users::table.find(id))
                .set((
                    locker_users::display_name.eq(display_name),
                    locker_users::last_seen_at.eq(super::now()),
                ))
                .execute(conn)?;
        }
        return Ok(());
    }
    let now = super::now();
    let inserted = diesel::insert_into(locker_users::table)
        .values((
            locker_users::id.eq(id),
            locker_users::role.eq(role),
            locker_users::display_name.eq(display_name),
            locker_users::first_seen_at.eq(now),
            locker_users::last_seen_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        // Two first requests at once: the other one recorded them.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        other => other.map(|_| ()).map_err(ApiError::from),
    }
}

/// Which of these staff ids (`manager:…`, `admin:…`) are known to the lockers.
pub fn known_staff(conn: &mut DbConnection, ids: &[String]) -> Result<HashSet<String>, ApiError> {
    Ok(locker_users::table
        .filter(locker_users::id.eq_any(ids))
        .select(locker_users::id)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Which of these student numbers name students visible in `scope` (erased ones excluded).
pub fn known_students(
    conn: &mut DbConnection,
    scope: &DataScope,
    cod_etus: &[String],
) -> Result<HashSet<String>, ApiError> {
    let mut q = students::table
        .filter(students::cod_etu.eq_any(cod_etus))
        .filter(students::erased_at.is_null())
        .into_boxed();
    match scope {
        DataScope::All => {}
        DataScope::Composantes(codes) => {
            q = q.filter(
                students::id.eq_any(
                    enrolments::table
                        .filter(enrolments::composante.eq_any(codes.clone()))
                        .select(enrolments::student_id),
                ),
            )
        }
        DataScope::Student(own) => q = q.filter(students::cod_etu.eq(own.clone())),
    }
    Ok(q.select(students::cod_etu)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// The students validly enrolled (state E) in `etape` in `year`, within `scope`, as student
/// numbers; None when the étape has no enrolment visible in the scope at all.
pub fn etape_students(
    conn: &mut DbConnection,
    scope: &DataScope,
    etape: &str,
    year: i32,
) -> Result<Option<Vec<String>>, ApiError> {
    let mut q = enrolments::table
        .inner_join(students::table)
        .filter(enrolments::etape.eq(etape))
        .filter(enrolments::academic_year.eq(year))
        .filter(students::erased_at.is_null())
        .into_boxed();
    match scope {
        DataScope::All => {}
        DataScope::Composantes(codes) => q = q.filter(enrolments::composante.eq_any(codes.clone())),
        // Students may not address a whole étape.
        DataScope::Student(_) => return Ok(None),
    }
    let rows: Vec<(String, String)> = q
        .select((students::cod_etu, enrolments::state))
        .load(conn)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut valid: Vec<String> = rows
        .into_iter()
        .filter(|(_, state)| state == crate::domain::enrolment::EnrolmentState::E.as_str())
        .map(|(c, _)| c)
        .collect();
    valid.sort();
    valid.dedup();
    Ok(Some(valid))
}

/// The members of a named group, or None when there is no such group.
pub fn group_members(conn: &mut DbConnection, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    let exists = locker_groups::table
        .find(name)
        .select(locker_groups::name)
        .first::<String>(conn)
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    Ok(Some(
        locker_group_members::table
            .filter(locker_group_members::group_name.eq(name))
            .order(locker_group_members::member_id.asc())
            .select(locker_group_members::member_id)
            .load(conn)?,
    ))
}

/// Bytes a person has deposited so far (their sent deposits).
pub fn used_bytes(conn: &mut DbConnection, sender: &str) -> Result<i64, ApiError> {
    // Summed here: SUM over BIGINT is NUMERIC on PostgreSQL, which the portable schema avoids.
    let sizes: Vec<i64> = locker_deposits::table
        .filter(locker_deposits::sender_id.eq(sender))
        .select(locker_deposits::size)
        .load(conn)?;
    Ok(sizes.iter().sum())
}

/// Inserts a deposit and one item per recipient (one statement for a group's many items).
pub fn insert_deposit(
    conn: &mut DbConnection,
    deposit: &DepositRow,
    recipients: &[String],
) -> Result<(), ApiError> {
    diesel::insert_into(locker_deposits::table)
        .values(deposit)
        .execute(conn)?;
    let items: Vec<ItemRow> = recipients
        .iter()
        .map(|r| ItemRow {
            deposit_id: deposit.id.clone(),
            recipient_id: r.clone(),
            read_at: None,
            trashed_at: None,
        })
        .collect();
    for chunk in items.chunks(500) {
        super::batch_insert!(conn, locker_items::table, chunk);
    }
    Ok(())
}

pub fn deposit(conn: &mut DbConnection, id: &str) -> Result<Option<DepositRow>, ApiError> {
    Ok(locker_deposits::table
        .find(id)
        .select(DepositRow::as_select())
        .first(conn)
        .optional()?)
}

/// The deposit that replaces `id`, if any.
pub fn replaced_by(conn: &mut DbConnection, id: &str) -> Result<Option<DepositRow>, ApiError> {
    Ok(locker_deposits::table
        .filter(locker_deposits::replaces.eq(id))
        .select(DepositRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn item(
    conn: &mut DbConnection,
    deposit_id: &str,
    recipient: &str,
) -> Result<Option<ItemRow>, ApiError> {
    Ok(locker_items::table
        .find((deposit_id, recipient))
        .select(ItemRow::as_select())
        .first(conn)
        .optional()?)
}

/// A deposit as `me` may see it: its sender, or a recipient whose copy is not purged.
/// Anyone else gets None (404), so a deposit's existence does not leak.
pub fn visible_deposit(
    conn: &mut DbConnection,
    id: &str,
    me: &str,
) -> Result<Option<(DepositRow, Option<ItemRow>)>, ApiError> {
    let Some(d) = deposit(conn, id)? else {
        return Ok(None);
    };
    let item = item(conn, id, me)?;
    if d.sender_id == me || item.is_some() {
        Ok(Some((d, item)))
    } else {
        Ok(None)
    }
}

/// The whole version chain a deposit belongs to, oldest first.
pub fn chain(conn: &mut DbConnection, start: &DepositRow) -> Result<Vec<DepositRow>, ApiError> {
    let mut older = Vec::new();
    let mut cursor = start.replaces.clone();
    // Chains are short; the bound only guards against a corrupted loop.
    while let Some(id) = cursor {
        if older.len() > 1000 {
            break;
        }
        let Some(d) = deposit(conn, &id)? else { break };
        cursor = d.replaces.clone();
        older.push(d);
    }
    older.reverse();
    older.push(start.clone());
    let mut last = start.id.clone();
    while let Some(next) = replaced_by(conn, &last)? {
        if older.len() > 2000 {
            break;
        }
        last = next.id.clone();
        older.push(next);
    }
    Ok(older)
}

/// Which of these deposits `me` holds an item of.
pub fn held(
    conn: &mut DbConnection,
    me: &str,
    ids: &[String],
) -> Result<HashSet<String>, ApiError> {
    Ok(locker_items::table
        .filter(locker_items::recipient_id.eq(me))
        .filter(locker_items::deposit_id.eq_any(ids))
        .select(locker_items::deposit_id)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// A recipient's folder: "Mon casier" (not trashed) or "Corbeille" (trashed), newest first.
pub fn folder(
    conn: &mut DbConnection,
    me: &str,
    trashed: bool,
    unread_only: bool,
    window: Window,
) -> Result<(Vec<(DepositRow, ItemRow)>, i64), ApiError> {
    let build = || {
        let mut q = locker_items::table
            .inner_join(locker_deposits::table)
            .filter(locker_items::recipient_id.eq(me.to_owned()))
            .into_boxed();
        q = if trashed {
            q.filter(locker_items::trashed_at.is_not_null())
        } else {
            q.filter(locker_items::trashed_at.is_null())
        };
        if unread_only {
            q = q.filter(locker_items::read_at.is_null());
        }
        q
    };
    let rows = build()
        .order((
            locker_deposits::received_at.desc(),
            locker_deposits::id.desc(),
        ))
        .offset(window.offset())
        .limit(window.limit())
        .select((DepositRow::as_select(), ItemRow::as_select()))
        .load(conn)?;
    let total = window.total_or(rows.len(), || build().count().get_result(conn))?;
    Ok((rows, total))
}

/// "Historique": what `me` deposited, newest first.
pub fn sent(
    conn: &mut DbConnection,
    me: &str,
    window: Window,
) -> Result<(Vec<DepositRow>, i64), ApiError> {
    let build = || {
        locker_deposits::table
            .filter(locker_deposits::sender_id.eq(me.to_owned()))
            .into_boxed()
    };
    let rows = build()
        .order((
            locker_deposits::received_at.desc(),
            locker_deposits::id.desc(),
        ))
        .offset(window.offset())
        .limit(window.limit())
        .select(DepositRow::as_select())
        .load(conn)?;
    let total = window.total_or(rows.len(), || build().count().get_result(conn))?;
    Ok((rows, total))
}

/// How many recipients of each deposit have read it.
pub fn read_counts(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, i64>, ApiError> {
    let rows: Vec<String> = locker_items::table
        .filter(locker_items::deposit_id.eq_any(ids))
        .filter(locker_items::read_at.is_not_null())
        .select(locker_items::deposit_id)
        .load(conn)?;
    let mut counts = HashMap::new();
    for id in rows {
        *counts.entry(id).or_insert(0) += 1;
    }
    Ok(counts)
}

/// Of these deposits, the ones replaced by a newer version `me` also received: id → newer id.
pub fn newer_versions_held(
    conn: &mut DbConnection,
    me: &str,
    ids: &[String],
) -> Result<HashMap<String, String>, ApiError> {
    let rows: Vec<(Option<String>, String)> = locker_deposits::table
        .inner_join(locker_items::table)
        .filter(locker_items::recipient_id.eq(me))
        .filter(locker_deposits::replaces.eq_any(ids))
        .select((locker_deposits::replaces, locker_deposits::id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(old, new)| old.map(|o| (o, new)))
        .collect())
}

/// Sets or clears the trash mark on `me`'s items among `ids`; returns the ids changed.
pub fn set_trashed(
    conn: &mut DbConnection,
    me: &str,
    ids: &[String],
    trashed_at: Option<NaiveDateTime>,
) -> Result<Vec<String>, ApiError> {
    let base = locker_items::table
        .filter(locker_items::recipient_id.eq(me))
        .filter(locker_items::deposit_id.eq_any(ids));
    let changing: Vec<String> = match trashed_at {
        Some(_) => base
            .filter(locker_items::trashed_at.is_null())
            .select(locker_items::deposit_id)
            .load(conn)?,
        None => base
            .filter(locker_items::trashed_at.is_not_null())
            .select(locker_items::deposit_id)
            .load(conn)?,
    };
    if !changing.is_empty() {
        diesel::update(
            locker_items::table
                .filter(locker_items::recipient_id.eq(me))
                .filter(locker_items::deposit_id.eq_any(&changing)),
        )
        .set(locker_items::trashed_at.eq(trashed_at))
        .execute(conn)?;
    }
    Ok(changing)
}

/// Marks `me`'s items among `ids` read (now, unless already read) or unread; returns the ids held.
pub fn set_read(
    conn: &mut DbConnection,
    me: &str,
    ids: &[String],
    read: bool,
) -> Result<Vec<String>, ApiError> {
    let found: Vec<String> = locker_items::table
        .filter(locker_items::recipient_id.eq(me))
        .filter(locker_items::deposit_id.eq_any(ids))
        .select(locker_items::deposit_id)
        .load(conn)?;
    let target = locker_items::table
        .filter(locker_items::recipient_id.eq(me))
        .filter(locker_items::deposit_id.eq_any(&found));
    if read {
        diesel::update(target.filter(locker_items::read_at.is_null()))
            .set(locker_items::read_at.eq(Some(super::now())))
            .execute(conn)?;
    } else {
        diesel::update(target)
            .set(locker_items::read_at.eq(None::<NaiveDateTime>))
            .execute(conn)?;
    }
    Ok(found)
}

/// Deletes a recipient's copy for good.
pub fn purge_item(
    conn: &mut DbConnection,
    deposit_id: &str,
    recipient: &str,
) -> Result<bool, ApiError> {
    Ok(diesel::delete(locker_items::table.find((deposit_id, recipient))).execute(conn)? > 0)
}

/// Display names: students from the registry ("Prénom NOM"), staff as they introduced themselves.
pub fn names(conn: &mut DbConnection, ids: &[String]) -> Result<HashMap<String, String>, ApiError> {
    let cod_etus: Vec<String> = ids
        .iter()
        .filter_map(|i| i.strip_prefix("student:").map(str::to_owned))
        .collect();
    let staff: Vec<String> = ids
        .iter()
        .filter(|i| !i.starts_with("student:"))
        .cloned()
        .collect();
    let mut out = HashMap::new();
    if !cod_etus.is_empty() {
        let rows: Vec<(String, String, String)> = students::table
            .filter(students::cod_etu.eq_any(&cod_etus))
            .select((students::cod_etu, students::first_name, students::last_name))
            .load(conn)?;
        for (c, first, last) in rows {
            out.insert(format!("student:{c}"), format!("{first} {last}"));
        }
    }
    if !staff.is_empty() {
        let rows: Vec<(String, Option<String>)> = locker_users::table
            .filter(locker_users::id.eq_any(&staff))
            .select((locker_users::id, locker_users::display_name))
            .load(conn)?;
        for (id, name) in rows {
            if let Some(n) = name {
                out.insert(id, n);
            }
        }
    }
    Ok(out)
}

pub fn groups(conn: &mut DbConnection) -> Result<Vec<(GroupRow, i64)>, ApiError> {
    let rows: Vec<GroupRow> = locker_groups::table
        .order(locker_groups::name.asc())
        .select(GroupRow::as_select())
        .load(conn)?;
    let members: Vec<String> = locker_group_members::table
        .select(locker_group_members::group_name)
        .load(conn)?;
    let mut counts: HashMap<String, i64> = HashMap::new();
    for g in members {
        *counts.entry(g).or_insert(0) += 1;
    }
    Ok(rows
        .into_iter()
        .map(|g| {
            let n = counts.get(&g.name).copied().unwrap_or(0);
            (g, n)
        })
        .collect())
}

pub fn group(conn: &mut DbConnection, name: &str) -> Result<Option<GroupRow>, ApiError> {
    Ok(locker_groups::table
        .find(name)
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?)
}

/// Creates a group or replaces its label and members; returns whether it was created.
pub fn put_group(
    conn: &mut DbConnection,
    name: &str,
    label: &str,
    members: &[String],
    actor: &str,
) -> Result<bool, ApiError> {
    let now = super::now();
    let created = group(conn, name)?.is_none();
    if created {
        diesel::insert_into(locker_groups::table)
            .values((
                locker_groups::name.eq(name),
                locker_groups::label.eq(label),
                locker_groups::created_by.eq(actor),
                locker_groups::created_at.eq(now),
                locker_groups::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        diesel::update(locker_groups::table.find(name))
            .set((
                locker_groups::label.eq(label),
                locker_groups::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::delete(
            locker_group_members::table.filter(locker_group_members::group_name.eq(name)),
        )
        .execute(conn)?;
    }
    for m in members {
        diesel::insert_into(locker_group_members::table)
            .values((
                locker_group_members::group_name.eq(name),
                locker_group_members::member_id.eq(m),
            ))
            .execute(conn)?;
    }
    Ok(created)
}

pub fn delete_group(conn: &mut DbConnection, name: &str) -> Result<bool, ApiError> {
    diesel::delete(locker_group_members::table.filter(locker_group_members::group_name.eq(name)))
        .execute(conn)?;
    Ok(diesel::delete(locker_groups::table.find(name)).execute(conn)? > 0)
}

//! Named groups: people an admin gathers under a name anyone with a locker may address.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{LockerError, resolve};
use crate::auth::DataScope;
use crate::db::DbConnection;
use crate::db::audit::{self, AuditEvent};
use crate::db::lockers as repo;
use crate::domain::locker::{self, Recipient};

/// A named group, as recipients pick it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSummary {
    /// Address it as `group:<name>`.
    pub name: String,
    pub label: String,
    pub member_count: i64,
}

/// A named group with its members (admins).
#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    pub name: String,
    pub label: String,
    /// Locker user ids (`student:<COD_ETU>`, `manager:<sub>`, `admin:<sub>`).
    pub members: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every named group with its member count.
pub fn list(conn: &mut DbConnection) -> Result<Vec<GroupSummary>, LockerError> {
    Ok(repo::groups(conn)?
        .into_iter()
        .map(|(g, n)| GroupSummary {
            name: g.name,
            label: g.label,
            member_count: n,
        })
        .collect())
}

/// One group and its members.
pub fn get(conn: &mut DbConnection, name: &str) -> Result<Group, LockerError> {
    let g = repo::group(conn, name)?.ok_or(LockerError::NotFound("group"))?;
    let members = repo::group_members(conn, name)?.unwrap_or_default();
    Ok(Group {
        name: g.name,
        label: g.label,
        members,
        created_by: g.created_by,
        created_at: g.created_at.and_utc(),
        updated_at: g.updated_at.and_utc(),
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `PUT /lockers/groups/{name}`.
pub struct PutGroup {
    pub name: String,
    pub label: String,
    /// Locker user ids of people (no groups, no étapes); they must exist.
    pub members: Vec<String>,
    pub actor: String,
    pub year: i32,
}

/// Creates a group or replaces its label and members, audited; returns the group and whether
/// it was created. In a write transaction.
pub fn put(
    conn: &mut DbConnection,
    audit_key: &[u8],
    command: PutGroup,
) -> Result<(Group, bool), LockerError> {
    let PutGroup {
        name,
        label,
        members,
        actor,
        year,
    } = command;
    if !valid_name(&name) {
        return Err(LockerError::InvalidGroupName);
    }
    let members = locker::split_recipients(&serde_json::to_string(&members).unwrap_or_default());
    // Members are people, not groups.
    let (people, bad): (Vec<String>, Vec<String>) = members.into_iter().partition(|m| {
        matches!(
            Recipient::parse(m),
            Some(Recipient::Student(_) | Recipient::Staff(_))
        )
    });
    if !bad.is_empty() {
        return Err(LockerError::MembersNotPeople(bad));
    }
    let resolved = resolve(conn, &DataScope::All, year, &people)?;
    let created = repo::put_group(conn, &name, &label, &resolved, &actor)?;
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor: &actor,
            action: if created {
                "locker.group.create"
            } else {
                "locker.group.update"
            },
            student: None,
            object_type: "locker_group",
            object_id: Some(&name),
            details: serde_json::json!({"members": resolved.len()}),
        },
    )?;
    Ok((get(conn, &name)?, created))
}

/// Deletes a group, audited (deposits made to it stay). In a write transaction.
pub fn delete(
    conn: &mut DbConnection,
    audit_key: &[u8],
    actor: &str,
    name: &str,
) -> Result<(), LockerError> {
    if !repo::delete_group(conn, name)? {
        return Err(LockerError::NotFound("group"));
    }
    audit::append(
        conn,
        audit_key,
        AuditEvent {
            actor,
            action: "locker.group.delete",
            student: None,
            object_type: "locker_group",
            object_id: Some(name),
            details: serde_json::json!({}),
        },
    )?;
    Ok(())
}

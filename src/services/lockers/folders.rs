//! A person's folders — "Mon casier" (inbox), "Corbeille" (trash), "Historique" (sent) — and
//! the bulk moves between them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{LockerError, NamedRecipient, names_of};
use crate::db::lockers::{self as repo, DepositRow, ItemRow};
use crate::db::{DbConnection, jobs};
use crate::pagination::{Page, Window};

/// A deposit in the caller's inbox or trash.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxItem {
    pub id: String,
    pub title: String,
    pub file_name: String,
    pub media_type: String,
    pub size: i64,
    pub sender: String,
    pub sender_name: Option<String>,
    pub received_at: DateTime<Utc>,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
    /// The previous version, when this deposit is a new version.
    pub replaces: Option<String>,
    /// The newer version the caller received, when there is one.
    pub replaced_by: Option<String>,
    /// Trash only: when it was moved there, and when it will be purged for good.
    pub trashed_at: Option<DateTime<Utc>>,
    pub purge_at: Option<DateTime<Utc>>,
}

/// Which of a person's received folders, and how.
pub struct FolderView {
    pub trashed: bool,
    /// Inbox only: just the unread deposits.
    pub unread: bool,
    /// How long the trash keeps an item.
    pub retention: chrono::Duration,
}

/// One page of the inbox or the trash of `me`, newest first.
pub fn folder(
    conn: &mut DbConnection,
    me: &str,
    view: FolderView,
    window: Window,
) -> Result<Page<InboxItem>, LockerError> {
    let (rows, total) = repo::folder(conn, me, view.trashed, view.unread, window)?;
    let ids: Vec<String> = rows.iter().map(|(d, _)| d.id.clone()).collect();
    let newer = repo::newer_versions_held(conn, me, &ids)?;
    let senders: Vec<String> = rows.iter().map(|(d, _)| d.sender_id.clone()).collect();
    let names = repo::names(conn, &senders)?;
    let items = rows
        .into_iter()
        .map(|(d, i): (DepositRow, ItemRow)| InboxItem {
            replaced_by: newer.get(&d.id).cloned(),
            sender_name: d.sender_name.or_else(|| names.get(&d.sender_id).cloned()),
            read: i.read_at.is_some(),
            read_at: i.read_at.map(|t| t.and_utc()),
            trashed_at: i.trashed_at.map(|t| t.and_utc()),
            purge_at: i.trashed_at.map(|t| (t + view.retention).and_utc()),
            id: d.id,
            title: d.title,
            file_name: d.file_name,
            media_type: d.media_type,
            size: d.size,
            sender: d.sender_id,
            received_at: d.received_at.and_utc(),
            replaces: d.replaces,
        })
        .collect();
    Ok(window.wrap(items, total))
}

/// A deposit in the caller's "Historique".
#[derive(Debug, Serialize, ToSchema)]
pub struct SentItem {
    pub id: String,
    pub title: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub received_at: DateTime<Utc>,
    /// As addressed (users and groups).
    pub recipients: Vec<String>,
    /// The same, with the names people read.
    pub recipient_names: Vec<NamedRecipient>,
    pub recipient_count: i32,
    /// Recipients who have opened or downloaded it.
    pub read_count: i64,
    pub replaces: Option<String>,
}

/// One page of what `me` deposited, newest first.
pub fn sent(
    conn: &mut DbConnection,
    me: &str,
    window: Window,
) -> Result<Page<SentItem>, LockerError> {
    let (rows, total) = repo::sent(conn, me, window)?;
    let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
    let reads = repo::read_counts(conn, &ids)?;
    let mut items = Vec::with_capacity(rows.len());
    for d in rows {
        let recipients: Vec<String> = serde_json::from_str(&d.recipients).unwrap_or_default();
        items.push(SentItem {
            read_count: reads.get(&d.id).copied().unwrap_or(0),
            recipient_names: names_of(conn, &d.sender_id, &recipients)?,
            recipients,
            id: d.id,
            title: d.title,
            file_name: d.file_name,
            media_type: d.media_type,
            sha256: d.sha256,
            size: d.size,
            received_at: d.received_at.and_utc(),
            recipient_count: d.recipient_count,
            replaces: d.replaces,
        });
    }
    Ok(window.wrap(items, total))
}

/// What a bulk action did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOutcome {
    /// The items changed.
    pub updated: Vec<String>,
    /// In the caller's locker, but already in the wanted state.
    pub unchanged: Vec<String>,
    /// Not in the caller's locker (or purged).
    pub not_found: Vec<String>,
}

fn outcome(ids: &[String], held: &HashSet<String>, updated: Vec<String>) -> BulkOutcome {
    let changed: HashSet<&String> = updated.iter().collect();
    let mut seen = HashSet::new();
    let mut unchanged = Vec::new();
    let mut not_found = Vec::new();
    for id in ids {
        if !seen.insert(id) || changed.contains(id) {
            continue;
        }
        if held.contains(id) {
            unchanged.push(id.clone());
        } else {
            not_found.push(id.clone());
        }
    }
    BulkOutcome {
        updated,
        unchanged,
        not_found,
    }
}

fn purge_subject(deposit_id: &str, recipient: &str) -> String {
    format!("{deposit_id}|{recipient}")
}

/// Moves items of the inbox of `me` to the trash; each is purged for good after `retention`
/// unless restored. In a write transaction.
pub fn trash(
    conn: &mut DbConnection,
    me: &str,
    actor: &str,
    ids: &[String],
    retention: chrono::Duration,
) -> Result<BulkOutcome, LockerError> {
    let held = repo::held(conn, me, ids)?;
    let now = crate::db::now();
    let updated = repo::set_trashed(conn, me, ids, Some(now))?;
    let due = now
        .checked_add_signed(retention)
        .unwrap_or(chrono::NaiveDateTime::MAX);
    for id in &updated {
        jobs::enqueue_at(
            conn,
            crate::jobs::locker_purge::KIND,
            &purge_subject(id, me),
            &serde_json::json!({}),
            actor,
            due,
        )?;
    }
    Ok(outcome(ids, &held, updated))
}

/// Restores items of the trash of `me` (their purge is called off). In a write transaction.
pub fn restore(
    conn: &mut DbConnection,
    me: &str,
    ids: &[String],
) -> Result<BulkOutcome, LockerError> {
    let held = repo::held(conn, me, ids)?;
    let updated = repo::set_trashed(conn, me, ids, None)?;
    for id in &updated {
        jobs::cancel_pending(
            conn,
            crate::jobs::locker_purge::KIND,
            &purge_subject(id, me),
            "restored from the trash",
        )?;
    }
    Ok(outcome(ids, &held, updated))
}

/// Marks items of the locker of `me` read or unread. In a write transaction.
pub fn mark_read(
    conn: &mut DbConnection,
    me: &str,
    ids: &[String],
    read: bool,
) -> Result<BulkOutcome, LockerError> {
    let found = repo::set_read(conn, me, ids, read)?;
    let held: HashSet<String> = found.iter().cloned().collect();
    Ok(outcome(ids, &held, found))
}

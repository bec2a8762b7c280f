//! A deposit: recorded whole or not at all (recipients, version, quota, file, audit entry),
//! its file stored before the transaction opens; and a deposit as its sender or a recipient
//! sees it.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{LockerError, NamedRecipient, names_of, resolve, sender_name};
use crate::auth::DataScope;
use crate::db::DbConnection;
use crate::db::audit::{self, AuditEvent};
use crate::db::lockers::{self as repo, DepositRow};
use crate::error::ApiError;
use crate::services::context::Context;

/// The audit entry that proves a deposit: `GET /audit` shows it and `GET /audit/verify`
/// checks the chain it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditProof {
    pub seq: i64,
    /// The entry's hash (sha256, chained to the previous entry).
    pub hash: String,
}

/// What the sender gets back: what was deposited, when, for how many people.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    pub id: String,
    pub title: String,
    pub file_name: String,
    /// Detected on the content.
    pub media_type: String,
    /// sha256 of the bytes received, computed by the server at receipt.
    pub sha256: String,
    pub size: i64,
    /// Server time of receipt (UTC).
    pub received_at: DateTime<Utc>,
    pub sender: String,
    /// The recipients as addressed (users and groups).
    pub recipients: Vec<String>,
    /// The same, with the names people read.
    pub recipient_names: Vec<NamedRecipient>,
    /// The people the recipients resolved to (groups expanded, duplicates removed).
    pub recipient_count: i32,
    pub replaces: Option<String>,
    pub audit: AuditProof,
}

impl Receipt {
    /// The receipt of a deposit, its recipients named.
    fn of(conn: &mut DbConnection, d: &DepositRow) -> Result<Self, LockerError> {
        let recipients: Vec<String> = serde_json::from_str(&d.recipients).unwrap_or_default();
        Ok(Receipt {
            recipient_names: names_of(conn, &d.sender_id, &recipients)?,
            id: d.id.clone(),
            title: d.title.clone(),
            file_name: d.file_name.clone(),
            media_type: d.media_type.clone(),
            sha256: d.sha256.clone(),
            size: d.size,
            received_at: d.received_at.and_utc(),
            sender: d.sender_id.clone(),
            recipients,
            recipient_count: d.recipient_count,
            replaces: d.replaces.clone(),
            audit: AuditProof {
                seq: d.audit_seq,
                hash: d.audit_hash.clone(),
            },
        })
    }
}

/// A received file, hashed and typed at receipt.
pub struct ReceivedDocument<'a> {
    /// The temporary file, adopted into the store.
    pub temp: &'a Path,
    pub file_name: String,
    /// Detected on the content.
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
}

/// Who deposits, and what they may reach.
pub struct Sender {
    /// Their locker user id.
    pub id: String,
    pub scope: DataScope,
    /// As the audit log names them.
    pub actor: String,
    /// A student sender's number (the audit entry is about them).
    pub student: Option<String>,
    /// A staff sender's name as their token gave it.
    pub name: Option<String>,
}

/// `POST /lockers/deposits`.
pub struct DepositCommand {
    pub title: String,
    pub addressed: Vec<String>,
    pub replaces: Option<String>,
    pub year: i32,
    pub quota: u64,
}

/// Deposits a document. Checked first (so a refused deposit stores nothing), the file then
/// stored (content-addressed: the same bytes twice keep one copy), then everything checked
/// again and recorded in one transaction with its audit entry: no upload ever runs under a
/// database lock, and a transaction refused after the upload leaves an orphan that retention
/// collects.
pub async fn deposit(
    ctx: &Context,
    sender: Sender,
    command: DepositCommand,
    file: ReceivedDocument<'_>,
) -> Result<Receipt, LockerError> {
    let (scope, me, addressed, replaces) = (
        sender.scope.clone(),
        sender.id.clone(),
        command.addressed.clone(),
        command.replaces.clone(),
    );
    let (year, quota, size) = (command.year, command.quota, file.size);
    ctx.read(move |conn| {
        admissible(
            conn,
            &scope,
            &me,
            year,
            &addressed,
            replaces.as_deref(),
            size,
            quota,
        )
    })
    .await?;
    crate::storage::adopt_off_thread(&ctx.store, file.temp, &file.sha256).await?;
    let key = ctx.audit_key.clone();
    let ReceivedDocument {
        file_name,
        media_type,
        sha256,
        ..
    } = file;
    ctx.write(move |conn| {
        let recipients = admissible(
            conn,
            &sender.scope,
            &sender.id,
            year,
            &command.addressed,
            command.replaces.as_deref(),
            size,
            quota,
        )?;
        let id = uuid::Uuid::now_v7().to_string();
        let received_at = crate::db::now();
        let seq = audit::append(
            conn,
            key.expose().as_bytes(),
            AuditEvent {
                actor: &sender.actor,
                action: "locker.deposit",
                student: sender.student.as_deref(),
                object_type: "locker_deposit",
                object_id: Some(&id),
                details: serde_json::json!({
                    "sha256": sha256,
                    "size": size,
                    "media_type": media_type,
                    "received_at": received_at.and_utc().to_rfc3339(),
                    "recipient_count": recipients.len(),
                    "replaces": command.replaces,
                }),
            },
        )?;
        let row = DepositRow {
            audit_hash: audit_hash(conn, seq)?,
            id,
            sender_id: sender.id,
            title: command.title,
            file_name,
            media_type,
            sha256,
            size,
            replaces: command.replaces,
            recipients: serde_json::to_string(&command.addressed).unwrap_or_else(|_| "[]".into()),
            recipient_count: recipients.len() as i32,
            received_at,
            audit_seq: seq,
            sender_name: sender.name,
        };
        repo::insert_deposit(conn, &row, &recipients)?;
        Receipt::of(conn, &row)
    })
    .await
}

fn audit_hash(conn: &mut DbConnection, seq: i64) -> Result<String, LockerError> {
    use crate::db::schema::audit_log;
    use diesel::prelude::*;
    Ok(audit_log::table
        .find(seq)
        .select(audit_log::hash)
        .first(conn)?)
}

/// The people a deposit reaches, once its rules hold: someone to reach, a `replaces` that is
/// the sender's latest version, room in the sender's quota.
#[allow(clippy::too_many_arguments)]
fn admissible(
    conn: &mut DbConnection,
    scope: &DataScope,
    me: &str,
    year: i32,
    addressed: &[String],
    replaces: Option<&str>,
    size: i64,
    quota: u64,
) -> Result<Vec<String>, LockerError> {
    let recipients = resolve(conn, scope, year, addressed)?;
    if recipients.is_empty() {
        return Err(LockerError::NoOne);
    }
    if let Some(previous) = replaces {
        let prev = repo::deposit(conn, previous)?
            .filter(|d| d.sender_id == me)
            .ok_or(LockerError::UnknownReplaced)?;
        if let Some(newer) = repo::replaced_by(conn, &prev.id)? {
            let latest_id = repo::chain(conn, &newer)?
                .last()
                .map(|d| d.id.clone())
                .unwrap_or(newer.id);
            return Err(LockerError::Superseded { latest_id });
        }
    }
    let used = repo::used_bytes(conn, me)?;
    if used.saturating_add(size) as u64 > quota {
        return Err(LockerError::QuotaExceeded { size, quota, used });
    }
    Ok(recipients)
}

/// One version of a deposit's chain, as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    /// 1 for the first deposit of the chain.
    pub version: usize,
    pub id: String,
    pub title: String,
    pub sha256: String,
    pub size: i64,
    pub received_at: DateTime<Utc>,
}

/// A deposit as its sender or one of its recipients sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepositDetail {
    pub id: String,
    pub title: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: i64,
    pub received_at: DateTime<Utc>,
    pub sender: String,
    pub sender_name: Option<String>,
    pub replaces: Option<String>,
    /// This deposit's place in its chain (1 = first version).
    pub version: usize,
    /// The versions the caller may see (sent by them, or received), oldest first.
    pub versions: Vec<Version>,
    /// The newest version the caller may see (this one when it is the latest).
    pub latest_id: String,
    /// Recipient only: read and trash marks of their copy.
    pub read: Option<bool>,
    pub trashed_at: Option<DateTime<Utc>>,
    /// Sender only: the receipt (recipients as addressed, audit proof).
    pub receipt: Option<Receipt>,
}

/// One deposit the caller `me` sent or received, with the versions of its chain they may see.
pub fn detail(conn: &mut DbConnection, me: &str, id: &str) -> Result<DepositDetail, LockerError> {
    let (d, item) = repo::visible_deposit(conn, id, me)?.ok_or(LockerError::NotFound("deposit"))?;
    let chain = repo::chain(conn, &d)?;
    let ids: Vec<String> = chain.iter().map(|c| c.id.clone()).collect();
    let held = repo::held(conn, me, &ids)?;
    let versions: Vec<Version> = chain
        .iter()
        .enumerate()
        .filter(|(_, c)| c.sender_id == me || held.contains(&c.id))
        .map(|(i, c)| Version {
            version: i + 1,
            id: c.id.clone(),
            title: c.title.clone(),
            sha256: c.sha256.clone(),
            size: c.size,
            received_at: c.received_at.and_utc(),
        })
        .collect();
    let version = ids.iter().position(|i| *i == d.id).unwrap_or(0) + 1;
    let latest_id = versions
        .last()
        .map(|v| v.id.clone())
        .unwrap_or(d.id.clone());
    let sender_name = sender_name(conn, &d.sender_id, d.sender_name.as_deref())?;
    let receipt = if d.sender_id == me {
        Some(Receipt::of(conn, &d)?)
    } else {
        None
    };
    Ok(DepositDetail {
        receipt,
        read: item.as_ref().map(|i| i.read_at.is_some()),
        trashed_at: item
            .as_ref()
            .and_then(|i| i.trashed_at)
            .map(|t| t.and_utc()),
        sender_name,
        version,
        versions,
        latest_id,
        id: d.id,
        title: d.title,
        file_name: d.file_name,
        media_type: d.media_type,
        sha256: d.sha256,
        size: d.size,
        received_at: d.received_at.and_utc(),
        sender: d.sender_id,
        replaces: d.replaces,
    })
}

/// Why a change to a deposit the caller can see is refused: deposits are immutable.
pub fn refuse_change(conn: &mut DbConnection, me: &str, id: &str) -> LockerError {
    match repo::visible_deposit(conn, id, me) {
        Ok(Some(_)) => LockerError::Immutable,
        Ok(None) => LockerError::NotFound("deposit"),
        Err(e) => e.into(),
    }
}

/// A deposit's file and how to serve it; a recipient's copy is marked read.
pub async fn open_file(
    ctx: &Context,
    me: String,
    id: String,
) -> Result<(DepositRow, Vec<u8>), LockerError> {
    let d = ctx
        .read(move |conn| {
            let (d, item) =
                repo::visible_deposit(conn, &id, &me)?.ok_or(LockerError::NotFound("deposit"))?;
            if item.is_some_and(|i| i.read_at.is_none()) {
                repo::set_read(conn, &me, std::slice::from_ref(&d.id), true)?;
            }
            Ok::<_, LockerError>(d)
        })
        .await?;
    let store = ctx.store.clone();
    let sha = d.sha256.clone();
    let bytes = actix_web::web::block(move || store.get(&sha))
        .await
        .map_err(ApiError::from)??;
    Ok((d, bytes))
}

//! `/lockers`: the ENT's Casier. A person deposits a document into the lockers of users or
//! groups; the server time-stamps and hashes it at receipt, and the receipt points at the
//! audit entry that proves what was deposited and when. Deposits are immutable (a new version
//! is a new deposit that `replaces` the previous one). Each person has three folders: "Mon
//! casier" (inbox), "Historique" (sent) and "Corbeille" (trash, purged after a delay).

use std::collections::HashSet;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::extract::ValidJson;
use super::upload::{self, ReceivedFile};
use crate::auth::{DataScope, Permission, Principal, Role};
use crate::db::audit::{self, AuditEvent};
use crate::db::lockers::{self as repo, DepositRow, ItemRow};
use crate::db::{DbConnection, jobs};
use crate::domain::filetype;
use crate::domain::locker::{self, Recipient};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::i18n::Text;
use crate::pagination::{Page, Window};
use crate::services::lockers::{self as service, NamedRecipient, resolve};
use crate::state::AppState;
use crate::text;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(deposit)
        .service(show)
        .service(update_refused)
        .service(delete_refused)
        .service(download)
        .service(inbox)
        .service(sent)
        .service(trash)
        .service(move_to_trash)
        .service(restore)
        .service(mark_read)
        .service(search_recipients)
        .service(list_groups)
        .service(show_group)
        .service(put_group)
        .service(delete_group);
}

/// The locker user id of the caller, after checking they may use lockers; staff are recorded
/// so that others can address them.
async fn me(state: &AppState, principal: &Principal) -> Result<(String, DataScope), ApiError> {
    let scope = principal.authorize(Permission::LockersUse)?;
    let id = locker::user_id(principal).ok_or_else(|| {
        ApiError::forbidden(crate::i18n::Text::fixed(
            "seules les personnes ont un casier",
            "only people have a locker",
        ))
    })?;
    if principal.role != Role::Student {
        let (uid, role) = (
            id.clone(),
            if principal.role == Role::Admin {
                "admin"
            } else {
                "manager"
            },
        );
        let name = principal.name.clone();
        state
            .db
            .run(move |conn| repo::ensure_user(conn, &uid, role, name.as_deref()))
            .await?;
    }
    Ok((id, scope))
}

fn field_error(field: &str, code: &str, message: crate::i18n::Text) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: crate::i18n::Localized(message),
    }])
}

/// Detects a received file's type on its first bytes and checks it against `allowed`;
/// returns the detected media type.
pub(crate) async fn check_type(
    file: &ReceivedFile,
    allowed: &[String],
) -> Result<String, ApiError> {
    if file.size == 0 {
        return Err(ApiError::new(
            ErrorCode::EmptyFile,
            Text::fixed("le fichier est vide", "the file is empty"),
        ));
    }
    let mut head = Vec::with_capacity(filetype::HEAD_BYTES);
    tokio::fs::File::open(&file.temp)
        .await
        .map_err(|e| ApiError::internal(format!("reading the received file: {e}")))?
        .take(filetype::HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .await
        .map_err(|e| ApiError::internal(format!("reading the received file: {e}")))?;
    let sniffed = filetype::sniff(&head);
    if !filetype::allowed(&sniffed, allowed) {
        let (why_fr, why_en) = if sniffed.executable {
            (
                "les exécutables et les scripts ne sont jamais acceptés".to_owned(),
                "executables and scripts are never accepted".to_owned(),
            )
        } else {
            let allowed = allowed.join(", ");
            (
                format!("types acceptés : {allowed}"),
                format!("accepted types: {allowed}"),
            )
        };
        let detected = &sniffed.media_type;
        return Err(ApiError::new(
            ErrorCode::ForbiddenFileType,
            crate::text!(
                "le contenu du fichier est `{detected}` (reconnu sur le contenu, pas sur le nom) ; {why_fr}",
                "the file's content is `{detected}` (detected on the content, not the name); {why_en}"
            ),
        )
        .with("detected_type", &sniffed.media_type));
    }
    Ok(sniffed.media_type)
}

/// A file name safe to echo in a Content-Disposition header.
pub(crate) fn safe_file_name(name: Option<&str>, fallback: &str) -> String {
    let cleaned: String = name
        .unwrap_or(fallback)
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(fallback)
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && !crate::domain::text::is_invisible_format(*c))
        .take(200)
        .collect();
    if cleaned.trim().is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

/// The multipart form of `POST /lockers/deposits`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DepositForm {
    /// The document. Its type is detected on its content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The title recipients see (at most 200 characters).
    title: String,
    /// Recipients, comma-separated or as a JSON array: `student:<COD_ETU>`, `manager:<sub>`,
    /// `admin:<sub>`, `etape:<COD_ETP>` (the étape's validly enrolled students this year),
    /// `group:<name>`.
    recipients: String,
    /// The id of the sender's previous deposit this one is a new version of.
    replaces: Option<String>,
}

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
    fn of(conn: &mut DbConnection, d: &DepositRow) -> Result<Self, ApiError> {
        let recipients: Vec<String> = serde_json::from_str(&d.recipients).unwrap_or_default();
        Ok(Receipt {
            recipient_names: service::names_of(conn, &d.sender_id, &recipients)?,
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

/// Deposits a document into the lockers of users and groups ("Déposer dans un casier").
/// The file is hashed and time-stamped at receipt; nothing is recorded unless everything
/// (recipients, type, size, quota, version) is right — one transaction, with its audit entry.
#[utoipa::path(
    operation_id = "createLockerDeposit",
    tag = "lockers",
    request_body(content = DepositForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Receipt, description = "Deposited; the receipt proves what and when"),
        (status = 409, description = "`replaces` names a deposit that already has a newer version (`deposit_superseded`)"),
        (status = 413, description = "The file is over the size limit (`file_too_large`) or the sender's quota (`quota_exceeded`)"),
        (status = 415, description = "Not a multipart form"),
        (status = 422, description = "Invalid fields, a recipient that does not exist (`unknown_recipient`), an empty file, or a type not accepted (`forbidden_file_type`)"),
        (status = 507, description = "The data directory cannot take the file"),
    )
)]
#[post("/lockers/deposits")]
async fn deposit(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (me, scope) = me(&state, &principal).await?;
    if upload::media_type(&req) != "multipart/form-data" {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            Text::fixed(
                "envoyez le dépôt en multipart/form-data avec les parties `file`, `title` et `recipients`",
                "send the deposit as multipart/form-data with `file`, `title` and `recipients` parts",
            ),
        ));
    }
    let config = &state.config.lockers;
    let form = upload::form(&req, payload, &state.config.limits);
    let mut form = upload::receive_form(
        form,
        &state.config.data_dir.join("tmp"),
        "file",
        config.max_file_bytes,
        ErrorCode::FileTooLarge,
    )
    .await?;
    let title = form.required("title")?.trim().to_owned();
    if title.chars().count() > 200 {
        return Err(field_error(
            "title",
            "length",
            crate::i18n::Text::fixed("200 caractères au plus", "at most 200 characters"),
        ));
    }
    let addressed = locker::split_recipients(form.required("recipients")?);
    if addressed.len() > 500 {
        return Err(field_error(
            "recipients",
            "length",
            crate::i18n::Text::fixed(
                "500 destinataires au plus par dépôt",
                "at most 500 recipients per deposit",
            ),
        ));
    }
    let replaces = form.optional("replaces").map(|s| s.trim().to_owned());
    let file = form.take_file("file")?;
    let media_type = check_type(&file, &config.allowed_types).await?;
    let file_name = safe_file_name(file.file_name.as_deref(), "document");

    let year = state.config.current_academic_year();
    let quota = config.quota_bytes;
    let store = state.store.clone();
    let key = state.audit_key.clone();
    let actor = principal.actor();
    let student = principal
        .cod_etu
        .clone()
        .filter(|_| principal.role == Role::Student);
    // Staff are shown by the name their token gave when they deposited; students by the registry.
    let sender_name = principal.name.clone().filter(|_| student.is_none());
    let (sha, size, temp) = (
        file.sha256.clone(),
        file.size as i64,
        file.temp.to_path_buf(),
    );
    let row = state
        .db
        .write(move |conn| {
            let recipients = resolve(conn, &scope, year, &addressed)?;
            if recipients.is_empty() {
                return Err(field_error(
                    "recipients",
                    "empty",
                    crate::i18n::Text::fixed("les destinataires ne désignent personne (une étape sans étudiant inscrit valablement, un groupe vide)", "the recipients resolve to no one (an étape without validly enrolled students, an empty group)"),
                ));
            }
            if let Some(previous) = &replaces {
                let prev = repo::deposit(conn, previous)?
                    .filter(|d| d.sender_id == me)
                    .ok_or_else(|| {
                        field_error("replaces", "unknown", crate::i18n::Text::fixed("aucun de vos dépôts n'a cet identifiant", "no deposit of yours has this id"))
                    })?;
                if let Some(newer) = repo::replaced_by(conn, &prev.id)? {
                    let latest = repo::chain(conn, &newer)?
                        .last()
                        .map(|d| d.id.clone())
                        .unwrap_or(newer.id);
                    return Err(ApiError::new(
                        ErrorCode::DepositSuperseded,
                        crate::i18n::Text::fixed(
                            "ce dépôt a déjà une version plus récente : remplacez la dernière",
                            "this deposit already has a newer version: replace the latest one",
                        ),
                    )
                    .with("latest_id", latest));
                }
            }
            let used = repo::used_bytes(conn, &me)?;
            if used.saturating_add(size) as u64 > quota {
                return Err(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    crate::text!(
                        "ce dépôt de {size} octets dépasserait votre quota de {quota} octets ({used} utilisés)",
                        "this deposit of {size} bytes would take you over your quota of {quota} bytes ({used} used)"
                    ),
                )
                .with("quota_bytes", quota)
                .with("used_bytes", used));
            }
            // Content-addressed: storing the same bytes twice keeps one copy.
            store.adopt(&temp, &sha)?;
            let id = uuid::Uuid::now_v7().to_string();
            let received_at = crate::db::now();
            let seq = audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "locker.deposit",
                    student: student.as_deref(),
                    object_type: "locker_deposit",
                    object_id: Some(&id),
                    details: serde_json::json!({
                        "sha256": sha,
                        "size": size,
                        "media_type": media_type,
                        "received_at": received_at.and_utc().to_rfc3339(),
                        "recipient_count": recipients.len(),
                        "replaces": replaces,
                    }),
                },
            )?;
            let hash = audit_hash(conn, seq)?;
            let row = DepositRow {
                id,
                sender_id: me,
                title,
                file_name,
                media_type,
                sha256: sha,
                size,
                replaces,
                recipients: serde_json::to_string(&addressed).unwrap_or_else(|_| "[]".into()),
                recipient_count: recipients.len() as i32,
                received_at,
                audit_seq: seq,
                audit_hash: hash,
                sender_name,
            };
            repo::insert_deposit(conn, &row, &recipients)?;
            Receipt::of(conn, &row)
        })
        .await?;
    drop(file);
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/lockers/deposits/{}", row.id),
        ))
        .json(row))
}

fn audit_hash(conn: &mut DbConnection, seq: i64) -> Result<String, ApiError> {
    use crate::db::schema::audit_log;
    use diesel::prelude::*;
    Ok(audit_log::table
        .find(seq)
        .select(audit_log::hash)
        .first(conn)?)
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

/// One deposit (sender or recipient; anyone else: 404), with its version chain.
#[utoipa::path(
    operation_id = "getLockerDeposit",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 200, body = DepositDetail),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[get("/lockers/deposits/{id}")]
async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<DepositDetail>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let id = id.into_inner();
    let detail = state
        .db
        .run(move |conn| {
            let (d, item) = repo::visible_deposit(conn, &id, &me)?
                .ok_or_else(|| ApiError::not_found("deposit"))?;
            let chain = repo::chain(conn, &d)?;
            let ids: Vec<String> = chain.iter().map(|c| c.id.clone()).collect();
            let held = repo::held(conn, &me, &ids)?;
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
            let sender_name = service::sender_name(conn, &d.sender_id, d.sender_name.as_deref())?;
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
        })
        .await?;
    Ok(web::Json(detail))
}

async fn immutable(state: &AppState, principal: &Principal, id: String) -> ApiError {
    let (me, _) = match me(state, principal).await {
        Ok(v) => v,
        Err(e) => return e,
    };
    let visible = state
        .db
        .run(move |conn| Ok(repo::visible_deposit(conn, &id, &me)?.is_some()))
        .await;
    match visible {
        Ok(true) => ApiError::new(
            ErrorCode::DepositImmutable,
            crate::i18n::Text::fixed(
                "un dépôt ne peut être ni modifié ni supprimé une fois fait ; déposez une nouvelle \
                 version avec `replaces` (un destinataire peut mettre sa copie à la corbeille)",
                "a deposit cannot be changed or deleted once made; deposit a new version with \
                 `replaces` (a recipient may move their copy to the trash)",
            ),
        ),
        Ok(false) => ApiError::not_found("deposit"),
        Err(e) => e,
    }
}

/// Always refused: a deposit is immutable once made ("il n'est pas possible de le modifier").
#[utoipa::path(
    operation_id = "updateLockerDeposit",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 409, description = "Deposits are immutable (`deposit_immutable`): deposit a new version with `replaces`"),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[put("/lockers/deposits/{id}")]
async fn update_refused(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Err(immutable(&state, &principal, id.into_inner()).await)
}

/// Always refused: a deposit cannot be deleted once made ("ni de le supprimer a posteriori");
/// recipients move their copy to the trash instead.
#[utoipa::path(
    operation_id = "deleteLockerDeposit",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 409, description = "Deposits are immutable (`deposit_immutable`)"),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[delete("/lockers/deposits/{id}")]
async fn delete_refused(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Err(immutable(&state, &principal, id.into_inner()).await)
}

/// Downloads a deposit's file (sender and recipients only; anyone else: 404). A recipient's
/// copy is marked read.
#[utoipa::path(
    operation_id = "downloadLockerDepositFile",
    tag = "lockers",
    params(("id" = String, Path, description = "Deposit id")),
    responses(
        (status = 200, description = "The file, with its detected media type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such deposit among the caller's sent or received ones"),
    )
)]
#[get("/lockers/deposits/{id}/file")]
async fn download(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let id = id.into_inner();
    let d = state
        .db
        .run(move |conn| {
            let (d, item) = repo::visible_deposit(conn, &id, &me)?
                .ok_or_else(|| ApiError::not_found("deposit"))?;
            if item.is_some_and(|i| i.read_at.is_none()) {
                repo::set_read(conn, &me, std::slice::from_ref(&d.id), true)?;
            }
            Ok(d)
        })
        .await?;
    let store = state.store.clone();
    let sha = d.sha256.clone();
    let bytes = web::block(move || store.get(&sha)).await??;
    Ok(HttpResponse::Ok()
        .content_type(d.media_type.as_str())
        .insert_header((
            "Content-Disposition",
            upload::content_disposition("attachment", &d.file_name),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("Digest", format!("sha-256={}", d.sha256)))
        .body(bytes))
}

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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FolderQuery {
    /// Inbox only: just the unread deposits.
    pub unread: Option<bool>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
}

async fn folder(
    state: &AppState,
    principal: &Principal,
    query: FolderQuery,
    trashed: bool,
) -> Result<Page<InboxItem>, ApiError> {
    let (me, _) = me(state, principal).await?;
    let window = Window::new(query.page, query.per_page)?;
    let unread = query.unread.unwrap_or(false);
    let retention = chrono::Duration::seconds(
        i64::try_from(state.config.lockers.trash_retention_secs).unwrap_or(i64::MAX / 2),
    );
    state
        .db
        .run(move |conn| {
            let (rows, total) = repo::folder(conn, &me, trashed, unread, window)?;
            let ids: Vec<String> = rows.iter().map(|(d, _)| d.id.clone()).collect();
            let newer = repo::newer_versions_held(conn, &me, &ids)?;
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
                    purge_at: i.trashed_at.map(|t| (t + retention).and_utc()),
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
        })
        .await
}

/// "Mon casier": the documents deposited in the caller's locker, newest first.
#[utoipa::path(operation_id = "listMyLockerInbox", tag = "lockers", params(FolderQuery), responses((status = 200, body = Page<InboxItem>)))]
#[get("/lockers/me/inbox")]
async fn inbox(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<FolderQuery>,
) -> Result<web::Json<Page<InboxItem>>, ApiError> {
    Ok(web::Json(
        folder(&state, &principal, query.into_inner(), false).await?,
    ))
}

/// "Corbeille": the caller's trashed documents, with the date each will be purged.
#[utoipa::path(operation_id = "listMyLockerTrash", tag = "lockers", params(FolderQuery), responses((status = 200, body = Page<InboxItem>)))]
#[get("/lockers/me/trash")]
async fn trash(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<FolderQuery>,
) -> Result<web::Json<Page<InboxItem>>, ApiError> {
    Ok(web::Json(
        folder(&state, &principal, query.into_inner(), true).await?,
    ))
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SentQuery {
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
}

/// "Historique": the documents the caller deposited in others' lockers, newest first.
#[utoipa::path(operation_id = "listMyLockerSent", tag = "lockers", params(SentQuery), responses((status = 200, body = Page<SentItem>)))]
#[get("/lockers/me/sent")]
async fn sent(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SentQuery>,
) -> Result<web::Json<Page<SentItem>>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let window = Window::new(query.page, query.per_page)?;
    let page = state
        .db
        .run(move |conn| {
            let (rows, total) = repo::sent(conn, &me, window)?;
            let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
            let reads = repo::read_counts(conn, &ids)?;
            let mut items = Vec::with_capacity(rows.len());
            for d in rows {
                let recipients: Vec<String> =
                    serde_json::from_str(&d.recipients).unwrap_or_default();
                items.push(SentItem {
                    read_count: reads.get(&d.id).copied().unwrap_or(0),
                    recipient_names: service::names_of(conn, &d.sender_id, &recipients)?,
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
        })
        .await?;
    Ok(web::Json(page))
}

/// Several deposits of the caller's locker at once.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Deposit ids (1 to 500).
    #[validate(length(min = 1, max = 500))]
    pub ids: Vec<String>,
}

/// Marking deposits read or unread.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadSelection {
    #[validate(length(min = 1, max = 500))]
    pub ids: Vec<String>,
    /// true: mark read (default); false: mark unread.
    pub read: Option<bool>,
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

/// Moves deposits of the caller's inbox to the trash; each is purged for good after the
/// configured retention (`lockers.trash_retention_secs`) unless restored.
#[utoipa::path(
    operation_id = "trashMyLockerDeposits",
    tag = "lockers",
    request_body = Selection,
    responses((status = 200, body = BulkOutcome))
)]
#[post("/lockers/me/trash")]
async fn move_to_trash(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<Selection>,
) -> Result<web::Json<BulkOutcome>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let ids = body.0.ids;
    let retention = chrono::Duration::seconds(
        i64::try_from(state.config.lockers.trash_retention_secs).unwrap_or(i64::MAX / 2),
    );
    let actor = principal.actor();
    let result = state
        .db
        .write(move |conn| {
            let held = repo::held(conn, &me, &ids)?;
            let now = crate::db::now();
            let updated = repo::set_trashed(conn, &me, &ids, Some(now))?;
            let due = now
                .checked_add_signed(retention)
                .unwrap_or(chrono::NaiveDateTime::MAX);
            for id in &updated {
                jobs::enqueue_at(
                    conn,
                    crate::jobs::locker_purge::KIND,
                    &purge_subject(id, &me),
                    &serde_json::json!({}),
                    &actor,
                    due,
                )?;
            }
            Ok(outcome(&ids, &held, updated))
        })
        .await?;
    Ok(web::Json(result))
}

/// Restores deposits from the caller's trash to their inbox (their purge is called off).
#[utoipa::path(
    operation_id = "restoreMyLockerDeposits",
    tag = "lockers",
    request_body = Selection,
    responses((status = 200, body = BulkOutcome))
)]
#[post("/lockers/me/restore")]
async fn restore(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<Selection>,
) -> Result<web::Json<BulkOutcome>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let ids = body.0.ids;
    let result = state
        .db
        .write(move |conn| {
            let held = repo::held(conn, &me, &ids)?;
            let updated = repo::set_trashed(conn, &me, &ids, None)?;
            for id in &updated {
                jobs::cancel_pending(
                    conn,
                    crate::jobs::locker_purge::KIND,
                    &purge_subject(id, &me),
                    "restored from the trash",
                )?;
            }
            Ok(outcome(&ids, &held, updated))
        })
        .await?;
    Ok(web::Json(result))
}

/// Marks deposits of the caller's locker read (or unread).
#[utoipa::path(
    operation_id = "markMyLockerDepositsRead",
    tag = "lockers",
    request_body = ReadSelection,
    responses((status = 200, body = BulkOutcome))
)]
#[post("/lockers/me/read")]
async fn mark_read(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<ReadSelection>,
) -> Result<web::Json<BulkOutcome>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let ReadSelection { ids, read } = body.0;
    let result = state
        .db
        .write(move |conn| {
            let found = repo::set_read(conn, &me, &ids, read.unwrap_or(true))?;
            let held: HashSet<String> = found.iter().cloned().collect();
            Ok(outcome(&ids, &held, found))
        })
        .await?;
    Ok(web::Json(result))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecipientsQuery {
    /// Words of a name, group or étape (accents and case ignored), or a student number prefix.
    pub q: Option<String>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
}

/// The people and groups the caller may write to, matching `q`: named groups, étapes, staff,
/// then students — a manager finds their composantes' students and étapes only, a student
/// finds named groups only (staff are no directory for students).
#[utoipa::path(operation_id = "listLockerRecipients", tag = "lockers", params(RecipientsQuery), responses((status = 200, body = Page<NamedRecipient>)))]
#[get("/lockers/recipients")]
async fn search_recipients(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<RecipientsQuery>,
) -> Result<web::Json<Page<NamedRecipient>>, ApiError> {
    let (_, scope) = me(&state, &principal).await?;
    let RecipientsQuery { q, page, per_page } = query.into_inner();
    let window = Window::new(page, per_page)?;
    let year = state.config.current_academic_year();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::search(conn, &scope, year, q.as_deref(), window))
            .await?,
    ))
}

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

/// The named groups anyone with a locker may address.
#[utoipa::path(operation_id = "listLockerGroups", tag = "lockers", responses((status = 200, body = Vec<GroupSummary>)))]
#[get("/lockers/groups")]
async fn list_groups(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<GroupSummary>>, ApiError> {
    me(&state, &principal).await?;
    let rows = state.db.run(repo::groups).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(g, n)| GroupSummary {
                name: g.name,
                label: g.label,
                member_count: n,
            })
            .collect(),
    ))
}

async fn load_group(state: &AppState, name: String) -> Result<Group, ApiError> {
    state
        .db
        .run(move |conn| {
            let g = repo::group(conn, &name)?.ok_or_else(|| ApiError::not_found("group"))?;
            let members = repo::group_members(conn, &name)?.unwrap_or_default();
            Ok(Group {
                name: g.name,
                label: g.label,
                members,
                created_by: g.created_by,
                created_at: g.created_at.and_utc(),
                updated_at: g.updated_at.and_utc(),
            })
        })
        .await
}

/// A named group and its members (admins).
#[utoipa::path(
    operation_id = "getLockerGroup",
    tag = "lockers",
    params(("name" = String, Path, description = "Group name")),
    responses((status = 200, body = Group), (status = 404, description = "No such group"))
)]
#[get("/lockers/groups/{name}")]
async fn show_group(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
) -> Result<web::Json<Group>, ApiError> {
    principal.authorize(Permission::LockerGroupsManage)?;
    Ok(web::Json(load_group(&state, name.into_inner()).await?))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    #[validate(length(min = 1, max = 200))]
    pub label: String,
    /// Locker user ids: `student:<COD_ETU>`, `manager:<sub>`, `admin:<sub>` (at most 5,000).
    #[validate(length(max = 5000))]
    pub members: Vec<String>,
}

fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Creates a named group or replaces its label and members (admins). Members must exist;
/// unknown ones are named in an `unknown_recipient` problem.
#[utoipa::path(
    operation_id = "updateLockerGroup",
    tag = "lockers",
    params(("name" = String, Path, description = "Group name (letters, digits, `-`, `_`, `.`)")),
    request_body = GroupBody,
    responses(
        (status = 201, body = Group, description = "Created"),
        (status = 200, body = Group, description = "Replaced"),
        (status = 422, description = "Invalid name or fields, or unknown members (`unknown_recipient`)"),
    )
)]
#[put("/lockers/groups/{name}")]
async fn put_group(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
    body: ValidJson<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Permission::LockerGroupsManage)?;
    let name = name.into_inner();
    if !valid_group_name(&name) {
        return Err(field_error(
            "name",
            "format",
            crate::i18n::Text::fixed(
                "1 à 64 lettres, chiffres, `-`, `_` ou `.`",
                "1 to 64 letters, digits, `-`, `_` or `.`",
            ),
        ));
    }
    let GroupBody { label, members } = body.0;
    let members = locker::split_recipients(&serde_json::to_string(&members).unwrap_or_default());
    let actor = principal.actor();
    let key = state.audit_key.clone();
    let year = state.config.current_academic_year();
    let name_tx = name.clone();
    let created = state
        .db
        .write(move |conn| {
            // Members are people, not groups.
            let people: Vec<String> = members
                .iter()
                .filter(|m| {
                    matches!(
                        Recipient::parse(m),
                        Some(Recipient::Student(_) | Recipient::Staff(_))
                    )
                })
                .cloned()
                .collect();
            let bad: Vec<String> = members
                .iter()
                .filter(|m| !people.contains(m))
                .cloned()
                .collect();
            if !bad.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::UnknownRecipient,
                    {
                        let bad = bad.join(", ");
                        text!(
                            "les membres d'un groupe sont des personnes (student:…, manager:…, admin:…) : {bad}",
                            "group members are people (student:…, manager:…, admin:…): {bad}"
                        )
                    },
                )
                .with("recipients", &bad));
            }
            let resolved = resolve(conn, &DataScope::All, year, &people)?;
            let created = repo::put_group(conn, &name_tx, &label, &resolved, &actor)?;
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: if created {
                        "locker.group.create"
                    } else {
                        "locker.group.update"
                    },
                    student: None,
                    object_type: "locker_group",
                    object_id: Some(&name_tx),
                    details: serde_json::json!({"members": resolved.len()}),
                },
            )?;
            Ok(created)
        })
        .await?;
    let group = load_group(&state, name).await?;
    Ok(if created {
        HttpResponse::Created().json(group)
    } else {
        HttpResponse::Ok().json(group)
    })
}

/// Deletes a named group (admins). Deposits already made to it stay in their recipients' lockers.
#[utoipa::path(
    operation_id = "deleteLockerGroup",
    tag = "lockers",
    params(("name" = String, Path, description = "Group name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such group"))
)]
#[delete("/lockers/groups/{name}")]
async fn delete_group(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Permission::LockerGroupsManage)?;
    let name = name.into_inner();
    let actor = principal.actor();
    let key = state.audit_key.clone();
    state
        .db
        .write(move |conn| {
            if !repo::delete_group(conn, &name)? {
                return Err(ApiError::not_found("group"));
            }
            audit::append(
                conn,
                key.expose().as_bytes(),
                AuditEvent {
                    actor: &actor,
                    action: "locker.group.delete",
                    student: None,
                    object_type: "locker_group",
                    object_id: Some(&name),
                    details: serde_json::json!({}),
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

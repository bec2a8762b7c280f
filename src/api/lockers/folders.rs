//! A person's folders: inbox, trash, sent, and the bulk moves between them.

use actix_web::{get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::me;
use crate::api::extract::ValidJson;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::pagination::{Page, Window};
use crate::services::lockers::folders::{
    self as service, BulkOutcome, FolderView, InboxItem, SentItem,
};
use crate::state::AppState;

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

/// How long the trash keeps an item.
fn retention(state: &AppState) -> chrono::Duration {
    chrono::Duration::seconds(
        i64::try_from(state.config.lockers.trash_retention_secs).unwrap_or(i64::MAX / 2),
    )
}

async fn folder(
    state: &AppState,
    principal: &Principal,
    query: FolderQuery,
    trashed: bool,
) -> Result<Page<InboxItem>, ApiError> {
    let (me, _) = me(state, principal).await?;
    let window = Window::new(query.page, query.per_page)?;
    let view = FolderView {
        trashed,
        unread: query.unread.unwrap_or(false),
        retention: retention(state),
    };
    Ok(state
        .context()
        .read(move |conn| service::folder(conn, &me, view, window))
        .await?)
}

/// "Mon casier": the documents deposited in the caller's locker, newest first.
#[utoipa::path(operation_id = "listMyLockerInbox", tag = "lockers", params(FolderQuery), responses((status = 200, body = Page<InboxItem>)))]
#[get("/lockers/me/inbox")]
pub(super) async fn inbox(
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
pub(super) async fn trash(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<FolderQuery>,
) -> Result<web::Json<Page<InboxItem>>, ApiError> {
    Ok(web::Json(
        folder(&state, &principal, query.into_inner(), true).await?,
    ))
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
pub(super) async fn sent(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SentQuery>,
) -> Result<web::Json<Page<SentItem>>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let window = Window::new(query.page, query.per_page)?;
    let page = state
        .context()
        .read(move |conn| service::sent(conn, &me, window))
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

/// Moves deposits of the caller's inbox to the trash; each is purged for good after the
/// configured retention (`lockers.trash_retention_secs`) unless restored.
#[utoipa::path(
    operation_id = "trashMyLockerDeposits",
    tag = "lockers",
    request_body = Selection,
    responses((status = 200, body = BulkOutcome))
)]
#[post("/lockers/me/trash")]
pub(super) async fn move_to_trash(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<Selection>,
) -> Result<web::Json<BulkOutcome>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let (ids, actor, retention) = (body.0.ids, principal.actor(), retention(&state));
    let result = state
        .context()
        .write(move |conn| service::trash(conn, &me, &actor, &ids, retention))
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
pub(super) async fn restore(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<Selection>,
) -> Result<web::Json<BulkOutcome>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let ids = body.0.ids;
    let result = state
        .context()
        .write(move |conn| service::restore(conn, &me, &ids))
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
pub(super) async fn mark_read(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<ReadSelection>,
) -> Result<web::Json<BulkOutcome>, ApiError> {
    let (me, _) = me(&state, &principal).await?;
    let ReadSelection { ids, read } = body.0;
    let result = state
        .context()
        .write(move |conn| service::mark_read(conn, &me, &ids, read.unwrap_or(true)))
        .await?;
    Ok(web::Json(result))
}

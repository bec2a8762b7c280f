//! Whom to write to: the recipients search and the named groups.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::me;
use crate::api::extract::ValidJson;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::pagination::{Page, Window};
use crate::services::lockers::groups::{self as service, Group, GroupSummary, PutGroup};
use crate::services::lockers::{self as lockers, NamedRecipient};
use crate::state::AppState;

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
pub(super) async fn search_recipients(
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
            .context()
            .read(move |conn| lockers::search(conn, &scope, year, q.as_deref(), window))
            .await?,
    ))
}

/// The named groups anyone with a locker may address.
#[utoipa::path(operation_id = "listLockerGroups", tag = "lockers", responses((status = 200, body = Vec<GroupSummary>)))]
#[get("/lockers/groups")]
pub(super) async fn list_groups(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<Vec<GroupSummary>>, ApiError> {
    me(&state, &principal).await?;
    Ok(web::Json(state.context().read(service::list).await?))
}

/// A named group and its members (admins).
#[utoipa::path(
    operation_id = "getLockerGroup",
    tag = "lockers",
    params(("name" = String, Path, description = "Group name")),
    responses((status = 200, body = Group), (status = 404, description = "No such group"))
)]
#[get("/lockers/groups/{name}")]
pub(super) async fn show_group(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
) -> Result<web::Json<Group>, ApiError> {
    principal.authorize(Permission::LockerGroupsManage)?;
    let name = name.into_inner();
    Ok(web::Json(
        state
            .context()
            .read(move |conn| service::get(conn, &name))
            .await?,
    ))
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
pub(super) async fn put_group(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
    body: ValidJson<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Permission::LockerGroupsManage)?;
    let GroupBody { label, members } = body.0;
    let command = PutGroup {
        name: name.into_inner(),
        label,
        members,
        actor: principal.actor(),
        year: state.config.current_academic_year(),
    };
    let ctx = state.context();
    let key = ctx.audit_key.clone();
    let (group, created) = ctx
        .write(move |conn| service::put(conn, key.expose().as_bytes(), command))
        .await?;
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
pub(super) async fn delete_group(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Permission::LockerGroupsManage)?;
    let (name, actor) = (name.into_inner(), principal.actor());
    let ctx = state.context();
    let key = ctx.audit_key.clone();
    ctx.write(move |conn| service::delete(conn, key.expose().as_bytes(), &actor, &name))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

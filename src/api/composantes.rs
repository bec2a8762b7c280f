//! `/composantes`: the faculties, institutes and departments managers are scoped by.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use super::extract::ValidJson;
use crate::auth::{Permission, Principal};
use crate::db::composantes as repo;
use crate::error::{ApiError, ErrorCode};
use crate::pagination::{Page, Window};
use crate::services::composantes::{self as service, ComposanteError};
use crate::state::AppState;
use crate::text;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Composante {
    /// Apogée COD_CMP.
    #[schema(example = "905")]
    pub code: String,
    #[schema(example = "UFR de Sciences")]
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<repo::ComposanteRow> for Composante {
    fn from(r: repo::ComposanteRow) -> Self {
        Composante {
            code: r.code,
            label: r.label,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComposante {
    /// Apogée COD_CMP: 1 to 10 upper-case letters or digits.
    #[validate(length(min = 1, max = 10), custom(function = "validate_code"))]
    #[schema(example = "905")]
    pub code: String,
    #[validate(length(min = 1, max = 200))]
    #[schema(example = "UFR de Sciences")]
    pub label: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposanteUpdate {
    #[validate(length(min = 1, max = 200))]
    pub label: String,
}

pub fn validate_code(code: &str) -> Result<(), validator::ValidationError> {
    if code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("format"))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ComposanteQuery {
    /// 1-based page number.
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
}

/// The composantes visible to the caller: all for admins, their own for managers,
/// those they are enrolled in for students.
#[utoipa::path(operation_id = "listComposantes", tag = "composantes", params(ComposanteQuery), responses((status = 200, body = Page<Composante>)))]
#[get("/composantes")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ComposanteQuery>,
) -> Result<web::Json<Page<Composante>>, ApiError> {
    let scope = principal.authorize(Permission::ComposantesRead)?;
    let window = Window::new(query.page, query.per_page)?;
    let (rows, total) = state
        .context()
        .read(move |conn| service::list(conn, &scope, window))
        .await?;
    Ok(web::Json(window.wrap(
        rows.into_iter().map(Composante::from).collect(),
        total,
    )))
}

/// One composante (404 outside the caller's scope).
#[utoipa::path(
    operation_id = "getComposante",
    tag = "composantes",
    params(("code" = String, Path, description = "COD_CMP")),
    responses(
        (status = 200, body = Composante),
        (status = 404, description = "No such composante within the caller's scope"),
    )
)]
#[get("/composantes/{code}")]
async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
) -> Result<web::Json<Composante>, ApiError> {
    let scope = principal.authorize(Permission::ComposantesRead)?;
    let code = code.into_inner();
    let row = state
        .context()
        .read(move |conn| service::get(conn, &scope, &code))
        .await?;
    Ok(web::Json(row.into()))
}

/// Creates a composante (admin).
#[utoipa::path(
    operation_id = "createComposante",
    tag = "composantes",
    request_body = NewComposante,
    responses(
        (status = 201, body = Composante),
        (status = 403, description = "Only administrators manage composantes"),
        (status = 409, description = "The code exists already"),
        (status = 422, description = "Invalid fields"),
    )
)]
#[post("/composantes")]
async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewComposante>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Permission::ComposantesWrite)?;
    let (NewComposante { code, label }, actor) = (body.0, principal.actor());
    let ctx = state.context();
    let key = ctx.audit_key.clone();
    let row = ctx
        .write(move |conn| service::create(conn, key.expose().as_bytes(), &actor, &code, &label))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/composantes/{}", row.code)))
        .json(Composante::from(row)))
}

/// Renames a composante (admin).
#[utoipa::path(
    operation_id = "updateComposante",
    tag = "composantes",
    params(("code" = String, Path, description = "COD_CMP")),
    request_body = ComposanteUpdate,
    responses(
        (status = 200, body = Composante),
        (status = 403, description = "Only administrators manage composantes"),
        (status = 404, description = "No such composante"),
        (status = 422, description = "Invalid fields"),
    )
)]
#[put("/composantes/{code}")]
async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
    body: ValidJson<ComposanteUpdate>,
) -> Result<web::Json<Composante>, ApiError> {
    principal.authorize(Permission::ComposantesWrite)?;
    let (code, label, actor) = (code.into_inner(), body.0.label, principal.actor());
    let ctx = state.context();
    let key = ctx.audit_key.clone();
    let row = ctx
        .write(move |conn| service::rename(conn, key.expose().as_bytes(), &actor, &code, &label))
        .await?;
    Ok(web::Json(row.into()))
}

/// How a composante's refusals answer.
impl From<ComposanteError> for ApiError {
    fn from(e: ComposanteError) -> Self {
        match e {
            ComposanteError::Exists(code) => ApiError::new(
                ErrorCode::AlreadyExists,
                text!(
                    "la composante {code} existe déjà",
                    "composante {code} exists already"
                ),
            ),
            ComposanteError::NotFound => ApiError::not_found("composante"),
            ComposanteError::Lower(e) => e,
        }
    }
}

//! `GET /metrics`: Prometheus text format (admins, or a service key with `metrics:read`; or
//! without credentials on the separate `metrics.bind` address when configured).

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(metrics);
}

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Live figures: HTTP traffic, job queue depth and age, deliveries by state, Digiposte client
/// calls and circuit state, split durations.
#[utoipa::path(
    operation_id = "getMetrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 403, description = "Administrators or services with `metrics:read` only"),
    )
)]
#[get("/metrics")]
async fn metrics(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Permission::MetricsRead)?;
    render(&state).await
}

pub async fn render(state: &AppState) -> Result<HttpResponse, ApiError> {
    let body = state.metrics.render(&state.db).await?;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(body))
}

//! Liveness and readiness probes (no credentials needed).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(live).service(ready);
}

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok` when the probe passed.
    pub status: &'static str,
}

/// The process is up and serving HTTP.
#[utoipa::path(operation_id = "getHealthLive", tag = "health", responses((status = 200, body = HealthStatus)))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// The process can serve requests: the database answers, and so does a shared (S3) document
/// store (a load balancer's readiness probe).
#[utoipa::path(operation_id = "getHealthReady", tag = "health", responses((status = 200, body = HealthStatus)))]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping().await?;
    let store = state.store.clone();
    web::block(move || store.ready()).await?.map_err(|e| {
        tracing::error!(error = %e, "the document store does not answer");
        ApiError::new(
            crate::error::ErrorCode::StorageUnavailable,
            crate::i18n::Text::fixed(
                "le stockage des documents ne répond pas",
                "the document store does not answer",
            ),
        )
    })?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ok" }))
}

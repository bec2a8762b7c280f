//! `/audit`: the tamper-evident log of every action that sends or changes something (admin).

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{Permission, Principal};
use crate::db::audit::{self as repo, ChainReport};
use crate::error::ApiError;
use crate::pagination::{Page, Window};
use crate::services::audit::{self as service, AuditSearch};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list).service(verify);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    /// The student's pseudonym (never the number or the name).
    pub student_ref: Option<String>,
    pub object_type: String,
    pub object_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<repo::AuditRow> for AuditEntry {
    fn from(r: repo::AuditRow) -> Self {
        AuditEntry {
            seq: r.seq,
            at: r.at.and_utc(),
            actor: r.actor,
            action: r.action,
            student_ref: r.student_ref,
            object_type: r.object_type,
            object_id: r.object_id,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Exact actor, e.g. `manager:jdupont`.
    pub actor: Option<String>,
    /// A student number: entries about this student (matched through its pseudonym).
    pub student: Option<String>,
    /// Exact action, e.g. `vault.terminate`.
    pub action: Option<String>,
    /// From this instant (inclusive, RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Until this instant (exclusive, RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub page: Option<u32>,
    /// Items per page (at most 500).
    pub per_page: Option<u32>,
}

/// Audit entries in chain order, filtered (admin).
#[utoipa::path(operation_id = "listAuditEntries", tag = "audit", params(AuditQuery), responses((status = 200, body = Page<AuditEntry>), (status = 403, description = "Administrators only")))]
#[get("/audit")]
async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<Page<AuditEntry>>, ApiError> {
    principal.authorize(Permission::AuditRead)?;
    let query = query.into_inner();
    let window = Window::new(query.page, query.per_page)?;
    let search = AuditSearch {
        actor: query.actor,
        student: query.student,
        action: query.action,
        since: query.since.map(|t| t.naive_utc()),
        until: query.until.map(|t| t.naive_utc()),
    };
    let key = state.audit_key.clone();
    let (rows, total) = state
        .context()
        .read(move |conn| service::search(conn, key.expose().as_bytes(), search, window))
        .await?;
    Ok(web::Json(window.wrap(
        rows.into_iter().map(AuditEntry::from).collect(),
        total,
    )))
}

/// Recomputes the whole chain and names the first entry that does not verify (admin).
#[utoipa::path(operation_id = "getAuditVerification", tag = "audit", responses((status = 200, body = ChainReport), (status = 403, description = "Administrators only")))]
#[get("/audit/verify")]
async fn verify(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<ChainReport>, ApiError> {
    principal.authorize(Permission::AuditRead)?;
    Ok(web::Json(state.context().read(service::verify).await?))
}

//! What every handler can reach: configuration, database and token keys.

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::config::Config;
use crate::db::Db;
use crate::storage::DocumentStore;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub jwt: Arc<JwtKeys>,
    /// Trusted OpenID providers and their cached keys (`auth.issuers`).
    pub oidc: Arc<crate::auth::oidc::Issuers>,
    pub store: Arc<dyn DocumentStore>,
    /// Key of students' pseudonyms in the audit log.
    pub audit_key: Arc<crate::config::Secret>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// ScoDoc clients by configured department, built on first use (they keep their token).
    pub scodoc: Arc<crate::scodoc::ScoDocClients>,
    /// The rate limit's buckets, shared by the HTTP workers.
    pub rate_limiter: Arc<crate::ratelimit::RateLimiter>,
    /// Counts of 401 and 429 answers, logged once a minute.
    pub refusals: Arc<crate::telemetry::RefusalSummary>,
}

impl AppState {
    pub fn audit_key(&self) -> &[u8] {
        self.audit_key.expose().as_bytes()
    }

    /// What the use cases may reach (database, store, audit key, the clock's academic year),
    /// without the rest of the state.
    pub fn context(&self) -> crate::services::context::Context {
        crate::services::context::Context {
            db: self.db.clone(),
            store: self.store.clone(),
            audit_key: self.audit_key.clone(),
            year: self.config.current_academic_year(),
        }
    }
}

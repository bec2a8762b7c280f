//! Assembles the actix application: middlewares, extractor settings, routes, Swagger UI.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use utoipa::openapi::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, RouteTable, extract};
use crate::auth::jwt::JwtKeys;
use crate::config::Config;
use crate::db::Db;
use crate::state::AppState;

/// The OpenAPI document, exactly as the server describes itself.
pub fn openapi_spec() -> OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(api::base_doc())
        .configure(api::configure)
        .split_for_parts();
    api::finalize(&mut spec);
    spec
}

/// The OpenAPI document of a server with this configuration: with `auth.issuers`, Swagger UI
/// may also sign in with the first OpenID provider (`openIdConnect` scheme).
pub fn openapi_spec_for(config: &Config) -> OpenApi {
    let mut spec = openapi_spec();
    if let Some(url) = crate::auth::oidc::Issuers::first_discovery_url(&config.auth) {
        api::add_openid_connect(&mut spec, &url);
    }
    spec
}

/// Everything the HTTP workers share, built once at start.
#[derive(Clone)]
pub struct Shared {
    pub state: web::Data<AppState>,
    pub spec: Arc<OpenApi>,
    pub routes: web::Data<RouteTable>,
}

impl Shared {
    pub fn new(config: Config, db: Db) -> Result<Shared, crate::server::StartError> {
        if config.storage.is_shared() {
            // Several instances: a secret created under one instance's data directory would
            // differ on the next (tokens refused, audit pseudonyms that never match).
            let mut missing = Vec::new();
            if config.auth.jwt_secret.is_empty() && config.auth.jwt_public_key_pem.is_none() {
                missing.push("auth.jwt_secret (or auth.jwt_public_key_pem)");
            }
            if config.audit.pseudonym_key.is_empty() {
                missing.push("audit.pseudonym_key");
            }
            if !missing.is_empty() {
                return Err(crate::server::StartError::SharedSecrets(missing.join(", ")));
            }
        }
        let store = crate::storage::from_config(&config)?;
        let jwt = JwtKeys::from_config(&config.auth, &config.data_dir)?;
        let oidc = crate::auth::oidc::Issuers::from_config(&config.auth)
            .map_err(crate::server::StartError::Oidc)?;
        let audit_key = audit_key(&config)?;
        let spec = openapi_spec_for(&config);
        let routes = RouteTable::from_spec(&spec);
        let rate_limiter = Arc::new(crate::ratelimit::RateLimiter::from_config(
            &config.rate_limit,
        ));
        Ok(Shared {
            state: web::Data::new(AppState {
                store,
                audit_key: Arc::new(audit_key),
                metrics: Arc::new(crate::metrics::Metrics::new()),
                scodoc: Arc::new(crate::scodoc::ScoDocClients::default()),
                rate_limiter,
                refusals: Arc::new(crate::telemetry::RefusalSummary::default()),
                config: Arc::new(config),
                db,
                jwt: Arc::new(jwt),
                oidc: Arc::new(oidc),
            }),
            spec: Arc::new(spec),
            routes: web::Data::new(routes),
        })
    }
}

/// The key of students' pseudonyms in the audit log: configured, or created once under the
/// data directory.
pub fn audit_key(config: &Config) -> Result<crate::config::Secret, crate::server::StartError> {
    if config.audit.pseudonym_key.is_empty() {
        crate::secrets::load_or_create(&config.data_dir, "audit-pseudonym-key").map_err(|e| {
            crate::server::StartError::DataDir(config.data_dir.display().to_string(), e)
        })
    } else {
        Ok(config.audit.pseudonym_key.clone())
    }
}

/// One HTTP worker's application.
pub fn build(
    shared: Shared,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let config = &shared.state.config;
    let (app, _) = App::new()
        .app_data(shared.state.clone())
        .app_data(shared.routes.clone())
        .app_data(web::JsonConfig::default().limit(config.json_limit_bytes))
        .app_data(web::PayloadConfig::new(config.json_limit_bytes))
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .into_utoipa_app()
        .openapi(api::base_doc())
        .configure(api::configure)
        .split_for_parts();
    let mut swagger_ui =
        SwaggerUi::new("/swagger-ui/{_:.*}").url("/openapi.json", (*shared.spec).clone());
    if let Some(issuer) = config.auth.issuers.first() {
        // "Authorize" with the OpenID provider: authorization code + PKCE (a public client).
        let mut oauth =
            utoipa_swagger_ui::oauth::Config::new().use_pkce_with_authorization_code_grant(true);
        if !issuer.swagger_ui_client_id.is_empty() {
            oauth = oauth.client_id(&issuer.swagger_ui_client_id);
        }
        swagger_ui = swagger_ui.oauth(oauth);
    }
    app.service(swagger_ui)
        .default_service(web::to(api::unmatched))
        .wrap(from_fn(crate::ratelimit::throttle))
        .wrap(from_fn(crate::guard::body_deadlines))
        .wrap(from_fn(crate::guard::security_headers))
        .wrap(from_fn(crate::telemetry::request_context))
}

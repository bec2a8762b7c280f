//! HTTP layer: one module per resource, each with a `configure` that registers its handlers
//! through utoipa-actix-web so that no route exists without its OpenAPI description.

pub mod audit;
pub mod composantes;
pub mod consents;
pub mod contract;
pub mod digiposte;
pub mod examples;
pub mod extract;
pub mod grade_transfers;
pub mod health;
pub mod lockers;
pub mod me;
pub mod metrics;
pub mod problems;
pub mod students;
pub mod supporting_documents;
pub mod treatments;
pub mod upload;
pub mod vaults;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::OpenApi;
use utoipa::openapi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, ErrorCode, FieldError, Problem};
use crate::i18n::Text;
use crate::text;

/// Every resource's routes. Used by the server and by `passerelle openapi`.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    me::configure(cfg);
    composantes::configure(cfg);
    students::configure(cfg);
    vaults::configure(cfg);
    treatments::configure(cfg);
    consents::configure(cfg);
    grade_transfers::configure(cfg);
    lockers::configure(cfg);
    supporting_documents::configure(cfg);
    audit::configure(cfg);
    metrics::configure(cfg);
    digiposte::configure(cfg);
}

/// Operations anyone may call without credentials.
/// (`/webhooks/` carry no bearer token: each receipt is authenticated by its HMAC signature.)
const PUBLIC_PATH_PREFIXES: &[&str] = &["/health/", "/webhooks/"];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "passerelle",
        description = "REST gateway between Apogée, ScoDoc, the ENT and Digiposte. \
            Every error is an RFC 9457 problem document (`application/problem+json`) whose `code` \
            is one of the `ErrorCode` values.",
        license(name = "AGPL-3.0-or-later")
    ),
    components(schemas(Problem, ErrorCode, FieldError)),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "identity", description = "Who the caller is, as passerelle understands it"),
        (name = "composantes", description = "Faculties, institutes and departments (COD_CMP)"),
        (name = "students", description = "Students and enrolments imported from Apogée"),
        (name = "vaults", description = "Students' Digiposte vaults (coffres) and their statuses"),
        (name = "treatments", description = "Uploaded Apogée batches, their split documents and deliveries"),
        (name = "consents", description = "RGPD consent and objection ledger"),
        (name = "grades", description = "Grade transfers from ScoDoc into Apogée maquettes"),
        (name = "lockers", description = "Lockers (casiers): immutable, time-stamped person-to-person deposits"),
        (name = "supporting_documents", description = "Supporting documents (pièces justificatives) required at enrolment, deposited and checked"),
        (name = "audit", description = "Tamper-evident audit log"),
        (name = "operations", description = "Metrics for monitoring"),
        (name = "digiposte", description = "Digiposte receipts (signed webhook) and membership synchronisation"),
    )
)]
struct ApiDoc;

pub fn base_doc() -> openapi::OpenApi {
    ApiDoc::openapi()
}

/// Adds what every operation shares, so handlers only document their own outcomes:
/// security requirements, every problem status the operation can answer (generated from the
/// error table, see [`problems`]), binary bodies as binary strings, multipart encodings, and
/// the `Location` headers and links of the operations that create something, and an example
/// for every request body and successful answer.
pub fn finalize(spec: &mut openapi::OpenApi) {
    spec.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = spec.components.get_or_insert_with(Default::default);
    let bearer = SecurityScheme::Http(
        Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT or API key (psk_…)")
            .description(Some(
                "A JWT minted by the ENT (or `passerelle token`), or a service API key \
                 (`passerelle apikey create`).",
            ))
            .build(),
    );
    components.add_security_scheme("bearer", bearer);
    problems::add_examples(components);
    for (path, item) in spec.paths.paths.iter_mut() {
        let public = problems::is_public(path);
        for operation in operations_mut(item) {
            if !public {
                operation.security = Some(vec![openapi::security::SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
            }
            problems::document(path, operation);
            contract::describe_responses(operation);
            contract::binary_bodies(operation);
            contract::multipart_encodings(operation);
            contract::creation_links(operation);
        }
    }
    examples::add(spec);
}

/// Declares the OpenID provider's sign-in (`openIdConnect`, at its discovery address) as an
/// alternative to the bearer scheme on every operation that needs credentials.
pub fn add_openid_connect(spec: &mut openapi::OpenApi, discovery_url: &str) {
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "oidc",
        SecurityScheme::OpenIdConnect(openapi::security::OpenIdConnect::with_description(
            discovery_url,
            "Sign in with the university's OpenID provider (authorization code + PKCE), where \
             the provider allows Swagger UI's redirect address.",
        )),
    );
    for item in spec.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            if let Some(security) = operation.security.as_mut()
                && !security.is_empty()
            {
                security.push(openapi::security::SecurityRequirement::new(
                    "oidc",
                    Vec::<String>::new(),
                ));
            }
        }
    }
}

fn operations_mut(
    item: &mut openapi::PathItem,
) -> impl Iterator<Item = &mut openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// A response whose body is a problem document.
pub fn problem_response(description: &str) -> openapi::Response {
    openapi::ResponseBuilder::new()
        .description(description)
        .content(
            crate::error::PROBLEM_JSON,
            openapi::content::ContentBuilder::new()
                .schema(Some(openapi::Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// The spec as a stable, pretty JSON string (what `openapi/openapi.json` holds).
pub fn spec_json(spec: &openapi::OpenApi) -> String {
    let mut s = spec
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    s.push('\n');
    s
}

/// The routes of the spec, to answer 405 (with `Allow`) rather than 404 when only the method is wrong.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<Method>)>,
}

impl RouteTable {
    pub fn from_spec(spec: &openapi::OpenApi) -> RouteTable {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path
                    .trim_matches('/')
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                let methods = [
                    (item.get.is_some(), Method::GET),
                    (item.put.is_some(), Method::PUT),
                    (item.post.is_some(), Method::POST),
                    (item.delete.is_some(), Method::DELETE),
                    (item.patch.is_some(), Method::PATCH),
                ]
                .into_iter()
                .filter_map(|(present, m)| present.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods the spec allows on this concrete path (empty if no template matches).
    pub fn allowed_methods(&self, path: &str) -> Vec<Method> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut allowed: Vec<Method> = Vec::new();
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| (s.starts_with('{') && !p.is_empty()) || s == p);
            if matches {
                for m in methods {
                    if !allowed.contains(m) {
                        allowed.push(m.clone());
                    }
                }
            }
        }
        allowed
    }
}

/// Answers requests no route took: 405 with `Allow` when the path exists for other methods,
/// 404 otherwise — both as problem documents.
pub async fn unmatched(req: HttpRequest, routes: web::Data<RouteTable>) -> HttpResponse {
    let allowed = routes.allowed_methods(req.path());
    let error = if allowed.is_empty() {
        ApiError::new(
            ErrorCode::NotFound,
            Text::fixed(
                "aucune opération à cette adresse ; voir /openapi.json",
                "no operation at this path; see /openapi.json",
            ),
        )
    } else {
        let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        ApiError::new(ErrorCode::MethodNotAllowed, {
            let (method, list) = (req.method(), list.join(", "));
            text!(
                "{method} n'est pas permis ici ; méthodes permises : {list}",
                "{method} is not allowed here; allowed: {list}"
            )
        })
        .with_header(header::ALLOW, &list.join(", "))
    };
    actix_web::ResponseError::error_response(&error)
}

/// Authorizes `principal` for `permission`: who acts, as the use cases take it.
pub(crate) fn caller(
    principal: &crate::auth::Principal,
    permission: crate::auth::Permission,
) -> Result<crate::services::context::Caller, ApiError> {
    Ok(crate::services::context::Caller {
        scope: principal.authorize(permission)?,
        name: principal.actor(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_matches_templates() {
        let spec = crate::app::openapi_spec();
        let table = RouteTable::from_spec(&spec);
        assert!(table.allowed_methods("/composantes").contains(&Method::GET));
        assert!(
            table
                .allowed_methods("/composantes/905")
                .contains(&Method::PUT)
        );
        assert!(table.allowed_methods("/nope").is_empty());
        assert!(table.allowed_methods("/composantes/905/x").is_empty());
    }
}

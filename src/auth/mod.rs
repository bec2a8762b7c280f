//! Who is calling and what they may see.
//!
//! Every handler takes a [`Principal`] (401 when credentials are missing or bad) and asks it for a
//! [`Permission`]; the answer is the [`DataScope`] that every repository query then takes, so a
//! manager only ever reads their composantes' rows and a student only their own. Objects outside
//! the scope are simply not found (404), never 403, so their existence does not leak.

pub mod apikey;
pub mod jwt;
pub mod oidc;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::i18n::Text;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Application administrator: everything, everywhere.
    Admin,
    /// Gestionnaire: scolarité staff of one or more composantes.
    Manager,
    /// A student, for their own data only.
    Student,
    /// A machine client (the ENT, a ScoDoc connector…) limited to its scopes.
    Service,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Jwt,
    ApiKey,
}

/// The authenticated caller, as passerelle understands it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Principal {
    /// Stable identifier of the caller (JWT `sub`, or the API key's name).
    pub subject: String,
    pub role: Role,
    /// Manager: the composantes they manage. Service: the composantes it is limited to (empty = all).
    pub composantes: Vec<String>,
    /// Student: their student number (COD_ETU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cod_etu: Option<String>,
    /// Service: the scopes it was granted, e.g. `vaults:read`.
    pub scopes: Vec<String>,
    /// How the caller authenticated.
    pub credential: CredentialKind,
    /// Display name, when the identity provider gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

// Defined with the pure rules so the repositories take it without importing `auth`.
pub use crate::domain::scope::DataScope;

/// Who may do what. One row per operation family; admins may do everything.
/// `service` is the scope a machine client needs (None: services may not).
struct Rule {
    manager: bool,
    student: bool,
    service: Option<&'static str>,
}

macro_rules! permissions {
    ($( $(#[$doc:meta])* $name:ident => { manager: $m:expr, student: $s:expr, service: $svc:expr } ),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Permission { $( $(#[$doc])* $name ),* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[ $( Permission::$name ),* ];

            fn rule(self) -> Rule {
                match self { $( Permission::$name => Rule { manager: $m, student: $s, service: $svc } ),* }
            }
        }
    };
}

permissions! {
    /// List and read composantes within scope.
    ComposantesRead => { manager: true, student: true, service: Some("composantes:read") },
    /// Create or rename composantes.
    ComposantesWrite => { manager: false, student: false, service: None },
    /// Import enrolments from Apogée (managers: rows of their composantes only).
    StudentsImport => { manager: true, student: false, service: Some("students:import") },
    /// List and read students and their enrolments.
    StudentsRead => { manager: true, student: false, service: Some("students:read") },
    /// List, count and read vaults.
    VaultsRead => { manager: true, student: false, service: Some("vaults:read") },
    /// Request vault actions (subscribe, terminate, reinvite).
    VaultsAct => { manager: true, student: false, service: Some("vaults:write") },
    /// Upload Apogée batches for splitting.
    UploadsWrite => { manager: true, student: false, service: Some("uploads:write") },
    /// List treatments, their documents, and preview them.
    TreatmentsRead => { manager: true, student: false, service: Some("treatments:read") },
    /// Send, cancel, confirm identities on treatments.
    TreatmentsAct => { manager: true, student: false, service: Some("treatments:write") },
    /// Release a document held outside the uploader's composantes (administrators only).
    TreatmentsRelease => { manager: false, student: false, service: None },
    /// Read a student's consent ledger (students: their own).
    ConsentsRead => { manager: true, student: true, service: Some("consents:read") },
    /// Record a consent event (managers: paper refusals; students: their own, via the ENT).
    ConsentsWrite => { manager: true, student: true, service: Some("consents:write") },
    /// List grade transfers, their reports, diffs and filled maquettes.
    GradesRead => { manager: true, student: false, service: Some("grades:read") },
    /// Create grade transfers (fill a maquette from ScoDoc or a grade file).
    GradesWrite => { manager: true, student: false, service: Some("grades:write") },
    /// Read and verify the audit log.
    AuditRead => { manager: false, student: false, service: None },
    /// Export a student's personal data (students: via /me/personal-data).
    PersonalDataRead => { manager: false, student: false, service: None },
    /// Erase (anonymise) a student.
    StudentsErase => { manager: false, student: false, service: None },
    /// Run the membership synchronisation on demand (managers: their composantes' vaults).
    DigiposteAdmin => { manager: true, student: false, service: None },
    /// Use one's own locker: deposit, read the folders, trash and restore (people only).
    LockersUse => { manager: true, student: true, service: None },
    /// Define named locker groups.
    LockerGroupsManage => { manager: false, student: false, service: None },
    /// Define the supporting documents each étape requires.
    SupportingDocumentsConfigure => { manager: false, student: false, service: None },
    /// List students' supporting documents and their completeness.
    SupportingDocumentsRead => { manager: true, student: false, service: Some("supporting_documents:read") },
    /// Accept or reject a supporting document.
    SupportingDocumentsReview => { manager: true, student: false, service: Some("supporting_documents:write") },
    /// Scrape Prometheus metrics.
    MetricsRead => { manager: false, student: false, service: Some("metrics:read") },
}

impl Permission {
    /// The service scope that grants this permission, if services may have it.
    pub fn service_scope(self) -> Option<&'static str> {
        self.rule().service
    }

    pub fn allows(self, role: Role) -> bool {
        let rule = self.rule();
        match role {
            Role::Admin => true,
            Role::Manager => rule.manager,
            Role::Student => rule.student,
            Role::Service => rule.service.is_some(),
        }
    }
}

impl Principal {
    /// Checks the permission and returns the data scope the caller's queries must use.
    pub fn authorize(&self, permission: Permission) -> Result<DataScope, ApiError> {
        let denied = || {
            let role = serde_json::to_value(self.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            ApiError::forbidden(crate::text!(
                "le rôle {role} ne permet pas cette opération",
                "a {role} principal may not perform this operation"
            ))
        };
        if !permission.allows(self.role) {
            return Err(denied());
        }
        Ok(match self.role {
            Role::Admin => DataScope::All,
            Role::Manager => DataScope::Composantes(self.composantes.clone()),
            Role::Student => DataScope::Student(self.cod_etu.clone().unwrap_or_default()),
            Role::Service => {
                let needed = permission.service_scope().ok_or_else(denied)?;
                if !self.scopes.iter().any(|s| s == needed) {
                    return Err(ApiError::forbidden(crate::text!(
                        "cet identifiant de service n'a pas la portée `{needed}`",
                        "this service credential lacks the scope `{needed}`"
                    )));
                }
                if self.composantes.is_empty() {
                    DataScope::All
                } else {
                    DataScope::Composantes(self.composantes.clone())
                }
            }
        })
    }

    /// How the caller is named in histories and the audit log: `role:subject` for staff and
    /// services; a student is just `student` (the record they act on already says whose),
    /// so their identifiers never spread into logs and histories.
    pub fn actor(&self) -> String {
        match self.role {
            Role::Admin => format!("admin:{}", self.subject),
            Role::Manager => format!("manager:{}", self.subject),
            Role::Service => format!("service:{}", self.subject),
            Role::Student => "student".to_owned(),
        }
    }

    /// The student number of a student principal, or 403 for anyone else.
    pub fn own_cod_etu(&self) -> Result<&str, ApiError> {
        match (&self.role, &self.cod_etu) {
            (Role::Student, Some(c)) => Ok(c),
            _ => Err(ApiError::forbidden(crate::i18n::Text::fixed(
                "seul un étudiant peut utiliser cette opération",
                "only a student may use this operation",
            ))),
        }
    }
}

/// Caches the principal on the request so other extractors and middlewares reuse it.
#[derive(Clone)]
struct Authenticated(Arc<Principal>);

/// Caches a refused credential on the request, so it is looked up once (by the rate limit).
#[derive(Clone)]
struct Refused(crate::i18n::Text);

/// The request's principal, authenticated once per request: the result (success or refusal)
/// is kept on the request for the rate limit, the extractors and the handler.
pub async fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    if let Some(Authenticated(p)) = req.extensions().get::<Authenticated>() {
        return Ok((**p).clone());
    }
    if let Some(Refused(why)) = req.extensions().get::<Refused>() {
        return Err(ApiError::unauthenticated(why.clone()));
    }
    let attempt = async {
        let token = bearer_token(req)?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal("application state missing"))?
            .clone();
        if apikey::looks_like_api_key(&token) {
            apikey::authenticate(&state.db, token).await
        } else if let Some(principal) =
            oidc::authenticate(&state.oidc, &state.config.auth.jwt_issuer, &token).await?
        {
            Ok(principal) // from a trusted OpenID provider (auth.issuers)
        } else {
            state.jwt.verify(&token)
        }
    };
    match attempt.await {
        Ok(principal) => {
            req.extensions_mut()
                .insert(Authenticated(Arc::new(principal.clone())));
            Ok(principal)
        }
        Err(e) => {
            if e.code == crate::error::ErrorCode::Unauthenticated {
                req.extensions_mut().insert(Refused((*e.detail).clone()));
            }
            Err(e)
        }
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthenticated(crate::i18n::Text::fixed(
            "en-tête Authorization absent (jeton Bearer ou clé d'API)",
            "missing Authorization header (Bearer token or API key)",
        ))
    })?;
    let value = value.to_str().map_err(|_| {
        ApiError::unauthenticated(Text::fixed(
            "l'en-tête Authorization n'est pas un texte valide",
            "the Authorization header is not valid text",
        ))
    })?;
    let not_bearer = || {
        ApiError::unauthenticated(Text::fixed(
            "l'en-tête Authorization doit être `Bearer <jeton>`",
            "the Authorization header must be `Bearer <token>`",
        ))
    };
    let (scheme, token) = value.split_once(' ').ok_or_else(not_bearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(not_bearer());
    }
    Ok(token.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            subject: "x".into(),
            role,
            composantes: vec!["905".into()],
            cod_etu: Some("21900001".into()),
            scopes: vec!["composantes:read".into()],
            credential: CredentialKind::Jwt,
            name: None,
        }
    }

    #[test]
    fn scopes_follow_the_role() {
        assert_eq!(
            principal(Role::Admin)
                .authorize(Permission::ComposantesWrite)
                .unwrap(),
            DataScope::All
        );
        assert_eq!(
            principal(Role::Manager)
                .authorize(Permission::ComposantesRead)
                .unwrap(),
            DataScope::Composantes(vec!["905".into()])
        );
        assert_eq!(
            principal(Role::Student)
                .authorize(Permission::ComposantesRead)
                .unwrap(),
            DataScope::Student("21900001".into())
        );
        let err = principal(Role::Manager)
            .authorize(Permission::ComposantesWrite)
            .unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::Forbidden);
    }

    #[test]
    fn services_need_the_scope() {
        let mut svc = principal(Role::Service);
        assert_eq!(
            svc.authorize(Permission::ComposantesRead).unwrap(),
            DataScope::Composantes(vec!["905".into()])
        );
        svc.scopes.clear();
        assert!(svc.authorize(Permission::ComposantesRead).is_err());
        assert!(svc.authorize(Permission::ComposantesWrite).is_err());
    }

    #[test]
    fn composante_coverage() {
        assert!(DataScope::All.covers_composante("1"));
        assert!(DataScope::Composantes(vec!["1".into()]).covers_composante("1"));
        assert!(!DataScope::Composantes(vec!["1".into()]).covers_composante("2"));
        assert!(!DataScope::Student("s".into()).covers_composante("1"));
    }
}

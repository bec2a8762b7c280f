//! Tokens from the university's OpenID provider (`auth.issuers`): the ENT's users and the
//! machine clients of the client-credentials grant, verified against the provider's published
//! keys (see [`jwks`]) and turned into a principal by each issuer's claim mapping
//! (see [`mapping`]). Tokens of any other issuer go to the HS256/PEM path of [`super::jwt`].

pub mod jwks;
pub mod mapping;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Text;
use jwks::KeyCache;
use mapping::ClaimMapping;

/// One trusted OpenID provider.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer identifier, exactly as the tokens' `iss` says (and its discovery document).
    pub issuer: String,
    /// The JWKS address; empty: found by discovery at `<issuer>/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_uri: String,
    /// The `aud` passerelle's tokens carry (one of them, when `aud` is a list).
    pub audience: String,
    /// Accepted signature algorithms: `RS256`, `ES256`, `EdDSA` (never `none` nor HS*).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<SignatureAlgorithm>,
    /// The cached keys are fetched again after this many seconds.
    #[serde(default = "default_max_age")]
    pub jwks_max_age_secs: u64,
    /// At most one key fetch per this many seconds (unknown `kid`s cannot hammer the provider).
    #[serde(default = "default_min_refresh")]
    pub jwks_min_refresh_secs: u64,
    /// Timeout of each request to the provider, in milliseconds.
    #[serde(default = "default_timeout")]
    pub http_timeout_ms: u64,
    /// The provider's client id of Swagger UI (a public client allowed the redirect address
    /// `<passerelle>/swagger-ui/oauth2-redirect.html`); empty: typed in the Authorize dialog.
    /// Only the first issuer's is used.
    #[serde(default)]
    pub swagger_ui_client_id: String,
    /// From claims to passerelle's principal.
    #[serde(default)]
    pub mapping: ClaimMapping,
}

/// The asymmetric algorithms an issuer's keys may sign with. There is deliberately no HS* and
/// no `none`: a JWKS issuer's tokens are verified with public keys only.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RS256,
    ES256,
    EdDSA,
}

impl SignatureAlgorithm {
    fn algorithm(self) -> Algorithm {
        match self {
            SignatureAlgorithm::RS256 => Algorithm::RS256,
            SignatureAlgorithm::ES256 => Algorithm::ES256,
            SignatureAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }
}

fn default_algorithms() -> Vec<SignatureAlgorithm> {
    vec![SignatureAlgorithm::RS256]
}
fn default_max_age() -> u64 {
    3600
}
fn default_min_refresh() -> u64 {
    60
}
fn default_timeout() -> u64 {
    5000
}

impl IssuerConfig {
    /// Where clients (Swagger UI) find the provider.
    pub fn discovery_url(&self) -> String {
        jwks::discovery_url(&self.issuer)
    }

    /// Configuration checks serde cannot express; `key` names the entry in messages.
    pub fn check(&self, key: &str) -> Result<(), String> {
        let is_url = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !is_url(&self.issuer) {
            return Err(format!("{key}.issuer: must be an http(s) URL"));
        }
        if !self.jwks_uri.is_empty() && !is_url(&self.jwks_uri) {
            return Err(format!(
                "{key}.jwks_uri: must be an http(s) URL, or empty for discovery"
            ));
        }
        if self.audience.trim().is_empty() {
            return Err(format!("{key}.audience: required"));
        }
        if self.algorithms.is_empty() {
            return Err(format!(
                "{key}.algorithms: at least one of RS256, ES256, EdDSA"
            ));
        }
        if !self.mapping.has_rules() {
            return Err(format!(
                "{key}.mapping: no rule (admin, manager, student or service); \
                 see deploy/passerelle.oidc.example.toml"
            ));
        }
        Ok(())
    }
}

const MALFORMED: Text = Text::fixed("le jeton est mal formé", "the token is malformed");

/// Why an issuer's token was refused.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{0}")]
    Invalid(Text),
    #[error("the token maps to no passerelle role: {0}")]
    NoRole(mapping::NoRole),
}

impl From<OidcError> for ApiError {
    fn from(e: OidcError) -> ApiError {
        match e {
            OidcError::Invalid(why) => ApiError::unauthenticated(why),
            OidcError::NoRole(no_role) => ApiError::new(ErrorCode::NoRoleForToken, no_role.text()),
        }
    }
}

/// A trusted issuer and its key cache.
pub struct Issuer {
    pub config: IssuerConfig,
    keys: KeyCache,
}

/// The configured issuers, shared by every worker.
#[derive(Default)]
pub struct Issuers {
    list: Vec<Arc<Issuer>>,
    leeway_secs: u64,
}

impl Issuers {
    pub fn from_config(auth: &crate::config::AuthConfig) -> Result<Issuers, String> {
        let mut list = Vec::new();
        for config in &auth.issuers {
            let http = crate::http_client::client_builder()
                .timeout(Duration::from_millis(config.http_timeout_ms))
                .build()
                .map_err(|e| format!("HTTP client for {}: {e}", config.issuer))?;
            let keys = KeyCache::new(
                http,
                &config.issuer,
                Some(config.jwks_uri.clone()).filter(|u| !u.is_empty()),
                Duration::from_secs(config.jwks_max_age_secs),
                Duration::from_secs(config.jwks_min_refresh_secs),
            );
            list.push(Arc::new(Issuer {
                config: config.clone(),
                keys,
            }));
        }
        Ok(Issuers {
            list,
            leeway_secs: auth.jwt_leeway_secs,
        })
    }

    /// The configured issuer this token claims to come from. None: not an OpenID provider's
    /// token (the HS256/PEM path decides). An `iss` that is neither is refused here.
    pub fn route(&self, token: &str, local_issuer: &str) -> Result<Option<Arc<Issuer>>, OidcError> {
        if self.list.is_empty() {
            return Ok(None);
        }
        let Ok(claims) =
            jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
        else {
            return Ok(None); // malformed: the local path answers as it always has
        };
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(issuer) = self.list.iter().find(|i| i.config.issuer == iss) {
            return Ok(Some(issuer.clone()));
        }
        if iss == local_issuer {
            return Ok(None);
        }
        Err(OidcError::Invalid(Text::fixed(
            "l'émetteur du jeton n'est pas reconnu",
            "the token's issuer is not trusted",
        )))
    }

    /// Verifies an issuer's token and maps its claims to a principal.
    pub async fn verify(&self, issuer: &Issuer, token: &str) -> Result<Principal, OidcError> {
        let claims = self.verified_claims(issuer, token).await?;
        issuer
            .config
            .mapping
            .principal(&claims)
            .map_err(OidcError::NoRole)
    }

    async fn verified_claims(
        &self,
        issuer: &Issuer,
        token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| OidcError::Invalid(MALFORMED))?;
        let allowed = issuer
            .config
            .algorithms
            .iter()
            .any(|a| a.algorithm() == header.alg);
        if !allowed {
            return Err(OidcError::Invalid(Text::fixed(
                "l'algorithme du jeton n'est pas accepté pour son émetteur",
                "the token's algorithm is not accepted for its issuer",
            )));
        }
        let key = issuer
            .keys
            .key_for(header.kid.as_deref(), header.alg)
            .await
            .ok_or(OidcError::Invalid(Text::fixed(
                "la clé de signature du jeton n'est pas parmi les clés publiées par son émetteur",
                "the token's signing key is not among its issuer's published keys",
            )))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer.config.issuer]);
        validation.set_audience(&[&issuer.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                OidcError::Invalid(match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        Text::fixed("le jeton a expiré", "the token has expired")
                    }
                    ErrorKind::ImmatureSignature => Text::fixed(
                        "le jeton n'est pas encore valide",
                        "the token is not valid yet",
                    ),
                    ErrorKind::InvalidIssuer => Text::fixed(
                        "l'émetteur du jeton n'est pas accepté",
                        "the token's issuer is not accepted",
                    ),
                    ErrorKind::InvalidAudience => Text::fixed(
                        "l'audience du jeton n'est pas acceptée",
                        "the token's audience is not accepted",
                    ),
                    ErrorKind::InvalidSignature => Text::fixed(
                        "la signature du jeton n'est pas valide",
                        "the token's signature is invalid",
                    ),
                    ErrorKind::InvalidAlgorithm => Text::fixed(
                        "l'algorithme du jeton n'est pas accepté",
                        "the token's algorithm is not accepted",
                    ),
                    ErrorKind::MissingRequiredClaim(_) => Text::fixed(
                        "il manque au jeton une revendication obligatoire",
                        "the token lacks a required claim",
                    ),
                    _ => MALFORMED,
                })
            })?;
        Ok(data.claims)
    }

    /// The first issuer's discovery address (the OpenAPI `openIdConnect` scheme).
    pub fn first_discovery_url(auth: &crate::config::AuthConfig) -> Option<String> {
        auth.issuers.first().map(IssuerConfig::discovery_url)
    }
}

/// The principal of a token from a configured OpenID provider; None when the token is not one
/// (an HS256/PEM token, checked by the caller).
pub async fn authenticate(
    issuers: &Issuers,
    local_issuer: &str,
    token: &str,
) -> Result<Option<Principal>, OidcError> {
    match issuers.route(token, local_issuer)? {
        Some(issuer) => issuers.verify(&issuer, token).await.map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(algorithms: serde_json::Value) -> Result<IssuerConfig, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example.org", "audience": "passerelle",
            "algorithms": algorithms,
            "mapping": {"student": {"claim": "eduPersonAffiliation", "values": ["student"],
                                    "cod_etu_claim": "supannEtuId"}}
        }))
    }

    #[test]
    fn never_none_nor_a_shared_secret_algorithm() {
        assert!(issuer(serde_json::json!(["RS256", "ES256", "EdDSA"])).is_ok());
        for refused in ["HS256", "HS512", "none", "PS256"] {
            assert!(issuer(serde_json::json!([refused])).is_err(), "{refused}");
        }
        let empty = issuer(serde_json::json!([])).unwrap();
        assert!(empty.check("auth.issuers[0]").is_err());
    }
}

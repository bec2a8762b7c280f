//! One issuer's signing keys: found by OIDC discovery (or an explicit `jwks_uri`), fetched with
//! the project's HTTP client, cached, and refreshed when a token names an unknown `kid` or the
//! cache is older than its maximum age. Refreshes are at most one per `min_refresh` (a flood of
//! made-up `kid`s costs the provider one request), and a provider that is down leaves the cached
//! keys in use.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

pub struct KeyCache {
    http: reqwest::Client,
    issuer: String,
    /// Configured `jwks_uri`; None: discovery.
    jwks_uri: Option<String>,
    max_age: Duration,
    min_refresh: Duration,
    state: RwLock<CacheState>,
    /// Serialises refreshes: tokens with the same new `kid` wait for one fetch.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct CacheState {
    keys: Vec<CachedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

#[derive(Clone)]
struct CachedKey {
    kid: Option<String>,
    /// The JWK's own `alg`, when it names one.
    alg: Option<String>,
    kind: KeyKind,
    key: DecodingKey,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    Ed25519,
}

fn kind_for(alg: Algorithm) -> Option<KeyKind> {
    match alg {
        Algorithm::RS256 => Some(KeyKind::Rsa),
        Algorithm::ES256 => Some(KeyKind::P256),
        Algorithm::EdDSA => Some(KeyKind::Ed25519),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}: {1}")]
    Http(String, String),
    #[error("the discovery document's issuer `{0}` is not the configured issuer")]
    IssuerMismatch(String),
    #[error("{0}: {1}")]
    Document(String, String),
}

impl KeyCache {
    pub fn new(
        http: reqwest::Client,
        issuer: &str,
        jwks_uri: Option<String>,
        max_age: Duration,
        min_refresh: Duration,
    ) -> KeyCache {
        KeyCache {
            http,
            issuer: issuer.to_owned(),
            jwks_uri,
            max_age,
            min_refresh,
            state: RwLock::new(CacheState::default()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The key that verifies a token with this header, refreshing the cache when needed.
    pub async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let (found, fresh) = self.lookup(kid, alg);
        if found.is_some() && fresh {
            return found;
        }
        if found.is_some() {
            // Stale but known: refresh unless another request already is. A new set decides
            // (a key the provider removed is refused); a failed or skipped refresh keeps the
            // key (the provider may be down).
            if let Ok(_guard) = self.refreshing.try_lock()
                && self.refresh_if_allowed().await
            {
                return self.lookup(kid, alg).0;
            }
            return found;
        }
        // Unknown kid: wait for the refresh in progress, or make one if the rate allows.
        let _guard = self.refreshing.lock().await;
        if let (Some(key), _) = self.lookup(kid, alg) {
            return Some(key);
        }
        self.refresh_if_allowed().await;
        self.lookup(kid, alg).0
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> (Option<DecodingKey>, bool) {
        let state = self.state.read().expect("key cache lock");
        let fresh = state
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.max_age);
        let kind = kind_for(alg);
        let key = state
            .keys
            .iter()
            .find(|k| {
                Some(k.kind) == kind
                    && k.alg.as_deref().is_none_or(|a| Some(a) == alg_name(alg))
                    && match kid {
                        Some(kid) => k.kid.as_deref() == Some(kid),
                        None => true,
                    }
            })
            .map(|k| k.key.clone());
        (key, fresh)
    }

    /// Fetches the keys unless the last attempt is more recent than `min_refresh`; true when
    /// a new key set replaced the cache.
    async fn refresh_if_allowed(&self) -> bool {
        {
            let mut state = self.state.write().expect("key cache lock");
            if state
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.min_refresh)
            {
                return false;
            }
            state.last_attempt = Some(Instant::now());
        }
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "OpenID provider keys fetched");
                let mut state = self.state.write().expect("key cache lock");
                state.keys = keys;
                state.fetched_at = Some(Instant::now());
                true
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e,
                    "cannot refresh the OpenID provider's keys; the cached keys stay in use");
                false
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<CachedKey>, FetchError> {
        let jwks_uri = match &self.jwks_uri {
            Some(uri) => uri.clone(),
            None => self.discover().await?,
        };
        let document = self.get_json(&jwks_uri).await?;
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| FetchError::Document(jwks_uri.clone(), "no `keys` list".into()))?;
        Ok(keys.iter().filter_map(cached_key).collect())
    }

    /// The `jwks_uri` of the discovery document, whose `issuer` must be the configured one
    /// (OpenID Connect Discovery 1.0, §4.3).
    async fn discover(&self) -> Result<String, FetchError> {
        let url = discovery_url(&self.issuer);
        let document = self.get_json(&url).await?;
        let issuer = document
            .get("issuer")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if issuer != self.issuer {
            return Err(FetchError::IssuerMismatch(issuer.to_owned()));
        }
        document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| FetchError::Document(url, "no `jwks_uri`".into()))
    }

    async fn get_json(&self, url: &str) -> Result<Value, FetchError> {
        let http = |e: reqwest::Error| FetchError::Http(url.to_owned(), e.to_string());
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(http)?
            .error_for_status()
            .map_err(http)?;
        response.json().await.map_err(http)
    }
}

/// Where an issuer's discovery document is.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

fn alg_name(alg: Algorithm) -> Option<&'static str> {
    match alg {
        Algorithm::RS256 => Some("RS256"),
        Algorithm::ES256 => Some("ES256"),
        Algorithm::EdDSA => Some("EdDSA"),
        _ => None,
    }
}

/// A signing key of the set, or None for keys passerelle never verifies with (encryption keys,
/// symmetric keys, curves it does not accept).
fn cached_key(value: &Value) -> Option<CachedKey> {
    let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => KeyKind::P256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            KeyKind::Ed25519
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(CachedKey {
        kid: jwk.common.key_id.clone(),
        alg: value.get("alg").and_then(Value::as_str).map(str::to_owned),
        kind,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signing_keys_of_accepted_kinds_are_kept() {
        let rsa = serde_json::json!({"kty": "RSA", "kid": "r", "use": "sig", "alg": "RS256",
            "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw",
            "e": "AQAB"});
        assert!(cached_key(&rsa).is_some());
        let mut enc = rsa.clone();
        enc["use"] = "enc".into();
        assert!(cached_key(&enc).is_none());
        let hmac = serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"});
        assert!(
            cached_key(&hmac).is_none(),
            "never a shared secret from a JWKS"
        );
    }

    #[test]
    fn discovery_address() {
        assert_eq!(
            discovery_url("https://idp.example.org/realms/univ/"),
            "https://idp.example.org/realms/univ/.well-known/openid-configuration"
        );
    }
}

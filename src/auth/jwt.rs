//! Bearer JWTs as the ENT mints them after its CAS/OIDC login.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{CredentialKind, Principal, Role};
use crate::config::{AuthConfig, JwtAlgorithm, Secret};
use crate::error::ApiError;
use crate::i18n::Text;
use crate::text;

/// The claims passerelle reads. `iss`, `aud` and `exp` are checked by the verifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    /// One audience, or (RFC 7519 § 4.1.3) an array of them: read as their list, space-separated
    /// (the verifier has checked that the expected one is among them).
    #[serde(deserialize_with = "one_or_many")]
    pub aud: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub composantes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cod_etu: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s,
        OneOrMany::Many(list) => list.join(" "),
    })
}

/// Verifies (and, with a shared secret, mints) tokens.
pub struct JwtKeys {
    decoding: Option<DecodingKey>,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    /// Longest lifetime accepted (`exp` − `iat`, or `exp` − now), in seconds.
    max_lifetime: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtSetupError {
    #[error("key `auth.jwt_public_key_pem`: {0}")]
    PublicKey(String),
    #[error("cannot read or create the development JWT secret {0}: {1}")]
    SecretFile(String, std::io::Error),
}

impl JwtKeys {
    /// Builds the keys from configuration. With HS256 and no secret configured, a random
    /// development secret is created once under `data_dir` so `passerelle token` and
    /// `passerelle serve` agree with zero configuration.
    pub fn from_config(config: &AuthConfig, data_dir: &Path) -> Result<JwtKeys, JwtSetupError> {
        let algorithm = match config.jwt_algorithm {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.jwt_leeway_secs;
        validation.validate_nbf = true;
        let (decoding, encoding) = match config.jwt_algorithm {
            JwtAlgorithm::HS256 => {
                let secret = if config.jwt_secret.is_empty() {
                    development_secret(data_dir)?
                } else {
                    config.jwt_secret.clone()
                };
                (
                    Some(DecodingKey::from_secret(secret.expose().as_bytes())),
                    Some(EncodingKey::from_secret(secret.expose().as_bytes())),
                )
            }
            JwtAlgorithm::RS256 | JwtAlgorithm::ES256 => {
                let pem = config.jwt_public_key_pem.as_deref().unwrap_or_default();
                let key = if config.jwt_algorithm == JwtAlgorithm::RS256 {
                    DecodingKey::from_rsa_pem(pem.as_bytes())
                } else {
                    DecodingKey::from_ec_pem(pem.as_bytes())
                }
                .map_err(|e| JwtSetupError::PublicKey(e.to_string()))?;
                (Some(key), None)
            }
        };
        Ok(JwtKeys {
            decoding,
            encoding,
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            max_lifetime: config.max_token_lifetime,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let key = self.decoding.as_ref().ok_or_else(|| {
            ApiError::unauthenticated(Text::fixed(
                "l'authentification par jeton n'est pas configurée",
                "token authentication is not configured",
            ))
        })?;
        refuse_critical_extensions(token)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::ExpiredSignature => {
                    Text::fixed("le jeton a expiré", "the token has expired")
                }
                ErrorKind::ImmatureSignature => Text::fixed(
                    "le jeton n'est pas encore valide (nbf)",
                    "the token is not valid yet (nbf)",
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
                    "la signature du jeton est invalide",
                    "the token's signature is invalid",
                ),
                ErrorKind::InvalidAlgorithm => Text::fixed(
                    "l'algorithme du jeton n'est pas accepté",
                    "the token's algorithm is not accepted",
                ),
                ErrorKind::MissingRequiredClaim(_) => Text::fixed(
                    "il manque au jeton une information obligatoire",
                    "the token lacks a required claim",
                ),
                _ => Text::fixed("le jeton est mal formé", "the token is malformed"),
            };
            ApiError::unauthenticated(why)
        })?;
        let now = jsonwebtoken::get_current_timestamp();
        let start = if data.claims.iat == 0 {
            now
        } else {
            data.claims.iat.min(now)
        };
        if data.claims.exp.saturating_sub(start) > self.max_lifetime + self.validation.leeway {
            let max = self.max_lifetime;
            return Err(ApiError::unauthenticated(text!(
                "le jeton vit plus longtemps que les {max} s acceptées (auth.max_token_lifetime)",
                "the token lives longer than the {max} s accepted (auth.max_token_lifetime)"
            )));
        }
        principal_from_claims(data.claims)
    }

    /// The longest lifetime a token may have, in seconds.
    pub fn max_lifetime(&self) -> u64 {
        self.max_lifetime
    }

    /// Mints a token (development and tests; production tokens come from the ENT).
    pub fn mint(&self, mut claims: Claims) -> Result<String, String> {
        let key = self
            .encoding
            .as_ref()
            .ok_or("minting needs an HS256 secret (auth.jwt_secret)")?;
        claims.iss = self.issuer.clone();
        claims.aud = self.audience.clone();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|e| e.to_string())
    }
}

/// RFC 7515 § 4.1.11: a `crit` header names extensions the recipient must understand;
/// passerelle understands none, so a token that has one is refused.
fn refuse_critical_extensions(token: &str) -> Result<(), ApiError> {
    use base64::Engine;
    let malformed = || {
        ApiError::unauthenticated(Text::fixed(
            "le jeton est mal formé",
            "the token is malformed",
        ))
    };
    let header = token.split('.').next().ok_or_else(malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| malformed())?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if header.get("crit").is_some() {
        return Err(ApiError::unauthenticated(Text::fixed(
            "le jeton nomme des extensions critiques (crit) que passerelle ne comprend pas",
            "the token names critical extensions (crit) passerelle does not understand",
        )));
    }
    Ok(())
}

fn principal_from_claims(claims: Claims) -> Result<Principal, ApiError> {
    match claims.role {
        Role::Manager if claims.composantes.is_empty() => {
            return Err(ApiError::unauthenticated(Text::fixed(
                "les revendications du jeton sont incomplètes : un jeton de gestionnaire a besoin de `composantes`",
                "the token's claims are incomplete: a manager token needs `composantes`",
            )));
        }
        Role::Student if claims.cod_etu.as_deref().is_none_or(str::is_empty) => {
            return Err(ApiError::unauthenticated(Text::fixed(
                "les revendications du jeton sont incomplètes : un jeton d'étudiant a besoin de `cod_etu`",
                "the token's claims are incomplete: a student token needs `cod_etu`",
            )));
        }
        _ => {}
    }
    Ok(Principal {
        subject: claims.sub,
        role: claims.role,
        composantes: claims.composantes,
        cod_etu: claims.cod_etu,
        scopes: claims.scopes,
        credential: CredentialKind::Jwt,
        name: claims.name,
    })
}

fn development_secret(data_dir: &Path) -> Result<Secret, JwtSetupError> {
    crate::secrets::load_or_create(data_dir, "jwt-dev-secret").map_err(|e| {
        JwtSetupError::SecretFile(data_dir.join("jwt-dev-secret").display().to_string(), e)
    })
}

/// Parses durations such as `90s`, `15m`, `1h`, `7d`.
pub fn parse_ttl(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration `{s}`"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid duration unit in `{s}` (use s, m, h or d)")),
    };
    Ok(n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        let config = AuthConfig {
            jwt_secret: Secret(secret.into()),
            ..AuthConfig::default()
        };
        JwtKeys::from_config(&config, Path::new("/nonexistent")).unwrap()
    }

    fn claims(role: Role, exp_offset: i64) -> Claims {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        Claims {
            sub: "jdoe".into(),
            iss: String::new(),
            aud: String::new(),
            exp: (now + exp_offset) as u64,
            iat: now as u64,
            role,
            composantes: vec!["905".into()],
            cod_etu: None,
            scopes: vec![],
            name: None,
        }
    }

    #[test]
    fn minted_tokens_verify() {
        let k = keys(&"s".repeat(32));
        let token = k.mint(claims(Role::Manager, 600)).unwrap();
        let p = k.verify(&token).unwrap();
        assert_eq!(p.role, Role::Manager);
        assert_eq!(p.composantes, vec!["905"]);
    }

    #[test]
    fn expiry_leeway_signature_and_claims_are_checked() {
        let k = keys(&"s".repeat(32));
        // Within the 60 s leeway: accepted; beyond: refused.
        assert!(k.verify(&k.mint(claims(Role::Admin, -30)).unwrap()).is_ok());
        assert!(
            k.verify(&k.mint(claims(Role::Admin, -120)).unwrap())
                .is_err()
        );
        let other = keys(&"t".repeat(32));
        assert!(
            k.verify(&other.mint(claims(Role::Admin, 600)).unwrap())
                .is_err()
        );
        // A student token without cod_etu is refused.
        assert!(
            k.verify(&k.mint(claims(Role::Student, 600)).unwrap())
                .is_err()
        );
    }

    #[test]
    fn wrong_audience_is_refused() {
        let k = keys(&"s".repeat(32));
        let mut other_config = AuthConfig {
            jwt_secret: Secret("s".repeat(32)),
            ..AuthConfig::default()
        };
        other_config.jwt_audience = "someone-else".into();
        let other = JwtKeys::from_config(&other_config, Path::new("/nonexistent")).unwrap();
        assert!(
            k.verify(&other.mint(claims(Role::Admin, 600)).unwrap())
                .is_err()
        );
    }

    /// A token with this header and these claims, signed with `secret` (HS256).
    fn forge(secret: &str, header: serde_json::Value, claims: serde_json::Value) -> String {
        use base64::Engine;
        use hmac::Mac;
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let signing_input = format!("{}.{}", b64(&header), b64(&claims));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        let signature =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    #[test]
    fn strict_token_rules() {
        let secret = "s".repeat(32);
        let k = keys(&secret);
        let now = jsonwebtoken::get_current_timestamp();
        let base = serde_json::json!({
            "sub": "jdoe", "iss": "passerelle", "aud": "passerelle", "role": "admin",
            "iat": now, "exp": now + 600,
        });
        let hs = serde_json::json!({"alg": "HS256", "typ": "JWT"});
        let with = |extra: serde_json::Value| {
            let mut c = base.clone();
            c.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            c
        };
        assert!(k.verify(&forge(&secret, hs.clone(), base.clone())).is_ok());
        // nbf in the future (beyond the leeway): refused; in the past: accepted.
        let err = k
            .verify(&forge(
                &secret,
                hs.clone(),
                with(serde_json::json!({"nbf": now + 600})),
            ))
            .unwrap_err();
        assert!(err.detail.contains("nbf"), "{}", err.detail);
        assert!(
            k.verify(&forge(
                &secret,
                hs.clone(),
                with(serde_json::json!({"nbf": now - 10}))
            ))
            .is_ok()
        );
        // Longer than 12 h: refused, whether iat says so or is missing.
        let err = k
            .verify(&forge(
                &secret,
                hs.clone(),
                with(serde_json::json!({"exp": now + 13 * 3600})),
            ))
            .unwrap_err();
        assert!(err.detail.contains("max_token_lifetime"), "{}", err.detail);
        let mut no_iat = with(serde_json::json!({"exp": now + 13 * 3600}));
        no_iat.as_object_mut().unwrap().remove("iat");
        assert!(k.verify(&forge(&secret, hs.clone(), no_iat)).is_err());
        assert!(
            k.verify(&forge(
                &secret,
                hs.clone(),
                with(serde_json::json!({"exp": now + 11 * 3600}))
            ))
            .is_ok()
        );
        // An unknown critical extension: refused.
        let crit =
            serde_json::json!({"alg": "HS256", "typ": "JWT", "crit": ["exp-ext"], "exp-ext": 1});
        let err = k.verify(&forge(&secret, crit, base.clone())).unwrap_err();
        assert!(err.detail.contains("crit"), "{}", err.detail);
        // An audience array holding ours: accepted; one without it: refused.
        assert!(
            k.verify(&forge(
                &secret,
                hs.clone(),
                with(serde_json::json!({"aud": ["ent", "passerelle"]}))
            ))
            .is_ok()
        );
        assert!(
            k.verify(&forge(
                &secret,
                hs,
                with(serde_json::json!({"aud": ["ent"]}))
            ))
            .is_err()
        );
    }

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("1h").unwrap(), 3600);
        assert_eq!(parse_ttl("90").unwrap(), 90);
        assert_eq!(parse_ttl("2d").unwrap(), 172800);
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("h").is_err());
    }
}

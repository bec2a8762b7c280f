//! API keys for services: random, shown once at creation, stored as a sha256 hash.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{CredentialKind, Principal, Role};
use crate::db::{self, Db, DbConnection, api_keys};
use crate::error::ApiError;

/// Every key starts with this, so the extractor can tell keys from JWTs.
pub const PREFIX: &str = "psk_";

pub fn looks_like_api_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What `passerelle apikey create` prints: the key is never shown again.
pub struct CreatedKey {
    pub id: String,
    pub key: String,
}

pub fn create(
    conn: &mut DbConnection,
    name: &str,
    scopes: &[String],
    composantes: &[String],
) -> Result<CreatedKey, ApiError> {
    let key = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let id = uuid::Uuid::now_v7().to_string();
    api_keys::insert(
        conn,
        &api_keys::NewApiKey {
            id: &id,
            name,
            key_hash: &hash(&key),
            scopes: &scopes.join(" "),
            composantes: &composantes.join(" "),
            created_at: db::now(),
        },
    )?;
    Ok(CreatedKey { id, key })
}

pub async fn authenticate(db: &Db, key: String) -> Result<Principal, ApiError> {
    let digest = hash(&key);
    db.run(move |conn| {
        let row = api_keys::find_active_by_hash(conn, &digest)?.ok_or_else(|| {
            ApiError::unauthenticated(crate::i18n::Text::fixed(
                "clé d'API inconnue ou révoquée",
                "unknown or revoked API key",
            ))
        })?;
        api_keys::touch(conn, &row.id, db::now())?;
        Ok(Principal {
            subject: row.name,
            role: Role::Service,
            composantes: split_list(&row.composantes),
            cod_etu: None,
            scopes: split_list(&row.scopes),
            credential: CredentialKind::ApiKey,
            name: None,
        })
    })
    .await
}

pub fn split_list(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

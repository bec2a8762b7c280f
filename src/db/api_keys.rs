//! API keys of machine clients. Only the sha256 of a key is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::api_keys;
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub scopes: String,
    pub composantes: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub scopes: &'a str,
    pub composantes: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, key: &NewApiKey) -> Result<(), ApiError> {
    diesel::insert_into(api_keys::table)
        .values(key)
        .execute(conn)?;
    Ok(())
}

/// An active (not revoked) key by its hash.
pub fn find_active_by_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> Result<Option<ApiKeyRow>, ApiError> {
    Ok(api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn touch(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> Result<(), ApiError> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(at))
        .execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ApiKeyRow>, ApiError> {
    Ok(api_keys::table
        .order(api_keys::created_at.asc())
        .select(ApiKeyRow::as_select())
        .load(conn)?)
}

/// Revokes by id or by name; returns how many keys were revoked.
pub fn revoke(
    conn: &mut DbConnection,
    id_or_name: &str,
    at: NaiveDateTime,
) -> Result<usize, ApiError> {
    Ok(diesel::update(
        api_keys::table
            .filter(
                api_keys::id
                    .eq(id_or_name)
                    .or(api_keys::name.eq(id_or_name)),
            )
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(at))
    .execute(conn)?)
}

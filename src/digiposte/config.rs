//! The `[digiposte]` configuration section.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Secret;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigiposteConfig {
    /// The partner API root, e.g. `https://api.digiposte.fr/digiposte/v3`; empty: Digiposte is
    /// not configured and its workers do not run.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The La Poste developer application key, sent as `X-Okapi-Key` on every call (the
    /// token request included). Never logged.
    pub okapi_key: Secret,
    /// Document-nature code (`type` of the deposit) per passerelle document kind, e.g.
    /// `releve_notes = "CODE"`; the partner's list is `passerelle digiposte document-types`.
    pub document_types: BTreeMap<String, String>,
    /// Per call (each attempt), in milliseconds.
    pub timeout_ms: u64,
    /// Retries of a call after a timeout, a 5xx or a 429 (never after another 4xx).
    pub max_retries: u32,
    /// First retry delay (doubled at each retry, full jitter), in milliseconds.
    pub retry_base_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub retry_max_ms: u64,
    /// The partner quota passerelle paces itself under (calls per minute per token; 0: no pacing).
    pub quota_per_minute: u32,
    /// Consecutive failed calls that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the open breaker refuses calls before letting one probe through, in milliseconds.
    pub breaker_open_ms: u64,
    /// Refresh the OAuth2 token this long before it expires, in seconds.
    pub token_refresh_margin_secs: u64,
    /// Key of the receipts' HMAC-SHA256 signature (`POST /webhooks/digiposte`); empty: receipts
    /// are refused.
    pub webhook_secret: Secret,
    /// Receipts signed longer ago than this are refused, in seconds.
    pub webhook_tolerance_secs: i64,
    /// Wait before another worker's deposit in progress is looked at again, in milliseconds.
    pub reconcile_delay_ms: u64,
    /// A document still awaiting its receipt after this long is reported overdue, in seconds.
    pub receipt_timeout_secs: i64,
    /// NOT PUBLISHED by Digiposte: the path (under `base_url`) of a status read of one
    /// deposit, with `{id_routage}` where its reference goes, e.g.
    /// `/document/{id_routage}/status`; empty: no status read, and a receipt that never
    /// came is left to a manager (`uncertain`).
    pub document_status_path: String,
    /// A document still awaiting its receipt this long after its deposit is reconciled: its
    /// status is read (when `document_status_path` is set), else it goes to `uncertain`, in
    /// seconds.
    pub reconcile_after_secs: i64,
    /// Hour (UTC) of the nightly membership synchronisation.
    pub sync_hour_utc: u32,
    /// Run the nightly synchronisation.
    pub sync_enabled: bool,
}

impl Default for DigiposteConfig {
    fn default() -> Self {
        DigiposteConfig {
            base_url: String::new(),
            client_id: String::new(),
            client_secret: Secret::default(),
            okapi_key: Secret::default(),
            document_types: BTreeMap::new(),
            timeout_ms: 10_000,
            max_retries: 4,
            retry_base_ms: 500,
            retry_max_ms: 30_000,
            quota_per_minute: 100,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            token_refresh_margin_secs: 120,
            webhook_secret: Secret::default(),
            webhook_tolerance_secs: 300,
            reconcile_delay_ms: 5_000,
            receipt_timeout_secs: 48 * 3600,
            document_status_path: String::new(),
            // Receipts come within the day; one not there a day later is taken as lost.
            reconcile_after_secs: 24 * 3600,
            sync_hour_utc: 2,
            sync_enabled: true,
        }
    }
}

impl DigiposteConfig {
    pub fn is_configured(&self) -> bool {
        !self.base_url.trim().is_empty()
    }

    /// The document-nature code configured for a passerelle document kind.
    pub fn document_type(&self, kind: &str) -> Option<&str> {
        self.document_types
            .get(kind)
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
    }
}

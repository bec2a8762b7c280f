//! One typed configuration, read from an optional TOML file and then from `PASSERELLE_*`
//! environment variables (which win). Nested keys use `__` in variable names:
//! `[rate_limit] per_second` is `PASSERELLE_RATE_LIMIT__PER_SECOND`.
//! An invalid value stops the start with a message naming the key and where it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Where secrets are kept in memory: never printed by `Debug`.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// `sqlite://path`, a plain file path, or `postgres://…`.
    pub database_url: String,
    /// Connections kept in the database pool.
    pub database_pool_size: u32,
    /// How long a statement waits for a locked SQLite database (or a pool connection) before
    /// the request answers 503, in milliseconds.
    pub database_busy_timeout_ms: u64,
    /// Directory for the SQLite file (by default) and stored documents.
    pub data_dir: PathBuf,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info` or `passerelle=debug,actix_web=info`.
    pub log_level: String,
    /// HTTP worker threads (0 = one per core).
    pub workers: usize,
    /// Also serve `GET /metrics` without credentials on this address (e.g. 127.0.0.1:9464, for
    /// a Prometheus on a trusted network); unset: only the authenticated `/metrics`.
    pub metrics_bind: Option<SocketAddr>,
    /// Largest JSON body accepted, in bytes.
    pub json_limit_bytes: usize,
    /// Largest enrolment extraction accepted by `POST /students/import`, in bytes.
    pub import_limit_bytes: usize,
    /// The current academic year (2025 = 2025-2026); unset: derived from today's date.
    pub academic_year: Option<i32>,
    /// The month a new academic year starts, when `academic_year` is derived.
    pub academic_year_start_month: u32,
    pub auth: AuthConfig,
    pub rate_limit: RateLimitConfig,
    pub audit: AuditConfig,
    pub jobs: crate::jobs::JobsConfig,
    /// How uploaded batches are validated and split.
    pub split: crate::pdf::SplitConfig,
    /// How long split PDFs are kept after delivery.
    pub retention: crate::jobs::retention::RetentionConfig,
    /// Grade transfers (ScoDoc → Apogée): file limits, filling rules, ScoDoc servers.
    pub grades: GradesConfig,
    /// The Digiposte partner API, receipts and synchronisation.
    pub digiposte: crate::digiposte::DigiposteConfig,
    /// Lockers (casiers): limits, allowed types, trash retention.
    pub lockers: LockersConfig,
    /// Supporting documents (pièces justificatives): limits and allowed types.
    pub supporting_documents: SupportingDocumentsConfig,
    /// Where documents are stored: the data directory (default) or an S3-compatible store.
    pub storage: StorageConfig,
    /// Bounds on request bodies: multipart forms and slow senders.
    pub limits: LimitsConfig,
    /// Cross-origin requests from ENT front-ends.
    pub cors: CorsConfig,
    /// Students' vaults: pre-creation.
    pub vaults: VaultsConfig,
    /// Kinds of documents besides (or rewording) the built-in `releve_notes` and
    /// `attestation_reussite`: `[[document_kinds]]` entries (see the README).
    pub document_kinds: Vec<crate::domain::document_kind::DocumentKind>,
}

/// How vaults are created (seed 001: "pre-created unless the student refused in writing").
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultsConfig {
    /// After an import or a restored consent, queue the Digiposte subscription of every
    /// student with a valid enrolment and no objection (paced under the partner quota).
    /// Off: each subscription is asked for (`POST /vaults/{id}/subscribe`, `POST /vaults/subscribe`).
    pub auto_subscribe: bool,
}

impl Default for VaultsConfig {
    fn default() -> Self {
        VaultsConfig {
            auto_subscribe: true,
        }
    }
}

/// Bounds on what one request may make the server hold, and for how long.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Parts (text fields and files) a multipart form may carry.
    pub form_max_parts: usize,
    /// Largest text field of a multipart form, in bytes.
    pub form_field_max_bytes: usize,
    /// What a multipart form may carry besides its file: text fields, part headers and
    /// boundaries together, in bytes. A form's whole body is at most the operation's file limit
    /// plus this.
    pub form_overhead_max_bytes: u64,
    /// A request body that sends nothing for this long is abandoned with 408, in seconds.
    pub body_idle_timeout_secs: u64,
    /// A request body not received whole within this time is abandoned with 408, in seconds.
    pub body_total_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            form_max_parts: 32,
            form_field_max_bytes: 64 * 1024,
            form_overhead_max_bytes: 1024 * 1024,
            body_idle_timeout_secs: 30,
            body_total_timeout_secs: 900,
        }
    }
}

/// CORS: which browser origins (ENT front-ends) may call the API. Empty: none (same-origin and
/// server-to-server callers only).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Exact origins, e.g. `https://ent.univ.example` (scheme, host and port; no path).
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allowed_origins: Vec::new(),
            max_age_secs: 600,
        }
    }
}

/// The document store. Empty `url`: files under `data_dir/blobs` (one instance). An
/// `s3://bucket/prefix` URL: an S3-compatible object store that several instances share.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `""` (local directory) or `s3://bucket/prefix`.
    pub url: String,
    /// S3 endpoint of a non-AWS server (`http://127.0.0.1:9000`); empty: AWS (or `AWS_ENDPOINT`).
    pub endpoint: String,
    /// Region; empty: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// Access key; empty: `AWS_ACCESS_KEY_ID` (or the instance's role).
    pub access_key_id: String,
    /// Secret key; empty: `AWS_SECRET_ACCESS_KEY`. Never logged.
    pub secret_access_key: Secret,
    /// Accept a plain-HTTP endpoint (a server on loopback or a trusted network).
    pub allow_http: bool,
    /// Size of each part of a multipart upload (5 MiB at least, S3's minimum), in bytes.
    pub part_size_bytes: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: String::new(),
            endpoint: String::new(),
            region: String::new(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            allow_http: false,
            part_size_bytes: 8 * 1024 * 1024,
        }
    }
}

impl StorageConfig {
    /// Whether documents live outside this instance (several instances may then run).
    pub fn is_shared(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockersConfig {
    /// Largest file one deposit may carry, in bytes.
    pub max_file_bytes: u64,
    /// Total bytes one person may deposit (the sum of their sent deposits), in bytes.
    pub quota_bytes: u64,
    /// How long an item stays in a recipient's trash before it is purged for good, in seconds.
    pub trash_retention_secs: u64,
    /// Media types accepted, detected on the content (`image/*` allows a family).
    /// Executables are refused whatever this list says.
    pub allowed_types: Vec<String>,
}

impl Default for LockersConfig {
    fn default() -> Self {
        LockersConfig {
            max_file_bytes: 20 * 1024 * 1024,
            quota_bytes: 500 * 1024 * 1024,
            trash_retention_secs: 30 * 24 * 3600,
            allowed_types: [
                "application/pdf",
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "text/plain",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.oasis.opendocument.spreadsheet",
                "application/vnd.oasis.opendocument.presentation",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportingDocumentsConfig {
    /// Largest supporting document, in bytes.
    pub max_file_bytes: u64,
    /// Media types accepted, detected on the content.
    pub allowed_types: Vec<String>,
}

impl Default for SupportingDocumentsConfig {
    fn default() -> Self {
        SupportingDocumentsConfig {
            max_file_bytes: 10 * 1024 * 1024,
            allowed_types: ["application/pdf", "image/png", "image/jpeg"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradesConfig {
    /// Largest maquette or grade source accepted by `POST /grade-transfers`, in bytes (each).
    pub max_bytes: u64,
    /// Filling rules: `result_codes` (jury code → Apogée code, added to or overriding the
    /// ScoDoc table), `jury_points` (`empty`, `keep`, `from_source`), `scale`,
    /// `zero_note_as_empty`.
    pub fill: crate::apogee::fill::FillOptions,
    /// ScoDoc servers by department name (`[grades.scodoc.RT]`), for the pull path.
    pub scodoc: std::collections::BTreeMap<String, ScoDocDepartment>,
}

impl Default for GradesConfig {
    fn default() -> Self {
        GradesConfig {
            max_bytes: 16 * 1024 * 1024,
            fill: crate::apogee::fill::FillOptions::default(),
            scodoc: std::collections::BTreeMap::new(),
        }
    }
}

/// One ScoDoc department passerelle may pull grades from.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoDocDepartment {
    /// The server, e.g. `https://scodoc.univ.fr`.
    pub base_url: String,
    /// The department acronym as ScoDoc spells it in its URLs; default: the key, upper-cased.
    #[serde(default)]
    pub dept: Option<String>,
    pub username: String,
    pub password: Secret,
    /// Per request, in seconds.
    #[serde(default = "default_scodoc_timeout")]
    pub timeout_secs: f64,
    /// The composantes whose transfers may use this department (empty: any).
    #[serde(default)]
    pub composantes: Vec<String>,
}

fn default_scodoc_timeout() -> f64 {
    30.0
}

impl ScoDocDepartment {
    /// The client configuration for the department configured under `key`.
    pub fn client_config(&self, key: &str) -> crate::scodoc::ScoDocConfig {
        crate::scodoc::ScoDocConfig {
            base_url: self.base_url.clone(),
            dept: self.dept.clone().unwrap_or_else(|| key.to_uppercase()),
            username: self.username.clone(),
            password: self.password.expose().to_owned(),
            timeout: std::time::Duration::from_secs_f64(self.timeout_secs.max(0.1)),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Key of the students' pseudonyms in the audit log; unset: created under `data_dir`.
    /// Changing it makes older entries unreachable by student number (the chain stays valid).
    pub pseudonym_key: Secret,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Shared secret for HS256 tokens (the ENT's signing key, or the one `passerelle token` uses).
    pub jwt_secret: Secret,
    /// PEM public key for RS256/ES256 tokens; when set, tokens must use `jwt_algorithm`.
    pub jwt_public_key_pem: Option<String>,
    /// `HS256`, `RS256` or `ES256`.
    pub jwt_algorithm: JwtAlgorithm,
    /// Expected `iss` claim.
    pub jwt_issuer: String,
    /// Expected `aud` claim.
    pub jwt_audience: String,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    pub jwt_leeway_secs: u64,
    /// Trusted OpenID providers (the ENT's sign-in, client-credentials clients); see the
    /// README's "Connecting the university's OpenID provider".
    pub issuers: Vec<crate::auth::oidc::IssuerConfig>,
    /// Longest lifetime of a token accepted (`exp` − `iat`), in seconds; `passerelle token`
    /// mints none longer.
    pub max_token_lifetime: u64,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Sustained requests per second per authenticated principal (or per IP for signed
    /// webhooks).
    pub per_second: u64,
    /// Burst allowed above the sustained rate.
    pub burst: u32,
    /// Sustained requests per second per IP address without valid credentials (missing or
    /// refused): the tighter bucket.
    pub anonymous_per_second: u64,
    /// Burst of requests without valid credentials per IP address.
    pub anonymous_burst: u32,
    /// Sustained signed webhook requests (Digiposte's receipts) per second per IP address: a
    /// bucket of their own, not the API clients', since a large send brings thousands of
    /// receipts at once and each one lost leaves a document waiting.
    pub webhook_per_second: u64,
    /// Burst of signed webhook requests per IP address.
    pub webhook_burst: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".parse().expect("valid default address"),
            database_url: "sqlite://data/passerelle.db".into(),
            database_pool_size: 8,
            database_busy_timeout_ms: 10_000,
            data_dir: PathBuf::from("data"),
            vaults: VaultsConfig::default(),
            document_kinds: Vec::new(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            workers: 0,
            metrics_bind: None,
            json_limit_bytes: 2 * 1024 * 1024,
            import_limit_bytes: 64 * 1024 * 1024,
            academic_year: None,
            academic_year_start_month: 9,
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            audit: AuditConfig::default(),
            jobs: crate::jobs::JobsConfig::default(),
            split: crate::pdf::SplitConfig::default(),
            retention: crate::jobs::retention::RetentionConfig::default(),
            grades: GradesConfig::default(),
            digiposte: crate::digiposte::DigiposteConfig::default(),
            lockers: LockersConfig::default(),
            supporting_documents: SupportingDocumentsConfig::default(),
            storage: StorageConfig::default(),
            limits: LimitsConfig::default(),
            cors: CorsConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: Secret::default(),
            jwt_public_key_pem: None,
            jwt_algorithm: JwtAlgorithm::HS256,
            jwt_issuer: "passerelle".into(),
            jwt_audience: "passerelle".into(),
            jwt_leeway_secs: 60,
            issuers: Vec::new(),
            max_token_lifetime: 12 * 3600,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            per_second: 50,
            burst: 200,
            anonymous_per_second: 2,
            anonymous_burst: 30,
            webhook_per_second: 2_000,
            webhook_burst: 20_000,
        }
    }
}

/// A configuration that could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then the TOML file (if any), then `PASSERELLE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, Env::prefixed("PASSERELLE_").split("__"))
    }

    fn load_from(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        // Variables the CLI reads itself are not configuration keys.
        let env = env.ignore(&["config", "test_database_url"]);
        let config: Config = figment.merge(env).extract().map_err(describe)?;
        config.check()?;
        Ok(config)
    }

    /// Cross-field checks serde cannot express.
    fn check(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, why: &str| Err(ConfigError(format!("key `{key}`: {why}")));
        if self.database_pool_size == 0 {
            return fail("database_pool_size", "must be at least 1");
        }
        if self.rate_limit.enabled
            && (self.rate_limit.per_second == 0
                || self.rate_limit.burst == 0
                || self.rate_limit.anonymous_per_second == 0
                || self.rate_limit.anonymous_burst == 0
                || self.rate_limit.webhook_per_second == 0
                || self.rate_limit.webhook_burst == 0)
        {
            return fail(
                "rate_limit",
                "per_second, burst, anonymous_per_second, anonymous_burst, webhook_per_second and webhook_burst must be at least 1 when enabled",
            );
        }
        match self.auth.jwt_algorithm {
            JwtAlgorithm::HS256
                if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.0.len() < 32 =>
            {
                return fail("auth.jwt_secret", "must be at least 32 characters long");
            }
            JwtAlgorithm::RS256 | JwtAlgorithm::ES256 if self.auth.jwt_public_key_pem.is_none() => {
                return fail("auth.jwt_public_key_pem", "required for RS256/ES256");
            }
            _ => {}
        }
        for (i, issuer) in self.auth.issuers.iter().enumerate() {
            issuer
                .check(&format!("auth.issuers[{i}]"))
                .map_err(|e| ConfigError(format!("key `{e}`")))?;
        }
        if !(1..=12).contains(&self.academic_year_start_month) {
            return fail(
                "academic_year_start_month",
                "must be a month number, 1 to 12",
            );
        }
        if !self.grades.fill.scale.is_finite() || self.grades.fill.scale <= 0.0 {
            return fail("grades.fill.scale", "must be a positive barème, e.g. 20");
        }
        for (key, dept) in &self.grades.scodoc {
            if !(dept.base_url.starts_with("http://") || dept.base_url.starts_with("https://")) {
                return fail(
                    &format!("grades.scodoc.{key}.base_url"),
                    "must be an http(s) URL",
                );
            }
        }
        if self.storage.is_shared() {
            let url = self.storage.url.trim();
            let bucket = url
                .strip_prefix("s3://")
                .map(|r| r.split('/').next().unwrap_or(""));
            if bucket.is_none_or(str::is_empty) {
                return fail(
                    "storage.url",
                    "must be empty (the data directory) or s3://bucket/prefix",
                );
            }
            if self.storage.part_size_bytes < 5 * 1024 * 1024 {
                return fail(
                    "storage.part_size_bytes",
                    "must be at least 5242880 (S3's smallest part)",
                );
            }
        }
        if self.limits.form_max_parts == 0 || self.limits.form_field_max_bytes == 0 {
            return fail(
                "limits",
                "form_max_parts and form_field_max_bytes must be at least 1",
            );
        }
        if self.limits.body_idle_timeout_secs == 0 || self.limits.body_total_timeout_secs == 0 {
            return fail(
                "limits",
                "body_idle_timeout_secs and body_total_timeout_secs must be at least 1",
            );
        }
        for origin in &self.cors.allowed_origins {
            let bare = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if bare.is_none_or(|b| b.is_empty() || b.contains('/')) {
                return fail(
                    "cors.allowed_origins",
                    "each origin is scheme://host[:port], e.g. https://ent.univ.example",
                );
            }
        }
        let kinds =
            crate::domain::document_kind::DocumentKinds::with_configured(&self.document_kinds)
                .map_err(|e| ConfigError(e.to_string()))?;
        if kinds.get(self.split.kind.as_str()).is_none() {
            return fail(
                "split.kind",
                &format!(
                    "must be one of the document kinds: {}",
                    kinds.codes().join(", ")
                ),
            );
        }
        if self.digiposte.sync_hour_utc > 23 {
            return fail("digiposte.sync_hour_utc", "must be an hour, 0 to 23");
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return fail("log_level", &e.to_string());
        }
        Ok(())
    }

    /// The document kinds this site accepts: the built-in ones, then `[[document_kinds]]`.
    pub fn document_kinds(&self) -> crate::domain::document_kind::DocumentKinds {
        crate::domain::document_kind::DocumentKinds::unchecked(&self.document_kinds)
    }

    /// What `serve` needs beyond [`Config::load`]'s checks: with Digiposte configured, the
    /// La Poste key and a document-nature code for every document kind (Digiposte refuses a
    /// deposit without one, and a deposit is never sent half-configured).
    pub fn check_for_serve(&self) -> Result<(), ConfigError> {
        if !self.digiposte.is_configured() {
            return Ok(());
        }
        if self.digiposte.okapi_key.is_empty() {
            return Err(ConfigError(
                "digiposte.okapi_key is not set (PASSERELLE_DIGIPOSTE__OKAPI_KEY): La Poste's \
                 gateway refuses every call without it"
                    .into(),
            ));
        }
        for kind in self.document_kinds().iter() {
            let code = kind.code.as_str();
            if self.digiposte.document_type(code).is_none() {
                return Err(ConfigError(format!(
                    "digiposte.document_types.{code} is not set \
                     (PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__{}): choose a code in \
                     `passerelle digiposte document-types`",
                    code.to_uppercase()
                )));
            }
        }
        Ok(())
    }

    /// The academic year "now" is in (configured, or derived from today's date).
    pub fn current_academic_year(&self) -> i32 {
        self.academic_year.unwrap_or_else(|| {
            crate::domain::academic_year::academic_year_of(
                chrono::Utc::now().date_naive(),
                self.academic_year_start_month,
            )
        })
    }

    /// The database URL with the default SQLite file placed under `data_dir`.
    pub fn database_url(&self) -> String {
        let default = Config::default();
        if self.database_url == default.database_url && self.data_dir != default.data_dir {
            format!("sqlite://{}", self.data_dir.join("passerelle.db").display())
        } else {
            self.database_url.clone()
        }
    }
}

fn describe(error: figment::Error) -> ConfigError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "(root)".to_owned()
            } else {
                e.path.join(".")
            };
            let env_var = format!("PASSERELLE_{}", e.path.join("__").to_uppercase());
            let source = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_else(|| "defaults".into());
            format!("key `{key}` (env {env_var}, from {source}): {}", e.kind)
        })
        .collect();
    ConfigError(messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> Config {
        try_env(pairs).expect("valid configuration")
    }

    fn try_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        // figment reads real variables; a unique prefix keeps parallel tests apart.
        let prefix = format!("PTEST{}_", uuid::Uuid::new_v4().simple());
        for (k, v) in pairs {
            // SAFETY: the variable names are unique to this test (random prefix).
            unsafe { std::env::set_var(format!("{prefix}{k}"), v) };
        }
        Config::load_from(None, Env::prefixed(&prefix).split("__"))
    }

    fn with_kinds(toml: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load_from(Some(&path), Env::prefixed("PTEST_NONE_"))
    }

    const CERTIFICAT: &str = "[[document_kinds]]\ncode = \"certificat_scolarite\"\n\
        label_fr = \"Certificat de scolarité\"\nlabel_en = \"Certificate of enrolment\"\n\
        markers = [\"certificat de scolarité\"]\npages = \"one_per_student\"\n";

    #[test]
    fn document_kinds_are_read_after_the_built_in_ones() {
        let c = with_kinds(CERTIFICAT).unwrap();
        assert_eq!(
            c.document_kinds().codes(),
            [
                "releve_notes",
                "attestation_reussite",
                "certificat_scolarite"
            ]
        );
        assert_eq!(
            Config::default().document_kinds().codes(),
            ["releve_notes", "attestation_reussite"]
        );
    }

    #[test]
    fn document_kinds_are_checked() {
        let twice = with_kinds(&format!("{CERTIFICAT}{CERTIFICAT}")).unwrap_err();
        assert!(
            twice.to_string().contains("document_kinds[1].code")
                && twice.to_string().contains("declared twice"),
            "{twice}"
        );
        let unlabelled = with_kinds(&CERTIFICAT.replace("label_fr", "# label_fr")).unwrap_err();
        assert!(
            unlabelled
                .to_string()
                .contains("document_kinds[0].label_fr"),
            "{unlabelled}"
        );
        let bad_code =
            with_kinds(&CERTIFICAT.replace("certificat_scolarite", "Certificat")).unwrap_err();
        assert!(
            bad_code.to_string().contains("document kind code"),
            "{bad_code}"
        );
        let unknown_split = with_kinds("[split]\nkind = \"diplome\"\n").unwrap_err();
        assert!(
            unknown_split.to_string().contains("split.kind"),
            "{unknown_split}"
        );
        // The former names of the built-in kinds still read.
        let c = with_kinds("[split]\nkind = \"attestation\"\n").unwrap();
        assert_eq!(c.split.kind.as_str(), "attestation_reussite");
    }

    #[test]
    fn document_kinds_are_read_from_the_environment_as_an_inline_array() {
        let c = env_of(&[(
            "DOCUMENT_KINDS",
            "[{code=\"certificat_scolarite\", label_fr=\"Certificat de scolarité\", \
             label_en=\"Certificate of enrolment\", pages=\"one_per_student\"}]",
        )]);
        let kinds = c.document_kinds();
        let k = kinds.get("certificat_scolarite").unwrap();
        assert_eq!(k.label_fr, "Certificat de scolarité");
        assert_eq!(k.title(2025), "Certificat de scolarité 2025-2026");
    }

    #[test]
    fn serve_needs_a_digiposte_type_for_every_kind() {
        let mut c = with_kinds(CERTIFICAT).unwrap();
        assert!(c.check_for_serve().is_ok(), "Digiposte not configured");
        c.digiposte.base_url = "https://digiposte.example/v3".into();
        c.digiposte.okapi_key = Secret("key".into());
        for (kind, code) in [("releve_notes", "RN"), ("attestation_reussite", "AR")] {
            c.digiposte.document_types.insert(kind.into(), code.into());
        }
        let err = c.check_for_serve().unwrap_err().to_string();
        assert!(
            err.contains("digiposte.document_types.certificat_scolarite")
                && err.contains("PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__CERTIFICAT_SCOLARITE"),
            "{err}"
        );
        c.digiposte
            .document_types
            .insert("certificat_scolarite".into(), " ".into());
        assert!(c.check_for_serve().is_err(), "a blank code is no code");
        c.digiposte
            .document_types
            .insert("certificat_scolarite".into(), "CS".into());
        assert!(c.check_for_serve().is_ok());
        c.digiposte.okapi_key = Secret::default();
        assert!(
            c.check_for_serve()
                .unwrap_err()
                .to_string()
                .contains("okapi_key")
        );
    }

    #[test]
    fn defaults_are_zero_config() {
        let c = env_of(&[]);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.starts_with("sqlite://data/"));
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let c = env_of(&[("BIND", "0.0.0.0:9000"), ("RATE_LIMIT__PER_SECOND", "7")]);
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.rate_limit.per_second, 7);
    }

    #[test]
    fn invalid_value_names_the_key() {
        let err = try_env(&[("RATE_LIMIT__PER_SECOND", "fast")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("rate_limit.per_second"), "{err}");
        let err = try_env(&[("BIND", "not an address")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`bind`"), "{err}");
        let err = try_env(&[("AUTH__JWT_SECRET", "short")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.jwt_secret"), "{err}");
        let err = try_env(&[("LOG_FORMAT", "xml")]).unwrap_err().to_string();
        assert!(err.contains("log_format"), "{err}");
    }

    #[test]
    fn toml_file_is_read_and_unknown_keys_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:1234\"\n[rate_limit]\nburst = 3\n",
        )
        .unwrap();
        let c = Config::load_from(Some(&path), Env::prefixed("PTEST_NONE_")).unwrap();
        assert_eq!(c.bind.port(), 1234);
        assert_eq!(c.rate_limit.burst, 3);
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        let err = Config::load_from(Some(&path), Env::prefixed("PTEST_NONE_")).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
    }

    #[test]
    fn grade_settings_and_scodoc_departments_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "[grades.fill]\njury_points = \"keep\"\nresult_codes = { PASD = \"AJAC\" }\n\
             [grades.scodoc.rt]\nbase_url = \"https://scodoc.example\"\nusername = \"api\"\n\
             password = \"pw\"\ncomposantes = [\"905\"]\n",
        )
        .unwrap();
        let c = Config::load_from(Some(&path), Env::prefixed("PTEST_NONE_")).unwrap();
        assert_eq!(
            c.grades.fill.jury_points,
            crate::apogee::fill::JuryPoints::Keep
        );
        assert_eq!(c.grades.fill.result_codes["PASD"], "AJAC");
        let rt = &c.grades.scodoc["rt"];
        assert_eq!(rt.client_config("rt").dept, "RT");
        assert!(!format!("{c:?}").contains("\"pw\""));
        let err = try_env(&[
            ("GRADES__SCODOC__X__BASE_URL", "ftp://x"),
            ("GRADES__SCODOC__X__USERNAME", "u"),
            ("GRADES__SCODOC__X__PASSWORD", "p"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("grades.scodoc.x.base_url"), "{err}");
        // From the environment: keys arrive lower-cased (the fill matches codes ignoring case).
        let c = env_of(&[
            ("GRADES__FILL__RESULT_CODES__PASD", "AJAC"),
            ("GRADES__SCODOC__GEII__BASE_URL", "http://127.0.0.1:1"),
            ("GRADES__SCODOC__GEII__USERNAME", "u"),
            ("GRADES__SCODOC__GEII__PASSWORD", "p"),
            ("GRADES__SCODOC__GEII__COMPOSANTES", "[\"905\", \"906\"]"),
        ]);
        assert_eq!(c.grades.fill.result_codes["pasd"], "AJAC");
        let geii = &c.grades.scodoc["geii"];
        assert_eq!(geii.client_config("geii").dept, "GEII");
        assert_eq!(geii.composantes, vec!["905".to_string(), "906".to_string()]);
    }

    #[test]
    fn locker_lists_come_from_the_environment() {
        let c = env_of(&[
            (
                "LOCKERS__ALLOWED_TYPES",
                "[\"application/pdf\", \"image/*\"]",
            ),
            ("LOCKERS__TRASH_RETENTION_SECS", "60"),
        ]);
        assert_eq!(c.lockers.allowed_types, vec!["application/pdf", "image/*"]);
        assert_eq!(c.lockers.trash_retention_secs, 60);
        assert!(
            c.supporting_documents
                .allowed_types
                .contains(&"application/pdf".to_owned())
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let mut c = Config::default();
        c.auth.jwt_secret = Secret("x".repeat(40));
        assert!(!format!("{c:?}").contains("xxxx"));
    }
}

//! digiposte-sim: a Digiposte partner API (v3) stand-in for development and tests, on loopback.
//! It holds passerelle to La Poste's published v3 description (see `docs/digiposte.md`): it
//! refuses what the real API refuses and answers in the published shapes only.
//!
//! `digiposte-sim --bind 127.0.0.1:0 [--okapi-key K] [--client-id ID --client-secret S]
//! [--document-types CODE,…] [--webhook-url URL --webhook-secret S] [--quota-per-minute 100]
//! [--error-rate 0.1] …` prints `listening on ADDR` once ready, then serves under
//! `/digiposte/v3`, every call (the token request included) requiring `X-Okapi-Key` (401
//! without it, or with another key):
//!
//! - `POST /oauth/token` (HTTP Basic, `grant_type=client_credentials`) → `{access_token,
//!   token_type, expires_in, scope}`;
//! - `POST /user/partial {partner_user_id, …}` → 200 `{route_code, userOutput}`; 409
//!   "client id already exist for current partner" when the partner user id is known;
//! - `POST /user/customizationurl` (the user by `partner_user_id` in the body or
//!   `X-PartnerUserId`) → `{customization_url}`; 404 unknown user; 409 once customised;
//! - `GET /memberships` (`X-PartnerUserId` selects one user) → `{memberships: [{id, status,
//!   accept_full_dematerialization, cancellable, membership_date, sender}]}` (the `id` is the
//!   routing code); `DELETE /membership/{id}` → the membership, `CANCEL_IN_PROGRESS` (then
//!   `CANCELLED` after `--cancel-delay-ms`);
//! - `POST /document/certified` (multipart, `X-RouteCode`): required text fields `title`,
//!   `type` (a code of `--document-types`), `algo` (`MD5`, `SHA1`, `SHA256`, `SHA512`), `hash`
//!   (hex, of the file in that algorithm), `file_name`, `file_size` (the file's bytes), and
//!   the file in the part named `archive`; else 400 `[{"error", "error_description",
//!   "field"}]` → 200 `{"document": {type, title, file_name, hash, algo, file_size,
//!   id_routage}}`.
//!
//! NOT PUBLISHED by Digiposte — the simulator's own extras, marked as such:
//! - `GET /profile/documents` is named by the description, its answer shape is not: the
//!   simulator answers `{"documents": [{"code", "label"}]}`;
//! - receipts: a signed `POST` of `{receipt_id, document_id (= id_routage), status, reason}`
//!   to `--webhook-url` after `--receipt-delay-ms` (passerelle's own design);
//! - a status read of one deposit, `GET /document/{id_routage}/status` → `{id_routage,
//!   status, reason}` from the simulator's own records: `PROCESSING` until the deposit's
//!   receipt is due (`--receipt-delay-ms` after it), then `DELIVERED`, or `FAILED` with a
//!   reason for a file named in `reject_file_names`; 404 for an unknown reference; 401
//!   without the application key or the token, like every call (passerelle's own design);
//! - fault injection (flags, or `POST /admin/faults` with the same names in JSON):
//!   `error_rate` (503 before processing), `error_after_commit_rate` (deposit stored, then
//!   500), `timeout_rate` (deposit stored, then the answer hangs `hang_ms`),
//!   `latency_min_ms`/`latency_max_ms`, `duplicate_receipt_rate`, `out_of_order_rate` (a late
//!   `PROCESSING` after the final receipt), `receipt_delay_ms`, `quota_per_minute` (0: none;
//!   over it 429 with `Retry-After`), `refuse_partner_user_ids`, `reject_file_names` (deposits
//!   accepted, then rejected: `FAILED` receipt and status), `webhook_url`, `webhook_secret`;
//! - admin: `GET /admin/stats` (deposits per file name and per hash, 429s, deposits sent
//!   without `X-Api-Version-Minor`…), `GET /admin/accounts`, `POST
//!   /admin/users/{route_code}/cancel` (a membership cancelled behind passerelle's back),
//!   `POST /admin/users/{route_code}/finalise` (the student customised the account);
//! - the answers to an unknown or cancelled routing code at deposit (404 `unknown_route_code`,
//!   403 `membership_cancelled`): the description publishes no error for them.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use clap::Parser;
use futures_util::StreamExt;
use passerelle::digiposte::signature;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha512};

#[derive(Parser, Debug)]
#[command(
    name = "digiposte-sim",
    about = "A Digiposte partner API (v3) stand-in for tests, held to the published contract",
    after_help = "NOT PUBLISHED by Digiposte (the simulator's own extras): the receipts webhook \
(--webhook-url, --webhook-secret, --receipt-delay-ms, --duplicate-receipt-rate, \
--out-of-order-rate), the status read of one deposit (GET /document/{id_routage}/status), \
fault injection (--error-rate, --error-after-commit-rate, --timeout-rate, \
--hang-ms, --latency-*-ms, --quota-per-minute), the answer shape of GET /profile/documents, \
and /admin/*. See docs/digiposte.md."
)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8098")]
    bind: String,
    /// The application key every call must carry in `X-Okapi-Key`.
    #[arg(long, default_value = "sim-okapi-key")]
    okapi_key: String,
    /// The partner's document-nature codes (the deposit's `type`), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "RELEVE_NOTES,ATTESTATION_REUSSITE,DIPLOME"
    )]
    document_types: Vec<String>,
    #[arg(long, default_value = "passerelle")]
    client_id: String,
    #[arg(long, default_value = "sim-secret")]
    client_secret: String,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Delay before a cancellation becomes CANCELLED, in milliseconds.
    #[arg(long, default_value_t = 100)]
    cancel_delay_ms: u64,
    /// NOT PUBLISHED (our receipts design): where signed receipts are posted.
    #[arg(long)]
    webhook_url: Option<String>,
    #[arg(long, default_value = "")]
    webhook_secret: String,
    #[arg(long, default_value_t = 100)]
    quota_per_minute: u32,
    /// NOT PUBLISHED (fault injection): share of calls answered 503 before processing.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    error_after_commit_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    timeout_rate: f64,
    #[arg(long, default_value_t = 30_000)]
    hang_ms: u64,
    #[arg(long, default_value_t = 0)]
    latency_min_ms: u64,
    #[arg(long, default_value_t = 0)]
    latency_max_ms: u64,
    #[arg(long, default_value_t = 1000)]
    receipt_delay_ms: u64,
    #[arg(long, default_value_t = 0.0)]
    duplicate_receipt_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    out_of_order_rate: f64,
    /// HTTP workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Faults {
    error_rate: f64,
    error_after_commit_rate: f64,
    timeout_rate: f64,
    hang_ms: u64,
    latency_min_ms: u64,
    latency_max_ms: u64,
    receipt_delay_ms: u64,
    duplicate_receipt_rate: f64,
    out_of_order_rate: f64,
    quota_per_minute: u32,
    refuse_partner_user_ids: Vec<String>,
    /// Deposits of these file names are accepted, then rejected (`FAILED`).
    reject_file_names: Vec<String>,
    webhook_url: Option<String>,
    webhook_secret: String,
}

#[derive(Clone, Serialize)]
struct Account {
    /// The membership id, which is the routing code.
    route_code: String,
    partner_user_id: String,
    first_name: String,
    last_name: String,
    status: String,
    accept_full_dematerialization: bool,
    customised: bool,
    membership_date: String,
    #[serde(skip)]
    cancel_at: Option<Instant>,
}

impl Account {
    /// The published membership item.
    fn membership(&self) -> Value {
        json!({
            "id": self.route_code,
            "status": self.status,
            "accept_full_dematerialization": self.accept_full_dematerialization,
            "cancellable": self.status == "ACTIVE",
            "membership_date": self.membership_date,
            "request_date": self.membership_date,
            "demo_account": false,
            "sender_kind": 0,
            "sender": {"pid": "PASSERELLE", "name": "passerelle", "type": "SENDER"},
        })
    }
}

#[derive(Clone, Serialize)]
struct Deposit {
    id_routage: String,
    route_code: String,
    file_name: String,
    hash: String,
    title: String,
    size: usize,
    /// Its final state (`DELIVERED` or `FAILED`), reached at `settles_at`.
    status: &'static str,
    reason: Option<String>,
    #[serde(skip)]
    settles_at: Option<Instant>,
}

impl Deposit {
    /// NOT PUBLISHED: the status read's answer.
    fn status_now(&self, now: Instant) -> Value {
        let settled = self.settles_at.is_none_or(|t| t <= now);
        let (status, reason) = if settled {
            (self.status, self.reason.clone())
        } else {
            ("PROCESSING", None)
        };
        json!({"id_routage": self.id_routage, "status": status, "reason": reason})
    }
}

#[derive(Default)]
struct State {
    faults: Faults,
    tokens: HashMap<String, Instant>,
    calls: HashMap<String, VecDeque<Instant>>,
    accounts: HashMap<String, Account>,
    deposits: Vec<Deposit>,
    requests: u64,
    rejected_401: u64,
    rejected_400: u64,
    deposits_without_version_minor: u64,
    rejected_429: u64,
    injected_errors: u64,
    receipts_sent: u64,
    receipts_acknowledged: u64,
    receipts_refused: u64,
    /// Receipts answered 429 by passerelle (each attempt).
    receipts_throttled: u64,
    /// Receipts never acknowledged after every attempt.
    receipts_given_up: u64,
    /// Status reads answered (any answer past the gateway checks).
    status_reads: u64,
}

struct Sim {
    state: Mutex<State>,
    okapi_key: String,
    document_types: Vec<String>,
    client_id: String,
    client_secret: String,
    token_ttl: Duration,
    cancel_delay: Duration,
    http: reqwest::Client,
}

/// The published error shape: `[{"error", "error_description"}]`.
fn dp_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!([{"error": error, "error_description": description}]))
}

/// The published 400 shape with the field at fault: `[{"error", "error_description", "field"}]`.
fn field_error(field: &str, description: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!([{
        "error": "invalid_parameter", "error_description": description, "field": field
    }]))
}

fn partner_user_header(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("X-PartnerUserId")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|v| !v.is_empty())
}

fn chance(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// What the common checks decided for an API call.
enum Gate {
    Go(Faults),
    Answer(HttpResponse),
}

impl Sim {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The La Poste gateway's check: `X-Okapi-Key` on every call; `Some`: the refusal.
    fn okapi(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let key = req
            .headers()
            .get("X-Okapi-Key")
            .and_then(|v| v.to_str().ok());
        if key == Some(self.okapi_key.as_str()) {
            return None;
        }
        let mut s = self.lock();
        s.requests += 1;
        s.rejected_401 += 1;
        Some(dp_error(
            401,
            "unauthorized",
            "missing or invalid X-Okapi-Key",
        ))
    }

    /// Application key, bearer check, quota, latency and the injected 503.
    async fn gate(&self, req: &HttpRequest) -> Gate {
        if let Some(r) = self.okapi(req) {
            return Gate::Answer(r);
        }
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let faults = {
            let mut s = self.lock();
            s.requests += 1;
            let now = Instant::now();
            let Some(token) = token.filter(|t| s.tokens.get(t).is_some_and(|exp| *exp > now))
            else {
                return Gate::Answer(dp_error(401, "invalid_token", "missing or expired token"));
            };
            let quota = s.faults.quota_per_minute as usize;
            if quota > 0 {
                let window = Duration::from_secs(60);
                let calls = s.calls.entry(token).or_default();
                while calls
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    calls.pop_front();
                }
                if calls.len() >= quota {
                    let wait = window - now.duration_since(*calls.front().expect("full"));
                    s.rejected_429 += 1;
                    return Gate::Answer(
                        HttpResponse::TooManyRequests()
                            .insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()))
                            .json(json!([{"error": "too_many_requests", "error_description": "quota exceeded"}])),
                    );
                }
                calls.push_back(now);
            }
            s.faults.clone()
        };
        if faults.latency_max_ms > 0 {
            let ms = rand::random_range(
                faults.latency_min_ms.min(faults.latency_max_ms)..=faults.latency_max_ms,
            );
            actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
        }
        if chance(faults.error_rate) {
            self.lock().injected_errors += 1;
            return Gate::Answer(dp_error(503, "service_unavailable", "injected failure"));
        }
        Gate::Go(faults)
    }

    fn refresh_cancellations(s: &mut State) {
        let now = Instant::now();
        for a in s.accounts.values_mut() {
            if a.cancel_at.is_some_and(|t| t <= now) {
                a.status = "CANCELLED".into();
                a.cancel_at = None;
            }
        }
    }
}

macro_rules! gate {
    ($sim:expr, $req:expr) => {
        match $sim.gate(&$req).await {
            Gate::Go(f) => f,
            Gate::Answer(r) => return r,
        }
    };
}

async fn token(sim: web::Data<Sim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(r) = sim.okapi(&req) {
        return r;
    }
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{}:{}", sim.client_id, sim.client_secret);
    if basic.as_deref() != Some(expected.as_str()) {
        return dp_error(401, "invalid_client", "bad client credentials");
    }
    if !String::from_utf8_lossy(&body).contains("grant_type=client_credentials") {
        return dp_error(400, "unsupported_grant_type", "client_credentials only");
    }
    let token = new_id("tok_");
    sim.lock()
        .tokens
        .insert(token.clone(), Instant::now() + sim.token_ttl);
    HttpResponse::Ok().json(json!({
        "access_token": token, "token_type": "bearer", "expires_in": sim.token_ttl.as_secs(),
        "scope": "trust"
    }))
}

#[derive(Deserialize)]
struct PartialUser {
    #[serde(default)]
    partner_user_id: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

async fn partial(sim: web::Data<Sim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let faults = gate!(sim, req);
    let Ok(user) = serde_json::from_slice::<PartialUser>(&body) else {
        return field_error("body", "a JSON object is expected");
    };
    if user.partner_user_id.is_empty() {
        return field_error("partner_user_id", "partner_user_id is required");
    }
    if faults
        .refuse_partner_user_ids
        .contains(&user.partner_user_id)
    {
        return field_error("partner_user_id", "the user cannot be created");
    }
    let mut s = sim.lock();
    if s.accounts
        .values()
        .any(|a| a.partner_user_id == user.partner_user_id)
    {
        return dp_error(
            409,
            "conflict",
            "client id already exist for current partner",
        );
    }
    let account = Account {
        route_code: uuid::Uuid::new_v4().simple().to_string(),
        partner_user_id: user.partner_user_id,
        first_name: user.first_name,
        last_name: user.last_name,
        status: "ACTIVE".into(),
        accept_full_dematerialization: false,
        customised: false,
        membership_date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        cancel_at: None,
    };
    let answer = json!({
        "route_code": account.route_code,
        "userOutput": {
            "partner_user_id": account.partner_user_id,
            "first_name": account.first_name,
            "last_name": account.last_name,
            "partial_account": true,
            "account_type": "PARTIAL",
            "user_type": "PERSON",
            "status": "ACTIVE",
            "created_at": chrono::Utc::now().to_rfc3339(),
        }
    });
    s.accounts.insert(account.route_code.clone(), account);
    HttpResponse::Ok().json(answer)
}

async fn customization(sim: web::Data<Sim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    gate!(sim, req);
    let from_body = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["partner_user_id"].as_str().map(str::to_owned))
        .filter(|v| !v.is_empty());
    let Some(user) = from_body.or_else(|| partner_user_header(&req)) else {
        return field_error("partner_user_id", "partner_user_id is required");
    };
    let s = sim.lock();
    let Some(a) = s.accounts.values().find(|a| a.partner_user_id == user) else {
        return dp_error(404, "not_found", "Expect user");
    };
    if a.customised {
        return dp_error(
            409,
            "conflict",
            "The account is not partial or already customized",
        );
    }
    HttpResponse::Ok().json(json!({
        "customization_url": format!("https://digiposte.example/finalise/{}", a.route_code)
    }))
}

async fn memberships(sim: web::Data<Sim>, req: HttpRequest) -> HttpResponse {
    gate!(sim, req);
    let user = partner_user_header(&req);
    let mut s = sim.lock();
    Sim::refresh_cancellations(&mut s);
    let list: Vec<Value> = s
        .accounts
        .values()
        .filter(|a| user.as_ref().is_none_or(|u| *u == a.partner_user_id))
        .map(Account::membership)
        .collect();
    HttpResponse::Ok().json(json!({ "memberships": list }))
}

async fn cancel_membership(
    sim: web::Data<Sim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    gate!(sim, req);
    let mut s = sim.lock();
    Sim::refresh_cancellations(&mut s);
    let delay = sim.cancel_delay;
    let Some(a) = s.accounts.get_mut(id.as_str()) else {
        return dp_error(404, "not_found", "resource not found");
    };
    if a.status == "ACTIVE" {
        a.status = "CANCEL_IN_PROGRESS".into();
        a.cancel_at = Some(Instant::now() + delay);
    }
    let mut answer = a.membership();
    answer["cancellation_date"] =
        json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    HttpResponse::Ok().json(answer)
}

async fn profile_documents(sim: web::Data<Sim>, req: HttpRequest) -> HttpResponse {
    gate!(sim, req);
    // NOT PUBLISHED: the answer's shape is the simulator's own.
    let list: Vec<Value> = sim
        .document_types
        .iter()
        .map(|c| json!({"code": c, "label": c.replace('_', " ").to_lowercase()}))
        .collect();
    HttpResponse::Ok().json(json!({ "documents": list }))
}

/// The file's hash in the published algorithm `algo`, lowercase hex.
fn hash_of(algo: &str, file: &[u8]) -> Option<String> {
    Some(match algo {
        "MD5" => hex::encode(<md5::Md5 as md5::Digest>::digest(file)),
        "SHA1" => hex::encode(<sha1::Sha1 as sha1::Digest>::digest(file)),
        "SHA256" => hex::encode(Sha256::digest(file)),
        "SHA512" => hex::encode(Sha512::digest(file)),
        _ => return None,
    })
}

fn route_code(req: &HttpRequest) -> String {
    req.headers()
        .get("X-RouteCode")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The published required text fields of a certified deposit (with the `archive` file part).
const REQUIRED_FIELDS: [&str; 6] = ["title", "type", "algo", "hash", "file_name", "file_size"];

async fn deposit(
    sim: web::Data<Sim>,
    req: HttpRequest,
    mut form: actix_multipart::Multipart,
) -> HttpResponse {
    let faults = gate!(sim, req);
    let route = route_code(&req);
    if req.headers().get("X-Api-Version-Minor").is_none() {
        sim.lock().deposits_without_version_minor += 1;
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut archive: Option<Vec<u8>> = None;
    while let Some(field) = form.next().await {
        let Ok(mut field) = field else {
            return field_error("archive", "unreadable multipart body");
        };
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .is_some();
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            match chunk {
                Ok(c) => data.extend_from_slice(&c),
                Err(_) => return field_error(&name, "unreadable part"),
            }
        }
        match (name.as_str(), is_file) {
            ("archive", _) => archive = Some(data),
            // A file in any other part is not the document: the real API ignores it.
            (_, true) => {}
            _ => {
                fields.insert(name, String::from_utf8_lossy(&data).into_owned());
            }
        }
    }
    let bad = |f: &str, why: &str| {
        sim.lock().rejected_400 += 1;
        field_error(f, why)
    };
    for f in REQUIRED_FIELDS {
        if fields.get(f).is_none_or(|v| v.trim().is_empty()) {
            return bad(f, &format!("{f} is required"));
        }
    }
    let Some(file) = archive.filter(|a| !a.is_empty()) else {
        return bad(
            "archive",
            "archive is required (the document, as a file part)",
        );
    };
    let algo = fields["algo"].clone();
    let Some(hash) = hash_of(&algo, &file) else {
        return bad("algo", "algo must be one of MD5, SHA1, SHA256, SHA512");
    };
    if fields["hash"].to_lowercase() != hash {
        return bad("hash", "the hash does not match the file");
    }
    if fields["file_size"].trim().parse::<usize>().ok() != Some(file.len()) {
        return bad("file_size", "file_size does not match the file");
    }
    if !sim.document_types.contains(&fields["type"]) {
        return bad("type", "unknown document type (see GET /profile/documents)");
    }
    let deposit = {
        let mut s = sim.lock();
        Sim::refresh_cancellations(&mut s);
        match s.accounts.get(&route) {
            // NOT PUBLISHED: the answers to an unknown or cancelled routing code.
            None => return dp_error(404, "unknown_route_code", "no such membership"),
            Some(a) if a.status != "ACTIVE" => {
                return dp_error(403, "membership_cancelled", "the membership is not active");
            }
            Some(_) => {}
        }
        let rejected = faults.reject_file_names.contains(&fields["file_name"]);
        let d = Deposit {
            id_routage: uuid::Uuid::new_v4().simple().to_string(),
            route_code: route,
            file_name: fields["file_name"].clone(),
            title: fields["title"].clone(),
            hash,
            size: file.len(),
            status: if rejected { "FAILED" } else { "DELIVERED" },
            reason: rejected.then(|| "rejected by the simulator (reject_file_names)".to_owned()),
            settles_at: Some(Instant::now() + Duration::from_millis(faults.receipt_delay_ms)),
        };
        s.deposits.push(d.clone());
        d
    };
    let receipt_id = new_id("rcpt_");
    actix_web::rt::spawn(send_receipts(
        sim.clone(),
        faults.clone(),
        deposit.clone(),
        receipt_id,
    ));
    if chance(faults.timeout_rate) {
        actix_web::rt::time::sleep(Duration::from_millis(faults.hang_ms)).await;
    }
    if chance(faults.error_after_commit_rate) {
        sim.lock().injected_errors += 1;
        return dp_error(500, "internal_error", "injected failure after the deposit");
    }
    let mut document = json!({
        "type": fields["type"],
        "title": deposit.title,
        "file_name": deposit.file_name,
        "hash": deposit.hash,
        "algo": algo,
        "file_size": deposit.size.to_string(),
        "id_routage": deposit.id_routage,
    });
    for optional in ["archive_duration", "author_tags"] {
        if let Some(v) = fields.get(optional) {
            document[optional] = json!(v);
        }
    }
    HttpResponse::Ok().json(json!({ "document": document }))
}

/// Posts the deposit's receipt(s), signed; retries while passerelle does not acknowledge.
async fn send_receipts(sim: web::Data<Sim>, faults: Faults, deposit: Deposit, receipt_id: String) {
    let document_id = deposit.id_routage;
    let Some(url) = faults.webhook_url.clone() else {
        return;
    };
    let jitter = rand::random_range(0..=faults.receipt_delay_ms / 2 + 1);
    actix_web::rt::time::sleep(Duration::from_millis(faults.receipt_delay_ms + jitter)).await;
    let mut receipts = vec![json!({
        "receipt_id": receipt_id, "document_id": document_id, "status": deposit.status,
        "reason": deposit.reason
    })];
    if chance(faults.duplicate_receipt_rate) {
        receipts.push(receipts[0].clone());
    }
    if chance(faults.out_of_order_rate) {
        receipts.push(json!({
            "receipt_id": new_id("rcpt_"), "document_id": document_id, "status": "PROCESSING", "reason": null
        }));
    }
    for receipt in receipts {
        let body = serde_json::to_vec(&receipt).expect("json");
        for attempt in 0..25u32 {
            let ts = chrono::Utc::now().timestamp().to_string();
            let sig = sign(faults.webhook_secret.as_bytes(), &ts, &body);
            let sent = sim
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header(signature::TIMESTAMP_HEADER, &ts)
                .header(signature::SIGNATURE_HEADER, sig)
                .body(body.clone())
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            let status = sent.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
            sim.lock().receipts_sent += 1;
            if (200..300).contains(&status) {
                sim.lock().receipts_acknowledged += 1;
                break;
            }
            if status == 401 || status == 400 {
                sim.lock().receipts_refused += 1;
                break;
            }
            if status == 429 {
                sim.lock().receipts_throttled += 1;
            }
            if attempt == 24 {
                sim.lock().receipts_given_up += 1;
            }
            // Passerelle is away (or does not know the document yet): try again later.
            let wait = (100u64 << attempt.min(4)).min(1000);
            actix_web::rt::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// NOT PUBLISHED (passerelle's own design): the status of one deposit, from the simulator's
/// records, behind the same gateway checks as every call.
async fn document_status(
    sim: web::Data<Sim>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let _faults = gate!(sim, req);
    let id = path.into_inner();
    let mut s = sim.lock();
    s.status_reads += 1;
    match s.deposits.iter().find(|d| d.id_routage == id) {
        Some(d) => HttpResponse::Ok().json(d.status_now(Instant::now())),
        None => dp_error(404, "not_found", "no such document"),
    }
}

async fn admin_faults(sim: web::Data<Sim>, body: web::Json<Value>) -> HttpResponse {
    let mut s = sim.lock();
    let mut current = serde_json::to_value(&s.faults).expect("json");
    if let (Some(cur), Some(new)) = (current.as_object_mut(), body.as_object()) {
        for (k, v) in new {
            if !cur.contains_key(k) {
                return HttpResponse::BadRequest()
                    .json(json!({"error": format!("unknown knob {k}")}));
            }
            cur.insert(k.clone(), v.clone());
        }
    }
    match serde_json::from_value::<Faults>(current) {
        Ok(f) => {
            s.faults = f;
            let mut shown = serde_json::to_value(&s.faults).expect("json");
            shown["webhook_secret"] = json!("***");
            HttpResponse::Ok().json(shown)
        }
        Err(e) => HttpResponse::BadRequest().json(json!({"error": e.to_string()})),
    }
}

async fn admin_stats(sim: web::Data<Sim>) -> HttpResponse {
    let s = sim.lock();
    let mut per_file: HashMap<&str, u64> = HashMap::new();
    let mut per_hash: HashMap<&str, u64> = HashMap::new();
    for d in &s.deposits {
        *per_file.entry(&d.file_name).or_default() += 1;
        *per_hash.entry(&d.hash).or_default() += 1;
    }
    HttpResponse::Ok().json(json!({
        "requests": s.requests,
        "rejected_401": s.rejected_401,
        "rejected_400": s.rejected_400,
        "deposits_without_version_minor": s.deposits_without_version_minor,
        "rejected_429": s.rejected_429,
        "injected_errors": s.injected_errors,
        "accounts": s.accounts.len(),
        "deposits_total": s.deposits.len(),
        "distinct_files": per_file.len(),
        "max_deposits_per_file": per_file.values().copied().max().unwrap_or(0),
        "deposits_per_file": per_file,
        "deposits_per_hash": per_hash,
        "receipts_sent": s.receipts_sent,
        "receipts_acknowledged": s.receipts_acknowledged,
        "receipts_refused": s.receipts_refused,
        "receipts_throttled": s.receipts_throttled,
        "receipts_given_up": s.receipts_given_up,
        "status_reads": s.status_reads,
    }))
}

async fn admin_user(sim: web::Data<Sim>, path: web::Path<(String, String)>) -> HttpResponse {
    let (route, action) = path.into_inner();
    let mut s = sim.lock();
    let Some(a) = s.accounts.get_mut(&route) else {
        return HttpResponse::NotFound().json(json!({"error": "no such account"}));
    };
    match action.as_str() {
        "cancel" => {
            a.status = "CANCELLED".into();
            a.cancel_at = None;
        }
        "finalise" => {
            a.status = "ACTIVE".into();
            a.accept_full_dematerialization = true;
            a.customised = true;
            a.cancel_at = None;
        }
        _ => return HttpResponse::NotFound().json(json!({"error": "unknown action"})),
    }
    HttpResponse::Ok().json(serde_json::to_value(&*a).expect("json"))
}

async fn admin_accounts(sim: web::Data<Sim>) -> HttpResponse {
    let s = sim.lock();
    let list: Vec<&Account> = s.accounts.values().collect();
    HttpResponse::Ok().json(list)
}

/// Signs a receipt the way Digiposte does (HMAC-SHA256 over `timestamp.body`, hex): written
/// here rather than borrowed from passerelle, so the simulator checks passerelle's verifier
/// instead of agreeing with it by construction.
fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let faults = Faults {
        error_rate: args.error_rate,
        error_after_commit_rate: args.error_after_commit_rate,
        timeout_rate: args.timeout_rate,
        hang_ms: args.hang_ms,
        latency_min_ms: args.latency_min_ms,
        latency_max_ms: args.latency_max_ms,
        receipt_delay_ms: args.receipt_delay_ms,
        duplicate_receipt_rate: args.duplicate_receipt_rate,
        out_of_order_rate: args.out_of_order_rate,
        quota_per_minute: args.quota_per_minute,
        refuse_partner_user_ids: Vec::new(),
        reject_file_names: Vec::new(),
        webhook_url: args.webhook_url.clone(),
        webhook_secret: args.webhook_secret.clone(),
    };
    let sim = web::Data::new(Sim {
        okapi_key: args.okapi_key.clone(),
        document_types: args.document_types.clone(),
        state: Mutex::new(State {
            faults,
            ..State::default()
        }),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        token_ttl: Duration::from_secs(args.token_ttl),
        cancel_delay: Duration::from_millis(args.cancel_delay_ms),
        http: passerelle::http_client::client_builder()
            .build()
            .map_err(std::io::Error::other)?,
    });
    let server = HttpServer::new(move || {
        let api = web::scope("/digiposte/v3")
            .route("/oauth/token", web::post().to(token))
            .route("/user/partial", web::post().to(partial))
            .route("/user/customizationurl", web::post().to(customization))
            .route("/profile/documents", web::get().to(profile_documents))
            .route("/memberships", web::get().to(memberships))
            .route("/membership/{id}", web::delete().to(cancel_membership))
            .route("/document/certified", web::post().to(deposit))
            // NOT PUBLISHED: passerelle's own status read.
            .route(
                "/document/{id_routage}/status",
                web::get().to(document_status),
            );
        App::new()
            .app_data(sim.clone())
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .service(api)
            .route("/admin/faults", web::post().to(admin_faults))
            .route("/admin/stats", web::get().to(admin_stats))
            .route("/admin/accounts", web::get().to(admin_accounts))
            .route("/admin/users/{route}/{action}", web::post().to(admin_user))
    })
    .workers(args.workers.max(1))
    .bind(&args.bind)?;
    for addr in server.addrs() {
        println!("listening on {addr}");
    }
    std::io::stdout().flush()?;
    server.run().await
}

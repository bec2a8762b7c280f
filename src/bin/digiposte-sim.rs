//! digiposte-sim: a Digiposte partner API (v3) stand-in for development and tests, on loopback.
//!
//! `digiposte-sim --bind 127.0.0.1:0 [--client-id ID --client-secret S] [--webhook-url URL
//! --webhook-secret S] [--quota-per-minute 100] [--error-rate 0.1] …` prints
//! `listening on ADDR` once ready, then serves under `/digiposte/v3`:
//!
//! - `POST /oauth/token` (HTTP Basic, client credentials) → `{access_token, expires_in}`;
//! - `POST /user/partial` → `{route_code, membership_id}` (409 "client id already exist" when the
//!   partner user id is known); `POST /user/customizationurl {route_code}` → `{url}`;
//! - `GET /memberships`, `DELETE /membership/{id}` (→ `CANCEL_IN_PROGRESS`, then `CANCELLED`
//!   after `--cancel-delay-ms`);
//! - `POST /document/certified` (multipart, `X-RouteCode`; the hash is checked) → `{id}`, and a
//!   signed receipt posted to the webhook after `--receipt-delay-ms`;
//! - `GET /user/documents` (`X-RouteCode`) → the vault's deposits (an assumption: the real API
//!   offers no idempotency key, so passerelle reconciles uncertain deposits with this listing).
//!
//! Errors are Digiposte-shaped: `[{"error", "error_description"}]`. Over the quota (per token
//! and sliding minute) → 429 with `Retry-After`.
//!
//! Fault knobs (flags, or `POST /admin/faults` with the same names in JSON): `error_rate` (503
//! before processing), `error_after_commit_rate` (deposit stored, then 500), `timeout_rate` (deposit
//! stored, then the answer hangs `hang_ms`), `latency_min_ms`/`latency_max_ms`,
//! `duplicate_receipt_rate`, `out_of_order_rate` (a late `PROCESSING` after the final receipt),
//! `receipt_delay_ms`, `quota_per_minute` (0: none), `refuse_partner_user_ids`, `webhook_url`,
//! `webhook_secret`. Admin: `GET /admin/stats` (deposits per file name and per hash, 429s…),
//! `POST /admin/users/{route_code}/cancel` (a membership cancelled behind passerelle's back),
//! `POST /admin/users/{route_code}/finalise` (the student finished the account).

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
use sha2::{Digest, Sha256};

#[derive(Parser, Debug)]
#[command(
    name = "digiposte-sim",
    about = "A Digiposte partner API stand-in for tests"
)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8098")]
    bind: String,
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
    #[arg(long)]
    webhook_url: Option<String>,
    #[arg(long, default_value = "")]
    webhook_secret: String,
    #[arg(long, default_value_t = 100)]
    quota_per_minute: u32,
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
    webhook_url: Option<String>,
    webhook_secret: String,
}

#[derive(Clone, Serialize)]
struct Account {
    route_code: String,
    membership_id: String,
    partner_user_id: String,
    status: String,
    accepted: bool,
    personalised: bool,
    #[serde(skip)]
    cancel_at: Option<Instant>,
}

#[derive(Clone, Serialize)]
struct Deposit {
    id: String,
    route_code: String,
    file_name: String,
    hash: String,
    title: String,
    size: usize,
}

#[derive(Default)]
struct State {
    faults: Faults,
    tokens: HashMap<String, Instant>,
    calls: HashMap<String, VecDeque<Instant>>,
    accounts: HashMap<String, Account>,
    deposits: Vec<Deposit>,
    requests: u64,
    rejected_429: u64,
    injected_errors: u64,
    receipts_sent: u64,
    receipts_acknowledged: u64,
    receipts_refused: u64,
}

struct Sim {
    state: Mutex<State>,
    client_id: String,
    client_secret: String,
    token_ttl: Duration,
    cancel_delay: Duration,
    http: reqwest::Client,
}

fn dp_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!([{"error": error, "error_description": description}]))
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

    /// Bearer check, quota, latency and the injected 503.
    async fn gate(&self, req: &HttpRequest) -> Gate {
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
        "access_token": token, "token_type": "bearer", "expires_in": sim.token_ttl.as_secs()
    }))
}

#[derive(Deserialize)]
struct PartialUser {
    partner_user_id: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

async fn partial(sim: web::Data<Sim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let faults = gate!(sim, req);
    let Ok(user) = serde_json::from_slice::<PartialUser>(&body) else {
        return dp_error(400, "invalid_request", "partner_user_id is required");
    };
    if user.first_name.is_empty() && user.last_name.is_empty() {
        return dp_error(400, "invalid_request", "a name is required");
    }
    if faults
        .refuse_partner_user_ids
        .contains(&user.partner_user_id)
    {
        return dp_error(422, "invalid_user", "the user cannot be created");
    }
    let mut s = sim.lock();
    if s.accounts
        .values()
        .any(|a| a.partner_user_id == user.partner_user_id)
    {
        return dp_error(409, "conflict", "client id already exist");
    }
    let account = Account {
        route_code: new_id("RC"),
        membership_id: new_id("m"),
        partner_user_id: user.partner_user_id,
        status: "ACTIVE".into(),
        accepted: false,
        personalised: false,
        cancel_at: None,
    };
    let answer = json!({"route_code": account.route_code, "membership_id": account.membership_id});
    s.accounts.insert(account.route_code.clone(), account);
    HttpResponse::Created().json(answer)
}

async fn customization(sim: web::Data<Sim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    gate!(sim, req);
    let route = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["route_code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if !sim.lock().accounts.contains_key(&route) {
        return dp_error(404, "unknown_route_code", "no such account");
    }
    HttpResponse::Ok().json(json!({"url": format!("https://digiposte.example/finalise/{route}")}))
}

async fn memberships(sim: web::Data<Sim>, req: HttpRequest) -> HttpResponse {
    gate!(sim, req);
    let mut s = sim.lock();
    Sim::refresh_cancellations(&mut s);
    let list: Vec<Value> = s
        .accounts
        .values()
        .map(|a| {
            json!({"id": a.membership_id, "route_code": a.route_code, "partner_user_id": a.partner_user_id,
                   "status": a.status, "accepted": a.accepted, "personalised": a.personalised})
        })
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
    let Some(a) = s.accounts.values_mut().find(|a| a.membership_id == *id) else {
        return dp_error(404, "unknown_membership", "no such membership");
    };
    if a.status == "ACTIVE" {
        a.status = "CANCEL_IN_PROGRESS".into();
        a.cancel_at = Some(Instant::now() + delay);
    }
    HttpResponse::Ok().json(json!({"id": a.membership_id, "status": a.status}))
}

fn route_code(req: &HttpRequest) -> String {
    req.headers()
        .get("X-RouteCode")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn deposit(
    sim: web::Data<Sim>,
    req: HttpRequest,
    mut form: actix_multipart::Multipart,
) -> HttpResponse {
    let faults = gate!(sim, req);
    let route = route_code(&req);
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut file: Vec<u8> = Vec::new();
    while let Some(field) = form.next().await {
        let Ok(mut field) = field else {
            return dp_error(400, "invalid_request", "unreadable multipart body");
        };
        let name = field.name().unwrap_or_default().to_owned();
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            match chunk {
                Ok(c) => data.extend_from_slice(&c),
                Err(_) => return dp_error(400, "invalid_request", "unreadable part"),
            }
        }
        if name == "file" {
            file = data;
        } else {
            fields.insert(name, String::from_utf8_lossy(&data).into_owned());
        }
    }
    let hash = hex::encode(Sha256::digest(&file));
    if fields.get("hash").map(|h| h.to_lowercase()) != Some(hash.clone()) {
        return dp_error(400, "hash_mismatch", "the hash does not match the file");
    }
    if fields
        .get("file_size")
        .and_then(|s| s.parse::<usize>().ok())
        != Some(file.len())
    {
        return dp_error(400, "invalid_request", "file_size does not match the file");
    }
    let deposit = {
        let mut s = sim.lock();
        Sim::refresh_cancellations(&mut s);
        match s.accounts.get(&route) {
            None => return dp_error(404, "unknown_route_code", "no such vault"),
            Some(a) if a.status != "ACTIVE" => {
                return dp_error(403, "membership_cancelled", "the membership is not active");
            }
            Some(_) => {}
        }
        let d = Deposit {
            id: new_id("doc_"),
            route_code: route,
            file_name: fields.remove("file_name").unwrap_or_default(),
            title: fields.remove("title").unwrap_or_default(),
            hash,
            size: file.len(),
        };
        s.deposits.push(d.clone());
        d
    };
    let receipt_id = new_id("rcpt_");
    actix_web::rt::spawn(send_receipts(
        sim.clone(),
        faults.clone(),
        deposit.id.clone(),
        receipt_id,
    ));
    if chance(faults.timeout_rate) {
        actix_web::rt::time::sleep(Duration::from_millis(faults.hang_ms)).await;
    }
    if chance(faults.error_after_commit_rate) {
        sim.lock().injected_errors += 1;
        return dp_error(500, "internal_error", "injected failure after the deposit");
    }
    HttpResponse::Created().json(json!({"id": deposit.id, "hash": deposit.hash}))
}

async fn documents(sim: web::Data<Sim>, req: HttpRequest) -> HttpResponse {
    gate!(sim, req);
    let route = route_code(&req);
    let s = sim.lock();
    if !s.accounts.contains_key(&route) {
        return dp_error(404, "unknown_route_code", "no such vault");
    }
    let docs: Vec<Value> = s
        .deposits
        .iter()
        .filter(|d| d.route_code == route)
        .map(|d| json!({"id": d.id, "file_name": d.file_name, "hash": d.hash, "title": d.title}))
        .collect();
    HttpResponse::Ok().json(json!({ "documents": docs }))
}

/// Posts the deposit's receipt(s), signed; retries while passerelle does not acknowledge.
async fn send_receipts(
    sim: web::Data<Sim>,
    faults: Faults,
    document_id: String,
    receipt_id: String,
) {
    let Some(url) = faults.webhook_url.clone() else {
        return;
    };
    let jitter = rand::random_range(0..=faults.receipt_delay_ms / 2 + 1);
    actix_web::rt::time::sleep(Duration::from_millis(faults.receipt_delay_ms + jitter)).await;
    let mut receipts = vec![json!({
        "receipt_id": receipt_id, "document_id": document_id, "status": "DELIVERED", "reason": null
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
            let sig = signature::sign(faults.webhook_secret.as_bytes(), &ts, &body);
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
            // Passerelle is away (or does not know the document yet): try again later.
            let wait = (100u64 << attempt.min(4)).min(1000);
            actix_web::rt::time::sleep(Duration::from_millis(wait)).await;
        }
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
            a.accepted = true;
            a.personalised = true;
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
        webhook_url: args.webhook_url.clone(),
        webhook_secret: args.webhook_secret.clone(),
    };
    let sim = web::Data::new(Sim {
        state: Mutex::new(State {
            faults,
            ..State::default()
        }),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        token_ttl: Duration::from_secs(args.token_ttl),
        cancel_delay: Duration::from_millis(args.cancel_delay_ms),
        http: passerelle::outbound::client_builder()
            .build()
            .map_err(std::io::Error::other)?,
    });
    let server = HttpServer::new(move || {
        let api = web::scope("/digiposte/v3")
            .route("/oauth/token", web::post().to(token))
            .route("/user/partial", web::post().to(partial))
            .route("/user/customizationurl", web::post().to(customization))
            .route("/user/documents", web::get().to(documents))
            .route("/memberships", web::get().to(memberships))
            .route("/membership/{id}", web::delete().to(cancel_membership))
            .route("/document/certified", web::post().to(deposit));
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

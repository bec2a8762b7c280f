//! scodoc-sim: a ScoDoc 9 stand-in for development and tests, on loopback.
//!
//! `scodoc-sim --bind 127.0.0.1:PORT --data FILE.json [--token-ttl SECONDS]` serves the
//! routes passerelle uses, from a JSON data file:
//!
//! ```json
//! {
//!   "users": [{"username": "api", "password": "secret"}],
//!   "token_ttl_seconds": 3600,
//!   "departments": {
//!     "RT": {"formsemestres": [{
//!       "formsemestre": {"id": 11, "annee_scolaire": 2024, "etape_apo": "V1RT", …},
//!       "etudiants": [...], "programme": {...}, "resultats": [...], "decisions_jury": [...]
//!     }]}
//!   }
//! }
//! ```
//!
//! - `POST /ScoDoc/api/tokens` with HTTP Basic → `{"token": "…"}` (tokens expire after the TTL,
//!   so clients' refresh is exercised);
//! - `GET /ScoDoc/<DEPT>/api/formsemestres/query?annee_scolaire=&etape_apo=`;
//! - `GET /ScoDoc/<DEPT>/api/formsemestre/<id>/{etudiants/long,programme,resultats,decisions_jury}`
//!   — the stored JSON, as is.
//!
//! Missing or expired bearer → 401, unknown department or semester → 404. With `--bind
//! 127.0.0.1:0` it picks a free port; it prints `listening on ADDR` once ready.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(name = "scodoc-sim", about = "A ScoDoc 9 API stand-in for tests")]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8099")]
    bind: String,
    /// The data file (departments, semesters, students, results, decisions, users).
    #[arg(long)]
    data: PathBuf,
    /// Token lifetime in seconds (overrides the data file's `token_ttl_seconds`).
    #[arg(long)]
    token_ttl: Option<f64>,
}

struct Sim {
    data: Value,
    ttl: Duration,
    tokens: Mutex<HashMap<String, Instant>>,
    counter: AtomicU64,
}

fn problem(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({"status": status, "message": message}))
}

impl Sim {
    fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
        let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
        let encoded = value.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_string(), password.to_string()))
    }

    fn user_ok(&self, user: &str, password: &str) -> bool {
        self.data["users"].as_array().is_some_and(|users| {
            users
                .iter()
                .any(|u| u["username"] == user && u["password"] == password)
        })
    }

    fn new_token(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let raw = format!("scodoc-sim:{n}:{nanos}");
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        self.tokens
            .lock()
            .expect("tokens")
            .insert(token.clone(), Instant::now() + self.ttl);
        token
    }

    fn bearer_ok(&self, req: &HttpRequest) -> bool {
        let Some(token) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let mut tokens = self.tokens.lock().expect("tokens");
        match tokens.get(token.trim()) {
            Some(expiry) if *expiry > Instant::now() => true,
            Some(_) => {
                tokens.remove(token.trim());
                false
            }
            None => false,
        }
    }

    fn semesters(&self, dept: &str) -> Option<&Vec<Value>> {
        self.data["departments"][dept]["formsemestres"].as_array()
    }

    fn semester(&self, dept: &str, id: i64) -> Option<&Value> {
        self.semesters(dept)?.iter().find(|s| {
            let f = &s["formsemestre"];
            f["formsemestre_id"].as_i64().or(f["id"].as_i64()) == Some(id)
        })
    }
}

async fn tokens(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    match Sim::basic_credentials(&req) {
        Some((user, password)) if sim.user_ok(&user, &password) => {
            HttpResponse::Ok().json(json!({"token": sim.new_token()}))
        }
        _ => problem(401, "Unauthorized"),
    }
}

fn year_matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::Number(n) => n.to_string() == wanted,
        Value::String(s) => s.get(..4) == Some(wanted),
        _ => false,
    }
}

fn etape_matches(value: &Value, wanted: &str) -> bool {
    let list = match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => return false,
    };
    list.split(',')
        .any(|e| e.split('!').next().unwrap_or("").trim() == wanted)
}

async fn query(
    req: HttpRequest,
    sim: web::Data<Sim>,
    path: web::Path<String>,
    params: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    if !sim.bearer_ok(&req) {
        return problem(401, "Non autorise (logic)");
    }
    let Some(semesters) = sim.semesters(&path) else {
        return problem(404, "departement inconnu");
    };
    let found: Vec<&Value> = semesters
        .iter()
        .map(|s| &s["formsemestre"])
        .filter(|f| {
            params
                .get("annee_scolaire")
                .is_none_or(|y| year_matches(&f["annee_scolaire"], y))
        })
        .filter(|f| {
            params
                .get("etape_apo")
                .is_none_or(|e| etape_matches(&f["etape_apo"], e))
        })
        .collect();
    HttpResponse::Ok().json(found)
}

async fn semester_part(
    req: HttpRequest,
    sim: web::Data<Sim>,
    path: web::Path<(String, i64, String)>,
) -> HttpResponse {
    if !sim.bearer_ok(&req) {
        return problem(401, "Non autorise (logic)");
    }
    let (dept, id, part) = path.into_inner();
    let key = match part.as_str() {
        "etudiants/long" => "etudiants",
        "programme" => "programme",
        "resultats" => "resultats",
        "decisions_jury" => "decisions_jury",
        _ => return problem(404, "route inconnue"),
    };
    match sim.semester(&dept, id) {
        Some(s) => HttpResponse::Ok().json(&s[key]),
        None => problem(404, "formsemestre inconnu"),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let text = std::fs::read(&args.data)?;
    let data: Value = serde_json::from_slice(&text)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let ttl = args
        .token_ttl
        .or_else(|| data["token_ttl_seconds"].as_f64())
        .unwrap_or(3600.0);
    let sim = web::Data::new(Sim {
        data,
        ttl: Duration::from_secs_f64(ttl),
        tokens: Mutex::new(HashMap::new()),
        counter: AtomicU64::new(0),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(sim.clone())
            .route("/ScoDoc/api/tokens", web::post().to(tokens))
            .route(
                "/ScoDoc/{dept}/api/formsemestres/query",
                web::get().to(query),
            )
            .route(
                "/ScoDoc/{dept}/api/formsemestre/{id}/{part:.*}",
                web::get().to(semester_part),
            )
    })
    .workers(1)
    .bind(&args.bind)?;
    for addr in server.addrs() {
        println!("listening on {addr}");
    }
    std::io::stdout().flush()?;
    server.run().await
}

//! scodoc-sim: a ScoDoc 9 stand-in for development and tests, on loopback.
//!
//! `scodoc-sim --bind 127.0.0.1:PORT --data FILE.json [--token-ttl SECONDS]` serves the
//! routes passerelle uses, from a JSON data file, in the shapes `docs/scodoc.md` records (and
//! only those):
//!
//! ```json
//! {
//!   "users": [{"username": "api", "password": "secret"}],
//!   "token_ttl_seconds": 3600,
//!   "departments": {
//!     "RT": {"formsemestres": [{
//!       "formsemestre": {"id": 11, "annee_scolaire": 2024, "semestre_id": 1, "etape_apo": "V1RT", …},
//!       "etudiants": [...], "programme": {...}, "resultats": [...], "decisions_jury": [...]
//!     }]}
//!   }
//! }
//! ```
//!
//! - `POST /ScoDoc/api/tokens` with HTTP Basic → `{"token": "…"}`; wrong or missing
//!   credentials → 401;
//! - `GET /ScoDoc/<DEPT>/api/formsemestres/query?annee_scolaire=YYYY` (an integer year;
//!   `etape_apo` is ignored: no source found says ScoDoc filters on it, so the client's own
//!   filter is what is exercised);
//! - `GET /ScoDoc/<DEPT>/api/formsemestre/<id>/{etudiants/long,programme,resultats,decisions_jury}`.
//!
//! Missing, unknown or expired bearer → 401 `{"message": "Non autorise (logic)"}` (the body
//! public clients test for); unknown department or semester → 404.
//!
//! The data file is checked before serving, and the sim refuses to start (exit status 2,
//! the reason on stderr) on what ScoDoc would not answer: a formsemestre without an integer
//! `id`, `annee_scolaire` or `semestre_id`; a `decisions_jury` entry that is not in the
//! published shape — `etudid` of an enrolled student, `code_nip`, `code_ine`, `is_apc`
//! (the same for the whole formsemestre), `etat` in `I`/`D`/`DEF`, `nb_competences`,
//! `semestre` `{ordre, code?}`, `ues` `[{ue_id, code, ects?}]`, `rcues` `[{code, moy}]` (BUT
//! only), `annee` (`{code, ordre, annee_scolaire}` for BUT, `{}` for a classic formation),
//! and no other key.
//!
//! Extras with no published counterpart: the token lifetime (`--token-ttl`,
//! `token_ttl_seconds`: short lifetimes exercise the client's refresh) and fault injection
//! (`"sim_raw": {"decisions_jury": <any JSON>}` on a semester: that part is served as given,
//! unchecked, to test how the client handles an unreadable answer).
//!
//! With `--bind 127.0.0.1:0` it picks a free port; it prints `listening on ADDR` once ready.

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
#[command(
    name = "scodoc-sim",
    about = "A ScoDoc 9 API stand-in for tests, answering the published shapes only",
    after_help = "Extras with no published counterpart: --token-ttl (short token lifetimes) and \
fault injection (a semester's \"sim_raw\": {\"decisions_jury\": <any JSON>} is served unchecked)."
)]
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
    let found: Vec<Value> = semesters
        .iter()
        .map(|s| &s["formsemestre"])
        .filter(|f| {
            params
                .get("annee_scolaire")
                .and_then(|y| y.trim().parse::<i64>().ok())
                .is_none_or(|y| f["annee_scolaire"].as_i64() == Some(y))
        })
        .map(|f| {
            // ScoDoc gives both `id` and `formsemestre_id`.
            let mut f = f.clone();
            if let Some(id) = f["id"].as_i64() {
                f["formsemestre_id"] = json!(id);
            }
            f
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
        Some(s) => match s.get("sim_raw").and_then(|raw| raw.get(key)) {
            Some(raw) => HttpResponse::Ok().json(raw),
            None => HttpResponse::Ok().json(&s[key]),
        },
        None => problem(404, "formsemestre inconnu"),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let text = std::fs::read(&args.data)?;
    let data: Value = serde_json::from_slice(&text)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    if let Err(reason) = check::data(&data) {
        eprintln!("scodoc-sim: {}: {reason}", args.data.display());
        std::process::exit(2);
    }
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

/// The published shapes the data file must follow (`docs/scodoc.md`).
mod check {
    use serde_json::{Map, Value};

    type Checked = Result<(), String>;

    fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
        value
            .as_object()
            .ok_or_else(|| format!("{at}: not an object"))
    }

    fn only_keys(o: &Map<String, Value>, allowed: &[&str], at: &str) -> Checked {
        match o.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("{at}: \"{k}\" is not a published field")),
            None => Ok(()),
        }
    }

    fn integer(o: &Map<String, Value>, key: &str, at: &str) -> Result<i64, String> {
        o.get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("{at}.{key}: not an integer"))
    }

    fn text_or_null(o: &Map<String, Value>, key: &str, at: &str, required: bool) -> Checked {
        match o.get(key) {
            None if !required => Ok(()),
            Some(Value::String(_)) | Some(Value::Null) => Ok(()),
            _ => Err(format!("{at}.{key}: not a string or null")),
        }
    }

    fn number_or_null(o: &Map<String, Value>, key: &str, at: &str) -> Checked {
        match o.get(key) {
            Some(Value::Number(_)) | Some(Value::Null) => Ok(()),
            _ => Err(format!("{at}.{key}: not a number or null")),
        }
    }

    fn list<'a>(o: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a Vec<Value>, String> {
        o.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{at}.{key}: not a list"))
    }

    /// Every department's every semester.
    pub fn data(data: &Value) -> Checked {
        let departments = object(&data["departments"], "departments")?;
        for (dept, d) in departments {
            let at = format!("departments.{dept}.formsemestres");
            let semesters = d["formsemestres"]
                .as_array()
                .ok_or_else(|| format!("{at}: not a list"))?;
            for (i, s) in semesters.iter().enumerate() {
                semester(s, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    fn semester(s: &Value, at: &str) -> Checked {
        let s = object(s, at)?;
        only_keys(
            s,
            &[
                "formsemestre",
                "etudiants",
                "programme",
                "resultats",
                "decisions_jury",
                "sim_raw",
            ],
            at,
        )?;
        let f = object(&s["formsemestre"], &format!("{at}.formsemestre"))?;
        let f_at = format!("{at}.formsemestre");
        let id = integer(f, "id", &f_at)?;
        if f.contains_key("formsemestre_id") && integer(f, "formsemestre_id", &f_at)? != id {
            return Err(format!("{f_at}: formsemestre_id differs from id"));
        }
        integer(f, "annee_scolaire", &f_at)?;
        integer(f, "semestre_id", &f_at)?;
        let raw = s.get("sim_raw").and_then(Value::as_object);
        if raw.is_some_and(|r| r.contains_key("decisions_jury")) {
            return Ok(()); // fault injection: served unchecked
        }
        let enrolled: Vec<i64> = s
            .get("etudiants")
            .and_then(Value::as_array)
            .map(|students| {
                students
                    .iter()
                    .filter_map(|e| e["etudid"].as_i64().or(e["id"].as_i64()))
                    .collect()
            })
            .unwrap_or_default();
        let at = format!("{at}.decisions_jury");
        let entries = s
            .get("decisions_jury")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{at}: not a list"))?;
        let mut apc: Option<bool> = None;
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let is_apc = decision(entry, &enrolled, &at)?;
            if apc.is_some_and(|known| known != is_apc) {
                return Err(format!(
                    "{at}.is_apc: differs from the formsemestre's other entries"
                ));
            }
            apc = Some(is_apc);
        }
        Ok(())
    }

    /// One student's entry; returns its `is_apc`.
    fn decision(entry: &Value, enrolled: &[i64], at: &str) -> Result<bool, String> {
        let e = object(entry, at)?;
        only_keys(
            e,
            &[
                "etudid",
                "code_nip",
                "code_ine",
                "is_apc",
                "etat",
                "nb_competences",
                "semestre",
                "ues",
                "rcues",
                "annee",
            ],
            at,
        )?;
        let etudid = integer(e, "etudid", at)?;
        if !enrolled.contains(&etudid) {
            return Err(format!(
                "{at}.etudid: {etudid} is not enrolled in the formsemestre"
            ));
        }
        text_or_null(e, "code_nip", at, true)?;
        text_or_null(e, "code_ine", at, true)?;
        let is_apc = e
            .get("is_apc")
            .and_then(Value::as_bool)
            .ok_or_else(|| format!("{at}.is_apc: not a boolean"))?;
        match e.get("etat").and_then(Value::as_str) {
            Some("I") | Some("D") | Some("DEF") => {}
            other => return Err(format!("{at}.etat: {other:?} is not one of I, D, DEF")),
        }
        if integer(e, "nb_competences", at)? < 0 {
            return Err(format!("{at}.nb_competences: negative"));
        }
        let s_at = format!("{at}.semestre");
        let sem = object(e.get("semestre").unwrap_or(&Value::Null), &s_at)?;
        only_keys(sem, &["code", "ordre"], &s_at)?;
        integer(sem, "ordre", &s_at)?;
        text_or_null(sem, "code", &s_at, false)?;
        for (i, ue) in list(e, "ues", at)?.iter().enumerate() {
            let u_at = format!("{at}.ues[{i}]");
            let ue = object(ue, &u_at)?;
            only_keys(ue, &["ue_id", "code", "ects"], &u_at)?;
            integer(ue, "ue_id", &u_at)?;
            text_or_null(ue, "code", &u_at, true)?;
        }
        let rcues = list(e, "rcues", at)?;
        if !is_apc && !rcues.is_empty() {
            return Err(format!(
                "{at}.rcues: a classic formation (is_apc false) has no RCUE"
            ));
        }
        for (i, rcue) in rcues.iter().enumerate() {
            let r_at = format!("{at}.rcues[{i}]");
            let rcue = object(rcue, &r_at)?;
            only_keys(rcue, &["code", "moy"], &r_at)?;
            text_or_null(rcue, "code", &r_at, true)?;
            number_or_null(rcue, "moy", &r_at)?;
        }
        let a_at = format!("{at}.annee");
        let annee = object(e.get("annee").unwrap_or(&Value::Null), &a_at)?;
        if is_apc {
            only_keys(annee, &["code", "ordre", "annee_scolaire"], &a_at)?;
            if !annee.is_empty() {
                text_or_null(annee, "code", &a_at, true)?;
                integer(annee, "ordre", &a_at)?;
                integer(annee, "annee_scolaire", &a_at)?;
            }
        } else if !annee.is_empty() {
            return Err(format!(
                "{a_at}: a classic formation has no BUT year (expected {{}})"
            ));
        }
        Ok(is_apc)
    }
}

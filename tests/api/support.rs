//! Test harness: a real passerelle server on a loopback port, on a fresh SQLite file or — when
//! `PASSERELLE_TEST_DATABASE_URL` is set — on its own PostgreSQL schema.

use std::path::PathBuf;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use passerelle::auth::Role;
use passerelle::auth::jwt::{Claims, JwtKeys};
use passerelle::config::{Config, Secret};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// The academic year the test servers consider current.
pub const CURRENT_YEAR: i32 = 2025;

/// One JSON enrolment row.
pub fn row(
    cod_etu: &str,
    last: &str,
    first: &str,
    composante: &str,
    etape: &str,
    year: i32,
    state: &str,
) -> Value {
    serde_json::json!({
        "cod_etu": cod_etu,
        "last_name": last,
        "first_name": first,
        "composante": composante,
        "etape": etape,
        "academic_year": year,
        "enrolment_state": state,
    })
}

/// Declares one async test body that runs on SQLite, and on PostgreSQL when configured.
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        $crate::support::both_backends!($name, $body, |_| {});
    };
    ($name:ident, $body:ident, $adjust:expr) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                let app = $crate::support::TestApp::sqlite_with($adjust).await;
                super::$body(app).await;
            }

            #[actix_web::test]
            async fn postgres() {
                let Some(app) = $crate::support::TestApp::postgres_with($adjust).await else {
                    eprintln!("PASSERELLE_TEST_DATABASE_URL not set: PostgreSQL run skipped");
                    return;
                };
                super::$body(app).await;
            }
        }
    };
}
pub(crate) use both_backends;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub config: Config,
    keys: std::sync::Arc<JwtKeys>,
    /// Keeps the SQLite file and data directory alive for the test's duration.
    _dir: std::sync::Arc<tempfile::TempDir>,
}

thread_local! {
    /// The `Accept-Language` every request of this test's thread sends (unless it names its
    /// own): each `actix_web::test` runs on its own thread.
    static ACCEPT_LANGUAGE: std::cell::Cell<Option<&'static str>> =
        const { std::cell::Cell::new(None) };
}

/// Makes every request of this test ask for `lang` (`None`: no header, French).
pub fn speak(lang: Option<&'static str>) {
    ACCEPT_LANGUAGE.set(lang);
}

/// The language [`speak`] set.
pub fn spoken() -> Option<&'static str> {
    ACCEPT_LANGUAGE.get()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem document with this status and code, and returns its body.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        &self.body
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }
}

pub fn base_config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.join("data"),
        database_url: format!("sqlite://{}", dir.join("data/passerelle.db").display()),
        workers: 1,
        database_pool_size: 4,
        academic_year: Some(CURRENT_YEAR),
        ..Config::default()
    };
    config.auth.jwt_secret = Secret(SECRET.into());
    config.jobs.poll_interval_ms = 20;
    config.rate_limit.per_second = 10_000;
    config.rate_limit.burst = 10_000;
    config.rate_limit.anonymous_per_second = 10_000;
    config.rate_limit.anonymous_burst = 10_000;
    config
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn sqlite_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = base_config(dir.path());
        adjust(&mut config);
        Self::spawn(config, dir).await
    }

    /// A server on a database of the test's own (a private PostgreSQL cluster, for instance).
    pub async fn on_database(url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = base_config(dir.path());
        config.database_url = url.to_owned();
        adjust(&mut config);
        Self::spawn(config, dir).await
    }

    /// A fresh schema in the test database, so tests never see each other's rows.
    pub async fn postgres_with(adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let base = std::env::var("PASSERELLE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(&base)
            .expect("connect to PASSERELLE_TEST_DATABASE_URL");
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create test schema");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = base_config(dir.path());
        let sep = if base.contains('?') { '&' } else { '?' };
        config.database_url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        adjust(&mut config);
        Some(Self::spawn(config, dir).await)
    }

    async fn spawn(config: Config, dir: tempfile::TempDir) -> TestApp {
        // TEST_LOG=info (or any filter) shows the server's logs while debugging a test.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            passerelle::telemetry::init(passerelle::config::LogFormat::Text, &filter);
        }
        let keys = JwtKeys::from_config(&config.auth, &config.data_dir).expect("keys");
        let shared = passerelle::server::prepare(config.clone()).expect("server prepares");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let (server, addr) =
            passerelle::server::start(shared, Some(listener)).expect("server starts");
        actix_web::rt::spawn(server);
        passerelle::http_client::install_tls_provider();
        TestApp {
            base: format!("http://{addr}"),
            // Idle connections are dropped before the server's keep-alive (5 s) closes them, so
            // a request never goes out on a connection the server is closing.
            client: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .expect("HTTP client"),
            config,
            keys: std::sync::Arc::new(keys),
            _dir: std::sync::Arc::new(dir),
        }
    }

    /// The same test app (database, tokens) calling another server, e.g. a [`ServeProcess`].
    pub fn on(&self, base: &str) -> TestApp {
        TestApp {
            base: base.to_owned(),
            client: self.client.clone(),
            config: self.config.clone(),
            keys: self.keys.clone(),
            _dir: self._dir.clone(),
        }
    }

    /// The test's temporary directory (holds the data directory).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    pub fn mint(&self, claims: Claims) -> String {
        self.keys.mint(claims).expect("mint")
    }

    fn claims(role: Role, sub: &str) -> Claims {
        let now = jsonwebtoken::get_current_timestamp();
        Claims {
            sub: sub.into(),
            iss: String::new(),
            aud: String::new(),
            exp: now + 3600,
            iat: now,
            role,
            composantes: vec![],
            cod_etu: None,
            scopes: vec![],
            name: None,
        }
    }

    pub fn admin(&self) -> String {
        self.mint(Self::claims(Role::Admin, "admin"))
    }

    pub fn manager(&self, composantes: &[&str]) -> String {
        let mut c = Self::claims(Role::Manager, &format!("manager-{}", composantes.join("-")));
        c.composantes = composantes.iter().map(|s| s.to_string()).collect();
        self.mint(c)
    }

    pub fn student(&self, cod_etu: &str) -> String {
        let mut c = Self::claims(Role::Student, &format!("etu-{cod_etu}"));
        c.cod_etu = Some(cod_etu.into());
        self.mint(c)
    }

    pub fn service(&self, scopes: &[&str]) -> String {
        let mut c = Self::claims(Role::Service, "svc");
        c.scopes = scopes.iter().map(|s| s.to_string()).collect();
        self.mint(c)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    /// Sends a request and reads the answer whole; the answer's status (and problem `code`)
    /// must be one the committed OpenAPI description documents for the operation.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let (client, request) = req.build_split();
        let mut request = request.expect("request built");
        if let Some(lang) = spoken() {
            let headers = request.headers_mut();
            if !headers.contains_key(reqwest::header::ACCEPT_LANGUAGE) {
                headers.insert(
                    reqwest::header::ACCEPT_LANGUAGE,
                    reqwest::header::HeaderValue::from_static(lang),
                );
            }
        }
        let method = request.method().as_str().to_ascii_lowercase();
        let path = request.url().path().to_owned();
        let reply = Self::read(client.execute(request).await.expect("request sent")).await;
        assert_documented(&method, &path, &reply);
        reply
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
    }

    async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            bytes,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    /// Imports JSON enrolment rows as admin and returns the report.
    pub async fn import(&self, rows: Vec<Value>) -> Value {
        let r = self
            .post("/students/import", &self.admin(), Value::Array(rows))
            .await;
        r.ok(200).clone()
    }

    /// The id of a student's vault, found as admin by student number.
    pub async fn vault_id(&self, cod_etu: &str) -> String {
        let r = self
            .get(&format!("/vaults?q={cod_etu}"), &self.admin())
            .await;
        let items = r.ok(200)["items"].as_array().unwrap();
        let v = items
            .iter()
            .find(|v| v["student"]["cod_etu"] == cod_etu)
            .unwrap_or_else(|| panic!("no vault for {cod_etu}: {}", r.body));
        v["id"].as_str().unwrap().to_owned()
    }

    /// A direct database handle on the server's database (to set up states only Digiposte
    /// could produce, or to tamper with rows on purpose).
    pub fn db(&self) -> passerelle::db::Db {
        passerelle::db::Db::connect(&self.config.database_url(), 2, 2000).expect("database")
    }

    /// Creates composantes as admin.
    pub async fn composantes(&self, codes: &[&str]) {
        let admin = self.admin();
        for code in codes {
            self.post(
                "/composantes",
                &admin,
                serde_json::json!({"code": code, "label": format!("Composante {code}")}),
            )
            .await
            .ok(201);
        }
    }
}

/// A `passerelle serve` in its own process (for drills that kill it), on the same database and
/// data directory as a [`TestApp`], with its job workers on. `extra_env` is applied last, so it
/// may override any of these (another `PASSERELLE_DATA_DIR` for a second instance).
pub struct ServeProcess {
    child: std::process::Child,
    pub base: String,
}

impl ServeProcess {
    pub async fn start(app: &TestApp, extra_env: &[(&str, &str)]) -> ServeProcess {
        Self::start_logged(app, extra_env, None).await
    }

    /// As [`ServeProcess::start`], with the server's log (stderr) written to `log` instead of
    /// the test's own output, for drills that read what the server said.
    pub async fn start_logged(
        app: &TestApp,
        extra_env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> ServeProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"));
        cmd.arg("serve")
            .env_clear()
            .env("PASSERELLE_DATABASE_URL", app.config.database_url())
            .env("PASSERELLE_DATA_DIR", &app.config.data_dir)
            .env("PASSERELLE_AUTH__JWT_SECRET", SECRET)
            .env("PASSERELLE_BIND", format!("127.0.0.1:{port}"))
            .env("PASSERELLE_ACADEMIC_YEAR", CURRENT_YEAR.to_string())
            .env("PASSERELLE_RATE_LIMIT__ENABLED", "false")
            .env("PASSERELLE_JOBS__POLL_INTERVAL_MS", "20")
            .env("PASSERELLE_LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null());
        if let Some(path) = log {
            cmd.stderr(std::fs::File::create(path).expect("server log file"));
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("passerelle serve starts");
        let process = ServeProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{}/health/ready", process.base)).await
                && r.status().is_success()
            {
                return process;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("passerelle serve did not become ready");
    }

    /// The server's process id (to read its memory from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no shutdown, no cleanup, as a crash or the OOM killer would do.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The committed OpenAPI description, read once.
fn committed_spec() -> &'static Value {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json"))
            .expect("openapi/openapi.json is JSON")
    })
}

/// The operation of the committed spec a concrete path and method reach (`None` for paths
/// and methods no operation serves: 404 and 405 answers are not operations').
pub fn spec_operation(method: &str, path: &str) -> Option<&'static Value> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let paths = committed_spec()["paths"].as_object()?;
    // A literal segment wins over a template (`/vaults/summary` over `/vaults/{id}`).
    let mut best: Option<(usize, &Value)> = None;
    for (template, item) in paths {
        let segments: Vec<&str> = template.trim_matches('/').split('/').collect();
        if segments.len() != parts.len() {
            continue;
        }
        let mut literal = 0;
        let matches = segments.iter().zip(&parts).all(|(s, p)| {
            if s.starts_with('{') {
                !p.is_empty()
            } else {
                literal += 1;
                s == p
            }
        });
        if matches && item.get(method).is_some() && best.is_none_or(|(l, _)| literal > l) {
            best = Some((literal, &item[method]));
        }
    }
    best.map(|(_, op)| op)
}

/// Fails when an operation answered a status (or a problem code) its description does not list.
#[track_caller]
pub fn assert_documented(method: &str, path: &str, reply: &Reply) {
    let Some(op) = spec_operation(method, path) else {
        return;
    };
    let id = op["operationId"].as_str().unwrap_or("?");
    let status = reply.status.as_str();
    let response = &op["responses"][status];
    assert!(
        response.is_object(),
        "{id} ({method} {path}) answered {status}, which openapi/openapi.json does not document \
         for it; body: {}",
        reply.body
    );
    if reply.content_type().starts_with("application/problem+json") {
        let code = reply.body["code"].as_str().unwrap_or_default();
        let listed = &response["content"]["application/problem+json"]["examples"][code];
        assert!(
            listed.is_object(),
            "{id} ({method} {path}) answered {status} `{code}`, which openapi/openapi.json does \
             not list for it (declare it in src/api/problems.rs)"
        );
    }
}

//! Sign-in through a real OpenID provider: the npm package `oidc-provider` (a certified
//! implementation; installed into target/oidc-provider by .ci/oidc-provider.sh), started on
//! loopback with a configuration this test writes (tests/oidc/provider.mjs): SUPANN-shaped
//! accounts, a client-credentials client, RSA and EC keys, and restarts with another key list as
//! key rotations. Without node or the package the test is skipped, except under CI=true.
//!
//! People's tokens come from the provider's test route (its own AccessToken class, see the
//! script); services use the real client-credentials grant at `/token`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use passerelle::auth::oidc::IssuerConfig;
use passerelle::auth::oidc::mapping::{ClaimMapping, ManagerRule, ServiceRule, StudentRule};
use passerelle::config::Config;
use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, Reply, TestApp, both_backends, row};

pub(crate) const AUDIENCE: &str = "https://passerelle.test/";
/// A resource whose tokens carry passerelle's audience but are signed with ES256.
const ES256_RESOURCE: &str = "urn:passerelle:es256";
const OTHER_RESOURCE: &str = "https://other.test/";
const MIN_REFRESH_SECS: u64 = 2;
const MAX_AGE_SECS: u64 = 4;

fn provider_module() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/oidc-provider/node_modules/oidc-provider/lib/index.js")
}

/// Whether node and oidc-provider are here; under CI=true their absence fails the test.
pub(crate) fn provider_available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if node && provider_module().exists() {
        return true;
    }
    let why = "the OpenID provider test needs node and oidc-provider (bash .ci/oidc-provider.sh)";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} (CI=true: not skipped)");
    }
    eprintln!("{why}: skipped");
    false
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn issuer_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// passerelle trusts one provider, on a port chosen here (the provider starts in the test).
pub(crate) fn trust_provider(config: &mut Config) {
    config.auth.issuers = vec![IssuerConfig {
        issuer: issuer_url(free_port()),
        jwks_uri: String::new(),
        audience: AUDIENCE.into(),
        algorithms: vec![passerelle::auth::oidc::SignatureAlgorithm::RS256],
        jwks_max_age_secs: MAX_AGE_SECS,
        jwks_min_refresh_secs: MIN_REFRESH_SECS,
        http_timeout_ms: 2000,
        swagger_ui_client_id: "swagger-ui".into(),
        mapping: ClaimMapping {
            manager: Some(ManagerRule {
                claim: "eduPersonAffiliation".into(),
                values: vec!["staff".into()],
                composantes_claim: "supannEntiteAffectation".into(),
                composante_prefix: "U".into(),
            }),
            student: Some(StudentRule {
                claim: "eduPersonAffiliation".into(),
                values: vec!["student".into()],
                cod_etu_claim: "supannEtuId".into(),
            }),
            service: Some(ServiceRule {
                clients: vec!["scol-tool".into()],
                client_claims: vec!["client_id".into(), "azp".into()],
                scope_claim: "scope".into(),
                require_client_subject: true,
            }),
            ..ClaimMapping::default()
        },
    }];
}

/// One `node tests/oidc/provider.mjs` process.
pub(crate) struct Provider {
    child: Child,
    port: u16,
    client: reqwest::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts the provider on `port` with these signing keys (kid, kty), the first signing.
    /// Keys live under `dir/keys` and are reused by later starts: a new list is a rotation.
    pub(crate) fn start(dir: &Path, port: u16, keys: &[(&str, &str)]) -> Provider {
        let config = json!({
            "module": provider_module(),
            "port": port,
            "keys_dir": dir.join("keys"),
            "keys": keys.iter().map(|(kid, kty)| json!({"kid": kid, "kty": kty})).collect::<Vec<_>>(),
            "scopes": ["vaults:read", "composantes:read"],
            "clients": [
                {"client_id": "ent", "client_secret": "ent-secret-ent-secret",
                 "grant_types": ["authorization_code"], "response_types": ["code"],
                 "redirect_uris": ["https://ent.test/callback"]},
                {"client_id": "scol-tool", "client_secret": "tool-secret-tool-secret",
                 "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [],
                 "token_endpoint_auth_method": "client_secret_post", "scope": "vaults:read"},
            ],
            "accounts": {
                "etu1": {"eduPersonAffiliation": ["student", "member"], "supannEtuId": "21900001",
                         "displayName": "Jeanne Dupont"},
                "gest": {"eduPersonAffiliation": ["staff", "employee"],
                         "supannEntiteAffectation": ["U905", "U906", "DSI"]},
                "alum": {"eduPersonAffiliation": ["alum"], "supannEtuId": "21900002"},
            },
            "resources": {
                AUDIENCE: {"audience": AUDIENCE, "alg": "RS256"},
                ES256_RESOURCE: {"audience": AUDIENCE, "alg": "ES256"},
                OTHER_RESOURCE: {"audience": OTHER_RESOURCE, "alg": "RS256"},
            },
        });
        let path = dir.join(format!("provider-{port}.json"));
        std::fs::write(&path, config.to_string()).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the OpenID provider says ready");
        Provider {
            child,
            port,
            client: reqwest::Client::new(),
        }
    }

    fn stop(self) {
        drop(self)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", issuer_url(self.port))
    }

    /// A client-credentials access token of `scol-tool` for `resource`.
    async fn service_token(&self, resource: &str) -> String {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "scol-tool"),
            ("client_secret", "tool-secret-tool-secret"),
            ("scope", "vaults:read"),
            ("resource", resource),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let response = self
            .client
            .post(self.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "token endpoint: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// An access token of an account, as the ENT's sign-in would get it.
    pub(crate) async fn person_token(&self, account: &str, resource: &str) -> String {
        let body: Value = self
            .client
            .post(self.url("/test/token"))
            .body(
                json!({"account": account, "client_id": "ent", "resource": resource,
                       "scope": "openid"})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn jwks_hits(&self) -> u64 {
        let body: Value = self
            .client
            .get(self.url("/test/jwks-hits"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["hits"].as_u64().unwrap()
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A 401 `unauthenticated` whose detail names `why`.
fn assert_refused_for(reply: &Reply, why: &str) {
    let detail = reply.problem(401, "unauthenticated")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(detail.contains(why), "{}", reply.body);
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// The token with another `kid` in its header (its signature no longer matches anything).
fn with_kid(token: &str, kid: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: Value = serde_json::from_slice(&b64.decode(header).unwrap()).unwrap();
    header["kid"] = kid.into();
    format!("{}.{rest}", b64.encode(header.to_string()))
}

fn vault_codes(page: &Value) -> Vec<String> {
    let mut codes: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["student"]["cod_etu"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

both_backends!(
    sign_in_through_a_real_openid_provider,
    sign_in_body,
    super::trust_provider
);
async fn sign_in_body(app: TestApp) {
    if !provider_available() {
        return;
    }
    let issuer = app.config.auth.issuers[0].issuer.clone();
    let port: u16 = issuer.rsplit(':').next().unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    app.composantes(&["905", "906", "907"]).await;
    app.import(vec![
        row(
            "21900001",
            "DUPONT",
            "Jeanne",
            "905",
            "E1",
            CURRENT_YEAR,
            "E",
        ),
        row("21900003", "MARTIN", "Paul", "906", "E2", CURRENT_YEAR, "E"),
        row("21900004", "DURAND", "Léa", "907", "E3", CURRENT_YEAR, "E"),
    ])
    .await;

    let provider = Provider::start(dir.path(), port, &[("a", "RSA"), ("e", "EC")]);

    // --- A student, a manager of two composantes, a client-credentials service -----------------
    let student = provider.person_token("etu1", AUDIENCE).await;
    assert_eq!(kid_of(&student), "a");
    let me = app.get("/me", &student).await;
    assert_eq!(me.ok(200)["role"], "student", "{}", me.body);
    assert_eq!(me.body["cod_etu"], "21900001");
    assert_eq!(me.body["subject"], "etu1");
    app.get("/me/vault", &student).await.ok(200);
    app.get("/vaults", &student).await.problem(403, "forbidden");

    let manager = provider.person_token("gest", AUDIENCE).await;
    let me = app.get("/me", &manager).await;
    assert_eq!(me.ok(200)["role"], "manager");
    assert_eq!(me.body["composantes"], json!(["905", "906"]));
    let vaults = app.get("/vaults", &manager).await;
    assert_eq!(
        vault_codes(vaults.ok(200)),
        vec!["21900001", "21900003"],
        "exactly the two composantes"
    );

    let service = provider.service_token(AUDIENCE).await;
    let me = app.get("/me", &service).await;
    assert_eq!(me.ok(200)["role"], "service", "{}", me.body);
    assert_eq!(me.body["subject"], "scol-tool");
    assert_eq!(me.body["scopes"], json!(["vaults:read"]));
    let vaults = app.get("/vaults", &service).await;
    assert_eq!(
        vault_codes(vaults.ok(200)),
        vec!["21900001", "21900003", "21900004"]
    );
    // Its scope is vaults:read only.
    app.get("/students", &service)
        .await
        .problem(403, "forbidden");

    // --- Refused: no role, wrong audience, algorithm not allowed, untrusted issuer ------------
    let alum = provider.person_token("alum", AUDIENCE).await;
    let refused = app.get("/me", &alum).await;
    let detail = refused.problem(403, "no_role_for_token")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("`eduPersonAffiliation`"), "{detail}");
    for value in ["alum", "21900002"] {
        assert!(!detail.contains(value), "claim value {value} in: {detail}");
    }

    let other_audience = provider.service_token(OTHER_RESOURCE).await;
    let refused = app.get("/me", &other_audience).await;
    assert_refused_for(&refused, "audience");

    let es256 = provider.person_token("etu1", ES256_RESOURCE).await;
    assert_eq!(kid_of(&es256), "e");
    let refused = app.get("/me", &es256).await;
    assert_refused_for(&refused, "algorithm");
    // HS256 with the issuer's name, signed with a guessable secret: never for a JWKS issuer.
    let now = jsonwebtoken::get_current_timestamp();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": issuer, "aud": AUDIENCE, "sub": "scol-tool", "client_id": "scol-tool",
                "scope": "vaults:read", "exp": now + 600}),
        &jsonwebtoken::EncodingKey::from_secret(b"public"),
    )
    .unwrap();
    app.get("/me", &forged)
        .await
        .problem(401, "unauthenticated");
    // `alg: none`, unsigned.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(
            json!({"iss": issuer, "aud": AUDIENCE, "sub": "x", "exp": now + 600}).to_string()
        )
    );
    app.get("/me", &unsigned)
        .await
        .problem(401, "unauthenticated");

    let untrusted_port = free_port();
    let untrusted_dir = tempfile::tempdir().unwrap();
    let untrusted = Provider::start(untrusted_dir.path(), untrusted_port, &[("x", "RSA")]);
    let foreign = untrusted.service_token(AUDIENCE).await;
    let refused = app.get("/me", &foreign).await;
    assert_refused_for(&refused, "pas reconnu");
    untrusted.stop();

    // --- A flood of unknown kids costs the provider one key fetch -----------------------------
    tokio::time::sleep(Duration::from_millis(MIN_REFRESH_SECS * 1000 + 100)).await;
    let before = provider.jwks_hits().await;
    let flood: Vec<_> = (0..20)
        .map(|i| {
            let token = with_kid(&student, &format!("made-up-{i}"));
            let app = &app;
            async move { app.get("/me", &token).await }
        })
        .collect();
    for reply in futures_util::future::join_all(flood).await {
        reply.problem(401, "unauthenticated");
    }
    assert_eq!(
        provider.jwks_hits().await - before,
        1,
        "one fetch for 20 unknown kids"
    );

    // --- Rotation: a new signing key is picked up without restarting passerelle ---------------
    provider.stop();
    let provider = Provider::start(dir.path(), port, &[("b", "RSA"), ("a", "RSA"), ("e", "EC")]);
    app.get("/me", &student).await.ok(200); // the old key's tokens stay valid
    tokio::time::sleep(Duration::from_millis(MIN_REFRESH_SECS * 1000 + 100)).await;
    let rotated = provider.person_token("etu1", AUDIENCE).await;
    assert_eq!(kid_of(&rotated), "b");
    assert_eq!(
        app.get("/me", &rotated).await.ok(200)["cod_etu"],
        "21900001"
    );
    let rotated_manager = provider.person_token("gest", AUDIENCE).await;

    // --- Removal: once the cache has expired and the set no longer has `a`, `a` is refused ---
    provider.stop();
    let provider = Provider::start(dir.path(), port, &[("b", "RSA"), ("e", "EC")]);
    let before = provider.jwks_hits().await;
    tokio::time::sleep(Duration::from_millis(MAX_AGE_SECS * 1000 + 100)).await;
    let refused = app.get("/me", &student).await;
    assert_eq!(
        provider.jwks_hits().await - before,
        1,
        "refetched on expiry"
    );
    assert_refused_for(&refused, "clés publiées");
    app.get("/me", &service)
        .await
        .problem(401, "unauthenticated");

    // --- The provider down: tokens signed with cached keys still work, even past max age ------
    provider.stop();
    app.get("/me", &rotated).await.ok(200);
    tokio::time::sleep(Duration::from_millis(MAX_AGE_SECS * 1000 + 100)).await;
    assert_eq!(app.get("/me", &rotated).await.ok(200)["role"], "student");
    let vaults = app.get("/vaults", &rotated_manager).await;
    assert_eq!(vault_codes(vaults.ok(200)), vec!["21900001", "21900003"]);
}

/// `passerelle token inspect` prints the principal a provider's token maps to, or why none.
#[actix_web::test]
async fn token_inspect_explains_the_mapping() {
    if !provider_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let provider = Provider::start(dir.path(), port, &[("a", "RSA")]);
    let mut config = Config::default();
    trust_provider(&mut config);
    config.auth.issuers[0].issuer = issuer_url(port);
    let toml = dir.path().join("passerelle.toml");
    std::fs::write(&toml, config_file(&dir.path().join("data"), &config)).unwrap();
    let inspect = |token: &str| {
        Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .args([
                "--config",
                toml.to_str().unwrap(),
                "token",
                "inspect",
                token,
            ])
            .env_remove("PASSERELLE_AUTH__JWT_SECRET")
            .output()
            .unwrap()
    };
    let manager = provider.person_token("gest", AUDIENCE).await;
    let out = inspect(&manager);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let principal: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(principal["role"], "manager");
    assert_eq!(principal["composantes"], json!(["905", "906"]));

    let alum = provider.person_token("alum", AUDIENCE).await;
    let out = inspect(&alum);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no principal") && stderr.contains("`eduPersonAffiliation`"),
        "{stderr}"
    );
    assert!(!stderr.contains("21900002"), "{stderr}");
}

/// A configuration file with these issuers, as an integrator writes it.
fn config_file(data_dir: &Path, config: &Config) -> String {
    #[derive(serde::Serialize)]
    struct Auth<'a> {
        issuers: &'a [IssuerConfig],
    }
    #[derive(serde::Serialize)]
    struct File<'a> {
        data_dir: &'a Path,
        auth: Auth<'a>,
    }
    toml::to_string(&File {
        data_dir,
        auth: Auth {
            issuers: &config.auth.issuers,
        },
    })
    .unwrap()
}

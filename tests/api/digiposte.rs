//! Digiposte flows against a real `digiposte-sim` process on loopback (no in-process mock):
//! deliveries under injected faults end with every document deposited exactly once, a
//! membership cancelled behind passerelle's back, signed receipts (forged, stale, replayed),
//! vault workers and the synchronisation, and a `passerelle serve` killed mid-send.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use passerelle::config::Config;
use passerelle::db::jobs;
use passerelle::digiposte::{deposit_file_name, signature};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{SECRET, TestApp};

pub const WEBHOOK_SECRET: &str = "webhook-secret-for-the-tests-0123456789";
/// digiposte-sim's default application key (`--okapi-key`).
pub const SIM_OKAPI_KEY: &str = "sim-okapi-key";

pub struct Sim {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    /// Starts the simulator with tiny delays and no quota, plus `extra` flags.
    pub fn start(extra: &[&str]) -> Sim {
        passerelle::http_client::install_tls_provider();
        let mut child = Command::new(env!("CARGO_BIN_EXE_digiposte-sim"))
            .args([
                "--bind",
                "127.0.0.1:0",
                "--receipt-delay-ms",
                "100",
                "--quota-per-minute",
                "0",
                "--cancel-delay-ms",
                "50",
                "--webhook-secret",
                WEBHOOK_SECRET,
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("digiposte-sim starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Sim {
            child,
            url: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/admin/stats", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn faults(&self, knobs: Value) {
        let r = self
            .http
            .post(format!("{}/admin/faults", self.url))
            .json(&knobs)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }

    /// Sends receipts to this passerelle.
    pub async fn hook(&self, base: &str) {
        self.faults(json!({ "webhook_url": format!("{base}/webhooks/digiposte") }))
            .await;
    }

    /// `cancel` (behind passerelle's back) or `finalise` one account.
    pub async fn user(&self, route_code: &str, action: &str) {
        let r = self
            .http
            .post(format!("{}/admin/users/{route_code}/{action}", self.url))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// Passerelle's `[digiposte]` and job settings for tests: small delays everywhere.
pub fn configure(c: &mut Config, sim: &Sim) {
    let d = &mut c.digiposte;
    d.base_url = format!("{}/digiposte/v3", sim.url);
    d.client_id = "passerelle".into();
    d.client_secret = passerelle::config::Secret("sim-secret".into());
    d.okapi_key = passerelle::config::Secret(SIM_OKAPI_KEY.into());
    d.document_types = [
        ("releve_notes", "RELEVE_NOTES"),
        ("attestation_reussite", "ATTESTATION_REUSSITE"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    d.timeout_ms = 500;
    d.max_retries = 8;
    d.retry_base_ms = 5;
    d.retry_max_ms = 100;
    d.quota_per_minute = 0;
    d.breaker_failures = 100;
    d.breaker_open_ms = 200;
    d.webhook_secret = passerelle::config::Secret(WEBHOOK_SECRET.into());
    d.reconcile_delay_ms = 50;
    d.sync_enabled = false;
    c.jobs.lease_secs = 5;
    c.jobs.backoff_base_secs = 1;
    c.jobs.backoff_max_secs = 2;
    // These tests ask for each subscription themselves (pre-creation has its own test).
    c.vaults.auto_subscribe = false;
}

pub(crate) async fn app_with(
    sim: &Sim,
    postgres: bool,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let f = |c: &mut Config| {
        configure(c, sim);
        adjust(c);
    };
    let app = if postgres {
        TestApp::postgres_with(f)
            .await
            .expect("PostgreSQL configured")
    } else {
        TestApp::sqlite_with(f).await
    };
    sim.hook(&app.base).await;
    app
}

pub(crate) fn postgres_configured() -> bool {
    std::env::var("PASSERELLE_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

/// One test body on SQLite, and on PostgreSQL when configured.
macro_rules! with_sim {
    ($name:ident, $body:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$body(false).await;
            }

            #[actix_web::test]
            async fn postgres() {
                if !super::postgres_configured() {
                    eprintln!("PASSERELLE_TEST_DATABASE_URL not set: PostgreSQL run skipped");
                    return;
                }
                super::$body(true).await;
            }
        }
    };
}
pub(crate) use with_sim;

pub(crate) async fn until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Queues a subscription for every vault (as the vault issue's actions do) and waits until
/// `n` vaults are active.
pub(crate) async fn subscribe_all(app: &TestApp, n: i64) {
    use passerelle::db::schema::vaults;
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let ids: Vec<String> = vaults::table.select(vaults::id).load(&mut *conn).unwrap();
    passerelle::db::write_transaction(&mut conn, |c| {
        for id in &ids {
            jobs::enqueue(
                c,
                jobs::kind::VAULT_SUBSCRIBE,
                id,
                &json!({ "vault_id": id }),
                "test",
            )?;
        }
        Ok(())
    })
    .unwrap();
    until("the subscriptions", Duration::from_secs(40), async || {
        let r = app
            .get("/vaults/summary?composante=905", &app.admin())
            .await;
        let active = r.body["statuses"]
            .as_array()?
            .iter()
            .find(|s| s["status"] == "active")?["count"]
            .as_i64()?;
        (active >= n).then_some(())
    })
    .await;
}

/// Imports `n` students, subscribes their vaults, uploads their batch and sends it; returns
/// the treatment id.
pub(crate) async fn prepared_treatment(app: &TestApp, n: usize) -> String {
    app.composantes(&["905"]).await;
    crate::treatments::batch_with_students(app, n).await;
    subscribe_all(app, n as i64).await;
    upload_and_split(app, n).await
}

pub(crate) async fn upload_and_split(app: &TestApp, n: usize) -> String {
    let batch = passerelle::pdf::fixture::batch(&passerelle::pdf::fixture::BatchSpec {
        students: n,
        seed: 42,
        ..Default::default()
    });
    let r = crate::treatments::upload(app, &app.admin(), batch.bytes, "releve_notes", "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    until("the split", Duration::from_secs(60), async || {
        let r = app.get(&format!("/treatments/{id}"), &app.admin()).await;
        (r.body["status"] == "split").then_some(())
    })
    .await;
    id
}

/// Sends the treatment with the confirmed count; returns how many were queued.
pub(crate) async fn send(app: &TestApp, id: &str) -> i64 {
    let manager = app.manager(&["905"]);
    let detail = app.get(&format!("/treatments/{id}"), &manager).await;
    let deliverable = detail.ok(200)["deliverable"].as_i64().unwrap();
    let r = app
        .post(
            &format!("/treatments/{id}/send"),
            &manager,
            json!({ "expected_documents": deliverable }),
        )
        .await;
    assert_eq!(r.ok(202)["queued"], deliverable, "{}", r.body);
    deliverable
}

fn counts(detail: &Value) -> HashMap<String, i64> {
    detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap_or("none").to_owned(),
                d["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Waits until no document of the treatment is queued or awaiting its receipt.
pub(crate) async fn wait_final(app: &TestApp, id: &str, timeout: Duration) -> HashMap<String, i64> {
    until("every delivery to end", timeout, async || {
        let r = app.get(&format!("/treatments/{id}"), &app.admin()).await;
        let c = counts(r.ok(200));
        let open =
            c.get("queued").copied().unwrap_or(0) + c.get("awaiting_receipt").copied().unwrap_or(0);
        (open == 0).then_some(c)
    })
    .await
}

pub(crate) async fn documents(app: &TestApp, id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for page in 1.. {
        let r = app
            .get(
                &format!("/treatments/{id}/documents?per_page=500&page={page}"),
                &app.admin(),
            )
            .await;
        let items = r.ok(200)["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        all.extend(items);
    }
    all
}

/// Every queued document of the treatment was deposited exactly once (the simulator's count
/// per file name, which carries passerelle's document id).
pub(crate) async fn assert_exactly_once(sim: &Sim, app: &TestApp, id: &str, expected: i64) {
    let stats = sim.stats().await;
    assert_eq!(
        stats["deposits_total"], expected,
        "{}",
        stats["deposits_total"]
    );
    assert_eq!(stats["max_deposits_per_file"], 1);
    let sent: Vec<Value> = documents(app, id)
        .await
        .into_iter()
        .filter(|d| d["delivery_status"] != "no_vault")
        .collect();
    assert_eq!(sent.len() as i64, expected);
    for d in &sent {
        let file = deposit_file_name(d["id"].as_str().unwrap());
        assert_eq!(
            stats["deposits_per_file"][&file], 1,
            "document {} deposited {} times",
            d["id"], stats["deposits_per_file"][&file]
        );
    }
}

/// Plays the manager of every `uncertain` document ("À vérifier") until none is left: looks
/// in the simulator (as a manager would in the vault) and confirms it `received`, or has it
/// deposited again. Returns how many were confirmed and how many deposited again.
pub(crate) async fn settle_uncertain(sim: &Sim, app: &TestApp, id: &str) -> (usize, usize) {
    let (mut received, mut again) = (0, 0);
    for _round in 0..20 {
        wait_final(app, id, Duration::from_secs(120)).await;
        let uncertain: Vec<Value> = documents(app, id)
            .await
            .into_iter()
            .filter(|d| d["delivery_status"] == "uncertain")
            .collect();
        if uncertain.is_empty() {
            return (received, again);
        }
        let stats = sim.stats().await;
        for d in uncertain {
            let doc = d["id"].as_str().unwrap();
            assert_eq!(d["delivery_status_label"], "À vérifier");
            assert!(d["deposit_started_at"].is_string(), "{d}");
            let reason = d["delivery_reason"].as_str().unwrap();
            assert!(
                reason.starts_with("digiposte_uncertain: route_code "),
                "{reason}"
            );
            let landed = stats["deposits_per_file"][deposit_file_name(doc)]
                .as_i64()
                .unwrap_or(0);
            assert!(landed <= 1, "{doc} deposited {landed} times");
            let resolution = if landed == 1 {
                received += 1;
                "received"
            } else {
                again += 1;
                "deposit_again"
            };
            let r = app
                .post(
                    &format!("/treatments/{id}/documents/{doc}/uncertain"),
                    &app.admin(),
                    json!({ "resolution": resolution }),
                )
                .await;
            let expected = if landed == 1 { "transmitted" } else { "queued" };
            assert_eq!(r.ok(200)["delivery_status"], expected, "{}", r.body);
        }
    }
    panic!("uncertain deposits still left after 20 rounds");
}

with_sim!(two_hundred_documents_under_faults_arrive_once, faults_body);
async fn faults_body(postgres: bool) {
    let sim = Sim::start(&[
        "--latency-max-ms",
        "8",
        "--duplicate-receipt-rate",
        "0.2",
        "--out-of-order-rate",
        "0.2",
    ]);
    let app = app_with(&sim, postgres, |_| {}).await;
    let id = prepared_treatment(&app, 200).await;
    // 30 % of calls fail: half before Digiposte did anything (503), half after the deposit was
    // stored (500: the caller cannot tell), plus a few deposits whose answer never comes in time.
    sim.faults(json!({
        "error_rate": 0.15,
        "error_after_commit_rate": 0.15,
        "timeout_rate": 0.03,
        "hang_ms": 1200,
    }))
    .await;
    assert_eq!(send(&app, &id).await, 200);
    // A deposit whose answer is lost is never sent again by passerelle itself: it waits,
    // "À vérifier", for a manager (played here with the simulator's count).
    let c = wait_final(&app, &id, Duration::from_secs(60)).await;
    let uncertain = c.get("uncertain").copied().unwrap_or(0);
    assert!(uncertain > 0, "{c:?}");
    let r = app.get("/metrics", &app.admin()).await;
    let text = String::from_utf8(r.bytes.clone()).unwrap();
    assert!(
        metric_sum(&text, "passerelle_digiposte_uncertain_deposits_total") >= uncertain as f64,
        "{text}"
    );
    // Nothing was deposited twice while they waited.
    assert_eq!(sim.stats().await["max_deposits_per_file"], 1);
    // Those injected after the deposit was stored (500, or a hang past the timeout) are
    // there; the 503s came before any processing and were repeated by the client.
    let (received, _again) = settle_uncertain(&sim, &app, &id).await;
    assert!(received > 0, "{received} received");
    let c = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(c.get("transmitted"), Some(&200), "{c:?}");
    assert_exactly_once(&sim, &app, &id, 200).await;
    let stats = sim.stats().await;
    assert!(stats["injected_errors"].as_u64().unwrap() > 20, "{stats}");
    assert_eq!(stats["deposits_without_version_minor"], 0, "{stats}");
    assert_eq!(stats["rejected_400"], 0, "{stats}");
    assert_eq!(stats["rejected_401"], 0, "{stats}");
    // Every document has its receipt time; those deposited with a known answer, their
    // deposit time; those a manager confirmed, the reason saying so.
    for d in documents(&app, &id).await {
        assert!(d["receipt_at"].is_string(), "{d}");
        assert!(
            d["deposited_at"].is_string() || d["delivery_reason"] == "confirmed_received",
            "{d}"
        );
        assert_eq!(d["delivery_status_label"], "Transmis");
    }
    // Sending again enqueues nothing.
    let r = app
        .post(
            &format!("/treatments/{id}/send"),
            &app.admin(),
            json!({"expected_documents": 0}),
        )
        .await;
    assert_eq!(r.ok(202)["queued"], 0);
    assert_eq!(r.body["newly_sent"], false);

    // The metrics saw it all: every attempt counted, the retries, the final states.
    let r = app.get("/metrics", &app.admin()).await;
    let text = String::from_utf8(r.bytes.clone()).unwrap();
    let deposits = metric_sum(
        &text,
        r#"passerelle_digiposte_calls_total{operation="POST /document/certified"}"#,
    );
    assert!(deposits >= 200.0, "{deposits} deposits counted\n{text}");
    assert!(
        metric_sum(&text, "passerelle_digiposte_retries_total{") > 0.0,
        "{text}"
    );
    assert_eq!(
        metric_sum(&text, r#"passerelle_documents{state="transmitted"}"#),
        200.0,
        "{text}"
    );
    assert!(
        text.contains("\npasserelle_digiposte_circuit_state 0\n"),
        "{text}"
    );
    assert!(text.contains("passerelle_digiposte_rate_limited_total "));
}

/// The sum of the samples of `text` (Prometheus text format) whose line starts with `prefix`.
pub fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn route_code_of(app: &TestApp, cod_etu: &str) -> String {
    use passerelle::db::schema::{students, vaults};
    let db = app.db();
    let mut conn = db.conn().unwrap();
    vaults::table
        .inner_join(students::table)
        .filter(students::cod_etu.eq(cod_etu))
        .select(vaults::route_code)
        .first::<Option<String>>(&mut *conn)
        .unwrap()
        .expect("a route code")
}

async fn vault_of(app: &TestApp, cod_etu: &str) -> Value {
    let id = app.vault_id(cod_etu).await;
    app.get(&format!("/vaults/{id}"), &app.admin())
        .await
        .ok(200)
        .clone()
}

with_sim!(
    cancelled_membership_fails_the_delivery_then_terminates,
    cancelled_body
);
async fn cancelled_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |_| {}).await;
    app.composantes(&["905"]).await;
    let batch = crate::treatments::batch_with_students(&app, 3).await;
    subscribe_all(&app, 3).await;
    let (gone, left, cli) = (
        batch.students[0].cod_etu.clone(),
        batch.students[1].cod_etu.clone(),
        batch.students[2].cod_etu.clone(),
    );
    let v = vault_of(&app, &gone).await;
    assert_eq!(v["status"], "active");
    assert!(
        v["customization_url"]
            .as_str()
            .unwrap()
            .contains("finalise")
    );
    // The student closes the vault at Digiposte; passerelle does not know yet.
    sim.user(&route_code_of(&app, &gone), "cancel").await;
    let id = upload_and_split(&app, 3).await;
    assert_eq!(send(&app, &id).await, 3);
    let c = wait_final(&app, &id, Duration::from_secs(20)).await;
    assert_eq!(c.get("transmitted"), Some(&2), "{c:?}");
    assert_eq!(c.get("transmission_error"), Some(&1), "{c:?}");
    let docs = documents(&app, &id).await;
    let failed = docs.iter().find(|d| d["cod_etu"] == gone.as_str()).unwrap();
    assert_eq!(failed["delivery_status"], "transmission_error");
    assert_eq!(failed["delivery_status_label"], "Erreur transmission");
    assert!(
        failed["delivery_reason"]
            .as_str()
            .unwrap()
            .starts_with("digiposte_vault_closed"),
        "{failed}"
    );
    // After the synchronisation (asked by the composante's manager), the vault is terminated.
    assert_eq!(vault_of(&app, &gone).await["status"], "active");
    let manager = app.manager(&["905"]);
    let r = app.post("/digiposte/sync", &manager, json!({})).await;
    assert_eq!(r.ok(202)["kind"], "vault_sync");
    app.post("/digiposte/sync", &app.student(&gone), json!({}))
        .await
        .problem(403, "forbidden");
    until("the synchronisation", Duration::from_secs(10), async || {
        (vault_of(&app, &gone).await["status"] == "terminated").then_some(())
    })
    .await;
    let v = vault_of(&app, &gone).await;
    assert_eq!(v["status_label"], "Adhésion résiliée");
    assert_eq!(
        v["history"].as_array().unwrap().last().unwrap()["cause"],
        "membership_cancelled"
    );
    assert_eq!(vault_of(&app, &left).await["status"], "active");
    // The command line synchronises too.
    sim.user(&route_code_of(&app, &cli), "cancel").await;
    let out = Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["sync", "vaults"])
        .env_remove("PASSERELLE_CONFIG")
        .env("PASSERELLE_DATABASE_URL", app.config.database_url())
        .env("PASSERELLE_DATA_DIR", app.data_dir())
        .env(
            "PASSERELLE_DIGIPOSTE__BASE_URL",
            &app.config.digiposte.base_url,
        )
        .env("PASSERELLE_DIGIPOSTE__CLIENT_ID", "passerelle")
        .env("PASSERELLE_DIGIPOSTE__CLIENT_SECRET", "sim-secret")
        .env("PASSERELLE_DIGIPOSTE__OKAPI_KEY", SIM_OKAPI_KEY)
        .env(
            "PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__RELEVE_NOTES",
            "RELEVE_NOTES",
        )
        .env(
            "PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__ATTESTATION_REUSSITE",
            "ATTESTATION_REUSSITE",
        )
        .env("PASSERELLE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["moved"], 1, "{report}");
    assert_eq!(vault_of(&app, &cli).await["status"], "terminated");
    // The same batch again (confirmed on purpose): the documents transmitted before are not
    // sent twice, and the one for the terminated vault is not even queued.
    let batch = passerelle::pdf::fixture::batch(&passerelle::pdf::fixture::BatchSpec {
        students: 3,
        seed: 42,
        ..Default::default()
    });
    let again = crate::treatments::upload_again(&app, &app.admin(), batch.bytes, "905", &id).await;
    let again = again.ok(202)["id"].as_str().unwrap().to_owned();
    let t = crate::treatments::wait_split(&app, &again).await;
    assert_eq!(t["deliverable"], 0, "{t}");
    assert_eq!(
        t["blocks"]["held"],
        json!([
            {"reason": "already_delivered", "label": "Déjà déposé", "count": 2},
            {"reason": "no_active_vault", "label": "Étudiant sans coffre", "count": 1},
        ]),
        "{t}"
    );
}

pub(crate) fn signed(
    app: &TestApp,
    body: &Value,
    age_secs: i64,
    secret: &str,
) -> reqwest::RequestBuilder {
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = (chrono::Utc::now().timestamp() - age_secs).to_string();
    app.request(Method::POST, "/webhooks/digiposte")
        .header("content-type", "application/json")
        .header(signature::TIMESTAMP_HEADER, &ts)
        .header(
            signature::SIGNATURE_HEADER,
            signature::sign(secret.as_bytes(), &ts, &bytes),
        )
        .body(bytes)
}

async fn document_state(app: &TestApp, treatment: &str) -> Value {
    documents(app, treatment).await.remove(0)
}

with_sim!(
    forged_stale_and_replayed_receipts_change_nothing,
    receipts_body
);
async fn receipts_body(postgres: bool) {
    let sim = Sim::start(&[]);
    // Receipts are sent by this test, not by the simulator; any deposit is overdue at once.
    let app = app_with(&sim, postgres, |c| c.digiposte.receipt_timeout_secs = 0).await;
    sim.faults(json!({ "webhook_url": null })).await;
    let id = prepared_treatment(&app, 1).await;
    send(&app, &id).await;
    let doc = until("the deposit", Duration::from_secs(10), async || {
        let d = document_state(&app, &id).await;
        (d["delivery_status"] == "awaiting_receipt").then_some(d)
    })
    .await;
    assert_eq!(doc["delivery_status_label"], "En attente du retour");
    // The receipt is overdue (timeout 0 s here; 48 h by default): reported on the treatment
    // and in the list.
    let t = app.get(&format!("/treatments/{id}"), &app.admin()).await;
    assert_eq!(t.ok(200)["overdue_receipts"], 1);
    let list = app.get("/treatments", &app.admin()).await;
    assert_eq!(list.ok(200)["items"][0]["overdue_receipts"], 1);
    assert_eq!(
        list.body["items"][0]["counts"],
        json!({"documents": 1, "sent": 1, "transmitted": 0, "errors": 0, "held": 0})
    );

    let digiposte_id = {
        use passerelle::db::schema::documents;
        let db = app.db();
        let mut conn = db.conn().unwrap();
        documents::table
            .filter(documents::id.eq(doc["id"].as_str().unwrap()))
            .select(documents::digiposte_document_id)
            .first::<Option<String>>(&mut *conn)
            .unwrap()
            .unwrap()
    };
    let delivered =
        json!({"receipt_id": "r-1", "document_id": digiposte_id, "status": "DELIVERED"});
    // Forged: signed with another key, or not signed at all.
    app.send(signed(&app, &delivered, 0, "not-the-secret"))
        .await
        .problem(401, "webhook_signature_invalid");
    app.send(
        app.request(Method::POST, "/webhooks/digiposte")
            .json(&delivered),
    )
    .await
    .problem(401, "webhook_signature_invalid");
    // Stale: correctly signed, 6 minutes ago.
    app.send(signed(&app, &delivered, 360, WEBHOOK_SECRET))
        .await
        .problem(401, "webhook_stale");
    assert_eq!(
        document_state(&app, &id).await["delivery_status"],
        "awaiting_receipt"
    );

    // The real one applies.
    let r = app.send(signed(&app, &delivered, 0, WEBHOOK_SECRET)).await;
    assert_eq!(r.ok(200)["outcome"], "applied");
    let after = document_state(&app, &id).await;
    assert_eq!(after["delivery_status"], "transmitted");
    let t = app.get(&format!("/treatments/{id}"), &app.admin()).await;
    assert_eq!(t.ok(200)["overdue_receipts"], 0);
    let list = app.get("/treatments", &app.admin()).await;
    assert_eq!(
        list.ok(200)["items"][0]["counts"],
        json!({"documents": 1, "sent": 1, "transmitted": 1, "errors": 0, "held": 0})
    );
    // Replayed (same receipt id, even with a FAILED status): 200, nothing changes.
    let r = app.send(signed(&app, &delivered, 0, WEBHOOK_SECRET)).await;
    assert_eq!(r.ok(200)["outcome"], "duplicate");
    let replay = json!({"receipt_id": "r-1", "document_id": digiposte_id, "status": "FAILED"});
    let r = app.send(signed(&app, &replay, 0, WEBHOOK_SECRET)).await;
    assert_eq!(r.ok(200)["outcome"], "duplicate");
    // A new receipt never moves a document out of a final state.
    let late = json!({"receipt_id": "r-2", "document_id": digiposte_id, "status": "FAILED"});
    let r = app.send(signed(&app, &late, 0, WEBHOOK_SECRET)).await;
    assert_eq!(r.ok(200)["outcome"], "ignored");
    let again = document_state(&app, &id).await;
    assert_eq!(again["delivery_status"], "transmitted");
    assert_eq!(again["receipt_at"], after["receipt_at"]);
    // Unknown documents: 404, kept for audit.
    let unknown = json!({"receipt_id": "r-3", "document_id": "doc_unknown", "status": "DELIVERED"});
    app.send(signed(&app, &unknown, 0, WEBHOOK_SECRET))
        .await
        .problem(404, "not_found");
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let outcomes: HashMap<String, i64> = passerelle::db::receipts::count_by_outcome(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(outcomes.get("applied"), Some(&1));
    assert_eq!(outcomes.get("ignored"), Some(&1));
    assert_eq!(outcomes.get("unknown_document"), Some(&1));
    assert_eq!(
        outcomes.values().sum::<i64>(),
        3,
        "forged and stale ones are not stored"
    );
}

with_sim!(vault_workers_follow_digiposte, vault_workers_body);
async fn vault_workers_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |_| {}).await;
    app.composantes(&["905"]).await;
    let batch = crate::treatments::batch_with_students(&app, 3).await;
    let (a, b, refused) = (
        batch.students[0].cod_etu.clone(),
        batch.students[1].cod_etu.clone(),
        batch.students[2].cod_etu.clone(),
    );
    sim.faults(json!({ "refuse_partner_user_ids": [refused] }))
        .await;
    let manager = app.manager(&["905"]);
    for s in [&a, &b, &refused] {
        let v = app.vault_id(s).await;
        app.post(&format!("/vaults/{v}/subscribe"), &manager, json!({}))
            .await
            .ok(202);
    }
    let wait_status = async |cod: &str, status: &str| {
        until(
            &format!("{cod} {status}"),
            Duration::from_secs(10),
            async || {
                let v = vault_of(&app, cod).await;
                (v["status"] == status && v["pending_actions"].as_array().unwrap().is_empty())
                    .then_some(v)
            },
        )
        .await
    };
    // Digiposte refuses one: transmission_error with its reason.
    let v = wait_status(&refused, "transmission_error").await;
    assert!(
        v["last_error"]
            .as_str()
            .unwrap()
            .contains("the user cannot be created"),
        "{v}"
    );
    assert_eq!(v["status_label"], "Erreur transmission à Digiposte");
    let v = wait_status(&a, "active").await;
    assert!(v["route_code"].is_string());
    wait_status(&b, "active").await;
    // Termination: "Demande en cours de réalisation" until Digiposte ends it, then the
    // synchronisation sees it.
    let va = app.vault_id(&a).await;
    let r = app
        .post(&format!("/vaults/{va}/terminate"), &manager, json!({}))
        .await;
    assert_eq!(r.ok(202)["vault"]["status"], "termination_pending");
    until(
        "the cancellation request",
        Duration::from_secs(10),
        async || {
            let v = vault_of(&app, &a).await;
            v["pending_actions"]
                .as_array()
                .unwrap()
                .is_empty()
                .then_some(())
        },
    )
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    app.post("/digiposte/sync", &app.admin(), json!({}))
        .await
        .ok(202);
    let v = wait_status(&a, "terminated").await;
    assert_eq!(v["accepted"], false);
    // Re-invitation: a new link; once the student finalises at Digiposte, the next
    // synchronisation makes the vault active and accepted.
    let r = app
        .post(&format!("/vaults/{va}/reinvite"), &manager, json!({}))
        .await;
    assert_eq!(r.ok(202)["vault"]["status"], "preregistered");
    let v = wait_status(&a, "preregistered").await;
    assert!(v["customization_url"].is_string());
    sim.user(&route_code_of(&app, &a), "finalise").await;
    app.post("/digiposte/sync", &app.admin(), json!({}))
        .await
        .ok(202);
    let v = wait_status(&a, "active").await;
    // `accept_full_dematerialization` of the published membership; whether the account is
    // personalised is not in the membership list (the customisation link's 409 tells it).
    assert_eq!(v["accepted"], true);
    assert_eq!(v["personalised"], false);
    // The refused subscription can be sent again once Digiposte accepts it.
    sim.faults(json!({ "refuse_partner_user_ids": [] })).await;
    let vr = app.vault_id(&refused).await;
    app.post(&format!("/vaults/{vr}/subscribe"), &manager, json!({}))
        .await
        .ok(202);
    let v = wait_status(&refused, "active").await;
    assert!(v["last_error"].is_null(), "{v}");
}

with_sim!(
    precreation_and_the_students_true_next_step,
    precreation_body
);
async fn precreation_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |c| c.vaults.auto_subscribe = true).await;
    app.composantes(&["905"]).await;
    let batch = crate::treatments::batch_with_students(&app, 3).await;
    // No per-student call: the import queued every subscription, the queue sends them.
    let manager = app.manager(&["905"]);
    until("the pre-creation", Duration::from_secs(40), async || {
        let r = app.get("/vaults/summary?composante=905", &manager).await;
        let active = r.body["statuses"]
            .as_array()?
            .iter()
            .find(|s| s["status"] == "active")?["count"]
            .as_i64()?;
        (active == 3 && r.body["queued_subscriptions"] == 0).then_some(())
    })
    .await;
    let cod = batch.students[0].cod_etu.clone();
    let student = app.student(&cod);
    let me = app.get("/me/vault", &student).await;
    assert_eq!(me.ok(200)["status"], "active");
    assert_eq!(me.body["personalised"], false);
    assert!(
        me.body["next_step"]
            .as_str()
            .unwrap()
            .contains("Finalisez-le")
    );
    assert!(me.body["customization_url"].is_string());
    assert_eq!(me.body["documents"], json!([]));

    // Personalised (Digiposte answered the link with "already customised"): nothing asks the
    // student to finalise any more, and the old link is gone.
    {
        use passerelle::db::schema::{students, vaults};
        let db = app.db();
        let mut conn = db.conn().unwrap();
        let student_id: String = students::table
            .filter(students::cod_etu.eq(&cod))
            .select(students::id)
            .first(&mut *conn)
            .unwrap();
        diesel::update(vaults::table.filter(vaults::student_id.eq(student_id)))
            .set(vaults::personalised.eq(true))
            .execute(&mut *conn)
            .unwrap();
    }
    let me = app.get("/me/vault", &student).await;
    let next = me.ok(200)["next_step"].as_str().unwrap();
    assert!(!next.to_lowercase().contains("finalisez"), "{next}");
    assert!(next.contains("rien à faire"), "{next}");
    assert!(me.body["customization_url"].is_null());
    let en = app
        .send(
            app.request(Method::GET, "/me/vault")
                .bearer_auth(&student)
                .header("Accept-Language", "en"),
        )
        .await;
    assert!(
        en.ok(200)["next_step"]
            .as_str()
            .unwrap()
            .contains("nothing to do")
    );
    assert_eq!(en.body["status_label"], "Active");

    // The documents delivered to the vault: kind, year, date, Transmis.
    let id = upload_and_split(&app, 3).await;
    send(&app, &id).await;
    wait_final(&app, &id, Duration::from_secs(30)).await;
    let me = app.get("/me/vault", &student).await;
    let docs = me.ok(200)["documents"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 1, "{}", me.body);
    assert_eq!(docs[0]["document_type"], "releve_notes");
    assert_eq!(docs[0]["document_type_label"], "Relevé de notes");
    assert_eq!(docs[0]["academic_year"], crate::support::CURRENT_YEAR);
    assert_eq!(docs[0]["delivery_status_label"], "Transmis");
    assert_eq!(docs[0]["transmitted"], true);
    assert!(docs[0]["deposited_at"].is_string());

    // Terminated: no stale finalisation link, and how to ask again.
    let other = batch.students[1].cod_etu.clone();
    let v = app.vault_id(&other).await;
    app.post(&format!("/vaults/{v}/terminate"), &manager, json!({}))
        .await
        .ok(202);
    until(
        "the cancellation request",
        Duration::from_secs(10),
        async || {
            let v = vault_of(&app, &other).await;
            v["pending_actions"].as_array()?.is_empty().then_some(())
        },
    )
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    // Managers synchronise their composantes' vaults: another composante's manager's run
    // leaves this vault alone, its own manager's run ends it.
    let elsewhere = app
        .post("/digiposte/sync", &app.manager(&["906"]), json!({}))
        .await;
    assert_eq!(elsewhere.ok(202)["kind"], "vault_sync");
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        vault_of(&app, &other).await["status"],
        "termination_pending"
    );
    app.post("/digiposte/sync", &manager, json!({}))
        .await
        .ok(202);
    until("the termination", Duration::from_secs(10), async || {
        (vault_of(&app, &other).await["status"] == "terminated").then_some(())
    })
    .await;
    let me = app.get("/me/vault", &app.student(&other)).await;
    assert_eq!(me.ok(200)["status"], "terminated");
    assert!(me.body["customization_url"].is_null(), "{}", me.body);
    assert!(
        me.body["next_step"]
            .as_str()
            .unwrap()
            .contains("nouveau lien")
    );
}

/// `passerelle serve` as a child process on `port`, sharing the test app's database and data.
fn serve(app: &TestApp, sim: &Sim, port: u16) -> Child {
    let d = &app.config.digiposte;
    Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .arg("serve")
        .env_remove("PASSERELLE_CONFIG")
        .env("PASSERELLE_BIND", format!("127.0.0.1:{port}"))
        .env("PASSERELLE_DATABASE_URL", app.config.database_url())
        .env("PASSERELLE_DATA_DIR", app.data_dir())
        .env("PASSERELLE_ACADEMIC_YEAR", "2025")
        .env("PASSERELLE_AUTH__JWT_SECRET", SECRET)
        .env("PASSERELLE_LOG_LEVEL", "error")
        .env("PASSERELLE_WORKERS", "1")
        .env("PASSERELLE_RATE_LIMIT__ENABLED", "false")
        .env("PASSERELLE_JOBS__POLL_INTERVAL_MS", "20")
        .env("PASSERELLE_JOBS__LEASE_SECS", "2")
        .env("PASSERELLE_JOBS__BACKOFF_BASE_SECS", "1")
        .env("PASSERELLE_JOBS__BACKOFF_MAX_SECS", "2")
        .env(
            "PASSERELLE_DIGIPOSTE__BASE_URL",
            format!("{}/digiposte/v3", sim.url),
        )
        .env("PASSERELLE_DIGIPOSTE__CLIENT_ID", "passerelle")
        .env("PASSERELLE_DIGIPOSTE__CLIENT_SECRET", "sim-secret")
        .env("PASSERELLE_DIGIPOSTE__OKAPI_KEY", SIM_OKAPI_KEY)
        .env(
            "PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__RELEVE_NOTES",
            "RELEVE_NOTES",
        )
        .env(
            "PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__ATTESTATION_REUSSITE",
            "ATTESTATION_REUSSITE",
        )
        .env("PASSERELLE_DIGIPOSTE__WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("PASSERELLE_DIGIPOSTE__TIMEOUT_MS", d.timeout_ms.to_string())
        .env("PASSERELLE_DIGIPOSTE__RETRY_BASE_MS", "5")
        .env("PASSERELLE_DIGIPOSTE__RETRY_MAX_MS", "100")
        .env("PASSERELLE_DIGIPOSTE__QUOTA_PER_MINUTE", "0")
        .env("PASSERELLE_DIGIPOSTE__RECONCILE_DELAY_MS", "50")
        .env("PASSERELLE_DIGIPOSTE__SYNC_ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("passerelle serve starts")
}

async fn wait_ready(port: u16) {
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let client = reqwest::Client::new();
    until(
        "passerelle serve to be ready",
        Duration::from_secs(20),
        async || {
            let r = client.get(&url).send().await.ok()?;
            r.status().is_success().then_some(())
        },
    )
    .await;
}

with_sim!(killed_mid_send_loses_nothing_and_deposits_once, kill_body);
async fn kill_body(postgres: bool) {
    let sim = Sim::start(&["--latency-max-ms", "4"]);
    // This in-process server answers the test's calls and splits the batch (Digiposte is not
    // configured in it); the Digiposte workers run in the child, started once the split is done.
    let app = app_with(&sim, postgres, |c| c.digiposte.base_url = String::new()).await;
    app.composantes(&["905"]).await;
    crate::treatments::batch_with_students(&app, 500).await;
    let id = upload_and_split(&app, 500).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = serve(&app, &sim, port);
    wait_ready(port).await;
    sim.hook(&format!("http://127.0.0.1:{port}")).await;
    subscribe_all(&app, 500).await;
    assert_eq!(send(&app, &id).await, 500);
    // SIGKILL in the middle of the deposits.
    until("some deposits", Duration::from_secs(30), async || {
        let n = sim.stats().await["deposits_total"].as_i64().unwrap();
        (n >= 120).then_some(())
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = sim.stats().await["deposits_total"].as_i64().unwrap();
    assert!(
        at_kill < 500,
        "the send finished before the kill ({at_kill})"
    );
    let mut child = serve(&app, &sim, port);
    wait_ready(port).await;
    // The deposits cut by the kill are uncertain; a manager settles them.
    settle_uncertain(&sim, &app, &id).await;
    let c = wait_final(&app, &id, Duration::from_secs(60)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(c.get("transmitted"), Some(&500), "{c:?}");
    assert_exactly_once(&sim, &app, &id, 500).await;
}

with_sim!(
    a_delivery_unsettled_at_its_last_attempt_is_not_transmitted,
    last_attempt_body
);
/// Digiposte answers 503 to everything until the deliveries' attempts run out: each document
/// ends `not_transmitted` with the reason (never stuck in `queued`), and nothing was deposited.
async fn last_attempt_body(postgres: bool) {
    use passerelle::db::schema::jobs as jobs_table;
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |_| {}).await;
    let id = prepared_treatment(&app, 3).await;
    sim.faults(json!({ "error_rate": 1.0 })).await;
    assert_eq!(send(&app, &id).await, 3);
    // Skip ahead to the last attempt rather than wait through fifty backoffs.
    let db = app.db();
    diesel::update(jobs_table::table.filter(jobs_table::kind.eq(jobs::kind::DELIVER)))
        .set(jobs_table::attempts.eq(passerelle::jobs::deliver::MAX_ATTEMPTS - 1))
        .execute(&mut *db.conn().unwrap())
        .unwrap();
    let c = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(c.get("not_transmitted"), Some(&3), "{c:?}");
    for d in documents(&app, &id).await {
        let reason = d["delivery_reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("digiposte_"), "reason {reason:?}");
    }
    assert_eq!(sim.stats().await["deposits_total"], 0);
}

fn client_for(sim: &Sim, okapi_key: &str) -> passerelle::digiposte::DigiposteClient {
    let mut c = Config::default();
    configure(&mut c, sim);
    c.digiposte.okapi_key = passerelle::config::Secret(okapi_key.into());
    c.digiposte.max_retries = 0;
    passerelle::digiposte::DigiposteClient::new(&c.digiposte).unwrap()
}

/// Every call of the client, through the stand-in that refuses what the published contract
/// refuses: nothing is refused, and every answer is read in its published shape.
#[actix_web::test]
async fn the_client_speaks_every_call_to_the_stand_in() {
    use passerelle::digiposte::{CertifiedDeposit, DigiposteApi, PartialUser};
    use sha2::Digest;
    let sim = Sim::start(&[]);
    // Without the application key, or with another one, the gateway refuses even the token.
    for key in ["", "another-key"] {
        let e = client_for(&sim, key).memberships().await.unwrap_err();
        assert_eq!(e.code(), "digiposte_auth_failed", "{e}");
    }
    assert_eq!(sim.stats().await["rejected_401"], 2);
    let api = client_for(&sim, SIM_OKAPI_KEY);
    let user = PartialUser {
        partner_user_id: "21900001".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        date_of_birth: Some("2004-12-10".into()),
        email: None,
    };
    let account = api.create_partial_user(&user).await.unwrap();
    assert!(!account.route_code.is_empty());
    let again = api.create_partial_user(&user).await.unwrap_err();
    assert_eq!(again.code(), "digiposte_already_exists");
    assert!(
        again
            .reason()
            .contains("client id already exist for current partner")
    );
    // The memberships of that user: the membership id is the routing code.
    let mine = api.memberships_of("21900001").await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].route_code(), account.route_code);
    assert_eq!(mine[0].status, "ACTIVE");
    assert!(api.memberships_of("nobody").await.unwrap().is_empty());
    assert_eq!(api.memberships().await.unwrap().len(), 1);
    let url = api.customization_url("21900001").await.unwrap();
    assert!(url.starts_with("https://"), "{url}");
    // A deposit with every required field, the PDF in `archive`, SHA256 of the file.
    let bytes = b"%PDF-1.4 a releve de notes".to_vec();
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let deposit = CertifiedDeposit {
        route_code: account.route_code.clone(),
        title: "Relevé de notes 2026-2027".into(),
        doc_type: "RELEVE_NOTES".into(),
        file_name: deposit_file_name("doc-1"),
        sha256: sha256.clone(),
        bytes: bytes.clone(),
    };
    let d = api.deposit_certified(&deposit).await.unwrap();
    assert_eq!(d.hash, sha256);
    assert_eq!(d.algo, "SHA256");
    assert_eq!(d.file_size, bytes.len().to_string());
    assert!(!d.id_routage.is_empty());
    // A type the partner's list lacks is refused with the field at fault.
    let unknown = CertifiedDeposit {
        doc_type: "releve_notes".into(),
        ..deposit.clone()
    };
    let e = api.deposit_certified(&unknown).await.unwrap_err();
    assert_eq!(e.code(), "digiposte_invalid_request", "{e}");
    assert!(e.reason().contains("(type)"), "{}", e.reason());
    let types = api.document_types().await.unwrap();
    assert!(types.to_string().contains("RELEVE_NOTES"), "{types}");
    // The status read (passerelle's own design): none without its path, asking nothing.
    use passerelle::digiposte::{DocumentStatus, StatusRead};
    assert_eq!(
        api.document_status(&d.id_routage).await.unwrap(),
        StatusRead::NotAvailable
    );
    assert_eq!(sim.stats().await["status_reads"], 0);
    let reading = {
        let mut c = Config::default();
        configure(&mut c, &sim);
        c.digiposte.document_status_path = "/document/{id_routage}/status".into();
        passerelle::digiposte::DigiposteClient::new(&c.digiposte).unwrap()
    };
    // The receipt is due 100 ms after the deposit: the deposit is delivered by then.
    let known = until(
        "the deposit settled",
        Duration::from_secs(5),
        async || match reading.document_status(&d.id_routage).await.unwrap() {
            StatusRead::Known(DocumentStatus::Processing) => None,
            other => Some(other),
        },
    )
    .await;
    assert_eq!(known, StatusRead::Known(DocumentStatus::Delivered));
    assert_eq!(
        reading.document_status("not-a-deposit").await.unwrap(),
        StatusRead::UnknownReference
    );
    // Once the student customised the account, no link any more (409).
    sim.user(&account.route_code, "finalise").await;
    let e = api.customization_url("21900001").await.unwrap_err();
    assert!(e.is_already_customised(), "{e}");
    assert!(api.memberships().await.unwrap()[0].accept_full_dematerialization);
    assert_eq!(
        api.cancel_membership(&account.route_code).await.unwrap(),
        "CANCEL_IN_PROGRESS"
    );
    let stats = sim.stats().await;
    assert_eq!(stats["deposits_total"], 1);
    assert_eq!(stats["rejected_400"], 1);
    assert_eq!(stats["deposits_without_version_minor"], 0);
}

/// The published examples (written from La Poste's v3 description, see docs/digiposte.md) sent
/// to the stand-in as raw HTTP: it takes them and answers in the published shapes, which the
/// client reads; and it refuses each departure from the contract with the published error
/// shape `[{"error", "error_description", "field"}]`.
#[actix_web::test]
async fn the_stand_in_takes_the_published_examples_and_refuses_the_rest() {
    use reqwest::multipart::{Form, Part};
    use sha1::Digest as _;
    let sim = Sim::start(&["--document-types", "RELEVE_NOTES,PASSEPORT"]);
    let http = reqwest::Client::new();
    let base = format!("{}/digiposte/v3", sim.url);
    // Token: HTTP Basic, client_credentials, X-Okapi-Key; the published answer's fields.
    let token_request = |key: Option<&str>| {
        let mut r = http
            .post(format!("{base}/oauth/token"))
            .basic_auth("passerelle", Some("sim-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        if let Some(k) = key {
            r = r.header("X-Okapi-Key", k);
        }
        r
    };
    assert_eq!(token_request(None).send().await.unwrap().status(), 401);
    assert_eq!(
        token_request(Some("wrong")).send().await.unwrap().status(),
        401
    );
    let t: Value = token_request(Some(SIM_OKAPI_KEY))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for k in ["access_token", "expires_in", "token_type", "scope"] {
        assert!(!t[k].is_null(), "{k} in {t}");
    }
    let token = t["access_token"].as_str().unwrap().to_owned();
    let call = |method: Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(&token)
            .header("X-Okapi-Key", SIM_OKAPI_KEY)
    };
    // A bearer token alone is not enough: the gateway wants the key on every call.
    let r = http
        .get(format!("{base}/memberships"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // POST /user/partial with the published request example.
    let example = json!({
        "birth_name": "Test", "date_of_birth": "2019-04-10", "email": "test@test.com",
        "first_name": "Test", "last_name": "Digiposte", "partner_user_id": "af201906",
        "title": "MR"
    });
    let r = call(Method::POST, "/user/partial")
        .json(&example)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let partial: Value = r.json().await.unwrap();
    let route = partial["route_code"].as_str().unwrap().to_owned();
    assert_eq!(partial["userOutput"]["partner_user_id"], "af201906");
    let r = call(Method::POST, "/user/partial")
        .json(&example)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([{"error": "conflict", "error_description": "client id already exist for current partner"}])
    );
    // GET /memberships with X-PartnerUserId: the client reads the answer.
    let body = call(Method::GET, "/memberships")
        .header("X-PartnerUserId", "af201906")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let ms = passerelle::digiposte::client::parse_memberships(&body).unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].id, route);
    // The published GET /memberships example, read by the same code.
    let published = json!({"memberships": [{
        "accept_full_dematerialization": false, "cancellable": true,
        "dematerialized_convention_date": "2017-05-30T12:46:34Z", "demo_account": false,
        "field1_label": "Aucun", "id": "ed249df4e1a149c9bc213bd9b4289a73",
        "inbox_folder_id": "c967c5116cb14e7aa172337f368ed172",
        "membership_date": "2017-05-30T12:46:34Z", "request_date": "2017-05-30T12:46:34Z",
        "sender": {"name": "OKAPI", "pid": "OKAPI", "type": "SENDER"},
        "sender_kind": 0, "status": "ACTIVE"
    }]});
    let ms =
        passerelle::digiposte::client::parse_memberships(published.to_string().as_bytes()).unwrap();
    assert_eq!(ms[0].route_code(), "ed249df4e1a149c9bc213bd9b4289a73");
    // POST /user/customizationurl as its clients call it: the user in X-PartnerUserId.
    let r = call(Method::POST, "/user/customizationurl")
        .header("X-PartnerUserId", "af201906")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["customization_url"].is_string());
    // POST /document/certified as the published curl example builds it (SHA1, optional
    // archive_duration and author_tags), with a file of ours.
    let file = b"%PDF-1.4 passeport certifie".to_vec();
    let sha1 = hex::encode(sha1::Sha1::digest(&file));
    let fields = |skip: &str, over: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let size = file.len().to_string();
        let mut all: Vec<(&'static str, String)> = vec![
            ("title", "Passeport certifié".into()),
            ("type", "PASSEPORT".into()),
            ("algo", "SHA1".into()),
            ("hash", sha1.clone()),
            ("file_name", "test.pdf".into()),
            ("file_size", size),
            ("archive_duration", "2020-07-26T13:27:45.690".into()),
            ("author_tags", "préfecture,essonne".into()),
        ];
        all.retain(|(k, _)| *k != skip);
        for (k, v) in over {
            all.retain(|(kk, _)| kk != k);
            all.push((k, (*v).to_owned()));
        }
        all
    };
    let deposit = |fields: Vec<(&'static str, String)>, part: &str| {
        let mut form = Form::new();
        for (k, v) in fields {
            form = form.text(k.to_owned(), v);
        }
        form = form.part(
            part.to_owned(),
            Part::bytes(file.clone())
                .file_name("test.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
        call(Method::POST, "/document/certified")
            .header("X-RouteCode", &route)
            .header("X-Api-Version-Minor", "2")
            .multipart(form)
            .send()
    };
    let r = deposit(fields("", &[]), "archive").await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let doc = &answer["document"];
    assert_eq!(doc["type"], "PASSEPORT");
    assert_eq!(doc["title"], "Passeport certifié");
    assert_eq!(doc["algo"], "SHA1");
    assert_eq!(doc["hash"], sha1);
    assert_eq!(doc["file_size"], file.len().to_string());
    assert_eq!(doc["archive_duration"], "2020-07-26T13:27:45.690");
    assert_eq!(doc["author_tags"], "préfecture,essonne");
    assert!(doc["id_routage"].is_string());
    assert!(answer.get("id").is_none());
    let read = passerelle::digiposte::client::parse_deposit_answer(&body).unwrap();
    assert_eq!(read.hash, sha1);
    // The published example answer, read by the same code.
    let published = json!({"document": {
        "type": "PASSEPORT", "title": "Passeport certifié", "file_name": "test.pdf",
        "archive_duration": "2020-07-26T13:27:45.690", "author_tags": "préfecture,essonne",
        "hash": "e6122b1d8abd2afbeed93fb4672af8b23a5f56b6", "algo": "SHA1",
        "file_size": "140939", "id_routage": "c441f90e99ca4f958131f1ed31e8fd65"
    }});
    let read =
        passerelle::digiposte::client::parse_deposit_answer(published.to_string().as_bytes())
            .unwrap();
    assert_eq!(read.id_routage, "c441f90e99ca4f958131f1ed31e8fd65");
    assert_eq!(read.file_size, "140939");
    // Each departure from the contract: 400 naming the field, in the published shape.
    let refused = async |fields: Vec<(&'static str, String)>, part: &str, field: &str| {
        let r = deposit(fields, part).await.unwrap();
        assert_eq!(r.status(), 400, "{field}");
        let body: Value = r.json().await.unwrap();
        let items = body.as_array().unwrap_or_else(|| panic!("{body}"));
        assert_eq!(items.len(), 1, "{body}");
        let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["error", "error_description", "field"], "{body}");
        assert_eq!(items[0]["field"], field, "{body}");
    };
    for f in ["title", "type", "algo", "hash", "file_name", "file_size"] {
        refused(fields(f, &[]), "archive", f).await;
    }
    refused(fields("", &[]), "file", "archive").await;
    refused(fields("", &[("algo", "SHA-256")]), "archive", "algo").await;
    refused(fields("", &[("hash", &"0".repeat(40))]), "archive", "hash").await;
    refused(fields("", &[("file_size", "12")]), "archive", "file_size").await;
    refused(fields("", &[("type", "DIPLOME")]), "archive", "type").await;
    let stats = sim.stats().await;
    assert_eq!(stats["deposits_total"], 1, "{stats}");
    assert_eq!(stats["rejected_400"], 11, "{stats}");
}

/// `passerelle digiposte document-types` prints the partner's list (`GET /profile/documents`)
/// with the configured credentials; without the application key the gateway refuses it.
#[actix_web::test]
async fn the_cli_prints_the_partners_document_types() {
    let sim = Sim::start(&["--document-types", "RELEVE_NOTES,DIPLOME"]);
    let run = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .args(["digiposte", "document-types"])
            .env_remove("PASSERELLE_CONFIG")
            .env(
                "PASSERELLE_DIGIPOSTE__BASE_URL",
                format!("{}/digiposte/v3", sim.url),
            )
            .env("PASSERELLE_DIGIPOSTE__CLIENT_ID", "passerelle")
            .env("PASSERELLE_DIGIPOSTE__CLIENT_SECRET", "sim-secret")
            .env("PASSERELLE_DIGIPOSTE__OKAPI_KEY", key)
            .env("PASSERELLE_DIGIPOSTE__MAX_RETRIES", "0")
            .output()
            .unwrap()
    };
    let out = run(SIM_OKAPI_KEY);
    assert!(out.status.success(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = printed.to_string();
    assert!(
        text.contains("RELEVE_NOTES") && text.contains("DIPLOME"),
        "{text}"
    );
    let out = run("not-the-key");
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(sim.stats().await["rejected_401"], 1);
}

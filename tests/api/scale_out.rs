//! Scale-out: two `passerelle serve` processes on one PostgreSQL database and one S3-compatible
//! store (`moto_server`, started here on loopback), with `digiposte-sim`. Upload through A, the
//! split runs on whichever instance claims it, preview through B, send through A; both
//! instances' workers deliver; B is SIGKILLed mid-send and A finishes; every document is
//! deposited exactly once. Needs `PASSERELLE_TEST_DATABASE_URL` and `moto_server`
//! (`pip install 'moto[server]'`): skipped without them, except under `CI=true` where a missing
//! one fails the test.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use passerelle::config::StorageConfig;
use passerelle::storage::{DocumentStore, ObjectStoreBackend, sha256_hex};

use crate::digiposte::{self as dp, Sim, WEBHOOK_SECRET};
use crate::support::{ServeProcess, TestApp};

const AUDIT_KEY: &str = "audit-key-shared-by-every-instance-0123456789";
const BUCKET: &str = "passerelle-test";

/// Whether the test can run; under `CI=true` a missing prerequisite is a failure.
fn prerequisites(need_postgres: bool) -> bool {
    let mut missing = Vec::new();
    if need_postgres && !std::env::var("PASSERELLE_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
    {
        missing.push("PASSERELLE_TEST_DATABASE_URL");
    }
    let moto = Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !moto {
        missing.push("moto_server (pip install 'moto[server]')");
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("scale-out test needs {}", missing.join(" and "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} (CI=true: not skipped)");
    }
    eprintln!("{why}: skipped");
    false
}

/// `moto_server` on a free loopback port, with one bucket.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    async fn start() -> Moto {
        passerelle::http_client::install_tls_provider();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.put(format!("{}/{BUCKET}", moto.endpoint)).send().await
                && r.status().is_success()
            {
                return moto;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer on {}", moto.endpoint);
    }

    fn storage(&self, prefix: &str) -> StorageConfig {
        StorageConfig {
            url: format!("s3://{BUCKET}/{prefix}"),
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            access_key_id: "testing".into(),
            secret_access_key: passerelle::config::Secret("testing".into()),
            allow_http: true,
            part_size_bytes: 5 * 1024 * 1024,
        }
    }

    /// Objects under a prefix (moto lists them without a signature).
    async fn count(&self, prefix: &str) -> usize {
        let body = reqwest::get(format!(
            "{}/{BUCKET}?list-type=2&prefix={prefix}/",
            self.endpoint
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        body.matches("<Key>").count()
    }
}

#[actix_web::test]
async fn object_store_round_trip_and_multipart() {
    if !prerequisites(false) {
        return;
    }
    let moto = Moto::start().await;
    let store = ObjectStoreBackend::s3(&moto.storage("unit")).expect("store");
    tokio::task::spawn_blocking(move || {
        store.ready().expect("ready");
        let key = store.put(b"hello").unwrap();
        assert_eq!(key, sha256_hex(b"hello"));
        assert_eq!(store.put(b"hello").unwrap(), key);
        assert_eq!(store.get(&key).unwrap(), b"hello");
        assert!(store.contains(&key));
        store.delete(&key).unwrap();
        assert!(!store.contains(&key));
        assert!(matches!(
            store.get(&key),
            Err(passerelle::storage::StorageError::Missing(_))
        ));
        store.delete(&key).unwrap();
        assert!(!store.contains("../../etc/passwd"));
        // 11 MiB: three parts of at most 5 MiB, read from the file one part at a time.
        let big: Vec<u8> = (0..11 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let sha = sha256_hex(&big);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        std::fs::write(&path, &big).unwrap();
        store.adopt(&path, &sha).unwrap();
        assert_eq!(store.get(&sha).unwrap(), big);
        store.adopt(&path, &sha).unwrap();
        // The orphan sweep's view: the documents under the prefix and when each was stored.
        let listed: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|d| d.sha256)
            .collect();
        assert_eq!(listed, vec![sha.clone()]);
        let age = store
            .stored_at(&sha)
            .unwrap()
            .unwrap()
            .elapsed()
            .unwrap_or_default();
        assert!(age < std::time::Duration::from_secs(600));
        assert!(store.stored_at(&key).unwrap().is_none());
    })
    .await
    .unwrap();
    assert_eq!(moto.count("unit").await, 1);
}

fn storage_env(moto: &Moto, data_dir: &std::path::Path) -> Vec<(String, String)> {
    let s = moto.storage("docs");
    [
        ("PASSERELLE_DATA_DIR", data_dir.display().to_string()),
        ("PASSERELLE_STORAGE__URL", s.url),
        ("PASSERELLE_STORAGE__ENDPOINT", s.endpoint),
        ("PASSERELLE_STORAGE__REGION", s.region),
        ("PASSERELLE_STORAGE__ACCESS_KEY_ID", s.access_key_id),
        ("PASSERELLE_STORAGE__SECRET_ACCESS_KEY", "testing".into()),
        ("PASSERELLE_STORAGE__ALLOW_HTTP", "true".into()),
        ("PASSERELLE_AUDIT__PSEUDONYM_KEY", AUDIT_KEY.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// One instance: its own data directory, the shared database, store, secrets and simulator.
async fn instance(app: &TestApp, moto: &Moto, sim: &Sim, name: &str) -> ServeProcess {
    let mut env = storage_env(moto, &app.dir().join(name));
    env.extend(
        [
            ("PASSERELLE_WORKERS", "1".to_owned()),
            ("PASSERELLE_JOBS__LEASE_SECS", "2".into()),
            ("PASSERELLE_JOBS__BACKOFF_BASE_SECS", "1".into()),
            ("PASSERELLE_JOBS__BACKOFF_MAX_SECS", "2".into()),
            (
                "PASSERELLE_DIGIPOSTE__BASE_URL",
                format!("{}/digiposte/v3", sim.url),
            ),
            ("PASSERELLE_DIGIPOSTE__CLIENT_ID", "passerelle".into()),
            ("PASSERELLE_DIGIPOSTE__CLIENT_SECRET", "sim-secret".into()),
            ("PASSERELLE_DIGIPOSTE__OKAPI_KEY", "sim-okapi-key".into()),
            (
                "PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__RELEVE_NOTES",
                "RELEVE_NOTES".into(),
            ),
            (
                "PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__ATTESTATION_REUSSITE",
                "ATTESTATION_REUSSITE".into(),
            ),
            (
                "PASSERELLE_DIGIPOSTE__WEBHOOK_SECRET",
                WEBHOOK_SECRET.into(),
            ),
            ("PASSERELLE_DIGIPOSTE__TIMEOUT_MS", "2000".into()),
            ("PASSERELLE_DIGIPOSTE__RETRY_BASE_MS", "5".into()),
            ("PASSERELLE_DIGIPOSTE__RETRY_MAX_MS", "100".into()),
            ("PASSERELLE_DIGIPOSTE__QUOTA_PER_MINUTE", "0".into()),
            ("PASSERELLE_DIGIPOSTE__RECONCILE_DELAY_MS", "50".into()),
            ("PASSERELLE_DIGIPOSTE__SYNC_ENABLED", "false".into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ServeProcess::start(app, &env).await
}

/// Finished jobs of a kind per instance (the first 8 characters of the worker's name).
fn runs_per_instance(app: &TestApp, kind: &str) -> BTreeMap<String, usize> {
    use passerelle::db::schema::jobs;
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let workers: Vec<Option<String>> = jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::status.eq("done"))
        .select(jobs::locked_by)
        .load(&mut *conn)
        .unwrap();
    let mut per = BTreeMap::new();
    for w in workers.into_iter().flatten() {
        *per.entry(w.chars().take(8).collect()).or_insert(0) += 1;
    }
    per
}

const STUDENTS: usize = 200;

#[actix_web::test]
async fn two_instances_share_the_database_and_the_store() {
    if !prerequisites(true) {
        return;
    }
    let moto = Moto::start().await;
    let sim = Sim::start(&["--latency-min-ms", "20", "--latency-max-ms", "40"]);
    // The in-process server only provides the schema and the tokens: no workers, no calls.
    let app = TestApp::postgres_with(|c| {
        dp::configure(c, &sim);
        c.jobs.enabled = false;
    })
    .await
    .expect("PostgreSQL configured");
    let a_proc = instance(&app, &moto, &sim, "data-a").await;
    let mut b_proc = instance(&app, &moto, &sim, "data-b").await;
    let (a, b) = (app.on(&a_proc.base), app.on(&b_proc.base));
    sim.hook(&a.base).await;

    a.composantes(&["905"]).await;
    crate::treatments::batch_with_students(&a, STUDENTS).await;
    dp::subscribe_all(&a, STUDENTS as i64).await;
    let subscribed = runs_per_instance(&app, "vault_subscribe");
    eprintln!("vault subscriptions per instance: {subscribed:?}");

    // Upload through A; the split job runs on whichever instance claims it.
    let id = dp::upload_and_split(&a, STUDENTS).await;
    let split = runs_per_instance(&app, "split");
    eprintln!("split ran on: {split:?}");
    assert_eq!(split.values().sum::<usize>(), 1, "{split:?}");
    // Nothing under either instance's data directory but temporary space: documents are in S3.
    for name in ["data-a", "data-b"] {
        assert!(!app.dir().join(name).join("blobs").exists(), "{name}/blobs");
    }
    assert!(
        moto.count("docs").await >= STUDENTS,
        "split documents in S3"
    );

    // Preview through B (the split PDFs were written by A or by B: both read the same store).
    let docs = dp::documents(&b, &id).await;
    assert_eq!(docs.len(), STUDENTS);
    let manager = b.manager(&["905"]);
    for d in docs.iter().take(5) {
        let r = b
            .get(
                &format!(
                    "/treatments/{id}/documents/{}/pdf",
                    d["id"].as_str().unwrap()
                ),
                &manager,
            )
            .await;
        assert_eq!(r.status, 200, "preview through B: {}", r.body);
        assert!(r.bytes.starts_with(b"%PDF-"));
        assert_eq!(sha256_hex(&r.bytes), d["sha256"].as_str().unwrap());
    }

    // Send through A; both instances deliver; B dies in the middle, A finishes.
    assert_eq!(dp::send(&a, &id).await, STUDENTS as i64);
    dp::until(
        "deposits by both instances",
        Duration::from_secs(60),
        async || {
            let n = sim.stats().await["deposits_total"].as_i64().unwrap();
            let per = runs_per_instance(&app, "deliver");
            (n >= 40 && per.len() >= 2).then_some(())
        },
    )
    .await;
    b_proc.kill9();
    let at_kill = sim.stats().await["deposits_total"].as_i64().unwrap();
    let before = runs_per_instance(&app, "deliver");
    eprintln!("deliveries per instance when B was killed: {before:?}; deposits then: {at_kill}");
    assert!(
        at_kill < STUDENTS as i64,
        "the send finished before the kill ({at_kill})"
    );
    // Deposits B had sent when it died are uncertain ("À vérifier"): a manager settles them.
    dp::settle_uncertain(&sim, &a, &id).await;
    let c = dp::wait_final(&a, &id, Duration::from_secs(90)).await;
    assert_eq!(c.get("transmitted"), Some(&(STUDENTS as i64)), "{c:?}");
    dp::assert_exactly_once(&sim, &a, &id, STUDENTS as i64).await;
    let after = runs_per_instance(&app, "deliver");
    eprintln!("deliveries per instance at the end: {after:?}");
    assert!(after.len() >= 2, "both instances delivered: {after:?}");
    drop(a_proc);
}

/// A shared store with a secret left to the data directory refuses to start, naming the keys.
#[actix_web::test]
async fn shared_store_requires_configured_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .arg("serve")
        .env_clear()
        .env("PASSERELLE_DATA_DIR", dir.path())
        .env("PASSERELLE_BIND", "127.0.0.1:0")
        .env("PASSERELLE_STORAGE__URL", "s3://bucket/prefix")
        .env("PASSERELLE_AUTH__JWT_SECRET", crate::support::SECRET)
        .output()
        .expect("passerelle runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("audit.pseudonym_key"), "{stderr}");
    assert!(!stderr.contains("auth.jwt_secret"), "{stderr}");
}

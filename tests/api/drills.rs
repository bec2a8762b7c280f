//! Crash and fault drills: a `passerelle serve` process killed (SIGKILL) in the middle of a
//! split and restarted loses nothing and duplicates nothing; a full disk during an upload
//! answers a clear problem and registers nothing; PostgreSQL stopped under a running server
//! (on a private cluster of the test's own) makes the API answer 503 and the workers pause,
//! and once it is back everything resumes without a restart and no job is lost.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use passerelle::pdf::fixture::{self, BatchSpec};

use crate::support::{ServeProcess, TestApp, both_backends};
use crate::treatments::{batch_imported, batch_with_students, upload, wait_split};

/// The API in-process with its workers off: the split runs only in the killable process.
fn no_workers(c: &mut passerelle::config::Config) {
    c.jobs.enabled = false;
}

both_backends!(
    sigkill_during_a_split_loses_and_duplicates_nothing,
    split_kill_body,
    super::no_workers
);
async fn split_kill_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let students = 1500;
    let batch = batch_with_students(&app, students).await;
    let admin = app.admin();
    // A short lease, so the restarted worker takes the dead one's job over quickly.
    let env = [("PASSERELLE_JOBS__LEASE_SECS", "2")];
    let mut first = ServeProcess::start(&app, &env).await;
    let r = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();

    // Kill it while it splits (progress reported, not finished).
    let mut killed_while_splitting = false;
    for _ in 0..2000 {
        let t = app.get(&format!("/treatments/{id}"), &admin).await;
        let t = t.ok(200);
        if t["status"] != "splitting" {
            break;
        }
        if t["pages_done"].as_u64().unwrap_or(0) > 0 {
            first.kill9();
            killed_while_splitting = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        killed_while_splitting,
        "the split ended before the kill: make the batch larger"
    );
    let t = app.get(&format!("/treatments/{id}"), &admin).await;
    assert_eq!(t.ok(200)["status"], "splitting");

    let _second = ServeProcess::start(&app, &env).await;
    let mut done: Value = Value::Null;
    for _ in 0..600 {
        let t = app.get(&format!("/treatments/{id}"), &admin).await;
        if t.ok(200)["status"] != "splitting" {
            done = t.body;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "split", "{done}");
    assert_eq!(done["blocks"]["students"], students);
    let docs = app
        .get(
            &format!("/treatments/{id}/documents?per_page=100&page=1"),
            &admin,
        )
        .await;
    assert_eq!(
        docs.ok(200)["total"],
        students,
        "one document per student, none twice"
    );
    // Every student's document exactly once, across all pages of the list.
    let mut seen = HashSet::new();
    let mut page = 1;
    loop {
        let r = app
            .get(
                &format!("/treatments/{id}/documents?per_page=100&page={page}"),
                &admin,
            )
            .await;
        let items = r.ok(200)["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        for d in items {
            assert!(seen.insert(d["cod_etu"].as_str().unwrap().to_owned()));
        }
        page += 1;
    }
    let expected: HashSet<String> = batch.expected.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(seen, expected);
}

both_backends!(
    the_same_batch_uploaded_twice_splits_twice,
    same_batch_twice_body,
    super::no_workers
);
/// Found under load (one PDF uploaded over and over): the store keeps one content-addressed
/// copy of identical uploads, so the first split must not delete the file the second still
/// needs. Both uploads wait in the queue before a worker starts, so the order is certain.
async fn same_batch_twice_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 20).await;
    let admin = app.admin();
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..2 {
        // The second is confirmed on purpose (`replace_of`), or it would be refused.
        let r = match ids.first() {
            None => upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await,
            Some(first) => {
                crate::treatments::upload_again(&app, &admin, batch.bytes.clone(), "905", first)
                    .await
            }
        };
        ids.push(r.ok(202)["id"].as_str().unwrap().to_owned());
    }
    let _serve = ServeProcess::start(&app, &[("PASSERELLE_JOBS__WORKERS", "1")]).await;
    for id in &ids {
        let t = wait_split(&app, id).await;
        assert_eq!(t["status"], "split", "{t}");
        assert_eq!(t["blocks"]["students"], 20, "{t}");
    }
}

both_backends!(
    one_receipt_delivered_many_times_at_once_is_stored_once,
    concurrent_receipt_body,
    |c: &mut passerelle::config::Config| c.digiposte.webhook_secret =
        passerelle::config::Secret("drill-webhook-secret".into())
);
/// Found under load: Digiposte retrying a receipt while the first attempt is still in flight.
/// On PostgreSQL both transactions could miss each other's row and the loser answered 409; now
/// the first answers (here 404: the document is unknown, the receipt is kept), every other one
/// 200 `duplicate`, and the receipt is stored once.
async fn concurrent_receipt_body(app: TestApp) {
    use passerelle::digiposte::signature;
    let body = br#"{"receipt_id":"r-same","document_id":"dp-unknown","status":"DELIVERED"}"#;
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = signature::sign(b"drill-webhook-secret", &ts, body);
    let sends = (0..16).map(|_| {
        app.request(reqwest::Method::POST, "/webhooks/digiposte")
            .header("content-type", "application/json")
            .header(signature::TIMESTAMP_HEADER, &ts)
            .header(signature::SIGNATURE_HEADER, &sig)
            .body(body.to_vec())
            .send()
    });
    let mut statuses = Vec::new();
    for r in futures_util::future::join_all(sends).await {
        let r = r.unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        if status == 200 {
            assert_eq!(v["outcome"], "duplicate", "{v}");
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(statuses[..1], [200], "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 404),
        "{statuses:?}"
    );
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let stored: i64 = passerelle::db::receipts::count_by_outcome(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(stored, 1);
}

/// The data directory on a 1 MiB file system (tmpfs; needs root, as CI runs): an upload that
/// cannot be written — the disk fills during it, or was full before — answers 507
/// `storage_unavailable` and leaves no treatment and no file.
#[actix_web::test]
async fn a_full_disk_during_an_upload_registers_nothing() {
    let mount = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mount.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a small tmpfs (not root?): disk-full drill skipped");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.path().to_owned());
    let db_dir = tempfile::tempdir().unwrap();
    let data = mount.path().to_owned();
    let db = db_dir.path().join("passerelle.db");
    let app = TestApp::sqlite_with(move |c| {
        c.data_dir = data;
        c.database_url = format!("sqlite://{}", db.display());
    })
    .await;
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 1200).await;
    assert!(
        batch.bytes.len() > 1 << 20,
        "the batch must outgrow the disk"
    );
    let admin = app.admin();
    let r = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await;
    r.problem(507, "storage_unavailable");
    assert_eq!(app.get("/treatments", &admin).await.ok(200)["total"], 0);
    // No half-written file is left behind, under any name.
    let files: Vec<_> = walk(mount.path());
    let big: Vec<_> = files.iter().filter(|(_, size)| *size > 64 * 1024).collect();
    assert!(big.is_empty(), "files left on the full disk: {big:?}");
    // A disk already full: a small upload's only write fails in tokio's background task, and
    // that error must still come out — not a truncated file taken for a damaged PDF (422).
    let filler = mount.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[0u8; 16 * 1024]).is_ok() {}
    }
    let small = batch_with_students(&app, 2).await;
    let r = upload(&app, &admin, small.bytes.clone(), "releve_notes", "905").await;
    r.problem(507, "storage_unavailable");
    assert_eq!(app.get("/treatments", &admin).await.ok(200)["total"], 0);
    // Once space is back, uploads work again.
    std::fs::remove_file(&filler).unwrap();
    let r = upload(&app, &admin, small.bytes.clone(), "releve_notes", "905").await;
    r.ok(202);
}

fn walk(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            match e.metadata() {
                Ok(m) if m.is_dir() => out.extend(walk(&path)),
                Ok(m) => out.push((path, m.len())),
                Err(_) => {}
            }
        }
    }
    out
}

/// The PostgreSQL 15 binaries (Debian layout).
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The ports this drill may use for its private cluster.
const PG_PORTS: std::ops::Range<u16> = 18300..18400;

/// A PostgreSQL cluster of the test's own (`initdb` in a temp dir, run as user `postgres` on a
/// free port of [`PG_PORTS`]), so the drill can stop and start it without touching the
/// machine's shared cluster. Stopped and removed on drop.
struct PrivateCluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivateCluster {
    /// `None` (with a message) when the drill cannot run here: not root, or no PostgreSQL 15.
    /// Under `CI=true` the drill must run: it fails instead.
    fn start() -> Option<PrivateCluster> {
        let must_run = std::env::var("CI").is_ok_and(|v| v == "true");
        let skip = |why: &str| {
            assert!(
                !must_run,
                "PostgreSQL outage drill cannot run under CI: {why}"
            );
            eprintln!("PostgreSQL outage drill skipped: {why}");
        };
        let uid = std::process::Command::new("id").arg("-u").output();
        if !uid.is_ok_and(|o| o.stdout.starts_with(b"0\n")) {
            skip("not root (it runs the cluster as user postgres)");
            return None;
        }
        if !std::path::Path::new(PG_BIN).join("initdb").exists() {
            skip(&format!("no {PG_BIN}/initdb"));
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("pgdrill")
            .tempdir()
            .expect("temp dir");
        let chown = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown runs");
        assert!(chown.success(), "chown the cluster directory to postgres");
        let port = PG_PORTS
            .clone()
            .find(|p| {
                std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                    && !dir.path().join(format!(".s.PGSQL.{p}")).exists()
            })
            .expect("a free port in 18300-18399");
        let cluster = PrivateCluster { dir, port };
        cluster.pg(&[
            "initdb",
            "-D",
            &cluster.data(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        cluster.start_server();
        cluster.pg(&[
            "psql",
            "-h",
            &cluster.socket_dir(),
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            "CREATE ROLE passerelle LOGIN PASSWORD 'passerelle'",
            "-c",
            "CREATE DATABASE passerelle_drill OWNER passerelle",
        ]);
        Some(cluster)
    }

    fn socket_dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!(
            "postgres://passerelle:passerelle@127.0.0.1:{}/passerelle_drill",
            self.port
        )
    }

    /// Runs a PostgreSQL binary as user postgres; panics with its output when it fails.
    fn pg(&self, args: &[&str]) {
        let out = self.pg_output(args);
        assert!(
            out.status.success(),
            "{} failed: {}{}",
            args[0],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_output(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{PG_BIN}/{}", args[0]))
            .args(&args[1..])
            .current_dir(self.dir.path())
            .output()
            .expect("runuser runs")
    }

    fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.socket_dir()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-l",
            &log,
            "-o",
            &options,
            "-w",
            "start",
        ]);
    }

    /// `pg_ctl stop -m fast`: open sessions are cut, as in a failover or a restart by the DBA.
    fn stop_server(&self) {
        self.pg(&["pg_ctl", "-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg_output(&[
            "pg_ctl",
            "-D",
            &self.data(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }
}

/// A batch of `students` distinct students (numbers from `first_number`), imported in 905.
async fn distinct_batch(app: &TestApp, students: usize, first_number: u64) -> fixture::Batch {
    batch_imported(
        app,
        &BatchSpec {
            students,
            seed: first_number,
            first_number,
            ..BatchSpec::default()
        },
    )
    .await
}

/// PostgreSQL stopped (`pg_ctl stop -m fast`) under a `passerelle serve` whose workers are
/// splitting uploads: the API answers 503 `database_unavailable` (problem+json, Retry-After),
/// readiness says not ready while liveness stays 200, the process stays up and its workers log
/// and wait; PostgreSQL started again: the same process serves again and every split finishes,
/// each document once.
#[actix_web::test]
async fn postgres_stopped_and_started_again_loses_no_job() {
    let Some(cluster) = PrivateCluster::start() else {
        return;
    };
    let app = TestApp::on_database(&cluster.url(), no_workers).await;
    app.composantes(&["905"]).await;
    let admin = app.admin();
    let students = 400;
    let mut treatments = Vec::new();
    for n in 0..3u64 {
        let batch = distinct_batch(&app, students, 21_000_000 + n * 10_000).await;
        let r = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await;
        treatments.push(r.ok(202)["id"].as_str().unwrap().to_owned());
    }

    let log = tempfile::NamedTempFile::new().unwrap();
    // The pool waits this long for a connection before a request answers 503.
    let env = [
        ("PASSERELLE_DATABASE_BUSY_TIMEOUT_MS", "1000"),
        ("PASSERELLE_JOBS__WORKERS", "2"),
        ("PASSERELLE_LOG_LEVEL", "info"),
    ];
    let mut serve = ServeProcess::start_logged(&app, &env, Some(log.path())).await;
    let client = reqwest::Client::new();
    let base = serve.base.clone();
    let get = |path: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(&admin)
            .timeout(Duration::from_secs(30))
            .send()
    };

    // Stop PostgreSQL while a split is under way.
    let mut splitting = false;
    for _ in 0..3000 {
        let r = get(&format!("/treatments/{}", treatments[0]))
            .await
            .unwrap();
        let t: Value = r.json().await.unwrap();
        if t["pages_done"].as_u64().unwrap_or(0) > 0 || t["status"] != "splitting" {
            splitting = t["status"] == "splitting";
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.stop_server();
    assert!(splitting, "the first split ended before the outage");

    // During the outage: 503 problem+json with a stable code, for reads and writes alike.
    for _ in 0..2 {
        let r = get("/vaults?status=active&per_page=10").await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert!(r.headers().contains_key("retry-after"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "database_unavailable", "{body}");
        assert_eq!(body["status"], 503);
    }
    let r = client
        .post(format!("{base}/composantes"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"code": "906", "label": "Composante 906"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "database_unavailable", "{body}");
    let ready = get("/health/ready").await.unwrap();
    assert_eq!(ready.status(), 503, "readiness must say not ready");
    let live = get("/health/live").await.unwrap();
    assert_eq!(live.status(), 200, "liveness stays up");
    // The workers wait and say so (a split under way notices the outage when it records its
    // progress or its result); the process stays up.
    let mut said = String::new();
    for _ in 0..600 {
        said = std::fs::read_to_string(log.path()).unwrap();
        if said.contains("job queue unavailable") {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        said.contains("job queue unavailable"),
        "the workers did not log the outage: {said}"
    );
    assert!(serve.is_running(), "passerelle died with its database");
    assert_eq!(get("/health/live").await.unwrap().status(), 200);

    // PostgreSQL is back: the same process recovers, without a restart.
    cluster.start_server();
    let mut recovered = false;
    for _ in 0..300 {
        if get("/health/ready").await.is_ok_and(|r| r.status() == 200) {
            recovered = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "readiness did not come back");
    let r = get("/vaults?status=active&per_page=10").await.unwrap();
    assert_eq!(r.status(), 200);

    // Every split finishes, each student's document exactly once.
    for id in &treatments {
        let mut status = Value::Null;
        for _ in 0..1200 {
            let t: Value = get(&format!("/treatments/{id}"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if t["status"] != "splitting" {
                status = t;
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status["status"], "split", "{status}");
    }
    assert!(serve.is_running());
    use diesel::prelude::*;
    use passerelle::db::schema::{documents, jobs};
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let docs: i64 = documents::table
        .filter(documents::treatment_id.eq_any(&treatments))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(
        docs,
        (3 * students) as i64,
        "one document per student, none lost or twice"
    );
    let distinct: Vec<(String, String)> = documents::table
        .filter(documents::treatment_id.eq_any(&treatments))
        .select((documents::treatment_id, documents::cod_etu))
        .distinct()
        .load(&mut *conn)
        .unwrap();
    assert_eq!(distinct.len(), 3 * students);
    let split_jobs: Vec<(String, String)> = jobs::table
        .filter(jobs::kind.eq("split"))
        .select((jobs::subject_id, jobs::status))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(split_jobs.len(), 3, "{split_jobs:?}");
    assert!(
        split_jobs.iter().all(|(_, s)| s == "done"),
        "every split job done: {split_jobs:?}"
    );
}

//! End-to-end delivery benchmark against a real `digiposte-sim` and a real `passerelle serve`
//! (both release binaries, on loopback): imports N students, subscribes their vaults, uploads
//! and splits their batch, sends it, and times the deposits.
//!
//!   cargo build --release --bins --examples
//!   target/release/examples/deliver_bench [N] [--quota Q] [--workers W] [--database URL] [--keep DIR]
//!
//! `--quota 0` lifts the simulator's quota (and passerelle's pacer); `--quota 100` is the
//! partner's default, which passerelle paces itself under. Prints the phase times, the
//! deposits per second, and the simulator's counts: deposits, most deposits of one file
//! (must be 1), and 429 answers (a paced passerelle provokes none).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use passerelle::pdf::fixture::{self, BatchSpec};
use serde_json::{Value, json};

const JWT_SECRET: &str = "deliver-bench-jwt-secret-0123456789abcdef";
const WEBHOOK_SECRET: &str = "deliver-bench-webhook-secret-0123456789";
// The generated batches print "Année universitaire 2025/2026": the upload declares that year.
const YEAR: i32 = 2025;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::main]
async fn main() {
    passerelle::http_client::install_tls_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let quota: u32 = flag(&args, "--quota").unwrap_or(0);
    let workers: usize = flag(&args, "--workers").unwrap_or(16);
    let bin_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .to_owned();
    let temp = tempfile::tempdir().unwrap();
    // `--keep DIR`: the database and files stay there for inspection.
    let dir = flag::<std::path::PathBuf>(&args, "--keep").unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let database: String = flag(&args, "--database")
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));

    // The simulator: receipts after 1 s, its quota as asked.
    let mut sim = Command::new(bin_dir.join("digiposte-sim"))
        .args(["--bind", "127.0.0.1:0", "--workers", "2"])
        .args(["--quota-per-minute", &quota.to_string()])
        .args([
            "--receipt-delay-ms",
            "1000",
            "--webhook-secret",
            WEBHOOK_SECRET,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("digiposte-sim (build it with `cargo build --release --bins`)");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _sim_guard = Killed(sim);
    let sim_url = format!("http://{}", line.trim().trim_start_matches("listening on "));

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("PASSERELLE_DATABASE_URL", database.clone()),
        ("PASSERELLE_DATA_DIR", dir.display().to_string()),
        ("PASSERELLE_AUTH__JWT_SECRET", JWT_SECRET.into()),
        ("PASSERELLE_BIND", format!("127.0.0.1:{port}")),
        ("PASSERELLE_ACADEMIC_YEAR", YEAR.to_string()),
        ("PASSERELLE_RATE_LIMIT__ENABLED", "false".into()),
        ("PASSERELLE_JOBS__WORKERS", workers.to_string()),
        ("PASSERELLE_JOBS__POLL_INTERVAL_MS", "50".into()),
        (
            "PASSERELLE_DIGIPOSTE__BASE_URL",
            format!("{sim_url}/digiposte/v3"),
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
        ("PASSERELLE_DIGIPOSTE__QUOTA_PER_MINUTE", quota.to_string()),
        (
            "PASSERELLE_DIGIPOSTE__WEBHOOK_SECRET",
            WEBHOOK_SECRET.into(),
        ),
        ("PASSERELLE_DIGIPOSTE__SYNC_ENABLED", "false".into()),
    ];
    let serve = Command::new(bin_dir.join("passerelle"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .expect("passerelle (build it with `cargo build --release --bins`)");
    let _serve_guard = Killed(serve);
    let token = Command::new(bin_dir.join("passerelle"))
        .args(["token", "--role", "admin", "--ttl", "4h"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("passerelle token");
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let http = reqwest::Client::new();
    let api = Api {
        http: http.clone(),
        base: base.clone(),
        token,
    };
    for _ in 0..200 {
        if http
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    http.post(format!("{sim_url}/admin/faults"))
        .json(&json!({ "webhook_url": format!("{base}/webhooks/digiposte") }))
        .send()
        .await
        .unwrap();
    api.post(
        "/composantes",
        json!({"code": "905", "label": "Composante 905"}),
    )
    .await;

    // Students of the batch, then their vaults subscribed at the simulator.
    let batch = fixture::batch(&BatchSpec {
        students: n,
        seed: 7,
        ..BatchSpec::default()
    });
    let started = Instant::now();
    for chunk in batch.students.chunks(2000) {
        let rows: Vec<Value> = chunk
            .iter()
            .map(|s| {
                json!({"cod_etu": s.cod_etu, "ine": s.ine, "last_name": s.last_name,
                       "first_name": s.first_name, "composante": "905", "etape": "L1INF",
                       "academic_year": YEAR, "enrolment_state": "E"})
            })
            .collect();
        api.post("/students/import", Value::Array(rows)).await;
    }
    let import_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut vault_ids = Vec::new();
    for page in 1.. {
        let r = api
            .get(&format!("/vaults?composante=905&per_page=500&page={page}"))
            .await;
        let items = r["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        vault_ids.extend(items.iter().map(|v| v["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(vault_ids.len(), n, "one vault per student");
    // The import pre-creates the vaults (`vaults.auto_subscribe`); the others are asked here.
    let subscribe = futures_util::stream::iter(vault_ids.into_iter().map(|id| {
        let api = &api;
        async move {
            api.try_post(&format!("/vaults/{id}/subscribe"), json!({}))
                .await
        }
    }));
    use futures_util::StreamExt;
    subscribe.buffer_unordered(16).collect::<Vec<_>>().await;
    wait_until("vaults active", Duration::from_secs(7200), || async {
        let r = api.get("/vaults/summary?composante=905").await;
        let active = r["statuses"]
            .as_array()?
            .iter()
            .find(|s| s["status"] == "active")?["count"]
            .as_u64()?;
        (active as usize >= n).then_some(())
    })
    .await;
    let subscribe_secs = started.elapsed().as_secs_f64();

    // The batch: upload, split, send.
    let started = Instant::now();
    let form = reqwest::multipart::Form::new()
        .text("document_type", "releve_notes")
        .text("academic_year", YEAR.to_string())
        .text("composante", "905")
        .text("label", "benchmark")
        .part(
            "file",
            reqwest::multipart::Part::bytes(batch.bytes.clone()).file_name("releves.pdf"),
        );
    let r: Value = http
        .post(format!("{base}/uploads"))
        .bearer_auth(&api.token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().expect("upload accepted").to_owned();
    let detail = wait_until("the split", Duration::from_secs(600), || async {
        let t = api.get(&format!("/treatments/{id}")).await;
        (t["status"] != "splitting").then_some(t)
    })
    .await;
    let split_secs = started.elapsed().as_secs_f64();
    let deliverable = detail["deliverable"].as_u64().unwrap_or(0);
    assert_eq!(deliverable as usize, n, "{detail}");
    let started = Instant::now();
    api.post(
        &format!("/treatments/{id}/send"),
        json!({ "expected_documents": deliverable }),
    )
    .await;
    // Polls the treatment until none of its documents is in `status` any more.
    let drained = |status: &'static str| {
        let (api, id) = (&api, &id);
        wait_until(status, Duration::from_secs(7200), move || async move {
            let t = api.get(&format!("/treatments/{id}")).await;
            (deliveries(&t, status) == 0).then_some(t)
        })
    };
    drained("queued").await;
    let deposit_secs = started.elapsed().as_secs_f64();
    let t = drained("awaiting_receipt").await;
    let receipts_secs = started.elapsed().as_secs_f64();
    let stats: Value = http
        .get(format!("{sim_url}/admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    println!("documents                 {n}");
    println!(
        "database                  {}",
        database.split(':').next().unwrap()
    );
    println!("quota per minute          {quota} (0 = lifted)");
    println!("workers                   {workers}");
    println!("import                    {import_secs:.1} s");
    println!("subscriptions             {subscribe_secs:.1} s");
    println!("upload + split            {split_secs:.1} s");
    println!("send -> all deposited     {deposit_secs:.1} s");
    println!(
        "deposits per second       {:.0}",
        n as f64 / deposit_secs.max(0.001)
    );
    println!("send -> all receipts      {receipts_secs:.1} s");
    println!(
        "transmitted               {}",
        deliveries(&t, "transmitted")
    );
    println!("sim deposits              {}", stats["deposits_total"]);
    println!(
        "max deposits of one file  {}",
        stats["max_deposits_per_file"]
    );
    println!("sim requests              {}", stats["requests"]);
    println!("sim 429 answers           {}", stats["rejected_429"]);
}

/// How many of the treatment's documents are in `status`.
fn deliveries(treatment: &Value, status: &str) -> u64 {
    treatment["deliveries"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["status"] == status))
        .and_then(|d| d["count"].as_u64())
        .unwrap_or(0)
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap_or(Value::Null)
    }

    /// A POST whose refusal is expected sometimes (a vault already subscribed: 409).
    async fn try_post(&self, path: &str, body: Value) -> Option<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .ok()?;
        r.status().is_success().then_some(())?;
        r.json().await.ok()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }
}

async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

//! Issue 17 ("security, round two"): scope on every write, bounded requests, throttling, strict
//! tokens, private files, quiet logs. Each test names the point it holds.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, ServeProcess, TestApp, both_backends, row};

fn identified(cod_etu: &str, last: &str, composante: &str, etape: &str, ine: &str) -> Value {
    let mut r = row(
        cod_etu,
        last,
        "Jeanne",
        composante,
        etape,
        CURRENT_YEAR,
        "E",
    );
    r["ine"] = json!(ine);
    r["birth_date"] = json!("2004-05-06");
    r
}

// Point 1: a manager's import writes only in their composantes.
both_backends!(
    manager_import_stays_in_scope,
    manager_import_stays_in_scope_body
);
async fn manager_import_stays_in_scope_body(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    let setup = app
        .import(vec![
            identified("21900001", "ALPHA", "906", "V906", "123456789AB"),
            identified("21900002", "BETA", "905", "V905", "123456789AC"),
        ])
        .await;
    assert_eq!(setup["created"], 2, "{setup}");
    let manager = app.manager(&["905"]);

    // Another name for a 906 student, an enrolment in 906's étape under 905, and a plain row.
    let report = app
        .post(
            "/students/import",
            &manager,
            json!([
                row("21900001", "INTRUS", "X", "905", "V905", CURRENT_YEAR, "E"),
                row("21900003", "GAMMA", "C", "905", "V906", CURRENT_YEAR, "E"),
                row("21900004", "DELTA", "D", "905", "V905", CURRENT_YEAR, "E"),
            ]),
        )
        .await;
    let report = report.ok(200);
    assert_eq!(report["created"], 1, "{report}");
    let codes: Vec<(u64, &str)> = report["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(codes, vec![(1, "outside_scope"), (2, "outside_scope")]);
    let reasons = report["rejections"].to_string();
    assert!(!reasons.contains("21900001") && !reasons.contains("ALPHA"));

    // The 906 student is untouched and still invisible to the 905 manager.
    let admin = app.admin();
    let student = app.get("/students/21900001", &admin).await;
    let student = student.ok(200);
    assert_eq!(student["last_name"], "ALPHA", "{student}");
    assert_eq!(student["ine"], "123456789AB");
    app.get("/students/21900001", &manager)
        .await
        .problem(404, "not_found");
    app.get("/students/21900003", &admin)
        .await
        .problem(404, "not_found");
    app.get("/students/21900004", &manager).await.ok(200);

    // The manager may still correct the identity of their own student, and it is audited.
    let report = app
        .post(
            "/students/import",
            &manager,
            json!([identified(
                "21900002",
                "BETA-NEW",
                "905",
                "V905",
                "123456789AC"
            )]),
        )
        .await;
    assert_eq!(report.ok(200)["updated"], 1, "{}", report.body);
    // An administrator's import keeps today's behaviour: it may rename the 906 student.
    let report = app
        .import(vec![identified(
            "21900001",
            "ALPHA-NEW",
            "906",
            "V906",
            "123456789AB",
        )])
        .await;
    assert_eq!(report["updated"], 1, "{report}");
    let audit = app
        .get("/audit?action=student.identity_changed", &admin)
        .await;
    let entries = audit.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "{}", audit.body);
    let actors: Vec<&str> = entries
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(actors.contains(&"manager:manager-905") && actors.contains(&"admin:admin"));
    assert!(
        entries
            .iter()
            .all(|e| e["details"]["fields"] == json!(["last_name"]))
    );
    assert!(!audit.body.to_string().contains("ALPHA"));
}

/// A raw HTTP/1.1 request over loopback: the head, then `body` chunks as long as the server
/// reads them (a closed connection ends the sending). Returns the status the server answered,
/// if it could be read.
fn raw_request(
    base: &str,
    head: &str,
    mut body: impl FnMut() -> Option<Vec<u8>>,
    pause: Duration,
) -> Option<u16> {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(head.as_bytes()).expect("head sent");
    while let Some(chunk) = body() {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        std::thread::sleep(pause);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|s| s.parse().ok())
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing"))
}

async fn locker_student(app: &TestApp) -> String {
    app.composantes(&["905"]).await;
    app.import(vec![row(
        "21900001",
        "ALPHA",
        "Anne",
        "905",
        "L1INF",
        CURRENT_YEAR,
        "E",
    )])
    .await;
    app.student("21900001")
}

fn multipart_head(path: &str, token: &str, length: u64) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {length}\r\n\r\n"
    )
}

// Point 2: each bound of a multipart form answers 413 payload_too_large.
#[actix_web::test]
async fn multipart_forms_are_bounded() {
    let app = TestApp::sqlite_with(|c| {
        c.limits.form_max_parts = 5;
        c.limits.form_field_max_bytes = 1000;
        c.limits.form_overhead_max_bytes = 20_000;
    })
    .await;
    let student = locker_student(&app).await;
    let send = |form: reqwest::multipart::Form| {
        app.send(
            app.request(reqwest::Method::POST, "/lockers/deposits")
                .bearer_auth(&student)
                .multipart(form),
        )
    };
    let many = (0..6).fold(reqwest::multipart::Form::new(), |f, i| {
        f.text(format!("f{i}"), "x")
    });
    let r = send(many).await;
    assert_eq!(r.problem(413, "payload_too_large")["limit_parts"], 5);
    let long = reqwest::multipart::Form::new().text("title", "x".repeat(1001));
    assert_eq!(
        send(long).await.problem(413, "payload_too_large")["limit_bytes"],
        1000
    );
    // Within each part's bound, but more than the form may carry besides its file (a part
    // header without end is the same case: the parser would hold it whole).
    let headers = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"{}",
        "a".repeat(50_000)
    );
    let r = app
        .send(
            app.request(reqwest::Method::POST, "/lockers/deposits")
                .bearer_auth(&student)
                .header("content-type", "multipart/form-data; boundary=XyZ")
                .body(headers),
        )
        .await;
    assert_eq!(r.problem(413, "payload_too_large")["limit_bytes"], 20_000);
    // A normal deposit still passes.
    let ok = reqwest::multipart::Form::new()
        .text("title", "Relevé")
        .text("recipients", "21900001")
        .part(
            "file",
            reqwest::multipart::Part::bytes(crate::lockers::PDF.to_vec()).file_name("r.pdf"),
        );
    assert_ne!(send(ok).await.status.as_u16(), 413);
}

// Point 2: 300 MB of form sent to a real `passerelle serve` leaves its memory flat.
#[actix_web::test]
async fn multipart_flood_leaves_memory_flat() {
    let app = TestApp::sqlite().await;
    let student = locker_student(&app).await;
    let server = ServeProcess::start(&app, &[]).await;
    let pid = server.pid();
    let base = server.base.clone();
    let before = proc_status_kib(pid, "VmRSS:");
    const ATTACK: u64 = 300 * 1024 * 1024;
    // Many distinct 60 KB fields (the probe's attack), then one part header without end.
    let fields = {
        let (base, token) = (base.clone(), student.clone());
        actix_web::rt::task::spawn_blocking(move || {
            let mut i = 0u64;
            raw_request(
                &base,
                &multipart_head("/lockers/deposits", &token, ATTACK),
                move || {
                    i += 1;
                    (i * 61_500 < ATTACK).then(|| {
                        let mut part = format!(
                            "--XyZ\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\n"
                        )
                        .into_bytes();
                        part.resize(part.len() + 61_000, b'x');
                        part.extend_from_slice(b"\r\n");
                        part
                    })
                },
                Duration::ZERO,
            )
        })
    };
    let fields = fields.await.unwrap();
    let header = {
        let (base, token) = (base.clone(), student.clone());
        actix_web::rt::task::spawn_blocking(move || {
            let mut sent = 0u64;
            let mut first = true;
            raw_request(
                &base,
                &multipart_head("/lockers/deposits", &token, ATTACK),
                move || {
                    if sent >= ATTACK {
                        return None;
                    }
                    let mut chunk = if std::mem::take(&mut first) {
                        b"--XyZ\r\nX-Long: ".to_vec()
                    } else {
                        Vec::new()
                    };
                    chunk.resize(chunk.len() + 1024 * 1024, b'y');
                    sent += chunk.len() as u64;
                    Some(chunk)
                },
                Duration::ZERO,
            )
        })
    };
    let header = header.await.unwrap();
    for answer in [fields, header] {
        assert!(matches!(answer, Some(413) | None), "{answer:?}");
    }
    let peak = proc_status_kib(pid, "VmHWM:");
    let after = proc_status_kib(pid, "VmRSS:");
    eprintln!("resident memory: {before} kB before, {after} kB after, peak {peak} kB");
    assert!(
        peak < before + 64 * 1024,
        "resident memory grew from {before} kB to a peak of {peak} kB under a 300 MB form"
    );
}

// Point 4: a body that stops, or trickles past the total bound, is answered 408.
#[actix_web::test]
async fn slow_bodies_are_cut_with_408() {
    let app = TestApp::sqlite_with(|c| {
        c.limits.body_idle_timeout_secs = 1;
        c.limits.body_total_timeout_secs = 3;
    })
    .await;
    let admin = app.admin();
    let head = format!(
        "POST /students/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: text/csv\r\nContent-Length: 10485760\r\n\r\n"
    );
    // 1 KB of a 10 MB body, then nothing.
    let started = std::time::Instant::now();
    let (base, h) = (app.base.clone(), head.clone());
    let mut once = Some(vec![b'a'; 1024]);
    let status = actix_web::rt::task::spawn_blocking(move || {
        raw_request(&base, &h, move || once.take(), Duration::ZERO)
    })
    .await
    .unwrap();
    assert_eq!(status, Some(408));
    assert!(started.elapsed() < Duration::from_secs(5));
    // One byte every 500 ms: never idle for 1 s, but past 3 s in all.
    let started = std::time::Instant::now();
    let base = app.base.clone();
    let mut sent = 0;
    let status = actix_web::rt::task::spawn_blocking(move || {
        raw_request(
            &base,
            &head,
            move || {
                sent += 1;
                (sent < 40).then(|| vec![b'a'])
            },
            Duration::from_millis(500),
        )
    })
    .await
    .unwrap();
    assert_eq!(status, Some(408));
    assert!(started.elapsed() < Duration::from_secs(8));
    // The problem document itself.
    let r = app
        .send(
            app.request(reqwest::Method::POST, "/students/import")
                .bearer_auth(app.admin())
                .header("content-type", "text/csv")
                .body(reqwest::Body::wrap_stream(futures_util::stream::once(
                    async {
                        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
                        Ok::<_, std::io::Error>("COD_ETU\n")
                    },
                ))),
        )
        .await;
    r.problem(408, "request_timeout");
}

// Point 3: refused credentials share one tight bucket per address; valid ones one per principal.
both_backends!(
    throttling_follows_the_caller,
    throttling_follows_the_caller_body,
    |c: &mut passerelle::config::Config| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 3;
        c.rate_limit.anonymous_per_second = 1;
        c.rate_limit.anonymous_burst = 5;
    }
);
async fn throttling_follows_the_caller_body(app: TestApp) {
    // Every request a different invalid API key: 401 until the address's bucket is empty.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = app.get("/me", &format!("psk_invalid{i}")).await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // No credentials at all: the same bucket.
    app.call(reqwest::Method::GET, "/me", None, None)
        .await
        .problem(429, "rate_limited");
    // A valid token from the same address still works, limited per principal: four tokens of
    // one administrator share one bucket of 3.
    let tokens: Vec<String> = (0..4)
        .map(|i| {
            let now = jsonwebtoken::get_current_timestamp();
            app.mint(passerelle::auth::jwt::Claims {
                sub: "admin".into(),
                iss: String::new(),
                aud: String::new(),
                exp: now + 600 + i,
                iat: now,
                role: passerelle::auth::Role::Admin,
                composantes: vec![],
                cod_etu: None,
                scopes: vec![],
                name: None,
            })
        })
        .collect();
    for token in &tokens[..3] {
        app.get("/me", token).await.ok(200);
    }
    app.get("/me", &tokens[3])
        .await
        .problem(429, "rate_limited");
    app.get("/me", &app.manager(&["905"])).await.ok(200);
}

// Point 9: a flood of 401 is not one log line per request at info.
#[actix_web::test]
async fn refusals_are_logged_at_debug() {
    let app = TestApp::sqlite().await;
    let log = app.dir().join("serve.log");
    let server = ServeProcess::start_logged(
        &app,
        &[
            ("PASSERELLE_LOG_LEVEL", "info"),
            ("PASSERELLE_LOG_FORMAT", "json"),
        ],
        Some(&log),
    )
    .await;
    let remote = app.on(&server.base);
    for i in 0..40 {
        remote
            .get("/me", &format!("not-a-token-{i}"))
            .await
            .problem(401, "unauthenticated");
    }
    remote.get("/me", &app.admin()).await.ok(200);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let served = text
        .lines()
        .filter(|l| l.contains("request served"))
        .count();
    assert!(text.lines().any(|l| l.contains("\"status\":200")), "{text}");
    assert!(
        served < 5,
        "{served} access lines at info for 40 refusals:\n{text}"
    );
}

// Point 5: security headers on every answer, the Swagger UI's policy, CORS for configured
// origins with correct preflights.
#[actix_web::test]
async fn security_headers_and_cors() {
    let app = TestApp::sqlite_with(|c| {
        c.cors.allowed_origins = vec!["https://ent.univ.example".into()];
    })
    .await;
    let header = |r: &crate::support::Reply, name: &str| {
        r.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let admin = app.admin();
    for path in ["/me", "/students", "/vaults", "/audit"] {
        let r = app.get(path, &admin).await;
        r.ok(200);
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
    }
    let r = app.get("/no-such-route", &admin).await;
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    let ui = app
        .send(app.request(reqwest::Method::GET, "/swagger-ui/"))
        .await;
    assert_eq!(ui.status.as_u16(), 200);
    assert_eq!(header(&ui, "x-frame-options"), "DENY");
    assert!(header(&ui, "content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header(&ui, "x-content-type-options"), "nosniff");

    // Preflight from the ENT: allowed, with what the browser needs; from elsewhere: refused.
    let preflight = |origin: &'static str| {
        app.send(
            app.request(reqwest::Method::OPTIONS, "/me")
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization"),
        )
    };
    let ok = preflight("https://ent.univ.example").await;
    assert_eq!(ok.status.as_u16(), 204);
    assert_eq!(
        header(&ok, "access-control-allow-origin"),
        "https://ent.univ.example"
    );
    assert!(header(&ok, "access-control-allow-headers").contains("Authorization"));
    assert!(header(&ok, "access-control-allow-methods").contains("GET"));
    let refused = preflight("https://evil.example").await;
    refused.problem(403, "forbidden");
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    // The actual request carries the origin back only for an allowed one.
    let r = app
        .send(
            app.request(reqwest::Method::GET, "/me")
                .bearer_auth(&admin)
                .header("origin", "https://ent.univ.example"),
        )
        .await;
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "https://ent.univ.example"
    );
    let r = app
        .send(
            app.request(reqwest::Method::GET, "/me")
                .bearer_auth(&admin)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // Default: no origin at all.
    let plain = TestApp::sqlite().await;
    let r = plain
        .send(
            plain
                .request(reqwest::Method::OPTIONS, "/me")
                .header("origin", "https://ent.univ.example")
                .header("access-control-request-method", "GET"),
        )
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

// Point 6: the database, stored documents and temporary uploads are private; uploads left by a
// crash are removed at start.
#[actix_web::test]
async fn files_are_private_and_crash_leftovers_removed() {
    let app = TestApp::sqlite().await;
    locker_student(&app).await;
    let r = crate::lockers::deposit(
        &app,
        &app.manager(&["905"]),
        crate::lockers::PDF,
        "releve.pdf",
        "Relevé",
        "student:21900001",
        None,
    )
    .await;
    r.ok(201);
    let data = app.data_dir();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("passerelle.db")), 0o600);
    assert_eq!(mode(&data.join("tmp")), 0o700);
    let blobs = data.join("blobs");
    assert_eq!(mode(&blobs), 0o700);
    let mut files = 0;
    for fan in std::fs::read_dir(&blobs).unwrap().flatten() {
        assert_eq!(mode(&fan.path()), 0o700);
        for blob in std::fs::read_dir(fan.path()).unwrap().flatten() {
            assert_eq!(mode(&blob.path()), 0o600, "{}", blob.path().display());
            files += 1;
        }
    }
    assert!(files >= 1);

    // A crash left a temporary upload (last written an hour ago); a fresh one may be live.
    let stale = data.join("tmp/upload-crashed");
    let fresh = data.join("tmp/upload-live");
    std::fs::write(&stale, b"half an upload").unwrap();
    std::fs::write(&fresh, b"being written").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let _server = ServeProcess::start(&app, &[]).await;
    assert!(!stale.exists(), "the crash's leftover is removed at start");
    assert!(fresh.exists());
}

// Point 9: a student's own consent event carries no evidence reference.
both_backends!(
    student_consent_refuses_evidence,
    student_consent_refuses_evidence_body
);
async fn student_consent_refuses_evidence_body(app: TestApp) {
    locker_student(&app).await;
    let student = app.student("21900001");
    let event = |evidence: Option<&str>| {
        let mut body = json!({
            "student": "21900001", "purpose": "vault_precreation", "event": "objected",
            "source": "paper",
        });
        if let Some(e) = evidence {
            body["evidence_ref"] = json!(e);
        }
        body
    };
    let r = app
        .post("/consents", &student, event(Some("scan-42")))
        .await;
    assert_eq!(
        r.problem(422, "validation_failed")["errors"][0]["field"],
        "evidence_ref"
    );
    let ledger = app.get("/me/consents", &student).await;
    assert!(!ledger.body.to_string().contains("scan-42"));
    app.post("/consents", &student, event(None)).await.ok(201);
}

// Point 9: a receipt timestamp at the ends of the integers is stale, not an overflow.
#[actix_web::test]
async fn webhook_timestamps_cannot_overflow() {
    let app = TestApp::sqlite().await;
    for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
        let r = app
            .send(
                app.request(reqwest::Method::POST, "/webhooks/digiposte")
                    .header("x-digiposte-timestamp", ts)
                    .header("x-digiposte-signature", "sha256=00")
                    .header("content-type", "application/json")
                    .body("{}"),
            )
            .await;
        r.problem(401, "webhook_stale");
    }
}

// Point 8: invisible formatting characters are refused in imported names (per row) and
// stripped from stored file names; downloads name the file twice (ASCII and RFC 8187).
both_backends!(invisible_characters, invisible_characters_body);
async fn invisible_characters_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let report = app
        .import(vec![
            row(
                "21900001",
                "ALPHA",
                "Anne",
                "905",
                "L1INF",
                CURRENT_YEAR,
                "E",
            ),
            row(
                "21900002",
                "BE\u{202E}TA",
                "B",
                "905",
                "L1INF",
                CURRENT_YEAR,
                "E",
            ),
            row(
                "21900003",
                "GAMMA",
                "C\u{200B}",
                "905",
                "L1INF",
                CURRENT_YEAR,
                "E",
            ),
        ])
        .await;
    assert_eq!(report["created"], 1, "{report}");
    let rejected: Vec<(u64, &str)> = report["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, vec![(2, "invalid_name"), (3, "invalid_name")]);

    let manager = app.manager(&["905"]);
    let r = crate::lockers::deposit(
        &app,
        &manager,
        crate::lockers::PDF,
        "relevé\u{202E}fdp.exe",
        "Relevé",
        "student:21900001",
        None,
    )
    .await;
    let id = r.ok(201)["id"].as_str().unwrap().to_owned();
    let meta = app.get(&format!("/lockers/deposits/{id}"), &manager).await;
    assert_eq!(meta.ok(200)["file_name"], "relevéfdp.exe", "{}", meta.body);
    let file = app
        .get(
            &format!("/lockers/deposits/{id}/file"),
            &app.student("21900001"),
        )
        .await;
    assert_eq!(file.status.as_u16(), 200);
    assert_eq!(
        file.headers["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"relev_fdp.exe\"; filename*=UTF-8''relev%C3%A9fdp.exe"
    );
    assert_eq!(file.headers["x-content-type-options"], "nosniff");
}

// Point 9: a student cannot tell existing staff ids from unknown ones through lockers.
both_backends!(
    staff_ids_cannot_be_enumerated,
    staff_ids_cannot_be_enumerated_body
);
async fn staff_ids_cannot_be_enumerated_body(app: TestApp) {
    locker_student(&app).await;
    let manager = app.manager(&["905"]);
    // The manager has used the lockers: their id is known.
    app.get("/lockers/me/inbox", &manager).await.ok(200);
    let anne = app.student("21900001");
    let answer = |recipient: &'static str| {
        let (app, anne) = (&app, &anne);
        async move {
            let r = crate::lockers::deposit(
                app,
                anne,
                crate::lockers::PDF,
                "x.pdf",
                "X",
                recipient,
                None,
            )
            .await;
            let mut body = r.body.clone();
            for volatile in [
                "id",
                "received_at",
                "audit",
                "recipients",
                "recipient_names",
            ] {
                body.as_object_mut().map(|o| o.remove(volatile));
            }
            (r.status.as_u16(), body)
        }
    };
    let existing = answer("manager:manager-905").await;
    let unknown = answer("manager:nobody-at-all").await;
    assert_eq!(existing.0, 201, "{:?}", existing.1);
    assert_eq!(existing, unknown);
    // A student's receipt names no staff member, known or not.
    assert!(existing.1.get("recipient_names").is_none());
    // The existing manager received it; nobody else is shown anything.
    let inbox = app.get("/lockers/me/inbox", &manager).await;
    assert_eq!(inbox.ok(200)["total"], 1);
}

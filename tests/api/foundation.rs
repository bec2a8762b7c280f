//! The foundation through HTTP: probes, identity, scope, problem documents, OpenAPI, limits.

use std::collections::BTreeSet;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, both_backends};

both_backends!(probes_answer, probes_answer_body);
async fn probes_answer_body(app: TestApp) {
    let live = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!(live.ok(200)["status"], "ok");
    let ready = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.ok(200)["status"], "ok");
}

both_backends!(request_ids_are_echoed, request_ids_body);
async fn request_ids_body(app: TestApp) {
    let r = app
        .send(
            app.request(Method::GET, "/health/live")
                .header("X-Request-Id", "trace-abc-123"),
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "trace-abc-123");
    // A forged id (spaces, too long) is replaced by a generated one.
    let r = app
        .send(
            app.request(Method::GET, "/nope")
                .header("X-Request-Id", "evil id"),
        )
        .await;
    let id = r.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "evil id");
    assert_eq!(r.problem(404, "not_found")["request_id"], id.as_str());
}

both_backends!(unknown_routes_and_methods_are_problems, unknown_routes_body);
async fn unknown_routes_body(app: TestApp) {
    let r = app.call(Method::GET, "/nope", None, None).await;
    r.problem(404, "not_found");
    let r = app
        .call(Method::DELETE, "/composantes", Some(&app.admin()), None)
        .await;
    r.problem(405, "method_not_allowed");
    let allow = r.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

both_backends!(credentials_are_checked, credentials_body);
async fn credentials_body(app: TestApp) {
    let r = app.call(Method::GET, "/me", None, None).await;
    r.problem(401, "unauthenticated");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    app.get("/me", "not-a-jwt")
        .await
        .problem(401, "unauthenticated");
    app.get("/me", "psk_unknownkey")
        .await
        .problem(401, "unauthenticated");
    // A token signed with another secret.
    let other = passerelle::config::AuthConfig {
        jwt_secret: passerelle::config::Secret("another-secret-another-secret-0000".into()),
        ..Default::default()
    };
    let foreign = passerelle::auth::jwt::JwtKeys::from_config(&other, &app.data_dir()).unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let claims = passerelle::auth::jwt::Claims {
        sub: "x".into(),
        iss: String::new(),
        aud: String::new(),
        exp: now + 600,
        iat: now,
        role: passerelle::auth::Role::Admin,
        composantes: vec![],
        cod_etu: None,
        scopes: vec![],
        name: None,
    };
    app.get("/me", &foreign.mint(claims.clone()).unwrap())
        .await
        .problem(401, "unauthenticated");
    // Expired beyond the leeway.
    let expired = app.mint(passerelle::auth::jwt::Claims {
        exp: now - 3600,
        ..claims.clone()
    });
    let r = app.get("/me", &expired).await;
    assert!(
        r.problem(401, "unauthenticated")["detail"]
            .as_str()
            .unwrap()
            .contains("a expiré"),
        "French by default: {}",
        r.body
    );

    let me = app.get("/me", &app.manager(&["905", "906"])).await;
    assert_eq!(me.ok(200)["role"], "manager");
    assert_eq!(me.body["composantes"], json!(["905", "906"]));
    let me = app.get("/me", &app.student("21901234")).await;
    assert_eq!(me.ok(200)["cod_etu"], "21901234");
}

both_backends!(api_keys_authenticate_services, api_keys_body);
async fn api_keys_body(app: TestApp) {
    let db = passerelle::db::Db::connect(&app.config.database_url(), 1, 1000).unwrap();
    let mut conn = db.conn().unwrap();
    let key = passerelle::auth::apikey::create(
        &mut conn,
        "ent",
        &["composantes:read".into()],
        &["905".into()],
    )
    .unwrap();
    let me = app.get("/me", &key.key).await;
    assert_eq!(me.ok(200)["role"], "service");
    assert_eq!(me.body["credential"], "api_key");
    assert_eq!(me.body["scopes"], json!(["composantes:read"]));
    app.composantes(&["905", "906"]).await;
    // The key is limited to 905.
    let list = app.get("/composantes", &key.key).await;
    assert_eq!(list.ok(200)["total"], 1);
    // Without the write scope (services can never write composantes).
    app.post(
        "/composantes",
        &key.key,
        json!({"code": "907", "label": "x"}),
    )
    .await
    .problem(403, "forbidden");
    // Revoked: refused.
    assert_eq!(
        passerelle::db::api_keys::revoke(&mut conn, "ent", passerelle::db::now()).unwrap(),
        1
    );
    app.get("/me", &key.key)
        .await
        .problem(401, "unauthenticated");
}

both_backends!(composantes_are_scoped, composantes_scope_body);
async fn composantes_scope_body(app: TestApp) {
    app.composantes(&["905", "906", "907"]).await;
    let a = app.manager(&["905"]);
    let list = app.get("/composantes", &a).await;
    let codes: Vec<&str> = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["905"]);
    assert_eq!(list.body["total"], 1);
    app.get("/composantes/905", &a).await.ok(200);
    // Another composante's object is not found, not forbidden.
    app.get("/composantes/906", &a)
        .await
        .problem(404, "not_found");
    // Admin sees all, paginated.
    let all = app
        .get("/composantes?per_page=2&page=2", &app.admin())
        .await;
    assert_eq!(all.ok(200)["total"], 3);
    assert_eq!(all.body["items"][0]["code"], "907");
    // A student with no enrolment sees none.
    let s = app.get("/composantes", &app.student("21900001")).await;
    assert_eq!(s.ok(200)["total"], 0);
    // A service needs its scope.
    app.get("/composantes", &app.service(&[]))
        .await
        .problem(403, "forbidden");
    assert_eq!(
        app.get("/composantes", &app.service(&["composantes:read"]))
            .await
            .ok(200)["total"],
        3
    );
}

both_backends!(composantes_are_written_by_admins, composantes_write_body);
async fn composantes_write_body(app: TestApp) {
    let admin = app.admin();
    let created = app
        .post(
            "/composantes",
            &admin,
            json!({"code": "905", "label": "UFR Sciences"}),
        )
        .await;
    assert_eq!(created.ok(201)["label"], "UFR Sciences");
    assert_eq!(created.headers["location"], "/composantes/905");
    app.post(
        "/composantes",
        &admin,
        json!({"code": "905", "label": "again"}),
    )
    .await
    .problem(409, "already_exists");
    app.post(
        "/composantes",
        &app.manager(&["905"]),
        json!({"code": "906", "label": "x"}),
    )
    .await
    .problem(403, "forbidden");
    let updated = app
        .put(
            "/composantes/905",
            &admin,
            json!({"label": "UFR des Sciences"}),
        )
        .await;
    assert_eq!(updated.ok(200)["label"], "UFR des Sciences");
    app.put("/composantes/999", &admin, json!({"label": "x"}))
        .await
        .problem(404, "not_found");
    let fetched = app.get("/composantes/905", &admin).await;
    assert_eq!(fetched.ok(200)["label"], "UFR des Sciences");
}

both_backends!(bad_bodies_are_problems, bad_bodies_body);
async fn bad_bodies_body(app: TestApp) {
    let admin = app.admin();
    let r = app
        .post("/composantes", &admin, json!({"code": "9x", "label": ""}))
        .await;
    let fields: BTreeSet<&str> = r.problem(422, "validation_failed")["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, BTreeSet::from(["code", "label"]));
    let r = app
        .post("/composantes", &admin, json!({"code": 905, "label": "x"}))
        .await;
    assert_eq!(
        r.problem(422, "validation_failed")["errors"][0]["field"],
        "code"
    );
    let r = app
        .post("/composantes", &admin, json!({"label": "x"}))
        .await;
    assert_eq!(
        r.problem(422, "validation_failed")["errors"][0]["code"],
        "required"
    );
    let r = app
        .send(
            app.request(Method::POST, "/composantes")
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body("{\"code\": "),
        )
        .await;
    r.problem(400, "malformed_json");
    let r = app
        .send(
            app.request(Method::POST, "/composantes")
                .bearer_auth(&admin)
                .header("content-type", "text/plain")
                .body("code=905"),
        )
        .await;
    r.problem(415, "unsupported_media_type");
    let r = app
        .send(
            app.request(Method::POST, "/composantes")
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body("this is not gzip"),
        )
        .await;
    r.problem(400, "bad_request");
    app.get("/composantes?colour=blue", &admin)
        .await
        .problem(400, "unknown_parameter");
    app.get("/composantes?per_page=5000", &admin)
        .await
        .problem(400, "invalid_parameter");
    app.get("/composantes?page=zero", &admin)
        .await
        .problem(400, "invalid_parameter");
    // Nothing was written by the refused requests.
    assert_eq!(app.get("/composantes", &admin).await.ok(200)["total"], 0);
}

#[actix_web::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::sqlite_with(|c| c.json_limit_bytes = 1024).await;
    let label = "x".repeat(4096);
    app.post(
        "/composantes",
        &app.admin(),
        json!({"code": "905", "label": label}),
    )
    .await
    .problem(413, "payload_too_large");
}

#[actix_web::test]
async fn rate_limit_answers_429_with_retry_after() {
    let app = TestApp::sqlite_with(|c| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 3;
    })
    .await;
    let token = app.admin();
    let mut limited = None;
    for _ in 0..10 {
        let r = app.get("/me", &token).await;
        if r.status.as_u16() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the 4th request within a second is limited");
    r.problem(429, "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Another credential has its own bucket; probes are never limited.
    app.get("/me", &app.manager(&["905"])).await.ok(200);
    for _ in 0..5 {
        app.call(Method::GET, "/health/live", None, None)
            .await
            .ok(200);
    }
}

#[actix_web::test]
async fn locked_database_answers_503() {
    let app = TestApp::sqlite_with(|c| c.database_busy_timeout_ms = 200).await;
    let token = app.admin();
    // Another process holds SQLite's write lock.
    let path = app.data_dir().join("passerelle.db");
    let mut holder = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    holder.batch_execute("BEGIN EXCLUSIVE").unwrap();
    let r = app
        .post("/composantes", &token, json!({"code": "905", "label": "x"}))
        .await;
    r.problem(503, "database_unavailable");
    assert!(r.headers.contains_key("retry-after"));
    holder.batch_execute("ROLLBACK").unwrap();
    app.post("/composantes", &token, json!({"code": "905", "label": "x"}))
        .await
        .ok(201);
}

#[actix_web::test]
async fn unexpected_failures_answer_500_without_details() {
    let app = TestApp::sqlite().await;
    let path = app.data_dir().join("passerelle.db");
    let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    // A table gone behind the server's back: an internal error, its cause kept out of the body.
    conn.batch_execute("DROP TABLE enrolments; DROP TABLE composantes;")
        .unwrap();
    let r = app.get("/composantes", &app.admin()).await;
    let body = r.problem(500, "internal_error");
    assert!(!body["detail"].as_str().unwrap().contains("composantes"));
}

#[actix_web::test]
async fn swagger_ui_and_spec_are_served_from_the_binary() {
    let app = TestApp::sqlite().await;
    let page = app.call(Method::GET, "/swagger-ui/", None, None).await;
    assert_eq!(page.status.as_u16(), 200);
    let html = String::from_utf8(page.bytes.clone()).unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    let bundle = app
        .call(Method::GET, "/swagger-ui/swagger-ui-bundle.js", None, None)
        .await;
    assert_eq!(bundle.status.as_u16(), 200);
    assert!(
        bundle.bytes.len() > 100_000,
        "the bundle is served from the binary"
    );
    let init = app
        .call(
            Method::GET,
            "/swagger-ui/swagger-initializer.js",
            None,
            None,
        )
        .await;
    assert!(String::from_utf8_lossy(&init.bytes).contains("/openapi.json"));
    let spec = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(spec.ok(200)["openapi"], "3.1.0");
    assert!(spec.body["paths"]["/composantes"]["get"].is_object());
}

#[actix_web::test]
async fn metrics_show_live_figures_to_admins_only() {
    let app = TestApp::sqlite().await;
    app.composantes(&["905"]).await;
    app.get("/composantes", &app.admin()).await.ok(200);
    app.get("/metrics", &app.manager(&["905"]))
        .await
        .problem(403, "forbidden");
    let r = app.get("/metrics", &app.admin()).await;
    assert_eq!(r.status.as_u16(), 200);
    assert!(r.content_type().starts_with("text/plain"));
    let text = String::from_utf8(r.bytes.clone()).unwrap();
    assert!(
        text.contains(
            r#"passerelle_http_requests_total{route="/composantes",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("passerelle_http_request_duration_seconds_bucket"));
    assert!(text.contains("passerelle_digiposte_circuit_state"));
    // Every family the issue names is exported, even before it has samples.
    for family in [
        "# TYPE passerelle_jobs_open gauge",
        "# TYPE passerelle_jobs_oldest_age_seconds gauge",
        "passerelle_documents{state=\"transmitted\"} 0",
        "passerelle_documents{state=\"transmission_error\"} 0",
        "passerelle_documents{state=\"not_transmitted\"} 0",
        "passerelle_digiposte_rate_limited_total 0",
        "passerelle_split_duration_seconds_count 0",
        "# TYPE passerelle_split_pages_per_second gauge",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    // A Prometheus service key works too.
    let r = app.get("/metrics", &app.service(&["metrics:read"])).await;
    assert_eq!(r.status.as_u16(), 200);
}

#[actix_web::test]
async fn metrics_can_have_their_own_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::sqlite_with(|c| {
        c.metrics_bind = Some(format!("127.0.0.1:{port}").parse().unwrap())
    })
    .await;
    app.get("/me", &app.admin()).await.ok(200);
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#"route="/me""#), "{text}");
}

both_backends!(
    a_use_case_error_rolls_its_transaction_back,
    use_case_error_rolls_back_body
);
/// A use case answers its own error type: when it fails after writing, nothing it wrote stays,
/// on either backend (as with the API's error type).
async fn use_case_error_rolls_back_body(app: TestApp) {
    use passerelle::auth::DataScope;
    use passerelle::db::composantes::{self, NewComposante};

    #[derive(Debug)]
    struct Refused;
    impl From<passerelle::error::ApiError> for Refused {
        fn from(e: passerelle::error::ApiError) -> Self {
            panic!("the repository failed: {}", e.detail)
        }
    }
    let db = app.db();
    let insert = |code: &'static str| {
        move |conn: &mut passerelle::db::DbConnection| {
            let now = passerelle::db::now();
            composantes::insert(
                conn,
                &NewComposante {
                    code,
                    label: "UFR",
                    created_at: now,
                    updated_at: now,
                },
            )?;
            Ok::<_, Refused>(())
        }
    };
    let failed = db
        .write_as(move |conn| {
            insert("991")(conn)?;
            Err::<(), _>(Refused)
        })
        .await;
    assert!(matches!(failed, Err(Refused)));
    db.write_as(insert("992")).await.unwrap();
    let mut conn = db.conn().unwrap();
    assert!(
        composantes::get(&mut conn, &DataScope::All, "991")
            .unwrap()
            .is_none(),
        "the failed use case's write was rolled back"
    );
    assert!(
        composantes::get(&mut conn, &DataScope::All, "992")
            .unwrap()
            .is_some(),
        "the successful one's was committed"
    );
}

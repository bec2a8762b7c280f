//! The API's contract: the committed OpenAPI document and the problem-code table.

use std::collections::BTreeSet;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use passerelle::error::ErrorCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, Reply, TestApp, row};

fn committed_spec_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json")
}

#[test]
fn committed_openapi_matches_the_code() {
    let generated = passerelle::api::spec_json(&passerelle::app::openapi_spec());
    let committed = std::fs::read_to_string(committed_spec_path()).unwrap_or_default();
    assert!(
        generated == committed,
        "openapi/openapi.json differs from the spec the code generates.\n\
         Regenerate it with:  cargo run -- openapi --out openapi/openapi.json"
    );
}

#[test]
fn every_error_code_is_in_the_openapi_components() {
    let spec: Value =
        serde_json::from_str(&passerelle::api::spec_json(&passerelle::app::openapi_spec()))
            .unwrap();
    let listed: BTreeSet<&str> = spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum component")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let table: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, table);
    assert!(spec["components"]["schemas"]["Problem"].is_object());
}

/// Every code of the table is produced by a real request. A new code without a trigger here
/// fails this test: add the request that produces it.
#[actix_web::test]
async fn every_error_code_is_produced() {
    let produced = produce_every_code().await;
    for (code, reply) in &produced {
        reply.problem(code.status().as_u16(), code.as_str());
    }
    let seen: BTreeSet<ErrorCode> = produced.iter().map(|(c, _)| *c).collect();
    let missing: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| !seen.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "codes never produced by a request: {missing:?}"
    );
}

/// French for people, English for programs: every problem a request produces has its detail
/// (and its field messages) in both languages. The same requests are sent asking for French
/// then English; a detail the same in both is a text that was never translated.
#[actix_web::test]
async fn every_problem_detail_is_bilingual() {
    crate::support::speak(Some("fr"));
    let french = produce_every_code().await;
    crate::support::speak(Some("en"));
    let english = produce_every_code().await;
    crate::support::speak(None);
    assert_eq!(french.len(), english.len());
    let mut untranslated = Vec::new();
    for ((code, fr), (code_en, en)) in french.iter().zip(&english) {
        assert_eq!(code, code_en);
        assert_eq!(fr.body["code"], en.body["code"], "the code never changes");
        let texts = |reply: &Reply| {
            let mut texts = vec![reply.body["title"].clone(), reply.body["detail"].clone()];
            if let Some(errors) = reply.body["errors"].as_array() {
                texts.extend(errors.iter().map(|e| e["message"].clone()));
            }
            texts
        };
        for (fr_text, en_text) in texts(fr).into_iter().zip(texts(en)) {
            if fr_text.is_string() && fr_text == en_text {
                untranslated.push(format!("{}: {fr_text}", code.as_str()));
            }
        }
    }
    assert!(
        untranslated.is_empty(),
        "texts the same in French and English:\n{}",
        untranslated.join("\n")
    );
}

/// Sends a request producing each code of the table, in the language [`crate::support::speak`]
/// asks for, and returns the replies.
async fn produce_every_code() -> Vec<(ErrorCode, Reply)> {
    let app = TestApp::sqlite().await;
    let admin = app.admin();
    app.composantes(&["905"]).await;
    let mut produced: Vec<(ErrorCode, Reply)> = Vec::new();
    let json_post = |body: &'static str, content_type: &'static str| {
        app.request(Method::POST, "/composantes")
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
    };

    produced.push((
        ErrorCode::BadRequest,
        app.send(json_post("garbage", "application/json").header("content-encoding", "gzip"))
            .await,
    ));
    produced.push((
        ErrorCode::MalformedJson,
        app.send(json_post("{", "application/json")).await,
    ));
    // Digiposte: an unsigned receipt, a receipt signed too long ago, a sync without Digiposte.
    produced.push((
        ErrorCode::WebhookSignatureInvalid,
        app.send(
            app.request(Method::POST, "/webhooks/digiposte")
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await,
    ));
    produced.push((
        ErrorCode::WebhookStale,
        app.send(
            app.request(Method::POST, "/webhooks/digiposte")
                .header("X-Digiposte-Timestamp", "1000000000")
                .header("X-Digiposte-Signature", "sha256=00")
                .body("{}"),
        )
        .await,
    ));
    produced.push((
        ErrorCode::DigiposteNotConfigured,
        app.post("/digiposte/sync", &admin, json!({})).await,
    ));
    produced.push((
        ErrorCode::UnknownParameter,
        app.get("/composantes?x=1", &admin).await,
    ));
    produced.push((
        ErrorCode::InvalidParameter,
        app.get("/composantes?page=0", &admin).await,
    ));
    produced.push((
        ErrorCode::ValidationFailed,
        app.post("/composantes", &admin, json!({"code": "", "label": ""}))
            .await,
    ));
    produced.push((
        ErrorCode::Unauthenticated,
        app.call(Method::GET, "/me", None, None).await,
    ));
    produced.push((
        ErrorCode::Forbidden,
        app.post(
            "/composantes",
            &app.manager(&["905"]),
            json!({"code": "1", "label": "x"}),
        )
        .await,
    ));
    produced.push((
        ErrorCode::NotFound,
        app.get("/composantes/000", &admin).await,
    ));
    produced.push((
        ErrorCode::MethodNotAllowed,
        app.call(Method::PATCH, "/composantes", Some(&admin), None)
            .await,
    ));
    produced.push((
        ErrorCode::AlreadyExists,
        app.post("/composantes", &admin, json!({"code": "905", "label": "x"}))
            .await,
    ));
    produced.push((
        ErrorCode::UnsupportedMediaType,
        app.send(json_post("{}", "text/csv")).await,
    ));
    produced.push((
        ErrorCode::InvalidEnrolmentFile,
        app.post("/students/import", &admin, json!({"rows": "none"}))
            .await,
    ));
    app.import(vec![row(
        "21900001",
        "ALPHA",
        "A",
        "905",
        "L1",
        CURRENT_YEAR,
        "E",
    )])
    .await;
    let vault = app.vault_id("21900001").await;
    produced.push((
        ErrorCode::InvalidTransition,
        app.post(&format!("/vaults/{vault}/terminate"), &admin, json!({}))
            .await,
    ));
    app.post(
        "/consents",
        &admin,
        // (An objection to the pre-creation would make the vault "objected" instead.)
        json!({"student": "21900001", "purpose": "document_delivery", "event": "withdrawn", "source": "paper"}),
    )
    .await
    .ok(201);
    produced.push((
        ErrorCode::ConsentRefused,
        app.post(&format!("/vaults/{vault}/subscribe"), &admin, json!({}))
            .await,
    ));
    // Each refusal of the PDF core, through a real upload.
    use passerelle::pdf::fixture::{self, BatchSpec, PageContent, PdfOptions};
    let page = |text: &str| PageContent::Lines(vec![text.to_owned()]);
    let good = fixture::batch(&BatchSpec {
        students: 2,
        ..BatchSpec::default()
    })
    .bytes;
    let with =
        |options: PdfOptions| fixture::write_pdf(&[page("N° Etudiant : 21900001")], &options);
    let pdf_cases: Vec<(ErrorCode, Vec<u8>, &str)> = vec![
        (ErrorCode::EmptyFile, Vec::new(), "releve_notes"),
        (ErrorCode::NotAPdf, b"GIF89a".to_vec(), "releve_notes"),
        (
            ErrorCode::CorruptPdf,
            good[..good.len() / 2].to_vec(),
            "releve_notes",
        ),
        (
            ErrorCode::EncryptedPdf,
            with(PdfOptions {
                encrypt_marker: true,
                ..PdfOptions::default()
            }),
            "releve_notes",
        ),
        (
            ErrorCode::ModifiedPdf,
            fixture::append_incremental_update(&good),
            "releve_notes",
        ),
        (
            ErrorCode::NotFromApogee,
            with(PdfOptions {
                producer: Some("Microsoft Word".into()),
                creator: None,
                ..PdfOptions::default()
            }),
            "releve_notes",
        ),
        (
            ErrorCode::DocumentKindMismatch,
            good.clone(),
            "attestation_reussite",
        ),
        (ErrorCode::UnknownDocumentKind, good.clone(), "diplome"),
    ];
    for (code, bytes, kind) in pdf_cases {
        produced.push((
            code,
            crate::treatments::upload(&app, &admin, bytes, kind, "905").await,
        ));
    }
    produced.push((
        ErrorCode::AcademicYearMismatch,
        crate::treatments::upload_as(
            &app,
            &admin,
            good.clone(),
            &[
                ("document_type", "releve_notes"),
                ("academic_year", "2019"),
                ("composante", "905"),
                ("label", "Relevés"),
            ],
        )
        .await,
    ));
    // Refusals found while splitting are reported on the treatment.
    let split_cases: Vec<(ErrorCode, Vec<u8>, &str)> = vec![
        (
            ErrorCode::ScannedPdf,
            fixture::write_pdf(&[PageContent::Image], &PdfOptions::default()),
            "releve_notes",
        ),
        (
            ErrorCode::NoStudentFound,
            fixture::write_pdf(&[page("Aucun numéro")], &PdfOptions::default()),
            "releve_notes",
        ),
        (
            ErrorCode::AttestationContinuation,
            fixture::write_pdf(
                &[page("21900001 N° étudiant"), page("suite")],
                &PdfOptions::default(),
            ),
            "attestation_reussite",
        ),
    ];
    for (code, bytes, kind) in split_cases {
        let id = crate::treatments::upload(&app, &admin, bytes, kind, "905")
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let t = crate::treatments::wait_split(&app, &id).await;
        assert_eq!(t["rejection"]["code"], code.as_str(), "{t}");
        // The treatment's rejection carries the code and the detail (in the language asked);
        // the table's status is checked here too.
        let detail = t["rejection"]["detail"].as_str().unwrap().to_owned();
        let detail = passerelle::i18n::Text::new(detail.clone(), detail);
        produced.push((code, problem_reply(code, detail)));
    }
    let tight = TestApp::sqlite_with(|c| {
        c.split.max_bytes = 1000;
        c.split.max_pages = 1;
    })
    .await;
    tight.composantes(&["905"]).await;
    produced.push((
        ErrorCode::FileTooLarge,
        crate::treatments::upload(&tight, &tight.admin(), good.clone(), "releve_notes", "905")
            .await,
    ));
    let pages = TestApp::sqlite_with(|c| c.split.max_pages = 1).await;
    pages.composantes(&["905"]).await;
    produced.push((
        ErrorCode::TooComplexPdf,
        crate::treatments::upload(&pages, &pages.admin(), good.clone(), "releve_notes", "905")
            .await,
    ));
    let scanned = produced
        .iter()
        .find(|(c, _)| *c == ErrorCode::CorruptPdf)
        .is_some();
    assert!(scanned);
    let split = fixture::batch(&BatchSpec {
        students: 1,
        ..BatchSpec::default()
    });
    let t = crate::treatments::upload(&app, &admin, split.bytes, "releve_notes", "905")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::treatments::wait_split(&app, &t).await;
    produced.push((
        ErrorCode::ConfirmationMismatch,
        app.post(
            &format!("/treatments/{t}/send"),
            &admin,
            json!({"expected_documents": 99}),
        )
        .await,
    ));
    // The same bytes again, unconfirmed: 409 naming the live treatment.
    let again = fixture::batch(&BatchSpec {
        students: 1,
        ..BatchSpec::default()
    });
    let duplicate =
        crate::treatments::upload(&app, &admin, again.bytes, "releve_notes", "905").await;
    assert_eq!(
        duplicate.body["treatment_id"],
        t.as_str(),
        "{}",
        duplicate.body
    );
    produced.push((ErrorCode::DuplicateUpload, duplicate));
    // A held document sent on its own: 409 with its reason.
    let deliverable =
        app.get(&format!("/treatments/{t}"), &admin).await.body["deliverable"].clone();
    app.post(
        &format!("/treatments/{t}/send"),
        &admin,
        json!({"expected_documents": deliverable}),
    )
    .await
    .ok(202);
    let doc = app
        .get(&format!("/treatments/{t}/documents"), &admin)
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let held = app
        .post(
            &format!("/treatments/{t}/documents/{doc}/send"),
            &admin,
            json!({}),
        )
        .await;
    assert!(held.body["reason"].is_string(), "{}", held.body);
    produced.push((ErrorCode::DocumentHeld, held));
    // A body that stops coming: 408.
    let slow = TestApp::sqlite_with(|c| c.limits.body_idle_timeout_secs = 1).await;
    produced.push((
        ErrorCode::RequestTimeout,
        slow.send(
            slow.request(Method::POST, "/students/import")
                .bearer_auth(slow.admin())
                .header("content-type", "text/csv")
                .body(reqwest::Body::wrap_stream(futures_util::stream::once(
                    async {
                        actix_web::rt::time::sleep(std::time::Duration::from_secs(2)).await;
                        Ok::<_, std::io::Error>("COD_ETU\n")
                    },
                ))),
        )
        .await,
    ));
    // The data directory cannot take a received file: 507, nothing registered.
    let full = TestApp::sqlite().await;
    std::fs::write(full.data_dir().join("tmp"), b"not a directory").unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"COD_ETU;LIB_NOM_PAT_IND\n1;A\n".to_vec())
            .file_name("x.csv"),
    );
    produced.push((
        ErrorCode::StorageUnavailable,
        full.send(
            full.request(Method::POST, "/students/import")
                .bearer_auth(full.admin())
                .multipart(form),
        )
        .await,
    ));

    let small = TestApp::sqlite_with(|c| c.json_limit_bytes = 64).await;
    produced.push((
        ErrorCode::PayloadTooLarge,
        small
            .post(
                "/composantes",
                &small.admin(),
                json!({"code": "1", "label": "y".repeat(500)}),
            )
            .await,
    ));

    let limited = TestApp::sqlite_with(|c| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 1;
    })
    .await;
    let token = limited.admin();
    limited.get("/me", &token).await;
    produced.push((ErrorCode::RateLimited, limited.get("/me", &token).await));

    let locked = TestApp::sqlite_with(|c| c.database_busy_timeout_ms = 100).await;
    let mut holder = diesel::SqliteConnection::establish(
        locked.data_dir().join("passerelle.db").to_str().unwrap(),
    )
    .unwrap();
    holder.batch_execute("BEGIN EXCLUSIVE").unwrap();
    produced.push((
        ErrorCode::DatabaseUnavailable,
        locked
            .post(
                "/composantes",
                &locked.admin(),
                json!({"code": "1", "label": "x"}),
            )
            .await,
    ));
    holder.batch_execute("ROLLBACK").unwrap();

    let broken = TestApp::sqlite().await;
    let mut conn = diesel::SqliteConnection::establish(
        broken.data_dir().join("passerelle.db").to_str().unwrap(),
    )
    .unwrap();
    conn.batch_execute("DROP TABLE enrolments; DROP TABLE composantes;")
        .unwrap();
    produced.push((
        ErrorCode::InternalError,
        broken.get("/composantes", &broken.admin()).await,
    ));

    // Grade transfers: maquette, grade source and ScoDoc codes (against the ScoDoc stand-in).
    produced.extend(crate::grade_transfers::error_replies().await);
    // Lockers: immutability, versions, recipients, quota and types.
    let lockers = TestApp::sqlite_with(crate::lockers::tight).await;
    crate::lockers::setup(&lockers).await;
    let sender = lockers.manager(&["905"]);
    let pdf = crate::lockers::PDF;
    let to = "student:21900001";
    let deposit = |bytes: &'static [u8], recipients: &'static str, replaces: Option<String>| {
        let sender = sender.clone();
        let lockers = &lockers;
        async move {
            crate::lockers::deposit(
                lockers,
                &sender,
                bytes,
                "f",
                "T",
                recipients,
                replaces.as_deref(),
            )
            .await
        }
    };
    let v1 = deposit(pdf, to, None).await.ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    produced.push((
        ErrorCode::DepositImmutable,
        lockers
            .call(
                Method::DELETE,
                &format!("/lockers/deposits/{v1}"),
                Some(&sender),
                None,
            )
            .await,
    ));
    deposit(pdf, to, Some(v1.clone())).await.ok(201);
    produced.push((
        ErrorCode::DepositSuperseded,
        deposit(pdf, to, Some(v1)).await,
    ));
    produced.push((
        ErrorCode::UnknownRecipient,
        deposit(pdf, "student:00000000", None).await,
    ));
    produced.push((
        ErrorCode::ForbiddenFileType,
        deposit(b"\x7fELF\x02\x01\x01\x00", to, None).await,
    ));
    deposit(&[b'a'; 900], to, None).await.ok(201);
    deposit(&[b'b'; 900], to, None).await.ok(201);
    produced.push((
        ErrorCode::QuotaExceeded,
        deposit(&[b'c'; 900], to, None).await,
    ));

    // A valid token of a trusted OpenID provider whose claims make no role (tests/api/oidc.rs
    // has the provider; without node it is skipped there, and the table's status checked here).
    if crate::oidc::provider_available() {
        let provider_dir = tempfile::tempdir().unwrap();
        let trusting = TestApp::sqlite_with(crate::oidc::trust_provider).await;
        let issuer = &trusting.config.auth.issuers[0].issuer;
        let port = issuer.rsplit(':').next().unwrap().parse().unwrap();
        let provider = crate::oidc::Provider::start(provider_dir.path(), port, &[("a", "RSA")]);
        let alum = provider.person_token("alum", crate::oidc::AUDIENCE).await;
        produced.push((ErrorCode::NoRoleForToken, trusting.get("/me", &alum).await));
    } else {
        produced.push((
            ErrorCode::NoRoleForToken,
            problem_reply(
                ErrorCode::NoRoleForToken,
                passerelle::auth::oidc::mapping::NoRole { reasons: vec![] }.text(),
            ),
        ));
    }

    produced
}

/// A reply built from a problem the server recorded on a treatment rather than answered:
/// the split's refusals surface on `GET /treatments/{id}` (with their `detail`), not as an
/// HTTP error.
fn problem_reply(code: ErrorCode, detail: passerelle::i18n::Text) -> Reply {
    let error = passerelle::error::ApiError::new(code, detail);
    let lang = passerelle::i18n::Lang::from_accept_language(crate::support::spoken());
    let body = serde_json::to_value(error.problem_in(lang)).unwrap();
    Reply {
        status: reqwest::StatusCode::from_u16(code.status().as_u16()).unwrap(),
        headers: reqwest::header::HeaderMap::from_iter([(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/problem+json"),
        )]),
        bytes: body.to_string().into_bytes(),
        body,
    }
}

/// Dotted names of every configuration key (nested sections joined with `.`).
fn config_keys(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                config_keys(&name, v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

/// Every configuration key has its row in the README's one configuration table, with the
/// environment variable that sets it.
#[test]
fn every_configuration_key_is_documented() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let mut keys = Vec::new();
    config_keys(
        "",
        &serde_json::to_value(passerelle::config::Config::default()).unwrap(),
        &mut keys,
    );
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| {
            let env = format!("PASSERELLE_{}", k.to_uppercase().replace('.', "__"));
            !readme.contains(&format!("| `{k}` | `{env}` |"))
        })
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "configuration keys without a README row `| `key` | `PASSERELLE_…` | default | meaning |`: {missing:?}"
    );
}

/// `METHOD /path/{}/template` for a spec path or a collection URL: `{param}` and `{{var}}`
/// segments both become `{}`.
fn operation_key(method: &str, segments: &[&str]) -> String {
    let path: Vec<&str> = segments
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| if s.contains('{') { "{}" } else { *s })
        .collect();
    format!("{} /{}", method.to_uppercase(), path.join("/"))
}

/// The passerelle requests of a Postman collection (v2.1): folders are walked; requests to
/// another host (digiposte-sim's `{{simUrl}}`) are left out. Each with whether it has a test
/// script.
fn collection_requests(items: &Value, out: &mut Vec<(String, String, bool)>) {
    for item in items.as_array().into_iter().flatten() {
        if let Some(children) = item.get("item") {
            collection_requests(children, out);
            continue;
        }
        let request = &item["request"];
        let url = &request["url"];
        let raw = url["raw"].as_str().unwrap_or_default();
        if !raw.starts_with("{{baseUrl}}") {
            continue;
        }
        let segments: Vec<&str> = match url["path"].as_array() {
            Some(p) => p.iter().filter_map(Value::as_str).collect(),
            None => raw["{{baseUrl}}".len()..]
                .split('?')
                .next()
                .unwrap_or_default()
                .split('/')
                .collect(),
        };
        let tested = item["event"].as_array().into_iter().flatten().any(|e| {
            e["listen"] == "test"
                && e["script"]["exec"].as_array().is_some_and(|lines| {
                    lines
                        .iter()
                        .any(|l| l.as_str().is_some_and(|l| l.contains("pm.test(")))
                })
        });
        out.push((
            operation_key(request["method"].as_str().unwrap_or("GET"), &segments),
            item["name"].as_str().unwrap_or_default().to_owned(),
            tested,
        ));
    }
}

#[test]
fn postman_collection_covers_every_operation() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(committed_spec_path()).unwrap()).unwrap();
    let collection: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("postman/passerelle.postman_collection.json"))
            .expect("postman/passerelle.postman_collection.json"),
    )
    .expect("the collection is JSON");
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                let segments: Vec<&str> = path.split('/').collect();
                operations.insert(operation_key(method, &segments));
            }
        }
    }
    let mut requests = Vec::new();
    collection_requests(&collection["item"], &mut requests);
    let covered: BTreeSet<String> = requests.iter().map(|(k, _, _)| k.clone()).collect();

    let missing: Vec<&String> = operations.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "operations of openapi/openapi.json without a request in the Postman collection \
         (add them to postman/build_collection.py, then run it):\n  {}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    let stale: Vec<&String> = covered.difference(&operations).collect();
    assert!(
        stale.is_empty(),
        "requests of the Postman collection that are not operations of the spec:\n  {}",
        stale
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    let untested: Vec<&str> = requests
        .iter()
        .filter(|(_, _, tested)| !*tested)
        .map(|(_, name, _)| name.as_str())
        .collect();
    assert!(
        untested.is_empty(),
        "requests without a pm.test: {untested:?}"
    );

    // The normalisation itself: a `{{var}}` segment matches a `{param}` one.
    assert_eq!(
        operation_key(
            "post",
            &["", "treatments", "{id}", "documents", "{doc}", "pdf"]
        ),
        operation_key(
            "POST",
            &[
                "treatments",
                "{{treatmentId}}",
                "documents",
                "{{documentId}}",
                "pdf"
            ]
        )
    );
    assert_ne!(
        operation_key("GET", &["", "vaults", "summary"]),
        operation_key("GET", &["vaults", "{{vaultId}}"])
    );
}

#[test]
fn example_configuration_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/passerelle.example.toml");
    let config = passerelle::config::Config::load(Some(&path))
        .unwrap_or_else(|e| panic!("deploy/passerelle.example.toml: {e}"));
    assert_eq!(config.database_pool_size, 16);
    assert_eq!(config.digiposte.quota_per_minute, 100);
    assert!(config.metrics_bind.is_some());
}

/// With `auth.issuers`, the served spec declares the first provider's sign-in (`openIdConnect`
/// at its discovery address) beside the bearer scheme on every operation that needs
/// credentials; the committed snapshot (no issuers) has the bearer scheme only.
#[actix_web::test]
async fn served_spec_declares_the_openid_provider() {
    let app = TestApp::sqlite_with(crate::oidc::trust_provider).await;
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        app.config.auth.issuers[0].issuer
    );
    let reply = app.send(app.request(Method::GET, "/openapi.json")).await;
    let spec = reply.ok(200);
    assert_eq!(
        spec["components"]["securitySchemes"]["oidc"],
        json!({"type": "openIdConnect", "openIdConnectUrl": discovery,
               "description": spec["components"]["securitySchemes"]["oidc"]["description"]})
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut secured = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(security) = operation.get("security") else {
                continue;
            };
            assert_eq!(
                security,
                &json!([{"bearer": []}, {"oidc": []}]),
                "{method} {path}"
            );
            secured += 1;
        }
    }
    assert!(secured > 50, "{secured} secured operations");

    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(committed_spec_path()).unwrap()).unwrap();
    assert!(committed["components"]["securitySchemes"]["oidc"].is_null());

    // Swagger UI's "Authorize" uses the authorization code with PKCE, as the configured client.
    let initializer = app
        .send(app.request(Method::GET, "/swagger-ui/swagger-initializer.js"))
        .await;
    let script: String = String::from_utf8_lossy(&initializer.bytes)
        .split_whitespace()
        .collect();
    assert!(script.contains("ui.initOAuth("), "{script}");
    assert!(
        script.contains(r#""usePkceWithAuthorizationCodeGrant":true"#),
        "{script}"
    );
    assert!(script.contains(r#""clientId":"swagger-ui""#), "{script}");
}

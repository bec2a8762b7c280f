//! Document kinds as configuration: a third kind (the certificat de scolarité of the README's
//! example) is validated at upload, recognised and split by its configured rules, labelled in
//! French and English where people read it, and deposited at Digiposte with its configured
//! title and document-nature code; an unknown kind and a kind the pages contradict are refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use passerelle::config::Config;
use passerelle::pdf::fixture::{self, BatchSpec, Edition};
use reqwest::Method;
use serde_json::Value;

use crate::digiposte::{
    Sim, app_with, postgres_configured, send, subscribe_all, until, wait_final, with_sim,
};
use crate::support::{TestApp, both_backends};
use crate::treatments::{batch_imported, upload, wait_split};

const CERTIFICAT: &str = "certificat_scolarite";
const CERTIFICAT_TYPE: &str = "CERTIFICAT_SCOLARITE";

fn with_certificat(c: &mut Config) {
    c.document_kinds.push(fixture::certificat_scolarite_kind());
}

fn certificats(students: usize) -> BatchSpec {
    BatchSpec {
        students,
        seed: 19,
        kind: Edition::CertificatScolarite,
        ..BatchSpec::default()
    }
}

async fn get_in(app: &TestApp, path: &str, token: &str, lang: &str) -> crate::support::Reply {
    app.send(
        app.request(Method::GET, path)
            .bearer_auth(token)
            .header("Accept-Language", lang),
    )
    .await
}

/// The upload's kind check and the pages' kind check, with a third kind configured.
async fn declared_kinds_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let admin = app.admin();
    let batch = batch_imported(&app, &certificats(3)).await;

    // Not a configured kind: 422 naming the kinds that are.
    let r = upload(&app, &admin, batch.bytes.clone(), "diplome", "905").await;
    let p = r.problem(422, "unknown_document_kind");
    assert_eq!(
        p["known_kinds"],
        serde_json::json!(["releve_notes", "attestation_reussite", CERTIFICAT])
    );
    assert!(p["detail"].as_str().unwrap().contains("« diplome »"), "{p}");
    // Nothing was recorded for it.
    let list = app.get("/treatments", &admin).await;
    assert_eq!(list.ok(200)["total"], 0, "{}", list.body);

    // Certificats declared as relevés, and relevés declared as certificats.
    let r = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await;
    let p = r.problem(422, "document_kind_mismatch");
    assert_eq!(p["declared"], "releve_notes");
    assert_eq!(p["found"], CERTIFICAT);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("Certificat de scolarité"),
        "{p}"
    );
    let releves = fixture::batch(&BatchSpec {
        students: 2,
        seed: 7,
        ..BatchSpec::default()
    });
    let r = upload(&app, &admin, releves.bytes, CERTIFICAT, "905").await;
    let p = r.problem(422, "document_kind_mismatch");
    assert_eq!(
        (&p["declared"], &p["found"]),
        (&CERTIFICAT.into(), &"releve_notes".into())
    );

    // Declared as what they are: split one page per student, labelled as configured.
    let r = upload(&app, &admin, batch.bytes.clone(), CERTIFICAT, "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["document_type"], CERTIFICAT);
    let t = wait_split(&app, &id).await;
    assert_eq!(t["status"], "split", "{t}");
    assert_eq!(t["document_type_label"], "Certificat de scolarité");
    assert_eq!(t["blocks"]["students"], 3, "{t}");
    let en = get_in(&app, &format!("/treatments/{id}"), &admin, "en").await;
    assert_eq!(
        en.ok(200)["document_type_label"],
        "Certificate of enrolment"
    );
    let docs = app
        .get(&format!("/treatments/{id}/documents"), &admin)
        .await;
    let pages: Vec<(String, Vec<u32>)> = docs.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["cod_etu"].as_str().unwrap().to_owned(),
                serde_json::from_value(d["pages"].clone()).unwrap(),
            )
        })
        .collect();
    let mut expected = batch.expected.clone();
    expected.sort();
    let mut pages = pages;
    pages.sort();
    assert_eq!(pages, expected);
    // The list filters by the kind (the refused relevés declared as certificats included),
    // and its CSV names it in French.
    let list = app
        .get(&format!("/treatments?document_type={CERTIFICAT}"), &admin)
        .await;
    assert_eq!(list.ok(200)["total"], 2);
    let split = app
        .get(
            &format!("/treatments?document_type={CERTIFICAT}&status=split"),
            &admin,
        )
        .await;
    assert_eq!(split.ok(200)["items"][0]["id"], id.as_str());
    let none = app
        .get("/treatments?document_type=attestation_reussite", &admin)
        .await;
    assert_eq!(none.ok(200)["total"], 0);
    let csv = get_in(&app, "/treatments?format=csv", &admin, "en").await;
    let text = String::from_utf8(csv.bytes.clone()).unwrap();
    assert!(text.contains(";Certificat de scolarité;905;"), "{text}");
}
both_backends!(declared_kinds, declared_kinds_body, super::with_certificat);

/// A transparent proxy in front of the Digiposte stand-in that keeps the `type` and `title`
/// of every deposit passerelle sends (the stand-in checks the call; this reads what it said).
struct Recorder {
    url: String,
    deposits: Arc<Mutex<Vec<(String, String)>>>,
}

/// One text field of a multipart body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let head = format!("name=\"{name}\"");
    let at = text.find(&head)?;
    let start = at + text[at..].find("\r\n\r\n")? + 4;
    let end = start + text[start..].find("\r\n--")?;
    Some(text[start..end].to_owned())
}

impl Recorder {
    fn start(target: String) -> Recorder {
        let deposits = Arc::new(Mutex::new(Vec::new()));
        let kept = deposits.clone();
        let http = reqwest::Client::new();
        let server = actix_web::HttpServer::new(move || {
            let (target, kept, http) = (target.clone(), kept.clone(), http.clone());
            actix_web::App::new().default_service(web::to(
                move |req: HttpRequest, body: web::Bytes| {
                    let (target, kept, http) = (target.clone(), kept.clone(), http.clone());
                    async move {
                        if req.path().ends_with("/document/certified")
                            && let (Some(t), Some(title)) =
                                (form_field(&body, "type"), form_field(&body, "title"))
                        {
                            kept.lock().unwrap().push((t, title));
                        }
                        let method = Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
                        let mut out = http.request(method, format!("{target}{}", req.uri()));
                        for (k, v) in req.headers() {
                            if k != "host" {
                                out = out.header(k.as_str(), v.as_bytes());
                            }
                        }
                        let answer = out.body(body.to_vec()).send().await.unwrap();
                        let mut reply = HttpResponse::build(
                            actix_web::http::StatusCode::from_u16(answer.status().as_u16())
                                .unwrap(),
                        );
                        if let Some(ct) = answer.headers().get("content-type") {
                            reply.insert_header(("content-type", ct.as_bytes()));
                        }
                        reply.body(answer.bytes().await.unwrap())
                    }
                },
            ))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}", server.addrs()[0]);
        actix_web::rt::spawn(server.run());
        Recorder { url, deposits }
    }
}

/// The certificats are delivered with the configured title and document-nature code; the
/// stand-in knows no other code, so a deposit typed otherwise would be refused.
async fn deposited_body(postgres: bool) {
    let sim = Sim::start(&["--document-types", CERTIFICAT_TYPE]);
    let recorder = Recorder::start(sim.url.clone());
    let proxied = recorder.url.clone();
    let app = app_with(&sim, postgres, move |c| {
        with_certificat(c);
        c.digiposte
            .document_types
            .insert(CERTIFICAT.into(), CERTIFICAT_TYPE.into());
        c.digiposte.base_url = format!("{proxied}/digiposte/v3");
        // The proxy is one more hop: a slow answer must not end a deposit "uncertain".
        c.digiposte.timeout_ms = 10_000;
    })
    .await;
    app.composantes(&["905"]).await;
    let batch = batch_imported(&app, &certificats(3)).await;
    subscribe_all(&app, 3).await;
    let r = upload(&app, &app.admin(), batch.bytes.clone(), CERTIFICAT, "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    until("the split", Duration::from_secs(60), async || {
        let r = app.get(&format!("/treatments/{id}"), &app.admin()).await;
        (r.body["status"] == "split").then_some(())
    })
    .await;
    assert_eq!(send(&app, &id).await, 3);
    let counts = wait_final(&app, &id, Duration::from_secs(180)).await;
    assert_eq!(counts.get("transmitted"), Some(&3), "{counts:?}");
    let deposits = recorder.deposits.lock().unwrap().clone();
    assert_eq!(deposits.len(), 3, "{deposits:?}");
    for (doc_type, title) in &deposits {
        assert_eq!(doc_type, CERTIFICAT_TYPE);
        assert_eq!(title, "Certificat de scolarité 2025-2026");
    }
    assert_eq!(sim.stats().await["rejected_400"], 0);
    // The student reads the kind in the vault's documents, in both languages.
    let student = app.student(&batch.students[0].cod_etu);
    let me = app.get("/me/vault", &student).await;
    let docs: Vec<Value> = me.ok(200)["documents"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 1, "{}", me.body);
    assert_eq!(docs[0]["document_type"], CERTIFICAT);
    assert_eq!(docs[0]["document_type_label"], "Certificat de scolarité");
    let en = get_in(&app, "/me/vault", &student, "en").await;
    assert_eq!(
        en.ok(200)["documents"][0]["document_type_label"],
        "Certificate of enrolment"
    );
}
with_sim!(
    a_configured_kind_is_deposited_with_its_title_and_type,
    deposited_body
);

/// Without a code for the kind, nothing is deposited (Digiposte would refuse it): the
/// documents end "Non transmis" with the reason, and the stand-in saw no deposit.
async fn unconfigured_type_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, with_certificat).await;
    app.composantes(&["905"]).await;
    let batch = batch_imported(&app, &certificats(2)).await;
    subscribe_all(&app, 2).await;
    let r = upload(&app, &app.admin(), batch.bytes, CERTIFICAT, "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    until("the split", Duration::from_secs(60), async || {
        let r = app.get(&format!("/treatments/{id}"), &app.admin()).await;
        (r.body["status"] == "split").then_some(())
    })
    .await;
    send(&app, &id).await;
    let counts = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(counts.get("not_transmitted"), Some(&2), "{counts:?}");
    for d in crate::digiposte::documents(&app, &id).await {
        assert_eq!(
            d["delivery_reason"],
            "digiposte_document_type_not_configured"
        );
    }
    assert_eq!(sim.stats().await["deposits_total"], 0);
}
with_sim!(
    a_kind_without_a_digiposte_type_is_never_deposited,
    unconfigured_type_body
);

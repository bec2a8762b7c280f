//! Uploads and treatments through HTTP: a real batch is uploaded, split by the background job,
//! listed by blocks, previewed, checked against the registry, cancelled.

use std::time::Duration;

use passerelle::domain::vault::VaultTrigger;
use passerelle::pdf::fixture::{self, BatchSpec};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, Reply, TestApp, both_backends, row};

pub async fn upload(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    document_type: &str,
    composante: &str,
) -> Reply {
    upload_as(
        app,
        token,
        bytes,
        &[
            ("document_type", document_type),
            ("composante", composante),
            ("academic_year", &CURRENT_YEAR.to_string()),
            ("label", "Relevés L1 Informatique — session 1"),
        ],
    )
    .await
}

/// [`upload`] of bytes already uploaded as `replace_of`, confirming a new treatment on
/// purpose (without the confirmation: 409 `duplicate_upload`).
pub async fn upload_again(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    composante: &str,
    replace_of: &str,
) -> Reply {
    upload_as(
        app,
        token,
        bytes,
        &[
            ("document_type", "releve_notes"),
            ("composante", composante),
            ("academic_year", &CURRENT_YEAR.to_string()),
            ("label", "Relevés L1 Informatique — session 1"),
            ("replace_of", replace_of),
        ],
    )
    .await
}

/// `POST /uploads` of `bytes` with these text fields.
pub async fn upload_as(
    app: &TestApp,
    token: &str,
    bytes: Vec<u8>,
    fields: &[(&str, &str)],
) -> Reply {
    let form = fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |form, (name, value)| {
            form.text(name.to_string(), value.to_string())
        });
    let form = form.part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("releves.pdf"),
    );
    app.send(
        app.request(Method::POST, "/uploads")
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

/// Polls the treatment until it leaves `splitting`.
pub async fn wait_split(app: &TestApp, id: &str) -> Value {
    for _ in 0..200 {
        let r = app.get(&format!("/treatments/{id}"), &app.admin()).await;
        if r.ok(200)["status"] != "splitting" {
            return r.body;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the split did not finish");
}

/// Imports the batch's students (composante 905, valid enrolment) and returns the batch.
pub async fn batch_with_students(app: &TestApp, students: usize) -> fixture::Batch {
    batch_imported(
        app,
        &BatchSpec {
            students,
            seed: 42,
            ..BatchSpec::default()
        },
    )
    .await
}

/// A generated batch whose students are imported (composante 905, L1INF) first.
pub async fn batch_imported(app: &TestApp, spec: &BatchSpec) -> fixture::Batch {
    let batch = fixture::batch(spec);
    let rows = batch
        .students
        .iter()
        .map(|s| {
            let mut r = row(
                &s.cod_etu,
                &s.last_name,
                &s.first_name,
                "905",
                "L1INF",
                CURRENT_YEAR,
                "E",
            );
            r["ine"] = json!(s.ine);
            r
        })
        .collect();
    app.import(rows).await;
    batch
}

pub fn activate(app: &TestApp, cod_etu: &str) {
    use diesel::prelude::*;
    use passerelle::db::schema::{students, vaults};
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let vault_id: String = vaults::table
        .inner_join(students::table)
        .filter(students::cod_etu.eq(cod_etu))
        .select(vaults::id)
        .first(&mut *conn)
        .unwrap();
    let vault = passerelle::db::vaults::find(&mut conn, &vault_id).unwrap();
    passerelle::db::vaults::transition(
        &mut conn,
        &vault,
        VaultTrigger::SubscriptionSucceeded,
        "test:digiposte",
        None,
    )
    .unwrap();
}

both_backends!(upload_split_blocks_preview_cancel, upload_body);
async fn upload_body(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    let batch = batch_with_students(&app, 8).await;
    activate(&app, &batch.students[0].cod_etu);
    activate(&app, &batch.students[1].cod_etu);
    let manager = app.manager(&["905"]);
    let r = upload(&app, &manager, batch.bytes.clone(), "releve_notes", "905").await;
    assert_eq!(r.ok(202)["status"], "splitting", "{}", r.body);
    let location = r.headers["location"].to_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/treatments/{id}"));

    let t = wait_split(&app, &id).await;
    assert_eq!(t["status"], "split");
    assert_eq!(t["status_label"], "Fichier découpé");
    assert_eq!(t["skipped_pages"], json!(batch.skipped));
    let pages: usize =
        batch.expected.iter().map(|(_, p)| p.len()).sum::<usize>() + batch.skipped.len();
    assert_eq!(t["pages_total"], pages);
    assert_eq!(t["pages_done"], pages);
    assert_eq!(
        t["blocks"],
        json!({
            "students": 8, "with_vault": 2, "without_vault": 6, "outside_composante": 0,
            "held": [{"reason": "no_active_vault", "label": "Étudiant sans coffre", "count": 6}],
            "frozen_at": null, "sent": null,
        })
    );

    // The blocks list the right students; every document matches the batch's truth.
    let all = app
        .get(
            &format!("/treatments/{id}/documents?per_page=100"),
            &manager,
        )
        .await;
    let docs = all.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 8);
    for (cod, pages) in &batch.expected {
        let d = docs.iter().find(|d| d["cod_etu"] == cod.as_str()).unwrap();
        assert_eq!(d["pages"], json!(pages));
        assert_eq!(d["flags"], json!([]), "{d}");
        assert_eq!(d["needs_identity_check"], false);
    }
    let with = app
        .get(
            &format!("/treatments/{id}/documents?block=with_vault"),
            &manager,
        )
        .await;
    let with_codes: Vec<&str> = with.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cod_etu"].as_str().unwrap())
        .collect();
    let mut expected = vec![
        batch.students[0].cod_etu.as_str(),
        batch.students[1].cod_etu.as_str(),
    ];
    expected.sort();
    assert_eq!(with_codes, expected);
    let without = app
        .get(
            &format!("/treatments/{id}/documents?block=without_vault"),
            &manager,
        )
        .await;
    assert_eq!(without.ok(200)["total"], 6);

    // Preview: the student's own standalone PDF.
    let doc = &docs[0];
    let pdf = app
        .send(
            app.request(
                Method::GET,
                &format!(
                    "/treatments/{id}/documents/{}/pdf",
                    doc["id"].as_str().unwrap()
                ),
            )
            .bearer_auth(&manager),
        )
        .await;
    assert_eq!(pdf.status.as_u16(), 200);
    assert_eq!(pdf.content_type(), "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    assert_eq!(
        passerelle::storage::sha256_hex(&pdf.bytes),
        doc["sha256"].as_str().unwrap()
    );

    // The treatment list shows it; another composante's manager sees nothing of it.
    let list = app.get("/treatments?status=split", &manager).await;
    assert_eq!(list.ok(200)["total"], 1);
    let other = app.manager(&["906"]);
    app.get(&format!("/treatments/{id}"), &other)
        .await
        .problem(404, "not_found");
    app.get(&format!("/treatments/{id}/documents"), &other)
        .await
        .problem(404, "not_found");
    assert_eq!(app.get("/treatments", &other).await.ok(200)["total"], 0);

    // Cancel: only while split; the files go.
    let c = app
        .post(&format!("/treatments/{id}/cancel"), &manager, json!({}))
        .await;
    assert_eq!(c.ok(200)["status_label"], "Annulé par l'utilisateur");
    app.post(&format!("/treatments/{id}/cancel"), &manager, json!({}))
        .await
        .problem(409, "invalid_transition");
    let gone = app
        .get(
            &format!(
                "/treatments/{id}/documents/{}/pdf",
                doc["id"].as_str().unwrap()
            ),
            &manager,
        )
        .await;
    gone.problem(404, "not_found");
    // Upload and cancel were audited.
    let audit = app
        .get("/audit?action=treatment.upload", &app.admin())
        .await;
    assert_eq!(audit.ok(200)["total"], 1);
}

both_backends!(
    identity_mismatch_and_unknown_students_are_held,
    identity_body
);
async fn identity_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = fixture::batch(&BatchSpec {
        students: 3,
        seed: 5,
        cover_page: false,
        ..BatchSpec::default()
    });
    // The registry knows student 0 under another name, student 1 rightly, student 2 not at all.
    let s = &batch.students;
    app.import(vec![
        row(
            &s[0].cod_etu,
            "QUELQU'UN D'AUTRE",
            "Autre",
            "905",
            "L1",
            CURRENT_YEAR,
            "E",
        ),
        row(
            &s[1].cod_etu,
            &s[1].last_name,
            &s[1].first_name,
            "905",
            "L1",
            CURRENT_YEAR,
            "E",
        ),
    ])
    .await;
    let manager = app.manager(&["905"]);
    let id = upload(&app, &manager, batch.bytes.clone(), "releve_notes", "905")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_split(&app, &id).await;
    let docs = app
        .get(&format!("/treatments/{id}/documents"), &manager)
        .await;
    let items = docs.ok(200)["items"].as_array().unwrap().clone();
    let by = |cod: &str| items.iter().find(|d| d["cod_etu"] == cod).unwrap().clone();
    let mismatch = by(&s[0].cod_etu);
    assert_eq!(mismatch["flags"], json!(["identity_mismatch"]));
    assert_eq!(mismatch["needs_identity_check"], true);
    assert_eq!(by(&s[1].cod_etu)["flags"], json!([]));
    assert_eq!(by(&s[2].cod_etu)["flags"], json!(["unknown_student"]));
    // A manager confirms after checking the paper: the document becomes deliverable.
    let doc_id = mismatch["id"].as_str().unwrap();
    let c = app
        .post(
            &format!("/treatments/{id}/documents/{doc_id}/confirm-identity"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(c.ok(200)["needs_identity_check"], false);
    assert_eq!(c.body["identity_confirmed_by"], "manager:manager-905");
    app.post(
        &format!("/treatments/{id}/documents/{doc_id}/confirm-identity"),
        &manager,
        json!({}),
    )
    .await
    .problem(409, "invalid_transition");
}

both_backends!(refused_batches_are_listed_with_their_reason, refused_body);
async fn refused_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let manager = app.manager(&["905"]);
    let r = upload(
        &app,
        &manager,
        b"GIF89a not a pdf".to_vec(),
        "releve_notes",
        "905",
    )
    .await;
    r.problem(422, "not_a_pdf");
    let id = r.body["treatment_id"].as_str().unwrap().to_owned();
    let t = app.get(&format!("/treatments/{id}"), &manager).await;
    assert_eq!(t.ok(200)["status"], "split_failed");
    assert_eq!(t.body["status_label"], "Erreur de découpage");
    assert_eq!(t.body["rejection"]["code"], "not_a_pdf");
    let foreign = fixture::write_pdf(
        &[fixture::PageContent::Lines(vec![
            "N° Etudiant : 21900001".into(),
        ])],
        &fixture::PdfOptions {
            producer: Some("Microsoft Word".into()),
            creator: Some("Microsoft Word".into()),
            ..Default::default()
        },
    );
    upload(&app, &manager, foreign, "releve_notes", "905")
        .await
        .problem(422, "not_from_apogee");
    upload(&app, &manager, Vec::new(), "releve_notes", "905")
        .await
        .problem(422, "empty_file");
    assert_eq!(
        app.get("/treatments?status=split_failed", &manager)
            .await
            .ok(200)["total"],
        3
    );
    // Bad fields and foreign composantes are 422s; students may not upload.
    let batch = fixture::batch(&BatchSpec::default()).bytes;
    upload(&app, &manager, batch.clone(), "bulletin", "905")
        .await
        .problem(422, "unknown_document_kind");
    upload(
        &app,
        &app.manager(&["906"]),
        batch.clone(),
        "releve_notes",
        "905",
    )
    .await
    .problem(422, "validation_failed");
    upload(&app, &app.student("21900001"), batch, "releve_notes", "905")
        .await
        .problem(403, "forbidden");
}

#[actix_web::test]
async fn oversized_batches_are_refused_while_streaming() {
    let app = TestApp::sqlite_with(|c| c.split.max_bytes = 10_000).await;
    app.composantes(&["905"]).await;
    let batch = fixture::batch(&BatchSpec::default()).bytes;
    assert!(batch.len() > 10_000);
    let r = upload(&app, &app.admin(), batch, "releve_notes", "905").await;
    r.problem(413, "file_too_large");
    // Nothing was registered.
    assert_eq!(
        app.get("/treatments", &app.admin()).await.ok(200)["total"],
        0
    );
}

/// Sets a document's delivery to a final state reached `days_ago` days ago: `transmitted` as
/// Digiposte's receipt would, `no_vault` as the send does for a student without a vault.
fn finish_delivery(app: &TestApp, document_id: &str, status: &str, days_ago: i64) {
    use diesel::prelude::*;
    use passerelle::db::schema::documents;
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let at = passerelle::db::now() - chrono::Duration::days(days_ago);
    let receipt_at = (status == "transmitted").then_some(at);
    diesel::update(documents::table.find(document_id))
        .set((
            documents::delivery_status.eq(status),
            documents::receipt_at.eq(receipt_at),
            documents::updated_at.eq(at),
        ))
        .execute(&mut *conn)
        .unwrap();
}

both_backends!(
    retention_deletes_delivered_pdfs_after_their_time,
    retention_body,
    |c: &mut passerelle::config::Config| c.retention.check_interval_secs = 1
);
async fn retention_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 4).await;
    let admin = app.admin();
    let r = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    wait_split(&app, &id).await;
    let docs = app
        .get(&format!("/treatments/{id}/documents"), &admin)
        .await
        .ok(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    let doc_id = |i: usize| docs[i]["id"].as_str().unwrap().to_owned();
    let pdf = |i: usize| format!("/treatments/{id}/documents/{}/pdf", doc_id(i));
    // Delivered 31 days ago (past the default 30), 29 days ago (within), never sent, and
    // not sent 31 days ago because the student had no vault (a later send is a new
    // treatment, so that file is kept no longer than a delivered one).
    finish_delivery(&app, &doc_id(0), "transmitted", 31);
    finish_delivery(&app, &doc_id(1), "transmitted", 29);
    finish_delivery(&app, &doc_id(3), "no_vault", 31);

    let mut deleted = false;
    for _ in 0..100 {
        if app.get(&pdf(0), &admin).await.status.as_u16() == 404
            && app.get(&pdf(3), &admin).await.status.as_u16() == 404
        {
            deleted = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        deleted,
        "the expired PDFs were not deleted by the retention job"
    );
    // The blob is gone from the data directory; the others stay.
    let blob = |i: usize| {
        let sha = docs[i]["sha256"].as_str().unwrap();
        app.data_dir().join("blobs").join(&sha[..2]).join(&sha[2..])
    };
    assert!(!blob(0).exists() && !blob(3).exists());
    assert!(blob(1).exists() && blob(2).exists());
    assert_eq!(app.get(&pdf(1), &admin).await.status.as_u16(), 200);
    assert_eq!(app.get(&pdf(2), &admin).await.status.as_u16(), 200);
    // The treatment keeps the document's hash and state.
    let after = app
        .get(&format!("/treatments/{id}/documents"), &admin)
        .await;
    let kept = after.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == docs[0]["id"])
        .unwrap()
        .clone();
    assert_eq!(kept["sha256"], docs[0]["sha256"]);
    assert_eq!(kept["delivery_status"], "transmitted");
    assert_eq!(kept["file_available"], false, "{kept}");
}

both_backends!(
    the_same_batch_uploaded_twice_gives_the_same_document_hashes,
    same_hashes_body
);
async fn same_hashes_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_imported(
        &app,
        &BatchSpec {
            students: 12,
            seed: 7,
            bold_font_and_logo: true,
            ..BatchSpec::default()
        },
    )
    .await;
    let manager = app.manager(&["905"]);
    let mut hashes = Vec::new();
    let mut first: Option<String> = None;
    for _ in 0..2 {
        // The second upload of the same bytes is made on purpose, as a user re-sending a batch
        // (confirmed: without `replace_of` it is refused).
        let r = match &first {
            None => upload(&app, &manager, batch.bytes.clone(), "releve_notes", "905").await,
            Some(earlier) => {
                upload_again(&app, &manager, batch.bytes.clone(), "905", earlier).await
            }
        };
        let id = r.ok(202)["id"].as_str().unwrap().to_owned();
        first.get_or_insert(id.clone());
        assert_eq!(wait_split(&app, &id).await["status"], "split");
        let docs = app
            .get(
                &format!("/treatments/{id}/documents?per_page=100"),
                &manager,
            )
            .await;
        let mut by_student: Vec<(String, String)> = docs.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["cod_etu"].as_str().unwrap().to_owned(),
                    d["sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        by_student.sort();
        assert_eq!(by_student.len(), 12);
        hashes.push(by_student);
    }
    assert_eq!(
        hashes[0], hashes[1],
        "a student's document hash changed between uploads"
    );
}

both_backends!(
    confirm_identity_answers_a_document_past_the_first_500,
    confirm_far_body
);
async fn confirm_far_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = fixture::batch(&BatchSpec {
        students: 601,
        seed: 11,
        kind: passerelle::pdf::fixture::Edition::Attestation,
        cover_page: false,
        ..BatchSpec::default()
    });
    // Documents are listed by student number: the 600th is the one the registry knows under
    // another name, so it needs its identity confirmed.
    let far = &batch.students[599];
    let rows = batch
        .students
        .iter()
        .map(|s| {
            let name = if s.cod_etu == far.cod_etu {
                "QUELQU'UN D'AUTRE"
            } else {
                &s.last_name
            };
            row(
                &s.cod_etu,
                name,
                &s.first_name,
                "905",
                "L1INF",
                CURRENT_YEAR,
                "E",
            )
        })
        .collect();
    app.import(rows).await;
    let manager = app.manager(&["905"]);
    let r = upload(&app, &manager, batch.bytes, "attestation_reussite", "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_split(&app, &id).await["status"], "split");
    let page = app
        .get(
            &format!("/treatments/{id}/documents?per_page=100&page=6"),
            &manager,
        )
        .await;
    let doc = page.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cod_etu"] == far.cod_etu.as_str())
        .expect("the 600th document is on page 6")
        .clone();
    assert_eq!(doc["needs_identity_check"], true, "{doc}");
    let doc_id = doc["id"].as_str().unwrap();
    let c = app
        .post(
            &format!("/treatments/{id}/documents/{doc_id}/confirm-identity"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(c.ok(200)["id"], doc_id);
    assert_eq!(c.body["needs_identity_check"], false);
    assert_eq!(c.body["cod_etu"], far.cod_etu.as_str());
}

both_backends!(a_batch_is_what_it_declares_or_refused, declared_body);
async fn declared_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 3).await;
    let manager = app.manager(&["905"]);
    // A relevé declared as an attestation: refused, naming what the pages are.
    let r = upload(
        &app,
        &manager,
        batch.bytes.clone(),
        "attestation_reussite",
        "905",
    )
    .await;
    let p = r.problem(422, "document_kind_mismatch");
    assert_eq!(p["declared"], "attestation_reussite");
    assert_eq!(p["found"], "releve_notes");
    // A 2025/2026 relevé declared for 2023: refused, naming both years.
    let r = upload_as(
        &app,
        &manager,
        batch.bytes.clone(),
        &[
            ("document_type", "releve_notes"),
            ("academic_year", "2023"),
            ("composante", "905"),
            ("label", "Relevés"),
        ],
    )
    .await;
    let p = r.problem(422, "academic_year_mismatch");
    assert_eq!(p["declared"], "2023/2024");
    assert_eq!(p["found"], "2025/2026");
    // Rewritten by a PDF library after Apogée (Producer unchanged, new file identifier, as
    // qpdf/pikepdf leave it): refused.
    let pages: Vec<fixture::PageContent> = batch
        .students
        .iter()
        .map(|s| fixture::PageContent::Lines(fixture::releve_page(s, 1, 1, 3)))
        .collect();
    let rewritten = fixture::write_pdf(
        &pages,
        &fixture::PdfOptions {
            changed_file_id: true,
            ..Default::default()
        },
    );
    let r = upload(&app, &manager, rewritten, "releve_notes", "905").await;
    r.problem(422, "modified_pdf");
    // Every refusal is registered as a failed treatment with its reason; nothing was split.
    let list = app.get("/treatments?per_page=100", &manager).await;
    let codes: Vec<&str> = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["status"], "split_failed", "{t}");
            t["rejection"]["code"].as_str().unwrap()
        })
        .collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    for code in [
        "document_kind_mismatch",
        "academic_year_mismatch",
        "modified_pdf",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    // The same batch declared rightly is accepted.
    let r = upload(&app, &manager, batch.bytes, "releve_notes", "905").await;
    r.ok(202);
}

both_backends!(
    the_treatments_list_counts_documents_and_filters_by_label_and_author,
    list_counts_body
);
async fn list_counts_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 5).await;
    let alice = app.manager(&["905"]);
    let admin = app.admin();
    let label_upload = |token: String, label: &'static str, bytes: Vec<u8>| {
        let app = &app;
        async move {
            let r = upload_as(
                app,
                &token,
                bytes,
                &[
                    ("document_type", "releve_notes"),
                    ("academic_year", &CURRENT_YEAR.to_string()),
                    ("composante", "905"),
                    ("label", label),
                ],
            )
            .await;
            let id = r.ok(202)["id"].as_str().unwrap().to_owned();
            wait_split(app, &id).await;
            id
        }
    };
    let session1 = label_upload(alice.clone(), "Relevés L1 — Session 1", batch.bytes.clone()).await;
    let other = fixture::batch(&BatchSpec {
        students: 2,
        seed: 99,
        first_number: 21_950_001,
        ..BatchSpec::default()
    });
    let rattrapage = label_upload(admin.clone(), "Rattrapage 100%_final", other.bytes).await;

    let ids = |r: &Reply| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // Label: any case; `%` and `_` are letters, not wildcards.
    let r = app.get("/treatments?label=session%201", &admin).await;
    r.ok(200);
    assert_eq!(ids(&r), vec![session1.clone()]);
    let r = app.get("/treatments?label=100%25_f", &admin).await;
    r.ok(200);
    assert_eq!(ids(&r), vec![rattrapage.clone()]);
    let r = app.get("/treatments?label=100%25%25", &admin).await;
    r.ok(200);
    assert!(ids(&r).is_empty());
    // Author, as `created_by` shows it.
    let author = app
        .get(&format!("/treatments/{session1}"), &admin)
        .await
        .ok(200)["created_by"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .get(&format!("/treatments?author={author}"), &admin)
        .await;
    r.ok(200);
    assert_eq!(ids(&r), vec![session1.clone()]);
    // Counts: split, not sent yet.
    let r = app.get("/treatments?per_page=10", &admin).await;
    let items = r.ok(200)["items"].as_array().unwrap().clone();
    let counts = |id: &str| items.iter().find(|t| t["id"] == id).unwrap()["counts"].clone();
    assert_eq!(
        counts(&session1),
        json!({"documents": 5, "sent": 0, "transmitted": 0, "errors": 0, "held": 0})
    );
    assert_eq!(counts(&rattrapage)["documents"], 2);
}

both_backends!(the_treatment_list_names_its_author, treatment_author_body);
async fn treatment_author_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let now = jsonwebtoken::get_current_timestamp();
    let named = app.mint(passerelle::auth::jwt::Claims {
        sub: "jdupont".into(),
        iss: String::new(),
        aud: String::new(),
        exp: now + 3600,
        iat: now,
        role: passerelle::auth::Role::Manager,
        composantes: vec!["905".into()],
        cod_etu: None,
        scopes: vec![],
        name: Some("Jeanne Dupont".into()),
    });
    upload(
        &app,
        &named,
        b"GIF89a not a pdf".to_vec(),
        "releve_notes",
        "905",
    )
    .await
    .problem(422, "not_a_pdf");
    let anonymous = app.manager(&["905"]);
    upload(&app, &anonymous, b"GIF89a".to_vec(), "releve_notes", "905")
        .await
        .problem(422, "not_a_pdf");
    let list = app.get("/treatments", &anonymous).await;
    let mut authors: Vec<(Value, Value)> = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["created_by"].clone(), t["created_by_name"].clone()))
        .collect();
    authors.sort_by_key(|(by, _)| by.to_string());
    assert_eq!(
        authors,
        vec![
            (json!("manager:jdupont"), json!("Jeanne Dupont")),
            (json!("manager:manager-905"), Value::Null),
        ]
    );
}

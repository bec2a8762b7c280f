//! Supporting documents (pièces justificatives) through HTTP: requirements per étape, the
//! full cycle missing → deposited → rejected → deposited → accepted, completeness, and scope.

use reqwest::Method;
use serde_json::{Value, json};

use crate::lockers::PDF;
use crate::support::{CURRENT_YEAR, Reply, TestApp, both_backends, row};

pub async fn submit(app: &TestApp, token: &str, kind: &str, bytes: &[u8]) -> Reply {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("piece.pdf"),
        );
    app.send(
        app.request(Method::POST, "/me/supporting-documents")
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

pub async fn setup(app: &TestApp) {
    app.composantes(&["905", "906"]).await;
    app.import(vec![
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
            "BETA",
            "Bruno",
            "905",
            "L1INF",
            CURRENT_YEAR,
            "E",
        ),
        row("21900004", "DELTA", "Denis", "906", "L2", CURRENT_YEAR, "E"),
    ])
    .await;
    let r = app
        .put(
            "/supporting-documents/requirements",
            &app.admin(),
            json!({"etape": "L1INF", "kinds": [
                {"kind": "identity_document"},
                {"kind": "cvec_certificate"},
            ]}),
        )
        .await;
    assert_eq!(r.ok(200).as_array().unwrap().len(), 2);
    assert_eq!(r.body[0]["label"], "Attestation CVEC");
}

fn doc<'a>(view: &'a Value, kind: &str) -> &'a Value {
    view[0]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap()
}

async fn full_cycle(app: TestApp) {
    setup(&app).await;
    let anne = app.student("21900001");
    let manager = app.manager(&["905"]);
    let other = app.manager(&["906"]);

    // Missing.
    let mine = app.get("/me/supporting-documents", &anne).await;
    mine.ok(200);
    assert_eq!(mine.body[0]["etape"], "L1INF");
    assert_eq!(mine.body[0]["complete"], false);
    assert_eq!(doc(&mine.body, "cvec_certificate")["status"], "missing");
    assert_eq!(
        doc(&mine.body, "cvec_certificate")["status_label"],
        "Pièce manquante"
    );
    let missing = app
        .get("/supporting-documents?etape=L1INF&status=missing", &manager)
        .await;
    assert_eq!(missing.ok(200)["total"], 4);
    // A manager of another composante sees nothing of L1INF.
    let none = app.get("/supporting-documents?etape=L1INF", &other).await;
    assert_eq!(none.ok(200)["total"], 0);
    app.get("/supporting-documents?status=lost", &manager)
        .await
        .problem(400, "invalid_parameter");

    // Deposited (pending); not twice; only required kinds; types on content.
    let r = submit(&app, &anne, "cvec_certificate", PDF).await;
    assert_eq!(r.ok(201)["status"], "pending");
    let first = r.body["id"].as_str().unwrap().to_owned();
    let again = submit(&app, &anne, "cvec_certificate", PDF).await;
    assert_eq!(
        again.problem(409, "invalid_transition")["current_status"],
        "pending"
    );
    submit(&app, &anne, "photo", PDF)
        .await
        .problem(422, "validation_failed");
    submit(&app, &anne, "identity_document", b"\x7fELF\x02\x01")
        .await
        .problem(422, "forbidden_file_type");
    submit(&app, &anne, "identity_document", b"just text")
        .await
        .problem(422, "forbidden_file_type");
    let pending = app
        .get("/supporting-documents?etape=L1INF&status=pending", &manager)
        .await;
    assert_eq!(pending.ok(200)["total"], 1);
    assert_eq!(pending.body["items"][0]["submission_id"], first.as_str());
    assert_eq!(pending.body["items"][0]["cod_etu"], "21900001");
    // The manager downloads it to check it; the other composante cannot.
    let file = app
        .get(&format!("/supporting-documents/{first}/file"), &manager)
        .await;
    assert_eq!(file.bytes, PDF);
    app.get(&format!("/supporting-documents/{first}/file"), &other)
        .await
        .problem(404, "not_found");

    // Rejected with a reason the student sees (not by another composante's manager).
    app.post(
        &format!("/supporting-documents/{first}/reject"),
        &other,
        json!({"reason": "x"}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("/supporting-documents/{first}/accept"),
        &other,
        json!({}),
    )
    .await
    .problem(404, "not_found");
    app.post(
        &format!("/supporting-documents/{first}/reject"),
        &manager,
        json!({"reason": ""}),
    )
    .await
    .problem(422, "validation_failed");
    let r = app
        .post(
            &format!("/supporting-documents/{first}/reject"),
            &manager,
            json!({"reason": "Attestation illisible"}),
        )
        .await;
    assert_eq!(r.ok(200)["status"], "rejected");
    let mine = app.get("/me/supporting-documents", &anne).await;
    let cvec = doc(&mine.body, "cvec_certificate");
    assert_eq!(cvec["status"], "rejected");
    assert_eq!(cvec["status_label"], "Pièce refusée");
    assert_eq!(cvec["reason"], "Attestation illisible");

    // Deposited again: the history keeps the rejected one.
    let r = submit(
        &app,
        &anne,
        "cvec_certificate",
        b"%PDF-1.4\n% nouvelle\n%%EOF\n",
    )
    .await;
    let second = r.ok(201)["id"].as_str().unwrap().to_owned();
    let mine = app.get("/me/supporting-documents", &anne).await;
    let cvec = doc(&mine.body, "cvec_certificate");
    assert_eq!(cvec["status"], "pending");
    assert!(cvec["reason"].is_null());
    let history = cvec["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["status"], "rejected");
    assert_eq!(history[0]["reason"], "Attestation illisible");

    // Accepted; the rejected deposit can no longer be decided.
    app.post(
        &format!("/supporting-documents/{first}/accept"),
        &manager,
        json!({}),
    )
    .await
    .problem(409, "invalid_transition");
    let r = app
        .post(
            &format!("/supporting-documents/{second}/accept"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(r.ok(200)["status"], "accepted");
    assert_eq!(r.body["decided_by"], "manager:manager-905");
    submit(&app, &anne, "cvec_certificate", PDF)
        .await
        .problem(409, "invalid_transition");

    // Completeness: the identity document too, then Anne is complete.
    let id = submit(&app, &anne, "identity_document", b"\xff\xd8\xff\xe0 jpeg").await;
    assert_eq!(id.ok(201)["media_type"], "image/jpeg");
    let id = id.body["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/supporting-documents/{id}/accept"),
        &manager,
        json!({}),
    )
    .await
    .ok(200);
    let mine = app.get("/me/supporting-documents", &anne).await;
    assert_eq!(mine.body[0]["complete"], true);
    let follow = app
        .get("/supporting-documents/follow-up?etape=L1INF", &manager)
        .await;
    follow.ok(200);
    assert_eq!(follow.body[0]["students"], 2);
    assert_eq!(follow.body[0]["complete"], 1);
    let cvec = follow.body[0]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "cvec_certificate")
        .unwrap()
        .clone();
    assert_eq!(
        (cvec["accepted"].clone(), cvec["missing"].clone()),
        (json!(1), json!(1))
    );
    let bruno = follow.body[0]["by_student"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cod_etu"] == "21900002")
        .unwrap()
        .clone();
    assert_eq!(bruno["complete"], false);
    assert_eq!(bruno["missing"].as_array().unwrap().len(), 2);
    // Scope: the other composante sees no étape and no student of 905.
    assert_eq!(
        app.get("/supporting-documents/follow-up?etape=L1INF", &other)
            .await
            .ok(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.get("/supporting-documents/students/21900001", &other)
        .await
        .problem(404, "not_found");
    let one = app
        .get("/supporting-documents/students/21900001", &manager)
        .await;
    assert_eq!(one.ok(200)[0]["complete"], true);
    // Accepted and rejected filters.
    let accepted = app
        .get(
            "/supporting-documents?etape=L1INF&status=accepted,rejected",
            &manager,
        )
        .await;
    assert_eq!(accepted.ok(200)["total"], 2);
    // Only students deposit; managers cannot use /me.
    submit(&app, &manager, "cvec_certificate", PDF)
        .await
        .problem(403, "forbidden");
    // The audit log records the decisions.
    let audit = app
        .get("/audit?action=supporting_document.reject", &app.admin())
        .await;
    assert_eq!(audit.ok(200)["total"], 1);

    // The personal-data export holds the deposits, rejected one included.
    let export = app.get("/me/personal-data", &anne).await;
    assert_eq!(
        export.ok(200)["supporting_documents"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Erasing the student removes their supporting documents and files.
    app.post("/students/21900001/erase", &app.admin(), json!({}))
        .await
        .ok(200);
    app.get(&format!("/supporting-documents/{second}/file"), &manager)
        .await
        .problem(404, "not_found");
    let left = app.get("/supporting-documents?etape=L1INF", &manager).await;
    assert!(
        left.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["cod_etu"] == "21900002"),
        "{}",
        left.body
    );
}
both_backends!(supporting_documents_full_cycle_with_scope, full_cycle);

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

fn kinds_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

async fn by_student(app: &TestApp, token: &str, cod_etu: &str) -> Value {
    let follow = app
        .get("/supporting-documents/follow-up?etape=M1INF", token)
        .await;
    follow.ok(200)[0]["by_student"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cod_etu"] == cod_etu)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn populations_and_paper(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    let mut apprenti = row(
        "21900011",
        "APPRENTI",
        "Alex",
        "905",
        "M1INF",
        CURRENT_YEAR,
        "E",
    );
    apprenti["regime"] = json!("apprenticeship");
    apprenti["boursier"] = json!(false);
    let mut initiale = row(
        "21900012",
        "INITIALE",
        "Inès",
        "905",
        "M1INF",
        CURRENT_YEAR,
        "E",
    );
    initiale["regime"] = json!("initial_training");
    initiale["boursier"] = json!(true);
    let report = app.import(vec![apprenti, initiale]).await;
    assert_eq!(report["created"], 2);
    // An import without the population columns works; the population stays unknown.
    let report = app
        .import(vec![row(
            "21900013",
            "INCONNU",
            "Ugo",
            "905",
            "M1INF",
            CURRENT_YEAR,
            "E",
        )])
        .await;
    assert_eq!(
        (report["created"].clone(), report["rejected"].clone()),
        (json!(1), json!(0))
    );
    let r = app
        .put(
            "/supporting-documents/requirements",
            &app.admin(),
            json!({"etape": "M1INF", "kinds": [
                {"kind": "identity_document"},
                {"kind": "apprenticeship_contract", "regimes": ["apprenticeship"]},
                {"kind": "scholarship_notice", "boursier": true},
            ]}),
        )
        .await;
    let contract = r.ok(200).as_array().unwrap()[0].clone();
    assert_eq!(contract["kind"], "apprenticeship_contract");
    assert_eq!(contract["regimes"], json!(["apprenticeship"]));
    assert!(contract["boursier"].is_null());

    let manager = app.manager(&["905"]);
    let other = app.manager(&["906"]);
    // Only what applies to each student's étape and population is required: the apprentice's
    // contract is not asked of the formation initiale student, the scholarship notice only of
    // the boursière; an unknown population is asked everything, flagged to check.
    let alex = by_student(&app, &manager, "21900011").await;
    assert_eq!(
        kinds_of(&alex["missing"]),
        vec!["apprenticeship_contract", "identity_document"]
    );
    let ines = by_student(&app, &manager, "21900012").await;
    assert_eq!(
        kinds_of(&ines["missing"]),
        vec!["identity_document", "scholarship_notice"]
    );
    let ugo = by_student(&app, &manager, "21900013").await;
    assert_eq!(ugo["missing"].as_array().unwrap().len(), 3);
    assert_eq!(
        kinds_of(&ugo["population_unknown"]),
        vec!["apprenticeship_contract", "scholarship_notice"]
    );
    let one = app
        .get("/supporting-documents/students/21900013", &manager)
        .await;
    assert!(one.ok(200)[0]["regime"].is_null() && one.body[0]["boursier"].is_null());
    let mine = app
        .get("/me/supporting-documents", &app.student("21900011"))
        .await;
    assert_eq!(mine.ok(200)[0]["regime"], "apprenticeship");
    assert_eq!(mine.body[0]["documents"].as_array().unwrap().len(), 2);
    // The formation initiale student cannot deposit the apprentice's contract.
    submit(
        &app,
        &app.student("21900012"),
        "apprenticeship_contract",
        PDF,
    )
    .await
    .problem(422, "validation_failed");
    let list = app
        .get(
            "/supporting-documents?etape=M1INF&kind=scholarship_notice",
            &manager,
        )
        .await;
    let holders: Vec<Value> = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["cod_etu"].clone())
        .collect();
    // By name: INCONNU (population unknown) and INITIALE (boursière), not APPRENTI.
    assert_eq!(holders, vec![json!("21900013"), json!("21900012")]);

    // A piece received on paper: recorded with who and when, then accepted.
    let now = jsonwebtoken::get_current_timestamp();
    let jeanne = app.mint(passerelle::auth::jwt::Claims {
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
    let paper = json!({"kind": "apprenticeship_contract", "received_at": "2025-09-02T10:00:00Z"});
    app.post(
        "/supporting-documents/students/21900011/paper",
        &other,
        paper.clone(),
    )
    .await
    .problem(404, "not_found");
    app.post(
        "/supporting-documents/students/21900012/paper",
        &jeanne,
        paper.clone(),
    )
    .await
    .problem(422, "validation_failed");
    app.post(
        "/supporting-documents/students/21900011/paper",
        &jeanne,
        json!({"kind": "apprenticeship_contract", "received_at": "2999-01-01T00:00:00Z"}),
    )
    .await
    .problem(422, "validation_failed");
    let r = app
        .post(
            "/supporting-documents/students/21900011/paper",
            &jeanne,
            paper.clone(),
        )
        .await;
    let piece = r.ok(201).clone();
    assert_eq!(piece["channel"], "paper");
    assert_eq!(piece["status"], "pending");
    assert_eq!(piece["received_by"], "manager:jdupont");
    assert_eq!(piece["received_by_name"], "Jeanne Dupont");
    assert_eq!(piece["received_at"], "2025-09-02T10:00:00Z");
    let id = piece["id"].as_str().unwrap().to_owned();
    app.post(
        "/supporting-documents/students/21900011/paper",
        &jeanne,
        paper,
    )
    .await
    .problem(409, "invalid_transition");
    app.get(&format!("/supporting-documents/{id}/file"), &manager)
        .await
        .problem(404, "not_found");
    let accepted = app
        .post(
            &format!("/supporting-documents/{id}/accept"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(accepted.ok(200)["status"], "accepted");
    assert_eq!(accepted.body["received_by_name"], "Jeanne Dupont");
    assert_eq!(accepted.body["decided_by"], "manager:manager-905");
    let alex = by_student(&app, &manager, "21900011").await;
    assert_eq!(kinds_of(&alex["missing"]), vec!["identity_document"]);
    let audit = app
        .get("/audit?action=supporting_document.paper", &app.admin())
        .await;
    let entry = audit.ok(200)["items"][0].clone();
    assert_eq!(entry["actor"], "manager:jdupont");
    assert_eq!(entry["details"]["received_by"], "manager:jdupont");
    assert_eq!(entry["details"]["received_at"], "2025-09-02T10:00:00+00:00");
    // Recorded and accepted in one step.
    let r = app
        .post(
            "/supporting-documents/students/21900012/paper",
            &jeanne,
            json!({"kind": "scholarship_notice", "accept": true}),
        )
        .await;
    assert_eq!(r.ok(201)["status"], "accepted");
    assert_eq!(r.body["decided_by"], "manager:jdupont");
    let ines = by_student(&app, &manager, "21900012").await;
    assert_eq!(kinds_of(&ines["missing"]), vec!["identity_document"]);
    assert_eq!(
        app.get("/audit?action=supporting_document.accept", &app.admin())
            .await
            .ok(200)["total"],
        1
    );

    // A later import without the columns keeps the population known.
    app.import(vec![row(
        "21900012",
        "INITIALE",
        "Inès",
        "905",
        "M1INF",
        CURRENT_YEAR,
        "E",
    )])
    .await;
    let one = app
        .get("/supporting-documents/students/21900012", &manager)
        .await;
    assert_eq!(one.ok(200)[0]["boursier"], true);
    assert_eq!(one.body[0]["regime"], "initial_training");
}
both_backends!(
    supporting_documents_by_population_and_on_paper,
    populations_and_paper
);

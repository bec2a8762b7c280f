//! RGPD through HTTP: the consent ledger and its effects, the audit chain, the data subject's
//! rights (export, erasure).

use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, TestApp, both_backends, row};
use crate::treatments::{activate, batch_with_students, upload, wait_split};

fn objection(cod_etu: &str, purpose: &str, event: &str) -> Value {
    json!({"student": cod_etu, "purpose": purpose, "event": event, "source": "paper", "evidence_ref": "GED-2025-0042"})
}

both_backends!(
    an_objection_before_precreation_keeps_the_vault_from_digiposte,
    objection_before_body
);
async fn objection_before_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let mut refusing = row("21900001", "REFUS", "A", "905", "L1", CURRENT_YEAR, "E");
    refusing["vault_objection"] = json!(true);
    let report = app
        .import(vec![
            refusing,
            row("21900002", "ACCORD", "B", "905", "L1", CURRENT_YEAR, "E"),
        ])
        .await;
    assert_eq!(report["objections_recorded"], 1);
    assert_eq!(report["vaults_created"], 2);
    assert_eq!(
        report["vaults_queued"], 1,
        "only the student who did not object"
    );
    let admin = app.admin();
    let vaults = app.get("/vaults", &admin).await;
    let listed: Vec<(&str, &str)> = vaults.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["student"]["cod_etu"].as_str().unwrap(),
                v["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![("21900002", "not_transmitted"), ("21900001", "objected")],
        "the student who objected is listed as \"Opposition enregistrée\", never sent"
    );
    // Re-importing does not create it either, nor a second objection.
    let mut again = row("21900001", "REFUS", "A", "905", "L1", CURRENT_YEAR, "E");
    again["vault_objection"] = json!(true);
    let report = app.import(vec![again]).await;
    assert_eq!(report["vaults_created"], 0);
    assert_eq!(report["objections_recorded"], 0);
    let ledger = app.get("/consents?student=21900001", &admin).await;
    assert_eq!(ledger.ok(200)["purposes"][0]["state"], "refused");
    assert_eq!(ledger.body["events"][0]["source"], "import");
    let me = app.get("/me/vault", &app.student("21900001")).await;
    assert_eq!(me.ok(200)["status"], "objected");
    // No subscription job exists for that student at all.
    let audit = app.get("/audit?action=vault.subscribe", &admin).await;
    assert_eq!(audit.ok(200)["total"], 0);

    // Restoring consent lifts the objection and queues the subscription (pre-creation).
    let r = app
        .post(
            "/consents",
            &admin,
            objection("21900001", "vault_precreation", "restored"),
        )
        .await;
    assert_eq!(
        r.ok(201)["effects"],
        json!(["objection_lifted", "subscription_queued"])
    );
    assert_eq!(r.body["state"], "consented");
    let id = app.vault_id("21900001").await;
    let s = app
        .post(&format!("/vaults/{id}/subscribe"), &admin, json!({}))
        .await;
    assert_eq!(s.ok(202)["newly_queued"], false, "queued already");
    assert_eq!(s.body["vault"]["status"], "not_transmitted");
}

both_backends!(a_withdrawal_stops_everything_under_way, withdrawal_body);
async fn withdrawal_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 3).await;
    let target = batch.students[0].cod_etu.clone();
    let other = batch.students[1].cod_etu.clone();
    activate(&app, &target);
    activate(&app, &other);
    // Stop the delivery workers from draining the queue before we look at it: no handler
    // for `deliver` runs in this build unless Digiposte is configured.
    let manager = app.manager(&["905"]);
    let id = upload(&app, &manager, batch.bytes.clone(), "releve_notes", "905")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = wait_split(&app, &id).await;
    assert_eq!(t["deliverable"], 2);
    app.post(
        &format!("/treatments/{id}/send"),
        &manager,
        json!({"expected_documents": 3}),
    )
    .await
    .problem(409, "confirmation_mismatch");
    let sent = app
        .post(
            &format!("/treatments/{id}/send"),
            &manager,
            json!({"expected_documents": 2}),
        )
        .await;
    assert_eq!(sent.ok(202)["queued"], 2);
    assert_eq!(
        sent.body["treatment"]["status_label"],
        "Fichier envoyé à Digiposte"
    );
    assert_eq!(
        sent.body["held"],
        json!([{"reason": "no_active_vault", "label": "Étudiant sans coffre", "count": 1}])
    );
    // Sending again queues nothing new.
    let again = app
        .post(
            &format!("/treatments/{id}/send"),
            &manager,
            json!({"expected_documents": 2}),
        )
        .await;
    assert_eq!(again.ok(202)["queued"], 0);
    assert_eq!(again.body["newly_sent"], false);
    // It says what the send held, as the blocks froze it.
    assert_eq!(again.body["held"], sent.body["held"]);

    // The student withdraws consent through the ENT.
    let r = app
        .post(
            "/me/consents",
            &app.student(&target),
            json!({"purpose": "document_delivery", "event": "withdrawn"}),
        )
        .await;
    let effects = r.ok(201)["effects"].clone();
    assert!(
        effects
            .as_array()
            .unwrap()
            .contains(&json!("queued_documents_cancelled")),
        "{effects}"
    );
    assert!(
        effects
            .as_array()
            .unwrap()
            .contains(&json!("termination_requested")),
        "{effects}"
    );
    let docs = app
        .get(&format!("/treatments/{id}/documents"), &manager)
        .await;
    let items = docs.ok(200)["items"].as_array().unwrap().clone();
    let doc_of = |cod: &str| items.iter().find(|d| d["cod_etu"] == cod).unwrap().clone();
    assert_eq!(doc_of(&target)["delivery_status"], "cancelled");
    assert_eq!(doc_of(&target)["delivery_reason"], "consent_withdrawn");
    assert_eq!(
        doc_of(&other)["delivery_status"],
        "queued",
        "another student is untouched"
    );
    let vault = app.vault_id(&target).await;
    let v = app.get(&format!("/vaults/{vault}"), &manager).await;
    assert_eq!(v.ok(200)["status"], "termination_pending");
    assert_eq!(v.body["pending_actions"][0]["kind"], "vault_terminate");
    // The same event again changes nothing (409 naming the state).
    let r = app
        .post(
            "/me/consents",
            &app.student(&target),
            json!({"purpose": "document_delivery", "event": "withdrawn"}),
        )
        .await;
    assert_eq!(
        r.problem(409, "invalid_transition")["current_state"],
        "refused"
    );
    // A student's ENT event is recorded as such; a manager cannot forge an ENT source.
    let ledger = app.get("/me/consents", &app.student(&target)).await;
    assert_eq!(ledger.ok(200)["events"][0]["source"], "ent");
    assert_eq!(ledger.body["events"][0]["actor"], "student");
    let forged = json!({"student": other, "purpose": "document_delivery", "event": "withdrawn", "source": "ent"});
    app.post("/consents", &manager, forged)
        .await
        .problem(422, "validation_failed");
    // Students see only their own ledger.
    app.get(&format!("/consents?student={other}"), &app.student(&target))
        .await
        .problem(404, "not_found");
}

both_backends!(the_audit_chain_detects_an_edit, audit_body);
async fn audit_body(app: TestApp) {
    app.composantes(&["905", "906"]).await;
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
    let admin = app.admin();
    app.post(
        "/consents",
        &admin,
        objection("21900001", "document_delivery", "objected"),
    )
    .await
    .ok(201);
    let verify = app.get("/audit/verify", &admin).await;
    assert_eq!(verify.ok(200)["valid"], true, "{}", verify.body);
    let entries = verify.body["entries"].as_i64().unwrap();
    assert!(entries >= 4, "composantes, import, consent: {entries}");
    // Entries about the student are found by number, through the pseudonym, never by name.
    let about = app.get("/audit?student=21900001", &admin).await;
    assert_eq!(about.ok(200)["total"], 1);
    assert_eq!(about.body["items"][0]["action"], "consent.objected");
    assert!(!about.body.to_string().contains("21900001"));
    assert!(!about.body.to_string().contains("ALPHA"));
    // Someone edits an entry directly in the database.
    {
        use diesel::prelude::*;
        use passerelle::db::schema::audit_log;
        let db = app.db();
        let mut conn = db.conn().unwrap();
        diesel::update(audit_log::table.filter(audit_log::seq.eq(2)))
            .set(audit_log::actor.eq("admin:someone-else"))
            .execute(&mut *conn)
            .unwrap();
    }
    let verify = app.get("/audit/verify", &admin).await;
    assert_eq!(verify.ok(200)["valid"], false);
    assert_eq!(verify.body["first_broken_seq"], 2);
    // Deleting the last entry is detected too.
    {
        use diesel::prelude::*;
        use passerelle::db::schema::audit_log;
        let db = app.db();
        let mut conn = db.conn().unwrap();
        diesel::update(audit_log::table.filter(audit_log::seq.eq(2)))
            .set(audit_log::actor.eq("admin:admin"))
            .execute(&mut *conn)
            .unwrap();
        assert_eq!(app.get("/audit/verify", &admin).await.body["valid"], true);
        diesel::delete(audit_log::table.filter(audit_log::seq.eq(entries)))
            .execute(&mut *conn)
            .unwrap();
    }
    let verify = app.get("/audit/verify", &admin).await;
    assert_eq!(verify.ok(200)["valid"], false);
    assert_eq!(verify.body["first_broken_seq"], entries);
    app.get("/audit", &app.manager(&["905"]))
        .await
        .problem(403, "forbidden");
}

both_backends!(
    personal_data_export_holds_everything_of_one_student_only,
    export_body
);
async fn export_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 2).await;
    let (me, other) = (&batch.students[0], &batch.students[1]);
    activate(&app, &me.cod_etu);
    let admin = app.admin();
    let id = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_split(&app, &id).await;
    app.post(
        "/consents",
        &admin,
        objection(&me.cod_etu, "document_delivery", "objected"),
    )
    .await
    .ok(201);
    let export = app
        .get(&format!("/students/{}/personal-data", me.cod_etu), &admin)
        .await;
    let body = export.ok(200).clone();
    assert_eq!(body["identity"]["cod_etu"], me.cod_etu.as_str());
    assert_eq!(body["identity"]["last_name"], me.last_name.as_str());
    assert_eq!(body["identity"]["ine"], me.ine.as_str());
    assert_eq!(body["enrolments"][0]["etape"], "L1INF");
    assert_eq!(body["vault"]["status"], "termination_pending");
    assert!(body["vault"]["history"].as_array().unwrap().len() >= 3);
    assert_eq!(body["consents"][0]["event"], "objected");
    assert_eq!(body["documents"].as_array().unwrap().len(), 1);
    assert_eq!(body["documents"][0]["treatment_id"], id.as_str());
    assert!(!body["audit"].as_array().unwrap().is_empty());
    let text = body.to_string();
    assert!(!text.contains(&other.cod_etu), "nothing of another student");
    assert!(!text.contains(&other.ine));
    // The student reads the same through /me; managers may not export.
    let mine = app
        .get("/me/personal-data", &app.student(&me.cod_etu))
        .await;
    assert_eq!(mine.ok(200)["identity"]["cod_etu"], me.cod_etu.as_str());
    app.get(
        &format!("/students/{}/personal-data", me.cod_etu),
        &app.manager(&["905"]),
    )
    .await
    .problem(403, "forbidden");
}

both_backends!(erasure_leaves_no_name_email_or_pdf, erasure_body);
async fn erasure_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 2).await;
    let (me, other) = (batch.students[0].clone(), batch.students[1].clone());
    let mut with_email = row(
        &me.cod_etu,
        &me.last_name,
        &me.first_name,
        "905",
        "L1INF",
        CURRENT_YEAR,
        "E",
    );
    with_email["ine"] = json!(me.ine);
    with_email["email"] = json!("zoe.unique-address@example.org");
    with_email["birth_date"] = json!("2004-03-12");
    app.import(vec![with_email]).await;
    let admin = app.admin();
    let id = upload(&app, &admin, batch.bytes.clone(), "releve_notes", "905")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_split(&app, &id).await;
    app.post(
        "/consents",
        &admin,
        json!({"student": me.cod_etu, "purpose": "document_delivery", "event": "objected", "source": "paper",
               "comment": "lettre de Zoé reçue le 3 mars"}),
    )
    .await
    .ok(201);
    let docs = app
        .get(&format!("/treatments/{id}/documents"), &admin)
        .await;
    let my_doc = docs.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cod_etu"] == me.cod_etu.as_str())
        .unwrap()
        .clone();
    let my_pdf_sha = my_doc["sha256"].as_str().unwrap().to_owned();
    assert!(
        app.data_dir()
            .join("blobs")
            .join(&my_pdf_sha[..2])
            .join(&my_pdf_sha[2..])
            .exists()
    );

    let r = app
        .post(
            &format!("/students/{}/erase", me.cod_etu),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.ok(200)["documents_deleted"], 1);
    let alias = r.body["pseudonym"].as_str().unwrap().to_owned();
    app.get(&format!("/students/{}", me.cod_etu), &admin)
        .await
        .problem(404, "not_found");
    assert_eq!(
        app.get(&format!("/students/{alias}"), &admin).await.ok(200)["last_name"],
        "ANONYME"
    );
    // The chain still verifies; the erasure itself is in it, under the pseudonym.
    assert_eq!(
        app.get("/audit/verify", &admin).await.ok(200)["valid"],
        true
    );
    assert_eq!(
        app.get("/audit?action=student.erase", &admin).await.body["items"][0]["student_ref"],
        alias.as_str()
    );
    // The PDF is gone from the store; the other student's is still there.
    assert!(
        !app.data_dir()
            .join("blobs")
            .join(&my_pdf_sha[..2])
            .join(&my_pdf_sha[2..])
            .exists()
    );
    let counts = app.get(&format!("/treatments/{id}"), &admin).await;
    assert_eq!(counts.ok(200)["blocks"]["students"], 2, "counts are kept");

    // Nothing personal is left anywhere: the database and every file of the data directory.
    let needles = [
        me.last_name.as_str(),
        me.ine.as_str(),
        me.cod_etu.as_str(),
        "zoe.unique-address@example.org",
        "lettre de Zo",
    ];
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in walk(&app.data_dir()) {
        haystacks.push((entry.display().to_string(), std::fs::read(&entry).unwrap()));
    }
    if app.config.database_url.starts_with("postgres") {
        haystacks.push(("postgres dump".into(), postgres_dump(&app).into_bytes()));
    }
    for (name, bytes) in &haystacks {
        for needle in needles {
            // Names are folded in search columns: look for both spellings.
            for form in [needle.to_owned(), passerelle::domain::text::fold(needle)] {
                if form.len() >= 4 {
                    assert!(
                        !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                        "`{form}` still in {name}"
                    );
                }
            }
        }
    }
    // The other student is intact.
    assert_eq!(
        app.get(&format!("/students/{}", other.cod_etu), &admin)
            .await
            .ok(200)["last_name"],
        other.last_name.as_str()
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Every text column of every table of the test schema, as one string.
fn postgres_dump(app: &TestApp) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Dump {
        #[diesel(sql_type = diesel::sql_types::Text)]
        dump: String,
    }
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let passerelle::db::DbConnection::Postgresql(pg) = &mut *conn else {
        unreachable!()
    };
    let mut all = String::new();
    for table in [
        "students",
        "enrolments",
        "vaults",
        "vault_history",
        "consent_events",
        "audit_log",
        "documents",
        "treatments",
        "jobs",
    ] {
        let d: Dump = diesel::sql_query(format!(
            "SELECT coalesce(string_agg(t::text, '|'), '') AS dump FROM {table} t"
        ))
        .get_result(pg)
        .unwrap();
        all.push_str(&d.dump);
    }
    all
}

//! Students, enrolments and vaults through HTTP: import report, vault rule, filters, summary,
//! actions, scope and the student's own view.

use passerelle::db::vaults::{self as vault_repo, VaultFacts};
use passerelle::domain::vault::VaultTrigger;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, TestApp, both_backends, row};

/// Moves a vault as the Digiposte worker would, closing the vault's open jobs as it does.
fn force(app: &TestApp, vault_id: &str, trigger: VaultTrigger) {
    use diesel::prelude::*;
    use passerelle::db::schema::jobs;
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let vault = vault_repo::find(&mut conn, vault_id).unwrap();
    vault_repo::transition(&mut conn, &vault, trigger, "test:digiposte", None).unwrap();
    diesel::update(jobs::table.filter(jobs::subject_id.eq(vault_id)))
        .set(jobs::status.eq("done"))
        .execute(&mut *conn)
        .unwrap();
}

fn set_flags(app: &TestApp, vault_id: &str, accepted: bool, personalised: bool) {
    let db = app.db();
    let mut conn = db.conn().unwrap();
    vault_repo::set_facts(
        &mut conn,
        vault_id,
        VaultFacts {
            accepted: Some(accepted),
            personalised: Some(personalised),
            ..Default::default()
        },
    )
    .unwrap();
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["student"]["cod_etu"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(import_reports_rows_and_is_idempotent, import_report_body);
async fn import_report_body(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    let mut bad_ine = row(
        "21900003",
        "MARTIN",
        "Paul",
        "905",
        "L1INF",
        CURRENT_YEAR,
        "E",
    );
    bad_ine["ine"] = json!("12#");
    let mut bad_date = row(
        "21900004",
        "DURAND",
        "Léa",
        "905",
        "L1INF",
        CURRENT_YEAR,
        "E",
    );
    bad_date["birth_date"] = json!("31/02/2001");
    // One student number with two identities: neither row is trusted.
    let mut conflicting_a = row(
        "21900007",
        "AUTRE",
        "Nom",
        "905",
        "L2INF",
        CURRENT_YEAR,
        "E",
    );
    conflicting_a["birth_date"] = json!("2001-01-01");
    let mut conflicting_b = conflicting_a.clone();
    conflicting_b["birth_date"] = json!("2002-02-02");
    let rows = vec![
        row(
            "21900001",
            "LEFÈVRE",
            "Zoé",
            "905",
            "L1INF",
            CURRENT_YEAR,
            "E",
        ),
        row(
            "21900002",
            "DUPONT",
            "Jean",
            "906",
            "L1BIO",
            CURRENT_YEAR,
            "A",
        ),
        bad_ine,
        bad_date,
        row("21900005", "NOBODY", "X", "999", "L1INF", CURRENT_YEAR, "E"),
        conflicting_a,
        json!({"cod_etu": "21900006"}),
        conflicting_b,
    ];
    let report = app.import(rows.clone()).await;
    assert_eq!(report["rows"], 8);
    assert_eq!(report["created"], 2);
    assert_eq!(report["rejected"], 6);
    let rejections: Vec<(u64, String)> = report["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejections,
        vec![
            (3, "invalid_ine".to_owned()),
            (4, "invalid_date".to_owned()),
            (5, "unknown_composante".to_owned()),
            (6, "conflicting_duplicate".to_owned()),
            (7, "missing_field".to_owned()),
            (8, "conflicting_duplicate".to_owned()),
        ]
    );
    // Personal values never appear in rejection reasons.
    assert!(!report.to_string().contains("LEFÈVRE") && !report.to_string().contains("AUTRE"));
    assert_eq!(report["vaults_created"], 2);

    // The same file again: nothing changes.
    let again = app.import(rows).await;
    assert_eq!(again["created"], 0);
    assert_eq!(again["updated"], 0);
    assert_eq!(again["unchanged"], 2);
    assert_eq!(again["vaults_created"], 0);

    // A corrected name and a new étape: updated and created.
    let again = app
        .import(vec![
            row(
                "21900001",
                "LEFÈVRE-MARTIN",
                "Zoé",
                "905",
                "L1INF",
                CURRENT_YEAR,
                "E",
            ),
            row(
                "21900002",
                "DUPONT",
                "Jean",
                "906",
                "L2BIO",
                CURRENT_YEAR,
                "E",
            ),
        ])
        .await;
    assert_eq!(again["updated"], 1);
    assert_eq!(again["created"], 1);
    let s = app.get("/students/21900001", &app.admin()).await;
    assert_eq!(s.ok(200)["last_name"], "LEFÈVRE-MARTIN");
    let s = app.get("/students/21900002", &app.admin()).await;
    assert_eq!(s.ok(200)["enrolments"].as_array().unwrap().len(), 2);

    // Not an extraction at all.
    let r = app
        .post("/students/import", &app.admin(), json!({"not": "rows"}))
        .await;
    r.problem(400, "invalid_enrolment_file");
}

both_backends!(duplicate_ine_is_a_doublon, duplicate_ine_body);
async fn duplicate_ine_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let mut a = row("21900001", "A", "A", "905", "L1", CURRENT_YEAR, "E");
    a["ine"] = json!("1234567890V");
    let mut b = row("21900002", "B", "B", "905", "L1", CURRENT_YEAR, "E");
    b["ine"] = json!("1234567890V");
    let report = app.import(vec![a]).await;
    assert_eq!(report["created"], 1, "{report}");
    let report = app.import(vec![b]).await;
    assert_eq!(report["rejections"][0]["code"], "duplicate_ine", "{report}");
}

both_backends!(vault_rule_follows_enrolments, vault_rule_body);
async fn vault_rule_body(app: TestApp) {
    app.composantes(&["905"]).await;
    app.import(vec![
        row("21900001", "VALID", "A", "905", "L1", CURRENT_YEAR, "E"),
        row("21900002", "CANCELLED", "B", "905", "L1", CURRENT_YEAR, "A"),
        row("21900003", "OLD", "C", "905", "L1", CURRENT_YEAR - 1, "E"),
    ])
    .await;
    let admin = app.admin();
    let status = |body: &Value, cod: &str| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["student"]["cod_etu"] == cod)
            .map(|v| v["status"].as_str().unwrap().to_owned())
    };
    let list = app.get("/vaults", &admin).await;
    assert_eq!(
        status(&list.body, "21900001").as_deref(),
        Some("not_transmitted")
    );
    assert_eq!(
        status(&list.body, "21900002").as_deref(),
        Some("no_valid_enrolment")
    );
    assert_eq!(
        status(&list.body, "21900003").as_deref(),
        Some("no_valid_enrolment")
    );
    let labelled = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["student"]["cod_etu"] == "21900002")
        .unwrap();
    assert_eq!(
        labelled["status_label"],
        "L'étudiant n'a pas d'inscription valide"
    );

    // The enrolment becomes valid, and another is cancelled: both vaults move.
    let report = app
        .import(vec![
            row("21900001", "VALID", "A", "905", "L1", CURRENT_YEAR, "A"),
            row("21900002", "CANCELLED", "B", "905", "L1", CURRENT_YEAR, "E"),
        ])
        .await;
    assert_eq!(report["vaults_updated"], 2);
    let list = app.get("/vaults", &admin).await;
    assert_eq!(
        status(&list.body, "21900001").as_deref(),
        Some("no_valid_enrolment")
    );
    assert_eq!(
        status(&list.body, "21900002").as_deref(),
        Some("not_transmitted")
    );

    // A transmitted vault never returns to not_transmitted, whatever the registry says.
    let id = app.vault_id("21900002").await;
    force(&app, &id, VaultTrigger::SubscriptionSucceeded);
    app.import(vec![row(
        "21900002",
        "CANCELLED",
        "B",
        "905",
        "L1",
        CURRENT_YEAR,
        "A",
    )])
    .await;
    let detail = app.get(&format!("/vaults/{id}"), &admin).await;
    assert_eq!(detail.ok(200)["status"], "active");
    let history: Vec<&str> = detail.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        vec!["no_valid_enrolment", "not_transmitted", "active"]
    );
    assert_eq!(detail.body["history"][2]["actor"], "test:digiposte");
    assert_eq!(detail.body["history"][1]["cause"], "enrolment_valid");
}

both_backends!(filters_sort_and_paginate, filters_body);
async fn filters_body(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    app.import(vec![
        row(
            "21900001",
            "LEFÈVRE",
            "Zoé",
            "905",
            "L1INF",
            CURRENT_YEAR,
            "E",
        ),
        row(
            "21900002",
            "Lefevre",
            "Marc",
            "906",
            "L1BIO",
            CURRENT_YEAR,
            "E",
        ),
        row(
            "21900003",
            "DUPOND",
            "Anne",
            "905",
            "L1INF",
            CURRENT_YEAR,
            "E",
        ),
        row(
            "21900004",
            "DUPONT",
            "Éric",
            "905",
            "L2INF",
            CURRENT_YEAR - 1,
            "E",
        ),
        row(
            "21800005",
            "MARTIN",
            "Luc",
            "906",
            "L1BIO",
            CURRENT_YEAR,
            "A",
        ),
    ])
    .await;
    let admin = app.admin();
    let v1 = app.vault_id("21900001").await;
    let v3 = app.vault_id("21900003").await;
    force(&app, &v1, VaultTrigger::SubscriptionSucceeded);
    force(&app, &v3, VaultTrigger::SubscriptionSucceeded);
    set_flags(&app, &v1, true, true);
    set_flags(&app, &v3, true, false);

    // Accent- and case-insensitive name search.
    let r = app.get("/vaults?q=lefevre", &admin).await;
    assert_eq!(codes(r.ok(200)), vec!["21900002", "21900001"]);
    let r = app.get("/vaults?q=L%C3%89F%C3%88VRE", &admin).await;
    assert_eq!(r.ok(200)["total"], 2);
    // Student number prefix.
    let r = app.get("/vaults?q=218", &admin).await;
    assert_eq!(codes(r.ok(200)), vec!["21800005"]);
    // Several statuses, composante, flags (also as ✔/✘), year.
    let r = app
        .get(
            "/vaults?status=active,no_valid_enrolment&composante=905",
            &admin,
        )
        .await;
    assert_eq!(codes(r.ok(200)), vec!["21900003", "21900004", "21900001"]);
    let r = app
        .get("/vaults?status=active&composante=905&q=dup", &admin)
        .await;
    assert_eq!(codes(r.ok(200)), vec!["21900003"]);
    let r = app
        .get("/vaults?accepted=true&personalised=%E2%9C%98", &admin)
        .await;
    assert_eq!(codes(r.ok(200)), vec!["21900003"]);
    let r = app
        .get(&format!("/vaults?year={}", CURRENT_YEAR - 1), &admin)
        .await;
    assert_eq!(codes(r.ok(200)), vec!["21900004"]);
    // Sorting and pages.
    let r = app
        .get("/vaults?sort=-cod_etu&per_page=2&page=2", &admin)
        .await;
    assert_eq!(r.ok(200)["total"], 5);
    assert_eq!(codes(&r.body), vec!["21900002", "21900001"]);
    let r = app.get("/vaults?sort=cod_etu&per_page=2", &admin).await;
    assert_eq!(codes(r.ok(200)), vec!["21800005", "21900001"]);

    // Bad filters are clear 400s.
    app.get("/vaults?status=actve", &admin)
        .await
        .problem(400, "invalid_parameter");
    app.get("/vaults?accepted=maybe", &admin)
        .await
        .problem(400, "invalid_parameter");
    app.get("/vaults?sort=colour", &admin)
        .await
        .problem(400, "invalid_parameter");
    app.get("/vaults?colour=blue", &admin)
        .await
        .problem(400, "unknown_parameter");
    app.get("/vaults?per_page=501", &admin)
        .await
        .problem(400, "invalid_parameter");

    // Summary counts per status (all of them present).
    let s = app.get("/vaults/summary", &admin).await;
    let counts: Vec<(String, i64)> = s.ok(200)["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 8);
    let count = |st: &str| counts.iter().find(|(s, _)| s == st).unwrap().1;
    assert_eq!(count("active"), 2);
    assert_eq!(count("not_transmitted"), 1);
    assert_eq!(count("no_valid_enrolment"), 2);
    assert_eq!(s.body["total"], 5);
    let s = app.get("/vaults/summary?composante=906", &admin).await;
    assert_eq!(s.ok(200)["total"], 2);
}

both_backends!(managers_see_only_their_composantes, vault_scope_body);
async fn vault_scope_body(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    app.import(vec![
        row("21900001", "ALPHA", "A", "905", "L1", CURRENT_YEAR, "E"),
        row("21900002", "BETA", "B", "906", "L1", CURRENT_YEAR, "E"),
    ])
    .await;
    let b_vault = app.vault_id("21900002").await;
    let manager_a = app.manager(&["905"]);
    let list = app.get("/vaults", &manager_a).await;
    assert_eq!(codes(list.ok(200)), vec!["21900001"]);
    // By id, by search, by composante filter, by summary, by student: nothing of B.
    app.get(&format!("/vaults/{b_vault}"), &manager_a)
        .await
        .problem(404, "not_found");
    assert_eq!(
        app.get("/vaults?q=beta", &manager_a).await.ok(200)["total"],
        0
    );
    assert_eq!(
        app.get("/vaults?q=21900002", &manager_a).await.ok(200)["total"],
        0
    );
    assert_eq!(
        app.get("/vaults?composante=906", &manager_a).await.ok(200)["total"],
        0
    );
    assert_eq!(
        app.get("/vaults/summary", &manager_a).await.ok(200)["total"],
        1
    );
    app.get("/students/21900002", &manager_a)
        .await
        .problem(404, "not_found");
    assert_eq!(app.get("/students", &manager_a).await.ok(200)["total"], 1);
    app.post(
        &format!("/vaults/{b_vault}/subscribe"),
        &manager_a,
        json!({}),
    )
    .await
    .problem(404, "not_found");
    // A manager importing another composante's rows: rejected, named.
    let report = app
        .post(
            "/students/import",
            &manager_a,
            json!([row(
                "21900003",
                "GAMMA",
                "C",
                "906",
                "L1",
                CURRENT_YEAR,
                "E"
            )]),
        )
        .await;
    assert_eq!(
        report.ok(200)["rejections"][0]["code"],
        "composante_out_of_scope"
    );
    // Students cannot list vaults.
    app.get("/vaults", &app.student("21900001"))
        .await
        .problem(403, "forbidden");
}

both_backends!(
    vault_actions_follow_the_state_machine,
    vault_actions_body,
    // The actions asked one by one (pre-creation is tested in precreation.rs).
    |c| c.vaults.auto_subscribe = false
);
async fn vault_actions_body(app: TestApp) {
    app.composantes(&["905"]).await;
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
    let manager = app.manager(&["905"]);
    let id = app.vault_id("21900001").await;

    // Terminate before any transmission: refused, naming the current status.
    let r = app
        .post(&format!("/vaults/{id}/terminate"), &manager, json!({}))
        .await;
    let body = r.problem(409, "invalid_transition");
    assert_eq!(body["current_status"], "not_transmitted");
    assert_eq!(
        body["current_status_label"],
        "Adhésion non transmise à Digiposte"
    );

    // Subscribe: queued once; asking again enqueues nothing new.
    let r = app
        .post(&format!("/vaults/{id}/subscribe"), &manager, json!({}))
        .await;
    assert_eq!(r.ok(202)["newly_queued"], true);
    assert_eq!(r.body["job"]["kind"], "vault_subscribe");
    let job = r.body["job"]["job_id"].clone();
    let r = app
        .post(&format!("/vaults/{id}/subscribe"), &manager, json!({}))
        .await;
    assert_eq!(r.ok(202)["newly_queued"], false);
    assert_eq!(r.body["job"]["job_id"], job);
    let detail = app.get(&format!("/vaults/{id}"), &manager).await;
    assert_eq!(
        detail.ok(200)["pending_actions"].as_array().unwrap().len(),
        1
    );

    // Once active: terminate → termination_pending at once; then reinvite is refused until
    // Digiposte confirms the cancellation.
    force(&app, &id, VaultTrigger::SubscriptionSucceeded);
    let r = app
        .post(&format!("/vaults/{id}/terminate"), &manager, json!({}))
        .await;
    assert_eq!(r.ok(202)["vault"]["status"], "termination_pending");
    assert_eq!(
        r.body["vault"]["status_label"],
        "Demande en cours de réalisation"
    );
    app.post(&format!("/vaults/{id}/reinvite"), &manager, json!({}))
        .await
        .problem(409, "invalid_transition");
    force(&app, &id, VaultTrigger::MembershipCancelled);
    let r = app
        .post(&format!("/vaults/{id}/reinvite"), &manager, json!({}))
        .await;
    assert_eq!(r.ok(202)["vault"]["status"], "preregistered");
    app.post(&format!("/vaults/{id}/subscribe"), &manager, json!({}))
        .await
        .problem(409, "invalid_transition");
    let history = app.get(&format!("/vaults/{id}"), &manager).await;
    let last = history.ok(200)["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["to_status"], "preregistered");
    assert_eq!(last["actor"], "manager:manager-905");
    // Audit entries were written for each action.
    let audit = app.get("/audit?action=vault.terminate", &app.admin()).await;
    assert_eq!(audit.ok(200)["total"], 1);
    // Students and read-only services may not act.
    app.post(
        &format!("/vaults/{id}/terminate"),
        &app.student("21900001"),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/vaults/{id}/terminate"),
        &app.service(&["vaults:read"]),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    app.call(Method::POST, &format!("/vaults/{id}/terminate"), None, None)
        .await
        .problem(401, "unauthenticated");
}

both_backends!(students_see_their_own_vault, my_vault_body);
async fn my_vault_body(app: TestApp) {
    app.composantes(&["905"]).await;
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
    let me = app.get("/me/vault", &app.student("21900001")).await;
    assert_eq!(me.ok(200)["status"], "not_transmitted");
    assert_eq!(
        me.body["status_label"],
        "Adhésion non transmise à Digiposte"
    );
    assert!(
        me.body["next_step"]
            .as_str()
            .unwrap()
            .contains("coffre-fort")
    );
    let id = app.vault_id("21900001").await;
    force(&app, &id, VaultTrigger::SubscriptionSucceeded);
    let db = app.db();
    let mut conn = db.conn().unwrap();
    vault_repo::set_facts(
        &mut conn,
        &id,
        VaultFacts {
            customization_url: Some("https://digiposte.example/finish/abc"),
            ..Default::default()
        },
    )
    .unwrap();
    let me = app.get("/me/vault", &app.student("21900001")).await;
    assert_eq!(me.ok(200)["status_label"], "Validé");
    assert_eq!(
        me.body["customization_url"],
        "https://digiposte.example/finish/abc"
    );
    // Unknown students: 404; managers: 403.
    app.get("/me/vault", &app.student("99999999"))
        .await
        .problem(404, "not_found");
    app.get("/me/vault", &app.manager(&["905"]))
        .await
        .problem(403, "forbidden");
}

both_backends!(apogee_csv_extractions_import, csv_import_body);
async fn csv_import_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let admin = app.admin();
    // ISO-8859-1, `;` separated, Apogée's own header names, CRLF.
    let csv = "COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;LIB_PR1_IND;DATE_NAI_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE;ADR_MAIL_PERSO\r\n\
               21900001;0123456789M;LEFÈVRE;Zoé;12/03/2004;905;L1INF;2025;E;zoe@example.org\r\n\
               21900002;;GARÇON;Noël;2003-01-31;905;L1INF;2025;A;\r\n\
               21900003;BADINE;X;Y;01/01/2004;905;L1INF;2025;E;\r\n";
    let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(csv);
    let r = app
        .send(
            app.request(reqwest::Method::POST, "/students/import")
                .bearer_auth(&admin)
                .header("content-type", "text/csv")
                .body(latin1.into_owned()),
        )
        .await;
    let report = r.ok(200).clone();
    assert_eq!(report["rows"], 3, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(report["rejections"][0]["line"], 4);
    assert_eq!(report["rejections"][0]["code"], "invalid_ine");
    let s = app.get("/students/21900001", &admin).await;
    assert_eq!(s.ok(200)["last_name"], "LEFÈVRE");
    assert_eq!(s.body["birth_date"], "2004-03-12");
    assert_eq!(s.body["ine"], "0123456789M");
    // The same extraction, TAB separated and UTF-8, sent as a multipart file: unchanged.
    let tsv = csv.replace(';', "\t");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(tsv.into_bytes()).file_name("extraction.tsv"),
    );
    let r = app
        .send(
            app.request(reqwest::Method::POST, "/students/import")
                .bearer_auth(&admin)
                .multipart(form),
        )
        .await;
    assert_eq!(r.ok(200)["unchanged"], 2, "{}", r.body);
    // Not an extraction at all: refused whole, nothing imported.
    let r = app
        .send(
            app.request(reqwest::Method::POST, "/students/import")
                .bearer_auth(&admin)
                .header("content-type", "text/csv")
                .body(b"\x89PNG\r\n\x1a\n\x00\x00binary".to_vec()),
        )
        .await;
    r.problem(400, "invalid_enrolment_file");
    let r = app
        .send(
            app.request(reqwest::Method::POST, "/students/import")
                .bearer_auth(&admin)
                .header("content-type", "text/csv")
                .body("NOM;PRENOM\nA;B\n"),
        )
        .await;
    assert!(
        r.problem(400, "invalid_enrolment_file")["detail"]
            .as_str()
            .unwrap()
            .contains("cod_etu"),
        "{}",
        r.body
    );
}

/// A large import refreshes PostgreSQL's planner statistics before it answers: the registry
/// lists that follow a bulk load are planned for the tables as they now are, not as they were
/// at autovacuum's last pass (SQLite plans without statistics: nothing to check there).
#[actix_web::test]
async fn a_large_import_refreshes_the_planner_statistics() {
    use diesel::prelude::*;
    let Some(app) = TestApp::postgres_with(|_| {}).await else {
        eprintln!("PASSERELLE_TEST_DATABASE_URL not set: PostgreSQL run skipped");
        return;
    };
    app.composantes(&["905"]).await;
    let rows = (0..passerelle::db::students::ANALYZE_AFTER_ROWS)
        .map(|i| {
            let cod_etu = format!("{}", 40_000_000 + i);
            row(&cod_etu, "MARTIN", "Léa", "905", "L1INF", CURRENT_YEAR, "E")
        })
        .collect();
    let report = app.import(rows).await;
    assert_eq!(
        report["created"],
        passerelle::db::students::ANALYZE_AFTER_ROWS,
        "{report}"
    );
    let mut pg = diesel::PgConnection::establish(&app.config.database_url).unwrap();
    // The statistics views are flushed by the server's backend within a second or so.
    let mut analyzed = Vec::new();
    for _ in 0..50 {
        analyzed = diesel::sql_query(
            "SELECT relname FROM pg_stat_user_tables \
             WHERE schemaname = current_schema() AND last_analyze IS NOT NULL ORDER BY relname",
        )
        .load::<Relname>(&mut pg)
        .unwrap()
        .into_iter()
        .map(|r| r.relname)
        .collect();
        if analyzed.len() == 5 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        analyzed,
        [
            "enrolments",
            "student_terms",
            "students",
            "vault_registry",
            "vaults"
        ],
        "tables analyzed by the import"
    );
}

#[derive(diesel::QueryableByName)]
struct Relname {
    #[diesel(sql_type = diesel::sql_types::Text)]
    relname: String,
}

/// One student of the registry model below: what the lists must show, computed without the
/// database (folded name order, term prefixes, composantes, status).
struct Modelled {
    cod_etu: &'static str,
    last: &'static str,
    first: &'static str,
    composantes: Vec<&'static str>,
    status: &'static str,
}

impl Modelled {
    fn sort_key(&self) -> (String, &'static str) {
        (
            passerelle::db::students::search_name(self.last, self.first),
            self.cod_etu,
        )
    }

    fn matches(&self, q: &str) -> bool {
        let terms = passerelle::domain::text::search_terms(&[self.cod_etu, self.last, self.first]);
        passerelle::domain::text::search_terms(&[q])
            .iter()
            .all(|w| terms.iter().any(|t| t.starts_with(w.as_str())))
    }
}

both_backends!(composante_lists_follow_every_change, composante_lists_body);
async fn composante_lists_body(app: TestApp) {
    // A composante's lists, totals and counts come from a table kept by the writes
    // themselves: after an import, a status change, a rename and an enrolment moved to another
    // composante, every list, order, filter and total must be what the students are now.
    app.composantes(&["905", "906"]).await;
    let y = CURRENT_YEAR;
    app.import(vec![
        row("31000001", "LEFÈVRE", "Zoé", "905", "L1", y, "E"),
        row("31000002", "Lefevre", "Marc", "905", "L1", y, "E"),
        row("31000003", "DUPOND", "Anne", "905", "L2", y, "A"),
        row("31000004", "DUPONT", "Éric", "905", "L1", y, "E"),
        row("31000004", "DUPONT", "Éric", "906", "L1BIO", y, "E"),
        row("31000005", "MARTIN", "Luc", "906", "L1BIO", y, "E"),
        row("31000006", "MARTIN", "Luc", "905", "L1", y, "E"),
        row("31000007", "D'ALEMBERT", "Jean", "905", "L3", y, "E"),
        row("31000008", "ÉVRARD", "Inès", "905", "L1", y, "E"),
        row("31000009", "LEFÈVRE-DURAND", "Zoé", "905", "L1", y - 1, "E"),
    ])
    .await;
    let v1 = app.vault_id("31000001").await;
    let v7 = app.vault_id("31000007").await;
    force(&app, &v1, VaultTrigger::SubscriptionSucceeded);
    force(&app, &v7, VaultTrigger::SubscriptionSucceeded);
    // Marc LEFEVRE is now MOREAU; Inès ÉVRARD's L1 enrolment moves to 906.
    app.import(vec![
        row("31000002", "MOREAU", "Marc", "905", "L1", y, "E"),
        row("31000008", "ÉVRARD", "Inès", "906", "L1", y, "E"),
    ])
    .await;

    let m = |cod_etu, last, first, composantes: &[&'static str], status| Modelled {
        cod_etu,
        last,
        first,
        composantes: composantes.to_vec(),
        status,
    };
    let model = [
        m("31000001", "LEFÈVRE", "Zoé", &["905"], "active"),
        m("31000002", "MOREAU", "Marc", &["905"], "not_transmitted"),
        m("31000003", "DUPOND", "Anne", &["905"], "no_valid_enrolment"),
        m(
            "31000004",
            "DUPONT",
            "Éric",
            &["905", "906"],
            "not_transmitted",
        ),
        m("31000005", "MARTIN", "Luc", &["906"], "not_transmitted"),
        m("31000006", "MARTIN", "Luc", &["905"], "not_transmitted"),
        m("31000007", "D'ALEMBERT", "Jean", &["905"], "active"),
        m("31000008", "ÉVRARD", "Inès", &["906"], "not_transmitted"),
        m(
            "31000009",
            "LEFÈVRE-DURAND",
            "Zoé",
            &["905"],
            "no_valid_enrolment",
        ),
    ];
    let expected = |composante: &str, statuses: &[&str], q: &str| -> Vec<&'static str> {
        let mut found: Vec<&Modelled> = model
            .iter()
            .filter(|s| s.composantes.contains(&composante))
            .filter(|s| statuses.is_empty() || statuses.contains(&s.status))
            .filter(|s| q.is_empty() || s.matches(q))
            .collect();
        found.sort_by_key(|s| s.sort_key());
        found.iter().map(|s| s.cod_etu).collect()
    };

    // The manager of 905 alone (no composante given), a manager of both asking for one, and
    // an administrator asking for one: the same answers.
    let only_905 = app.manager(&["905"]);
    let both = app.manager(&["905", "906"]);
    let admin = app.admin();
    let cases: &[(&str, &[&str], &str)] = &[
        ("", &[], ""),
        ("", &[], "lefevre"),
        ("", &[], "LÉF"),
        ("", &[], "dup"),
        ("", &[], "dupont eric"),
        ("", &[], "moreau"),
        ("", &[], "marc"),
        ("", &[], "evrard"),
        ("", &[], "alembert"),
        ("", &[], "3100000"),
        ("", &[], "31000004"),
        ("", &[], "zoe lefevre durand"),
        ("active", &["active"], ""),
        (
            "not_transmitted,no_valid_enrolment",
            &["not_transmitted", "no_valid_enrolment"],
            "",
        ),
        ("not_transmitted", &["not_transmitted"], "martin"),
    ];
    for composante in ["905", "906"] {
        for &(status, statuses, q) in cases {
            let want = expected(composante, statuses, q);
            let encoded: String = q
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            let query = [("status", status.to_owned()), ("q", encoded)]
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            let mut askers = vec![
                (&admin, format!("/vaults?composante={composante}&{query}")),
                (&both, format!("/vaults?composante={composante}&{query}")),
            ];
            if composante == "905" {
                askers.push((&only_905, format!("/vaults?{query}")));
            }
            for (token, path) in askers {
                let r = app.get(&path, token).await;
                assert_eq!(codes(r.ok(200)), want, "{path}");
                assert_eq!(r.body["total"], want.len(), "{path}");
                // Page by page, with the total counted on full pages.
                let r = app.get(&format!("{path}&per_page=2&page=2"), token).await;
                let page: Vec<&str> = want.iter().skip(2).take(2).copied().collect();
                assert_eq!(codes(r.ok(200)), page, "{path} page 2");
                assert_eq!(r.body["total"], want.len(), "{path} page 2");
            }
        }
        // The other orders.
        let mut by_number = expected(composante, &[], "");
        by_number.sort();
        let r = app
            .get(
                &format!("/vaults?composante={composante}&sort=cod_etu"),
                &admin,
            )
            .await;
        assert_eq!(codes(r.ok(200)), by_number);
        by_number.reverse();
        let r = app
            .get(
                &format!("/vaults?composante={composante}&sort=-cod_etu"),
                &admin,
            )
            .await;
        assert_eq!(codes(r.ok(200)), by_number);
        let mut by_name = expected(composante, &[], "");
        by_name.reverse();
        let r = app
            .get(
                &format!("/vaults?composante={composante}&sort=-name"),
                &admin,
            )
            .await;
        assert_eq!(codes(r.ok(200)), by_name);
        let mut by_status: Vec<&Modelled> = model
            .iter()
            .filter(|s| s.composantes.contains(&composante))
            .collect();
        by_status.sort_by_key(|s| (s.status, s.sort_key()));
        let by_status: Vec<&str> = by_status.iter().map(|s| s.cod_etu).collect();
        let r = app
            .get(
                &format!("/vaults?composante={composante}&sort=status"),
                &admin,
            )
            .await;
        assert_eq!(codes(r.ok(200)), by_status);

        // The summary's counts.
        let s = app
            .get(&format!("/vaults/summary?composante={composante}"), &both)
            .await;
        let body = s.ok(200).clone();
        for entry in body["statuses"].as_array().unwrap() {
            let status = entry["status"].as_str().unwrap();
            assert_eq!(
                entry["count"],
                expected(composante, &[status], "").len(),
                "{composante} {status}"
            );
        }
        assert_eq!(body["total"], expected(composante, &[], "").len());
    }
    let s = app.get("/vaults/summary", &only_905).await;
    assert_eq!(s.ok(200)["total"], expected("905", &[], "").len());
    // Outside the manager's scope: nothing, whatever the path.
    let r = app.get("/vaults?composante=906", &only_905).await;
    assert_eq!(r.ok(200)["total"], 0);
    let s = app.get("/vaults/summary?composante=906", &only_905).await;
    assert_eq!(s.ok(200)["total"], 0);
}

/// A composante's counts recounted from the vaults, enrolments and jobs themselves (not from
/// the registry): vaults per status and subscriptions queued.
fn recount(app: &TestApp, composante: &str) -> (std::collections::BTreeMap<String, i64>, i64) {
    use diesel::prelude::*;
    use passerelle::db::schema::{enrolments, jobs, vaults};
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let enrolled = enrolments::table
        .filter(enrolments::composante.eq(composante))
        .select(enrolments::student_id);
    let rows: Vec<(String, String)> = vaults::table
        .filter(vaults::student_id.eq_any(enrolled))
        .select((vaults::id, vaults::status))
        .load(&mut *conn)
        .unwrap();
    let open: std::collections::HashSet<String> = jobs::table
        .filter(jobs::kind.eq("vault_subscribe"))
        .filter(jobs::status.eq_any(["pending", "running"]))
        .select(jobs::subject_id)
        .load::<String>(&mut *conn)
        .unwrap()
        .into_iter()
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for (_, status) in &rows {
        *counts.entry(status.clone()).or_insert(0) += 1;
    }
    let queued = rows.iter().filter(|(id, _)| open.contains(id)).count() as i64;
    (counts, queued)
}

async fn assert_summary_is_a_recount(app: &TestApp, when: &str) {
    let admin = app.admin();
    for composante in ["905", "906"] {
        let (counts, queued) = recount(app, composante);
        let s = app
            .get(&format!("/vaults/summary?composante={composante}"), &admin)
            .await;
        let body = s.ok(200);
        for entry in body["statuses"].as_array().unwrap() {
            let status = entry["status"].as_str().unwrap();
            assert_eq!(
                entry["count"],
                counts.get(status).copied().unwrap_or(0),
                "{when}: {composante} {status}"
            );
        }
        assert_eq!(
            body["total"],
            counts.values().sum::<i64>(),
            "{when}: {composante}"
        );
        assert_eq!(
            body["queued_subscriptions"], queued,
            "{when}: {composante} queued"
        );
    }
}

both_backends!(summary_counts_follow_concurrent_writes, summary_counts_body);
async fn summary_counts_body(app: TestApp) {
    // The summary reads counts kept on write: after imports, subscriptions, status changes,
    // objections, consents restored and erasures, many of them at the same time, they must be
    // what a recount of the vaults and jobs gives.
    app.composantes(&["905", "906"]).await;
    let y = CURRENT_YEAR;
    let cod = |i: usize| format!("{}", 32_000_000 + i);
    let enrolment_rows = |i: usize, moved: bool| -> Vec<Value> {
        let composantes: &[&str] = match (i % 4, moved) {
            (0, _) | (3, false) => &["905"],
            (3, true) => &["906"],
            (1, _) => &["906"],
            _ => &["905", "906"],
        };
        let year = if i.is_multiple_of(7) { y - 1 } else { y };
        composantes
            .iter()
            .map(|c| {
                let mut r = row(&cod(i), "NOM", "Prénom", c, "L1", year, "E");
                if i.is_multiple_of(5) {
                    r["vault_objection"] = json!(true);
                }
                r
            })
            .collect()
    };
    app.import((0..48).flat_map(|i| enrolment_rows(i, false)).collect())
        .await;
    assert_summary_is_a_recount(&app, "after the import").await;

    // Some subscriptions succeed, in transactions of several vaults each, on four threads at
    // once, while objections, restored consents, erasures and an import that moves students
    // between composantes go through the API.
    let mut ids = Vec::new();
    for i in 0..48 {
        ids.push(app.vault_id(&cod(i)).await);
    }
    let subscribed: Vec<Vec<String>> = (0..4)
        .map(|t| {
            (0..48)
                .filter(|i| i % 5 != 0 && i % 7 != 0 && i % 6 == t)
                .map(|i| ids[i].clone())
                .collect()
        })
        .collect();
    let threads: Vec<_> = subscribed
        .into_iter()
        .map(|chunk| {
            let db = app.db();
            std::thread::spawn(move || {
                use diesel::prelude::*;
                use passerelle::db::schema::jobs;
                let mut conn = db.conn().unwrap();
                passerelle::db::write_transaction(&mut conn, |conn| {
                    for id in &chunk {
                        let vault = vault_repo::find(conn, id)?;
                        vault_repo::transition(
                            conn,
                            &vault,
                            VaultTrigger::SubscriptionSucceeded,
                            "test:digiposte",
                            None,
                        )?;
                        diesel::update(jobs::table.filter(jobs::subject_id.eq(id)))
                            .set(jobs::status.eq("done"))
                            .execute(conn)?;
                    }
                    Ok(())
                })
                .unwrap();
            })
        })
        .collect();
    let admin = app.admin();
    // Each student is written by one of them at most, except by the import (none is refused).
    let objections = [11usize, 17, 22].map(|i| {
        app.post(
            "/consents",
            &admin,
            json!({"student": cod(i), "purpose": "vault_precreation", "event": "objected",
                   "source": "paper", "evidence_ref": "GED-1"}),
        )
    });
    let restored = [5usize, 10].map(|i| {
        app.post(
            "/consents",
            &admin,
            json!({"student": cod(i), "purpose": "vault_precreation", "event": "restored",
                   "source": "paper", "evidence_ref": "GED-2"}),
        )
    });
    let erasure_paths = [29usize, 34].map(|i| format!("/students/{}/erase", cod(i)));
    let erasures = erasure_paths
        .iter()
        .map(|path| app.post(path, &admin, json!({})));
    let moved: Vec<Value> = (0..48)
        .filter(|i| ![29, 34].contains(i))
        .flat_map(|i| enrolment_rows(i, true))
        .collect();
    let import = app.post("/students/import", &admin, Value::Array(moved));
    let (objections, restored, erasures, import) = futures_util::join!(
        futures_util::future::join_all(objections),
        futures_util::future::join_all(restored),
        futures_util::future::join_all(erasures),
        import
    );
    for r in objections.iter().chain(&restored) {
        r.ok(201);
    }
    for r in &erasures {
        r.ok(200);
    }
    import.ok(200);
    for t in threads {
        t.join().unwrap();
    }
    assert_summary_is_a_recount(&app, "after the concurrent writes").await;

    // A transaction rolled back leaves the counts as they were.
    let db = app.db();
    let mut conn = db.conn().unwrap();
    let rolled_back = passerelle::db::write_transaction(&mut conn, |conn| {
        let vault = vault_repo::find(conn, &ids[16])?;
        vault_repo::transition(
            conn,
            &vault,
            VaultTrigger::SubscriptionSucceeded,
            "test:digiposte",
            None,
        )?;
        Err::<(), _>(passerelle::error::ApiError::new(
            passerelle::error::ErrorCode::InternalError,
            passerelle::i18n::Text::untranslated("rolled back on purpose"),
        ))
    });
    assert_eq!(
        rolled_back.unwrap_err().code,
        passerelle::error::ErrorCode::InternalError,
        "the transition itself succeeded"
    );
    drop(conn);
    assert_summary_is_a_recount(&app, "after a rollback").await;
}

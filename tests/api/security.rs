//! Issue 17 ("security, round two"): scope on every write, bounded requests, throttling, strict
//! tokens, private files, quiet logs. Each test names the point it holds.

use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, TestApp, both_backends, row};

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

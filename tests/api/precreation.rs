//! Seed 001, "pre-created unless refused": an import (or a restored consent) queues the
//! subscription of every validly enrolled student who did not object; students who objected
//! stay listed as "Opposition enregistrée"; managers subscribe a filtered selection in bulk,
//! confirming its count. Digiposte is not configured here, so queued jobs stay queued.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, TestApp, both_backends, row};

fn count_of(summary: &Value, status: &str) -> i64 {
    summary["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == status)
        .unwrap_or_else(|| panic!("{status} missing from {summary}"))["count"]
        .as_i64()
        .unwrap()
}

async fn import_queues_subscriptions_and_lists_objections(app: TestApp) {
    app.composantes(&["905"]).await;
    let mut refusing = row("21900001", "REFUS", "Anne", "905", "L1", CURRENT_YEAR, "E");
    refusing["vault_objection"] = json!(true);
    let report = app
        .import(vec![
            refusing,
            row(
                "21900002",
                "ACCORD",
                "Basile",
                "905",
                "L1",
                CURRENT_YEAR,
                "E",
            ),
            row(
                "21900003",
                "ACCORD",
                "Chloé",
                "905",
                "L1",
                CURRENT_YEAR,
                "E",
            ),
            row(
                "21900004",
                "ANCIEN",
                "Denis",
                "905",
                "L1",
                CURRENT_YEAR - 1,
                "E",
            ),
        ])
        .await;
    assert_eq!(report["objections_recorded"], 1);
    assert_eq!(report["vaults_created"], 4);
    assert_eq!(
        report["vaults_queued"], 2,
        "the two validly enrolled students who did not object: {report}"
    );

    // Progress is visible: two subscriptions queued, one objection, one without enrolment.
    let manager = app.manager(&["905"]);
    let summary = app.get("/vaults/summary?composante=905", &manager).await;
    let summary = summary.ok(200);
    assert_eq!(summary["queued_subscriptions"], 2);
    assert_eq!(count_of(summary, "objected"), 1);
    assert_eq!(count_of(summary, "not_transmitted"), 2);
    assert_eq!(count_of(summary, "no_valid_enrolment"), 1);
    assert_eq!(summary["total"], 4);
    let objected_label = summary["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "objected")
        .unwrap()["label"]
        .clone();
    assert_eq!(objected_label, "Opposition enregistrée");

    // The student who objected is listed, with the date and source of the objection.
    let list = app.get("/vaults?status=objected", &manager).await;
    let items = list.ok(200)["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["student"]["cod_etu"], "21900001");
    assert_eq!(items[0]["status_label"], "Opposition enregistrée");
    assert_eq!(items[0]["objection"]["source"], "import");
    assert!(items[0]["objection"]["recorded_at"].is_string());
    let others = app.get("/vaults?status=not_transmitted", &manager).await;
    assert!(
        others.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["objection"].is_null())
    );
    // Each queued vault shows its pending subscription.
    let id = app.vault_id("21900002").await;
    let detail = app.get(&format!("/vaults/{id}"), &manager).await;
    assert_eq!(
        detail.ok(200)["pending_actions"][0]["kind"],
        "vault_subscribe"
    );
    let objected_id = app.vault_id("21900001").await;
    let detail = app.get(&format!("/vaults/{objected_id}"), &manager).await;
    assert!(
        detail.ok(200)["pending_actions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(detail.body["objection"]["source"], "import");
    // A subscription of an objected vault is refused (its status does not allow it).
    let r = app
        .post(
            &format!("/vaults/{objected_id}/subscribe"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(
        r.problem(409, "invalid_transition")["current_status"],
        "objected"
    );

    // The student sees how to withdraw the objection.
    let me = app.get("/me/vault", &app.student("21900001")).await;
    assert_eq!(me.ok(200)["status"], "objected");
    assert!(
        me.body["next_step"]
            .as_str()
            .unwrap()
            .contains("retirer votre opposition"),
        "{}",
        me.body
    );
    assert_eq!(me.body["objection"]["source"], "import");
    assert!(me.body["customization_url"].is_null());

    // Re-importing changes nothing: no second objection, no new job.
    let mut again = row("21900001", "REFUS", "Anne", "905", "L1", CURRENT_YEAR, "E");
    again["vault_objection"] = json!(true);
    let report = app.import(vec![again]).await;
    assert_eq!(report["objections_recorded"], 0);
    assert_eq!(report["vaults_queued"], 0);

    // Consent restored: the objection is lifted and the subscription queued at once.
    let r = app
        .post(
            "/consents",
            &app.admin(),
            json!({"student": "21900001", "purpose": "vault_precreation", "event": "restored",
                   "source": "paper", "evidence_ref": "GED-2025-0042"}),
        )
        .await;
    assert_eq!(
        r.ok(201)["effects"],
        json!(["objection_lifted", "subscription_queued"])
    );
    let summary = app.get("/vaults/summary?composante=905", &manager).await;
    assert_eq!(summary.ok(200)["queued_subscriptions"], 3);
    assert_eq!(count_of(&summary.body, "objected"), 0);

    // A new objection before anything was sent: back to "Opposition enregistrée", the queued
    // subscription cancelled.
    let r = app
        .post(
            "/consents",
            &app.admin(),
            json!({"student": "21900002", "purpose": "vault_precreation", "event": "objected",
                   "source": "manager"}),
        )
        .await;
    let effects = r.ok(201)["effects"].as_array().unwrap().clone();
    assert!(
        effects.contains(&json!("objection_recorded")),
        "{effects:?}"
    );
    assert!(
        effects.contains(&json!("pending_subscription_cancelled")),
        "{effects:?}"
    );
    let v = app.vault_id("21900002").await;
    let detail = app.get(&format!("/vaults/{v}"), &manager).await;
    assert_eq!(detail.ok(200)["status"], "objected");
    assert_eq!(detail.body["objection"]["source"], "manager");
    let summary = app.get("/vaults/summary?composante=905", &manager).await;
    assert_eq!(summary.ok(200)["queued_subscriptions"], 2);
}
both_backends!(
    an_import_queues_subscriptions_and_lists_objections,
    import_queues_subscriptions_and_lists_objections
);

async fn without_auto_subscribe_nothing_is_queued(app: TestApp) {
    app.composantes(&["905"]).await;
    let report = app
        .import(vec![row(
            "21900002",
            "ACCORD",
            "Basile",
            "905",
            "L1",
            CURRENT_YEAR,
            "E",
        )])
        .await;
    assert_eq!(report["vaults_queued"], 0);
    let summary = app.get("/vaults/summary", &app.admin()).await;
    assert_eq!(summary.ok(200)["queued_subscriptions"], 0);
}
both_backends!(
    without_auto_subscribe_an_import_queues_nothing,
    without_auto_subscribe_nothing_is_queued,
    |c| c.vaults.auto_subscribe = false
);

async fn bulk_subscription_confirms_its_count(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    let mut refusing = row("21900009", "REFUS", "Anne", "905", "L1", CURRENT_YEAR, "E");
    refusing["vault_objection"] = json!(true);
    app.import(vec![
        row("21900001", "UN", "A", "905", "L1", CURRENT_YEAR, "E"),
        row("21900002", "DEUX", "B", "905", "L1", CURRENT_YEAR, "E"),
        row("21900003", "TROIS", "C", "905", "L1", CURRENT_YEAR, "E"),
        row("21900004", "AUTRE", "D", "906", "L1", CURRENT_YEAR, "E"),
        refusing,
    ])
    .await;
    let manager = app.manager(&["905"]);
    let bulk = async |query: &str, token: &str, expected: i64| {
        app.post(
            &format!("/vaults/subscribe{query}"),
            token,
            json!({ "expected_vaults": expected }),
        )
        .await
    };
    // A wrong count queues nothing and says the right one.
    let r = bulk("?composante=905", &manager, 5).await;
    assert_eq!(
        r.problem(409, "confirmation_mismatch")["expected_vaults"],
        3
    );
    let summary = app.get("/vaults/summary", &manager).await;
    assert_eq!(summary.ok(200)["queued_subscriptions"], 0);
    // The registry filters apply: a name search selects one.
    let r = bulk("?composante=905&q=deux", &manager, 1).await;
    assert_eq!(r.ok(202)["queued"], 1);
    // The right count queues the rest; the one queued already keeps its job.
    let r = bulk("?composante=905&status=not_transmitted", &manager, 3).await;
    assert_eq!(r.ok(202)["subscribable"], 3, "{}", r.body);
    assert_eq!(r.body["queued"], 2);
    assert_eq!(r.body["already_queued"], 1);
    let summary = app.get("/vaults/summary?composante=905", &manager).await;
    assert_eq!(summary.ok(200)["queued_subscriptions"], 3);
    // Outside the manager's scope nothing is selected; the student who objected never is.
    let r = bulk("?composante=906", &manager, 0).await;
    assert_eq!(r.ok(202)["queued"], 0);
    let r = bulk("?status=objected", &app.admin(), 0).await;
    assert_eq!(r.ok(202)["subscribable"], 0);
    // Bad requests: an unknown status, a missing count, a student.
    bulk("?status=nope", &manager, 0)
        .await
        .problem(400, "invalid_parameter");
    let r = app
        .send(
            app.request(Method::POST, "/vaults/subscribe")
                .bearer_auth(&manager)
                .json(&json!({})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    bulk("", &app.student("21900001"), 0)
        .await
        .problem(403, "forbidden");
    // Audited, without personal data.
    let audit = app
        .get("/audit?action=vault.subscribe_all", &app.admin())
        .await;
    assert_eq!(
        audit.ok(200)["total"],
        4,
        "each accepted bulk action, not the refused one"
    );
}
both_backends!(
    a_bulk_subscription_confirms_its_count,
    bulk_subscription_confirms_its_count,
    |c| c.vaults.auto_subscribe = false
);

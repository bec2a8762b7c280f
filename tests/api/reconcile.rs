//! Receipts that never came, against a real `digiposte-sim` with its receipts switched off:
//! documents reconciled by the status read (transmitted, or rejected), asked again while
//! Digiposte still processes them, left "À vérifier" for a manager when no status read is
//! configured, and a late receipt after the reconciliation changing nothing.

use std::time::Duration;

use diesel::prelude::*;
use passerelle::digiposte::deposit_file_name;
use serde_json::{Value, json};

use crate::digiposte::{
    Sim, WEBHOOK_SECRET, app_with, documents, metric_sum, postgres_configured, prepared_treatment,
    send, signed, until, wait_final, with_sim,
};
use crate::support::TestApp;

/// The status read digiposte-sim serves (passerelle's own design).
const STATUS_PATH: &str = "/document/{id_routage}/status";

fn reference_of(app: &TestApp, doc: &str) -> String {
    use passerelle::db::schema::documents;
    let db = app.db();
    let mut conn = db.conn().unwrap();
    documents::table
        .filter(documents::id.eq(doc))
        .select(documents::digiposte_document_id)
        .first::<Option<String>>(&mut *conn)
        .unwrap()
        .expect("a deposited document keeps Digiposte's reference")
}

async fn metrics(app: &TestApp) -> String {
    let r = app.get("/metrics", &app.admin()).await;
    String::from_utf8(r.bytes.clone()).unwrap()
}

async fn reconciled_audit(app: &TestApp) -> Value {
    app.get("/audit?action=document.reconcile", &app.admin())
        .await
        .ok(200)
        .clone()
}

with_sim!(
    lost_receipts_are_reconciled_by_the_status_read,
    status_read_body
);
async fn status_read_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |c| {
        c.digiposte.document_status_path = STATUS_PATH.into();
        c.digiposte.reconcile_after_secs = 1;
    })
    .await;
    // No receipt ever comes; Digiposte processes each deposit for 4 s.
    sim.faults(json!({ "webhook_url": null, "receipt_delay_ms": 4000 }))
        .await;
    let id = prepared_treatment(&app, 3).await;
    let docs = documents(&app, &id).await;
    let rejected = docs[0]["id"].as_str().unwrap().to_owned();
    sim.faults(json!({ "reject_file_names": [deposit_file_name(&rejected)] }))
        .await;
    assert_eq!(send(&app, &id).await, 3);

    let c = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(c.get("transmitted"), Some(&2), "{c:?}");
    assert_eq!(c.get("not_transmitted"), Some(&1), "{c:?}");
    let stats = sim.stats().await;
    assert_eq!(stats["receipts_sent"], 0, "{stats}");
    assert_eq!(stats["max_deposits_per_file"], 1, "{stats}");
    for d in documents(&app, &id).await {
        if d["id"] == rejected.as_str() {
            assert_eq!(d["delivery_status"], "not_transmitted", "{d}");
            assert_eq!(
                d["delivery_reason"],
                "rejected by the simulator (reject_file_names)"
            );
        } else {
            assert_eq!(d["delivery_status"], "transmitted", "{d}");
        }
    }
    // Asked while Digiposte was still processing, then again later.
    let text = metrics(&app).await;
    assert!(
        metric_sum(
            &text,
            "passerelle_digiposte_reconciled_total{outcome=\"processing\"}"
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        metric_sum(
            &text,
            "passerelle_digiposte_reconciled_total{outcome=\"transmitted\"}"
        ),
        2.0
    );
    assert_eq!(
        metric_sum(
            &text,
            "passerelle_digiposte_reconciled_total{outcome=\"not_transmitted\"}"
        ),
        1.0
    );
    assert!(stats["status_reads"].as_i64().unwrap() > 3, "{stats}");
    assert_eq!(reconciled_audit(&app).await["total"], 3);

    // The receipt comes after all, late: taken, changes nothing, not an error.
    let delivered = docs.iter().find(|d| d["id"] != rejected.as_str()).unwrap();
    let delivered = delivered["id"].as_str().unwrap();
    for (doc, status) in [(delivered, "FAILED"), (rejected.as_str(), "DELIVERED")] {
        let late = json!({
            "receipt_id": format!("late-{doc}"),
            "document_id": reference_of(&app, doc),
            "status": status,
        });
        let r = app.send(signed(&app, &late, 0, WEBHOOK_SECRET)).await;
        assert_eq!(r.ok(200)["outcome"], "ignored", "{}", r.body);
    }
    let c = wait_final(&app, &id, Duration::from_secs(5)).await;
    assert_eq!(
        (c.get("transmitted"), c.get("not_transmitted")),
        (Some(&2), Some(&1))
    );
    assert_eq!(reconciled_audit(&app).await["total"], 3);
}

with_sim!(
    without_a_status_read_a_lost_receipt_goes_to_a_manager,
    no_status_read_body
);
async fn no_status_read_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |c| c.digiposte.reconcile_after_secs = 1).await;
    sim.faults(json!({ "webhook_url": null })).await;
    let id = prepared_treatment(&app, 2).await;
    assert_eq!(send(&app, &id).await, 2);

    let c = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(c.get("uncertain"), Some(&2), "{c:?}");
    let docs = documents(&app, &id).await;
    for d in &docs {
        assert_eq!(d["delivery_status_label"], "À vérifier", "{d}");
        assert_eq!(
            d["delivery_reason"],
            "receipt_never_came: no status read configured (digiposte.document_status_path)"
        );
    }
    // Nothing was asked of Digiposte, nothing deposited twice.
    let stats = sim.stats().await;
    assert_eq!(stats["status_reads"], 0, "{stats}");
    assert_eq!(stats["deposits_total"], 2, "{stats}");
    assert_eq!(reconciled_audit(&app).await["total"], 2);
    let text = metrics(&app).await;
    assert_eq!(
        metric_sum(
            &text,
            "passerelle_digiposte_reconciled_total{outcome=\"uncertain\"}"
        ),
        2.0,
        "{text}"
    );

    // The manager looks in the vault: there (received), or deposited again.
    let manager = app.manager(&["905"]);
    for (d, resolution, to) in [
        (&docs[0], "received", "transmitted"),
        (&docs[1], "deposit_again", "queued"),
    ] {
        let doc = d["id"].as_str().unwrap();
        let r = app
            .post(
                &format!("/treatments/{id}/documents/{doc}/uncertain"),
                &manager,
                json!({ "resolution": resolution }),
            )
            .await;
        assert_eq!(r.ok(200)["delivery_status"], to, "{}", r.body);
    }
    // The second deposit's receipt never comes either: À vérifier again, never waiting for
    // ever; the first deposit was never repeated.
    until("the second deposit", Duration::from_secs(30), async || {
        (sim.stats().await["deposits_total"] == 3).then_some(())
    })
    .await;
    let c = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(
        (c.get("transmitted"), c.get("uncertain")),
        (Some(&1), Some(&1)),
        "{c:?}"
    );
    let stats = sim.stats().await;
    assert_eq!(
        stats["deposits_per_file"][deposit_file_name(docs[0]["id"].as_str().unwrap())],
        1
    );
}

with_sim!(
    a_receipt_repeated_after_its_deposit_was_recorded_applies,
    repeated_receipt_body
);
/// The receipt arrived while the deposit's bookkeeping was under way: kept as unknown (404).
/// The deposit is then recorded without seeing it (what two crossing transactions did on
/// PostgreSQL); the sender repeats the receipt, and it applies.
async fn repeated_receipt_body(postgres: bool) {
    use passerelle::db::schema::documents;
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |_| {}).await;
    sim.faults(json!({ "webhook_url": null })).await;
    let id = prepared_treatment(&app, 1).await;
    send(&app, &id).await;
    let doc = until("the deposit", Duration::from_secs(20), async || {
        let d = documents(&app, &id).await.remove(0);
        (d["delivery_status"] == "awaiting_receipt").then_some(d)
    })
    .await;
    let doc = doc["id"].as_str().unwrap().to_owned();
    let reference = reference_of(&app, &doc);
    // As the crossing left it: the deposit not yet visible to the receipt.
    let hide = |r: Option<&str>| {
        let db = app.db();
        let mut conn = db.conn().unwrap();
        diesel::update(documents::table.find(&doc))
            .set(documents::digiposte_document_id.eq(r))
            .execute(&mut *conn)
            .unwrap();
    };
    hide(None);
    let receipt = json!({"receipt_id": "r-cross", "document_id": reference, "status": "DELIVERED"});
    app.send(signed(&app, &receipt, 0, WEBHOOK_SECRET))
        .await
        .problem(404, "not_found");
    hide(Some(&reference));
    let r = app.send(signed(&app, &receipt, 0, WEBHOOK_SECRET)).await;
    assert_eq!(r.ok(200)["outcome"], "duplicate", "{}", r.body);
    assert_eq!(
        documents(&app, &id).await[0]["delivery_status"],
        "transmitted"
    );
}

/// The simulator's status read (its own extra) sits behind the gateway's checks like every
/// call, and reads its records.
#[actix_web::test]
async fn the_stand_in_status_read_checks_the_key_and_knows_its_deposits() {
    let sim = Sim::start(&[]);
    let http = reqwest::Client::new();
    let url = |id: &str| format!("{}/digiposte/v3/document/{id}/status", sim.url);
    // Without the application key, or with another one: 401.
    let r = http.get(url("unknown")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(url("unknown"))
        .header("X-Okapi-Key", "not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // With the key but no token: 401 too.
    let r = http
        .get(url("unknown"))
        .header("X-Okapi-Key", crate::digiposte::SIM_OKAPI_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let token: Value = http
        .post(format!("{}/digiposte/v3/oauth/token", sim.url))
        .header("X-Okapi-Key", crate::digiposte::SIM_OKAPI_KEY)
        .basic_auth("passerelle", Some("sim-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    // An unknown reference: 404, in the published error shape.
    let r = http
        .get(url("unknown"))
        .header("X-Okapi-Key", crate::digiposte::SIM_OKAPI_KEY)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["error"], "not_found", "{body}");
    assert_eq!(sim.stats().await["status_reads"], 1);
}

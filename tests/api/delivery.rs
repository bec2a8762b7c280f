//! Delivery you can trust and correct, against a real `digiposte-sim`: only within the
//! uploader's composantes, never the same document twice, one document at a time, blocks
//! frozen at the send, and every receipt taken under the default rate limits. Deposits are
//! counted at the simulator.

use std::time::Duration;

use diesel::prelude::*;
use passerelle::db::jobs;
use passerelle::digiposte::deposit_file_name;
use passerelle::pdf::fixture::{self, BatchSpec, PageContent};
use serde_json::{Value, json};

use crate::digiposte::{
    Sim, app_with, documents, postgres_configured, until, wait_final, with_sim,
};
use crate::support::{CURRENT_YEAR, TestApp, row};

/// Subscribes these students' vaults at the simulator and waits until they are active.
async fn subscribe(app: &TestApp, cod_etus: &[&str]) {
    use passerelle::db::schema::{students, vaults};
    let db = app.db();
    let ids: Vec<String> = {
        let mut conn = db.conn().unwrap();
        vaults::table
            .inner_join(students::table)
            .filter(students::cod_etu.eq_any(cod_etus))
            .select(vaults::id)
            .load(&mut *conn)
            .unwrap()
    };
    assert_eq!(ids.len(), cod_etus.len());
    {
        let mut conn = db.conn().unwrap();
        passerelle::db::write_transaction(&mut conn, |c| {
            for id in &ids {
                jobs::enqueue(
                    c,
                    jobs::kind::VAULT_SUBSCRIBE,
                    id,
                    &json!({ "vault_id": id }),
                    "test",
                )?;
            }
            Ok(())
        })
        .unwrap();
    }
    let timeout = Duration::from_secs(60 + ids.len() as u64 / 5);
    until("the subscriptions", timeout, async || {
        let mut conn = db.conn().unwrap();
        let active: i64 = vaults::table
            .filter(vaults::id.eq_any(&ids))
            .filter(vaults::status.eq("active"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        (active == ids.len() as i64).then_some(())
    })
    .await;
}

/// Imports the batch's students: each in 905, except those listed in 906 only.
async fn import(app: &TestApp, students: &[fixture::FixtureStudent], in_906: &[&str]) {
    let rows = students
        .iter()
        .map(|s| {
            let composante = if in_906.contains(&s.cod_etu.as_str()) {
                "906"
            } else {
                "905"
            };
            let mut r = row(
                &s.cod_etu,
                &s.last_name,
                &s.first_name,
                composante,
                "L1INF",
                CURRENT_YEAR,
                "E",
            );
            r["ine"] = json!(s.ine);
            r
        })
        .collect();
    app.import(rows).await;
}

async fn upload_split(app: &TestApp, token: &str, bytes: Vec<u8>) -> String {
    let r = crate::treatments::upload(app, token, bytes, "releve_notes", "905").await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    // A 3,000-student batch takes longer than `wait_split` waits in a debug build.
    let status = until("the split", Duration::from_secs(300), async || {
        let t = app.get(&format!("/treatments/{id}"), token).await;
        (t.body["status"] != "splitting").then(|| t.body["status"].clone())
    })
    .await;
    assert_eq!(status, "split");
    id
}

async fn detail(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/treatments/{id}"), token)
        .await
        .ok(200)
        .clone()
}

/// Sends with the confirmation the manager was shown; returns the summary.
async fn send_as(app: &TestApp, token: &str, id: &str) -> Value {
    let deliverable = detail(app, token, id).await["deliverable"].clone();
    app.post(
        &format!("/treatments/{id}/send"),
        token,
        json!({ "expected_documents": deliverable }),
    )
    .await
    .ok(202)
    .clone()
}

fn deposits_of(stats: &Value, doc: &str) -> i64 {
    stats["deposits_per_file"][deposit_file_name(doc)]
        .as_i64()
        .unwrap_or(0)
}

async fn document_of(app: &TestApp, token: &str, id: &str, cod_etu: &str) -> Value {
    let r = app
        .get(&format!("/treatments/{id}/documents?per_page=500"), token)
        .await;
    r.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cod_etu"] == cod_etu)
        .cloned()
        .unwrap_or_else(|| panic!("no document for {cod_etu}"))
}

with_sim!(
    a_905_batch_deposits_nothing_for_a_906_student,
    authority_body
);
/// A 905 manager's batch holds a student enrolled only in 906 (active vault): nothing is
/// deposited for them, the manager sees only the number and the pages, an administrator
/// releases the document and sends it on its own. The blocks stay as they were at the send.
async fn authority_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |_| {}).await;
    app.composantes(&["905", "906"]).await;
    let batch = fixture::batch(&BatchSpec {
        students: 4,
        seed: 16,
        ..BatchSpec::default()
    });
    let outsider = batch.students[2].cod_etu.clone();
    import(&app, &batch.students, &[&outsider]).await;
    let all: Vec<&str> = batch.students.iter().map(|s| s.cod_etu.as_str()).collect();
    subscribe(&app, &all).await;
    let manager = app.manager(&["905"]);
    let id = upload_split(&app, &manager, batch.bytes.clone()).await;

    let t = detail(&app, &manager, &id).await;
    assert_eq!(t["deliverable"], 3, "{t}");
    assert_eq!(t["blocks"]["students"], 4, "{t}");
    assert_eq!(t["blocks"]["with_vault"], 3, "{t}");
    assert_eq!(t["blocks"]["outside_composante"], 1, "{t}");
    assert_eq!(t["blocks"]["held"][0]["reason"], "outside_composante");
    assert_eq!(t["blocks"]["held"][0]["label"], "Hors de votre composante");
    // The manager sees the number and the pages, no name from the registry, no vault.
    let seen = document_of(&app, &manager, &id, &outsider).await;
    assert_eq!(seen["hold"], "outside_composante", "{seen}");
    assert_eq!(seen["hold_label"], "Hors de votre composante");
    assert!(
        seen["last_name"].is_null() && seen["first_name"].is_null(),
        "{seen}"
    );
    assert!(seen["vault_status"].is_null(), "{seen}");
    assert_eq!(seen["has_active_vault"], false);
    assert!(!seen["pages"].as_array().unwrap().is_empty());
    let outside = app
        .get(
            &format!("/treatments/{id}/documents?block=outside_composante"),
            &manager,
        )
        .await;
    assert_eq!(outside.ok(200)["total"], 1, "{}", outside.body);
    let with_vault = app
        .get(
            &format!("/treatments/{id}/documents?block=with_vault"),
            &manager,
        )
        .await;
    assert!(
        with_vault.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["cod_etu"] != outsider.as_str()),
        "{}",
        with_vault.body
    );
    // An administrator sees the whole.
    let admin_view = document_of(&app, &app.admin(), &id, &outsider).await;
    assert_eq!(admin_view["vault_status"], "active", "{admin_view}");

    let summary = send_as(&app, &manager, &id).await;
    assert_eq!(summary["queued"], 3, "{summary}");
    assert_eq!(summary["held"][0]["reason"], "outside_composante");
    let frozen = detail(&app, &manager, &id).await["blocks"].clone();
    assert!(frozen["frozen_at"].is_string(), "{frozen}");
    assert_eq!(frozen["sent"], 3);
    wait_final(&app, &id, Duration::from_secs(60)).await;
    until("the receipts", Duration::from_secs(30), async || {
        let t = detail(&app, &manager, &id).await;
        let transmitted = t["deliveries"]
            .as_array()?
            .iter()
            .find(|d| d["status"] == "transmitted")?["count"]
            .as_i64()?;
        (transmitted == 3).then_some(())
    })
    .await;
    let stats = sim.stats().await;
    assert_eq!(stats["deposits_total"], 3, "{stats}");
    let doc = seen["id"].as_str().unwrap().to_owned();
    assert_eq!(deposits_of(&stats, &doc), 0);
    // Blocks that tell the truth: the receipts changed the deliveries, not the blocks.
    let after = detail(&app, &manager, &id).await;
    assert_eq!(after["blocks"], frozen, "{after}");

    // The manager cannot send it nor release it; an administrator releases it, then sends it.
    let refused = app
        .post(
            &format!("/treatments/{id}/documents/{doc}/send"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["code"], "document_held");
    assert_eq!(refused.body["reason"], "outside_composante");
    let r = app
        .post(
            &format!("/treatments/{id}/documents/{doc}/release"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let released = app
        .post(
            &format!("/treatments/{id}/documents/{doc}/release"),
            &app.admin(),
            json!({}),
        )
        .await;
    assert!(
        released.ok(200)["released_by"]
            .as_str()
            .unwrap()
            .starts_with("admin:")
    );
    let sent = app
        .post(
            &format!("/treatments/{id}/documents/{doc}/send"),
            &app.admin(),
            json!({}),
        )
        .await;
    assert_eq!(sent.ok(202)["delivery_status"], "queued", "{}", sent.body);
    wait_final(&app, &id, Duration::from_secs(60)).await;
    let stats = sim.stats().await;
    assert_eq!(stats["deposits_total"], 4, "{stats}");
    assert_eq!(deposits_of(&stats, &doc), 1);
    let audit = app
        .get("/audit?action=document.release", &app.admin())
        .await;
    assert_eq!(
        audit.ok(200)["items"].as_array().unwrap().len(),
        1,
        "{}",
        audit.body
    );
}

with_sim!(
    a_batch_uploaded_twice_deposits_each_document_once,
    twice_body
);
/// The same batch uploaded twice is refused unless confirmed; confirmed, its documents are
/// held `already_delivered` (naming the earlier one); a corrected transcript waits for the
/// manager's confirmation, then goes. Every deposit is counted at the simulator.
async fn twice_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |_| {}).await;
    app.composantes(&["905"]).await;
    let batch = fixture::batch(&BatchSpec {
        students: 5,
        seed: 61,
        ..BatchSpec::default()
    });
    import(&app, &batch.students, &[]).await;
    let all: Vec<&str> = batch.students.iter().map(|s| s.cod_etu.as_str()).collect();
    subscribe(&app, &all).await;
    let manager = app.manager(&["905"]);
    let first = upload_split(&app, &manager, batch.bytes.clone()).await;
    assert_eq!(send_as(&app, &manager, &first).await["queued"], 5);
    wait_final(&app, &first, Duration::from_secs(60)).await;

    // Again, unconfirmed: 409 naming the first treatment.
    let again =
        crate::treatments::upload(&app, &manager, batch.bytes.clone(), "releve_notes", "905").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["code"], "duplicate_upload");
    assert_eq!(again.body["treatment_id"], first.as_str());
    // Confirmed on purpose: a new treatment, whose documents are all held.
    let r =
        crate::treatments::upload_again(&app, &manager, batch.bytes.clone(), "905", &first).await;
    let second = r.ok(202)["id"].as_str().unwrap().to_owned();
    crate::treatments::wait_split(&app, &second).await;
    let t = detail(&app, &manager, &second).await;
    assert_eq!(t["deliverable"], 0, "{t}");
    assert_eq!(t["blocks"]["held"][0]["reason"], "already_delivered", "{t}");
    assert_eq!(t["blocks"]["held"][0]["count"], 5, "{t}");
    let summary = send_as(&app, &manager, &second).await;
    assert_eq!(summary["queued"], 0, "{summary}");
    let earlier = document_of(&app, &manager, &first, all[0]).await;
    let held = document_of(&app, &manager, &second, all[0]).await;
    assert_eq!(held["delivery_status"], "no_vault", "{held}");
    assert_eq!(held["delivery_reason"], "already_delivered", "{held}");
    assert_eq!(held["earlier_document_id"], earlier["id"], "{held}");
    // Sent on its own, it is still held.
    let doc = held["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/treatments/{second}/documents/{doc}/send"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["reason"], "already_delivered");
    assert_eq!(r.body["earlier_document_id"], earlier["id"]);

    // A corrected transcript for the first student: held until the manager confirms.
    let s = &batch.students[0];
    let corrected = fixture::write_pdf(
        &[PageContent::Lines(fixture::releve_page(s, 1, 1, 4242))],
        &Default::default(),
    );
    let third = upload_split(&app, &manager, corrected).await;
    let t = detail(&app, &manager, &third).await;
    assert_eq!(t["deliverable"], 0, "{t}");
    let doc = document_of(&app, &manager, &third, &s.cod_etu).await;
    assert_eq!(doc["hold"], "replaces_delivered", "{doc}");
    assert_eq!(doc["earlier_document_id"], earlier["id"], "{doc}");
    let doc_id = doc["id"].as_str().unwrap();
    let confirmed = app
        .post(
            &format!("/treatments/{third}/documents/{doc_id}/confirm-replacement"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(confirmed.ok(200)["hold"], Value::Null, "{}", confirmed.body);
    assert!(
        confirmed.body["replacement_confirmed_by"]
            .as_str()
            .unwrap()
            .starts_with("manager:")
    );
    assert_eq!(send_as(&app, &manager, &third).await["queued"], 1);
    wait_final(&app, &third, Duration::from_secs(60)).await;

    let stats = sim.stats().await;
    assert_eq!(stats["deposits_total"], 6, "{stats}");
    assert_eq!(stats["max_deposits_per_file"], 1, "{stats}");
    let per_hash = stats["deposits_per_hash"].as_object().unwrap();
    assert!(per_hash.values().all(|n| *n == 1), "{stats}");
    let audit = app
        .get("/audit?action=document.confirm_replacement", &app.admin())
        .await;
    let entries = audit.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{}", audit.body);
    assert!(
        entries[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("manager:")
    );
}

with_sim!(
    a_student_subscribed_after_the_send_gets_one_deposit,
    later_body
);
/// A student without a vault at the send is held; once subscribed, the per-document send
/// deposits their document exactly once (a second request queues nothing), and send-held
/// then finds nothing left.
async fn later_body(postgres: bool) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |_| {}).await;
    app.composantes(&["905"]).await;
    let batch = fixture::batch(&BatchSpec {
        students: 3,
        seed: 33,
        ..BatchSpec::default()
    });
    import(&app, &batch.students, &[]).await;
    let late = batch.students[1].cod_etu.clone();
    let early: Vec<&str> = batch
        .students
        .iter()
        .map(|s| s.cod_etu.as_str())
        .filter(|c| *c != late)
        .collect();
    subscribe(&app, &early).await;
    let manager = app.manager(&["905"]);
    let id = upload_split(&app, &manager, batch.bytes.clone()).await;
    assert_eq!(send_as(&app, &manager, &id).await["queued"], 2);
    wait_final(&app, &id, Duration::from_secs(60)).await;
    let held = document_of(&app, &manager, &id, &late).await;
    assert_eq!(held["delivery_status"], "no_vault");
    assert_eq!(held["hold"], "no_active_vault", "{held}");
    let doc = held["id"].as_str().unwrap().to_owned();
    // Not yet: still no vault.
    let r = app
        .post(
            &format!("/treatments/{id}/documents/{doc}/send"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["reason"], "no_active_vault");
    assert_eq!(detail(&app, &manager, &id).await["deliverable"], 0);

    subscribe(&app, &[&late]).await;
    assert_eq!(detail(&app, &manager, &id).await["deliverable"], 1);
    // send-held checks the count like the bulk send.
    let r = app
        .post(
            &format!("/treatments/{id}/send-held"),
            &manager,
            json!({ "expected_documents": 5 }),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["code"], "confirmation_mismatch");
    let sent = app
        .post(
            &format!("/treatments/{id}/documents/{doc}/send"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(sent.ok(202)["delivery_status"], "queued", "{}", sent.body);
    let twice = app
        .post(
            &format!("/treatments/{id}/documents/{doc}/send"),
            &manager,
            json!({}),
        )
        .await;
    assert_eq!(twice.status, 409, "{}", twice.body);
    wait_final(&app, &id, Duration::from_secs(60)).await;
    let r = app
        .post(
            &format!("/treatments/{id}/send-held"),
            &manager,
            json!({ "expected_documents": 0 }),
        )
        .await;
    assert_eq!(r.ok(202)["queued"], 0, "{}", r.body);
    let stats = sim.stats().await;
    assert_eq!(stats["deposits_total"], 3, "{stats}");
    assert_eq!(deposits_of(&stats, &doc), 1, "{stats}");
    assert_eq!(stats["max_deposits_per_file"], 1);
    let audit = app.get("/audit?action=document.send", &app.admin()).await;
    assert_eq!(
        audit.ok(200)["items"].as_array().unwrap().len(),
        1,
        "{}",
        audit.body
    );
}

/// Sends `n` documents under the default rate limits (the simulator posting every receipt
/// at once) and checks each reaches its final state with no receipt throttled.
async fn receipts_under_default_limits(postgres: bool, n: usize) {
    let sim = Sim::start(&[]);
    let app = app_with(&sim, postgres, |c| {
        c.rate_limit = passerelle::config::RateLimitConfig::default();
        c.jobs.workers = 4;
    })
    .await;
    app.composantes(&["905"]).await;
    let batch = fixture::batch(&BatchSpec {
        students: n,
        seed: 3000,
        max_pages_per_student: 1,
        ..BatchSpec::default()
    });
    import(&app, &batch.students, &[]).await;
    let all: Vec<&str> = batch.students.iter().map(|s| s.cod_etu.as_str()).collect();
    subscribe(&app, &all).await;
    let admin = app.admin();
    let id = upload_split(&app, &admin, batch.bytes.clone()).await;
    assert_eq!(send_as(&app, &admin, &id).await["queued"], n as i64);
    // On a loaded machine a deposit may outlast the client's timeout and end `uncertain`
    // ("À vérifier"): a manager settles those (as in the other delivery drills), then every
    // document must be transmitted, its receipt taken.
    crate::digiposte::settle_uncertain(&sim, &app, &id).await;
    let timeout = Duration::from_secs(300 + n as u64 / 10);
    until("every receipt", timeout, async || {
        let t = detail(&app, &admin, &id).await;
        let transmitted = t["deliveries"]
            .as_array()?
            .iter()
            .find(|d| d["status"] == "transmitted")?["count"]
            .as_i64()?;
        (transmitted == n as i64).then_some(())
    })
    .await;
    let stats = sim.stats().await;
    let brief = json!({
        "receipts_sent": stats["receipts_sent"],
        "receipts_acknowledged": stats["receipts_acknowledged"],
        "receipts_throttled": stats["receipts_throttled"],
        "receipts_given_up": stats["receipts_given_up"],
        "deposits_total": stats["deposits_total"],
    });
    assert_eq!(stats["receipts_throttled"], 0, "{brief}");
    assert_eq!(stats["receipts_given_up"], 0, "{brief}");
    assert_eq!(stats["deposits_total"], n as i64, "{brief}");
    assert_eq!(stats["max_deposits_per_file"], 1, "{brief}");
    assert!(
        documents(&app, &id)
            .await
            .iter()
            .all(|d| d["delivery_status"] == "transmitted")
    );
}

with_sim!(
    receipts_are_never_throttled_under_the_default_limits,
    receipts_body
);
async fn receipts_body(postgres: bool) {
    receipts_under_default_limits(postgres, 300).await;
}

/// The drill of the issue: 3,000 documents with the default rate limits. Several minutes in a
/// debug build, so run on demand:
/// `cargo test --test api delivery::three_thousand -- --ignored` (add
/// `PASSERELLE_TEST_DATABASE_URL=…` for PostgreSQL).
mod three_thousand {
    #[actix_web::test]
    #[ignore = "drill: several minutes; run with --ignored"]
    async fn sqlite() {
        super::receipts_under_default_limits(false, 3000).await;
    }

    #[actix_web::test]
    #[ignore = "drill: several minutes; run with --ignored"]
    async fn postgres() {
        if !super::postgres_configured() {
            eprintln!("PASSERELLE_TEST_DATABASE_URL not set: PostgreSQL run skipped");
            return;
        }
        super::receipts_under_default_limits(true, 3000).await;
    }
}

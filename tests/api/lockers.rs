//! Lockers (casiers) through HTTP: deposits to users and groups with their receipts,
//! immutability and versions, the three folders, trash, restore and purge, who may download,
//! and the limits (size, quota, types detected on the content).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sha2::Digest;

use crate::support::{CURRENT_YEAR, Reply, TestApp, both_backends, row};

pub const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// Deposits `bytes` as `token` to `recipients` (comma-separated).
pub async fn deposit(
    app: &TestApp,
    token: &str,
    bytes: &[u8],
    file_name: &str,
    title: &str,
    recipients: &str,
    replaces: Option<&str>,
) -> Reply {
    let mut form = reqwest::multipart::Form::new()
        .text("title", title.to_owned())
        .text("recipients", recipients.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(file_name.to_owned()),
        );
    if let Some(r) = replaces {
        form = form.text("replaces", r.to_owned());
    }
    app.send(
        app.request(Method::POST, "/lockers/deposits")
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

/// Composantes 905 and 906; three students in étape L1INF of 905 (one not validly enrolled),
/// one in L2 of 906.
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
        row(
            "21900003",
            "GAMMA",
            "Chloé",
            "905",
            "L1INF",
            CURRENT_YEAR,
            "A",
        ),
        row("21900004", "DELTA", "Denis", "906", "L2", CURRENT_YEAR, "E"),
    ])
    .await;
}

fn id_of(r: &Reply) -> String {
    r.body["id"].as_str().unwrap().to_owned()
}

async fn deposit_to_users_and_groups(app: TestApp) {
    setup(&app).await;
    let manager = app.manager(&["905"]);
    let anne = app.student("21900001");

    let r = deposit(
        &app,
        &manager,
        PDF,
        "cours.pdf",
        "Cours 1",
        "student:21900001",
        None,
    )
    .await;
    let receipt = r.ok(201).clone();
    let id = id_of(&r);
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/lockers/deposits/{id}")
    );
    assert_eq!(receipt["sha256"], hex::encode(sha2::Sha256::digest(PDF)));
    assert_eq!(receipt["size"], PDF.len());
    assert_eq!(receipt["media_type"], "application/pdf");
    assert_eq!(receipt["sender"], "manager:manager-905");
    assert_eq!(receipt["recipient_count"], 1);
    assert!(receipt["received_at"].is_string());
    // The receipt points at the audit entry that binds the hash and the time.
    let audit = app.get("/audit?action=locker.deposit", &app.admin()).await;
    let entry = audit.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["object_id"] == id.as_str())
        .cloned()
        .expect("audit entry");
    assert_eq!(entry["seq"], receipt["audit"]["seq"]);
    assert_eq!(entry["hash"], receipt["audit"]["hash"]);
    assert_eq!(entry["details"]["sha256"], receipt["sha256"]);
    assert_eq!(
        app.get("/audit/verify", &app.admin()).await.ok(200)["valid"],
        true
    );

    // Mon casier: title, sender, date, size, unread.
    let inbox = app.get("/lockers/me/inbox", &anne).await;
    let items = inbox.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["title"], "Cours 1");
    assert_eq!(items[0]["sender"], "manager:manager-905");
    assert_eq!(items[0]["size"], PDF.len());
    assert_eq!(items[0]["read"], false);
    assert_eq!(
        app.get("/lockers/me/inbox?unread=true", &anne).await.body["total"],
        1
    );
    // Download: the bytes, their detected type, and the copy is read.
    let file = app
        .get(&format!("/lockers/deposits/{id}/file"), &anne)
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(file.bytes, PDF);
    assert_eq!(file.content_type(), "application/pdf");
    let inbox = app.get("/lockers/me/inbox", &anne).await;
    assert_eq!(inbox.body["items"][0]["read"], true);
    // Historique: recipients as addressed, how many read it.
    let sent = app.get("/lockers/me/sent", &manager).await;
    assert_eq!(sent.ok(200)["total"], 1);
    assert_eq!(
        sent.body["items"][0]["recipients"],
        json!(["student:21900001"])
    );
    assert_eq!(sent.body["items"][0]["read_count"], 1);

    // A group of an étape: its validly enrolled students this year (not GAMMA, state A).
    let r = deposit(&app, &manager, PDF, "td.pdf", "TD 1", "etape:L1INF", None).await;
    assert_eq!(r.ok(201)["recipient_count"], 2);
    let group_id = id_of(&r);
    let bruno = app.student("21900002");
    let inbox = app.get("/lockers/me/inbox", &bruno).await;
    assert_eq!(inbox.ok(200)["items"][0]["id"], group_id.as_str());
    let chloe = app.student("21900003");
    assert_eq!(
        app.get("/lockers/me/inbox", &chloe).await.ok(200)["total"],
        0
    );

    // A named group an admin defines; the student deposits their homework to it.
    let admin = app.admin();
    // Staff become addressable once they have opened their locker.
    app.get("/lockers/me/inbox", &admin).await.ok(200);
    let g = app
        .put(
            "/lockers/groups/enseignants-l1",
            &admin,
            json!({"label": "Enseignants L1", "members": ["manager:manager-905", "admin:admin"]}),
        )
        .await;
    assert_eq!(g.ok(201)["members"].as_array().unwrap().len(), 2);
    let groups = app.get("/lockers/groups", &anne).await;
    assert_eq!(groups.ok(200)[0]["name"], "enseignants-l1");
    assert_eq!(groups.body[0]["member_count"], 2);
    let r = deposit(
        &app,
        &anne,
        b"Mon devoir\n",
        "devoir.txt",
        "Devoir",
        "group:enseignants-l1",
        None,
    )
    .await;
    assert_eq!(r.ok(201)["recipient_count"], 2);
    assert_eq!(r.body["media_type"], "text/plain");
    let homework = id_of(&r);
    let inbox = app.get("/lockers/me/inbox", &manager).await;
    assert_eq!(inbox.ok(200)["items"][0]["id"], homework.as_str());
    assert_eq!(inbox.body["items"][0]["sender"], "student:21900001");
    assert_eq!(inbox.body["items"][0]["sender_name"], "Anne ALPHA");
    // Unknown members are refused by name.
    let bad = app
        .put(
            "/lockers/groups/x",
            &admin,
            json!({"label": "X", "members": ["manager:nobody"]}),
        )
        .await;
    assert_eq!(
        bad.problem(422, "unknown_recipient")["recipients"],
        json!(["manager:nobody"])
    );

    // Strangers (another student, a manager of another composante, even an admin): 404.
    for stranger in [app.student("21900004"), app.manager(&["906"]), app.admin()] {
        app.get(&format!("/lockers/deposits/{id}/file"), &stranger)
            .await
            .problem(404, "not_found");
        app.get(&format!("/lockers/deposits/{id}"), &stranger)
            .await
            .problem(404, "not_found");
    }
    // Services have no locker.
    app.get("/lockers/me/inbox", &app.service(&["students:read"]))
        .await
        .problem(403, "forbidden");

    // Unknown recipients are named; nothing is deposited.
    let r = deposit(
        &app,
        &manager,
        PDF,
        "x.pdf",
        "X",
        "student:99999999, manager:nobody, 21900001",
        None,
    )
    .await;
    assert_eq!(
        r.problem(422, "unknown_recipient")["recipients"],
        json!(["student:99999999", "manager:nobody", "21900001"])
    );
    // A manager addresses only their composantes' students; a student no étape.
    let other = app.manager(&["906"]);
    deposit(&app, &other, PDF, "x.pdf", "X", "student:21900001", None)
        .await
        .problem(422, "unknown_recipient");
    deposit(&app, &anne, PDF, "x.pdf", "X", "etape:L1INF", None)
        .await
        .problem(422, "unknown_recipient");
    assert_eq!(app.get("/lockers/me/sent", &manager).await.body["total"], 2);
    assert_eq!(app.get("/lockers/me/sent", &other).await.body["total"], 0);
}
both_backends!(deposits_to_users_and_groups, deposit_to_users_and_groups);

async fn immutability_and_versions(app: TestApp) {
    setup(&app).await;
    let manager = app.manager(&["905"]);
    let anne = app.student("21900001");
    let r = deposit(
        &app,
        &manager,
        PDF,
        "s.pdf",
        "Sujet",
        "student:21900001",
        None,
    )
    .await;
    r.ok(201);
    let v1 = id_of(&r);
    // No update, no delete, by the sender or the recipient; strangers learn nothing.
    for token in [&manager, &anne] {
        let del = app
            .call(
                Method::DELETE,
                &format!("/lockers/deposits/{v1}"),
                Some(token),
                None,
            )
            .await;
        del.problem(409, "deposit_immutable");
        app.put(
            &format!("/lockers/deposits/{v1}"),
            token,
            json!({"title": "autre"}),
        )
        .await
        .problem(409, "deposit_immutable");
    }
    app.call(
        Method::PATCH,
        &format!("/lockers/deposits/{v1}"),
        Some(&manager),
        Some(json!({})),
    )
    .await
    .problem(405, "method_not_allowed");
    app.call(
        Method::DELETE,
        &format!("/lockers/deposits/{v1}"),
        Some(&app.student("21900002")),
        None,
    )
    .await
    .problem(404, "not_found");
    // The file is unchanged.
    assert_eq!(
        app.get(&format!("/lockers/deposits/{v1}/file"), &anne)
            .await
            .bytes,
        PDF
    );

    // A new version is a new deposit that replaces the previous one.
    let v2_bytes = b"%PDF-1.7\n% version 2\n%%EOF\n";
    let r = deposit(
        &app,
        &manager,
        v2_bytes,
        "s.pdf",
        "Sujet (corrigé)",
        "student:21900001",
        Some(&v1),
    )
    .await;
    assert_eq!(r.ok(201)["replaces"], v1.as_str());
    let v2 = id_of(&r);
    assert_ne!(r.body["sha256"], hex::encode(sha2::Sha256::digest(PDF)));
    // The recipient sees the chain.
    let detail = app.get(&format!("/lockers/deposits/{v2}"), &anne).await;
    detail.ok(200);
    assert_eq!(detail.body["version"], 2);
    assert_eq!(detail.body["latest_id"], v2.as_str());
    let versions: Vec<&str> = detail.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec![v1.as_str(), v2.as_str()]);
    assert!(
        detail.body["receipt"].is_null(),
        "receipts are the sender's"
    );
    let old = app.get(&format!("/lockers/deposits/{v1}"), &anne).await;
    assert_eq!(old.ok(200)["version"], 1);
    assert_eq!(old.body["latest_id"], v2.as_str());
    let inbox = app.get("/lockers/me/inbox", &anne).await;
    let by_id = |id: &str| {
        inbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id(&v1)["replaced_by"], v2.as_str());
    assert_eq!(by_id(&v2)["replaces"], v1.as_str());
    let sender_view = app.get(&format!("/lockers/deposits/{v2}"), &manager).await;
    assert_eq!(sender_view.ok(200)["receipt"]["replaces"], v1.as_str());
    // Only the latest version can be replaced; only one's own deposits.
    let r = deposit(
        &app,
        &manager,
        PDF,
        "s.pdf",
        "Sujet bis",
        "student:21900001",
        Some(&v1),
    )
    .await;
    assert_eq!(
        r.problem(409, "deposit_superseded")["latest_id"],
        v2.as_str()
    );
    let other = app.manager(&["905", "906"]);
    deposit(
        &app,
        &other,
        PDF,
        "s.pdf",
        "Sujet",
        "student:21900001",
        Some(&v2),
    )
    .await
    .problem(422, "validation_failed");
}
both_backends!(
    deposits_are_immutable_with_versions,
    immutability_and_versions
);

async fn folders_trash_and_restore(app: TestApp) {
    setup(&app).await;
    let manager = app.manager(&["905"]);
    let anne = app.student("21900001");
    let mut ids = Vec::new();
    for n in 1..=3 {
        let r = deposit(
            &app,
            &manager,
            PDF,
            "c.pdf",
            &format!("Cours {n}"),
            "student:21900001",
            None,
        )
        .await;
        r.ok(201);
        ids.push(id_of(&r));
    }
    // Bulk: two to the trash at once; an unknown id is reported, not fatal.
    let r = app
        .post(
            "/lockers/me/trash",
            &anne,
            json!({"ids": [ids[0], ids[1], "nope"]}),
        )
        .await;
    assert_eq!(r.ok(200)["updated"], json!([ids[0], ids[1]]));
    assert_eq!(r.body["not_found"], json!(["nope"]));
    let inbox = app.get("/lockers/me/inbox", &anne).await;
    assert_eq!(inbox.ok(200)["total"], 1);
    assert_eq!(inbox.body["items"][0]["id"], ids[2].as_str());
    let trash = app.get("/lockers/me/trash", &anne).await;
    assert_eq!(trash.ok(200)["total"], 2);
    assert!(trash.body["items"][0]["trashed_at"].is_string());
    assert!(trash.body["items"][0]["purge_at"].is_string());
    // Trashed, still downloadable by its recipient until purged.
    assert_eq!(
        app.get(&format!("/lockers/deposits/{}/file", ids[0]), &anne)
            .await
            .status,
        200
    );
    // Trashing again changes nothing; the sender cannot trash the recipient's copy.
    let again = app
        .post("/lockers/me/trash", &anne, json!({"ids": [ids[0]]}))
        .await;
    assert_eq!(again.ok(200)["unchanged"], json!([ids[0]]));
    let r = app
        .post("/lockers/me/trash", &manager, json!({"ids": [ids[2]]}))
        .await;
    assert_eq!(r.ok(200)["not_found"], json!([ids[2]]));
    // Restore one.
    let r = app
        .post("/lockers/me/restore", &anne, json!({"ids": [ids[0]]}))
        .await;
    assert_eq!(r.ok(200)["updated"], json!([ids[0]]));
    assert_eq!(app.get("/lockers/me/inbox", &anne).await.body["total"], 2);
    assert_eq!(app.get("/lockers/me/trash", &anne).await.body["total"], 1);
    // Read marks, in bulk, both ways.
    let r = app
        .post("/lockers/me/read", &anne, json!({"ids": [ids[0], ids[2]]}))
        .await;
    assert_eq!(r.ok(200)["updated"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/lockers/me/inbox?unread=true", &anne).await.body["total"],
        0
    );
    app.post(
        "/lockers/me/read",
        &anne,
        json!({"ids": [ids[2]], "read": false}),
    )
    .await
    .ok(200);
    assert_eq!(
        app.get("/lockers/me/inbox?unread=true", &anne).await.body["total"],
        1
    );
    // An empty selection is refused.
    app.post("/lockers/me/trash", &anne, json!({"ids": []}))
        .await
        .problem(422, "validation_failed");
    // The restored item's purge was called off: no pending purge job for it.
    let pending: i64 = {
        use diesel::prelude::*;
        use passerelle::db::schema::jobs;
        let db = app.db();
        let mut conn = db.conn().unwrap();
        jobs::table
            .filter(jobs::kind.eq("locker_purge"))
            .filter(jobs::status.eq("pending"))
            .count()
            .get_result(&mut *conn)
            .unwrap()
    };
    assert_eq!(pending, 1);
}
both_backends!(folders_trash_and_restore_in_bulk, folders_trash_and_restore);

/// With no retention, a trashed item is purged for good by the job queue.
async fn purge_after_retention(app: TestApp) {
    setup(&app).await;
    let manager = app.manager(&["905"]);
    let anne = app.student("21900001");
    let r = deposit(
        &app,
        &manager,
        PDF,
        "c.pdf",
        "Cours",
        "student:21900001",
        None,
    )
    .await;
    let id = id_of(&r);
    app.post("/lockers/me/trash", &anne, json!({"ids": [id]}))
        .await
        .ok(200);
    let mut purged = false;
    for _ in 0..200 {
        if app.get("/lockers/me/trash", &anne).await.body["total"] == 0 {
            purged = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(purged, "the trashed item was not purged");
    assert_eq!(app.get("/lockers/me/inbox", &anne).await.body["total"], 0);
    app.get(&format!("/lockers/deposits/{id}/file"), &anne)
        .await
        .problem(404, "not_found");
    // The sender's history and file stay.
    assert_eq!(
        app.get(&format!("/lockers/deposits/{id}/file"), &manager)
            .await
            .bytes,
        PDF
    );
    assert_eq!(app.get("/lockers/me/sent", &manager).await.body["total"], 1);
}

mod purges_trash_after_retention {
    fn no_retention(c: &mut passerelle::config::Config) {
        c.lockers.trash_retention_secs = 0;
    }

    #[actix_web::test]
    async fn sqlite() {
        let app = crate::support::TestApp::sqlite_with(no_retention).await;
        super::purge_after_retention(app).await;
    }

    #[actix_web::test]
    async fn postgres() {
        let Some(app) = crate::support::TestApp::postgres_with(no_retention).await else {
            eprintln!("PASSERELLE_TEST_DATABASE_URL not set: PostgreSQL run skipped");
            return;
        };
        super::purge_after_retention(app).await;
    }
}

pub fn tight(c: &mut passerelle::config::Config) {
    c.lockers.max_file_bytes = 1000;
    c.lockers.quota_bytes = 2000;
}

async fn limits(app: TestApp) {
    setup(&app).await;
    let manager = app.manager(&["905"]);
    let to = "student:21900001";
    // Per-file size limit.
    let r = deposit(&app, &manager, &[b'a'; 1500], "gros.txt", "Gros", to, None).await;
    assert_eq!(r.problem(413, "file_too_large")["limit_bytes"], 1000);
    // Types are detected on the content: an executable named .pdf, a script, HTML.
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
    let r = deposit(&app, &manager, elf, "cours.pdf", "Cours", to, None).await;
    assert_eq!(
        r.problem(422, "forbidden_file_type")["detected_type"],
        "application/x-elf"
    );
    let pe = b"MZ\x90\0\x03\0\0\0\x04\0";
    deposit(&app, &manager, pe, "photo.png", "Photo", to, None)
        .await
        .problem(422, "forbidden_file_type");
    let script = b"#!/bin/sh\necho hello\n";
    let r = deposit(&app, &manager, script, "notes.txt", "Notes", to, None).await;
    assert_eq!(
        r.problem(422, "forbidden_file_type")["detected_type"],
        "text/x-shellscript"
    );
    deposit(
        &app,
        &manager,
        b"<html><script>x</script>",
        "a.txt",
        "A",
        to,
        None,
    )
    .await
    .problem(422, "forbidden_file_type");
    deposit(&app, &manager, b"", "vide.pdf", "Vide", to, None)
        .await
        .problem(422, "empty_file");
    // A PNG named .bin is a PNG.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let r = deposit(&app, &manager, png, "image.bin", "Image", to, None).await;
    assert_eq!(r.ok(201)["media_type"], "image/png");
    // Quota: the sum of one's deposits.
    deposit(&app, &manager, &[b'a'; 900], "a.txt", "A", to, None)
        .await
        .ok(201);
    deposit(&app, &manager, &[b'b'; 900], "b.txt", "B", to, None)
        .await
        .ok(201);
    let r = deposit(&app, &manager, &[b'c'; 900], "c.txt", "C", to, None).await;
    let p = r.problem(413, "quota_exceeded");
    assert_eq!(p["quota_bytes"], 2000);
    assert_eq!(p["used_bytes"], 900 + 900 + png.len());
    // Nothing of the refused deposits was recorded.
    assert_eq!(app.get("/lockers/me/sent", &manager).await.body["total"], 3);
    assert_eq!(
        app.get("/lockers/me/inbox", &app.student("21900001"))
            .await
            .body["total"],
        3
    );
    // Not a form.
    app.post("/lockers/deposits", &manager, json!({}))
        .await
        .problem(415, "unsupported_media_type");
}

mod limits_and_forbidden_types {
    #[actix_web::test]
    async fn sqlite() {
        let app = crate::support::TestApp::sqlite_with(super::tight).await;
        super::limits(app).await;
    }

    #[actix_web::test]
    async fn postgres() {
        let Some(app) = crate::support::TestApp::postgres_with(super::tight).await else {
            eprintln!("PASSERELLE_TEST_DATABASE_URL not set: PostgreSQL run skipped");
            return;
        };
        super::limits(app).await;
    }
}

fn named_manager(app: &TestApp, sub: &str, composantes: &[&str], name: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    app.mint(passerelle::auth::jwt::Claims {
        sub: sub.into(),
        iss: String::new(),
        aud: String::new(),
        exp: now + 3600,
        iat: now,
        role: passerelle::auth::Role::Manager,
        composantes: composantes.iter().map(|c| c.to_string()).collect(),
        cod_etu: None,
        scopes: vec![],
        name: Some(name.into()),
    })
}

fn addresses(body: &serde_json::Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["address"].as_str().unwrap().to_owned())
        .collect()
}

async fn names_and_recipient_search(app: TestApp) {
    setup(&app).await;
    app.import(vec![
        row(
            "21900005",
            "LEFÈVRE",
            "Zoé",
            "905",
            "L2INF",
            CURRENT_YEAR,
            "E",
        ),
        row(
            "21900006",
            "LEFEBVRE",
            "Léa",
            "906",
            "L2",
            CURRENT_YEAR,
            "E",
        ),
    ])
    .await;
    let jeanne = named_manager(&app, "jdupont", &["905"], "Jeanne Dupont");
    let paul = named_manager(&app, "pmartin", &["906"], "Paul Martin");
    app.get("/lockers/me/inbox", &paul).await.ok(200);
    let anne = app.student("21900001");

    // Sender and recipients by name: the staff sender by their token's name, students by the
    // registry, staff recipients as their token named them.
    let r = deposit(
        &app,
        &jeanne,
        PDF,
        "cours.pdf",
        "Cours",
        "student:21900001, manager:pmartin, etape:L1INF",
        None,
    )
    .await;
    let names = r.ok(201)["recipient_names"].clone();
    assert_eq!(
        names,
        json!([
            {"address": "student:21900001", "kind": "student", "name": "Anne ALPHA"},
            {"address": "manager:pmartin", "kind": "staff", "name": "Paul Martin"},
            {"address": "etape:L1INF", "kind": "etape", "name": "L1INF"},
        ])
    );
    let id = id_of(&r);
    let inbox = app.get("/lockers/me/inbox", &anne).await;
    assert_eq!(inbox.ok(200)["items"][0]["sender_name"], "Jeanne Dupont");
    let detail = app.get(&format!("/lockers/deposits/{id}"), &anne).await;
    assert_eq!(detail.ok(200)["sender_name"], "Jeanne Dupont");
    let sent = app.get("/lockers/me/sent", &jeanne).await;
    assert_eq!(sent.ok(200)["items"][0]["recipient_names"], names);
    // A student sender is named by the registry, to staff.
    deposit(&app, &anne, PDF, "d.pdf", "Devoir", "manager:jdupont", None)
        .await
        .ok(201);
    let inbox = app.get("/lockers/me/inbox", &jeanne).await;
    assert_eq!(inbox.ok(200)["items"][0]["sender_name"], "Anne ALPHA");

    // The search: accent-folded names, student numbers, pages, and the scope of deposits.
    let found = app.get("/lockers/recipients?q=lefevre", &jeanne).await;
    assert_eq!(addresses(found.ok(200)), vec!["student:21900005"]);
    assert_eq!(found.body["items"][0]["name"], "Zoé LEFÈVRE");
    let found = app
        .get("/lockers/recipients?q=ZOE%20Lefèvre", &jeanne)
        .await;
    assert_eq!(addresses(&found.body), vec!["student:21900005"]);
    let found = app.get("/lockers/recipients?q=2190000", &jeanne).await;
    // 905's students only (not DELTA nor LEFEBVRE of 906), by name; GAMMA's enrolment is
    // cancelled but she is still a student of 905, as a deposit to her resolves.
    assert_eq!(
        addresses(&found.body),
        vec![
            "student:21900001",
            "student:21900002",
            "student:21900003",
            "student:21900005"
        ]
    );
    // A 905 manager never finds a 906 student, by name or number.
    for q in ["lefebvre", "21900006", "delta", "21900004"] {
        let r = app
            .get(&format!("/lockers/recipients?q={q}"), &jeanne)
            .await;
        assert_eq!(r.ok(200)["total"], 0, "{q}");
    }
    // 906's manager finds Léa, not Zoé.
    let r = app.get("/lockers/recipients?q=lef", &paul).await;
    assert_eq!(addresses(r.ok(200)), vec!["student:21900006"]);
    // Pages: étapes and staff first, then students by name.
    let all = app.get("/lockers/recipients?per_page=2", &jeanne).await;
    assert_eq!(all.ok(200)["total"], 8, "{}", all.body);
    assert_eq!(addresses(&all.body), vec!["etape:L1INF", "etape:L2INF"]);
    let p2 = app
        .get("/lockers/recipients?per_page=2&page=2", &jeanne)
        .await;
    assert_eq!(
        addresses(&p2.body),
        vec!["manager:jdupont", "manager:pmartin"]
    );
    let p3 = app
        .get("/lockers/recipients?per_page=3&page=2", &jeanne)
        .await;
    assert_eq!(
        addresses(&p3.body),
        vec!["manager:pmartin", "student:21900001", "student:21900002"]
    );
    let staff = app.get("/lockers/recipients?q=jeanne", &jeanne).await;
    assert_eq!(staff.ok(200)["items"][0]["name"], "Jeanne Dupont");
    // A student finds named groups only, never a student nor an étape.
    for q in ["alpha", "21900002", "l1inf", "lefevre"] {
        let r = app.get(&format!("/lockers/recipients?q={q}"), &anne).await;
        assert_eq!(r.ok(200)["total"], 0, "{q}");
    }
    // Nor staff: students are answered the same for staff who exist and who do not.
    let r = app.get("/lockers/recipients?q=dupont", &anne).await;
    assert_eq!(r.ok(200)["total"], 0);
    // Named groups they do find.
    let admin = app.admin();
    app.put(
        "/lockers/groups/enseignants-l1",
        &admin,
        json!({"label": "Enseignants L1", "members": ["manager:jdupont"]}),
    )
    .await
    .ok(201);
    let r = app.get("/lockers/recipients", &anne).await;
    assert_eq!(addresses(r.ok(200)), vec!["group:enseignants-l1"]);
    let r = app.get("/lockers/recipients?q=enseignants", &jeanne).await;
    assert_eq!(r.ok(200)["items"][0]["name"], "Enseignants L1");
    // Services have no locker.
    app.get("/lockers/recipients", &app.service(&["students:read"]))
        .await
        .problem(403, "forbidden");
}
both_backends!(
    lockers_name_people_and_search_recipients,
    names_and_recipient_search
);

/// A stored file's path under the data directory.
fn blob_path(app: &TestApp, sha: &str) -> std::path::PathBuf {
    app.data_dir().join("blobs").join(&sha[..2]).join(&sha[2..])
}

/// Sets a stored file's time `days` back.
fn age(path: &std::path::Path, days: u64) {
    let then = std::time::SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(then)
        .unwrap();
}

/// Files are stored before the transaction that records them, so a refused or interrupted one
/// leaves a file no row refers to: retention deletes those once they are a day old, and never
/// a recorded deposit's file however old, nor a young orphan (its transaction may be under way).
async fn orphan_sweep(app: TestApp) {
    use passerelle::storage::DocumentStore;
    setup(&app).await;
    let manager = app.manager(&["905"]);
    let anne = app.student("21900001");
    let r = deposit(
        &app,
        &manager,
        PDF,
        "c.pdf",
        "Cours",
        "student:21900001",
        None,
    )
    .await;
    let id = id_of(&r);
    let recorded = blob_path(&app, r.body["sha256"].as_str().unwrap());
    age(&recorded, 30);
    let store = passerelle::storage::LocalStore::new(&app.data_dir());
    let old = store.put(b"left by a transaction that failed").unwrap();
    age(&blob_path(&app, &old), 2);
    let young = store.put(b"its transaction is under way").unwrap();
    // A deposit refused by its rules is refused before its file is stored.
    let refused = b"%PDF-1.7\n% refused\n%%EOF\n";
    deposit(
        &app,
        &manager,
        refused,
        "r.pdf",
        "Refus",
        "student:99999999",
        None,
    )
    .await
    .problem(422, "unknown_recipient");
    let refused_sha = hex::encode(sha2::Sha256::digest(refused));
    assert!(!blob_path(&app, &refused_sha).exists());
    let mut collected = false;
    for _ in 0..100 {
        if !blob_path(&app, &old).exists() {
            collected = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(collected, "retention left an old orphan in the store");
    assert!(
        blob_path(&app, &young).exists(),
        "a young orphan was deleted"
    );
    assert!(recorded.exists(), "a recorded deposit's file was deleted");
    assert_eq!(
        app.get(&format!("/lockers/deposits/{id}/file"), &anne)
            .await
            .bytes,
        PDF
    );
}
both_backends!(
    retention_collects_orphan_files,
    orphan_sweep,
    |c: &mut passerelle::config::Config| c.retention.check_interval_secs = 1
);

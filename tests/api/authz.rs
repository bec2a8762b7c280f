//! The authorization matrix: every operation of `openapi/openapi.json`, called as each kind of
//! principal, answers the expected status. An operation without a row fails the test.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CURRENT_YEAR, TestApp, row};

/// What a cell expects.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Exactly this status.
    Is(u16),
    /// Allowed: the request reached the operation (any status but 401, 403, 404 and 5xx; a
    /// 409/422 only says the fixture's state or body did not suit it).
    Allowed,
}
use Expect::*;

/// The principals of the matrix, in column order.
const PRINCIPALS: [&str; 8] = [
    "anonymous",
    "student_self",
    "student_other",
    "manager_own",
    "manager_other",
    "service_with_scope",
    "service_without_scope",
    "admin",
];

struct Row {
    method: &'static str,
    path: &'static str,
    /// The scope a service needs (None: services may not).
    scope: Option<&'static str>,
    body: Option<fn() -> Value>,
    expect: [Expect; 8],
}

const fn r(
    method: &'static str,
    path: &'static str,
    scope: Option<&'static str>,
    expect: [Expect; 8],
) -> Row {
    Row {
        method,
        path,
        scope,
        body: None,
        expect,
    }
}

const fn rb(
    method: &'static str,
    path: &'static str,
    scope: Option<&'static str>,
    body: fn() -> Value,
    expect: [Expect; 8],
) -> Row {
    Row {
        method,
        path,
        scope,
        body: Some(body),
        expect,
    }
}

const PUBLIC: [Expect; 8] = [Is(200); 8];
const ANY_AUTHENTICATED: [Expect; 8] = [
    Is(401),
    Is(200),
    Is(200),
    Is(200),
    Is(200),
    Is(200),
    Is(200),
    Is(200),
];
const STUDENT_SELF: [Expect; 8] = [
    Is(401),
    Is(200),
    Is(200),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
];
const STUDENT_SELF_WRITE: [Expect; 8] = [
    Is(401),
    Allowed,
    Allowed,
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
];
const ADMIN_ONLY: [Expect; 8] = [
    Is(401),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Is(200),
];
/// Administrators' actions on an object (the fixture's state may not suit: allowed).
const ADMIN_ONLY_ACTION: [Expect; 8] = [
    Is(401),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Is(403),
    Allowed,
];
/// Manager-scoped reads of a list: everyone allowed sees their part.
const MANAGER_LIST: [Expect; 8] = [
    Is(401),
    Is(403),
    Is(403),
    Is(200),
    Is(200),
    Is(200),
    Is(403),
    Is(200),
];
/// Manager-scoped reads of the fixture's object (in composante 905).
const MANAGER_OBJECT: [Expect; 8] = [
    Is(401),
    Is(403),
    Is(403),
    Is(200),
    Is(404),
    Is(200),
    Is(403),
    Is(200),
];
/// Manager-scoped creations (the body may not suit: allowed means reaching the operation).
const MANAGER_LIST_WRITE: [Expect; 8] = [
    Is(401),
    Is(403),
    Is(403),
    Allowed,
    Allowed,
    Allowed,
    Is(403),
    Allowed,
];
const MANAGER_OBJECT_ACTION: [Expect; 8] = [
    Is(401),
    Is(403),
    Is(403),
    Allowed,
    Is(404),
    Allowed,
    Is(403),
    Allowed,
];

/// People with a locker: students, managers and admins (services have none).
const PEOPLE: [Expect; 8] = [
    Is(401),
    Is(200),
    Is(200),
    Is(200),
    Is(200),
    Is(403),
    Is(403),
    Is(200),
];
const PEOPLE_WRITE: [Expect; 8] = [
    Is(401),
    Allowed,
    Allowed,
    Allowed,
    Allowed,
    Is(403),
    Is(403),
    Allowed,
];
/// The fixture's deposit: sent by manager_own to student_self; everyone else, admins
/// included, does not see it.
const DEPOSIT: [Expect; 8] = [
    Is(401),
    Is(200),
    Is(404),
    Is(200),
    Is(404),
    Is(403),
    Is(403),
    Is(404),
];
const DEPOSIT_IMMUTABLE: [Expect; 8] = [
    Is(401),
    Is(409),
    Is(404),
    Is(409),
    Is(404),
    Is(403),
    Is(403),
    Is(404),
];

fn selection() -> Value {
    json!({"ids": ["unknown"]})
}
fn group_body() -> Value {
    json!({"label": "Enseignants", "members": []})
}
fn requirements() -> Value {
    json!({"etape": "L2", "kinds": [{"kind": "photo"}]})
}
fn paper() -> Value {
    json!({"kind": "identity_document"})
}

fn rejection() -> Value {
    json!({"reason": "Illisible"})
}

fn new_composante() -> Value {
    json!({"code": format!("C{}", rand::random::<u32>() % 1_000_000), "label": "Nouvelle composante"})
}
fn label() -> Value {
    json!({"label": "UFR renommée"})
}
fn import_rows() -> Value {
    json!([row(
        "21900005",
        "EPSILON",
        "E",
        "905",
        "L1",
        CURRENT_YEAR,
        "E"
    )])
}
fn bulk_confirmation() -> Value {
    json!({"expected_vaults": 0})
}

fn consent() -> Value {
    json!({"student": "21900001", "purpose": "document_delivery", "event": "granted", "source": "manager"})
}
fn my_consent() -> Value {
    json!({"purpose": "document_delivery", "event": "granted"})
}
fn send_count() -> Value {
    json!({"expected_documents": 0})
}
fn uncertain_decision() -> Value {
    json!({ "resolution": "received" })
}

fn empty() -> Value {
    json!({})
}

fn matrix() -> Vec<Row> {
    vec![
        r("GET", "/health/live", None, PUBLIC),
        r("GET", "/health/ready", None, PUBLIC),
        r("GET", "/me", None, ANY_AUTHENTICATED),
        r("GET", "/me/vault", None, STUDENT_SELF),
        r("GET", "/me/personal-data", None, STUDENT_SELF),
        r("GET", "/me/consents", None, STUDENT_SELF),
        rb("POST", "/me/consents", None, my_consent, STUDENT_SELF_WRITE),
        r(
            "GET",
            "/composantes",
            Some("composantes:read"),
            [
                Is(401),
                Is(200),
                Is(200),
                Is(200),
                Is(200),
                Is(200),
                Is(403),
                Is(200),
            ],
        ),
        rb(
            "POST",
            "/composantes",
            None,
            new_composante,
            [
                Is(401),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(201),
            ],
        ),
        r(
            "GET",
            "/composantes/{code}",
            Some("composantes:read"),
            [
                Is(401),
                Is(200),
                Is(404),
                Is(200),
                Is(404),
                Is(200),
                Is(403),
                Is(200),
            ],
        ),
        rb(
            "PUT",
            "/composantes/{code}",
            None,
            label,
            [
                Is(401),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(200),
            ],
        ),
        rb(
            "POST",
            "/students/import",
            Some("students:import"),
            import_rows,
            [
                Is(401),
                Is(403),
                Is(403),
                Is(200),
                Is(200),
                Is(200),
                Is(403),
                Is(200),
            ],
        ),
        r("GET", "/students", Some("students:read"), MANAGER_LIST),
        r(
            "GET",
            "/students/{cod_etu}",
            Some("students:read"),
            MANAGER_OBJECT,
        ),
        r("GET", "/students/{cod_etu}/personal-data", None, ADMIN_ONLY),
        rb(
            "POST",
            "/students/{erasable}/erase",
            None,
            empty,
            ADMIN_ONLY,
        ),
        r("GET", "/vaults", Some("vaults:read"), MANAGER_LIST),
        r("GET", "/vaults/summary", Some("vaults:read"), MANAGER_LIST),
        rb(
            "POST",
            "/vaults/subscribe",
            Some("vaults:write"),
            bulk_confirmation,
            MANAGER_LIST_WRITE,
        ),
        r(
            "GET",
            "/vaults/{vault}",
            Some("vaults:read"),
            MANAGER_OBJECT,
        ),
        rb(
            "POST",
            "/vaults/{vault}/subscribe",
            Some("vaults:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/vaults/{vault}/terminate",
            Some("vaults:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/vaults/{vault}/reinvite",
            Some("vaults:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        r(
            "GET",
            "/consents?student=21900001",
            Some("consents:read"),
            [
                Is(401),
                Is(200),
                Is(404),
                Is(200),
                Is(404),
                Is(200),
                Is(403),
                Is(200),
            ],
        ),
        rb(
            "POST",
            "/consents",
            Some("consents:write"),
            consent,
            [
                Is(401),
                Allowed,
                Is(404),
                Allowed,
                Is(404),
                Allowed,
                Is(403),
                Allowed,
            ],
        ),
        rb(
            "POST",
            "/uploads",
            Some("uploads:write"),
            empty,
            MANAGER_LIST_WRITE,
        ),
        r("GET", "/treatments", Some("treatments:read"), MANAGER_LIST),
        r(
            "GET",
            "/treatments/{treatment}",
            Some("treatments:read"),
            MANAGER_OBJECT,
        ),
        r(
            "GET",
            "/treatments/{treatment}/documents",
            Some("treatments:read"),
            MANAGER_OBJECT,
        ),
        r(
            "GET",
            "/treatments/{treatment}/documents/{doc}/pdf",
            Some("treatments:read"),
            MANAGER_OBJECT,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/documents/{doc}/confirm-identity",
            Some("treatments:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/documents/{doc}/uncertain",
            Some("treatments:write"),
            uncertain_decision,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/send",
            Some("treatments:write"),
            send_count,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/send-held",
            Some("treatments:write"),
            send_count,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/documents/{doc}/send",
            Some("treatments:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/documents/{doc}/confirm-replacement",
            Some("treatments:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/documents/{doc}/release",
            None,
            empty,
            ADMIN_ONLY_ACTION,
        ),
        rb(
            "POST",
            "/treatments/{treatment}/cancel",
            Some("treatments:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/grade-transfers",
            Some("grades:write"),
            empty,
            MANAGER_LIST_WRITE,
        ),
        r("GET", "/grade-transfers", Some("grades:read"), MANAGER_LIST),
        r(
            "GET",
            "/grade-transfers/{transfer}",
            Some("grades:read"),
            MANAGER_OBJECT,
        ),
        r(
            "GET",
            "/grade-transfers/{transfer}/file",
            Some("grades:read"),
            MANAGER_OBJECT,
        ),
        r(
            "GET",
            "/grade-transfers/{transfer}/diff",
            Some("grades:read"),
            MANAGER_OBJECT,
        ),
        // Public, but every receipt must be signed: without a signature everyone gets 401.
        rb("POST", "/webhooks/digiposte", None, empty, [Is(401); 8]),
        // Managers (their composantes' vaults) and admins; this fixture has no Digiposte
        // configured (409 digiposte_not_configured).
        rb(
            "POST",
            "/digiposte/sync",
            None,
            empty,
            [
                Is(401),
                Is(403),
                Is(403),
                Allowed,
                Allowed,
                Is(403),
                Is(403),
                Allowed,
            ],
        ),
        rb("POST", "/lockers/deposits", None, empty, PEOPLE_WRITE),
        r("GET", "/lockers/deposits/{deposit}", None, DEPOSIT),
        rb(
            "PUT",
            "/lockers/deposits/{deposit}",
            None,
            empty,
            DEPOSIT_IMMUTABLE,
        ),
        r(
            "DELETE",
            "/lockers/deposits/{deposit}",
            None,
            DEPOSIT_IMMUTABLE,
        ),
        r("GET", "/lockers/deposits/{deposit}/file", None, DEPOSIT),
        r("GET", "/lockers/me/inbox", None, PEOPLE),
        r("GET", "/lockers/me/sent", None, PEOPLE),
        r("GET", "/lockers/me/trash", None, PEOPLE),
        rb("POST", "/lockers/me/trash", None, selection, PEOPLE),
        rb("POST", "/lockers/me/restore", None, selection, PEOPLE),
        rb("POST", "/lockers/me/read", None, selection, PEOPLE),
        r("GET", "/lockers/groups", None, PEOPLE),
        r("GET", "/lockers/recipients", None, PEOPLE),
        r("GET", "/lockers/groups/{group}", None, ADMIN_ONLY),
        rb(
            "PUT",
            "/lockers/groups/{group}",
            None,
            group_body,
            ADMIN_ONLY,
        ),
        r(
            "DELETE",
            "/lockers/groups/{group}",
            None,
            [
                Is(401),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(204),
            ],
        ),
        rb(
            "PUT",
            "/supporting-documents/requirements",
            None,
            requirements,
            ADMIN_ONLY,
        ),
        r(
            "GET",
            "/supporting-documents/requirements",
            Some("supporting_documents:read"),
            MANAGER_LIST,
        ),
        rb(
            "POST",
            "/me/supporting-documents",
            None,
            empty,
            STUDENT_SELF_WRITE,
        ),
        r("GET", "/me/supporting-documents", None, STUDENT_SELF),
        r(
            "GET",
            "/supporting-documents",
            Some("supporting_documents:read"),
            MANAGER_LIST,
        ),
        r(
            "GET",
            "/supporting-documents/follow-up",
            Some("supporting_documents:read"),
            MANAGER_LIST,
        ),
        r(
            "GET",
            "/supporting-documents/students/{cod_etu}",
            Some("supporting_documents:read"),
            MANAGER_OBJECT,
        ),
        r(
            "GET",
            "/supporting-documents/{pj}/file",
            Some("supporting_documents:read"),
            MANAGER_OBJECT,
        ),
        rb(
            "POST",
            "/supporting-documents/students/{cod_etu}/paper",
            Some("supporting_documents:write"),
            paper,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/supporting-documents/{pj}/accept",
            Some("supporting_documents:write"),
            empty,
            MANAGER_OBJECT_ACTION,
        ),
        rb(
            "POST",
            "/supporting-documents/{pj}/reject",
            Some("supporting_documents:write"),
            rejection,
            MANAGER_OBJECT_ACTION,
        ),
        r("GET", "/audit", None, ADMIN_ONLY),
        r("GET", "/audit/verify", None, ADMIN_ONLY),
        r(
            "GET",
            "/metrics",
            Some("metrics:read"),
            [
                Is(401),
                Is(403),
                Is(403),
                Is(403),
                Is(403),
                Is(200),
                Is(403),
                Is(200),
            ],
        ),
    ]
}

/// `METHOD /path` of a row, with its template as in the spec.
fn operation_of(row: &Row) -> String {
    let path = row
        .path
        .split('?')
        .next()
        .unwrap()
        .replace("{erasable}", "{cod_etu}")
        .replace("{vault}", "{id}")
        .replace("{treatment}", "{id}")
        .replace("{transfer}", "{id}")
        .replace("{deposit}", "{id}")
        .replace("{pj}", "{id}")
        .replace("{group}", "{name}");
    format!("{} {}", row.method, path)
}

#[test]
fn every_operation_has_a_row() {
    let spec: Value =
        serde_json::from_str(&passerelle::api::spec_json(&passerelle::app::openapi_spec()))
            .unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                operations.insert(format!("{} {}", method.to_uppercase(), path));
            }
        }
    }
    let covered: BTreeSet<String> = matrix().iter().map(operation_of).collect();
    let missing: Vec<&String> = operations.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the authorization matrix: {missing:?}"
    );
    let stale: Vec<&String> = covered.difference(&operations).collect();
    assert!(
        stale.is_empty(),
        "rows for operations that no longer exist: {stale:?}"
    );
}

#[actix_web::test]
async fn every_principal_gets_the_expected_status() {
    let app = TestApp::sqlite().await;
    app.composantes(&["905", "906"]).await;
    app.import(vec![
        row("21900001", "ALPHA", "A", "905", "L1", CURRENT_YEAR, "E"),
        row("21900002", "BETA", "B", "906", "L1", CURRENT_YEAR, "E"),
        row("21900009", "ERASABLE", "Z", "905", "L1", CURRENT_YEAR, "A"),
    ])
    .await;
    let vault = app.vault_id("21900001").await;
    // A split treatment of composante 905 with one flagged document (its name differs).
    let bytes = passerelle::pdf::fixture::write_pdf(
        &[passerelle::pdf::fixture::PageContent::Lines(vec![
            "N° Etudiant : 21900001".into(),
            "Nom : AUTRE".into(),
        ])],
        &Default::default(),
    );
    let treatment = crate::treatments::upload(&app, &app.admin(), bytes, "releve_notes", "905")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::treatments::wait_split(&app, &treatment).await;
    let doc = app
        .get(&format!("/treatments/{treatment}/documents"), &app.admin())
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let transfer = crate::grade_transfers::create_fixture(&app, "905").await;
    // A locker deposit from manager_own to student_self, a named group, and a supporting
    // document of student_self (composante 905) waiting for its check.
    let deposit = crate::lockers::deposit(
        &app,
        &app.manager(&["905"]),
        crate::lockers::PDF,
        "c.pdf",
        "Cours",
        "student:21900001",
        None,
    )
    .await
    .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put(
        "/lockers/groups/enseignants",
        &app.admin(),
        json!({"label": "Enseignants", "members": []}),
    )
    .await
    .ok(201);
    app.put(
        "/supporting-documents/requirements",
        &app.admin(),
        json!({"etape": "L1", "kinds": [{"kind": "cvec_certificate"}]}),
    )
    .await
    .ok(200);
    let pj = crate::supporting_documents::submit(
        &app,
        &app.student("21900001"),
        "cvec_certificate",
        crate::lockers::PDF,
    )
    .await
    .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut failures = Vec::new();
    for row in matrix() {
        let path = row
            .path
            .replace("{code}", "905")
            .replace("{cod_etu}", "21900001")
            .replace("{erasable}", "21900009")
            .replace("{vault}", &vault)
            .replace("{treatment}", &treatment)
            .replace("{doc}", &doc)
            .replace("{transfer}", &transfer)
            .replace("{deposit}", &deposit)
            .replace("{pj}", &pj)
            .replace("{group}", "enseignants");
        for (column, principal) in PRINCIPALS.iter().enumerate() {
            let token = match *principal {
                "anonymous" => None,
                "student_self" => Some(app.student("21900001")),
                "student_other" => Some(app.student("21900002")),
                "manager_own" => Some(app.manager(&["905"])),
                "manager_other" => Some(app.manager(&["906"])),
                "service_with_scope" => {
                    Some(app.service(&row.scope.into_iter().collect::<Vec<_>>()))
                }
                "service_without_scope" => Some(app.service(&[])),
                _ => Some(app.admin()),
            };
            let method = Method::from_bytes(row.method.as_bytes()).unwrap();
            let reply = app
                .call(method, &path, token.as_deref(), row.body.map(|b| b()))
                .await;
            let status = reply.status.as_u16();
            let ok = match row.expect[column] {
                Is(expected) => status == expected,
                Allowed => !matches!(status, 401 | 403 | 404) && status < 500,
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {principal}: got {status}, expected {:?} ({})",
                    row.method, row.path, row.expect[column], reply.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix mismatches:\n{}",
        failures.join("\n")
    );
}

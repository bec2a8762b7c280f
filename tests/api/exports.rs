//! CSV exports of the manager-facing lists, read back with a CSV parser: UTF-8 with a byte
//! order mark, `;`, French headers, the whole filtered result across pages, formulas
//! neutralised, accents intact.

use reqwest::Method;
use serde_json::Value;

use crate::support::{CURRENT_YEAR, Reply, TestApp, both_backends, row};
use crate::treatments::{batch_with_students, upload_as, wait_split};

/// The records of a CSV export (header first), after checking the media type and the BOM.
#[track_caller]
fn read_csv(reply: &Reply) -> Vec<Vec<String>> {
    assert_eq!(
        reply.status.as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    assert!(
        reply.content_type().starts_with("text/csv"),
        "{}",
        reply.content_type()
    );
    assert!(
        reply.bytes.starts_with("\u{feff}".as_bytes()),
        "a UTF-8 byte order mark first"
    );
    let text = std::str::from_utf8(&reply.bytes[3..]).expect("UTF-8");
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

fn column(records: &[Vec<String>], name: &str) -> Vec<String> {
    let i = records[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", records[0]));
    records[1..].iter().map(|r| r[i].clone()).collect()
}

both_backends!(vault_export_streams_every_page, vault_export_body);
async fn vault_export_body(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    // More students than the largest page, so the export has to read several pages.
    let mut rows: Vec<Value> = (0..520)
        .map(|i| {
            row(
                &format!("2190{i:04}"),
                "LEFÈVRE",
                "Zoé",
                "905",
                "L1INF",
                CURRENT_YEAR,
                "E",
            )
        })
        .collect();
    rows.push(row(
        "21990001",
        "=1+1",
        "@Chloé",
        "905",
        "L1INF",
        CURRENT_YEAR,
        "E",
    ));
    rows.push(row(
        "21990002",
        "AUTRE",
        "Hors",
        "906",
        "L1MAT",
        CURRENT_YEAR,
        "E",
    ));
    app.import(rows).await;
    let manager = app.manager(&["905"]);

    let by_format = app.get("/vaults?format=csv", &manager).await;
    let records = read_csv(&by_format);
    assert_eq!(records[0][0], "Numéro étudiant");
    assert!(records[0].contains(&"Personnalisé".to_owned()));
    // Every vault of the scope, none outside it (906 is not the manager's).
    let numbers = column(&records, "Numéro étudiant");
    assert_eq!(numbers.len(), 521, "every page of the filtered list");
    assert!(!numbers.contains(&"21990002".to_owned()));
    let unique: std::collections::BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(unique.len(), 521, "no row twice across pages");
    // Accents intact, formulas neutralised.
    let names = column(&records, "Nom");
    assert!(names.iter().any(|n| n == "LEFÈVRE"));
    assert!(names.iter().any(|n| n == "'=1+1"), "{:?}", &names[..3]);
    assert!(!names.iter().any(|n| n.starts_with('=')));
    assert!(column(&records, "Prénom").iter().any(|n| n == "'@Chloé"));

    // The same through Accept, and with a filter.
    let by_accept = app
        .send(
            app.request(Method::GET, "/vaults?q=21990001")
                .bearer_auth(&manager)
                .header("accept", "text/csv"),
        )
        .await;
    let records = read_csv(&by_accept);
    assert_eq!(column(&records, "Numéro étudiant"), vec!["21990001"]);
    // JSON stays the default.
    let json = app.get("/vaults?per_page=1", &manager).await;
    assert_eq!(json.ok(200)["total"], 521);
}

both_backends!(list_exports_answer_csv, list_exports_body);
async fn list_exports_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let batch = batch_with_students(&app, 3).await;
    let admin = app.admin();
    let manager = app.manager(&["905"]);
    let r = upload_as(
        &app,
        &manager,
        batch.bytes.clone(),
        &[
            ("document_type", "releve_notes"),
            ("academic_year", &CURRENT_YEAR.to_string()),
            ("composante", "905"),
            ("label", "=Relevés; \"L1\" Informatique"),
        ],
    )
    .await;
    let id = r.ok(202)["id"].as_str().unwrap().to_owned();
    wait_split(&app, &id).await;

    let records = read_csv(&app.get("/treatments?format=csv", &manager).await);
    assert_eq!(
        column(&records, "Libellé"),
        vec!["'=Relevés; \"L1\" Informatique"],
        "quotes and separators survive, the formula does not"
    );
    assert_eq!(column(&records, "Statut"), vec!["Fichier découpé"]);
    assert_eq!(column(&records, "Documents"), vec!["3"]);

    let records = read_csv(
        &app.get(&format!("/treatments/{id}/documents?format=csv"), &manager)
            .await,
    );
    let mut numbers = column(&records, "Numéro étudiant");
    numbers.sort();
    let mut expected: Vec<String> = batch.expected.iter().map(|(c, _)| c.clone()).collect();
    expected.sort();
    assert_eq!(numbers, expected);
    let names = column(&records, "Nom");
    for s in &batch.students {
        assert!(names.contains(&s.last_name), "{} in {names:?}", s.last_name);
    }

    for (path, first) in [
        ("/grade-transfers?format=csv", "Composante"),
        ("/supporting-documents?format=csv", "Numéro étudiant"),
    ] {
        let records = read_csv(&app.get(path, &admin).await);
        assert_eq!(records[0][0], first, "{path}");
    }
    // An unknown format is refused like any bad parameter.
    app.get("/vaults?format=xlsx", &admin)
        .await
        .problem(400, "invalid_parameter");
}

//! French for people, English for programs: problem documents, upload rejections and import
//! reports speak the caller's `Accept-Language` (French by default); `code` never changes.

use passerelle::pdf::fixture;
use reqwest::Method;
use serde_json::Value;

use crate::support::{CURRENT_YEAR, Reply, TestApp, both_backends, row};
use crate::treatments::upload;

async fn get_in(app: &TestApp, path: &str, token: &str, lang: Option<&str>) -> Reply {
    let mut req = app.request(Method::GET, path).bearer_auth(token);
    if let Some(lang) = lang {
        req = req.header("Accept-Language", lang);
    }
    app.send(req).await
}

async fn problems_speak_french_unless_asked_otherwise(app: TestApp) {
    let admin = app.admin();
    // Default: French, with the code unchanged.
    let fr = get_in(&app, "/vaults/nope", &admin, None).await;
    let body = fr.problem(404, "not_found");
    assert_eq!(body["title"], "Introuvable");
    assert_eq!(body["detail"], "Coffre introuvable");
    assert_eq!(fr.headers["content-language"], "fr");
    // English when preferred.
    let en = get_in(
        &app,
        "/vaults/nope",
        &admin,
        Some("en-GB,en;q=0.9,fr;q=0.5"),
    )
    .await;
    let body = en.problem(404, "not_found");
    assert_eq!(body["title"], "Not found");
    assert_eq!(body["detail"], "vault not found");
    assert_eq!(en.headers["content-language"], "en");
    // French preferred over English by quality.
    let fr = get_in(&app, "/vaults/nope", &admin, Some("en;q=0.2, fr")).await;
    assert_eq!(fr.problem(404, "not_found")["title"], "Introuvable");
    // Authentication problems too (no principal yet).
    let r = app
        .send(
            app.request(Method::GET, "/vaults")
                .header("Accept-Language", "fr-FR"),
        )
        .await;
    let body = r.problem(401, "unauthenticated");
    assert_eq!(body["title"], "Authentification requise");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("en-tête Authorization")
    );
    // A refused role, in both languages.
    let student = app.student("21900001");
    let r = get_in(&app, "/vaults", &student, None).await;
    assert!(
        r.problem(403, "forbidden")["detail"]
            .as_str()
            .unwrap()
            .contains("ne permet pas")
    );
    let r = get_in(&app, "/vaults", &student, Some("en")).await;
    assert!(
        r.problem(403, "forbidden")["detail"]
            .as_str()
            .unwrap()
            .contains("may not perform")
    );
}
both_backends!(
    problems_speak_french_unless_asked_otherwise,
    problems_speak_french_unless_asked_otherwise
);

async fn upload_rejections_use_the_seed_words(app: TestApp) {
    app.composantes(&["905"]).await;
    let manager = app.manager(&["905"]);
    let foreign = fixture::write_pdf(
        &[fixture::PageContent::Lines(vec![
            "N° Etudiant : 21900001".into(),
        ])],
        &fixture::PdfOptions {
            producer: Some("Microsoft Word".into()),
            creator: Some("Microsoft Word".into()),
            ..Default::default()
        },
    );
    let r = upload(&app, &manager, foreign, "releve_notes", "905").await;
    let body = r.problem(422, "not_from_apogee");
    assert_eq!(body["title"], "Le fichier n'a pas été produit par Apogée");
    assert!(
        body["detail"].as_str().unwrap().contains("producteur"),
        "{body}"
    );
    // The treatment keeps the rejection in both languages; each reader gets theirs.
    let id = body["treatment_id"].as_str().unwrap().to_owned();
    let path = format!("/treatments/{id}");
    let fr = get_in(&app, &path, &manager, None).await;
    assert_eq!(fr.ok(200)["status_label"], "Erreur de découpage");
    assert_eq!(fr.body["rejection"]["code"], "not_from_apogee");
    assert_eq!(
        fr.body["rejection"]["title"],
        "Le fichier n'a pas été produit par Apogée"
    );
    assert!(
        fr.body["rejection"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("le fichier n'a pas été produit par Apogée")
    );
    let en = get_in(&app, &path, &manager, Some("en")).await;
    assert_eq!(en.ok(200)["rejection"]["code"], "not_from_apogee");
    assert_eq!(en.body["rejection"]["title"], "Not an Apogée edition");
    assert!(
        en.body["rejection"]["detail"]
            .as_str()
            .unwrap()
            .contains("not produced by Apogée")
    );
}
both_backends!(
    upload_rejections_use_the_seed_words,
    upload_rejections_use_the_seed_words
);

async fn import_reports_name_rejections_in_both_languages(app: TestApp) {
    app.composantes(&["905"]).await;
    let mut bad = row(
        "21900001",
        "DUPONT",
        "Jeanne",
        "905",
        "L1INF",
        CURRENT_YEAR,
        "E",
    );
    bad["ine"] = Value::from("not-an-ine");
    let fr = app.import(vec![bad.clone()]).await;
    assert_eq!(fr["rejections"][0]["code"], "invalid_ine");
    assert_eq!(fr["rejections"][0]["label"], "INE invalide");
    assert_eq!(
        fr["rejections"][0]["reason"],
        "ine (COD_NNE_IND) : un INE a 11 caractères, celui-ci en a 10"
    );
    let r = app
        .send(
            app.request(Method::POST, "/students/import")
                .bearer_auth(app.admin())
                .header("Accept-Language", "en")
                .json(&Value::Array(vec![bad])),
        )
        .await;
    assert_eq!(r.ok(200)["rejections"][0]["code"], "invalid_ine");
    assert_eq!(r.body["rejections"][0]["label"], "Invalid INE");
    assert_eq!(
        r.body["rejections"][0]["reason"],
        "ine (COD_NNE_IND): an INE has 11 characters, this one has 10"
    );
}
both_backends!(
    import_reports_name_rejections_in_both_languages,
    import_reports_name_rejections_in_both_languages
);

async fn grade_transfer_reports_speak_the_callers_language(app: TestApp) {
    app.composantes(&["905"]).await;
    let id = crate::grade_transfers::create_fixture(&app, "905").await;
    let admin = app.admin();
    let path = format!("/grade-transfers/{id}");
    let fr = get_in(&app, &path, &admin, None).await;
    let text = fr.ok(200)["report_text"].as_str().unwrap().to_owned();
    assert!(text.contains("Maquette remplie par passerelle."), "{text}");
    assert!(text.contains("cellule(s) modifiée(s)"), "{text}");
    let en = get_in(&app, &path, &admin, Some("en")).await;
    let text = en.ok(200)["report_text"].as_str().unwrap().to_owned();
    assert!(text.contains("Maquette filled by passerelle."), "{text}");
    assert!(text.contains("cell(s) changed"), "{text}");
    assert!(!text.contains("étudiant(s)"), "no French line left: {text}");
    let diff = get_in(
        &app,
        &format!("{path}/diff?format=text"),
        &admin,
        Some("en"),
    )
    .await;
    let diff = String::from_utf8(diff.bytes).unwrap();
    assert!(diff.contains("cell(s) changed"), "{diff}");
}
both_backends!(
    grade_transfer_reports_speak_the_callers_language,
    grade_transfer_reports_speak_the_callers_language
);

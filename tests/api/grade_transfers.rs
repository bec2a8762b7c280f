//! `/grade-transfers` through HTTP: a maquette filled from a grade CSV and from the ScoDoc
//! stand-in (over real HTTP), the file Apogée imports, the diff, composante scope, bad input.

use passerelle::apogee::maquette::Maquette;
use passerelle::config::{Config, ScoDocDepartment, Secret};
use passerelle::error::ErrorCode;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::scodoc::{Sim, maquette, start_sim};
use crate::support::{Reply, TestApp, both_backends, row};

/// Grades for the maquette of `crate::scodoc::maquette()` (étape V1RT, 2024/2025): 21900005 is
/// absent (unknown to ScoDoc), 21900099 is not in the maquette.
const SOURCE_CSV: &str = "nip;element;note;result
21900001;VRTM111;12,5;
21900001;VRTU11;10,375;ADM
21900001;VRTS1;11,69;ADM
21900001;V1RT;11,69;ADM
21900002;VRTS1;11,2;ADM
21900002;V1RT;11,2;ADJ
21900003;VRTM111;15;
21900003;VRTU11;13,5;ADC
21900003;VRTSPORT;15;
21900003;VRTS1;14,8;ADM
21900003;V1RT;14,8;ATB
21900004;VRTM111;4;
21900004;VRTS1;0,01;DEF
21900004;V1RT;0,01;DEM
21900099;V1RT;12;ADM
";

/// Columns: VRTM111 N B · VRTU11 N B R J · VRTSPORT N B · VRTS1 N B R · V1RT N B R.
/// Computed by hand from the rules (two decimals with a comma, barème 20, ADJ→ADM,
/// ADC→ADMC, ATB→AJAC, DEF/DEM→NAR, jury points emptied where the UE is filled).
const EXPECTED_FROM_CSV: [(&str, [&str; 14]); 5] = [
    // Regular student.
    (
        "21900001",
        [
            "12,50", "20", "10,38", "20", "ADM", "", "", "", "11,69", "20", "ADM", "11,69", "20",
            "ADM",
        ],
    ),
    // Repeating student: UE11 validated last year, not in the source, keeps its values and
    // jury points.
    (
        "21900002",
        [
            "13,00", "20", "14,00", "20", "ADM", "0,50", "", "", "11,20", "20", "ADM", "11,20",
            "20", "ADM",
        ],
    ),
    // Bonus-UE student: the sport note written, UE11's jury points (0,25) removed.
    (
        "21900003",
        [
            "15,00", "20", "13,50", "20", "ADMC", "", "15,00", "20", "14,80", "20", "ADM", "14,80",
            "20", "AJAC",
        ],
    ),
    // Défaillant.
    (
        "21900004",
        [
            "4,00", "20", "", "", "", "", "", "", "0,01", "20", "NAR", "0,01", "20", "NAR",
        ],
    ),
    // Unknown to the source: untouched.
    (
        "21900005",
        [
            "", "", "", "", "", "", "", "", "9,00", "20", "AJ", "", "", "",
        ],
    ),
];

/// The same maquette filled from the ScoDoc stand-in's data (`crate::scodoc::data()`).
const EXPECTED_FROM_SCODOC: [[&str; 14]; 5] = [
    [
        "12,50", "20", "10,38", "20", "ADM", "", "", "", "11,69", "20", "ADM", "11,69", "20", "ADM",
    ],
    [
        "13,00", "20", "14,00", "20", "ADM", "0,50", "", "", "11,20", "20", "ADM", "11,20", "20",
        "ADM",
    ],
    [
        "15,00", "20", "13,50", "20", "ADM", "", "15,00", "20", "14,80", "20", "ADM", "14,80",
        "20", "ADM",
    ],
    [
        "4,00", "20", "", "", "", "", "", "", "0,01", "20", "NAR", "0,01", "20", "NAR",
    ],
    [
        "", "", "", "", "", "", "", "", "9,00", "20", "AJ", "", "", "",
    ],
];

fn maquette_part(bytes: Vec<u8>) -> Part {
    Part::bytes(bytes).file_name("VDRT_V1RT.TXT")
}

/// Posts a transfer with a source file.
pub async fn post_with_source(
    app: &TestApp,
    token: &str,
    maquette: Vec<u8>,
    source: &[u8],
    composante: &str,
) -> Reply {
    let form = Form::new()
        .text("composante", composante.to_owned())
        .part("maquette", maquette_part(maquette))
        .part(
            "source",
            Part::bytes(source.to_vec()).file_name("notes.csv"),
        );
    app.send(
        app.request(Method::POST, "/grade-transfers")
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

async fn post_with_scodoc(
    app: &TestApp,
    token: &str,
    maquette: Vec<u8>,
    department: &str,
    semester: Option<&str>,
) -> Reply {
    let mut form = Form::new()
        .text("composante", "905")
        .text("scodoc_department", department.to_owned())
        .part("maquette", maquette_part(maquette));
    if let Some(s) = semester {
        form = form.text("scodoc_semester", s.to_owned());
    }
    app.send(
        app.request(Method::POST, "/grade-transfers")
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

/// A transfer of composante `composante` created as admin; returns its id (for the
/// authorization matrix).
pub async fn create_fixture(app: &TestApp, composante: &str) -> String {
    let r = post_with_source(
        app,
        &app.admin(),
        maquette(),
        SOURCE_CSV.as_bytes(),
        composante,
    )
    .await;
    r.ok(201)["id"].as_str().unwrap().to_owned()
}

fn cells(m: &Maquette, student: usize) -> Vec<String> {
    (4..m.value_ids().len())
        .map(|i| m.students()[student].cell(i).to_owned())
        .collect()
}

async fn fetch_file(app: &TestApp, id: &str, token: &str) -> Reply {
    app.get(&format!("/grade-transfers/{id}/file"), token).await
}

async fn flow(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    // passerelle knows étape V1RT in 2024 from composante 905's enrolments.
    app.import(vec![row(
        "21900001", "DUPONT", "Alice", "905", "V1RT", 2024, "E",
    )])
    .await;
    let own = app.manager(&["905"]);
    let other = app.manager(&["906"]);

    let r = post_with_source(&app, &own, maquette(), SOURCE_CSV.as_bytes(), "905").await;
    let body = r.ok(201).clone();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/grade-transfers/{id}")
    );
    assert_eq!(body["composante"], "905");
    assert_eq!(
        (body["etape"].as_str(), body["academic_year"].as_i64()),
        (Some("V1RT"), Some(2024))
    );
    assert_eq!(body["mode"], "filled_by_passerelle");
    assert_eq!(body["source_kind"], "csv");
    assert_eq!(body["file_name"], "VDRT_V1RT.TXT");
    assert_eq!(body["students"], 5);
    assert_eq!(body["students_changed"], 4);
    assert_eq!(
        body["report"]["check"]["not_in_maquette"],
        serde_json::json!(["21900099"])
    );
    assert_eq!(
        body["report"]["check"]["not_in_source"][0]["nip"],
        "21900005"
    );
    assert!(
        body["problems"].as_i64().unwrap() >= 1,
        "21900099 is a problem"
    );
    assert!(
        body["report_text"]
            .as_str()
            .unwrap()
            .contains("Maquette remplie par passerelle."),
        "{}",
        body["report_text"]
    );

    // The file to import: ISO-8859-1, CRLF, named as apoC_Fichier_Exp says, rows as computed.
    let f = fetch_file(&app, &id, &own).await;
    f.ok(200);
    assert_eq!(f.content_type(), "text/plain; charset=ISO-8859-1");
    assert_eq!(
        f.headers["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"VDRT_V1RT.TXT\""
    );
    assert!(
        f.bytes.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'),
        "CRLF only"
    );
    assert!(
        f.bytes.windows(5).any(|w| w == b"Chlo\xE9"),
        "names stay in ISO-8859-1"
    );
    let filled = Maquette::parse(&f.bytes).unwrap();
    for (i, (nip, expected)) in EXPECTED_FROM_CSV.iter().enumerate() {
        assert_eq!(filled.students()[i].nip(), *nip);
        assert_eq!(cells(&filled, i), expected.to_vec(), "row of {nip}");
    }
    // Lines other than the filled rows are the maquette's own bytes.
    let original = maquette();
    let before: Vec<&[u8]> = original.split(|&b| b == b'\n').collect();
    let after: Vec<&[u8]> = f.bytes.split(|&b| b == b'\n').collect();
    let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert_eq!((before.len(), changed), (after.len(), 4));

    // The diff, recomputed from the stored files.
    let d = app.get(&format!("/grade-transfers/{id}/diff"), &own).await;
    let changes = d.ok(200)["changes"].as_array().unwrap().clone();
    assert_eq!(
        changes.len() as i64,
        body["cells_changed"].as_i64().unwrap()
    );
    let jury = changes
        .iter()
        .find(|c| c["nip"] == "21900003" && c["result_type"] == "J")
        .unwrap();
    assert_eq!(
        (jury["before"].as_str(), jury["after"].as_str()),
        (Some("0,25"), Some(""))
    );
    let some = app
        .get(
            &format!("/grade-transfers/{id}/diff?nip=21900002,21900003"),
            &own,
        )
        .await;
    let some = some.ok(200)["changes"].as_array().unwrap().clone();
    assert!(!some.is_empty() && some.len() < changes.len());
    assert!(
        some.iter()
            .all(|c| c["nip"] == "21900002" || c["nip"] == "21900003")
    );
    let t = app
        .get(&format!("/grade-transfers/{id}/diff?format=text"), &own)
        .await;
    let text = String::from_utf8(t.bytes.clone()).unwrap();
    assert!(
        text.contains("cellule(s) modifiée(s) pour 4 étudiant(s)"),
        "{text}"
    );

    // Scope: the other composante's manager sees nothing of it.
    for path in ["", "/file", "/diff"] {
        app.get(&format!("/grade-transfers/{id}{path}"), &other)
            .await
            .problem(404, "not_found");
    }
    let mine = app.get("/grade-transfers", &own).await;
    assert_eq!(mine.ok(200)["total"], 1);
    assert_eq!(mine.body["items"][0]["id"], id.as_str());
    assert!(mine.body["items"][0].get("report").is_none());
    assert_eq!(
        app.get("/grade-transfers", &other).await.ok(200)["total"],
        0
    );
    let filtered = app
        .get(
            "/grade-transfers?etape=V1RT&academic_year=2023",
            &app.admin(),
        )
        .await;
    assert_eq!(filtered.ok(200)["total"], 0);

    // Managers create only for their composantes; the étape must be the composante's.
    let r = post_with_source(&app, &other, maquette(), SOURCE_CSV.as_bytes(), "905").await;
    assert_eq!(
        r.problem(422, "validation_failed")["errors"][0]["field"],
        "composante"
    );
    let r = post_with_source(&app, &other, maquette(), SOURCE_CSV.as_bytes(), "906").await;
    assert_eq!(
        r.problem(422, "validation_failed")["errors"][0]["code"],
        "etape_elsewhere"
    );
    // A service with grades:write may create; one without may not.
    let svc = app.service(&["grades:write", "grades:read"]);
    post_with_source(&app, &svc, maquette(), SOURCE_CSV.as_bytes(), "905")
        .await
        .ok(201);
    post_with_source(
        &app,
        &app.service(&["grades:read"]),
        maquette(),
        b"x",
        "905",
    )
    .await
    .problem(403, "forbidden");

    // The creation is audited, without personal data.
    let audit = app
        .get("/audit?action=grade_transfer.create", &app.admin())
        .await;
    let entries = audit.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2);
    let mine = entries
        .iter()
        .find(|e| e["object_id"] == id.as_str())
        .expect("the manager's transfer is audited");
    assert_eq!(mine["actor"], "manager:manager-905");
    assert_eq!(mine["details"]["etape"], "V1RT");
    assert!(!mine.to_string().contains("21900001"));

    bad_input(&app, &own).await;
}

/// Bad maquettes and sources: 4xx problems with stable codes naming section and line.
async fn bad_input(app: &TestApp, token: &str) {
    // A source with none of the maquette's students: the file comes back byte for byte.
    let r = post_with_source(
        app,
        token,
        maquette(),
        b"nip;element;note;result\n21900099;V1RT;12;ADM\n",
        "905",
    )
    .await;
    assert_eq!(r.ok(201)["cells_changed"], 0);
    assert_eq!(r.body["report"]["check"]["no_grades_for_maquette"], true);
    let f = fetch_file(app, r.body["id"].as_str().unwrap(), token).await;
    assert!(f.bytes == maquette(), "untouched maquette, same bytes");
    assert_eq!(r.body["file_sha256"], r.body["maquette_sha256"]);

    let csv = SOURCE_CSV.as_bytes();
    let r = post_with_source(app, token, b"%PDF-1.7\n".to_vec(), csv, "905").await;
    let p = r.problem(422, "not_a_maquette");
    assert_eq!(
        (p["part"].as_str(), p["line"].as_i64()),
        (Some("maquette"), Some(1))
    );

    let text = encoding_rs::WINDOWS_1252.decode(&maquette()).0.into_owned();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    post_with_source(app, token, utf16, csv, "905")
        .await
        .problem(422, "unsupported_encoding");

    let twice = text.replace("apoL_c0002\tELP", "apoL_c0001\tELP");
    let r = post_with_source(app, token, twice.into_bytes(), csv, "905").await;
    let p = r.problem(422, "invalid_maquette");
    assert_eq!(p["section"], "XX-APO_COLONNES-XX");
    assert_eq!(p["line"], 16);
    assert!(p["detail"].as_str().unwrap().contains("ligne 16"), "{p}");

    let r = post_with_source(
        app,
        token,
        maquette(),
        b"nip;element;note\n21900001;VRTM111;douze\n21900002;VRTM111;12\n",
        "905",
    )
    .await;
    let p = r.problem(422, "invalid_grade_source");
    assert_eq!(p["problems"][0]["line"], 2);

    // ScoDoc's zip holding only another étape's maquette: that file is not offered for import.
    let other_etape = text.replace("\tV1RT\t", "\tV2RT\t");
    let zip = zip_of(&[("V2RT.TXT", other_etape.as_bytes())]);
    let r = post_with_source(app, token, maquette(), &zip, "905").await;
    let p = r.problem(422, "etape_mismatch");
    assert_eq!(
        (p["maquette"].as_str(), p["source"].as_str()),
        (Some("V1RT"), Some("V2RT"))
    );
    // Two without the right one are refused as such.
    let zip = zip_of(&[
        ("V2RT.TXT", other_etape.as_bytes()),
        ("V3RT.TXT", text.replace("\tV1RT\t", "\tV3RT\t").as_bytes()),
    ]);
    let r = post_with_source(app, token, maquette(), &zip, "905").await;
    assert_eq!(
        r.problem(422, "no_matching_maquette")["found"],
        serde_json::json!(["V2RT", "V3RT"])
    );

    // Neither or both of source and scodoc_department.
    let form = Form::new()
        .text("composante", "905")
        .part("maquette", maquette_part(maquette()));
    let r = app
        .send(
            app.request(Method::POST, "/grade-transfers")
                .bearer_auth(token)
                .multipart(form),
        )
        .await;
    assert_eq!(
        r.problem(422, "validation_failed")["errors"][0]["field"],
        "source"
    );
    app.post("/grade-transfers", token, serde_json::json!({}))
        .await
        .problem(415, "unsupported_media_type");
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }
    buffer.into_inner()
}

both_backends!(csv_flow_scope_and_bad_input, flow);

fn department(url: &str, password: &str, composantes: &[&str]) -> ScoDocDepartment {
    ScoDocDepartment {
        base_url: url.to_owned(),
        dept: Some("RT".into()),
        username: "api".into(),
        password: Secret(password.into()),
        timeout_secs: 5.0,
        composantes: composantes.iter().map(|c| c.to_string()).collect(),
    }
}

/// ScoDoc departments for a test server: `rt` (working), `wrong` (bad password), `gone`
/// (nothing listens), `elsewhere` (reserved to composante 906).
fn with_scodoc(sim: &Sim) -> impl FnOnce(&mut Config) + use<> {
    let url = sim.url.clone();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    move |c: &mut Config| {
        let d = &mut c.grades.scodoc;
        d.insert("rt".into(), department(&url, "s3cret", &[]));
        d.insert("wrong".into(), department(&url, "nope", &[]));
        d.insert("gone".into(), department(&dead, "s3cret", &[]));
        d.insert("elsewhere".into(), department(&url, "s3cret", &["906"]));
    }
}

async fn pull(app: TestApp) {
    app.composantes(&["905", "906"]).await;
    let own = app.manager(&["905"]);
    let r = post_with_scodoc(&app, &own, maquette(), "RT", None).await;
    let body = r.ok(201).clone();
    assert_eq!(body["source_kind"], "scodoc_api");
    assert_eq!(body["scodoc_department"], "rt");
    assert_eq!(body["source_file_name"], "scodoc-rt.json");
    assert_eq!(body["source_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(body["students_changed"], 4);
    assert_eq!(
        body["report"]["check"]["not_in_maquette"],
        serde_json::json!(["21900006"])
    );
    let f = fetch_file(&app, body["id"].as_str().unwrap(), &own).await;
    assert_eq!(f.status.as_u16(), 200);
    let filled = Maquette::parse(&f.bytes).unwrap();
    for (i, expected) in EXPECTED_FROM_SCODOC.iter().enumerate() {
        assert_eq!(cells(&filled, i), expected.to_vec(), "student {i}");
    }
    // The one semester asked for; the token is reused.
    post_with_scodoc(&app, &own, maquette(), "rt", Some("11"))
        .await
        .ok(201);
    let r = post_with_scodoc(&app, &own, maquette(), "rt", Some("99")).await;
    assert!(
        r.problem(422, "scodoc_not_found")["detail"]
            .as_str()
            .unwrap()
            .contains("99")
    );
    post_with_scodoc(&app, &own, maquette(), "rt", Some("x"))
        .await
        .problem(422, "validation_failed");
    let r = post_with_scodoc(&app, &own, maquette(), "wrong", None).await;
    let p = r.problem(502, "scodoc_auth_failed");
    assert!(!p.to_string().contains("nope"), "no password in problems");
    post_with_scodoc(&app, &own, maquette(), "gone", None)
        .await
        .problem(502, "scodoc_unavailable");
    for dept in ["elsewhere", "unknown"] {
        let r = post_with_scodoc(&app, &own, maquette(), dept, None).await;
        assert_eq!(
            r.problem(422, "validation_failed")["errors"][0]["field"],
            "scodoc_department"
        );
    }
    let bad = encoding_rs::WINDOWS_1252
        .decode(&maquette())
        .0
        .replace("\tV1RT\t", "\tV1BAD\t");
    let bad = encoding_rs::WINDOWS_1252.encode(&bad).0.into_owned();
    post_with_scodoc(&app, &own, bad, "rt", None)
        .await
        .problem(502, "scodoc_bad_response");
    // No ScoDoc year for the maquette's.
    let old = encoding_rs::WINDOWS_1252
        .decode(&maquette())
        .0
        .replace("2024/2025", "2023/2024");
    let old = encoding_rs::WINDOWS_1252.encode(&old).0.into_owned();
    post_with_scodoc(&app, &own, old, "rt", None)
        .await
        .problem(422, "scodoc_not_found");
    assert_eq!(app.get("/grade-transfers", &own).await.ok(200)["total"], 2);
}

mod scodoc_pull {
    use super::*;

    #[actix_web::test]
    async fn sqlite() {
        let sim = start_sim(&crate::scodoc::data(), None);
        let app = TestApp::sqlite_with(with_scodoc(&sim)).await;
        pull(app).await;
    }

    #[actix_web::test]
    async fn postgres() {
        let sim = start_sim(&crate::scodoc::data(), None);
        let Some(app) = TestApp::postgres_with(with_scodoc(&sim)).await else {
            eprintln!("PASSERELLE_TEST_DATABASE_URL not set: PostgreSQL run skipped");
            return;
        };
        pull(app).await;
    }
}

/// One reply per grade-transfer problem code, for the contract test.
pub async fn error_replies() -> Vec<(ErrorCode, Reply)> {
    let sim = start_sim(&crate::scodoc::data(), None);
    let app = TestApp::sqlite_with(with_scodoc(&sim)).await;
    app.composantes(&["905"]).await;
    let t = app.admin();
    let text = encoding_rs::WINDOWS_1252.decode(&maquette()).0.into_owned();
    let latin1 = |s: String| encoding_rs::WINDOWS_1252.encode(&s).0.into_owned();
    let csv = SOURCE_CSV.as_bytes();
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let other = text.replace("\tV1RT\t", "\tV2RT\t");
    let zip = zip_of(&[
        ("V2RT.TXT", other.as_bytes()),
        ("V3RT.TXT", other.replace("V2RT", "V3RT").as_bytes()),
    ]);
    let replies = vec![
        (
            ErrorCode::NotAMaquette,
            post_with_source(&app, &t, b"hello".to_vec(), csv, "905").await,
        ),
        (
            ErrorCode::UnsupportedEncoding,
            post_with_source(&app, &t, utf16, csv, "905").await,
        ),
        (
            ErrorCode::InvalidMaquette,
            post_with_source(
                &app,
                &t,
                latin1(text.replace("2024/2025", "2024/2026")),
                csv,
                "905",
            )
            .await,
        ),
        (
            ErrorCode::InvalidGradeSource,
            post_with_source(&app, &t, maquette(), b"nip;x\n1;2\n", "905").await,
        ),
        (
            ErrorCode::NoMatchingMaquette,
            post_with_source(&app, &t, maquette(), &zip, "905").await,
        ),
        (
            ErrorCode::MaquetteMalformed,
            post_with_source(
                &app,
                &t,
                maquette_with_row("21900001", "21900001\tDUPONT\tAlice\r\n"),
                csv,
                "905",
            )
            .await,
        ),
        (
            ErrorCode::EtapeMismatch,
            post_with_source(&app, &t, maquette(), &zip_of(&[("V2RT.TXT", other.as_bytes())]), "905")
                .await,
        ),
        (
            ErrorCode::YearMismatch,
            post_with_source(
                &app,
                &t,
                maquette(),
                br#"{"year": 2023, "grades": [{"nip": "21900001", "element": "V1RT", "note": 12}]}"#,
                "905",
            )
            .await,
        ),
        (
            ErrorCode::ScodocUnavailable,
            post_with_scodoc(&app, &t, maquette(), "gone", None).await,
        ),
        (
            ErrorCode::ScodocAuthFailed,
            post_with_scodoc(&app, &t, maquette(), "wrong", None).await,
        ),
        (
            ErrorCode::ScodocNotFound,
            post_with_scodoc(&app, &t, maquette(), "rt", Some("99")).await,
        ),
        (
            ErrorCode::ScodocBadResponse,
            post_with_scodoc(
                &app,
                &t,
                latin1(text.replace("\tV1RT\t", "\tV1BAD\t")),
                "rt",
                None,
            )
            .await,
        ),
    ];
    drop(sim);
    replies
}

/// `passerelle grades fill`, offline, through the same code path.
#[test]
fn the_cli_fills_a_maquette_like_the_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.txt"), maquette()).unwrap();
    std::fs::write(dir.path().join("notes.csv"), SOURCE_CSV).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .current_dir(dir.path())
            .env("PASSERELLE_DATA_DIR", dir.path().join("data"))
            .env("PASSERELLE_LOG_LEVEL", "warn")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "grades",
        "fill",
        "m.txt",
        "--source",
        "notes.csv",
        "--out",
        "out.txt",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains("Fichier attendu par Apogée : VDRT_V1RT.TXT"),
        "{report}"
    );
    let filled = Maquette::parse(&std::fs::read(dir.path().join("out.txt")).unwrap()).unwrap();
    for (i, (_, expected)) in EXPECTED_FROM_CSV.iter().enumerate() {
        assert_eq!(cells(&filled, i), expected.to_vec());
    }
    let out = run(&[
        "grades",
        "fill",
        "m.txt",
        "--source",
        "notes.csv",
        "--out",
        "o.txt",
        "--json",
    ]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["mode"], "filled_by_passerelle");
    // A refusal: the problem on stdout, exit status 2.
    let out = run(&[
        "grades",
        "fill",
        "notes.csv",
        "--source",
        "notes.csv",
        "--out",
        "x.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let problem: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (problem["code"].as_str(), problem["part"].as_str()),
        (Some("not_a_maquette"), Some("maquette"))
    );
    assert!(!dir.path().join("x.txt").exists());
}

/// The maquette's five students in passerelle's registry (étape V1RT, 2024, composante 905),
/// and one student the maquette does not hold.
async fn registry_of_the_maquette(app: &TestApp) {
    app.composantes(&["905"]).await;
    app.import(vec![
        row("21900001", "DUPONT", "Alice", "905", "V1RT", 2024, "E"),
        row("21900002", "MARTIN", "Léo", "905", "V1RT", 2024, "E"),
        row("21900003", "LEROY", "Chloé", "905", "V1RT", 2024, "E"),
        row("21900004", "PETIT", "Noé", "905", "V1RT", 2024, "E"),
        row("21900005", "MOREAU", "Ève", "905", "V1RT", 2024, "E"),
        row("21900077", "AILLEURS", "Jean", "905", "V1RT", 2024, "E"),
    ])
    .await;
}

/// The students' part of a personal-data export: the transfers, with the changes.
fn exported_transfers(app_export: &Value) -> Vec<Value> {
    app_export["grade_transfers"]
        .as_array()
        .expect("grade_transfers in the export")
        .clone()
}

both_backends!(
    personal_data_export_lists_the_students_grade_transfers,
    export_body
);
async fn export_body(app: TestApp) {
    registry_of_the_maquette(&app).await;
    let admin = app.admin();
    let id = create_fixture(&app, "905").await;

    // 21900003 (LEROY Chloé): the transfer, with exactly her changes (those of `…/diff`).
    let export = app.get("/students/21900003/personal-data", &admin).await;
    let body = export.ok(200).clone();
    let transfers = exported_transfers(&body);
    assert_eq!(transfers.len(), 1);
    let t = &transfers[0];
    assert_eq!(t["id"], id.as_str());
    assert_eq!(
        (
            t["composante"].as_str(),
            t["etape"].as_str(),
            t["etape_version"].as_str(),
            t["academic_year"].as_i64()
        ),
        (Some("905"), Some("V1RT"), Some("111"), Some(2024))
    );
    assert!(t["created_by"].is_string() && t["created_at"].is_string());
    let diff = app
        .get(&format!("/grade-transfers/{id}/diff?nip=21900003"), &admin)
        .await;
    let expected: Vec<Value> = diff.ok(200)["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            serde_json::json!({
                "element_code": c["element_code"],
                "label": c["label"],
                "result_type": c["result_type"],
                "before": c["before"],
                "after": c["after"],
            })
        })
        .collect();
    assert!(expected.len() >= 5, "{expected:?}");
    assert_eq!(t["changes"].as_array().unwrap(), &expected);
    assert!(
        expected
            .iter()
            .any(|c| c["result_type"] == "J" && c["before"] == "0,25" && c["after"] == ""),
        "her jury points on VRTU12"
    );
    // Nothing of the other students of the maquette.
    let text = body.to_string();
    for other in ["21900001", "21900002", "21900004", "21900005", "21900099"] {
        assert!(!text.contains(other), "{other} in the export of 21900003");
    }
    for other in ["DUPONT", "MARTIN", "PETIT", "MOREAU"] {
        assert!(!text.contains(other), "{other} in the export of 21900003");
    }
    // The student reads the same through /me.
    let mine = app.get("/me/personal-data", &app.student("21900003")).await;
    assert_eq!(exported_transfers(mine.ok(200))[0]["changes"], t["changes"]);
    // 21900005 is in the maquette, untouched: the transfer holds her grades, with no change.
    let untouched = app.get("/students/21900005/personal-data", &admin).await;
    let untouched = exported_transfers(untouched.ok(200));
    assert_eq!(untouched.len(), 1);
    assert_eq!(untouched[0]["changes"], serde_json::json!([]));
    // A student the maquette does not hold: no transfer.
    let elsewhere = app.get("/students/21900077/personal-data", &admin).await;
    assert_eq!(exported_transfers(elsewhere.ok(200)), Vec::<Value>::new());
}

/// Grades that also name 21900003 in the report (a note out of range, skipped), besides
/// 21900005 (absent from the source: named with her name) and 21900099 (not in the maquette).
const SOURCE_NAMING_LEROY: &str = "nip;element;note;result
21900001;VRTS1;11,69;ADM
21900001;V1RT;11,69;ADM
21900002;VRTS1;11,2;ADM
21900002;V1RT;11,2;ADJ
21900003;VRTM111;25;
21900003;VRTU11;13,5;ADC
21900003;VRTS1;14,8;ADM
21900003;V1RT;14,8;ATB
21900004;VRTS1;0,01;DEF
21900004;V1RT;0,01;DEM
21900099;V1RT;12;ADM
";

both_backends!(
    erasure_rewrites_grade_transfer_reports_and_keeps_the_files,
    erase_body
);
async fn erase_body(app: TestApp) {
    registry_of_the_maquette(&app).await;
    let admin = app.admin();
    let r = post_with_source(
        &app,
        &admin,
        maquette(),
        SOURCE_NAMING_LEROY.as_bytes(),
        "905",
    )
    .await;
    let id = r.ok(201)["id"].as_str().unwrap().to_owned();
    let before = app.get(&format!("/grade-transfers/{id}"), &admin).await;
    let before = before.ok(200).clone();
    let before_text = before["report_text"].as_str().unwrap().to_owned();
    // The report names both students (the premise of the test).
    assert!(before["report"].to_string().contains("21900003"));
    assert!(before_text.contains("21900003"));
    assert!(before["report"].to_string().contains("MOREAU"));
    assert!(before_text.contains("21900005 MOREAU Ève"), "{before_text}");
    let file_before = fetch_file(&app, &id, &admin).await.bytes.clone();

    let mut aliases = Vec::new();
    for (number, last_name) in [("21900003", "LEROY"), ("21900005", "MOREAU")] {
        let erased = app
            .post(
                &format!("/students/{number}/erase"),
                &admin,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(erased.ok(200)["grade_transfers_kept"], 1, "{number}");
        let alias = erased.body["pseudonym"].as_str().unwrap().to_owned();
        let after = app.get(&format!("/grade-transfers/{id}"), &admin).await;
        let after = after.ok(200).to_string();
        assert!(!after.contains(number), "{number} still in {after}");
        assert!(!after.contains(last_name), "{last_name} still in {after}");
        aliases.push((number, alias));
    }

    // Everything else is as it was: the erased entries are the only difference.
    let after = app.get(&format!("/grade-transfers/{id}"), &admin).await;
    let after = after.ok(200).clone();
    let (leroy, moreau) = (&aliases[0].1, &aliases[1].1);
    let mut expected = before.clone();
    let report = serde_json::to_string(&expected["report"])
        .unwrap()
        .replace("21900003", leroy);
    expected["report"] = serde_json::from_str(&report).unwrap();
    for entry in expected["report"]["check"]["not_in_source"]
        .as_array_mut()
        .unwrap()
    {
        if entry["nip"] == "21900005" {
            entry["nip"] = moreau.as_str().into();
            entry["last_name"] = "ANONYME".into();
            entry["first_name"] = "".into();
        }
    }
    expected["report_text"] = before_text
        .replace("21900003", leroy)
        .replace("21900005 MOREAU Ève", &format!("{moreau} ANONYME"))
        .into();
    assert_eq!(after, expected);
    assert!(after.to_string().contains("21900099"), "others stay");
    assert_eq!(
        after["report"]["check"]["not_in_source"][0]["nip"],
        moreau.as_str()
    );

    // The files are kept as they are (the étape's grades), and the export of the erased
    // student still lists the transfer.
    assert_eq!(fetch_file(&app, &id, &admin).await.bytes, file_before);
    let export = app
        .get(&format!("/students/{leroy}/personal-data"), &admin)
        .await;
    let transfers = exported_transfers(export.ok(200));
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0]["id"], id.as_str());
    // The other students' exports are unchanged.
    let other = app.get("/students/21900002/personal-data", &admin).await;
    assert!(
        !exported_transfers(other.ok(200))[0]["changes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Posts a transfer with a source file and extra form fields.
async fn post_form(
    app: &TestApp,
    token: &str,
    maquette: Vec<u8>,
    source: &[u8],
    fields: &[(&str, &str)],
) -> Reply {
    let mut form = Form::new()
        .text("composante", "905")
        .part("maquette", maquette_part(maquette))
        .part(
            "source",
            Part::bytes(source.to_vec()).file_name("notes.csv"),
        );
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    app.send(
        app.request(Method::POST, "/grade-transfers")
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

/// The test maquette as text, with the line of student `nip` replaced by `by` (which carries
/// its own line ending, or none).
fn maquette_with_row(nip: &str, by: &str) -> Vec<u8> {
    let text = encoding_rs::WINDOWS_1252.decode(&maquette()).0.into_owned();
    let start = text.find(&format!("\r\n{nip}\t")).unwrap() + 2;
    let end = text[start..]
        .find("\r\n")
        .map_or(text.len(), |i| start + i + 2);
    let text = format!("{}{by}{}", &text[..start], &text[end..]);
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}

fn report_text(body: &Value) -> &str {
    body["report_text"].as_str().unwrap()
}

both_backends!(scodoc_rules_and_refusals, rules_body);
async fn rules_body(app: TestApp) {
    app.composantes(&["905"]).await;
    let t = app.manager(&["905"]);
    let latin1 = |s: &str| encoding_rs::WINDOWS_1252.encode(s).0.into_owned();
    let text = encoding_rs::WINDOWS_1252.decode(&maquette()).0.into_owned();

    // 1. Démissionnaire / défaillant: 0,01 / 20 / NAR on the semester and the étape, whatever
    //    the source's note; the report says so.
    // 3. A refused note (25 on Léo's UE validated last year) keeps all its cells, AJ included.
    // 6. Léo's 13,00 on VRTM111 replaced by 9,50: listed with both values.
    let source = b"nip;element;note;result
21900004;VRTS1;8;DEM
21900004;V1RT;;DEF
21900002;VRTU11;25;AJ
21900002;VRTM111;9,5;
21900001;VRTS1;12;ADM
";
    let r = post_form(&app, &t, maquette(), source, &[]).await;
    let body = r.ok(201).clone();
    let id = body["id"].as_str().unwrap();
    let filled = Maquette::parse(&fetch_file(&app, id, &t).await.bytes).unwrap();
    assert_eq!(
        &cells(&filled, 3)[8..14],
        &["0,01", "20", "NAR", "0,01", "20", "NAR"]
    );
    assert_eq!(
        &cells(&filled, 1)[..6],
        &["9,50", "20", "14,00", "20", "ADM", "0,50"]
    );
    let withdrawn = body["report"]["fill"]["withdrawn"].as_array().unwrap();
    assert_eq!(withdrawn.len(), 2, "{withdrawn:?}");
    assert_eq!(
        (withdrawn[0]["nip"].as_str(), withdrawn[0]["code"].as_str()),
        (Some("21900004"), Some("DEM"))
    );
    assert_eq!(
        body["report"]["fill"]["skipped_notes"][0]["element"],
        "VRTU11"
    );
    assert_eq!(
        body["report"]["check"]["lowered_notes"],
        serde_json::json!([{
            "nip": "21900002", "element": "VRTM111", "column_id": "apoL_c0001",
            "before": "13,00", "after": "9,50"
        }])
    );
    let report = report_text(&body);
    for expected in [
        "Démission (DEM) : 21900004 VRTS1 — note 0,01, barème 20, résultat NAR, comme ScoDoc",
        "Défaillance (DEF) : 21900004 V1RT",
        "Note refusée (hors barème) : 21900002 VRTU11",
        "Étudiant 21900002 : note de VRTM111 en baisse, 13,00 remplacée par 9,50",
    ] {
        assert!(report.contains(expected), "{expected}\n{report}");
    }

    // 2. Rows that do not match the column declaration.
    let short = maquette_with_row("21900002", "21900002\tMARTIN\tLéo\t01/01/2005\t13,00\r\n");
    let p = post_form(&app, &t, short, SOURCE_CSV.as_bytes(), &[]).await;
    let p = p.problem(422, "maquette_malformed");
    assert_eq!(
        (
            p["part"].as_str(),
            p["section"].as_str(),
            p["cells"].as_i64(),
            p["expected"].as_i64(),
            p["truncated"].as_bool()
        ),
        (
            Some("maquette"),
            Some("XX-APO_VALEURS-XX"),
            Some(5),
            Some(18),
            Some(false)
        )
    );
    let line = p["line"].as_i64().unwrap();
    assert_eq!(
        text.lines()
            .nth(line as usize - 1)
            .unwrap()
            .split('\t')
            .next(),
        Some("21900002"),
        "the line is Léo's"
    );
    let long = maquette_with_row(
        "21900004",
        &format!("21900004\tPETIT\tNoé\t01/01/2005{}\tX\r\n", "\t".repeat(14)),
    );
    let p = post_form(&app, &t, long, SOURCE_CSV.as_bytes(), &[]).await;
    assert_eq!(p.problem(422, "maquette_malformed")["cells"], 19);
    // The last row cut short (no final CRLF): refused, unless the caller accepts it.
    let cut = maquette_with_row("21900005", "21900005\tMOREAU\tÈve\t01/01/2005\t\t\t");
    let p = post_form(&app, &t, cut.clone(), SOURCE_CSV.as_bytes(), &[]).await;
    let p = p.problem(422, "maquette_malformed");
    assert_eq!(
        (p["cells"].as_i64(), p["truncated"].as_bool()),
        (Some(7), Some(true))
    );
    post_form(
        &app,
        &t,
        cut.clone(),
        SOURCE_CSV.as_bytes(),
        &[("accept_truncated_last_row", "yes")],
    )
    .await
    .problem(422, "validation_failed");
    let source_for_eve = format!("{SOURCE_CSV}21900005;V1RT;12;ADM\n");
    let r = post_form(
        &app,
        &t,
        cut.clone(),
        source_for_eve.as_bytes(),
        &[("accept_truncated_last_row", "true")],
    )
    .await;
    let body = r.ok(201).clone();
    assert_eq!(
        body["report"]["check"]["truncated_last_row"],
        serde_json::json!({"line": line + 3, "nip": "21900005", "cells": 7, "expected": 18})
    );
    assert!(
        report_text(&body).contains("Dernière ligne coupée"),
        "{}",
        report_text(&body)
    );
    let id = body["id"].as_str().unwrap();
    let file = fetch_file(&app, id, &t).await.bytes.clone();
    assert!(
        file.ends_with(&latin1("\r\n21900005\tMOREAU\tÈve\t01/01/2005\t\t\t")),
        "the cut row is left as read"
    );
    let d = app.get(&format!("/grade-transfers/{id}/diff"), &t).await;
    assert!(
        d.ok(200)["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["nip"] != "21900005")
    );

    // 4. A source of another étape or year: refused, naming both.
    let json = |etape: &str, year: i32| {
        format!(
            r#"{{"year": {year}, "etape": "{etape}", "grades": [{{"nip": "21900001", "element": "V1RT", "note": 12, "result": "ADM"}}]}}"#
        )
    };
    let p = post_form(&app, &t, maquette(), json("V2RT", 2024).as_bytes(), &[]).await;
    let p = p.problem(422, "etape_mismatch");
    assert_eq!(
        (p["maquette"].as_str(), p["source"].as_str()),
        (Some("V1RT"), Some("V2RT"))
    );
    let p = post_form(&app, &t, maquette(), json("V1RT", 2023).as_bytes(), &[]).await;
    let p = p.problem(422, "year_mismatch");
    assert_eq!(
        (p["maquette"].as_i64(), p["source"].as_i64()),
        (Some(2024), Some(2023))
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("2023/2024, la maquette pour 2024/2025")
    );
    let other_year = latin1(&text.replace("2024/2025", "2023/2024"));
    post_form(
        &app,
        &t,
        maquette(),
        &zip_of(&[("V.TXT", &other_year)]),
        &[],
    )
    .await
    .problem(422, "year_mismatch");

    // 5. Nothing to import is a warning, not "no anomaly".
    for source in [b"nip;element;note;result\n".to_vec(), maquette()] {
        let r = post_form(&app, &t, maquette(), &source, &[]).await;
        let body = r.ok(201).clone();
        assert_eq!(body["cells_changed"], 0);
        assert_eq!(body["report"]["check"]["no_grades_for_maquette"], true);
        assert!(body["problems"].as_i64().unwrap() >= 1);
        let report = report_text(&body);
        assert!(
            report.contains("la source ne contient aucune note pour cette maquette"),
            "{report}"
        );
        assert!(!report.contains("Aucune anomalie bloquante"), "{report}");
    }
    // Nothing was kept for the refusals.
    assert_eq!(app.get("/grade-transfers", &t).await.ok(200)["total"], 4);
}

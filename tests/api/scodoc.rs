//! The ScoDoc client against the `scodoc-sim` stand-in, over real HTTP on loopback: pull a
//! grade source, fill a maquette with it, and exercise token refresh and error codes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use passerelle::apogee::fill::FillOptions;
use passerelle::apogee::fill_from_source;
use passerelle::apogee::maquette::Maquette;
use passerelle::scodoc::{ScoDocClient, ScoDocConfig, pull_grade_source};
use serde_json::{Value, json};

pub(crate) struct Sim {
    child: Child,
    pub(crate) url: String,
    data_file: std::path::PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.data_file);
    }
}

static FILES: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn start_sim(data: &Value, token_ttl: Option<&str>) -> Sim {
    let path = std::env::temp_dir().join(format!(
        "scodoc-sim-test-{}-{}.json",
        std::process::id(),
        FILES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, serde_json::to_vec(data).unwrap()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_scodoc-sim"));
    command
        .args(["--bind", "127.0.0.1:0", "--data"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(ttl) = token_ttl {
        command.args(["--token-ttl", ttl]);
    }
    let mut child = command.spawn().expect("scodoc-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Sim {
        child,
        url: format!("http://{addr}"),
        data_file: path,
    }
}

fn config(sim: &Sim, dept: &str, password: &str) -> ScoDocConfig {
    ScoDocConfig {
        base_url: sim.url.clone(),
        dept: dept.into(),
        username: "api".into(),
        password: password.into(),
        timeout: Duration::from_secs(5),
    }
}

pub(crate) fn data() -> Value {
    json!({
        "users": [{"username": "api", "password": "s3cret"}],
        "departments": {
            "RT": {"formsemestres": [
                {
                    "formsemestre": {"id": 11, "formsemestre_id": 11, "annee_scolaire": 2024, "semestre_id": 1,
                                     "etape_apo": "V1RT!111", "elt_sem_apo": "VRTS1", "elt_annee_apo": null,
                                     "date_debut_iso": "2024-09-02", "titre_num": "DUT R&T semestre 1"},
                    "etudiants": [
                        {"id": 1, "etudid": 1, "code_nip": "21900001", "code_ine": "0123456789M", "nom": "DUPONT", "prenom": "Alice"},
                        {"id": 2, "etudid": 2, "code_nip": "21900002", "nom": "MARTIN", "prenom": "Léo"},
                        {"id": 3, "etudid": 3, "code_nip": "21900003", "nom": "LEROY", "prenom": "Chloé"},
                        {"id": 4, "etudid": 4, "code_nip": "21900004", "nom": "PETIT", "prenom": "Noé"},
                        {"id": 6, "etudid": 6, "code_nip": "21900006", "nom": "NOUVEAU", "prenom": "Jules"},
                        {"id": 7, "etudid": 7, "code_nip": null, "nom": "SANSNIP", "prenom": "Zoé"}
                    ],
                    "programme": {
                        "ues": [
                            {"id": 101, "code_apogee": "VRTU11", "acronyme": "UE11"},
                            {"id": 103, "code_apogee": "", "acronyme": "Sport"}
                        ],
                        "ressources": [
                            {"id": 501, "module": {"code_apogee": "VRTM111", "code": "M1101", "titre": "Réseaux"}},
                            {"id": 502, "module": {"code_apogee": "VRTSPORT", "code": "SPORT", "titre": "Sport (bonus)"}}
                        ],
                        "saes": [],
                        "modules": []
                    },
                    "resultats": [
                        {"etudid": 1, "code_nip": "21900001", "moy_gen": "11.69", "moy_ue_101": 10.375, "moy_res_501_101": "12.50"},
                        {"etudid": 2, "code_nip": "21900002", "moy_gen": "11.20", "moy_ue_101": "~", "moy_res_501_101": "~"},
                        {"etudid": 3, "code_nip": "21900003", "moy_gen": "14.80", "moy_ue_101": 13.5, "moy_ue_103": 0.45, "moy_res_501_101": 15, "moy_res_502_103": 15},
                        {"etudid": 4, "code_nip": "21900004", "moy_gen": "3.10", "moy_ue_101": 2.0, "moy_res_501_101": 4},
                        {"etudid": 6, "code_nip": "21900006", "moy_gen": "10.00", "moy_ue_101": 10}
                    ],
                    "decisions_jury": [
                        classic(1, "21900001", "I", Some("ADM"), json!([{"ue_id": 101, "code": "ADM"}])),
                        classic(2, "21900002", "I", Some("ADJ"), json!([])),
                        classic(3, "21900003", "I", Some("ADM"), json!([{"ue_id": 101, "code": "ADM"}])),
                        // Défaillant: a state, not a jury code (no semester code).
                        classic(4, "21900004", "DEF", None, json!([])),
                        classic(6, "21900006", "I", Some("ATT"), json!([]))
                    ]
                },
                {
                    "formsemestre": {"id": 12, "annee_scolaire": 2024, "semestre_id": 1, "etape_apo": "V1BAD"},
                    "etudiants": [], "programme": {"ues": []}, "resultats": [], "decisions_jury": [],
                    // Fault injection (a sim extra): an unreadable decisions_jury answer.
                    "sim_raw": {"decisions_jury": "not a list"}
                }
            ]},
            "INFO": {"formsemestres": but_year()}
        }
    })
}

/// A classic formation's `decisions_jury` entry, in the shape `docs/scodoc.md` records.
pub(crate) fn classic(etudid: i64, nip: &str, etat: &str, code: Option<&str>, ues: Value) -> Value {
    let mut semestre = json!({"ordre": 1});
    if let Some(code) = code {
        semestre["code"] = json!(code);
    }
    json!({"etudid": etudid, "code_nip": nip, "code_ine": null, "is_apc": false, "etat": etat,
           "nb_competences": 0, "semestre": semestre, "ues": ues, "rcues": [], "annee": {}})
}

/// A BUT entry: RCUEs and the year decision (`annee`), yearly juries.
fn but(
    etudid: i64,
    nip: &str,
    etat: &str,
    ordre: i64,
    sem_code: Option<&str>,
    annee: Value,
) -> Value {
    let mut semestre = json!({"ordre": ordre});
    if let Some(code) = sem_code {
        semestre["code"] = json!(code);
    }
    json!({"etudid": etudid, "code_nip": nip, "code_ine": "1234567890A", "is_apc": true, "etat": etat,
           "nb_competences": 2, "semestre": semestre, "ues": [],
           "rcues": [{"code": "ADM", "moy": 12.25}, {"code": "AJ", "moy": 8.5}], "annee": annee})
}

/// BUT Informatique, first year (S1 and S2 of étape V1INFO in 2024-2025).
fn but_year() -> Value {
    let students = json!([
        {"id": 31, "etudid": 31, "code_nip": "22000031", "nom": "BERNARD", "prenom": "Inès"},
        {"id": 32, "etudid": 32, "code_nip": "22000032", "nom": "GIRARD", "prenom": "Hugo"}
    ]);
    let programme = json!({"ues": [{"id": 301, "code_apogee": "VINU11", "acronyme": "UE1.1"}],
                           "ressources": [], "saes": [], "modules": []});
    json!([
        {
            "formsemestre": {"id": 21, "formsemestre_id": 21, "annee_scolaire": 2024, "semestre_id": 1,
                             "etape_apo": "V1INFO", "elt_sem_apo": "VINS1", "elt_annee_apo": null,
                             "date_debut_iso": "2024-09-02", "titre_num": "BUT Informatique semestre 1"},
            "etudiants": students.clone(), "programme": programme.clone(),
            "resultats": [{"etudid": 31, "moy_gen": 11.5, "moy_ue_301": 12.25},
                          {"etudid": 32, "moy_gen": 9.5, "moy_ue_301": 8.5}],
            "decisions_jury": [
                {"etudid": 31, "code_nip": "22000031", "code_ine": null, "is_apc": true, "etat": "I",
                 "nb_competences": 2, "semestre": {"code": "ADM", "ordre": 1},
                 "ues": [{"ue_id": 301, "code": "ADM", "ects": 6}], "rcues": [], "annee": {}},
                {"etudid": 32, "code_nip": "22000032", "code_ine": null, "is_apc": true, "etat": "I",
                 "nb_competences": 2, "semestre": {"ordre": 1}, "ues": [], "rcues": [], "annee": {}}
            ]
        },
        {
            "formsemestre": {"id": 22, "formsemestre_id": 22, "annee_scolaire": 2024, "semestre_id": 2,
                             "etape_apo": "V1INFO", "elt_sem_apo": "VINS2", "elt_annee_apo": "VIN1A",
                             "date_debut_iso": "2025-01-20", "titre_num": "BUT Informatique semestre 2"},
            "etudiants": students, "programme": programme,
            "resultats": [{"etudid": 31, "moy_gen": 12.5}, {"etudid": 32, "moy_gen": 6.5}],
            "decisions_jury": [
                but(31, "22000031", "I", 2, None, json!({"code": "PASD", "ordre": 1, "annee_scolaire": 2024})),
                but(32, "22000032", "D", 2, None, json!({"code": "DEM", "ordre": 1, "annee_scolaire": 2024}))
            ]
        }
    ])
}

/// A maquette for V1RT 2024/2025 in ISO-8859-1 with CRLF, as Apogée exports it.
pub(crate) fn maquette() -> Vec<u8> {
    let columns = [
        ("ELP", "VRTM111", "N"),
        ("ELP", "VRTM111", "B"),
        ("ELP", "VRTU11", "N"),
        ("ELP", "VRTU11", "B"),
        ("ELP", "VRTU11", "R"),
        ("ELP", "VRTU11", "J"),
        ("ELP", "VRTSPORT", "N"),
        ("ELP", "VRTSPORT", "B"),
        ("ELP", "VRTS1", "N"),
        ("ELP", "VRTS1", "B"),
        ("ELP", "VRTS1", "R"),
        ("VET", "V1RT", "N"),
        ("VET", "V1RT", "B"),
        ("VET", "V1RT", "R"),
    ];
    let mut t = String::from(
        "XX-APO_TITRES-XX\r\napoC_annee\t2024/2025\r\napoC_cod_dip\tVDRT\r\napoC_Fichier_Exp\tC:\\TEMP\\VDRT_V1RT.TXT\r\n\r\nXX-APO_TYP_RES-XX\r\n10\tADM\tADMC\tAJ\tAJAC\tCOMP\tNAR\tATT\r\n\r\nXX-APO_COLONNES-XX\r\napoL_a01_code\tType Objet\tCode\tVersion\tAnnée\tSession\tAdmission/Admissibilité\tType Rés.\t\t\tEtudiant\tNuméro\r\napoL_a02_nom\r\napoL_a03_prenom\r\napoL_a04_naissance\r\nAPO_COL_VAL_DEB\r\n",
    );
    for (i, (kind, code, rt)) in columns.iter().enumerate() {
        t.push_str(&format!(
            "apoL_c{:04}\t{kind}\t{code}\t111\t2024\t0\t1\t{rt}\t{code} libellé\t0\t1\t\r\n",
            i + 1
        ));
    }
    t.push_str("APO_COL_VAL_FIN\r\n\r\nXX-APO_VALEURS-XX\r\napoL_a01_code\tapoL_a02_nom\tapoL_a03_prenom\tapoL_a04_naissance");
    for i in 0..columns.len() {
        t.push_str(&format!("\tapoL_c{:04}", i + 1));
    }
    t.push_str("\r\n");
    let rows = [
        ("21900001", "DUPONT", "Alice", ""),
        // Redoublant: UE11 and its module validated last year, with jury points.
        (
            "21900002",
            "MARTIN",
            "Léo",
            "13,00\t20\t14,00\t20\tADM\t0,50",
        ),
        ("21900003", "LEROY", "Chloé", "\t\t\t\t\t0,25"),
        ("21900004", "PETIT", "Noé", ""),
        ("21900005", "MOREAU", "Ève", "\t\t\t\t\t\t\t\t9,00\t20\tAJ"),
    ];
    for (nip, nom, prenom, values) in rows {
        // Every row has one cell per declared column, as Apogée writes it.
        let padding = "\t".repeat(columns.len() - 1 - values.matches('\t').count());
        t.push_str(&format!(
            "{nip}\t{nom}\t{prenom}\t01/01/2005\t{values}{padding}\r\n"
        ));
    }
    encoding_rs::WINDOWS_1252.encode(&t).0.into_owned()
}

fn cells(m: &Maquette, student: usize) -> Vec<&str> {
    (4..m.value_ids().len())
        .map(|i| m.students()[student].cell(i))
        .collect()
}

#[tokio::test]
async fn pulls_grades_from_scodoc_and_fills_the_maquette() {
    let sim = start_sim(&data(), None);
    let client = ScoDocClient::new(config(&sim, "RT", "s3cret")).unwrap();
    let source = pull_grade_source(&client, 2024, "V1RT").await.unwrap();
    assert_eq!(client.tokens_issued(), 1);
    assert_eq!(
        (source.year, source.etape.as_deref()),
        (Some(2024), Some("V1RT"))
    );
    assert_eq!(source.students.len(), 5, "{:?}", source.students.keys());
    let alice = &source.students["21900001"];
    assert_eq!(alice["VRTU11"].note, Some(10.375));
    assert_eq!(alice["VRTU11"].result.as_deref(), Some("ADM"));
    assert_eq!(alice["VRTM111"].note, Some(12.5));
    assert_eq!(alice["V1RT"].result.as_deref(), Some("ADM"));
    assert_eq!(source.students["21900004"]["VRTS1"].note, Some(0.01));
    assert_eq!(
        source.warnings.len(),
        1,
        "the student without NIP: {:?}",
        source.warnings
    );

    let (bytes, report) = fill_from_source(&maquette(), &source, &FillOptions::default()).unwrap();
    let m = Maquette::parse(&bytes).unwrap();
    let expected: [&[&str]; 5] = [
        &[
            "12,50", "20", "10,38", "20", "ADM", "", "", "", "11,69", "20", "ADM", "11,69", "20",
            "ADM",
        ],
        // Nothing from ScoDoc for UE11 and its module: last year's values (and jury points) stay.
        &[
            "13,00", "20", "14,00", "20", "ADM", "0,50", "", "", "11,20", "20", "ADM", "11,20",
            "20", "ADM",
        ],
        // Sport bonus (through its module) filled; the jury points of UE11 removed.
        &[
            "15,00", "20", "13,50", "20", "ADM", "", "15,00", "20", "14,80", "20", "ADM", "14,80",
            "20", "ADM",
        ],
        // Défaillant: NAR and 0,01 on the semester and the étape.
        // Its UE average without a UE decision is not exported (as ScoDoc does).
        &[
            "4,00", "20", "", "", "", "", "", "", "0,01", "20", "NAR", "0,01", "20", "NAR",
        ],
        // Unknown to ScoDoc: untouched.
        &[
            "", "", "", "", "", "", "", "", "9,00", "20", "AJ", "", "", "",
        ],
    ];
    for (student, row) in expected.iter().enumerate() {
        assert_eq!(
            cells(&m, student)[..row.len()],
            row[..],
            "student {student}"
        );
    }
    assert_eq!(report.check.not_in_maquette, vec!["21900006".to_string()]);
    let untouched: Vec<&str> = report
        .check
        .not_in_source
        .iter()
        .map(|s| s.nip.as_str())
        .collect();
    assert_eq!(untouched, vec!["21900005"]);
    assert!(
        report.check.missing_decisions.is_empty(),
        "{:?}",
        report.check.missing_decisions
    );
    assert_eq!(report.diff.students_changed(), 4);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    let sim = start_sim(&data(), Some("0.3"));
    let client = ScoDocClient::new(config(&sim, "RT", "s3cret")).unwrap();
    let first = pull_grade_source(&client, 2024, "V1RT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = pull_grade_source(&client, 2024, "V1RT").await.unwrap();
    assert_eq!(first, second);
    assert!(
        client.tokens_issued() >= 2,
        "the expired token was replaced"
    );
}

#[tokio::test]
async fn errors_map_to_their_codes() {
    let sim = start_sim(&data(), None);
    let wrong = ScoDocClient::new(config(&sim, "RT", "wrong")).unwrap();
    let e = pull_grade_source(&wrong, 2024, "V1RT").await.unwrap_err();
    assert_eq!(e.code(), "scodoc_auth_failed", "{e}");
    assert!(!e.to_string().contains("wrong"), "no password in messages");

    let client = ScoDocClient::new(config(&sim, "GEII", "s3cret")).unwrap();
    assert_eq!(
        pull_grade_source(&client, 2024, "V1RT")
            .await
            .unwrap_err()
            .code(),
        "scodoc_not_found"
    );

    let client = ScoDocClient::new(config(&sim, "RT", "s3cret")).unwrap();
    let e = pull_grade_source(&client, 2023, "V1RT").await.unwrap_err();
    assert_eq!(e.code(), "scodoc_not_found");
    assert!(e.to_string().contains("V1RT"), "{e}");
    assert_eq!(
        pull_grade_source(&client, 2024, "V1BAD")
            .await
            .unwrap_err()
            .code(),
        "scodoc_bad_response"
    );

    // Nothing listens there any more.
    let url = sim.url.clone();
    drop(sim);
    let gone = ScoDocClient::new(ScoDocConfig {
        base_url: format!("{url}/ScoDoc/"),
        dept: "RT".into(),
        username: "api".into(),
        password: "s3cret".into(),
        timeout: Duration::from_secs(2),
    })
    .unwrap();
    assert_eq!(
        pull_grade_source(&gone, 2024, "V1RT")
            .await
            .unwrap_err()
            .code(),
        "scodoc_unavailable"
    );
}

#[tokio::test]
async fn a_but_year_is_pulled_through_the_sim() {
    let sim = start_sim(&data(), None);
    let client = ScoDocClient::new(config(&sim, "INFO", "s3cret")).unwrap();
    let source = pull_grade_source(&client, 2024, "V1INFO").await.unwrap();
    let ines = &source.students["22000031"];
    // S1: a semester code and a UE decision, as in a classic formation.
    assert_eq!(ines["VINS1"].result.as_deref(), Some("ADM"));
    assert_eq!(ines["VINU11"].note, Some(12.25));
    // The yearly jury: annee.code on the étape and the year element, without an S2 code.
    assert_eq!(ines["V1INFO"].result.as_deref(), Some("PASD"));
    assert_eq!(ines["V1INFO"].note, Some(12.0));
    assert_eq!(ines["VIN1A"], ines["V1INFO"]);
    assert!(!ines.contains_key("VINS2"), "no S2 semester code");
    // A démissionnaire (etat D, year decision DEM): 0.01 and DEM.
    let hugo = &source.students["22000032"];
    assert_eq!(hugo["V1INFO"].result.as_deref(), Some("DEM"));
    assert_eq!(hugo["V1INFO"].note, Some(0.01));
    assert_eq!(hugo["VINS2"].result.as_deref(), Some("DEM"));
    assert!(!hugo.contains_key("VINU11"), "no S1 decision, no S1 values");
    assert!(source.warnings.is_empty(), "{:?}", source.warnings);
}

/// Example answers written from the facts of `docs/scodoc.md` (field by field, with the
/// source of each there): a BUT formsemestre and a classic one.
fn published_examples() -> Value {
    json!({
        "users": [{"username": "api", "password": "s3cret"}],
        "departments": {"EX": {"formsemestres": [
            {
                // [PHB] [NOTES]: id and formsemestre_id, an integer annee_scolaire, semestre_id.
                "formsemestre": {"id": 1174, "formsemestre_id": 1174, "annee_scolaire": 2023,
                                 "semestre_id": 2, "etape_apo": "V1INF", "titre_num": "BUT Informatique semestre 2",
                                 "date_debut_iso": "2024-01-29", "date_fin_iso": "2024-07-05",
                                 "session_id": "INFORMATIQUE-BUT-FI-S2-2023"},
                "etudiants": [{"id": 5, "etudid": 5, "code_nip": "21800555", "nom": "X", "prenom": "Y"}],
                "programme": {"ues": [], "ressources": [], "saes": [], "modules": []},
                "resultats": [{"etudid": 5, "moy_gen": 11.0}],
                // [SANKEY-A] annee.{code, ordre, annee_scolaire}, code_nip, code_ine, etudid;
                // [SANKEY-B] is_apc, etat, nb_competences, semestre.ordre, rcues[].{code, moy};
                // [SANKEY-C] semestre.code.
                "decisions_jury": [
                    {"etudid": 5, "code_nip": "21800555", "code_ine": "1234567890A", "is_apc": true,
                     "etat": "I", "nb_competences": 3, "semestre": {"code": "ADM", "ordre": 2},
                     "ues": [{"ue_id": 77, "code": "ADM", "ects": 6.0}],
                     "rcues": [{"code": "ADM", "moy": 12.5}, {"code": "ADJ", "moy": 9.75},
                               {"code": "AJ", "moy": null}],
                     "annee": {"code": "ADSUP", "ordre": 1, "annee_scolaire": 2023}}
                ]
            },
            {
                "formsemestre": {"id": 95, "formsemestre_id": 95, "annee_scolaire": 2023, "semestre_id": 1,
                                 "etape_apo": "VLPRO", "titre_num": "LP Réseaux semestre 1"},
                "etudiants": [{"id": 6, "etudid": 6, "code_nip": "21800666", "nom": "Z", "prenom": "W"}],
                "programme": {"ues": [], "ressources": [], "saes": [], "modules": []},
                "resultats": [{"etudid": 6, "moy_gen": 8.0}],
                // A classic formation: semestre.code, ues[], no RCUE, no BUT year.
                "decisions_jury": [
                    {"etudid": 6, "code_nip": "21800666", "code_ine": null, "is_apc": false, "etat": "DEF",
                     "nb_competences": 0, "semestre": {"code": "AJ", "ordre": 1},
                     "ues": [{"ue_id": 88, "code": "AJ"}], "rcues": [], "annee": {}}
                ]
            }
        ]}}
    })
}

async fn token(http: &reqwest::Client, sim: &Sim) -> String {
    let answer: Value = http
        .post(format!("{}/ScoDoc/api/tokens", sim.url))
        .basic_auth("api", Some("s3cret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_client_and_the_sim_agree_on_the_published_examples() {
    use passerelle::scodoc::ScoDocApi;
    use passerelle::scodoc::model::FormationKind;

    let examples = published_examples();
    let sim = start_sim(&examples, None);
    let http = reqwest::Client::new();
    let bearer = token(&http, &sim).await;
    let semesters = examples["departments"]["EX"]["formsemestres"]
        .as_array()
        .unwrap();
    // The sim answers the examples unchanged.
    for s in semesters {
        let id = s["formsemestre"]["id"].as_i64().unwrap();
        let served: Value = http
            .get(format!(
                "{}/ScoDoc/EX/api/formsemestre/{id}/decisions_jury",
                sim.url
            ))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(served, s["decisions_jury"], "formsemestre {id}");
    }
    let listed: Value = http
        .get(format!(
            "{}/ScoDoc/EX/api/formsemestres/query?annee_scolaire=2023",
            sim.url
        ))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0], semesters[0]["formsemestre"]);

    // The client reads every published field.
    let client = ScoDocClient::new(config(&sim, "EX", "s3cret")).unwrap();
    let listed = client.semesters(2023, "V1INF").await.unwrap();
    assert_eq!(listed.len(), 2, "the sim does not filter on etape_apo");
    assert_eq!(
        (
            listed[0].key(),
            listed[0].annee_scolaire,
            listed[0].semestre_id
        ),
        (Some(1174), Some(2023), Some(2))
    );
    let but = client.decisions(1174).await.unwrap();
    let d = &but[0];
    assert_eq!(d.kind(), FormationKind::But);
    assert_eq!(
        (d.etudid, d.code_nip.as_deref(), d.code_ine.as_deref()),
        (Some(5), Some("21800555"), Some("1234567890A"))
    );
    assert_eq!((d.etat.as_deref(), d.nb_competences), (Some("I"), Some(3)));
    assert_eq!(
        (d.semester_code(), d.year_code()),
        (Some("ADM"), Some("ADSUP"))
    );
    let annee = d.annee.as_ref().unwrap();
    assert_eq!((annee.ordre, annee.annee_scolaire), (Some(1), Some(2023)));
    assert_eq!(d.semestre.as_ref().unwrap().ordre, Some(2));
    let rcues: Vec<(Option<&str>, Option<f64>)> =
        d.rcues.iter().map(|r| (r.code.as_deref(), r.moy)).collect();
    assert_eq!(
        rcues,
        vec![
            (Some("ADM"), Some(12.5)),
            (Some("ADJ"), Some(9.75)),
            (Some("AJ"), None)
        ]
    );
    assert_eq!(
        (d.ues[0].key(), d.ues[0].code.as_deref()),
        (Some(77), Some("ADM"))
    );
    let classic = client.decisions(95).await.unwrap();
    let d = &classic[0];
    assert_eq!(d.kind(), FormationKind::Classic);
    assert_eq!((d.semester_code(), d.year_code()), (Some("AJ"), None));
    assert_eq!(d.left_code(), Some("DEF"));
    assert!(d.rcues.is_empty());
}

/// Starts the sim on `data` and expects it to refuse: returns its stderr.
fn sim_refusal(data: &Value) -> String {
    let path = std::env::temp_dir().join(format!(
        "scodoc-sim-refused-{}-{}.json",
        std::process::id(),
        FILES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, serde_json::to_vec(data).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scodoc-sim"))
        .args(["--bind", "127.0.0.1:0", "--data"])
        .arg(&path)
        .output()
        .expect("scodoc-sim runs");
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2), "refused: {out:?}");
    assert!(out.stdout.is_empty(), "never listened");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_sim_refuses_what_scodoc_would_not_answer() {
    fn entry(e: &mut Value) -> &mut Value {
        &mut e["departments"]["EX"]["formsemestres"][0]["decisions_jury"][0]
    }
    fn semesters(d: &mut Value) -> &mut Value {
        &mut d["departments"]["EX"]["formsemestres"]
    }
    type Mutation = (&'static str, fn(&mut Value), &'static str);
    let cases: [Mutation; 10] = [
        ("etat", |e| e["etat"] = json!("DEM"), "not one of I, D, DEF"),
        (
            "semestre",
            |e| e["semestre"] = Value::Null,
            "semestre: not an object",
        ),
        (
            "annee",
            |e| e["annee"]["annee_scolaire"] = json!("2023-2024"),
            "annee.annee_scolaire",
        ),
        (
            "is_apc",
            |e| e["is_apc"] = json!("yes"),
            "is_apc: not a boolean",
        ),
        (
            "rcue",
            |e| e["rcues"][0]["moy"] = json!("12,5"),
            "moy: not a number",
        ),
        (
            "rcue key",
            |e| e["rcues"][0]["ue_1"] = json!({}),
            "\"ue_1\" is not a published field",
        ),
        (
            "key",
            |e| e["decision"] = json!("ADM"),
            "\"decision\" is not a published field",
        ),
        ("etudid", |e| e["etudid"] = json!(99), "99 is not enrolled"),
        ("ues", |e| e["ues"] = json!({}), "ues: not a list"),
        (
            "nip",
            |e| e["code_nip"] = json!(21800555),
            "code_nip: not a string",
        ),
    ];
    for (name, mutate, expected) in cases {
        let mut data = published_examples();
        mutate(entry(&mut data));
        let stderr = sim_refusal(&data);
        assert!(
            stderr.contains(expected) && stderr.contains("decisions_jury[0]"),
            "{name}: {stderr}"
        );
    }
    // Whole-formsemestre rules.
    let mut data = published_examples();
    semesters(&mut data)[1]["decisions_jury"][0]["rcues"] = json!([{"code": "ADM", "moy": 11}]);
    assert!(sim_refusal(&data).contains("classic formation (is_apc false) has no RCUE"));
    let mut data = published_examples();
    semesters(&mut data)[1]["decisions_jury"][0]["annee"] = json!({"code": "ADM"});
    assert!(sim_refusal(&data).contains("classic formation has no BUT year"));
    let mut data = published_examples();
    let mut other = semesters(&mut data)[0]["decisions_jury"][0].clone();
    other["is_apc"] = json!(false);
    other["rcues"] = json!([]);
    other["annee"] = json!({});
    semesters(&mut data)[0]["decisions_jury"]
        .as_array_mut()
        .unwrap()
        .push(other);
    assert!(sim_refusal(&data).contains("differs from the formsemestre's other entries"));
    let mut data = published_examples();
    semesters(&mut data)[0]["formsemestre"]["annee_scolaire"] = json!("2023-2024");
    assert!(sim_refusal(&data).contains("annee_scolaire: not an integer"));
}

#[tokio::test]
async fn the_sim_refuses_a_missing_or_unknown_token() {
    let sim = start_sim(&published_examples(), None);
    let http = reqwest::Client::new();
    let route = format!("{}/ScoDoc/EX/api/formsemestre/95/decisions_jury", sim.url);
    for request in [
        http.get(&route),
        http.get(&route).bearer_auth("not-a-token"),
        http.get(&route).basic_auth("api", Some("s3cret")),
    ] {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 401);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["message"], "Non autorise (logic)");
    }
    let refused = http
        .post(format!("{}/ScoDoc/api/tokens", sim.url))
        .basic_auth("api", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let bearer = token(&http, &sim).await;
    let ok = http.get(&route).bearer_auth(bearer).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn a_formsemestre_both_but_and_classic_is_unreadable() {
    let mut data = published_examples();
    let semester = &mut data["departments"]["EX"]["formsemestres"][0];
    let but = semester["decisions_jury"][0].clone();
    let mut classic = but.clone();
    classic["is_apc"] = json!(false);
    classic["rcues"] = json!([]);
    // Fault injection: an answer ScoDoc would not give, served unchecked.
    semester["sim_raw"] = json!({"decisions_jury": [but, classic]});
    let sim = start_sim(&data, None);
    let client = ScoDocClient::new(config(&sim, "EX", "s3cret")).unwrap();
    let e = pull_grade_source(&client, 2023, "V1INF").await.unwrap_err();
    assert_eq!(e.code(), "scodoc_bad_response");
    assert!(e.to_string().contains("is_apc"), "{e}");
}

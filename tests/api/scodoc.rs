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
                        {"etudid": 1, "code_nip": "21900001", "etat": "I", "semestre": {"code": "ADM"}, "ues": [{"ue_id": 101, "code": "ADM"}]},
                        {"etudid": 2, "code_nip": "21900002", "etat": "I", "semestre": {"code": "ADJ"}, "ues": []},
                        {"etudid": 3, "code_nip": "21900003", "etat": "I", "semestre": {"code": "ADM"}, "ues": [{"ue_id": 101, "code": "ADM"}]},
                        {"etudid": 4, "code_nip": "21900004", "etat": "DEF", "semestre": {"code": "DEF"}, "ues": []},
                        {"etudid": 6, "code_nip": "21900006", "etat": "I", "semestre": {"code": "ATT"}, "ues": []}
                    ]
                },
                {
                    "formsemestre": {"id": 12, "annee_scolaire": 2024, "semestre_id": 1, "etape_apo": "V1BAD"},
                    "etudiants": [], "programme": {"ues": []}, "resultats": [],
                    "decisions_jury": "not a list"
                }
            ]}
        }
    })
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

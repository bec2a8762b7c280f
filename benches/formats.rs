//! Timings of the pure formats on realistic sizes (not a test: prints numbers).
//! Run: `cargo bench --bench formats`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use passerelle::apogee::diff::diff_maquettes;
use passerelle::apogee::enrolments::{find_conflicts, parse_enrolments_csv};
use passerelle::apogee::fill::{FillOptions, fill};
use passerelle::apogee::grades::parse_grade_csv;
use passerelle::apogee::maquette::Maquette;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn enrolment_csv(rows: usize) -> Vec<u8> {
    let mut t = String::from(
        "COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;LIB_PR1_IND;DATE_NAI_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE;ADR_MAIL_PERSO\r\n",
    );
    for i in 0..rows {
        // Valid INE-BEA: key = number mod 23 in the 23-letter alphabet.
        let number = 1_000_000_000u64 + i as u64;
        let key = b"ABCDEFGHJKLMNPRSTUVWXYZ"[(number % 23) as usize] as char;
        t.push_str(&format!(
            "2{i:07};{number}{key};Lefèvre-Nom{i};Zoé;{:02}/{:02}/{};9{:02};V{}INF;2025;E;zoe.{i}@example.fr\r\n",
            i % 28 + 1,
            i % 12 + 1,
            1995 + i % 10,
            i % 20,
            i % 3 + 1
        ));
    }
    encoding_rs::WINDOWS_1252.encode(&t).0.into_owned()
}

fn maquette(students: usize, elements: usize) -> (Vec<u8>, String) {
    let mut t = String::from(
        "XX-APO_TITRES-XX\r\napoC_annee\t2024/2025\r\napoC_Fichier_Exp\tX.TXT\r\n\r\nXX-APO_TYP_RES-XX\r\n10\tADM\tAJ\r\n\r\nXX-APO_COLONNES-XX\r\napoL_a01_code\tType Objet\tCode\r\nAPO_COL_VAL_DEB\r\n",
    );
    let mut n = 0;
    let mut ids = Vec::new();
    for e in 0..elements {
        let (kind, code) = if e + 1 == elements {
            ("VET", "V1RT".to_string())
        } else {
            ("ELP", format!("EL{e:04}"))
        };
        for rt in ["N", "B", "R"] {
            n += 1;
            t.push_str(&format!(
                "apoL_c{n:04}\t{kind}\t{code}\t1\t2024\t0\t1\t{rt}\tlib\r\n"
            ));
            ids.push(format!("apoL_c{n:04}"));
        }
    }
    t.push_str("APO_COL_VAL_FIN\r\n\r\nXX-APO_VALEURS-XX\r\napoL_a01_code\tapoL_a02_nom\tapoL_a03_prenom\tapoL_a04_naissance\t");
    t.push_str(&ids.join("\t"));
    t.push_str("\r\n");
    let mut grades = String::from("nip;element;note;result\n");
    for s in 0..students {
        t.push_str(&format!(
            "2{s:07}\tNOM\tPrénom\t01/01/2005{}\r\n",
            "\t".repeat(ids.len())
        ));
        for e in 0..elements {
            let code = if e + 1 == elements {
                "V1RT".to_string()
            } else {
                format!("EL{e:04}")
            };
            grades.push_str(&format!(
                "2{s:07};{code};{},{:02};ADM\n",
                8 + (s + e) % 12,
                (s * 7 + e) % 100
            ));
        }
    }
    (encoding_rs::WINDOWS_1252.encode(&t).0.into_owned(), grades)
}

fn main() {
    let csv = enrolment_csv(50_000);
    let parse = best_of(5, || parse_enrolments_csv(&csv).unwrap());
    let file = parse_enrolments_csv(&csv).unwrap();
    assert_eq!(file.accepted().count(), 50_000);
    let conflicts = best_of(5, || find_conflicts(&file.rows));
    println!(
        "enrolments: 50,000 rows ({:.1} MB, Latin-1): parse {:?}, find_conflicts {:?}",
        csv.len() as f64 / 1e6,
        parse,
        conflicts
    );

    let (bytes, grades) = maquette(2_000, 40);
    let source = parse_grade_csv(grades.as_bytes()).unwrap();
    let parse_m = best_of(5, || Maquette::parse(&bytes).unwrap());
    let parse_g = best_of(5, || parse_grade_csv(grades.as_bytes()).unwrap());
    let base = Maquette::parse(&bytes).unwrap();
    let fill_t = best_of(5, || {
        let mut m = base.clone();
        fill(&mut m, &source, &FillOptions::default()).unwrap();
        m
    });
    let mut filled = base.clone();
    fill(&mut filled, &source, &FillOptions::default()).unwrap();
    let write = best_of(5, || filled.to_bytes());
    let diff = best_of(5, || diff_maquettes(&base, &filled));
    println!(
        "maquette: 2,000 students x 120 columns ({:.1} MB): parse {:?}; grades CSV 80,000 rows: parse {:?}; fill {:?} ({} cells); write {:?}; diff {:?}",
        bytes.len() as f64 / 1e6,
        parse_m,
        parse_g,
        fill_t,
        filled.changed_cells(),
        write,
        diff
    );
}

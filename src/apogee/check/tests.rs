use super::*;
use crate::apogee::fixtures::{SOURCE_CSV, maquette_latin1, maquette_text};
use crate::apogee::grades::{GradeEntry, parse_grade_csv};

fn fixture() -> (Maquette, GradeSource) {
    (
        Maquette::parse(&maquette_latin1()).unwrap(),
        parse_grade_csv(SOURCE_CSV.as_bytes()).unwrap(),
    )
}

#[test]
fn reports_the_fixture_differences() {
    let (m, source) = fixture();
    let report = check(&m, &source, &FillOptions::default());
    assert_eq!(report.maquette.file_name.as_deref(), Some("VDRT_V1RT.TXT"));
    assert_eq!(report.maquette.students, 5);
    assert_eq!(report.maquette.elements, 8);
    assert_eq!(report.source.students, 5);
    assert_eq!(
        report.not_in_source,
        vec![StudentRef {
            nip: "21900005".into(),
            last_name: "MOREAU".into(),
            first_name: "Ève".into(),
            line: 51
        }]
    );
    assert_eq!(report.not_in_maquette, vec!["21900099".to_string()]);
    assert_eq!(
        report.unknown_elements,
        vec![UnknownElement {
            element: "VRTXXX".into(),
            students: 1
        }]
    );
    assert!(
        report.missing_decisions.is_empty(),
        "{:?}",
        report.missing_decisions
    );
    assert!(report.duplicate_rows_in_maquette.is_empty());
    assert!(report.year_mismatch.is_none() && report.etape_mismatch.is_none());
    assert!(report.notes_out_of_range.is_empty());
    assert!(report.unmapped_result_codes.is_empty());
    assert_eq!(report.problem_count(), 2);
    assert!(!report.is_clean());
    let text = report.to_text();
    for needle in [
        "étape V1RT",
        "2024/2025",
        "21900099 présent dans la source mais absent de la maquette",
        "Élément VRTXXX absent de la maquette",
        "21900005 MOREAU Ève (ligne 51)",
        "2 anomalie(s)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["not_in_maquette"][0], "21900099");
    assert_eq!(json["source"]["kind"], "csv");
}

#[test]
fn reports_decisions_duplicates_ranges_years_and_codes() {
    let (_, mut source) = fixture();
    source.year = Some(2023);
    source.etape = Some("V2RT".into());
    let alice = source.students.get_mut("21900001").unwrap();
    alice.get_mut("V1RT").unwrap().result = None; // no étape decision
    alice.get_mut("VRTU12").unwrap().result = None; // graded UE without decision
    alice.get_mut("VRTM111").unwrap().note = Some(-1.0);
    let leo = source.students.get_mut("21900002").unwrap();
    leo.insert(
        "VRTS1".into(),
        GradeEntry {
            note: Some(11.0),
            result: Some("XYZ".into()),
            jury_points: None,
        },
    );
    source.duplicates.push(crate::apogee::grades::DuplicateKey {
        nip: "21900003".into(),
        element: Some("VRTU11".into()),
    });
    // A maquette with Noé twice.
    let noe = format!("21900004\tPETIT\tNoé\t30/11/2004{}\r\n", "\t".repeat(23));
    let text = maquette_text().replace(&noe, &format!("{noe}{noe}"));
    let m = Maquette::parse(text.as_bytes()).unwrap();

    let report = check(&m, &source, &FillOptions::default());
    assert_eq!(
        report.missing_decisions,
        vec![MissingDecision {
            nip: "21900001".into(),
            elements: vec!["VRTU12".into(), "V1RT".into()]
        }]
    );
    assert_eq!(
        report.duplicate_rows_in_maquette,
        vec![DuplicateRow {
            nip: "21900004".into(),
            lines: vec![50, 51]
        }]
    );
    assert_eq!(report.duplicates_in_source.len(), 1);
    assert_eq!(
        report.year_mismatch,
        Some(Mismatch {
            maquette: 2024,
            source: 2023
        })
    );
    assert_eq!(
        report.etape_mismatch,
        Some(Mismatch {
            maquette: "V1RT".into(),
            source: "V2RT".into()
        })
    );
    assert_eq!(report.notes_out_of_range.len(), 1);
    assert_eq!(report.notes_out_of_range[0].element, "VRTM111");
    assert_eq!(
        report.unmapped_result_codes,
        vec![UnmappedCode {
            nip: "21900002".into(),
            element: "VRTS1".into(),
            code: "XYZ".into()
        }]
    );
    let text = report.to_text();
    for needle in [
        "Année différente : maquette 2024/2025, source 2023/2024",
        "Étape différente : maquette V1RT, source V2RT",
        "21900004 présent plusieurs fois dans la maquette (lignes 50, 51)",
        "décision de jury manquante pour VRTU12, V1RT",
        "note -1,00 hors barème (0 à 20)",
        "code de résultat XYZ sans équivalent Apogée",
        "élément VRTU11 donné plusieurs fois",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn a_matching_source_is_clean() {
    let m = Maquette::parse(&maquette_latin1()).unwrap();
    let source = parse_grade_csv(b"nip;element;note;result\n21900001;V1RT;12;ADM\n").unwrap();
    let report = check(&m, &source, &FillOptions::default());
    assert!(report.is_clean(), "{}", report.to_text());
    assert!(report.to_text().contains("Aucune anomalie bloquante."));
    assert_eq!(report.not_in_source.len(), 4);
}

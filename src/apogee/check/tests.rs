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
fn the_report_reads_in_english_too() {
    let m = Maquette::parse(&maquette_latin1()).unwrap();
    let source = parse_grade_csv(b"nip;element;note;result\n21900099;V1RT;12;ADM\n").unwrap();
    let report = check(&m, &source, &FillOptions::default());
    let fr = report.to_text_in(crate::i18n::Lang::Fr);
    let en = report.to_text_in(crate::i18n::Lang::En);
    assert_eq!(fr, report.to_text(), "French is the default");
    assert!(
        fr.contains("21900099 présent dans la source mais absent de la maquette"),
        "{fr}"
    );
    assert!(
        en.contains("Student 21900099 present in the source but absent from the Apogée maquette"),
        "{en}"
    );
    assert!(en.contains("anomaly(ies) to examine:"), "{en}");
    assert!(!en.contains("Étudiant"), "no French line in: {en}");
    assert_eq!(
        fr.lines().count(),
        en.lines().count(),
        "one line for one line"
    );
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

#[test]
fn a_source_with_no_grades_for_the_maquette_is_a_warning_not_a_clean_report() {
    let m = Maquette::parse(&maquette_latin1()).unwrap();
    let cases: Vec<(&str, GradeSource)> = vec![
        (
            "header only",
            parse_grade_csv(b"nip;element;note;result\n").unwrap(),
        ),
        // The unfilled maquette itself: Ève's old values only, and ScoDoc mode keeps none.
        ("the unfilled maquette", GradeSource::default()),
        (
            "other students and elements",
            parse_grade_csv(b"nip;element;note\n21900001;VRTXXX;12\n").unwrap(),
        ),
    ];
    for (name, source) in cases {
        let report = check(&m, &source, &FillOptions::default());
        assert!(report.no_grades_for_maquette, "{name}");
        assert!(!report.is_clean(), "{name}");
        let text = report.to_text();
        assert!(
            text.contains("la source ne contient aucune note pour cette maquette"),
            "{name}: {text}"
        );
        assert!(
            !text.contains("Aucune anomalie bloquante"),
            "{name}: {text}"
        );
    }
    let (m, source) = fixture();
    assert!(!check(&m, &source, &FillOptions::default()).no_grades_for_maquette);
}

#[test]
fn notes_replaced_by_lower_ones_are_listed_with_both_values() {
    use crate::apogee::diff::diff_maquettes;
    use crate::apogee::fill::fill;
    // Léo (repeating) had 15,00 on VRTM112 and 14,00 on VRTU11; 9,50 and 14,50 now.
    let before = Maquette::parse(&maquette_latin1()).unwrap();
    let source = parse_grade_csv(
        b"nip;element;note;result\n21900002;VRTM112;9,5;\n21900002;VRTU11;14,5;ADM\n21900001;VRTM112;3;\n",
    )
    .unwrap();
    let mut after = before.clone();
    fill(&mut after, &source, &FillOptions::default()).unwrap();
    let lowered = lowered_notes(&diff_maquettes(&before, &after));
    assert_eq!(
        lowered,
        vec![LoweredNote {
            nip: "21900002".into(),
            element: "VRTM112".into(),
            column_id: "apoL_c0003".into(),
            before: "15,00".into(),
            after: "9,50".into(),
        }]
    );
    let mut report = check(&before, &source, &FillOptions::default());
    let clean_count = report.problem_count();
    report.lowered_notes = lowered;
    assert_eq!(report.problem_count(), clean_count + 1);
    let text = report.to_text();
    assert!(
        text.contains("Étudiant 21900002 : note de VRTM112 en baisse, 15,00 remplacée par 9,50"),
        "{text}"
    );
}

#[test]
fn a_demissionnaire_note_is_not_out_of_range_and_an_accepted_cut_row_is_named() {
    let text = maquette_text();
    let start = text.trim_end().rfind("\r\n").unwrap() + 2;
    let cut: Vec<&str> = text[start..].split('\t').take(10).collect();
    let text = format!("{}{}", &text[..start], cut.join("\t"));
    let m = Maquette::parse_kept(text.as_bytes()).unwrap();
    let source = parse_grade_csv(b"nip;element;note;result\n21900004;V1RT;25;DEM\n").unwrap();
    let report = check(&m, &source, &FillOptions::default());
    assert!(report.notes_out_of_range.is_empty());
    let row = report.truncated_last_row.as_ref().unwrap();
    assert_eq!(
        (row.nip.as_str(), row.cells, row.expected),
        ("21900005", 10, 26)
    );
    assert!(
        report
            .to_text()
            .contains("Dernière ligne coupée (ligne 51, étudiant 21900005) : 10 cellules sur 26"),
        "{}",
        report.to_text()
    );
}

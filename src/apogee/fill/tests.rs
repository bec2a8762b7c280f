use super::*;
use crate::apogee::fixtures::{EXPECTED_ROWS, SOURCE_CSV, maquette_latin1};
use crate::apogee::grades::{GradeEntry, parse_grade_csv};

fn row(m: &Maquette, student: usize) -> Vec<String> {
    (4..m.value_ids().len())
        .map(|i| m.students()[student].cell(i).to_string())
        .collect()
}

#[test]
fn jury_codes_map_like_scodoc() {
    let m = Maquette::parse(&maquette_latin1()).unwrap();
    let o = FillOptions::default();
    for (jury, apogee) in [
        ("ADM", "ADM"),
        ("ADJ", "ADM"),
        ("ADC", "ADMC"),
        ("AJ", "AJ"),
        ("CMP", "COMP"),
        ("ATT", "AJAC"),
        ("ATB", "AJAC"),
        ("ATJ", "AJAC"),
        ("DEM", "NAR"),
        ("DEF", "NAR"),
        ("NAR", "NAR"),
        ("RAT", "ATT"),
        ("adm", "ADM"),
    ] {
        assert_eq!(
            apogee_result_code(jury, &o, &m).as_deref(),
            Some(apogee),
            "{jury}"
        );
    }
    // Listed in XX-APO_TYP_RES-XX: already an Apogée code.
    assert_eq!(apogee_result_code("ABJ", &o, &m).as_deref(), Some("ABJ"));
    // Unknown anywhere: nothing.
    assert_eq!(apogee_result_code("PASD", &o, &m), None);
    // The options override and extend the table.
    let o = FillOptions {
        result_codes: [
            ("PASD".to_string(), "AJAC".to_string()),
            ("ADM".to_string(), "VAL".to_string()),
        ]
        .into(),
        ..FillOptions::default()
    };
    assert_eq!(apogee_result_code("PASD", &o, &m).as_deref(), Some("AJAC"));
    assert_eq!(apogee_result_code("ADM", &o, &m).as_deref(), Some("VAL"));
    // Keys from environment variables arrive lower-cased: matched ignoring case.
    let o = FillOptions {
        result_codes: [("pasd".to_string(), "AJAC".to_string())].into(),
        ..FillOptions::default()
    };
    assert_eq!(apogee_result_code("PASD", &o, &m).as_deref(), Some("AJAC"));
}

#[test]
fn notes_have_two_decimals_and_a_comma() {
    assert_eq!(format_note(12.5), "12,50");
    assert_eq!(format_note(10.375), "10,38");
    assert_eq!(format_note(0.125), "0,12", "ties round like Python's %3.2f");
    assert_eq!(format_note(7.0), "7,00");
    assert_eq!(format_scale(20.0), "20");
    assert_eq!(format_scale(12.5), "12,50");
}

#[test]
fn fills_the_fixture_like_the_hand_computed_rows() {
    let original = maquette_latin1();
    let mut m = Maquette::parse(&original).unwrap();
    let source = parse_grade_csv(SOURCE_CSV.as_bytes()).unwrap();
    let summary = fill(&mut m, &source, &FillOptions::default()).unwrap();
    for (student, (nip, expected)) in EXPECTED_ROWS.iter().enumerate() {
        assert_eq!(m.students()[student].nip(), *nip);
        assert_eq!(row(&m, student), expected.to_vec(), "row of {nip}");
    }
    assert_eq!(summary.students_in_source, 4);
    assert_eq!(summary.students_changed, 4);
    assert_eq!(summary.students_untouched, 1);
    assert!(summary.unmapped_results.is_empty());
    let expected_changes: usize = EXPECTED_ROWS
        .iter()
        .enumerate()
        .map(|(s, (_, cells))| {
            let before = Maquette::parse(&original).unwrap();
            let before = row(&before, s);
            cells.iter().zip(&before).filter(|(a, b)| a != b).count()
        })
        .sum();
    assert_eq!(summary.cells_changed, expected_changes);

    // The written file reads back the same, and every line but the filled rows is unchanged.
    let written = m.to_bytes();
    let again = Maquette::parse(&written).unwrap();
    for (student, (_, expected)) in EXPECTED_ROWS.iter().enumerate() {
        assert_eq!(row(&again, student), expected.to_vec());
    }
    let before_lines: Vec<&[u8]> = original.split(|&b| b == b'\n').collect();
    let after_lines: Vec<&[u8]> = written.split(|&b| b == b'\n').collect();
    assert_eq!(before_lines.len(), after_lines.len());
    let changed: Vec<usize> = (0..before_lines.len())
        .filter(|&i| before_lines[i] != after_lines[i])
        .map(|i| i + 1)
        .collect();
    let rows_changed: Vec<usize> = m.students()[..4].iter().map(|s| s.line).collect();
    assert_eq!(
        changed, rows_changed,
        "only the four filled student lines differ"
    );
}

#[test]
fn filling_twice_changes_nothing_more() {
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    let source = parse_grade_csv(SOURCE_CSV.as_bytes()).unwrap();
    fill(&mut m, &source, &FillOptions::default()).unwrap();
    let once = m.to_bytes();
    let mut again = Maquette::parse(&once).unwrap();
    let summary = fill(&mut again, &source, &FillOptions::default()).unwrap();
    assert_eq!(summary.cells_changed, 0);
    assert!(again.to_bytes() == once);
}

#[test]
fn jury_points_options_and_unusable_values() {
    let mut source = parse_grade_csv(SOURCE_CSV.as_bytes()).unwrap();
    // Chloé: jury points from the source on VRTU12, a note above the barème on VRTM111,
    // an unknown code on VRTU11.
    let chloe = source.students.get_mut("21900003").unwrap();
    chloe.get_mut("VRTU12").unwrap().jury_points = Some(0.5);
    chloe.insert(
        "VRTM111".into(),
        GradeEntry {
            note: Some(21.0),
            result: None,
            jury_points: None,
        },
    );
    chloe.get_mut("VRTU11").unwrap().result = Some("PASD".into());

    let keep = FillOptions {
        jury_points: JuryPoints::Keep,
        ..FillOptions::default()
    };
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    let summary = fill(&mut m, &source, &keep).unwrap();
    let chloe_row = row(&m, 2);
    assert_eq!(chloe_row[13], "0,25", "kept");
    assert_eq!(
        (chloe_row[0].as_str(), chloe_row[1].as_str()),
        ("", ""),
        "out-of-range note not written"
    );
    assert_eq!(chloe_row[6], "", "unmapped code not written");
    assert_eq!(
        summary.unmapped_results,
        vec![UnmappedResult {
            nip: "21900003".into(),
            element: "VRTU11".into(),
            code: "PASD".into()
        }]
    );
    assert_eq!(summary.skipped_notes.len(), 1);
    assert_eq!(summary.skipped_notes[0].note, 21.0);

    let from_source = FillOptions {
        jury_points: JuryPoints::FromSource,
        ..FillOptions::default()
    };
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    fill(&mut m, &source, &from_source).unwrap();
    assert_eq!(row(&m, 2)[13], "0,50");
    assert_eq!(row(&m, 2)[7], "", "no jury points in the source: emptied");
}

#[test]
fn zero_notes_can_be_written_empty_like_scodoc() {
    let source = parse_grade_csv(b"nip;element;note;result\n21900001;VRTM111;0;\n").unwrap();
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    fill(&mut m, &source, &FillOptions::default()).unwrap();
    assert_eq!(
        (row(&m, 0)[0].as_str(), row(&m, 0)[1].as_str()),
        ("0,00", "20")
    );
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    let options = FillOptions {
        zero_note_as_empty: true,
        ..FillOptions::default()
    };
    fill(&mut m, &source, &options).unwrap();
    assert_eq!((row(&m, 0)[0].as_str(), row(&m, 0)[1].as_str()), ("", "20"));
}

#[test]
fn duplicated_pairs_are_left_alone() {
    let source = parse_grade_csv(
        b"nip;element;note;result\n21900001;VRTM111;12;\n21900001;VRTM111;8;\n21900001;VRTM112;9;\n",
    )
    .unwrap();
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    fill(&mut m, &source, &FillOptions::default()).unwrap();
    assert_eq!(&row(&m, 0)[..4], &["", "", "9,00", "20"]);
}

#[test]
fn demissionnaires_and_defaillants_get_0_01_barème_and_nar_like_scodoc() {
    // Whatever note the source gives (8, none, even one above the barème).
    let source = parse_grade_csv(
        b"nip;element;note;result\n\
          21900004;VRTS1;8;DEM\n\
          21900004;V1RT;;def\n\
          21900001;VRTS1;25;DEF\n",
    )
    .unwrap();
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    let summary = fill(&mut m, &source, &FillOptions::default()).unwrap();
    // VRTS1 N B R (cells 16..19) and V1RT N B R (19..22).
    for student in [3, 0] {
        assert_eq!(
            &row(&m, student)[16..19],
            &["0,01", "20", "NAR"],
            "student {student}"
        );
    }
    assert_eq!(&row(&m, 3)[19..22], &["0,01", "20", "NAR"]);
    assert_eq!(
        summary.withdrawn,
        vec![
            WithdrawnElement {
                nip: "21900001".into(),
                element: "VRTS1".into(),
                code: "DEF".into(),
                source_note: Some(25.0),
            },
            WithdrawnElement {
                nip: "21900004".into(),
                element: "VRTS1".into(),
                code: "DEM".into(),
                source_note: Some(8.0),
            },
            WithdrawnElement {
                nip: "21900004".into(),
                element: "V1RT".into(),
                code: "DEF".into(),
                source_note: None,
            },
        ]
    );
    assert!(summary.skipped_notes.is_empty(), "0,01 replaces the 25");
}

#[test]
fn a_refused_note_leaves_every_cell_of_its_element() {
    // Léo's VRTU11 was validated last year: 14,00 / 20 / ADM / jury points 0,50. A note of 25
    // with AJ must not write AJ (nor empty the jury points); Alice's -1 with ADM writes nothing.
    let source = parse_grade_csv(
        b"nip;element;note;result\n\
          21900002;VRTU11;25;AJ\n\
          21900001;VRTU11;-1;ADM\n\
          21900001;VRTS1;12;ADM\n",
    )
    .unwrap();
    let mut m = Maquette::parse(&maquette_latin1()).unwrap();
    let summary = fill(&mut m, &source, &FillOptions::default()).unwrap();
    assert_eq!(&row(&m, 1)[4..8], &["14,00", "20", "ADM", "0,50"]);
    assert_eq!(&row(&m, 0)[4..8], &["", "", "", ""]);
    assert_eq!(
        &row(&m, 0)[16..19],
        &["12,00", "20", "ADM"],
        "the rest is filled"
    );
    assert_eq!(
        summary
            .skipped_notes
            .iter()
            .map(|s| (s.nip.as_str(), s.element.as_str(), s.note))
            .collect::<Vec<_>>(),
        vec![("21900001", "VRTU11", -1.0), ("21900002", "VRTU11", 25.0)]
    );
    assert_eq!(summary.cells_changed, 3);
}

#[test]
fn an_accepted_cut_row_is_not_filled() {
    let text = crate::apogee::fixtures::maquette_text();
    let start = text.trim_end().rfind("\r\n").unwrap() + 2;
    let cut: Vec<&str> = text[start..].split('\t').take(10).collect();
    let text = format!("{}{}", &text[..start], cut.join("\t"));
    let mut m = Maquette::parse_with(
        text.as_bytes(),
        crate::apogee::maquette::ParseOptions {
            accept_truncated_last_row: true,
        },
    )
    .unwrap();
    let source =
        parse_grade_csv(b"nip;element;note;result\n21900005;V1RT;12;ADM\n21900001;V1RT;12;ADM\n")
            .unwrap();
    let summary = fill(&mut m, &source, &FillOptions::default()).unwrap();
    assert_eq!((summary.students_changed, summary.cells_changed), (1, 3));
    assert!(m.to_bytes().ends_with(cut.join("\t").as_bytes()));
}

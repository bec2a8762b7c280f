use super::*;
use crate::apogee::fixtures::{maquette_latin1, maquette_text};
use std::io::Write;

/// A zip like ScoDoc's export: the filled maquette, a log and a spreadsheet.
pub(crate) fn scodoc_zip(maquette: &[u8]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("scodoc-VDRT_V1RT.log.txt", options).unwrap();
        zip.write_all(b"export_to_apogee du ...\n").unwrap();
        zip.start_file("VDRT_V1RT.TXT", options).unwrap();
        zip.write_all(maquette).unwrap();
        zip.start_file("VDRT_V1RT-decisions.xlsx", options).unwrap();
        zip.write_all(b"PK\x03\x04 not really a spreadsheet")
            .unwrap();
        zip.finish().unwrap();
    }
    buffer.into_inner()
}

#[test]
fn notes_accept_comma_or_point() {
    assert_eq!(parse_note("12,5"), Some(12.5));
    assert_eq!(parse_note(" 12.50 "), Some(12.5));
    assert_eq!(parse_note("7"), Some(7.0));
    assert_eq!(parse_note(""), None);
    assert_eq!(parse_note("ABI"), None);
    assert_eq!(parse_note("1,2,3"), None);
    assert_eq!(parse_note("NaN"), None);
}

#[test]
fn reads_a_semicolon_csv_with_decimal_commas() {
    let csv = "nip;element;note;result\r\n21900001;VRTU11;12,5;ADM\r\n21900001;VRTM111;9,75;\r\n21900002;V1RT;;aj\r\n\r\n";
    let source = parse_grade_csv(csv.as_bytes()).unwrap();
    assert_eq!(source.kind, SourceKind::Csv);
    assert_eq!(
        source.entry("21900001", "VRTU11"),
        Some(&GradeEntry {
            note: Some(12.5),
            result: Some("ADM".into()),
            jury_points: None
        })
    );
    assert_eq!(
        source.entry("21900001", "VRTM111").unwrap().note,
        Some(9.75)
    );
    assert_eq!(
        source.entry("21900002", "V1RT").unwrap().result.as_deref(),
        Some("AJ")
    );
    assert!(source.duplicates.is_empty());
}

#[test]
fn reads_tab_and_comma_separated_files_with_aliases() {
    let tab = "COD_ETU\tcode_apogee\tmoyenne\tdecision\n21900001\tVRTU11\t12.5\tADM\n";
    assert_eq!(
        parse_grade_csv(tab.as_bytes())
            .unwrap()
            .entry("21900001", "VRTU11")
            .unwrap()
            .note,
        Some(12.5)
    );
    let comma = "nip,element,note,result\n21900001,VRTU11,\"12,5\",ADM\n21900001,VRTU12,11.25,\n";
    let source = parse_grade_csv(comma.as_bytes()).unwrap();
    assert_eq!(source.entry("21900001", "VRTU11").unwrap().note, Some(12.5));
    assert_eq!(
        source.entry("21900001", "VRTU12").unwrap().note,
        Some(11.25)
    );
}

#[test]
fn bad_rows_refuse_the_whole_file_listing_every_line() {
    let csv = "nip;element;note;result\n21900001;VRTU11;douze;ADM\n21900002;VRTU11;12;\n;VRTU11;12;\n21900003;VRTU11;;\n";
    let GradeSourceError::InvalidRows(problems) = parse_grade_csv(csv.as_bytes()).unwrap_err()
    else {
        panic!("expected invalid rows");
    };
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 4, 5]);
    assert!(problems[0].message.contains("note"));
    let missing = parse_grade_csv(b"nip;note\n1;2\n").unwrap_err();
    assert_eq!(
        missing,
        GradeSourceError::MissingColumns(vec!["element".into()])
    );
    assert_eq!(missing.code(), "invalid_grade_source");
}

#[test]
fn a_pair_given_twice_is_a_duplicate_and_the_first_value_is_kept() {
    let csv = "nip;element;note;result\n21900001;VRTU11;12;ADM\n21900001;VRTU11;8;AJ\n";
    let source = parse_grade_csv(csv.as_bytes()).unwrap();
    assert_eq!(
        source.duplicates,
        vec![DuplicateKey {
            nip: "21900001".into(),
            element: Some("VRTU11".into())
        }]
    );
    assert!(source.is_duplicate("21900001", "VRTU11"));
    assert!(!source.is_duplicate("21900001", "VRTU12"));
}

#[test]
fn reads_both_json_shapes() {
    let array = br#"[{"nip": "21900001", "element": "VRTU11", "note": 12.5, "result": "ADM"},
                     {"nip": 21900002, "element": "V1RT", "note": "9,5", "result": null}]"#;
    let source = parse_grade_json(array).unwrap();
    assert_eq!(source.kind, SourceKind::Json);
    assert_eq!(source.entry("21900002", "V1RT").unwrap().note, Some(9.5));
    let object = br#"{"year": 2024, "etape": "V1RT", "grades": [{"nip": "21900001", "element": "V1RT", "result": "ADM"}]}"#;
    let source = parse_grade_json(object).unwrap();
    assert_eq!(
        (source.year, source.etape.as_deref()),
        (Some(2024), Some("V1RT"))
    );
    let bad =
        br#"[{"nip": "1", "element": "X", "note": "x"}, {"nip": "1", "element": "X", "grade": 1}]"#;
    let GradeSourceError::InvalidRows(problems) = parse_grade_json(bad).unwrap_err() else {
        panic!()
    };
    assert_eq!(
        problems.iter().map(|p| p.line).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(problems[1].message.contains("grade"));
}

#[test]
fn a_filled_maquette_is_read_back_as_a_source() {
    let mut cells = vec![""; 22];
    cells[0] = "12,00"; // VRTM111 N
    cells[1] = "20";
    cells[8] = "11,50"; // VRTM121 N
    cells[12] = "ADM"; // VRTU12 R
    let filled = maquette_text().replace(
        &format!("21900001\tDUPONT\tAlice\t12/03/2005{}", "\t".repeat(23)),
        &format!(
            "21900001\tDUPONT\tAlice\t12/03/2005\t{}\t",
            cells.join("\t")
        ),
    );
    assert_ne!(filled, maquette_text());
    let m = Maquette::parse(filled.as_bytes()).unwrap();
    let source = GradeSource::from_maquette(&m);
    assert_eq!(source.kind, SourceKind::FilledMaquette);
    assert_eq!(
        (source.year, source.etape.as_deref()),
        (Some(2024), Some("V1RT"))
    );
    assert_eq!(
        source.entry("21900001", "VRTM111").unwrap().note,
        Some(12.0)
    );
    assert_eq!(
        source.entry("21900001", "VRTSPORT"),
        None,
        "empty cells give nothing"
    );
    let s1 = source.entry("21900001", "VRTM121");
    assert_eq!(s1.unwrap().note, Some(11.5));
    assert_eq!(
        source
            .entry("21900001", "VRTU12")
            .unwrap()
            .result
            .as_deref(),
        Some("ADM")
    );
    // The redoublant's kept values are values of the maquette too.
    assert_eq!(
        source.entry("21900002", "VRTU11").unwrap().jury_points,
        Some(0.5)
    );
    // Students with empty rows are not in the source.
    assert!(!source.students.contains_key("21900004"));
}

#[test]
fn recognises_zip_maquette_json_and_csv_sources() {
    let maquette = maquette_latin1();
    let SourceFile::Maquettes(found) = read_source(&scodoc_zip(&maquette)).unwrap() else {
        panic!("zip")
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "VDRT_V1RT.TXT");
    assert!(
        found[0].1 == maquette,
        "the maquette comes out of the zip byte for byte"
    );
    assert!(matches!(
        read_source(&maquette).unwrap(),
        SourceFile::Maquettes(_)
    ));
    assert!(matches!(read_source(b"[]").unwrap(), SourceFile::Grades(_)));
    assert!(matches!(
        read_source(b"nip;element;note\n").unwrap(),
        SourceFile::Grades(_)
    ));
    assert_eq!(read_source(b"  ").unwrap_err(), GradeSourceError::Empty);
    let empty_zip = {
        let mut buffer = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buffer);
        zip.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"hello").unwrap();
        zip.finish().unwrap();
        buffer.into_inner()
    };
    assert_eq!(
        read_source(&empty_zip).unwrap_err(),
        GradeSourceError::NoMaquetteInZip
    );
    assert!(matches!(
        read_source(b"PK\x03\x04garbage").unwrap_err(),
        GradeSourceError::Zip(_)
    ));
}

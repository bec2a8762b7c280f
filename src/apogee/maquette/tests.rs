use super::*;
use crate::apogee::fixtures::{COLUMNS, maquette_latin1, maquette_text};

fn err(bytes: &[u8]) -> MaquetteError {
    Maquette::parse(bytes).unwrap_err()
}

#[test]
fn refusals_name_section_and_line_in_both_languages() {
    let twice = maquette_text().replace("apoL_c0002\tELP", "apoL_c0001\tELP");
    let e = err(twice.as_bytes());
    let text = e.text();
    assert_eq!(
        text.fr,
        "XX-APO_COLONNES-XX, ligne 21 : la colonne apoL_c0001 est déclarée deux fois"
    );
    assert_eq!(
        text.en,
        "XX-APO_COLONNES-XX, line 21: column apoL_c0001 is declared twice"
    );
    // An absence has no line.
    let e = err(b"\r\n");
    assert_eq!(e.line, None);
    assert!(
        e.text()
            .fr
            .starts_with("XX-APO_TITRES-XX : la section manque"),
        "{}",
        e.text().fr
    );
}

#[test]
fn reads_titles_columns_and_students() {
    let m = Maquette::parse(&maquette_latin1()).unwrap();
    assert_eq!(m.encoding(), TextEncoding::Latin1);
    assert_eq!(m.academic_year(), 2024);
    assert_eq!(m.title("apoC_cod_dip"), Some("VDRT"));
    assert_eq!(
        m.title("apoC_Titre1"),
        Some("Export Apogée du 14/06/2025 à 10:12")
    );
    assert_eq!(m.title("apoC_Titre2"), Some(""));
    assert_eq!(m.file_name(), Some("VDRT_V1RT.TXT"));
    assert_eq!(m.etape(), "V1RT");
    assert_eq!(m.etape_version(), "111");
    assert_eq!(m.columns().len(), COLUMNS.len());
    let c7 = m.column("apoL_c0007").unwrap();
    assert_eq!(
        (
            c7.number,
            c7.object_type.as_str(),
            c7.code.as_str(),
            &c7.result_type
        ),
        (7, "ELP", "VRTU11", &ResultType::Result)
    );
    assert_eq!(
        m.column("apoL_c0005").unwrap().label,
        "VRTU11 - UE11 Réseaux"
    );
    assert_eq!(
        m.column("apoL_c0008").unwrap().result_type,
        ResultType::JuryPoints
    );
    assert_eq!(m.column("apoL_c0020").unwrap().object_type, "VET");
    assert_eq!(
        m.element_codes(),
        vec![
            "VRTM111", "VRTM112", "VRTU11", "VRTM121", "VRTU12", "VRTSPORT", "VRTS1", "V1RT"
        ]
    );
    assert!(m.accepts_result_code("AJAC"));
    assert!(!m.accepts_result_code("ADJ"));
    assert_eq!(m.students().len(), 5);
    let leo = &m.students()[1];
    assert_eq!(
        (
            leo.nip(),
            leo.last_name(),
            leo.first_name(),
            leo.birth_date()
        ),
        ("21900002", "MARTIN", "Léo", "01/07/2004")
    );
    assert_eq!(m.value(1, "apoL_c0007"), Some("ADM"));
    assert_eq!(m.value(1, "apoL_c0008"), Some("0,50"));
    assert_eq!(m.value(0, "apoL_c0007"), Some(""));
    assert_eq!(m.value_column(4).unwrap().id, "apoL_c0001");
    assert!(m.value_column(3).is_none());
}

#[test]
fn untouched_files_are_written_back_byte_for_byte() {
    let latin1 = maquette_latin1();
    assert_eq!(Maquette::parse(&latin1).unwrap().to_bytes(), latin1);

    // UTF-8 with BOM, LF endings, an unknown section, blank lines and no final newline.
    let mut text = maquette_text().replace("\r\n", "\n");
    text = text.replace(
        "XX-APO_TYP_RES-XX",
        "XX-APO_LOCAL-XX\nwhatever\tthis\tis\n\n\nXX-APO_TYP_RES-XX",
    );
    text.pop();
    let utf8 = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    let m = Maquette::parse(&utf8).unwrap();
    assert_eq!(m.encoding(), TextEncoding::Utf8 { bom: true });
    assert_eq!(m.students()[2].first_name(), "Chloé");
    assert_eq!(m.to_bytes(), utf8);
}

#[test]
fn a_changed_cell_changes_only_its_bytes() {
    let original = maquette_latin1();
    let mut m = Maquette::parse(&original).unwrap();
    let index = m
        .value_ids()
        .iter()
        .position(|id| id == "apoL_c0007")
        .unwrap();
    assert!(m.set_value(0, index, "ADM").unwrap());
    assert!(
        !m.set_value(1, index, "ADM").unwrap(),
        "same value is no change"
    );
    assert_eq!(m.changed_cells(), 1);
    let written = m.to_bytes();
    assert_eq!(written.len(), original.len() + 3);
    let position = written
        .iter()
        .zip(&original)
        .position(|(a, b)| a != b)
        .expect("a difference");
    // Everything before and after the inserted code is the original.
    assert_eq!(&written[position..position + 3], b"ADM");
    assert!(written[..position] == original[..position]);
    assert!(written[position + 3..] == original[position..]);
    // Reading the result back gives the new value.
    let again = Maquette::parse(&written).unwrap();
    assert_eq!(again.value(0, "apoL_c0007"), Some("ADM"));
    assert_eq!(again.students()[0].last_name(), "DUPONT");
    // Separators and unencodable characters are refused.
    assert!(m.set_value(0, index, "A\tB").is_err());
    assert!(m.set_value(0, index, "日").is_err());
}

fn malformed(e: &MaquetteError) -> (usize, usize, bool) {
    match e.kind {
        MaquetteErrorKind::Malformed {
            cells,
            expected,
            truncated,
        } => (cells, expected, truncated),
        other => panic!("not malformed: {other:?} {e}"),
    }
}

#[test]
fn a_row_shorter_than_the_column_declaration_is_refused() {
    // Alice's row with no value cells at all, in the middle of the file.
    let full_row = format!("12/03/2005{}\r\n", "\t".repeat(23));
    let text = maquette_text().replace(&full_row, "12/03/2005\r\n");
    assert_ne!(text, maquette_text());
    let line = Maquette::parse(maquette_text().as_bytes())
        .unwrap()
        .students()[0]
        .line;
    let e = err(text.as_bytes());
    assert_eq!(e.code(), "maquette_malformed");
    assert_eq!((e.section.as_str(), e.line), (VALEURS, Some(line)));
    assert_eq!(malformed(&e), (4, 26, false));
    assert!(e.to_string().contains("4 cells"), "{e}");
    // Accepting a cut last row does not accept a short row elsewhere.
    let e = Maquette::parse_with(
        text.as_bytes(),
        ParseOptions {
            accept_truncated_last_row: true,
        },
    )
    .unwrap_err();
    assert_eq!(malformed(&e), (4, 26, false));
}

#[test]
fn a_row_with_values_past_the_last_column_is_refused_trailing_separators_are_not() {
    // The fixture's rows end with one empty cell past the last column (a trailing TAB).
    let m = Maquette::parse(maquette_text().as_bytes()).unwrap();
    assert!(m.truncated_row().is_none());
    // A value in that extra cell: the row is shifted.
    let row = format!("30/11/2004{}\r\n", "\t".repeat(23));
    let shifted = format!("30/11/2004{}X\r\n", "\t".repeat(23));
    let text = maquette_text().replace(&row, &shifted);
    let e = err(text.as_bytes());
    assert_eq!(e.line, Some(m.students()[3].line));
    assert_eq!(malformed(&e), (27, 26, false));
    // More empty cells are only separators.
    let padded = format!("30/11/2004{}\r\n", "\t".repeat(30));
    Maquette::parse(maquette_text().replace(&row, &padded).as_bytes()).unwrap();
}

/// The fixture with its last row cut after the 10th cell and no final CRLF.
fn cut_last_row() -> String {
    let text = maquette_text();
    let start = text.trim_end().rfind("\r\n").unwrap() + 2;
    let row = &text[start..];
    let cut: Vec<&str> = row.split('\t').take(10).collect();
    format!("{}{}", &text[..start], cut.join("\t"))
}

#[test]
fn a_cut_last_row_is_refused_unless_accepted_and_then_left_as_read() {
    let text = cut_last_row();
    let e = err(text.as_bytes());
    assert_eq!(e.code(), "maquette_malformed");
    assert_eq!(malformed(&e), (10, 26, true));
    assert!(e.to_string().contains("cut short"), "{e}");

    let accept = ParseOptions {
        accept_truncated_last_row: true,
    };
    let mut m = Maquette::parse_with(text.as_bytes(), accept).unwrap();
    let last = m.students().len() - 1;
    assert_eq!(
        m.truncated_row(),
        Some(&TruncatedRow {
            line: m.students()[last].line,
            nip: "21900005".into(),
            cells: 10,
            expected: 26,
        })
    );
    assert!(m.is_truncated(last) && !m.is_truncated(0));
    // Never written: the row stays as read, byte for byte.
    assert!(m.set_value(last, 20, "ADM").is_err());
    m.set_value(0, 20, "ADM").unwrap();
    let written = m.to_bytes();
    assert!(written.ends_with(&text.as_bytes()[text.rfind("\r\n").unwrap()..]));
    // A stored file that was accepted reads again.
    assert!(
        Maquette::parse_kept(&written)
            .unwrap()
            .truncated_row()
            .is_some()
    );
    // The same short row with its line ending is not "cut": refused even when accepted.
    let ended = format!("{text}\r\n");
    let e = Maquette::parse_with(ended.as_bytes(), accept).unwrap_err();
    assert_eq!(malformed(&e), (10, 26, false));
}

#[test]
fn errors_name_the_section_and_line() {
    let text = maquette_text();
    let cases: Vec<(String, &str, Option<usize>, &str)> = vec![
        (
            text.replace("XX-APO_TYP_RES-XX", "XX-APO_TYPRES-XX"),
            TYP_RES,
            None,
            "missing",
        ),
        (
            text.replace("apoC_cod_dip\tVDRT", "apoC_cod_dip\tVDRT\tVDRT2"),
            TITRES,
            Some(3),
            "3 fields",
        ),
        (
            text.replace("apoL_c0003\t", "apoL_c0004\t"),
            COLONNES,
            Some(22),
            "consecutive",
        ),
        (
            text.replace("apoL_c0002\tELP", "apoL_c0001\tELP"),
            COLONNES,
            Some(21),
            "twice",
        ),
        (
            text.replace("\tapoL_c0022\r\n", "\tapoL_c0099\r\n"),
            VALEURS,
            Some(46),
            "apoL_c0099",
        ),
        (text.replace("\tVET\t", "\tELP\t"), COLONNES, None, "VET"),
        (
            text.replace("2024/2025", "2024/2026"),
            TITRES,
            Some(2),
            "academic year",
        ),
        (
            text.replace("apoC_annee\t2024/2025\r\n", ""),
            TITRES,
            None,
            "apoC_annee",
        ),
        (format!("hello\r\n{text}"), "file", Some(1), "start"),
        (
            text.replace("APO_COL_VAL_FIN\r\napoL_c0023\tAPO_COL_VAL_FIN\r\n", ""),
            COLONNES,
            Some(43),
            "APO_COL_VAL_FIN",
        ),
        (
            text.replace(
                "apoL_c0005\tELP\tVRTU11\t\t2024\t0\t1\tN",
                "apoL_c0005\tELP\tVRTU11",
            ),
            COLONNES,
            Some(24),
            "8",
        ),
    ];
    assert_errors(cases);
}

#[test]
fn errors_name_the_line_inside_a_section() {
    let text = maquette_text();
    assert_errors(vec![
        (
            text.replace("XX-APO_VALEURS-XX", "XX-APO_TITRES-XX"),
            TITRES,
            Some(45),
            "twice",
        ),
        (
            text.replace("apoL_a01_code\tType Objet", "apoL_a00\tType Objet"),
            COLONNES,
            Some(15),
            "apoL_a01_code header",
        ),
        (
            text.replace("apoL_c0002\tELP", "apoL_x0002\tELP"),
            COLONNES,
            Some(21),
            "4 digits",
        ),
        (
            text.replace("\tELP\tVRTM112\t", "\tELP\t\t"),
            COLONNES,
            Some(22),
            "no element code",
        ),
        (
            text.replace("apoL_a01_code\tapoL_a02_nom", "apoL_a02_nom\tapoL_a01_code"),
            VALEURS,
            Some(46),
            "apoL_a01_code",
        ),
        (
            text.replace("\tapoL_c0022\r\n", "\tapoL_c0021\r\n"),
            VALEURS,
            Some(46),
            "listed twice",
        ),
        (
            text[..text.find("apoL_a01_code\tapoL_a02_nom").unwrap()].to_string(),
            VALEURS,
            None,
            "column id line",
        ),
    ]);
}

/// Each file is refused with its section, line and a message naming the fault.
fn assert_errors(cases: Vec<(String, &str, Option<usize>, &str)>) {
    for (bytes, section, line, needle) in cases {
        let e = err(bytes.as_bytes());
        let expected_code = if section == "file" {
            "not_a_maquette"
        } else {
            "invalid_maquette"
        };
        assert_eq!(e.code(), expected_code, "{e}");
        assert_eq!((e.section.as_str(), e.line), (section, line), "{e}");
        assert!(
            e.to_string().contains(needle),
            "{e} should mention {needle}"
        );
    }
}

#[test]
fn detects_maquettes() {
    assert!(looks_like_maquette(&maquette_latin1()));
    assert!(looks_like_maquette(
        b"\xEF\xBB\xBF\r\nXX-APO_TITRES-XX\t\t\r\n"
    ));
    assert!(!looks_like_maquette(b"nip;element;note\n"));
}

#[test]
fn wrong_encodings_and_empty_files_have_their_codes() {
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(maquette_text().encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let e = err(&utf16);
    assert_eq!(
        (e.code(), e.section.as_str()),
        ("unsupported_encoding", "file")
    );
    assert!(e.to_string().contains("UTF-16"), "{e}");
    let mut nul = maquette_latin1();
    let at = nul.windows(6).position(|w| w == b"DUPONT").unwrap();
    nul[at] = 0;
    let e = err(&nul);
    assert_eq!(e.code(), "unsupported_encoding");
    assert_eq!(e.line, Some(47), "{e}");
    let e = err(b"\r\n  \t\r\n");
    assert_eq!((e.code(), e.section.as_str()), ("not_a_maquette", TITRES));
    let e = err(b"%PDF-1.7\n");
    assert_eq!((e.code(), e.line), ("not_a_maquette", Some(1)));
}

#[test]
fn apogee_output_is_latin1_with_crlf() {
    let latin1 = maquette_latin1();
    assert!(matches!(
        to_apogee_bytes(&latin1).unwrap(),
        std::borrow::Cow::Borrowed(_)
    ));
    // UTF-8 with BOM and LF endings: re-encoded, same content as the Latin-1 CRLF file.
    let utf8 = [
        b"\xEF\xBB\xBF".as_slice(),
        maquette_text().replace("\r\n", "\n").as_bytes(),
    ]
    .concat();
    assert_eq!(to_apogee_bytes(&utf8).unwrap().into_owned(), latin1);
    // A name ISO-8859-1 cannot hold: refused with its section and line.
    let text = maquette_text().replace("LEROY", "LEROŸĆ");
    let e = to_apogee_bytes(text.as_bytes()).unwrap_err();
    assert_eq!(
        (e.code(), e.section.as_str(), e.line),
        ("unsupported_encoding", VALEURS, Some(49))
    );
}

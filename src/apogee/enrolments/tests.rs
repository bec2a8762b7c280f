use super::*;

const HEADER: &str = "COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;LIB_PR1_IND;DATE_NAI_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE;ADR_MAIL_PERSO";

fn latin1(text: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1252.encode(text).0.into_owned()
}

fn ok_rows(file: &EnrolmentFile) -> Vec<&EnrolmentRow> {
    file.accepted().collect()
}

#[test]
fn reads_a_latin1_crlf_semicolon_extraction() {
    let text = format!(
        "{HEADER}\r\n21900001;0123456789M;Müller-Noël;Zoé;05/03/2004;905;V1INF;2025;E;Zoe.Muller@Example.FR\r\n21900002;0dDG5R00015; Lefèvre ;Œdipe;2003-11-30;906;V2GEA;2025;A;\r\n"
    );
    let file = parse_enrolments_csv(&latin1(&text)).unwrap();
    assert_eq!(file.separator, Some(';'));
    assert_eq!(file.encoding, Some(TextEncoding::Latin1));
    let rows = ok_rows(&file);
    assert_eq!(rows.len(), 2, "{:?}", file.rows);
    let a = rows[0];
    assert_eq!(a.line, 2);
    assert_eq!(a.cod_etu, "21900001");
    assert_eq!(a.ine.as_deref(), Some("0123456789M"));
    assert_eq!(a.ine_format, Some(IneFormat::Bea));
    assert_eq!(a.last_name, "Müller-Noël");
    assert_eq!(a.first_name, "Zoé");
    assert_eq!(a.birth_date, NaiveDate::from_ymd_opt(2004, 3, 5));
    assert_eq!(a.composante, "905");
    assert_eq!(a.etape, "V1INF");
    assert_eq!(a.academic_year, 2025);
    assert_eq!(a.state, EnrolmentState::E);
    assert_eq!(a.email.as_deref(), Some("zoe.muller@example.fr"));
    let b = rows[1];
    assert_eq!(b.line, 3);
    assert_eq!(b.ine.as_deref(), Some("0DDG5R00015"), "INE upper-cased");
    assert_eq!(b.ine_format, Some(IneFormat::Base36));
    assert_eq!(b.last_name, "Lefèvre", "names trimmed, kept as given");
    assert_eq!(b.first_name, "Œdipe", "Windows-1252 letters decoded");
    assert_eq!(b.state, EnrolmentState::A);
    assert_eq!(b.email, None);
}

#[test]
fn reads_utf8_with_bom_tab_separated_quoted_fields_and_aliases() {
    let text = "\u{feff}Numéro étudiant\tINE\tCOD_CLE_NNE_IND\tNom\tPrénom\tdate_naissance\tcod_cmp\tcod_etp\tcod_vrs_vet\tcod_anu\teta_iae\tautre\n\
                \"21900003\"\t\"0123456789\"\tm\t\"D'Artagnan dit \"\"Charles\"\"\"\tJean\t05/03/04 00:00:00\t905\tV1INF\t1\t2025/2026\te\t\"a\tb\"\n";
    let file = parse_enrolments_csv(text.as_bytes()).unwrap();
    assert_eq!(file.separator, Some('\t'));
    assert_eq!(file.encoding, Some(TextEncoding::Utf8 { bom: true }));
    let rows = ok_rows(&file);
    assert_eq!(rows.len(), 1, "{:?}", file.rows);
    let r = rows[0];
    assert_eq!(r.ine.as_deref(), Some("0123456789M"), "key column appended");
    assert_eq!(r.last_name, "D'Artagnan dit \"Charles\"");
    assert_eq!(r.etape_version.as_deref(), Some("1"));
    assert_eq!(r.academic_year, 2025);
    // Two-digit year 04 with COD_ANU 2025: 2004 makes the student 21 → 2004.
    assert_eq!(r.birth_date, NaiveDate::from_ymd_opt(2004, 3, 5));
}

#[test]
fn two_digit_years_pivot_on_the_academic_year() {
    assert_eq!(
        parse_birth_date("01/01/11", 2025),
        NaiveDate::from_ymd_opt(2011, 1, 1)
    );
    assert_eq!(
        parse_birth_date("01/01/12", 2025),
        NaiveDate::from_ymd_opt(1912, 1, 1)
    );
    assert_eq!(
        parse_birth_date("01/01/99", 2025),
        NaiveDate::from_ymd_opt(1999, 1, 1)
    );
    assert_eq!(parse_birth_date("31/02/2000", 2025), None);
    assert_eq!(
        parse_birth_date("01/01/2030", 2025),
        None,
        "born after the year"
    );
    assert_eq!(parse_birth_date("2000-13-01", 2025), None);
    assert_eq!(
        parse_birth_date("1/2/2000", 2025),
        NaiveDate::from_ymd_opt(2000, 2, 1)
    );
}

#[test]
fn bad_rows_are_rejected_one_each_with_line_code_and_no_personal_value() {
    let text = format!(
        "{HEADER}\n\
         21900001;0123456789N;Durand;Ana;01/01/2000;905;V1INF;2025;E;a@b.fr\n\
         \n\
         21900002;;Durand;Ana;31/02/2000;905;V1INF;2025;E;\n\
         21900003;;;Ana;01/01/2000;905;V1INF;2025;E;\n\
         21900004;;Durand;Ana;01/01/2000;905;V1INF;2025;X;\n\
         21900005;;Durand;Ana;01/01/2000;905;V1INF;20;E;\n\
         21900006;;Durand;Ana;01/01/2000;905;V1INF;2025;E;secret.at.example.fr\n\
         219-0007;;Durand;Ana;01/01/2000;905;V1INF;2025;E;\n\
         21900008;;Durand;Ana;01/01/2000;905;V1INF;2025;E;;extra\n\
         21900009;123456789A;Durand;Ana;01/01/2000;905;V1INF;2025;E;\n"
    );
    let file = parse_enrolments_csv(text.as_bytes()).unwrap();
    let rejections: Vec<(usize, &str)> = file.rejections().map(|r| (r.line, r.code)).collect();
    assert_eq!(
        rejections,
        vec![
            (2, "invalid_ine"),
            (4, "invalid_date"),
            (5, "missing_field"),
            (6, "invalid_state"),
            (7, "invalid_year"),
            (8, "invalid_email"),
            (9, "invalid_cod_etu"),
            (10, "wrong_field_count"),
            (11, "invalid_ine"),
        ]
    );
    assert_eq!(file.accepted().count(), 0);
    for r in file.rejections() {
        for personal in [
            "Durand",
            "secret",
            "0123456789N",
            "219-0007",
            "123456789A",
            "31/02",
        ] {
            assert!(
                !r.reason.contains(personal),
                "{} leaks a value: {}",
                r.code,
                r.reason
            );
        }
    }
    let ine = file.rejections().next().unwrap();
    assert!(
        ine.reason.contains("COD_NNE_IND") && ine.reason.contains("key"),
        "{}",
        ine.reason
    );
    let short = file.rejections().last().unwrap();
    assert!(short.reason.contains("11 characters"), "{}", short.reason);
}

#[test]
fn a_file_that_is_not_an_extraction_is_one_error() {
    let missing = parse_enrolments_csv(b"COD_ETU;LIB_NOM_PAT_IND;LIB_PR1_IND;COD_ETP\n1;a;b;c\n")
        .unwrap_err();
    assert_eq!(missing.code(), "invalid_enrolment_file");
    let message = missing.to_string();
    for column in ["COD_CMP", "COD_ANU", "ETA_IAE"] {
        assert!(message.contains(column), "{message}");
    }
    assert!(!message.contains("COD_ETP"), "{message}");
    assert_eq!(
        parse_enrolments_csv(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap_err(),
        EnrolmentFileError::Binary
    );
    assert_eq!(
        parse_enrolments_csv(b"foo,bar,baz\n1,2,3\n").unwrap_err(),
        EnrolmentFileError::NoHeader
    );
    assert_eq!(
        parse_enrolments_csv(b"\r\n  \n").unwrap_err(),
        EnrolmentFileError::Empty
    );
    assert!(matches!(
        parse_enrolments_csv(b"COD_ETU;nip;x\n").unwrap_err(),
        EnrolmentFileError::DuplicateColumn(_)
    ));
}

#[test]
fn quoted_newlines_keep_physical_line_numbers() {
    let text = format!(
        "{HEADER};COMMENTAIRE\n21900001;;Durand;Ana;;905;V1INF;2025;E;;\"two\nlines\"\n21900002;;X;Y;;905;V1INF;2025;Q;;\n"
    );
    let file = parse_enrolments_csv(text.as_bytes()).unwrap();
    assert_eq!(file.rows.len(), 2);
    assert_eq!(file.rows[0].as_ref().unwrap().line, 2);
    assert_eq!(file.rows[1].as_ref().unwrap_err().line, 4);
}

#[test]
fn json_rows_follow_the_same_validation() {
    let json = br#"[
        {"cod_etu": 21900001, "ine": "123456789ab", "last_name": "Durand", "first_name": "Ana",
         "birth_date": "2004-03-05", "composante": "905", "etape": "V1INF", "academic_year": 2025,
         "enrolment_state": "E", "email": "ANA@EXAMPLE.FR", "vault_objection": true},
        {"cod_etu": "21900002", "last_name": "Durand", "first_name": "Ana", "composante": "905",
         "etape": "V1INF", "academic_year": "2025", "enrolment_state": "E", "birth_date": "2004-02-30"},
        {"cod_etu": "21900003", "nickname": "x"},
        42
    ]"#;
    let file = parse_enrolments_json(json).unwrap();
    let first = file.rows[0].as_ref().unwrap();
    assert_eq!(first.line, 1);
    assert_eq!(first.cod_etu, "21900001");
    assert_eq!(first.ine.as_deref(), Some("123456789AB"));
    assert_eq!(first.ine_format, Some(IneFormat::Rnie));
    assert_eq!(first.email.as_deref(), Some("ana@example.fr"));
    assert!(first.vault_objection);
    assert_eq!(file.rows[1].as_ref().unwrap_err().code, "invalid_date");
    assert_eq!(file.rows[2].as_ref().unwrap_err().code, "unknown_field");
    assert_eq!(file.rows[3].as_ref().unwrap_err().code, "invalid_row");
    assert_eq!(file.rows[3].as_ref().unwrap_err().line, 4);
    assert!(matches!(
        parse_enrolments_json(b"{\"cod_etu\": 1}").unwrap_err(),
        EnrolmentFileError::NotJsonArray(_)
    ));
}

#[test]
fn conflicts_are_identity_changes_not_several_etapes() {
    let text = format!(
        "{HEADER}\n\
         21900001;0123456789M;Durand;Ana;05/03/2004;905;V1INF;2025;E;\n\
         21900001;0123456789M;DURAND;Ana;05/03/2004;905;V1MAT;2025;E;\n\
         21900002;;Martin;Léo;01/01/2003;905;V1INF;2025;E;\n\
         21900002;;Martin;Léo;02/01/2003;905;V1MAT;2025;E;\n\
         21900003;123456789AB;Petit;Eva;01/01/2003;905;V1INF;2025;E;\n\
         21900004;123456789AB;Grand;Max;01/01/2002;905;V1INF;2025;E;\n"
    );
    let file = parse_enrolments_csv(text.as_bytes()).unwrap();
    assert_eq!(file.accepted().count(), 6);
    let conflicts = find_conflicts(&file.rows);
    let found: Vec<(usize, &str)> = conflicts.iter().map(|r| (r.line, r.code)).collect();
    assert_eq!(
        found,
        vec![
            (4, "conflicting_duplicate"),
            (5, "conflicting_duplicate"),
            (6, "duplicate_ine"),
            (7, "duplicate_ine"),
        ]
    );
    assert!(
        conflicts[0].reason.contains("line(s) 5"),
        "{}",
        conflicts[0].reason
    );
    assert!(
        conflicts[0].reason.contains("birth_date"),
        "{}",
        conflicts[0].reason
    );
    assert!(!conflicts[0].reason.contains("Martin"));
}

#[test]
fn many_rows_are_all_read() {
    let mut text = String::from(HEADER);
    text.push('\n');
    for i in 0..5_000 {
        text.push_str(&format!(
            "2{i:07};;Nom{i};Prénom;01/01/2003;905;V1INF;2025;E;e{i}@example.fr\n"
        ));
    }
    let file = parse_enrolments_csv(text.as_bytes()).unwrap();
    assert_eq!(file.accepted().count(), 5_000);
    assert_eq!(file.rows.last().unwrap().as_ref().unwrap().line, 5_001);
    assert!(find_conflicts(&file.rows).is_empty());
}

#[test]
fn reads_excel_utf16_exports() {
    let text = format!(
        "{}\r\n21900001\t\tLefèvre\tZoé\t\t905\tV1INF\t2025\tE\t\r\n",
        HEADER.replace(';', "\t")
    );
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    let file = parse_enrolments_csv(&bytes).unwrap();
    assert_eq!(
        file.encoding,
        Some(TextEncoding::Utf16 { big_endian: false })
    );
    let row = file.rows[0].as_ref().unwrap();
    assert_eq!(
        (row.last_name.as_str(), row.first_name.as_str()),
        ("Lefèvre", "Zoé")
    );
}

#[test]
fn population_columns_are_optional_and_blank_means_unknown() {
    let csv = "COD_ETU;LIB_NOM_PAT_IND;LIB_PR1_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE;Régime;Boursier\n\
               21900001;ALPHA;Anne;905;L1INF;2025;E;FA;oui\n\
               21900002;BETA;Bruno;905;L1INF;2025;E;Formation initiale;0\n\
               21900003;GAMMA;Chloé;905;L1INF;2025;E;;\n\
               21900004;DELTA;Denis;905;L1INF;2025;E;CDI;\n\
               21900005;EPSILON;Eva;905;L1INF;2025;E;fc;peut-être\n";
    let file = parse_enrolments_csv(csv.as_bytes()).unwrap();
    let ok = |i: usize| file.rows[i].as_ref().unwrap();
    assert_eq!(
        (ok(0).regime, ok(0).boursier),
        (Some(Regime::Apprenticeship), Some(true))
    );
    assert_eq!(
        (ok(1).regime, ok(1).boursier),
        (Some(Regime::InitialTraining), Some(false))
    );
    assert_eq!((ok(2).regime, ok(2).boursier), (None, None));
    assert_eq!(file.rows[3].as_ref().unwrap_err().code, "invalid_regime");
    assert_eq!(file.rows[4].as_ref().unwrap_err().code, "invalid_boursier");
    // Without the columns: unknown.
    let csv = "COD_ETU;LIB_NOM_PAT_IND;LIB_PR1_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE\n\
               21900001;ALPHA;Anne;905;L1INF;2025;E\n";
    let file = parse_enrolments_csv(csv.as_bytes()).unwrap();
    let row = file.rows[0].as_ref().unwrap();
    assert_eq!((row.regime, row.boursier), (None, None));
    // JSON takes the API codes.
    let json =
        br#"[{"cod_etu": "21900001", "last_name": "A", "first_name": "B", "composante": "905",
        "etape": "L1INF", "academic_year": 2025, "enrolment_state": "E",
        "regime": "continuing_education", "boursier": true}]"#;
    let file = parse_enrolments_json(json).unwrap();
    let row = file.rows[0].as_ref().unwrap();
    assert_eq!(
        (row.regime, row.boursier),
        (Some(Regime::ContinuingEducation), Some(true))
    );
}

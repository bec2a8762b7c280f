//! Test fixtures: a small, realistic maquette as Apogée exports it (ISO-8859-1, CRLF, TAB,
//! padded marker lines, trailing separators), shared by the maquette, fill, check and diff
//! tests.
//!
//! Étape V1RT (DUT R&T year 1, VDI 111), 2024/2025. Elements: the semester VRTS1, two UEs
//! (VRTU11, VRTU12) with jury-points columns, three modules, the sport bonus UE VRTSPORT
//! (declared as the seed asks: "ne pas oublier les UE Bonus"), and the étape last.
//!
//! Students:
//! - 21900001 DUPONT Alice — regular student, empty row;
//! - 21900002 MARTIN Léo — repeating (redoublant): UE VRTU11 and its module were validated
//!   last year and already carry their values (14,00 / 20 / ADM, jury points 0,50);
//! - 21900003 LEROY Chloé — takes the sport bonus UE; had 0,25 jury points on VRTU12;
//! - 21900004 PETIT Noé — defaulting (DEF) student;
//! - 21900005 MOREAU Ève — unknown to ScoDoc: must stay untouched.

pub const COLUMNS: &[(&str, &str, &str, &str)] = &[
    // (id, type objet, code, type résultat)
    ("apoL_c0001", "ELP", "VRTM111", "N"),
    ("apoL_c0002", "ELP", "VRTM111", "B"),
    ("apoL_c0003", "ELP", "VRTM112", "N"),
    ("apoL_c0004", "ELP", "VRTM112", "B"),
    ("apoL_c0005", "ELP", "VRTU11", "N"),
    ("apoL_c0006", "ELP", "VRTU11", "B"),
    ("apoL_c0007", "ELP", "VRTU11", "R"),
    ("apoL_c0008", "ELP", "VRTU11", "J"),
    ("apoL_c0009", "ELP", "VRTM121", "N"),
    ("apoL_c0010", "ELP", "VRTM121", "B"),
    ("apoL_c0011", "ELP", "VRTU12", "N"),
    ("apoL_c0012", "ELP", "VRTU12", "B"),
    ("apoL_c0013", "ELP", "VRTU12", "R"),
    ("apoL_c0014", "ELP", "VRTU12", "J"),
    ("apoL_c0015", "ELP", "VRTSPORT", "N"),
    ("apoL_c0016", "ELP", "VRTSPORT", "B"),
    ("apoL_c0017", "ELP", "VRTS1", "N"),
    ("apoL_c0018", "ELP", "VRTS1", "B"),
    ("apoL_c0019", "ELP", "VRTS1", "R"),
    ("apoL_c0020", "VET", "V1RT", "N"),
    ("apoL_c0021", "VET", "V1RT", "B"),
    ("apoL_c0022", "VET", "V1RT", "R"),
];

/// The student rows' cells after the 4 fixed ones (20 → 22 values, trailing separator kept).
pub const STUDENTS: &[(&str, &str, &str, &str, &[&str])] = &[
    ("21900001", "DUPONT", "Alice", "12/03/2005", &[]),
    (
        "21900002",
        "MARTIN",
        "Léo",
        "01/07/2004",
        &["13,00", "20", "15,00", "20", "14,00", "20", "ADM", "0,50"],
    ),
    (
        "21900003",
        "LEROY",
        "Chloé",
        "23/09/2005",
        &["", "", "", "", "", "", "", "", "", "", "", "", "", "0,25"],
    ),
    ("21900004", "PETIT", "Noé", "30/11/2004", &[]),
    (
        "21900005",
        "MOREAU",
        "Ève",
        "02/02/2005",
        &[
            "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "9,00", "20", "AJ",
        ],
    ),
];

fn label(code: &str) -> &'static str {
    match code {
        "VRTM111" => "Initiation réseaux",
        "VRTM112" => "Mathématiques",
        "VRTU11" => "UE11 Réseaux",
        "VRTM121" => "Anglais",
        "VRTU12" => "UE12 Communication",
        "VRTSPORT" => "UE bonus Sport",
        "VRTS1" => "Semestre 1",
        _ => "DUT R&T année 1",
    }
}

/// The maquette as text (the caller picks the encoding).
pub fn maquette_text() -> String {
    let mut t = String::new();
    t.push_str("XX-APO_TITRES-XX\r\n");
    t.push_str("apoC_annee\t2024/2025\r\n");
    t.push_str("apoC_cod_dip\tVDRT\r\n");
    t.push_str("apoC_Cod_Exp\t3\r\n");
    t.push_str("apoC_cod_vdi\t111\r\n");
    t.push_str("apoC_Fichier_Exp\tC:\\TEMP\\VDRT_V1RT.TXT\r\n");
    t.push_str("apoC_lib_dip\tDUT R&T\r\n");
    t.push_str("apoC_Titre1\tExport Apogée du 14/06/2025 à 10:12\r\n");
    t.push_str("apoC_Titre2\t\r\n");
    t.push_str("\r\n");
    t.push_str("XX-APO_TYP_RES-XX\r\n");
    t.push_str("10\tADM\tADMC\tAJ\tAJAC\tCOMP\tDEF\tNAR\tATT\tABI\tABJ\t\r\n");
    t.push_str("\r\n");
    t.push_str("XX-APO_COLONNES-XX\r\n");
    t.push_str("apoL_a01_code\tType Objet\tCode\tVersion\tAnnée\tSession\tAdmission/Admissibilité\tType Rés.\t\t\tEtudiant\tNuméro\r\n");
    t.push_str("apoL_a02_nom\t\t\t\t\t\t\t\t\t\t1\tNom\r\n");
    t.push_str("apoL_a03_prenom\t\t\t\t\t\t\t\t\t\t1\tPrénom\r\n");
    t.push_str("apoL_a04_naissance\t\t\t\t\t\t\t\tSession\tAdmissibilité\tNaissance\r\n");
    t.push_str("APO_COL_VAL_DEB\r\n");
    let mut previous = "";
    for (id, kind, code, rt) in COLUMNS {
        let (version, lib) = if *kind == "VET" {
            ("111", label(code))
        } else {
            ("", label(code))
        };
        let lib = if previous == *code {
            String::new()
        } else {
            format!("{code} - {lib}")
        };
        let title = match *rt {
            "N" => "Note",
            "B" => "Barème",
            "R" => "Résultat",
            _ => "Points jury",
        };
        t.push_str(&format!(
            "{id}\t{kind}\t{code}\t{version}\t2024\t0\t1\t{rt}\t{lib}\t0\t1\t{title}\r\n"
        ));
        previous = code;
    }
    t.push_str("APO_COL_VAL_FIN\r\n");
    t.push_str("apoL_c0023\tAPO_COL_VAL_FIN\r\n");
    t.push_str("\r\n");
    t.push_str("XX-APO_VALEURS-XX\t\t\t\t\t  \t\r\n");
    t.push_str("apoL_a01_code\tapoL_a02_nom\tapoL_a03_prenom\tapoL_a04_naissance");
    for (id, ..) in COLUMNS {
        t.push('\t');
        t.push_str(id);
    }
    t.push_str("\r\n");
    for (nip, nom, prenom, naissance, values) in STUDENTS {
        t.push_str(&format!("{nip}\t{nom}\t{prenom}\t{naissance}"));
        for i in 0..COLUMNS.len() {
            t.push('\t');
            t.push_str(values.get(i).copied().unwrap_or(""));
        }
        t.push_str("\t\r\n");
    }
    t
}

/// The maquette in ISO-8859-1, as Apogée writes it.
pub fn maquette_latin1() -> Vec<u8> {
    encoding_rs::WINDOWS_1252
        .encode(&maquette_text())
        .0
        .into_owned()
}

/// Grades as ScoDoc would give them for the fixture (CSV form). 21900005 is absent (unknown
/// to ScoDoc); 21900099 and element VRTXXX are unknown to the maquette.
pub const SOURCE_CSV: &str = "nip;element;note;result
21900001;VRTM111;12,5;
21900001;VRTM112;8,25;
21900001;VRTU11;10,375;ADM
21900001;VRTM121;14;
21900001;VRTU12;13;ADM
21900001;VRTS1;11,69;ADM
21900001;V1RT;11,69;ADM
21900002;VRTM121;9,5;
21900002;VRTU12;9,5;CMP
21900002;VRTS1;11,2;ADM
21900002;V1RT;11,2;ADJ
21900003;VRTM111;15;
21900003;VRTM112;12;
21900003;VRTU11;13,5;ADM
21900003;VRTM121;16;
21900003;VRTU12;16;ADM
21900003;VRTSPORT;15;
21900003;VRTS1;14,8;ADM
21900003;V1RT;14,8;ADM
21900004;VRTM111;4;
21900004;VRTS1;0,01;DEF
21900004;V1RT;0,01;DEF
21900099;V1RT;12;ADM
21900001;VRTXXX;10;
";

/// The rows expected after filling the fixture with `SOURCE_CSV` (computed by hand from the
/// rules), 22 cells each.
pub const EXPECTED_ROWS: &[(&str, [&str; 22])] = &[
    (
        "21900001",
        [
            "12,50", "20", "8,25", "20", "10,38", "20", "ADM", "", "14,00", "20", "13,00", "20",
            "ADM", "", "", "", "11,69", "20", "ADM", "11,69", "20", "ADM",
        ],
    ),
    (
        "21900002",
        [
            "13,00", "20", "15,00", "20", "14,00", "20", "ADM", "0,50", "9,50", "20", "9,50", "20",
            "COMP", "", "", "", "11,20", "20", "ADM", "11,20", "20", "ADM",
        ],
    ),
    (
        "21900003",
        [
            "15,00", "20", "12,00", "20", "13,50", "20", "ADM", "", "16,00", "20", "16,00", "20",
            "ADM", "", "15,00", "20", "14,80", "20", "ADM", "14,80", "20", "ADM",
        ],
    ),
    (
        "21900004",
        [
            "4,00", "20", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "0,01", "20",
            "NAR", "0,01", "20", "NAR",
        ],
    ),
    (
        "21900005",
        [
            "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "9,00", "20", "AJ", "",
            "", "",
        ],
    ),
];

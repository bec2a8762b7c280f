//! Apogée enrolment extractions (CSV or JSON) → validated rows and per-row rejections. Pure.
//!
//! CSV: `;` or TAB separated (detected on the header line), UTF-8 with or without BOM or
//! ISO-8859-1/Windows-1252 (valid UTF-8 is UTF-8, anything else Latin-1) — or UTF-16 with a
//! BOM, which Excel's "Texte Unicode" export writes —, CRLF or LF, fields
//! optionally quoted with `"` (`""` escapes a quote; a quoted field may hold a separator or a
//! newline — the row is then numbered by the line it starts on). Header names are matched
//! case-insensitively, accents and spaces folded (`Numéro étudiant` = `numero_etudiant`):
//!
//! | field | accepted header names | required |
//! |---|---|---|
//! | `cod_etu` | COD_ETU, numero_etudiant, num_etudiant, nip, code_nip, student_number | yes |
//! | `ine` | COD_NNE_IND, ine, code_ine, cod_nne | no |
//! | (INE key) | COD_CLE_NNE_IND, cle_ine — appended to the INE when present | no |
//! | `last_name` | LIB_NOM_PAT_IND, last_name, nom, nom_patronymique | yes |
//! | `first_name` | LIB_PR1_IND, first_name, prenom | yes |
//! | `birth_date` | DATE_NAI_IND, birth_date, date_naissance | no |
//! | `composante` | COD_CMP, composante | yes |
//! | `etape` | COD_ETP, etape | yes |
//! | `etape_version` | COD_VRS_VET, etape_version, version_etape | no |
//! | `academic_year` | COD_ANU, academic_year, annee, annee_universitaire | yes |
//! | `enrolment_state` | ETA_IAE, enrolment_state, etat, etat_inscription | yes |
//! | `email` | ADR_MAIL_PERSO, email, mail_perso, email_perso | no |
//! | `vault_objection` | vault_objection, opposition_coffre | no |
//! | `regime` | regime, regime_inscription — `FI`/formation initiale, `FA`/apprentissage, `FC`/formation continue (or the API codes `initial_training`, `apprenticeship`, `continuing_education`) | no |
//! | `boursier` | boursier, scholarship_holder — yes/no (1/0, O/N, oui/non, true/false) | no |
//!
//! A missing `regime` or `boursier` column, or a blank cell, means "unknown" (the student's
//! population is not known: see the supporting documents' requirements). Other columns are
//! ignored. Dates: `DD/MM/YYYY`, `YYYY-MM-DD`, or `DD/MM/YY`, optionally
//! followed by a time (` 00:00:00`, Oracle exports). A two-digit year is read as the latest
//! year that makes the student at least 14 during the row's academic year (COD_ANU 2025:
//! `11` → 2011, `12` → 1912). `COD_ANU` is the first year of the academic year (2025 = 2025-2026);
//! `2025/2026` and `2025-2026` are accepted too.
//!
//! Rejections name the field and the shape that is wrong, never the value (personal data).

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::csv::{CsvReader, count_unquoted, first_non_blank, looks_binary};
use super::ine::{IneFormat, check_ine};
use super::text::{TextEncoding, decode, detect_encoding, detect_utf16};
use crate::domain::enrolment::Regime;
use crate::i18n::Text;
use crate::text;

/// Apogée's ETA_IAE: the state of an administrative enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EnrolmentState {
    /// En cours: a valid enrolment.
    E,
    /// Annulée.
    A,
    /// Résiliée.
    R,
}

/// One accepted row: a student's identity and one enrolment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnrolmentRow {
    /// 1-based line in the CSV (header = line 1), or 1-based item index in JSON.
    pub line: usize,
    pub cod_etu: String,
    /// Upper-cased, key appended when the file had COD_CLE_NNE_IND.
    pub ine: Option<String>,
    pub ine_format: Option<IneFormat>,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Option<NaiveDate>,
    pub composante: String,
    pub etape: String,
    pub etape_version: Option<String>,
    /// First year of the academic year: 2025 means 2025-2026.
    pub academic_year: i32,
    pub state: EnrolmentState,
    /// Lower-cased.
    pub email: Option<String>,
    /// The student objected to the vault's pre-creation at enrolment.
    pub vault_objection: bool,
    /// None: the column is absent or the cell blank (unknown).
    pub regime: Option<Regime>,
    /// None: the column is absent or the cell blank (unknown).
    pub boursier: Option<bool>,
}

/// A row that was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowRejection {
    pub line: usize,
    /// Stable snake_case code: missing_field, invalid_cod_etu, invalid_ine, invalid_name,
    /// invalid_date, invalid_composante, invalid_etape, invalid_etape_version, invalid_year,
    /// invalid_state, invalid_email, invalid_vault_objection, invalid_regime, invalid_boursier,
    /// wrong_field_count, invalid_row,
    /// unknown_field, conflicting_duplicate, duplicate_ine.
    pub code: &'static str,
    /// What is wrong, naming the field and the shape (never the value).
    #[serde(serialize_with = "crate::i18n::localized")]
    pub reason: Text,
}

/// The parsed extraction: one entry per data row, in file order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnrolmentFile {
    pub rows: Vec<Result<EnrolmentRow, RowRejection>>,
    /// CSV only: the detected separator and encoding.
    pub separator: Option<char>,
    pub encoding: Option<TextEncoding>,
}

impl EnrolmentFile {
    pub fn accepted(&self) -> impl Iterator<Item = &EnrolmentRow> {
        self.rows.iter().filter_map(|r| r.as_ref().ok())
    }

    pub fn rejections(&self) -> impl Iterator<Item = &RowRejection> {
        self.rows.iter().filter_map(|r| r.as_ref().err())
    }
}

/// The file is not an enrolment extraction at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentFileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is binary, not a CSV or JSON text")]
    Binary,
    #[error(
        "no recognisable header: expected columns such as COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;LIB_PR1_IND;DATE_NAI_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE separated by ';' or TAB"
    )]
    NoHeader,
    #[error("required columns missing: {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("two columns of the header both mean {0}")]
    DuplicateColumn(String),
    #[error("expected a JSON array of enrolment objects: {0}")]
    NotJsonArray(String),
}

impl EnrolmentFileError {
    pub fn code(&self) -> &'static str {
        "invalid_enrolment_file"
    }

    /// Why the file is refused, in the managers' words and in English (the `Display` text).
    pub fn text(&self) -> crate::i18n::Text {
        let fr = match self {
            EnrolmentFileError::Empty => "le fichier est vide".to_owned(),
            EnrolmentFileError::Binary => {
                "le fichier est binaire : ce n'est pas un texte CSV ou JSON".to_owned()
            }
            EnrolmentFileError::NoHeader => "aucun en-tête reconnu : colonnes attendues, par \
                exemple COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;LIB_PR1_IND;DATE_NAI_IND;COD_CMP;\
                COD_ETP;COD_ANU;ETA_IAE, séparées par ';' ou une tabulation"
                .to_owned(),
            EnrolmentFileError::MissingColumns(columns) => {
                format!("colonnes obligatoires absentes : {}", columns.join(", "))
            }
            EnrolmentFileError::DuplicateColumn(column) => {
                format!("deux colonnes de l'en-tête signifient toutes deux {column}")
            }
            EnrolmentFileError::NotJsonArray(why) => {
                format!("un tableau JSON d'inscriptions est attendu : {why}")
            }
        };
        crate::i18n::Text::new(fr, self.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Field {
    CodEtu,
    Ine,
    IneKey,
    LastName,
    FirstName,
    BirthDate,
    Composante,
    Etape,
    EtapeVersion,
    AcademicYear,
    State,
    Email,
    VaultObjection,
    Regime,
    Boursier,
}

const FIELD_COUNT: usize = 15;

impl Field {
    const ALL: [Field; FIELD_COUNT] = [
        Field::CodEtu,
        Field::Ine,
        Field::IneKey,
        Field::LastName,
        Field::FirstName,
        Field::BirthDate,
        Field::Composante,
        Field::Etape,
        Field::EtapeVersion,
        Field::AcademicYear,
        Field::State,
        Field::Email,
        Field::VaultObjection,
        Field::Regime,
        Field::Boursier,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The English (JSON) name.
    fn name(self) -> &'static str {
        match self {
            Field::CodEtu => "cod_etu",
            Field::Ine => "ine",
            Field::IneKey => "ine_key",
            Field::LastName => "last_name",
            Field::FirstName => "first_name",
            Field::BirthDate => "birth_date",
            Field::Composante => "composante",
            Field::Etape => "etape",
            Field::EtapeVersion => "etape_version",
            Field::AcademicYear => "academic_year",
            Field::State => "enrolment_state",
            Field::Email => "email",
            Field::VaultObjection => "vault_objection",
            Field::Regime => "regime",
            Field::Boursier => "boursier",
        }
    }

    /// Name + Apogée column, as rejections and errors show it.
    fn display(self) -> &'static str {
        match self {
            Field::CodEtu => "cod_etu (COD_ETU)",
            Field::Ine => "ine (COD_NNE_IND)",
            Field::IneKey => "ine key (COD_CLE_NNE_IND)",
            Field::LastName => "last_name (LIB_NOM_PAT_IND)",
            Field::FirstName => "first_name (LIB_PR1_IND)",
            Field::BirthDate => "birth_date (DATE_NAI_IND)",
            Field::Composante => "composante (COD_CMP)",
            Field::Etape => "etape (COD_ETP)",
            Field::EtapeVersion => "etape_version (COD_VRS_VET)",
            Field::AcademicYear => "academic_year (COD_ANU)",
            Field::State => "enrolment_state (ETA_IAE)",
            Field::Email => "email (ADR_MAIL_PERSO)",
            Field::VaultObjection => "vault_objection",
            Field::Regime => "regime",
            Field::Boursier => "boursier",
        }
    }

    fn required(self) -> bool {
        matches!(
            self,
            Field::CodEtu
                | Field::LastName
                | Field::FirstName
                | Field::Composante
                | Field::Etape
                | Field::AcademicYear
                | Field::State
        )
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::CodEtu => &[
                "cod_etu",
                "numero_etudiant",
                "num_etudiant",
                "nip",
                "code_nip",
                "student_number",
            ],
            Field::Ine => &["cod_nne_ind", "ine", "code_ine", "cod_nne"],
            Field::IneKey => &["cod_cle_nne_ind", "cle_ine", "ine_key"],
            Field::LastName => &["lib_nom_pat_ind", "last_name", "nom", "nom_patronymique"],
            Field::FirstName => &["lib_pr1_ind", "first_name", "prenom"],
            Field::BirthDate => &["date_nai_ind", "birth_date", "date_naissance"],
            Field::Composante => &["cod_cmp", "composante"],
            Field::Etape => &["cod_etp", "etape"],
            Field::EtapeVersion => &["cod_vrs_vet", "etape_version", "version_etape"],
            Field::AcademicYear => &["cod_anu", "academic_year", "annee", "annee_universitaire"],
            Field::State => &["eta_iae", "enrolment_state", "etat", "etat_inscription"],
            Field::Email => &["adr_mail_perso", "email", "mail_perso", "email_perso"],
            Field::VaultObjection => &["vault_objection", "opposition_coffre"],
            Field::Regime => &["regime", "regime_inscription"],
            Field::Boursier => &["boursier", "scholarship_holder"],
        }
    }

    fn from_header(name: &str) -> Option<Field> {
        let folded = fold_header(name);
        Field::ALL
            .into_iter()
            .find(|f| f.aliases().contains(&folded.as_str()))
    }
}

/// Lower-cases, trims, drops accents and turns spaces/hyphens/dots into `_`.
fn fold_header(name: &str) -> String {
    name.trim()
        .chars()
        .filter_map(|c| {
            let c = c.to_lowercase().next().unwrap_or(c);
            Some(match c {
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'à' | 'â' | 'ä' => 'a',
                'î' | 'ï' => 'i',
                'ô' | 'ö' => 'o',
                'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                ' ' | '-' | '.' => '_',
                '\u{feff}' => return None,
                c => c,
            })
        })
        .collect()
}

/// One row's raw values, indexed by `Field`.
struct RawRow<'a> {
    values: [Option<Cow<'a, str>>; FIELD_COUNT],
}

impl<'a> RawRow<'a> {
    fn new() -> Self {
        RawRow {
            values: Default::default(),
        }
    }

    /// The trimmed value, `None` when absent or blank.
    fn get(&self, field: Field) -> Option<&str> {
        self.values[field.index()]
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

fn reject(line: usize, code: &'static str, reason: Text) -> RowRejection {
    RowRejection { line, code, reason }
}

fn missing(line: usize, field: Field) -> RowRejection {
    reject(line, "missing_field", {
        let field = field.display();
        text!("{field} est vide", "{field} is empty")
    })
}

fn is_code(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parses `COD_ANU`: `2025`, `2025/2026` or `2025-2026`.
fn parse_academic_year(s: &str) -> Option<i32> {
    let (first, second) = match s.split_once(['/', '-']) {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (s, None),
    };
    if first.len() != 4 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = first.parse().ok()?;
    if !(1970..=2100).contains(&year) {
        return None;
    }
    if let Some(second) = second
        && second.parse::<i32>().ok() != Some(year + 1)
    {
        return None;
    }
    Some(year)
}

/// Parses a birth date; `academic_year` sets the two-digit-year pivot.
fn parse_birth_date(s: &str, academic_year: i32) -> Option<NaiveDate> {
    // Drop a trailing time part (" 00:00:00" or "T00:00:00").
    let date = match s.split_once([' ', 'T']) {
        Some((d, time)) if time.bytes().all(|b| b.is_ascii_digit() || b == b':') => d,
        Some(_) => return None,
        None => s,
    };
    let parsed = if let Ok(d) = NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Some(d)
    } else {
        let parts: Vec<&str> = date.split('/').collect();
        if parts.len() != 3 || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        let day: u32 = parts[0].parse().ok()?;
        let month: u32 = parts[1].parse().ok()?;
        let year: i32 = match parts[2].len() {
            4 => parts[2].parse().ok()?,
            2 => {
                let yy: i32 = parts[2].parse().ok()?;
                if 2000 + yy <= academic_year - 14 {
                    2000 + yy
                } else {
                    1900 + yy
                }
            }
            _ => return None,
        };
        if parts[0].len() > 2 || parts[1].len() > 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(year, month, day)
    }?;
    if parsed.year() < 1900 || parsed.year() > academic_year {
        return None;
    }
    Some(parsed)
}

fn valid_email(s: &str) -> bool {
    if s.len() > 254
        || s.chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>'))
    {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

fn parse_flag(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "o" | "y" | "oui" | "yes" | "true" | "vrai" => Some(true),
        "0" | "n" | "non" | "no" | "false" | "faux" => Some(false),
        _ => None,
    }
}

/// Validates and normalises one row (shared by CSV and JSON).
fn validate_row(line: usize, raw: &RawRow<'_>) -> Result<EnrolmentRow, RowRejection> {
    let cod_etu = raw
        .get(Field::CodEtu)
        .ok_or_else(|| missing(line, Field::CodEtu))?;
    if !is_code(cod_etu, 20) {
        return Err(reject(line, "invalid_cod_etu", {
            let field = Field::CodEtu.display();
            let count = cod_etu.chars().count();
            let (fr_other, en_other) = if cod_etu.bytes().all(|b| b.is_ascii_alphanumeric()) {
                ("", "")
            } else {
                (
                    ", dont certains ni lettre ni chiffre",
                    ", some neither letter nor digit",
                )
            };
            text!(
                "{field} doit faire 1 à 20 lettres ou chiffres ({count} caractères trouvés{fr_other})",
                "{field} must be 1 to 20 letters or digits (found {count} characters{en_other})"
            )
        }));
    }

    let (ine, ine_format) = match raw.get(Field::Ine) {
        None => {
            if raw.get(Field::IneKey).is_some() {
                return Err(reject(line, "invalid_ine", {
                    let (key, ine) = (Field::IneKey.display(), Field::Ine.display());
                    text!(
                        "{key} est renseigné mais {ine} est vide",
                        "{key} is set but {ine} is empty"
                    )
                }));
            }
            (None, None)
        }
        Some(ine) => {
            let mut full = ine.to_uppercase();
            if let Some(key) = raw.get(Field::IneKey) {
                full.push_str(&key.to_uppercase());
            }
            match check_ine(&full) {
                Ok(format) => (Some(full), Some(format)),
                Err(e) => {
                    return Err(reject(line, "invalid_ine", {
                        let field = Field::Ine.display();
                        let (fr, en) = (e.text().fr, e.text().en);
                        text!("{field} : {fr}", "{field}: {en}")
                    }));
                }
            }
        }
    };

    let last_name = raw
        .get(Field::LastName)
        .ok_or_else(|| missing(line, Field::LastName))?;
    let first_name = raw
        .get(Field::FirstName)
        .ok_or_else(|| missing(line, Field::FirstName))?;
    for (field, value) in [(Field::LastName, last_name), (Field::FirstName, first_name)] {
        if value.chars().count() > 100
            || value
                .chars()
                .any(|c| c.is_control() || crate::domain::text::is_invisible_format(c))
        {
            return Err(reject(line, "invalid_name", {
                let field = field.display();
                text!(
                    "{field} doit faire au plus 100 caractères, sans caractère de contrôle, bidirectionnel ou de largeur nulle",
                    "{field} must be at most 100 characters without control, bidirectional or zero-width characters"
                )
            }));
        }
    }

    let composante = raw
        .get(Field::Composante)
        .ok_or_else(|| missing(line, Field::Composante))?;
    if !is_code(composante, 10) {
        return Err(reject(line, "invalid_composante", {
            let field = Field::Composante.display();
            text!(
                "{field} doit faire 1 à 10 lettres ou chiffres",
                "{field} must be 1 to 10 letters or digits"
            )
        }));
    }
    let etape = raw
        .get(Field::Etape)
        .ok_or_else(|| missing(line, Field::Etape))?;
    if !is_code(etape, 10) {
        return Err(reject(line, "invalid_etape", {
            let field = Field::Etape.display();
            text!(
                "{field} doit faire 1 à 10 lettres ou chiffres",
                "{field} must be 1 to 10 letters or digits"
            )
        }));
    }
    let etape_version = match raw.get(Field::EtapeVersion) {
        None => None,
        Some(v) if v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit()) => Some(v.to_string()),
        Some(_) => {
            return Err(reject(line, "invalid_etape_version", {
                let field = Field::EtapeVersion.display();
                text!(
                    "{field} doit faire 1 à 3 chiffres",
                    "{field} must be 1 to 3 digits"
                )
            }));
        }
    };

    let year_text = raw
        .get(Field::AcademicYear)
        .ok_or_else(|| missing(line, Field::AcademicYear))?;
    let academic_year = parse_academic_year(year_text).ok_or_else(|| {
        reject(line, "invalid_year", {
            let field = Field::AcademicYear.display();
            text!(
                "{field} doit être une année comme 2025 (pour 2025-2026) ou 2025/2026",
                "{field} must be a year like 2025 (meaning 2025-2026) or 2025/2026"
            )
        })
    })?;

    let state = match raw
        .get(Field::State)
        .ok_or_else(|| missing(line, Field::State))?
    {
        "E" | "e" => EnrolmentState::E,
        "A" | "a" => EnrolmentState::A,
        "R" | "r" => EnrolmentState::R,
        _ => {
            return Err(reject(line, "invalid_state", {
                let field = Field::State.display();
                text!("{field} doit valoir E, A ou R", "{field} must be E, A or R")
            }));
        }
    };

    let birth_date = match raw.get(Field::BirthDate) {
        None => None,
        Some(d) => Some(parse_birth_date(d, academic_year).ok_or_else(|| {
            reject(
                line,
                "invalid_date",
                {
                    let field = Field::BirthDate.display();
                    text!(
                        "{field} doit être une vraie date, JJ/MM/AAAA, AAAA-MM-JJ ou JJ/MM/AA, entre 1900 et l'année universitaire",
                        "{field} must be a real date as DD/MM/YYYY, YYYY-MM-DD or DD/MM/YY, between 1900 and the academic year"
                    )
                },
            )
        })?),
    };

    let email = match raw.get(Field::Email) {
        None => None,
        Some(e) => {
            let e = e.to_lowercase();
            if !valid_email(&e) {
                return Err(reject(line, "invalid_email", {
                    let field = Field::Email.display();
                    text!(
                        "{field} doit ressembler à nom@domaine.tld (un @, un domaine avec un point, sans espace)",
                        "{field} must look like name@domain.tld (one @, a dotted domain, no spaces)"
                    )
                }));
            }
            Some(e)
        }
    };

    let vault_objection = match raw.get(Field::VaultObjection) {
        None => false,
        Some(v) => parse_flag(v).ok_or_else(|| {
            reject(line, "invalid_vault_objection", {
                let field = Field::VaultObjection.display();
                text!(
                    "{field} doit valoir oui ou non (1/0, O/N, true/false)",
                    "{field} must be a yes/no value (1/0, O/N, true/false)"
                )
            })
        })?,
    };

    let regime = match raw.get(Field::Regime) {
        None => None,
        Some(v) => Some(Regime::parse(v).ok_or_else(|| {
            reject(
                line,
                "invalid_regime",
                {
                    let field = Field::Regime.display();
                    text!(
                        "{field} doit valoir FI (formation initiale), FA (apprentissage) ou FC (formation continue)",
                        "{field} must be FI (formation initiale), FA (apprentissage) or FC (formation continue)"
                    )
                },
            )
        })?),
    };
    let boursier = match raw.get(Field::Boursier) {
        None => None,
        Some(v) => Some(parse_flag(v).ok_or_else(|| {
            reject(line, "invalid_boursier", {
                let field = Field::Boursier.display();
                text!(
                    "{field} doit valoir oui ou non (1/0, O/N, true/false)",
                    "{field} must be a yes/no value (1/0, O/N, true/false)"
                )
            })
        })?),
    };

    Ok(EnrolmentRow {
        line,
        cod_etu: cod_etu.to_string(),
        ine,
        ine_format,
        last_name: last_name.to_string(),
        first_name: first_name.to_string(),
        birth_date,
        composante: composante.to_string(),
        etape: etape.to_string(),
        etape_version,
        academic_year,
        state,
        email,
        vault_objection,
        regime,
        boursier,
    })
}

// ---------------------------------------------------------------------------------------------
// CSV

/// Parses an Apogée enrolment extraction in CSV.
pub fn parse_enrolments_csv(bytes: &[u8]) -> Result<EnrolmentFile, EnrolmentFileError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EnrolmentFileError::Empty);
    }
    let (encoding, offset) = match detect_utf16(bytes) {
        Some(found) => found,
        None => {
            if looks_binary(bytes) {
                return Err(EnrolmentFileError::Binary);
            }
            detect_encoding(bytes)
        }
    };
    let text = decode(&bytes[offset..], encoding);
    let text: &str = &text;

    // The header is the first non-blank line.
    let (pos, line) = first_non_blank(text).ok_or(EnrolmentFileError::Empty)?;
    let header_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let header_line = &text[pos..header_end];
    let sep = if count_unquoted(header_line, b'\t') > count_unquoted(header_line, b';') {
        b'\t'
    } else {
        b';'
    };

    let mut reader = CsvReader::new(text, pos, line, sep);
    let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(16);
    reader.next_record(&mut fields);

    // Map header columns to fields.
    let mut column_fields: Vec<Option<Field>> = Vec::with_capacity(fields.len());
    let mut seen = [false; FIELD_COUNT];
    for name in &fields {
        let field = Field::from_header(name);
        if let Some(f) = field {
            if seen[f.index()] {
                return Err(EnrolmentFileError::DuplicateColumn(f.display().to_string()));
            }
            seen[f.index()] = true;
        }
        column_fields.push(field);
    }
    if !seen.iter().any(|&s| s) {
        return Err(EnrolmentFileError::NoHeader);
    }
    let missing: Vec<String> = Field::ALL
        .into_iter()
        .filter(|f| f.required() && !seen[f.index()])
        .map(|f| f.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(EnrolmentFileError::MissingColumns(missing));
    }
    let header_len = column_fields.len();

    let mut rows = Vec::with_capacity(text.len() / 80);
    while let Some(start_line) = reader.next_record(&mut fields) {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue; // blank line
        }
        if fields.len() > header_len && fields[header_len..].iter().any(|f| !f.trim().is_empty()) {
            rows.push(Err(reject(
                start_line,
                "wrong_field_count",
                {
                    let count = fields.len();
                    text!(
                        "la ligne a {count} champs, l'en-tête {header_len} (un séparateur dans une valeur sans guillemets ?)",
                        "the row has {count} fields, the header {header_len} (a separator inside an unquoted value?)"
                    )
                },
            )));
            continue;
        }
        let mut raw = RawRow::new();
        for (value, field) in fields.drain(..).zip(&column_fields) {
            if let Some(f) = field {
                raw.values[f.index()] = Some(value);
            }
        }
        rows.push(validate_row(start_line, &raw));
    }
    Ok(EnrolmentFile {
        rows,
        separator: Some(sep as char),
        encoding: Some(encoding),
    })
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Parses the same data as a JSON array of objects with the English field names
/// (`cod_etu`, `ine`, `last_name`, `first_name`, `birth_date`, `composante`, `etape`,
/// `etape_version`, `academic_year`, `enrolment_state`, `email`, `vault_objection`, `regime`,
/// `boursier`).
/// Item `n` (1-based) is reported as line `n`.
pub fn parse_enrolments_json(bytes: &[u8]) -> Result<EnrolmentFile, EnrolmentFileError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EnrolmentFileError::Empty);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let items: Vec<serde_json::Value> = serde_json::from_slice(bytes)
        .map_err(|e| EnrolmentFileError::NotJsonArray(e.to_string()))?;
    let mut rows = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let line = index + 1;
        let Some(object) = item.as_object() else {
            rows.push(Err(reject(
                line,
                "invalid_row",
                Text::fixed(
                    "chaque élément doit être un objet JSON",
                    "each item must be a JSON object",
                ),
            )));
            continue;
        };
        let mut raw = RawRow::new();
        let mut problem = None;
        for (key, value) in object {
            let Some(field) = Field::ALL.into_iter().find(|f| f.name() == key) else {
                problem = Some(reject(
                    line,
                    "unknown_field",
                    text!("champ inconnu {key:?}", "unknown field {key:?}"),
                ));
                break;
            };
            let text: Option<Cow<'_, str>> = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(Cow::Borrowed(s.as_str())),
                serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
                serde_json::Value::Bool(b) => Some(Cow::Borrowed(if *b { "1" } else { "0" })),
                _ => {
                    problem = Some(reject(line, "invalid_row", {
                        let field = field.display();
                        text!(
                            "{field} doit être une chaîne, un nombre ou null",
                            "{field} must be a string, a number or null"
                        )
                    }));
                    break;
                }
            };
            raw.values[field.index()] = text;
        }
        rows.push(match problem {
            Some(p) => Err(p),
            None => validate_row(line, &raw),
        });
    }
    Ok(EnrolmentFile {
        rows,
        separator: None,
        encoding: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Conflicts

fn fold_name(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn lines_list(lines: &[usize]) -> String {
    lines
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds contradictions between accepted rows of one file:
/// - `conflicting_duplicate`: the same `cod_etu` with a different identity (INE, names, birth
///   date) — every row of such a group is reported. The same student on several étapes or
///   years is normal and not reported.
/// - `duplicate_ine`: one INE carried by rows of different `cod_etu`.
///
/// Rejections come sorted by line.
pub fn find_conflicts(rows: &[Result<EnrolmentRow, RowRejection>]) -> Vec<RowRejection> {
    let accepted: Vec<&EnrolmentRow> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
    let mut by_cod_etu: HashMap<&str, Vec<&EnrolmentRow>> = HashMap::with_capacity(accepted.len());
    let mut by_ine: HashMap<&str, Vec<&EnrolmentRow>> = HashMap::new();
    for row in &accepted {
        by_cod_etu
            .entry(row.cod_etu.as_str())
            .or_default()
            .push(row);
        if let Some(ine) = &row.ine {
            by_ine.entry(ine.as_str()).or_default().push(row);
        }
    }
    let mut out = Vec::new();
    for group in by_cod_etu.values().filter(|g| g.len() > 1) {
        let first = group[0];
        let mut differing: Vec<&'static str> = Vec::new();
        for other in &group[1..] {
            if other.ine != first.ine && !differing.contains(&"ine") {
                differing.push("ine");
            }
            if fold_name(&other.last_name) != fold_name(&first.last_name)
                && !differing.contains(&"last_name")
            {
                differing.push("last_name");
            }
            if fold_name(&other.first_name) != fold_name(&first.first_name)
                && !differing.contains(&"first_name")
            {
                differing.push("first_name");
            }
            if other.birth_date != first.birth_date && !differing.contains(&"birth_date") {
                differing.push("birth_date");
            }
        }
        if differing.is_empty() {
            continue;
        }
        let lines: Vec<usize> = group.iter().map(|r| r.line).collect();
        for row in group {
            let others: Vec<usize> = lines.iter().copied().filter(|&l| l != row.line).collect();
            out.push(reject(
                row.line,
                "conflicting_duplicate",
                {
                    let (others, differing) = (lines_list(&others), differing.join(", "));
                    text!(
                        "cod_etu (COD_ETU) apparaît aussi à la (aux) ligne(s) {others} avec une autre identité ({differing} diffèrent)",
                        "cod_etu (COD_ETU) also appears on line(s) {others} with a different identity ({differing} differ)"
                    )
                },
            ));
        }
    }
    for group in by_ine.values().filter(|g| g.len() > 1) {
        if group.iter().all(|r| r.cod_etu == group[0].cod_etu) {
            continue;
        }
        let lines: Vec<usize> = group.iter().map(|r| r.line).collect();
        for row in group {
            let others: Vec<usize> = group
                .iter()
                .filter(|r| r.cod_etu != row.cod_etu)
                .map(|r| r.line)
                .collect();
            if others.is_empty() {
                continue;
            }
            out.push(reject(
                row.line,
                "duplicate_ine",
                {
                    let (others, lines) = (lines_list(&others), lines_list(&lines));
                    text!(
                        "ine (COD_NNE_IND) est aussi porté par un autre cod_etu à la (aux) ligne(s) {others} (les lignes {lines} le partagent)",
                        "ine (COD_NNE_IND) is also carried by another cod_etu on line(s) {others} (rows {lines} share it)"
                    )
                },
            ));
        }
    }
    out.sort_by(|a, b| a.line.cmp(&b.line).then(a.code.cmp(b.code)));
    out
}

#[cfg(test)]
mod tests;

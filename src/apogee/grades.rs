//! Grade sources: one model for "this student has this note / result on this Apogée element",
//! whatever produced it. Pure.
//!
//! Sources:
//! - ScoDoc's own filled export: its zip (the filled maquette plus logs and spreadsheets — the
//!   maquette is found by its sections, not its name) or the filled `.TXT` itself. passerelle
//!   then only checks and reports: the filled maquette is the result.
//! - a simple CSV `nip;element;note;result` (`;`, TAB or `,` separated, detected on the header;
//!   decimal comma or point — with `,` as separator, quote decimal-comma notes) for other
//!   grade tools. Header aliases: nip = cod_etu, code_nip, numero_etudiant, apol_a01_code;
//!   element = code, element_code, cod_elp, code_apogee; note = grade, moyenne;
//!   result = resultat, decision, code_resultat; optional jury_points = points_jury.
//! - the same as JSON: an array of `{nip, element, note, result, jury_points}` objects, or
//!   `{"year": 2024, "etape": "V1RT", "grades": [...]}`. Notes are numbers or strings.
//! - the ScoDoc API (see `crate::scodoc`), which builds a `GradeSource` itself.
//!
//! A source with an invalid row is refused as a whole, with every bad line listed: a grade
//! file is fixed and re-read, never half-applied.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

use super::csv::{CsvReader, count_unquoted, first_non_blank, looks_binary};
use super::maquette::{Maquette, MaquetteError, ResultType, looks_like_maquette};
use super::text::{decode, detect_encoding};
use crate::i18n::Text;
use crate::text;

/// One student's values for one Apogée element.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GradeEntry {
    /// The grade, out of the barème (20).
    pub note: Option<f64>,
    /// The jury code as the source gives it (ScoDoc codes such as ADM, ADJ, ATT, DEF — the
    /// fill maps them to Apogée codes), or an Apogée code.
    pub result: Option<String>,
    /// Jury points, when the source has them.
    pub jury_points: Option<f64>,
}

impl GradeEntry {
    fn is_empty(&self) -> bool {
        self.note.is_none() && self.result.is_none() && self.jury_points.is_none()
    }
}

/// Where a source comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A maquette already filled by ScoDoc.
    FilledMaquette,
    #[default]
    Csv,
    Json,
    #[serde(rename = "scodoc_api")]
    ScoDocApi,
}

/// A (NIP, element) pair given more than once; `element` is `None` for a whole maquette row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DuplicateKey {
    pub nip: String,
    pub element: Option<String>,
}

/// Grades by student number (NIP) then Apogée element code.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GradeSource {
    pub kind: SourceKind,
    pub students: BTreeMap<String, BTreeMap<String, GradeEntry>>,
    /// First year of the academic year the grades belong to, when the source says.
    pub year: Option<i32>,
    /// The étape (VET code), when the source says.
    pub etape: Option<String>,
    /// Keys given twice. The fill leaves these cells alone; the check reports them.
    pub duplicates: Vec<DuplicateKey>,
    /// Things the source builder noticed but did not refuse (no personal values).
    pub warnings: Vec<Text>,
}

impl GradeSource {
    pub fn entry(&self, nip: &str, element: &str) -> Option<&GradeEntry> {
        self.students.get(nip)?.get(element)
    }

    pub fn is_duplicate(&self, nip: &str, element: &str) -> bool {
        self.duplicates
            .iter()
            .any(|d| d.nip == nip && d.element.as_deref().is_none_or(|e| e == element))
    }

    /// Adds a value, recording a duplicate when the pair is already there.
    fn insert(&mut self, nip: &str, element: &str, entry: GradeEntry) {
        let elements = self.students.entry(nip.to_string()).or_default();
        if elements.contains_key(element) {
            let key = DuplicateKey {
                nip: nip.to_string(),
                element: Some(element.to_string()),
            };
            if !self.duplicates.contains(&key) {
                self.duplicates.push(key);
            }
        } else {
            elements.insert(element.to_string(), entry);
        }
    }

    /// The values a filled maquette holds: every non-empty N, R and J cell. Students whose row
    /// is entirely empty are not in the source.
    pub fn from_maquette(maquette: &Maquette) -> GradeSource {
        let mut source = GradeSource {
            kind: SourceKind::FilledMaquette,
            year: Some(maquette.academic_year()),
            etape: Some(maquette.etape().to_string()).filter(|e| !e.is_empty()),
            ..GradeSource::default()
        };
        let mut seen_rows: BTreeMap<&str, usize> = BTreeMap::new();
        for row in maquette.students() {
            let nip = row.nip();
            if nip.is_empty() {
                continue;
            }
            *seen_rows.entry(nip).or_default() += 1;
            if seen_rows[nip] > 1 {
                let key = DuplicateKey {
                    nip: nip.to_string(),
                    element: None,
                };
                if !source.duplicates.contains(&key) {
                    source.duplicates.push(key);
                }
                continue;
            }
            let mut entries: BTreeMap<String, GradeEntry> = BTreeMap::new();
            for index in 4..maquette.value_ids().len() {
                let Some(column) = maquette.value_column(index) else {
                    continue;
                };
                let value = row.cell(index).trim();
                if value.is_empty() {
                    continue;
                }
                let entry = entries.entry(column.code.clone()).or_default();
                match column.result_type {
                    ResultType::Note => match parse_note(value) {
                        Some(n) => entry.note = Some(n),
                        None => {
                            let (line, id) = (row.line, &column.id);
                            source.warnings.push(text!(
                                "ligne {line} : la colonne {id} porte une note qui n'est pas un nombre",
                                "line {line}: column {id} holds a note that is not a number"
                            ))
                        }
                    },
                    ResultType::Result => entry.result = Some(value.to_string()),
                    ResultType::JuryPoints => entry.jury_points = parse_note(value),
                    _ => {}
                }
            }
            entries.retain(|_, e| !e.is_empty());
            if !entries.is_empty() {
                source.students.insert(nip.to_string(), entries);
            }
        }
        source
    }
}

/// Reads a grade: `12,5`, `12.50`, ` 7 ` → a number; empty → `None`; anything else `None`
/// (callers decide whether that is an error).
pub fn parse_note(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() || t.len() > 16 {
        return None;
    }
    let normalised: Cow<'_, str> = if t.contains(',') {
        Cow::Owned(t.replacen(',', ".", 1))
    } else {
        Cow::Borrowed(t)
    };
    if !normalised
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        return None;
    }
    normalised.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A bad line of a grade file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceProblem {
    /// 1-based line (CSV) or item (JSON).
    pub line: usize,
    #[serde(serialize_with = "crate::i18n::localized")]
    pub message: Text,
}

/// A grade source that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GradeSourceError {
    #[error("the grade source is empty")]
    Empty,
    #[error("the grade source is neither a maquette, a ScoDoc zip, a CSV nor a JSON grade file")]
    Unrecognised,
    #[error("grade CSV: required columns missing: {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("grade JSON: {0}")]
    Json(Text),
    #[error("{} invalid line(s) in the grade source: {}", .0.len(), .0.iter().take(20).map(|p| format!("line {}: {}", p.line, p.message)).collect::<Vec<_>>().join("; "))]
    InvalidRows(Vec<SourceProblem>),
    #[error("zip archive: {0}")]
    Zip(Text),
    #[error("the zip archive holds no Apogée maquette")]
    NoMaquetteInZip,
    #[error(transparent)]
    Maquette(#[from] MaquetteError),
}

impl GradeSourceError {
    /// Why the source is refused, in French and English (the `Display` text).
    pub fn text(&self) -> Text {
        let fr = match self {
            GradeSourceError::Empty => "la source de notes est vide".to_owned(),
            GradeSourceError::Unrecognised => "la source de notes n'est ni une maquette, ni une \
                archive zip de ScoDoc, ni un fichier de notes CSV ou JSON"
                .to_owned(),
            GradeSourceError::MissingColumns(columns) => format!(
                "CSV de notes : colonnes obligatoires absentes : {}",
                columns.join(", ")
            ),
            GradeSourceError::Json(why) => format!("JSON de notes : {}", why.fr),
            GradeSourceError::InvalidRows(problems) => format!(
                "{} ligne(s) invalide(s) dans la source de notes : {}",
                problems.len(),
                problems
                    .iter()
                    .take(20)
                    .map(|p| format!("ligne {} : {}", p.line, p.message.fr))
                    .collect::<Vec<_>>()
                    .join(" ; ")
            ),
            GradeSourceError::Zip(why) => format!("archive zip : {}", why.fr),
            GradeSourceError::NoMaquetteInZip => {
                "l'archive zip ne contient aucune maquette Apogée".to_owned()
            }
            GradeSourceError::Maquette(e) => return e.text(),
        };
        Text::new(fr, self.to_string())
    }

    pub fn code(&self) -> &'static str {
        match self {
            GradeSourceError::Maquette(e) => e.code(),
            _ => "invalid_grade_source",
        }
    }
}

/// What a source file turned out to be.
#[derive(Clone, Debug)]
pub enum SourceFile {
    /// Filled maquettes (one `.TXT`, or every maquette found in a ScoDoc zip), by file name.
    Maquettes(Vec<(String, Vec<u8>)>),
    /// Grades from a CSV or JSON file.
    Grades(GradeSource),
}

/// The largest entry read from a zip (a maquette is a few hundred kB; this stops zip bombs).
const MAX_ZIP_ENTRY: u64 = 64 * 1024 * 1024;

/// Recognises and reads a source file: zip, maquette, JSON or CSV.
pub fn read_source(bytes: &[u8]) -> Result<SourceFile, GradeSourceError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(GradeSourceError::Empty);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let maquettes = maquettes_in_zip(bytes)?;
        return Ok(SourceFile::Maquettes(maquettes));
    }
    if looks_like_maquette(bytes) {
        return Ok(SourceFile::Maquettes(vec![(String::new(), bytes.to_vec())]));
    }
    let trimmed = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match trimmed.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') | Some(b'{') => Ok(SourceFile::Grades(parse_grade_json(trimmed)?)),
        _ => {
            if looks_binary(bytes) {
                return Err(GradeSourceError::Unrecognised);
            }
            Ok(SourceFile::Grades(parse_grade_csv(bytes)?))
        }
    }
}

/// An archive the zip reader refuses (its message, as written, in both languages).
fn zip_error(e: impl std::fmt::Display) -> GradeSourceError {
    GradeSourceError::Zip(text!("illisible : {e}", "{e}"))
}

/// Every maquette inside a zip (ScoDoc's export holds one per étape, with a log and
/// spreadsheets beside it), by entry name.
pub fn maquettes_in_zip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, GradeSourceError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zip_error)?;
    let mut found = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(zip_error)?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().map_err(zip_error)?.into_owned();
        let mut content = Vec::with_capacity(file.size().min(MAX_ZIP_ENTRY) as usize);
        (&mut file)
            .take(MAX_ZIP_ENTRY + 1)
            .read_to_end(&mut content)
            .map_err(zip_error)?;
        if content.len() as u64 > MAX_ZIP_ENTRY {
            return Err(GradeSourceError::Zip(text!(
                "l'entrée {name} dépasse {MAX_ZIP_ENTRY} octets",
                "entry {name} is larger than {MAX_ZIP_ENTRY} bytes"
            )));
        }
        if looks_like_maquette(&content) {
            found.push((name, content));
        }
    }
    if found.is_empty() {
        return Err(GradeSourceError::NoMaquetteInZip);
    }
    Ok(found)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GradeField {
    Nip,
    Element,
    Note,
    Result,
    JuryPoints,
}

fn grade_field(header: &str) -> Option<GradeField> {
    let h = header.trim().to_lowercase().replace([' ', '-'], "_");
    Some(match h.as_str() {
        "nip" | "cod_etu" | "code_nip" | "numero_etudiant" | "apol_a01_code" => GradeField::Nip,
        "element" | "élément" | "code" | "element_code" | "cod_elp" | "code_apogee" => {
            GradeField::Element
        }
        "note" | "grade" | "moyenne" => GradeField::Note,
        "result" | "resultat" | "résultat" | "decision" | "décision" | "code_resultat" => {
            GradeField::Result
        }
        "jury_points" | "points_jury" => GradeField::JuryPoints,
        _ => return None,
    })
}

/// Parses a `nip;element;note;result` CSV.
pub fn parse_grade_csv(bytes: &[u8]) -> Result<GradeSource, GradeSourceError> {
    let (encoding, offset) = detect_encoding(bytes);
    let text = decode(&bytes[offset..], encoding);
    let text: &str = &text;
    let (pos, line) = first_non_blank(text).ok_or(GradeSourceError::Empty)?;
    let header_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let header = &text[pos..header_end];
    let sep = [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|&s| (count_unquoted(header, s), s == b';'))
        .unwrap_or(b';');
    let mut reader = CsvReader::new(text, pos, line, sep);
    let mut fields: Vec<Cow<'_, str>> = Vec::new();
    reader.next_record(&mut fields);
    let columns: Vec<Option<GradeField>> = fields.iter().map(|f| grade_field(f)).collect();
    let has = |f: GradeField| columns.contains(&Some(f));
    let mut missing = Vec::new();
    if !has(GradeField::Nip) {
        missing.push("nip".to_string());
    }
    if !has(GradeField::Element) {
        missing.push("element".to_string());
    }
    if !has(GradeField::Note) && !has(GradeField::Result) {
        missing.push("note or result".to_string());
    }
    if !missing.is_empty() {
        return Err(GradeSourceError::MissingColumns(missing));
    }
    let mut source = GradeSource {
        kind: SourceKind::Csv,
        ..GradeSource::default()
    };
    let mut problems = Vec::new();
    while let Some(line) = reader.next_record(&mut fields) {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let mut row = RawGrade::default();
        for (value, column) in fields.iter().zip(&columns) {
            let value = value.trim();
            match column {
                Some(GradeField::Nip) => row.nip = value,
                Some(GradeField::Element) => row.element = value,
                Some(GradeField::Note) => row.note = value,
                Some(GradeField::Result) => row.result = value,
                Some(GradeField::JuryPoints) => row.jury_points = value,
                None => {}
            }
        }
        match row.entry() {
            Ok(entry) => source.insert(row.nip, row.element, entry),
            Err(message) => problems.push(SourceProblem { line, message }),
        }
    }
    if !problems.is_empty() {
        return Err(GradeSourceError::InvalidRows(problems));
    }
    Ok(source)
}

#[derive(Default)]
struct RawGrade<'a> {
    nip: &'a str,
    element: &'a str,
    note: &'a str,
    result: &'a str,
    jury_points: &'a str,
}

impl RawGrade<'_> {
    fn entry(&self) -> Result<GradeEntry, Text> {
        if self.nip.is_empty() || !self.nip.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Text::fixed(
                "nip doit être fait de lettres ou de chiffres",
                "nip must be letters or digits",
            ));
        }
        if self.element.is_empty()
            || !self
                .element
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Text::fixed(
                "element doit être un code Apogée (lettres, chiffres)",
                "element must be an Apogée code (letters, digits)",
            ));
        }
        let note = match self.note {
            "" => None,
            n => Some(parse_note(n).ok_or(Text::fixed(
                "note doit être un nombre comme 12,5 ou 12.5",
                "note must be a number such as 12,5 or 12.5",
            ))?),
        };
        let jury_points = match self.jury_points {
            "" => None,
            n => Some(parse_note(n).ok_or(Text::fixed(
                "jury_points doit être un nombre",
                "jury_points must be a number",
            ))?),
        };
        let result = match self.result {
            "" => None,
            r if r.len() <= 10 && r.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Some(r.to_ascii_uppercase())
            }
            _ => {
                return Err(Text::fixed(
                    "result doit être un code de jury fait de lettres et de chiffres",
                    "result must be a jury code of letters and digits",
                ));
            }
        };
        let entry = GradeEntry {
            note,
            result,
            jury_points,
        };
        if entry.is_empty() {
            return Err(Text::fixed(
                "la ligne n'a ni note ni résultat",
                "the row has neither note nor result",
            ));
        }
        Ok(entry)
    }
}

/// Parses the JSON form.
pub fn parse_grade_json(bytes: &[u8]) -> Result<GradeSource, GradeSourceError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| GradeSourceError::Json(text!("illisible : {e}", "{e}")))?;
    let mut source = GradeSource {
        kind: SourceKind::Json,
        ..GradeSource::default()
    };
    let items = match &value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(map) => {
            source.year = match map.get("year") {
                None | Some(serde_json::Value::Null) => None,
                Some(y) => Some(y.as_i64().and_then(|y| i32::try_from(y).ok()).ok_or_else(
                    || {
                        GradeSourceError::Json(Text::fixed(
                            "year doit être un nombre",
                            "year must be a number",
                        ))
                    },
                )?),
            };
            source.etape = match map.get("etape") {
                None | Some(serde_json::Value::Null) => None,
                Some(e) => Some(
                    e.as_str()
                        .ok_or_else(|| {
                            GradeSourceError::Json(Text::fixed(
                                "etape doit être une chaîne",
                                "etape must be a string",
                            ))
                        })?
                        .trim()
                        .to_string(),
                ),
            };
            map.get("grades")
                .and_then(|g| g.as_array())
                .ok_or_else(|| {
                    GradeSourceError::Json(Text::fixed(
                        "un tableau \"grades\" est attendu",
                        "expected a \"grades\" array",
                    ))
                })?
        }
        _ => {
            return Err(GradeSourceError::Json(Text::fixed(
                "un tableau de notes ou un objet avec un tableau \"grades\" est attendu",
                "expected an array of grades or an object with a \"grades\" array",
            )));
        }
    };
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let line = index + 1;
        let Some(object) = item.as_object() else {
            problems.push(SourceProblem {
                line,
                message: Text::fixed(
                    "chaque note doit être un objet",
                    "each grade must be an object",
                ),
            });
            continue;
        };
        let text = |key: &str| -> Result<String, Text> {
            match object.get(key) {
                None | Some(serde_json::Value::Null) => Ok(String::new()),
                Some(serde_json::Value::String(s)) => Ok(s.trim().to_string()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                Some(_) => Err(text!(
                    "{key} doit être une chaîne ou un nombre",
                    "{key} must be a string or a number"
                )),
            }
        };
        if let Some(key) = object.keys().find(|k| {
            !matches!(
                k.as_str(),
                "nip" | "element" | "note" | "result" | "jury_points"
            )
        }) {
            problems.push(SourceProblem {
                line,
                message: text!("champ inconnu {key:?}", "unknown field {key:?}"),
            });
            continue;
        }
        let fields = (|| {
            Ok::<_, Text>((
                text("nip")?,
                text("element")?,
                text("note")?,
                text("result")?,
                text("jury_points")?,
            ))
        })();
        let (nip, element, note, result, jury_points) = match fields {
            Ok(f) => f,
            Err(message) => {
                problems.push(SourceProblem { line, message });
                continue;
            }
        };
        let raw = RawGrade {
            nip: &nip,
            element: &element,
            note: &note,
            result: &result,
            jury_points: &jury_points,
        };
        match raw.entry() {
            Ok(entry) => source.insert(&nip, &element, entry),
            Err(message) => problems.push(SourceProblem { line, message }),
        }
    }
    if !problems.is_empty() {
        return Err(GradeSourceError::InvalidRows(problems));
    }
    Ok(source)
}

#[cfg(test)]
pub(crate) mod tests;

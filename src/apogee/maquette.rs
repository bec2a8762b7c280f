//! Apogée export/import maquettes (.TXT): reader and byte-preserving writer. Pure.
//!
//! The format, as Apogée writes it and ScoDoc reads it (ScoDoc's `sco_apogee_csv.py`):
//! ISO-8859-1 (UTF-8 on some portals — detected), TAB-separated, CRLF, four sections in order:
//!
//! ```text
//! XX-APO_TITRES-XX
//! apoC_annee<TAB>2024/2025            key<TAB>value lines; ends at a blank line
//! apoC_Fichier_Exp<TAB>C:\TEMP\VRT1.TXT
//! XX-APO_TYP_RES-XX                    lists of result codes Apogée accepts
//! XX-APO_COLONNES-XX
//! apoL_a01_code<TAB>Type Objet<TAB>Code<TAB>Version<TAB>Année<TAB>Session<TAB>…
//! apoL_a02_nom … apoL_a04_naissance    the four fixed columns
//! APO_COL_VAL_DEB
//! apoL_c0001<TAB>VET<TAB>V1RT<TAB>111<TAB>2024<TAB>0<TAB>1<TAB>N<TAB>V1RT - libellé<TAB>0<TAB>1<TAB>Note
//! …                                    one line per column, numbered from 0001 without gaps
//! APO_COL_VAL_FIN
//! XX-APO_VALEURS-XX
//! apoL_a01_code<TAB>apoL_a02_nom<TAB>apoL_a03_prenom<TAB>apoL_a04_naissance<TAB>apoL_c0001…
//! 21900001<TAB>NOM<TAB>PRENOM<TAB>01/01/2004<TAB>12,50<TAB>20<TAB>ADM…
//! ```
//!
//! The reader splits bytes (all separators are ASCII) and decodes fields afterwards, so the
//! writer copies every byte it was not asked to change: reading then writing an untouched file
//! gives identical bytes (line endings, encoding, BOM, trailing separators, blank lines and
//! unknown sections included), and a changed cell changes only that cell's bytes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use parser::Parser;

use crate::i18n::Text;
use crate::text;

use super::text::{
    LineSpan, TextEncoding, decode, detect_encoding, detect_utf16, encode, is_blank, line_spans,
};

pub const TITRES: &str = "XX-APO_TITRES-XX";
pub const TYP_RES: &str = "XX-APO_TYP_RES-XX";
pub const COLONNES: &str = "XX-APO_COLONNES-XX";
pub const VALEURS: &str = "XX-APO_VALEURS-XX";
const FILE: &str = "file";

/// A maquette that cannot be read. `section` names the section (or `file`), `line` the
/// 1-based line (`None` when the problem is an absence, e.g. a missing section).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{section}{}: {message}", .line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct MaquetteError {
    pub section: String,
    pub line: Option<usize>,
    pub message: Text,
    #[serde(skip)]
    pub kind: MaquetteErrorKind,
}

/// What kind of unreadable file it is; each kind has its own problem code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MaquetteErrorKind {
    /// A maquette with a defect (`invalid_maquette`).
    #[default]
    Invalid,
    /// Not a maquette at all: it does not start with XX-APO_TITRES-XX (`not_a_maquette`).
    NotAMaquette,
    /// UTF-16, binary, or a character ISO-8859-1 cannot hold (`unsupported_encoding`).
    Encoding,
    /// A student row whose cells do not match the XX-APO_COLONNES-XX declaration
    /// (`maquette_malformed`): `cells` found, `expected` declared; `truncated` when it is the
    /// file's last line, cut short with no line ending (refused unless the caller accepts it).
    Malformed {
        cells: usize,
        expected: usize,
        truncated: bool,
    },
}

impl MaquetteError {
    pub fn code(&self) -> &'static str {
        match self.kind {
            MaquetteErrorKind::Invalid => "invalid_maquette",
            MaquetteErrorKind::NotAMaquette => "not_a_maquette",
            MaquetteErrorKind::Encoding => "unsupported_encoding",
            MaquetteErrorKind::Malformed { .. } => "maquette_malformed",
        }
    }

    pub(crate) fn at(section: &str, line: Option<usize>, message: Text) -> Self {
        MaquetteError {
            section: section.to_string(),
            line,
            message,
            kind: MaquetteErrorKind::Invalid,
        }
    }

    /// Where and why, in French and English (the `Display` text).
    pub fn text(&self) -> Text {
        let section = &self.section;
        let message = &self.message.fr;
        let fr = match self.line {
            Some(line) => format!("{section}, ligne {line} : {message}"),
            None => format!("{section} : {message}"),
        };
        Text::new(fr, self.to_string())
    }

    pub(crate) fn of_kind(mut self, kind: MaquetteErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

/// What a column holds (`Type Rés.`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultType {
    /// `N`: a grade.
    Note,
    /// `B`: the barème (scale) the grade is out of.
    Scale,
    /// `R`: a result code (ADM, AJ…).
    Result,
    /// `J`: jury points.
    JuryPoints,
    /// Anything else, kept as written.
    Other(String),
}

impl ResultType {
    fn parse(s: &str) -> Self {
        match s {
            "N" => ResultType::Note,
            "B" => ResultType::Scale,
            "R" => ResultType::Result,
            "J" => ResultType::JuryPoints,
            other => ResultType::Other(other.to_string()),
        }
    }

    pub fn letter(&self) -> &str {
        match self {
            ResultType::Note => "N",
            ResultType::Scale => "B",
            ResultType::Result => "R",
            ResultType::JuryPoints => "J",
            ResultType::Other(s) => s,
        }
    }
}

/// One declared value column (`apoL_cNNNN`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    /// `apoL_c0001`…
    pub id: String,
    pub number: u32,
    /// `VET` (étape), `ELP` (element), `EPR` (exam)…
    pub object_type: String,
    /// The Apogée element code (`V1RT`, `VRTU11`…).
    pub code: String,
    pub version: String,
    pub year: String,
    pub session: String,
    pub admission: String,
    pub result_type: ResultType,
    /// Libellé (often only on the element's first column).
    pub label: String,
    /// 1-based line of the definition.
    pub line: usize,
}

/// One student row of XX-APO_VALEURS-XX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudentRow {
    /// 1-based line.
    pub line: usize,
    line_index: usize,
    /// Byte spans of each TAB-separated cell.
    cells: Vec<(usize, usize)>,
    /// Decoded cells, by position (aligned with the VALEURS header).
    values: Vec<String>,
}

impl StudentRow {
    /// The student number (NIP, `apoL_a01_code`), trimmed.
    pub fn nip(&self) -> &str {
        self.values.first().map_or("", |s| s.trim())
    }

    pub fn last_name(&self) -> &str {
        self.values.get(1).map_or("", String::as_str)
    }

    pub fn first_name(&self) -> &str {
        self.values.get(2).map_or("", String::as_str)
    }

    pub fn birth_date(&self) -> &str {
        self.values.get(3).map_or("", String::as_str)
    }

    /// Cell `index` of the row (index 0 = NIP), empty when the row is short.
    pub fn cell(&self, index: usize) -> &str {
        self.values.get(index).map_or("", String::as_str)
    }
}

/// How strictly to read a maquette.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept a last student row cut short (fewer cells than declared, no final line ending):
    /// the row is then left exactly as read and [`Maquette::truncated_row`] names it. Every
    /// other row whose cells do not match the declaration is refused all the same.
    pub accept_truncated_last_row: bool,
}

/// The last student row of a maquette, cut short, that the caller accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TruncatedRow {
    /// 1-based line.
    pub line: usize,
    pub nip: String,
    /// Cells found on the line.
    pub cells: usize,
    /// Cells XX-APO_VALEURS-XX declares (the 4 fixed ones and the value columns).
    pub expected: usize,
}

/// A parsed maquette, also the buffer of the changes made to it.
#[derive(Clone, Debug)]
pub struct Maquette {
    bytes: Vec<u8>,
    text_start: usize,
    encoding: TextEncoding,
    lines: Vec<LineSpan>,
    titles: Vec<(String, String)>,
    academic_year: i32,
    result_codes: Vec<Vec<String>>,
    columns: Vec<Column>,
    column_by_id: HashMap<String, usize>,
    value_ids: Vec<String>,
    students: Vec<StudentRow>,
    /// The accepted cut last row: (student index, what it is).
    truncated: Option<(usize, TruncatedRow)>,
    /// Changed cells: (student index, cell index) → new value.
    edits: BTreeMap<(usize, usize), String>,
}

/// Whether the bytes start like a maquette (first non-blank line is XX-APO_TITRES-XX).
pub fn looks_like_maquette(bytes: &[u8]) -> bool {
    let (_, offset) = detect_encoding(bytes);
    line_spans(bytes, offset)
        .iter()
        .map(|s| &bytes[s.start..s.end])
        .find(|l| !is_blank(l))
        .is_some_and(|l| marker(l) == Some(TITRES))
}

/// The section marker a line holds, if any (first field, spaces trimmed; Apogée pads marker
/// lines with TABs).
fn marker(line: &[u8]) -> Option<&str> {
    let first = line.split(|&b| b == b'\t').next()?;
    let first = std::str::from_utf8(first).ok()?.trim();
    if first.len() > 6 && first.starts_with("XX-") && first.ends_with("-XX") {
        Some(first)
    } else {
        None
    }
}

/// Parses `apoC_annee`: `2024/2025`, `2024-2025` or `2024` → 2024.
fn parse_year(s: &str) -> Option<i32> {
    let s = s.trim();
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
    match second {
        None => Some(year),
        Some(second) if second.parse::<i32>().ok() == Some(year + 1) => Some(year),
        Some(_) => None,
    }
}

impl Maquette {
    /// Reads a maquette, refusing any student row whose cells do not match the column
    /// declaration.
    pub fn parse(bytes: &[u8]) -> Result<Maquette, MaquetteError> {
        Self::parse_with(bytes, ParseOptions::default())
    }

    /// Reads a maquette passerelle already accepted (a stored transfer's file): a cut last row
    /// the caller accepted then is read again without a refusal.
    pub fn parse_kept(bytes: &[u8]) -> Result<Maquette, MaquetteError> {
        Self::parse_with(
            bytes,
            ParseOptions {
                accept_truncated_last_row: true,
            },
        )
    }

    /// Reads a maquette with `options`.
    pub fn parse_with(bytes: &[u8], options: ParseOptions) -> Result<Maquette, MaquetteError> {
        if detect_utf16(bytes).is_some() {
            return Err(MaquetteError::at(
                FILE,
                None,
                Text::fixed(
                    "le fichier est en UTF-16 (« Texte Unicode ») : exportez la maquette en ISO-8859-1 (ou UTF-8)",
                    "the file is UTF-16 (\"Texte Unicode\"): export the maquette in ISO-8859-1 (or UTF-8)",
                ),
            )
            .of_kind(MaquetteErrorKind::Encoding));
        }
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(MaquetteError::at(
                FILE,
                Some(line),
                Text::fixed(
                    "le fichier contient des octets NUL : il est binaire, ou dans un autre encodage qu'ISO-8859-1 ou UTF-8",
                    "the file holds NUL bytes: it is binary, or in an encoding other than ISO-8859-1 or UTF-8",
                ),
            )
            .of_kind(MaquetteErrorKind::Encoding));
        }
        let (encoding, text_start) = detect_encoding(bytes);
        let lines = line_spans(bytes, text_start);
        let mut parser = Parser::new(bytes, encoding);
        for (index, span) in lines.iter().enumerate() {
            parser.line(index, span)?;
        }
        parser.finish(text_start, lines, options)
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// XX-APO_TITRES-XX, in file order.
    pub fn titles(&self) -> &[(String, String)] {
        &self.titles
    }

    pub fn title(&self, key: &str) -> Option<&str> {
        self.titles
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first year of `apoC_annee` (2024 for 2024/2025).
    pub fn academic_year(&self) -> i32 {
        self.academic_year
    }

    /// The output file name Apogée expects (`apoC_Fichier_Exp`), without its directory
    /// (Apogée writes Windows paths such as `C:\TEMP\VRT1_V1RT.TXT`).
    pub fn file_name(&self) -> Option<&str> {
        let path = self.title("apoC_Fichier_Exp")?.trim();
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        (!name.is_empty()).then_some(name)
    }

    /// The result-code lists of XX-APO_TYP_RES-XX (each line's non-empty fields).
    pub fn result_code_lists(&self) -> &[Vec<String>] {
        &self.result_codes
    }

    /// Whether a code appears in XX-APO_TYP_RES-XX.
    pub fn accepts_result_code(&self, code: &str) -> bool {
        self.result_codes
            .iter()
            .any(|l| l.iter().any(|c| c == code))
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn column(&self, id: &str) -> Option<&Column> {
        self.column_by_id.get(id).map(|&i| &self.columns[i])
    }

    /// The étape: the code of the first VET column.
    pub fn etape(&self) -> &str {
        self.vet().map_or("", |c| c.code.as_str())
    }

    /// The étape version (VDI of the VET column).
    pub fn etape_version(&self) -> &str {
        self.vet().map_or("", |c| c.version.as_str())
    }

    fn vet(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.object_type == "VET")
    }

    /// Distinct element codes, in column order.
    pub fn element_codes(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.columns
            .iter()
            .map(|c| c.code.as_str())
            .filter(|c| seen.insert(*c))
            .collect()
    }

    /// The ids of XX-APO_VALEURS-XX's header (`apoL_a01_code`…`apoL_a04_naissance`, then
    /// `apoL_cNNNN`); a student's cell `i` belongs to id `i`.
    pub fn value_ids(&self) -> &[String] {
        &self.value_ids
    }

    /// The declared column of VALEURS cell `index` (none for the 4 fixed cells).
    pub fn value_column(&self, index: usize) -> Option<&Column> {
        self.value_ids.get(index).and_then(|id| self.column(id))
    }

    pub fn students(&self) -> &[StudentRow] {
        &self.students
    }

    /// The cell of column `id` for student `student`.
    pub fn value(&self, student: usize, id: &str) -> Option<&str> {
        let index = self.value_ids.iter().position(|v| v == id)?;
        self.students.get(student).map(|s| s.cell(index))
    }

    /// The cut last row the caller accepted, if any.
    pub fn truncated_row(&self) -> Option<&TruncatedRow> {
        self.truncated.as_ref().map(|(_, row)| row)
    }

    /// Whether student `student` is the accepted cut last row (never filled).
    pub fn is_truncated(&self, student: usize) -> bool {
        self.truncated.as_ref().is_some_and(|(i, _)| *i == student)
    }

    /// Sets cell `index` of student `student`. Returns whether the value changed (an equal
    /// value is no change and leaves the bytes alone).
    pub fn set_value(
        &mut self,
        student: usize,
        index: usize,
        value: &str,
    ) -> Result<bool, MaquetteError> {
        let row = &self.students[student];
        if self.is_truncated(student) {
            return Err(MaquetteError::at(
                VALEURS,
                Some(row.line),
                Text::fixed(
                    "la ligne est tronquée : elle est laissée telle que lue",
                    "the row is cut short: it is left as read",
                ),
            ));
        }
        if index >= self.value_ids.len() {
            return Err(MaquetteError::at(
                VALEURS,
                Some(row.line),
                text!(
                    "la cellule {index} est au-delà des colonnes déclarées",
                    "cell {index} is beyond the declared columns"
                ),
            ));
        }
        if row.cell(index) == value {
            return Ok(false);
        }
        if value.contains(['\t', '\r', '\n'])
            || (!value.is_ascii() && encode(value, self.encoding).is_none())
        {
            return Err(MaquetteError::at(
                VALEURS,
                Some(row.line),
                Text::fixed(
                    "la nouvelle valeur contient un séparateur ou un caractère que l'encodage du fichier ne peut pas porter",
                    "the new value holds a separator or a character the file's encoding cannot hold",
                ),
            ));
        }
        let row = &mut self.students[student];
        if row.values.len() <= index {
            row.values.resize(index + 1, String::new());
        }
        row.values[index] = value.to_string();
        self.edits.insert((student, index), value.to_string());
        Ok(true)
    }

    /// Number of cells changed since parsing.
    pub fn changed_cells(&self) -> usize {
        self.edits.len()
    }

    /// The file with the changes: every other byte as read.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.edits.is_empty() {
            return self.bytes.clone();
        }
        let mut out = Vec::with_capacity(self.bytes.len() + self.edits.len() * 8);
        out.extend_from_slice(&self.bytes[..self.text_start]);
        // Edits grouped by line.
        let mut by_line: BTreeMap<usize, Vec<(usize, &str)>> = BTreeMap::new();
        for ((student, index), value) in &self.edits {
            let row = &self.students[*student];
            by_line
                .entry(row.line_index)
                .or_default()
                .push((*index, value.as_str()));
        }
        let student_by_line: HashMap<usize, usize> = self
            .students
            .iter()
            .enumerate()
            .map(|(i, s)| (s.line_index, i))
            .collect();
        for (line_index, span) in self.lines.iter().enumerate() {
            match by_line.get(&line_index) {
                None => out.extend_from_slice(&self.bytes[span.start..span.next]),
                Some(edits) => {
                    let row = &self.students[student_by_line[&line_index]];
                    let last_index = edits
                        .iter()
                        .map(|(i, _)| *i)
                        .max()
                        .unwrap_or(0)
                        .max(row.cells.len() - 1);
                    let mut replaced: Vec<Option<&str>> = vec![None; last_index + 1];
                    for (index, value) in edits {
                        replaced[*index] = Some(value);
                    }
                    for (index, new_value) in replaced.iter().enumerate() {
                        if index > 0 {
                            out.push(b'\t');
                        }
                        if let Some(value) = new_value {
                            out.extend(encode(value, self.encoding).unwrap_or_default());
                        } else if let Some(&(s, e)) = row.cells.get(index) {
                            out.extend_from_slice(&self.bytes[s..e]);
                        }
                    }
                    out.extend_from_slice(&self.bytes[span.end..span.next]);
                }
            }
        }
        out
    }
}

/// Every student row must have the cells XX-APO_VALEURS-XX declares (the 4 fixed ones and one
/// per value column): a shorter row has lost values, a longer one with values past the last
/// column is shifted. Empty cells past the last column (trailing separators) carry nothing
/// and are accepted. The last line of the file, short and without a line ending, was cut
/// (a truncated upload or copy): refused too unless `options` accepts it.
fn check_row_lengths(
    bytes: &[u8],
    lines: &[LineSpan],
    value_ids: &[String],
    students: &[StudentRow],
    options: ParseOptions,
) -> Result<Option<(usize, TruncatedRow)>, MaquetteError> {
    let expected = value_ids.len();
    let mut truncated = None;
    for (index, row) in students.iter().enumerate() {
        let cells = row
            .cells
            .iter()
            .rposition(|&(s, e)| !is_blank(&bytes[s..e]))
            .map_or(0, |i| i + 1)
            .max(row.cells.len().min(expected));
        if cells == expected {
            continue;
        }
        let span = &lines[row.line_index];
        let cut = cells < expected && row.line_index + 1 == lines.len() && span.next == span.end;
        if cut && options.accept_truncated_last_row {
            truncated = Some((
                index,
                TruncatedRow {
                    line: row.line,
                    nip: row.nip().to_string(),
                    cells,
                    expected,
                },
            ));
            continue;
        }
        let message = if cut {
            text!(
                "la dernière ligne est tronquée : {cells} cellules là où XX-APO_COLONNES-XX en déclare {expected} (et pas de fin de ligne) ; envoyez le fichier entier, ou acceptez explicitement la ligne tronquée",
                "the last row is cut short: {cells} cells where XX-APO_COLONNES-XX declares {expected} (and no line ending); send the whole file, or accept the cut row explicitly"
            )
        } else if cells < expected {
            text!(
                "la ligne a {cells} cellules là où XX-APO_COLONNES-XX en déclare {expected}",
                "the row has {cells} cells where XX-APO_COLONNES-XX declares {expected}"
            )
        } else {
            text!(
                "la ligne a des valeurs dans {cells} cellules là où XX-APO_COLONNES-XX en déclare {expected}",
                "the row has values in {cells} cells where XX-APO_COLONNES-XX declares {expected}"
            )
        };
        return Err(MaquetteError::at(VALEURS, Some(row.line), message).of_kind(
            MaquetteErrorKind::Malformed {
                cells,
                expected,
                truncated: cut,
            },
        ));
    }
    Ok(truncated)
}

/// The file as Apogée's "Import Base" reads it: ISO-8859-1 (Windows-1252) with CRLF line
/// endings. A file already in that form is returned as is (borrowed, byte for byte); a UTF-8
/// or LF file is re-encoded line by line, refusing a character ISO-8859-1 cannot hold with
/// the section and line where it sits.
pub fn to_apogee_bytes(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, MaquetteError> {
    let (encoding, start) = detect_encoding(bytes);
    let spans = line_spans(bytes, start);
    let crlf_only = spans
        .iter()
        .all(|s| s.next == s.end || &bytes[s.end..s.next] == b"\r\n");
    if encoding == TextEncoding::Latin1 && crlf_only {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut section = FILE;
    for (index, span) in spans.iter().enumerate() {
        let content = &bytes[span.start..span.end];
        if let Some(m) = marker(content) {
            section = match m {
                TITRES => TITRES,
                TYP_RES => TYP_RES,
                COLONNES => COLONNES,
                VALEURS => VALEURS,
                _ => FILE,
            };
        }
        let text = decode(content, encoding);
        let encoded = encode(&text, TextEncoding::Latin1).ok_or_else(|| {
            MaquetteError::at(
                section,
                Some(index + 1),
                Text::fixed(
                    "un caractère ne peut pas s'écrire en ISO-8859-1, l'encodage qu'importe Apogée",
                    "a character cannot be written in ISO-8859-1, the encoding Apogée imports",
                ),
            )
            .of_kind(MaquetteErrorKind::Encoding)
        })?;
        out.extend_from_slice(&encoded);
        if span.next > span.end {
            out.extend_from_slice(b"\r\n");
        }
    }
    Ok(std::borrow::Cow::Owned(out))
}

mod parser;
#[cfg(test)]
mod tests;

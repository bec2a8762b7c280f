//! Filling a maquette from a grade source, the way ScoDoc does (its `sco_apogee_csv.py`), so
//! the file imported into Apogée is the same whichever tool filled it. Pure.
//!
//! Rules, per student row whose NIP is in the source, per value column whose element the
//! source has for that student:
//! - `N` (note): the grade with two decimals and a decimal comma (`12,50`), rounded like
//!   ScoDoc (Python's `%3.2f`, which Rust's `{:.2}` matches). ScoDoc writes an empty cell for
//!   a 0 average; passerelle writes `0,00` unless `zero_note_as_empty` is set (a zero is a
//!   grade).
//! - A note outside 0..barème (25, -1) is refused: none of that element's cells (note, barème,
//!   result, jury points) are written for that student, and the report says so.
//! - A démissionnaire or défaillant (the element's result is DEM or DEF): note `0,01`,
//!   barème, result `NAR`, whatever note the source gives — ScoDoc's rule for the étape (VET)
//!   and semester elements ("note non nulle pour les démissionnaires"; ScoDoc only gives
//!   DEM/DEF as a semester or year decision). Listed in the report.
//! - `B` (barème): `20` (or `FillOptions::scale`) when a note is written.
//! - `R` (result): the jury code mapped to an Apogée code — ADM→ADM, ADJ→ADM, ADC→ADMC, AJ→AJ,
//!   CMP→COMP, ATT/ATB/ATJ→AJAC, DEM/DEF/NAR→NAR, RAT→ATT — then `FillOptions::result_codes`
//!   (overrides and additions, e.g. BUT codes). A code that maps to nothing is written as is
//!   when XX-APO_TYP_RES-XX lists it (it is already an Apogée code), otherwise left out and
//!   reported. (ScoDoc writes `DEF` for unknown codes; passerelle refuses to guess.)
//! - `J` (jury points): emptied by default — the seed removes jury points on purpose —, or
//!   kept, or taken from the source (`FillOptions::jury_points`).
//! - anything else: untouched.
//!
//! Students absent from the source keep their row; elements the source lacks keep their
//! cells; (NIP, element) pairs the source gives twice are left alone. Only changed cells
//! change bytes (see `Maquette::set_value`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::grades::{GradeEntry, GradeSource};
use super::maquette::{Maquette, MaquetteError, ResultType};

/// What to do with jury-points (`J`) columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JuryPoints {
    /// Empty them for the elements the source fills (default).
    #[default]
    Empty,
    /// Leave them as they are.
    Keep,
    /// Write the source's jury points (empty when it has none).
    FromSource,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FillOptions {
    /// Jury code → Apogée code, applied before the default table (so it can override it).
    pub result_codes: BTreeMap<String, String>,
    pub jury_points: JuryPoints,
    /// The barème written in `B` columns and used to bound notes.
    pub scale: f64,
    /// Write an empty cell instead of `0,00` for a zero note (ScoDoc's behaviour).
    pub zero_note_as_empty: bool,
    /// Accept a maquette whose last row is cut short (see `ParseOptions`). Per request, never
    /// from the configuration: the caller says it for the file it sends.
    #[serde(skip)]
    pub accept_truncated_last_row: bool,
}

impl Default for FillOptions {
    fn default() -> Self {
        FillOptions {
            result_codes: BTreeMap::new(),
            jury_points: JuryPoints::Empty,
            scale: 20.0,
            zero_note_as_empty: false,
            accept_truncated_last_row: false,
        }
    }
}

/// ScoDoc's jury code → Apogée result code table.
pub fn default_result_code(jury_code: &str) -> Option<&'static str> {
    Some(match jury_code {
        "ADM" | "ADJ" => "ADM",
        "ADC" => "ADMC",
        "AJ" => "AJ",
        "CMP" => "COMP",
        "ATT" | "ATB" | "ATJ" => "AJAC",
        "DEM" | "DEF" | "NAR" => "NAR",
        "RAT" => "ATT",
        _ => return None,
    })
}

/// The Apogée code to write for a source code, or `None` when it maps to nothing.
pub fn apogee_result_code(
    code: &str,
    options: &FillOptions,
    maquette: &Maquette,
) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    // Case-insensitive: configuration keys from environment variables arrive lower-cased.
    if let Some((_, mapped)) = options
        .result_codes
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&code))
    {
        return Some(mapped.clone());
    }
    if let Some(mapped) = default_result_code(&code) {
        return Some(mapped.to_string());
    }
    maquette.accepts_result_code(&code).then_some(code)
}

/// `12.5` → `12,50`.
pub fn format_note(note: f64) -> String {
    format!("{note:.2}").replace('.', ",")
}

/// `20.0` → `20`; a non-integral barème keeps its decimals.
pub fn format_scale(scale: f64) -> String {
    if scale.fract() == 0.0 && scale.abs() < 1e9 {
        format!("{}", scale as i64)
    } else {
        format_note(scale)
    }
}

/// Whether a note fits the barème.
pub fn note_in_range(note: f64, scale: f64) -> bool {
    (0.0..=scale).contains(&note)
}

/// A result code the fill could not map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnmappedResult {
    pub nip: String,
    pub element: String,
    pub code: String,
}

/// A note left out because it is outside 0..barème.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SkippedNote {
    pub nip: String,
    pub element: String,
    pub note: f64,
}

/// What a fill did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FillSummary {
    /// Student rows found in the source.
    pub students_in_source: usize,
    /// Of those, rows where at least one cell changed.
    pub students_changed: usize,
    /// Student rows absent from the source, left untouched.
    pub students_untouched: usize,
    pub cells_changed: usize,
    pub unmapped_results: Vec<UnmappedResult>,
    pub skipped_notes: Vec<SkippedNote>,
    /// Elements of démissionnaires / défaillants written as ScoDoc does (0,01, barème, NAR).
    pub withdrawn: Vec<WithdrawnElement>,
}

/// An element whose result is DEM or DEF: written `0,01` / barème / `NAR`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WithdrawnElement {
    pub nip: String,
    pub element: String,
    /// DEM (démission) or DEF (défaillance), as the source gives it.
    pub code: String,
    /// The note the source gave, replaced by 0,01.
    pub source_note: Option<f64>,
}

/// The note ScoDoc writes for a démissionnaire or défaillant: non-zero, so that Apogée keeps
/// the result.
pub const WITHDRAWN_NOTE: f64 = 0.01;

/// The Apogée result of a démissionnaire or défaillant.
pub const WITHDRAWN_RESULT: &str = "NAR";

/// DEM or DEF (any case), the codes ScoDoc writes as 0,01 / 20 / NAR.
pub fn withdrawn_code(result: Option<&str>) -> Option<&'static str> {
    match result.map(|r| r.trim().to_ascii_uppercase()).as_deref() {
        Some("DEM") => Some("DEM"),
        Some("DEF") => Some("DEF"),
        _ => None,
    }
}

/// What one element's cells receive for one student (`None`: leave the cell).
struct ElementValues {
    note: Option<String>,
    scale: Option<String>,
    result: Option<String>,
}

/// The values of one element for one student, or `None` when the element is left alone
/// entirely (its note is refused). Records what the report must say.
fn element_values(
    nip: &str,
    code: &str,
    entry: &GradeEntry,
    options: &FillOptions,
    maquette: &Maquette,
    summary: &mut FillSummary,
) -> Option<ElementValues> {
    if let Some(withdrawn) = withdrawn_code(entry.result.as_deref()) {
        summary.withdrawn.push(WithdrawnElement {
            nip: nip.to_string(),
            element: code.to_string(),
            code: withdrawn.to_string(),
            source_note: entry.note,
        });
        return Some(ElementValues {
            note: Some(format_note(WITHDRAWN_NOTE)),
            scale: Some(format_scale(options.scale)),
            result: Some(WITHDRAWN_RESULT.to_string()),
        });
    }
    if let Some(n) = entry.note
        && !note_in_range(n, options.scale)
    {
        summary.skipped_notes.push(SkippedNote {
            nip: nip.to_string(),
            element: code.to_string(),
            note: n,
        });
        return None;
    }
    let result = entry.result.as_ref().and_then(|jury_code| {
        let mapped = apogee_result_code(jury_code, options, maquette);
        if mapped.is_none() {
            summary.unmapped_results.push(UnmappedResult {
                nip: nip.to_string(),
                element: code.to_string(),
                code: jury_code.clone(),
            });
        }
        mapped
    });
    Some(ElementValues {
        note: entry.note.map(|n| {
            if n == 0.0 && options.zero_note_as_empty {
                String::new()
            } else {
                format_note(n)
            }
        }),
        scale: entry.note.map(|_| format_scale(options.scale)),
        result,
    })
}

/// Fills `maquette` in place from `source`.
pub fn fill(
    maquette: &mut Maquette,
    source: &GradeSource,
    options: &FillOptions,
) -> Result<FillSummary, MaquetteError> {
    let mut summary = FillSummary::default();
    // Each VALEURS cell's column, resolved once.
    let columns: Vec<Option<(String, ResultType)>> = (0..maquette.value_ids().len())
        .map(|i| {
            (i >= 4)
                .then(|| maquette.value_column(i))
                .flatten()
                .map(|c| (c.code.clone(), c.result_type.clone()))
        })
        .collect();
    for student in 0..maquette.students().len() {
        let nip = maquette.students()[student].nip().to_string();
        let Some(entries) = source.students.get(&nip) else {
            summary.students_untouched += 1;
            continue;
        };
        if maquette.is_truncated(student) {
            // A cut row the caller accepted: its last cell may be cut too, so nothing is
            // written in it (the check names it).
            summary.students_untouched += 1;
            continue;
        }
        summary.students_in_source += 1;
        let mut changed = false;
        // Per element: whether it is written at all, and the values of its cells.
        let mut decided: BTreeMap<&str, Option<ElementValues>> = BTreeMap::new();
        for (index, column) in columns.iter().enumerate() {
            let Some((code, result_type)) = column else {
                continue;
            };
            let Some(entry) = entries.get(code) else {
                continue;
            };
            if !source.duplicates.is_empty() && source.is_duplicate(&nip, code) {
                continue;
            }
            let values = decided.entry(code.as_str()).or_insert_with(|| {
                element_values(&nip, code, entry, options, maquette, &mut summary)
            });
            let Some(values) = values else {
                continue;
            };
            let value: Option<String> = match result_type {
                ResultType::Note => values.note.clone(),
                ResultType::Scale => values.scale.clone(),
                ResultType::Result => values.result.clone(),
                ResultType::JuryPoints => match options.jury_points {
                    JuryPoints::Empty => Some(String::new()),
                    JuryPoints::Keep => None,
                    JuryPoints::FromSource => {
                        Some(entry.jury_points.map(format_note).unwrap_or_default())
                    }
                },
                ResultType::Other(_) => None,
            };
            if let Some(value) = value
                && maquette.set_value(student, index, &value)?
            {
                summary.cells_changed += 1;
                changed = true;
            }
        }
        if changed {
            summary.students_changed += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;

//! Checks between a maquette and a grade source, as a report: what the seed's scolarité
//! verifies by hand before and after "Import Base". Pure.
//!
//! The report serialises to JSON (for the API) and renders as plain text in French (for
//! the people who read it). It names students by NIP and name: it is for managers, never for
//! logs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::diff::MaquetteDiff;
use super::fill::{FillOptions, apogee_result_code, note_in_range, withdrawn_code};
use super::grades::{DuplicateKey, GradeEntry, GradeSource, SourceKind, parse_note};
use super::maquette::{Maquette, ResultType, TruncatedRow};
use crate::i18n::Lang;
use crate::writeln_in;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaquetteSummary {
    pub file_name: Option<String>,
    pub academic_year: i32,
    pub etape: String,
    pub etape_version: String,
    pub students: usize,
    pub elements: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceSummary {
    pub kind: SourceKind,
    pub students: usize,
    pub year: Option<i32>,
    pub etape: Option<String>,
}

/// A maquette student, as the report names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StudentRef {
    pub nip: String,
    pub last_name: String,
    pub first_name: String,
    /// 1-based line in the maquette.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownElement {
    pub element: String,
    /// How many students the source gives it for.
    pub students: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MissingDecision {
    pub nip: String,
    /// Elements with a result column and no result in the source.
    pub elements: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateRow {
    pub nip: String,
    pub lines: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch<T> {
    pub maquette: T,
    pub source: T,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NoteOutOfRange {
    pub nip: String,
    pub element: String,
    pub note: f64,
    pub scale: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnmappedCode {
    pub nip: String,
    pub element: String,
    pub code: String,
}

/// A note already in the maquette replaced by a lower one (a repeating student's 15,00 by 9,50):
/// the seed asks to check such a student by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoweredNote {
    pub nip: String,
    pub element: String,
    /// `apoL_c0005`…
    pub column_id: String,
    /// As written in the maquette Apogée exported, and in the file to import.
    pub before: String,
    pub after: String,
}

/// The notes of `diff` that went down (both cells numbers, the new one lower).
pub fn lowered_notes(diff: &MaquetteDiff) -> Vec<LoweredNote> {
    diff.changes
        .iter()
        .filter(|c| c.result_type == ResultType::Note.letter())
        .filter(|c| match (parse_note(&c.before), parse_note(&c.after)) {
            (Some(before), Some(after)) => after < before,
            _ => false,
        })
        .map(|c| LoweredNote {
            nip: c.nip.clone(),
            element: c.element_code.clone(),
            column_id: c.column_id.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
        })
        .collect()
}

/// Everything that differs between what the maquette expects and what the source gives.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    pub maquette: MaquetteSummary,
    pub source: SourceSummary,
    /// In the maquette, absent from the source (their rows stay as they are).
    pub not_in_source: Vec<StudentRef>,
    /// In the source, absent from the maquette (their grades go nowhere).
    pub not_in_maquette: Vec<String>,
    /// Elements of the source that no column of the maquette holds.
    pub unknown_elements: Vec<UnknownElement>,
    pub missing_decisions: Vec<MissingDecision>,
    pub duplicate_rows_in_maquette: Vec<DuplicateRow>,
    pub duplicates_in_source: Vec<DuplicateKey>,
    pub year_mismatch: Option<Mismatch<i32>>,
    pub etape_mismatch: Option<Mismatch<String>>,
    pub notes_out_of_range: Vec<NoteOutOfRange>,
    /// Result codes with no Apogée equivalent (configure `FillOptions::result_codes`).
    pub unmapped_result_codes: Vec<UnmappedCode>,
    /// The source gives no value for any (student, element) of this maquette: nothing to
    /// import (a header-only file, the unfilled maquette given back as the source…).
    pub no_grades_for_maquette: bool,
    /// The maquette's last row, cut short, which the caller accepted: left as read.
    pub truncated_last_row: Option<TruncatedRow>,
    /// Notes of the maquette replaced by lower ones (filled in once the file is known).
    pub lowered_notes: Vec<LoweredNote>,
    /// Written in the language of the request that made the report.
    #[serde(serialize_with = "crate::i18n::localized_list")]
    pub warnings: Vec<crate::i18n::Text>,
}

impl CheckReport {
    /// Problems that call for a human decision before import (students absent from the
    /// source are normal — the seed's "étudiant inconnu de ScoDoc" — and not counted).
    pub fn problem_count(&self) -> usize {
        self.not_in_maquette.len()
            + self.unknown_elements.len()
            + self.missing_decisions.len()
            + self.duplicate_rows_in_maquette.len()
            + self.duplicates_in_source.len()
            + usize::from(self.year_mismatch.is_some())
            + usize::from(self.etape_mismatch.is_some())
            + self.notes_out_of_range.len()
            + self.unmapped_result_codes.len()
            + usize::from(self.no_grades_for_maquette)
            + usize::from(self.truncated_last_row.is_some())
            + self.lowered_notes.len()
    }

    pub fn is_clean(&self) -> bool {
        self.problem_count() == 0
    }

    /// The report in French, for people.
    pub fn to_text(&self) -> String {
        self.to_text_in(Lang::Fr)
    }

    /// [`CheckReport::to_text`] in `lang`.
    pub fn to_text_in(&self, lang: Lang) -> String {
        let mut t = String::new();
        let m = &self.maquette;
        let file = m.file_name.as_deref().unwrap_or(match lang {
            Lang::Fr => "(sans nom de fichier)",
            Lang::En => "(no file name)",
        });
        let (etape, version, year, next) = (
            &m.etape,
            &m.etape_version,
            m.academic_year,
            m.academic_year + 1,
        );
        let (students, elements) = (m.students, m.elements);
        writeln_in!(
            t,
            lang,
            "Maquette {file} — étape {etape} (version {version}), année {year}/{next} : {students} étudiants, {elements} éléments",
            "Maquette {file} — étape {etape} (version {version}), year {year}/{next}: {students} students, {elements} elements"
        );
        let kind = match (self.source.kind, lang) {
            (SourceKind::FilledMaquette, Lang::Fr) => "maquette remplie par ScoDoc",
            (SourceKind::FilledMaquette, Lang::En) => "maquette filled by ScoDoc",
            (SourceKind::Csv, Lang::Fr) => "fichier CSV",
            (SourceKind::Csv, Lang::En) => "CSV file",
            (SourceKind::Json, Lang::Fr) => "fichier JSON",
            (SourceKind::Json, Lang::En) => "JSON file",
            (SourceKind::ScoDocApi, Lang::Fr) => "API ScoDoc",
            (SourceKind::ScoDocApi, Lang::En) => "ScoDoc API",
        };
        let students = self.source.students;
        writeln_in!(
            t,
            lang,
            "Source : {kind}, {students} étudiants",
            "Source: {kind}, {students} students"
        );
        if self.is_clean() {
            writeln_in!(
                t,
                lang,
                "Aucune anomalie bloquante.",
                "No blocking anomaly."
            );
        } else {
            let count = self.problem_count();
            writeln_in!(
                t,
                lang,
                "{count} anomalie(s) à examiner :",
                "{count} anomaly(ies) to examine:"
            );
        }
        if let Some(y) = &self.year_mismatch {
            let (m, m1, s, s1) = (y.maquette, y.maquette + 1, y.source, y.source + 1);
            writeln_in!(
                t,
                lang,
                "- Année différente : maquette {m}/{m1}, source {s}/{s1}",
                "- Different year: maquette {m}/{m1}, source {s}/{s1}"
            );
        }
        if let Some(e) = &self.etape_mismatch {
            let (m, s) = (&e.maquette, &e.source);
            writeln_in!(
                t,
                lang,
                "- Étape différente : maquette {m}, source {s}",
                "- Different étape: maquette {m}, source {s}"
            );
        }
        if self.no_grades_for_maquette {
            writeln_in!(
                t,
                lang,
                "- Avertissement : la source ne contient aucune note pour cette maquette (rien à importer)",
                "- Warning: the source holds no grade for this maquette (nothing to import)"
            );
        }
        if let Some(r) = &self.truncated_last_row {
            let (line, nip, cells, expected) = (r.line, &r.nip, r.cells, r.expected);
            writeln_in!(
                t,
                lang,
                "- Dernière ligne coupée (ligne {line}, étudiant {nip}) : {cells} cellules sur {expected} ; acceptée à la demande, laissée telle quelle et non remplie — à compléter avant l'import",
                "- Last row cut short (line {line}, student {nip}): {cells} cells of {expected}; accepted on request, left as read and not filled — complete it before the import"
            );
        }
        self.write_student_problems(&mut t, lang);
        if !self.not_in_source.is_empty() {
            writeln_in!(
                t,
                lang,
                "Étudiants de la maquette absents de la source (lignes laissées telles quelles) :",
                "Students of the maquette absent from the source (rows left as they are):"
            );
            for s in &self.not_in_source {
                let (nip, last, first, line) = (&s.nip, &s.last_name, &s.first_name, s.line);
                writeln_in!(
                    t,
                    lang,
                    "  {nip} {last} {first} (ligne {line})",
                    "  {nip} {last} {first} (line {line})"
                );
            }
        }
        for w in &self.warnings {
            let w = w.get(lang);
            writeln_in!(t, lang, "Remarque : {w}", "Note: {w}");
        }
        t
    }

    /// One line per student or element problem.
    fn write_student_problems(&self, t: &mut String, lang: Lang) {
        for d in &self.duplicate_rows_in_maquette {
            let lines: Vec<String> = d.lines.iter().map(usize::to_string).collect();
            let (nip, lines) = (&d.nip, lines.join(", "));
            writeln_in!(
                t,
                lang,
                "- Étudiant {nip} présent plusieurs fois dans la maquette (lignes {lines})",
                "- Student {nip} present several times in the maquette (lines {lines})"
            );
        }
        for d in &self.duplicates_in_source {
            let nip = &d.nip;
            match &d.element {
                Some(e) => writeln_in!(
                    t,
                    lang,
                    "- Étudiant {nip} : élément {e} donné plusieurs fois par la source (non reporté)",
                    "- Student {nip}: element {e} given several times by the source (not transferred)"
                ),
                None => writeln_in!(
                    t,
                    lang,
                    "- Étudiant {nip} présent plusieurs fois dans la source",
                    "- Student {nip} present several times in the source"
                ),
            }
        }
        for nip in &self.not_in_maquette {
            writeln_in!(
                t,
                lang,
                "- Étudiant {nip} présent dans la source mais absent de la maquette Apogée",
                "- Student {nip} present in the source but absent from the Apogée maquette"
            );
        }
        for u in &self.unknown_elements {
            let (element, students) = (&u.element, u.students);
            writeln_in!(
                t,
                lang,
                "- Élément {element} absent de la maquette ({students} étudiant(s)) : ajoutez-le à la maquette d'export Apogée",
                "- Element {element} absent from the maquette ({students} student(s)): add it to the Apogée export maquette"
            );
        }
        for d in &self.missing_decisions {
            let (nip, elements) = (&d.nip, d.elements.join(", "));
            writeln_in!(
                t,
                lang,
                "- Étudiant {nip} : décision de jury manquante pour {elements}",
                "- Student {nip}: jury decision missing for {elements}"
            );
        }
        for n in &self.notes_out_of_range {
            let (nip, element) = (&n.nip, &n.element);
            let note = super::fill::format_note(n.note);
            let scale = super::fill::format_scale(n.scale);
            writeln_in!(
                t,
                lang,
                "- Étudiant {nip} : note {note} hors barème (0 à {scale}) pour {element}",
                "- Student {nip}: note {note} outside the scale (0 to {scale}) for {element}"
            );
        }
        for u in &self.unmapped_result_codes {
            let (nip, code, element) = (&u.nip, &u.code, &u.element);
            writeln_in!(
                t,
                lang,
                "- Étudiant {nip} : code de résultat {code} sans équivalent Apogée pour {element}",
                "- Student {nip}: result code {code} with no Apogée equivalent for {element}"
            );
        }
        for l in &self.lowered_notes {
            let (nip, element, before, after, column) =
                (&l.nip, &l.element, &l.before, &l.after, &l.column_id);
            writeln_in!(
                t,
                lang,
                "- Étudiant {nip} : note de {element} en baisse, {before} remplacée par {after} ({column}) — à vérifier (redoublant ?)",
                "- Student {nip}: note of {element} going down, {before} replaced by {after} ({column}) — to check (repeating the year?)"
            );
        }
    }
}

/// The NIPs the maquette holds on more than one row, with their lines.
fn duplicate_rows(maquette: &Maquette) -> Vec<DuplicateRow> {
    let mut lines_by_nip: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for s in maquette.students() {
        if !s.nip().is_empty() {
            lines_by_nip.entry(s.nip()).or_default().push(s.line);
        }
    }
    lines_by_nip
        .iter()
        .filter(|(_, lines)| lines.len() > 1)
        .map(|(nip, lines)| DuplicateRow {
            nip: nip.to_string(),
            lines: lines.clone(),
        })
        .collect()
}

/// The decisions a student lacks: every element the source grades that has a result
/// column, and the étape, in the maquette's order.
fn lacking_decisions(
    entries: &BTreeMap<String, GradeEntry>,
    with_result: &BTreeSet<&str>,
    vet_codes: &BTreeSet<&str>,
    element_order: &[&str],
) -> Vec<String> {
    let mut lacking: Vec<String> = entries
        .iter()
        .filter(|(element, entry)| {
            with_result.contains(element.as_str())
                && entry.result.is_none()
                && (entry.note.is_some() || entry.jury_points.is_some())
        })
        .map(|(element, _)| element.clone())
        .collect();
    for vet in vet_codes {
        if entries.get(*vet).is_none_or(|e| e.result.is_none()) && !lacking.iter().any(|l| l == vet)
        {
            lacking.push(vet.to_string());
        }
    }
    lacking.sort_by_key(|e| element_order.iter().position(|c| c == e));
    lacking
}

/// The year and the étape, when the source names others than the maquette.
#[allow(clippy::type_complexity)]
fn mismatches(
    maquette: &Maquette,
    source: &GradeSource,
) -> (Option<Mismatch<i32>>, Option<Mismatch<String>>) {
    let year_mismatch = source
        .year
        .filter(|&y| y != maquette.academic_year())
        .map(|y| Mismatch {
            maquette: maquette.academic_year(),
            source: y,
        });
    let etape_mismatch = source
        .etape
        .as_ref()
        .filter(|e| !e.eq_ignore_ascii_case(maquette.etape()))
        .map(|e| Mismatch {
            maquette: maquette.etape().to_string(),
            source: e.clone(),
        });
    (year_mismatch, etape_mismatch)
}

/// The maquette's students the source does not grade (their rows are left as they are).
fn not_in_source(maquette: &Maquette, source: &GradeSource) -> Vec<StudentRef> {
    maquette
        .students()
        .iter()
        .filter(|s| !s.nip().is_empty() && !source.students.contains_key(s.nip()))
        .map(|s| StudentRef {
            nip: s.nip().to_string(),
            last_name: s.last_name().trim().to_string(),
            first_name: s.first_name().trim().to_string(),
            line: s.line,
        })
        .collect()
}

/// Compares a maquette with a grade source.
pub fn check(maquette: &Maquette, source: &GradeSource, options: &FillOptions) -> CheckReport {
    let maquette_nips: BTreeSet<&str> = maquette
        .students()
        .iter()
        .map(|s| s.nip())
        .filter(|n| !n.is_empty())
        .collect();
    let element_order: Vec<&str> = maquette.element_codes();
    let elements: BTreeSet<&str> = element_order.iter().copied().collect();
    let with_result: BTreeSet<&str> = maquette
        .columns()
        .iter()
        .filter(|c| c.result_type == ResultType::Result)
        .map(|c| c.code.as_str())
        .collect();
    let vet_codes: BTreeSet<&str> = maquette
        .columns()
        .iter()
        .filter(|c| c.object_type == "VET" && c.result_type == ResultType::Result)
        .map(|c| c.code.as_str())
        .collect();

    let not_in_maquette = source
        .students
        .keys()
        .filter(|nip| !maquette_nips.contains(nip.as_str()))
        .cloned()
        .collect();

    // Whether any (student, element) of the source lands in this maquette.
    let no_grades_for_maquette = !source.students.iter().any(|(nip, entries)| {
        maquette_nips.contains(nip.as_str())
            && entries.keys().any(|e| elements.contains(e.as_str()))
    });
    let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
    let mut missing_decisions = Vec::new();
    let mut notes_out_of_range = Vec::new();
    let mut unmapped_result_codes = Vec::new();
    for (nip, entries) in &source.students {
        for (element, entry) in entries {
            if !elements.contains(element.as_str()) {
                *unknown.entry(element.as_str()).or_default() += 1;
                continue;
            }
            // A démissionnaire's note is replaced by 0,01: its value does not matter.
            if let Some(note) = entry.note
                && !note_in_range(note, options.scale)
                && withdrawn_code(entry.result.as_deref()).is_none()
            {
                notes_out_of_range.push(NoteOutOfRange {
                    nip: nip.clone(),
                    element: element.clone(),
                    note,
                    scale: options.scale,
                });
            }
            if let Some(code) = &entry.result
                && source.kind != SourceKind::FilledMaquette
                && apogee_result_code(code, options, maquette).is_none()
            {
                unmapped_result_codes.push(UnmappedCode {
                    nip: nip.clone(),
                    element: element.clone(),
                    code: code.clone(),
                });
            }
        }
        if !maquette_nips.contains(nip.as_str()) {
            continue;
        }
        let lacking = lacking_decisions(entries, &with_result, &vet_codes, &element_order);
        if !lacking.is_empty() {
            missing_decisions.push(MissingDecision {
                nip: nip.clone(),
                elements: lacking,
            });
        }
    }

    let (year_mismatch, etape_mismatch) = mismatches(maquette, source);

    CheckReport {
        maquette: MaquetteSummary {
            file_name: maquette.file_name().map(str::to_string),
            academic_year: maquette.academic_year(),
            etape: maquette.etape().to_string(),
            etape_version: maquette.etape_version().to_string(),
            students: maquette.students().len(),
            elements: elements.len(),
        },
        source: SourceSummary {
            kind: source.kind,
            students: source.students.len(),
            year: source.year,
            etape: source.etape.clone(),
        },
        not_in_source: not_in_source(maquette, source),
        not_in_maquette,
        unknown_elements: unknown
            .into_iter()
            .map(|(element, students)| UnknownElement {
                element: element.to_string(),
                students,
            })
            .collect(),
        missing_decisions,
        duplicate_rows_in_maquette: duplicate_rows(maquette),
        duplicates_in_source: source.duplicates.clone(),
        year_mismatch,
        etape_mismatch,
        notes_out_of_range,
        unmapped_result_codes,
        no_grades_for_maquette,
        truncated_last_row: maquette.truncated_row().cloned(),
        lowered_notes: Vec::new(),
        warnings: source.warnings.clone(),
    }
}

#[cfg(test)]
mod tests;

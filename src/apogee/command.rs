//! The offline grade transfer, as one call: the lead's `passerelle grades fill MAQUETTE
//! --source FILE --out OUT` sits on top of [`fill_command`]. Pure.
//!
//! Two modes, chosen by the source:
//! - the source is grades (CSV / JSON, or a [`GradeSource`] from the ScoDoc API): passerelle
//!   fills the maquette itself and returns the filled bytes;
//! - the source is ScoDoc's own export (its zip, or the filled `.TXT`): that file *is* the
//!   result — passerelle returns it byte for byte and only checks it against the maquette
//!   Apogée exported, listing every cell ScoDoc changed.

use serde::Serialize;

use super::check::{CheckReport, check, lowered_notes};
use super::diff::{MaquetteDiff, diff_maquettes};
use super::fill::{
    FillOptions, FillSummary, WITHDRAWN_NOTE, WITHDRAWN_RESULT, fill, format_note, format_scale,
};
use super::grades::{GradeSource, GradeSourceError, SourceFile, read_source};
use super::maquette::{Maquette, MaquetteError, ParseOptions, to_apogee_bytes};
use crate::i18n::Lang;
use crate::writeln_in;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    /// passerelle filled the maquette from grades.
    FilledByPasserelle,
    /// ScoDoc filled it; passerelle checked it.
    FilledByScoDoc,
}

/// What the command did, for the API (JSON) and for people (`to_text`, French).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FillReport {
    pub mode: FillMode,
    /// The name Apogée expects for the file (`apoC_Fichier_Exp`).
    pub output_file_name: Option<String>,
    /// The maquette's name inside ScoDoc's zip, in `FilledByScoDoc` mode.
    pub source_entry: Option<String>,
    pub check: CheckReport,
    pub fill: Option<FillSummary>,
    pub diff: MaquetteDiff,
    /// The barème the fill wrote.
    #[serde(skip)]
    scale: f64,
}

impl FillReport {
    /// The report without the cell-by-cell changes (their count only): what a transfer keeps
    /// with its record, since the changes can be recomputed from the two files.
    pub fn summary_text(&self) -> String {
        self.text(false, Lang::Fr)
    }

    /// [`FillReport::summary_text`] in `lang`.
    pub fn summary_text_in(&self, lang: Lang) -> String {
        self.text(false, lang)
    }

    pub fn to_text(&self) -> String {
        self.text(true, Lang::Fr)
    }

    fn text(&self, changes: bool, lang: Lang) -> String {
        let mut t = String::new();
        match self.mode {
            FillMode::FilledByPasserelle => writeln_in!(
                t,
                lang,
                "Maquette remplie par passerelle.",
                "Maquette filled by passerelle."
            ),
            FillMode::FilledByScoDoc => writeln_in!(
                t,
                lang,
                "Maquette remplie par ScoDoc : contrôle seulement, fichier inchangé.",
                "Maquette filled by ScoDoc: checked only, file unchanged."
            ),
        }
        if let Some(name) = &self.output_file_name {
            writeln_in!(
                t,
                lang,
                "Fichier attendu par Apogée : {name}",
                "File Apogée expects: {name}"
            );
        }
        if let Some(fill) = &self.fill {
            let (found, changed, untouched, cells) = (
                fill.students_in_source,
                fill.students_changed,
                fill.students_untouched,
                fill.cells_changed,
            );
            writeln_in!(
                t,
                lang,
                "{found} étudiant(s) trouvés dans la source, {changed} ligne(s) modifiée(s), {untouched} laissée(s) telle(s) quelle(s), {cells} cellule(s) écrite(s).",
                "{found} student(s) found in the source, {changed} row(s) changed, {untouched} left as they were, {cells} cell(s) written."
            );
            for s in &fill.skipped_notes {
                let (nip, element) = (&s.nip, &s.element);
                writeln_in!(
                    t,
                    lang,
                    "Note refusée (hors barème) : {nip} {element} — aucune cellule de l'élément écrite (note, barème, résultat, points de jury laissés tels quels)",
                    "Note refused (outside the scale): {nip} {element} — no cell of the element written (note, scale, result, jury points left as they were)"
                );
            }
            for w in &fill.withdrawn {
                let (code, nip, element) = (&w.code, &w.nip, &w.element);
                let (note, scale) = (format_note(WITHDRAWN_NOTE), format_scale(self.scale));
                let (fr_what, en_what) = if w.code == "DEM" {
                    ("Démission", "Withdrawal")
                } else {
                    ("Défaillance", "Default")
                };
                writeln_in!(
                    t,
                    lang,
                    "{fr_what} ({code}) : {nip} {element} — note {note}, barème {scale}, résultat {WITHDRAWN_RESULT}, comme ScoDoc (note non nulle pour les démissionnaires)",
                    "{en_what} ({code}): {nip} {element} — note {note}, scale {scale}, result {WITHDRAWN_RESULT}, as ScoDoc does (a non-zero note for withdrawn students)"
                );
            }
            for u in &fill.unmapped_results {
                let (code, nip, element) = (&u.code, &u.nip, &u.element);
                writeln_in!(
                    t,
                    lang,
                    "Résultat non reporté (code {code} inconnu) : {nip} {element}",
                    "Result not transferred (unknown code {code}): {nip} {element}"
                );
            }
        }
        t.push('\n');
        t.push_str(&self.check.to_text_in(lang));
        t.push('\n');
        t.push_str(&if changes {
            self.diff.to_text_in(lang)
        } else {
            self.diff.summary_text_in(lang)
        });
        t
    }
}

/// Why the command could not run.
#[derive(Debug, thiserror::Error)]
pub enum FillCommandError {
    #[error("the maquette: {0}")]
    Maquette(MaquetteError),
    #[error("the source: {0}")]
    Source(#[from] GradeSourceError),
    #[error("the source holds maquettes for {found:?}, none for étape {etape}")]
    NoMatchingMaquette { etape: String, found: Vec<String> },
    #[error("the source is for étape {in_source}, the maquette for étape {maquette}")]
    EtapeMismatch { maquette: String, in_source: String },
    #[error(
        "the source is for {in_source}/{}, the maquette for {maquette}/{}",
        .in_source + 1,
        .maquette + 1
    )]
    YearMismatch { maquette: i32, in_source: i32 },
}

impl FillCommandError {
    /// Why the fill is refused, in French and English (the `Display` text).
    pub fn text(&self) -> crate::i18n::Text {
        let fr = match self {
            FillCommandError::Maquette(e) => format!("la maquette : {}", e.text().fr),
            FillCommandError::Source(e) => format!("la source : {}", e.text().fr),
            FillCommandError::NoMatchingMaquette { etape, found } => format!(
                "la source contient des maquettes pour {found:?}, aucune pour l'étape {etape}"
            ),
            FillCommandError::EtapeMismatch {
                maquette,
                in_source,
            } => format!(
                "la source est pour l'étape {in_source}, la maquette pour l'étape {maquette}"
            ),
            FillCommandError::YearMismatch {
                maquette,
                in_source,
            } => format!(
                "la source est pour {in_source}/{}, la maquette pour {maquette}/{}",
                in_source + 1,
                maquette + 1
            ),
        };
        crate::i18n::Text::new(fr, self.to_string())
    }

    pub fn code(&self) -> &'static str {
        match self {
            FillCommandError::Maquette(e) => e.code(),
            FillCommandError::Source(e) => e.code(),
            FillCommandError::NoMatchingMaquette { .. } => "no_matching_maquette",
            FillCommandError::EtapeMismatch { .. } => "etape_mismatch",
            FillCommandError::YearMismatch { .. } => "year_mismatch",
        }
    }
}

/// Refuses a source that says it is for another étape or year than the maquette: its grades
/// (or, for ScoDoc's export, its file) belong to other students' records.
fn same_etape_and_year(
    maquette: &Maquette,
    etape: Option<&str>,
    year: Option<i32>,
) -> Result<(), FillCommandError> {
    if let Some(etape) = etape.map(str::trim).filter(|e| !e.is_empty())
        && !etape.eq_ignore_ascii_case(maquette.etape())
    {
        return Err(FillCommandError::EtapeMismatch {
            maquette: maquette.etape().to_string(),
            in_source: etape.to_string(),
        });
    }
    if let Some(year) = year
        && year != maquette.academic_year()
    {
        return Err(FillCommandError::YearMismatch {
            maquette: maquette.academic_year(),
            in_source: year,
        });
    }
    Ok(())
}

fn parse_options(options: &FillOptions) -> ParseOptions {
    ParseOptions {
        accept_truncated_last_row: options.accept_truncated_last_row,
    }
}

/// Where the grades of a transfer come from.
pub enum TransferSource<'a> {
    /// A file: ScoDoc's zip or filled `.TXT`, a grade CSV or JSON.
    File(&'a [u8]),
    /// Grades already gathered (pulled from the ScoDoc API).
    Grades(&'a GradeSource),
}

/// The grade transfer, as the API (`POST /grade-transfers`) and the CLI (`passerelle grades
/// fill`) both run it: fill (or check) the maquette, then hand back the file as Apogée's
/// "Import Base" reads it — ISO-8859-1 with CRLF (unchanged bytes when the maquette already
/// is, which is how Apogée exports it).
pub fn transfer(
    maquette_bytes: &[u8],
    source: TransferSource<'_>,
    options: &FillOptions,
) -> Result<(Vec<u8>, FillReport), FillCommandError> {
    let maquette = Maquette::parse_with(maquette_bytes, parse_options(options))
        .map_err(FillCommandError::Maquette)?;
    transfer_parsed(maquette, source, options)
}

/// [`transfer`] of a maquette the caller already parsed (with the same options).
pub fn transfer_parsed(
    maquette: Maquette,
    source: TransferSource<'_>,
    options: &FillOptions,
) -> Result<(Vec<u8>, FillReport), FillCommandError> {
    let (bytes, report) = match source {
        TransferSource::File(file) => fill_parsed_command(maquette, file, options)?,
        TransferSource::Grades(grades) => fill_parsed(maquette, grades, options)?,
    };
    let out = to_apogee_bytes(&bytes)
        .map_err(FillCommandError::Maquette)?
        .into_owned();
    Ok((out, report))
}

/// Fills (or checks) `maquette_bytes` with the source file `source_bytes`; returns the file to
/// import into Apogée and the report.
pub fn fill_command(
    maquette_bytes: &[u8],
    source_bytes: &[u8],
    options: &FillOptions,
) -> Result<(Vec<u8>, FillReport), FillCommandError> {
    let maquette = Maquette::parse_with(maquette_bytes, parse_options(options))
        .map_err(FillCommandError::Maquette)?;
    fill_parsed_command(maquette, source_bytes, options)
}

/// [`fill_command`] on a parsed maquette.
fn fill_parsed_command(
    maquette: Maquette,
    source_bytes: &[u8],
    options: &FillOptions,
) -> Result<(Vec<u8>, FillReport), FillCommandError> {
    match read_source(source_bytes)? {
        SourceFile::Grades(source) => Ok(fill_parsed(maquette, &source, options)?),
        SourceFile::Maquettes(found) => {
            let mut parsed = Vec::with_capacity(found.len());
            for (name, bytes) in found {
                let filled = Maquette::parse_with(&bytes, parse_options(options))
                    .map_err(GradeSourceError::Maquette)?;
                parsed.push((name, bytes, filled));
            }
            let chosen = if parsed.len() == 1 {
                0
            } else {
                let same_etape: Vec<usize> = (0..parsed.len())
                    .filter(|&i| parsed[i].2.etape() == maquette.etape())
                    .collect();
                match same_etape
                    .iter()
                    .find(|&&i| parsed[i].2.etape_version() == maquette.etape_version())
                    .or(same_etape.first())
                {
                    Some(&i) => i,
                    None => {
                        return Err(FillCommandError::NoMatchingMaquette {
                            etape: maquette.etape().to_string(),
                            found: parsed.iter().map(|p| p.2.etape().to_string()).collect(),
                        });
                    }
                }
            };
            let (name, bytes, filled) = parsed.swap_remove(chosen);
            // ScoDoc's file is the file to import: another étape's or year's is refused.
            same_etape_and_year(
                &maquette,
                Some(filled.etape()),
                Some(filled.academic_year()),
            )?;
            let diff = diff_maquettes(&maquette, &filled);
            // The students ScoDoc filled are those whose row it changed; a row it left as
            // Apogée exported it is a student it did not know (its values, if any, are old).
            let mut source = GradeSource::from_maquette(&filled);
            source
                .students
                .retain(|nip, _| diff.changes.iter().any(|c| &c.nip == nip));
            let mut report_check = check(&maquette, &source, options);
            report_check.lowered_notes = lowered_notes(&diff);
            if report_check.truncated_last_row.is_none() {
                report_check.truncated_last_row = filled.truncated_row().cloned();
            }
            let report = FillReport {
                scale: options.scale,
                mode: FillMode::FilledByScoDoc,
                output_file_name: filled
                    .file_name()
                    .or(maquette.file_name())
                    .map(str::to_string),
                source_entry: Some(name).filter(|n| !n.is_empty()),
                check: report_check,
                fill: None,
                diff,
            };
            Ok((bytes, report))
        }
    }
}

/// Fills a maquette from an already-built source (CSV/JSON parsed, or pulled from the ScoDoc
/// API).
pub fn fill_from_source(
    maquette_bytes: &[u8],
    source: &GradeSource,
    options: &FillOptions,
) -> Result<(Vec<u8>, FillReport), FillCommandError> {
    let maquette = Maquette::parse_with(maquette_bytes, parse_options(options))
        .map_err(FillCommandError::Maquette)?;
    fill_parsed(maquette, source, options)
}

fn fill_parsed(
    maquette: Maquette,
    source: &GradeSource,
    options: &FillOptions,
) -> Result<(Vec<u8>, FillReport), FillCommandError> {
    same_etape_and_year(&maquette, source.etape.as_deref(), source.year)?;
    let mut report_check = check(&maquette, source, options);
    let mut filled = maquette.clone();
    let summary = fill(&mut filled, source, options).map_err(FillCommandError::Maquette)?;
    let diff = diff_maquettes(&maquette, &filled);
    report_check.lowered_notes = lowered_notes(&diff);
    let report = FillReport {
        scale: options.scale,
        mode: FillMode::FilledByPasserelle,
        output_file_name: maquette.file_name().map(str::to_string),
        source_entry: None,
        check: report_check,
        fill: Some(summary),
        diff,
    };
    Ok((filled.to_bytes(), report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apogee::fixtures::{EXPECTED_ROWS, SOURCE_CSV, maquette_latin1};
    use crate::apogee::grades::tests::scodoc_zip;

    #[test]
    fn fills_from_a_csv_and_reports() {
        let (bytes, report) = fill_command(
            &maquette_latin1(),
            SOURCE_CSV.as_bytes(),
            &FillOptions::default(),
        )
        .unwrap();
        assert_eq!(report.mode, FillMode::FilledByPasserelle);
        assert_eq!(report.output_file_name.as_deref(), Some("VDRT_V1RT.TXT"));
        let out = Maquette::parse(&bytes).unwrap();
        for (i, (nip, cells)) in EXPECTED_ROWS.iter().enumerate() {
            assert_eq!(out.students()[i].nip(), *nip);
            let row: Vec<&str> = (4..26).map(|c| out.students()[i].cell(c)).collect();
            assert_eq!(row, cells.to_vec());
        }
        let fill = report.fill.as_ref().unwrap();
        assert_eq!(report.diff.changes.len(), fill.cells_changed);
        assert_eq!(report.check.not_in_maquette, vec!["21900099".to_string()]);
        let text = report.to_text();
        assert!(text.contains("Maquette remplie par passerelle."), "{text}");
        assert!(
            text.contains("Fichier attendu par Apogée : VDRT_V1RT.TXT"),
            "{text}"
        );
        assert!(
            text.contains("cellule(s) modifiée(s) pour 4 étudiant(s)"),
            "{text}"
        );
        let summary = report.summary_text();
        assert!(
            summary.ends_with("cellule(s) modifiée(s) pour 4 étudiant(s)\n"),
            "{summary}"
        );
        assert!(text.starts_with(summary.trim_end()));
        assert!(!summary.contains("DUPONT Alice\n"), "no cell-by-cell list");
    }

    #[test]
    fn a_scodoc_zip_is_returned_unchanged_and_checked() {
        // ScoDoc's filled maquette = what passerelle would have produced.
        let (filled, _) = fill_command(
            &maquette_latin1(),
            SOURCE_CSV.as_bytes(),
            &FillOptions::default(),
        )
        .unwrap();
        let zip = scodoc_zip(&filled);
        let (bytes, report) =
            fill_command(&maquette_latin1(), &zip, &FillOptions::default()).unwrap();
        assert!(
            bytes == filled,
            "the filled maquette is returned byte for byte"
        );
        assert_eq!(report.mode, FillMode::FilledByScoDoc);
        assert_eq!(report.source_entry.as_deref(), Some("VDRT_V1RT.TXT"));
        assert!(report.fill.is_none());
        assert_eq!(report.diff.students_changed(), 4);
        assert!(
            report.check.missing_decisions.is_empty(),
            "{:?}",
            report.check.missing_decisions
        );
        let untouched: Vec<&str> = report
            .check
            .not_in_source
            .iter()
            .map(|s| s.nip.as_str())
            .collect();
        assert_eq!(untouched, vec!["21900005"], "the row ScoDoc left alone");
        assert!(report.to_text().contains("contrôle seulement"));
    }

    #[test]
    fn a_utf8_lf_maquette_comes_back_as_latin1_crlf() {
        let utf8 = crate::apogee::fixtures::maquette_text().replace("\r\n", "\n");
        let (bytes, _) = transfer(
            utf8.as_bytes(),
            TransferSource::File(SOURCE_CSV.as_bytes()),
            &FillOptions::default(),
        )
        .unwrap();
        let (latin1, _) = transfer(
            &maquette_latin1(),
            TransferSource::File(SOURCE_CSV.as_bytes()),
            &FillOptions::default(),
        )
        .unwrap();
        assert!(
            bytes == latin1,
            "same file whatever the maquette's encoding"
        );
        assert_eq!(
            Maquette::parse(&bytes).unwrap().encoding(),
            crate::apogee::text::TextEncoding::Latin1
        );
        assert!(!bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
    }

    #[test]
    fn a_source_of_another_etape_or_year_is_refused_naming_both() {
        let text = crate::apogee::fixtures::maquette_text();
        let latin1 = |t: &str| encoding_rs::WINDOWS_1252.encode(t).0.into_owned();
        let o = FillOptions::default();
        // ScoDoc's export of another étape (one maquette in the zip), or of another year.
        let other_etape = latin1(&text.replace("\tV1RT\t", "\tV2RT\t"));
        let e = fill_command(&maquette_latin1(), &scodoc_zip(&other_etape), &o).unwrap_err();
        assert_eq!(e.code(), "etape_mismatch");
        assert_eq!(
            e.to_string(),
            "the source is for étape V2RT, the maquette for étape V1RT"
        );
        let other_year = latin1(&text.replace("2024/2025", "2023/2024"));
        let e = fill_command(&maquette_latin1(), &other_year, &o).unwrap_err();
        assert_eq!(e.code(), "year_mismatch");
        assert_eq!(
            e.to_string(),
            "the source is for 2023/2024, the maquette for 2024/2025"
        );
        // Grades that say their étape and year.
        let json = |etape: &str, year: i32| {
            format!(
                r#"{{"year": {year}, "etape": "{etape}", "grades": [{{"nip": "21900001", "element": "V1RT", "note": 12, "result": "ADM"}}]}}"#
            )
        };
        let e = fill_command(&maquette_latin1(), json("V2RT", 2024).as_bytes(), &o).unwrap_err();
        assert!(matches!(
            e,
            FillCommandError::EtapeMismatch { ref maquette, ref in_source } if maquette == "V1RT" && in_source == "V2RT"
        ));
        let e = fill_command(&maquette_latin1(), json("V1RT", 2025).as_bytes(), &o).unwrap_err();
        assert_eq!(e.code(), "year_mismatch");
        fill_command(&maquette_latin1(), json("v1rt", 2024).as_bytes(), &o).unwrap();
    }

    #[test]
    fn the_unfilled_maquette_as_source_is_a_warning() {
        let (bytes, report) = fill_command(
            &maquette_latin1(),
            &maquette_latin1(),
            &FillOptions::default(),
        )
        .unwrap();
        assert!(bytes == maquette_latin1());
        assert_eq!(report.mode, FillMode::FilledByScoDoc);
        assert!(report.check.no_grades_for_maquette);
        let text = report.to_text();
        assert!(
            text.contains("la source ne contient aucune note pour cette maquette"),
            "{text}"
        );
        assert!(!text.contains("Aucune anomalie bloquante"), "{text}");
        let (_, report) = fill_command(
            &maquette_latin1(),
            b"nip;element;note;result\n",
            &FillOptions::default(),
        )
        .unwrap();
        assert!(report.check.no_grades_for_maquette);
    }

    #[test]
    fn the_report_says_what_was_done_for_demissionnaires_refused_and_lowered_notes() {
        let source = "nip;element;note;result\n\
            21900004;VRTS1;7;DEM\n\
            21900002;VRTU11;25;AJ\n\
            21900002;VRTM112;9,5;\n";
        let (_, report) = fill_command(
            &maquette_latin1(),
            source.as_bytes(),
            &FillOptions::default(),
        )
        .unwrap();
        let text = report.to_text();
        for expected in [
            "Démission (DEM) : 21900004 VRTS1 — note 0,01, barème 20, résultat NAR, comme ScoDoc",
            "Note refusée (hors barème) : 21900002 VRTU11 — aucune cellule de l'élément écrite",
            "Étudiant 21900002 : note de VRTM112 en baisse, 15,00 remplacée par 9,50",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
        assert_eq!(report.check.lowered_notes.len(), 1);
        // The same check on ScoDoc's own export of those values.
        let (filled, _) = fill_command(
            &maquette_latin1(),
            source.as_bytes(),
            &FillOptions::default(),
        )
        .unwrap();
        let (_, report) = fill_command(
            &maquette_latin1(),
            &scodoc_zip(&filled),
            &FillOptions::default(),
        )
        .unwrap();
        assert_eq!(report.check.lowered_notes[0].after, "9,50");
    }

    #[test]
    fn a_cut_maquette_is_refused_unless_the_caller_accepts_it() {
        let text = crate::apogee::fixtures::maquette_text();
        let start = text.trim_end().rfind("\r\n").unwrap() + 2;
        let cut: Vec<&str> = text[start..].split('\t').take(10).collect();
        let cut = format!("{}{}", &text[..start], cut.join("\t"));
        let e = fill_command(
            cut.as_bytes(),
            SOURCE_CSV.as_bytes(),
            &FillOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "maquette_malformed");
        let accept = FillOptions {
            accept_truncated_last_row: true,
            ..FillOptions::default()
        };
        let (bytes, report) = fill_command(cut.as_bytes(), SOURCE_CSV.as_bytes(), &accept).unwrap();
        assert!(bytes.ends_with(&cut.as_bytes()[start..]));
        assert!(report.check.truncated_last_row.is_some());
        assert!(report.to_text().contains("Dernière ligne coupée"));
    }

    #[test]
    fn errors_carry_their_codes() {
        let e = fill_command(b"nope", SOURCE_CSV.as_bytes(), &FillOptions::default()).unwrap_err();
        assert_eq!(e.code(), "not_a_maquette");
        let e = fill_command(&maquette_latin1(), b"nip;x\n", &FillOptions::default()).unwrap_err();
        assert_eq!(e.code(), "invalid_grade_source");
    }
}

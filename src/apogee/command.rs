//! The offline grade transfer, as one call: the lead's `passerelle grades fill MAQUETTE
//! --source FILE --out OUT` sits on top of [`fill_command`]. Pure.
//!
//! Two modes, chosen by the source:
//! - the source is grades (CSV / JSON, or a [`GradeSource`] from the ScoDoc API): passerelle
//!   fills the maquette itself and returns the filled bytes;
//! - the source is ScoDoc's own export (its zip, or the filled `.TXT`): that file *is* the
//!   result — passerelle returns it byte for byte and only checks it against the maquette
//!   Apogée exported, listing every cell ScoDoc changed.

use std::fmt::Write as _;

use serde::Serialize;

use super::check::{CheckReport, check};
use super::diff::{MaquetteDiff, diff_maquettes};
use super::fill::{FillOptions, FillSummary, fill};
use super::grades::{GradeSource, GradeSourceError, SourceFile, read_source};
use super::maquette::{Maquette, MaquetteError, to_apogee_bytes};

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
}

impl FillReport {
    /// The report without the cell-by-cell changes (their count only): what a transfer keeps
    /// with its record, since the changes can be recomputed from the two files.
    pub fn summary_text(&self) -> String {
        self.text(false)
    }

    pub fn to_text(&self) -> String {
        self.text(true)
    }

    fn text(&self, changes: bool) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{}",
            match self.mode {
                FillMode::FilledByPasserelle => "Maquette remplie par passerelle.",
                FillMode::FilledByScoDoc =>
                    "Maquette remplie par ScoDoc : contrôle seulement, fichier inchangé.",
            }
        );
        if let Some(name) = &self.output_file_name {
            let _ = writeln!(t, "Fichier attendu par Apogée : {name}");
        }
        if let Some(fill) = &self.fill {
            let _ = writeln!(
                t,
                "{} étudiant(s) trouvés dans la source, {} ligne(s) modifiée(s), {} laissée(s) telle(s) quelle(s), {} cellule(s) écrite(s).",
                fill.students_in_source,
                fill.students_changed,
                fill.students_untouched,
                fill.cells_changed
            );
            for s in &fill.skipped_notes {
                let _ = writeln!(
                    t,
                    "Note non reportée (hors barème) : {} {}",
                    s.nip, s.element
                );
            }
            for u in &fill.unmapped_results {
                let _ = writeln!(
                    t,
                    "Résultat non reporté (code {} inconnu) : {} {}",
                    u.code, u.nip, u.element
                );
            }
        }
        t.push('\n');
        t.push_str(&self.check.to_text());
        t.push('\n');
        t.push_str(&if changes {
            self.diff.to_text()
        } else {
            self.diff.summary_text()
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
}

impl FillCommandError {
    pub fn code(&self) -> &'static str {
        match self {
            FillCommandError::Maquette(e) => e.code(),
            FillCommandError::Source(e) => e.code(),
            FillCommandError::NoMatchingMaquette { .. } => "no_matching_maquette",
        }
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
    let (bytes, report) = match source {
        TransferSource::File(file) => fill_command(maquette_bytes, file, options)?,
        TransferSource::Grades(grades) => fill_from_source(maquette_bytes, grades, options)?,
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
    let maquette = Maquette::parse(maquette_bytes).map_err(FillCommandError::Maquette)?;
    match read_source(source_bytes)? {
        SourceFile::Grades(source) => Ok(fill_parsed(maquette, &source, options)?),
        SourceFile::Maquettes(found) => {
            let mut parsed = Vec::with_capacity(found.len());
            for (name, bytes) in found {
                let filled = Maquette::parse(&bytes).map_err(GradeSourceError::Maquette)?;
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
            let diff = diff_maquettes(&maquette, &filled);
            // The students ScoDoc filled are those whose row it changed; a row it left as
            // Apogée exported it is a student it did not know (its values, if any, are old).
            let mut source = GradeSource::from_maquette(&filled);
            source
                .students
                .retain(|nip, _| diff.changes.iter().any(|c| &c.nip == nip));
            let report = FillReport {
                mode: FillMode::FilledByScoDoc,
                output_file_name: filled
                    .file_name()
                    .or(maquette.file_name())
                    .map(str::to_string),
                source_entry: Some(name).filter(|n| !n.is_empty()),
                check: check(&maquette, &source, options),
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
    let maquette = Maquette::parse(maquette_bytes).map_err(FillCommandError::Maquette)?;
    fill_parsed(maquette, source, options)
}

fn fill_parsed(
    maquette: Maquette,
    source: &GradeSource,
    options: &FillOptions,
) -> Result<(Vec<u8>, FillReport), FillCommandError> {
    let report_check = check(&maquette, source, options);
    let mut filled = maquette.clone();
    let summary = fill(&mut filled, source, options).map_err(FillCommandError::Maquette)?;
    let report = FillReport {
        mode: FillMode::FilledByPasserelle,
        output_file_name: maquette.file_name().map(str::to_string),
        source_entry: None,
        check: report_check,
        fill: Some(summary),
        diff: diff_maquettes(&maquette, &filled),
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
    fn errors_carry_their_codes() {
        let e = fill_command(b"nope", SOURCE_CSV.as_bytes(), &FillOptions::default()).unwrap_err();
        assert_eq!(e.code(), "not_a_maquette");
        let e = fill_command(&maquette_latin1(), b"nip;x\n", &FillOptions::default()).unwrap_err();
        assert_eq!(e.code(), "invalid_grade_source");
    }
}

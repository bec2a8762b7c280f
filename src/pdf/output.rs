//! Writing a split to a directory (`passerelle split … --out DIR`): one `<cod_etu>.pdf` per
//! student and `manifest.json`. The only file-system code of the PDF core.

use std::path::Path;

use serde::Serialize;

use super::SplitOutcome;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ManifestDocument {
    pub student: String,
    pub pages: Vec<u32>,
    pub sha256: String,
    pub file: String,
    pub flags: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Manifest {
    pub pages: usize,
    pub skipped: Vec<u32>,
    pub documents: Vec<ManifestDocument>,
}

impl SplitOutcome {
    pub fn manifest(&self) -> Manifest {
        Manifest {
            pages: self.pages,
            skipped: self.skipped.clone(),
            documents: self
                .documents
                .iter()
                .map(|d| ManifestDocument {
                    student: d.student.clone(),
                    pages: d.pages.clone(),
                    sha256: d.sha256.clone(),
                    file: format!("{}.pdf", d.student),
                    flags: d.flags.iter().map(|f| f.to_string()).collect(),
                })
                .collect(),
        }
    }
}

/// Writes each document and the manifest into `dir` (created if needed).
pub fn write_outcome(outcome: &SplitOutcome, dir: &Path) -> std::io::Result<Manifest> {
    std::fs::create_dir_all(dir)?;
    for d in &outcome.documents {
        std::fs::write(dir.join(format!("{}.pdf", d.student)), &d.pdf)?;
    }
    let manifest = outcome.manifest();
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("manifest.json"), json)?;
    Ok(manifest)
}

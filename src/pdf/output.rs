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

/// Writes each document and the manifest into `dir` (created if needed), the documents by up
/// to `threads` workers (creating a thousand files is most of a split's time on one core).
pub fn write_outcome(
    outcome: &SplitOutcome,
    dir: &Path,
    threads: usize,
) -> std::io::Result<Manifest> {
    std::fs::create_dir_all(dir)?;
    let documents: Vec<_> = outcome.documents.iter().collect();
    super::split::in_parallel(documents, threads, |d| {
        std::fs::write(dir.join(format!("{}.pdf", d.student)), &d.pdf)
    })
    .into_iter()
    .collect::<std::io::Result<()>>()?;
    let manifest = outcome.manifest();
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("manifest.json"), json)?;
    Ok(manifest)
}

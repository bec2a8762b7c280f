//! The PDF core: validate an Apogée batch edition, read each page's text, find whose page it
//! is, and split the batch into one standalone PDF per student. Pure functions over bytes
//! (only `output.rs` touches the file system); built on lopdf.
//!
//! Speed comes from doing each thing once: fonts are decoded once per document, content
//! streams are read by a small tokenizer that keeps only text, and output files copy only the
//! objects a student's pages reach.

#[cfg(any(test, feature = "testkit"))]
pub mod fixture;
mod identify;
mod nesting;
pub mod output;
mod split;
mod text;
mod validate;

use serde::{Deserialize, Serialize};

pub use identify::{EditionFacts, Identification, edition_facts, identify_page};
pub use split::split;
pub use validate::validate;

pub use crate::domain::document_kind::{DocumentKind, DocumentKindCode, DocumentKinds, PageLayout};

/// The structural signs of a rewrite after Apogée that validation refuses (`modified_pdf`).
/// Each is on by default; a site whose Apogée editions carry one turns that sign off.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApogeeProfile {
    /// More than one end-of-file section: an incremental update appended after the edition
    /// (a linearized file's two sections are allowed).
    pub refuse_incremental_updates: bool,
    /// A trailer `/ID` whose second element differs from the first: a tool rewrote the file
    /// after it was first written (the first element never changes, the second does).
    pub refuse_changed_file_id: bool,
    /// A cross-reference stream: Oracle Reports writes a classic cross-reference table.
    pub refuse_xref_streams: bool,
    /// Object streams: Oracle Reports writes every object on its own.
    pub refuse_object_streams: bool,
    /// An `/Info` ModDate later than CreationDate by more than `moddate_tolerance_secs`.
    pub refuse_late_moddate: bool,
    /// Seconds a ModDate may follow CreationDate (the time an edition takes to write).
    pub moddate_tolerance_secs: u64,
}

impl Default for ApogeeProfile {
    fn default() -> Self {
        ApogeeProfile {
            refuse_incremental_updates: true,
            refuse_changed_file_id: true,
            refuse_xref_streams: true,
            refuse_object_streams: true,
            refuse_late_moddate: true,
            moddate_tolerance_secs: 300,
        }
    }
}

/// Everything the split can be told. Plain data, embedded in passerelle's configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// The kind the batch is declared as (per upload; configured: the default of
    /// `passerelle split`).
    pub kind: DocumentKindCode,
    /// Every kind the site accepts: the declared kind's page layout and label, and the
    /// markers that tell a batch of another kind (from `[[document_kinds]]`, never under
    /// `[split]`).
    #[serde(skip)]
    pub kinds: DocumentKinds,
    /// Largest batch accepted, in bytes.
    pub max_bytes: u64,
    /// Case-insensitive substrings of the Producer or Creator that identify an Apogée edition.
    pub producer_allow_list: Vec<String>,
    /// Labels that precede (or, in attestations, follow) the student number; compared on
    /// folded text (lower case, no accents), any whitespace between words.
    pub student_labels: Vec<String>,
    /// Also read the INE ("INE : …") when present.
    pub read_ine: bool,
    /// Most bytes any one stream may inflate to (decompression bombs).
    pub max_stream_bytes: usize,
    /// Most bytes all inflated content of the document may reach.
    pub max_total_inflated_bytes: usize,
    /// Most pages a batch may have.
    pub max_pages: usize,
    /// Title of each output PDF; `{student}` and `{kind}` are replaced.
    pub title_template: String,
    /// Tools whose name in Producer/Creator means the file was rewritten after Apogée.
    pub rewriting_tools: Vec<String>,
    /// The structural signs of a rewrite that validation refuses.
    pub apogee_profile: ApogeeProfile,
    /// The academic year the uploader declared (set per upload, never configured): validation
    /// refuses pages printed for another year.
    #[serde(skip)]
    pub academic_year: Option<i32>,
    /// Threads that read pages and build documents; 0 means one per core. The output is the
    /// same bytes whatever the count.
    pub threads: usize,
}

impl SplitConfig {
    /// This configuration for a batch declared as `kind`, among `kinds`.
    pub fn for_kind(&self, kinds: &DocumentKinds, kind: &DocumentKindCode) -> SplitConfig {
        SplitConfig {
            kind: kind.clone(),
            kinds: kinds.clone(),
            ..self.clone()
        }
    }

    /// The declared kind, when it is one of `kinds`.
    pub fn declared_kind(&self) -> Result<&DocumentKind, PdfError> {
        self.kinds
            .get(self.kind.as_str())
            .ok_or_else(|| PdfError::UnknownDocumentKind {
                kind: self.kind.to_string(),
                known: self.kinds.codes(),
            })
    }

    /// The threads the split uses (at least one).
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            kind: DocumentKindCode::default(),
            kinds: DocumentKinds::default(),
            max_bytes: 200 * 1024 * 1024,
            producer_allow_list: vec![
                "oracle reports".into(),
                "oracle pdf driver".into(),
                "oracle bi publisher".into(),
                "apogee".into(),
                "apogée".into(),
            ],
            student_labels: vec![
                "n° etudiant".into(),
                "no etudiant".into(),
                "numero etudiant".into(),
                "numero d'etudiant".into(),
                "n° d'etudiant".into(),
            ],
            read_ine: true,
            max_stream_bytes: 32 * 1024 * 1024,
            max_total_inflated_bytes: 512 * 1024 * 1024,
            max_pages: 100_000,
            title_template: "{kind} — {student}".into(),
            rewriting_tools: vec![
                "acrobat".into(),
                "itext".into(),
                "pdftk".into(),
                "qpdf".into(),
                "ghostscript".into(),
                "libreoffice".into(),
                "microsoft".into(),
                "pypdf".into(),
                "pikepdf".into(),
                "foxit".into(),
                "nitro".into(),
                "pdfsam".into(),
                "smallpdf".into(),
                "ilovepdf".into(),
                "preview".into(),
                "quartz".into(),
            ],
            apogee_profile: ApogeeProfile::default(),
            academic_year: None,
            threads: 0,
        }
    }
}

/// The kind a batch was declared as, and the kind its pages name (boxed in [`PdfError`]: the
/// labels are large and the refusal rare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindMismatch {
    pub declared: DocumentKindCode,
    pub declared_label: crate::i18n::Text,
    pub found: DocumentKindCode,
    pub found_label: crate::i18n::Text,
}

/// Why a batch is refused. Each has a stable problem code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    #[error("the file is empty")]
    EmptyFile,
    #[error("the file is not a PDF")]
    NotAPdf,
    #[error("the file is {size} bytes, over the limit of {limit} bytes")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("the PDF is damaged: {0}")]
    CorruptPdf(crate::i18n::Text),
    #[error("the PDF is encrypted; Apogée editions are not")]
    EncryptedPdf,
    #[error(
        "the pages carry images but no text: a scan is not accepted, edit the document from Apogée"
    )]
    ScannedPdf,
    #[error("the PDF was modified after Apogée edited it: {0}")]
    ModifiedPdf(crate::i18n::Text),
    #[error("the PDF was not produced by Apogée (producer: {0})")]
    NotFromApogee(String),
    #[error("no student number was found on any page")]
    NoStudentFound,
    #[error("page {page} has no student number, but an attestation has one page per student")]
    AttestationContinuation { page: u32 },
    #[error("the PDF is too complex to process safely: {0}")]
    TooComplexPdf(crate::i18n::Text),
    #[error(
        "declared as {}, but the pages are of another kind: {}",
        .0.declared_label.en,
        .0.found_label.en
    )]
    DocumentKindMismatch(Box<KindMismatch>),
    #[error("`{kind}` is not a configured document kind (known: {})", known.join(", "))]
    UnknownDocumentKind { kind: String, known: Vec<String> },
    #[error(
        "declared for academic year {declared}/{}, but the pages are of {found}/{}",
        declared + 1,
        found + 1
    )]
    AcademicYearMismatch { declared: i32, found: i32 },
}

impl PdfError {
    /// Why the batch is refused, in the managers' words and in English (the `Display` text).
    pub fn text(&self) -> crate::i18n::Text {
        use crate::i18n::Text;
        let fr = match self {
            PdfError::EmptyFile => "le fichier est vide".to_owned(),
            PdfError::NotAPdf => "le fichier n'est pas un PDF".to_owned(),
            PdfError::FileTooLarge { size, limit } => {
                format!("le fichier fait {size} octets, au-delà de la limite de {limit} octets")
            }
            PdfError::CorruptPdf(why) => format!("le PDF est endommagé : {}", why.fr),
            PdfError::EncryptedPdf => {
                "le PDF est chiffré ; les éditions d'Apogée ne le sont pas".to_owned()
            }
            PdfError::ScannedPdf => "les pages contiennent des images mais pas de texte : un \
                scan n'est pas accepté, éditez le document depuis Apogée"
                .to_owned(),
            PdfError::ModifiedPdf(why) => {
                format!(
                    "le PDF a été modifié après son édition par Apogée : {}",
                    why.fr
                )
            }
            PdfError::NotFromApogee(producer) => {
                format!("le fichier n'a pas été produit par Apogée (producteur : {producer})")
            }
            PdfError::NoStudentFound => {
                "aucun numéro d'étudiant n'a été trouvé sur les pages".to_owned()
            }
            PdfError::AttestationContinuation { page } => format!(
                "la page {page} n'a pas de numéro d'étudiant, alors qu'une attestation tient \
                 sur une page par étudiant"
            ),
            PdfError::TooComplexPdf(why) => {
                format!(
                    "le PDF est trop complexe pour être traité sans risque : {}",
                    why.fr
                )
            }
            PdfError::DocumentKindMismatch(m) => format!(
                "déclaré comme « {} », mais les pages sont d'un autre type : « {} »",
                m.declared_label.fr, m.found_label.fr
            ),
            PdfError::UnknownDocumentKind { kind, known } => format!(
                "« {kind} » n'est pas un type de document configuré (types connus : {})",
                known.join(", ")
            ),
            PdfError::AcademicYearMismatch { declared, found } => format!(
                "déclaré pour l'année universitaire {declared}/{}, mais les pages sont de \
                 {found}/{}",
                declared + 1,
                found + 1
            ),
        };
        Text::new(fr, self.to_string())
    }

    pub fn code(&self) -> &'static str {
        match self {
            PdfError::EmptyFile => "empty_file",
            PdfError::NotAPdf => "not_a_pdf",
            PdfError::FileTooLarge { .. } => "file_too_large",
            PdfError::CorruptPdf(_) => "corrupt_pdf",
            PdfError::EncryptedPdf => "encrypted_pdf",
            PdfError::ScannedPdf => "scanned_pdf",
            PdfError::ModifiedPdf(_) => "modified_pdf",
            PdfError::NotFromApogee(_) => "not_from_apogee",
            PdfError::NoStudentFound => "no_student_found",
            PdfError::AttestationContinuation { .. } => "attestation_continuation",
            PdfError::TooComplexPdf(_) => "too_complex_pdf",
            PdfError::DocumentKindMismatch(_) => "document_kind_mismatch",
            PdfError::UnknownDocumentKind { .. } => "unknown_document_kind",
            PdfError::AcademicYearMismatch { .. } => "academic_year_mismatch",
        }
    }
}

/// Flags a document can carry (strings, as stored and shown).
pub mod flag {
    /// A page without a number continued the previous student's relevé.
    pub const CONTINUATION: &str = "continuation";
    /// The student's pages came in separate runs and were merged in page order.
    pub const MERGED: &str = "merged";
    /// A page named two different students: never delivered without a manager's check.
    pub const AMBIGUOUS_STUDENT: &str = "ambiguous_student";
}

/// What validation learnt of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidatedPdf {
    pub pages: usize,
    pub producer: Option<String>,
    pub creator: Option<String>,
}

/// One student's document.
#[derive(Debug, Clone)]
pub struct SplitDocument {
    /// The student number as read on the pages.
    pub student: String,
    pub ine: Option<String>,
    /// 1-based page numbers in the batch, in order.
    pub pages: Vec<u32>,
    pub flags: Vec<&'static str>,
    /// The standalone PDF.
    pub pdf: Vec<u8>,
    /// sha256 of `pdf`, hex.
    pub sha256: String,
    /// Folded text of the document's first page (for the identity cross-check).
    pub text: String,
}

/// The outcome of a split.
#[derive(Debug, Clone)]
pub struct SplitOutcome {
    pub pages: usize,
    /// Leading pages without a student number (cover pages), 1-based.
    pub skipped: Vec<u32>,
    pub documents: Vec<SplitDocument>,
    /// Human-readable notes (merges…), with page numbers, never names.
    pub warnings: Vec<crate::i18n::Text>,
}

/// Whether the registry's last name appears on a page's folded text, as whole words
/// (case- and accent-insensitive; "LEFÈVRE-DURAND" and "DE LA FONTAINE" work).
pub fn name_appears(folded_text: &str, last_name: &str) -> bool {
    let name = identify::fold_for_match(last_name);
    if name.is_empty() {
        return false;
    }
    let hay = folded_text.as_bytes();
    let needle = name.as_bytes();
    let mut start = 0;
    while let Some(pos) = folded_text[start..].find(&name) {
        let at = start + pos;
        let before_ok = at == 0 || !hay[at - 1].is_ascii_alphanumeric();
        let end = at + needle.len();
        let after_ok = end == hay.len() || !hay[end].is_ascii_alphanumeric();
        if before_ok && after_ok {
            return true;
        }
        start = at + 1;
    }
    false
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_appear_as_whole_words() {
        let text =
            identify::fold_for_match("Nom : LEFÈVRE-DURAND Prénom : Zoé N° Etudiant : 21901234");
        assert!(name_appears(&text, "Lefèvre-Durand"));
        assert!(name_appears(&text, "lefevre durand"));
        assert!(!name_appears(&text, "LEFEVR"));
        assert!(!name_appears(&text, "DURANDE"));
        let text = identify::fold_for_match("Nom : DE LA FONTAINE");
        assert!(name_appears(&text, "De La Fontaine"));
        assert!(!name_appears(&text, ""));
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(PdfError::ScannedPdf.code(), "scanned_pdf");
        assert_eq!(
            PdfError::AttestationContinuation { page: 2 }.code(),
            "attestation_continuation"
        );
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_tests;

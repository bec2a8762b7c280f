//! Kinds of documents passerelle splits and deposits: the two built in (relevé de notes,
//! attestation de réussite) and those a site declares in `[[document_kinds]]` (certificat de
//! scolarité, attestation d'inscription…). One kind is its code, its labels, the title of its
//! Digiposte deposit and how its pages are recognised. Pure.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::i18n::Text;

/// A kind's code, as the API, the database and the configuration write it: lower-case ASCII
/// letters, digits and `_`, starting with a letter, at most 64 characters (`releve_notes`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentKindCode(String);

impl DocumentKindCode {
    pub const PATTERN: &'static str = "^[a-z][a-z0-9_]{0,63}$";
    pub const RELEVE_NOTES: &'static str = "releve_notes";
    pub const ATTESTATION_REUSSITE: &'static str = "attestation_reussite";

    /// A well-formed code (configured or not).
    pub fn parse(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        (first_ok && rest_ok && s.len() <= 64).then(|| DocumentKindCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DocumentKindCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        // The CLI's and `split.kind`'s former names of the two built-in kinds.
        let s = match s.as_str() {
            "releve" => Self::RELEVE_NOTES.to_owned(),
            "attestation" => Self::ATTESTATION_REUSSITE.to_owned(),
            _ => s,
        };
        Self::parse(&s).ok_or_else(|| {
            format!(
                "`{s}` is not a document kind code (lower-case letters, digits and _, \
                 starting with a letter, at most 64 characters)"
            )
        })
    }
}

impl From<DocumentKindCode> for String {
    fn from(c: DocumentKindCode) -> String {
        c.0
    }
}

impl Default for DocumentKindCode {
    fn default() -> Self {
        DocumentKindCode(Self::RELEVE_NOTES.to_owned())
    }
}

impl std::fmt::Display for DocumentKindCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The spec's `DocumentType`: a string, not an enum, because each site configures its own
/// list; the built-in codes and the seeds' usual ones are documented as examples.
impl utoipa::PartialSchema for DocumentKindCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Self::PATTERN))
            .max_length(Some(64))
            .description(Some(
                "A document kind's code. Built in: `releve_notes` (Relevé de notes, one or more \
                 pages per student) and `attestation_reussite` (Attestation de réussite, one \
                 page per student). A site declares more in `[[document_kinds]]` (e.g. \
                 `certificat_scolarite`, `attestation_inscription`, `attestation_diplome`); an \
                 upload of a kind not configured answers 422 `unknown_document_kind` listing \
                 the configured codes.",
            ))
            .examples([
                serde_json::json!(Self::RELEVE_NOTES),
                serde_json::json!(Self::ATTESTATION_REUSSITE),
                serde_json::json!("certificat_scolarite"),
            ])
            .into()
    }
}

impl utoipa::ToSchema for DocumentKindCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DocumentType")
    }
}

/// How a student's pages follow each other in an edition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PageLayout {
    /// A page without a student number continues the previous student's document (relevés).
    #[default]
    SeveralPerStudent,
    /// Every page names its student; a page without one refuses the batch
    /// (`attestation_continuation`).
    OnePerStudent,
}

/// The Digiposte title of the built-in kinds: "Relevé de notes 2025-2026".
pub const DEFAULT_TITLE_TEMPLATE: &str = "{label} {academic_year}";

fn default_title_template() -> String {
    DEFAULT_TITLE_TEMPLATE.to_owned()
}

/// One kind of document, as configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentKind {
    pub code: DocumentKindCode,
    /// What people read, in French ("Certificat de scolarité").
    #[serde(default)]
    pub label_fr: String,
    /// The same in English ("Certificate of enrolment").
    #[serde(default)]
    pub label_en: String,
    /// Title of the deposit in the student's vault; `{label}` (French), `{academic_year}`
    /// ("2025-2026") and `{year}` ("2025") are replaced.
    #[serde(default = "default_title_template")]
    pub title_template: String,
    /// Phrases of the page text that say an edition is of this kind ("certificat de
    /// scolarité"), compared without case or accents; the phrase met first in the first pages
    /// decides (on the same spot, the longer one). Without any, a batch is never refused as
    /// "of another kind" for this kind, nor recognised as it.
    #[serde(default)]
    pub markers: Vec<String>,
    /// How a student's pages are delimited.
    #[serde(default)]
    pub pages: PageLayout,
}

impl DocumentKind {
    /// Both labels (French for people, English for programs).
    pub fn label(&self) -> Text {
        Text::new(self.label_fr.clone(), self.label_en.clone())
    }

    /// The Digiposte title of a document of this kind for an academic year (2025 = 2025-2026).
    pub fn title(&self, academic_year: i32) -> String {
        self.title_template
            .replace("{label}", &self.label_fr)
            .replace(
                "{academic_year}",
                &format!("{academic_year}-{}", academic_year + 1),
            )
            .replace("{year}", &academic_year.to_string())
    }

    fn builtin(
        code: &str,
        fr: &str,
        en: &str,
        markers: [&str; 2],
        pages: PageLayout,
    ) -> DocumentKind {
        DocumentKind {
            code: DocumentKindCode(code.to_owned()),
            label_fr: fr.to_owned(),
            label_en: en.to_owned(),
            title_template: default_title_template(),
            markers: markers.iter().map(|m| (*m).to_owned()).collect(),
            pages,
        }
    }
}

/// The kinds a site accepts, in order: the built-in ones (unless replaced by a configured
/// entry of the same code), then the configured ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentKinds(Vec<DocumentKind>);

impl Default for DocumentKinds {
    fn default() -> Self {
        DocumentKinds(vec![
            DocumentKind::builtin(
                DocumentKindCode::RELEVE_NOTES,
                "Relevé de notes",
                "Transcript",
                ["relevé de notes", "relevé des notes"],
                PageLayout::SeveralPerStudent,
            ),
            DocumentKind::builtin(
                DocumentKindCode::ATTESTATION_REUSSITE,
                "Attestation de réussite",
                "Certificate of achievement",
                ["attestation de réussite", "attestation de succès"],
                PageLayout::OnePerStudent,
            ),
        ])
    }
}

/// Why a `[[document_kinds]]` entry is refused (the message names the entry's key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `document_kinds[{index}]{field}`: {why}")]
pub struct KindConfigError {
    pub index: usize,
    /// `.label_fr`, `.code`… (empty for the whole entry).
    pub field: &'static str,
    pub why: String,
}

impl DocumentKinds {
    /// The built-in kinds, then `configured` (checked: codes unique, labels and title set).
    pub fn with_configured(configured: &[DocumentKind]) -> Result<Self, KindConfigError> {
        let mut kinds = DocumentKinds::default();
        let mut seen: Vec<&DocumentKindCode> = Vec::new();
        for (index, kind) in configured.iter().enumerate() {
            let fail = |field, why: &str| KindConfigError {
                index,
                field,
                why: why.to_owned(),
            };
            if seen.contains(&&kind.code) {
                return Err(fail(".code", &format!("`{}` is declared twice", kind.code)));
            }
            seen.push(&kind.code);
            if kind.label_fr.trim().is_empty() {
                return Err(fail(".label_fr", "the French label is required"));
            }
            if kind.label_en.trim().is_empty() {
                return Err(fail(".label_en", "the English label is required"));
            }
            if kind.title_template.trim().is_empty() {
                return Err(fail(".title_template", "must not be empty"));
            }
            if kind.markers.iter().any(|m| m.trim().is_empty()) {
                return Err(fail(".markers", "a marker must not be empty"));
            }
            match kinds.0.iter_mut().find(|k| k.code == kind.code) {
                // A built-in kind the site words differently.
                Some(builtin) => *builtin = kind.clone(),
                None => kinds.0.push(kind.clone()),
            }
        }
        Ok(kinds)
    }

    /// The built-in kinds and `configured`, without checks (for configurations built in code;
    /// loading a configuration checks with [`DocumentKinds::with_configured`]).
    pub fn unchecked(configured: &[DocumentKind]) -> Self {
        let mut kinds = DocumentKinds::default();
        for kind in configured {
            match kinds.0.iter_mut().find(|k| k.code == kind.code) {
                Some(builtin) => *builtin = kind.clone(),
                None => kinds.0.push(kind.clone()),
            }
        }
        kinds
    }

    pub fn get(&self, code: &str) -> Option<&DocumentKind> {
        self.0.iter().find(|k| k.code.as_str() == code)
    }

    pub fn iter(&self) -> impl Iterator<Item = &DocumentKind> {
        self.0.iter()
    }

    /// The configured codes, in order (for "expected one of …").
    pub fn codes(&self) -> Vec<String> {
        self.0.iter().map(|k| k.code.to_string()).collect()
    }

    /// The labels of a stored code: a kind since removed from the configuration reads as its
    /// code.
    pub fn label_of(&self, code: &str) -> Text {
        self.get(code)
            .map_or_else(|| Text::untranslated(code.to_owned()), DocumentKind::label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificat() -> DocumentKind {
        DocumentKind {
            code: DocumentKindCode::parse("certificat_scolarite").unwrap(),
            label_fr: "Certificat de scolarité".into(),
            label_en: "Certificate of enrolment".into(),
            title_template: default_title_template(),
            markers: vec!["certificat de scolarité".into()],
            pages: PageLayout::OnePerStudent,
        }
    }

    #[test]
    fn codes_are_checked() {
        for good in ["releve_notes", "certificat_scolarite", "a", "k2"] {
            assert!(DocumentKindCode::parse(good).is_some(), "{good}");
        }
        for bad in ["", "Releve", "2k", "a-b", "é", &"a".repeat(65)] {
            assert!(DocumentKindCode::parse(bad).is_none(), "{bad}");
        }
        // The CLI's former names still read.
        let c: DocumentKindCode = serde_json::from_str("\"attestation\"").unwrap();
        assert_eq!(c.as_str(), "attestation_reussite");
        assert!(serde_json::from_str::<DocumentKindCode>("\"Bad Code\"").is_err());
    }

    #[test]
    fn the_built_in_kinds_come_first_and_configured_ones_follow() {
        let kinds = DocumentKinds::with_configured(&[certificat()]).unwrap();
        assert_eq!(
            kinds.codes(),
            [
                "releve_notes",
                "attestation_reussite",
                "certificat_scolarite"
            ]
        );
        assert_eq!(
            kinds.get("certificat_scolarite").unwrap().title(2025),
            "Certificat de scolarité 2025-2026"
        );
        // Today's Digiposte title of the built-in kinds.
        assert_eq!(
            kinds.get("releve_notes").unwrap().title(2025),
            "Relevé de notes 2025-2026"
        );
        assert_eq!(kinds.label_of("gone").fr, "gone");
        assert_eq!(
            kinds.label_of("attestation_reussite").en,
            "Certificate of achievement"
        );
    }

    #[test]
    fn a_configured_entry_replaces_the_built_in_kind_of_its_code() {
        let mut releve = DocumentKinds::default()
            .get("releve_notes")
            .unwrap()
            .clone();
        releve.label_en = "Grade transcript".into();
        let kinds = DocumentKinds::with_configured(&[releve]).unwrap();
        assert_eq!(kinds.codes(), ["releve_notes", "attestation_reussite"]);
        assert_eq!(
            kinds.get("releve_notes").unwrap().label_en,
            "Grade transcript"
        );
    }

    #[test]
    fn a_code_declared_twice_is_refused() {
        let e = DocumentKinds::with_configured(&[certificat(), certificat()]).unwrap_err();
        assert_eq!((e.index, e.field), (1, ".code"));
        assert!(e.to_string().contains("certificat_scolarite"), "{e}");
    }

    #[test]
    fn a_missing_label_is_refused() {
        let mut k = certificat();
        k.label_fr = " ".into();
        let e = DocumentKinds::with_configured(&[k]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key `document_kinds[0].label_fr`: the French label is required"
        );
        let mut k = certificat();
        k.label_en.clear();
        let e = DocumentKinds::with_configured(&[k]).unwrap_err();
        assert_eq!(e.field, ".label_en");
        let mut k = certificat();
        k.markers.push(String::new());
        assert_eq!(
            DocumentKinds::with_configured(&[k]).unwrap_err().field,
            ".markers"
        );
    }

    #[test]
    fn an_entry_reads_from_toml_with_defaults() {
        let k: DocumentKind = toml::from_str(
            "code = \"certificat_scolarite\"\nlabel_fr = \"Certificat de scolarité\"\n\
             label_en = \"Certificate of enrolment\"\nmarkers = [\"certificat de scolarité\"]\n\
             pages = \"one_per_student\"\n",
        )
        .unwrap();
        assert_eq!(k, certificat());
        assert!(toml::from_str::<DocumentKind>("code = \"x\"\nlabel = \"X\"\n").is_err());
    }
}

//! Is this a batch edited by Apogée, untouched since? Checks in order of cost: size and
//! header, structure (lopdf, bounded), encryption, incremental updates, producer, metadata.
//!
//! "Modified" means: more than one end-of-file section (an incremental update appended
//! after Apogée's `%%EOF`; a linearized file's two sections are allowed), a Producer or
//! Creator naming a rewriting tool beside the Apogée one, a modification date more than five
//! minutes after the creation date, or an XMP history naming a rewriting tool.

use std::panic::{AssertUnwindSafe, catch_unwind};

use lopdf::{Document, LoadOptions, Object};

use super::identify::{edition_facts, fold_for_match};
use super::text::TextReader;
use super::{ApogeeProfile, PdfError, SplitConfig, ValidatedPdf};
use crate::i18n::Text;
use crate::text;

/// Checks a batch without splitting it.
pub fn validate(bytes: &[u8], cfg: &SplitConfig) -> Result<ValidatedPdf, PdfError> {
    load(bytes, cfg).map(|(_, info)| info)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Loads and validates; the split goes on with the loaded document.
pub(super) fn load(bytes: &[u8], cfg: &SplitConfig) -> Result<(Document, ValidatedPdf), PdfError> {
    if bytes.is_empty() {
        return Err(PdfError::EmptyFile);
    }
    if bytes.len() as u64 > cfg.max_bytes {
        return Err(PdfError::FileTooLarge {
            size: bytes.len() as u64,
            limit: cfg.max_bytes,
        });
    }
    let head = &bytes[..bytes.len().min(1024)];
    if !contains(head, b"%PDF-") {
        return Err(PdfError::NotAPdf);
    }
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if !contains(tail, b"%%EOF") {
        return Err(PdfError::CorruptPdf(Text::fixed(
            "tronqué : la marque de fin de fichier manque",
            "truncated: the end-of-file marker is missing",
        )));
    }
    super::nesting::check(bytes, cfg.max_stream_bytes).map_err(PdfError::TooComplexPdf)?;
    let options = LoadOptions {
        max_decompressed_size: Some(cfg.max_stream_bytes),
        ..LoadOptions::default()
    };
    // lopdf parses hostile input defensively, but a panic must never take the service down:
    // this is the last line of defence, not the first.
    let loaded = catch_unwind(AssertUnwindSafe(|| {
        Document::load_mem_with_options(bytes, options)
    }));
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => {
            if contains(bytes, b"/Encrypt") {
                return Err(PdfError::EncryptedPdf);
            }
            return Err(match e {
                lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                }) => PdfError::TooComplexPdf(Text::fixed(
                    "un flux se décompresse au-delà de la limite",
                    "a stream inflates beyond the limit",
                )),
                other => PdfError::CorruptPdf(text!("illisible ({other})", "{other}")),
            });
        }
        Err(_) => {
            return Err(PdfError::CorruptPdf(Text::fixed(
                "la structure ne peut pas être lue",
                "the structure cannot be read",
            )));
        }
    };
    if doc.trailer.has(b"Encrypt") || doc.is_encrypted() {
        return Err(PdfError::EncryptedPdf);
    }
    if doc.xref_recovery.is_some() {
        return Err(PdfError::CorruptPdf(Text::fixed(
            "la table des références croisées est cassée",
            "the cross-reference table is broken",
        )));
    }
    structural_signs(bytes, &doc, &cfg.apogee_profile)?;
    let (producer, creator) = check_origin(&doc, cfg)?;
    let pages = catch_unwind(AssertUnwindSafe(|| doc.get_pages().len())).map_err(|_| {
        PdfError::CorruptPdf(Text::fixed(
            "l'arbre des pages ne peut pas être lu",
            "the page tree cannot be read",
        ))
    })?;
    if pages == 0 {
        return Err(PdfError::CorruptPdf(Text::fixed(
            "le document n'a aucune page",
            "the document has no pages",
        )));
    }
    if pages > cfg.max_pages {
        let max = cfg.max_pages;
        return Err(PdfError::TooComplexPdf(text!(
            "{pages} pages, au-delà de la limite de {max}",
            "{pages} pages, over the limit of {max}"
        )));
    }
    declared_facts(&doc, cfg)?;
    Ok((
        doc,
        ValidatedPdf {
            pages,
            producer,
            creator,
        },
    ))
}

/// The file comes from Apogée and no tool rewrote it since: its producer or creator is on
/// the allow list, no rewriting tool is named, its dates and metadata history agree. Gives
/// the producer and the creator.
fn check_origin(
    doc: &Document,
    cfg: &SplitConfig,
) -> Result<(Option<String>, Option<String>), PdfError> {
    let producer = info_string(doc, b"Producer");
    let creator = info_string(doc, b"Creator");
    let matches_any = |value: &Option<String>, list: &[String]| {
        value.as_ref().is_some_and(|v| {
            let v = fold_for_match(v);
            list.iter().any(|entry| {
                let entry = fold_for_match(entry);
                !entry.is_empty() && v.contains(&entry)
            })
        })
    };
    let from_apogee = matches_any(&producer, &cfg.producer_allow_list)
        || matches_any(&creator, &cfg.producer_allow_list);
    if !from_apogee {
        return Err(PdfError::NotFromApogee(
            producer
                .clone()
                .or(creator.clone())
                .unwrap_or_else(|| "unknown".into()),
        ));
    }
    for value in [&producer, &creator] {
        if matches_any(value, &cfg.rewriting_tools) && !matches_any(value, &cfg.producer_allow_list)
        {
            let tool = value.as_deref().unwrap_or_default();
            return Err(PdfError::ModifiedPdf(text!(
                "réécrit par {tool}",
                "rewritten by {tool}"
            )));
        }
    }
    let tolerance = cfg
        .apogee_profile
        .moddate_tolerance_secs
        .min(i64::MAX as u64) as i64;
    if cfg.apogee_profile.refuse_late_moddate
        && let (Some(created), Some(modified)) =
            (info_date(doc, b"CreationDate"), info_date(doc, b"ModDate"))
        && modified - created > chrono::Duration::seconds(tolerance)
    {
        return Err(PdfError::ModifiedPdf(Text::fixed(
            "sa date de modification est postérieure à sa création",
            "its modification date is later than its creation",
        )));
    }
    if let Some(agent) = xmp_rewriting_agent(doc, cfg) {
        return Err(PdfError::ModifiedPdf(text!(
            "l'historique de ses métadonnées nomme {agent}",
            "its metadata history names {agent}"
        )));
    }
    Ok((producer, creator))
}

/// The rewrite signs of the profile that the file's structure shows.
fn structural_signs(bytes: &[u8], doc: &Document, profile: &ApogeeProfile) -> Result<(), PdfError> {
    let modified = |why: Text| Err(PdfError::ModifiedPdf(why));
    let eofs = count(bytes, b"%%EOF");
    let linearized = contains(&bytes[..bytes.len().min(1024)], b"/Linearized");
    if profile.refuse_incremental_updates && eofs > 1 && !(linearized && eofs == 2) {
        return modified(Text::fixed(
            "une mise à jour incrémentale a été ajoutée après l'édition",
            "an incremental update was appended after the edition",
        ));
    }
    if profile.refuse_changed_file_id
        && let Ok(Object::Array(ids)) = doc.trailer.get(b"ID")
        && let [Object::String(first, _), Object::String(second, _)] = ids.as_slice()
        && first != second
    {
        return modified(Text::fixed(
            "son identifiant de fichier a changé après la première écriture (trailer /ID)",
            "its file identifier changed after it was first written (trailer /ID)",
        ));
    }
    // Name tokens, so a stream's compressed bytes cannot look like them by chance.
    if profile.refuse_xref_streams && contains(bytes, b"/XRef") {
        return modified(Text::fixed(
            "il a un flux de références croisées, ce que les éditions d'Apogée n'ont pas",
            "it has a cross-reference stream, which Apogée's editions do not have",
        ));
    }
    if profile.refuse_object_streams && contains(bytes, b"/ObjStm") {
        return modified(Text::fixed(
            "il a des flux d'objets, ce que les éditions d'Apogée n'ont pas",
            "it has object streams, which Apogée's editions do not have",
        ));
    }
    Ok(())
}

/// Pages read for the kind and the year: the cover page and the first students'.
const FACT_PAGES: usize = 4;

/// The kind and academic year the first pages print, against what the uploader declared.
/// Pages that name neither are not refused (an edition's wording can differ).
fn declared_facts(doc: &Document, cfg: &SplitConfig) -> Result<(), PdfError> {
    let budget = std::sync::atomic::AtomicUsize::new(cfg.max_total_inflated_bytes);
    let mut reader = TextReader::new(doc, cfg.max_stream_bytes, &budget);
    let mut text = String::new();
    for id in doc.get_pages().values().take(FACT_PAGES) {
        // An unreadable page is the split's to report, with its page number.
        if let Ok(page) = reader.page_text(*id) {
            text.push_str(&fold_for_match(&page));
            text.push(' ');
        }
    }
    let declared = cfg.declared_kind()?;
    let facts = edition_facts(&text, &cfg.kinds);
    if let Some(found) = facts.kind
        && found != declared.code
    {
        return Err(PdfError::DocumentKindMismatch(Box::new(
            super::KindMismatch {
                declared: declared.code.clone(),
                declared_label: declared.label(),
                found_label: cfg.kinds.label_of(found.as_str()),
                found,
            },
        )));
    }
    if let (Some(declared), Some(found)) = (cfg.academic_year, facts.academic_year)
        && declared != found
    {
        return Err(PdfError::AcademicYearMismatch { declared, found });
    }
    Ok(())
}

/// A text entry of the Info dictionary, decoded (UTF-16 with BOM, or PDFDocEncoding ≈ Latin-1).
pub(super) fn info_string(doc: &Document, key: &[u8]) -> Option<String> {
    let info = match doc.trailer.get(b"Info").ok()? {
        Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        Object::Dictionary(d) => d,
        _ => return None,
    };
    let bytes = match info.get(key).ok()? {
        Object::String(b, _) => b.clone(),
        Object::Reference(id) => match doc.get_object(*id).ok()? {
            Object::String(b, _) => b.clone(),
            _ => return None,
        },
        _ => return None,
    };
    Some(decode_text_string(&bytes))
}

pub(super) fn decode_text_string(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xfe, 0xff]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Ok(s) = std::str::from_utf8(bytes) {
        s.to_owned()
    } else {
        bytes.iter().map(|&b| b as char).collect()
    }
}

/// "D:20250612143000+02'00'" → UTC date-time (the offset applied when given).
fn info_date(doc: &Document, key: &[u8]) -> Option<chrono::NaiveDateTime> {
    let s = info_string(doc, key)?;
    parse_pdf_date(&s)
}

pub(super) fn parse_pdf_date(s: &str) -> Option<chrono::NaiveDateTime> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return None;
    }
    let num = |from: usize, len: usize, default: u32| -> u32 {
        digits
            .get(from..from + len)
            .and_then(|d| d.parse().ok())
            .unwrap_or(default)
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4, 0) as i32, num(4, 2, 1), num(6, 2, 1))?;
    let local = date.and_hms_opt(num(8, 2, 0), num(10, 2, 0), num(12, 2, 0))?;
    let rest = &s[digits.len()..];
    let offset = match rest.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let nums: Vec<i64> = rest[1..]
                .split(|c: char| !c.is_ascii_digit())
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.parse().ok())
                .collect();
            let minutes =
                nums.first().copied().unwrap_or(0) * 60 + nums.get(1).copied().unwrap_or(0);
            if sign == '+' { minutes } else { -minutes }
        }
        _ => 0,
    };
    Some(local - chrono::Duration::minutes(offset))
}

/// A rewriting tool named as `softwareAgent` (or CreatorTool) in the XMP metadata.
fn xmp_rewriting_agent(doc: &Document, cfg: &SplitConfig) -> Option<String> {
    let catalog = doc.catalog().ok()?;
    let id = catalog.get(b"Metadata").ok()?.as_reference().ok()?;
    let stream = doc.get_object(id).ok()?.as_stream().ok()?;
    let content = stream
        .decompressed_content_with_limit(cfg.max_stream_bytes)
        .unwrap_or_else(|_| stream.content.clone());
    let text = String::from_utf8_lossy(&content).to_lowercase();
    for marker in ["softwareagent", "creatortool"] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(marker) {
            let at = from + pos + marker.len();
            from = at;
            let window: String = text[at..].chars().take(120).collect();
            if let Some(tool) = cfg
                .rewriting_tools
                .iter()
                .find(|t| window.contains(t.as_str()))
            {
                return Some(tool.clone());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_with_offsets() {
        let d = parse_pdf_date("D:20250612143000+02'00'").unwrap();
        assert_eq!(d.to_string(), "2025-06-12 12:30:00");
        assert_eq!(
            parse_pdf_date("D:20250612").unwrap().to_string(),
            "2025-06-12 00:00:00"
        );
        assert!(parse_pdf_date("yesterday").is_none());
    }

    #[test]
    fn text_strings_decode() {
        assert_eq!(decode_text_string(&[0xfe, 0xff, 0, b'O', 0, b'k']), "Ok");
        assert_eq!(decode_text_string(b"Oracle Reports"), "Oracle Reports");
        assert_eq!(decode_text_string(&[b'A', 0xe9]), "Aé");
    }
}

//! Whose page is it: the student number next to its label ("N° Etudiant : 21901234", or the
//! number just before its label as some attestations extract), and optionally the INE.
//! Works on folded text, so case, accents and line breaks do not matter. A number that is not
//! next to a label never counts; two different labelled numbers on one page are reported, not
//! guessed between.

use super::{DocumentKindCode, DocumentKinds};
use crate::domain::text::fold;

/// Lower case, accents removed, every character but letters, digits, `°` and `:` turned into
/// a space, spaces collapsed: "N°  Étudiant\n:" becomes "n° etudiant :".
pub fn fold_for_match(s: &str) -> String {
    let folded = fold(s);
    let mut out = String::with_capacity(folded.len());
    let mut space = false;
    for c in folded.chars() {
        // "Nº" (ordinal indicator) is written for "N°" too.
        let c = if c == 'º' { '°' } else { c };
        let keep = c.is_alphanumeric() || c == '°' || c == ':';
        if keep {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
            // "n°étudiant" reads as "n° etudiant".
            if c == '°' {
                space = true;
            }
        } else {
            space = true;
        }
    }
    out
}

/// What a page says about its student.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identification {
    /// The labelled student number, if exactly one.
    pub student: Option<String>,
    /// Several different labelled numbers were found (the first is in `student`).
    pub ambiguous: bool,
    pub ine: Option<String>,
}

const MIN_DIGITS: usize = 6;
const MAX_DIGITS: usize = 10;

/// Finds the student number (and INE) in a page's folded text. `labels` must be folded with
/// [`fold_for_match`].
pub fn identify_page(text: &str, labels: &[String], read_ine: bool) -> Identification {
    let mut found: Vec<String> = Vec::new();
    for label in labels {
        let mut from = 0;
        while let Some(pos) = text[from..].find(label.as_str()) {
            let at = from + pos;
            let end = at + label.len();
            from = at + 1;
            if at > 0 && text.as_bytes()[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            // "label : 21901234" — the usual order.
            if let Some(n) = number_after(&text[end..]) {
                push_unique(&mut found, n);
                continue;
            }
            // "21901234 label" — the order some attestations extract in.
            if let Some(n) = number_before(&text[..at]) {
                push_unique(&mut found, n);
            }
        }
    }
    let ine = if read_ine { find_ine(text) } else { None };
    Identification {
        ambiguous: found.len() > 1,
        student: found.into_iter().next(),
        ine,
    }
}

fn push_unique(list: &mut Vec<String>, n: String) {
    if !list.contains(&n) {
        list.push(n);
    }
}

/// " : 21901234 …" → the digits, when the label is followed (after spaces and an optional
/// colon) by a run of 6 to 10 digits standing alone.
fn number_after(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches(' ');
    let rest = rest
        .strip_prefix(':')
        .unwrap_or(rest)
        .trim_start_matches(' ');
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let next = rest[digits.len()..].chars().next();
    let standalone = next.is_none_or(|c| !c.is_alphanumeric());
    ((MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) && standalone).then_some(digits)
}

/// "… 21901234 " before a label → the digits, when they stand alone just before it.
fn number_before(head: &str) -> Option<String> {
    let head = head.trim_end_matches(' ');
    let head = head.strip_suffix(':').unwrap_or(head).trim_end_matches(' ');
    let digits: String = head
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let before = head[..head.len() - digits.len()].chars().next_back();
    let standalone = before.is_none_or(|c| !c.is_alphanumeric());
    ((MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) && standalone).then_some(digits)
}

/// "ine : 1234567890a" → "1234567890A".
fn find_ine(text: &str) -> Option<String> {
    let mut from = 0;
    while let Some(pos) = text[from..].find("ine") {
        let at = from + pos;
        from = at + 1;
        let standalone_before = at == 0 || !text.as_bytes()[at - 1].is_ascii_alphanumeric();
        let rest = &text[at + 3..];
        if !standalone_before || rest.chars().next().is_some_and(char::is_alphanumeric) {
            continue;
        }
        let rest = rest.trim_start_matches(' ');
        let rest = rest
            .strip_prefix(':')
            .unwrap_or(rest)
            .trim_start_matches(' ');
        let id: String = rest
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if id.len() == 11 {
            return Some(id.to_ascii_uppercase());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        crate::pdf::SplitConfig::default()
            .student_labels
            .iter()
            .map(|l| fold_for_match(l))
            .collect()
    }

    fn id(raw: &str) -> Identification {
        identify_page(&fold_for_match(raw), &labels(), true)
    }

    #[test]
    fn label_variants_are_recognised() {
        for raw in [
            "N° Etudiant : 21901234",
            "N° étudiant: 21901234",
            "No étudiant 21901234",
            "Numéro étudiant :21901234",
            "NUMERO ETUDIANT\n:\n21901234",
            "n°étudiant : 21901234",
            "N°\tEtudiant\r\n 21901234",
            "Numéro d'étudiant : 21901234",
        ] {
            assert_eq!(id(raw).student.as_deref(), Some("21901234"), "{raw:?}");
        }
    }

    #[test]
    fn reversed_order_of_attestations() {
        let i = id("ATTESTATION DE RÉUSSITE 21901234 N° étudiant Mme Zoé LEFÈVRE");
        assert_eq!(i.student.as_deref(), Some("21901234"));
        assert!(!i.ambiguous);
    }

    #[test]
    fn unlabelled_or_malformed_numbers_do_not_count() {
        assert_eq!(id("Code étape 21901234 Année 2025").student, None);
        assert_eq!(id("N° Etudiant : 123").student, None);
        assert_eq!(id("N° Etudiant : 21901234567").student, None);
        assert_eq!(id("N° Etudiant : 2190123A").student, None);
        assert_eq!(id("Page de garde - Relevés de notes").student, None);
    }

    #[test]
    fn two_students_on_one_page_are_ambiguous() {
        let i = id("N° Etudiant : 21901234 ... N° Etudiant : 21909999");
        assert!(i.ambiguous);
        // The same number twice is not ambiguous.
        let i = id("N° Etudiant : 21901234 ... 21901234 N° étudiant");
        assert!(!i.ambiguous);
        assert_eq!(i.student.as_deref(), Some("21901234"));
    }

    #[test]
    fn ine_is_read() {
        let i = id("N° Etudiant : 21901234 INE : 1234567890a Nom");
        assert_eq!(i.ine.as_deref(), Some("1234567890A"));
        assert_eq!(id("Discipline : maths").ine, None);
        assert_eq!(id("INE : 123").ine, None);
    }
}

/// What an edition's pages say of themselves: which kind of document, and which academic year
/// (its first year: "2025/2026" is 2025), when the text names them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EditionFacts {
    pub kind: Option<DocumentKindCode>,
    pub academic_year: Option<i32>,
}

/// Reads the kind (the marker found first; on the same spot the longer, more precise one;
/// then the kind listed first) and the academic year (the first two consecutive years,
/// "2025/2026" or "2025-2026") from folded page text.
pub fn edition_facts(folded: &str, kinds: &DocumentKinds) -> EditionFacts {
    let kind = kinds
        .iter()
        .flat_map(|kind| kind.markers.iter().map(move |m| (fold_for_match(m), kind)))
        .filter(|(marker, _)| !marker.is_empty())
        .filter_map(|(marker, kind)| {
            folded
                .find(marker.as_str())
                .map(|at| (at, std::cmp::Reverse(marker.len()), kind))
        })
        .min_by_key(|(at, len, _)| (*at, *len))
        .map(|(_, _, kind)| kind.code.clone());
    let year = |token: &str| -> Option<i32> {
        (token.len() == 4 && token.bytes().all(|b| b.is_ascii_digit()))
            .then(|| token.parse().ok())
            .flatten()
            .filter(|y| (1990..=2100).contains(y))
    };
    let tokens: Vec<&str> = folded.split(' ').collect();
    let academic_year = tokens.windows(2).find_map(|pair| {
        let (first, second) = (year(pair[0])?, year(pair[1])?);
        (second == first + 1).then_some(first)
    });
    EditionFacts {
        kind,
        academic_year,
    }
}

#[cfg(test)]
mod edition_tests {
    use super::*;

    fn facts(text: &str) -> EditionFacts {
        edition_facts(&fold_for_match(text), &DocumentKinds::default())
    }

    fn code(s: &str) -> Option<DocumentKindCode> {
        DocumentKindCode::parse(s)
    }

    #[test]
    fn kind_and_year_are_read_from_the_titles() {
        let releve = facts(
            "UNIVERSITÉ X\nRELEVÉ DE NOTES ET RÉSULTATS\nSession 1 — Année universitaire 2025/2026\nN° Etudiant : 21900001",
        );
        assert_eq!(releve.kind, code("releve_notes"));
        assert_eq!(releve.academic_year, Some(2025));
        let attestation = facts(
            "ATTESTATION DE RÉUSSITE\nN° étudiant : 21900001\nSession 1 de l'année universitaire 2023-2024\nFait le 10 juillet 2024",
        );
        assert_eq!(attestation.kind, code("attestation_reussite"));
        assert_eq!(attestation.academic_year, Some(2023));
    }

    #[test]
    fn numbers_that_are_not_two_following_years_are_not_a_year() {
        // A student number, a date, two years that do not follow each other.
        let f = facts("N° Etudiant : 20252026 le 10 juillet 2026 notes 2025 2027");
        assert_eq!(f, EditionFacts::default());
        // The title met first decides.
        let first = facts("attestation de réussite (voir le relevé de notes joint)");
        assert_eq!(first.kind, code("attestation_reussite"));
    }

    #[test]
    fn configured_markers_recognise_a_kind_and_the_longer_marker_wins_a_tie() {
        use crate::domain::document_kind::{DocumentKind, PageLayout};
        let kind = |code: &str, marker: &str| DocumentKind {
            code: DocumentKindCode::parse(code).unwrap(),
            label_fr: code.into(),
            label_en: code.into(),
            title_template: "{label}".into(),
            markers: vec![marker.into()],
            pages: PageLayout::OnePerStudent,
        };
        let kinds = DocumentKinds::with_configured(&[
            kind("certificat_scolarite", "Certificat de scolarité"),
            kind("attestation_diplome", "Attestation de réussite au diplôme"),
        ])
        .unwrap();
        let of = |text: &str| edition_facts(&fold_for_match(text), &kinds).kind;
        assert_eq!(
            of("UNIVERSITÉ X\nCERTIFICAT DE SCOLARITÉ\nAnnée 2025/2026"),
            code("certificat_scolarite")
        );
        // "attestation de réussite" starts at the same spot: the precise marker decides.
        assert_eq!(
            of("ATTESTATION DE RÉUSSITE AU DIPLÔME de Licence"),
            code("attestation_diplome")
        );
        assert_eq!(of("ATTESTATION DE RÉUSSITE"), code("attestation_reussite"));
        assert_eq!(of("Page de garde"), None);
    }
}

//! A student's erasure from a grade transfer's stored report (the JSON report and its French
//! text): every place that names the student is rewritten under the pseudonym. Pure.
//!
//! The report names students by number (NIP: `nip` fields, lists of numbers such as
//! `check.not_in_maquette` or `diff.students_only_before`) and, for some, by name next to the
//! number (`check.not_in_source`: `nip`, `last_name`, `first_name`); the text repeats them
//! ("Étudiant 21900005 …", "  21900005 MOREAU Ève (ligne 9)"). Other students' entries are
//! left as they are. The transfer's files (maquette, source, filled maquette) are not touched
//! here: they hold the whole étape's grades.

use serde_json::{Map, Value};

/// The last name an erased student is given (as in the student registry).
pub const ANONYMOUS_LAST_NAME: &str = "ANONYME";

/// Who is erased.
#[derive(Clone, Debug)]
pub struct ErasedStudent<'a> {
    /// The student number (COD_ETU = the maquette's NIP).
    pub number: &'a str,
    /// The pseudonym that replaces it.
    pub alias: &'a str,
    /// Names the student may appear under besides those the report gives next to their number
    /// (the registry's): `(last_name, first_name)`.
    pub names: Vec<(String, String)>,
}

/// Rewrites the student's entries in `report` and `text`: in objects whose `nip` or `cod_etu`
/// is the student's number, the number becomes the alias, `last_name` "ANONYME" and
/// `first_name` empty; any other occurrence of the number (a list of numbers, an object key, a
/// word of a string) becomes the alias. In the text, on the lines that give the student's
/// number (the text names a student only next to their number), the number becomes the alias,
/// the student's "last first" names "ANONYME", and their last and first names on their own
/// "ANONYME" and nothing; other lines (another student, a homonym) stay. Returns whether
/// anything changed.
pub fn erase_student_from_report(
    report: &mut Value,
    text: &mut String,
    who: &ErasedStudent<'_>,
) -> bool {
    let number = who.number.trim();
    if number.is_empty() {
        return false;
    }
    let mut names = who.names.clone();
    names_next_to(report, number, &mut names);
    names.retain(|(last, first)| !(last.trim().is_empty() && first.trim().is_empty()));
    names.sort();
    names.dedup();

    let before = report.clone();
    rewrite_value(report, number, who.alias);
    let mut changed = *report != before;

    let new_text = rewrite_text(text, number, who.alias, &names);
    if new_text != *text {
        *text = new_text;
        changed = true;
    }
    changed
}

/// Whether an object of the report is about the student (`nip` or `cod_etu` is their number).
fn names_the_student(object: &Map<String, Value>, number: &str) -> bool {
    ["nip", "cod_etu"].iter().any(|key| {
        object
            .get(*key)
            .and_then(Value::as_str)
            .is_some_and(|v| v.trim() == number)
    })
}

/// Collects the names the report gives next to the student's number.
fn names_next_to(value: &Value, number: &str, names: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            if names_the_student(object, number) {
                let get = |key: &str| {
                    object
                        .get(key)
                        .and_then(Value::as_str)
                        .map(|s| s.trim().to_owned())
                        .unwrap_or_default()
                };
                names.push((get("last_name"), get("first_name")));
            }
            for v in object.values() {
                names_next_to(v, number, names);
            }
        }
        Value::Array(items) => {
            for v in items {
                names_next_to(v, number, names);
            }
        }
        _ => {}
    }
}

fn rewrite_value(value: &mut Value, number: &str, alias: &str) {
    match value {
        Value::Object(object) => {
            if names_the_student(object, number) {
                if let Some(v) = object.get_mut("last_name") {
                    *v = Value::String(ANONYMOUS_LAST_NAME.into());
                }
                if let Some(v) = object.get_mut("first_name") {
                    *v = Value::String(String::new());
                }
            }
            if object.contains_key(number) {
                let entries = std::mem::take(object);
                for (key, v) in entries {
                    let key = if key == number { alias.to_owned() } else { key };
                    object.insert(key, v);
                }
            }
            for v in object.values_mut() {
                rewrite_value(v, number, alias);
            }
        }
        Value::Array(items) => {
            for v in items {
                rewrite_value(v, number, alias);
            }
        }
        Value::String(s) => {
            let replaced = replace_word(s, number, alias);
            if replaced != *s {
                *s = replaced;
            }
        }
        _ => {}
    }
}

fn rewrite_text(text: &str, number: &str, alias: &str, names: &[(String, String)]) -> String {
    // Full names first, longest first ("LEROY Chloé" before "LEROY").
    let mut full: Vec<String> = names
        .iter()
        .map(|(last, first)| {
            format!("{} {}", last.trim(), first.trim())
                .trim()
                .to_owned()
        })
        .filter(|n| !n.is_empty())
        .collect();
    full.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    full.dedup();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        // The text gives a name only next to its number: a line without the student's number
        // is about someone else (a homonym, perhaps) and stays as it is.
        if !contains_word(line, number) {
            out.push_str(line);
            continue;
        }
        let mut line = line.to_owned();
        for name in &full {
            line = replace_word(&line, name, ANONYMOUS_LAST_NAME);
        }
        // Their names on their own go too.
        for (last, first) in names {
            let (last, first) = (last.trim(), first.trim());
            if !last.is_empty() && last != ANONYMOUS_LAST_NAME {
                line = replace_word(&line, last, ANONYMOUS_LAST_NAME);
            }
            if !first.is_empty() {
                line = replace_word(&line, first, "");
            }
        }
        out.push_str(&replace_word(&line, number, alias));
    }
    out
}

fn is_word_char(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

/// The start offsets of `word` in `s` where it is not part of a longer word (so that
/// 2190000 is not found inside 21900003).
fn word_positions(s: &str, word: &str) -> Vec<usize> {
    if word.is_empty() {
        return Vec::new();
    }
    s.match_indices(word)
        .filter(|(i, _)| {
            let before = s[..*i].chars().next_back();
            let after = s[i + word.len()..].chars().next();
            !is_word_char(before) && !is_word_char(after)
        })
        .map(|(i, _)| i)
        .collect()
}

fn contains_word(s: &str, word: &str) -> bool {
    !word_positions(s, word).is_empty()
}

fn replace_word(s: &str, word: &str, by: &str) -> String {
    let positions = word_positions(s, word);
    if positions.is_empty() {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut from = 0;
    for i in positions {
        out.push_str(&s[from..i]);
        out.push_str(by);
        from = i + word.len();
    }
    out.push_str(&s[from..]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn leroy() -> ErasedStudent<'static> {
        ErasedStudent {
            number: "21900003",
            alias: "p-0123",
            names: vec![("LEROY".into(), "Chloé".into())],
        }
    }

    #[test]
    fn rewrites_the_student_and_only_them() {
        let mut report = json!({
            "check": {
                "not_in_source": [
                    {"nip": "21900003", "last_name": "LEROY", "first_name": "Chloé", "line": 7},
                    {"nip": "21900005", "last_name": "MOREAU", "first_name": "Ève", "line": 9}
                ],
                "not_in_maquette": ["21900003", "21900099", "219000031"],
                "missing_decisions": [{"nip": "21900003", "elements": ["V1RT"]}],
                "maquette": {"students": 21900003, "file_name": "VDRT_V1RT.TXT"},
                "warnings": ["line 7: column apoL_c0001 holds a note that is not a number"]
            },
            "by_nip": {"21900003": 1, "21900005": 2},
            "diff": {"students_only_before": ["21900003"], "students_only_after": []}
        });
        let mut text = "Maquette VDRT_V1RT.TXT\n\
- Étudiant 21900003 : décision de jury manquante pour V1RT\n\
- Étudiant 219000031 présent dans la source mais absent de la maquette Apogée\n\
Étudiants de la maquette absents de la source (lignes laissées telles quelles) :\n  \
21900003 LEROY Chloé (ligne 7)\n  21900005 MOREAU Ève (ligne 9)\n\
Homonyme : LEROYER Chloé\n"
            .to_owned();
        assert!(erase_student_from_report(&mut report, &mut text, &leroy()));
        assert_eq!(
            report,
            json!({
                "check": {
                    "not_in_source": [
                        {"nip": "p-0123", "last_name": "ANONYME", "first_name": "", "line": 7},
                        {"nip": "21900005", "last_name": "MOREAU", "first_name": "Ève", "line": 9}
                    ],
                    "not_in_maquette": ["p-0123", "21900099", "219000031"],
                    "missing_decisions": [{"nip": "p-0123", "elements": ["V1RT"]}],
                    "maquette": {"students": 21900003, "file_name": "VDRT_V1RT.TXT"},
                    "warnings": ["line 7: column apoL_c0001 holds a note that is not a number"]
                },
                "by_nip": {"p-0123": 1, "21900005": 2},
                "diff": {"students_only_before": ["p-0123"], "students_only_after": []}
            })
        );
        assert_eq!(
            text,
            "Maquette VDRT_V1RT.TXT\n\
- Étudiant p-0123 : décision de jury manquante pour V1RT\n\
- Étudiant 219000031 présent dans la source mais absent de la maquette Apogée\n\
Étudiants de la maquette absents de la source (lignes laissées telles quelles) :\n  \
p-0123 ANONYME (ligne 7)\n  21900005 MOREAU Ève (ligne 9)\n\
Homonyme : LEROYER Chloé\n"
        );
    }

    #[test]
    fn finds_names_the_registry_does_not_spell_the_same_way() {
        // The maquette writes the name its own way: the report's spelling is used too.
        let mut report = json!({"not_in_source": [
            {"nip": "21900003", "last_name": "LEROY-DURAND", "first_name": "Chloe", "line": 7}
        ]});
        let mut text =
            "  21900003 LEROY-DURAND Chloe (ligne 7)\n  21900008 LEROY Chloé (ligne 12)\n"
                .to_owned();
        assert!(erase_student_from_report(&mut report, &mut text, &leroy()));
        assert_eq!(
            report["not_in_source"][0],
            json!({"nip": "p-0123", "last_name": "ANONYME", "first_name": "", "line": 7})
        );
        // A homonym (another number) keeps their name.
        assert_eq!(
            text,
            "  p-0123 ANONYME (ligne 7)\n  21900008 LEROY Chloé (ligne 12)\n"
        );
    }

    #[test]
    fn a_report_without_the_student_is_unchanged() {
        let original = json!({"not_in_maquette": ["21900099"], "diff": {"cells_changed": 3}});
        let mut report = original.clone();
        let mut text = "Étudiant 21900099 présent dans la source\n".to_owned();
        assert!(!erase_student_from_report(&mut report, &mut text, &leroy()));
        assert_eq!(report, original);
        assert_eq!(text, "Étudiant 21900099 présent dans la source\n");
    }

    #[test]
    fn words_are_matched_whole() {
        assert_eq!(
            replace_word("a 123 1234 x123 123", "123", "N"),
            "a N 1234 x123 N"
        );
        assert_eq!(replace_word("Ève, Ève.", "Ève", ""), ", .");
        assert!(!contains_word("219000031", "21900003"));
    }
}

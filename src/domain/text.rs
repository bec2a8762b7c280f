//! Text folding for search and comparisons: lower case, accents removed, whitespace collapsed,
//! so "LEFÈVRE" and "lefevre" compare equal. Covers Latin-1 and Latin Extended-A, which is
//! what French civil-status names use.

/// Folds one character to its unaccented lower-case form (possibly two letters: œ → oe).
fn fold_char(c: char, out: &mut String) {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'ā' | 'Ā' | 'ă'
        | 'Ă' | 'ą' | 'Ą' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' | 'ć' | 'Ć' | 'ĉ' | 'Ĉ' | 'ċ' | 'Ċ' | 'č' | 'Č' => "c",
        'ď' | 'Ď' | 'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' | 'ē' | 'Ē' | 'ĕ' | 'Ĕ' | 'ė' | 'Ė' | 'ę'
        | 'Ę' | 'ě' | 'Ě' => "e",
        'ĝ' | 'Ĝ' | 'ğ' | 'Ğ' | 'ġ' | 'Ġ' | 'ģ' | 'Ģ' => "g",
        'ĥ' | 'Ĥ' | 'ħ' | 'Ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'ĩ' | 'Ĩ' | 'ī' | 'Ī' | 'ĭ' | 'Ĭ' | 'į'
        | 'Į' | 'ı' | 'İ' => "i",
        'ĳ' | 'Ĳ' => "ij",
        'ĵ' | 'Ĵ' => "j",
        'ķ' | 'Ķ' => "k",
        'ĺ' | 'Ĺ' | 'ļ' | 'Ļ' | 'ľ' | 'Ľ' | 'ŀ' | 'Ŀ' | 'ł' | 'Ł' => "l",
        'ñ' | 'Ñ' | 'ń' | 'Ń' | 'ņ' | 'Ņ' | 'ň' | 'Ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'ō' | 'Ō' | 'ŏ'
        | 'Ŏ' | 'ő' | 'Ő' => "o",
        'œ' | 'Œ' => "oe",
        'ŕ' | 'Ŕ' | 'ŗ' | 'Ŗ' | 'ř' | 'Ř' => "r",
        'ś' | 'Ś' | 'ŝ' | 'Ŝ' | 'ş' | 'Ş' | 'š' | 'Š' => "s",
        'ß' => "ss",
        'ţ' | 'Ţ' | 'ť' | 'Ť' | 'ŧ' | 'Ŧ' => "t",
        'þ' | 'Þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'ũ' | 'Ũ' | 'ū' | 'Ū' | 'ŭ' | 'Ŭ' | 'ů'
        | 'Ů' | 'ű' | 'Ű' | 'ų' | 'Ų' => "u",
        'ŵ' | 'Ŵ' => "w",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' | 'ŷ' | 'Ŷ' => "y",
        'ź' | 'Ź' | 'ż' | 'Ż' | 'ž' | 'Ž' => "z",
        // Typographic apostrophes and dashes, common in names (D’ARTAGNAN).
        '\u{2019}' | '\u{2018}' | '`' => "'",
        '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}' => "-",
        _ => {
            for l in c.to_lowercase() {
                // Combining marks (decomposed input) carry no letter.
                if !('\u{300}'..='\u{36f}').contains(&l) {
                    out.push(l);
                }
            }
            return;
        }
    };
    out.push_str(folded);
}

/// Lower-case, accent-free, single-spaced, trimmed.
/// Bidirectional and zero-width formatting characters (U+200B–U+200F, U+202A–U+202E,
/// U+2066–U+2069): invisible, they make `facture\u{202E}fdp.exe` read as `facture.exe.pdf`.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        fold_char(c, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_french_names() {
        assert_eq!(fold("LEFÈVRE"), "lefevre");
        assert_eq!(fold("  Zoé   Lætitia\tŒRSTED "), "zoe laetitia oersted");
        assert_eq!(fold("D’ARTAGNAN–SMITH"), "d'artagnan-smith");
        // Decomposed accents (e + combining acute) fold the same as precomposed ones.
        assert_eq!(fold("Le\u{301}a"), fold("Léa"));
        assert_eq!(fold("ÇÀ ÑÜ ß"), "ca nu ss");
    }
}

/// The folded words of a name, as indexed for search: "LEFÈVRE-DURAND Zoé" gives
/// ["lefevre", "durand", "zoe"].
pub fn search_terms(parts: &[&str]) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for part in parts {
        for word in fold(part).split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() && !terms.iter().any(|t| t == word) {
                terms.push(word.to_owned());
            }
        }
    }
    terms
}

/// The smallest string greater than every string starting with `prefix` (the prefix with its
/// last character incremented): `prefix <= s < upper` is "s starts with prefix".
pub fn prefix_upper_bound(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only for an empty prefix (or all-maximal characters): no upper bound is needed.
    String::from(char::MAX)
}

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn names_become_folded_words() {
        assert_eq!(
            search_terms(&["LEFÈVRE-DURAND", "Zoé"]),
            vec!["lefevre", "durand", "zoe"]
        );
        assert_eq!(
            search_terms(&["D'ALEMBERT", "Jean Jean"]),
            vec!["d", "alembert", "jean"]
        );
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("dup"), "duq");
        assert_eq!(prefix_upper_bound("219"), "21:");
        let upper = prefix_upper_bound("dup");
        for s in ["dup", "dupont", "dupond", "dup~"] {
            assert!(s >= "dup" && s < upper.as_str(), "{s}");
        }
        for s in ["duo", "duq", "dura"] {
            assert!(!(s >= "dup" && s < upper.as_str()), "{s}");
        }
    }
}

//! INE (identifiant national étudiant) checks. Pure.
//!
//! An INE has 11 characters. Which formats exist, and which carry a key that can be checked
//! offline, comes from public sources (no official specification is published):
//!
//! | format | shape | what is checked here |
//! |---|---|---|
//! | INE-BEA ("base élèves académique", rectorats, since 1995) | 10 digits + 1 key letter | the key: the 10 digits read as a number, modulo 23, indexes the 23-letter alphabet `A…Z` without I, O, Q (the same rule as the UAI key); ten identical digits are refused |
//! | INE-Base 36 (numbers given by universities through Apogée, "NNE 36") | 10 characters `0-9A-Z` + 1 key digit | the key: the last decimal digit of 6 × (sum of the base-36 values of characters 1 to 9) + the base-36 value of character 10; ten identical digits or ten letters are refused |
//! | INE-RNIE (national register, since 2012/2018) | 9 digits + 2 letters from `A-H, J, K` | the shape only: its key is verified by the national register service, no public rule |
//! | INE-SIFA (apprentices) | 4 digits + `A` + 5 digits + 1 letter of the 23-letter alphabet | the shape only |
//! | provisional INE | 4 digits + `D` + 5 digits + 1 letter of the 23-letter alphabet | the shape only |
//!
//! Evidence: the BEA and base-36 key rules are those of ESUP-Portail's eCandidat
//! (`MethodUtils.checkBEA23` / `checkNNE36`, from Université de Rouen) and esup-transferts
//! (`CheckBEA23`, `CheckNNE36`); the five shapes are those validated by public administration
//! services (e.g. betagouv/sante-psy's INE patterns). RNIE letters are restricted to `A-H, J, K`
//! as those services do; SIFA/provisional keys have no public rule, so they are not computed.

use serde::Serialize;

/// The 23-letter alphabet of French administrative keys (no I, O, Q).
const ALPHABET_23: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// Which INE format a (valid) INE is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IneFormat {
    Rnie,
    Bea,
    Base36,
    Sifa,
    Provisional,
}

impl IneFormat {
    pub fn label(self) -> &'static str {
        match self {
            IneFormat::Rnie => "INE-RNIE",
            IneFormat::Bea => "INE-BEA",
            IneFormat::Base36 => "INE-Base 36",
            IneFormat::Sifa => "INE-SIFA",
            IneFormat::Provisional => "provisional INE",
        }
    }

    /// The format's name in French.
    pub fn label_fr(self) -> &'static str {
        match self {
            IneFormat::Provisional => "INE provisoire",
            other => other.label(),
        }
    }
}

/// Why an INE is refused. Messages describe the shape, never the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IneError {
    #[error("an INE has 11 characters, this one has {0}")]
    WrongLength(usize),
    #[error("the INE matches none of the known formats (RNIE, BEA, base 36, SIFA, provisional)")]
    UnknownFormat,
    #[error("the check key of this {} does not match its number", .0.label())]
    WrongKey(IneFormat),
    #[error("the number of this {} is a placeholder (repeated character)", .0.label())]
    Placeholder(IneFormat),
}

impl IneError {
    /// Why, in French and English (the `Display` text).
    pub fn text(self) -> crate::i18n::Text {
        let fr = match self {
            IneError::WrongLength(n) => format!("un INE a 11 caractères, celui-ci en a {n}"),
            IneError::UnknownFormat => "l'INE ne suit aucun des formats connus (RNIE, BEA, \
                base 36, SIFA, provisoire)"
                .to_owned(),
            IneError::WrongKey(format) => format!(
                "la clé de contrôle de cet {} ne correspond pas à son numéro",
                format.label_fr()
            ),
            IneError::Placeholder(format) => format!(
                "le numéro de cet {} est un bouche-trou (caractère répété)",
                format.label_fr()
            ),
        };
        crate::i18n::Text::new(fr, self.to_string())
    }
}

fn is_key_letter(b: u8) -> bool {
    ALPHABET_23.contains(&b)
}

fn all_digits(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_digit)
}

fn all_same(bytes: &[u8]) -> bool {
    bytes.windows(2).all(|w| w[0] == w[1])
}

fn base36_value(b: u8) -> u32 {
    match b {
        b'0'..=b'9' => u32::from(b - b'0'),
        b'A'..=b'Z' => u32::from(b - b'A') + 10,
        _ => 0,
    }
}

/// The BEA key letter of a 10-digit number.
pub fn bea_key(digits: &[u8; 10]) -> u8 {
    let n = digits
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    ALPHABET_23[(n % 23) as usize]
}

/// The base-36 key digit of a 10-character body.
pub fn base36_key(body: &[u8; 10]) -> u8 {
    let sum: u32 =
        body[..9].iter().map(|&b| base36_value(b) * 6).sum::<u32>() + base36_value(body[9]);
    b'0' + (sum % 10) as u8
}

/// Checks an INE already trimmed and upper-cased; returns its format.
pub fn check_ine(ine: &str) -> Result<IneFormat, IneError> {
    let b = ine.as_bytes();
    let chars = ine.chars().count();
    if chars != 11 {
        return Err(IneError::WrongLength(chars));
    }
    if !ine.is_ascii() {
        return Err(IneError::UnknownFormat);
    }
    // INE-BEA: 10 digits + key letter.
    if all_digits(&b[..10]) && b[10].is_ascii_uppercase() {
        if !is_key_letter(b[10]) {
            return Err(IneError::WrongKey(IneFormat::Bea));
        }
        if all_same(&b[..10]) {
            return Err(IneError::Placeholder(IneFormat::Bea));
        }
        let digits: &[u8; 10] = b[..10].try_into().expect("10 bytes");
        return if bea_key(digits) == b[10] {
            Ok(IneFormat::Bea)
        } else {
            Err(IneError::WrongKey(IneFormat::Bea))
        };
    }
    // INE-RNIE: 9 digits + 2 letters.
    if all_digits(&b[..9]) && b[9].is_ascii_uppercase() && b[10].is_ascii_uppercase() {
        let rnie_letter = |c: u8| matches!(c, b'A'..=b'H' | b'J' | b'K');
        return if rnie_letter(b[9]) && rnie_letter(b[10]) {
            Ok(IneFormat::Rnie)
        } else {
            Err(IneError::UnknownFormat)
        };
    }
    // INE-SIFA / provisional: 4 digits + A|D + 5 digits + key letter.
    if all_digits(&b[..4]) && matches!(b[4], b'A' | b'D') && all_digits(&b[5..10]) {
        let format = if b[4] == b'A' {
            IneFormat::Sifa
        } else {
            IneFormat::Provisional
        };
        return if is_key_letter(b[10]) {
            Ok(format)
        } else {
            Err(IneError::UnknownFormat)
        };
    }
    // INE-Base 36: 10 of [0-9A-Z] + key digit.
    if b[..10]
        .iter()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && b[10].is_ascii_digit()
    {
        if (all_digits(&b[..10]) && all_same(&b[..10]))
            || b[..10].iter().all(u8::is_ascii_uppercase)
        {
            return Err(IneError::Placeholder(IneFormat::Base36));
        }
        let body: &[u8; 10] = b[..10].try_into().expect("10 bytes");
        return if base36_key(body) == b[10] {
            Ok(IneFormat::Base36)
        } else {
            Err(IneError::WrongKey(IneFormat::Base36))
        };
    }
    Err(IneError::UnknownFormat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bea_key_follows_the_modulo_23_rule() {
        // 123456789 = 23 × 5367686 + 11, and the 12th letter of A..Z without I, O, Q is M.
        assert_eq!(check_ine("0123456789M"), Ok(IneFormat::Bea));
        assert_eq!(
            check_ine("0123456789N"),
            Err(IneError::WrongKey(IneFormat::Bea))
        );
        // 23 divides 0000000023: remainder 0 gives A.
        assert_eq!(check_ine("0000000023A"), Ok(IneFormat::Bea));
        assert_eq!(
            check_ine("0000000023B"),
            Err(IneError::WrongKey(IneFormat::Bea))
        );
        // I, O, Q are never keys.
        assert_eq!(
            check_ine("0123456789I"),
            Err(IneError::WrongKey(IneFormat::Bea))
        );
        // Ten identical digits: 1111111111 = 23 × 48309178 + 17 → U, refused anyway.
        assert_eq!(
            check_ine("1111111111U"),
            Err(IneError::Placeholder(IneFormat::Bea))
        );
    }

    #[test]
    fn base36_key_follows_the_weighted_sum_rule() {
        // 0DDG5R0001: 6 × (0+13+13+16+5+27+0+0+0) + 1 = 445 → key 5.
        assert_eq!(check_ine("0DDG5R00015"), Ok(IneFormat::Base36));
        assert_eq!(
            check_ine("0DDG5R00016"),
            Err(IneError::WrongKey(IneFormat::Base36))
        );
        // 1234567890: 6 × 45 + 0 = 270 → key 0.
        assert_eq!(check_ine("12345678900"), Ok(IneFormat::Base36));
        assert_eq!(
            check_ine("12345678901"),
            Err(IneError::WrongKey(IneFormat::Base36))
        );
        assert_eq!(
            check_ine("ABCDEFGHJK0"),
            Err(IneError::Placeholder(IneFormat::Base36))
        );
        assert_eq!(
            check_ine("00000000000"),
            Err(IneError::Placeholder(IneFormat::Base36))
        );
    }

    #[test]
    fn rnie_sifa_and_provisional_are_checked_by_shape() {
        assert_eq!(check_ine("123456789AB"), Ok(IneFormat::Rnie));
        assert_eq!(check_ine("123456789JK"), Ok(IneFormat::Rnie));
        assert_eq!(check_ine("123456789AL"), Err(IneError::UnknownFormat));
        assert_eq!(check_ine("2019A12345B"), Ok(IneFormat::Sifa));
        assert_eq!(check_ine("2019A12345O"), Err(IneError::UnknownFormat));
        assert_eq!(check_ine("2019D12345B"), Ok(IneFormat::Provisional));
    }

    #[test]
    fn wrong_lengths_and_shapes_are_refused() {
        assert_eq!(check_ine("123456789A"), Err(IneError::WrongLength(10)));
        assert_eq!(check_ine("123456789ABC"), Err(IneError::WrongLength(12)));
        assert_eq!(check_ine("12345678é9A"), Err(IneError::UnknownFormat));
        assert_eq!(check_ine("1234-678901"), Err(IneError::UnknownFormat));
        assert_eq!(check_ine("12345678 9A"), Err(IneError::UnknownFormat));
    }
}

//! The one CSV writer of the list exports, made for French spreadsheets: UTF-8 with a byte
//! order mark (so accents open intact), `;` between cells, CRLF between records, cells quoted
//! when they must be, and cells a spreadsheet would run as a formula (leading `=`, `+`, `-`,
//! `@`, tab or carriage return) neutralised by a leading apostrophe.

/// The byte order mark that makes spreadsheets read the file as UTF-8.
pub const BOM: &str = "\u{feff}";
/// The cell separator French spreadsheets expect.
pub const SEPARATOR: char = ';';

/// One cell as written: neutralised if it would start a formula, quoted if it holds the
/// separator, a quote or a line break.
pub fn cell(value: &str) -> String {
    let neutral = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if neutral.contains([SEPARATOR, '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// One record: its cells, separated, ended by CRLF.
pub fn record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(&SEPARATOR.to_string());
    line.push_str("\r\n");
    line
}

/// The start of a file: the byte order mark and the header record.
pub fn header(columns: &[&str]) -> String {
    format!("{BOM}{}", record(columns))
}

/// A yes/no cell in French.
pub fn yes_no(value: bool) -> String {
    if value { "oui" } else { "non" }.to_owned()
}

/// An optional cell: empty when absent.
pub fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// An instant cell: RFC 3339 in UTC, to the second.
pub fn date(value: chrono::DateTime<chrono::Utc>) -> String {
    value.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_are_left_as_they_are() {
        assert_eq!(cell("Zoé LEFÈVRE"), "Zoé LEFÈVRE");
        assert_eq!(cell(""), "");
        assert_eq!(cell("2025"), "2025");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+33 6"), "'+33 6");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        // Not at the start: nothing to neutralise.
        assert_eq!(cell("a=b"), "a=b");
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        assert_eq!(cell("a;b"), "\"a;b\"");
        assert_eq!(cell("dit \"oui\""), "\"dit \"\"oui\"\"\"");
        assert_eq!(cell("l1\nl2"), "\"l1\nl2\"");
        assert_eq!(cell("=a;b"), "\"'=a;b\"");
    }

    #[test]
    fn records_and_header() {
        assert_eq!(record(&["a", "b;c", ""]), "a;\"b;c\";\r\n");
        let h = header(&["Numéro étudiant", "Nom"]);
        assert!(h.starts_with('\u{feff}'));
        assert_eq!(&h[3..], "Numéro étudiant;Nom\r\n");
        assert_eq!(yes_no(true), "oui");
        assert_eq!(opt(None::<i32>), "");
        assert_eq!(opt(Some(3)), "3");
    }
}

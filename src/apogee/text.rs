//! Byte-level text helpers shared by the Apogée readers: encoding detection and line spans.
//!
//! Apogée files are ASCII-compatible (ISO-8859-1 / Windows-1252, or UTF-8 on newer portals), and
//! every separator they use (TAB, `;`, CR, LF) is ASCII, so readers split bytes first and decode
//! fields afterwards. That keeps untouched bytes untouched, which the maquette writer relies on.

use std::borrow::Cow;

use serde::Serialize;

/// The character encoding a file was detected in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    /// UTF-8; `bom` tells whether the file started with a byte-order mark.
    Utf8 { bom: bool },
    /// ISO-8859-1, read as Windows-1252 (its superset for the 0x80–0x9F range, which is what
    /// "ANSI" exports from Windows tools mean: `Œ`, `€`, typographic quotes).
    Latin1,
    /// UTF-16 with a byte-order mark (Excel's "Texte Unicode" export). Read only by the
    /// enrolment parser; maquettes are never UTF-16.
    Utf16 { big_endian: bool },
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Detects the encoding: valid UTF-8 (with or without BOM) is UTF-8, anything else Latin-1.
/// Returns the encoding and the offset where text starts (after a BOM).
pub fn detect_encoding(bytes: &[u8]) -> (TextEncoding, usize) {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM)
        && std::str::from_utf8(rest).is_ok()
    {
        return (TextEncoding::Utf8 { bom: true }, UTF8_BOM.len());
    }
    if std::str::from_utf8(bytes).is_ok() {
        (TextEncoding::Utf8 { bom: false }, 0)
    } else {
        (TextEncoding::Latin1, 0)
    }
}

/// Decodes a field (or a whole text) in the detected encoding. Borrowed when the bytes are
/// UTF-8 or pure ASCII.
pub fn decode(bytes: &[u8], encoding: TextEncoding) -> Cow<'_, str> {
    match encoding {
        TextEncoding::Utf8 { .. } => String::from_utf8_lossy(bytes),
        TextEncoding::Latin1 => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
        TextEncoding::Utf16 { big_endian: false } => {
            encoding_rs::UTF_16LE.decode_without_bom_handling(bytes).0
        }
        TextEncoding::Utf16 { big_endian: true } => {
            encoding_rs::UTF_16BE.decode_without_bom_handling(bytes).0
        }
    }
}

/// Detects a UTF-16 byte-order mark; returns the encoding and the BOM length.
pub fn detect_utf16(bytes: &[u8]) -> Option<(TextEncoding, usize)> {
    match bytes {
        [0xFF, 0xFE, ..] => Some((TextEncoding::Utf16 { big_endian: false }, 2)),
        [0xFE, 0xFF, ..] => Some((TextEncoding::Utf16 { big_endian: true }, 2)),
        _ => None,
    }
}

/// Encodes a value for writing into a file of the given encoding; `None` if a character has
/// no representation there.
pub fn encode(text: &str, encoding: TextEncoding) -> Option<Vec<u8>> {
    match encoding {
        TextEncoding::Utf8 { .. } => Some(text.as_bytes().to_vec()),
        TextEncoding::Latin1 => {
            let (bytes, _, had_errors) = encoding_rs::WINDOWS_1252.encode(text);
            if had_errors {
                None
            } else {
                Some(bytes.into_owned())
            }
        }
        // Never written.
        TextEncoding::Utf16 { .. } => None,
    }
}

/// One physical line: `start..end` is its content (without CR LF / LF), `end..next` its
/// terminator (empty on a last line without newline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineSpan {
    pub start: usize,
    pub end: usize,
    pub next: usize,
}

/// Splits `bytes[from..]` into lines. A line ends at LF; a CR just before the LF belongs to the
/// terminator, so CRLF and LF files (and mixed ones) keep their endings exactly.
pub fn line_spans(bytes: &[u8], from: usize) -> Vec<LineSpan> {
    let mut spans = Vec::new();
    let mut start = from;
    while start < bytes.len() {
        match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(rel) => {
                let lf = start + rel;
                let end = if lf > start && bytes[lf - 1] == b'\r' {
                    lf - 1
                } else {
                    lf
                };
                spans.push(LineSpan {
                    start,
                    end,
                    next: lf + 1,
                });
                start = lf + 1;
            }
            None => {
                spans.push(LineSpan {
                    start,
                    end: bytes.len(),
                    next: bytes.len(),
                });
                start = bytes.len();
            }
        }
    }
    spans
}

/// Whether a byte slice holds only spaces and TABs (a "blank" line in Apogée files, which
/// often pad lines with separators).
pub fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == b' ' || b == b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_utf8_with_and_without_bom_and_latin1() {
        assert_eq!(
            detect_encoding("é".as_bytes()),
            (TextEncoding::Utf8 { bom: false }, 0)
        );
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBFabc"),
            (TextEncoding::Utf8 { bom: true }, 3)
        );
        assert_eq!(detect_encoding(b"Ren\xE9"), (TextEncoding::Latin1, 0));
        assert_eq!(decode(b"Ren\xE9", TextEncoding::Latin1), "René");
        assert_eq!(decode(b"\x8Cuvre", TextEncoding::Latin1), "Œuvre");
    }

    #[test]
    fn encodes_back_and_refuses_unrepresentable_characters() {
        assert_eq!(encode("é", TextEncoding::Latin1), Some(vec![0xE9]));
        assert_eq!(encode("日", TextEncoding::Latin1), None);
        assert_eq!(
            encode("日", TextEncoding::Utf8 { bom: false }),
            Some("日".as_bytes().to_vec())
        );
    }

    #[test]
    fn splits_lines_keeping_terminators() {
        let text = b"a\r\nb\n\nc";
        let spans = line_spans(text, 0);
        let contents: Vec<&[u8]> = spans.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(contents, vec![&b"a"[..], b"b", b"", b"c"]);
        let terms: Vec<&[u8]> = spans.iter().map(|s| &text[s.end..s.next]).collect();
        assert_eq!(terms, vec![&b"\r\n"[..], b"\n", b"\n", b""]);
    }
}

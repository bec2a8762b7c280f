//! A linear pre-scan of the file's syntax before lopdf parses it: lopdf's parser recurses on
//! nested arrays and dictionaries (and so does dropping what it built), so a file nesting
//! `[[[[…` a hundred thousand deep would overflow the stack and abort the whole process — a
//! panic guard cannot catch that. Real editions nest a handful of levels; the limit is wide.
//! Compressed object streams are inflated (bounded) and scanned the same way.

use std::io::Read;

use crate::i18n::Text;
use crate::text;

/// Deepest nesting of arrays and dictionaries accepted.
pub const MAX_NESTING: usize = 64;
/// Deepest nesting of parentheses inside a literal string.
const MAX_STRING_NESTING: usize = 256;

/// Checks the nesting of `bytes`; the error says what is too deep.
pub fn check(bytes: &[u8], max_inflated: usize) -> Result<(), Text> {
    scan(bytes, max_inflated, true)
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn scan(bytes: &[u8], max_inflated: usize, outer: bool) -> Result<(), Text> {
    let mut depth = 0usize;
    let mut i = 0;
    // Names seen since the last `obj`, to recognise a compressed object stream.
    let (mut object_stream, mut flate) = (false, false);
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' => {
                let mut parens = 0usize;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'(' => {
                            parens += 1;
                            if parens > MAX_STRING_NESTING {
                                return Err(text!(
                                    "une chaîne imbrique des parenthèses sur plus de {MAX_STRING_NESTING} niveaux",
                                    "a string nests parentheses over {MAX_STRING_NESTING} deep"
                                ));
                            }
                        }
                        b')' => {
                            parens -= 1;
                            if parens == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'[' | b'<' | b']' | b'>' => {
                let double = bytes.get(i + 1) == Some(&b);
                match (b, double) {
                    (b'[', _) | (b'<', true) => {
                        depth += 1;
                        if depth > MAX_NESTING {
                            return Err(text!(
                                "tableaux et dictionnaires s'imbriquent sur plus de {MAX_NESTING} niveaux",
                                "arrays and dictionaries nest over {MAX_NESTING} deep"
                            ));
                        }
                    }
                    (b']', _) | (b'>', true) => depth = depth.saturating_sub(1),
                    // A hex string: no nesting inside.
                    (b'<', false) => {
                        i = find(bytes, b">", i).unwrap_or(bytes.len());
                    }
                    _ => {}
                }
                if double && b != b'[' && b != b']' {
                    i += 1;
                }
            }
            b'/' => {
                let start = i + 1;
                i = start;
                while i < bytes.len() && !is_space(bytes[i]) && !is_delimiter(bytes[i]) {
                    i += 1;
                }
                match &bytes[start..i] {
                    b"ObjStm" => object_stream = true,
                    b"FlateDecode" | b"Fl" => flate = true,
                    _ => {}
                }
                continue;
            }
            _ if is_space(b) || is_delimiter(b) => {}
            _ => {
                let start = i;
                while i < bytes.len() && !is_space(bytes[i]) && !is_delimiter(bytes[i]) {
                    i += 1;
                }
                match &bytes[start..i] {
                    b"obj" => (object_stream, flate) = (false, false),
                    b"stream" => {
                        let mut data = i + usize::from(bytes.get(i) == Some(&b'\r'));
                        data += usize::from(bytes.get(data) == Some(&b'\n'));
                        let end = find(bytes, b"endstream", data).unwrap_or(bytes.len());
                        if outer && object_stream && flate {
                            let mut inflated = Vec::new();
                            let limit = max_inflated as u64 + 1;
                            let read = flate2::read::ZlibDecoder::new(&bytes[data..end])
                                .take(limit)
                                .read_to_end(&mut inflated);
                            // Undecodable streams are lopdf's to refuse; here only depth counts.
                            if read.is_ok() || !inflated.is_empty() {
                                scan(&inflated, max_inflated, false)?;
                            }
                        }
                        i = end + b"endstream".len();
                        depth = 0;
                    }
                    b"endobj" => depth = 0,
                    _ => {}
                }
                continue;
            }
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_syntax_passes() {
        let obj = b"1 0 obj << /Type /Page /Kids [ [1 2] << /A (x(y)z) >> ] /H <0A0B> >> endobj";
        assert!(check(obj, 1 << 20).is_ok());
    }

    #[test]
    fn deep_arrays_and_dictionaries_are_refused() {
        let deep = format!("1 0 obj {}{} endobj", "[".repeat(65), "]".repeat(65));
        assert!(check(deep.as_bytes(), 1 << 20).is_err());
        let ok = format!("1 0 obj {}{} endobj", "<<".repeat(60), ">>".repeat(60));
        assert!(check(ok.as_bytes(), 1 << 20).is_ok());
        // Brackets inside strings, comments and hex strings do not count.
        let quoted = format!(
            "1 0 obj ({}) % {}\n<5B5B> endobj",
            "[".repeat(500),
            "[".repeat(500)
        );
        assert!(check(quoted.as_bytes(), 1 << 20).is_ok());
    }

    #[test]
    fn stream_data_is_skipped_but_object_streams_are_read() {
        let raw = format!(
            "1 0 obj << /Length 3 >> stream\n{}\nendstream endobj",
            "[".repeat(500)
        );
        assert!(check(raw.as_bytes(), 1 << 20).is_ok());
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all("[".repeat(500).as_bytes()).unwrap();
        let packed = z.finish().unwrap();
        let mut objstm = b"1 0 obj << /Type /ObjStm /Filter /FlateDecode >> stream\n".to_vec();
        objstm.extend_from_slice(&packed);
        objstm.extend_from_slice(b"\nendstream endobj");
        assert!(check(&objstm, 1 << 20).is_err());
    }
}

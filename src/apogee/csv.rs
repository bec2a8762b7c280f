//! A small CSV reader shared by the enrolment and grade-source parsers: quoted fields
//! (`""` escapes a quote, separators and newlines allowed inside quotes), borrowed fields
//! unless unquoting changed them, physical line numbers kept.

use std::borrow::Cow;

/// Skips blank lines from `pos`; returns the position and 1-based line of the first non-blank
/// line, or `None` when only blank lines remain.
pub(crate) fn first_non_blank(text: &str) -> Option<(usize, usize)> {
    let mut pos = 0;
    let mut line = 1;
    loop {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        if !text[pos..end].trim().is_empty() {
            return Some((pos, line));
        }
        if end >= text.len() {
            return None;
        }
        pos = end + 1;
        line += 1;
    }
}

/// A minimal CSV record reader over decoded text: fields borrowed unless unquoting changed
/// them, physical line numbers tracked.
pub(crate) struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    sep: u8,
}

impl<'a> CsvReader<'a> {
    /// A reader starting at byte `pos` of `text`, which is on 1-based line `line`.
    pub(crate) fn new(text: &'a str, pos: usize, line: usize, sep: u8) -> Self {
        CsvReader {
            text,
            pos,
            line,
            sep,
        }
    }

    /// Reads the next record into `out`; returns the 1-based line it starts on.
    pub(crate) fn next_record(&mut self, out: &mut Vec<Cow<'a, str>>) -> Option<usize> {
        let bytes = self.text.as_bytes();
        if self.pos >= bytes.len() {
            return None;
        }
        out.clear();
        let start_line = self.line;
        loop {
            let field_start = self.pos;
            let field: Cow<'a, str>;
            if bytes.get(self.pos) == Some(&b'"') {
                // Quoted field.
                let mut owned: Option<String> = None;
                let mut seg_start = self.pos + 1;
                let mut i = seg_start;
                loop {
                    match bytes.get(i) {
                        None => {
                            // Unterminated quote: take the rest as is.
                            let tail = &self.text[seg_start..];
                            field = match owned.take() {
                                Some(mut s) => {
                                    s.push_str(tail);
                                    Cow::Owned(s)
                                }
                                None => Cow::Borrowed(tail),
                            };
                            self.pos = bytes.len();
                            break;
                        }
                        Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                            let s = owned.get_or_insert_with(String::new);
                            s.push_str(&self.text[seg_start..=i]);
                            i += 2;
                            seg_start = i;
                        }
                        Some(b'"') => {
                            let seg = &self.text[seg_start..i];
                            // Anything between the closing quote and the separator is kept.
                            let mut j = i + 1;
                            while j < bytes.len() && bytes[j] != self.sep && bytes[j] != b'\n' {
                                j += 1;
                            }
                            let mut trailing = &self.text[i + 1..j];
                            if trailing.ends_with('\r') {
                                trailing = &trailing[..trailing.len() - 1];
                            }
                            field = match (owned.take(), trailing.is_empty()) {
                                (None, true) => Cow::Borrowed(seg),
                                (Some(mut s), _) => {
                                    s.push_str(seg);
                                    s.push_str(trailing);
                                    Cow::Owned(s)
                                }
                                (None, false) => Cow::Owned(format!("{seg}{trailing}")),
                            };
                            self.pos = j;
                            break;
                        }
                        Some(b'\n') => {
                            self.line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            } else {
                let mut j = field_start;
                while j < bytes.len() && bytes[j] != self.sep && bytes[j] != b'\n' {
                    j += 1;
                }
                let mut end = j;
                if end > field_start
                    && bytes[end - 1] == b'\r'
                    && (j == bytes.len() || bytes[j] == b'\n')
                {
                    end -= 1;
                }
                field = Cow::Borrowed(&self.text[field_start..end]);
                self.pos = j;
            }
            out.push(field);
            match bytes.get(self.pos) {
                Some(&b) if b == self.sep => {
                    self.pos += 1;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Some(start_line);
                }
                _ => {
                    self.pos = bytes.len();
                    return Some(start_line);
                }
            }
        }
    }
}

pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(8192)];
    sample.contains(&0)
        || sample
            .iter()
            .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C))
            .count()
            * 20
            > sample.len()
}

/// Counts a byte outside quotes in a line.
pub(crate) fn count_unquoted(line: &str, needle: u8) -> usize {
    let mut in_quotes = false;
    line.bytes()
        .filter(|&b| {
            if b == b'"' {
                in_quotes = !in_quotes;
            }
            !in_quotes && b == needle
        })
        .count()
}

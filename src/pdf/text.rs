//! Page text, fast: a small tokenizer walks each content stream keeping only what text
//! operators show, and each font's decoding is built once per document (keyed by the font
//! dictionary's address, which is stable while the document lives).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

use super::PdfError;

/// Reads pages' text from one document, sharing font decoders and an inflation budget.
pub struct TextReader<'a> {
    doc: &'a Document,
    decoders: HashMap<*const Dictionary, Option<Encoding<'a>>>,
    max_stream: usize,
    budget: &'a AtomicUsize,
}

impl<'a> TextReader<'a> {
    /// A reader spending `budget`, the bytes of inflated content the document may still
    /// produce; the readers of several threads share one, so the limit holds whatever the
    /// thread count.
    pub fn new(doc: &'a Document, max_stream: usize, budget: &'a AtomicUsize) -> Self {
        TextReader {
            doc,
            decoders: HashMap::new(),
            max_stream,
            budget,
        }
    }

    /// The text a page shows, in content order, with a newline between text lines.
    pub fn page_text(&mut self, page_id: ObjectId) -> Result<String, PdfError> {
        let content = self
            .doc
            .get_page_content_with_limit(page_id, self.max_stream)
            .map_err(|e| match e {
                lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                }) => PdfError::TooComplexPdf(crate::i18n::Text::fixed(
                    "un flux de contenu se décompresse au-delà de la limite",
                    "a content stream inflates beyond the limit",
                )),
                other => PdfError::CorruptPdf(crate::text!(
                    "contenu de page illisible : {other}",
                    "unreadable page content: {other}"
                )),
            })?;
        let spent = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(content.len())
            });
        if spent.is_err() {
            return Err(PdfError::TooComplexPdf(crate::i18n::Text::fixed(
                "le contenu du document se décompresse au-delà de la limite",
                "the document's content inflates beyond the limit",
            )));
        }
        let fonts = self.doc.get_page_fonts(page_id).unwrap_or_default();
        let mut out = String::new();
        let mut current: Option<&'a Dictionary> = None;
        let mut tokens = Tokens::new(&content);
        let mut operands: Vec<Operand> = Vec::new();
        while let Some(token) = tokens.next() {
            match token {
                Token::Operand(o) => {
                    // Text operators take few operands; a runaway stack means a broken stream.
                    if operands.len() < 32 {
                        operands.push(o);
                    }
                }
                Token::Operator(op) => {
                    match op {
                        b"Tf" => {
                            if let Some(Operand::Name(name)) = operands.first() {
                                current = fonts.get(name.as_slice()).copied();
                            }
                        }
                        b"Tj" | b"'" | b"\"" => {
                            if op != b"Tj" {
                                out.push('\n');
                            }
                            if let Some(Operand::Str(s)) = operands.last() {
                                self.decode(current, s, &mut out);
                            }
                        }
                        b"TJ" => {
                            if let Some(Operand::Array(items)) = operands.last() {
                                for item in items {
                                    match item {
                                        Operand::Str(s) => self.decode(current, s, &mut out),
                                        // A wide negative adjustment is a word gap.
                                        Operand::Number(n) if *n < -200.0 => out.push(' '),
                                        _ => {}
                                    }
                                }
                            }
                        }
                        b"Td" | b"TD" => {
                            let dy = match operands.get(1) {
                                Some(Operand::Number(n)) => *n,
                                _ => 0.0,
                            };
                            out.push(if dy != 0.0 { '\n' } else { ' ' });
                        }
                        b"T*" | b"Tm" | b"ET" => out.push('\n'),
                        _ => {}
                    }
                    operands.clear();
                }
            }
        }
        Ok(out)
    }

    fn decode(&mut self, font: Option<&'a Dictionary>, bytes: &[u8], out: &mut String) {
        let decoder = match font {
            Some(dict) => {
                let doc = self.doc;
                let limit = self.max_stream;
                self.decoders
                    .entry(dict as *const Dictionary)
                    .or_insert_with(|| dict.get_font_encoding_with_limit(doc, limit).ok())
            }
            None => &None,
        };
        let decoded = decoder
            .as_ref()
            .is_some_and(|d| d.write_to_string(bytes, out).is_ok());
        if !decoded {
            // Unknown encoding: Latin-1 is the best guess for Western editions.
            out.extend(bytes.iter().map(|&b| b as char));
        }
    }
}

/// Whether a page draws images (an image XObject in its resources).
pub fn page_has_images(doc: &Document, page_id: ObjectId) -> bool {
    let Ok((resources, inherited)) = doc.get_page_resources(page_id) else {
        return false;
    };
    let mut dicts: Vec<&Dictionary> = resources.into_iter().collect();
    dicts.extend(
        inherited
            .iter()
            .filter_map(|id| doc.get_dictionary(*id).ok()),
    );
    dicts.iter().any(|res| {
        let xobjects = match res.get(b"XObject") {
            Ok(Object::Reference(id)) => doc.get_dictionary(*id).ok(),
            Ok(Object::Dictionary(d)) => Some(d),
            _ => None,
        };
        let Some(xobjects) = xobjects else {
            return false;
        };
        xobjects.iter().any(|(_, v)| {
            let stream = match v {
                Object::Reference(id) => doc.get_object(*id).and_then(Object::as_stream).ok(),
                Object::Stream(s) => Some(s),
                _ => None,
            };
            stream.is_some_and(|s| {
                s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image")
            })
        })
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Number(f64),
    Name(Vec<u8>),
    Str(Vec<u8>),
    Array(Vec<Operand>),
    Other,
}

#[derive(Debug, PartialEq)]
enum Token<'c> {
    Operand(Operand),
    Operator(&'c [u8]),
}

/// A content-stream tokenizer that understands just enough of the syntax to find text.
struct Tokens<'c> {
    data: &'c [u8],
    pos: usize,
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

impl<'c> Tokens<'c> {
    fn new(data: &'c [u8]) -> Self {
        Tokens { data, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            if is_space(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(b) = self.peek() {
                    self.pos += 1;
                    if b == b'\n' || b == b'\r' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    fn next(&mut self) -> Option<Token<'c>> {
        loop {
            self.skip_space();
            let b = self.peek()?;
            return Some(match b {
                b'(' => Token::Operand(Operand::Str(self.literal())),
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    self.skip_dict();
                    Token::Operand(Operand::Other)
                }
                b'<' => Token::Operand(Operand::Str(self.hex())),
                b'[' => {
                    self.pos += 1;
                    Token::Operand(Operand::Array(self.array()))
                }
                b'/' => Token::Operand(Operand::Name(self.name())),
                b'0'..=b'9' | b'+' | b'-' | b'.' => Token::Operand(self.number()),
                b']' | b'>' | b')' | b'{' | b'}' => {
                    // Stray delimiter: skip it.
                    self.pos += 1;
                    continue;
                }
                _ => {
                    let start = self.pos;
                    while let Some(b) = self.peek() {
                        if is_space(b) || is_delimiter(b) {
                            break;
                        }
                        self.pos += 1;
                    }
                    let word = &self.data[start..self.pos];
                    if word == b"ID" {
                        self.skip_inline_image();
                        continue;
                    }
                    Token::Operator(word)
                }
            });
        }
    }

    fn array(&mut self) -> Vec<Operand> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => return items,
                Some(b']') => {
                    self.pos += 1;
                    return items;
                }
                // Text arrays never nest: skip a nested one without recursing, so hostile
                // nesting cannot exhaust the stack.
                Some(b'[') => {
                    self.skip_nested_array();
                    items.push(Operand::Other);
                }
                Some(_) => match self.next() {
                    Some(Token::Operand(o)) => {
                        if items.len() < 100_000 {
                            items.push(o);
                        }
                    }
                    Some(Token::Operator(_)) => {}
                    None => return items,
                },
            }
        }
    }

    /// Skips `[ … ]` with everything nested in it (strings may hold brackets).
    fn skip_nested_array(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'(' => {
                    self.literal();
                    continue;
                }
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn literal(&mut self) -> Vec<u8> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 1usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        out
    }

    fn hex(&mut self) -> Vec<u8> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'>' {
                break;
            }
            let Some(v) = (b as char).to_digit(16) else {
                continue;
            };
            match high.take() {
                Some(h) => out.push(h * 16 + v as u8),
                None => high = Some(v as u8),
            }
        }
        if let Some(h) = high {
            out.push(h * 16);
        }
        out
    }

    fn name(&mut self) -> Vec<u8> {
        self.pos += 1;
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_space(b) || is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        self.data[start..self.pos].to_vec()
    }

    fn number(&mut self) -> Operand {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.') {
                self.pos += 1;
            } else {
                break;
            }
        }
        std::str::from_utf8(&self.data[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Operand::Number)
            .unwrap_or(Operand::Other)
    }

    fn skip_dict(&mut self) {
        let mut depth = 0usize;
        while self.pos < self.data.len() {
            if self.data[self.pos..].starts_with(b"<<") {
                depth += 1;
                self.pos += 2;
            } else if self.data[self.pos..].starts_with(b">>") {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else if self.data[self.pos] == b'(' {
                self.literal();
            } else {
                self.pos += 1;
            }
        }
    }

    /// Inline image data runs from after `ID` to an `EI` standing alone.
    fn skip_inline_image(&mut self) {
        self.pos += 1;
        while self.pos + 1 < self.data.len() {
            if self.data[self.pos] == b'E'
                && self.data[self.pos + 1] == b'I'
                && self.pos > 0
                && is_space(self.data[self.pos - 1])
                && self.data.get(self.pos + 2).is_none_or(|b| is_space(*b))
            {
                self.pos += 2;
                return;
            }
            self.pos += 1;
        }
        self.pos = self.data.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(content: &[u8]) -> Vec<Token<'_>> {
        let mut t = Tokens::new(content);
        std::iter::from_fn(|| t.next()).collect()
    }

    #[test]
    fn tokenizes_text_operators() {
        let toks = ops(
            b"BT /F1 12 Tf 10 20 Td (N\\260 Etudiant \\(x\\)) Tj [(A) -300 (B)] TJ <4142> Tj ET",
        );
        assert!(toks.contains(&Token::Operand(Operand::Str(
            b"N\xb0 Etudiant (x)".to_vec()
        ))));
        assert!(toks.contains(&Token::Operand(Operand::Str(b"AB".to_vec()))));
        assert!(toks.contains(&Token::Operator(b"TJ")));
        assert!(toks.contains(&Token::Operand(Operand::Name(b"F1".to_vec()))));
    }

    #[test]
    fn skips_inline_images_dicts_and_comments() {
        let toks =
            ops(b"% comment (not text)\nBI /W 1 ID \x00\x01(junk EI Q /P <</MCID 0>> BDC (x) Tj");
        assert!(toks.contains(&Token::Operand(Operand::Str(b"x".to_vec()))));
        assert!(
            !toks
                .iter()
                .any(|t| matches!(t, Token::Operand(Operand::Str(s)) if s == b"not text"))
        );
        assert!(toks.contains(&Token::Operator(b"BDC")));
    }

    #[test]
    fn survives_truncated_and_garbage_streams() {
        for bad in [
            &b"(unterminated"[..],
            b"<4",
            b"[ (a) (b",
            b"<<<<",
            b"\xff\xfe\x00]]))",
            b"BI ID",
        ] {
            let _ = ops(bad);
        }
    }
}

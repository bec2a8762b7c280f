//! What a file is, told from its first bytes (never from its name or the client's
//! Content-Type): lockers and supporting documents accept only the types of their allow-lists,
//! and never an executable (ELF, PE, Mach-O, a script with a shebang), whatever the list says.

/// How many leading bytes [`sniff`] needs.
pub const HEAD_BYTES: usize = 8192;

/// The verdict on a file's first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The media type detected on the content, e.g. `application/pdf`.
    pub media_type: String,
    /// Native code or a script the system would run: always refused.
    pub executable: bool,
}

fn found(media_type: &str, executable: bool) -> Sniffed {
    Sniffed {
        media_type: media_type.to_owned(),
        executable,
    }
}

/// Detects the type of a file from its first [`HEAD_BYTES`] bytes.
pub fn sniff(head: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if head.is_empty() {
        return found("application/x-empty", false);
    }
    // Executables first: they are refused whatever the allow-list says.
    if starts(b"\x7fELF") {
        return found("application/x-elf", true);
    }
    if starts(b"MZ") {
        return found("application/x-msdownload", true);
    }
    const MACH_O: [[u8; 4]; 5] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        // Universal binaries (and Java classes, which share the magic).
        [0xca, 0xfe, 0xba, 0xbe],
    ];
    if MACH_O.iter().any(|m| starts(m)) {
        return found("application/x-mach-binary", true);
    }
    if starts(b"#!") {
        return found("text/x-shellscript", true);
    }
    if starts(b"%PDF-") {
        return found("application/pdf", false);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return found("image/png", false);
    }
    if starts(&[0xff, 0xd8, 0xff]) {
        return found("image/jpeg", false);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return found("image/gif", false);
    }
    if starts(b"RIFF") && head.len() >= 12 && &head[8..12] == b"WEBP" {
        return found("image/webp", false);
    }
    if starts(b"PK\x03\x04") {
        return found(&zip_flavour(head), false);
    }
    if starts(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) {
        // Legacy Office documents and MSI installers share this container.
        return found("application/x-ole-storage", false);
    }
    if let Some(text) = as_text(head) {
        let lower = text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .to_lowercase();
        if lower.starts_with("<!doctype html")
            || lower.starts_with("<html")
            || lower.contains("<script")
        {
            return found("text/html", false);
        }
        if lower.starts_with("<svg") || (lower.starts_with("<?xml") && lower.contains("<svg")) {
            return found("image/svg+xml", false);
        }
        if lower.starts_with("<?xml") {
            return found("application/xml", false);
        }
        return found("text/plain", false);
    }
    found("application/octet-stream", false)
}

/// OpenDocument files name their type in a first `mimetype` entry; Office Open XML files have
/// a `[Content_Types].xml` entry and a `word/`, `xl/` or `ppt/` folder.
fn zip_flavour(head: &[u8]) -> String {
    // The first entry's stored size (offset 18) tells where its content ends.
    if head.len() > 38 && &head[30..38] == b"mimetype" {
        let size = u32::from_le_bytes([head[18], head[19], head[20], head[21]]) as usize;
        let name_len = u16::from_le_bytes([head[26], head[27]]) as usize;
        let start = 30 + name_len;
        if let Some(content) = head.get(start..start + size.min(100))
            && let Ok(t) = std::str::from_utf8(content)
            && t.starts_with("application/vnd.oasis.opendocument.")
        {
            return t.to_owned();
        }
    }
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"[Content_Types].xml") || has(b"word/") || has(b"xl/") || has(b"ppt/") {
        if has(b"word/") {
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                .into();
        }
        if has(b"xl/") {
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into();
        }
        if has(b"ppt/") {
            return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
                .into();
        }
    }
    "application/zip".into()
}

/// The head as text when it is UTF-8 without control bytes (a multi-byte character cut at the
/// end of the head is fine).
fn as_text(head: &[u8]) -> Option<&str> {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    let binary = text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'));
    (!binary).then_some(text)
}

/// Whether a sniffed file may be accepted under `allowed` (media types; a `type/*` entry
/// allows a whole family). Executables never are.
pub fn allowed(sniffed: &Sniffed, allowed: &[String]) -> bool {
    !sniffed.executable
        && allowed.iter().any(|a| {
            a == &sniffed.media_type
                || a.strip_suffix("/*")
                    .is_some_and(|family| sniffed.media_type.starts_with(&format!("{family}/")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_recognised_whatever_their_name() {
        for head in [
            &b"\x7fELF\x02\x01\x01"[..],
            b"MZ\x90\x00\x03",
            &[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1],
            b"#!/bin/sh\nrm -rf /\n",
        ] {
            let s = sniff(head);
            assert!(s.executable, "{s:?}");
            assert!(!allowed(&s, &[s.media_type.clone(), "*/*".into()]));
        }
    }

    #[test]
    fn documents_and_images() {
        assert_eq!(sniff(b"%PDF-1.7\n").media_type, "application/pdf");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....").media_type, "image/png");
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]).media_type, "image/jpeg");
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").media_type, "image/webp");
        assert_eq!(
            sniff("Compte rendu — été\n".as_bytes()).media_type,
            "text/plain"
        );
        assert_eq!(sniff(b"<!DOCTYPE html><p>").media_type, "text/html");
        assert_eq!(
            sniff(b"\0\x01\x02binary").media_type,
            "application/octet-stream"
        );
        let mime = b"application/vnd.oasis.opendocument.text";
        let mut odt = b"PK\x03\x04".to_vec();
        odt.resize(30, 0);
        odt[18..22].copy_from_slice(&(mime.len() as u32).to_le_bytes());
        odt[26..28].copy_from_slice(&8u16.to_le_bytes());
        odt.extend_from_slice(b"mimetype");
        odt.extend_from_slice(mime);
        odt.extend_from_slice(b"PK\x03\x04");
        assert_eq!(
            sniff(&odt).media_type,
            "application/vnd.oasis.opendocument.text"
        );
        let docx = b"PK\x03\x04....[Content_Types].xml....word/document.xml";
        assert!(
            sniff(docx)
                .media_type
                .ends_with("wordprocessingml.document")
        );
        assert_eq!(sniff(b"PK\x03\x04other").media_type, "application/zip");
    }

    #[test]
    fn allow_list_with_families() {
        let png = sniff(b"\x89PNG\r\n\x1a\n");
        assert!(allowed(&png, &["image/*".into()]));
        assert!(!allowed(&png, &["application/pdf".into()]));
        // A UTF-8 character cut by the head's end is still text.
        let cut = "é".as_bytes();
        assert_eq!(sniff(&[b'a', cut[0]]).media_type, "text/plain");
    }
}

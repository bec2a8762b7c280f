//! Hostile input against the validation + split entry point: the split must answer a problem
//! code (or a result) and never panic, overflow its stack or inflate without bound. Built by
//! hand (deep nesting, reference loops, lying lengths, decompression bombs) and by mutating a
//! real batch with proptest. `PROPTEST_CASES=5000 cargo test --lib pdf::hostile` runs longer.

use std::io::Write;

use proptest::prelude::*;

use super::fixture::{self, BatchSpec};
use super::*;

/// A PDF from object bodies (object n is `objects[n-1]`), with a correct xref table so the
/// parser takes the file at its word, and an Apogée producer so validation lets it through.
fn pdf_with(objects: &[Vec<u8>], root: u32) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        writeln!(out, "{} 0 obj", i + 1).unwrap();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let info = objects.len() + 1;
    offsets.push(out.len());
    write!(
        out,
        "{info} 0 obj\n<< /Producer (Oracle Reports) >>\nendobj\n"
    )
    .unwrap();
    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).unwrap();
    for o in &offsets {
        writeln!(out, "{o:010} 00000 n ").unwrap();
    }
    write!(
        out,
        "trailer\n<< /Size {} /Root {root} 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    )
    .unwrap();
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} >>\nstream\n").into_bytes();
    s.extend_from_slice(data);
    s.extend_from_slice(b"\nendstream");
    s
}

fn page_with_content(content_obj: u32) -> Vec<u8> {
    format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {content_obj} 0 R \
         /Resources << >> >>"
    )
    .into_bytes()
}

/// Whatever the bytes, the split answers: Ok, or an error with a stable code.
fn answers(bytes: &[u8]) -> Result<SplitOutcome, PdfError> {
    let cfg = SplitConfig {
        max_stream_bytes: 4 * 1024 * 1024,
        max_total_inflated_bytes: 16 * 1024 * 1024,
        ..SplitConfig::default()
    };
    let result = split(bytes, &cfg, &mut |_, _| {});
    if let Err(e) = &result {
        assert!(!e.code().is_empty());
    }
    result
}

#[test]
fn deeply_nested_objects_are_refused_not_recursed() {
    for depth in [1_000usize, 100_000] {
        let mut nested = "[".repeat(depth).into_bytes();
        nested.extend_from_slice(&b"]".repeat(depth));
        let bytes = pdf_with(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                page_with_content(4),
                stream(&format!("/Length {}", 10), b"BT ET     "),
                nested,
            ],
            1,
        );
        assert!(answers(&bytes).is_err());
        // The same depth inside the page's content stream.
        let mut content = b"BT ".to_vec();
        content.extend_from_slice(&b"[".repeat(depth));
        content.extend_from_slice(&b"]".repeat(depth));
        content.extend_from_slice(b" TJ ET");
        let bytes = pdf_with(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                page_with_content(4),
                stream(&format!("/Length {}", content.len()), &content),
            ],
            1,
        );
        assert!(answers(&bytes).is_err());
    }
}

#[test]
fn reference_loops_in_the_page_tree_end() {
    // Pages whose kid is itself; a page whose parent chain loops.
    let looped = pdf_with(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>".to_vec(),
            b"<< /Type /Pages /Kids [2 0 R] /Parent 2 0 R /Count 1 >>".to_vec(),
        ],
        1,
    );
    assert!(answers(&looped).is_err());
    // An object that is a reference to itself, used as the page's contents.
    let self_ref = pdf_with(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            page_with_content(4),
            b"4 0 R".to_vec(),
        ],
        1,
    );
    assert!(answers(&self_ref).is_err());
}

#[test]
fn lying_lengths_are_refused() {
    for length in ["999999999999", "-5", "4 0 R"] {
        let bytes = pdf_with(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                page_with_content(4),
                stream(
                    &format!("/Length {length}"),
                    b"BT (N\\260 Etudiant : 21900001) Tj ET",
                ),
            ],
            1,
        );
        let _ = answers(&bytes);
    }
    // A page count that promises millions of pages.
    let bytes = pdf_with(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 99999999 >>".to_vec(),
            page_with_content(4),
            stream("/Length 5", b"BT ET"),
        ],
        1,
    );
    assert!(answers(&bytes).is_err());
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    // 64 MB of zeros deflate to ~64 KB; the configured limit is 4 MB a stream.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..64 {
        z.write_all(&block).unwrap();
    }
    let bomb = z.finish().unwrap();
    let bytes = pdf_with(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            page_with_content(4),
            stream(
                &format!("/Length {} /Filter /FlateDecode", bomb.len()),
                &bomb,
            ),
        ],
        1,
    );
    let err = answers(&bytes).unwrap_err();
    assert_eq!(err.code(), "too_complex_pdf", "{err:?}");
    // Many streams each under the limit, over the total.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![b' '; 3 << 20]).unwrap();
    let part = z.finish().unwrap();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
    ];
    let kids: Vec<String> = (0..8).map(|i| format!("{} 0 R", 4 + i)).collect();
    objects.push(
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents [{}] /Resources << >> >>",
            kids.join(" ")
        )
        .into_bytes(),
    );
    for _ in 0..8 {
        objects.push(stream(
            &format!("/Length {} /Filter /FlateDecode", part.len()),
            &part,
        ));
    }
    let err = answers(&pdf_with(&objects, 1)).unwrap_err();
    assert_eq!(err.code(), "too_complex_pdf", "{err:?}");
}

fn small_batch() -> &'static [u8] {
    static BATCH: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BATCH.get_or_init(|| {
        fixture::batch(&BatchSpec {
            students: 3,
            ..BatchSpec::default()
        })
        .bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48)
    ))]

    /// Bytes overwritten anywhere in a real batch.
    #[test]
    fn mutated_batches_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..32)) {
        let mut bytes = small_batch().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let _ = answers(&bytes);
    }

    /// A slice cut out, or a run of bytes inserted (a lying offset everywhere after it).
    #[test]
    fn spliced_batches_never_panic(at in any::<prop::sample::Index>(), cut in 0usize..4096, insert in prop::collection::vec(any::<u8>(), 0..256)) {
        let src = small_batch();
        let i = at.index(src.len());
        let mut bytes = src[..i].to_vec();
        bytes.extend_from_slice(&insert);
        bytes.extend_from_slice(&src[(i + cut).min(src.len())..]);
        let _ = answers(&bytes);
    }

    /// Tokens PDF parsers recurse or loop on, dropped into a page's content stream.
    #[test]
    fn hostile_content_streams_never_panic(tokens in prop::collection::vec(prop::sample::select(vec![
        "[", "]", "<<", ">>", "(", ")", "BT", "ET", "Tj", "TJ", "Tf", "/F1", "12", "-1e308",
        "4 0 R", "q", "Q", "cm", "Do", "BI", "ID", "EI", "\\", "<FEFF", "%", "(N\\260 Etudiant : 21900001)",
    ]), 0..400)) {
        let content = tokens.join(" ").into_bytes();
        let bytes = pdf_with(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                page_with_content(4),
                stream(&format!("/Length {}", content.len()), &content),
            ],
            1,
        );
        let _ = answers(&bytes);
    }
}

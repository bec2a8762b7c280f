//! The PDF core against generated batches: every validation code, both label orders, cover
//! pages, continuations, merges, ambiguity, both font kinds, and the outputs themselves.

use lopdf::Document;

use super::fixture::{self, BatchSpec, Edition, PageContent, PdfOptions};
use super::identify::fold_for_match;
use super::*;

/// The split's defaults, with the certificat de scolarité configured as a third kind.
fn cfg(kind: Edition) -> SplitConfig {
    let kinds = DocumentKinds::with_configured(&[fixture::certificat_scolarite_kind()]).unwrap();
    SplitConfig::default().for_kind(&kinds, &DocumentKindCode::parse(kind.code()).unwrap())
}

fn run(bytes: &[u8], kind: Edition) -> Result<SplitOutcome, PdfError> {
    split(bytes, &cfg(kind), &mut |_, _| {})
}

fn lines(v: &[&str]) -> PageContent {
    PageContent::Lines(v.iter().map(|s| s.to_string()).collect())
}

fn pdf(pages: &[PageContent]) -> Vec<u8> {
    fixture::write_pdf(pages, &PdfOptions::default())
}

/// The text of an output PDF, read back with the same reader.
fn text_of(pdf: &[u8]) -> String {
    let doc = Document::load_mem(pdf).expect("output re-opens");
    let budget = std::sync::atomic::AtomicUsize::new(1 << 28);
    let mut reader = text::TextReader::new(&doc, 1 << 24, &budget);
    doc.get_pages()
        .values()
        .map(|id| fold_for_match(&reader.page_text(*id).unwrap()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_matches_truth(outcome: &SplitOutcome, batch: &fixture::Batch) {
    let got: Vec<(String, Vec<u32>)> = outcome
        .documents
        .iter()
        .map(|d| (d.student.clone(), d.pages.clone()))
        .collect();
    assert_eq!(got, batch.expected);
    assert_eq!(outcome.skipped, batch.skipped);
    let all_numbers: Vec<&str> = batch.students.iter().map(|s| s.cod_etu.as_str()).collect();
    for d in &outcome.documents {
        let doc = Document::load_mem(&d.pdf).expect("output re-opens");
        assert_eq!(
            doc.get_pages().len(),
            d.pages.len(),
            "page count of {}",
            d.student
        );
        let text = text_of(&d.pdf);
        assert!(
            text.contains(&d.student),
            "its own number is in {}",
            d.student
        );
        for other in all_numbers.iter().filter(|n| **n != d.student) {
            assert!(!text.contains(other), "{} leaks into {}", other, d.student);
        }
        // Nothing of other pages travels in the file: no stray page objects.
        let page_objects = doc
            .objects
            .values()
            .filter(|o| {
                o.as_dict().is_ok_and(|d| {
                    d.get(b"Type").and_then(lopdf::Object::as_name).ok() == Some(b"Page")
                })
            })
            .count();
        assert_eq!(page_objects, d.pages.len());
        let raw = String::from_utf8_lossy(&d.pdf);
        assert!(raw.contains("/Title"), "title set");
        assert_eq!(d.sha256, crate::storage::sha256_hex(&d.pdf));
        // The embedded font travelled (lossless).
        assert!(raw.contains("/FontFile2"));
    }
}

#[test]
fn releve_batch_splits_per_student_with_the_simple_font() {
    let batch = fixture::batch(&BatchSpec {
        students: 12,
        ..BatchSpec::default()
    });
    let mut calls = 0;
    let outcome = split(&batch.bytes, &cfg(Edition::Releve), &mut |done, total| {
        calls += 1;
        assert!(done <= total);
    })
    .unwrap();
    assert_eq!(calls, outcome.pages);
    assert_matches_truth(&outcome, &batch);
    // The INE is read, and the names can be checked against the registry.
    for (d, s) in outcome.documents.iter().zip(&batch.students) {
        assert_eq!(d.ine.as_deref(), Some(s.ine.as_str()));
        assert!(
            name_appears(&d.text, &s.last_name),
            "{} on {}",
            s.last_name,
            d.student
        );
    }
}

#[test]
fn cid_identity_h_fonts_with_tounicode_are_read() {
    let batch = fixture::batch(&BatchSpec {
        students: 6,
        cid_font: true,
        seed: 7,
        ..BatchSpec::default()
    });
    let outcome = run(&batch.bytes, Edition::Releve).unwrap();
    assert_matches_truth(&outcome, &batch);
    assert!(name_appears(
        &outcome.documents[0].text,
        &batch.students[0].last_name
    ));
}

#[test]
fn attestations_in_both_label_orders() {
    let batch = fixture::batch(&BatchSpec {
        students: 6,
        kind: Edition::Attestation,
        reversed_labels: true,
        cover_page: false,
        ..BatchSpec::default()
    });
    let outcome = run(&batch.bytes, Edition::Attestation).unwrap();
    assert_matches_truth(&outcome, &batch);
    assert!(outcome.documents.iter().all(|d| d.pages.len() == 1));
}

#[test]
fn continuation_pages_follow_the_previous_student() {
    let bytes = pdf(&[
        lines(&["Page de garde"]),
        lines(&["N° Etudiant : 21900001", "Nom : LEFÈVRE"]),
        lines(&["suite du relevé", "UE bonus sport 15,00"]),
        lines(&["N° Etudiant : 21900002", "Nom : MARTIN"]),
    ]);
    let outcome = run(&bytes, Edition::Releve).unwrap();
    assert_eq!(outcome.skipped, vec![1]);
    assert_eq!(outcome.documents[0].pages, vec![2, 3]);
    assert_eq!(outcome.documents[0].flags, vec![flag::CONTINUATION]);
    assert!(outcome.documents[1].flags.is_empty());
    // The same layout is an error for attestations, naming the page.
    assert_eq!(
        run(&bytes, Edition::Attestation).unwrap_err(),
        PdfError::AttestationContinuation { page: 3 }
    );
}

#[test]
fn a_student_in_two_runs_is_merged_in_page_order() {
    let bytes = pdf(&[
        lines(&["N° Etudiant : 21900001"]),
        lines(&["N° Etudiant : 21900002"]),
        lines(&["N° Etudiant : 21900001", "page 2"]),
    ]);
    let outcome = run(&bytes, Edition::Releve).unwrap();
    assert_eq!(outcome.documents[0].pages, vec![1, 3]);
    assert_eq!(outcome.documents[0].flags, vec![flag::MERGED]);
    assert_eq!(outcome.documents[1].pages, vec![2]);
    assert_eq!(outcome.warnings.len(), 1);
    assert!(
        !outcome.warnings[0].contains("21900001"),
        "warnings never name students"
    );
    let text = text_of(&outcome.documents[0].pdf);
    assert!(!text.contains("21900002"));
}

#[test]
fn two_numbers_on_a_page_are_flagged_not_guessed() {
    let bytes = pdf(&[lines(&["N° Etudiant : 21900001", "N° Etudiant : 21900002"])]);
    let outcome = run(&bytes, Edition::Releve).unwrap();
    assert_eq!(outcome.documents.len(), 1);
    assert!(
        outcome.documents[0]
            .flags
            .contains(&flag::AMBIGUOUS_STUDENT)
    );
}

#[test]
fn label_variants_and_line_breaks_in_real_pdfs() {
    let bytes = pdf(&[
        lines(&["NUMÉRO ÉTUDIANT", ":", "21900001"]),
        lines(&["No étudiant 21900002"]),
        lines(&["n°étudiant:21900003"]),
    ]);
    let outcome = run(&bytes, Edition::Releve).unwrap();
    let students: Vec<&str> = outcome
        .documents
        .iter()
        .map(|d| d.student.as_str())
        .collect();
    assert_eq!(students, vec!["21900001", "21900002", "21900003"]);
}

#[test]
fn every_validation_code_has_a_file_that_triggers_it() {
    let c = cfg(Edition::Releve);
    let good = fixture::batch(&BatchSpec {
        students: 2,
        ..BatchSpec::default()
    })
    .bytes;
    assert!(validate(&good, &c).is_ok());
    let code = |bytes: &[u8], c: &SplitConfig| split(bytes, c, &mut |_, _| {}).unwrap_err().code();

    assert_eq!(code(b"", &c), "empty_file");
    assert_eq!(code(b"PK\x03\x04 this is a zip", &c), "not_a_pdf");
    let small = SplitConfig {
        max_bytes: 100,
        ..c.clone()
    };
    assert_eq!(code(&good, &small), "file_too_large");
    assert_eq!(code(&good[..good.len() / 2], &c), "corrupt_pdf");
    let mut broken_xref = good.clone();
    // startxref points into the middle of nowhere.
    let at = broken_xref
        .windows(9)
        .rposition(|w| w == b"startxref")
        .unwrap()
        + 10;
    let digits = broken_xref[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    for b in &mut broken_xref[at..at + digits] {
        *b = b'1';
    }
    assert_eq!(code(&broken_xref, &c), "corrupt_pdf");
    let encrypted = fixture::write_pdf(
        &[lines(&["N° Etudiant : 21900001"])],
        &PdfOptions {
            encrypt_marker: true,
            ..PdfOptions::default()
        },
    );
    assert_eq!(code(&encrypted, &c), "encrypted_pdf");
    assert_eq!(
        code(&pdf(&[PageContent::Image, PageContent::Image]), &c),
        "scanned_pdf"
    );
    assert_eq!(
        code(&fixture::append_incremental_update(&good), &c),
        "modified_pdf"
    );
    let rewritten = fixture::write_pdf(
        &[lines(&["N° Etudiant : 21900001"])],
        &PdfOptions {
            producer: Some("iText® 7.2 ©2000-2022 iText Group NV".into()),
            ..PdfOptions::default()
        },
    );
    assert_eq!(code(&rewritten, &c), "modified_pdf");
    let touched = fixture::write_pdf(
        &[lines(&["N° Etudiant : 21900001"])],
        &PdfOptions {
            modification_date: Some("D:20250703120000+02'00'".into()),
            ..PdfOptions::default()
        },
    );
    assert_eq!(code(&touched, &c), "modified_pdf");
    let foreign = fixture::write_pdf(
        &[lines(&["N° Etudiant : 21900001"])],
        &PdfOptions {
            producer: Some("Microsoft® Word for Microsoft 365".into()),
            creator: Some("Microsoft® Word".into()),
            ..PdfOptions::default()
        },
    );
    assert_eq!(code(&foreign, &c), "not_from_apogee");
    // The allow-list is configuration.
    let allowing = SplitConfig {
        producer_allow_list: vec!["word".into()],
        rewriting_tools: vec![],
        ..c.clone()
    };
    assert!(split(&foreign, &allowing, &mut |_, _| {}).is_ok());
    assert_eq!(
        code(&pdf(&[lines(&["Relevé sans numéro", "Nom : X"])]), &c),
        "no_student_found"
    );
    let few_pages = SplitConfig {
        max_pages: 1,
        ..c.clone()
    };
    assert_eq!(code(&good, &few_pages), "too_complex_pdf");
}

#[test]
fn manifest_has_the_documented_shape() {
    let batch = fixture::batch(&BatchSpec {
        students: 3,
        ..BatchSpec::default()
    });
    let outcome = run(&batch.bytes, Edition::Releve).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = output::write_outcome(&outcome, dir.path(), 2).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(json["pages"], outcome.pages);
    assert_eq!(json["skipped"], serde_json::json!([1]));
    assert_eq!(
        json["documents"][0]["file"],
        format!("{}.pdf", batch.students[0].cod_etu)
    );
    assert_eq!(manifest.documents.len(), 3);
    for d in &manifest.documents {
        let bytes = std::fs::read(dir.path().join(&d.file)).unwrap();
        assert_eq!(crate::storage::sha256_hex(&bytes), d.sha256);
    }
}

/// Object numbers of an output's pages, in page order.
fn page_object_numbers(pdf: &[u8]) -> Vec<u32> {
    let doc = Document::load_mem(pdf).expect("output re-opens");
    doc.get_pages().values().map(|(n, _)| *n).collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24)
    ))]

    /// The same batch split twice gives byte-identical documents, so a document's sha256
    /// identifies it across uploads; its objects are numbered in page order.
    #[test]
    fn the_same_batch_always_splits_into_the_same_bytes(
        students in 1usize..80,
        seed in proptest::prelude::any::<u64>(),
        max_pages in 1usize..4,
        cover_page in proptest::prelude::any::<bool>(),
        cid_font in proptest::prelude::any::<bool>(),
        attestation in proptest::prelude::any::<bool>(),
    ) {
        let kind = if attestation { Edition::Attestation } else { Edition::Releve };
        let batch = fixture::batch(&BatchSpec {
            students,
            seed,
            kind,
            cover_page,
            cid_font,
            reversed_labels: attestation,
            max_pages_per_student: max_pages,
            bold_font_and_logo: true,
            ..BatchSpec::default()
        });
        // Once on one thread, once on several: the thread count must not show in the bytes.
        let first = split(&batch.bytes, &SplitConfig { threads: 1, ..cfg(kind) }, &mut |_, _| {}).unwrap();
        let second = split(&batch.bytes, &SplitConfig { threads: 3, ..cfg(kind) }, &mut |_, _| {}).unwrap();
        proptest::prop_assert_eq!(first.documents.len(), batch.students.len());
        for (a, b) in first.documents.iter().zip(&second.documents) {
            proptest::prop_assert_eq!(&a.student, &b.student);
            proptest::prop_assert!(a.pdf == b.pdf, "{} differs between two splits", a.student);
            proptest::prop_assert_eq!(&a.sha256, &b.sha256);
            let numbers = page_object_numbers(&a.pdf);
            let mut sorted = numbers.clone();
            sorted.sort_unstable();
            proptest::prop_assert_eq!(&numbers, &sorted, "pages numbered in page order");
        }
        proptest::prop_assert_eq!(first.manifest(), second.manifest());
    }
}

/// A two-student relevé batch written with these options.
fn releve_with(options: PdfOptions) -> Vec<u8> {
    let batch = fixture::batch(&BatchSpec {
        students: 2,
        ..BatchSpec::default()
    });
    let pages: Vec<PageContent> = std::iter::once(PageContent::Lines(fixture::cover_page(2)))
        .chain(
            batch
                .students
                .iter()
                .map(|s| PageContent::Lines(fixture::releve_page(s, 1, 1, 1))),
        )
        .collect();
    fixture::write_pdf(&pages, &options)
}

#[test]
fn each_rewrite_sign_of_the_profile_is_refused_and_can_be_turned_off() {
    let c = cfg(Edition::Releve);
    let clean = releve_with(PdfOptions::default());
    assert!(
        validate(&clean, &c).is_ok(),
        "a first write passes every sign"
    );
    let modified = |bytes: &[u8], c: &SplitConfig| match validate(bytes, c) {
        Err(PdfError::ModifiedPdf(why)) => why,
        other => panic!("expected modified_pdf, got {other:?}"),
    };
    let off = |change: fn(&mut ApogeeProfile)| {
        let mut c = cfg(Edition::Releve);
        change(&mut c.apogee_profile);
        c
    };

    let changed_id = releve_with(PdfOptions {
        changed_file_id: true,
        ..PdfOptions::default()
    });
    assert!(modified(&changed_id, &c).contains("/ID"));
    // The manager reads why in French, the whole sentence (not an English reason inside).
    let why = PdfError::ModifiedPdf(modified(&changed_id, &c)).text();
    assert_eq!(
        why.fr,
        "le PDF a été modifié après son édition par Apogée : son identifiant de fichier a \
         changé après la première écriture (trailer /ID)"
    );
    assert_eq!(
        why.en,
        "the PDF was modified after Apogée edited it: its file identifier changed after it was \
         first written (trailer /ID)"
    );
    assert!(validate(&changed_id, &off(|p| p.refuse_changed_file_id = false)).is_ok());

    let xref_stream = releve_with(PdfOptions {
        xref_stream: true,
        ..PdfOptions::default()
    });
    assert!(modified(&xref_stream, &c).contains("cross-reference stream"));
    assert!(validate(&xref_stream, &off(|p| p.refuse_xref_streams = false)).is_ok());

    // Object streams come with a cross-reference stream (PDF 1.5): that sign is turned off to
    // see this one.
    let object_streams = releve_with(PdfOptions {
        object_streams: true,
        ..PdfOptions::default()
    });
    let streams_allowed = off(|p| p.refuse_xref_streams = false);
    assert!(modified(&object_streams, &streams_allowed).contains("object streams"));
    let mut both_off = streams_allowed.clone();
    both_off.apogee_profile.refuse_object_streams = false;
    assert!(validate(&object_streams, &both_off).is_ok());

    let late = releve_with(PdfOptions {
        modification_date: Some("D:20250701094500+02'00'".into()),
        ..PdfOptions::default()
    });
    assert!(modified(&late, &c).contains("modification date"));
    assert!(validate(&late, &off(|p| p.moddate_tolerance_secs = 3600)).is_ok());
    assert!(validate(&late, &off(|p| p.refuse_late_moddate = false)).is_ok());

    let updated = fixture::append_incremental_update(&clean);
    assert!(modified(&updated, &c).contains("incremental update"));
    let lenient = off(|p| p.refuse_incremental_updates = false);
    assert!(
        !matches!(validate(&updated, &lenient), Err(PdfError::ModifiedPdf(why)) if why.contains("incremental")),
        "the sign is off"
    );
}

#[test]
fn the_declared_kind_and_year_must_be_what_the_pages_say() {
    let releve = fixture::batch(&BatchSpec {
        students: 3,
        ..BatchSpec::default()
    });
    let attestation = fixture::batch(&BatchSpec {
        students: 3,
        kind: Edition::Attestation,
        cover_page: false,
        ..BatchSpec::default()
    });
    let mismatch = |declared: Edition, found: Edition| {
        let kinds = cfg(declared).kinds;
        let label = |e: Edition| kinds.label_of(e.code());
        PdfError::DocumentKindMismatch(Box::new(KindMismatch {
            declared: DocumentKindCode::parse(declared.code()).unwrap(),
            declared_label: label(declared),
            found: DocumentKindCode::parse(found.code()).unwrap(),
            found_label: label(found),
        }))
    };
    assert_eq!(
        validate(&releve.bytes, &cfg(Edition::Attestation)).unwrap_err(),
        mismatch(Edition::Attestation, Edition::Releve)
    );
    assert_eq!(
        validate(&attestation.bytes, &cfg(Edition::Releve)).unwrap_err(),
        mismatch(Edition::Releve, Edition::Attestation)
    );
    let certificat = fixture::batch(&BatchSpec {
        students: 3,
        kind: Edition::CertificatScolarite,
        ..BatchSpec::default()
    });
    let refused = validate(&certificat.bytes, &cfg(Edition::Attestation)).unwrap_err();
    assert_eq!(
        refused,
        mismatch(Edition::Attestation, Edition::CertificatScolarite)
    );
    assert_eq!(
        refused.text().fr,
        "déclaré comme « Attestation de réussite », mais les pages sont d'un autre type : \
         « Certificat de scolarité »"
    );
    assert_eq!(
        validate(&releve.bytes, &cfg(Edition::CertificatScolarite)).unwrap_err(),
        mismatch(Edition::CertificatScolarite, Edition::Releve)
    );
    // Without the kind configured, its pages are of no known kind: not refused as another.
    assert!(validate(&certificat.bytes, &SplitConfig::default()).is_ok());
    let year = |y| SplitConfig {
        academic_year: Some(y),
        ..cfg(Edition::Releve)
    };
    // The fixtures print "Année universitaire 2025/2026".
    assert!(validate(&releve.bytes, &year(2025)).is_ok());
    let refused = validate(&releve.bytes, &year(2023)).unwrap_err();
    assert_eq!(
        refused,
        PdfError::AcademicYearMismatch {
            declared: 2023,
            found: 2025
        }
    );
    assert_eq!(refused.code(), "academic_year_mismatch");
    assert!(refused.to_string().contains("2025/2026"), "{refused}");
    // The split refuses what validation refuses.
    assert_eq!(
        split(&releve.bytes, &year(2023), &mut |_, _| {})
            .unwrap_err()
            .code(),
        "academic_year_mismatch"
    );
}

/// A kind a site configures is split as its `pages` say (one page each here), named with its
/// label, and a page without a number refuses the batch as for attestations.
#[test]
fn a_configured_kind_is_recognised_and_split_one_page_per_student() {
    let batch = fixture::batch(&BatchSpec {
        students: 5,
        kind: Edition::CertificatScolarite,
        ..BatchSpec::default()
    });
    let outcome = run(&batch.bytes, Edition::CertificatScolarite).unwrap();
    assert_eq!(outcome.skipped, batch.skipped);
    let got: Vec<(String, Vec<u32>)> = outcome
        .documents
        .iter()
        .map(|d| (d.student.clone(), d.pages.clone()))
        .collect();
    assert_eq!(got, batch.expected);
    let out = Document::load_mem(&outcome.documents[0].pdf).unwrap();
    let title = out
        .trailer
        .get(b"Info")
        .and_then(|i| out.get_dictionary(i.as_reference()?))
        .and_then(|info| info.get(b"Title"))
        .and_then(|t| t.as_str())
        .unwrap()
        .to_vec();
    let utf16: Vec<u16> = title[2..]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(
        String::from_utf16(&utf16).unwrap(),
        format!("Certificat de scolarité — {}", batch.expected[0].0)
    );
    let continued = pdf(&[
        PageContent::Lines(fixture::certificat_scolarite_page(&batch.students[0])),
        lines(&["CERTIFICAT DE SCOLARITÉ", "suite sans numéro"]),
    ]);
    assert_eq!(
        run(&continued, Edition::CertificatScolarite).unwrap_err(),
        PdfError::AttestationContinuation { page: 2 }
    );
    // An unknown declared kind is refused before any page is read.
    let unknown = SplitConfig {
        kind: DocumentKindCode::parse("diplome").unwrap(),
        ..SplitConfig::default()
    };
    assert_eq!(
        split(&batch.bytes, &unknown, &mut |_, _| {})
            .unwrap_err()
            .code(),
        "unknown_document_kind"
    );
}

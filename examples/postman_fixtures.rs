//! Writes the files the Postman collection (`postman/`) uploads, from the crate's own fixture
//! builders, so nothing binary is committed:
//!   cargo run --example postman_fixtures -- OUT_DIR [ACADEMIC_YEAR]
//!
//! - `students.csv`: an Apogée enrolment extraction (composante 905, étape L1INF, state E) of the
//!   students of `batch.pdf`, plus one more student (`21900099`) the collection erases;
//! - `batch.pdf`: a batch of relevés for those students (cover page, Oracle Reports producer);
//! - `batch-cancel.pdf`: another batch of the same students, split then cancelled;
//! - `corrected.pdf`: a corrected edition of the first student's relevé (other grades);
//! - `maquette.txt` + `grades.csv`: an Apogée maquette (V1RT, ISO-8859-1) and grades for it;
//! - `locker.pdf`, `identity.pdf`, `cvec.pdf`: one-page PDFs for a locker deposit and supporting
//!   documents.

use std::path::PathBuf;

use passerelle::apogee::fixtures::{SOURCE_CSV, maquette_latin1};
use passerelle::pdf::fixture::{self, BatchSpec, PageContent, PdfOptions};

/// Students in the batch; the collection's variables `student1`…`student3` are these numbers.
const STUDENTS: usize = 3;

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/postman-fixtures".into()),
    );
    let year: i32 = args.next().and_then(|y| y.parse().ok()).unwrap_or(2025);
    std::fs::create_dir_all(&out).expect("the output directory");
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(out.join(name), bytes).expect("a fixture file");
    };

    let spec = BatchSpec {
        students: STUDENTS,
        seed: 42,
        ..BatchSpec::default()
    };
    let batch = fixture::batch(&spec);
    write("batch.pdf", &batch.bytes);
    let again = fixture::batch(&BatchSpec { seed: 43, ..spec });
    write("batch-cancel.pdf", &again.bytes);
    // A corrected edition of the first student's relevé (other grades): a correction.
    let corrected = fixture::write_pdf(
        &[PageContent::Lines(fixture::releve_page(
            &batch.students[0],
            1,
            1,
            4242,
        ))],
        &PdfOptions::default(),
    );
    write("corrected.pdf", &corrected);

    let mut csv = String::from(
        "COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;LIB_PR1_IND;DATE_NAI_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE\n",
    );
    for (i, s) in batch.students.iter().enumerate() {
        csv.push_str(&format!(
            "{};{};{};{};2005-0{}-1{};905;L1INF;{year};E\n",
            s.cod_etu,
            s.ine,
            s.last_name,
            s.first_name,
            i % 9 + 1,
            i % 9,
        ));
    }
    csv.push_str(&format!(
        "21900099;;EFFACÉ;Camille;2004-12-31;905;L1INF;{year};E\n"
    ));
    write("students.csv", csv.as_bytes());

    write("maquette.txt", &maquette_latin1());
    write("grades.csv", SOURCE_CSV.as_bytes());

    let one_page = |lines: &[&str]| {
        fixture::write_pdf(
            &[PageContent::Lines(
                lines.iter().map(|l| (*l).to_owned()).collect(),
            )],
            &PdfOptions {
                producer: Some("passerelle fixtures".into()),
                creator: Some("passerelle fixtures".into()),
                ..PdfOptions::default()
            },
        )
    };
    write(
        "locker.pdf",
        &one_page(&["Sujet du TD 3", "Réseaux — L1 Informatique"]),
    );
    write(
        "identity.pdf",
        &one_page(&["Carte nationale d'identité", "(copie)"]),
    );
    write("cvec.pdf", &one_page(&["Attestation CVEC", "2025-2026"]));

    for s in &batch.students {
        println!("{} {} {}", s.cod_etu, s.last_name, s.first_name);
    }
    println!("fixtures written to {}", out.display());
}

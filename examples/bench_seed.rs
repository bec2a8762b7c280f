//! Data for the load figures of `bench/` (see bench/README.md; driven by bench/run.sh):
//!
//!   bench_seed data OUT_DIR [STUDENTS] [UPLOAD_STUDENTS] [RECEIPT_DOCS]
//!       OUT_DIR/students.csv   an Apogée enrolment extraction of STUDENTS (60,000) students,
//!                              6,000 per composante 901, 902… (901…910 for 60,000; 901…950
//!                              for 300,000), year 2025, state E;
//!       OUT_DIR/upload.body    a multipart body for POST /uploads holding a relevé batch of the
//!                              first UPLOAD_STUDENTS (20) students (boundary in upload.boundary);
//!       OUT_DIR/seed.pdf       a batch of the first RECEIPT_DOCS (2,000) students, whose split
//!                              documents the receipts scenario addresses.
//!   bench_seed mark-deposited DATABASE_URL TREATMENT_ID
//!       marks the documents of that treatment as deposited in Digiposte (awaiting_receipt, with
//!       Digiposte id `dp-<cod_etu>`), as the deliver worker would after Digiposte's answer.
//!   bench_seed receipts SECRET COUNT RECEIPT_DOCS OUT_FILE
//!       COUNT signed `DELIVERED` receipts, one per line: `<timestamp>\t<signature>\t<body>`,
//!       for the documents marked above (round robin; each receipt id unique). The timestamp is
//!       now: use the file within `digiposte.webhook_tolerance_secs`.

use std::io::Write;

use passerelle::pdf::fixture::{self, BatchSpec};

const FIRST_NUMBER: u64 = 30_000_001;
const SEED: u64 = 7;
const PER_COMPOSANTE: usize = 6_000;

fn spec(students: usize) -> BatchSpec {
    BatchSpec {
        students,
        seed: SEED,
        first_number: FIRST_NUMBER,
        max_pages_per_student: 2,
        ..BatchSpec::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let num = |i: usize, default: usize| arg(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match arg(0) {
        Some("data") => {
            let out = std::path::PathBuf::from(arg(1).expect("OUT_DIR"));
            data(&out, num(2, 60_000), num(3, 20), num(4, 2_000));
        }
        Some("mark-deposited") => {
            mark_deposited(arg(1).expect("DATABASE_URL"), arg(2).expect("TREATMENT_ID"));
        }
        Some("receipts") => receipts(
            arg(1).expect("SECRET"),
            num(2, 100_000),
            num(3, 2_000),
            arg(4).expect("OUT_FILE"),
        ),
        _ => {
            eprintln!("usage: bench_seed data|mark-deposited|receipts … (see the source header)");
            std::process::exit(2);
        }
    }
}

fn data(out: &std::path::Path, students: usize, upload_students: usize, receipt_docs: usize) {
    std::fs::create_dir_all(out).expect("OUT_DIR");
    let mut csv = String::from(
        "COD_ETU;COD_NNE_IND;LIB_NOM_PAT_IND;LIB_PR1_IND;DATE_NAI_IND;COD_CMP;COD_ETP;COD_ANU;ETA_IAE\n",
    );
    let composantes = (students / PER_COMPOSANTE).max(1);
    for (i, s) in fixture::students(&spec(students)).iter().enumerate() {
        let composante = 901 + (i / PER_COMPOSANTE) % composantes;
        csv.push_str(&format!(
            "{};{};{};{};{:02}/{:02}/{};{};L{}INF;2025;E\n",
            s.cod_etu,
            s.ine,
            s.last_name,
            s.first_name,
            1 + i % 28,
            1 + i % 12,
            2000 + i % 6,
            composante,
            1 + i % 3,
        ));
    }
    std::fs::write(out.join("students.csv"), csv).expect("students.csv");

    let batch = fixture::batch(&spec(upload_students));
    let boundary = "passerelle-bench-boundary-7d2f";
    let mut body = Vec::new();
    for (name, value) in [
        ("document_type", "releve_notes"),
        ("academic_year", "2025"),
        ("composante", "901"),
        ("label", "Relevés L1 Informatique — banc de charge"),
    ] {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .unwrap();
    }
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"releves.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .unwrap();
    body.extend_from_slice(&batch.bytes);
    write!(body, "\r\n--{boundary}--\r\n").unwrap();
    std::fs::write(out.join("upload.body"), &body).expect("upload.body");
    std::fs::write(out.join("upload.boundary"), boundary).expect("upload.boundary");

    let seed = fixture::batch(&spec(receipt_docs));
    std::fs::write(out.join("seed.pdf"), &seed.bytes).expect("seed.pdf");
    println!(
        "students.csv: {students} students; upload.body: {} bytes ({upload_students} students, {} pages); seed.pdf: {receipt_docs} students",
        body.len(),
        batch.expected.iter().map(|(_, p)| p.len()).sum::<usize>() + batch.skipped.len(),
    );
}

fn mark_deposited(url: &str, treatment: &str) {
    use diesel::prelude::*;
    use passerelle::db::schema::documents;
    let db = passerelle::db::Db::connect(url, 1, 10_000).expect("database");
    let mut conn = db.conn().expect("connection");
    let ids: Vec<(String, String)> = documents::table
        .filter(documents::treatment_id.eq(treatment))
        .select((documents::id, documents::cod_etu))
        .load(&mut *conn)
        .expect("documents");
    let now = passerelle::db::now();
    for (id, cod_etu) in &ids {
        diesel::update(documents::table.find(id))
            .set((
                documents::delivery_status.eq("awaiting_receipt"),
                documents::digiposte_document_id.eq(format!("dp-{cod_etu}")),
                documents::deposited_at.eq(now),
            ))
            .execute(&mut *conn)
            .expect("update");
    }
    println!("{} documents marked deposited", ids.len());
}

fn receipts(secret: &str, count: usize, docs: usize, out: &str) {
    let ts = chrono::Utc::now().timestamp().to_string();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).expect("OUT_FILE"));
    for i in 0..count {
        let cod_etu = FIRST_NUMBER + (i % docs.max(1)) as u64;
        let body = serde_json::json!({
            "receipt_id": format!("bench-{}-{i}", &run[..8]),
            "document_id": format!("dp-{cod_etu}"),
            "status": "DELIVERED",
        })
        .to_string();
        let sig = passerelle::digiposte::signature::sign(secret.as_bytes(), &ts, body.as_bytes());
        writeln!(file, "{ts}\t{sig}\t{body}").unwrap();
    }
    file.flush().unwrap();
    println!("{count} signed receipts in {out}");
}

//! One timed split of a generated 1,000-student batch, for `/usr/bin/time -v` (peak RSS) and
//! side-by-side runs with the reference splitters:
//!   cargo run --release --example split_bench -- [STUDENTS] [OUT_DIR] [--cid] [--keep-batch FILE]
//! Prints the batch size, pages, documents and the wall time of validate + split + write.

use std::time::Instant;

use passerelle::pdf::fixture::{self, BatchSpec};
use passerelle::pdf::{SplitConfig, output, split};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let students: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let out = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| {
            std::env::temp_dir()
                .join("passerelle-split-bench")
                .display()
                .to_string()
        });
    let cid = args.iter().any(|a| a == "--cid");
    let keep = args
        .iter()
        .position(|a| a == "--keep-batch")
        .and_then(|i| args.get(i + 1));
    let batch = match args
        .iter()
        .position(|a| a == "--input")
        .and_then(|i| args.get(i + 1))
    {
        Some(path) => std::fs::read(path).expect("read the input batch"),
        None => {
            fixture::batch(&BatchSpec {
                students,
                cid_font: cid,
                ..BatchSpec::default()
            })
            .bytes
        }
    };
    if let Some(path) = keep {
        std::fs::write(path, &batch).expect("write the batch");
    }
    let _ = std::fs::remove_dir_all(&out);
    let config = SplitConfig::default();
    let started = Instant::now();
    let outcome = split(&batch, &config, &mut |_, _| {}).expect("the batch splits");
    let split_done = started.elapsed();
    output::write_outcome(&outcome, std::path::Path::new(&out), config.thread_count())
        .expect("write the documents");
    let total = started.elapsed();
    println!(
        "batch {} bytes, {} pages, {} documents: split {:.3} s, split + write {:.3} s",
        batch.len(),
        outcome.pages,
        outcome.documents.len(),
        split_done.as_secs_f64(),
        total.as_secs_f64()
    );
}

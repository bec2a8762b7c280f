//! Split benchmark: validate + split + write all files of a generated 1,000-student batch
//! (≈ 1,500 pages, embedded TrueType font, accented names). Run with
//!   cargo bench --bench split
//! and on one core with `taskset -c 0 cargo bench --bench split`.

use criterion::{Criterion, criterion_group, criterion_main};
use passerelle::pdf::fixture::{self, BatchSpec};
use passerelle::pdf::{SplitConfig, output, split};

fn bench(c: &mut Criterion) {
    let batch = fixture::batch(&BatchSpec {
        students: 1000,
        ..BatchSpec::default()
    });
    let config = SplitConfig::default();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("split");
    group.sample_size(20);
    group.bench_function("validate_split_write_1000_students", |b| {
        b.iter(|| {
            let outcome = split(&batch.bytes, &config, &mut |_, _| {}).unwrap();
            output::write_outcome(&outcome, dir.path(), config.thread_count()).unwrap();
            assert_eq!(outcome.documents.len(), 1000);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! serde_json over the record dataset (the generator json-cruncher uses): parse and
//! aggregate newline-delimited records, and serialize them back, at three sizes.
//! Every record parsed or written allocates several small strings, so the allocator shows.

mod common;

use common::check;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::crunch::crunch_serial;
use workloads::dataset;
use workloads::memory_patterns::size_label;
use workloads::record::{Record, Summary};

const SEED: u64 = 7;
const SIZES: [usize; 3] = [16 << 10, 256 << 10, 4 << 20];

/// Fewer samples at 4 MiB (tens of ms per iteration), so it fits its window.
fn samples_for(size: usize) -> usize {
    if size >= 1 << 20 {
        20
    } else {
        100
    }
}

fn parse_all(data: &[u8]) -> Vec<Record> {
    data.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("the dataset parses"))
        .collect()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    for size in SIZES {
        let data = dataset::ndjson(SEED, size);
        let mut direct = Summary::default();
        parse_all(&data).iter().for_each(|r| direct.add(r));
        let parsed = crunch_serial(&data).expect("the dataset parses");
        check("json parse checksum", parsed.checksum(), direct.checksum());
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.sample_size(samples_for(size));
        group.bench_with_input(
            BenchmarkId::new("parse", size_label(size)),
            &data,
            |b, data| b.iter(|| crunch_serial(black_box(data)).map(|s| s.checksum())),
        );
    }
    group.finish();
}

fn serialize(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    for size in SIZES {
        let data = dataset::ndjson(SEED, size);
        let records = parse_all(&data);
        let mut out = Vec::with_capacity(data.len());
        dataset::write_ndjson(&records, &mut out);
        check("json serialize round trip", out == data, true);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.sample_size(samples_for(size));
        group.bench_with_input(
            BenchmarkId::new("serialize", size_label(size)),
            &records,
            |b, records| {
                b.iter(|| {
                    // A fresh buffer each time, as a server writing a response would have.
                    let mut out = Vec::new();
                    dataset::write_ndjson(black_box(records), &mut out);
                    out.len()
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config(1.0, 2.0);
    targets = parse, serialize
}
criterion_main!(benches);

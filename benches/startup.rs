//! The in-process share of startup and per-request costs: environment lookups, clock reads
//! and formatting (a pure-Rust control). Process creation, loading and relocation happen
//! before `main` and are measured by `harness run`'s cold start, not here.

mod common;

use common::check;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::ffi::OsStr;
use std::hint::black_box;
use workloads::{dataset, startup_calls as calls};

const READS: u64 = 1_000;
const LINES: usize = 100;

fn startup_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("startup");
    let names = [
        OsStr::new("PATH"),
        OsStr::new("HOME"),
        OsStr::new("WORKLOADS_SURELY_UNSET_VAR"),
    ];
    check(
        "env_var",
        calls::env_lookups(&names),
        calls::env_scan(&names),
    );
    group.throughput(Throughput::Elements(names.len() as u64));
    group.bench_function(BenchmarkId::new("env_var", names.len()), |b| {
        b.iter(|| calls::env_lookups(black_box(&names)))
    });

    group.throughput(Throughput::Elements(READS));
    check("instant_now", calls::monotonic_reads(READS), READS - 1);
    group.bench_function(BenchmarkId::new("instant_now", READS), |b| {
        b.iter(|| calls::monotonic_reads(black_box(READS)))
    });
    check("system_time_now", calls::wall_clock_reads(READS), READS);
    group.bench_function(BenchmarkId::new("system_time_now", READS), |b| {
        b.iter(|| calls::wall_clock_reads(black_box(READS)))
    });

    let records = dataset::records(1, LINES);
    let mut out = String::new();
    let len = calls::format_lines(&records, &mut out);
    check(
        "format_lines",
        (len, out.lines().count()),
        (out.len(), LINES),
    );
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function(BenchmarkId::new("format_lines", LINES), |b| {
        b.iter(|| calls::format_lines(black_box(&records), &mut out))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config(1.0, 2.0);
    targets = startup_benches
}
criterion_main!(benches);

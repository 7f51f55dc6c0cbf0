//! What the allocator decides: small-object churn, mixed sizes, `Vec` growth, a block past
//! the mmap threshold, and small-object churn on 1, 2, 4, … up to nproc threads at once,
//! where a malloc with one global lock (musl's) stops scaling. The threaded churn runs on a
//! pool of long-lived threads, so it times contention, not thread creation (see `threads`).

mod common;

use common::check;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::alloc_patterns as alloc;
use workloads::thread_patterns::{available_threads, thread_counts};

const SEED: u64 = 42;
/// Allocations per `small_churn` call (16–256 B each, 64 kept alive).
const CHURN: usize = 10_000;
/// Allocations per `mixed_sizes` call (16 B – 64 KiB, 16 kept alive).
const MIXED: usize = 1_000;
/// Allocations per thread per `threaded_churn` iteration.
const CHURN_PER_THREAD: usize = 20_000;
/// `small_churn(CHURN, SEED)` and `mixed_sizes(MIXED, SEED)`, the same on every target.
const SMALL_CHURN_SUM: u64 = 2_636_385;
const MIXED_SIZES_SUM: u64 = 10_215_296;

fn single_threaded(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc");
    check(
        "small_churn",
        alloc::small_churn(CHURN, SEED),
        SMALL_CHURN_SUM,
    );
    group.throughput(Throughput::Elements(CHURN as u64));
    group.bench_with_input(BenchmarkId::new("small_churn", CHURN), &CHURN, |b, &n| {
        b.iter(|| alloc::small_churn(black_box(n), SEED))
    });

    check(
        "mixed_sizes",
        alloc::mixed_sizes(MIXED, SEED),
        MIXED_SIZES_SUM,
    );
    group.throughput(Throughput::Elements(MIXED as u64));
    group.bench_with_input(BenchmarkId::new("mixed_sizes", MIXED), &MIXED, |b, &n| {
        b.iter(|| alloc::mixed_sizes(black_box(n), SEED))
    });

    for len in [1_000usize, 1_000_000] {
        let n = len as u64;
        check("vec_growth", alloc::vec_growth(len), n * (n - 1) / 2);
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("vec_growth", len), &len, |b, &len| {
            b.iter(|| alloc::vec_growth(black_box(len)))
        });
    }

    // glibc's mmap threshold starts at 128 KiB and rises after the first free; musl's is
    // about 128 KiB and fixed. 1 MiB is above both.
    for (label, bytes) in [("128KiB", 128usize << 10), ("1MiB", 1 << 20)] {
        check("big_block", alloc::big_block(bytes), 3);
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("big_block", label), &bytes, |b, &bytes| {
            b.iter(|| alloc::big_block(black_box(bytes)))
        });
    }
    group.finish();
}

fn multi_threaded(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc");
    for threads in thread_counts(available_threads()) {
        let one_by_one: u64 = (0..threads)
            .map(|t| alloc::small_churn(CHURN_PER_THREAD, t as u64))
            .sum();
        let pool = alloc::ChurnPool::new(threads);
        check("threaded_churn", pool.churn(CHURN_PER_THREAD), one_by_one);
        group.throughput(Throughput::Elements((threads * CHURN_PER_THREAD) as u64));
        group.bench_with_input(
            BenchmarkId::new("threaded_churn", threads),
            &CHURN_PER_THREAD,
            |b, &count| b.iter(|| pool.churn(black_box(count))),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config(1.0, 3.0);
    targets = single_threaded, multi_threaded
}
criterion_main!(benches);

//! Threads: spawn and join (libc's `pthread_create`), and a mutex handoff and a channel
//! ping-pong between two threads (futexes in Rust's std: mostly a control).

mod common;

use common::check;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::thread_patterns as threads;

/// Handoffs or round trips per iteration: enough that the one spawn each costs is noise.
const ROUNDS: u64 = 1_000;

fn thread_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("threads");
    for n in [1usize, 8] {
        check("spawn_join", threads::spawn_join(n), (n * n) as u64);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("spawn_join", n), &n, |b, &n| {
            b.iter(|| threads::spawn_join(black_box(n)))
        });
    }

    // Tens of ms per iteration: fewer samples so each fits its window.
    group.sample_size(20);
    group.throughput(Throughput::Elements(ROUNDS));
    check("mutex_handoff", threads::mutex_handoff(ROUNDS), ROUNDS);
    group.bench_with_input(
        BenchmarkId::new("mutex_handoff", ROUNDS),
        &ROUNDS,
        |b, &n| b.iter(|| threads::mutex_handoff(black_box(n))),
    );

    check(
        "channel_ping_pong",
        threads::channel_ping_pong(ROUNDS),
        ROUNDS * (ROUNDS + 1) / 2,
    );
    group.bench_with_input(
        BenchmarkId::new("channel_ping_pong", ROUNDS),
        &ROUNDS,
        |b, &n| b.iter(|| threads::channel_ping_pong(black_box(n))),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config(1.0, 2.0);
    targets = thread_benches
}
criterion_main!(benches);

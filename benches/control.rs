//! The suite's negative control: a bench whose measured loop calls no C library routine and
//! allocates nothing, so every link and allocator runs the same instructions on the same
//! bytes. Its ratio to the baseline must come out within noise; where it does not, the
//! method is not holding on that machine (`harness bench` says so), whatever the other
//! rows show.
//!
//! `fnv1a/4KiB` hashes a page-aligned 4 KiB buffer: a chain of dependent multiplies, so its
//! time is the core's alone, and the placement of its code (which differs between two links
//! of the same source) cannot change it. A tight SIMD loop is no control: Rust's own
//! `str::find` (`memory/str_find`) runs at different speeds in the glibc and the musl
//! binary with no libc code involved, through code placement alone.

mod common;

use common::check;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::aligned::AlignedBuf;
use workloads::memory_patterns as mem;

const HASH_BYTES: usize = 4 << 10;

fn controls(c: &mut Criterion) {
    let mut group = c.benchmark_group("control");
    let mut bytes = None;
    group.throughput(Throughput::Bytes(HASH_BYTES as u64));
    group.bench_function(
        BenchmarkId::new("fnv1a", mem::size_label(HASH_BYTES)),
        |b| {
            let bytes = bytes.get_or_insert_with(|| {
                let source = mem::random_bytes(HASH_BYTES, 4);
                let bytes = AlignedBuf::from_slice(&source, 0);
                check("fnv1a", mem::checksum(&bytes), mem::checksum(&source));
                bytes
            });
            b.iter(|| mem::checksum(black_box(&*bytes)))
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config(0.5, 1.5);
    targets = controls
}
criterion_main!(benches);

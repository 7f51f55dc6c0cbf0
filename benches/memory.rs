//! memcpy, memmove, memset, memchr and memmem from 16 B to 16 MiB, plus Rust's own
//! substring search as a control that no libc touches.

mod common;

use common::check;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::memory_patterns::{self as mem, size_label, SIZES};

/// How far the overlapping memmove shifts its bytes.
const SHIFT: usize = 8;

/// Fewer samples for the big sizes, so that 16 MiB finishes inside the window.
fn samples_for(size: usize) -> usize {
    if size >= 1 << 20 {
        20
    } else {
        100
    }
}

fn copies(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory");
    for size in SIZES {
        let src = mem::random_bytes(size, 1);
        let mut dst = vec![0u8; size];
        mem::copy(&mut dst, &src);
        check("memcpy", mem::checksum(&dst), mem::checksum(&src));
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(samples_for(size));
        group.bench_function(BenchmarkId::new("memcpy", size_label(size)), |b| {
            b.iter(|| mem::copy(black_box(&mut dst), black_box(&src)))
        });

        let mut buf = src.clone();
        mem::move_overlapping(&mut buf, SHIFT);
        check("memmove", &buf[SHIFT..], &src[..size - SHIFT]);
        group.bench_function(BenchmarkId::new("memmove", size_label(size)), |b| {
            b.iter(|| mem::move_overlapping(black_box(&mut buf), SHIFT))
        });

        mem::fill(&mut buf, 0x5a);
        check("memset", buf.iter().all(|&b| b == 0x5a), true);
        let mut byte = 0u8;
        group.bench_function(BenchmarkId::new("memset", size_label(size)), |b| {
            b.iter(|| {
                byte = byte.wrapping_add(1);
                mem::fill(black_box(&mut buf), byte)
            })
        });
    }
    group.finish();
}

fn searches(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory");
    for size in SIZES {
        // No zero byte but the last: memchr scans the whole buffer.
        let mut bytes = mem::random_bytes(size, 2);
        bytes[size - 1] = 0;
        check("memchr", mem::find_byte(&bytes, 0), size - 1);
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(samples_for(size));
        group.bench_function(BenchmarkId::new("memchr", size_label(size)), |b| {
            b.iter(|| mem::find_byte(black_box(&bytes), 0))
        });

        let hay = mem::haystack(size, 3);
        let at = size - mem::NEEDLE.len();
        check(
            "memmem",
            mem::find_substring(hay.as_bytes(), mem::NEEDLE.as_bytes()),
            at,
        );
        group.bench_function(BenchmarkId::new("memmem", size_label(size)), |b| {
            b.iter(|| mem::find_substring(black_box(hay.as_bytes()), mem::NEEDLE.as_bytes()))
        });

        check("str_find", mem::find_substring_std(&hay, mem::NEEDLE), at);
        group.bench_function(BenchmarkId::new("str_find", size_label(size)), |b| {
            b.iter(|| mem::find_substring_std(black_box(&hay), mem::NEEDLE))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config(0.5, 1.5);
    targets = copies, searches
}
criterion_main!(benches);

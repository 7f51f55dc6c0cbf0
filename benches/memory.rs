//! memcpy, memmove, memset, memchr and memmem from 16 B to 16 MiB (and Rust's own substring
//! search beside `memmem` at 64 KiB), over buffers whose
//! placement the bench fixes (`workloads::aligned`): every buffer starts on a 4 KiB page,
//! a copy's destination half a page in, so the figure is the routine's, not the allocator's
//! choice of address. Nothing is allocated inside a measured loop, and each size's buffers
//! are made only when its bench runs, so a filtered process starts at once.

mod common;

use common::check;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use workloads::aligned::{AlignedBuf, DESTINATION_OFFSET};
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

/// A page-aligned source of `size` random bytes and a destination half a page in.
fn copy_buffers(size: usize) -> (AlignedBuf, AlignedBuf) {
    let src = AlignedBuf::from_slice(&mem::random_bytes(size, 1), 0);
    let mut dst = AlignedBuf::zeroed(size, DESTINATION_OFFSET);
    mem::copy(&mut dst, &src);
    check("memcpy", mem::checksum(&dst), mem::checksum(&src));
    (src, dst)
}

fn copies(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory");
    for size in SIZES {
        // Criterion calls each closure once per sample; the buffers are made at the first.
        let mut buffers = None;
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(samples_for(size));
        group.bench_function(BenchmarkId::new("memcpy", size_label(size)), |b| {
            let (src, dst) = buffers.get_or_insert_with(|| copy_buffers(size));
            b.iter(|| mem::copy(black_box(&mut *dst), black_box(&*src)))
        });

        let mut moved = None;
        group.bench_function(BenchmarkId::new("memmove", size_label(size)), |b| {
            let buf = moved.get_or_insert_with(|| {
                let src = mem::random_bytes(size, 1);
                let mut buf = AlignedBuf::from_slice(&src, 0);
                mem::move_overlapping(&mut buf, SHIFT);
                check("memmove", &buf[SHIFT..], &src[..size - SHIFT]);
                buf
            });
            b.iter(|| mem::move_overlapping(black_box(&mut *buf), SHIFT))
        });

        let mut filled = None;
        let mut byte = 0u8;
        group.bench_function(BenchmarkId::new("memset", size_label(size)), |b| {
            let buf = filled.get_or_insert_with(|| {
                let mut buf = AlignedBuf::zeroed(size, 0);
                mem::fill(&mut buf, 0x5a);
                check("memset", buf.iter().all(|&b| b == 0x5a), true);
                buf
            });
            b.iter(|| {
                byte = byte.wrapping_add(1);
                mem::fill(black_box(&mut *buf), byte)
            })
        });
    }
    group.finish();
}

fn searches(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        group.sample_size(samples_for(size));
        let mut bytes = None;
        group.bench_function(BenchmarkId::new("memchr", size_label(size)), |b| {
            let bytes = bytes.get_or_insert_with(|| {
                // No zero byte but the last: memchr scans the whole buffer.
                let mut bytes = AlignedBuf::from_slice(&mem::random_bytes(size, 2), 0);
                bytes[size - 1] = 0;
                check("memchr", mem::find_byte(&bytes, 0), size - 1);
                bytes
            });
            b.iter(|| mem::find_byte(black_box(&*bytes), 0))
        });

        let mut hay = None;
        group.bench_function(BenchmarkId::new("memmem", size_label(size)), |b| {
            let hay = hay.get_or_insert_with(|| {
                let hay = AlignedBuf::from_slice(mem::haystack(size, 3).as_bytes(), 0);
                let at = size - mem::NEEDLE.len();
                check(
                    "memmem",
                    mem::find_substring(&hay, mem::NEEDLE.as_bytes()),
                    at,
                );
                hay
            });
            b.iter(|| mem::find_substring(black_box(&*hay), mem::NEEDLE.as_bytes()))
        });
    }
    group.finish();
}

/// Rust's own substring search over the same text as `memmem` at one size: pure Rust, no
/// libc, so its ratio shows what code placement alone does between two links of one source.
fn rust_search(c: &mut Criterion) {
    const SIZE: usize = 64 << 10;
    let mut group = c.benchmark_group("memory");
    group.throughput(Throughput::Bytes(SIZE as u64));
    let mut hay = None;
    group.bench_function(BenchmarkId::new("str_find", size_label(SIZE)), |b| {
        let hay = hay.get_or_insert_with(|| {
            let hay = AlignedBuf::from_slice(mem::haystack(SIZE, 3).as_bytes(), 0);
            let text = std::str::from_utf8(&hay).expect("the haystack is ASCII");
            let at = SIZE - mem::NEEDLE.len();
            check("str_find", mem::find_substring_std(text, mem::NEEDLE), at);
            hay
        });
        let text = std::str::from_utf8(hay).expect("the haystack is ASCII");
        b.iter(|| mem::find_substring_std(black_box(text), mem::NEEDLE))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config(0.5, 1.5);
    targets = copies, searches, rust_search
}
criterion_main!(benches);

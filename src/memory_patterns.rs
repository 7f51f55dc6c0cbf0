//! Memory and string kernels whose speed the C library decides: memcpy, memmove, memset,
//! memchr and memmem, over buffers from 16 B to 16 MiB.
//!
//! Rust lowers `copy_from_slice`, `copy_within` and `fill` to calls of the C library's
//! `memcpy`, `memmove` and `memset` on both Linux targets (musl's own routines on musl). Rust's
//! byte and substring searches are pure Rust and never reach libc, so `find_byte` and
//! `find_substring` call libc's `memchr` and `memmem` directly; `find_substring_std` is the
//! pure-Rust search beside them (no libc at all). Where the buffers sit is `aligned`'s
//! business.
//! This module owns the kernels and their inputs; it does not own timing.

use crate::dataset;

/// The sizes the memory benches sweep, from one cache line's quarter to far past the LLC.
pub const SIZES: [usize; 6] = [16, 256, 4 << 10, 64 << 10, 1 << 20, 16 << 20];

/// The needle `find_substring` looks for: it occurs only at the very end of a haystack.
pub const NEEDLE: &str = "#needle!";

/// `16B`, `4KiB`, `16MiB`: how benches and tables name a size.
pub fn size_label(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b}B"),
    }
}

/// Copies `src` into `dst` (equal lengths): one `memcpy`. Returns `dst`'s last byte.
pub fn copy(dst: &mut [u8], src: &[u8]) -> u8 {
    dst.copy_from_slice(src);
    dst[dst.len() - 1]
}

/// Moves the first `buf.len() - shift` bytes of `buf` up by `shift`: one overlapping
/// `memmove`, which has to copy backwards. Returns the byte now at `shift`.
pub fn move_overlapping(buf: &mut [u8], shift: usize) -> u8 {
    let len = buf.len() - shift;
    buf.copy_within(0..len, shift);
    buf[shift]
}

/// Sets every byte of `buf` to `byte`: one `memset`. Returns the last byte.
pub fn fill(buf: &mut [u8], byte: u8) -> u8 {
    buf.fill(byte);
    buf[buf.len() - 1]
}

/// The index of the first `needle` byte in `haystack` by libc's `memchr`, or its length.
pub fn find_byte(haystack: &[u8], needle: u8) -> usize {
    // SAFETY: the pointer and length describe one live, initialised slice.
    let found = unsafe {
        libc::memchr(
            haystack.as_ptr().cast(),
            libc::c_int::from(needle),
            haystack.len(),
        )
    };
    if found.is_null() {
        haystack.len()
    } else {
        found as usize - haystack.as_ptr() as usize
    }
}

/// The index of the first `needle` in `haystack` by libc's `memmem`, or the haystack's length.
pub fn find_substring(haystack: &[u8], needle: &[u8]) -> usize {
    // SAFETY: both pointer/length pairs describe live, initialised slices.
    let found = unsafe {
        libc::memmem(
            haystack.as_ptr().cast(),
            haystack.len(),
            needle.as_ptr().cast(),
            needle.len(),
        )
    };
    if found.is_null() {
        haystack.len()
    } else {
        found as usize - haystack.as_ptr() as usize
    }
}

/// The same search by Rust's `str::find` (no libc involved).
pub fn find_substring_std(haystack: &str, needle: &str) -> usize {
    haystack.find(needle).unwrap_or(haystack.len())
}

/// Pseudo-random bytes that never contain `0` (so a search for `0` scans everything).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = dataset::SplitMix64::new(seed);
    (0..len).map(|_| 1 + rng.below(255) as u8).collect()
}

/// `len` bytes of JSON-lines text from the record dataset, ending in `NEEDLE` (its only
/// occurrence), so a substring search reads realistic text right to the end.
pub fn haystack(len: usize, seed: u64) -> String {
    assert!(len >= NEEDLE.len(), "a haystack holds at least the needle");
    let body = len - NEEDLE.len();
    let mut text = dataset::ndjson(seed, body);
    text.truncate(body);
    let mut text = String::from_utf8(text).expect("the dataset is ASCII JSON");
    text.push_str(NEEDLE);
    text
}

/// FNV-1a over every byte: for checking a kernel's whole output once, outside the timing.
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_do_what_libc_promises() {
        for &size in &SIZES[..5] {
            let src = random_bytes(size, 1);
            let mut dst = vec![0; size];
            assert_eq!(copy(&mut dst, &src), src[size - 1]);
            assert_eq!(checksum(&dst), checksum(&src));

            let mut buf = src.clone();
            move_overlapping(&mut buf, 8);
            assert_eq!(&buf[8..], &src[..size - 8]);

            assert_eq!(fill(&mut buf, 0x5a), 0x5a);
            assert!(buf.iter().all(|&b| b == 0x5a));

            assert_eq!(find_byte(&src, 0), size);
            let mut marked = src.clone();
            marked[size - 1] = 0;
            assert_eq!(find_byte(&marked, 0), size - 1);

            let hay = haystack(size, 2);
            assert_eq!(hay.len(), size);
            let at = size - NEEDLE.len();
            assert_eq!(find_substring(hay.as_bytes(), NEEDLE.as_bytes()), at);
            assert_eq!(find_substring_std(&hay, NEEDLE), at);
        }
        assert_eq!(find_substring(b"abc", b"zz"), 3);
    }

    #[test]
    fn sizes_are_labelled_in_binary_units() {
        let labels: Vec<_> = SIZES.iter().map(|&s| size_label(s)).collect();
        assert_eq!(labels, ["16B", "256B", "4KiB", "64KiB", "1MiB", "16MiB"]);
        assert_eq!(size_label(1000), "1000B");
    }
}

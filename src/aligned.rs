//! Byte buffers whose placement the caller fixes: each starts `offset` bytes past a page
//! boundary, whatever the allocator would have chosen.
//!
//! A `memcpy` of 64 KiB runs at very different speeds when its source and destination share
//! their low 12 address bits (4K aliasing) or straddle cache lines differently, and where a
//! `Vec` lands is the allocator's choice: glibc, musl and mimalloc each choose differently,
//! and ASLR moves it between processes. The memory benches take their buffers from here so
//! that they time the routine, not the placement. This module owns the allocation; what is
//! done with the bytes belongs to `memory_patterns`.

use std::alloc::{self, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// The alignment every buffer's allocation has: one 4 KiB page.
pub const PAGE: usize = 4096;

/// Where a copy's destination starts within its page while its source starts at 0: half a
/// page apart, so no store is followed by a load with the same low 12 address bits (no 4K
/// aliasing), and both stay 64-byte (cache line) aligned.
pub const DESTINATION_OFFSET: usize = PAGE / 2;

/// `len` zeroed bytes starting `offset` bytes after a page boundary.
pub struct AlignedBuf {
    base: NonNull<u8>,
    layout: Layout,
    offset: usize,
    len: usize,
}

impl AlignedBuf {
    /// `len` zeroed bytes at `offset` (below `PAGE`) past a page boundary; every byte is
    /// written once here, so no page fault lands in a timed loop.
    pub fn zeroed(len: usize, offset: usize) -> AlignedBuf {
        assert!(offset < PAGE, "an offset within one page");
        let layout = Layout::from_size_align((offset + len).max(1), PAGE)
            .expect("a buffer size below isize::MAX");
        // SAFETY: the layout's size is at least 1.
        let base = unsafe { alloc::alloc_zeroed(layout) };
        let Some(base) = NonNull::new(base) else {
            alloc::handle_alloc_error(layout)
        };
        AlignedBuf {
            base,
            layout,
            offset,
            len,
        }
    }

    /// A page-aligned (`offset` 0) copy of `bytes`.
    pub fn from_slice(bytes: &[u8], offset: usize) -> AlignedBuf {
        let mut buf = AlignedBuf::zeroed(bytes.len(), offset);
        buf.copy_from_slice(bytes);
        buf
    }

    /// The buffer's first byte's distance past a page boundary.
    pub fn page_offset(&self) -> usize {
        self.as_ptr() as usize % PAGE
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `offset + len` bytes were allocated (and zeroed) at `base` and live until
        // drop; `&self` keeps them from being written meanwhile.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(self.offset), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(self.offset), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this very layout.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) }
    }
}

// SAFETY: the buffer owns its bytes outright, like a `Vec<u8>`.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads.
unsafe impl Sync for AlignedBuf {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_start_where_asked_whatever_the_size() {
        for len in [0, 1, 16, 256, 4096, 65_536, 1 << 20] {
            for offset in [0, DESTINATION_OFFSET, 8] {
                let mut buf = AlignedBuf::zeroed(len, offset);
                assert_eq!(buf.len(), len);
                assert_eq!(buf.page_offset(), offset % PAGE, "{len} at {offset}");
                assert!(buf.iter().all(|&b| b == 0));
                buf.fill(7);
                assert!(buf.iter().all(|&b| b == 7));
            }
        }
        let copy = AlignedBuf::from_slice(b"abc", 0);
        assert_eq!(&copy[..], b"abc");
        assert_eq!(copy.page_offset(), 0);
    }
}

//! The workloads: what the sample apps serve and the criterion benches measure, written once.
//!
//! This crate owns the record type, the deterministic dataset generator, the JSON crunch
//! kernel, the allocation, memory and thread patterns and the in-process startup calls
//! that the benches measure. It also owns the choice of global allocator, through
//! the `mimalloc` and `jemalloc` features, so an app or bench that links it gets the
//! allocator its variant names. It does not own any I/O, networking or timing policy.

pub mod aligned;
pub mod alloc_patterns;
pub mod crunch;
pub mod dataset;
pub mod memory_patterns;
pub mod record;
pub mod startup_calls;
pub mod thread_patterns;

#[cfg(all(feature = "mimalloc", feature = "jemalloc"))]
compile_error!("features `mimalloc` and `jemalloc` are mutually exclusive: pick one allocator");

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator this build links, spelled as in variant names.
pub const fn allocator_name() -> &'static str {
    if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else if cfg!(feature = "jemalloc") {
        "jemalloc"
    } else {
        "system"
    }
}

/// The libc this build links, spelled as in variant names (`glibc` or `musl`).
pub const fn libc_name() -> &'static str {
    if cfg!(target_env = "musl") {
        "musl"
    } else {
        "glibc"
    }
}

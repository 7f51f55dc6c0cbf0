//! Shared by every bench file: the one-time correctness check and the criterion settings.
//!
//! Settings live in each file's `criterion_group!` config, so command-line flags such as
//! `--measurement-time` or `--quick` still override them.

use criterion::Criterion;
use std::fmt::Debug;
use std::time::Duration;

/// Checks a workload's result once, before it is timed: the same value on every libc and
/// allocator, or the bench stops with the variant named.
pub fn check<T: PartialEq + Debug>(what: &str, got: T, expected: T) {
    assert_eq!(
        got,
        expected,
        "{what}: wrong result with libc {} and allocator {}",
        workloads::libc_name(),
        workloads::allocator_name()
    );
}

/// Criterion with a warm-up and measurement window per bench file, in seconds.
pub fn config(warm_up_s: f64, measurement_s: f64) -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs_f64(warm_up_s))
        .measurement_time(Duration::from_secs_f64(measurement_s))
}

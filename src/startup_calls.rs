//! The in-process share of what a program pays at start and on every request: environment
//! lookups, clock reads and formatting a line.
//!
//! `std::env::var_os` reads the C library's `environ` under std's lock; `Instant::now` and
//! `SystemTime::now` call libc's `clock_gettime`, which glibc and musl both route through the
//! vDSO. Formatting is pure Rust and serves as a control. Process creation, dynamic loading and
//! relocation cannot be measured in-process: the harness's cold-start measurement covers them.
//! Each function returns a value a caller can check once; none owns timing.

use crate::record::Record;
use std::ffi::OsStr;
use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Looks up every name with `std::env::var_os`; returns the total length of the values found.
pub fn env_lookups(names: &[&OsStr]) -> usize {
    names
        .iter()
        .filter_map(std::env::var_os)
        .map(|value| value.len())
        .sum()
}

/// The same total, found by walking the whole environment instead of looking names up.
pub fn env_scan(names: &[&OsStr]) -> usize {
    std::env::vars_os()
        .filter(|(key, _)| names.contains(&key.as_os_str()))
        .map(|(_, value)| value.len())
        .sum()
}

/// Reads the monotonic clock `reads` times; returns how many reads did not go backwards
/// from the one before (always `reads - 1`).
pub fn monotonic_reads(reads: u64) -> u64 {
    let mut last = Instant::now();
    let mut in_order = 0;
    for _ in 1..reads {
        let now = Instant::now();
        in_order += u64::from(now >= last);
        last = now;
    }
    in_order
}

/// Reads the wall clock `reads` times; returns how many reads were after 2020-01-01
/// (all of them on a machine with a sane clock).
pub fn wall_clock_reads(reads: u64) -> u64 {
    let year_2020 = UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    (0..reads)
        .map(|_| u64::from(SystemTime::now() > year_2020))
        .sum()
}

/// Formats each record as a log-like line into `out` (cleared first); returns its length.
pub fn format_lines(records: &[Record], out: &mut String) -> usize {
    out.clear();
    for r in records {
        writeln!(
            out,
            "id={} name={:?} score={:.3} active={} tags={}",
            r.id,
            r.name,
            r.score,
            r.active,
            r.tags.len()
        )
        .expect("writing to a String cannot fail");
    }
    out.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset;

    #[test]
    fn env_lookup_and_scan_agree() {
        let names = [OsStr::new("PATH"), OsStr::new("WORKLOADS_SURELY_UNSET_VAR")];
        assert_eq!(env_lookups(&names), env_scan(&names));
        assert!(env_lookups(&names) > 0, "PATH is set under cargo test");
    }

    #[test]
    fn clocks_behave() {
        assert_eq!(monotonic_reads(1000), 999);
        assert_eq!(wall_clock_reads(10), 10);
    }

    #[test]
    fn lines_are_formatted_one_per_record() {
        let records = dataset::records(1, 50);
        let mut out = String::new();
        let len = format_lines(&records, &mut out);
        assert_eq!(len, out.len());
        assert_eq!(out.lines().count(), 50);
        assert!(out.starts_with("id=0 name=\""), "{out}");
    }
}

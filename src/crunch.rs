//! The JSON crunch kernel: parse newline-delimited records and aggregate them on T threads.
//!
//! Each record is parsed into an owned `Record` (several small allocations) and dropped, on
//! every thread at once: this is the pattern where a global-lock malloc falls over. The
//! kernel owns splitting and merging; it does not own timing or reading input.

use crate::record::{Record, Summary};
use std::thread;

/// Why a crunch failed: the input, not the program.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CrunchError {
    #[error("line {line}: not a valid record: {message}")]
    BadRecord { line: usize, message: String },
    #[error("the input holds no records")]
    Empty,
    #[error("threads must be at least 1")]
    NoThreads,
}

/// Parses and aggregates every non-empty line of `data`, split across `threads` threads.
pub fn crunch(data: &[u8], threads: usize) -> Result<Summary, CrunchError> {
    if threads == 0 {
        return Err(CrunchError::NoThreads);
    }
    let chunks = split_lines(data, threads);
    let results: Vec<Result<Summary, CrunchError>> = thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|&(first_line, chunk)| scope.spawn(move || crunch_chunk(chunk, first_line)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a crunch thread panicked"))
            .collect()
    });
    let mut total = Summary::default();
    for result in results {
        total.merge(&result?);
    }
    if total.records == 0 {
        return Err(CrunchError::Empty);
    }
    Ok(total)
}

/// Parses and aggregates every non-empty line of `data` on the calling thread: the kernel
/// alone, without the cost of spawning a thread.
pub fn crunch_serial(data: &[u8]) -> Result<Summary, CrunchError> {
    let summary = crunch_chunk(data, 0)?;
    if summary.records == 0 {
        return Err(CrunchError::Empty);
    }
    Ok(summary)
}

fn crunch_chunk(chunk: &[u8], first_line: usize) -> Result<Summary, CrunchError> {
    let mut summary = Summary::default();
    for (i, line) in chunk.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Record = serde_json::from_slice(line).map_err(|e| CrunchError::BadRecord {
            line: first_line + i + 1,
            message: e.to_string(),
        })?;
        summary.add(&record);
    }
    Ok(summary)
}

/// Splits `data` into at most `parts` pieces on line boundaries, each with its first line's
/// zero-based number (so errors can name the line).
pub fn split_lines(data: &[u8], parts: usize) -> Vec<(usize, &[u8])> {
    let target = data.len().div_ceil(parts.max(1)).max(1);
    let mut out = Vec::with_capacity(parts);
    let (mut start, mut line) = (0, 0);
    while start < data.len() {
        let mut end = (start + target).min(data.len());
        while end < data.len() && data[end - 1] != b'\n' {
            end += 1;
        }
        let piece = &data[start..end];
        out.push((line, piece));
        line += piece.iter().filter(|&&b| b == b'\n').count();
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset;
    use proptest::prelude::*;

    #[test]
    fn checksum_is_the_same_for_any_thread_count() {
        let data = dataset::ndjson(3, 50_000);
        let one = crunch(&data, 1).unwrap();
        for threads in [2, 3, 8, 64] {
            assert_eq!(crunch(&data, threads).unwrap().checksum(), one.checksum());
        }
        assert_eq!(crunch_serial(&data).unwrap(), one);
        assert!(one.records > 100);
    }

    #[test]
    fn bad_input_names_the_line() {
        let mut data = dataset::ndjson(3, 1_000);
        data.extend_from_slice(b"{\"id\": oops}\n");
        let lines = data.iter().filter(|&&b| b == b'\n').count();
        match crunch(&data, 2) {
            Err(CrunchError::BadRecord { line, .. }) => assert_eq!(line, lines),
            other => panic!("expected a bad record, got {other:?}"),
        }
        assert_eq!(crunch(b"\n\n", 1), Err(CrunchError::Empty));
        assert_eq!(crunch_serial(b"\n"), Err(CrunchError::Empty));
        assert_eq!(crunch(b"{}", 0), Err(CrunchError::NoThreads));
    }

    proptest! {
        #[test]
        fn split_keeps_every_byte_in_order(data in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..400), parts in 1usize..9) {
            let pieces = split_lines(&data, parts);
            let joined: Vec<u8> = pieces.iter().flat_map(|(_, p)| p.iter().copied()).collect();
            prop_assert_eq!(joined, data);
        }

        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), threads in 1usize..4) {
            let _ = crunch(&data, threads);
        }
    }

    proptest! {
        // json-cruncher's reader at scale: mutated datasets give a clean error naming a line
        // that exists, or the same summary on any thread count; never a panic.
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
        #[test]
        fn mutated_datasets_give_a_clean_error_or_a_consistent_summary(
            seed in any::<u64>(),
            bytes in 0usize..1500,
            edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..8),
            threads in 1usize..5,
        ) {
            let data = dataset::mutate(dataset::ndjson(seed, bytes), &edits);
            let serial = crunch_serial(&data);
            match crunch(&data, threads) {
                // Float sums depend on the split; the checksum covers the integer fields.
                Ok(summary) => prop_assert_eq!(Some(summary.checksum()), serial.ok().map(|s| s.checksum())),
                Err(CrunchError::BadRecord { line, message }) => {
                    let lines = data.split(|&b| b == b'\n').count();
                    prop_assert!((1..=lines).contains(&line), "line {} of {}", line, lines);
                    prop_assert!(!message.is_empty());
                    prop_assert!(serial.is_err());
                }
                Err(CrunchError::Empty) => prop_assert_eq!(serial, Err(CrunchError::Empty)),
                Err(CrunchError::NoThreads) => prop_assert!(false, "threads >= 1"),
            }
        }
    }
}

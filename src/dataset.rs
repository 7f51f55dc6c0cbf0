//! The deterministic dataset generator: the same seed gives the same bytes on every target.
//!
//! It uses its own small PRNG (SplitMix64) rather than a crate so that the stream can never
//! change under a dependency update, which would silently change every checksum.

use crate::record::Record;

/// SplitMix64: tiny, fast and with a fixed, documented output sequence.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (bound > 0); the tiny modulo bias does not matter here.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

const FIRST: [&str; 8] = [
    "ada", "alan", "grace", "linus", "barbara", "dennis", "ken", "margaret",
];
const LAST: [&str; 8] = [
    "lovelace", "turing", "hopper", "torvalds", "liskov", "ritchie", "thompson", "hamilton",
];
const TAGS: [&str; 10] = [
    "alpha", "beta", "gamma", "delta", "edge", "core", "io", "net", "cpu", "mem",
];

/// Builds record number `id` of the stream seeded by `rng`.
pub fn record(rng: &mut SplitMix64, id: u64) -> Record {
    let first = FIRST[rng.below(FIRST.len() as u64) as usize];
    let last = LAST[rng.below(LAST.len() as u64) as usize];
    let tag_count = 1 + rng.below(4) as usize;
    let tags = (0..tag_count)
        .map(|_| TAGS[rng.below(TAGS.len() as u64) as usize].to_string())
        .collect();
    Record {
        id,
        name: format!("{first} {last}"),
        email: format!("{first}{}@ex.io", rng.below(1000)),
        score: rng.below(1_000_000) as f64 / 1000.0,
        active: rng.below(2) == 1,
        tags,
    }
}

/// `count` freshly built records from `seed`.
pub fn records(seed: u64, count: usize) -> Vec<Record> {
    let mut rng = SplitMix64::new(seed);
    (0..count as u64).map(|id| record(&mut rng, id)).collect()
}

/// A newline-delimited JSON dataset of at least `target_bytes` bytes (whole records only).
pub fn ndjson(seed: u64, target_bytes: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(target_bytes + 256);
    let mut id = 0;
    while out.len() < target_bytes {
        serde_json::to_writer(&mut out, &record(&mut rng, id))
            .expect("serializing to a Vec cannot fail");
        out.push(b'\n');
        id += 1;
    }
    out
}

/// Serializes `records` as newline-delimited JSON into `out` (cleared first): the inverse of
/// parsing an `ndjson` dataset, byte for byte.
pub fn write_ndjson(records: &[Record], out: &mut Vec<u8>) {
    out.clear();
    for record in records {
        serde_json::to_writer(&mut *out, record).expect("serializing to a Vec cannot fail");
        out.push(b'\n');
    }
}

/// A JSON array of `count` records, the body `POST /parse` expects.
pub fn json_array(seed: u64, count: usize) -> Vec<u8> {
    serde_json::to_vec(&records(seed, count)).expect("serializing to a Vec cannot fail")
}

/// Applies byte edits to a dataset: overwrite, insert, delete, truncate, or plant a
/// JSON-significant byte. The readers' property tests (the crunch reader and http-server's
/// `POST /parse`) feed it generated edits to get near-miss inputs.
pub fn mutate(mut data: Vec<u8>, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    const SIGNIFICANT: &[u8] = b"{}[]\",:0-9e.\\ \n\x00\xff";
    for &(kind, at, byte) in edits {
        if data.is_empty() {
            data.push(byte);
            continue;
        }
        let at = at % data.len();
        match kind % 5 {
            0 => data[at] = byte,
            1 => data.insert(at, byte),
            2 => {
                data.remove(at);
            }
            3 => data.truncate(at),
            _ => data[at] = SIGNIFICANT[usize::from(byte) % SIGNIFICANT.len()],
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_sizes_are_met() {
        let a = ndjson(7, 10_000);
        assert_eq!(a, ndjson(7, 10_000));
        assert_ne!(a, ndjson(8, 10_000));
        assert!(a.len() >= 10_000 && a.len() < 10_400);
        assert_eq!(a.last(), Some(&b'\n'));
    }

    #[test]
    fn ndjson_round_trips_byte_for_byte() {
        let data = ndjson(5, 20_000);
        let records: Vec<Record> = data
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        let mut out = vec![1, 2, 3];
        write_ndjson(&records, &mut out);
        assert_eq!(out, data);
    }

    #[test]
    fn a_hundred_records_are_about_ten_kilobytes() {
        let body = serde_json::to_vec(&records(1, 100)).unwrap();
        assert!(
            (5_000..12_000).contains(&body.len()),
            "{} bytes",
            body.len()
        );
    }

    #[test]
    fn splitmix_matches_its_reference_sequence() {
        // Reference values of SplitMix64 seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }
}

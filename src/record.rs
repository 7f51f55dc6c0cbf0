//! The record type that every workload moves around, and the summary a crunch produces.
//!
//! Records are shaped like a typical API payload: a few short strings, numbers and a small
//! list, so parsing or building one allocates several times. The summary keeps only
//! integers in its checksum so that it is identical whatever the thread count or order.

use serde::{Deserialize, Serialize};

/// One record of the dataset (about 100 bytes as JSON, four heap allocations or more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub score: f64,
    pub active: bool,
    pub tags: Vec<String>,
}

/// The aggregate of a set of records. Merging is associative and commutative.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub records: u64,
    pub active: u64,
    pub id_sum: u64,
    pub tag_count: u64,
    pub name_bytes: u64,
    pub score_sum: f64,
}

impl Summary {
    pub fn add(&mut self, record: &Record) {
        self.records += 1;
        self.active += u64::from(record.active);
        self.id_sum = self.id_sum.wrapping_add(record.id);
        self.tag_count += record.tags.len() as u64;
        self.name_bytes += record.name.len() as u64;
        self.score_sum += record.score;
    }

    pub fn merge(&mut self, other: &Summary) {
        self.records += other.records;
        self.active += other.active;
        self.id_sum = self.id_sum.wrapping_add(other.id_sum);
        self.tag_count += other.tag_count;
        self.name_bytes += other.name_bytes;
        self.score_sum += other.score_sum;
    }

    /// A checksum over the integer fields only: the same for any split of the input.
    pub fn checksum(&self) -> u64 {
        // FNV-1a over the fields' little-endian bytes.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for field in [
            self.records,
            self.active,
            self.id_sum,
            self.tag_count,
            self.name_bytes,
        ] {
            for byte in field.to_le_bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    }
}

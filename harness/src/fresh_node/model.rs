//! The modelled columns of a variant's fresh-node record (the record type itself is in
//! `results`, as every published type).
//!
//! Measured: pull (split into download and unpack), start (create → first response, or →
//! exit for a batch app) and their sum, on a node that has never seen the image. Modelled
//! (and named so): the same with the download replaced by the compressed bytes over a
//! 100 Mbit/s or 1 Gbit/s link, since a loopback registry downloads far faster than any
//! real network.

use crate::measure::stats;
pub use crate::results::{FreshNode, FreshNodeSample};

/// The link speeds of the modelled columns, in bits per second.
pub const LINK_100_MBIT: f64 = 100e6;
pub const LINK_1_GBIT: f64 = 1e9;

/// Milliseconds to move `bytes` over a link of `bits_per_s`.
pub fn transfer_ms(bytes: u64, bits_per_s: f64) -> f64 {
    bytes as f64 * 8.0 / bits_per_s * 1e3
}

/// The modelled time to first response: the download at `bits_per_s`, plus the measured
/// median unpack and start.
pub fn modelled_first_response_ms(
    compressed_bytes: u64,
    bits_per_s: f64,
    unpack_median_ms: f64,
    start_median_ms: f64,
) -> f64 {
    transfer_ms(compressed_bytes, bits_per_s) + unpack_median_ms + start_median_ms
}

/// What was read once per variant: the fresh daemon's driver and the image's sizes.
pub struct Sizes {
    pub storage_driver: String,
    pub compressed_bytes: u64,
    pub unpacked_bytes: u64,
    pub layers: u32,
}

impl FreshNode {
    /// Summarizes the repetitions and models the links; `None` without samples.
    pub fn from_samples(sizes: Sizes, samples: Vec<FreshNodeSample>) -> Option<FreshNode> {
        let of = |f: fn(&FreshNodeSample) -> f64| {
            stats::summarize(&samples.iter().map(f).collect::<Vec<_>>())
        };
        let unpack_ms = of(|s| s.unpack_ms)?;
        let start_ms = of(|s| s.start_ms)?;
        let modelled = |bps| {
            modelled_first_response_ms(
                sizes.compressed_bytes,
                bps,
                unpack_ms.median,
                start_ms.median,
            )
        };
        Some(FreshNode {
            modelled_first_response_100mbit_ms: modelled(LINK_100_MBIT),
            modelled_first_response_1gbit_ms: modelled(LINK_1_GBIT),
            pull_ms: of(|s| s.pull_ms)?,
            download_ms: of(|s| s.download_ms)?,
            first_response_ms: of(|s| s.first_response_ms)?,
            unpack_ms,
            start_ms,
            storage_driver: sizes.storage_driver,
            compressed_bytes: sizes.compressed_bytes,
            unpacked_bytes: sizes.unpacked_bytes,
            layers: sizes.layers,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelled_columns_add_the_transfer_to_the_measured_unpack_and_start() {
        // 12.5 MB over 100 Mbit/s is exactly one second; over 1 Gbit/s, 100 ms.
        assert_eq!(transfer_ms(12_500_000, LINK_100_MBIT), 1000.0);
        assert_eq!(transfer_ms(12_500_000, LINK_1_GBIT), 100.0);
        assert_eq!(
            modelled_first_response_ms(12_500_000, LINK_100_MBIT, 40.0, 60.0),
            1100.0
        );
        assert_eq!(modelled_first_response_ms(0, LINK_1_GBIT, 1.5, 2.5), 4.0);
    }

    #[test]
    fn a_record_summarizes_its_samples_and_models_from_the_medians() {
        let sample = |unpack: f64, start: f64| FreshNodeSample {
            pull_ms: 10.0 + unpack,
            download_ms: 10.0,
            unpack_ms: unpack,
            start_ms: start,
            first_response_ms: 10.0 + unpack + start,
        };
        let sizes = Sizes {
            storage_driver: "overlay2".into(),
            compressed_bytes: 1_250_000,
            unpacked_bytes: 3_000_000,
            layers: 1,
        };
        let samples = vec![sample(20.0, 50.0), sample(30.0, 70.0), sample(25.0, 60.0)];
        let record = FreshNode::from_samples(sizes, samples).unwrap();
        assert_eq!(record.unpack_ms.median, 25.0);
        assert_eq!(record.start_ms.median, 60.0);
        assert_eq!(record.first_response_ms.median, 95.0);
        // 1.25 MB: 100 ms at 100 Mbit/s, 10 ms at 1 Gbit/s.
        assert_eq!(record.modelled_first_response_100mbit_ms, 185.0);
        assert_eq!(record.modelled_first_response_1gbit_ms, 95.0);
        let none = Sizes {
            storage_driver: "vfs".into(),
            compressed_bytes: 0,
            unpacked_bytes: 0,
            layers: 0,
        };
        assert!(FreshNode::from_samples(none, Vec::new()).is_none());
    }
}

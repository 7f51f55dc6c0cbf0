//! Statistics over repeated samples: percentiles, the `Summary` every repeated metric gets,
//! the bootstrap confidence interval of the median, the interleaved run order, and the noise
//! test `harness compare` uses.
//!
//! Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the
//! default of numpy and R): for sorted `x[0..n]` and `p` in [0, 1], `h = (n - 1) * p`, and the
//! result is `x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])`. The median is
//! the 0.5 percentile. Latency percentiles of load windows come from hdrhistogram instead
//! (see `loadgen`); this module does not measure anything itself.

use crate::results::{Ratio, Summary};
use workloads::dataset::SplitMix64;

/// Bootstrap resamples behind every median confidence interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// The fixed seed of the bootstrap: the same samples always give the same interval.
const BOOTSTRAP_SEED: u64 = 0x5eed_b007_57a9_0001;

/// The `p` percentile (`p` in [0, 1]) of already sorted, non-empty `sorted`; type 7 (see above).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let low = h.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (h - low as f64) * (sorted[high] - sorted[low])
}

/// n, min, median, p5, p95, max and the 95% bootstrap CI of the median; `None` for no samples.
///
/// NaN samples are dropped (a NaN is never a measurement); if nothing is left, `None`.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let (median_ci_low, median_ci_high) = bootstrap_median_ci(&sorted);
    Some(Summary {
        n: sorted.len() as u32,
        min: sorted[0],
        median: percentile(&sorted, 0.5),
        p5: percentile(&sorted, 0.05),
        p95: percentile(&sorted, 0.95),
        max: sorted[sorted.len() - 1],
        median_ci_low,
        median_ci_high,
    })
}

/// The 95% percentile-bootstrap interval of the median: resample with replacement
/// `BOOTSTRAP_RESAMPLES` times (seeded, so deterministic), take the 2.5th and 97.5th
/// percentiles of the resampled medians.
pub fn bootstrap_median_ci(samples: &[f64]) -> (f64, f64) {
    assert!(!samples.is_empty(), "bootstrap of no samples");
    let n = samples.len();
    let mut rng = SplitMix64::new(BOOTSTRAP_SEED ^ n as u64);
    let mut resample = vec![0.0; n];
    let mut medians = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for slot in resample.iter_mut() {
            *slot = samples[rng.below(n as u64) as usize];
        }
        medians.push(median_in_place(&mut resample));
    }
    medians.sort_by(f64::total_cmp);
    (percentile(&medians, 0.025), percentile(&medians, 0.975))
}

/// The median (type 7) of unsorted `values`, reordering them; O(n).
fn median_in_place(values: &mut [f64]) -> f64 {
    let n = values.len();
    let mid = n / 2;
    let (left, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let lower = left.iter().copied().max_by(f64::total_cmp).unwrap_or(upper);
    (lower + upper) / 2.0
}

/// The order in which repeated runs of several variants happen: run by run, every variant
/// once per round (ABCABC…, not AAABBBCCC), so slow drift of the machine (thermal, other
/// load) spreads evenly over the variants instead of landing on one. Items are
/// `(run index, variant)`.
pub fn interleaved_order<T>(variants: &[T], runs: u32) -> Vec<(u32, &T)> {
    (0..runs)
        .flat_map(|run| variants.iter().map(move |v| (run, v)))
        .collect()
}

/// `items` in a seeded random order (Fisher–Yates on SplitMix64): round `r` of a run uses
/// seed `r`, so the order differs between rounds and is the same in every run.
pub fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut rng = SplitMix64::new(0x0ade_5f1e_0000_0000 ^ seed);
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

/// The median and 95% bootstrap interval of per-round ratios `sample ÷ baseline`, pairing
/// each round's sample with the baseline's sample of the same round (`(round, value)`);
/// rounds missing on either side, and non-positive baselines, are left out. Pairing cancels
/// what drifts between rounds (other load on the machine), which affects both alike.
pub fn paired_ratio(samples: &[(u32, f64)], baseline: &[(u32, f64)]) -> Option<Ratio> {
    let ratios: Vec<f64> = samples
        .iter()
        .filter_map(|(round, x)| {
            let (_, b) = baseline.iter().find(|(r, _)| r == round)?;
            (*b > 0.0 && x.is_finite()).then(|| x / b)
        })
        .collect();
    let summary = summarize(&ratios)?;
    Some(Ratio {
        n: summary.n,
        median: summary.median,
        ci_low: summary.median_ci_low,
        ci_high: summary.median_ci_high,
    })
}

/// The coefficient of variation (sample standard deviation ÷ mean) of `samples`; `None`
/// for fewer than two samples or a zero mean.
pub fn coefficient_of_variation(samples: &[f64]) -> Option<f64> {
    let n = samples.len();
    if n < 2 {
        return None;
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean != 0.0).then(|| var.sqrt() / mean.abs())
}

/// Whether an interval lies wholly on one side of `value` (a ratio's interval against 1:
/// "beyond noise"); touching or containing it is "within noise".
pub fn excludes(low: f64, high: f64, value: f64) -> bool {
    high < value || low > value
}

/// Whether two summaries' medians differ beyond the noise of both: their 95% bootstrap
/// intervals do not overlap.
///
/// From 6 samples up this is conservative: with equal widths, non-overlap of two 95%
/// intervals corresponds to p ≈ 0.006, so "beyond noise" is a strong claim on a shared,
/// noisy machine, while "within noise" only says this run cannot tell. Up to 5 samples the
/// bootstrap interval is the samples' range, so two runs of the same thing are disjoint by
/// chance more often: 10% of the time with 3 samples, 0.8% with 5
/// (`compare::small_sample_note` says so where it applies). A single sample has no
/// noise estimate, so the caller reports it as not applicable instead.
pub fn beyond_noise(old: &Summary, new: &Summary) -> bool {
    old.median_ci_high < new.median_ci_low || new.median_ci_high < old.median_ci_low
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percentile_interpolates_between_closest_ranks() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&x, 0.0), 1.0);
        assert_eq!(percentile(&x, 1.0), 4.0);
        assert_eq!(percentile(&x, 0.5), 2.5);
        // numpy.percentile([1,2,3,4], 95) == 3.85
        assert!((percentile(&x, 0.95) - 3.85).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.3), 7.0);
    }

    #[test]
    fn summary_of_known_samples() {
        let samples: Vec<f64> = (1..=21).rev().map(f64::from).collect();
        let s = summarize(&samples).unwrap();
        assert_eq!((s.n, s.min, s.median, s.max), (21, 1.0, 11.0, 21.0));
        assert_eq!((s.p5, s.p95), (2.0, 20.0));
        assert!(s.median_ci_low < 11.0 && s.median_ci_high > 11.0, "{s:?}");
        // The bootstrap median of 21 evenly spread values stays well inside the range.
        assert!(s.median_ci_low >= 6.0 && s.median_ci_high <= 16.0, "{s:?}");
        assert_eq!(summarize(&samples), Some(s), "bootstrap is deterministic");
    }

    #[test]
    fn empty_and_nan_samples() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN]), None);
        let s = summarize(&[f64::NAN, 3.0]).unwrap();
        assert_eq!(
            (s.n, s.median, s.median_ci_low, s.median_ci_high),
            (1, 3.0, 3.0, 3.0)
        );
    }

    #[test]
    fn median_in_place_handles_even_and_odd() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_in_place(&mut [5.0]), 5.0);
    }

    #[test]
    fn interleaving_goes_round_by_round() {
        let order: Vec<_> = interleaved_order(&["a", "b", "c"], 2)
            .into_iter()
            .map(|(run, v)| format!("{v}{run}"))
            .collect();
        assert_eq!(order, ["a0", "b0", "c0", "a1", "b1", "c1"]);
        assert!(interleaved_order(&["a"], 0).is_empty());
        assert!(interleaved_order::<&str>(&[], 5).is_empty());
    }

    #[test]
    fn shifted_samples_are_beyond_noise_and_resampled_ones_are_not() {
        let base: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i % 7)).collect();
        let shifted: Vec<f64> = base.iter().map(|x| x + 20.0).collect();
        let same: Vec<f64> = base.iter().rev().map(|x| x + 0.5).collect();
        let (a, b, c) = (
            summarize(&base).unwrap(),
            summarize(&shifted).unwrap(),
            summarize(&same).unwrap(),
        );
        assert!(beyond_noise(&a, &b) && beyond_noise(&b, &a));
        assert!(!beyond_noise(&a, &c));
    }

    #[test]
    fn paired_ratios_cancel_drift_that_hits_both() {
        // The machine's speed halves in the later rounds; the variant is always 0.5x.
        let base: Vec<(u32, f64)> = (0..6)
            .map(|r| (r, if r < 3 { 1000.0 } else { 500.0 }))
            .collect();
        let variant: Vec<(u32, f64)> = base.iter().map(|(r, x)| (*r, x * 0.5)).collect();
        let ratio = paired_ratio(&variant, &base).unwrap();
        assert_eq!(
            (ratio.n, ratio.median, ratio.ci_low, ratio.ci_high),
            (6, 0.5, 0.5, 0.5)
        );
        // Unpaired, the two would overlap: the drift is larger than the effect.
        let (a, b) = (
            summarize(&base.iter().map(|x| x.1).collect::<Vec<_>>()).unwrap(),
            summarize(&variant.iter().map(|x| x.1).collect::<Vec<_>>()).unwrap(),
        );
        assert!(!beyond_noise(&a, &b), "{a:?} {b:?}");
        // Rounds missing on one side are left out; no pairs, no ratio.
        let ratio = paired_ratio(&variant[..2], &base[1..]).unwrap();
        assert_eq!(ratio.n, 1);
        assert!(paired_ratio(&variant[..1], &base[1..]).is_none());
        assert!(paired_ratio(&[(0, 1.0)], &[(0, 0.0)]).is_none());
    }

    #[test]
    fn shuffles_are_seeded_permutations() {
        let items: Vec<u32> = (0..6).collect();
        let a = shuffled(&items, 1);
        assert_eq!(a, shuffled(&items, 1), "the same seed, the same order");
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, items);
        assert!(
            (0..10).any(|seed| shuffled(&items, seed) != a),
            "seeds differ"
        );
        assert!(shuffled::<u32>(&[], 3).is_empty());
    }

    #[test]
    fn coefficient_of_variation_and_intervals_against_one() {
        assert_eq!(coefficient_of_variation(&[5.0]), None);
        let cv = coefficient_of_variation(&[9.0, 10.0, 11.0]).unwrap();
        assert!((cv - 0.1).abs() < 1e-12, "{cv}");
        assert!(excludes(0.3, 0.7, 1.0) && excludes(1.1, 1.3, 1.0));
        assert!(!excludes(0.9, 1.1, 1.0) && !excludes(0.9, 1.0, 1.0));
    }

    proptest! {
        #[test]
        fn summary_is_ordered_and_ci_contains_the_median(
            samples in proptest::collection::vec(-1e6f64..1e6, 1..60)
        ) {
            let s = summarize(&samples).unwrap();
            prop_assert!(s.min <= s.p5 && s.p5 <= s.median && s.median <= s.p95 && s.p95 <= s.max);
            prop_assert!(s.min <= s.median_ci_low && s.median_ci_high <= s.max);
            prop_assert!(s.median_ci_low <= s.median && s.median <= s.median_ci_high, "{:?}", s);
            prop_assert_eq!(s.n as usize, samples.len());
        }

        #[test]
        fn interleaving_runs_every_variant_once_per_round(k in 1usize..6, runs in 0u32..10) {
            let variants: Vec<usize> = (0..k).collect();
            let order = interleaved_order(&variants, runs);
            prop_assert_eq!(order.len(), k * runs as usize);
            for (i, (run, v)) in order.iter().enumerate() {
                prop_assert_eq!(*run as usize, i / k);
                prop_assert_eq!(**v, i % k);
            }
        }
    }
}

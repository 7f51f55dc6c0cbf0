//! Statistics over repeated samples: percentiles, the `Summary` every repeated metric gets,
//! the distribution-free interval of the median at its true level, paired ratios and their
//! p-values, the false-discovery-rate control a report applies over all its comparisons,
//! and the interleaved run order.
//!
//! Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the
//! default of numpy and R): for sorted `x[0..n]` and `p` in [0, 1], `h = (n - 1) * p`, and the
//! result is `x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])`. The median is
//! the 0.5 percentile. Latency percentiles of load windows come from hdrhistogram instead
//! (see `loadgen`); this module does not measure anything itself.
//!
//! **Intervals.** The interval of a median is the pair of order statistics `[x(k), x(n+1-k)]`
//! with the largest `k` whose coverage `1 - 2·P(Bin(n, ½) ≤ k-1)` is at least 95%; that
//! coverage holds for any continuous distribution and is recorded beside the interval. Up
//! to 5 samples no pair reaches 95%, and the interval is the samples' range at its own
//! level (93.75% for 5, 87.5% for 4, 75% for 3): it is always printed as what it is.
//!
//! **Tests.** A paired ratio's p-value is the two-sided paired t-test on the logarithms of
//! the per-round ratios (n − 1 degrees of freedom). The exact sign test would need no
//! assumption, but its smallest p-value at n rounds is 2^(1−n) (3.1% at 6 rounds), too
//! coarse to survive any correction over the ~100 comparisons a report makes; the t-test
//! on logs is continuous, and an outlying round widens its variance (it turns cautious,
//! not bold). A comparison is called "beyond noise" only when both agree: its Holm-adjusted
//! p-value over the whole family of comparisons is at most 5%, and its interval excludes 1.
//! Holm controls the family-wise error rate: the chance that any of the family's null
//! comparisons (the A/A control, a same-binary pair, a variant no different from the
//! baseline) is called beyond noise is at most 5%, however many real effects the family
//! holds. (Benjamini–Hochberg, tried first, controls the share of false calls among all
//! calls instead: with ~40 strong musl effects in a run it let p ≈ 0.016 through, and a
//! same-binary pair came out "beyond noise" in a headline cell.)

use crate::results::{Ratio, Summary};
use workloads::dataset::SplitMix64;

/// The coverage the intervals aim for.
pub const TARGET_LEVEL: f64 = 0.95;
/// The family-wise error rate "beyond noise" is controlled at, over a family of comparisons.
pub const ALPHA: f64 = 0.05;
/// How a comparison is judged, as results files and reports name it.
pub const METHOD: &str = "paired ratios to the baseline, one per round; beyond noise when the distribution-free interval of the median ratio excludes 1 and the Holm-adjusted p-value of the paired t-test on log ratios (over every comparison judged together) is at most 0.05";
/// Rounds from which the interval of a median reaches `TARGET_LEVEL`.
pub const ROUNDS_FOR_TARGET_LEVEL: u32 = 6;

/// The `p` percentile (`p` in [0, 1]) of already sorted, non-empty `sorted`; type 7 (see above).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let low = h.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (h - low as f64) * (sorted[high] - sorted[low])
}

/// n, min, median, p5, p95, max and the interval of the median with its level; `None` for
/// no samples.
///
/// NaN samples are dropped (a NaN is never a measurement); if nothing is left, `None`.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let (median_ci_low, median_ci_high, level) = median_interval(&sorted);
    Some(Summary {
        n: sorted.len() as u32,
        min: sorted[0],
        median: percentile(&sorted, 0.5),
        p5: percentile(&sorted, 0.05),
        p95: percentile(&sorted, 0.95),
        max: sorted[sorted.len() - 1],
        median_ci_low,
        median_ci_high,
        median_ci_level: Some(level),
    })
}

/// P(Bin(n, ½) ≤ k).
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    // Exact in f64 for the n a run has (sums of C(n, i) / 2^n, built up term by term).
    let mut term = 0.5f64.powi(n as i32);
    let mut sum = 0.0;
    for i in 0..=k.min(n) {
        sum += term;
        term *= (n - i) as f64 / (i + 1) as f64;
    }
    sum.min(1.0)
}

/// The coverage of `[x(k), x(n+1-k)]` (1-based `k`) as an interval of the median of `n`
/// samples: `1 - 2·P(Bin(n, ½) ≤ k-1)`.
pub fn order_interval_coverage(n: usize, k: usize) -> f64 {
    if n == 0 || k == 0 || 2 * k > n + 1 {
        return 0.0;
    }
    (1.0 - 2.0 * binomial_half_cdf(n, k - 1)).max(0.0)
}

/// The rank `k` (1-based) of the narrowest symmetric interval of the median of `n` samples
/// that reaches `TARGET_LEVEL`, and its coverage; the range (`k = 1`) when none does.
pub fn median_interval_rank(n: usize) -> (usize, f64) {
    let mut best = (1, order_interval_coverage(n, 1));
    let mut k = 2;
    while 2 * k <= n + 1 {
        let coverage = order_interval_coverage(n, k);
        if coverage < TARGET_LEVEL {
            break;
        }
        best = (k, coverage);
        k += 1;
    }
    best
}

/// The distribution-free interval of the median of already sorted, non-empty `sorted`, and
/// its coverage (see the module's note).
pub fn median_interval(sorted: &[f64]) -> (f64, f64, f64) {
    assert!(!sorted.is_empty(), "interval of no samples");
    let n = sorted.len();
    let (k, level) = median_interval_rank(n);
    (sorted[k - 1], sorted[n - k], level)
}

/// How an interval of level `level` from `n` samples is named: `96.9% interval`, or, where
/// it is the whole range and below the target, `range of 5 (93.8%)`.
pub fn interval_name(n: u32, level: Option<f64>) -> String {
    match level {
        Some(level) if level + 1e-9 >= TARGET_LEVEL => format!("{} interval", percent(level)),
        Some(level) => format!("range of {n} ({})", percent(level)),
        // Files before levels were recorded: a bootstrap interval, nominally 95%, which up
        // to 5 samples is the range.
        None if n <= 5 => format!(
            "range of {n} ({})",
            percent(order_interval_coverage(n as usize, 1))
        ),
        None => "bootstrap interval (nominal 95%)".into(),
    }
}

/// `96.9%`, `93.8%`, `99.2%`: a level with one decimal, never rounded up to the target
/// (a 94.96% interval reads 94.9%, not 95.0%).
pub fn percent(level: f64) -> String {
    let rounded = (level * 1000.0).round() / 10.0;
    let tenths = match level < TARGET_LEVEL && rounded >= TARGET_LEVEL * 100.0 {
        true => (level * 1000.0).floor() / 10.0,
        false => rounded,
    };
    format!("{tenths:.1}%")
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

/// The median of per-round ratios `sample ÷ baseline`, its interval (see `summarize`) and
/// the p-value of the paired t-test on their logarithms, pairing each round's sample with
/// the baseline's sample of the same round (`(round, value)`); rounds missing on either
/// side, and non-positive figures, are left out. Pairing cancels what drifts between rounds
/// (other load on the machine), which affects both alike. `p_adjusted` is left for the family
/// the comparison is judged in (`adjust_family`).
pub fn paired_ratio(samples: &[(u32, f64)], baseline: &[(u32, f64)]) -> Option<Ratio> {
    let ratios: Vec<f64> = samples
        .iter()
        .filter_map(|(round, x)| {
            let (_, b) = baseline.iter().find(|(r, _)| r == round)?;
            (*b > 0.0 && *x > 0.0 && x.is_finite()).then(|| x / b)
        })
        .collect();
    let summary = summarize(&ratios)?;
    Some(Ratio {
        n: summary.n,
        median: summary.median,
        ci_low: summary.median_ci_low,
        ci_high: summary.median_ci_high,
        level: summary.median_ci_level,
        p_value: log_t_test(&ratios),
        p_adjusted: None,
    })
}

/// The per-round figure of a baseline measured in several arms (the baseline and its A/A
/// control): each round's geometric mean over the arms that have that round, so that one
/// slow window of one arm moves the denominator of that round by half as much (in log).
pub fn combined_baseline(arms: &[&[(u32, f64)]]) -> Vec<(u32, f64)> {
    let mut rounds: Vec<u32> = arms
        .iter()
        .flat_map(|a| a.iter().map(|(r, _)| *r))
        .collect();
    rounds.sort_unstable();
    rounds.dedup();
    rounds
        .into_iter()
        .filter_map(|round| {
            let values: Vec<f64> = arms
                .iter()
                .filter_map(|a| a.iter().find(|(r, _)| *r == round).map(|(_, v)| *v))
                .filter(|v| *v > 0.0 && v.is_finite())
                .collect();
            (!values.is_empty()).then(|| {
                let log_mean = values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64;
                (round, log_mean.exp())
            })
        })
        .collect()
}

/// The two-sided p-value of the one-sample t-test that the logarithms of positive `ratios`
/// have mean 0; `None` for fewer than two. No spread at all: 1 when every ratio is 1, else 0.
pub fn log_t_test(ratios: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = ratios
        .iter()
        .filter(|r| **r > 0.0 && r.is_finite())
        .map(|r| r.ln())
        .collect();
    let n = logs.len();
    if n < 2 {
        return None;
    }
    let mean = logs.iter().sum::<f64>() / n as f64;
    let var = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    if var <= 1e-24 {
        return Some(if mean.abs() <= 1e-12 { 1.0 } else { 0.0 });
    }
    let t = mean / (var / n as f64).sqrt();
    Some(student_t_two_sided(t, (n - 1) as f64))
}

/// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: `I_{df/(df+t²)}(df/2, ½)`.
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    regularized_incomplete_beta(x, df / 2.0, 0.5).clamp(0.0, 1.0)
}

/// `I_x(a, b)` by its continued fraction (modified Lentz), as in Numerical Recipes §6.4.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Holm's step-down adjusted p-values, in the order of `p`: sorted ascending, the j-th
/// (1-based) becomes `(m − j + 1)·p(j)`, made non-decreasing and capped at 1. Calling the
/// comparisons whose adjusted p-value is at most `ALPHA` beyond noise keeps the chance of
/// any false call in the family at most `ALPHA`, whatever the dependence between tests.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![1.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Sets `p_adjusted` on every ratio of a family, adjusting their p-values together
/// (Holm); ratios without a p-value are left without one. Returns the number of
/// comparisons in the family.
pub fn adjust_family(ratios: &mut [&mut Ratio]) -> usize {
    let tested: Vec<usize> = (0..ratios.len())
        .filter(|&i| ratios[i].p_value.is_some())
        .collect();
    let p: Vec<f64> = tested
        .iter()
        .map(|&i| ratios[i].p_value.unwrap_or(1.0))
        .collect();
    for (&i, q) in tested.iter().zip(holm(&p)) {
        ratios[i].p_adjusted = Some(q);
    }
    tested.len()
}

impl Ratio {
    /// Whether the ratio is told apart from 1: its interval excludes 1 and, where the file
    /// carries them, its family-adjusted p-value (else its own p-value) is at most `ALPHA`.
    pub fn beyond_noise(&self) -> bool {
        let test = self.p_adjusted.or(self.p_value).is_none_or(|q| q <= ALPHA);
        self.n > 1 && excludes(self.ci_low, self.ci_high, 1.0) && test
    }
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

/// Whether two summaries' medians differ beyond the noise of both: their intervals do not
/// overlap. Two intervals of about 95% that do not overlap are a stronger claim than either
/// alone (about p < 0.01 for equal widths); up to 5 samples the intervals are ranges of
/// lower level (see `interval_name`), and `compare::small_sample_note` says what that means.
/// A single sample has no noise estimate, so the caller reports it as not applicable.
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

    #[test]
    fn interval_levels_are_the_exact_binomial_coverage() {
        // The range of n samples holds the median with probability 1 - 2^(1-n).
        assert_eq!(order_interval_coverage(5, 1), 0.9375);
        assert_eq!(order_interval_coverage(3, 1), 0.75);
        assert_eq!(median_interval_rank(5), (1, 0.9375));
        assert_eq!(median_interval_rank(6), (1, 0.96875));
        // 9 samples: [x(2), x(8)] covers 1 - 2·(1 + 9)/512 = 96.09%; [x(3), x(7)] only 82%.
        let (k, level) = median_interval_rank(9);
        assert_eq!(k, 2);
        assert!((level - (1.0 - 20.0 / 512.0)).abs() < 1e-12);
        // 20 samples: [x(6), x(15)] at 95.86% (the textbook table's value).
        let (k, level) = median_interval_rank(20);
        assert_eq!(k, 6);
        assert!((level - 0.958_610_5).abs() < 1e-6, "{level}");
        let sorted: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(median_interval(&sorted), (6.0, 15.0, level));
        for n in 6..60 {
            assert!(median_interval_rank(n).1 >= TARGET_LEVEL, "n = {n}");
        }
    }

    #[test]
    fn intervals_are_named_for_what_they_are() {
        assert_eq!(interval_name(5, Some(0.9375)), "range of 5 (93.8%)");
        assert_eq!(interval_name(6, Some(0.96875)), "96.9% interval");
        assert_eq!(interval_name(5, None), "range of 5 (93.8%)");
        assert_eq!(interval_name(20, None), "bootstrap interval (nominal 95%)");
        assert_eq!(percent(0.9496), "94.9%");
        assert_eq!(percent(0.9999), "100.0%");
    }

    #[test]
    fn the_t_test_matches_published_quantiles() {
        // t(0.975, 5) = 2.570582, t(0.975, 1) = 12.7062, t(0.995, 10) = 3.169273.
        assert!((student_t_two_sided(2.570_582, 5.0) - 0.05).abs() < 1e-6);
        assert!((student_t_two_sided(12.706_2, 1.0) - 0.05).abs() < 1e-5);
        assert!((student_t_two_sided(3.169_273, 10.0) - 0.01).abs() < 1e-6);
        assert!((student_t_two_sided(0.0, 4.0) - 1.0).abs() < 1e-12);
        // Ratios that all equal 1 have no difference; identical ratios away from 1, no doubt.
        assert_eq!(log_t_test(&[1.0, 1.0, 1.0]), Some(1.0));
        assert_eq!(log_t_test(&[0.5, 0.5, 0.5]), Some(0.0));
        assert_eq!(log_t_test(&[0.5]), None);
        // A consistent 2.4× across 6 rounds is far beyond noise; the published
        // same-binary ratios (1.02, 1.13, 1.34, 1.03, 1.04) are not, at 5%.
        assert!(log_t_test(&[2.3, 2.4, 2.5, 2.35, 2.45, 2.4]).unwrap() < 1e-6);
        let same_binary = log_t_test(&[1.02, 1.13, 1.34, 1.03, 1.04]).unwrap();
        assert!(same_binary > 0.05, "{same_binary}");
    }

    #[test]
    fn holm_matches_its_definition() {
        // p = 0.01, 0.04, 0.03, 0.005 (m = 4): sorted 0.005, 0.01, 0.03, 0.04 →
        // 4·0.005 = 0.02, 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06.
        let q = holm(&[0.01, 0.04, 0.03, 0.005]);
        let expected = [0.03, 0.06, 0.06, 0.02];
        for (a, b) in q.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
        assert!(holm(&[]).is_empty());
        assert_eq!(holm(&[0.9, 1.0]), [1.0, 1.0]);
    }

    #[test]
    fn a_ratio_is_beyond_noise_only_when_its_interval_and_its_family_agree() {
        let mut apart = paired_ratio(
            &[(0, 2.0), (1, 2.1), (2, 1.9), (3, 2.0), (4, 2.05), (5, 1.95)],
            &[(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0)],
        )
        .unwrap();
        assert_eq!(apart.level, Some(0.96875));
        assert!(apart.p_value.unwrap() < 1e-6 && apart.beyond_noise());
        // Among many null comparisons its adjusted p-value grows, but a strong effect stands.
        let mut nulls: Vec<Ratio> = (0..90)
            .map(|i| Ratio {
                p_value: Some(0.1 + f64::from(i) / 100.0),
                ..apart
            })
            .collect();
        let mut family: Vec<&mut Ratio> = nulls.iter_mut().collect();
        family.push(&mut apart);
        assert_eq!(adjust_family(&mut family), 91);
        assert!(apart.p_adjusted.unwrap() < 1e-4 && apart.beyond_noise());
        // An interval that excludes 1 with a large adjusted p-value is within noise.
        let weak = Ratio {
            p_adjusted: Some(0.2),
            ..apart
        };
        assert!(!weak.beyond_noise());
    }

    #[test]
    fn the_combined_baseline_is_the_geometric_mean_per_round() {
        let a = [(0, 100.0), (1, 50.0)];
        let b = [(0, 100.0), (1, 200.0), (2, 10.0)];
        let combined = combined_baseline(&[&a, &b]);
        let expected = [(0, 100.0), (1, 100.0), (2, 10.0)];
        assert_eq!(combined.len(), expected.len());
        for ((r, v), (er, ev)) in combined.iter().zip(expected) {
            assert!(*r == er && (v - ev).abs() < 1e-9, "{combined:?}");
        }
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

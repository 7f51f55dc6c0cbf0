//! `harness compare OLD.json NEW.json`: per variant and metric, old, new, the change, and
//! whether the change is beyond the noise of both runs; and every setting that differs
//! between the two files (`caveats`).
//!
//! The noise test is always interval overlap: two intervals of the median (distribution-free,
//! at the level `stats::median_interval` gives for their n) that do not overlap are "beyond
//! noise". Cold starts and crunch jobs recompute each side's interval of the median from the
//! sample arrays. Each paired ratio to the baseline also carries how each run called it
//! against 1 (with its own adjusted p-values): where the calls differ, that verdict does not
//! replicate between the two runs. Each load cell (endpoint × concurrency × rate) compares its
//! `rps`, server CPU per request and per-round p99 summaries, and, for every variant but the
//! baseline, its per-round paired ratios to the baseline, which cancel the drift of each
//! machine between rounds and so are the figures to trust. A load figure gets no verdict
//! when either file has fewer than `MIN_ROUNDS` rounds ("n/a: fewer than 3 rounds"): a
//! bootstrap interval over one or two windows says nothing. Sizes are deterministic, so any
//! change in them is real ("exact"); peak memory is one reading per run, so it gets none.
//! This module reads results files only; `commands` prints.

use crate::measure::stats::summarize;
use crate::results::{LoadResult, Ratio, RunResults, Summary, VariantResult};
use std::fmt;

mod caveats;
pub mod document;
pub mod gate;
pub use caveats::caveats;

/// Fewer rounds (or samples) than this on either side: no verdict.
pub const MIN_ROUNDS: u32 = 3;

/// Is the change real?
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The two 95% intervals do not overlap.
    BeyondNoise,
    /// They overlap: this pair of runs cannot tell the difference from noise.
    WithinNoise,
    /// A deterministic metric: any change is real.
    Exact,
    /// No verdict possible, and why.
    NotApplicable(&'static str),
}

/// One metric of one variant in both files.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub variant: String,
    /// The metric name with its unit, and its key where there are several
    /// (`rps /plaintext c64`, `rps ÷ baseline /json c64`, `mb_per_s t4`).
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
    /// The 95% interval of each side's figure, where it has one.
    pub old_ci: Option<(f64, f64)>,
    pub new_ci: Option<(f64, f64)>,
    pub verdict: Verdict,
    /// True when a larger value is better (rps, mb_per_s).
    pub higher_is_better: bool,
    /// True for a paired ratio to the baseline (see `ratio_tally`).
    pub paired_ratio: bool,
    /// For a paired ratio: how each run judged it against 1 (`below 1`, `above 1`, `within
    /// noise`), each as its own file's adjusted p-values say; the two differ when the verdict does not
    /// replicate.
    pub calls: Option<(&'static str, &'static str)>,
}

impl Row {
    fn new(variant: &str, metric: impl Into<String>, higher_is_better: bool) -> Self {
        Self {
            variant: variant.to_string(),
            metric: metric.into(),
            old: None,
            new: None,
            old_ci: None,
            new_ci: None,
            verdict: Verdict::NotApplicable("missing on one side"),
            higher_is_better,
            paired_ratio: false,
            calls: None,
        }
    }

    /// False when the two runs call this paired ratio differently.
    pub fn replicates(&self) -> bool {
        self.calls.is_none_or(|(a, b)| a == b)
    }

    /// (new − old) / old in percent, when both exist and old is not zero.
    pub fn change_pct(&self) -> Option<f64> {
        match (self.old, self.new) {
            (Some(old), Some(new)) if old != 0.0 => Some((new - old) / old * 100.0),
            _ => None,
        }
    }

    /// `better` or `worse` for a change the verdict says is real; `None` otherwise.
    pub fn direction(&self) -> Option<&'static str> {
        let real = matches!(self.verdict, Verdict::BeyondNoise | Verdict::Exact);
        let (old, new) = (self.old?, self.new?);
        if !real || old == new {
            return None;
        }
        Some(if (new > old) == self.higher_is_better {
            "better"
        } else {
            "worse"
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::BeyondNoise => f.write_str("beyond noise"),
            Verdict::WithinNoise => f.write_str("within noise"),
            Verdict::Exact => f.write_str("exact"),
            Verdict::NotApplicable(why) => write!(f, "n/a: {why}"),
        }
    }
}

/// Every comparable metric of every variant, old file's variants first.
pub fn compare(old: &RunResults, new: &RunResults) -> Vec<Row> {
    let mut names: Vec<String> = old.variants.iter().map(|v| v.variant.name()).collect();
    for v in &new.variants {
        if !names.contains(&v.variant.name()) {
            names.push(v.variant.name());
        }
    }
    let rounds = old.settings.rounds.min(new.settings.rounds);
    let mut rows = Vec::new();
    for name in names {
        match (old.variant(&name), new.variant(&name)) {
            (Some(a), Some(b)) => rows.extend(variant_rows(&name, a, b, rounds)),
            (a, _) => rows.push(Row {
                verdict: Verdict::NotApplicable(if a.is_some() {
                    "only in the old file"
                } else {
                    "only in the new file"
                }),
                ..Row::new(&name, "variant", false)
            }),
        }
    }
    rows
}

/// Up to this many rounds, a 95% bootstrap interval of a median is the whole range of the
/// rounds (its lowest and highest sample), whose real coverage is lower than 95%.
pub const RANGE_INTERVAL_ROUNDS: u32 = 5;

/// What an interval over `rounds` rounds really is, when it is the range of the rounds
/// (`rounds` ≤ `RANGE_INTERVAL_ROUNDS`): its coverage of the true median (1 − 2·2⁻ⁿ) and the
/// chance that two runs of the very same servers give disjoint intervals (2 ÷ C(2n, n)),
/// i.e. the share of cells "beyond noise" to expect from chance alone. `None` for more
/// rounds, where the bootstrap interval is narrower than the range.
pub fn small_sample_note(rounds: u32) -> Option<String> {
    if !(MIN_ROUNDS..=RANGE_INTERVAL_ROUNDS).contains(&rounds) {
        return None;
    }
    let n = f64::from(rounds);
    let coverage = 1.0 - 2.0 * 0.5f64.powf(n);
    let choose: f64 = (1..=rounds)
        .map(|k| f64::from(rounds + k) / f64::from(k))
        .product();
    let disjoint = 2.0 / choose;
    Some(format!(
        "note: with {rounds} rounds each interval is the range of the rounds, which holds the true median {:.1}% of the time, not 95%; two runs of the same servers give disjoint intervals in {:.1}% of cells by chance, so expect about that share \"beyond noise\" with nothing changed (5 rounds: 0.8%; the default is 6, whose interval, the range, holds the median 96.9% of the time)",
        coverage * 100.0,
        disjoint * 100.0
    ))
}

/// How many paired-ratio rows were judged, and how many of those are within noise.
pub fn ratio_tally(rows: &[Row]) -> (usize, usize) {
    let judged = rows.iter().filter(|r| {
        r.paired_ratio && matches!(r.verdict, Verdict::WithinNoise | Verdict::BeyondNoise)
    });
    let (mut within, mut all) = (0, 0);
    for row in judged {
        all += 1;
        within += usize::from(row.verdict == Verdict::WithinNoise);
    }
    (within, all)
}

fn variant_rows(name: &str, a: &VariantResult, b: &VariantResult, rounds: u32) -> Vec<Row> {
    let mut rows = Vec::new();
    let size = |v: &VariantResult, image: bool| {
        v.build.as_ref().and_then(|b| {
            if image {
                b.image.as_ref().map(|i| i.image_bytes as f64)
            } else {
                Some(b.binary_bytes as f64)
            }
        })
    };
    for (metric, image) in [("image_bytes", true), ("binary_bytes", false)] {
        if size(a, image).is_some() || size(b, image).is_some() {
            rows.push(Row {
                old: size(a, image),
                new: size(b, image),
                verdict: Verdict::Exact,
                ..Row::new(name, metric, false)
            });
        }
    }
    if a.cold_start.is_some() || b.cold_start.is_some() {
        let samples = |v: &VariantResult| v.cold_start.as_ref().map(|c| c.samples_ms.clone());
        let row = Row::new(name, "cold_start_ms", false);
        rows.push(sampled(row, samples(a), samples(b)));
        // The engine's share of it (create and start calls), where both files split it.
        type Part = fn(&crate::results::ColdStart) -> &Vec<f64>;
        let parts: [(&str, Part); 2] = [
            ("cold_start create_ms", |c| &c.create_samples_ms),
            ("cold_start start_ms", |c| &c.start_samples_ms),
        ];
        for (metric, part) in parts {
            let samples = |v: &VariantResult| {
                v.cold_start
                    .as_ref()
                    .map(|c| part(c).clone())
                    .filter(|s| !s.is_empty())
            };
            if samples(a).is_some() && samples(b).is_some() {
                rows.push(sampled(
                    Row::new(name, metric, false),
                    samples(a),
                    samples(b),
                ));
            }
        }
    }
    rows.extend(load_rows(name, a, b, rounds));
    let readings = [
        (
            "peak_memory_bytes",
            a.peak_memory_bytes,
            b.peak_memory_bytes,
        ),
        (
            "container_peak_memory_bytes",
            a.container_peak_memory_bytes,
            b.container_peak_memory_bytes,
        ),
    ];
    for (metric, x, y) in readings {
        if x.is_some() || y.is_some() {
            rows.push(Row {
                old: x.map(|p| p as f64),
                new: y.map(|p| p as f64),
                verdict: Verdict::NotApplicable(match x.is_some() && y.is_some() {
                    true => "one reading",
                    false => "missing on one side",
                }),
                ..Row::new(name, metric, false)
            });
        }
    }
    rows.extend(crunch_rows(name, a, b));
    rows
}

fn crunch_rows(name: &str, a: &VariantResult, b: &VariantResult) -> Vec<Row> {
    let mut threads: Vec<u32> = a
        .crunch
        .iter()
        .chain(&b.crunch)
        .map(|c| c.threads)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    threads
        .into_iter()
        .map(|t| {
            let samples = |v: &VariantResult| {
                v.crunch
                    .iter()
                    .find(|c| c.threads == t)
                    .map(|c| c.samples_mb_per_s.clone())
            };
            let row = Row::new(name, format!("mb_per_s t{t}"), true);
            sampled(row, samples(a), samples(b))
        })
        .collect()
}

/// The median of each side's samples and the bootstrap-overlap verdict.
fn sampled(row: Row, old: Option<Vec<f64>>, new: Option<Vec<f64>>) -> Row {
    let (a, b) = (
        old.as_deref().and_then(summarize),
        new.as_deref().and_then(summarize),
    );
    let verdict = match (a, b) {
        (Some(a), Some(b)) if a.n.min(b.n) < MIN_ROUNDS => {
            Verdict::NotApplicable("fewer than 3 samples")
        }
        (Some(a), Some(b)) => overlap(
            (a.median_ci_low, a.median_ci_high),
            (b.median_ci_low, b.median_ci_high),
        ),
        _ => Verdict::NotApplicable("missing on one side"),
    };
    Row {
        verdict,
        ..summarized(row, a.as_ref(), b.as_ref())
    }
}

fn summarized(row: Row, a: Option<&Summary>, b: Option<&Summary>) -> Row {
    // One sample has no interval to show.
    let ci = |s: &Summary| (s.n > 1).then_some((s.median_ci_low, s.median_ci_high));
    Row {
        old: a.map(|s| s.median),
        new: b.map(|s| s.median),
        old_ci: a.and_then(ci),
        new_ci: b.and_then(ci),
        ..row
    }
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> Verdict {
    match a.1 < b.0 || b.1 < a.0 {
        true => Verdict::BeyondNoise,
        false => Verdict::WithinNoise,
    }
}

/// A load cell's name in metric names: `/json c64`, or `/json c64 @500/s` at a rate.
pub fn cell_label((endpoint, c, rate): (&str, u32, Option<u64>)) -> String {
    match rate {
        Some(r) => format!("{endpoint} c{c} @{r}/s"),
        None => format!("{endpoint} c{c}"),
    }
}

/// A load figure in both files: no row when neither has it; no verdict when one lacks it or
/// either side has fewer than `MIN_ROUNDS` rounds (`rounds`: the fewer of the two files').
fn load_figure(row: Row, old: Option<Figure>, new: Option<Figure>, rounds: u32) -> Option<Row> {
    let verdict = match (old, new) {
        (None, None) => return None,
        (Some((n, ..)), Some((m, ..))) if rounds.min(n).min(m) < MIN_ROUNDS => {
            Verdict::NotApplicable("fewer than 3 rounds")
        }
        (Some((_, _, a)), Some((_, _, b))) => overlap(a, b),
        _ => Verdict::NotApplicable("missing on one side"),
    };
    Some(Row {
        old: old.map(|x| x.1),
        new: new.map(|x| x.1),
        old_ci: old.filter(|x| x.0 > 1).map(|x| x.2),
        new_ci: new.filter(|x| x.0 > 1).map(|x| x.2),
        verdict,
        ..row
    })
}

/// How a run judged a paired ratio against 1.
fn call(r: &Ratio) -> &'static str {
    match (r.beyond_noise(), r.median > 1.0) {
        (false, _) => "within noise",
        (true, true) => "above 1",
        (true, false) => "below 1",
    }
}

fn of_summary(s: &Summary) -> Figure {
    (s.n, s.median, (s.median_ci_low, s.median_ci_high))
}

fn of_ratio(r: &Ratio) -> Figure {
    (r.n, r.median, (r.ci_low, r.ci_high))
}

/// A load figure's `(rounds, median, 95% interval)`, when the cell has it.
type Figure = (u32, f64, (f64, f64));

/// How a load figure is read from a cell.
type ReadFigure = fn(&LoadResult) -> Option<Figure>;

/// Each compared load figure: its name, whether higher is better, whether it is a paired
/// ratio, and how to read it from a cell.
const LOAD_FIGURES: [(&str, bool, bool, ReadFigure); 5] = [
    ("rps", true, false, |l| Some(of_summary(&l.rps))),
    ("rps ÷ baseline", true, true, |l| {
        l.ratio_to_baseline.as_ref().map(|r| of_ratio(&r.rps))
    }),
    ("cpu_us_per_request", false, false, |l| {
        l.server_cpu_us_per_request.as_ref().map(of_summary)
    }),
    ("cpu_us_per_request ÷ baseline", false, true, |l| {
        let ratios = l.ratio_to_baseline.as_ref()?;
        ratios.server_cpu_us_per_request.as_ref().map(of_ratio)
    }),
    ("p99_us", false, false, |l| {
        summarize(&l.p99_us_samples).as_ref().map(of_summary)
    }),
];

/// Per endpoint × concurrency (× rate): rps, server CPU per request, p99 over rounds, and
/// the paired ratios of rps and CPU per request to the baseline.
fn load_rows(name: &str, a: &VariantResult, b: &VariantResult, rounds: u32) -> Vec<Row> {
    let mut keys: Vec<(&str, u32, Option<u64>)> = Vec::new();
    for l in a.load.iter().chain(&b.load) {
        let key = (l.endpoint.as_str(), l.concurrency, l.rate_rps);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mut rows = Vec::new();
    for key in keys {
        let same = |l: &&LoadResult| (l.endpoint.as_str(), l.concurrency, l.rate_rps) == key;
        let label = cell_label(key);
        let (Some(x), Some(y)) = (a.load.iter().find(same), b.load.iter().find(same)) else {
            rows.push(Row::new(name, format!("load {label}"), true));
            continue;
        };
        for (metric, higher, paired, read) in LOAD_FIGURES {
            let ratio = |l: &LoadResult| {
                let r = l.ratio_to_baseline.as_ref()?;
                match metric.starts_with("rps") {
                    true => Some(r.rps),
                    false => r.server_cpu_us_per_request,
                }
            };
            let calls = match (paired, ratio(x), ratio(y)) {
                (true, Some(a), Some(b)) if a.n.min(b.n) >= MIN_ROUNDS => {
                    Some((call(&a), call(&b)))
                }
                _ => None,
            };
            let row = Row {
                paired_ratio: paired,
                calls,
                ..Row::new(name, format!("{metric} {label}"), higher)
            };
            rows.extend(load_figure(row, read(x), read(y), rounds));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interval of the median the harness computes, for unsorted samples.
    fn interval(samples: &[f64]) -> (f64, f64) {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (lo, hi, _) = crate::measure::stats::median_interval(&sorted);
        (lo, hi)
    }

    #[test]
    fn the_small_sample_note_gives_the_range_coverage_and_the_chance_of_disjoint_ranges() {
        let three = small_sample_note(3).unwrap();
        assert!(three.contains("75.0% of the time"), "{three}");
        assert!(three.contains("in 10.0% of cells"), "{three}");
        let five = small_sample_note(5).unwrap();
        assert!(five.contains("93.8% of the time"), "{five}");
        assert!(five.contains("in 0.8% of cells"), "{five}");
        assert_eq!(
            small_sample_note(2),
            None,
            "no verdict at all under 3 rounds"
        );
        assert_eq!(small_sample_note(6), None);
    }

    /// The note's premise, checked against the interval the harness computes: for up to
    /// `RANGE_INTERVAL_ROUNDS` samples it is their range, and two draws of 3 from one
    /// distribution are disjoint about 10% of the time.
    #[test]
    fn small_sample_intervals_are_the_range_and_disjoint_as_often_as_the_note_says() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in 3..=RANGE_INTERVAL_ROUNDS as usize {
            let samples: Vec<f64> = (0..n).map(|_| next()).collect();
            let (lo, hi) = interval(&samples);
            let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
            let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!((lo, hi), (min, max), "n = {n}");
        }
        let trials = 2000;
        let disjoint = (0..trials)
            .filter(|_| {
                let a: Vec<f64> = (0..3).map(|_| next()).collect();
                let b: Vec<f64> = (0..3).map(|_| next()).collect();
                let (a, b) = (interval(&a), interval(&b));
                a.1 < b.0 || b.1 < a.0
            })
            .count();
        let share = disjoint as f64 / f64::from(trials);
        assert!((0.07..0.13).contains(&share), "disjoint share {share}");
    }
}

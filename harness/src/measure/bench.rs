//! The statistics of a bench results file: between processes for schema 2 (every bench's
//! figure over its processes, ratios paired by repeat, Holm over the file's comparisons,
//! the negative control's outcome), and one reading of a ratio for both schemas, so the
//! table, the CSV and the report say the same thing of the same file.
//!
//! Criterion's interval describes one process. What changes between processes (where the
//! allocator put things, where ASLR put the code, what else the host was doing) is invisible
//! to it, and it moved ratios more than the effects they reported. So a schema 2 verdict is
//! over processes: the median of the per-repeat ratios, its distribution-free interval, and
//! the paired t-test on their logarithms, adjusted with every other ratio in the file
//! (`stats::METHOD`'s rule). This module computes; it does not run anything.

use super::stats::{self, adjust_family, paired_ratio, ALPHA};
use crate::results::{BenchEstimate, BenchResults, BenchRow, NegativeControl, Ratio, Verdicts};

/// The prefix of the negative-control benches' ids: no libc, no allocation in the loop.
pub const CONTROL_PREFIX: &str = "control/";

/// How a schema 2 comparison is called beyond noise, for the file.
pub const METHOD: &str = "each variant's bench binary run as separate processes, interleaved with the other variants' round by round; per bench, the median over processes of criterion's mean, and the ratio to the baseline paired by round; beyond noise when the distribution-free interval of the median ratio excludes 1 and the Holm-adjusted p-value of the paired t-test on log ratios (over every comparison in the file) is at most 0.05";

/// One bench's ratio to the baseline for one variant, read alike from both schemas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchRatio {
    /// Time over the baseline's: above 1 is slower.
    pub value: f64,
    /// The interval, where the file can give one.
    pub ci: Option<(f64, f64)>,
    /// The interval's coverage (schema 2); `None` for schema 1's conservative interval built
    /// from two 95% intervals.
    pub level: Option<f64>,
    /// Beyond noise; `None` without a verdict (too few samples or processes).
    pub beyond: Option<bool>,
}

/// `variant`'s ratio to the baseline on `row`, when both were measured.
pub fn ratio(results: &BenchResults, row: &BenchRow, variant: &str) -> Option<BenchRatio> {
    let e = row.estimate(variant)?;
    let base = row.estimate(&results.baseline)?;
    let judged = results.judgeable(e) && results.judgeable(base);
    if results.single_process() {
        let ci = judged.then(|| {
            (
                e.mean_ci_low_ns / base.mean_ci_high_ns,
                e.mean_ci_high_ns / base.mean_ci_low_ns,
            )
        });
        return Some(BenchRatio {
            value: e.ratio_to(base),
            ci,
            level: None,
            beyond: results.verdict(e, base),
        });
    }
    let r = e.ratio_to_baseline.as_ref()?;
    Some(BenchRatio {
        value: r.median,
        ci: judged.then_some((r.ci_low, r.ci_high)),
        level: judged.then_some(r.level).flatten(),
        beyond: judged.then(|| r.beyond_noise()),
    })
}

/// Reads a bench results file and recomputes its figures and verdicts with this harness's
/// rules (`summarize`), so a report judges every file alike.
pub fn load(path: &std::path::Path) -> Result<BenchResults, crate::results::ResultsError> {
    let mut results = BenchResults::load(path)?;
    summarize(&mut results);
    Ok(results)
}

/// Recomputes every schema 2 figure of `results` from its processes: each estimate's median
/// and interval, each ratio to the baseline, the Holm adjustment over all of them, and the
/// verdicts with the negative control's outcome. Idempotent; a schema 1 file is left alone.
pub fn summarize(results: &mut BenchResults) {
    if results.single_process() {
        return;
    }
    let baseline = results.baseline.clone();
    for row in &mut results.benches {
        for e in &mut row.estimates {
            summarize_estimate(e);
        }
        let base: Vec<(u32, f64)> = row.estimate(&baseline).map(per_repeat).unwrap_or_default();
        for e in row.estimates.iter_mut().filter(|e| e.variant != baseline) {
            e.ratio_to_baseline = paired_ratio(&per_repeat(e), &base);
        }
    }
    let comparisons = {
        let mut family: Vec<&mut Ratio> = results
            .benches
            .iter_mut()
            .flat_map(|row| &mut row.estimates)
            .filter_map(|e| e.ratio_to_baseline.as_mut())
            .collect();
        adjust_family(&mut family)
    };
    results.verdicts = Some(Verdicts {
        method: METHOD.into(),
        comparisons: comparisons as u32,
        family_wise_error_rate: ALPHA,
        negative_controls: control(results).into_iter().collect(),
    });
}

/// The estimate's figure over its processes: the median of criterion's means and its
/// distribution-free interval.
fn summarize_estimate(e: &mut BenchEstimate) {
    let means: Vec<f64> = e.processes.iter().map(|p| p.mean_ns).collect();
    let Some(s) = stats::summarize(&means) else {
        return;
    };
    e.mean_ns = s.median;
    e.mean_ci_low_ns = s.median_ci_low;
    e.mean_ci_high_ns = s.median_ci_high;
    e.ci_level = s.median_ci_level;
    e.samples = e.processes.iter().map(|p| p.samples).min();
}

/// `(repeat, criterion's mean)` of every process.
fn per_repeat(e: &BenchEstimate) -> Vec<(u32, f64)> {
    e.processes.iter().map(|p| (p.repeat, p.mean_ns)).collect()
}

/// The negative-control benches' outcome, when the file has any.
fn control(results: &BenchResults) -> Option<NegativeControl> {
    let rows: Vec<&BenchRow> = results
        .benches
        .iter()
        .filter(|r| r.bench.starts_with(CONTROL_PREFIX))
        .collect();
    let mut comparisons = 0;
    let mut cells = Vec::new();
    for row in &rows {
        for v in results.variants.iter().filter(|v| **v != results.baseline) {
            // Only judged comparisons count: one without a verdict shows nothing either way.
            let Some(r) = ratio(results, row, v).filter(|r| r.beyond.is_some()) else {
                continue;
            };
            comparisons += 1;
            if r.beyond == Some(true) {
                cells.push(format!("{} {v} ×{:.2}", row.bench, r.value));
            }
        }
    }
    (comparisons > 0).then(|| NegativeControl {
        label: format!(
            "negative control ({}: no libc call, no allocation)",
            rows.iter()
                .map(|r| r.bench.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        variants: results.variants.clone(),
        comparisons,
        beyond_noise: cells.len() as u32,
        beyond_noise_cells: cells,
    })
}

/// The line a bench comparison prints about its negative control: that it held, or that the
/// method is not holding on this machine. `None` without a control bench (or without a
/// verdict on it: too few processes).
pub fn control_line(results: &BenchResults) -> Option<String> {
    let c = results.verdicts.as_ref()?.negative_controls.first()?;
    Some(if c.beyond_noise == 0 {
        format!(
            "{}: within noise in all {} comparisons",
            c.label, c.comparisons
        )
    } else {
        format!(
            "{}: {} — the method is not holding on this machine: read every verdict of this file as doubtful",
            c.line(),
            match c.beyond_noise {
                1 => "beyond noise once".to_string(),
                n => format!("beyond noise {n} times"),
            }
        )
    })
}

/// `variant`'s geometric mean over benches of its time ratio, per repeat, summarised like a
/// ratio (median over repeats, its interval and level); schema 1: the geometric mean of the
/// ratios, without an interval. Benches are those both sides measured in that repeat.
pub fn geometric_mean(results: &BenchResults, variant: &str) -> Option<BenchRatio> {
    if results.single_process() {
        let logs: Vec<f64> = results
            .benches
            .iter()
            .filter_map(|row| ratio(results, row, variant))
            .map(|r| r.value.ln())
            .collect();
        return (!logs.is_empty()).then(|| BenchRatio {
            value: (logs.iter().sum::<f64>() / logs.len() as f64).exp(),
            ci: None,
            level: None,
            beyond: None,
        });
    }
    let repeats = results.method.as_ref()?.repeats;
    let mut per_repeat = Vec::new();
    for repeat in 0..repeats {
        let logs: Vec<f64> = results
            .benches
            .iter()
            .filter_map(|row| {
                let at = |v: &str| {
                    let e = row.estimate(v)?;
                    e.processes.iter().find(|p| p.repeat == repeat)
                };
                let (x, b) = (at(variant)?.mean_ns, at(&results.baseline)?.mean_ns);
                (x > 0.0 && b > 0.0).then(|| (x / b).ln())
            })
            .collect();
        if !logs.is_empty() {
            per_repeat.push((logs.iter().sum::<f64>() / logs.len() as f64).exp());
        }
    }
    let summary = stats::summarize(&per_repeat)?;
    let judged = per_repeat.len() >= crate::results::MIN_BENCH_REPEATS;
    Some(BenchRatio {
        value: summary.median,
        ci: judged.then_some((summary.median_ci_low, summary.median_ci_high)),
        level: judged.then_some(summary.median_ci_level).flatten(),
        beyond: None,
    })
}

/// How two bench files of one experiment agree: of the ratios both judged (same bench and
/// variant, an interval on each side), how many intervals overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub compared: usize,
    pub overlapping: usize,
    /// The others: `memory/memcpy/16B musl-system 1.80× (1.7–1.9) vs 2.40× (2.3–2.5)`.
    pub differing: Vec<String>,
}

/// Compares every judged ratio of `a` with the same ratio in `b`.
pub fn agreement(a: &BenchResults, b: &BenchResults) -> Agreement {
    let mut out = Agreement {
        compared: 0,
        overlapping: 0,
        differing: Vec::new(),
    };
    for row in &a.benches {
        let Some(other) = b.benches.iter().find(|r| r.bench == row.bench) else {
            continue;
        };
        for v in a.variants.iter().filter(|v| **v != a.baseline) {
            let (Some(x), Some(y)) = (ratio(a, row, v), ratio(b, other, v)) else {
                continue;
            };
            let (Some((xl, xh)), Some((yl, yh))) = (x.ci, y.ci) else {
                continue;
            };
            out.compared += 1;
            if xl <= yh && yl <= xh {
                out.overlapping += 1;
            } else {
                out.differing.push(format!(
                    "{} {v} {:.2}× ({xl:.2}–{xh:.2}) vs {:.2}× ({yl:.2}–{yh:.2})",
                    row.bench, x.value, y.value
                ));
            }
        }
    }
    out
}

/// What makes two bench files one experiment: the host (CPU, cores, kernel), the variants
/// and the schema version (a method change is a new experiment).
pub fn experiment(r: &BenchResults) -> (String, u32, String, Vec<String>, u32) {
    let e = &r.environment;
    (
        e.cpu_model.clone(),
        e.cpu_count,
        e.kernel.clone(),
        r.variants.clone(),
        r.schema_version,
    )
}

#[cfg(test)]
mod tests;

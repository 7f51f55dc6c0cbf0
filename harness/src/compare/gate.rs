//! The regression gate of `harness compare OLD NEW --fail-on-regression[=PCT]`: which
//! figures of which variants got worse between two runs, beyond noise, by more than PCT.
//!
//! **The test.** Two runs are not paired round by round, so each figure is compared as two
//! samples: its per-round (per-run, for cold starts and jobs) values in OLD and in NEW,
//! by Welch's t-test on their logarithms (a change is a ratio; unequal variances allowed).
//! The p-values of every figure of every variant compared are adjusted together (Holm,
//! the report's own control), and a figure is *beyond noise* when its adjusted p-value is
//! at most `ALPHA`. It is a *regression* when it is beyond noise, worse, and worse by more
//! than PCT percent (a factor in the metric's own sense, as github-action-benchmark counts:
//! a cold start 100 → 125 ms is 25% worse, rps 100 → 80 too). Sizes are deterministic: any growth beyond PCT is a regression. A
//! variant that measured in OLD and failed in NEW is a regression whatever PCT says.
//!
//! **The gate's own control.** Each run measured its baseline twice per round (the A/A
//! control arm): two arms of one binary, so any difference between them is noise. The gate
//! runs its very test on those two arms, in each run, as if they were two runs; and it
//! reads each run's own paired A/A verdict. When either trips, the run is noisier than its
//! rounds show, and a change of the size the control showed cannot be told from noise:
//! the gate says so and calls a regression only when the change is larger than the
//! largest tripped A/A shift (`tolerance_pct`), instead of failing a build on noise.
//! Without a control arm (`--no-control`, one variant) the gate says it cannot check
//! itself. What no within-run control can see is a machine that changed between the
//! runs (another CPU, other load): `caveats` names what the files record of that.

use crate::measure::stats::{holm, student_t_two_sided, ALPHA};
use crate::results::{RunResults, Status, VariantResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a figure is judged, as the JSON and the text name it.
pub const METHOD: &str = "Welch's t-test on the logarithms of each run's per-round (or per-run) values, Holm-adjusted over every figure compared; beyond noise at an adjusted p-value of at most 0.05; a regression when beyond noise, worse, and worse by more than the threshold and by more than any shift the runs' A/A controls showed";

/// Fewer samples than this on either side: the figure is not tested.
pub const MIN_SAMPLES: usize = 3;

/// One repeated figure of one arm: its name, its sense, and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// `cold_start_ms`, `rps /json c64`, `cpu_us_per_request /json c64`, `p99_us /json c64`,
    /// `mb_per_s t4`: the names `compare`'s rows use.
    pub metric: String,
    pub higher_is_better: bool,
    pub samples: Vec<f64>,
}

/// Every repeated figure of `v`: its cold start, each load cell's rps, server CPU per
/// request and p99, each thread count's throughput.
pub fn figures(v: &VariantResult) -> Vec<Figure> {
    let mut out = Vec::new();
    let mut push = |metric: String, higher_is_better: bool, samples: &[f64]| {
        if !samples.is_empty() {
            out.push(Figure {
                metric,
                higher_is_better,
                samples: samples.to_vec(),
            });
        }
    };
    if let Some(cold) = &v.cold_start {
        push("cold_start_ms".into(), false, &cold.samples_ms);
    }
    for cell in &v.load {
        let label = super::cell_label((&cell.endpoint, cell.concurrency, cell.rate_rps));
        push(format!("rps {label}"), true, &cell.rps_samples);
        push(
            format!("cpu_us_per_request {label}"),
            false,
            &cell.server_cpu_us_per_request_samples,
        );
        push(format!("p99_us {label}"), false, &cell.p99_us_samples);
    }
    for crunch in &v.crunch {
        push(
            format!("mb_per_s t{}", crunch.threads),
            true,
            &crunch.samples_mb_per_s,
        );
    }
    out
}

/// The two-sided p-value of Welch's t-test that the logarithms of the positive samples of
/// `a` and `b` have one mean; `None` when either has fewer than `MIN_SAMPLES`. With no
/// spread on either side: 1 when the means are equal, else 0.
pub fn welch_log(a: &[f64], b: &[f64]) -> Option<f64> {
    let logs = |x: &[f64]| -> Vec<f64> {
        x.iter()
            .filter(|v| **v > 0.0 && v.is_finite())
            .map(|v| v.ln())
            .collect()
    };
    let (a, b) = (logs(a), logs(b));
    if a.len() < MIN_SAMPLES || b.len() < MIN_SAMPLES {
        return None;
    }
    let moments = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let ((na, ma, va), (nb, mb, vb)) = (moments(&a), moments(&b));
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    if se2 <= 1e-24 {
        return Some(if (ma - mb).abs() <= 1e-12 { 1.0 } else { 0.0 });
    }
    let t = (mb - ma) / se2.sqrt();
    let df = se2 * se2 / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    Some(student_t_two_sided(t, df))
}

/// How much worse `new` is than `old` in percent, as a factor in the metric's own sense
/// less 1 (negative: better), as github-action-benchmark counts: a cold start 100 → 150 ms
/// is 50% worse, rps 100 → 50 is 100% worse (it takes twice as long per request).
pub fn worse_pct(old: f64, new: f64, higher_is_better: bool) -> f64 {
    let factor = match higher_is_better {
        true => old / new,
        false => new / old,
    };
    (factor - 1.0) * 100.0
}

/// One figure of one variant in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Test {
    pub variant: String,
    pub metric: String,
    pub higher_is_better: bool,
    /// The median of each run's samples (the value, for a size).
    pub old: f64,
    pub new: f64,
    /// Samples on each side (1 for a size).
    pub old_n: u32,
    pub new_n: u32,
    /// How much worse NEW is, in percent (`worse_pct`); negative: better.
    pub worse_pct: f64,
    /// Welch's p-value; absent for a size (deterministic) and under `MIN_SAMPLES`.
    pub p_value: Option<f64>,
    /// `p_value` adjusted (Holm) over every tested figure of the comparison.
    pub p_adjusted: Option<f64>,
    /// The change is real: adjusted p-value at most 0.05, or a size that changed.
    pub beyond_noise: bool,
    /// Beyond noise, worse, and worse by more than the threshold and the control's tolerance.
    pub regression: bool,
}

/// One run's A/A control, judged as the gate judges a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Control {
    /// `old` or `new`.
    pub run: String,
    /// The variant measured twice per round; absent when the run has no control arm.
    pub baseline: Option<String>,
    /// Figures the gate's test compared between the two arms.
    pub tested: u32,
    /// Those it called beyond noise (Holm over the control's figures), and the run's own
    /// paired A/A verdicts beyond noise: each would have failed a build on noise.
    pub tripped: Vec<Tripped>,
    /// Why there is no control, when there is none.
    pub missing: Option<String>,
}

/// A figure on which two arms of one binary differed beyond noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tripped {
    pub metric: String,
    /// `gate` (Welch on the two arms' rounds) or `paired` (the run's own paired ratio).
    pub test: String,
    /// How far apart the two arms were: the larger over the smaller, less 1, in percent
    /// (arms 1.4× apart: 40).
    pub shift_pct: f64,
    pub p_adjusted: Option<f64>,
}

/// A variant that measured in OLD and failed in NEW.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Broken {
    pub variant: String,
    pub step: String,
    pub reason: String,
}

/// The gate's judgement of two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Gate {
    pub method: String,
    /// The family-wise error rate over the tested figures.
    pub alpha: f64,
    /// `--fail-on-regression=PCT`: a regression must be worse by more than this (0: any).
    pub threshold_pct: f64,
    /// The largest shift a tripped A/A control showed (0 when none tripped): a repeated
    /// figure is a regression only when it is worse by more than this too.
    pub tolerance_pct: f64,
    /// Figures tested together (the Holm family).
    pub comparisons: u32,
    pub tests: Vec<Test>,
    pub controls: Vec<Control>,
    pub broken: Vec<Broken>,
}

impl Gate {
    /// The figures that regressed, worst first.
    pub fn regressions(&self) -> Vec<&Test> {
        let mut out: Vec<&Test> = self.tests.iter().filter(|t| t.regression).collect();
        out.sort_by(|a, b| b.worse_pct.total_cmp(&a.worse_pct));
        out
    }

    /// Whether the gate fails: a regression, or a variant broken in NEW.
    pub fn fails(&self) -> bool {
        !self.broken.is_empty() || self.tests.iter().any(|t| t.regression)
    }

    /// Repeated figures worse beyond noise by more than the threshold but not more than the
    /// control's tolerance: what the gate would have failed on without its control.
    pub fn excused(&self) -> Vec<&Test> {
        self.tests
            .iter()
            .filter(|t| {
                t.beyond_noise
                    && !t.regression
                    && t.p_value.is_some()
                    && t.worse_pct > self.threshold_pct
            })
            .collect()
    }
}

/// `old_n`/`new_n` as stored.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn median(samples: &[f64]) -> f64 {
    crate::measure::stats::summarize(samples).map_or(f64::NAN, |s| s.median)
}

/// The tests of `a`'s and `b`'s figures of the same name, untested where either side has
/// too few samples; p-values not yet adjusted.
fn pair_tests(variant: &str, a: &VariantResult, b: &VariantResult) -> Vec<Test> {
    let theirs = figures(b);
    figures(a)
        .into_iter()
        .filter_map(|x| {
            let y = theirs.iter().find(|y| y.metric == x.metric)?;
            let (old, new) = (median(&x.samples), median(&y.samples));
            Some(Test {
                variant: variant.to_string(),
                metric: x.metric.clone(),
                higher_is_better: x.higher_is_better,
                old,
                new,
                old_n: count(x.samples.len()),
                new_n: count(y.samples.len()),
                worse_pct: worse_pct(old, new, x.higher_is_better),
                p_value: welch_log(&x.samples, &y.samples),
                p_adjusted: None,
                beyond_noise: false,
                regression: false,
            })
        })
        .collect()
}

/// Sets `p_adjusted` and `beyond_noise` over `tests` as one Holm family; returns its size.
fn adjust(tests: &mut [Test]) -> u32 {
    let tested: Vec<usize> = (0..tests.len())
        .filter(|&i| tests[i].p_value.is_some())
        .collect();
    let p: Vec<f64> = tested
        .iter()
        .map(|&i| tests[i].p_value.unwrap_or(1.0))
        .collect();
    for (&i, q) in tested.iter().zip(holm(&p)) {
        tests[i].p_adjusted = Some(q);
        tests[i].beyond_noise = q <= ALPHA;
    }
    count(tested.len())
}

fn size_tests(name: &str, a: &VariantResult, b: &VariantResult) -> Vec<Test> {
    let sizes = |v: &VariantResult| {
        v.build.as_ref().map(|b| {
            (
                b.image.as_ref().map(|i| i.image_bytes as f64),
                b.binary_bytes as f64,
            )
        })
    };
    let (Some((ia, ba)), Some((ib, bb))) = (sizes(a), sizes(b)) else {
        return Vec::new();
    };
    let pairs = [
        ("image_bytes", ia.zip(ib)),
        ("binary_bytes", Some((ba, bb))),
    ];
    pairs
        .into_iter()
        .filter_map(|(metric, pair)| {
            let (old, new) = pair.filter(|(old, _)| *old > 0.0)?;
            Some(Test {
                variant: name.to_string(),
                metric: metric.to_string(),
                higher_is_better: false,
                old,
                new,
                old_n: 1,
                new_n: 1,
                worse_pct: worse_pct(old, new, false),
                p_value: None,
                p_adjusted: None,
                beyond_noise: old != new,
                regression: false,
            })
        })
        .collect()
}

/// `run`'s A/A control judged by the gate's test, and its own paired A/A verdicts.
fn control(label: &str, run: &RunResults) -> Control {
    let mut out = Control {
        run: label.to_string(),
        baseline: None,
        tested: 0,
        tripped: Vec::new(),
        missing: None,
    };
    let Some(arm) = run.control.as_ref().filter(|c| c.is_ok()) else {
        out.missing = Some(match &run.control {
            Some(_) => "the A/A control arm failed".into(),
            None => "no A/A control arm (run with --no-control, one variant, or before schema version 3)".into(),
        });
        return out;
    };
    let name = arm.variant.name();
    let Some(base) = run.variant(&name).filter(|v| v.is_ok()) else {
        out.missing = Some(format!("the baseline arm {name} did not measure"));
        return out;
    };
    out.baseline = Some(name.clone());
    let mut tests = pair_tests(&name, base, arm);
    out.tested = adjust(&mut tests);
    let shift = |a: f64, b: f64| (a.max(b) / a.min(b) - 1.0) * 100.0;
    for t in tests.iter().filter(|t| t.beyond_noise) {
        out.tripped.push(Tripped {
            metric: t.metric.clone(),
            test: "gate".into(),
            shift_pct: shift(t.old, t.new),
            p_adjusted: t.p_adjusted,
        });
    }
    // The run's own paired verdicts on its A/A arm, named like the gate's figures.
    let mut paired: Vec<(String, bool, crate::results::Ratio)> = Vec::new();
    if let Some(r) = arm.cold_start.as_ref().and_then(|c| c.ratio_to_baseline) {
        paired.push(("cold_start_ms".into(), false, r));
    }
    for cell in &arm.load {
        let Some(ratios) = &cell.ratio_to_baseline else {
            continue;
        };
        let label = super::cell_label((&cell.endpoint, cell.concurrency, cell.rate_rps));
        paired.push((format!("rps {label}"), true, ratios.rps));
        if let Some(cpu) = ratios.server_cpu_us_per_request {
            paired.push((format!("cpu_us_per_request {label}"), false, cpu));
        }
    }
    for crunch in &arm.crunch {
        if let Some(r) = crunch.ratio_to_baseline {
            paired.push((format!("mb_per_s t{}", crunch.threads), true, r));
        }
    }
    for (metric, _, ratio) in paired.into_iter().filter(|(_, _, r)| r.beyond_noise()) {
        out.tripped.push(Tripped {
            metric,
            test: "paired".into(),
            shift_pct: shift(1.0, ratio.median),
            p_adjusted: ratio.p_adjusted,
        });
    }
    out
}

/// Judges NEW against OLD: `threshold_pct`, the `PCT` of `--fail-on-regression` (0: any
/// change beyond noise).
pub fn judge(old: &RunResults, new: &RunResults, threshold_pct: f64) -> Gate {
    let mut tests = Vec::new();
    let mut sizes = Vec::new();
    let mut broken = Vec::new();
    for a in old.variants.iter().filter(|v| v.is_ok()) {
        let name = a.variant.name();
        let Some(b) = new.variant(&name) else {
            continue;
        };
        if let Status::Failed { step, reason, .. } = &b.status {
            broken.push(Broken {
                variant: name,
                step: step.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        tests.extend(pair_tests(&name, a, b));
        sizes.extend(size_tests(&name, a, b));
    }
    let comparisons = adjust(&mut tests);
    let controls = vec![control("old", old), control("new", new)];
    let tolerance_pct = controls
        .iter()
        .flat_map(|c| &c.tripped)
        .map(|t| t.shift_pct)
        .fold(0.0, f64::max);
    for t in &mut tests {
        t.regression = t.beyond_noise && t.worse_pct > threshold_pct && t.worse_pct > tolerance_pct;
    }
    for t in &mut sizes {
        t.regression = t.beyond_noise && t.worse_pct > threshold_pct;
    }
    tests.extend(sizes);
    Gate {
        method: METHOD.to_string(),
        alpha: ALPHA,
        threshold_pct,
        tolerance_pct,
        comparisons,
        tests,
        controls,
        broken,
    }
}

/// The gate's text: what it tested, what tripped it (or that nothing did), and its control.
pub fn lines(gate: &Gate) -> Vec<String> {
    let mut out = Vec::new();
    let threshold = match gate.threshold_pct {
        t if t > 0.0 => format!(" by more than {t}%"),
        _ => String::new(),
    };
    for c in &gate.controls {
        out.push(match (&c.missing, c.tripped.as_slice()) {
            (Some(why), _) => format!(
                "gate control ({} run): {why}: the gate cannot check its own noise there",
                c.run
            ),
            (None, []) => format!(
                "gate control ({} run): A/A ({} measured twice per round) within noise on all {} figures",
                c.run,
                c.baseline.as_deref().unwrap_or("?"),
                c.tested
            ),
            (None, tripped) => {
                let names: Vec<String> = tripped
                    .iter()
                    .map(|t| format!("{} {:.1}% ({})", t.metric, t.shift_pct, t.test))
                    .collect();
                format!(
                    "gate control ({} run): TRIPPED: two arms of one binary ({}) differed beyond noise: {}; a change of that size cannot be told from noise there",
                    c.run,
                    c.baseline.as_deref().unwrap_or("?"),
                    names.join(", ")
                )
            }
        });
    }
    let excused = gate.excused();
    if !excused.is_empty() {
        let names: Vec<String> = excused.iter().map(|t| describe(t)).collect();
        out.push(format!(
            "not called regressions, being within the {:.1}% shift the A/A controls showed: {}",
            gate.tolerance_pct,
            names.join("; ")
        ));
    }
    for b in &gate.broken {
        out.push(format!(
            "regression: {} measured in the old run and failed in the new one ({}: {})",
            b.variant, b.step, b.reason
        ));
    }
    let regressions = gate.regressions();
    for t in &regressions {
        out.push(format!("regression: {}", describe(t)));
    }
    let floor = match gate.tolerance_pct > gate.threshold_pct {
        true => format!(
            " (repeated figures: by more than {:.1}%, the controls' tolerance)",
            gate.tolerance_pct
        ),
        false => String::new(),
    };
    out.push(match regressions.len() + gate.broken.len() {
        0 => format!(
            "gate: passed: no figure worse beyond noise{threshold}{floor} ({} figures tested together, Holm at {}; sizes exact)",
            gate.comparisons, gate.alpha
        ),
        n => format!(
            "gate: FAILED: {n} regression{} beyond noise{threshold}{floor} ({} figures tested together, Holm at {})",
            if n == 1 { "" } else { "s" },
            gate.comparisons,
            gate.alpha
        ),
    });
    out
}

/// `variant metric: old → new (+x% worse, p_adj …)`.
pub fn describe(t: &Test) -> String {
    let number = |v: f64| match v {
        v if v.abs() >= 100.0 => format!("{v:.0}"),
        v => format!("{v:.3}"),
    };
    let p = t
        .p_adjusted
        .map_or("exact".to_string(), |p| format!("p_adj {p:.2e}"));
    format!(
        "{} {}: {} → {} ({:.1}% worse; {p})",
        t.variant,
        t.metric,
        number(t.old),
        number(t.new),
        t.worse_pct
    )
}

/// The summary line of a gate that failed, for the error `main` prints.
pub fn failure_line(gate: &Gate) -> String {
    let mut names: Vec<String> = gate
        .broken
        .iter()
        .map(|b| format!("{} (failed: {})", b.variant, b.step))
        .collect();
    names.extend(
        gate.regressions()
            .iter()
            .map(|t| format!("{} {} ({:.1}% worse)", t.variant, t.metric, t.worse_pct)),
    );
    format!("regression beyond noise: {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_a_hand_computed_case() {
        // logs of a: 0, 0.1, 0.2 (mean 0.1, var 0.01); of b: 0.3, 0.4, 0.5 (mean 0.4, var 0.01)
        let a: Vec<f64> = [0.0f64, 0.1, 0.2].iter().map(|x| x.exp()).collect();
        let b: Vec<f64> = [0.3f64, 0.4, 0.5].iter().map(|x| x.exp()).collect();
        // t = 0.3 / sqrt(0.02/3) = 3.674, df = 4: two-sided p = 0.02131
        let p = welch_log(&a, &b).unwrap();
        assert!((p - 0.02131).abs() < 5e-4, "{p}");
        assert_eq!(welch_log(&a, &b[..2]), None, "too few samples");
        assert_eq!(welch_log(&[2.0; 3], &[2.0; 4]), Some(1.0));
        assert_eq!(welch_log(&[2.0; 3], &[3.0; 4]), Some(0.0));
    }

    #[test]
    fn worse_is_a_factor_in_the_metrics_own_sense() {
        assert!((worse_pct(100.0, 80.0, true) - 25.0).abs() < 1e-9);
        assert!((worse_pct(100.0, 125.0, false) - 25.0).abs() < 1e-9);
        assert!((worse_pct(100.0, 50.0, true) - 100.0).abs() < 1e-9);
        assert!(worse_pct(100.0, 110.0, true) < 0.0);
    }
}

//! The plain-words verdict: which variant wins on which axis and by how much, generated from
//! the numbers so it changes when they do.
//!
//! Each sentence compares the winner with the baseline and says when the difference is within
//! the noise (95% CIs overlap) or when there is no interval to tell. A file that is not a
//! full run (unfinished, `--quick`, a partial set) opens its group saying so.

use super::fmt::{factor, num};
use super::metrics::{Estimate, Noise, RunView, VariantRow};
use super::select;
use crate::results::BenchResults;

/// A titled group of verdict sentences: one per run, one for the benches.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictGroup {
    pub title: String,
    pub sentences: Vec<String>,
}

/// The whole verdict: each run's sentences, then the bench's.
pub fn groups(views: &[RunView], bench: Option<&BenchResults>) -> Vec<VerdictGroup> {
    let mut out: Vec<VerdictGroup> = views
        .iter()
        .map(|view| {
            let short = select::run_shortfalls(view.results());
            let mut sentences: Vec<String> = select::verdict_sentence(&short).into_iter().collect();
            sentences.extend(run_verdict(view));
            VerdictGroup {
                title: format!("{} run", view.results().app),
                sentences,
            }
        })
        .collect();
    if let Some(bench) = bench {
        let short = select::bench_shortfalls(bench);
        let mut sentences: Vec<String> = select::verdict_sentence(&short).into_iter().collect();
        sentences.extend(bench_verdict(bench));
        out.push(VerdictGroup {
            title: format!("Criterion benches (against {})", bench.baseline),
            sentences,
        });
    }
    out.retain(|g| !g.sentences.is_empty());
    out
}

/// How to read the factors, when there is a baseline to read them against.
pub fn reading_note(views: &[RunView]) -> Option<String> {
    let base = views.iter().find_map(|v| v.baseline.clone())?;
    Some(format!(
        "Every factor is against the baseline, {base}; \"within noise\" means the 95% confidence intervals overlap."
    ))
}

/// Sentences for one run.
fn run_verdict(view: &RunView) -> Vec<String> {
    let mut out = Vec::new();
    let exact = |f: fn(&VariantRow) -> Option<f64>| move |r: &VariantRow| f(r).map(Estimate::exact);
    if let Some(s) = best(
        view,
        exact(|r| r.image_mb),
        Better::Lower,
        "MB",
        "smaller",
        "",
    ) {
        out.push(format!("**Image size**: {s}."));
    }
    if let Some(s) = best(view, |r| r.cold_start_ms, Better::Lower, "ms", "faster", "") {
        out.push(format!("**Cold start** (median): {s}."));
    }
    out.extend(throughput_sentences(view));
    out.extend(scaling_sentence(view));
    let one_reading = "; one reading each, so no confidence interval";
    if let Some(s) = best(
        view,
        exact(|r| r.peak_memory_mb),
        Better::Lower,
        "MB",
        "less",
        one_reading,
    ) {
        out.push(format!("**Peak memory**: {s}."));
    }
    out.extend(frontier_sentence(view));
    let failed: Vec<String> = view
        .rows
        .iter()
        .filter_map(|r| {
            r.failure
                .as_ref()
                .map(|(step, _)| format!("{} (at {step})", r.name))
        })
        .collect();
    if !failed.is_empty() {
        out.push(format!("**Failed**: {}.", failed.join(", ")));
    }
    out
}

/// The allocation-heavy workload: the highest, the lowest, and any loadgen-bound caveat.
fn throughput_sentences(view: &RunView) -> Vec<String> {
    let mut out = Vec::new();
    let Some(w) = &view.workload else {
        return out;
    };
    let unit = w.unit.as_str();
    if let Some(s) = best(
        view,
        |r| r.alloc_heavy,
        Better::Higher,
        unit,
        "",
        ONE_WINDOW,
    ) {
        out.push(format!(
            "**Allocation-heavy throughput** ({}): {s}.",
            w.label
        ));
    }
    out.extend(worst_throughput(view, unit));
    let bound: Vec<&str> = view
        .rows
        .iter()
        .filter(|r| r.loadgen_bound)
        .map(|r| r.name.as_str())
        .collect();
    if !bound.is_empty() {
        out.push(format!(
            "The load generator was the bottleneck for {} there, so those figures are lower bounds.",
            bound.join(", ")
        ));
    }
    out
}

const ONE_WINDOW: &str = "; one load window per variant, so no confidence interval";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Lower,
    Higher,
}

/// "X is best at V UNIT, F× WORD than the baseline (B UNIT)", with the noise said.
fn best(
    view: &RunView,
    metric: impl Fn(&VariantRow) -> Option<Estimate>,
    better: Better,
    unit: &str,
    word: &str,
    unknown_noise: &str,
) -> Option<String> {
    let mut ranked: Vec<(&VariantRow, Estimate)> = view
        .rows
        .iter()
        .filter_map(|r| Some((r, metric(r)?)))
        .collect();
    ranked.sort_by(|a, b| a.1.value.total_cmp(&b.1.value));
    if better == Better::Higher {
        ranked.reverse();
    }
    let (winner, w) = ranked.first()?;
    let verb = match better {
        Better::Lower if word == "faster" => "is fastest",
        Better::Lower if word == "less" => "uses least",
        Better::Lower => "is smallest",
        Better::Higher => "is highest",
    };
    let mut s = format!("{} {verb} at {} {unit}", winner.name, num(w.value));
    let base = view.baseline_row().and_then(|b| Some((b, metric(b)?)));
    match base {
        Some((b, _)) if b.name == winner.name => s.push_str(" (the baseline itself)"),
        Some((b, bv)) => {
            let r = w.value / bv.value;
            let how = match better {
                Better::Lower if r > 0.5 => format!("{:.0}% {word} than", (1.0 - r) * 100.0),
                Better::Lower => format!("{} {word} than", factor(1.0 / r)),
                Better::Higher => factor(r),
            };
            s.push_str(&format!(", {how} {} ({} {unit})", b.name, num(bv.value)));
            s.push_str(match w.noise_against(&bv) {
                Noise::WithinNoise => " — within noise of the baseline",
                Noise::Distinct => "",
                Noise::Unknown => unknown_noise,
            });
        }
        None => {}
    }
    if let Some((runner, rv)) = ranked.get(1) {
        if w.noise_against(rv) == Noise::WithinNoise {
            s.push_str(&format!("; tied within noise with {}", runner.name));
        }
    }
    Some(s)
}

/// The lowest allocation-heavy throughput relative to the baseline, when it is not the winner.
fn worst_throughput(view: &RunView, unit: &str) -> Option<String> {
    let base = view.baseline_row()?;
    let bv = base.alloc_heavy?;
    let (worst, wv) = view
        .rows
        .iter()
        .filter_map(|r| Some((r, r.alloc_heavy?)))
        .min_by(|a, b| a.1.value.total_cmp(&b.1.value))?;
    if worst.name == base.name || wv.value >= bv.value {
        return None;
    }
    let noise = match wv.noise_against(&bv) {
        Noise::WithinNoise => " — within noise of the baseline",
        Noise::Distinct => "",
        Noise::Unknown => ONE_WINDOW,
    };
    Some(format!(
        "Lowest there: {} at {} {unit}, {} {}{noise}.",
        worst.name,
        num(wv.value),
        factor(wv.value / bv.value),
        base.name
    ))
}

/// How much each variant speeds up from the fewest to the most threads (batch runs only).
fn scaling_sentence(view: &RunView) -> Option<String> {
    let results = view.results();
    let threads = results
        .variants
        .iter()
        .flat_map(|v| &v.crunch)
        .map(|c| c.threads);
    let (lo, hi) = threads.fold((u32::MAX, 0), |(l, h), t| (l.min(t), h.max(t)));
    if lo >= hi {
        return None;
    }
    let mut speedups: Vec<(String, f64)> = results
        .variants
        .iter()
        .filter_map(|v| {
            let at = |n: u32| {
                v.crunch
                    .iter()
                    .find(|c| c.threads == n)
                    .map(|c| c.mb_per_s.median)
            };
            Some((v.variant.name(), at(hi)? / at(lo)?))
        })
        .collect();
    speedups.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut named: Vec<&(String, f64)> = speedups.first().into_iter().collect();
    if let Some(base) = speedups
        .iter()
        .find(|(n, _)| Some(n) == view.baseline.as_ref())
    {
        named.push(base);
    }
    named.extend(speedups.last());
    named.dedup_by(|a, b| a.0 == b.0);
    let parts: Vec<String> = named
        .iter()
        .enumerate()
        .map(|(i, (name, x))| {
            let only = if i > 0 && i == named.len() - 1 {
                "only "
            } else {
                ""
            };
            format!("{name} {only}{}", factor(*x))
        })
        .collect();
    Some(format!(
        "**Thread scaling** (MB/s at {hi} threads ÷ at {lo}; {hi}× would be perfect): {}.",
        parts.join(", ")
    ))
}

fn frontier_sentence(view: &RunView) -> Option<String> {
    let front = view.frontier();
    if front.is_empty() {
        return None;
    }
    let unit = view.workload.as_ref().map_or("", |w| w.unit.as_str());
    let items: Vec<String> = front
        .iter()
        .map(|r| {
            let size = r.image_mb.map_or(String::new(), num);
            let thr = r.alloc_heavy.map_or(String::new(), |e| num(e.value));
            format!("{} ({size} MB, {thr} {unit})", r.name)
        })
        .collect();
    Some(match items.as_slice() {
        [one] => format!(
            "**Tradeoff**: {one} is both smallest and fastest among the variants measured; no other is on the frontier."
        ),
        _ => format!(
            "**Tradeoff**: no variant beats these on both image size and throughput: {}. Every other variant is bigger, slower, or both.",
            items.join(", ")
        ),
    })
}

/// Sentences for the criterion comparison: per variant, the geometric mean of the time
/// ratios and the bench with the largest ratio.
fn bench_verdict(bench: &BenchResults) -> Vec<String> {
    let mut out = Vec::new();
    if bench.indicative_only() {
        out.push(format!(
            "**Quick: indicative only**: some benches have fewer than {} samples, so their ratios carry no interval and no noise verdict.",
            crate::results::MIN_BENCH_SAMPLES
        ));
    }
    for variant in bench.variants.iter().filter(|v| **v != bench.baseline) {
        let ratios: Vec<(&str, Estimate)> = super::metrics::bench_ratios(bench, variant);
        if ratios.is_empty() {
            continue;
        }
        let geo =
            (ratios.iter().map(|(_, r)| r.value.ln()).sum::<f64>() / ratios.len() as f64).exp();
        let (name, worst) = ratios
            .iter()
            .max_by(|a, b| a.1.value.total_cmp(&b.1.value))
            .expect("not empty");
        let noise = match worst.ci {
            Some((lo, hi)) if lo <= 1.0 && hi >= 1.0 => " (within noise)",
            _ => "",
        };
        out.push(format!(
            "**{variant}**: {} the time per iteration on geometric mean over {} benches; largest on `{name}` at {}{noise}.",
            factor(geo),
            ratios.len(),
            factor(worst.value)
        ));
    }
    out
}

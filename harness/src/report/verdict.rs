//! The plain-words verdict: which variant wins on which axis and by how much, generated from
//! the numbers so it changes when they do.
//!
//! Each sentence compares the winner with the baseline and says when the difference is within
//! the noise (see `estimate`: a paired ratio's family verdict, else overlapping intervals)
//! or when there is no interval to tell. A file that is not a full run (unfinished,
//! `--quick`, a partial set) opens its group saying so. Every group ends with how the run's
//! negative controls came out and, with several runs of one experiment, which verdicts do
//! not replicate.

use super::fmt::{factor, num};
use super::frontier::{self, Axis};
use super::metrics::{Better, Estimate, Measured, Noise, RunView, VariantRow};
use super::ranking::{best, worst, Words};
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
            let mut verdict = run_verdict(view);
            mark_unreplicated(view, &mut verdict);
            sentences.extend(verdict);
            sentences.extend(control_sentences(view));
            sentences.extend(super::replication::sentence(&view.experiment()));
            VerdictGroup {
                title: format!("{} run{}", view.results().app, view.on_host()),
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
    let comparisons = views.first().map_or(0, |v| v.comparisons);
    Some(format!(
        "Every factor is against the baseline, {base}. Paired factors (load cells, and from schema version 3 cold starts and batch jobs) are the median of per-round ratios to the baseline of the same round, with a distribution-free interval of that median whose level is stated with it (order statistics: the range of 5 rounds is a 93.8% interval, of 6 rounds 96.9%); from schema version 3 the denominator is the geometric mean of the baseline's two arms (the baseline and its A/A control) in that round. A paired factor is beyond noise only when its interval excludes 1 and its adjusted p-value is at most 5%: the p-values (paired t-test on the log ratios) of all {comparisons} comparisons in this report are adjusted together by Holm's method, which keeps the chance of even one false \"beyond noise\" call among them at 5% or less. Unpaired factors divide medians, and two variants are told apart only where their intervals do not overlap. Variants tied within noise, or running the same binary, are named together, never ranked. Criterion comparisons are a family of their own (the bench file's, judged as its section says) and are not among the {comparisons}."
    ))
}

/// Marks each sentence whose comparison another run of the experiment calls differently:
/// the cold-start sentence for cold starts, the throughput and CPU sentences for the
/// allocation-heavy cell, each naming the variants whose verdict does not replicate.
fn mark_unreplicated(view: &RunView, sentences: &mut [String]) {
    let runs = view.experiment();
    if runs.len() < 2 {
        return;
    }
    let rows = super::replication::rows(&runs);
    let failing: Vec<&super::replication::Row> = rows
        .iter()
        .filter(|r| r.runs() >= 2 && !r.replicates())
        .collect();
    let cell = view.workload.as_ref().and_then(|w| w.cell.clone());
    let threads = view
        .results()
        .variants
        .iter()
        .flat_map(|v| &v.crunch)
        .map(|c| c.threads)
        .max();
    let figure_of = |sentence: &str| -> Option<String> {
        let cell_figure = |what: &str| match (&cell, threads) {
            (Some((endpoint, c)), _) => Some(format!("{endpoint} c={c} {what}")),
            (None, Some(t)) => Some(format!("{t} threads")),
            _ => None,
        };
        match sentence {
            s if s.starts_with("**Cold start**") => Some("cold start".into()),
            s if s.starts_with("**Allocation-heavy throughput**")
                || s.starts_with("Lowest there") =>
            {
                cell_figure("rps")
            }
            s if s.starts_with("**Server CPU per request**")
                || s.starts_with("Most CPU per request there") =>
            {
                cell_figure("CPU/request")
            }
            _ => None,
        }
    };
    for sentence in sentences.iter_mut() {
        let Some(figure) = figure_of(sentence) else {
            continue;
        };
        let arms: Vec<&str> = failing
            .iter()
            .filter(|r| r.figure == figure && sentence.contains(&r.arm))
            .map(|r| r.arm.as_str())
            .collect();
        if !arms.is_empty() {
            sentence.push_str(&format!(
                " **Does not replicate** for {}: another run of this experiment calls it differently (see Replication).",
                arms.join(", ")
            ));
        }
    }
}

/// How the run's negative controls came out: the A/A arm and each same-binary pair.
fn control_sentences(view: &RunView) -> Vec<String> {
    crate::measure::controls::outcomes(view.results())
        .iter()
        .map(|o| {
            let what = if o.label.starts_with("A/A") {
                "it is the baseline again, so every call beyond noise is a false alarm"
            } else {
                "one binary in two images, so a call beyond noise is the image or a false alarm"
            };
            format!("**Negative control**: {} ({what}).", o.line())
        })
        .collect()
}

/// Sentences for one run.
fn run_verdict(view: &RunView) -> Vec<String> {
    let mut out = Vec::new();
    let image = |r: &VariantRow| r.image_mb.map(|v| Measured::unpaired(Estimate::exact(v)));
    if let Some(s) = best(
        view,
        image,
        words("MB", Better::Lower, "smallest", "smaller"),
    ) {
        out.push(format!("**Image size**: {s}."));
    }
    let cold = |r: &VariantRow| r.cold_start.or(r.cold_start_ms.map(Measured::unpaired));
    if let Some(s) = best(view, cold, words("ms", Better::Lower, "fastest", "faster")) {
        out.push(format!("**Cold start** (median): {s}."));
    }
    out.extend(throughput_sentences(view));
    out.extend(scaling_sentence(view));
    out.extend(memory_sentence(view));
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

/// The words of a figure: `is smallest` / `tied … for smallest` / `30× smaller than`.
fn words<'a>(unit: &'a str, better: Better, top: &'a str, comparative: &'a str) -> Words<'a> {
    let verb = match top {
        "least" => "uses least",
        "smallest" => "is smallest",
        "fastest" => "is fastest",
        _ => "is highest",
    };
    Words {
        unit,
        better,
        verb,
        top,
        comparative,
        unknown_noise: "",
        rank_single_readings: true,
        by_binary: false,
    }
}

const ONE_WINDOW: &str = "; one load window per variant, so no confidence interval";
const ONE_RUN: &str = "; one run per variant, so no confidence interval";
const ONE_READING: &str = "; one reading each, so no confidence interval";

/// The allocation-heavy workload: the highest and lowest throughput, the least and most
/// server CPU per request, and what the load generator limited.
fn throughput_sentences(view: &RunView) -> Vec<String> {
    let mut out = Vec::new();
    let Some(w) = &view.workload else {
        return out;
    };
    let unit = w.unit.as_str();
    let single = match view.results().app_kind {
        crate::results::AppKind::Server => ONE_WINDOW,
        crate::results::AppKind::Batch => ONE_RUN,
    };
    let rps = Words {
        unknown_noise: single,
        rank_single_readings: false,
        by_binary: true,
        ..words(unit, Better::Higher, "highest", "")
    };
    if let Some(s) = best(view, |r| r.alloc_heavy, rps) {
        out.push(format!(
            "**Allocation-heavy throughput** ({}): {s}.",
            w.label
        ));
    }
    if let Some(s) = worst(view, |r| r.alloc_heavy, rps) {
        out.push(format!("Lowest there: {s}."));
    }
    let cpu = Words {
        unknown_noise: ONE_WINDOW,
        rank_single_readings: false,
        by_binary: true,
        ..words("µs", Better::Lower, "least", "less")
    };
    if let Some(s) = best(view, |r| r.cpu_per_request, cpu) {
        out.push(format!("**Server CPU per request** ({}): {s}.", w.label));
    }
    if let Some(s) = worst(view, |r| r.cpu_per_request, cpu) {
        out.push(format!("Most CPU per request there: {s}."));
    }
    let bound: Vec<&str> = view
        .rows
        .iter()
        .filter(|r| r.loadgen_bound())
        .map(|r| r.name.as_str())
        .collect();
    if !bound.is_empty() {
        let cpu_note = match view.rows.iter().any(|r| r.cpu_per_request.is_some()) {
            true => "; their server CPU per request still compares the servers",
            false => ", lower bounds of what the server could do",
        };
        out.push(format!(
            "The load generator was the bottleneck for {} there: their rps measures the load generator, not the server{cpu_note}.",
            bound.join(", ")
        ));
    }
    out
}

/// Peak memory: the app process's own figure, or, in a file without it, the container's,
/// said which.
fn memory_sentence(view: &RunView) -> Option<String> {
    let exact = |v: Option<f64>| v.map(|v| Measured::unpaired(Estimate::exact(v)));
    let process = view.rows.iter().any(|r| r.peak_memory_mb.is_some());
    let w = Words {
        unknown_noise: ONE_READING,
        ..words("MB", Better::Lower, "least", "less")
    };
    let (label, sentence) = if process {
        let how = match view.results().variants.iter().any(|v| {
            v.memory_method
                .as_deref()
                .is_some_and(|m| m.contains("VmHWM"))
        }) {
            true => "the app process's own peak resident set, VmHWM",
            false => "the app process's own peak, as the app reports it",
        };
        (how, best(view, |r| exact(r.peak_memory_mb), w)?)
    } else {
        (
            "the container's cgroup figure, which includes the container runtime, kernel memory and page cache: this file records no app process figure",
            best(view, |r| exact(r.container_peak_memory_mb), w)?,
        )
    };
    Some(format!("**Peak memory** ({label}): {s}.", s = sentence))
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
    let axis = view.tradeoff_axis();
    let front = view.frontier(axis);
    let w = view.workload.as_ref()?;
    let unit = match axis {
        Axis::Throughput => w.unit.as_str(),
        Axis::CpuPerRequest => "µs",
    };
    let items: Vec<String> = front
        .iter()
        .map(|r| {
            let size = r.image_mb.map_or(String::new(), num);
            let figure = axis.of(r).map_or(String::new(), |m| num(m.own.value));
            format!("{} ({size} MB, {figure} {unit})", r.name)
        })
        .collect();
    let what = format!("image size against {} on {}", axis.name(), w.label);
    let points = view
        .rows
        .iter()
        .filter(|r| r.image_mb.is_some() && axis.of(r).is_some())
        .count();
    if !frontier::noise_known(&view.rows, axis) {
        return Some(format!("**Tradeoff** ({what}): the figures are single readings with no noise estimate, so no variant can be shown to be both smaller and better beyond noise than another: all {points} are on the frontier."));
    }
    let s = match items.as_slice() {
        [] => return None,
        [one] if points == 1 => format!("**Tradeoff** ({what}): {one} is the only variant with both figures."),
        [one] => format!(
            "**Tradeoff** ({what}): {one} is the only variant on the frontier; every other is bigger than one that is better beyond noise."
        ),
        _ if items.len() == points => format!(
            "**Tradeoff** ({what}): all {points} variants are on the frontier, none both smaller and better beyond noise than another: {}.",
            items.join(", ")
        ),
        _ => format!(
            "**Tradeoff** ({what}): no variant is both smaller and better beyond noise than these: {}. Every other variant is bigger than one of them and worse beyond noise.",
            items.join(", ")
        ),
    };
    Some(s)
}

/// Sentences for the criterion comparison: the negative control when it failed, then per
/// variant the geometric mean of the time ratios (with its interval over rounds) and the
/// bench with the largest ratio, and how many benches are beyond noise either way.
fn bench_verdict(bench: &BenchResults) -> Vec<String> {
    let mut out = Vec::new();
    if bench.indicative_only() {
        out.push(format!(
            "**Indicative only**: some benches have fewer than {} processes or {} samples, so their ratios carry no interval and no noise verdict.",
            crate::results::MIN_BENCH_REPEATS,
            crate::results::MIN_BENCH_SAMPLES
        ));
    }
    let control = bench
        .verdicts
        .as_ref()
        .and_then(|v| v.negative_controls.first());
    match (control, &bench.method, &bench.verdicts) {
        (Some(c), _, _) if c.beyond_noise > 0 => out.push(format!(
            "**The criterion method is not holding on this machine**: its negative control came out beyond noise ({}), so no criterion verdict below is to be trusted.",
            c.beyond_noise_cells.join(", ")
        )),
        (Some(c), Some(m), Some(v)) => out.push(format!(
            "Verdicts over {} rounds of one process per variant, Holm over the bench file's {} comparisons; the {} is within noise in all {} of its comparisons.",
            m.repeats, v.comparisons, c.label, c.comparisons
        )),
        _ => {}
    }
    for variant in bench.variants.iter().filter(|v| **v != bench.baseline) {
        let ratios: Vec<(&str, Estimate)> = super::metrics::bench_ratios(bench, variant);
        let Some(geo) = crate::measure::bench::geometric_mean(bench, variant) else {
            continue;
        };
        let (name, worst) = ratios
            .iter()
            .max_by(|a, b| a.1.value.total_cmp(&b.1.value))
            .expect("a geometric mean has benches");
        let noise = match worst.noise_against_one() {
            Noise::WithinNoise => " (within noise)",
            _ => "",
        };
        let count = |want: fn(f64) -> bool| {
            ratios
                .iter()
                .filter(|(_, r)| r.beyond == Some(true) && want(r.value))
                .count()
        };
        let interval = match (geo.ci, geo.level) {
            (Some((lo, hi)), Some(level)) => format!(
                " ({} interval over rounds {lo:.2}–{hi:.2})",
                crate::measure::stats::percent(level)
            ),
            _ => String::new(),
        };
        out.push(format!(
            "**{variant}**: {}{interval} the time per iteration on geometric mean over {} benches; slower beyond noise on {}, faster on {}; largest on `{name}` at {}{noise}.",
            factor(geo.value),
            ratios.len(),
            count(|r| r > 1.0),
            count(|r| r < 1.0),
            factor(worst.value)
        ));
    }
    out
}

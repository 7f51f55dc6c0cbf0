//! The report's tables: one per metric, a row per variant, each figure beside its ratio to
//! the baseline and whether that difference is within the noise.

use super::doc::Table;
use super::fmt::{factor, noise_mark, num, ratio_ci, value_ci};
use super::metrics::{bench_ratios, Estimate, Noise, RunView, VariantRow};
use crate::results::{BenchResults, LoadResult, VariantResult, MIN_BENCH_SAMPLES};

const DASH: &str = "—";

/// `F×` against the baseline's value of the same metric, or a dash.
fn vs_base(
    view: &RunView,
    metric: impl Fn(&VariantRow) -> Option<f64>,
    row: &VariantRow,
) -> String {
    let base = view.baseline_row().and_then(&metric);
    match (metric(row), base) {
        (Some(v), Some(b)) if b > 0.0 => factor(v / b),
        _ => DASH.into(),
    }
}

fn status(row: &VariantRow) -> String {
    match &row.failure {
        None => "ok".into(),
        Some((step, _)) => format!("failed at {step}"),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or(DASH.into(), num)
}

pub fn image(view: &RunView) -> Table {
    let mut t = Table::new([
        "variant",
        "image (MB)",
        "× baseline",
        "binary (MB)",
        "linking",
        "status",
    ]);
    for (row, v) in view.rows.iter().zip(&view.results().variants) {
        let build = v.build.as_ref();
        let linking = build.map_or(DASH.to_string(), |b| match &b.interpreter {
            _ if b.static_binary => "static".into(),
            Some(interp) => format!("dynamic ({interp})"),
            None => "dynamic".into(),
        });
        t.row([
            row.name.clone(),
            opt(row.image_mb),
            vs_base(view, |r| r.image_mb, row),
            opt(build.map(|b| b.binary_bytes as f64 / super::metrics::BYTES_PER_MB)),
            linking,
            status(row),
        ]);
    }
    t.note("1 MB = 1,000,000 bytes; image size as the Docker daemon reports it. Sizes are exact, so there is no noise to mark.")
}

pub fn cold_start(view: &RunView) -> Table {
    let mut t = Table::new([
        "variant",
        "cold start median (ms) [95% CI]",
        "p5–p95 (ms)",
        "runtime + exec (ms)",
        "app start-up (ms)",
        "× baseline (CI)",
        "vs baseline",
    ]);
    let base = view.baseline_row().and_then(|b| b.cold_start_ms);
    for row in &view.rows {
        let Some(cold) = row.cold_start_ms else {
            t.row([
                row.name.clone(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                status(row),
            ]);
            continue;
        };
        let process = row.process_start_ms.map(|p| p.value);
        let (ratio, noise) = compare(&cold, base.as_ref(), &row.name, view);
        t.row([
            row.name.clone(),
            value_ci(&cold),
            row.cold_start_range_ms
                .map_or(DASH.into(), |(a, b)| format!("{}–{}", num(a), num(b))),
            opt(process),
            opt(process.map(|p| (cold.value - p).max(0.0))),
            ratio,
            noise,
        ]);
    }
    t.note("Runtime + exec: create → first output of a bare `--version` run in the same image (median): what the container runtime and process start cost. App start-up: cold start median minus that: the program's own initialisation up to its first response. Ratios < 1 start faster than the baseline; \"within noise\": the 95% CIs of the two medians overlap.")
}

/// The ratio cell and the noise cell for a value with a CI against the baseline's.
fn compare(v: &Estimate, base: Option<&Estimate>, name: &str, view: &RunView) -> (String, String) {
    match base {
        Some(_) if view.baseline.as_deref() == Some(name) => ("baseline".into(), DASH.into()),
        Some(b) => (ratio_ci(&v.ratio(b)), noise_mark(v.noise_against(b)).into()),
        None => (DASH.into(), DASH.into()),
    }
}

/// Throughput (or p99) per concurrency for one endpoint.
pub fn load(view: &RunView, endpoint: &str, p99: bool) -> Table {
    let results = view.results();
    let mut levels: Vec<u32> = results
        .variants
        .iter()
        .flat_map(|v| &v.load)
        .filter(|l| l.endpoint == endpoint)
        .map(|l| l.concurrency)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let unit = if p99 { "p99 ms" } else { "rps" };
    let mut header = vec!["variant".to_string()];
    header.extend(levels.iter().map(|c| format!("c={c} ({unit})")));
    let mut t = Table::new(header);
    let value = |l: &LoadResult| {
        if p99 {
            l.latency_us.p99 as f64 / 1000.0
        } else {
            l.rps.median
        }
    };
    let base: Option<&VariantResult> = view.baseline.as_ref().and_then(|b| results.variant(b));
    fn find<'r>(v: &'r VariantResult, endpoint: &str, c: u32) -> Option<&'r LoadResult> {
        v.load
            .iter()
            .find(|l| l.endpoint == endpoint && l.concurrency == c)
    }
    for v in &results.variants {
        let mut cells = vec![v.variant.name()];
        for &c in &levels {
            cells.push(match find(v, endpoint, c) {
                None => DASH.into(),
                Some(l) => {
                    let ratio = base
                        .and_then(|b| find(b, endpoint, c))
                        .map(value)
                        .filter(|b| *b > 0.0);
                    let bound = if l.loadgen_bound { " †" } else { "" };
                    match ratio {
                        Some(b) => format!("{} ({}){bound}", num(value(l)), factor(value(l) / b)),
                        None => format!("{}{bound}", num(value(l))),
                    }
                }
            });
        }
        t.row(cells);
    }
    t.note("In brackets: × the baseline at the same concurrency. One load window per cell, so there is no confidence interval. †: the load generator was the bottleneck; the figure is a bound, not the app's limit.")
}

/// A batch app's throughput (json-cruncher: MB/s) per thread count.
pub fn crunch(view: &RunView) -> Table {
    let results = view.results();
    let mut threads: Vec<u32> = results
        .variants
        .iter()
        .flat_map(|v| &v.crunch)
        .map(|c| c.threads)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    let unit = results.throughput_unit();
    let mut header = vec!["variant".to_string()];
    header.extend(threads.iter().map(|t| {
        let s = if *t == 1 { "" } else { "s" };
        format!("{t} thread{s} ({unit} [95% CI])")
    }));
    let mut t = Table::new(header);
    let base = view.baseline.as_ref().and_then(|b| results.variant(b));
    let est = |v: &VariantResult, n: u32| {
        v.crunch
            .iter()
            .find(|c| c.threads == n)
            .map(|c| Estimate::median(&c.mb_per_s))
    };
    for v in &results.variants {
        let mut cells = vec![v.variant.name()];
        for &n in &threads {
            cells.push(match (est(v, n), base.and_then(|b| est(b, n))) {
                (None, _) => DASH.into(),
                (Some(e), Some(b)) if Some(v.variant.name()) != view.baseline => {
                    let mark = if e.noise_against(&b) == Noise::WithinNoise {
                        " ≈"
                    } else {
                        ""
                    };
                    format!("{} · {}{mark}", value_ci(&e), factor(e.value / b.value))
                }
                (Some(e), _) => value_ci(&e),
            });
        }
        t.row(cells);
    }
    t.note("Median over runs with the 95% CI of the median, then × the baseline at the same thread count. ≈: within noise of the baseline (the CIs overlap).")
}

pub fn tradeoff(view: &RunView) -> Table {
    let unit = view.workload.as_ref().map_or("", |w| w.unit.as_str());
    let mut t = Table::new([
        "variant".to_string(),
        "image (MB)".into(),
        format!("throughput ({unit})"),
        "× baseline".into(),
        "cold start (ms)".into(),
        "on the frontier".into(),
    ]);
    let front: Vec<String> = view.frontier().iter().map(|r| r.name.clone()).collect();
    for row in &view.rows {
        t.row([
            row.name.clone(),
            opt(row.image_mb),
            opt(row.alloc_heavy.map(|e| e.value)),
            vs_base(view, |r| r.alloc_heavy.map(|e| e.value), row),
            opt(row.cold_start_ms.map(|e| e.value)),
            if front.contains(&row.name) { "yes" } else { "" }.into(),
        ]);
    }
    t.note("The frontier: variants no other variant beats on both image size (smaller) and throughput (higher).")
}

pub fn memory(view: &RunView) -> Table {
    let mut t = Table::new(["variant", "peak memory (MB)", "× baseline", "method"]);
    for (row, v) in view.rows.iter().zip(&view.results().variants) {
        t.row([
            row.name.clone(),
            opt(row.peak_memory_mb),
            vs_base(view, |r| r.peak_memory_mb, row),
            v.memory_method.clone().unwrap_or_else(|| DASH.into()),
        ]);
    }
    t.note("One reading per variant over the whole run, so there is no confidence interval.")
}

pub fn bench(bench: &BenchResults) -> Table {
    let others: Vec<&String> = bench
        .variants
        .iter()
        .filter(|v| **v != bench.baseline)
        .collect();
    let mut header = vec!["bench".to_string(), format!("{} (mean)", bench.baseline)];
    header.extend(others.iter().map(|v| format!("{v} (× baseline, CI)")));
    let mut t = Table::new(header);
    let ratios: Vec<Vec<(&str, Estimate)>> =
        others.iter().map(|v| bench_ratios(bench, v)).collect();
    for row in &bench.benches {
        let base = row.estimates.iter().find(|e| e.variant == bench.baseline);
        let mut cells = vec![
            row.bench.clone(),
            base.map_or(DASH.into(), |e| duration_ns(e.mean_ns)),
        ];
        for per_variant in &ratios {
            cells.push(match per_variant.iter().find(|(b, _)| *b == row.bench) {
                Some((_, r)) => {
                    let within = r.ci.is_some_and(|(lo, hi)| lo <= 1.0 && hi >= 1.0);
                    format!("{}{}", ratio_ci(r), if within { " ≈" } else { "" })
                }
                None => DASH.into(),
            });
        }
        t.row(cells);
    }
    let how = "Time per iteration: > 1× is slower than the baseline. ≈: within noise (the ratio's interval includes 1).";
    match bench.indicative_only() {
        true => t.note(format!("{how} quick: indicative only: benches with fewer than {MIN_BENCH_SAMPLES} samples have no interval and no noise mark.")),
        false => t.note(how),
    }
}

/// `812 ns`, `3.41 µs`, `12.0 ms`.
pub fn duration_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{} ms", num(ns / 1e6))
    } else if ns >= 1e3 {
        format!("{} µs", num(ns / 1e3))
    } else {
        format!("{} ns", num(ns))
    }
}

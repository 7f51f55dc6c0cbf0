//! The report's tables: one per metric, a row per variant, each figure beside its ratio to
//! the baseline and whether that difference is within the noise.

use super::doc::Table;
use super::fmt::{factor, noise_mark, num, ratio_ci, value_ci};
use super::frontier::Axis;
use super::metrics::VariantRow;
use super::metrics::{bench_ratios, is_container_method, Estimate, Measured, Noise, RunView};
use crate::results::{BenchResults, VariantResult, MIN_BENCH_REPEATS, MIN_BENCH_SAMPLES};

pub const DASH: &str = "—";

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

/// Where each variant's cold start goes: the engine's create call, its start call, and the
/// rest (the process's start-up and its first response), each the median over the runs
/// with its interval; `None` when the file has no split (native runs, batch jobs, files
/// written before it existed).
pub fn cold_start_split(view: &RunView) -> Option<Table> {
    use super::estimate::Estimate;
    use crate::measure::stats::summarize;
    let results = view.results();
    let arms = results.variants.iter().chain(results.control.as_ref());
    let split: Vec<_> = arms
        .filter_map(|v| {
            let c = v.cold_start.as_ref()?;
            let n = c.samples_ms.len();
            if c.create_samples_ms.len() != n || c.start_samples_ms.len() != n || n == 0 {
                return None;
            }
            let rest: Vec<f64> = (0..n)
                .map(|i| c.samples_ms[i] - c.create_samples_ms[i] - c.start_samples_ms[i])
                .collect();
            let engine: Vec<f64> = (0..n)
                .map(|i| (c.create_samples_ms[i] + c.start_samples_ms[i]) / c.samples_ms[i] * 100.0)
                .collect();
            let name = match results.control.as_ref().is_some_and(|a| std::ptr::eq(a, v)) {
                true => format!("{} (A/A control)", v.variant.name()),
                false => v.variant.name(),
            };
            Some((
                name,
                summarize(&c.create_samples_ms)?,
                summarize(&c.start_samples_ms)?,
                summarize(&rest)?,
                summarize(&engine)?,
                c.cold_start_ms,
            ))
        })
        .collect();
    if split.is_empty() {
        return None;
    }
    let mut t = Table::new([
        "variant",
        "engine: create (ms)",
        "engine: start (ms)",
        "the rest: process start-up and first response (ms)",
        "engine's share (%)",
        "cold start (ms)",
    ]);
    for (name, create, start, rest, share, total) in split {
        let e = |s: &crate::results::Summary| value_ci(&Estimate::repeated(s));
        t.row([
            name,
            e(&create),
            e(&start),
            e(&rest),
            num(share.median),
            e(&total),
        ]);
    }
    let engine = results
        .environment
        .engine
        .as_deref()
        .unwrap_or("the engine");
    let runtime = results
        .environment
        .oci_runtime
        .as_deref()
        .unwrap_or("its default runtime");
    Some(t.note(format!("Each cold start split where it happened: the create call to {engine} until it answered, then the start call (the OCI runtime, {runtime}, sets up and starts the container's process), then the rest until the first good response. Medians over the runs, each with its interval; the parts' medians need not add up to the total's. What the OCI runtime or the engine can change is in the first two columns.")))
}

pub fn cold_start(view: &RunView) -> Table {
    let mut t = Table::new([
        "variant",
        "cold start median (ms) [interval]",
        "p5–p95 (ms)",
        "× baseline [interval]",
        "vs baseline",
        "process start (ms) [interval]",
    ]);
    let base = view.baseline_row().and_then(|b| b.cold_start_ms);
    for row in &view.rows {
        let process = row.process_start_ms.map_or(DASH.into(), |p| value_ci(&p));
        let Some(cold) = row.cold_start_ms else {
            t.row([
                row.name.clone(),
                DASH.into(),
                DASH.into(),
                DASH.into(),
                status(row),
                process,
            ]);
            continue;
        };
        let (ratio, noise) = match (
            row.cold_start,
            view.baseline_row().and_then(|b| b.cold_start),
        ) {
            (Some(m), Some(b)) if m.paired.is_some() && b.paired.is_some() => {
                match view.baseline.as_deref() == Some(row.name.as_str()) {
                    true => ("baseline".into(), DASH.into()),
                    false => (
                        ratio_ci(&m.ratio_to(&b)),
                        noise_mark(m.noise_against(&b)).into(),
                    ),
                }
            }
            _ => compare(&cold, base.as_ref(), &row.name, view),
        };
        t.row([
            row.name.clone(),
            value_ci(&cold),
            row.cold_start_range_ms
                .map_or(DASH.into(), |(a, b)| format!("{}–{}", num(a), num(b))),
            ratio,
            noise,
            process,
        ]);
    }
    let results = view.results();
    let paired = match results.schema_version >= 3 {
        true => "the median of per-round ratios to the baseline (cold starts run in shuffled rounds, every variant once per round), judged like every paired ratio (see the reading note under the verdict)",
        false => "the ratio of the medians; \"within noise\": the two intervals overlap",
    };
    t.note(format!("Cold start: container create → first good response (a batch app: exit), median of {} runs with its {}. × baseline: {paired}; ratios < 1 start faster than the baseline. Process start: create → first output of a bare `--version` run in the same image, its own measurement with its own end event; it is not a part of the cold start and is never subtracted from it.", results.settings.runs, super::fmt::interval_of(results, results.settings.runs)))
}

/// The ratio cell and the noise cell for a value with a CI against the baseline's.
fn compare(v: &Estimate, base: Option<&Estimate>, name: &str, view: &RunView) -> (String, String) {
    match base {
        Some(_) if view.baseline.as_deref() == Some(name) => ("baseline".into(), DASH.into()),
        Some(b) => (ratio_ci(&v.ratio(b)), noise_mark(v.noise_against(b)).into()),
        None => (DASH.into(), DASH.into()),
    }
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
        format!("{t} thread{s} ({unit} [interval])")
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
            let paired = v
                .crunch
                .iter()
                .find(|c| c.threads == n)
                .and_then(|c| c.ratio_to_baseline)
                .map(|r| Estimate::paired(&r));
            cells.push(match (est(v, n), base.and_then(|b| est(b, n)), paired) {
                (None, _, _) => DASH.into(),
                (Some(e), _, Some(r)) => {
                    let mark = if r.noise_against_one() == Noise::WithinNoise {
                        " ≈"
                    } else {
                        ""
                    };
                    format!("{} · {}{mark}", value_ci(&e), ratio_ci(&r))
                }
                (Some(e), Some(b), None) if Some(v.variant.name()) != view.baseline => {
                    let mark = if e.noise_against(&b) == Noise::WithinNoise {
                        " ≈"
                    } else {
                        ""
                    };
                    format!("{} · {}{mark}", value_ci(&e), factor(e.value / b.value))
                }
                (Some(e), _, _) => value_ci(&e),
            });
        }
        t.row(cells);
    }
    let paired = match results.schema_version >= 3 {
        true => "the median of per-repetition ratios to the baseline (the jobs run interleaved), with its interval; ≈: within noise (see the reading note under the verdict)",
        false => "the ratio of the medians; ≈: within noise of the baseline (the intervals overlap)",
    };
    t.note(format!("Median over {} runs with the {} of the median, then × the baseline at the same thread count: {paired}.", results.settings.runs, super::fmt::interval_of(results, results.settings.runs)))
}

pub fn tradeoff(view: &RunView) -> Table {
    let unit = view.workload.as_ref().map_or("", |w| w.unit.as_str());
    let axis = view.tradeoff_axis();
    let cpu = axis == Axis::CpuPerRequest;
    let mut header = vec![
        "variant".to_string(),
        "image (MB)".into(),
        format!("throughput ({unit}) [interval]"),
        "× baseline (CI)".into(),
    ];
    if cpu {
        header.extend([
            "server CPU (µs/request) [interval]".into(),
            "× baseline (CI)".into(),
        ]);
    }
    header.extend(["cold start (ms)".into(), "on the frontier".into()]);
    let mut t = Table::new(header);
    let front: Vec<String> = view.frontier(axis).iter().map(|r| r.name.clone()).collect();
    let base = view.baseline_row();
    let vs = |m: Option<Measured>, b: Option<Measured>, name: &str| match (m, b) {
        (Some(_), Some(_)) if view.baseline.as_deref() == Some(name) => "baseline".into(),
        (Some(m), Some(b)) => ratio_noise(&m.ratio_to(&b), m.noise_against(&b)),
        _ => DASH.to_string(),
    };
    for row in &view.rows {
        let mut cells = vec![
            row.name.clone(),
            opt(row.image_mb),
            row.alloc_heavy.map_or(DASH.into(), |m| value_ci(&m.own)),
            vs(row.alloc_heavy, base.and_then(|b| b.alloc_heavy), &row.name),
        ];
        if cpu {
            let b = base.and_then(|b| b.cpu_per_request);
            cells.push(
                row.cpu_per_request
                    .map_or(DASH.into(), |m| value_ci(&m.own)),
            );
            cells.push(vs(row.cpu_per_request, b, &row.name));
        }
        cells.push(opt(row.cold_start_ms.map(|e| e.value)));
        cells.push(if front.contains(&row.name) { "yes" } else { "" }.into());
        t.row(cells);
    }
    let direction = match axis {
        Axis::Throughput => "higher is better",
        Axis::CpuPerRequest => "lower is better",
    };
    t.note(format!("The frontier: variants no other variant beats on both image size (no bigger) and {} ({direction}) beyond noise; variants tied within noise both stay. × baseline: the median of per-round paired ratios with its interval where the file pairs rounds, else the ratio of the medians with the widest interval theirs allow; ≈: within noise of the baseline.", axis.name()))
}

/// `0.45× (0.43–0.47)`, with ` ≈` when the ratio is within noise of the baseline.
pub fn ratio_noise(ratio: &Estimate, noise: Noise) -> String {
    let mark = if noise == Noise::WithinNoise {
        " ≈"
    } else {
        ""
    };
    format!("{}{mark}", ratio_ci(ratio))
}

pub fn memory(view: &RunView) -> Table {
    let mut t = Table::new([
        "variant",
        "app process peak (MB)",
        "× baseline",
        "container peak (MB)",
        "× baseline",
        "method (process; container)",
    ]);
    for (row, v) in view.rows.iter().zip(&view.results().variants) {
        let (process, container) = match &v.memory_method {
            Some(m) if is_container_method(m) => (None, Some(m)),
            m => (m.as_ref(), v.container_memory_method.as_ref()),
        };
        let methods = [process, container].map(|m| m.cloned().unwrap_or_else(|| DASH.into()));
        t.row([
            row.name.clone(),
            opt(row.peak_memory_mb),
            vs_base(view, |r| r.peak_memory_mb, row),
            opt(row.container_peak_memory_mb),
            vs_base(view, |r| r.container_peak_memory_mb, row),
            methods.join("; "),
        ]);
    }
    t.note("App process peak: the app process's own peak resident set (VmHWM), or the app's own report; the verdict uses it. Container peak: the container's cgroup figure, which also counts the container runtime's short-lived processes, kernel memory and the page cache of the image's files, so it is not the app's own. Files written before the process figure was recorded hold only the container figure (their method names a cgroup file). One reading per variant over the whole run, so there is no confidence interval.")
}

pub fn bench(bench: &BenchResults) -> Table {
    let others: Vec<&String> = bench
        .variants
        .iter()
        .filter(|v| **v != bench.baseline)
        .collect();
    let mut header = vec!["bench".to_string(), format!("{} (time)", bench.baseline)];
    header.extend(others.iter().map(|v| format!("{v} (× baseline, interval)")));
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
                    let within = r.noise_against_one() == Noise::WithinNoise;
                    format!("{}{}", ratio_ci(r), if within { " ≈" } else { "" })
                }
                None => DASH.into(),
            });
        }
        t.row(cells);
    }
    let mut how = vec![format!(
        "Time per iteration: > 1× is slower than the baseline. {}",
        bench_method_note(bench)
    )];
    if bench.indicative_only() {
        how.push(format!("Indicative only: benches with fewer than {MIN_BENCH_REPEATS} processes or {MIN_BENCH_SAMPLES} samples have no interval and no noise mark."));
    }
    how.extend(crate::measure::bench::control_line(bench).map(|l| format!("{}.", upper_first(&l))));
    t.note(how.join(" "))
}

/// How a bench file's figures and marks were made, in one or two sentences from the file.
pub fn bench_method_note(bench: &BenchResults) -> String {
    match (&bench.method, &bench.verdicts) {
        (Some(m), Some(v)) => format!(
            "Each figure is the median over {} processes of criterion's mean; a ratio is the median of the per-round ratios (one process per variant per round, paired), with its {}. ≈: within noise (the interval includes 1, or the Holm-adjusted p-value over the file's {} comparisons is above 0.05).",
            m.repeats,
            crate::measure::stats::interval_name(m.repeats, Some(crate::measure::stats::median_interval_rank(m.repeats as usize).1)),
            v.comparisons
        ),
        _ => "One process per variant (schema 1): the interval is built from criterion's two 95% intervals of the mean; ≈: within noise (it includes 1).".into(),
    }
}

/// `s` with its first letter in upper case.
pub fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
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

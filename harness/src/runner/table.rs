//! The table a person reads at the end of a run, from the results alone: per variant the
//! image size, cold-start median, throughput, server CPU per request and p99 at the highest
//! load, peak memory, and each relative to the baseline variant.
//!
//! Load figures carry their noise: the median over rounds with the larger half of its
//! interval (`±2.1%`, at the level the legend states), and the per-round paired ratio to
//! the baseline with its interval; `≈` marks a ratio within noise (its interval includes 1,
//! or its Holm-adjusted p-value over the run's comparisons is above 5%), `†` a cell
//! the load generator limited. The A/A control is a row of its own, and a line under the
//! table says how the negative controls came out.

use crate::matrix::BASELINE;
use crate::measure::{controls, stats};
use crate::results::{AppKind, Bound, RunResults, VariantResult};
use comfy_table::Table;

/// Renders the summary table of a results file.
pub fn summary_table(results: &RunResults) -> Table {
    let baseline = results.variant(BASELINE).filter(|b| b.is_ok());
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec![
        "variant".to_string(),
        "image MB".into(),
        "cold start ms".into(),
    ];
    let columns = metric_columns(results);
    header.extend(columns.iter().map(|c| c.title.clone()));
    header.push("peak MB (process)".into());
    table.set_header(header);
    let control = results.control.iter().map(|c| (c, true));
    let runtime_arms = results.runtime_arms.iter().map(|r| (r, false));
    let arms = results.variants.iter().map(|v| (v, false));
    for (v, is_control) in arms.chain(control).chain(runtime_arms) {
        let name = match (is_control, &v.oci_runtime) {
            (true, _) => format!("{} (A/A control)", v.variant),
            (false, Some(runtime)) => format!("{} under {runtime}", v.variant),
            (false, None) => v.variant.name(),
        };
        if !v.is_ok() {
            let reason = match &v.status {
                crate::results::Status::Failed { step, reason, .. } => {
                    format!("failed at {step}: {reason}")
                }
                crate::results::Status::Ok => String::new(),
            };
            table.add_row([name, truncate(&reason, 100)]);
            continue;
        }
        let mut row = vec![name];
        row.push(cell(image_mb(v), baseline.and_then(image_mb)));
        row.push(cell(cold_ms(v), baseline.and_then(cold_ms)));
        for c in &columns {
            row.push((c.value)(v, baseline));
        }
        row.push(cell(peak_mb(v), baseline.and_then(peak_mb)));
        table.add_row(row);
    }
    table
}

/// What the load cells' marks mean: printed under a server run's table (a row of its own
/// would widen the first column to the whole sentence).
pub fn legend(results: &RunResults) -> Option<String> {
    if results.app_kind != AppKind::Server {
        return None;
    }
    let rounds = results.settings.rounds;
    let level = stats::interval_name(
        rounds,
        Some(stats::order_interval_coverage(
            rounds as usize,
            stats::median_interval_rank(rounds as usize).0,
        )),
    );
    let comparisons = controls::comparisons(results);
    let runtime_arms = match results.runtime_arms.first() {
        Some(_) => format!(
            "; a row \"under RUNTIME\": its variant under that OCI runtime, its ratios to the same variant under {}",
            results.environment.oci_runtime.as_deref().unwrap_or("the run's runtime")
        ),
        None => String::new(),
    };
    Some(format!(
        "load cells: median over {rounds} rounds ±(larger half of its {level}); (×paired ratio to the baseline [its {level}]); ≈ within noise: the interval includes 1, or the p-value adjusted over the run's {comparisons} comparisons (Holm) is above 5%; † load-generator-bound: that rps measures the load generator{runtime_arms}"
    ))
}

/// How the run's negative controls came out, one line each: the A/A arm, and every pair
/// of variants that ran the same binary.
pub fn control_line(results: &RunResults) -> Vec<String> {
    controls::outcomes(results)
        .iter()
        .map(crate::results::NegativeControl::line)
        .collect()
}

/// One column's cell for a variant, given the baseline.
type Metric = Box<dyn Fn(&VariantResult, Option<&VariantResult>) -> String>;

struct Column {
    title: String,
    value: Metric,
}

/// Servers: rps per endpoint at the highest concurrency, server CPU per request and p99 of
/// `/json` (or the last endpoint) there. Batch: MB/s at the lowest and highest thread counts.
fn metric_columns(results: &RunResults) -> Vec<Column> {
    let s = &results.settings;
    match results.app_kind {
        AppKind::Server => server_columns(results),
        AppKind::Batch => {
            let unit = results.throughput_unit();
            let mut threads: Vec<u32> = vec![
                *s.threads.iter().min().unwrap_or(&1),
                *s.threads.iter().max().unwrap_or(&1),
            ];
            threads.dedup();
            threads
                .into_iter()
                .map(|t| Column {
                    title: format!("{unit} @{t} threads"),
                    value: Box::new(move |v, b| {
                        let mb = |v: &VariantResult| {
                            v.crunch
                                .iter()
                                .find(|c| c.threads == t)
                                .map(|c| c.mb_per_s.median)
                        };
                        cell(mb(v), b.and_then(mb))
                    }),
                })
                .collect()
        }
    }
}

/// rps per endpoint at the highest concurrency, then server CPU per request and p99 of
/// `/json` (or the last endpoint) there.
fn server_columns(results: &RunResults) -> Vec<Column> {
    let s = &results.settings;
    let Some(&top) = s.concurrency.iter().max() else {
        return Vec::new();
    };
    let n = s.rounds;
    let mut columns: Vec<Column> = s
        .endpoints
        .iter()
        .map(|e| {
            let endpoint = e.clone();
            Column {
                title: format!("{e} rps @{top}, n={n}"),
                value: Box::new(move |v, b| load_cell(v, b, &endpoint, top, Figure::Rps)),
            }
        })
        .collect();
    let json = s.endpoints.iter().find(|e| *e == "/json");
    if let Some(e) = json.or(s.endpoints.last()).cloned() {
        let endpoint = e.clone();
        columns.push(Column {
            title: format!("{e} CPU µs/req @{top}, n={n}"),
            value: Box::new(move |v, b| load_cell(v, b, &endpoint, top, Figure::Cpu)),
        });
        columns.push(Column {
            title: format!("{e} p99 µs @{top}"),
            value: Box::new(move |v, b| {
                let p99 = |v: &VariantResult| load(v, &e, top).map(|l| l.latency_us.p99 as f64);
                cell(p99(v), b.and_then(p99))
            }),
        });
    }
    columns
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Figure {
    Rps,
    Cpu,
}

/// `19624 ±2.1% (×0.45 [0.43–0.47])`: the median over rounds with the larger half of its CI,
/// and the paired ratio to the baseline (`≈`: within noise), or the ratio of the medians
/// where the cell has no paired ratio.
fn load_cell(
    v: &VariantResult,
    baseline: Option<&VariantResult>,
    endpoint: &str,
    top: u32,
    figure: Figure,
) -> String {
    let summary = |v: &VariantResult| {
        let l = load(v, endpoint, top)?;
        match figure {
            Figure::Rps => Some(l.rps),
            Figure::Cpu => l.server_cpu_us_per_request,
        }
    };
    let Some(s) = summary(v) else {
        return "-".into();
    };
    let mut out = number(s.median);
    if s.n > 1 && s.median != 0.0 {
        let half = (s.median - s.median_ci_low).max(s.median_ci_high - s.median);
        out.push_str(&format!(" ±{:.1}%", half / s.median.abs() * 100.0));
    }
    let paired = load(v, endpoint, top)
        .and_then(|l| l.ratio_to_baseline.as_ref())
        .and_then(|r| match figure {
            Figure::Rps => Some(r.rps),
            Figure::Cpu => r.server_cpu_us_per_request,
        });
    match (paired, baseline.and_then(summary)) {
        (Some(r), _) if r.n > 1 => {
            let within = if r.beyond_noise() { "" } else { " ≈" };
            out.push_str(&format!(
                " (×{:.2} [{:.2}–{:.2}]{within})",
                r.median, r.ci_low, r.ci_high
            ));
        }
        (Some(r), _) => out.push_str(&format!(" (×{:.2})", r.median)),
        (None, Some(b)) if b.median > 0.0 => {
            out.push_str(&format!(" (×{:.2})", s.median / b.median));
        }
        _ => {}
    }
    if figure == Figure::Rps && load(v, endpoint, top).is_some_and(|l| l.bound == Bound::Loadgen) {
        out.push_str(" †");
    }
    out
}

fn load<'a>(
    v: &'a VariantResult,
    endpoint: &str,
    concurrency: u32,
) -> Option<&'a crate::results::LoadResult> {
    v.load
        .iter()
        .find(|l| l.endpoint == endpoint && l.concurrency == concurrency)
}

fn image_mb(v: &VariantResult) -> Option<f64> {
    v.build
        .as_ref()?
        .image
        .as_ref()
        .map(|i| i.image_bytes as f64 / 1e6)
}

fn cold_ms(v: &VariantResult) -> Option<f64> {
    v.cold_start.as_ref().map(|c| c.cold_start_ms.median)
}

fn peak_mb(v: &VariantResult) -> Option<f64> {
    v.peak_memory_bytes.map(|b| b as f64 / 1e6)
}

/// `value (×ratio)` against the baseline.
fn cell(value: Option<f64>, baseline: Option<f64>) -> String {
    match (value, baseline) {
        (None, _) => "-".into(),
        (Some(v), Some(b)) if b > 0.0 => format!("{} (×{:.2})", number(v), v / b),
        (Some(v), _) => number(v),
    }
}

fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn truncate(text: &str, max: usize) -> String {
    let flat = text.replace('\n', " ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_cells_show_their_noise_and_paired_ratio() {
        use crate::matrix::Variant;
        use crate::results::{BaselineRatios, Latency, LoadResult, Ratio, Summary};
        let summary = |median: f64, lo: f64, hi: f64| Summary {
            n: 5,
            min: lo,
            median,
            p5: lo,
            p95: hi,
            max: hi,
            median_ci_low: lo,
            median_ci_high: hi,
            median_ci_level: Some(0.9375),
        };
        let ratio = |median, ci_low, ci_high| Ratio {
            n: 5,
            median,
            ci_low,
            ci_high,
            level: Some(0.9375),
            p_value: Some(0.01),
            p_adjusted: Some(0.02),
        };
        let cell = LoadResult {
            endpoint: "/json".into(),
            concurrency: 64,
            rate_rps: None,
            duration_s: 2.0,
            requests: 1,
            errors: 0,
            non_2xx: 0,
            rps: summary(10_000.0, 9_800.0, 10_210.0),
            rps_samples: Vec::new(),
            server_cpu_us_per_request: Some(summary(50.0, 49.0, 51.0)),
            server_cpu_us_per_request_samples: Vec::new(),
            server_cpu_percent: None,
            server_cpu_method: None,
            latency_us: Latency {
                p50: 1,
                p90: 1,
                p99: 1,
                p999: 1,
                max: 1,
            },
            p99_us_samples: Vec::new(),
            loadgen_cpu_percent: 0.0,
            loadgen_bound: true,
            bound: Bound::Loadgen,
            rate_backlog: 0,
            abandoned: 0,
            drained: 0,
            censored: 0,
            ratio_to_baseline: Some(BaselineRatios {
                rps: ratio(0.45, 0.43, 0.47),
                server_cpu_us_per_request: Some(ratio(1.02, 0.97, 1.06)),
            }),
        };
        let mut v = VariantResult::new("musl-system-scratch".parse::<Variant>().unwrap());
        v.load.push(cell);
        assert_eq!(
            load_cell(&v, None, "/json", 64, Figure::Rps),
            "10000 ±2.1% (×0.45 [0.43–0.47]) †"
        );
        assert_eq!(
            load_cell(&v, None, "/json", 64, Figure::Cpu),
            "50.0 ±2.0% (×1.02 [0.97–1.06] ≈)"
        );
        assert_eq!(load_cell(&v, None, "/parse", 64, Figure::Rps), "-");
    }

    #[test]
    fn cells_show_the_ratio_to_the_baseline() {
        assert_eq!(cell(Some(50.0), Some(100.0)), "50.0 (×0.50)");
        assert_eq!(cell(Some(3.0), None), "3.00");
        assert_eq!(cell(None, Some(1.0)), "-");
    }
}

//! CSV, long form, for scripts and spreadsheets: a run's results one row per measured value,
//! a bench file one row per bench and variant.

use super::format::Exporter;
use crate::results::{BenchResults, RunResults, Summary};
use std::fmt::Write;

/// The header of the CSV export.
pub const CSV_HEADER: &str = "app,variant,status,metric,endpoint,concurrency,threads,value";

/// Every metric of every variant (and runtime arm) as
/// `app,variant,status,metric,endpoint,concurrency,threads,value`.
fn run_csv(results: &RunResults) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    // A runtime arm (`--oci-runtime A,B`) is its variant's name and runtime: `v@crun`.
    let arms = results.runtime_arms.iter().map(|r| {
        let runtime = r.oci_runtime.as_deref().unwrap_or("?");
        (r, format!("{}@{runtime}", r.variant))
    });
    let named = results.variants.iter().map(|v| (v, v.variant.to_string()));
    for (v, name) in named.chain(arms) {
        let status = if v.is_ok() { "ok" } else { "failed" };
        let mut row = |metric: &str,
                       endpoint: &str,
                       concurrency: Option<u32>,
                       threads: Option<u32>,
                       value: f64| {
            let c = concurrency.map_or(String::new(), |c| c.to_string());
            let t = threads.map_or(String::new(), |t| t.to_string());
            let _ = writeln!(
                out,
                "{},{name},{status},{metric},{endpoint},{c},{t},{value}",
                results.app
            );
        };
        if let Some(b) = &v.build {
            row("binary_bytes", "", None, None, b.binary_bytes as f64);
            // Labelled for what the call did (`compile_s_reused` is no build cost at all).
            let metric = match b.compile_kind {
                Some(kind) => format!("compile_s_{}", kind.name()),
                None => "compile_s".into(),
            };
            row(&metric, "", None, None, b.compile_s);
            if let Some(i) = &b.image {
                row("image_bytes", "", None, None, i.image_bytes as f64);
                row("image_build_s", "", None, None, i.image_build_s);
            }
        }
        if let Some(c) = &v.cold_start {
            summary_rows(&mut row, "cold_start_ms", ("", None), &c.cold_start_ms);
            if let Some(process) = &c.process_start_ms {
                summary_rows(&mut row, "process_start_ms", ("", None), process);
            }
        }
        for l in &v.load {
            let (e, c) = (l.endpoint.as_str(), Some(l.concurrency));
            summary_rows(&mut row, "rps", (e, c), &l.rps);
            if let Some(cpu) = &l.server_cpu_us_per_request {
                summary_rows(&mut row, "server_cpu_us_per_request", (e, c), cpu);
            }
            if let Some(ratio) = &l.ratio_to_baseline {
                row("rps_ratio_median", e, c, None, ratio.rps.median);
                row("rps_ratio_ci_low", e, c, None, ratio.rps.ci_low);
                row("rps_ratio_ci_high", e, c, None, ratio.rps.ci_high);
            }
            row("p50_us", e, c, None, l.latency_us.p50 as f64);
            row("p99_us", e, c, None, l.latency_us.p99 as f64);
            row("p999_us", e, c, None, l.latency_us.p999 as f64);
            row("errors", e, c, None, l.errors as f64);
            row("non_2xx", e, c, None, l.non_2xx as f64);
        }
        for c in &v.crunch {
            row(
                "mb_per_s_median",
                "",
                None,
                Some(c.threads),
                c.mb_per_s.median,
            );
        }
        if let Some(p) = v.peak_memory_bytes {
            row("peak_memory_bytes", "", None, None, p as f64);
        }
        if let Some(p) = v.container_peak_memory_bytes {
            row("container_peak_memory_bytes", "", None, None, p as f64);
        }
        if let Some(f) = &v.fresh_node {
            row(
                "fresh_node_compressed_bytes",
                "",
                None,
                None,
                f.compressed_bytes as f64,
            );
            row(
                "fresh_node_unpacked_bytes",
                "",
                None,
                None,
                f.unpacked_bytes as f64,
            );
            summary_rows(
                &mut row,
                "fresh_node_download_ms",
                ("", None),
                &f.download_ms,
            );
            summary_rows(&mut row, "fresh_node_unpack_ms", ("", None), &f.unpack_ms);
            summary_rows(&mut row, "fresh_node_start_ms", ("", None), &f.start_ms);
            summary_rows(
                &mut row,
                "fresh_node_first_response_ms",
                ("", None),
                &f.first_response_ms,
            );
            let (m100, m1g) = (
                f.modelled_first_response_100mbit_ms,
                f.modelled_first_response_1gbit_ms,
            );
            row(
                "fresh_node_modelled_first_response_100mbit_ms",
                "",
                None,
                None,
                m100,
            );
            row(
                "fresh_node_modelled_first_response_1gbit_ms",
                "",
                None,
                None,
                m1g,
            );
        }
    }
    out
}

fn summary_rows(
    row: &mut impl FnMut(&str, &str, Option<u32>, Option<u32>, f64),
    metric: &str,
    (endpoint, concurrency): (&str, Option<u32>),
    s: &Summary,
) {
    let values = [
        ("median", s.median),
        ("ci_low", s.median_ci_low),
        ("ci_high", s.median_ci_high),
        ("p95", s.p95),
        ("min", s.min),
        ("n", f64::from(s.n)),
    ];
    for (part, value) in values {
        row(
            &format!("{metric}_{part}"),
            endpoint,
            concurrency,
            None,
            value,
        );
    }
}
/// One line per bench and variant: the long form that spreadsheets and plotting tools want.
fn bench_csv(results: &BenchResults) -> String {
    let mut out = String::from(
        "bench,variant,mean_ns,mean_ci_low_ns,mean_ci_high_ns,throughput_unit,throughput_per_iteration,ratio_vs_baseline,significant,samples,ci_level,processes,ratio_ci_low,ratio_ci_high\n",
    );
    for row in &results.benches {
        let baseline = row.estimate(&results.baseline);
        let (unit, per_iteration) = row
            .throughput
            .as_ref()
            .map_or((String::new(), String::new()), |t| {
                (t.unit.clone(), t.per_iteration.to_string())
            });
        for e in &row.estimates {
            // The ratio as every reader of the file takes it (`measure::bench::ratio`); the
            // baseline's own row has 1 and no verdict.
            let ratio = crate::measure::bench::ratio(results, row, &e.variant);
            let own = baseline.is_some_and(|b| b.variant == e.variant);
            let text = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
            let r = if own {
                "1".into()
            } else {
                text(ratio.map(|r| r.value))
            };
            let sig = match ratio.and_then(|r| r.beyond) {
                Some(b) if !own => b.to_string(),
                _ => String::new(),
            };
            let samples = text(e.samples.map(|n| n as f64));
            let level = text(e.ci_level);
            let processes = match e.processes.len() {
                0 => String::new(),
                n => n.to_string(),
            };
            let ci = ratio.and_then(|r| r.ci).filter(|_| !own);
            let (low, high) = (text(ci.map(|c| c.0)), text(ci.map(|c| c.1)));
            out.push_str(&format!(
                "{},{},{},{},{},{unit},{per_iteration},{r},{sig},{samples},{level},{processes},{low},{high}\n",
                row.bench, e.variant, e.mean_ns, e.mean_ci_low_ns, e.mean_ci_high_ns
            ));
        }
    }
    out
}

/// The CSV format.
pub struct Csv;

impl Exporter<RunResults> for Csv {
    const EXTENSION: &'static str = "csv";

    fn render(results: &RunResults) -> String {
        run_csv(results)
    }
}

impl Exporter<BenchResults> for Csv {
    const EXTENSION: &'static str = "csv";

    fn render(results: &BenchResults) -> String {
        bench_csv(results)
    }
}

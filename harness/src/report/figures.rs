//! Turns a run (or the bench file) into the plots' data: which figures a section has, their
//! titles, and the points on them. `None` where the results lack what a figure needs.

use super::metrics::{bench_ratios, RunView};
use super::plots::{BenchRatioRow, ColdStartRow, LoadMetric, Panel, Point, Series, TradeoffPoint};
use super::plots::{
    BenchRatios, ColdStartBars, LoadLines, Palette, SizeBars, ThreadScaling, Tradeoff,
};
use crate::results::BenchResults;

pub fn image_size(view: &RunView, palette: &Palette) -> Option<SizeBars> {
    let bars: Vec<(String, f64)> = view
        .rows
        .iter()
        .filter_map(|r| Some((r.name.clone(), r.image_mb?)))
        .collect();
    (!bars.is_empty()).then(|| SizeBars {
        stem: format!("{}-image-size", view.slug),
        title: format!("Image size per variant ({})", view.results().app),
        subtitle: "as the Docker daemon reports it; 1 MB = 1,000,000 bytes".into(),
        x_desc: "image size (MB, log scale)".into(),
        unit: "MB",
        log: true,
        bars,
        palette: palette.clone(),
    })
}

pub fn peak_memory(view: &RunView, palette: &Palette) -> Option<SizeBars> {
    let bars: Vec<(String, f64)> = view
        .rows
        .iter()
        .filter_map(|r| Some((r.name.clone(), r.peak_memory_mb?)))
        .collect();
    let method = view
        .results()
        .variants
        .iter()
        .find_map(|v| v.memory_method.clone())
        .unwrap_or_else(|| "method not recorded".into());
    (!bars.is_empty()).then(|| SizeBars {
        stem: format!("{}-peak-memory", view.slug),
        title: format!("Peak memory per variant ({})", view.results().app),
        subtitle: format!("over the whole run; {method}; 1 MB = 1,000,000 bytes"),
        x_desc: "peak memory (MB)".into(),
        unit: "MB",
        log: false,
        bars,
        palette: palette.clone(),
    })
}

pub fn cold_start(view: &RunView) -> Option<ColdStartBars> {
    let rows: Vec<ColdStartRow> = view
        .rows
        .iter()
        .filter_map(|r| {
            let (p5, p95) = r.cold_start_range_ms?;
            Some(ColdStartRow {
                name: r.name.clone(),
                median_ms: r.cold_start_ms?.value,
                process_ms: r.process_start_ms?.value,
                p5_ms: p5,
                p95_ms: p95,
            })
        })
        .collect();
    let to = match view.results().app_kind {
        crate::results::AppKind::Server => "first good response",
        crate::results::AppKind::Batch => "exit",
    };
    (!rows.is_empty()).then(|| ColdStartBars {
        stem: format!("{}-cold-start", view.slug),
        title: format!("Cold start per variant ({})", view.results().app),
        subtitle: format!(
            "container create → {to}, {} runs each; runtime + exec share = a bare --version run in the same image",
            view.results().settings.runs
        ),
        rows,
    })
}

pub fn load_lines(view: &RunView, palette: &Palette, metric: LoadMetric) -> Option<LoadLines> {
    let results = view.results();
    let mut endpoints: Vec<String> = results.settings.endpoints.clone();
    for l in results.variants.iter().flat_map(|v| &v.load) {
        if !endpoints.contains(&l.endpoint) {
            endpoints.push(l.endpoint.clone());
        }
    }
    let panels: Vec<Panel> = endpoints
        .iter()
        .map(|endpoint| Panel {
            title: endpoint.clone(),
            series: results
                .variants
                .iter()
                .map(|v| {
                    let mut points: Vec<Point> = v
                        .load
                        .iter()
                        .filter(|l| &l.endpoint == endpoint)
                        .map(|l| Point {
                            x: f64::from(l.concurrency),
                            y: match metric {
                                LoadMetric::Rps => l.rps.median,
                                LoadMetric::P99Ms => l.latency_us.p99 as f64 / 1000.0,
                            },
                            ci: None,
                            hollow: l.loadgen_bound,
                        })
                        .collect();
                    points.sort_by(|a, b| a.x.total_cmp(&b.x));
                    Series {
                        name: v.variant.name(),
                        points,
                    }
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        })
        .filter(|p| !p.series.is_empty())
        .collect();
    let (what, stem) = match metric {
        LoadMetric::Rps => ("Throughput", "throughput"),
        LoadMetric::P99Ms => ("p99 latency", "p99-latency"),
    };
    (!panels.is_empty()).then(|| LoadLines {
        stem: format!("{}-{stem}", view.slug),
        title: format!("{what} vs concurrency ({})", results.app),
        subtitle: format!(
            "{} s window per point, closed loop; hollow points: the load generator was the bottleneck",
            crate::report::fmt::tick(results.settings.duration_s)
        ),
        metric,
        panels,
        palette: palette.clone(),
    })
}

pub fn thread_scaling(view: &RunView, palette: &Palette) -> Option<ThreadScaling> {
    let results = view.results();
    let series: Vec<Series> = results
        .variants
        .iter()
        .filter(|v| !v.crunch.is_empty())
        .map(|v| {
            let mut points: Vec<Point> = v
                .crunch
                .iter()
                .map(|c| Point {
                    x: f64::from(c.threads),
                    y: c.mb_per_s.median,
                    ci: Some((c.mb_per_s.median_ci_low, c.mb_per_s.median_ci_high)),
                    hollow: false,
                })
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series {
                name: v.variant.name(),
                points,
            }
        })
        .collect();
    (!series.is_empty()).then(|| ThreadScaling {
        stem: format!("{}-thread-scaling", view.slug),
        y_label: format!("throughput ({})", results.throughput_unit()),
        title: format!("Thread scaling of {}", results.app),
        subtitle: format!(
            "median of {} runs per point, whiskers: 95% CI of the median; {} MB dataset",
            results.settings.runs,
            crate::report::fmt::tick(results.settings.dataset_mb)
        ),
        series,
        palette: palette.clone(),
    })
}

pub fn tradeoff(view: &RunView) -> Option<Tradeoff> {
    let workload = view.workload.as_ref()?;
    let base = view.baseline_row().and_then(|b| b.alloc_heavy);
    let frontier: Vec<String> = view.frontier().iter().map(|r| r.name.clone()).collect();
    let points: Vec<TradeoffPoint> = view
        .rows
        .iter()
        .filter_map(|r| {
            let thr = r.alloc_heavy?.value;
            Some(TradeoffPoint {
                name: r.name.clone(),
                image_mb: r.image_mb?,
                y: base.map_or(thr, |b| thr / b.value),
                cold_start_ms: r.cold_start_ms.map(|c| c.value),
                frontier: frontier.contains(&r.name),
            })
        })
        .collect();
    let (y_desc, against) = match (&view.baseline, base) {
        (Some(name), Some(_)) => (
            format!("throughput relative to {name} (×)"),
            format!(", relative to {name}"),
        ),
        _ => (format!("throughput ({})", workload.unit), String::new()),
    };
    (!points.is_empty()).then(|| Tradeoff {
        stem: format!("{}-tradeoff", view.slug),
        title: format!(
            "The tradeoff: image size vs throughput ({})",
            view.results().app
        ),
        subtitle: format!("allocation-heavy workload: {}{against}", workload.label),
        y_desc,
        relative: base.is_some(),
        points,
    })
}

pub fn bench(bench: &BenchResults, palette: &Palette) -> Option<BenchRatios> {
    let variants: Vec<String> = bench
        .variants
        .iter()
        .filter(|v| **v != bench.baseline)
        .cloned()
        .collect();
    let mut rows: Vec<BenchRatioRow> = bench
        .benches
        .iter()
        .map(|b| BenchRatioRow {
            bench: b.bench.clone(),
            ratios: Vec::new(),
        })
        .collect();
    for variant in &variants {
        for (name, ratio) in bench_ratios(bench, variant) {
            if let Some(row) = rows.iter_mut().find(|r| r.bench == name) {
                row.ratios.push((variant.clone(), ratio));
            }
        }
    }
    rows.retain(|r| !r.ratios.is_empty());
    (!rows.is_empty()).then(|| BenchRatios {
        stem: "bench-ratios".into(),
        title: "Criterion benches: time relative to the baseline".into(),
        subtitle: format!(
            "mean time per iteration ÷ {}'s; whiskers from the 95% CIs of both means",
            bench.baseline
        ),
        baseline: bench.baseline.clone(),
        variants,
        rows,
        palette: palette.clone(),
    })
}

//! Turns a run (or the bench file) into the plots' data: which figures a section has, their
//! titles, and the points on them. `None` where the results lack what a figure needs.

use super::frontier::Axis;
use super::metrics::{bench_ratios, Estimate, RunView};
use super::plots::{BenchRatioRow, ColdStartRow, LoadMetric, Panel, Point, Series, TradeoffPoint};
use super::plots::{
    BenchRatios, ColdStartBars, LoadLines, Palette, SizeBars, ThreadScaling, Tradeoff,
};
use crate::results::{BenchResults, Bound, LoadResult};

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

/// The app process's peak per variant; in a file that records only the container's cgroup
/// figure, that one, said so in the title.
pub fn peak_memory(view: &RunView, palette: &Palette) -> Option<SizeBars> {
    let process = view.rows.iter().any(|r| r.peak_memory_mb.is_some());
    let bars: Vec<(String, f64)> = view
        .rows
        .iter()
        .filter_map(|r| {
            let mb = match process {
                true => r.peak_memory_mb,
                false => r.container_peak_memory_mb,
            };
            Some((r.name.clone(), mb?))
        })
        .collect();
    let (what, subtitle) = match process {
        true => (
            "App process peak memory",
            "the app process's own peak resident set (VmHWM, or the app's own report)",
        ),
        false => (
            "Container peak memory",
            "the container's cgroup figure: the app, the runtime's processes, kernel memory and page cache",
        ),
    };
    (!bars.is_empty()).then(|| SizeBars {
        stem: format!("{}-peak-memory", view.slug),
        title: format!("{what} per variant ({})", view.results().app),
        subtitle: format!("over the whole run; {subtitle}; 1 MB = 1,000,000 bytes"),
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
            "container create → {to}, {} runs each",
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
                        .filter_map(|l| load_point(l, metric))
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
        LoadMetric::CpuUsPerRequest => ("Server CPU per request", "cpu-per-request"),
        LoadMetric::P99Ms => ("p99 latency", "p99-latency"),
    };
    let window = crate::report::fmt::tick(results.settings.duration_s);
    let per_point = match results.schema_version {
        1 => format!("one {window} s window per point, no interval"),
        _ => format!(
            "median of {} rounds of {window} s windows per point, whiskers: {} of the median",
            results.settings.rounds,
            crate::report::fmt::interval_of(results, results.settings.rounds)
        ),
    };
    let tail = match metric {
        LoadMetric::Rps => "; hollow points: the load generator was the bottleneck",
        LoadMetric::CpuUsPerRequest => "; lower is better, whatever the load generator managed",
        LoadMetric::P99Ms => "; p99 of all rounds' requests merged",
    };
    (!panels.is_empty()).then(|| LoadLines {
        stem: format!("{}-{stem}", view.slug),
        title: format!("{what} vs concurrency ({})", results.app),
        subtitle: format!("{per_point}, closed loop{tail}"),
        metric,
        panels,
        palette: palette.clone(),
    })
}

/// One cell as a point of `metric`, with the CI of its median where there are rounds.
fn load_point(l: &LoadResult, metric: LoadMetric) -> Option<Point> {
    let (y, ci) = match metric {
        LoadMetric::Rps => {
            let e = Estimate::repeated(&l.rps);
            (e.value, e.ci)
        }
        LoadMetric::CpuUsPerRequest => {
            let e = Estimate::repeated(l.server_cpu_us_per_request.as_ref()?);
            (e.value, e.ci)
        }
        LoadMetric::P99Ms => (l.latency_us.p99 as f64 / 1000.0, None),
    };
    Some(Point {
        x: f64::from(l.concurrency),
        y,
        ci,
        hollow: metric == LoadMetric::Rps && l.bound == Bound::Loadgen,
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
            "median of {} runs per point, whiskers: {} of the median; {} MB dataset",
            results.settings.runs,
            crate::report::fmt::interval_of(results, results.settings.runs),
            crate::report::fmt::tick(results.settings.dataset_mb)
        ),
        series,
        palette: palette.clone(),
    })
}

/// What the tradeoff chart's whiskers are: the interval of the load rounds (servers) or of
/// the runs (batch).
fn tradeoff_interval(view: &RunView) -> String {
    let results = view.results();
    let n = match results.app_kind {
        crate::results::AppKind::Server => results.settings.rounds,
        crate::results::AppKind::Batch => results.settings.runs,
    };
    crate::report::fmt::interval_of(results, n)
}

/// The tradeoff of image size against `axis`, relative to the baseline where there is one;
/// `suffix` tells a second chart of the same run apart (`-rps`).
pub fn tradeoff(view: &RunView, axis: Axis, suffix: &str) -> Option<Tradeoff> {
    let workload = view.workload.as_ref()?;
    let base = view.baseline_row().and_then(|b| axis.of(b));
    let frontier: Vec<String> = view.frontier(axis).iter().map(|r| r.name.clone()).collect();
    let points: Vec<TradeoffPoint> = view
        .rows
        .iter()
        .filter_map(|r| {
            let m = axis.of(r)?;
            let y = match base {
                Some(b) => m.ratio_to(&b),
                None => m.own,
            };
            Some(TradeoffPoint {
                name: r.name.clone(),
                image_mb: r.image_mb?,
                y: y.value,
                ci: y.ci,
                cold_start_ms: r.cold_start_ms.map(|c| c.value),
                frontier: frontier.contains(&r.name),
            })
        })
        .collect();
    let (what, unit, better) = match axis {
        Axis::Throughput => ("throughput", workload.unit.as_str(), "higher is better"),
        Axis::CpuPerRequest => ("server CPU per request", "µs", "lower is better"),
    };
    let (y_desc, against) = match (&view.baseline, base) {
        (Some(name), Some(_)) => (
            format!("{what} relative to {name} (×)"),
            format!(", relative to {name}"),
        ),
        _ => (format!("{what} ({unit})"), String::new()),
    };
    (!points.is_empty()).then(|| Tradeoff {
        stem: format!("{}-tradeoff{suffix}", view.slug),
        title: format!(
            "The tradeoff: image size vs {what} ({})",
            view.results().app
        ),
        subtitle: format!(
            "allocation-heavy workload: {}{against}; {better}; whiskers: {}",
            workload.label,
            tradeoff_interval(view)
        ),
        y_desc,
        relative: base.is_some(),
        better: axis.better(),
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
        rows_are: ("bench".into(), "the time per iteration".into()),
        subtitle: match &bench.method {
            Some(m) => format!(
                "time per iteration ÷ {}'s, median over {} rounds of paired processes; whiskers: its {}",
                bench.baseline,
                m.repeats,
                crate::measure::stats::interval_name(
                    m.repeats,
                    Some(crate::measure::stats::median_interval_rank(m.repeats as usize).1)
                )
            ),
            None => format!(
                "mean time per iteration ÷ {}'s; whiskers from the 95% CIs of both means",
                bench.baseline
            ),
        },
        baseline: bench.baseline.clone(),
        variants,
        rows,
        palette: palette.clone(),
    })
}

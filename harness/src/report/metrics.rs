//! The numbers a report shows, derived from a results file: per-variant figures with their
//! noise, ratios to the baseline (paired per round where the file has them), the
//! allocation-heavy workload, and what peak memory figure a file holds.
//!
//! Plots, tables and the verdict all read these, so they cannot disagree. Nothing here draws
//! or formats text beyond the workload's label. Which variants form the frontier is
//! `frontier`'s; how two figures are told apart is `estimate`'s.

use super::load::RunFile;
use crate::matrix::BASELINE;
use crate::results::{AppKind, BenchResults, Bound, LoadResult, RunResults, Status, VariantResult};

pub use super::estimate::{Better, Estimate, Measured, Noise};

/// Bytes per MB: the report uses decimal megabytes throughout, as the Docker daemon does.
pub const BYTES_PER_MB: f64 = 1e6;

/// The workload the tradeoff and verdict call allocation-heavy, and its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// e.g. `GET /json at concurrency 64` or `json-cruncher at 4 threads`.
    pub label: String,
    /// `rps`, or the batch app's throughput unit (`MB/s` for json-cruncher).
    pub unit: String,
    /// The load cell (endpoint, concurrency) of a server app.
    pub cell: Option<(String, u32)>,
}

/// One variant's headline figures; `None` where the variant did not get that far.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRow {
    pub name: String,
    /// `(step, reason)` when the variant failed.
    pub failure: Option<(String, String)>,
    pub image_mb: Option<f64>,
    pub cold_start_ms: Option<Estimate>,
    /// The cold start with its ratio to the baseline paired by round (schema version 3).
    pub cold_start: Option<Measured>,
    /// p5 and p95 of the cold start.
    pub cold_start_range_ms: Option<(f64, f64)>,
    /// Create → first output of `--version`: its own figure, never a part of the cold start.
    pub process_start_ms: Option<Estimate>,
    /// Throughput on the allocation-heavy workload, in the workload's unit.
    pub alloc_heavy: Option<Measured>,
    /// Server CPU per request on the same load cell, µs (server apps, schema version 2).
    pub cpu_per_request: Option<Measured>,
    /// What limited that load cell.
    pub bound: Option<Bound>,
    /// The app process's own peak (VmHWM, or the app's own report).
    pub peak_memory_mb: Option<f64>,
    /// The container's cgroup peak: the app, the runtime's processes, kernel memory, page cache.
    pub container_peak_memory_mb: Option<f64>,
}

impl VariantRow {
    /// True when the load generator, not the server, limited the allocation-heavy cell.
    pub fn loadgen_bound(&self) -> bool {
        self.bound == Some(Bound::Loadgen)
    }
}

/// One run file, reduced to what the report shows.
#[derive(Debug, Clone)]
pub struct RunView<'a> {
    pub file: &'a RunFile,
    /// A short, unique name for this run in file names and anchors (`http`, `json`).
    pub slug: String,
    /// The baseline variant's name when the run has it with the figures needed.
    pub baseline: Option<String>,
    pub workload: Option<Workload>,
    pub rows: Vec<VariantRow>,
    /// The other runs of the same experiment, oldest first (see `load::experiment`).
    pub replicates: Vec<&'a RunFile>,
    /// Comparisons the report judges together (every file's paired ratios).
    pub comparisons: usize,
}

impl<'a> RunView<'a> {
    pub fn new(file: &'a RunFile, slug: String) -> Self {
        let results = &file.results;
        let workload = alloc_workload(results);
        let baseline = results
            .variants
            .iter()
            .find(|v| v.variant.name() == BASELINE)
            .map(|v| v.variant.name());
        let rows: Vec<VariantRow> = results
            .variants
            .iter()
            .map(|v| variant_row(results, baseline.as_deref(), workload.as_ref(), v))
            .collect();
        Self {
            file,
            slug,
            baseline,
            workload,
            rows,
            replicates: Vec::new(),
            comparisons: 0,
        }
    }

    pub fn results(&self) -> &RunResults {
        &self.file.results
    }

    /// Every run of this view's experiment, oldest first, this one last.
    pub fn experiment(&self) -> Vec<&RunResults> {
        super::replication::experiment(self.file, &self.replicates)
    }

    /// Whether two rows ran one binary (an A/A pair: never ranked against each other).
    pub fn same_binary(&self, a: &str, b: &str) -> bool {
        crate::measure::controls::same_binary(self.results(), a, b)
    }

    /// Whether the agent measured this run on its daemon's host.
    pub fn by_agent(&self) -> bool {
        self.results().settings.measured_by == "agent"
    }

    /// " on HOST" for a run the agent measured on a named daemon, else empty: runs on
    /// several hosts are told apart by it in headings and verdict titles.
    pub fn on_host(&self) -> String {
        match (&self.results().environment.docker_host, self.by_agent()) {
            (Some(host), true) => format!(" on {host}"),
            _ => String::new(),
        }
    }

    pub fn baseline_row(&self) -> Option<&VariantRow> {
        let name = self.baseline.as_ref()?;
        self.rows.iter().find(|r| &r.name == name)
    }

    /// One load figure of every variant's cell (`endpoint`, `concurrency`), see `load_figure`.
    pub fn load_figure(
        &self,
        v: &VariantResult,
        endpoint: &str,
        concurrency: u32,
        figure: LoadFigure,
    ) -> Option<Measured> {
        load_figure(
            self.results(),
            self.baseline.as_deref(),
            v,
            endpoint,
            concurrency,
            figure,
        )
    }
}

/// A figure a load cell carries over its rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFigure {
    Rps,
    /// Server CPU time per request, µs.
    CpuPerRequest,
}

impl LoadFigure {
    pub fn better(self) -> Better {
        match self {
            LoadFigure::Rps => Better::Higher,
            LoadFigure::CpuPerRequest => Better::Lower,
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            LoadFigure::Rps => "rps",
            LoadFigure::CpuPerRequest => "µs",
        }
    }

    fn own(self, cell: &LoadResult) -> Option<Estimate> {
        match self {
            LoadFigure::Rps => Some(Estimate::repeated(&cell.rps)),
            LoadFigure::CpuPerRequest => cell
                .server_cpu_us_per_request
                .as_ref()
                .map(Estimate::repeated),
        }
    }

    fn paired(self, cell: &LoadResult) -> Option<Estimate> {
        let ratios = cell.ratio_to_baseline.as_ref()?;
        match self {
            LoadFigure::Rps => Some(Estimate::paired(&ratios.rps)),
            LoadFigure::CpuPerRequest => ratios
                .server_cpu_us_per_request
                .as_ref()
                .map(Estimate::paired),
        }
    }
}

/// The cell (`endpoint`, `concurrency`) of `v`, if measured.
pub fn find_cell<'r>(
    v: &'r VariantResult,
    endpoint: &str,
    concurrency: u32,
) -> Option<&'r LoadResult> {
    v.load
        .iter()
        .find(|l| l.endpoint == endpoint && l.concurrency == concurrency)
}

/// `figure` of `v`'s cell: its median over rounds (with a CI from two rounds up) and its
/// per-round paired ratio to the baseline; for the baseline itself exactly 1, when the
/// other variants' same cell has paired ratios.
pub fn load_figure(
    results: &RunResults,
    baseline: Option<&str>,
    v: &VariantResult,
    endpoint: &str,
    concurrency: u32,
    figure: LoadFigure,
) -> Option<Measured> {
    let cell = find_cell(v, endpoint, concurrency)?;
    let own = figure.own(cell)?;
    // The A/A control is the baseline variant too, but its ratios are its own.
    let is_control = results.control.as_ref().is_some_and(|c| std::ptr::eq(c, v));
    let paired = if baseline == Some(v.variant.name().as_str()) && !is_control {
        let others_paired = results
            .variants
            .iter()
            .filter_map(|o| find_cell(o, endpoint, concurrency))
            .any(|c| figure.paired(c).is_some());
        others_paired.then(Estimate::one)
    } else {
        figure.paired(cell)
    };
    Some(Measured { own, paired })
}

/// `/json` at the highest concurrency (server apps), or the crunch at the most threads (batch).
fn alloc_workload(results: &RunResults) -> Option<Workload> {
    match results.app_kind {
        AppKind::Server => {
            let concurrency = json_loads(results).map(|l| l.concurrency).max()?;
            Some(Workload {
                label: format!("GET /json at concurrency {concurrency}"),
                unit: "rps".into(),
                cell: Some(("/json".into(), concurrency)),
            })
        }
        AppKind::Batch => {
            let threads = top_threads(results)?;
            Some(Workload {
                label: format!("{} at {threads} threads", results.app),
                unit: results.throughput_unit(),
                cell: None,
            })
        }
    }
}

fn top_threads(results: &RunResults) -> Option<u32> {
    results
        .variants
        .iter()
        .flat_map(|v| &v.crunch)
        .map(|c| c.threads)
        .max()
}

fn json_loads(results: &RunResults) -> impl Iterator<Item = &LoadResult> {
    results
        .variants
        .iter()
        .flat_map(|v| &v.load)
        .filter(|l| l.endpoint == "/json")
}

fn variant_row(
    results: &RunResults,
    baseline: Option<&str>,
    workload: Option<&Workload>,
    v: &VariantResult,
) -> VariantRow {
    let failure = match &v.status {
        Status::Ok => None,
        Status::Failed { step, reason, .. } => Some((step.clone(), reason.clone())),
    };
    let image_mb = v
        .build
        .as_ref()
        .and_then(|b| b.image.as_ref())
        .map(|i| i.image_bytes as f64 / BYTES_PER_MB);
    let cell = workload.and_then(|w| w.cell.clone());
    let figure = |f: LoadFigure| {
        let (endpoint, c) = cell.as_ref()?;
        load_figure(results, baseline, v, endpoint, *c, f)
    };
    let alloc_heavy = match results.app_kind {
        AppKind::Server => figure(LoadFigure::Rps),
        AppKind::Batch => {
            let top = top_threads(results);
            let ratio_at_top = |o: &VariantResult| {
                let c = o.crunch.iter().find(|c| Some(c.threads) == top)?;
                c.ratio_to_baseline
            };
            let crunch = v.crunch.iter().find(|c| Some(c.threads) == top);
            crunch.map(|c| Measured {
                own: Estimate::repeated(&c.mb_per_s),
                paired: paired_or_one(results, baseline, v, ratio_at_top),
            })
        }
    };
    let cold_start = v.cold_start.as_ref().map(|c| Measured {
        own: Estimate::repeated(&c.cold_start_ms),
        paired: paired_or_one(results, baseline, v, |o| {
            o.cold_start.as_ref().and_then(|c| c.ratio_to_baseline)
        }),
    });
    let (peak_memory_mb, container_peak_memory_mb) = peak_memory(v);
    VariantRow {
        name: v.variant.name(),
        failure,
        image_mb,
        cold_start_ms: v
            .cold_start
            .as_ref()
            .map(|c| Estimate::repeated(&c.cold_start_ms)),
        cold_start,
        cold_start_range_ms: v
            .cold_start
            .as_ref()
            .map(|c| (c.cold_start_ms.p5, c.cold_start_ms.p95)),
        process_start_ms: v
            .cold_start
            .as_ref()
            .and_then(|c| c.process_start_ms.as_ref())
            .map(Estimate::repeated),
        alloc_heavy,
        cpu_per_request: figure(LoadFigure::CpuPerRequest),
        bound: cell
            .as_ref()
            .and_then(|(e, c)| find_cell(v, e, *c))
            .map(|l| l.bound),
        peak_memory_mb,
        container_peak_memory_mb,
    }
}

/// `v`'s paired ratio as `ratio` reads it; for the baseline itself exactly 1, when another
/// variant has one (as `load_figure` does for load cells).
fn paired_or_one(
    results: &RunResults,
    baseline: Option<&str>,
    v: &VariantResult,
    ratio: impl Fn(&VariantResult) -> Option<crate::results::Ratio>,
) -> Option<Estimate> {
    if baseline == Some(v.variant.name().as_str()) {
        let others = results.variants.iter().any(|o| ratio(o).is_some());
        return others.then(Estimate::one);
    }
    ratio(v).map(|r| Estimate::paired(&r))
}

/// True when a peak-memory method names a cgroup figure: the container's, not the process's.
pub fn is_container_method(method: &str) -> bool {
    method.contains("cgroup")
}

/// The app process's peak and the container's, MB. Files written before the process figure
/// was recorded hold the container's cgroup figure in `peak_memory_bytes` (their method says
/// `cgroup`): that figure is the container's, so it is reported as such.
fn peak_memory(v: &VariantResult) -> (Option<f64>, Option<f64>) {
    let mb = |b: u64| b as f64 / BYTES_PER_MB;
    let container_in_process_field = v.memory_method.as_deref().is_some_and(is_container_method);
    if container_in_process_field {
        (
            None,
            v.container_peak_memory_bytes
                .or(v.peak_memory_bytes)
                .map(mb),
        )
    } else {
        (
            v.peak_memory_bytes.map(mb),
            v.container_peak_memory_bytes.map(mb),
        )
    }
}

/// Slugs for the run sections: the app name, with a counter when two runs share it.
pub fn slugs(runs: &[RunFile]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for run in runs {
        let base: String = run
            .results
            .app
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut slug = base.clone();
        let mut n = 2;
        while out.contains(&slug) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        out.push(slug);
    }
    out
}

/// Each bench's time for `variant` relative to the baseline, with its interval and verdict
/// as the file's schema gives them (`measure::bench::ratio`: over processes, or from two
/// criterion intervals; none with too few samples or processes); benches missing either
/// estimate are left out.
pub fn bench_ratios<'a>(bench: &'a BenchResults, variant: &str) -> Vec<(&'a str, Estimate)> {
    bench
        .benches
        .iter()
        .filter_map(|row| {
            let r = crate::measure::bench::ratio(bench, row, variant)?;
            Some((row.bench.as_str(), bench_estimate(&r)))
        })
        .collect()
}

/// A bench ratio as the report's `Estimate`.
pub fn bench_estimate(r: &crate::measure::bench::BenchRatio) -> Estimate {
    Estimate {
        value: r.value,
        ci: r.ci,
        level: r.level,
        beyond: r.beyond,
    }
}

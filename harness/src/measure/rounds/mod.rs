//! A load cell measured in rounds: the windows of one (request, concurrency) for one
//! variant, one per round, turned into the results record — summaries over rounds, server
//! CPU per request, the window's bottleneck, and ratios paired round by round with the
//! baseline's windows.
//!
//! Pure arithmetic over what was measured: this module starts nothing and reads nothing.

use crate::measure::loadgen::{self, LoadReport};
use crate::measure::stats;
use crate::results::{BaselineRatios, Bound, LoadResult};

/// The server counts as the bottleneck at or above this share of its CPUs.
pub const SERVER_BOUND_SHARE: f64 = 0.9;

/// What the server used during one load run (warm-up, window and drain).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerCpu {
    pub cpu_ns: u64,
    /// Wall time between the two readings, seconds.
    pub wall_s: f64,
    /// CPUs the server may use.
    pub cores: usize,
}

impl ServerCpu {
    /// As a share of one core (100 = one core busy).
    pub fn percent(&self) -> f64 {
        self.cpu_ns as f64 / 1e9 / self.wall_s.max(1e-9) * 100.0
    }
}

/// One round's window of a cell.
#[derive(Debug, Clone)]
pub struct Window {
    pub round: u32,
    pub report: LoadReport,
    /// The server's CPU over the load run, or why it could not be read.
    pub server_cpu: Result<ServerCpu, String>,
}

impl Window {
    /// µs of server CPU per request completed (all phases: the CPU reading spans them).
    pub fn server_cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.server_cpu.as_ref().ok()?;
        let completed = self.report.completed();
        (completed > 0).then(|| cpu.cpu_ns as f64 / 1e3 / completed as f64)
    }

    /// What limited this window: the side that reached its bound; if both did, the one
    /// closer to its limit.
    pub fn bound(&self) -> Bound {
        let loadgen_cores = self.report.loadgen_cpus.len().max(1) as f64;
        let loadgen = self.report.loadgen_cpu_percent / (100.0 * loadgen_cores);
        let server = self
            .server_cpu
            .as_ref()
            .map_or(0.0, |c| c.percent() / (100.0 * c.cores.max(1) as f64));
        match (self.report.loadgen_bound, server >= SERVER_BOUND_SHARE) {
            (true, true) if server >= loadgen => Bound::Server,
            (true, _) => Bound::Loadgen,
            (false, true) => Bound::Server,
            (false, false) => Bound::Neither,
        }
    }
}

/// The record of one cell from its windows (at least one), paired with the windows of the
/// same cell of the baseline's arms (none for the baseline itself; two, the baseline and
/// its A/A control, divide as their geometric mean round by round).
pub fn cell(windows: &[Window], baselines: &[&[Window]], cpu_method: &str) -> LoadResult {
    let first = &windows[0].report;
    let rps_samples: Vec<f64> = windows.iter().map(|w| w.report.rps).collect();
    let cpu_samples: Vec<f64> = windows
        .iter()
        .filter_map(Window::server_cpu_us_per_request)
        .collect();
    let cpu_percent: Vec<f64> = windows
        .iter()
        .filter_map(|w| w.server_cpu.as_ref().ok().map(ServerCpu::percent))
        .collect();
    let mut histogram = first.histogram.clone();
    for w in &windows[1..] {
        histogram
            .add(&w.report.histogram)
            .expect("every window's histogram has the same bounds");
    }
    let loadgen_cpu: Vec<f64> = windows
        .iter()
        .map(|w| w.report.loadgen_cpu_percent)
        .collect();
    let sum = |f: &dyn Fn(&LoadReport) -> u64| windows.iter().map(|w| f(&w.report)).sum::<u64>();
    let server_cpu_method = match windows.iter().find_map(|w| w.server_cpu.as_ref().err()) {
        Some(reason) if cpu_samples.is_empty() => format!("not available: {reason}"),
        Some(reason) => format!("{cpu_method} (some rounds not available: {reason})"),
        None => cpu_method.to_string(),
    };
    LoadResult {
        endpoint: first.endpoint.clone(),
        concurrency: first.concurrency,
        rate_rps: first.rate_rps,
        duration_s: first.duration_s,
        requests: sum(&|r| r.window.requests),
        errors: sum(&|r| r.errors()),
        non_2xx: sum(&|r| r.non_2xx()),
        rps: stats::summarize(&rps_samples).expect("a cell has at least one window"),
        rps_samples,
        server_cpu_us_per_request: stats::summarize(&cpu_samples),
        server_cpu_us_per_request_samples: cpu_samples,
        server_cpu_percent: stats::summarize(&cpu_percent),
        server_cpu_method: Some(server_cpu_method),
        latency_us: loadgen::latency_of(&histogram),
        p99_us_samples: windows
            .iter()
            .map(|w| w.report.latency_us.p99 as f64)
            .collect(),
        loadgen_cpu_percent: stats::summarize(&loadgen_cpu).map_or(0.0, |s| s.median),
        loadgen_bound: windows.iter().filter(|w| w.report.loadgen_bound).count() * 2
            > windows.len(),
        bound: most_frequent(windows.iter().map(Window::bound)),
        rate_backlog: sum(&|r| r.rate_backlog),
        abandoned: sum(&|r| r.abandoned),
        drained: sum(&|r| r.drain.requests),
        censored: sum(&|r| r.censored),
        ratio_to_baseline: (!baselines.is_empty())
            .then(|| ratios(windows, baselines))
            .flatten(),
    }
}

/// One figure of every window, tagged with its round.
type Figure = dyn Fn(&[Window]) -> Vec<(u32, f64)>;

/// Per-round paired ratios of `windows` to the baseline arms' windows.
fn ratios(windows: &[Window], baselines: &[&[Window]]) -> Option<BaselineRatios> {
    let rps =
        |ws: &[Window]| -> Vec<(u32, f64)> { ws.iter().map(|w| (w.round, w.report.rps)).collect() };
    let cpu = |ws: &[Window]| -> Vec<(u32, f64)> {
        ws.iter()
            .filter_map(|w| Some((w.round, w.server_cpu_us_per_request()?)))
            .collect()
    };
    let combined = |figure: &Figure| {
        let arms: Vec<Vec<(u32, f64)>> = baselines.iter().map(|b| figure(b)).collect();
        let arms: Vec<&[(u32, f64)]> = arms.iter().map(Vec::as_slice).collect();
        stats::combined_baseline(&arms)
    };
    Some(BaselineRatios {
        rps: stats::paired_ratio(&rps(windows), &combined(&rps))?,
        server_cpu_us_per_request: stats::paired_ratio(&cpu(windows), &combined(&cpu)),
    })
}

/// The most frequent bound; ties go to the server, then the load generator (the stronger
/// claim is the one that needs most rounds to agree).
fn most_frequent(bounds: impl Iterator<Item = Bound>) -> Bound {
    let mut counts = [0usize; 3];
    for b in bounds {
        counts[match b {
            Bound::Server => 0,
            Bound::Loadgen => 1,
            Bound::Neither => 2,
        }] += 1;
    }
    let max = *counts.iter().max().unwrap_or(&0);
    [Bound::Server, Bound::Loadgen, Bound::Neither]
        [counts.iter().position(|&c| c == max).unwrap_or(2)]
}

/// Whether every cell's rps interval is within `percent` of its median (half-width): the
/// `--target-ci` stopping rule.
pub fn precise_enough(cells: &[LoadResult], percent: f64) -> bool {
    cells.iter().all(|c| {
        let half = (c.rps.median_ci_high - c.rps.median_ci_low) / 2.0;
        c.rps.median > 0.0 && half / c.rps.median * 100.0 <= percent
    })
}

#[cfg(test)]
mod tests;

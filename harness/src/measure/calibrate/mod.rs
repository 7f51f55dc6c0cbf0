//! `harness calibrate`: how the built-in load generator compares with `wrk`, and what the
//! cold-start readiness probe itself costs.
//!
//! It starts the http-server natively, pinned to one CPU with one worker thread, times the
//! readiness probe against it from another CPU (`probe`), drives `/plaintext` with the
//! built-in load generator pinned to that other CPU, then with `wrk` (when installed) pinned
//! to the same CPU, and returns both rates. The server process is always killed, on success
//! and on error. This module returns data; `commands` prints.

mod probe;
mod server;
mod wrk;

use crate::measure::loadgen::{run_load_with, Client, Endpoint, LoadReport, LoadSpec};
use crate::runtime::pinning;
pub use probe::{ProbeCost, PROBES};
pub use server::ServerUse;
use server::{free_local_addr, ServerProcess};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
pub use wrk::{parse_wrk, WrkReport};

/// What to calibrate with.
#[derive(Debug, Clone)]
pub struct CalibrateSpec {
    pub concurrency: u32,
    pub warmup: Duration,
    pub duration: Duration,
    pub server_cpu: usize,
    pub loadgen_cpu: usize,
    /// Rounds of (built-in, wrk), interleaved so that drift on a shared machine hits both.
    pub rounds: u32,
    /// The built-in load generator's HTTP client.
    pub client: Client,
}

/// One round: the built-in load generator, then wrk, against the same server.
#[derive(Debug, Clone)]
pub struct Round {
    pub builtin: LoadReport,
    /// The server's CPU use while the built-in load generator ran (warm-up included).
    pub server_builtin: Option<ServerUse>,
    /// `None` when `wrk` is not installed.
    pub wrk: Option<WrkReport>,
    pub server_wrk: Option<ServerUse>,
    /// The measuring agent's load generator (in its container, same CPU), when asked for.
    pub agent: Option<LoadReport>,
}

/// Runs one load window elsewhere (the measuring agent), for `calibrate --agent`.
pub type OtherLoad<'a> = &'a dyn Fn(&LoadSpec) -> anyhow::Result<LoadReport>;

impl Round {
    /// built-in rps / wrk rps in this round.
    pub fn ratio(&self) -> Option<f64> {
        let wrk = self.wrk.as_ref().filter(|w| w.rps > 0.0)?;
        Some(self.builtin.rps / wrk.rps)
    }
}

/// Every round, the probe's cost, and the load on the machine when it began.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub rounds: Vec<Round>,
    /// The readiness probe timed against the server before the rounds.
    pub probe: ProbeCost,
    /// The 1-minute load average before the measurement (the machine may be shared).
    pub load_average: Option<f64>,
}

impl Calibration {
    /// The median over rounds of the built-in load generator's rps.
    pub fn builtin_rps(&self) -> f64 {
        median(self.rounds.iter().map(|r| r.builtin.rps))
    }

    /// The median over rounds of wrk's rps; `None` without wrk.
    pub fn wrk_rps(&self) -> Option<f64> {
        self.median_of(|r| r.wrk.as_ref().map(|w| w.rps))
    }

    /// median built-in rps / median wrk rps.
    pub fn ratio(&self) -> Option<f64> {
        self.wrk_rps()
            .filter(|&w| w > 0.0)
            .map(|w| self.builtin_rps() / w)
    }

    /// The median over rounds of the agent's rps; `None` when it was not measured.
    pub fn agent_rps(&self) -> Option<f64> {
        self.median_of(|r| r.agent.as_ref().map(|a| a.rps))
    }

    /// The median of `rps` over the rounds that have it; `None` when none has.
    fn median_of(&self, rps: impl Fn(&Round) -> Option<f64>) -> Option<f64> {
        let values: Vec<f64> = self.rounds.iter().filter_map(rps).collect();
        (!values.is_empty()).then(|| median(values.into_iter()))
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    crate::measure::stats::summarize(&values.collect::<Vec<_>>()).map_or(0.0, |s| s.median)
}

/// Checks the CPUs: two different ones, both allowed to this process.
pub fn check(spec: &CalibrateSpec) -> anyhow::Result<()> {
    if spec.server_cpu == spec.loadgen_cpu {
        return Err(crate::error::usage(format!(
            "--server-cpu and --loadgen-cpu are both {}: give two different CPUs",
            spec.server_cpu
        )));
    }
    let allowed = pinning::allowed_cpus();
    for cpu in [spec.server_cpu, spec.loadgen_cpu] {
        if !allowed.contains(&cpu) {
            return Err(crate::error::prerequisite(format!(
                "calibrate needs CPU {cpu}, but this process may use CPUs {} only: pick others with --server-cpu/--loadgen-cpu",
                pinning::cpu_list(&allowed)
            )));
        }
    }
    Ok(())
}

/// Runs rounds of the built-in load generator then wrk against one pinned server process;
/// `progress` hears about each round as it finishes.
pub fn calibrate(
    spec: &CalibrateSpec,
    server_binary: &Path,
    agent: Option<OtherLoad<'_>>,
    mut progress: impl FnMut(usize, &Round),
) -> anyhow::Result<Calibration> {
    check(spec)?;
    let load_average = load_average();
    let addr = free_local_addr()?;
    let mut server = ServerProcess::start(server_binary, addr, spec.server_cpu)?;
    server.wait_ready(addr)?;
    let closed = free_local_addr()?;
    let probe = probe::measure(addr, "/plaintext", closed, spec.loadgen_cpu)?;
    let mut rounds: Vec<Round> = Vec::new();
    for index in 0..spec.rounds as usize {
        // Once wrk is found missing, do not look for it again.
        let with_wrk = rounds.last().is_none_or(|r| r.wrk.is_some());
        let mut round = run_round(spec, addr, server.child.id(), with_wrk)?;
        if let Some(agent) = agent {
            round.agent = Some(agent(&plaintext_load(spec, addr))?);
        }
        progress(index, &round);
        rounds.push(round);
    }
    server.stop();
    Ok(Calibration {
        rounds,
        probe,
        load_average,
    })
}

/// The closed-loop `/plaintext` load every client of a round is given.
fn plaintext_load(spec: &CalibrateSpec, addr: SocketAddr) -> LoadSpec {
    LoadSpec {
        addr,
        endpoint: Endpoint::for_path("/plaintext").expect("a known endpoint"),
        concurrency: spec.concurrency,
        warmup: spec.warmup,
        duration: spec.duration,
        rate: None,
        cpus: Some(vec![spec.loadgen_cpu]),
    }
}

/// The built-in load generator, then wrk, each measured with the server's CPU use.
fn run_round(
    spec: &CalibrateSpec,
    addr: SocketAddr,
    pid: u32,
    with_wrk: bool,
) -> anyhow::Result<Round> {
    let load = plaintext_load(spec, addr);
    let (builtin, server_builtin) = ServerUse::measure(
        pid,
        || run_load_with(&load, spec.client),
        |r| r.as_ref().map_or(0, LoadReport::completed),
    );
    let (wrk, server_wrk) = if with_wrk {
        ServerUse::measure(
            pid,
            || wrk::run_wrk(addr, spec.loadgen_cpu, spec.concurrency, spec.duration),
            |w| {
                w.as_ref()
                    .ok()
                    .and_then(Option::as_ref)
                    .map_or(0, |w| w.requests)
            },
        )
    } else {
        (Ok(None), None)
    };
    Ok(Round {
        builtin: builtin?,
        server_builtin,
        wrk: wrk?,
        server_wrk,
        agent: None,
    })
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_cpu_twice_is_a_usage_error() {
        let spec = CalibrateSpec {
            concurrency: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            server_cpu: 0,
            loadgen_cpu: 0,
            rounds: 1,
            client: Client::Lean,
        };
        let e = check(&spec).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2, "{e}");
        let allowed = pinning::allowed_cpus();
        if allowed.len() >= 2 {
            let spec = CalibrateSpec {
                server_cpu: allowed[0],
                loadgen_cpu: allowed[1],
                ..spec.clone()
            };
            let missing = Path::new("/nonexistent/http-server");
            let e = calibrate(&spec, missing, None, |_, _| {})
                .unwrap_err()
                .to_string();
            assert!(e.contains("cannot start /nonexistent/http-server"), "{e}");
        }
        let far = CalibrateSpec {
            loadgen_cpu: 100_000,
            ..spec
        };
        assert_eq!(crate::error::exit_code(&check(&far).unwrap_err()), 3);
    }
}

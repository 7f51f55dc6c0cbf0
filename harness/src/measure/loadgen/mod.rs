//! The built-in HTTP load generator: keep-alive HTTP/1.1 connections on tokio, closed loop
//! or constant rate, on its own pinned tokio runtime, with every request accounted for.
//!
//! Two clients speak HTTP on the connections (`Client`): `lean` (the default: the request
//! encoded once, responses read with httparse and skipped, about 5k instructions per
//! request) and `hyper` (`hyper::client::conn::http1`, about 18k). A one-thread hyper server
//! costs about 7.5k, so only the lean client can saturate it from one core; `harness
//! calibrate` compares either with wrk.
//!
//! A run has three phases on one clock: warm-up, the measured window, and a drain in which
//! requests still in flight at the end of the window may finish (and are counted, but not
//! in the window's figures). No request is started after the window ends, and every
//! request started is counted exactly once: completed (by the phase it completed in), an
//! error, or abandoned at the drain deadline (also an error). So with no errors, the
//! completed requests of all phases equal what the server answered. Latencies, in µs in an
//! hdrhistogram (3 significant digits), are those of requests completed inside the window,
//! plus every request still unanswered at the window's end and (rate mode) every request
//! due but never sent, each censored at the window's end: recorded as `end - its start`
//! (wrk2's rule), a lower bound, so that a server that falls behind shows its worst
//! latencies instead of dropping them. This module does not start servers or decide CPU
//! placement.

mod conn;
mod endpoint;
mod http1;
mod hyper_client;
mod lane;
mod lean;
mod pacer;
mod timeline;

pub use endpoint::Endpoint;

use crate::results::Latency;
use crate::runtime::pinning;
use hyper::header::HeaderValue;
use lane::{Job, Tally};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use timeline::Timeline;

/// How long requests in flight at the end of the window may take to finish.
pub const DRAIN: Duration = Duration::from_secs(2);
/// The load generator counts as the bottleneck at or above this share of its CPUs.
pub const LOADGEN_BOUND_SHARE: f64 = 0.9;
/// The highest `--rate` accepted (requests/s).
pub const MAX_RATE: u64 = 10_000_000;
/// Under this share of its `--rate`, a window did not keep its rate (`rate_shortfall`).
pub const RATE_KEPT_SHARE: f64 = 0.95;
/// The seed of the `/parse` body, so every run posts the same bytes.
pub const PARSE_BODY_SEED: u64 = 42;
/// Records in the `/parse` body.
pub const PARSE_BODY_RECORDS: usize = 100;

/// Which HTTP/1.1 client implementation sends the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The request encoded once, written whole; responses read with `httparse` and skipped.
    /// About half the CPU per request of `Hyper`, which is what lets one core saturate a
    /// one-core server (see `harness calibrate`).
    Lean,
    /// `hyper::client::conn::http1`: the reference implementation.
    Hyper,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Lean => "lean",
            Client::Hyper => "hyper",
        }
    }
}

impl std::str::FromStr for Client {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lean" => Ok(Client::Lean),
            "hyper" => Ok(Client::Hyper),
            other => Err(format!("--client {other:?}: expected `lean` or `hyper`")),
        }
    }
}

/// The client `run_load` uses.
pub const DEFAULT_CLIENT: Client = Client::Lean;

/// What to load, how hard, for how long, and from which CPUs.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    pub endpoint: Endpoint,
    /// Open connections, each with one request in flight at a time.
    pub concurrency: u32,
    pub warmup: Duration,
    pub duration: Duration,
    /// Constant rate in requests/s over all connections; closed loop when absent.
    pub rate: Option<u64>,
    /// The CPUs the load generator's threads are pinned to (one worker thread each);
    /// unpinned, with one worker per allowed CPU, when absent.
    pub cpus: Option<Vec<usize>>,
}

/// Outcomes counted in one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PhaseCounts {
    /// Responses fully read, whatever their status.
    pub requests: u64,
    /// Of `requests`, those whose status was not the endpoint's `expect_status`.
    pub non_2xx: u64,
    /// Connection and I/O failures, timeouts included.
    pub errors: u64,
}

impl PhaseCounts {
    fn add(&mut self, other: PhaseCounts) {
        self.requests += other.requests;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
    }
}

/// Everything one load run counted (and what the agent sends back, as JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoadReport {
    pub endpoint: String,
    pub concurrency: u32,
    pub rate_rps: Option<u64>,
    pub warmup: PhaseCounts,
    /// The measured window: the figures below describe it.
    pub window: PhaseCounts,
    /// After the window: requests that were in flight at its end.
    pub drain: PhaseCounts,
    /// Requests still unanswered at the drain deadline (included in `drain.errors`).
    pub abandoned: u64,
    /// Rate mode: requests due by the schedule but never sent because every connection was
    /// busy (the server, or the load generator, could not keep the rate).
    pub rate_backlog: u64,
    /// Latencies recorded censored at the window's end (in `histogram`): the `rate_backlog`
    /// plus the requests in flight when the window ended.
    pub censored: u64,
    /// The window's length in seconds.
    pub duration_s: f64,
    /// `window.requests / duration_s`.
    pub rps: f64,
    pub latency_us: Latency,
    /// The window's latencies (µs), for merging a cell's rounds.
    #[serde(with = "histogram_pairs")]
    pub histogram: hdrhistogram::Histogram<u64>,
    /// CPUs the load generator ran on.
    pub loadgen_cpus: Vec<usize>,
    /// CPU the load generator's threads used during the window, as a share of one core.
    pub loadgen_cpu_percent: f64,
    /// CPU use reached `LOADGEN_BOUND_SHARE` of the CPUs it was given.
    pub loadgen_bound: bool,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
}

/// A latency histogram in JSON: every recorded bucket as (highest equivalent value µs,
/// count), rebuilt exactly (3 significant digits) on the other side.
mod histogram_pairs {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(u64, u64)> = h
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        use serde::de::Error;
        let pairs = Vec::<(u64, u64)>::deserialize(d)?;
        let mut h = Histogram::<u64>::new(3).map_err(D::Error::custom)?;
        for (value, count) in pairs {
            h.record_n(value, count).map_err(D::Error::custom)?;
        }
        Ok(h)
    }
}

impl LoadReport {
    /// Responses read in all phases: with no errors, exactly what the server answered.
    pub fn completed(&self) -> u64 {
        self.warmup.requests + self.window.requests + self.drain.requests
    }

    /// Errors of all phases: a failure during warm-up or drain is still reported.
    pub fn errors(&self) -> u64 {
        self.warmup.errors + self.window.errors + self.drain.errors
    }

    /// The load generator's CPU time per request completed in the window, in µs.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu_s = self.loadgen_cpu_percent / 100.0 * self.duration_s;
        (self.window.requests > 0).then(|| cpu_s * 1e6 / self.window.requests as f64)
    }

    /// Responses with an unexpected status, all phases.
    pub fn non_2xx(&self) -> u64 {
        self.warmup.non_2xx + self.window.non_2xx + self.drain.non_2xx
    }

    /// Rate mode: a warning when the window completed under `RATE_KEPT_SHARE` of the rate
    /// asked for, saying what was never sent or answered and that latencies are lower
    /// bounds; `None` when it kept the rate or ran closed loop.
    pub fn rate_shortfall(&self) -> Option<String> {
        let target = self.rate_rps.filter(|&r| r > 0)?;
        let share = self.rps / target as f64;
        (share < RATE_KEPT_SHARE).then(|| {
            format!(
                "{} at {} connections: {:.0} requests/s completed of the {target} asked for ({:.0}%): {} due were never sent and {} unanswered at the window's end ({} abandoned at the drain deadline); their latencies count up to the window's end, so the latency figures are lower bounds",
                self.endpoint,
                self.concurrency,
                self.rps,
                share * 100.0,
                self.rate_backlog,
                self.censored.saturating_sub(self.rate_backlog),
                self.abandoned,
            )
        })
    }
}

/// Runs one load window with `DEFAULT_CLIENT` and blocks until it is over (warm-up +
/// duration + at most `DRAIN`).
///
/// It builds its own multi-thread tokio runtime on a fresh thread, so it may be called from
/// any thread, inside another runtime or not (from async code, call it in `spawn_blocking`).
/// `run_load` on a blocking thread, for async callers.
pub async fn run_load_blocking(spec: LoadSpec) -> anyhow::Result<LoadReport> {
    tokio::task::spawn_blocking(move || run_load(&spec))
        .await
        .map_err(|_| anyhow::anyhow!("the load generator panicked"))?
}

pub fn run_load(spec: &LoadSpec) -> anyhow::Result<LoadReport> {
    run_load_with(spec, DEFAULT_CLIENT)
}

/// `run_load` with the given client implementation.
pub fn run_load_with(spec: &LoadSpec, client: Client) -> anyhow::Result<LoadReport> {
    check(spec)?;
    let spec = spec.clone();
    std::thread::Builder::new()
        .name("loadgen".into())
        .spawn(move || run_on_own_runtime(&spec, client))?
        .join()
        .map_err(|_| anyhow::anyhow!("the load generator thread panicked"))?
}

/// The most open connections a load window may use.
pub const MAX_CONCURRENCY: u32 = 4096;

fn check(spec: &LoadSpec) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_CONCURRENCY).contains(&spec.concurrency),
        "concurrency {} is out of range: expected 1 to {}",
        spec.concurrency,
        MAX_CONCURRENCY
    );
    anyhow::ensure!(
        !spec.duration.is_zero(),
        "the load window must be longer than 0s"
    );
    if let Some(rate) = spec.rate {
        anyhow::ensure!(
            (1..=MAX_RATE).contains(&rate),
            "rate {rate} requests/s is out of range: expected 1 to {MAX_RATE}"
        );
    }
    Ok(())
}

fn run_on_own_runtime(spec: &LoadSpec, client: Client) -> anyhow::Result<LoadReport> {
    // Threads inherit the affinity of the thread that starts them: pin this one first, and
    // the runtime's workers (and the pacer) are pinned too.
    let cpus = match &spec.cpus {
        Some(cpus) => {
            pinning::pin_current_thread(cpus)?;
            cpus.clone()
        }
        None => pinning::allowed_cpus(),
    };
    let tids = Arc::new(Mutex::new(vec![pinning::current_tid()]));
    let recorded = tids.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.len().max(1))
        .thread_name("loadgen-worker")
        .enable_all()
        .on_thread_start(move || {
            recorded
                .lock()
                .expect("tid list lock")
                .push(pinning::current_tid())
        })
        .build()?;
    let report = runtime.block_on(load(spec, client, &cpus, &tids));
    runtime.shutdown_background();
    report
}

async fn load(
    spec: &LoadSpec,
    client: Client,
    cpus: &[usize],
    tids: &Mutex<Vec<libc::pid_t>>,
) -> anyhow::Result<LoadReport> {
    let timeline = Timeline::new(Instant::now(), spec.warmup, spec.duration, DRAIN);
    let (pacer, pacer_thread) = match spec.rate {
        Some(rate) => {
            let (pacer, thread) = pacer::Pacer::start(timeline, rate)?;
            tids.lock().expect("tid list lock").push(thread.tid);
            (Some(pacer), Some(thread))
        }
        None => (None, None),
    };
    let host = spec.addr.to_string();
    let job = Arc::new(Job {
        addr: spec.addr,
        client,
        host: HeaderValue::from_str(&host)?,
        request_bytes: spec.endpoint.encode(&host),
        endpoint: spec.endpoint.clone(),
        timeline,
        pacer: pacer.clone(),
    });
    let tasks: Vec<_> = (0..spec.concurrency)
        .map(|_| tokio::spawn(conn::run_connection(job.clone())))
        .collect();

    tokio::time::sleep_until(timeline.warm_end.into()).await;
    let cpu_before = (Instant::now(), cpu_ns(tids));
    tokio::time::sleep_until(timeline.end.into()).await;
    let cpu_after = (Instant::now(), cpu_ns(tids));

    let mut tally = Tally::new();
    for task in tasks {
        // Every wait in a connection task is bounded by the drain deadline.
        tally.merge(task.await?);
    }
    let released = pacer_thread.map_or(0, pacer::PacerThread::join);
    let untaken = pacer.map_or(0, |p| {
        p.censor_untaken(released, timeline.end, &mut tally.histogram)
    });
    tally.censored += untaken;
    let backlog = untaken + tally.unsent_tickets;
    let cpu_s = cpu_after.1.saturating_sub(cpu_before.1) as f64 / 1e9;
    let cpu_window_s = (cpu_after.0 - cpu_before.0).as_secs_f64().max(1e-9);
    Ok(report(
        spec,
        &timeline,
        tally,
        backlog,
        cpus,
        cpu_s / cpu_window_s * 100.0,
    ))
}

/// CPU time used so far by the load generator's threads, in ns.
fn cpu_ns(tids: &Mutex<Vec<libc::pid_t>>) -> u64 {
    let tids = tids.lock().expect("tid list lock").clone();
    tids.into_iter().filter_map(pinning::thread_cpu_ns).sum()
}

fn report(
    spec: &LoadSpec,
    timeline: &Timeline,
    tally: Tally,
    rate_backlog: u64,
    cpus: &[usize],
    cpu_percent: f64,
) -> LoadReport {
    let duration_s = (timeline.end - timeline.warm_end).as_secs_f64();
    let latency_us = latency_of(&tally.histogram);
    LoadReport {
        endpoint: spec.endpoint.name.clone(),
        concurrency: spec.concurrency,
        rate_rps: spec.rate,
        warmup: tally.warmup,
        window: tally.window,
        drain: tally.drain,
        abandoned: tally.abandoned,
        rate_backlog,
        censored: tally.censored,
        duration_s,
        rps: tally.window.requests as f64 / duration_s,
        latency_us,
        histogram: tally.histogram,
        loadgen_cpus: cpus.to_vec(),
        loadgen_cpu_percent: cpu_percent,
        loadgen_bound: cpu_percent >= LOADGEN_BOUND_SHARE * 100.0 * cpus.len().max(1) as f64,
        first_error: tally.first_error,
    }
}

/// The latency quantiles of a histogram (all 0 when it is empty).
pub fn latency_of(h: &hdrhistogram::Histogram<u64>) -> Latency {
    let at = |q: f64| {
        if h.is_empty() {
            0
        } else {
            h.value_at_quantile(q)
        }
    };
    Latency {
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        p999: at(0.999),
        max: h.max(),
    }
}

#[cfg(test)]
mod tests;

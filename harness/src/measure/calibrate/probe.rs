//! What the cold-start readiness probe itself adds to a cold start.
//!
//! A cold start ends at the first `200` the probe sees, so it includes one successful probe
//! (`cold_start::probe`: connect, `GET`, read of the status line, on a fresh connection)
//! and, on average, half a polling gap: the server became ready at some moment of the gap
//! between two probes (a refused connect, then a `PROBE_INTERVAL` sleep on tokio's timer).
//! This module times each part against the calibrate server, which is already up, from one
//! thread pinned to the load generator's CPU, on a current-thread tokio runtime.

use crate::measure::cold_start::{probe, PROBE_INTERVAL};
use crate::measure::stats;
use crate::runtime::pinning;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Successful probes timed.
pub const PROBES: usize = 1000;
/// Refused probes and polling sleeps timed.
const GAPS: usize = 200;
/// The longest one timed step may take (as `wait_ready`'s per-probe timeout).
const STEP_TIMEOUT: Duration = Duration::from_secs(1);

/// The probe's cost, in µs.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeCost {
    /// Successful probes timed, and how many of the `PROBES` tries did not see a 200.
    pub probes: usize,
    pub failed: usize,
    pub median_us: f64,
    pub p95_us: f64,
    /// A probe to a port nothing listens on (the probes before a server is ready).
    pub refused_median_us: f64,
    /// What a `PROBE_INTERVAL` sleep really takes.
    pub sleep_median_us: f64,
}

impl ProbeCost {
    /// The polling gap: a refused probe then a sleep.
    pub fn gap_us(&self) -> f64 {
        self.refused_median_us + self.sleep_median_us
    }

    /// What the probe adds to a cold start on average: one successful probe and half a
    /// polling gap.
    pub fn added_us(&self) -> f64 {
        self.median_us + self.gap_us() / 2.0
    }
}

/// Times the probe against `addr` (serving `path` with a 200) and against `closed`, where
/// nothing listens, from a thread pinned to `cpu`.
pub fn measure(
    addr: SocketAddr,
    path: &str,
    closed: SocketAddr,
    cpu: usize,
) -> anyhow::Result<ProbeCost> {
    let path = path.to_string();
    std::thread::Builder::new()
        .name("probe-cost".into())
        .spawn(move || {
            pinning::pin_current_thread(&[cpu])?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(timed_probes(addr, &path, closed))
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("the probe-cost thread panicked"))?
}

async fn timed_probes(
    addr: SocketAddr,
    path: &str,
    closed: SocketAddr,
) -> anyhow::Result<ProbeCost> {
    let (mut ok, mut failed) = (Vec::with_capacity(PROBES), 0);
    for _ in 0..PROBES {
        match time(probe(addr, path)).await {
            (true, us) => ok.push(us),
            (false, _) => failed += 1,
        }
    }
    let mut refused = Vec::with_capacity(GAPS);
    let mut sleeps = Vec::with_capacity(GAPS);
    for _ in 0..GAPS {
        let (answered, us) = time(probe(closed, path)).await;
        anyhow::ensure!(
            !answered,
            "{closed} answered, but nothing should listen there"
        );
        refused.push(us);
        sleeps.push(time(tokio::time::sleep(PROBE_INTERVAL)).await.1);
    }
    let probes = stats::summarize(&ok)
        .ok_or_else(|| anyhow::anyhow!("none of {PROBES} probes of {addr}{path} saw a 200"))?;
    let median = |v: &[f64]| stats::summarize(v).map_or(0.0, |s| s.median);
    Ok(ProbeCost {
        probes: ok.len(),
        failed,
        median_us: probes.median,
        p95_us: probes.p95,
        refused_median_us: median(&refused),
        sleep_median_us: median(&sleeps),
    })
}

/// Runs `step` (bounded by `STEP_TIMEOUT`, a timeout counting as `Default`) and says how
/// long it took, in µs.
async fn time<T: Default>(step: impl Future<Output = T>) -> (T, f64) {
    let began = Instant::now();
    let out = tokio::time::timeout(STEP_TIMEOUT, step)
        .await
        .unwrap_or_default();
    (out, began.elapsed().as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_added_time_is_one_probe_and_half_a_gap() {
        let cost = ProbeCost {
            probes: 1000,
            failed: 0,
            median_us: 100.0,
            p95_us: 180.0,
            refused_median_us: 40.0,
            sleep_median_us: 1060.0,
        };
        assert_eq!(cost.gap_us(), 1100.0);
        assert_eq!(cost.added_us(), 650.0);
    }

    #[test]
    fn probes_of_a_live_server_are_timed_and_a_refused_port_is_not_a_success() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let closed = super::super::free_local_addr().unwrap();
        let cpu = pinning::allowed_cpus()[0];
        let cost = measure(addr, "/", closed, cpu).unwrap();
        assert_eq!((cost.probes, cost.failed), (PROBES, 0));
        assert!(
            0.0 < cost.median_us && cost.median_us <= cost.p95_us,
            "{cost:?}"
        );
        // tokio's timer has 1 ms ticks: a 1 ms sleep is never shorter.
        assert!(cost.sleep_median_us >= 1000.0, "{cost:?}");
        let e = measure(closed, "/", closed, cpu).unwrap_err().to_string();
        assert!(e.contains("none of 1000 probes"), "{e}");
    }
}

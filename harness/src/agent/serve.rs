//! The agent's side: `harness agent` reads requests from stdin, answers each on stdout as
//! soon as it is done (requests run concurrently), and exits when stdin closes.
//!
//! It runs as nobody in a scratch container with the host's network and pids and the host's
//! cgroups read-only under `HOST_CGROUP_ROOT`; every figure it sends is read there.

use super::wire::LoadReply;
use super::{Envelope, PeakReply, Reply, Request, HOST_CGROUP_ROOT};
use crate::measure::{cold_start, loadgen};
use crate::runtime::cgroup::{self, Cgroup, CpuMeter};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Serves requests until stdin closes.
pub fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Reply>();
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(reply) = rx.recv().await {
            let mut line = serde_json::to_vec(&reply).unwrap_or_default();
            line.push(b'\n');
            if out.write_all(&line).await.is_err() || out.flush().await.is_err() {
                break;
            }
        }
    });
    let tasks: Arc<Mutex<HashMap<u64, tokio::task::AbortHandle>>> = Arc::default();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let envelope: Envelope = match serde_json::from_str(&line) {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.send(Reply {
                    id: 0,
                    outcome: Err(format!("the agent cannot read {line:?}: {e}")),
                });
                continue;
            }
        };
        if let Request::Cancel { target } = envelope.request {
            if let Some(task) = tasks.lock().expect("not poisoned").remove(&target) {
                task.abort();
            }
            continue;
        }
        let (tx, done) = (tx.clone(), tasks.clone());
        let id = envelope.id;
        let task = tokio::spawn(async move {
            let arrived = Instant::now();
            let outcome = answer(envelope.request, arrived).await;
            done.lock().expect("not poisoned").remove(&id);
            let _ = tx.send(Reply { id, outcome });
        });
        tasks
            .lock()
            .expect("not poisoned")
            .insert(id, task.abort_handle());
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}

async fn answer(request: Request, arrived: Instant) -> Result<serde_json::Value, String> {
    let value = match request {
        Request::CpuModel => {
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let model = cpuinfo
                .lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map_or_else(String::new, |(_, v)| v.trim().to_string());
            serde_json::json!(model)
        }
        Request::FreePort => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let port = listener.local_addr().map_err(|e| e.to_string())?.port();
            serde_json::json!(port)
        }
        Request::WaitReady {
            addr,
            path,
            timeout_ms,
        } => serde_json::json!(wait_ready(addr, &path, arrived, timeout_ms).await?),
        Request::Cancel { .. } => serde_json::Value::Null,
        Request::Meter { pid, container } => {
            let meter = CpuMeter::Cgroup(container_cgroup(pid, &container)?);
            meter.read_ns()?;
            serde_json::json!(meter.method())
        }
        Request::Load { spec, server } => {
            let reply = tokio::task::spawn_blocking(move || load(&spec, server))
                .await
                .map_err(|e| e.to_string())??;
            serde_json::to_value(reply).map_err(|e| e.to_string())?
        }
        Request::Peak { pid, container } => {
            let reply = PeakReply {
                process: cgroup::process_peak(pid),
                container: container_cgroup(pid, &container).and_then(|c| c.memory_peak()),
            };
            serde_json::to_value(reply).map_err(|e| e.to_string())?
        }
    };
    Ok(value)
}

/// Probes until a 200 (the ms since `arrived`), or an error saying what the last probe got.
async fn wait_ready(
    addr: std::net::SocketAddr,
    path: &str,
    arrived: Instant,
    timeout_ms: u64,
) -> Result<f64, String> {
    let timeout = Duration::from_millis(timeout_ms);
    loop {
        let left = timeout.saturating_sub(arrived.elapsed());
        let last = tokio::time::timeout(
            Duration::from_secs(1).min(left.max(cold_start::PROBE_INTERVAL)),
            cold_start::probe_status(addr, path),
        )
        .await
        .unwrap_or(cold_start::Probe::NoAnswer);
        if last == cold_start::Probe::Status(200) {
            return Ok(arrived.elapsed().as_secs_f64() * 1e3);
        }
        if left.is_zero() {
            return Err(format!(
                "no 200 from {path} within {timeout:?} (last probe: {last:?})"
            ));
        }
        tokio::time::sleep(cold_start::PROBE_INTERVAL).await;
    }
}

/// The cgroup of `pid`, checked to be the container's (a recycled pid is not).
fn container_cgroup(pid: u32, container: &str) -> Result<Cgroup, String> {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if !text.contains(container) {
        return Err(format!(
            "pid {pid} is not in container {container}'s cgroup"
        ));
    }
    Cgroup::parse(&text, Path::new(HOST_CGROUP_ROOT))
}

fn load(spec: &super::wire::WireSpec, server: Option<(u32, String)>) -> Result<LoadReply, String> {
    let spec = spec.to_spec().map_err(|e| format!("{e:#}"))?;
    let meter = server.map(|(pid, container)| container_cgroup(pid, &container));
    let read = || match &meter {
        Some(Ok(c)) => c.cpu_usage_ns(),
        Some(Err(e)) => Err(e.clone()),
        None => Err("no server to read".into()),
    };
    let before = (Instant::now(), read());
    let report = loadgen::run_load(&spec).map_err(|e| format!("{e:#}"))?;
    let after = (Instant::now(), read());
    let server_cpu = match (before.1, after.1) {
        (Ok(a), Ok(b)) => Ok((b.saturating_sub(a), (after.0 - before.0).as_secs_f64())),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    Ok(LoadReply { report, server_cpu })
}

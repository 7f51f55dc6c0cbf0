//! Cold start: from the create call to the first good response (servers) or to the exit of
//! a minimal job (batch), and the bare process start (create → first output of `--version`)
//! in the same image.
//!
//! Readiness is a connect plus one `GET` on a fresh connection, retried at most every
//! millisecond, so the probe adds well under a millisecond to what it measures.

use crate::runtime::{Instance, InstanceFailed, Runtime, StartSpec};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The gap between readiness probes.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(1);
/// The longest one probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the probe asks the runtime whether the instance died.
const LIVENESS_INTERVAL: Duration = Duration::from_millis(200);

/// Why an instance never became ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("it exited before answering {path}")]
    Exited { path: String },
    #[error("no 200 from {path} within {timeout:?}")]
    Timeout { path: String, timeout: Duration },
    /// The runtime could not say whether the instance still runs: not the app's fault.
    #[error(transparent)]
    Runtime(anyhow::Error),
}

impl NotReady {
    /// The error to report: a runtime failure as itself (so the runner can see it ended
    /// the run), the app's failure with its last output.
    pub fn with_logs(self, logs: &str) -> anyhow::Error {
        match self {
            NotReady::Runtime(e) => e,
            other => InstanceFailed {
                reason: other.to_string(),
                logs: logs.to_string(),
            }
            .into(),
        }
    }
}

/// One request on a fresh connection: true on a `200`.
pub async fn probe(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => read += n,
        }
    }
    head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// Polls until `path` answers 200, the instance exits, or `timeout` passes.
pub async fn wait_ready<R: Runtime>(
    runtime: &R,
    instance: &Instance,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(), NotReady> {
    let start = Instant::now();
    let mut last_liveness = start;
    loop {
        // A server that accepts but never answers (hung, frozen) must not hang the run.
        let left = timeout.saturating_sub(start.elapsed()).max(PROBE_INTERVAL);
        if tokio::time::timeout(PROBE_TIMEOUT.min(left), probe(addr, path))
            .await
            .unwrap_or(false)
        {
            return Ok(());
        }
        if last_liveness.elapsed() >= LIVENESS_INTERVAL {
            last_liveness = Instant::now();
            if !runtime
                .is_running(instance)
                .await
                .map_err(NotReady::Runtime)?
            {
                return Err(NotReady::Exited { path: path.into() });
            }
        }
        if start.elapsed() >= timeout {
            return Err(NotReady::Timeout {
                path: path.into(),
                timeout,
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// One server cold start: start → first 200. Returns the milliseconds and the instance
/// (still running, for the caller to remove), or the reason with the instance's logs.
pub async fn server_once<R: Runtime>(
    runtime: &R,
    spec: &StartSpec,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    track: &dyn Fn(&Instance),
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let instance = runtime.start(spec).await?;
    track(&instance);
    let ready = wait_ready(runtime, &instance, addr, path, timeout).await;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    match ready {
        Ok(()) => Ok(ms),
        Err(e) => {
            let logs = runtime.logs(&instance, 20).await;
            Err(e.with_logs(&logs))
        }
    }
}

/// The bare process start: create → first output of a `--version` run. It stops at the
/// output, not the exit, so container teardown is not counted as start-up.
pub async fn process_start_once<R: Runtime>(
    runtime: &R,
    spec: &StartSpec,
    timeout: Duration,
    track: &(dyn Fn(&Instance) + Sync),
) -> anyhow::Result<f64> {
    let start = Instant::now();
    runtime.start_until_output(spec, timeout, track).await?;
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

/// One run to exit (a batch cold start): start → exit with status 0.
/// Returns the milliseconds and how it ended (its output, and peak memory if known).
pub async fn exit_once<R: Runtime>(
    runtime: &R,
    spec: &StartSpec,
    timeout: Duration,
    track: &dyn Fn(&Instance),
) -> anyhow::Result<(f64, crate::runtime::Exit)> {
    let start = Instant::now();
    let instance = runtime.start(spec).await?;
    track(&instance);
    let exit = runtime.wait(&instance, timeout).await?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        exit.code == 0,
        "exited with status {}: {}",
        exit.code,
        exit.stderr.trim()
    );
    Ok((ms, exit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn probe_sees_200_and_rejects_other_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(http_like_server(listener, 2));
        assert!(probe(addr, "/ok").await);
        assert!(!probe(addr, "/missing").await);
        server.await.unwrap();
        // Nothing listens now: a refused connect is "not ready", not an error.
        assert!(!probe(addr, "/ok").await);
    }

    #[tokio::test]
    async fn a_server_that_accepts_but_never_answers_times_out() {
        // Connections land in the listen backlog; nothing ever reads or answers them.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let runtime = crate::runtime::native::NativeRuntime::default();
        let instance = Instance {
            id: "not-a-child".into(),
            variant: "musl-system-scratch".parse().unwrap(),
        };
        let ready = tokio::time::timeout(
            Duration::from_secs(5),
            wait_ready(&runtime, &instance, addr, "/", Duration::from_millis(150)),
        )
        .await
        .expect("wait_ready gives up at its own timeout");
        assert!(matches!(ready, Err(NotReady::Timeout { .. })), "{ready:?}");
        drop(listener);
    }

    async fn http_like_server(listener: tokio::net::TcpListener, answers: usize) {
        for _ in 0..answers {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).await.unwrap();
            let ok = buf[..n].starts_with(b"GET /ok ");
            let status = if ok { "200 OK" } else { "404 Not Found" };
            s.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                .await
                .unwrap();
        }
    }
}

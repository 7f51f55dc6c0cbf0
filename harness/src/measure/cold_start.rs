//! Cold start: from the create call to the first good response (servers) or to the exit of
//! a minimal job (batch), and the bare process start (create → first output of `--version`)
//! in the same image.
//!
//! Readiness is a connect plus one `GET` on a fresh connection, retried at most every
//! millisecond, so the probe adds well under a millisecond to what it measures. A server
//! that is not ready in time gets a diagnosis: it exited (with its status), or it runs and
//! listens elsewhere (read from /proc, see `runtime::sockets`), or nowhere, or it listens
//! where it should and answers something else.

use crate::runtime::{
    sockets, EngineTimes, Instance, InstanceFailed, Liveness, Runtime, StartSpec,
};
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
    #[error("it exited{} before answering {path}", exit_status(*.code))]
    Exited { path: String, code: Option<i64> },
    /// `doing`: what the server was doing instead, when that could be found out.
    #[error("no 200 from {path} within {timeout:?}{}", if .doing.is_empty() { String::new() } else { format!(": {doing}") })]
    Timeout {
        path: String,
        timeout: Duration,
        doing: String,
    },
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

/// What one readiness probe got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Nothing accepted the connection.
    Refused,
    /// Connected, but no HTTP status line came back (in time).
    NoAnswer,
    /// An HTTP status.
    Status(u16),
}

/// One request on a fresh connection: true on a `200`.
pub async fn probe(addr: SocketAddr, path: &str) -> bool {
    probe_status(addr, path).await == Probe::Status(200)
}

/// One request on a fresh connection, and what came back.
pub async fn probe_status(addr: SocketAddr, path: &str) -> Probe {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return Probe::Refused;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return Probe::NoAnswer;
    }
    let mut head = [0u8; 12];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]).await {
            Ok(0) | Err(_) => return Probe::NoAnswer,
            Ok(n) => read += n,
        }
    }
    let status = std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok());
    match (head.starts_with(b"HTTP/1."), status) {
        (true, Some(status)) => Probe::Status(status),
        _ => Probe::NoAnswer,
    }
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
        let last = tokio::time::timeout(PROBE_TIMEOUT.min(left), probe_status(addr, path))
            .await
            .unwrap_or(Probe::NoAnswer);
        if last == Probe::Status(200) {
            return Ok(());
        }
        if last_liveness.elapsed() >= LIVENESS_INTERVAL {
            last_liveness = Instant::now();
            if !runtime
                .is_running(instance)
                .await
                .map_err(NotReady::Runtime)?
            {
                let code = match runtime.liveness(instance).await {
                    Liveness::Exited { code } => code,
                    _ => None,
                };
                return Err(NotReady::Exited {
                    path: path.into(),
                    code,
                });
            }
        }
        if start.elapsed() >= timeout {
            return Err(NotReady::Timeout {
                path: path.into(),
                timeout,
                doing: diagnose(runtime, instance, addr, path, last).await,
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// What a server that is not ready is doing instead; empty when that cannot be found out.
async fn diagnose<R: Runtime>(
    runtime: &R,
    instance: &Instance,
    addr: SocketAddr,
    path: &str,
    last: Probe,
) -> String {
    match runtime.liveness(instance).await {
        Liveness::Running { pid: Ok(pid) } => match sockets::listening(pid) {
            Ok(listening) => explain(&listening, addr, path, last),
            Err(why) => format!("it is running; where it listens is unknown: {why}"),
        },
        Liveness::Running { pid: Err(why) } => {
            format!("it is running; where it listens is unknown: {why}")
        }
        Liveness::Paused => "it is paused (its container is frozen)".into(),
        Liveness::Exited { code } => format!("it exited{}", exit_status(code)),
        Liveness::Unknown(_) => String::new(),
    }
}

/// What the addresses a running server listens on say about why `addr` got no 200.
pub fn explain(listening: &[SocketAddr], addr: SocketAddr, path: &str, last: Probe) -> String {
    let reaches = |a: &SocketAddr| {
        a.port() == addr.port()
            && match a.ip() {
                std::net::IpAddr::V4(ip) => ip.is_unspecified() || ip == addr.ip(),
                std::net::IpAddr::V6(ip) => {
                    ip.is_unspecified()
                        || ip.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
                }
            }
    };
    let list = |addrs: &[SocketAddr]| {
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if listening.iter().any(reaches) {
        return match last {
            Probe::Status(status) => format!(
                "it listens on {addr}, but GET {path} answered {status} (set `ready_path` to a path that answers 200)"
            ),
            Probe::NoAnswer => format!(
                "it listens on {addr} and accepts connections, but did not answer GET {path} within {PROBE_TIMEOUT:?}"
            ),
            Probe::Refused => format!("it listens on {addr}, but refused the probe's connections"),
        };
    }
    let same_port: Vec<SocketAddr> = listening
        .iter()
        .copied()
        .filter(|a| a.port() == addr.port())
        .collect();
    match (listening.first(), same_port.is_empty()) {
        (None, _) => "it is running but listens on no TCP port (is it waiting for input, or for a setting the harness does not pass? pass the port with `env` or `args`)".to_string(),
        (Some(_), false) => format!(
            "it listens on {}, which {addr} does not reach (bind 127.0.0.1 or 0.0.0.0)",
            list(&same_port)
        ),
        (Some(first), true) => format!(
            "it listens on {}, not on the port the harness gave it ({}) (set `port = {}`, or pass the port with `env` or `args`)",
            list(listening),
            addr.port(),
            first.port()
        ),
    }
}

/// ` (status N)`, or nothing when the status is unknown.
fn exit_status(code: Option<i64>) -> String {
    code.map_or_else(String::new, |c| format!(" (status {c})"))
}

/// One server cold start: start → first 200. Returns the milliseconds and the engine's
/// share of them (create, start) where the runtime tells (the instance is still running,
/// for the caller to remove), or the reason with the instance's logs.
pub async fn server_once<R: Runtime>(
    runtime: &R,
    spec: &StartSpec,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    track: &dyn Fn(&Instance),
) -> anyhow::Result<(f64, Option<EngineTimes>)> {
    let start = Instant::now();
    let instance = runtime.start(spec).await?;
    track(&instance);
    let ready = wait_ready(runtime, &instance, addr, path, timeout).await;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    match ready {
        Ok(()) => Ok((ms, instance.engine)),
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
            engine: None,
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

    #[test]
    fn a_server_not_ready_is_told_what_it_does_instead() {
        let given: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let at = |s: &str| -> SocketAddr { s.parse().unwrap() };
        let e = explain(&[at("127.0.0.1:8080")], given, "/", Probe::Refused);
        assert_eq!(
            e,
            "it listens on 127.0.0.1:8080, not on the port the harness gave it (4321) (set `port = 8080`, or pass the port with `env` or `args`)"
        );
        let e = explain(&[], given, "/", Probe::Refused);
        assert!(e.contains("listens on no TCP port"), "{e}");
        let e = explain(&[at("[::1]:4321")], given, "/", Probe::Refused);
        assert!(
            e.contains("[::1]:4321, which 127.0.0.1:4321 does not reach"),
            "{e}"
        );
        for reaching in ["0.0.0.0:4321", "127.0.0.1:4321", "[::]:4321"] {
            let e = explain(&[at(reaching)], given, "/health", Probe::Status(404));
            assert!(e.contains("GET /health answered 404"), "{reaching}: {e}");
        }
        let e = explain(&[at("0.0.0.0:4321")], given, "/", Probe::NoAnswer);
        assert!(e.contains("accepts connections, but did not answer"), "{e}");
        let exited = NotReady::Exited {
            path: "/".into(),
            code: Some(101),
        };
        assert_eq!(
            exited.to_string(),
            "it exited (status 101) before answering /"
        );
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

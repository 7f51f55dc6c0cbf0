//! The http-server child process `harness calibrate` measures against, and its CPU use.

use crate::runtime::pinning::{self, CpuSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How busy the server was while one load generator ran: the bottleneck has the higher share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerUse {
    /// As a share of one core (it has one thread and one CPU, so 100 is saturated).
    pub cpu_percent: f64,
    pub cpu_us_per_request: f64,
}

impl ServerUse {
    /// Runs `run` and measures process `pid`'s CPU use meanwhile, per request `run` reports.
    pub(super) fn measure<T>(
        pid: u32,
        run: impl FnOnce() -> T,
        requests: impl Fn(&T) -> u64,
    ) -> (T, Option<Self>) {
        let (began, before) = (Instant::now(), pinning::process_cpu_ns(pid));
        let out = run();
        let (elapsed, after) = (began.elapsed().as_secs_f64(), pinning::process_cpu_ns(pid));
        let used = match (before, after) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / 1e9),
            _ => None,
        };
        let n = requests(&out);
        let usage = used.filter(|_| n > 0).map(|cpu_s| ServerUse {
            cpu_percent: cpu_s / elapsed * 100.0,
            cpu_us_per_request: cpu_s * 1e6 / n as f64,
        });
        (out, usage)
    }
}

/// The child server; dropping it kills it, so no path leaves it running.
pub(super) struct ServerProcess {
    pub child: Child,
}

impl ServerProcess {
    pub fn start(binary: &Path, addr: SocketAddr, cpu: usize) -> anyhow::Result<ServerProcess> {
        let cpus = CpuSet::new(&[cpu])?;
        let mut command = Command::new(binary);
        command
            .args(["--addr", &addr.to_string(), "--threads", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: the closure only makes the sched_setaffinity syscall (async-signal-safe).
        unsafe { command.pre_exec(move || cpus.apply_to_current_thread()) };
        let child = command
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", binary.display()))?;
        Ok(ServerProcess { child })
    }

    /// Waits until `GET /plaintext` answers 200, or fails with the server's own words.
    pub fn wait_ready(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let began = Instant::now();
        while began.elapsed() < READY_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "the http-server exited before answering ({status}): {}",
                    self.stderr()
                );
            }
            if answers_plaintext(addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        anyhow::bail!(
            "the http-server did not answer GET /plaintext on {addr} within {READY_TIMEOUT:?}: {}",
            self.stderr()
        )
    }

    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut text);
        }
        text.trim().to_string()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn answers_plaintext(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /plaintext HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = Vec::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_end(&mut response).is_ok()
        && response.starts_with(b"HTTP/1.1 200")
}

/// A 127.0.0.1 port free right now (the OS picks it; the server binds it moments later).
pub(super) fn free_local_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

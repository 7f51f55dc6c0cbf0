//! Running `wrk` pinned to a CPU and reading its figures, for `harness calibrate`.

use crate::runtime::pinning::CpuSet;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What `wrk` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkReport {
    pub rps: f64,
    /// wrk's "Non-2xx or 3xx responses" count.
    pub non_2xx: u64,
    /// wrk's "Socket errors: …" line, when it printed one.
    pub socket_errors: Option<String>,
    /// wrk's whole duration, whole seconds (it takes no fractions).
    pub duration_s: u64,
    /// Requests wrk completed ("N requests in …").
    pub requests: u64,
    /// CPU seconds wrk used (user + system), from its rusage.
    pub cpu_s: Option<f64>,
}

impl WrkReport {
    /// wrk's CPU time per completed request, in µs.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu_s?;
        (self.requests > 0).then(|| cpu * 1e6 / self.requests as f64)
    }
}

/// Runs `wrk -t1 -cN -dDs` pinned to `cpu`; `None` when wrk is missing.
pub(super) fn run_wrk(
    addr: SocketAddr,
    cpu: usize,
    concurrency: u32,
    duration: Duration,
) -> anyhow::Result<Option<WrkReport>> {
    let cpus = CpuSet::new(&[cpu])?;
    let duration_s = duration.as_secs_f64().round().max(1.0) as u64;
    let mut command = Command::new("wrk");
    command.args([
        "-t1".to_string(),
        format!("-c{concurrency}"),
        format!("-d{duration_s}s"),
        format!("http://{addr}/plaintext"),
    ]);
    // SAFETY: the closure only makes the sched_setaffinity syscall (async-signal-safe).
    unsafe { command.pre_exec(move || cpus.apply_to_current_thread()) };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => anyhow::bail!("cannot run wrk: {e}"),
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_string(&mut stdout)?;
    }
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr)?;
    }
    let (status, cpu_s) = wait_with_cpu(&child)?;
    anyhow::ensure!(
        status == 0,
        "wrk failed (wait status {status}): {}{}",
        stdout.trim(),
        stderr.trim()
    );
    let mut report = parse_wrk(&stdout, duration_s).ok_or_else(|| {
        anyhow::anyhow!("wrk printed no \"Requests/sec:\" line: {}", stdout.trim())
    })?;
    report.cpu_s = Some(cpu_s);
    Ok(Some(report))
}

/// Reaps `child` and returns its wait status and the CPU seconds (user + system) it used.
fn wait_with_cpu(child: &Child) -> anyhow::Result<(i32, f64)> {
    let mut status = 0;
    // SAFETY: all zeroes is a valid rusage; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: `pid` is our unreaped child; the pointers are valid for the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(
        rc == pid,
        "cannot wait for wrk: {}",
        std::io::Error::last_os_error()
    );
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((status, seconds(usage.ru_utime) + seconds(usage.ru_stime)))
}

/// Reads `Requests/sec:`, `Non-2xx or 3xx responses:` and `Socket errors:` from wrk's output.
pub fn parse_wrk(output: &str, duration_s: u64) -> Option<WrkReport> {
    let value = |label: &str| {
        output
            .lines()
            .find_map(|line| line.trim().strip_prefix(label).map(str::trim))
    };
    Some(WrkReport {
        rps: value("Requests/sec:")?.parse().ok()?,
        non_2xx: value("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        socket_errors: value("Socket errors:").map(str::to_string),
        duration_s,
        requests: output
            .lines()
            .find_map(|line| line.trim().split_once(" requests in "))
            .and_then(|(n, _)| n.trim().parse().ok())
            .unwrap_or(0),
        cpu_s: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_parsed() {
        let out = "Running 5s test @ http://127.0.0.1:4000/plaintext\n  1 threads and 64 connections\n  \
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   501.10us  100.00us   4.00ms   90.00%\n  \
            612345 requests in 5.00s, 75.33MB read\n  Socket errors: connect 0, read 2, write 0, timeout 0\n  \
            Non-2xx or 3xx responses: 7\nRequests/sec: 122469.05\nTransfer/sec:     15.07MB\n";
        let w = parse_wrk(out, 5).unwrap();
        assert_eq!(w.rps, 122469.05);
        assert_eq!((w.non_2xx, w.requests), (7, 612345));
        assert_eq!(
            w.socket_errors.as_deref(),
            Some("connect 0, read 2, write 0, timeout 0")
        );
        assert!(parse_wrk("unable to connect to 127.0.0.1:1 Connection refused", 5).is_none());
    }
}

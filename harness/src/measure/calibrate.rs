//! `harness calibrate`: how the built-in load generator compares with `wrk`.
//!
//! It starts the http-server natively, pinned to one CPU with one worker thread, drives
//! `/plaintext` with the built-in load generator pinned to another CPU, then with `wrk` (when
//! installed) pinned to that same CPU, and returns both rates. The server process is
//! always killed, on success and on error. This module returns data; `commands` prints.

use crate::measure::loadgen::{run_load, Endpoint, LoadReport, LoadSpec};
use crate::measure::pinning::{self, CpuSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

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
}

impl CalibrateSpec {
    /// Checks the flags (durations, concurrency) and turns them into a spec.
    pub fn from_args(args: &crate::cli::CalibrateArgs) -> anyhow::Result<CalibrateSpec> {
        use crate::plan::{parse_duration, MAX_CONCURRENCY};
        if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) {
            return Err(crate::error::usage(format!(
                "--concurrency {}: expected 1 to {MAX_CONCURRENCY}",
                args.concurrency
            )));
        }
        if !(1..=100).contains(&args.rounds) {
            return Err(crate::error::usage(format!(
                "--rounds {}: expected 1 to 100",
                args.rounds
            )));
        }
        Ok(CalibrateSpec {
            concurrency: args.concurrency,
            warmup: parse_duration(&args.warmup, "--warmup", true)?,
            duration: parse_duration(&args.duration, "--duration", false)?,
            server_cpu: args.server_cpu,
            loadgen_cpu: args.loadgen_cpu,
            rounds: args.rounds,
        })
    }
}

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

/// One round: the built-in load generator, then wrk, against the same server.
#[derive(Debug, Clone)]
pub struct Round {
    pub builtin: LoadReport,
    /// `None` when `wrk` is not installed.
    pub wrk: Option<WrkReport>,
}

impl Round {
    /// built-in rps / wrk rps in this round.
    pub fn ratio(&self) -> Option<f64> {
        let wrk = self.wrk.as_ref().filter(|w| w.rps > 0.0)?;
        Some(self.builtin.rps / wrk.rps)
    }
}

/// Every round, and the load on the machine when it began.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub rounds: Vec<Round>,
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
        let rps: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|r| r.wrk.as_ref())
            .map(|w| w.rps)
            .collect();
        (!rps.is_empty()).then(|| median(rps.into_iter()))
    }

    /// median built-in rps / median wrk rps.
    pub fn ratio(&self) -> Option<f64> {
        self.wrk_rps()
            .filter(|&w| w > 0.0)
            .map(|w| self.builtin_rps() / w)
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    crate::measure::stats::summarize(&values.collect::<Vec<_>>()).map_or(0.0, |s| s.median)
}

/// The http-server binary to calibrate against, built with the `dist` profile.
pub fn server_binary() -> anyhow::Result<PathBuf> {
    let root = crate::app::workspace_root();
    let status = Command::new("cargo")
        .args(["build", "--profile", "dist", "-p", "http-server"])
        .current_dir(&root)
        .status()
        .map_err(|e| {
            crate::error::prerequisite(format!("cannot run cargo: {e} (install Rust with rustup)"))
        })?;
    anyhow::ensure!(
        status.success(),
        "`cargo build --profile dist -p http-server` failed ({status})"
    );
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("dist").join("http-server"))
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
    mut progress: impl FnMut(usize, &Round),
) -> anyhow::Result<Calibration> {
    check(spec)?;
    let load_average = load_average();
    let addr = free_local_addr()?;
    let mut server = ServerProcess::start(server_binary, addr, spec.server_cpu)?;
    server.wait_ready(addr)?;
    let mut rounds = Vec::new();
    let mut wrk_installed = true;
    for index in 0..spec.rounds as usize {
        let builtin = run_load(&LoadSpec {
            addr,
            endpoint: Endpoint::for_path("/plaintext").expect("a known endpoint"),
            concurrency: spec.concurrency,
            warmup: spec.warmup,
            duration: spec.duration,
            rate: None,
            cpus: Some(vec![spec.loadgen_cpu]),
        })?;
        let wrk = if wrk_installed {
            run_wrk(addr, spec)?
        } else {
            None
        };
        wrk_installed = wrk.is_some();
        let round = Round { builtin, wrk };
        progress(index, &round);
        rounds.push(round);
    }
    server.stop();
    Ok(Calibration {
        rounds,
        load_average,
    })
}

/// The child server; dropping it kills it, so no path leaves it running.
struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    fn start(binary: &Path, addr: SocketAddr, cpu: usize) -> anyhow::Result<ServerProcess> {
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
    fn wait_ready(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
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

    fn stop(&mut self) {
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
fn free_local_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Runs `wrk -t1 -cN -dDs` pinned to the load generator's CPU; `None` when wrk is missing.
fn run_wrk(addr: SocketAddr, spec: &CalibrateSpec) -> anyhow::Result<Option<WrkReport>> {
    let cpus = CpuSet::new(&[spec.loadgen_cpu])?;
    let duration_s = spec.duration.as_secs_f64().round().max(1.0) as u64;
    let mut command = Command::new("wrk");
    command.args([
        "-t1".to_string(),
        format!("-c{}", spec.concurrency),
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

    #[test]
    fn same_cpu_twice_is_a_usage_error() {
        let spec = CalibrateSpec {
            concurrency: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            server_cpu: 0,
            loadgen_cpu: 0,
            rounds: 1,
        };
        let e = check(&spec).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2, "{e}");
        let far = CalibrateSpec {
            loadgen_cpu: 100_000,
            ..spec
        };
        assert_eq!(crate::error::exit_code(&check(&far).unwrap_err()), 3);
    }
}

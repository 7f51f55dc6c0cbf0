//! The `perf` tool, run as a subprocess: whether it can sample here, `perf record` attached
//! to a process for a while, and `perf script` folded into stacks with inferno.
//!
//! perf is an external program like cargo; this module owns its command lines and the
//! reasons it cannot run, nothing about what is sampled or why.

use anyhow::Context;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Samples per second per CPU: odd, so the sampling does not beat with periodic work.
pub const FREQUENCY_HZ: u32 = 999;
/// How stacks are unwound: DWARF, from a copy of the user stack (8 KiB) per sample, since
/// the binaries are built without frame pointers, as measured.
pub const CALL_GRAPH: &str = "dwarf";

/// Where the sampling permission comes from.
const PARANOID: &str = "/proc/sys/kernel/perf_event_paranoid";

/// Why perf cannot sample here, as one line naming the cause and the fix; `None` when it
/// can (root, or `perf_event_paranoid` ≤ 1 for a native run of one's own processes).
pub fn permission_problem(native: bool) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return None;
    }
    let paranoid = paranoid_level();
    let allowed = native && paranoid.is_some_and(|p| p <= 1);
    (!allowed).then(|| {
        let level = paranoid.map_or("unreadable".to_string(), |p| p.to_string());
        if native {
            format!("perf may not sample here: kernel.perf_event_paranoid is {level} and this is not root (run as root, or `sudo sysctl kernel.perf_event_paranoid=1`)")
        } else {
            format!("perf may not sample containers here: their processes run as another user, which only root may sample (run `harness profile` as root, or use `--runtime native` with `sudo sysctl kernel.perf_event_paranoid=1`); kernel.perf_event_paranoid is {level}")
        }
    })
}

/// `kernel.perf_event_paranoid`, when readable.
pub fn paranoid_level() -> Option<i32> {
    std::fs::read_to_string(PARANOID).ok()?.trim().parse().ok()
}

/// `perf --version` (`perf version 6.1.192`), or why perf does not run.
pub fn version() -> Result<String, String> {
    let output = Command::new("perf")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("perf is not installed ({e}): on Debian `apt-get install linux-perf`, or `harness doctor --fix`"))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || !text.starts_with("perf version") {
        let err = String::from_utf8_lossy(&output.stderr);
        let line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "perf does not run here: {line} (on Debian `apt-get install linux-perf` installs the perf of this kernel series)"
        ));
    }
    Ok(text)
}

/// Checks that perf can record at all, by sampling `true` for a moment.
pub fn preflight(dir: &Path) -> Result<(), String> {
    let data = dir.join("preflight.data");
    let output = Command::new("perf")
        .args(["record", "-q", "-F", "99", "-g", "-o"])
        .arg(&data)
        .args(["--", "true"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run perf: {e}"))?;
    let _ = std::fs::remove_file(&data);
    if output.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&output.stderr);
    let line = err
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output");
    Err(format!("perf record failed: {line} (check `harness doctor`: perf_event_paranoid, and the perf of this kernel)"))
}

/// A running `perf record`, attached to one process and the threads it starts.
pub struct Recording {
    child: std::process::Child,
    pub data: PathBuf,
}

impl Recording {
    /// Starts sampling `pid` (its threads, and those it starts) into `data`.
    pub fn start(pid: u32, data: &Path) -> anyhow::Result<Recording> {
        let child = Command::new("perf")
            .args(["record", "-q", "-F", &FREQUENCY_HZ.to_string()])
            .args(["--call-graph", CALL_GRAPH, "-p", &pid.to_string(), "-o"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data.with_extension("log"))?)
            .process_group(0)
            .spawn()
            .context("cannot run perf record")?;
        Ok(Recording {
            child,
            data: data.to_path_buf(),
        })
    }

    /// Whether perf has written its header yet (it has attached).
    pub fn attached(&self) -> bool {
        std::fs::metadata(&self.data).is_ok_and(|m| m.len() > 0)
    }

    /// Stops sampling (SIGINT, as Ctrl-C would) and waits for perf to write its file.
    pub fn stop(self) -> anyhow::Result<PathBuf> {
        self.finish(Duration::ZERO)
    }

    /// Waits up to `grace` for perf to end by itself (its process exited: perf then
    /// finishes its file), then stops it like `stop`.
    pub fn finish(mut self, grace: Duration) -> anyhow::Result<PathBuf> {
        let deadline = std::time::Instant::now() + grace;
        while self.child.try_wait()?.is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.child.try_wait()?.is_none() {
            // SAFETY: kill only sends a signal to perf, our own child.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
            }
        }
        let status = self
            .child
            .wait()
            .context("waiting for perf record failed")?;
        let stderr = std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default();
        let written = std::fs::metadata(&self.data).is_ok_and(|m| m.len() > 0);
        anyhow::ensure!(
            // perf re-raises the SIGINT it was stopped with once its file is written.
            written && (status.success() || status.signal() == Some(libc::SIGINT)),
            "perf record failed ({status}): {}",
            stderr.trim()
        );
        Ok(self.data.clone())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `perf script` of `data`, binaries looked up under `symfs` (the container's files), folded
/// into stacks (`root;…;leaf COUNT` lines, kernel frames suffixed `_[k]`).
pub fn folded(data: &Path, symfs: Option<&Path>) -> anyhow::Result<String> {
    let mut command = Command::new("perf");
    command
        .args(["script", "-F", "comm,tid,time,event,ip,sym,dso", "-i"])
        .arg(data);
    if let Some(dir) = symfs {
        // --symfs would also move the kernel's symbols under `dir`: keep the host's.
        command
            .arg("--symfs")
            .arg(dir)
            .args(["--kallsyms", "/proc/kallsyms"]);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run perf script")?;
    anyhow::ensure!(
        output.status.success(),
        "perf script failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    fold(&output.stdout)
}

/// Folds `perf script` output with inferno (kernel frames annotated).
pub fn fold(script: &[u8]) -> anyhow::Result<String> {
    use inferno::collapse::Collapse;
    let mut options = inferno::collapse::perf::Options::default();
    options.annotate_kernel = true;
    options.nthreads = 1;
    let mut folder = inferno::collapse::perf::Folder::from(options);
    let mut out = Vec::new();
    folder
        .collapse(script, &mut out)
        .context("cannot fold perf script output")?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

//! The helper processes a fresh node needs (a throwaway `dockerd`, a local registry): spawned
//! in a process group of their own with their output in a log file, and stopped for good.
//!
//! Stopping is synchronous so that it also works from `Drop`, on success, failure and Ctrl-C
//! alike: SIGTERM, a bounded wait, SIGKILL if need be, then every mount left under the
//! temporary directory is detached and the directory removed. Nothing outside that
//! directory is touched.

use anyhow::Context;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every temporary directory of a fresh node starts with this, under the system temp dir.
pub const TEMP_PREFIX: &str = "glibc-vs-musl-fresh-";

/// A child process that owns a temporary directory; both go when it is stopped or dropped.
#[derive(Debug)]
pub struct Helper {
    child: Option<Child>,
    dir: PathBuf,
    log: PathBuf,
    /// Processes the child starts and leaves behind when killed (dockerd's containerd).
    orphan_pidfiles: Vec<PathBuf>,
}

/// A new temporary directory for a helper, e.g. `/tmp/glibc-vs-musl-fresh-dockerd-AbC123`.
pub fn temp_dir(kind: &str) -> anyhow::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{kind}-"))
        .tempdir()
        .context("cannot create a temporary directory for the fresh node")?;
    Ok(dir.keep())
}

impl Helper {
    /// Spawns `command` in its own process group (a terminal's Ctrl-C reaches the harness,
    /// which stops its helpers in order), logging to `dir/NAME.log`.
    pub fn spawn(name: &'static str, mut command: Command, dir: PathBuf) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let spawned = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                remove_tree(&dir);
                return Err(e).with_context(|| format!("cannot start {name}"));
            }
        };
        Ok(Self {
            child: Some(child),
            dir,
            log,
            orphan_pidfiles: Vec::new(),
        })
    }

    /// Processes to kill by pid file if the child had to be killed.
    pub fn also_kill(&mut self, pidfile: PathBuf) {
        self.orphan_pidfiles.push(pidfile);
    }

    /// `Some(status)` once the child has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last `lines` lines of the child's output, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops the child (SIGTERM, up to `grace`, then SIGKILL) and removes its directory.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(mut child) = self.child.take() {
            let killed = terminate(&mut child, grace);
            if killed {
                for pidfile in &self.orphan_pidfiles {
                    kill_pidfile(pidfile);
                }
            }
        }
        remove_tree(&self.dir);
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(20));
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL; true when it had to be killed.
fn terminate(child: &mut Child, grace: Duration) -> bool {
    if child.try_wait().ok().flatten().is_some() {
        return false;
    }
    // SAFETY: kill has no memory preconditions; the pid is our own, not yet reaped child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    true
}

fn kill_pidfile(pidfile: &Path) {
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    if let Some(pid) = pid.filter(|&p| p > 1) {
        // SAFETY: as above; a stale pid file at worst names a process that is gone.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Detaches every mount under `dir` (dockerd leaves its netns bind mount behind, and a
/// killed one its layer mounts), deepest first, then removes the directory.
pub fn remove_tree(dir: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts = mounts_under(&mountinfo, dir);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for mount in mounts {
        if let Ok(path) = std::ffi::CString::new(mount) {
            // SAFETY: path is a valid NUL-terminated string; MNT_DETACH only unlinks the mount.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
    }
    if dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            eprintln!("warning: cannot remove {}: {e}", dir.display());
        }
    }
}

/// The mount points in a `/proc/self/mountinfo` text that lie under `dir`.
pub fn mounts_under(mountinfo: &str, dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p.starts_with(&prefix))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_under_a_directory_are_found_and_others_are_not() {
        let info = "\
44 27 0:4 net:[4026531833] /tmp/glibc-vs-musl-fresh-dockerd-x/exec/netns/default rw - nsfs nsfs rw
45 27 0:50 / /tmp/glibc-vs-musl-fresh-dockerd-xy/data rw - ext4 /dev/vda rw
46 27 0:51 / /var/lib/docker rw - ext4 /dev/vda rw";
        let found = mounts_under(info, Path::new("/tmp/glibc-vs-musl-fresh-dockerd-x"));
        assert_eq!(
            found,
            ["/tmp/glibc-vs-musl-fresh-dockerd-x/exec/netns/default"]
        );
    }

    #[test]
    fn a_helper_is_stopped_and_its_directory_removed() {
        let dir = temp_dir("test").unwrap();
        let mut command = Command::new("sleep");
        command.arg("30");
        let mut helper = Helper::spawn("sleep", command, dir.clone()).unwrap();
        assert!(helper.exited().is_none());
        let started = Instant::now();
        helper.stop(Duration::from_secs(5));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "SIGTERM ends sleep"
        );
        assert!(!dir.exists());
    }
}

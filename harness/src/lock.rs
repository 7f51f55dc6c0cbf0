//! One run per daemon at a time: two runs on one Docker daemon would spoil each other's
//! numbers, so a run holds an exclusive `flock` on a file keyed by the daemon for its whole
//! life. The kernel releases it when the process exits, however it exits (SIGKILL too), so
//! a lock is never stale. The file holds the holder's run id and pid for the refusal message.
//!
//! This module owns the lock file and its key (the daemon's id and data root, or `native`,
//! per image namespace); `run` and `profile` take it unless `--allow-concurrent`.

use crate::error::prerequisite;
use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Takes the lock of `docker`'s daemon (or, for `None`, of native runs on this machine) in
/// this process's image namespace, for `run_id`.
pub async fn claim_daemon(
    docker: Option<&bollard::Docker>,
    run_id: &str,
) -> anyhow::Result<RunLock> {
    let (key, what) = match docker {
        Some(docker) => daemon_key(docker).await?,
        None => (
            "native".to_string(),
            "this machine (native runs)".to_string(),
        ),
    };
    // Another image namespace (a test suite's) has a lock of its own: its runs touch
    // nothing of this one's, and neither waits for the other.
    let namespace = crate::labels::image_namespace();
    let (key, what) = if namespace == crate::labels::IMAGE_NAMESPACE {
        (key, what)
    } else {
        (
            format!("{key} in namespace {namespace}"),
            format!("{what} in image namespace {namespace}"),
        )
    };
    acquire(&std::env::temp_dir(), &key, &what, run_id)
}

/// The daemon's own id and data root (the same daemon behind two sockets is one daemon;
/// daemons of one machine share an id, from its key file, but never a data root), else its
/// address.
async fn daemon_key(docker: &bollard::Docker) -> anyhow::Result<(String, String)> {
    use crate::runtime::{docker_client, retry};
    let host = docker_client::host();
    let info = retry::run_call("read the daemon's info", retry::Call::Read, || {
        docker.info()
    })
    .await?;
    let root = info.docker_root_dir.unwrap_or_default();
    let key = info
        .id
        .filter(|id| !id.is_empty())
        .map(|id| format!("{id}@{root}"))
        .unwrap_or(host.clone());
    Ok((
        format!("docker:{key}"),
        format!("the Docker daemon at {host}"),
    ))
}

/// A held lock; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

/// Where the lock for `key` lives: one file per daemon in the temp directory.
pub fn path_for(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("glibc-vs-musl-run-{:016x}.lock", fnv1a(key)))
}

/// Takes the lock for `key` (described to users as `what`), or fails at once with a
/// prerequisite error naming the run that holds it.
pub fn acquire(dir: &Path, key: &str, what: &str, run_id: &str) -> anyhow::Result<RunLock> {
    let path = path_for(dir, key);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the run lock {}", path.display()))?;
    // SAFETY: flock on a file descriptor we own; no memory is shared with the kernel.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(error).with_context(|| format!("cannot lock {}", path.display()));
        }
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(prerequisite(format!(
            "another harness run is using {what}: {} (lock {}); wait for it to finish, or pass --allow-concurrent to run anyway (each run's numbers will disturb the other's)",
            describe(&holder),
            path.display()
        )));
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "run_id={run_id}")?;
    writeln!(file, "pid={}", std::process::id())?;
    file.flush()?;
    Ok(RunLock { _file: file, path })
}

/// `run http-… (pid 123)` from the lock file's contents.
fn describe(holder: &str) -> String {
    let field = |name: &str| {
        holder
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    match (field("run_id"), field("pid")) {
        (Some(run), Some(pid)) => format!("run {run} (pid {pid})"),
        _ => "a run that is still starting".to_string(),
    }
}

/// FNV-1a: a stable file name for any key, whatever characters it holds.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_runs_name() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "daemon-a", "the daemon", "http-1").unwrap();
        let e = acquire(dir.path(), "daemon-a", "the daemon", "http-2").unwrap_err();
        let line = e.to_string();
        assert!(
            line.contains(&format!("run http-1 (pid {})", std::process::id())),
            "{line}"
        );
        assert!(line.contains("--allow-concurrent"), "{line}");
        assert_eq!(crate::exit_code(&e), 3);
        // Another daemon has its own lock; releasing the first frees the key.
        let other = acquire(dir.path(), "daemon-b", "the daemon", "http-3").unwrap();
        drop(first);
        let again = acquire(dir.path(), "daemon-a", "the daemon", "http-4").unwrap();
        let text = std::fs::read_to_string(&again.path).unwrap();
        assert!(text.starts_with("run_id=http-4\n"), "{text}");
        drop(other);
    }

    #[test]
    fn lock_names_are_stable_and_distinct() {
        let dir = Path::new("/tmp");
        assert_eq!(path_for(dir, "x"), path_for(dir, "x"));
        assert_ne!(path_for(dir, "x"), path_for(dir, "y"));
        assert_eq!(describe(""), "a run that is still starting");
    }
}

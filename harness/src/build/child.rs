//! Cargo child processes that die with the future waiting for them: each runs in a process
//! group of its own, killed (the whole group) when the future is dropped.

use anyhow::Context;
use std::process::{Command, Stdio};

/// Runs a cargo `command` (stderr captured, and stdout unless the caller set it) in a
/// process group of its own that is killed when the future is dropped.
pub async fn output_cancellable(command: Command) -> anyhow::Result<std::process::Output> {
    let mut command = tokio::process::Command::from(command);
    command
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = command
        .spawn()
        .context("cannot run cargo: is it on PATH?")?;
    let group = KillGroup(child.id());
    let output = child
        .wait_with_output()
        .await
        .context("waiting for cargo failed")?;
    std::mem::forget(group);
    Ok(output)
}

/// Kills a process group when dropped (the future running cargo was cancelled).
struct KillGroup(Option<u32>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: killpg only sends a signal; the group is cargo's own (process_group(0)).
            unsafe {
                libc::killpg(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

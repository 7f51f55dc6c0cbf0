//! One cargo build, timed as a team pays for it: wall time, CPU time (user + system of cargo
//! and of every process it waited for: rustc, build scripts, the C compiler, the linker),
//! how many units cargo compiled, and when the last unit that is not the app's own finished
//! (the split into dependencies and the app).
//!
//! cargo's JSON messages are read as they come, each stamped on arrival; the CPU time is the
//! child's own `wait4` resource usage, so nothing else the harness does is counted.

use super::Compile;
use anyhow::Context;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Runs `command` (a cargo build) to its end and times it; `app_manifest` is the app's own
/// Cargo.toml, whose units are the app's (every other compiled unit is a dependency).
pub fn run(mut command: Command, app_manifest: &Path) -> anyhow::Result<Compile> {
    command
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command
        .spawn()
        .context("cannot run cargo: is it on PATH?")?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut text);
        text
    });
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut units = 0u32;
    let mut deps_done = 0.0f64;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let at = start.elapsed().as_secs_f64();
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["fresh"] == true {
            continue;
        }
        units += 1;
        let manifest = message["manifest_path"].as_str().map(Path::new);
        if manifest != Some(app_manifest) {
            deps_done = at;
        }
    }
    let (status, cpu_s) = wait(child.id())?;
    let wall_s = start.elapsed().as_secs_f64();
    let stderr = stderr.join().unwrap_or_default();
    anyhow::ensure!(
        status == 0,
        "cargo failed (exit status {status}): {}",
        last_lines(&stderr, 4)
    );
    Ok(Compile {
        wall_s,
        cpu_s,
        deps_wall_s: deps_done,
        units,
    })
}

/// Waits for `pid`; its exit status and the user + system CPU seconds of it and every
/// process it waited for.
fn wait(pid: u32) -> anyhow::Result<(i32, f64)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child's pid, with pointers to locals that outlive it.
        let got = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if got == pid as libc::pid_t {
            break;
        }
        let error = std::io::Error::last_os_error();
        anyhow::ensure!(
            error.kind() == std::io::ErrorKind::Interrupted,
            "waiting for cargo failed: {error}"
        );
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, cpu))
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

//! The native runtime: the same binaries as plain child processes, pinned with
//! sched_setaffinity. Used with `--runtime native` and where no Docker daemon answers.
//!
//! Peak memory is the process's VmHWM (peak resident set) from /proc while it runs; there is
//! no image, so image size and the container runtime's share of cold start are absent.

use super::sampler::{Sampler, Target};
use super::{cgroup, Exit, Instance, Liveness, PeakMemory, Runtime, StartSpec};
use crate::runtime::pinning::CpuSet;
use anyhow::Context;
use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;
use tokio::process::{Child, Command};

#[derive(Default)]
pub struct NativeRuntime {
    children: Mutex<HashMap<String, Child>>,
    /// Each child's executable, opened through `/proc/<pid>/exe` right after the exec: the
    /// file it really runs, readable even after it exits.
    executables: Mutex<HashMap<String, std::fs::File>>,
}

/// Parses a cpuset list (`0`, `0-3`, `0,2`) into CPU numbers.
pub fn parse_cpus(list: &str) -> anyhow::Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.parse()?, b.parse()?);
        anyhow::ensure!(a <= b && b < 1024, "bad cpu range {part:?}");
        cpus.extend(a..=b);
    }
    anyhow::ensure!(!cpus.is_empty(), "empty cpu list");
    Ok(cpus)
}

impl NativeRuntime {
    fn take(&self, id: &str) -> Option<Child> {
        self.children.lock().expect("not poisoned").remove(id)
    }
}

impl Runtime for NativeRuntime {
    fn name(&self) -> &'static str {
        "native"
    }

    async fn start(&self, spec: &StartSpec) -> anyhow::Result<Instance> {
        anyhow::ensure!(
            spec.wrap.is_none(),
            "the native runtime cannot run an app under a wrapper (the check runs in images)"
        );
        let cpu_set = CpuSet::new(&parse_cpus(&spec.cpus)?)?;
        let mut command = Command::new(&spec.binary);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: applying a prepared CpuSet is one syscall: async-signal-safe.
        unsafe {
            command
                .as_std_mut()
                .pre_exec(move || cpu_set.apply_to_current_thread());
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", spec.binary.display()))?;
        let id = child
            .id()
            .context("the child exited before it could be tracked")?
            .to_string();
        // spawn returns once the exec succeeded, so this is the new program, not the fork.
        // A job that already exited leaves nothing to open: it is then not read back.
        if let Ok(exe) = std::fs::File::open(format!("/proc/{id}/exe")) {
            self.executables
                .lock()
                .expect("not poisoned")
                .insert(id.clone(), exe);
        }
        self.children
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), child);
        Ok(Instance {
            id,
            variant: spec.variant,
            engine: None,
        })
    }

    async fn start_until_output(
        &self,
        spec: &StartSpec,
        timeout: Duration,
        track: &(dyn Fn(&Instance) + Sync),
    ) -> anyhow::Result<String> {
        let instance = self.start(spec).await?;
        track(&instance);
        let stdout = {
            let mut children = self.children.lock().expect("not poisoned");
            children.get_mut(&instance.id).and_then(|c| c.stdout.take())
        };
        let mut stdout = stdout.context("the child has no stdout")?;
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(
            timeout,
            tokio::io::AsyncReadExt::read(&mut stdout, &mut buf),
        )
        .await
        {
            Ok(Ok(n)) if n > 0 => Ok(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Ok(Ok(_)) => anyhow::bail!("{} exited without output", spec.variant),
            Ok(Err(e)) => Err(e).context("reading the child's output failed"),
            Err(_) => anyhow::bail!("{} wrote nothing within {timeout:?}", spec.variant),
        }
    }

    async fn is_running(&self, instance: &Instance) -> anyhow::Result<bool> {
        let mut children = self.children.lock().expect("not poisoned");
        Ok(children
            .get_mut(&instance.id)
            .is_some_and(|c| matches!(c.try_wait(), Ok(None))))
    }

    async fn host_pid(&self, instance: &Instance) -> Result<u32, String> {
        instance.id.parse().map_err(|_| "not a process id".into())
    }

    async fn liveness(&self, instance: &Instance) -> Liveness {
        let mut children = self.children.lock().expect("not poisoned");
        match children.get_mut(&instance.id).map(Child::try_wait) {
            None => Liveness::Exited { code: None },
            Some(Ok(None)) => Liveness::Running {
                pid: instance.id.parse().map_err(|_| "not a process id".into()),
            },
            Some(Ok(Some(status))) => Liveness::Exited {
                code: status.code().map(i64::from),
            },
            Some(Err(e)) => Liveness::Unknown(format!("cannot wait for the child: {e}")),
        }
    }

    async fn wait(&self, instance: &Instance, timeout: Duration) -> anyhow::Result<Exit> {
        let child = self.take(&instance.id).context("no such child process")?;
        // Its VmHWM is gone once it has been reaped: sample it meanwhile.
        let pid = child.id();
        let sampler = Sampler::start(async move {
            Ok(Target {
                pid: pid.ok_or("it has already been reaped")?,
                cgroup: Err("native: no container".into()),
                // `spawn` returned after the exec: it runs the program already.
                program: None,
            })
        });
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(output) => output.context("waiting for the child failed")?,
            Err(_) => anyhow::bail!("{} did not exit within {timeout:?}", instance.variant),
        };
        Ok(Exit {
            code: output.status.code().map_or(-1, i64::from),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            peak_memory: Some(sampler.finish().await),
        })
    }

    async fn cpu_meter(&self, instance: &Instance) -> Result<cgroup::CpuMeter, String> {
        let pid: u32 = instance
            .id
            .parse()
            .map_err(|_| format!("{} is not a process id", instance.id))?;
        let meter = cgroup::CpuMeter::Threads(pid);
        meter.read_ns()?;
        Ok(meter)
    }

    async fn peak_memory(&self, instance: &Instance) -> PeakMemory {
        let process = match instance.id.parse() {
            Ok(pid) => cgroup::process_peak(pid),
            Err(_) => Err(format!("{} is not a process id", instance.id)),
        };
        PeakMemory {
            process,
            container: Err("native: no container".into()),
        }
    }

    async fn launched_binary(
        &self,
        instance: &Instance,
    ) -> anyhow::Result<Option<(String, String)>> {
        let exe = self
            .executables
            .lock()
            .expect("not poisoned")
            .remove(&instance.id);
        let Some(exe) = exe else { return Ok(None) };
        let sha256 = tokio::task::spawn_blocking(move || {
            crate::digest::sha256_reader(std::io::BufReader::new(exe))
        })
        .await?
        .context("cannot read the child's executable")?;
        Ok(Some((sha256, "/proc/<pid>/exe".into())))
    }

    async fn logs(&self, instance: &Instance, lines: usize) -> String {
        // A server's pipes are read only once it exits: stop it, then read what it wrote.
        let Some(mut child) = self.take(&instance.id) else {
            return String::new();
        };
        let _ = child.start_kill();
        let output =
            match tokio::time::timeout(Duration::from_secs(5), child.wait_with_output()).await {
                Ok(Ok(output)) => output,
                _ => return String::new(),
            };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    async fn remove(&self, id: &str) -> anyhow::Result<()> {
        self.executables.lock().expect("not poisoned").remove(id);
        if let Some(mut child) = self.take(id) {
            // SIGTERM first so the server exits cleanly, then make sure.
            if let Ok(pid) = id.parse::<i32>() {
                // SAFETY: plain kill(2) on our own child's pid.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            if tokio::time::timeout(Duration::from_secs(3), child.wait())
                .await
                .is_err()
            {
                child.kill().await.context("cannot kill the child")?;
            }
        }
        Ok(())
    }

    async fn sweep(&self) -> anyhow::Result<usize> {
        let ids: Vec<String> = self
            .children
            .lock()
            .expect("not poisoned")
            .keys()
            .cloned()
            .collect();
        for id in &ids {
            self.remove(id).await?;
        }
        Ok(ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpus("0").unwrap(), [0]);
        assert_eq!(parse_cpus("0-2,5").unwrap(), [0, 1, 2, 5]);
        assert!(parse_cpus("2-1").is_err());
        assert!(parse_cpus("").is_err());
        assert!(parse_cpus("x").is_err());
    }
}

//! Peak memory of a job, sampled while it runs.
//!
//! A job's `/proc/<pid>` and its container's cgroup are gone once it has exited, so a
//! runtime's `wait` starts a `Sampler` beside the wait: a task of its own that finds the
//! process (the runtime says how), then reads its `VmHWM` and its cgroup's peak every
//! `INTERVAL` until told the job has ended, keeping the highest good reading of each. Both
//! counters only grow, so the last reading before the exit is the peak up to then: a lower
//! bound that misses at most the growth of the last interval. Each reading costs two small
//! file reads, on the sampler's own task, so the wait (and the cold start it times) is not
//! held up. This module reads files only (through `cgroup`); it does not know how the
//! process was found.

use super::cgroup::{self, Cgroup, Reading};
use super::PeakMemory;
use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often a running job's peak memory is read.
pub const INTERVAL: Duration = Duration::from_millis(20);

/// What to sample: the job's process, and its cgroup (or why it has none).
#[derive(Debug, Clone)]
pub struct Target {
    pub pid: u32,
    pub cgroup: Result<Cgroup, String>,
    /// The program the process runs once started (its path or name), when the process may
    /// still be a container runtime's init that has yet to exec it: until its `comm` says
    /// it runs the program, its `VmHWM` is the init's, and is not counted.
    pub program: Option<String>,
}

/// A sampling task; `finish` stops it and returns what it saw. Dropping it stops it too.
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<PeakMemory>,
}

impl Sampler {
    /// Starts sampling on a task of its own, once `target` says what to sample (the reason
    /// when it cannot: the job is gone, the daemon is remote).
    pub fn start<F>(target: F) -> Sampler
    where
        F: Future<Output = Result<Target, String>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Sampler {
            stop,
            task: tokio::spawn(sample(target, stopped)),
        }
    }

    /// Stops sampling (the job has exited) and returns the peaks it read.
    pub async fn finish(self) -> PeakMemory {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_else(|e| {
            let reason = format!("the memory sampler failed: {e}");
            PeakMemory {
                process: Err(reason.clone()),
                container: Err(reason),
            }
        })
    }
}

async fn sample<F>(target: F, mut stopped: oneshot::Receiver<()>) -> PeakMemory
where
    F: Future<Output = Result<Target, String>>,
{
    let target = tokio::select! {
        biased;
        target = target => target,
        _ = &mut stopped => Err("it exited before its process could be found".into()),
    };
    let target = match target {
        Ok(target) => target,
        Err(reason) => {
            let reason = format!("not sampled: {reason}");
            return PeakMemory {
                process: Err(reason.clone()),
                container: Err(reason),
            };
        }
    };
    let mut peaks = Peaks::new(&target);
    loop {
        peaks.read(&target);
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            _ = &mut stopped => break,
        }
    }
    // One more try: a job that has just exited reads as gone, and the last good stays.
    peaks.read(&target);
    peaks.finish()
}

/// The highest good reading of each figure so far, or the last reason none was good.
struct Peaks {
    process: Reading,
    container: Reading,
}

impl Peaks {
    fn new(target: &Target) -> Peaks {
        let none = || Err("no reading while it ran".to_string());
        Peaks {
            process: none(),
            // Without a cgroup, the container figure is that reason for good.
            container: match &target.cgroup {
                Ok(_) => none(),
                Err(reason) => Err(reason.clone()),
            },
        }
    }

    fn read(&mut self, target: &Target) {
        match &target.program {
            Some(program) if !runs(target.pid, program) => {
                if self.process.is_err() {
                    let pid = target.pid;
                    self.process = Err(format!("pid {pid} was never seen running {program}"));
                }
            }
            _ => keep_higher(&mut self.process, cgroup::process_peak(target.pid)),
        }
        if let Ok(cgroup) = &target.cgroup {
            keep_higher(&mut self.container, cgroup.memory_peak());
        }
    }

    fn finish(self) -> PeakMemory {
        let sampled = |r: Reading| {
            r.map(|(bytes, method)| {
                let every = INTERVAL.as_millis();
                (
                    bytes,
                    format!("{method}; sampled every {every} ms while it ran (a lower bound)"),
                )
            })
        };
        PeakMemory {
            process: sampled(self.process),
            container: sampled(self.container),
        }
    }
}

/// Whether process `pid` runs `program` (a path or a name): its `comm` is the name's first
/// 15 bytes, as the kernel keeps it.
fn runs(pid: u32, program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program).as_bytes();
    let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
    comm.strip_suffix(b"\n").unwrap_or(&comm) == &name[..name.len().min(15)]
}

/// Keeps the higher of two readings; a good one always beats a failed one, and a failed one
/// replaces only an earlier failure (so the reason is the latest).
pub fn keep_higher(kept: &mut Reading, new: Reading) {
    let replace = match (&*kept, &new) {
        (Ok((old, _)), Ok((bytes, _))) => bytes > old,
        (Ok(_), Err(_)) => false,
        (Err(_), _) => true,
    };
    if replace {
        *kept = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_good_reading_is_kept() {
        let mut kept: Reading = Err("none yet".into());
        keep_higher(&mut kept, Err("gone".into()));
        assert_eq!(kept, Err("gone".into()));
        keep_higher(&mut kept, Ok((10, "a".into())));
        keep_higher(&mut kept, Ok((5, "b".into())));
        keep_higher(&mut kept, Err("exited".into()));
        assert_eq!(kept, Ok((10, "a".into())));
        keep_higher(&mut kept, Ok((11, "c".into())));
        assert_eq!(kept, Ok((11, "c".into())));
    }

    #[tokio::test]
    async fn a_running_process_is_sampled_and_a_missing_one_says_why() {
        let me = std::process::id();
        let sampler = Sampler::start(async move {
            Ok(Target {
                pid: me,
                cgroup: Err("native: no container".into()),
                program: None,
            })
        });
        tokio::time::sleep(INTERVAL * 3).await;
        let peak = sampler.finish().await;
        let (bytes, method) = peak.process.unwrap();
        assert!(bytes > 0);
        assert!(
            method.contains("VmHWM") && method.contains("lower bound"),
            "{method}"
        );
        assert_eq!(peak.container, Err("native: no container".into()));

        let gone = Sampler::start(async { Err("the container is not running".into()) });
        let peak = gone.finish().await;
        assert_eq!(
            peak.process,
            Err("not sampled: the container is not running".into())
        );
        let vanished = Sampler::start(async {
            Ok(Target {
                pid: u32::MAX,
                cgroup: Cgroup::parse("0::/nowhere\n", std::path::Path::new("/nonexistent")),
                program: None,
            })
        });
        let peak = vanished.finish().await;
        assert!(peak.process.unwrap_err().contains("/proc/"));
        assert!(peak.container.unwrap_err().contains("memory.current"));
    }

    #[tokio::test]
    async fn a_process_not_yet_running_its_program_is_not_counted() {
        let me = std::process::id();
        let comm = std::fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
        assert!(runs(me, &format!("/some/dir/{}", comm.trim_end())));
        let sampler = Sampler::start(async move {
            Ok(Target {
                pid: me,
                cgroup: Err("native: no container".into()),
                program: Some("/app".into()),
            })
        });
        tokio::time::sleep(INTERVAL * 2).await;
        let peak = sampler.finish().await;
        assert_eq!(
            peak.process,
            Err(format!("pid {me} was never seen running /app"))
        );
    }
}

//! Reading what the kernel accounts to a running process: its own peak resident set
//! (`VmHWM`) and its cgroup's peak memory and CPU time.
//!
//! The cgroup is found through the process's own `/proc/<pid>/cgroup`, never a hard-coded
//! Docker path, so the cgroupfs and systemd drivers, cgroup v1, v2 and hybrid hosts and
//! rootless daemons all work. A figure that cannot be read is an error with the reason,
//! which results record as "not available", never as a zero. This module reads files only;
//! it does not know what a container or variant is.

use std::path::{Path, PathBuf};

/// Where the cgroup file systems are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A process's cgroup directories, per controller that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// 1 or 2: the hierarchy the memory controller is on.
    pub memory_version: u32,
    pub memory_dir: PathBuf,
    /// 1 or 2: the hierarchy the CPU accounting is on.
    pub cpu_version: u32,
    pub cpu_dir: PathBuf,
}

/// A figure read, and how: the method names its source file and what it includes.
pub type Reading = Result<(u64, String), String>;

impl Cgroup {
    /// The cgroup of process `pid`, as this process sees the cgroup file systems.
    pub fn of_pid(pid: u32) -> Result<Cgroup, String> {
        let path = format!("/proc/{pid}/cgroup");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Cgroup::parse(&text, Path::new(CGROUP_ROOT))
    }

    /// Parses `/proc/<pid>/cgroup` (`ID:CONTROLLERS:PATH` lines) against `root`.
    pub fn parse(text: &str, root: &Path) -> Result<Cgroup, String> {
        let mut v1 = Vec::new();
        let mut unified = None;
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let relative = path.trim_start_matches('/');
            if id == "0" && controllers.is_empty() {
                unified = Some(root.join(relative));
            } else {
                v1.push((controllers.to_string(), relative.to_string()));
            }
        }
        let v1_dir = |wanted: &str| {
            v1.iter()
                .find(|(controllers, _)| controllers.split(',').any(|c| c == wanted))
                .map(|(controllers, relative)| root.join(controllers).join(relative))
        };
        let pick = |wanted: &str| match (v1_dir(wanted), &unified) {
            (Some(dir), _) => Ok((1, dir)),
            (None, Some(dir)) => Ok((2, dir.clone())),
            (None, None) => Err(format!("no {wanted} cgroup in /proc/<pid>/cgroup")),
        };
        let (memory_version, memory_dir) = pick("memory")?;
        let (cpu_version, cpu_dir) = pick("cpuacct")?;
        Ok(Cgroup {
            memory_version,
            memory_dir,
            cpu_version,
            cpu_dir,
        })
    }

    /// The cgroup's peak memory: v1 `memory.max_usage_in_bytes`, v2 `memory.peak`, or v2
    /// `memory.current` where the kernel has no `memory.peak` (then only a lower bound).
    pub fn memory_peak(&self) -> Reading {
        const INCLUDES: &str = "includes the container runtime, kernel memory and page cache";
        let candidates: &[(&str, &str)] = match self.memory_version {
            1 => &[("memory.max_usage_in_bytes", "cgroup v1 memory.max_usage_in_bytes")],
            _ => &[
                ("memory.peak", "cgroup v2 memory.peak"),
                (
                    "memory.current",
                    "cgroup v2 memory.current when read (no memory.peak on this kernel: a lower bound)",
                ),
            ],
        };
        let mut last_error = String::new();
        for (file, method) in candidates {
            match read_number(&self.memory_dir.join(file), None) {
                Ok(bytes) => return Ok((bytes, format!("{method}; {INCLUDES}"))),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// CPU time used by every process in the cgroup so far, in nanoseconds: v1
    /// `cpuacct.usage`, v2 `cpu.stat`'s `usage_usec`.
    pub fn cpu_usage_ns(&self) -> Result<u64, String> {
        match self.cpu_version {
            1 => read_number(&self.cpu_dir.join("cpuacct.usage"), None),
            _ => {
                read_number(&self.cpu_dir.join("cpu.stat"), Some("usage_usec")).map(|us| us * 1000)
            }
        }
    }
}

/// How a server's CPU time is read: its container's cgroup, or (native) the sum of its
/// threads' on-CPU time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuMeter {
    Cgroup(Cgroup),
    Threads(u32),
}

impl CpuMeter {
    /// CPU time used so far, ns.
    pub fn read_ns(&self) -> Result<u64, String> {
        match self {
            CpuMeter::Cgroup(cgroup) => cgroup.cpu_usage_ns(),
            CpuMeter::Threads(pid) => threads_cpu_ns(*pid),
        }
    }

    /// Where the figure comes from, for the results file.
    pub fn method(&self) -> String {
        match self {
            CpuMeter::Cgroup(c) if c.cpu_version == 1 => {
                "cgroup v1 cpuacct.usage of the container".into()
            }
            CpuMeter::Cgroup(_) => "cgroup v2 cpu.stat usage_usec of the container".into(),
            CpuMeter::Threads(_) => {
                "the process's threads' on-CPU time (/proc/<pid>/task/*/schedstat)".into()
            }
        }
    }
}

/// On-CPU time of every live thread of `pid`, ns (`/proc/<pid>/task/*/schedstat`).
fn threads_cpu_ns(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {dir}: {e}"))?;
    let mut total = 0;
    for task in tasks.flatten() {
        let path = task.path().join("schedstat");
        // A thread that exited between the listing and the read is simply gone.
        if let Ok(text) = std::fs::read_to_string(&path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .ok_or_else(|| format!("{} holds no number", path.display()))?;
        }
    }
    Ok(total)
}

/// The peak resident set of process `pid` itself (`VmHWM` in `/proc/<pid>/status`), bytes.
pub fn process_peak(pid: u32) -> Reading {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .ok_or_else(|| format!("{path} has no VmHWM (a kernel thread, or it exited)"))?;
    Ok((
        kb * 1024,
        "VmHWM (peak resident set) of the app process, from /proc/<pid>/status".into(),
    ))
}

/// A number from a file holding one, or from the `key value` line of a flat-keyed file.
fn read_number(path: &Path, key: Option<&str>) -> Result<u64, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let field = match key {
        None => Some(text.trim()),
        Some(key) => text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then_some(v.trim())
        }),
    };
    field.and_then(|f| f.parse().ok()).ok_or_else(|| {
        format!(
            "{} holds no number{}",
            path.display(),
            key.map_or(String::new(), |k| format!(" for {k}"))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_controllers_are_found_by_name_whatever_the_driver() {
        let text = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        let cgroup = Cgroup::parse(text, Path::new("/cg")).unwrap();
        assert_eq!((cgroup.memory_version, cgroup.cpu_version), (1, 1));
        assert_eq!(cgroup.memory_dir, Path::new("/cg/memory/docker/abc"));
        assert_eq!(cgroup.cpu_dir, Path::new("/cg/cpu,cpuacct/docker/abc"));
        let systemd =
            "9:memory:/system.slice/docker-abc.scope\n2:cpuacct:/system.slice/docker-abc.scope\n";
        let cgroup = Cgroup::parse(systemd, Path::new("/cg")).unwrap();
        assert_eq!(
            cgroup.memory_dir,
            Path::new("/cg/memory/system.slice/docker-abc.scope")
        );
    }

    #[test]
    fn v2_uses_the_unified_hierarchy() {
        let cgroup =
            Cgroup::parse("0::/system.slice/docker-abc.scope\n", Path::new("/cg")).unwrap();
        assert_eq!((cgroup.memory_version, cgroup.cpu_version), (2, 2));
        assert_eq!(
            cgroup.cpu_dir,
            Path::new("/cg/system.slice/docker-abc.scope")
        );
        assert!(Cgroup::parse("", Path::new("/cg")).is_err());
    }

    #[test]
    fn figures_are_read_and_a_missing_one_says_why() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("grp");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
        std::fs::write(dir.join("memory.current"), "4096\n").unwrap();
        let cgroup = Cgroup::parse("0::/grp\n", root.path()).unwrap();
        assert_eq!(cgroup.cpu_usage_ns().unwrap(), 1_500_000);
        let (bytes, method) = cgroup.memory_peak().unwrap();
        assert_eq!(bytes, 4096);
        assert!(
            method.contains("memory.current") && method.contains("lower bound"),
            "{method}"
        );
        // An unreadable cgroup: the reason names the file, never a zero.
        std::fs::remove_file(dir.join("memory.current")).unwrap();
        let reason = cgroup.memory_peak().unwrap_err();
        assert!(reason.contains("memory.current"), "{reason}");
        let gone = Cgroup::parse("0::/nowhere\n", root.path()).unwrap();
        assert!(gone.cpu_usage_ns().unwrap_err().contains("cpu.stat"));
    }

    #[test]
    fn this_process_has_a_peak_and_cpu_time() {
        let (bytes, _) = process_peak(std::process::id()).unwrap();
        assert!(bytes > 0);
        assert!(process_peak(u32::MAX).is_err());
        let meter = CpuMeter::Threads(std::process::id());
        // The sum covers live threads only: one that another test ends in between takes
        // its time away, so spin until this thread's own time shows, with a deadline.
        let before = meter.read_ns().unwrap();
        let spin = std::time::Instant::now();
        while meter.read_ns().unwrap() <= before {
            assert!(
                spin.elapsed() < std::time::Duration::from_secs(10),
                "no CPU time seen"
            );
            for _ in 0..100_000 {
                std::hint::black_box(0u64);
            }
        }
        let gone = CpuMeter::Threads(u32::MAX).read_ns().unwrap_err();
        assert!(gone.contains("cannot read /proc/"), "{gone}");
    }
}

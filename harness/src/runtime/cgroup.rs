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
                "the process's on-CPU time: its live threads' (/proc/<pid>/task/*/schedstat) and its exited threads' (/proc/<pid>/stat utime + stime less the live threads')".into()
            }
        }
    }
}

/// On-CPU time of the process `pid`, its exited threads included, ns: every live thread's
/// on-CPU time (`/proc/<pid>/task/*/schedstat`, exact), plus what the threads that have
/// exited used, which only the process's own counters keep: its utime + stime
/// (`/proc/<pid>/stat`, clock ticks) less the live threads' (`/proc/<pid>/task/*/stat`).
/// A thread-per-connection server's threads come and go within a load window; without the
/// second part their CPU would vanish from the figure.
fn threads_cpu_ns(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {dir}: {e}"))?;
    let (mut live_ns, mut live_ticks) = (0u64, 0u64);
    for task in tasks.flatten() {
        let path = task.path().join("schedstat");
        // A thread that exited between the listing and the read is simply gone: its time
        // is in the process's counters, read after this loop.
        let (Ok(text), Ok(stat)) = (
            std::fs::read_to_string(&path),
            std::fs::read_to_string(task.path().join("stat")),
        ) else {
            continue;
        };
        live_ns += text
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .ok_or_else(|| format!("{} holds no number", path.display()))?;
        live_ticks += cpu_ticks(&stat).unwrap_or(0);
    }
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let all_ticks = cpu_ticks(&stat).ok_or_else(|| format!("{path}: no utime and stime"))?;
    // SAFETY: sysconf has no preconditions.
    let hz = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        hz if hz > 0 => hz as u64,
        _ => 100,
    };
    let exited_ns = all_ticks.saturating_sub(live_ticks) * (1_000_000_000 / hz);
    Ok(live_ns + exited_ns)
}

/// utime + stime, in clock ticks, of a `/proc/.../stat` line (fields 14 and 15, counted
/// after the command name, which may hold spaces and parentheses).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
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

    /// Spins until the calling thread has used `ms` of CPU (its own clock: however busy the
    /// machine is, it ends having used that much).
    fn burn(ms: u64) {
        let cpu = || {
            let mut t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: t is a valid timespec for the call to fill.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
            t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
        };
        let start = cpu();
        while cpu() - start < ms * 1_000_000 {
            std::hint::spin_loop();
        }
    }

    /// A thread that used 300 ms of CPU and exited between two reads still counts: the
    /// figure of a thread-per-connection server must not lose its connections' work.
    #[test]
    fn the_cpu_of_threads_that_exited_between_two_reads_is_counted() {
        let meter = CpuMeter::Threads(std::process::id());
        let before = meter.read_ns().unwrap();
        std::thread::spawn(|| burn(300)).join().unwrap();
        let used = meter.read_ns().unwrap().saturating_sub(before);
        assert!(used >= 250_000_000, "counted {used} ns of at least 300 ms");
        assert_eq!(
            cpu_ticks("1 (a b) c) S 0 0 0 0 0 0 0 0 0 0 7 5 0 0"),
            Some(12)
        );
    }

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

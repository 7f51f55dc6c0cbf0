//! CPU placement: which CPUs this process may use, pinning a thread or a child process to a
//! set of them, splitting them between server and load generator, and reading how much CPU
//! a thread has used.
//!
//! Linux only (sched_setaffinity, /proc). It does not decide placement policy for a run;
//! callers do, with `split_halves` as the default.

use anyhow::Context;
use std::io;

/// A CPU set ready to apply; building it checks the CPU numbers, applying it only makes a
/// syscall, so it is safe to use between fork and exec.
#[derive(Clone, Copy)]
pub struct CpuSet(libc::cpu_set_t);

impl CpuSet {
    /// A set of the given CPUs; fails for an empty list or a CPU number beyond `CPU_SETSIZE`.
    pub fn new(cpus: &[usize]) -> anyhow::Result<CpuSet> {
        anyhow::ensure!(!cpus.is_empty(), "an empty CPU list cannot be pinned to");
        // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &cpu in cpus {
            anyhow::ensure!(
                cpu < libc::CPU_SETSIZE as usize,
                "CPU {cpu} is beyond the {} CPUs Linux can address",
                libc::CPU_SETSIZE
            );
            // SAFETY: `cpu` is within the set's bounds, checked above.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        Ok(CpuSet(set))
    }

    /// Pins the calling thread (threads it starts afterwards inherit the set).
    ///
    /// Async-signal-safe: one syscall, no allocation, so `pre_exec` may call it.
    pub fn apply_to_current_thread(&self) -> io::Result<()> {
        // SAFETY: pid 0 is the calling thread; the set is a valid cpu_set_t of the size given.
        let rc =
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.0) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Pins the calling thread to `cpus`, with an error that names the CPUs and what is allowed.
pub fn pin_current_thread(cpus: &[usize]) -> anyhow::Result<()> {
    CpuSet::new(cpus)?
        .apply_to_current_thread()
        .with_context(|| {
            format!(
                "cannot pin to CPUs {}: this process may use CPUs {}",
                cpu_list(cpus),
                cpu_list(&allowed_cpus())
            )
        })
}

/// The CPUs this process may run on (its affinity mask), ascending.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: all zeroes is the empty set; the kernel fills in at most `size_of` bytes.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        return (0..n).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is within the set's bounds.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// The default placement: the server gets the first half of `cpus`, the load generator the
/// second half. With a single CPU both get it (they will share, and the caller should say so).
pub fn split_halves(cpus: &[usize]) -> (Vec<usize>, Vec<usize>) {
    if cpus.len() < 2 {
        return (cpus.to_vec(), cpus.to_vec());
    }
    let (server, loadgen) = cpus.split_at(cpus.len() / 2);
    (server.to_vec(), loadgen.to_vec())
}

/// A cpuset-style list, `0,1,2` (what `taskset -c` and Docker's `--cpuset-cpus` accept).
pub fn cpu_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The calling thread's kernel thread id.
pub fn current_tid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// CPU time (user + system) thread `tid` of this process has used, in nanoseconds; `None`
/// once the thread is gone. Reads `/proc/self/task/<tid>/schedstat` (nanoseconds), falling
/// back to `stat` (clock ticks) where the kernel lacks schedstat.
pub fn thread_cpu_ns(tid: libc::pid_t) -> Option<u64> {
    let dir = format!("/proc/self/task/{tid}");
    if let Ok(text) = std::fs::read_to_string(format!("{dir}/schedstat")) {
        if let Some(ns) = text.split_whitespace().next().and_then(|f| f.parse().ok()) {
            return Some(ns);
        }
    }
    stat_cpu_ns(&format!("{dir}/stat"))
}

/// CPU time (user + system, all threads) process `pid` has used so far, in nanoseconds
/// (clock-tick resolution); `None` once it is gone.
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    stat_cpu_ns(&format!("/proc/{pid}/stat"))
}

/// utime + stime of a `/proc/.../stat` file, in nanoseconds.
fn stat_cpu_ns(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(ticks * 1_000_000_000 / hz)
}

/// How many CPUs this process may use.
pub fn available_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_split_and_a_single_cpu_is_shared() {
        assert_eq!(split_halves(&[0, 1]), (vec![0], vec![1]));
        assert_eq!(split_halves(&[0, 1, 2, 3, 4]), (vec![0, 1], vec![2, 3, 4]));
        assert_eq!(split_halves(&[3]), (vec![3], vec![3]));
        assert_eq!(cpu_list(&[0, 2, 5]), "0,2,5");
    }

    #[test]
    fn pinning_a_thread_restricts_it_and_bad_cpus_are_named() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        let first = allowed[0];
        let seen = std::thread::spawn(move || {
            pin_current_thread(&[first]).unwrap();
            allowed_cpus()
        })
        .join()
        .unwrap();
        assert_eq!(seen, [first]);
        let e = CpuSet::new(&[100_000]).err().unwrap().to_string();
        assert!(e.contains("CPU 100000"), "{e}");
        assert!(CpuSet::new(&[]).is_err());
    }

    #[test]
    fn thread_cpu_time_grows_with_work() {
        let tid = current_tid();
        let before = thread_cpu_ns(tid).unwrap();
        let mut x = 0u64;
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(thread_cpu_ns(tid).unwrap() > before);
        assert!(process_cpu_ns(std::process::id()).unwrap() > 0);
    }
}

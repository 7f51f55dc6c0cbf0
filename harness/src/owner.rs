//! Which process owns a container: the harness run that created it, written as a label, so
//! a later run or `harness clean --orphans` can tell a dead run's leftovers (SIGKILL, OOM
//! kill, power loss) from the containers of a run that is still going.
//!
//! The owner is `host/boot-id/pid/start-ticks`. A process is known dead when the host is
//! this one and the boot differs, or no process has that pid with that start time. Another
//! host's containers (a shared remote daemon) are never judged: their owner is unknown.

/// What can be said about a container's owner from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Dead,
    /// Another host, or a label this version cannot read.
    Unknown,
}

/// This process, as an owner label value.
pub fn current() -> String {
    let pid = std::process::id();
    format!(
        "{}/{}/{pid}/{}",
        hostname(),
        boot_id(),
        start_ticks(pid).unwrap_or(0)
    )
}

/// Whether the process an owner label names is still running.
pub fn liveness(owner: &str) -> Liveness {
    let parts: Vec<&str> = owner.split('/').collect();
    let [host, boot, pid, ticks] = parts[..] else {
        return Liveness::Unknown;
    };
    let (Ok(pid), Ok(ticks)) = (pid.parse::<u32>(), ticks.parse::<u64>()) else {
        return Liveness::Unknown;
    };
    if host != hostname() {
        return Liveness::Unknown;
    }
    if boot != boot_id() {
        return Liveness::Dead;
    }
    match start_ticks(pid) {
        Some(now) if now == ticks => Liveness::Alive,
        _ => Liveness::Dead,
    }
}

fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown-host".into())
}

fn boot_id() -> String {
    read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_else(|| "unknown-boot".into())
}

/// The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), which
/// tells a reused pid from the original.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty() && !text.contains('/')).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_dead() {
        assert_eq!(liveness(&current()), Liveness::Alive);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let ticks = start_ticks(pid).unwrap_or(1);
        child.wait().unwrap();
        let owner = format!("{}/{}/{pid}/{ticks}", hostname(), boot_id());
        assert_eq!(liveness(&owner), Liveness::Dead);
    }

    #[test]
    fn a_reused_pid_another_boot_and_another_host_are_told_apart() {
        let me = std::process::id();
        let ticks = start_ticks(me).unwrap();
        let (host, boot) = (hostname(), boot_id());
        assert_eq!(
            liveness(&format!("{host}/{boot}/{me}/{}", ticks + 1)),
            Liveness::Dead
        );
        assert_eq!(
            liveness(&format!("{host}/another-boot/{me}/{ticks}")),
            Liveness::Dead
        );
        assert_eq!(
            liveness(&format!("elsewhere/{boot}/{me}/{ticks}")),
            Liveness::Unknown
        );
        assert_eq!(liveness("garbage"), Liveness::Unknown);
    }
}

//! The machine facts a bench results file records: CPU, kernel, toolchain, libc versions and
//! the git commit. Every fact is read, never assumed; one that cannot be read stays empty.
//!
//! Nothing here is bench-specific: `harness run` can fill its `Environment` the same way.

use crate::results::Environment;
use std::path::Path;
use std::process::Command;

/// Collects the environment of this machine and of the checkout at `root`.
pub fn collect(machine: &str, root: &Path) -> Environment {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let git_commit = command_line(root, "git", &["rev-parse", "HEAD"]);
    let git_dirty = git_commit
        .as_ref()
        .and_then(|_| command_output(root, "git", &["status", "--porcelain"]))
        .map(|status| !status.trim().is_empty());
    Environment {
        machine: machine.to_string(),
        cpu_model,
        cpu_count: crate::plan::available_cpus(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        docker_server_version: None,
        cgroup_version: cgroup_version(),
        rustc_version: command_line(root, "rustc", &["--version"]).unwrap_or_default(),
        glibc_version: glibc_version(),
        musl_version: musl_version(root),
        git_commit,
        git_dirty,
    }
}

fn cgroup_version() -> Option<u32> {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        Some(2)
    } else if Path::new("/sys/fs/cgroup/memory").exists() {
        Some(1)
    } else {
        None
    }
}

/// The glibc this harness runs on, which is the one glibc bench binaries load.
fn glibc_version() -> Option<String> {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        Some(version.to_string_lossy().into_owned())
    }
    #[cfg(not(target_env = "gnu"))]
    None
}

/// The musl release that rustc's musl target links statically (its self-contained
/// `libc.a`, not the system's musl): read from the version string in that archive.
fn musl_version(root: &Path) -> Option<String> {
    let sysroot = command_line(root, "rustc", &["--print", "sysroot"])?;
    let libc_a =
        Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-musl/lib/self-contained/libc.a");
    let bytes = std::fs::read(libc_a).ok()?;
    let version = bytes.split(|&b| b == 0).find_map(|s| {
        let text = std::str::from_utf8(s).ok()?;
        let parts: Vec<&str> = text.split('.').collect();
        let numeric = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        numeric.then(|| text.to_string())
    })?;
    Some(format!("{version} (rustc self-contained)"))
}

fn command_output(dir: &Path, program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn command_line(dir: &Path, program: &str, args: &[&str]) -> Option<String> {
    command_output(dir, program, args).map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_a_kernel_cpus_and_a_toolchain() {
        let env = collect("test box", &crate::app::workspace_root());
        assert_eq!(env.machine, "test box");
        assert!(env.cpu_count >= 1);
        assert!(!env.kernel.is_empty());
        assert!(env.rustc_version.starts_with("rustc "), "{env:?}");
        assert!(env.glibc_version.is_some());
        if let Some(musl) = &env.musl_version {
            assert!(musl.starts_with("1."), "{musl}");
        }
    }
}

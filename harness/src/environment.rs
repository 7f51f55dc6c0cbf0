//! The environment a run measured in: CPU, kernel, Docker (and which daemon), cgroups,
//! toolchain, libcs, git.
//!
//! Every field is read from the machine at run time; a field that cannot be read is left
//! empty rather than guessed.

use crate::results::Environment;
use crate::runtime::docker_client;
use std::path::Path;
use std::process::Command;

/// Collects the environment of this machine and of the checkout at `root` (commands run
/// there, so its rust-toolchain.toml picks the rustc reported); `docker_version` comes from
/// the runtime when it has one.
pub fn collect(machine: &str, docker_version: Option<String>, root: &Path) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(String::new, |(_, v)| v.trim().to_string());
    // Only runs that used Docker measured a daemon.
    let docker_host = docker_version.is_some().then(docker_client::host);
    Environment {
        machine: machine.to_string(),
        cpu_model,
        cpu_count: crate::runtime::pinning::available_cpus(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        docker_server_version: docker_version,
        cgroup_version: cgroup_version(),
        rustc_version: command_line_output(root, "rustc", &["--version"]).unwrap_or_default(),
        glibc_version: glibc_version(),
        musl_version: musl_version(root),
        git_commit: command_line_output(root, "git", &["rev-parse", "HEAD"]),
        git_dirty: git_dirty(root),
        docker_host: docker_host.clone(),
        docker_local: docker_host.as_deref().map(docker_client::is_local),
        engine: None,
        oci_runtime: None,
    }
}

/// Whether the checkout differs from its commit in anything but the harness's own output:
/// modified, staged or untracked files count, except under `results/`, where every run
/// writes (a run started while an earlier run's files wait to be committed still measures
/// the committed code). `None` outside a git checkout.
fn git_dirty(root: &Path) -> Option<bool> {
    command_line_output(
        root,
        "git",
        &[
            "status",
            "--porcelain",
            "--",
            ":(top)",
            ":(top,exclude)results",
        ],
    )
    .map(|s| !s.is_empty())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
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

/// The glibc this harness runs on (the glibc variants' debian base has the same release).
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

/// The musl that Rust's musl target bundles, read from its self-contained `libc.a` (musl's
/// `version.o` holds the version as a NUL-terminated string such as `1.2.5`).
fn musl_version(root: &Path) -> Option<String> {
    let sysroot = command_line_output(root, "rustc", &["--print", "sysroot"])?;
    let libc_a =
        Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-musl/lib/self-contained/libc.a");
    let bytes = std::fs::read(libc_a).ok()?;
    find_version_string(&bytes).map(|v| format!("{v} (rust self-contained)"))
}

/// The first `\01.N.N\0` string in `bytes`.
fn find_version_string(bytes: &[u8]) -> Option<String> {
    bytes.split(|&b| b == 0).find_map(|piece| {
        let text = std::str::from_utf8(piece).ok()?;
        let parts: Vec<&str> = text.split('.').collect();
        let numeric = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        (numeric && parts[0] == "1").then(|| text.to_string())
    })
}

fn command_line_output(dir: &Path, program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings_are_found_between_nuls() {
        assert_eq!(
            find_version_string(b"junk\x001.2.5\x00more").as_deref(),
            Some("1.2.5")
        );
        assert_eq!(find_version_string(b"\x0010.2.5\x001.2\x00"), None);
    }

    #[test]
    fn results_files_do_not_make_the_checkout_dirty_but_code_does() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join("main.rs"), "fn main() {}").unwrap();
        std::fs::create_dir_all(dir.path().join("results/runs")).unwrap();
        std::fs::write(dir.path().join("results/runs/old.json"), "{}").unwrap();
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "one"]);
        assert_eq!(git_dirty(dir.path()), Some(false));
        // A new results file and a changed published one: still the committed code.
        std::fs::write(dir.path().join("results/runs/new.json"), "{}").unwrap();
        std::fs::write(dir.path().join("results/runs/old.json"), "{\"x\":1}").unwrap();
        assert_eq!(git_dirty(dir.path()), Some(false));
        // Read from a subdirectory, the rule is the same.
        assert_eq!(git_dirty(&dir.path().join("results")), Some(false));
        // An untracked source file or a changed one is not.
        std::fs::write(dir.path().join("extra.rs"), "").unwrap();
        assert_eq!(git_dirty(dir.path()), Some(true));
        std::fs::remove_file(dir.path().join("extra.rs")).unwrap();
        std::fs::write(dir.path().join("main.rs"), "fn main() { }").unwrap();
        assert_eq!(git_dirty(dir.path()), Some(true));
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(git_dirty(elsewhere.path()), None);
    }

    #[test]
    fn collect_reads_this_machine() {
        let env = collect("test", None, Path::new("."));
        assert!(env.cpu_count >= 1);
        assert!(!env.kernel.is_empty());
        assert!(env.glibc_version.unwrap().starts_with("2."));
        assert!(env.git_commit.is_some(), "the repository's commit is read");
    }
}

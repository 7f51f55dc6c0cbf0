//! Prerequisites: what `harness doctor` checks and explains, and the safe fixes that
//! `doctor --fix`, `build` and `run` apply on the way (idempotently).
//!
//! Safe fixes: the rustup musl target, Debian packages (only when root; `docker.io` only
//! when no `dockerd` is on PATH, so a docker-ce install is left alone), the debian base
//! image. Nothing here removes or changes anything the harness did not install.

use crate::build::base;
use crate::error::prerequisite;
use crate::matrix::{Allocator, Link, Variant};
use crate::runtime::docker_client;
use std::path::Path;
use std::process::{Command, Stdio};

/// One prerequisite's state.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was found, or what is wrong.
    pub detail: String,
    /// How to fix it, when not ok.
    pub fix: &'static str,
}

/// Debian packages the harness can use, and what for.
pub const PACKAGES: [(&str, &str); 6] = [
    (
        "musl-tools",
        "musl-gcc, for C code in musl builds (mimalloc, jemalloc)",
    ),
    (
        "mmdebstrap",
        "building the debian base image when none can be pulled",
    ),
    ("wrk", "the reference load generator of `harness calibrate`"),
    (
        "docker.io",
        "dockerd, for the throwaway daemon of `run --fresh-node`",
    ),
    (
        "docker-registry",
        "the local registry of `run --fresh-node`",
    ),
    ("linux-perf", "perf, the sampler of `harness profile`"),
];

/// The program on PATH that shows a package is installed.
fn binary_of(package: &str) -> &str {
    match package {
        "musl-tools" => "musl-gcc",
        "docker.io" => "dockerd",
        "linux-perf" => "perf",
        other => other,
    }
}

/// Every check, in the order a user would fix them.
pub async fn checks() -> Vec<Check> {
    let mut out = Vec::new();
    let docker = docker_client::connect().await;
    out.push(match &docker {
        Ok(d) => Check {
            name: "docker",
            ok: true,
            detail: format!(
                "daemon {}",
                docker_client::server_version(d).await.unwrap_or_default()
            ),
            fix: "",
        },
        Err(e) => Check {
            name: "docker",
            ok: false,
            detail: format!("{e:#}"),
            fix: "start dockerd, or Podman's Docker-compatible API (`podman system service --time=0 unix:///run/podman/podman.sock`, then DOCKER_HOST=unix:///run/podman/podman.sock), or set DOCKER_HOST to a daemon that answers",
        },
    });
    out.push(Check {
        name: "musl target",
        ok: musl_target_installed(),
        detail: "x86_64-unknown-linux-musl for rustc".into(),
        fix: "rustup target add x86_64-unknown-linux-musl",
    });
    for (package, purpose) in PACKAGES {
        out.push(Check {
            name: package,
            ok: on_path(binary_of(package)),
            detail: purpose.into(),
            fix: match package {
                "musl-tools" => "apt-get install musl-tools",
                "mmdebstrap" => "apt-get install mmdebstrap",
                "docker.io" => "apt-get install docker.io",
                "docker-registry" => "apt-get install docker-registry",
                "linux-perf" => "apt-get install linux-perf",
                _ => "apt-get install wrk",
            },
        });
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    out.push(Check {
        name: "root",
        ok: root,
        detail: if root {
            "running as root".into()
        } else {
            "not root: `run --fresh-node` starts its own dockerd and needs root".into()
        },
        fix: "run as root (only `run --fresh-node` needs it)",
    });
    out.push(perf_permission());
    if let Ok(d) = &docker {
        out.push(oci_runtimes(d).await);
        out.push(match base::ensure(d, false).await {
            Ok(Some(b)) => Check {
                name: "debian base image",
                ok: true,
                detail: format!("{} ({})", b.tag, b.provenance),
                fix: "",
            },
            Ok(None) | Err(_) => Check {
                name: "debian base image",
                ok: false,
                detail: "not present yet (built on first use, ~20 s)".into(),
                fix: "harness doctor --fix",
            },
        });
    }
    out
}

/// The daemon's OCI runtimes (what `run --oci-runtime` can pick), and, for crun installed
/// here but not registered, the entry that registers it. Informational: the default
/// runtime is enough to measure; `--fix` never changes a daemon's configuration.
async fn oci_runtimes(docker: &bollard::Docker) -> Check {
    let facts = docker_client::daemon_facts(docker, None)
        .await
        .unwrap_or_default();
    let default = facts.oci_runtime.clone().unwrap_or_else(|| "?".into());
    let mut detail = format!(
        "{} (default {default}; pick one with `run --oci-runtime NAME`)",
        if facts.runtimes.is_empty() {
            "none listed".to_string()
        } else {
            facts.runtimes.join(", ")
        }
    );
    for (name, path) in [("crun", "/usr/bin/crun"), ("runc", "/usr/bin/runc")] {
        if Path::new(path).exists() && !facts.runtimes.iter().any(|r| r == name) {
            detail.push_str(&format!(
                "; {name} is installed at {path} but not registered: {}",
                docker_client::runtime_entry(name, path)
            ));
        }
    }
    let crun_known =
        Path::new("/usr/bin/crun").exists() || facts.runtimes.iter().any(|r| r == "crun");
    if crun_known && docker_client::is_local(&docker_client::host()) {
        if let Some(note) = hybrid_cgroups_note(Path::new("/sys/fs/cgroup")) {
            detail.push_str("; ");
            detail.push_str(&note);
        }
    }
    Check {
        name: "OCI runtimes",
        ok: true,
        detail,
        fix: "",
    }
}

/// On hybrid cgroups (cgroup v1, with a cgroup v2 mount at `unified` that has controllers)
/// crun 1.8 refuses every container ("cgroups in hybrid mode not supported"); what to
/// do instead. `None` on pure v1 or v2, or a v2 mount with no controller.
fn hybrid_cgroups_note(root: &Path) -> Option<String> {
    // Pure cgroup v2 mounts the unified hierarchy at the root itself: no `unified` below it.
    if root.join("cgroup.controllers").exists() {
        return None;
    }
    let controllers = std::fs::read_to_string(root.join("unified/cgroup.controllers")).ok()?;
    let controllers = controllers.trim();
    if controllers.is_empty() {
        return None;
    }
    Some(format!(
        "this host's cgroups are hybrid (the v2 mount {} has controllers: {controllers}): crun (Debian's 1.8.1 tried) refuses every container unless its engine runs without that mount, which `scripts/engine dockerd DIR` starts (docs/how-it-measures.md)",
        root.join("unified").display()
    ))
}

/// Whether `harness profile` may sample: root, or `perf_event_paranoid` ≤ 1 for native runs.
fn perf_permission() -> Check {
    let level = crate::profiler::perf::paranoid_level();
    let shown = level.map_or("unreadable".into(), |l| l.to_string());
    match crate::profiler::perf::permission_problem(false) {
        None => Check {
            name: "perf_event_paranoid",
            ok: true,
            detail: format!("{shown}; root may sample containers (`harness profile`)"),
            fix: "",
        },
        Some(problem) => Check {
            name: "perf_event_paranoid",
            ok: false,
            detail: problem,
            fix: "run as root (or, native only: sysctl kernel.perf_event_paranoid=1)",
        },
    }
}

/// `doctor --fix`: every safe fix; returns what it did.
pub async fn fix_all() -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    if !musl_target_installed() {
        add_musl_target()?;
        done.push("added the rustup musl target".into());
    }
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !on_path(binary_of(p)))
        .collect();
    if !missing.is_empty() {
        apt_install(&missing)?;
        done.push(format!("installed {}", missing.join(", ")));
    }
    if let Ok(docker) = docker_client::connect().await {
        if base::ensure(&docker, false).await?.is_none() {
            let b = base::ensure(&docker, true)
                .await?
                .expect("ensure with build allowed returns a base");
            done.push(format!("provisioned {} ({})", b.tag, b.provenance));
        }
    }
    Ok(done)
}

/// What `build` and `run` need for these variants, fixed on the way when it is safe.
pub fn ensure_for(variants: &[Variant], images: bool) -> anyhow::Result<()> {
    if variants.iter().any(|v| v.link == Link::Musl) && !musl_target_installed() {
        add_musl_target()?;
    }
    let c_allocator = variants
        .iter()
        .any(|v| v.link == Link::Musl && v.allocator != Allocator::System);
    if c_allocator && !on_path("musl-gcc") {
        apt_install(&["musl-tools"])?;
    }
    let needs_base = images
        && variants
            .iter()
            .any(|v| v.base != crate::matrix::Base::Scratch);
    if needs_base && !on_path("mmdebstrap") {
        // Only needed if no base image exists yet; installing is cheap and idempotent.
        let _ = apt_install(&["mmdebstrap"]);
    }
    Ok(())
}

fn musl_target_installed() -> bool {
    let Ok(output) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib/x86_64-unknown-linux-musl/lib")
        .is_dir()
}

fn add_musl_target() -> anyhow::Result<()> {
    let status = Command::new("rustup")
        .args(["target", "add", "x86_64-unknown-linux-musl"])
        .stdout(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => Err(prerequisite(
            "the musl target is not installed and `rustup target add x86_64-unknown-linux-musl` failed: run it yourself",
        )),
    }
}

fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let list = packages.join(" ");
    if !root {
        return Err(prerequisite(format!(
            "missing Debian packages: {list} (fix: sudo apt-get install {list})"
        )));
    }
    let ok = |c: &mut Command| {
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = ok(Command::new("apt-get")
        .args(["install", "-y", "-q"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
        || (ok(Command::new("apt-get").args(["update", "-q"]))
            && ok(Command::new("apt-get")
                .args(["install", "-y", "-q"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive")));
    if installed {
        Ok(())
    } else {
        Err(prerequisite(format!(
            "cannot install {list} with apt-get (fix: apt-get update && apt-get install {list})"
        )))
    }
}

/// Whether `program` is an executable on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            candidate.metadata().is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hybrid_cgroups_with_v2_controllers_get_the_crun_note_and_pure_ones_do_not() {
        let hybrid = tempfile::tempdir().unwrap();
        std::fs::create_dir(hybrid.path().join("unified")).unwrap();
        std::fs::write(
            hybrid.path().join("unified/cgroup.controllers"),
            "hugetlb\n",
        )
        .unwrap();
        let note = super::hybrid_cgroups_note(hybrid.path()).unwrap();
        assert!(
            note.contains("hugetlb") && note.contains("scripts/engine dockerd"),
            "{note}"
        );
        // A v2 mount without controllers: crun runs.
        std::fs::write(hybrid.path().join("unified/cgroup.controllers"), "\n").unwrap();
        assert_eq!(super::hybrid_cgroups_note(hybrid.path()), None);
        // Pure v1 (no unified mount) and pure v2 (controllers at the root).
        let v1 = tempfile::tempdir().unwrap();
        assert_eq!(super::hybrid_cgroups_note(v1.path()), None);
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpu memory\n").unwrap();
        assert_eq!(super::hybrid_cgroups_note(v2.path()), None);
    }
}

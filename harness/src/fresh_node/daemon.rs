//! A fresh node: a throwaway `dockerd` with an empty data root on its own socket, bridge and
//! iptables off, that has never seen an image. Started as a child of the harness, waited for
//! with a ping on its socket, and stopped with its directories removed on drop.
//!
//! Its containers use host networking (there is no bridge), and its cgroups sit under their
//! own parent so they are never mistaken for the main daemon's.

use super::child::{self, Helper};
use anyhow::Context;
use bollard::Docker;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The daemon binary.
pub const BINARY: &str = "dockerd";
/// How long a fresh daemon may take to answer a ping.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The cgroup parent of the fresh daemon's containers.
const CGROUP_PARENT: &str = "glibc-vs-musl-fresh";

/// A running fresh daemon and a client connected to it.
pub struct FreshDaemon {
    pub docker: Docker,
    pub storage_driver: String,
    helper: Helper,
}

/// The `dockerd` arguments of a fresh node rooted at `dir` with `storage_driver`.
///
/// `--config-file` points at an empty config: the host's `/etc/docker/daemon.json` may set
/// `data-root`, and dockerd refuses a setting given both as a flag and in the file.
pub fn arguments(dir: &std::path::Path, storage_driver: &str) -> Vec<String> {
    let at = |name: &str| dir.join(name).display().to_string();
    vec![
        format!("--config-file={}", at("daemon.json")),
        format!("--data-root={}", at("data")),
        format!("--exec-root={}", at("exec")),
        format!("--pidfile={}", at("dockerd.pid")),
        format!("--host=unix://{}", at("docker.sock")),
        format!("--storage-driver={storage_driver}"),
        format!("--cgroup-parent={CGROUP_PARENT}"),
        "--bridge=none".into(),
        "--iptables=false".into(),
        "--ip-masq=false".into(),
        "--log-level=warn".into(),
    ]
}

impl FreshDaemon {
    /// Starts a daemon with an empty data root and waits until it answers a ping.
    pub async fn start(storage_driver: &str) -> anyhow::Result<Self> {
        let dir = child::temp_dir("dockerd")?;
        let config = dir.join("daemon.json");
        std::fs::write(&config, "{}\n")
            .with_context(|| format!("cannot write {}", config.display()))?;
        let mut command = Command::new(BINARY);
        command.args(arguments(&dir, storage_driver));
        let mut helper = Helper::spawn("dockerd", command, dir.clone())?;
        helper.also_kill(dir.join("exec/containerd/containerd.pid"));
        let socket: PathBuf = dir.join("docker.sock");
        let start = Instant::now();
        loop {
            if let Some(status) = helper.exited() {
                anyhow::bail!(
                    "a fresh dockerd (storage driver {storage_driver}) exited ({status}) at start: {}",
                    helper.log_tail(4)
                );
            }
            if socket.exists() {
                if let Ok(docker) = connect(&socket).await {
                    return Ok(Self {
                        docker,
                        storage_driver: storage_driver.to_string(),
                        helper,
                    });
                }
            }
            if start.elapsed() > READY_TIMEOUT {
                let tail = helper.log_tail(4);
                anyhow::bail!("a fresh dockerd did not answer within {READY_TIMEOUT:?}: {tail}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts with the first storage driver of `drivers` that works.
    pub async fn start_any(drivers: &[String]) -> anyhow::Result<Self> {
        let mut errors = Vec::new();
        for driver in drivers {
            match Self::start(driver).await {
                Ok(daemon) => return Ok(daemon),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        anyhow::bail!(
            "no storage driver worked for a fresh dockerd: {}",
            errors.join("; ")
        )
    }

    /// Stops the daemon (its containers with it) and removes its data and exec roots.
    pub fn stop(mut self) {
        self.helper.stop(Duration::from_secs(30));
    }

    pub fn log_tail(&self) -> String {
        self.helper.log_tail(5)
    }
}

async fn connect(socket: &std::path::Path) -> anyhow::Result<Docker> {
    let docker = Docker::connect_with_unix(
        &format!("unix://{}", socket.display()),
        120,
        bollard::API_DEFAULT_VERSION,
    )?;
    docker.ping().await?;
    Ok(docker.negotiate_version().await?)
}

/// The storage drivers to try, in order: the main daemon's first (so a fresh node is set up
/// like the node the rest of the run measured), then `overlay2`, then `vfs`.
pub fn driver_candidates(main_driver: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = main_driver.map(str::to_string).into_iter().collect();
    for fallback in ["overlay2", "vfs"] {
        if !out.iter().any(|d| d == fallback) {
            out.push(fallback.into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_root_everything_in_the_temp_dir_with_networking_off() {
        let args = arguments(std::path::Path::new("/tmp/f"), "overlay2");
        for expected in [
            "--config-file=/tmp/f/daemon.json",
            "--data-root=/tmp/f/data",
            "--exec-root=/tmp/f/exec",
            "--host=unix:///tmp/f/docker.sock",
            "--storage-driver=overlay2",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
        }
    }

    #[test]
    fn the_main_daemons_driver_is_tried_first() {
        assert_eq!(
            driver_candidates(Some("fuse-overlayfs")),
            ["fuse-overlayfs", "overlay2", "vfs"]
        );
        assert_eq!(driver_candidates(Some("overlay2")), ["overlay2", "vfs"]);
        assert_eq!(driver_candidates(None), ["overlay2", "vfs"]);
    }
}

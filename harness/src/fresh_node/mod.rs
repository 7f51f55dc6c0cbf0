//! `harness run --fresh-node`: the cold start of a node that has never seen the image.
//!
//! A session owns a local registry (`registry`) and hands out fresh daemons (`daemon`), one
//! per repetition, each on an empty data root. Variants are pushed from the main daemon to
//! the registry once (the registry tag added in the main daemon is removed straight after,
//! even on Ctrl-C); each repetition then pulls on a fresh daemon (`pull`), starts the app
//! and stops the daemon. The record and its modelled columns live in `model`; the phase
//! that drives it per variant is in `runner`. Every helper process and temporary directory
//! goes when its owner is dropped (`child`).

pub mod child;
pub mod daemon;
pub mod model;
pub mod pull;
pub mod registry;

pub use model::{FreshNode, FreshNodeSample};

use crate::error::prerequisite;
use anyhow::Context;
use bollard::query_parameters::TagImageOptionsBuilder;
use bollard::query_parameters::{PushImageOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use daemon::FreshDaemon;
use futures_util::StreamExt;
use registry::{LocalRegistry, Manifest};

/// What `--fresh-node` needs on this machine: root (dockerd), `dockerd`, `docker-registry`.
pub fn preflight() -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(prerequisite(
            "--fresh-node starts its own dockerd, which needs root: run as root, or drop --fresh-node",
        ));
    }
    for (binary, package) in [
        (daemon::BINARY, "docker.io"),
        (registry::BINARY, "docker-registry"),
    ] {
        if !crate::doctor::on_path(binary) {
            return Err(prerequisite(format!(
                "--fresh-node needs `{binary}` on PATH (fix: apt-get install {package}, or `harness doctor --fix`)"
            )));
        }
    }
    Ok(())
}

/// A variant's image as the registry holds it.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `127.0.0.1:PORT/glibc-vs-musl/APP:VARIANT`, what a fresh node pulls.
    pub reference: String,
    pub manifest: Manifest,
}

/// The registry, and what a fresh daemon needs to start.
pub struct Session {
    main: Docker,
    registry: LocalRegistry,
    drivers: Vec<String>,
}

impl Session {
    /// Starts the registry; fresh daemons will use the main daemon's storage driver first.
    pub async fn start(main: Docker) -> anyhow::Result<Session> {
        let main_driver = main.info().await.ok().and_then(|i| i.driver);
        let registry = LocalRegistry::start()
            .await
            .context("cannot start the local registry")?;
        Ok(Session {
            main,
            registry,
            drivers: daemon::driver_candidates(main_driver.as_deref()),
        })
    }

    /// The main daemon, where the variant images are built.
    pub fn main(&self) -> &Docker {
        &self.main
    }

    pub fn registry_host(&self) -> String {
        self.registry.host()
    }

    /// Pushes the main daemon's `tag` (`glibc-vs-musl/APP:VARIANT`) to the registry and
    /// reads its manifest; the registry tag added in the main daemon is removed again.
    pub async fn push(&self, tag: &str) -> anyhow::Result<Pushed> {
        let reference = format!("{}/{tag}", self.registry.host());
        let (repository, version) = reference.rsplit_once(':').context("tag without version")?;
        let options = TagImageOptionsBuilder::default()
            .repo(repository)
            .tag(version)
            .build();
        self.main
            .tag_image(tag, Some(options))
            .await
            .with_context(|| format!("cannot tag {tag} as {reference}"))?;
        let guard = TagGuard(Some(reference.clone()));
        let pushed = self.push_tagged(repository, version).await;
        guard.remove(&self.main).await;
        pushed.with_context(|| format!("cannot push {reference}"))?;
        let path = repository.split_once('/').map_or(repository, |(_, p)| p);
        let manifest = self.registry.manifest(path, version).await?;
        Ok(Pushed {
            reference,
            manifest,
        })
    }

    async fn push_tagged(&self, repository: &str, version: &str) -> anyhow::Result<()> {
        let options = PushImageOptionsBuilder::default().tag(version).build();
        let mut stream = self.main.push_image(repository, Some(options), None);
        while let Some(item) = stream.next().await {
            let info = item?;
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                anyhow::bail!("{message}");
            }
        }
        Ok(())
    }

    /// A daemon with an empty data root; once one storage driver worked, it is kept.
    pub async fn fresh_daemon(&mut self) -> anyhow::Result<FreshDaemon> {
        let daemon = FreshDaemon::start_any(&self.drivers).await?;
        self.drivers = vec![daemon.storage_driver.clone()];
        Ok(daemon)
    }

    /// Stops the registry and removes its storage.
    pub fn stop(self) {
        self.registry.stop();
    }
}

/// A registry tag added in the main daemon, removed on every path; if the phase is dropped
/// (Ctrl-C) before `remove`, a thread of its own removes it.
struct TagGuard(Option<String>);

impl TagGuard {
    async fn remove(mut self, main: &Docker) {
        if let Some(tag) = self.0.take() {
            if let Err(e) = untag(main, &tag).await {
                eprintln!("warning: cannot remove the tag {tag} from the main daemon: {e:#}");
            }
        }
    }
}

impl Drop for TagGuard {
    fn drop(&mut self) {
        let Some(tag) = self.0.take() else { return };
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().ok()?;
            rt.block_on(async {
                let main = crate::runtime::docker_client::connect().await.ok()?;
                untag(&main, &tag).await.ok()
            })
        })
        .join();
    }
}

/// Removes one tag; the image keeps its other tags and layers (`noprune`).
async fn untag(main: &Docker, tag: &str) -> anyhow::Result<()> {
    let options = RemoveImageOptionsBuilder::default().noprune(true).build();
    main.remove_image(tag, Some(options), None).await?;
    Ok(())
}

/// The size the fresh daemon reports for `reference` once pulled.
pub async fn image_bytes(docker: &Docker, reference: &str) -> anyhow::Result<u64> {
    let inspect = docker
        .inspect_image(reference)
        .await
        .with_context(|| format!("cannot inspect {reference} on the fresh node"))?;
    inspect
        .size
        .and_then(|s| u64::try_from(s).ok())
        .context("the fresh daemon reported no image size")
}

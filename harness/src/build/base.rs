//! Provisioning the debian base image on a daemon that may have no registry.
//!
//! In order: a local `debian:bookworm-slim`; the harness's own base from an earlier run; a
//! pull, if a registry answers; else a minbase rootfs built with mmdebstrap (slim-style path
//! excludes, merged /usr) and imported through bollard. The result is always tagged
//! `glibc-vs-musl/debian:bookworm-slim` and labelled with where it came from.

use crate::build::image;
use crate::labels;
use anyhow::Context;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The official image a local copy or a pull would provide.
pub const OFFICIAL: &str = "debian:bookworm-slim";
/// The tag the harness's own base has, whatever its source.
pub const BASE_TAG: &str = "glibc-vs-musl/debian:bookworm-slim";
const ROOTFS_REPO: &str = "glibc-vs-musl/debian-rootfs";
const SUITE: &str = "bookworm";

/// The base image to build `FROM`, and where it came from.
#[derive(Debug, Clone)]
pub struct BaseImage {
    pub tag: String,
    pub provenance: String,
}

/// The base image `variants` need, found or made with a progress step; `None` when every
/// variant is on scratch.
pub async fn provision(
    docker: &Docker,
    variants: &[crate::matrix::Variant],
    progress: &crate::progress::Progress,
) -> anyhow::Result<Option<BaseImage>> {
    if variants
        .iter()
        .all(|v| v.base == crate::matrix::Base::Scratch)
    {
        return Ok(None);
    }
    let step = progress.step("provisioning the debian base image (first time: ~20 s)");
    let base = ensure(docker, true)
        .await?
        .context("no debian base image")?;
    step.done(format!("base image: {} ({})", base.tag, base.provenance));
    Ok(Some(base))
}

/// Finds or makes the debian base. `allow_build` false only looks (for `doctor`).
pub async fn ensure(docker: &Docker, allow_build: bool) -> anyhow::Result<Option<BaseImage>> {
    if let Ok(found) = docker.inspect_image(BASE_TAG).await {
        let provenance = found
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(labels::PROVENANCE).cloned())
            .unwrap_or_else(|| "earlier harness run".into());
        return Ok(Some(BaseImage {
            tag: BASE_TAG.into(),
            provenance,
        }));
    }
    if let Ok(found) = docker.inspect_image(OFFICIAL).await {
        let provenance = format!("local {OFFICIAL} {}", found.id.unwrap_or_default());
        return Ok(Some(BaseImage {
            tag: OFFICIAL.into(),
            provenance,
        }));
    }
    if !allow_build {
        return Ok(None);
    }
    if let Some(digest) = try_pull(docker).await {
        return Ok(Some(BaseImage {
            tag: OFFICIAL.into(),
            provenance: format!("pulled {OFFICIAL} {digest}"),
        }));
    }
    build_with_mmdebstrap(docker).await.map(Some)
}

/// Pulls the official image if a registry answers within 20 s.
async fn try_pull(docker: &Docker) -> Option<String> {
    let options = CreateImageOptionsBuilder::default()
        .from_image("debian")
        .tag("bookworm-slim")
        .build();
    let pull = async {
        let mut stream = docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            item.ok()?;
        }
        docker
            .inspect_image(OFFICIAL)
            .await
            .ok()?
            .repo_digests?
            .into_iter()
            .next()
    };
    tokio::time::timeout(Duration::from_secs(20), pull)
        .await
        .ok()
        .flatten()
}

/// Builds a bookworm minbase rootfs tarball with mmdebstrap and imports it.
async fn build_with_mmdebstrap(docker: &Docker) -> anyhow::Result<BaseImage> {
    let dir = tempfile::tempdir().context("cannot create a temp dir for the rootfs")?;
    let tarball = dir.path().join("rootfs.tar");
    let output = tokio::task::spawn_blocking({
        let tarball = tarball.clone();
        move || mmdebstrap_command(&tarball).output()
    })
    .await?
    .map_err(|e| {
        crate::error::prerequisite(format!(
            "no debian base image and cannot run mmdebstrap to build one: {e} (fix: apt-get install mmdebstrap, or `harness doctor --fix`)"
        ))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        anyhow::bail!(
            "mmdebstrap failed to build the debian base: {}",
            tail.join(" | ")
        );
    }
    let packages = count_packages(&tarball)?;
    let date = crate::results::now();
    let provenance = format!(
        "built locally with mmdebstrap --variant=minbase {SUITE}, {packages} packages, {date}"
    );
    let bytes = tokio::fs::read(&tarball)
        .await
        .context("cannot read the rootfs tarball")?;
    let rootfs_tag = format!("{ROOTFS_REPO}:{SUITE}");
    // The tag rides in `repo` (`repo:tag`, as the docker CLI sends it): Podman's
    // Docker-compatible import ignores a separate `tag` and would name it `:latest`.
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(&rootfs_tag)
        .changes(vec!["CMD [\"bash\"]".into()])
        .build();
    let mut stream =
        docker.create_image(Some(options), Some(bollard::body_full(bytes.into())), None);
    while let Some(item) = stream.next().await {
        item.context("importing the debian rootfs into Docker failed")?;
    }
    // An import cannot carry labels: a config-only build on top adds them.
    let labels = labels::with_tool(&[(labels::ROLE, "base"), (labels::PROVENANCE, &provenance)]);
    image::build(
        docker,
        BASE_TAG,
        &format!("FROM {rootfs_tag}\n"),
        &[],
        labels,
    )
    .await?;
    Ok(BaseImage {
        tag: BASE_TAG.into(),
        provenance,
    })
}

fn mmdebstrap_command(tarball: &Path) -> Command {
    let mut command = Command::new("mmdebstrap");
    command.args(["--variant=minbase", "--format=tar", "--quiet"]);
    command.arg("--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr");
    // The path excludes the official slim images use: no docs, man pages, locales or info.
    for option in [
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
        "path-exclude=/usr/share/info/*",
        "path-exclude=/usr/share/locale/*",
        "path-include=/usr/share/locale/locale.alias",
        "path-exclude=/usr/share/groff/*",
        "path-exclude=/usr/share/linda/*",
        "path-exclude=/usr/share/lintian/*",
    ] {
        command.arg(format!("--dpkgopt={option}"));
    }
    command.arg(SUITE).arg(tarball);
    command
}

/// Counts the packages in the rootfs's dpkg status file.
fn count_packages(tarball: &Path) -> anyhow::Result<usize> {
    let file = std::fs::File::open(tarball)?;
    let mut archive = tar::Archive::new(file);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy().trim_start_matches("./") == "var/lib/dpkg/status" {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            return Ok(text.lines().filter(|l| l.starts_with("Package: ")).count());
        }
    }
    anyhow::bail!("the rootfs has no var/lib/dpkg/status")
}

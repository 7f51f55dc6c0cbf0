//! The profiling build of one variant: the same cargo command as the measured binary with
//! symbols and line tables kept (`build::cargo::PROFILING_CONFIG`), its own copy under
//! `target/harness/profiling/<app>/<variant>/`, its own image (`<app>:<variant>-profiling`,
//! labelled like every harness image and removed when the profile is done), and the
//! directory perf resolves the container's symbols from (`--symfs`).
//!
//! perf reads the symbols after the container is gone, under the paths the process saw:
//! `/app` for the binary and, on a debian base, the C library and loader under
//! `/usr/lib/x86_64-linux-gnu`. Those are copied out of the container (bollard
//! `download_from_container`); `/usr/lib/debug` links to the host's, where `libc6-dbg`
//! puts glibc's symbols by build id.

use crate::app::AppSpec;
use crate::build::{artifact, cargo, elf, image, inject};
use crate::matrix::{AllocatorSource, Base, Variant};
use anyhow::Context;
use bollard::Docker;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};

/// Where the C library and the loader live in the debian base.
const LIB_DIR: &str = "/usr/lib/x86_64-linux-gnu";

/// A compiled profiling binary.
pub struct ProfilingBinary {
    pub artifact: artifact::Artifact,
    pub elf: elf::ElfFacts,
}

/// Compiles `variant`'s profiling binary and keeps its own copy.
pub async fn compile(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
) -> anyhow::Result<ProfilingBinary> {
    let injected = match app.allocator_source(variant.allocator) {
        Some(AllocatorSource::Injected) => {
            Some(inject::ensure(root, variant.allocator, variant.link).await?)
        }
        _ => None,
    };
    let built = cargo::compile_profiling(root, app, variant, injected.as_ref()).await?;
    let path = root
        .join("target/harness/profiling")
        .join(&app.name)
        .join(variant.name())
        .join(&app.bin);
    let dir = path.parent().expect("a binary path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::copy(&built, &path)
        .with_context(|| format!("cannot copy {} to {}", built.display(), path.display()))?;
    let sha256 = crate::digest::sha256_file(&path)?;
    let elf = elf::inspect(&path)?;
    Ok(ProfilingBinary {
        artifact: artifact::Artifact { path, sha256 },
        elf,
    })
}

/// The profiling image's tag.
pub fn tag(app: &AppSpec, variant: Variant) -> String {
    crate::labels::variant_tag(&app.name, &format!("{}-profiling", variant.name()))
}

/// Builds the profiling image of `variant` (labelled with `run_id`).
pub async fn image(
    docker: &Docker,
    app: &AppSpec,
    variant: Variant,
    binary: &ProfilingBinary,
    debian_tag: &str,
    run_id: &str,
) -> anyhow::Result<String> {
    let dockerfile = image::dockerfile(variant, &binary.elf, debian_tag)?;
    let bytes = binary.artifact.read_verified(variant)?;
    let tag = tag(app, variant);
    let labels = image::variant_labels(&app.name, variant, run_id);
    image::build(docker, &tag, &dockerfile, &bytes, labels).await?;
    Ok(tag)
}

/// Fills `dir` with what perf needs to resolve a container's samples: the binary at
/// `/app`, and for a base with a C library, that library and the loader copied out of
/// container `id`; `/usr/lib/debug` links to the host's debug symbols.
pub async fn symfs(
    docker: &Docker,
    id: &str,
    variant: Variant,
    binary: &ProfilingBinary,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("usr/lib"))?;
    std::fs::copy(&binary.artifact.path, dir.join("app"))?;
    let _ = std::os::unix::fs::symlink("/usr/lib/debug", dir.join("usr/lib/debug"));
    if variant.base == Base::Scratch || binary.elf.is_static {
        return Ok(dir.to_path_buf());
    }
    let mut names: Vec<String> = binary.elf.needed.clone();
    if let Some(loader) = &binary.elf.interpreter {
        names.extend(
            Path::new(loader)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
        );
    }
    let lib_dir = dir.join(LIB_DIR.trim_start_matches('/'));
    std::fs::create_dir_all(&lib_dir)?;
    for name in names {
        let bytes = download(docker, id, &format!("{LIB_DIR}/{name}")).await?;
        std::fs::write(lib_dir.join(&name), bytes)?;
    }
    // The loader maps them by the paths it was given (`/lib/…`, `/lib64/…`), which the
    // merged /usr links to the same files.
    let _ = std::os::unix::fs::symlink("usr/lib", dir.join("lib"));
    let _ = std::os::unix::fs::symlink("usr/lib/x86_64-linux-gnu", dir.join("lib64"));
    Ok(dir.to_path_buf())
}

/// One regular file of a container (following a symlink once, within the same directory).
async fn download(docker: &Docker, id: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    let options = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = docker.download_from_container(id, Some(options));
    let mut tar_bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        tar_bytes.extend_from_slice(
            &chunk.with_context(|| format!("cannot copy {path} out of the container"))?,
        );
    }
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let entry = archive
        .entries()?
        .next()
        .with_context(|| format!("{path}: empty archive from the container"))??;
    if entry.header().entry_type().is_symlink() {
        let target = entry
            .link_name()?
            .with_context(|| format!("{path}: a symlink without a target"))?
            .to_string_lossy()
            .into_owned();
        let resolved = if target.starts_with('/') {
            target
        } else {
            format!("{LIB_DIR}/{target}")
        };
        anyhow::ensure!(resolved != path, "{path}: a symlink to itself");
        return Box::pin(download(docker, id, &resolved)).await;
    }
    let mut entry = entry;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut bytes)?;
    Ok(bytes)
}

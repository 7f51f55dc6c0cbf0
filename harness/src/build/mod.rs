//! Building variants: cargo builds, ELF facts, image contexts and base-image provisioning.
//!
//! `build_variant` is the one entry point: compile, inspect, and (for docker) package one
//! variant, returning a `BuildRecord` for the results file; its two halves,
//! `compile_variant` and `package_variant`, are public for callers that report each.

pub mod artifact;
pub mod base;
pub mod cargo;
pub mod child;
pub mod elf;
pub mod image;
pub mod inject;
pub mod posture;

use crate::app::AppSpec;
use crate::matrix::{AllocatorSource, Base, Variant};
use crate::results::{BuildRecord, ImageRecord};
use anyhow::Context;
use bollard::Docker;
use std::path::Path;

/// What building one variant produced, for the caller to run.
#[derive(Debug, Clone)]
pub struct Built {
    /// The variant's own copy of its binary, with its digest: every later use takes this.
    pub artifact: artifact::Artifact,
    /// Whether cargo reused an earlier build (the same bytes as the last copy kept).
    pub kept: artifact::Kept,
    pub record: BuildRecord,
    /// The binary's ELF facts, which decide what its image needs.
    pub elf: elf::ElfFacts,
}

/// Where images come from when packaging: the daemon and the debian base, if needed.
pub struct Packaging<'a> {
    pub docker: &'a Docker,
    pub base: Option<&'a base::BaseImage>,
    pub run_id: &'a str,
}

/// The step of a variant's build that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStage {
    /// cargo, the allocator injection, or the checks of the binary.
    Build,
    /// The image build on the daemon.
    Image,
}

impl BuildStage {
    /// As results files and progress lines spell it: `build` or `image`.
    pub fn name(self) -> &'static str {
        match self {
            BuildStage::Build => "build",
            BuildStage::Image => "image",
        }
    }
}

impl std::fmt::Display for BuildStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A build that failed: the step, and why.
pub type StageError = (BuildStage, anyhow::Error);

/// Compiles `variant` of `app` and, given `packaging`, builds its image.
/// The error says which step failed: `build: …` or `image: …`.
pub async fn build_variant(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    cold: bool,
    packaging: Option<&Packaging<'_>>,
) -> Result<Built, StageError> {
    let mut built = compile_variant(root, app, variant, cold).await?;
    if let Some(packaging) = packaging {
        package_variant(app, variant, &mut built, packaging).await?;
    }
    Ok(built)
}

/// The first half of `build_variant`: compile and inspect. Cancelling it (dropping the
/// future) kills cargo.
pub async fn compile_variant(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    cold: bool,
) -> Result<Built, StageError> {
    let build_step = |e| (BuildStage::Build, e);
    let source = app.allocator_source(variant.allocator);
    let injected = match source {
        Some(AllocatorSource::Injected) => Some(
            inject::ensure(root, variant.allocator, variant.link)
                .await
                .map_err(build_step)?,
        ),
        _ => None,
    };
    // Held until the binary is kept: the next build into this dir overwrites cargo's
    // output path.
    let dir_lock = cargo::lock_target_dir(&cargo::app_target_dir(root, app, variant.link))
        .await
        .map_err(build_step)?;
    let compiled = cargo::compile_cancellable(root, app, variant, cold, injected.as_ref())
        .await
        .map_err(build_step)?;
    let (artifact, kept) =
        artifact::keep(root, app, variant, &compiled.path).map_err(build_step)?;
    drop(dir_lock);
    let elf = elf::inspect(&artifact.path).map_err(build_step)?;
    let allocator_check = check_allocator(variant, source, &artifact).map_err(build_step)?;
    let record = BuildRecord {
        allocator_source: source,
        allocator_library: injected.map(|l| l.source),
        allocator_check,
        binary_sha256: Some(artifact.sha256.clone()),
        compile_s: compiled.compile_s,
        compile_cold: compiled.cold,
        compile_kind: Some(compiled.kind),
        binary_bytes: elf.bytes,
        static_binary: elf.is_static,
        interpreter: elf.interpreter.clone(),
        needed_libraries: elf.needed.clone(),
        image: None,
    };
    Ok(Built {
        artifact,
        kept,
        record,
        elf,
    })
}

/// How a built variant got its allocator, for progress lines: `, mimalloc injected` (or
/// `from its feature`); empty for the libc's.
pub fn allocator_note(variant: Variant, record: &BuildRecord) -> String {
    match record.allocator_source {
        None => String::new(),
        Some(AllocatorSource::Feature) => {
            format!(", {} from its feature", variant.allocator.name())
        }
        Some(AllocatorSource::Injected) => format!(", {} injected", variant.allocator.name()),
    }
}

/// Checks that a binary built with an allocator contains it (its marker string, see
/// `inject::marker`), and says so for the record; an error when it does not.
fn check_allocator(
    variant: Variant,
    source: Option<AllocatorSource>,
    artifact: &artifact::Artifact,
) -> anyhow::Result<Option<String>> {
    let (Some(source), Some(marker)) = (source, inject::marker(variant.allocator)) else {
        return Ok(None);
    };
    let bytes = std::fs::read(&artifact.path)
        .with_context(|| format!("cannot read {}", artifact.path.display()))?;
    anyhow::ensure!(
        inject::contains(&bytes, variant.allocator),
        "the {variant} binary does not contain {} (no {marker:?} in it): the {} did not take effect",
        variant.allocator.name(),
        match source {
            AllocatorSource::Feature => "cargo feature",
            AllocatorSource::Injected => "injection",
        }
    );
    Ok(Some(format!("{marker:?} found in the binary")))
}

/// The second half of `build_variant`: build the image of a compiled variant.
pub async fn package_variant(
    app: &AppSpec,
    variant: Variant,
    built: &mut Built,
    packaging: &Packaging<'_>,
) -> Result<(), StageError> {
    let image = package(app, variant, &built.artifact, &built.elf, packaging)
        .await
        .map_err(|e| (BuildStage::Image, e))?;
    built.record.image = Some(image);
    Ok(())
}

async fn package(
    app: &AppSpec,
    variant: Variant,
    binary: &artifact::Artifact,
    elf: &elf::ElfFacts,
    packaging: &Packaging<'_>,
) -> anyhow::Result<ImageRecord> {
    let needs_base = variant.base != Base::Scratch;
    let base = match (needs_base, packaging.base) {
        (false, _) => None,
        (true, Some(base)) => Some(base),
        (true, None) => {
            anyhow::bail!("{variant} needs the debian base image, which is not available")
        }
    };
    let dockerfile = image::dockerfile(variant, elf, base.map_or("", |b| b.tag.as_str()))?;
    let bytes = binary.read_verified(variant)?;
    let tag = crate::labels::variant_tag(&app.name, &variant.name());
    let mut labels = image::variant_labels(&app.name, variant, packaging.run_id);
    labels.insert(
        crate::labels::BINARY_SHA256.to_string(),
        binary.sha256.clone(),
    );
    let built = image::build(packaging.docker, &tag, &dockerfile, &bytes, labels.clone()).await?;
    let posture = posture::measure(packaging.docker, &tag, labels)
        .await
        .with_context(|| format!("cannot measure the security posture of {tag}"))?;
    Ok(ImageRecord {
        tag: built.tag,
        id: built.id,
        image_build_s: built.image_build_s,
        image_bytes: built.image_bytes,
        base_provenance: base.map(|b| b.provenance.clone()),
        posture: Some(posture),
    })
}

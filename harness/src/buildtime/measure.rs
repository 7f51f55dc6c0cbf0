//! The rounds of `harness build --cold`: a copy of the app's workspace, then per round every
//! variant in a shuffled order of that round's own: clean compile, image without the cache,
//! a one-line change, incremental rebuild, image with the cache. The file is written after
//! every variant's round, so what was measured survives a failure or an interrupt.

use super::{BuildSettings, BuildTimes, Method, RoundTimes, VariantTimes};
use crate::app::AppSpec;
use crate::build::{base, cargo, elf, image, inject};
use crate::matrix::{AllocatorSource, Variant};
use crate::progress::Progress;
use anyhow::Context;
use bollard::Docker;
use std::path::{Path, PathBuf};

/// What `harness build --cold` measures.
pub struct Plan<'a> {
    pub root: &'a Path,
    pub app: &'a AppSpec,
    pub variants: &'a [Variant],
    pub rounds: u32,
    pub seed: u64,
    /// The daemon, when images are built.
    pub docker: Option<&'a Docker>,
    pub base: Option<&'a base::BaseImage>,
    pub run_id: &'a str,
    /// Where the file goes: `<out>/<run id>.json`.
    pub out: &'a Path,
}

/// Measures every round; returns the file as written and its path.
pub async fn measure(
    plan: &Plan<'_>,
    progress: &Progress,
) -> anyhow::Result<(BuildTimes, PathBuf)> {
    let path = plan.out.join(format!("{}.json", plan.run_id));
    std::fs::create_dir_all(plan.out)
        .with_context(|| format!("cannot create {}", plan.out.display()))?;
    let workspace = workspace_of(plan.root, plan.app)?;
    let copy = tempfile::Builder::new()
        .prefix("build-time-")
        .tempdir_in(plan.root.join("target"))
        .context("cannot create a copy of the app's workspace under target/")?;
    copy_tree(&workspace, copy.path())?;
    let app = rerooted(plan.app, &workspace, copy.path())?;
    let root = if plan.app.in_workspace {
        copy.path().to_path_buf()
    } else {
        plan.root.to_path_buf()
    };
    let source = main_source(&app)?;
    let mut times = new_file(plan).await;
    for v in plan.variants {
        times.variants.push(VariantTimes {
            variant: v.name(),
            settings: settings(plan.root, &app, *v),
            rounds: Vec::new(),
            failure: None,
        });
    }
    times.save(&path)?;
    for round in 1..=plan.rounds {
        let order = crate::measure::stats::shuffled(plan.variants, plan.seed + u64::from(round));
        times
            .method
            .orders
            .push(order.iter().map(|v| v.name()).collect());
        for (i, variant) in order.iter().enumerate() {
            let slot = plan
                .variants
                .iter()
                .position(|v| v == variant)
                .expect("a planned variant");
            if times.variants[slot].failure.is_some() {
                continue;
            }
            let step = progress.step(format!(
                "round {round}/{}: {variant} ({}/{})",
                plan.rounds,
                i + 1,
                order.len()
            ));
            match one(plan, &root, &app, *variant, &source, round).await {
                Ok(r) => {
                    step.done(format!(
                        "round {round}: {variant}: clean {:.1} s ({} units, {:.1} s CPU), incremental {:.1} s{}",
                        r.clean.wall_s,
                        r.clean.units,
                        r.clean.cpu_s,
                        r.incremental.wall_s,
                        match (r.image_cold_s, r.image_cached_s) {
                            (Some(c), Some(w)) => format!(", image {c:.2} s cold, {w:.2} s cached"),
                            _ => String::new(),
                        }
                    ));
                    times.variants[slot].rounds.push(r);
                }
                Err(e) => {
                    step.done(format!("round {round}: {variant}: failed: {e:#}"));
                    times.variants[slot].failure = Some(format!("round {round}: {e:#}"));
                }
            }
            times.save(&path)?;
        }
    }
    times.finished_at = Some(crate::results::now());
    times.save(&path)?;
    Ok((times, path))
}

/// One variant's round: clean, image cold, the change, incremental, image cached.
async fn one(
    plan: &Plan<'_>,
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    source: &Path,
    round: u32,
) -> anyhow::Result<RoundTimes> {
    let injected = match app.allocator_source(variant.allocator) {
        Some(AllocatorSource::Injected) => {
            Some(inject::ensure(plan.root, variant.allocator, variant.link).await?)
        }
        _ => None,
    };
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-", variant.name()))
        .tempdir_in(plan.root.join("target"))
        .context("cannot create an empty target dir")?;
    let manifest = app.manifest_dir.join("Cargo.toml");
    let compile = |what: &'static str| {
        let command = cargo::command(root, app, variant, dir.path(), injected.as_ref());
        let manifest = manifest.clone();
        async move {
            tokio::task::spawn_blocking(move || super::timed::run(command, &manifest))
                .await
                .context("the timing thread failed")?
                .with_context(|| format!("{what} of {variant}"))
        }
    };
    let binary = dir
        .path()
        .join(variant.link.target())
        .join(cargo::PROFILE)
        .join(&app.bin);
    let clean = compile("the clean compile").await?;
    let image_cold_s = match plan.docker {
        Some(docker) => Some(image_build(plan, docker, app, variant, &binary, true).await?),
        None => None,
    };
    let mut text = std::fs::read_to_string(source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    text.push_str(&format!(
        "// harness build --cold: a one-line change, round {round}, {variant}\n"
    ));
    std::fs::write(source, text).with_context(|| format!("cannot change {}", source.display()))?;
    let incremental = compile("the incremental rebuild").await?;
    // A comment leaves the binary as it was, and Docker would then reuse the COPY layer:
    // one byte appended to the image's copy of it makes the layer change as a real code
    // change would (the binary is never run from this image).
    let mut changed =
        std::fs::read(&binary).with_context(|| format!("cannot read {}", binary.display()))?;
    changed.extend_from_slice(format!("\n{round}").as_bytes());
    let changed_path = dir.path().join(format!("{}-changed", app.bin));
    std::fs::write(&changed_path, &changed).context("cannot write the changed binary")?;
    let image_cached_s = match plan.docker {
        Some(docker) => Some(image_build(plan, docker, app, variant, &changed_path, false).await?),
        None => None,
    };
    if let Some(docker) = plan.docker {
        image::remove_if_built_by(docker, &tag(app, variant), plan.run_id).await;
    }
    Ok(RoundTimes {
        round,
        clean,
        incremental,
        image_cold_s,
        image_cached_s,
    })
}

/// The image of this binary, without the layer cache (`cold`) or with it; its build time.
async fn image_build(
    plan: &Plan<'_>,
    docker: &Docker,
    app: &AppSpec,
    variant: Variant,
    binary: &Path,
    cold: bool,
) -> anyhow::Result<f64> {
    let facts = elf::inspect(binary)?;
    let base = plan.base.map_or("", |b| b.tag.as_str());
    let dockerfile = image::dockerfile(variant, &facts, base)?;
    let bytes =
        std::fs::read(binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let labels = image::variant_labels(&app.name, variant, plan.run_id);
    let built = image::build_with(
        docker,
        &tag(app, variant),
        &dockerfile,
        &bytes,
        labels,
        cold,
    )
    .await?;
    Ok(built.image_build_s)
}

/// The timing builds' own tag, apart from the variant's image a run measures.
fn tag(app: &AppSpec, variant: Variant) -> String {
    crate::labels::variant_tag(&format!("{}-build-time", app.name), &variant.name())
}

async fn new_file(plan: &Plan<'_>) -> BuildTimes {
    let docker_version = match plan.docker {
        Some(docker) => crate::runtime::docker_client::server_version(docker).await,
        None => None,
    };
    BuildTimes {
        kind: super::KIND.into(),
        schema_version: super::SCHEMA_VERSION,
        app: plan.app.name.clone(),
        started_at: crate::results::now(),
        finished_at: None,
        command: std::env::args().collect(),
        environment: crate::environment::collect(
            &crate::plan::default_machine_label(),
            docker_version,
            plan.root,
        ),
        method: Method {
            rounds: plan.rounds,
            seed: plan.seed,
            orders: Vec::new(),
            images: plan.docker.is_some(),
            clean: "cargo build of the variant in an empty target directory of its own, on a copy of the app's workspace; the registry sources already in the cargo home (a CI job with a warmed cargo home, no target cache); dependencies: until the last unit that is not the app's own finished".into(),
            incremental: "the same target directory after a one-line change (a comment appended) to the app's main source file in the copy".into(),
            image_cold: "the variant's image built with no layer cache (the debian base image already on the daemon, as no registry is pulled from)".into(),
            image_cached: "the image built again with the layer cache after the incremental rebuild: only the binary changed (the rebuilt binary with one line appended, since a comment leaves it as it was and Docker would reuse its layer)".into(),
            cpu: "user + system time of cargo and every process it waited for (rustc, build scripts, C compilers, the linker), from wait4".into(),
        },
        baseline: crate::matrix::BASELINE.into(),
        variants: Vec::new(),
    }
}

/// What determined a variant's build.
fn settings(root: &Path, app: &AppSpec, variant: Variant) -> BuildSettings {
    let target = variant.link.target();
    let env = format!(
        "CARGO_TARGET_{}_LINKER",
        target.to_uppercase().replace('-', "_")
    );
    BuildSettings {
        profile: cargo::PROFILE.into(),
        profile_settings: cargo::profile_settings(root, app),
        target: target.into(),
        rustflags: variant.link.rustflags().into(),
        linker: std::env::var(&env).unwrap_or_else(|_| format!("the default of {target}")),
        allocator_source: app.allocator_source(variant.allocator),
    }
}

/// The workspace the app's crate belongs to (its own directory when it has none).
fn workspace_of(root: &Path, app: &AppSpec) -> anyhow::Result<PathBuf> {
    if app.in_workspace {
        return Ok(root.to_path_buf());
    }
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(app.manifest_dir.join("Cargo.toml"))
        .no_deps()
        .exec()
        .with_context(|| {
            format!(
                "cannot read the workspace of {}",
                app.manifest_dir.display()
            )
        })?;
    Ok(metadata.workspace_root.into_std_path_buf())
}

/// `app` as it sits in the copy `to` of the workspace `from`.
fn rerooted(app: &AppSpec, from: &Path, to: &Path) -> anyhow::Result<AppSpec> {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let manifest_dir = canonical(&app.manifest_dir);
    let from = canonical(from);
    let inside = manifest_dir.strip_prefix(&from).with_context(|| {
        format!(
            "{} is not inside {}",
            app.manifest_dir.display(),
            from.display()
        )
    })?;
    let mut copy = app.clone();
    copy.manifest_dir = to.join(inside);
    Ok(copy)
}

/// The source file of the app's binary target, in the copy.
fn main_source(app: &AppSpec) -> anyhow::Result<PathBuf> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(app.manifest_dir.join("Cargo.toml"))
        .no_deps()
        .exec()
        .context("cannot read the copy's cargo metadata")?;
    metadata
        .packages
        .iter()
        .filter(|p| p.name.as_str() == app.package)
        .flat_map(|p| &p.targets)
        .find(|t| t.name == app.bin && t.kind.iter().any(|k| k.to_string() == "bin"))
        .map(|t| t.src_path.clone().into_std_path_buf())
        .with_context(|| format!("no binary target {} in {}", app.bin, app.package))
}

/// Copies the workspace's files, leaving out build output (`target/`) and `.git` (a
/// `.cargo/config.toml` stays: it may decide the build).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        }
    }
    Ok(())
}

//! Which app is measured and how to drive it: a sample app by its short name (`http`,
//! `json`) or any binary crate by its directory (a workspace member by its own directory, or
//! the workspace's with `--package`), read through `cargo metadata`.
//!
//! The sample apps carry the same `[package.metadata.harness]` table any user crate can, so
//! there is one code path. This module owns choosing the package and binary and which
//! allocators it offers; cargo's view of the package is in `package`, the table's fields in
//! `metadata`, `--set` in `overrides`. It does not build or run anything.

pub mod launch;
pub mod metadata;
pub mod overrides;
pub mod package;
pub mod workspace;

use crate::error::usage;
use crate::matrix::{Allocator, AllocatorSource};
use crate::results::AppKind;
pub use launch::Launch;
pub use metadata::{BatchDrive, Drive, RequestSpec, ServerDrive};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
pub use workspace::{workspace, workspace_root};

/// Which package and binary of a crate directory: `--package` and `--bin`.
#[derive(Debug, Clone, Default)]
pub struct Which {
    pub package: Option<String>,
    pub bin: Option<String>,
}

/// An app the harness can build and drive.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// The name used in results and image tags: `http`, `json`, or the package (or `--bin`)
    /// name of a crate given by path.
    pub name: String,
    /// The cargo package name.
    pub package: String,
    /// The binary's name (the file cargo writes).
    pub bin: String,
    /// The directory holding the package's Cargo.toml.
    pub manifest_dir: PathBuf,
    pub kind: AppKind,
    /// How to start it and what to measure.
    pub drive: Drive,
    /// The argument that makes it print a line and exit, for the bare process-start time;
    /// without one that measurement is skipped.
    pub version_arg: Option<String>,
    /// The package's cargo features, implicit ones of optional dependencies included (the
    /// allocator axis uses `mimalloc` and `jemalloc` when it has them).
    pub features: BTreeSet<String>,
    /// A crate of this repository's workspace: built `--locked` with the workspace's
    /// `dist` profile. Any other crate may have no Cargo.lock and no `dist` profile.
    pub in_workspace: bool,
}

impl AppSpec {
    /// Resolves `http` or `json` to the sample app it names, or a path to the crate there.
    pub fn resolve(app: &str, bin: Option<&str>) -> anyhow::Result<AppSpec> {
        let which = Which {
            package: None,
            bin: bin.map(str::to_string),
        };
        AppSpec::resolve_with(app, &which, &[])
    }

    /// As `resolve`, for the package and binary `which` names, with `--set KEY=VALUE`
    /// overrides laid over the crate's harness table.
    ///
    /// Fails first when this binary belongs to another checkout than the one it runs in
    /// (see `workspace`): every crate is built with the checkout's profile and toolchain.
    pub fn resolve_with(app: &str, which: &Which, sets: &[String]) -> anyhow::Result<AppSpec> {
        let root = workspace()?;
        let (name, dir) = match app {
            "http" => (Some(app), root.join("sample-apps/http-server")),
            "json" => (Some(app), root.join("sample-apps/json-cruncher")),
            "service" => (Some(app), root.join("sample-apps/service")),
            path if Path::new(path).join("Cargo.toml").is_file() => (None, PathBuf::from(path)),
            other => {
                return Err(usage(format!(
                    "unknown app {other:?}: expected `http` (the HTTP server), `json` (the JSON cruncher), `service` (the outbound-calling service) or the path of a directory with a Cargo.toml"
                )))
            }
        };
        let dir = std::path::absolute(&dir)
            .map_err(|e| usage(format!("--app {app}: cannot resolve the path: {e}")))?;
        let overrides = overrides::overrides(sets).map_err(usage)?;
        AppSpec::read(name, &dir, which, overrides)
    }

    /// Reads a crate through cargo, with its optional harness table; `name` overrides the
    /// package (or bin) name used in results.
    pub fn from_manifest(
        name: Option<&str>,
        manifest_dir: &Path,
        bin: Option<&str>,
    ) -> anyhow::Result<AppSpec> {
        let which = Which {
            package: None,
            bin: bin.map(str::to_string),
        };
        AppSpec::read(name, manifest_dir, &which, toml::Table::new())
    }

    fn read(
        name: Option<&str>,
        dir: &Path,
        which: &Which,
        overrides: toml::Table,
    ) -> anyhow::Result<AppSpec> {
        let path = dir.join("Cargo.toml");
        let found = package::read(dir, which.package.as_deref(), &workspace_root())
            .map_err(|e| usage(format!("{}: {e}", path.display())))?;
        let mut spec = from_package(found, which.bin.as_deref(), overrides)
            .map_err(|e| usage(format!("{}: {e}", dir.join("Cargo.toml").display())))?;
        if let Some(name) = name {
            spec.name = name.to_string();
        }
        let root = workspace_root()
            .canonicalize()
            .unwrap_or_else(|_| workspace_root());
        spec.in_workspace = spec
            .manifest_dir
            .canonicalize()
            .is_ok_and(|dir| dir.starts_with(&root));
        Ok(spec)
    }

    /// The server settings; `None` for a batch app.
    pub fn server(&self) -> Option<&ServerDrive> {
        match &self.drive {
            Drive::Server(server) => Some(server),
            Drive::Batch(_) => None,
        }
    }

    /// The batch settings; `None` for a server.
    pub fn batch(&self) -> Option<&BatchDrive> {
        match &self.drive {
            Drive::Batch(batch) => Some(batch),
            Drive::Server(_) => None,
        }
    }

    /// Where `allocator` comes from for this crate: its own cargo feature when it has one,
    /// else linked in at build time; `None` for the libc's own.
    pub fn allocator_source(&self, allocator: Allocator) -> Option<AllocatorSource> {
        let feature = allocator.feature()?;
        Some(match self.features.contains(feature) {
            true => AllocatorSource::Feature,
            false => AllocatorSource::Injected,
        })
    }

    /// Where the variant's allocator comes from, for tables: `libc`, or the
    /// `allocator_source` results record (`feature`, `injected`).
    pub fn allocator_note(&self, allocator: Allocator) -> &'static str {
        self.allocator_source(allocator)
            .map_or("libc", AllocatorSource::name)
    }

    /// The path of its Cargo.toml, for messages.
    pub fn manifest_path(&self) -> PathBuf {
        self.manifest_dir.join("Cargo.toml")
    }
}

/// The spec of a package cargo described, its table overlaid with `overrides`.
fn from_package(
    found: package::Package,
    bin: Option<&str>,
    overrides: toml::Table,
) -> Result<AppSpec, String> {
    let mut table = found.harness;
    let overridden: Vec<String> = overrides.keys().cloned().collect();
    table.extend(overrides);
    let table = metadata::HarnessTable::deserialize(table).map_err(|e| {
        let from = match overridden.is_empty() {
            true => String::new(),
            false => format!(" (with --set {})", overridden.join(", ")),
        };
        format!("[package.metadata.harness]{from}: {}", e.message())
    })?;
    let version_arg = table.version_arg();
    let (kind, drive) = table
        .into_drive(&found.manifest_dir)
        .map_err(|e| format!("[package.metadata.harness] {e}"))?;
    let bin = choose_bin(&found.name, &found.bins, bin)?;
    Ok(AppSpec {
        name: bin.to_lowercase(),
        package: found.name,
        bin,
        manifest_dir: found.manifest_dir,
        kind,
        drive,
        version_arg,
        features: found.features,
        in_workspace: false,
    })
}

fn choose_bin(
    package: &str,
    bins: &BTreeSet<String>,
    wanted: Option<&str>,
) -> Result<String, String> {
    let list = || bins.iter().cloned().collect::<Vec<_>>().join(", ");
    match (wanted, bins.len()) {
        (Some(bin), _) if bins.contains(bin) => Ok(bin.to_string()),
        (Some(bin), 0) => Err(format!(
            "--bin {bin}: the package {package} has no binary target"
        )),
        (Some(bin), _) => Err(format!(
            "--bin {bin}: no such binary (the package has: {})",
            list()
        )),
        (None, 1) => Ok(bins.iter().next().expect("one").clone()),
        (None, 0) => Err(format!(
            "the package {package} has no binary target (no src/main.rs, src/bin/ or [[bin]])"
        )),
        (None, _) => Err(format!(
            "the package {package} has several binaries ({}): pick one with --bin",
            list()
        )),
    }
}

/// A throwaway binary crate for tests: `src/main.rs` and the given Cargo.toml.
#[cfg(test)]
pub(crate) fn fixture_crate(cargo_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir_all(dir.path().join("src")).expect("src/");
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}").expect("main.rs");
    std::fs::write(dir.path().join("Cargo.toml"), cargo_toml).expect("Cargo.toml");
    dir
}

#[cfg(test)]
mod tests;

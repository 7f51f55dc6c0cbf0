//! Which app is measured and how to drive it: a sample app by its short name (`http`,
//! `json`) or any binary crate by its directory, read from its Cargo.toml.
//!
//! The sample apps carry the same `[package.metadata.harness]` table any user crate can, so
//! there is one code path. This module owns finding the crate, its binary and its features;
//! the table's fields live in `metadata`. It does not build or run anything.

pub mod metadata;
pub mod workspace;

use crate::error::usage;
use crate::matrix::Allocator;
use crate::results::AppKind;
pub use metadata::{BatchDrive, Drive, PortArg, RequestSpec, ServerDrive};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
pub use workspace::{workspace, workspace_root};

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
    /// The package's cargo features (the allocator axis uses `mimalloc` and `jemalloc`).
    pub features: BTreeSet<String>,
    /// A crate of this repository's workspace: built `--locked` with the workspace's
    /// `dist` profile. Any other crate may have no Cargo.lock and no `dist` profile.
    pub in_workspace: bool,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    package: Package,
    #[serde(default)]
    features: BTreeMap<String, toml::Value>,
    #[serde(default)]
    bin: Vec<BinTarget>,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    /// Kept as TOML until `--set` overrides are laid over it.
    harness: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
struct BinTarget {
    name: Option<String>,
}

impl AppSpec {
    /// Resolves `http` or `json` to the sample app it names, or a path to the crate there.
    pub fn resolve(app: &str, bin: Option<&str>) -> anyhow::Result<AppSpec> {
        AppSpec::resolve_with(app, bin, &[])
    }

    /// As `resolve`, with `--set KEY=VALUE` overrides laid over the crate's harness table.
    ///
    /// Fails first when this binary belongs to another checkout than the one it runs in
    /// (see `workspace`): every crate is built with the checkout's profile and toolchain.
    pub fn resolve_with(app: &str, bin: Option<&str>, sets: &[String]) -> anyhow::Result<AppSpec> {
        let root = workspace()?;
        let (name, dir) = match app {
            "http" => (Some(app), root.join("sample-apps/http-server")),
            "json" => (Some(app), root.join("sample-apps/json-cruncher")),
            path if Path::new(path).join("Cargo.toml").is_file() => (None, PathBuf::from(path)),
            other => {
                return Err(usage(format!(
                    "unknown app {other:?}: expected `http` (the HTTP server), `json` (the JSON cruncher) or the path of a directory with a Cargo.toml"
                )))
            }
        };
        let dir = std::path::absolute(&dir)
            .map_err(|e| usage(format!("--app {app}: cannot resolve the path: {e}")))?;
        let overrides = metadata::overrides(sets).map_err(usage)?;
        AppSpec::from_manifest_with(name, &dir, bin, overrides)
    }

    /// Reads a crate's Cargo.toml and its optional harness table; `name` overrides the
    /// package (or bin) name used in results.
    pub fn from_manifest(
        name: Option<&str>,
        manifest_dir: &Path,
        bin: Option<&str>,
    ) -> anyhow::Result<AppSpec> {
        AppSpec::from_manifest_with(name, manifest_dir, bin, toml::Table::new())
    }

    fn from_manifest_with(
        name: Option<&str>,
        manifest_dir: &Path,
        bin: Option<&str>,
        overrides: toml::Table,
    ) -> anyhow::Result<AppSpec> {
        let path = manifest_dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            usage(format!(
                "{}: cannot read: {e} (expected a Rust binary crate)",
                path.display()
            ))
        })?;
        let mut spec = parse_manifest(manifest_dir, &text, bin, overrides)
            .map_err(|e| usage(format!("{}: {e}", path.display())))?;
        if let Some(name) = name {
            spec.name = name.to_string();
        }
        let root = workspace_root()
            .canonicalize()
            .unwrap_or_else(|_| workspace_root());
        spec.in_workspace = manifest_dir
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

    /// Why `allocator` is not offered for this crate: it has no cargo feature of that name.
    pub fn allocator_missing(&self, allocator: Allocator) -> Option<String> {
        let feature = allocator.feature()?;
        if self.features.contains(feature) {
            return None;
        }
        let offered: Vec<&str> = Allocator::ALL
            .iter()
            .filter(|a| a.feature().is_none_or(|f| self.features.contains(f)))
            .map(|a| a.name())
            .collect();
        let only = match offered.as_slice() {
            [one] => format!("only the {one} allocator"),
            many => format!("only the {} allocators", many.join(", ")),
        };
        Some(format!(
            "no `{feature}` feature in {}: {only}",
            self.manifest_path().display()
        ))
    }

    /// The path of its Cargo.toml, for messages.
    pub fn manifest_path(&self) -> PathBuf {
        self.manifest_dir.join("Cargo.toml")
    }
}

fn parse_manifest(
    manifest_dir: &Path,
    text: &str,
    bin: Option<&str>,
    overrides: toml::Table,
) -> Result<AppSpec, String> {
    let manifest: Manifest =
        toml::from_str(text).map_err(|e| format!("not a crate manifest: {}", e.message()))?;
    let mut table = manifest
        .package
        .metadata
        .and_then(|m| m.harness)
        .unwrap_or_default();
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
        .into_drive(manifest_dir)
        .map_err(|e| format!("[package.metadata.harness] {e}"))?;
    let package = manifest.package.name;
    let bins = binaries(manifest_dir, &package, &manifest.bin);
    let bin = choose_bin(&package, &bins, bin)?;
    Ok(AppSpec {
        name: bin.to_lowercase(),
        package,
        bin,
        manifest_dir: manifest_dir.to_path_buf(),
        kind,
        drive,
        version_arg,
        features: manifest.features.into_keys().collect(),
        in_workspace: false,
    })
}

/// The package's binary targets: `[[bin]]` entries, `src/main.rs`, and `src/bin/*`.
fn binaries(dir: &Path, package: &str, declared: &[BinTarget]) -> BTreeSet<String> {
    let mut bins: BTreeSet<String> = declared.iter().filter_map(|b| b.name.clone()).collect();
    if dir.join("src/main.rs").is_file() {
        bins.insert(package.to_string());
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
        for entry in entries.flatten() {
            let path = entry.path();
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let is_bin =
                path.extension().is_some_and(|e| e == "rs") || path.join("main.rs").is_file();
            if let (true, Some(stem)) = (is_bin, stem) {
                bins.insert(stem);
            }
        }
    }
    bins
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

//! The package as cargo sees it, read through `cargo metadata`: its name, binaries and
//! features (the implicit feature of an optional dependency included), the member of a
//! workspace a directory or `--package` names, fields inherited with `workspace = true`, and
//! its `[package.metadata.harness]` table.
//!
//! Cargo is the one source of truth: nothing here reads Cargo.toml by hand. This module picks
//! the package and its binary; what the harness table means is `metadata`'s business.

use cargo_metadata::{Metadata, MetadataCommand, TargetKind};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the harness needs of one package.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// The directory of the package's own Cargo.toml (a member's, in a workspace).
    pub manifest_dir: PathBuf,
    pub bins: BTreeSet<String>,
    /// Every feature cargo knows, implicit ones of optional dependencies included.
    pub features: BTreeSet<String>,
    /// `[package.metadata.harness]`, empty when absent.
    pub harness: toml::Table,
}

/// Reads the package in `dir` (or the workspace member `package`), with the toolchain of
/// `toolchain_dir` (the harness checkout, whose rust-toolchain.toml every build uses).
pub fn read(dir: &Path, package: Option<&str>, toolchain_dir: &Path) -> Result<Package, String> {
    let manifest = dir.join("Cargo.toml");
    let metadata = MetadataCommand::new()
        .manifest_path(&manifest)
        .current_dir(toolchain_dir)
        .no_deps()
        .exec()
        .map_err(|e| cargo_error(&e))?;
    let found = pick(&metadata, &manifest, package)?;
    let harness = match found.metadata.get("harness") {
        None | Some(serde_json::Value::Null) => toml::Table::new(),
        Some(value @ serde_json::Value::Object(_)) => {
            serde::Deserialize::deserialize(value.clone()).map_err(|e: serde_json::Error| {
                format!("[package.metadata.harness] cannot be read: {e}")
            })?
        }
        Some(_) => return Err("[package.metadata.harness] is not a table".into()),
    };
    let manifest_dir = found
        .manifest_path
        .parent()
        .map_or_else(|| dir.to_path_buf(), |p| p.as_std_path().to_path_buf());
    Ok(Package {
        name: found.name.to_string(),
        manifest_dir,
        bins: found
            .targets
            .iter()
            .filter(|t| t.is_kind(TargetKind::Bin))
            .map(|t| t.name.clone())
            .collect(),
        features: found.features.keys().cloned().collect(),
        harness,
    })
}

/// The package `package` names, else the one whose manifest is `manifest`, else the only
/// member of a virtual workspace with a binary.
fn pick<'m>(
    metadata: &'m Metadata,
    manifest: &Path,
    package: Option<&str>,
) -> Result<&'m cargo_metadata::Package, String> {
    let members = metadata.workspace_packages();
    let names = || {
        members
            .iter()
            .map(|p| p.name.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(wanted) = package {
        return members
            .iter()
            .find(|p| p.name.as_str() == wanted)
            .copied()
            .ok_or_else(|| {
                format!(
                    "--package {wanted}: no such package in the workspace (it has: {})",
                    names()
                )
            });
    }
    let manifest = manifest.canonicalize().unwrap_or(manifest.to_path_buf());
    let own = members.iter().find(|p| {
        p.manifest_path
            .as_std_path()
            .canonicalize()
            .is_ok_and(|m| m == manifest)
    });
    if let Some(own) = own {
        return Ok(own);
    }
    let with_bins: Vec<_> = members
        .iter()
        .filter(|p| p.targets.iter().any(|t| t.is_kind(TargetKind::Bin)))
        .collect();
    match with_bins.as_slice() {
        [one] => Ok(one),
        _ => Err(format!(
            "a workspace without a package of its own (members: {}): pick one with --package NAME, or give the member's directory",
            names()
        )),
    }
}

/// Cargo's own error line(s), without its `Caused by:` boilerplate.
fn cargo_error(error: &cargo_metadata::Error) -> String {
    match error {
        cargo_metadata::Error::CargoMetadata { stderr } => {
            // Cargo's source snippets (`--> file:3:11`, `3 | version = 1`, `^`) add nothing
            // to one line.
            let snippet = |l: &str| {
                l.starts_with("-->")
                    || l.starts_with('=')
                    || l.split_once('|')
                        .is_some_and(|(n, _)| n.trim().chars().all(|c| c.is_ascii_digit()))
                    || l.chars().all(|c| c == '^' || c == '-' || c.is_whitespace())
            };
            let lines: Vec<&str> = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("warning:") && *l != "Caused by:")
                .filter(|l| !snippet(l))
                .take(3)
                .collect();
            format!("cargo metadata failed: {}", lines.join(" "))
        }
        other => format!("cannot run `cargo metadata`: {other}"),
    }
}

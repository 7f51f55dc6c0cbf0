//! Which app is measured and how to drive it, read from its `[package.metadata.harness]`.
//!
//! The sample apps carry the same metadata table any user crate can, so there is one code
//! path. This module owns finding the crate and reading that table; it does not build or run.

use crate::error::usage;
use crate::results::AppKind;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// An app the harness can build and drive.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    /// The short name used in results (`http`, `json`).
    pub name: String,
    /// The cargo package name.
    pub package: String,
    /// The binary's name (the file cargo writes).
    pub bin: String,
    /// The directory holding the package's Cargo.toml.
    pub manifest_dir: PathBuf,
    pub kind: AppKind,
    /// The flag that sets the listen address (servers).
    pub addr_flag: String,
    /// The path polled for readiness (servers).
    pub ready_path: String,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    package: Package,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    harness: Option<HarnessTable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HarnessTable {
    kind: Option<String>,
    addr_flag: Option<String>,
    ready_path: Option<String>,
}

/// The repository root (where the workspace Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

impl AppSpec {
    /// Resolves `http` or `json` to the sample app it names.
    pub fn resolve(name: &str) -> anyhow::Result<AppSpec> {
        let dir = match name {
            "http" => "sample-apps/http-server",
            "json" => "sample-apps/json-cruncher",
            other => {
                return Err(usage(format!(
                    "unknown app {other:?}: expected `http` (the HTTP server) or `json` (the JSON cruncher)"
                )))
            }
        };
        AppSpec::from_manifest(name, &workspace_root().join(dir))
    }

    /// Reads a crate's Cargo.toml and its optional harness table.
    pub fn from_manifest(name: &str, manifest_dir: &Path) -> anyhow::Result<AppSpec> {
        let path = manifest_dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            usage(format!(
                "{}: cannot read: {e} (expected a Rust binary crate)",
                path.display()
            ))
        })?;
        parse_manifest(name, manifest_dir, &text)
            .map_err(|e| usage(format!("{}: {e}", path.display())))
    }
}

fn parse_manifest(name: &str, manifest_dir: &Path, text: &str) -> Result<AppSpec, String> {
    let manifest: Manifest =
        toml::from_str(text).map_err(|e| format!("not a crate manifest: {}", e.message()))?;
    let table = manifest
        .package
        .metadata
        .and_then(|m| m.harness)
        .unwrap_or_default();
    let kind = match table.kind.as_deref() {
        None | Some("server") => AppKind::Server,
        Some("batch") => AppKind::Batch,
        Some(other) => {
            return Err(format!(
                "[package.metadata.harness] kind {other:?}: expected \"server\" or \"batch\""
            ))
        }
    };
    let package = manifest.package.name;
    Ok(AppSpec {
        name: name.to_string(),
        bin: package.clone(),
        package,
        manifest_dir: manifest_dir.to_path_buf(),
        kind,
        addr_flag: table.addr_flag.unwrap_or_else(|| "--addr".into()),
        ready_path: table.ready_path.unwrap_or_else(|| "/".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_apps_resolve_from_their_metadata() {
        let http = AppSpec::resolve("http").unwrap();
        assert_eq!(
            (http.package.as_str(), http.kind),
            ("http-server", AppKind::Server)
        );
        assert_eq!(http.ready_path, "/plaintext");
        let json = AppSpec::resolve("json").unwrap();
        assert_eq!(
            (json.bin.as_str(), json.kind),
            ("json-cruncher", AppKind::Batch)
        );
    }

    #[test]
    fn missing_table_falls_back_and_bad_kind_is_named() {
        let spec = parse_manifest("x", Path::new("/x"), "[package]\nname = \"svc\"\n").unwrap();
        assert_eq!(
            (spec.kind, spec.ready_path.as_str()),
            (AppKind::Server, "/")
        );
        let err = parse_manifest(
            "x",
            Path::new("/x"),
            "[package]\nname=\"a\"\n[package.metadata.harness]\nkind=\"cron\"\n",
        )
        .unwrap_err();
        assert!(err.contains("\"cron\""), "{err}");
        assert!(AppSpec::resolve("grpc")
            .unwrap_err()
            .to_string()
            .contains("unknown app \"grpc\""));
    }
}

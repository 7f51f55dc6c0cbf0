//! Each variant's own copy of its binary, and the SHA-256 digest that proves which binary
//! was measured.
//!
//! Two variants of one link kind (`musl-system` and `musl-mimalloc`) share a cargo target
//! dir, so cargo's output path holds only the last one built. Right after each variant's
//! build its binary is copied to `target/harness/artifacts/<app>/<variant>/<bin>` (written
//! to a temporary file and renamed, so a process already running the old file keeps it), and
//! every later use (image context, native launch) takes that copy and checks its digest
//! first. This module owns the copy and the digest; it does not build or run anything.

use crate::app::AppSpec;
pub use crate::digest::{sha256_file, sha256_hex, sha256_reader, short};
use crate::matrix::Variant;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// A variant's binary at a path of its own, with the digest it had when it was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
}

/// The binary a digest check found in place of the one that was built.
#[derive(Debug, thiserror::Error)]
#[error(
    "the binary of {variant} at {path} is not the one that was built: sha256 {found}, built as \
     {expected} (another build or run replaced it; build again)"
)]
pub struct DigestMismatch {
    pub variant: String,
    pub path: String,
    pub expected: String,
    pub found: String,
}

/// What keeping a fresh build found at the artifact's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// No earlier copy, or a different binary: this build is new.
    New,
    /// The same bytes as the copy an earlier build left: cargo reused its build.
    Reused,
}

/// Where `variant` of `app` keeps its binary.
pub fn artifact_path(root: &Path, app: &AppSpec, variant: Variant) -> PathBuf {
    root.join("target")
        .join("harness")
        .join("artifacts")
        .join(app_key(app))
        .join(variant.name())
        .join(&app.bin)
}

/// The app's directory name: its name for workspace apps, name and path hash otherwise, so
/// two outside crates of one name never share artifacts.
fn app_key(app: &AppSpec) -> String {
    if app.in_workspace {
        return app.name.clone();
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    app.manifest_dir.hash(&mut hasher);
    format!("{}-{:08x}", app.name, hasher.finish() as u32)
}

/// Copies `built` (cargo's output) to `variant`'s own path and digests it.
pub fn keep(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    built: &Path,
) -> anyhow::Result<(Artifact, Kept)> {
    let path = artifact_path(root, app, variant);
    let dir = path.parent().expect("an artifact path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let sha256 = sha256_file(built)?;
    let kept = match sha256_file(&path) {
        Ok(previous) if previous == sha256 => Kept::Reused,
        _ => Kept::New,
    };
    let temp = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::fs::copy(built, temp.path())
        .with_context(|| format!("cannot copy {} to {}", built.display(), dir.display()))?;
    std::fs::set_permissions(
        temp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    temp.persist(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let artifact = Artifact { path, sha256 };
    // The copy must be what was digested (a concurrent build could replace cargo's file).
    artifact.verify(variant)?;
    if !app.in_workspace {
        record_source(root, app)?;
    }
    Ok((artifact, kept))
}

/// The file in an outside crate's artifact dir that names the crate's directory.
const SOURCE_FILE: &str = "source";

/// Notes which directory an outside crate's artifacts came from, and removes the artifacts
/// of outside crates whose directory is gone (a test's tempdir, a deleted checkout): their
/// dir names hash a path that no build can name again, so without this they would pile up
/// one per crate copy. Only dirs that say where they came from are touched.
fn record_source(root: &Path, app: &AppSpec) -> anyhow::Result<()> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let all = root.join("target").join("harness").join("artifacts");
    let own = all.join(app_key(app));
    let source = own.join(SOURCE_FILE);
    std::fs::write(&source, app.manifest_dir.as_os_str().as_bytes())
        .with_context(|| format!("cannot write {}", source.display()))?;
    for entry in std::fs::read_dir(&all).into_iter().flatten().flatten() {
        let Ok(from) = std::fs::read(entry.path().join(SOURCE_FILE)) else {
            continue;
        };
        let from = std::ffi::OsString::from_vec(from);
        if !Path::new(&from).exists() && entry.path() != own {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

impl Artifact {
    /// Checks that the file still has the digest it was built with.
    pub fn verify(&self, variant: Variant) -> anyhow::Result<()> {
        self.expect(variant, sha256_file(&self.path)?)
    }

    /// An error naming both digests when `found` is not the digest it was built with.
    fn expect(&self, variant: Variant, found: String) -> anyhow::Result<()> {
        if found != self.sha256 {
            return Err(DigestMismatch {
                variant: variant.name(),
                path: self.path.display().to_string(),
                expected: self.sha256.clone(),
                found,
            }
            .into());
        }
        Ok(())
    }

    /// The file's bytes, checked against the digest (for an image's build context).
    pub fn read_verified(&self, variant: Variant) -> anyhow::Result<Vec<u8>> {
        let bytes = std::fs::read(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        self.expect(variant, sha256_hex(&bytes))?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppSpec {
        AppSpec::resolve("json", None).unwrap()
    }

    #[test]
    fn digests_are_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_reader(&b"abc"[..]).unwrap(), sha256_hex(b"abc"));
    }

    #[test]
    fn variants_of_one_link_kind_keep_separate_copies() {
        let root = tempfile::tempdir().unwrap();
        let app = app();
        let system: Variant = "musl-system-scratch".parse().unwrap();
        let mimalloc: Variant = "musl-mimalloc-scratch".parse().unwrap();
        // One cargo output path, overwritten by the second build, as cargo does.
        let cargo_out = root.path().join("json-cruncher");
        std::fs::write(&cargo_out, b"system build").unwrap();
        let (a, kept_a) = keep(root.path(), &app, system, &cargo_out).unwrap();
        std::fs::write(&cargo_out, b"mimalloc build").unwrap();
        let (b, _) = keep(root.path(), &app, mimalloc, &cargo_out).unwrap();
        assert_ne!(a.path, b.path);
        assert_ne!(a.sha256, b.sha256);
        assert_eq!(std::fs::read(&a.path).unwrap(), b"system build");
        assert_eq!(kept_a, Kept::New);
        a.verify(system).unwrap();
        b.verify(mimalloc).unwrap();
        // Building the same bytes again is a reuse.
        std::fs::write(&cargo_out, b"system build").unwrap();
        assert_eq!(
            keep(root.path(), &app, system, &cargo_out).unwrap().1,
            Kept::Reused
        );
    }

    #[test]
    fn a_replaced_binary_is_an_error_naming_both_digests() {
        let root = tempfile::tempdir().unwrap();
        let variant: Variant = "musl-system-scratch".parse().unwrap();
        let cargo_out = root.path().join("out");
        std::fs::write(&cargo_out, b"one").unwrap();
        let (artifact, _) = keep(root.path(), &app(), variant, &cargo_out).unwrap();
        std::fs::write(&artifact.path, b"two").unwrap();
        for e in [
            artifact.verify(variant).unwrap_err(),
            artifact.read_verified(variant).unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(text.contains(&sha256_hex(b"one")), "{text}");
            assert!(text.contains(&sha256_hex(b"two")), "{text}");
            assert!(text.contains("musl-system-scratch"), "{text}");
        }
    }
}

//! Which checkout of this repository the harness measures, found when it runs.
//!
//! A checkout is a directory with the workspace `Cargo.toml` and `harness/Cargo.toml`. The
//! harness measures the checkout the current directory is in, else the one its binary was
//! built into (`<checkout>/target/…/harness`), else the tree it was compiled from. It refuses,
//! with one line, when the binary belongs to another checkout than the current directory: the
//! sample apps, the `dist` profile and the git commit in the results would come from one tree
//! and the harness's code from another. A copy of a checkout whose `target/` cargo did not
//! rebuild is fine: cargo found the copy's sources unchanged, so its binary is the copy's.
//! This module finds the checkout; it does not build or read crates.

use crate::error::prerequisite;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The tree this binary was compiled from (fixed at compile time, so only a fallback).
fn built_from() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The checkout to measure, found once per process; an error is one line for the user.
pub fn workspace() -> anyhow::Result<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let cwd = std::env::current_dir().ok();
        let exe = std::env::current_exe().ok();
        locate(cwd.as_deref(), exe.as_deref(), &built_from())
    });
    found.clone().map_err(prerequisite)
}

/// The checkout to measure. Commands reach it through `AppSpec::resolve`, which calls
/// `workspace()` first and stops on its error; this falls back to the compile-time tree only
/// for callers (tests) that never resolve an app.
pub fn workspace_root() -> PathBuf {
    workspace().unwrap_or_else(|_| built_from())
}

/// The checkout given the current directory, the binary's path and the compile-time tree.
pub fn locate(
    cwd: Option<&Path>,
    exe: Option<&Path>,
    built_from: &Path,
) -> Result<PathBuf, String> {
    let here = cwd.and_then(enclosing_checkout);
    let binary = exe.and_then(enclosing_checkout);
    match (here, binary) {
        (Some(here), Some(binary)) if same(&here, &binary) => Ok(here),
        (Some(here), Some(binary)) => Err(format!(
            "this harness binary belongs to the checkout {}, but the current directory is in the checkout {}: run that checkout's own harness (`cargo run --release -p harness -- …` there) or change directory",
            binary.display(),
            here.display()
        )),
        (None, Some(binary)) => Ok(binary),
        (Some(here), None) if same(&here, built_from) => Ok(here),
        (Some(here), None) => Err(format!(
            "this harness binary was built from {}, not from the checkout {} it runs in: build this checkout's harness (`cargo build --release -p harness` there) and run that",
            built_from.display(),
            here.display()
        )),
        (None, None) if is_checkout(built_from) => Ok(built_from.to_path_buf()),
        (None, None) => Err(format!(
            "cannot find a checkout of the harness: the current directory is not in one, and {} (where this binary was built) is gone; run it from inside a checkout",
            built_from.display()
        )),
    }
}

/// The nearest directory at or above `path` that is a checkout.
fn enclosing_checkout(path: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    path.ancestors()
        .find(|d| is_checkout(d))
        .map(Path::to_path_buf)
}

fn is_checkout(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file() && dir.join("harness/Cargo.toml").is_file()
}

fn same(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare checkout: the two manifests that mark one, and a target dir with a binary.
    fn checkout(root: &Path) -> PathBuf {
        std::fs::create_dir_all(root.join("harness")).unwrap();
        std::fs::create_dir_all(root.join("target/release")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(root.join("harness/Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(root.join("target/release/harness"), "").unwrap();
        root.to_path_buf()
    }

    #[test]
    fn the_checkout_of_the_current_directory_and_its_own_binary() {
        let dir = tempfile::tempdir().unwrap();
        let copy = checkout(&dir.path().join("copy"));
        let original = dir.path().join("original");
        let exe = copy.join("target/release/harness");
        // A copied checkout whose binary cargo did not rebuild still names the original as
        // its compile-time tree: the copy is measured, not the original.
        let found = locate(Some(&copy.join("sample-apps")), Some(&exe), &original);
        assert_eq!(found, Ok(copy.clone()));
        // Run from anywhere else, the binary's own checkout.
        assert_eq!(locate(Some(dir.path()), Some(&exe), &original), Ok(copy));
    }

    #[test]
    fn a_binary_of_another_checkout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = checkout(&dir.path().join("a"));
        let b = checkout(&dir.path().join("b"));
        let err = locate(Some(&b), Some(&a.join("target/release/harness")), &a).unwrap_err();
        assert!(
            err.contains(&a.display().to_string()) && err.contains(&b.display().to_string()),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        // An installed binary (outside any checkout) built from `a`, run inside `b`.
        let installed = dir.path().join("bin/harness");
        let err = locate(Some(&b), Some(&installed), &a).unwrap_err();
        assert!(err.contains("was built from"), "{err}");
        // The same binary run inside `a`, or from outside any checkout: `a`.
        assert_eq!(locate(Some(&a), Some(&installed), &a), Ok(a.clone()));
        assert_eq!(locate(Some(dir.path()), Some(&installed), &a), Ok(a));
        let gone = dir.path().join("gone");
        assert!(locate(Some(dir.path()), Some(&installed), &gone).is_err());
    }

    #[test]
    fn this_test_runs_in_this_checkout() {
        let root = workspace().unwrap();
        assert!(root.join("harness/src/app/workspace.rs").is_file());
        assert_eq!(root, built_from());
    }
}

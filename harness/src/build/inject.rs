//! Allocators for crates that have no feature for them: the allocator's C library, built
//! once per target, linked into the unchanged crate's final binary so that its `malloc` and
//! `free` replace the libc's (musl allows that in a static link, glibc by interposition).
//!
//! The library is built from the C sources its `-sys` crate ships in the crate registry, by
//! cargo itself: a generated crate depending on `libmimalloc-sys` (feature `override`) or
//! `tikv-jemalloc-sys` (feature `unprefixed_malloc_on_supported_platforms`, so its symbols
//! are `malloc`, not `_rjem_malloc`) is built for the target, and the `-sys` crate's build
//! script compiles the sources with the target's C compiler (musl-gcc for musl), as it does
//! for the cargo feature. The static library it leaves is copied to
//! `target/harness/allocators/<crate>-<version>/<target>/` and reused from then on. This
//! module owns building and finding the library, its link arguments, and the string that
//! shows a binary contains it; `cargo` puts the arguments on the final link.

use crate::matrix::{Allocator, Link};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An allocator's static library, ready to link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The directory holding only `lib<name>.a`.
    pub dir: PathBuf,
    /// The name to link (`harness_mimalloc`), distinct from anything a crate links itself.
    pub name: &'static str,
    /// Where its sources came from: `libmimalloc-sys 0.1.49 (feature override)`.
    pub source: String,
}

/// How to build one allocator's library.
struct Recipe {
    krate: &'static str,
    version: &'static str,
    features: &'static str,
    /// The library the build script leaves, relative to its OUT_DIR.
    built: &'static str,
    name: &'static str,
}

/// The pinned `-sys` crates (the versions this workspace's own mimalloc and jemalloc
/// features use, see Cargo.lock), so every injected build links the same C code.
fn recipe(allocator: Allocator) -> Option<Recipe> {
    match allocator {
        Allocator::System => None,
        Allocator::Mimalloc => Some(Recipe {
            krate: "libmimalloc-sys",
            version: "0.1.49",
            features: "\"override\"",
            built: "libmimalloc.a",
            name: "harness_mimalloc",
        }),
        Allocator::Jemalloc => Some(Recipe {
            krate: "tikv-jemalloc-sys",
            version: "0.7.1",
            features: "\"background_threads_runtime_support\", \"unprefixed_malloc_on_supported_platforms\"",
            built: "lib/libjemalloc_pic.a",
            name: "harness_jemalloc",
        }),
    }
}

/// A string every binary with this allocator contains (its messages' prefix), and none
/// without it: the check that injection (or the feature) took effect in a stripped binary.
pub fn marker(allocator: Allocator) -> Option<&'static str> {
    match allocator {
        Allocator::System => None,
        Allocator::Mimalloc => Some("mimalloc: "),
        Allocator::Jemalloc => Some("<jemalloc>: "),
    }
}

/// Whether `binary` (its bytes) contains `allocator`'s marker.
pub fn contains(binary: &[u8], allocator: Allocator) -> bool {
    marker(allocator).is_some_and(|m| binary.windows(m.len()).any(|w| w == m.as_bytes()))
}

impl Library {
    /// The rustc arguments that link it, whole, into the final binary.
    pub fn rustc_args(&self) -> Vec<String> {
        vec![
            "-L".into(),
            format!("native={}", self.dir.display()),
            "-l".into(),
            format!("static:+whole-archive={}", self.name),
        ]
    }
}

/// `allocator`'s library for `link`'s target: the cached one, or built now (minutes for
/// jemalloc, once per target). Cancelling the future kills the build.
pub async fn ensure(root: &Path, allocator: Allocator, link: Link) -> anyhow::Result<Library> {
    let recipe = recipe(allocator).context("the libc's allocator is not injected")?;
    let home = root
        .join("target/harness/allocators")
        .join(format!("{}-{}", recipe.krate, recipe.version));
    let dir = home.join(link.target());
    let library = Library {
        dir: dir.clone(),
        name: recipe.name,
        source: format!(
            "{} {} (features {})",
            recipe.krate,
            recipe.version,
            recipe.features.replace('"', "")
        ),
    };
    let file = dir.join(format!("lib{}.a", recipe.name));
    if file.is_file() {
        return Ok(library);
    }
    let out_dir = build(root, &home, &recipe, link)
        .await
        .with_context(|| format!("cannot build {} for {}", recipe.krate, link.target()))?;
    let built = out_dir.join(recipe.built);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Through a temporary name: a concurrent run never links a half-copied library.
    let temp = tempfile::NamedTempFile::new_in(&dir)?;
    std::fs::copy(&built, temp.path())
        .with_context(|| format!("the build left no {}", built.display()))?;
    temp.persist(&file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(library)
}

/// Builds the generated crate for `link`'s target; returns the `-sys` crate's OUT_DIR.
async fn build(root: &Path, home: &Path, recipe: &Recipe, link: Link) -> anyhow::Result<PathBuf> {
    let krate = home.join("crate");
    std::fs::create_dir_all(&krate)
        .with_context(|| format!("cannot create {}", krate.display()))?;
    let manifest = format!(
        "# Generated by the harness: builds {krate} {version} for allocator injection.\n\
         [package]\nname = \"harness-allocator\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\npath = \"lib.rs\"\n\n\
         [dependencies]\n{krate} = {{ version = \"={version}\", default-features = false, features = [{features}] }}\n\n\
         # Not a member of any workspace above it.\n[workspace]\n",
        krate = recipe.krate,
        version = recipe.version,
        features = recipe.features,
    );
    write_if_changed(&krate.join("Cargo.toml"), &manifest)?;
    write_if_changed(&krate.join("lib.rs"), "#![no_std]\n")?;
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(root)
        .args(["build", "--release", "--message-format=json"])
        .arg("--manifest-path")
        .arg(krate.join("Cargo.toml"))
        .args(["--target", link.target()])
        .arg("--target-dir")
        .arg(home.join("build"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::piped());
    let output = super::child::output_cancellable(command).await?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error") || l.contains("not found"))
            .take(3)
            .collect();
        anyhow::bail!("cargo failed: {}", errors.join(" | "));
    }
    out_dir(&String::from_utf8_lossy(&output.stdout), recipe.krate)
        .context("cargo did not say where the build script's output went")
}

/// The OUT_DIR of `krate`'s build script, from cargo's JSON messages.
fn out_dir(messages: &str, krate: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "build-script-executed")
        .find(|m| {
            m["package_id"].as_str().is_some_and(|id| {
                id.contains(&format!("#{krate}@")) || id.contains(&format!("/{krate}#"))
            })
        })
        .and_then(|m| m["out_dir"].as_str().map(PathBuf::from))
}

fn write_if_changed(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let dir = path.parent().context("a path with a parent")?;
    let temp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(temp.path(), text)?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_out_dir_is_read_from_cargos_messages() {
        let messages = r#"{"reason":"build-script-executed","package_id":"registry+https://github.com/rust-lang/crates.io-index#libc@0.2.1","out_dir":"/t/libc/out"}
{"reason":"build-script-executed","package_id":"registry+https://github.com/rust-lang/crates.io-index#tikv-jemalloc-sys@0.7.1+5.3.1","out_dir":"/t/jemalloc/out"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            out_dir(messages, "tikv-jemalloc-sys"),
            Some(PathBuf::from("/t/jemalloc/out"))
        );
        assert_eq!(out_dir(messages, "libmimalloc-sys"), None);
    }

    #[test]
    fn markers_tell_the_allocators_apart() {
        let with = b"\x00\x01mimalloc: option\x00";
        assert!(contains(with, Allocator::Mimalloc));
        assert!(!contains(with, Allocator::Jemalloc));
        assert!(!contains(with, Allocator::System));
        let library = Library {
            dir: "/x".into(),
            name: "harness_mimalloc",
            source: String::new(),
        };
        assert_eq!(
            library.rustc_args(),
            [
                "-L",
                "native=/x",
                "-l",
                "static:+whole-archive=harness_mimalloc"
            ]
        );
    }
}

//! Compiling one variant's binary with cargo, into a target dir per link kind.
//!
//! Each link kind gets its own target dir (`target/variants/<link>`) so switching RUSTFLAGS
//! between kinds never invalidates another kind's cache. A crate from outside this
//! repository gets its own dirs (`target/apps/<package>-<digest of its manifest and lock
//! file>/<link>`, `build_key`): its first build counts as cold, a copy of it elsewhere reuses
//! its builds, and removing one crate's builds touches no other's. It
//! is built without `--locked` (it may have no Cargo.lock) and with the `dist` profile given
//! on the command line (it has no such profile). An allocator the crate has no feature for is
//! linked into the final binary only, by `cargo rustc … -- -l static:+whole-archive=…`
//! (through RUSTFLAGS every crate would carry it, and the link would see it twice); the
//! library comes from `inject`. This module owns the cargo command line and its timing; it
//! does not package images.

use super::child::output_cancellable;
use super::inject;
use crate::app::AppSpec;
use crate::matrix::{AllocatorSource, Link, Variant};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The cargo profile every variant is built with (see the root Cargo.toml).
pub const PROFILE: &str = "dist";

/// A compiled binary and what it cost.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub path: PathBuf,
    pub compile_s: f64,
    /// True when the target dir held no previous build of this link kind.
    pub cold: bool,
    /// What cargo did: compiled everything, some units, or nothing.
    pub kind: crate::results::CompileKind,
}

/// The `dist` profile of the root Cargo.toml, for crates outside the workspace.
const DIST_PROFILE_CONFIG: [&str; 5] = [
    "profile.dist.inherits=\"release\"",
    "profile.dist.lto=\"fat\"",
    "profile.dist.codegen-units=1",
    "profile.dist.panic=\"abort\"",
    "profile.dist.strip=true",
];

/// Hidden, for the project's own tests (the integration-test binary sets it before `main`,
/// like its image namespace, so every `harness` it starts inherits it): set to anything,
/// every variant is built with `TEST_BUILD_CONFIG` on top of the `dist` profile, into
/// target dirs of its own (`<link>-test`). The tests check what the harness does with a
/// binary, never how fast the binary is, and they compile every crate they run for two or
/// three targets. Never a way to measure: the build-time file records the settings a build
/// really had.
pub const TEST_BUILDS_ENV: &str = "GLIBC_VS_MUSL_TEST_BUILDS";

/// What a test build changes in the `dist` profile: no LTO, parallel codegen, light
/// optimisation (panic strategy and stripping stay, so images hold what a user's would).
pub const TEST_BUILD_CONFIG: [&str; 3] = [
    "profile.dist.lto=false",
    "profile.dist.codegen-units=16",
    "profile.dist.opt-level=1",
];

/// Whether `TEST_BUILDS_ENV` is set.
pub fn test_builds() -> bool {
    std::env::var_os(TEST_BUILDS_ENV).is_some()
}

/// The directory a link kind's builds go into, inside a crate's target dirs.
fn link_dir_name(link: Link) -> String {
    if test_builds() {
        format!("{}-test", link.name())
    } else {
        link.name().to_string()
    }
}

/// Where a link kind's builds go.
pub fn target_dir(root: &Path, link: Link) -> PathBuf {
    root.join("target")
        .join("variants")
        .join(link_dir_name(link))
}

/// Where `app`'s builds for `link` go: the shared dir for workspace crates, its own otherwise.
pub fn app_target_dir(root: &Path, app: &AppSpec, link: Link) -> PathBuf {
    if app.in_workspace {
        return target_dir(root, link);
    }
    root.join("target")
        .join("apps")
        .join(build_key(app))
        .join(link_dir_name(link))
}

/// An outside crate's target dir name: `<package>-<digest>` of what decides its dependency
/// builds (the package and binary names, its Cargo.toml and Cargo.lock), never of where the
/// crate sits. Two copies of one crate (a test's tempdir each run, a second checkout) then
/// share one dir and its compiled dependencies; a source edit is cargo's incremental rebuild
/// in the same dir; a changed manifest or lock file gets a dir of its own, as a different
/// dependency set would rebuild most of it anyway. Sharing is always correct: cargo
/// fingerprints every input, and `lock_target_dir` serialises builds into one dir.
pub fn build_key(app: &AppSpec) -> String {
    let read = |name: &str| std::fs::read(app.manifest_dir.join(name)).unwrap_or_default();
    let mut identity = Vec::new();
    for part in [
        app.package.as_bytes(),
        app.bin.as_bytes(),
        &read("Cargo.toml"),
        &read("Cargo.lock"),
    ] {
        identity.extend_from_slice(&(part.len() as u64).to_le_bytes());
        identity.extend_from_slice(part);
    }
    let digest = crate::digest::sha256_hex(&identity);
    format!("{}-{}", app.package, &digest[..16])
}

/// An exclusive lock on a target dir, from one build's start until its binary is kept:
/// cargo locks the dir only while it builds, and a second build into the dir (another
/// variant of the link kind, another copy of the crate) would replace the output before the
/// first copied it. Released on drop, and by the kernel if the process dies.
pub struct TargetDirLock {
    _file: std::fs::File,
}

/// Waits (cancellably) for the lock of `dir`.
pub async fn lock_target_dir(dir: &Path) -> anyhow::Result<TargetDirLock> {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(".harness-build.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    loop {
        // SAFETY: flock on a descriptor this function owns for the call's duration.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(TargetDirLock { _file: file });
        }
        let error = std::io::Error::last_os_error();
        anyhow::ensure!(
            error.raw_os_error() == Some(libc::EWOULDBLOCK),
            "cannot lock {}: {error}",
            path.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Where one cargo invocation's output lands.
struct Prepared {
    dir: PathBuf,
    /// A cold build's temporary target dir, removed when this is dropped.
    scratch_dir: Option<tempfile::TempDir>,
    was_cold: bool,
}

/// Compiles `app` for `variant`. `cold` builds in a fresh target dir (removed afterwards) so
/// the time includes every dependency.
pub fn compile(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    cold: bool,
) -> anyhow::Result<Compiled> {
    anyhow::ensure!(
        app.allocator_source(variant.allocator) != Some(AllocatorSource::Injected),
        "{variant}: an injected allocator is built through `build::compile_variant`"
    );
    let (mut command, prepared) = prepare(root, app, variant, cold, None)?;
    let start = Instant::now();
    let output = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run cargo: is it on PATH?")?;
    finish(root, app, variant, prepared, &output, start.elapsed())
}

/// `compile` for async callers that may be cancelled (a run's Ctrl-C): cargo runs in a
/// process group of its own, and dropping the future kills the whole group, so no cargo or
/// rustc is left holding the target dir's lock.
pub async fn compile_cancellable(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    cold: bool,
    injected: Option<&inject::Library>,
) -> anyhow::Result<Compiled> {
    let (mut command, prepared) = prepare(root, app, variant, cold, injected)?;
    command.stdout(Stdio::null());
    let start = Instant::now();
    let output = output_cancellable(command).await?;
    finish(root, app, variant, prepared, &output, start.elapsed())
}

/// What a profiling build changes in the `dist` profile: symbols and line tables kept,
/// nothing else (same optimisation, LTO, codegen units and panic strategy as the measured
/// binary). Config settings take precedence over the manifest's profile.
pub const PROFILING_CONFIG: [&str; 2] = [
    "profile.dist.strip=false",
    "profile.dist.debug=\"line-tables-only\"",
];

/// Compiles `variant` of `app` as a profiling binary (`PROFILING_CONFIG`), in target dirs of
/// its own so the measured builds' caches are left alone; returns cargo's output path.
pub async fn compile_profiling(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    injected: Option<&inject::Library>,
) -> anyhow::Result<PathBuf> {
    let measured = app_target_dir(root, app, variant.link);
    let dir = measured
        .parent()
        .unwrap_or(root)
        .join(format!("{}-profiling", link_dir_name(variant.link)));
    let mut command = cargo_command(root, app, variant, &dir, injected, &PROFILING_CONFIG);
    command.stdout(Stdio::null());
    let output = output_cancellable(command).await?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "{} profiling build failed: {}",
            variant.link.name(),
            explain_failure(&stderr, variant.link)
        );
    }
    Ok(dir.join(variant.link.target()).join(PROFILE).join(&app.bin))
}

fn prepare(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    cold: bool,
    injected: Option<&inject::Library>,
) -> anyhow::Result<(Command, Prepared)> {
    let link = variant.link;
    let (dir, scratch_dir) = if cold {
        let temp = tempfile::Builder::new()
            .prefix(&format!("cold-{}-", variant.name()))
            .tempdir_in(root.join("target"))
            .context("cannot create a clean target dir for a cold build")?;
        (temp.path().to_path_buf(), Some(temp))
    } else {
        (app_target_dir(root, app, link), None)
    };
    let was_cold = cold || !dir.join(link.target()).join(PROFILE).exists();
    let command = cargo_command(root, app, variant, &dir, injected, &[]);
    Ok((
        command,
        Prepared {
            dir,
            scratch_dir,
            was_cold,
        },
    ))
}

fn finish(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    prepared: Prepared,
    output: &std::process::Output,
    took: std::time::Duration,
) -> anyhow::Result<Compiled> {
    let link = variant.link;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "{} build failed: {}",
            variant.link.name(),
            explain_failure(&stderr, link)
        );
    }
    let built = prepared
        .dir
        .join(link.target())
        .join(PROFILE)
        .join(&app.bin);
    // A cold build's dir is removed: keep the binary by copying it next to the warm ones.
    let path = match prepared.scratch_dir {
        Some(_) => {
            let keep = app_target_dir(root, app, link)
                .join("cold-binaries")
                .join(variant.name());
            std::fs::create_dir_all(&keep).context("cannot keep the cold build's binary")?;
            let dest = keep.join(&app.bin);
            std::fs::copy(&built, &dest)
                .with_context(|| format!("cannot copy {}", built.display()))?;
            dest
        }
        None => {
            if !app.in_workspace {
                prune_stale_binaries(&prepared.dir, link, &app.bin);
            }
            built
        }
    };
    // cargo says `Compiling <crate>` for every unit it compiles, and nothing for a fresh one.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let compiled = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Compiling "))
        .count();
    let kind = match (prepared.was_cold, compiled) {
        (true, _) => crate::results::CompileKind::Clean,
        (false, 0) => crate::results::CompileKind::Reused,
        (false, _) => crate::results::CompileKind::Incremental,
    };
    Ok(Compiled {
        path,
        compile_s: took.as_secs_f64(),
        cold: prepared.was_cold,
        kind,
    })
}

/// Removes the binaries earlier copies of an outside crate left in its shared target dir.
/// Each copy's path gives its own build a hash of its own (`deps/<bin>-<hash>`), so a dir
/// shared by every copy (`build_key`) would gain one binary per copy built; only the one
/// cargo just hard-linked to the output path is kept. When cargo copied instead of linking,
/// the current one cannot be told apart, and nothing is removed.
fn prune_stale_binaries(dir: &Path, link: Link, bin: &str) {
    use std::os::unix::fs::MetadataExt;
    let out = dir.join(link.target()).join(PROFILE);
    let Ok(current) = std::fs::metadata(out.join(bin)) else {
        return;
    };
    let prefix = format!("{}-", bin.replace('-', "_"));
    let ours: Vec<PathBuf> = std::fs::read_dir(out.join("deps"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    let stem = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.split('.').next().unwrap_or(name).to_string()
    };
    let Some(keep) = ours
        .iter()
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.ino() == current.ino() && m.dev() == current.dev())
        })
        .map(|p| stem(p))
    else {
        return;
    };
    for path in ours.iter().filter(|p| stem(p) != keep) {
        let _ = std::fs::remove_file(path);
    }
}

/// The cargo command that builds `variant` of `app` into `target_dir`, as every build of
/// the harness runs it (`harness build --cold` times it).
pub fn command(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    target_dir: &Path,
    injected: Option<&inject::Library>,
) -> Command {
    cargo_command(root, app, variant, target_dir, injected, &[])
}

/// The `dist` profile's settings a build of `app` gets, as `key=value`: the workspace's
/// `[profile.dist]` for its own crates, the harness's copy of it for any other.
/// With `TEST_BUILDS_ENV` set, `TEST_BUILD_CONFIG` replaces the settings of its keys.
pub fn profile_settings(root: &Path, app: &AppSpec) -> Vec<String> {
    let mut settings: Vec<String> = if app.in_workspace {
        workspace_profile_settings(root)
    } else {
        DIST_PROFILE_CONFIG
            .iter()
            .map(|s| s.trim_start_matches("profile.dist.").to_string())
            .collect()
    };
    if test_builds() {
        settings = with_test_builds(settings);
    }
    settings
}

/// `settings` with `TEST_BUILD_CONFIG`'s replacing those of the same keys.
fn with_test_builds(mut settings: Vec<String>) -> Vec<String> {
    for setting in TEST_BUILD_CONFIG {
        let setting = setting.trim_start_matches("profile.dist.");
        settings.retain(|s| setting_key(s) != setting_key(setting));
        settings.push(setting.to_string());
    }
    settings
}

fn workspace_profile_settings(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    manifest
        .get("profile")
        .and_then(|p| p.get(PROFILE))
        .and_then(|d| d.as_table())
        .map(|t| t.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default()
}

/// `key` of a `key=value` setting.
fn setting_key(setting: &str) -> &str {
    setting.split('=').next().unwrap_or("")
}

fn cargo_command(
    root: &Path,
    app: &AppSpec,
    variant: Variant,
    target_dir: &Path,
    injected: Option<&inject::Library>,
    extra_config: &[&str],
) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let subcommand = if injected.is_some() { "rustc" } else { "build" };
    command
        .current_dir(root)
        .args([subcommand, "--profile", PROFILE])
        .arg("--manifest-path")
        .arg(app.manifest_dir.join("Cargo.toml"))
        .args(["--bin", &app.bin, "--target", variant.link.target()])
        .arg("--target-dir")
        .arg(target_dir)
        // Set explicitly so a user's RUSTFLAGS cannot make two variants differ silently.
        .env("RUSTFLAGS", variant.link.rustflags())
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        // Its `Compiling` lines tell a clean, an incremental and a reused build apart.
        .env_remove("CARGO_TERM_QUIET");
    // A profiling build's settings, then a test build's, replace the `dist` ones of the
    // same key (a later `--config` would win anyway; one setting per key reads plainly).
    let mut extra: Vec<&str> = extra_config.to_vec();
    if test_builds() {
        extra.extend(TEST_BUILD_CONFIG);
    }
    if app.in_workspace {
        command.arg("--locked");
    } else {
        for setting in DIST_PROFILE_CONFIG
            .iter()
            .filter(|s| !extra.iter().any(|e| setting_key(e) == setting_key(s)))
        {
            command.args(["--config", setting]);
        }
    }
    for setting in extra {
        command.args(["--config", setting]);
    }
    if app.allocator_source(variant.allocator) == Some(AllocatorSource::Feature) {
        command.args(["--features", variant.allocator.name()]);
    }
    if let Some(library) = injected {
        // Last: what follows `--` goes to rustc, for the final binary only.
        command.arg("--").args(library.rustc_args());
    }
    command
}

/// The last meaningful lines of cargo's output, with a hint for the usual musl problems:
/// a missing target or musl-gcc, OpenSSL, and other build scripts (C libraries).
fn explain_failure(stderr: &str, link: Link) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.starts_with("error") || l.contains("not installed") || l.contains("No such file")
        })
        .take(4)
        .collect();
    let detail = if errors.is_empty() {
        last_lines(stderr, 4)
    } else {
        errors.join(" | ")
    };
    if stderr.contains("target may not be installed")
        || stderr.contains("can't find crate for `std`")
    {
        return format!("{detail} (fix: rustup target add {})", link.target());
    }
    if link == Link::Musl && stderr.contains("musl-gcc") {
        return format!("{detail} (fix: apt-get install musl-tools)");
    }
    // A known cause goes first, so the one line a user reads says what to change.
    if stderr.contains("openssl-sys") || stderr.contains("OpenSSL") {
        return format!(
            "openssl-sys needs OpenSSL headers and libraries built for {} (use rustls, or openssl's `vendored` feature); cargo: {detail}",
            link.target()
        );
    }
    match build_script_message(stderr) {
        Some(message) => format!(
            "a build script failed: {message} (crates that build C code need a C toolchain and libraries for {}); cargo: {detail}",
            link.target()
        ),
        None => detail,
    }
}

/// What a failed build script wrote to stderr (its panic message, or its last lines).
fn build_script_message(stderr: &str) -> Option<String> {
    let (_, after) = stderr.split_once("--- stderr")?;
    let lines: Vec<&str> = after
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note:") && !l.starts_with("warning:"))
        .take_while(|l| !l.starts_with("error"))
        .filter(|l| !l.starts_with("thread '"))
        .collect();
    (!lines.is_empty()).then(|| lines.iter().take(3).copied().collect::<Vec<_>>().join(" "))
}

fn last_lines(text: &str, n: usize) -> String {
    let mut lines: Vec<&str> = text.lines().rev().take(n).collect();
    lines.reverse();
    lines.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_build_replaces_lto_codegen_units_and_opt_level_and_keeps_the_rest() {
        let dist: Vec<String> = DIST_PROFILE_CONFIG
            .iter()
            .map(|s| s.trim_start_matches("profile.dist.").to_string())
            .collect();
        let mut test = with_test_builds(dist);
        test.sort();
        assert_eq!(
            test,
            [
                "codegen-units=16",
                "inherits=\"release\"",
                "lto=false",
                "opt-level=1",
                "panic=\"abort\"",
                "strip=true"
            ]
        );
    }

    /// An outside crate at `dir` with `manifest` (and `main` as its source).
    fn outside(dir: &Path, manifest: &str, main: &str) -> AppSpec {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(dir.join("src/main.rs"), main).unwrap();
        let mut app = AppSpec::resolve("http", None).unwrap();
        (app.package, app.bin, app.in_workspace) = ("demo".into(), "demo".into(), false);
        app.manifest_dir = dir.to_path_buf();
        app
    }

    #[test]
    fn copies_of_a_crate_share_a_target_dir_and_a_changed_manifest_gets_its_own() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let root = Path::new("/repo");
        let manifest = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n";
        let first = outside(a.path(), manifest, "fn main() {}");
        // Another place, another source: the same dependency set, the same dir.
        let second = outside(b.path(), manifest, "fn main() { println!(); }");
        let dir = app_target_dir(root, &first, Link::Musl);
        assert_eq!(dir, app_target_dir(root, &second, Link::Musl));
        assert!(
            dir.to_str().unwrap().starts_with("/repo/target/apps/demo-"),
            "{}",
            dir.display()
        );
        assert_ne!(dir, app_target_dir(root, &first, Link::Glibc));
        // A dependency added to the manifest, or a lock file, moves it.
        let third = outside(
            b.path(),
            &format!("{manifest}[dependencies]\nitoa = \"1\"\n"),
            "",
        );
        assert_ne!(dir, app_target_dir(root, &third, Link::Musl));
        std::fs::write(a.path().join("Cargo.lock"), "version = 3\n").unwrap();
        assert_ne!(dir, app_target_dir(root, &first, Link::Musl));
    }

    #[test]
    fn stale_binaries_of_earlier_copies_are_removed_and_the_current_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(Link::Musl.target()).join(PROFILE);
        std::fs::create_dir_all(out.join("deps")).unwrap();
        for name in [
            "my_app-1111",
            "my_app-1111.d",
            "my_app-2222",
            "my_app-2222.d",
            "libdep-3333.rlib",
        ] {
            std::fs::write(out.join("deps").join(name), name).unwrap();
        }
        std::fs::hard_link(out.join("deps/my_app-2222"), out.join("my-app")).unwrap();
        prune_stale_binaries(dir.path(), Link::Musl, "my-app");
        let mut left: Vec<String> = std::fs::read_dir(out.join("deps"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["libdep-3333.rlib", "my_app-2222", "my_app-2222.d"]);
        // Not hard-linked (cargo copied): nothing can be told apart, nothing goes.
        std::fs::remove_file(out.join("my-app")).unwrap();
        std::fs::write(out.join("my-app"), "copy").unwrap();
        std::fs::write(out.join("deps/my_app-4444"), "x").unwrap();
        prune_stale_binaries(dir.path(), Link::Musl, "my-app");
        assert!(out.join("deps/my_app-4444").exists());
    }

    #[test]
    fn failure_explanations_name_the_fix() {
        let e = explain_failure("error[E0463]: can't find crate for `std`\n  = note: the `x86_64-unknown-linux-musl` target may not be installed", Link::Musl);
        assert!(
            e.contains("rustup target add x86_64-unknown-linux-musl"),
            "{e}"
        );
        let e = explain_failure(
            "warning: x\nerror: failed to run custom build command for `openssl-sys`",
            Link::Musl,
        );
        assert!(e.contains("openssl-sys needs"), "{e}");
        assert!(e.contains("use rustls"), "{e}");
        let script = "error: failed to run custom build command for `c-thing v0.1.0 (/x)`\n\nCaused by:\n  process didn't exit successfully: `/x/build-script-build` (exit status: 101)\n  --- stderr\n\n  thread 'main' panicked at build.rs:3:9:\n  libfoo has no musl build\n  note: run with `RUST_BACKTRACE=1`\n";
        let e = explain_failure(script, Link::Musl);
        assert!(
            e.contains("failed to run custom build command for `c-thing"),
            "{e}"
        );
        assert!(
            e.contains("a build script failed: libfoo has no musl build"),
            "{e}"
        );
    }

    #[test]
    fn each_link_has_its_own_target_dir() {
        let root = Path::new("/r");
        let dirs: Vec<_> = Link::ALL.iter().map(|&l| target_dir(root, l)).collect();
        assert_eq!(dirs[2], Path::new("/r/target/variants/musl"));
        assert!(dirs[0] != dirs[1] && dirs[1] != dirs[2]);
    }
}

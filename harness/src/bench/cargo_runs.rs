//! The child processes of `harness bench`: locating the workspace, building the `workloads`
//! benches for one variant with cargo, then listing and running the bench binaries that
//! build produced, directly (one process per repeat, without cargo in between).
//!
//! glibc-system builds for the host like a plain `cargo bench`, so the two share artifacts;
//! musl and glibc-static pass `--target` (glibc-static adds `+crt-static`, which with an
//! explicit target reaches only the target's artifacts). Every bench process gets its own
//! `CRITERION_HOME`, so criterion saves where `criterion.rs` reads and no process compares
//! itself with another. This module owns command lines and the children's output; it does
//! not own what criterion saves or how results are compared.

use crate::error::prerequisite;
use crate::matrix::Link;
use crate::plan::bench::BenchVariant;
use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The package that holds the benches.
pub const PACKAGE: &str = "workloads";
/// How many of a failing child's last output lines an error quotes.
const TAIL_LINES: usize = 25;

/// Where cargo builds and which benches the `workloads` package declares.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// The `[[bench]]` targets, in the order `cargo metadata` gives (by name).
    pub benches: Vec<String>,
}

#[derive(Deserialize)]
struct Metadata {
    target_directory: PathBuf,
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    targets: Vec<MetaTarget>,
}

#[derive(Deserialize)]
struct MetaTarget {
    name: String,
    kind: Vec<String>,
}

impl Workspace {
    /// Asks `cargo metadata` (so `CARGO_TARGET_DIR` and cargo config are honoured).
    pub fn locate(root: &Path) -> anyhow::Result<Workspace> {
        let output = Command::new(cargo_program())
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(root)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| {
                prerequisite(format!("cannot run cargo: {e} (install Rust with rustup)"))
            })?;
        if !output.status.success() {
            bail!("`cargo metadata` in {} failed", root.display());
        }
        let metadata: Metadata = serde_json::from_slice(&output.stdout)
            .context("`cargo metadata` printed something other than its JSON")?;
        let package = metadata
            .packages
            .iter()
            .find(|p| p.name == PACKAGE)
            .with_context(|| format!("no package `{PACKAGE}` in {}", root.display()))?;
        let benches = package
            .targets
            .iter()
            .filter(|t| t.kind.iter().any(|k| k == "bench"))
            .map(|t| t.name.clone())
            .collect();
        Ok(Workspace {
            root: root.to_path_buf(),
            target_dir: metadata.target_directory,
            benches,
        })
    }

    /// Where criterion saves its estimates for every variant.
    pub fn criterion_home(&self) -> PathBuf {
        self.target_dir.join("criterion")
    }

    /// `cargo bench -p workloads` with the variant's target, features and flags.
    fn cargo_bench(&self, variant: BenchVariant) -> Command {
        let mut cmd = Command::new(cargo_program());
        cmd.current_dir(&self.root)
            .args(["bench", "-p", PACKAGE])
            .env("CRITERION_HOME", self.criterion_home());
        if variant.link != Link::Glibc {
            cmd.args(["--target", variant.link.target()]);
        }
        if let Some(feature) = variant.allocator.feature() {
            cmd.args(["--features", feature]);
        }
        let flags = variant.link.rustflags();
        if !flags.is_empty() {
            let mut rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
            rustflags.push(' ');
            rustflags.push_str(flags);
            cmd.env("RUSTFLAGS", rustflags.trim());
        }
        cmd
    }

    /// Builds every bench of the variant without running any; the bench binaries by target.
    pub fn build(&self, variant: BenchVariant) -> anyhow::Result<Binaries> {
        let mut cmd = self.cargo_bench(variant);
        cmd.args([
            "--benches",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ]);
        let output = run_captured(cmd, variant)?;
        check_status(&output, variant, "build the benches")?;
        let binaries = parse_artifacts(&String::from_utf8_lossy(&output.stdout));
        if let Some(missing) = self.benches.iter().find(|b| !binaries.contains_key(*b)) {
            bail!("cargo built no binary for bench `{missing}` of {variant}");
        }
        Ok(binaries)
    }

    /// The ids of the benches in one bench binary that match `filter`.
    pub fn list(
        &self,
        variant: BenchVariant,
        binary: &Path,
        filter: Option<&str>,
    ) -> anyhow::Result<Vec<String>> {
        let mut cmd = self.bench_process(binary);
        cmd.args(["--bench", "--list"]).args(filter);
        let output = run_captured(cmd, variant)?;
        check_status(&output, variant, &format!("list {}", binary.display()))?;
        Ok(parse_list(&String::from_utf8_lossy(&output.stdout)))
    }

    /// One bench binary as cargo would start it: from the package's directory.
    fn bench_process(&self, binary: &Path) -> Command {
        let mut cmd = Command::new(binary);
        cmd.current_dir(&self.root);
        cmd
    }

    /// Runs one bench process saving under `criterion_home`, handing each line criterion
    /// prints to `on_line`.
    pub fn measure(
        &self,
        variant: BenchVariant,
        binary: &Path,
        criterion_home: &Path,
        criterion_args: &[String],
        on_line: &mut dyn FnMut(&str),
    ) -> anyhow::Result<()> {
        let mut cmd = self.bench_process(binary);
        cmd.arg("--bench").args(criterion_args);
        cmd.env("CRITERION_HOME", criterion_home);
        cmd.stdin(Stdio::null());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| spawn_error(e, variant))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let tail = std::thread::spawn(move || read_tail(stderr));
        let stdout = child.stdout.take().expect("stdout is piped");
        for line in BufReader::new(stdout).lines() {
            on_line(&line.context("reading criterion's output")?);
        }
        let status = child.wait().context("waiting for cargo bench")?;
        let tail = tail.join().expect("the stderr reader does not panic");
        if !status.success() {
            bail!(
                "{} for {variant} failed ({status}):\n{}",
                binary.display(),
                tail.join("\n")
            );
        }
        Ok(())
    }
}

/// A variant's bench binaries, by bench target name.
pub type Binaries = BTreeMap<String, PathBuf>;

/// One line of cargo's `--message-format=json`: only artifacts of bench targets matter.
#[derive(Deserialize)]
struct Artifact {
    reason: String,
    target: Option<MetaTarget>,
    executable: Option<PathBuf>,
}

/// The bench executables among cargo's JSON messages (one per line).
pub fn parse_artifacts(stdout: &str) -> Binaries {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Artifact>(line).ok())
        .filter(|a| a.reason == "compiler-artifact")
        .filter_map(|a| {
            let target = a.target?;
            let bench = target.kind.iter().any(|k| k == "bench");
            bench.then_some((target.name, a.executable?))
        })
        .collect()
}

/// Criterion's `--list` output: one `<id>: benchmark` line per bench that matches.
pub fn parse_list(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_suffix(": benchmark"))
        .map(str::to_string)
        .collect()
}

/// The cargo that runs us (when run through cargo), else the one on PATH.
fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn run_captured(mut cmd: Command, variant: BenchVariant) -> anyhow::Result<std::process::Output> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(e, variant))
}

fn spawn_error(e: std::io::Error, variant: BenchVariant) -> anyhow::Error {
    prerequisite(format!(
        "cannot run cargo for {variant}: {e} (install Rust with rustup)"
    ))
}

/// A failed child becomes one error with the end of its output; a missing target is a
/// prerequisite with its fix.
fn check_status(
    output: &std::process::Output,
    variant: BenchVariant,
    what: &str,
) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let target = variant.link.target();
    if stderr.contains("target may not be installed") {
        return Err(prerequisite(format!(
            "cannot {what} for {variant}: the {target} target is not installed: run `rustup target add {target}`"
        )));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    bail!(
        "cannot {what} for {variant} ({}):\n{}",
        output.status,
        tail.join("\n")
    )
}

fn read_tail(stream: impl Read) -> Vec<String> {
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    for line in BufReader::new(stream).lines().map_while(Result::ok) {
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_output_keeps_only_bench_ids() {
        let out = "Gnuplot not found\nalloc/small_churn/10000: benchmark\nalloc/big_block/1MiB: benchmark\n\n";
        assert_eq!(
            parse_list(out),
            ["alloc/small_churn/10000", "alloc/big_block/1MiB"]
        );
        assert!(parse_list("").is_empty());
    }

    #[test]
    fn bench_executables_are_read_from_cargos_messages() {
        let out = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"workloads"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bench"],"name":"alloc"},"executable":"/t/release/deps/alloc-1f"}
{"reason":"compiler-message","message":{}}
not json
{"reason":"build-finished","success":true}"#;
        let binaries = parse_artifacts(out);
        assert_eq!(binaries.len(), 1);
        assert_eq!(binaries["alloc"], Path::new("/t/release/deps/alloc-1f"));
    }

    #[test]
    fn the_workspace_declares_the_six_benches() {
        let ws = Workspace::locate(&crate::app::workspace_root()).unwrap();
        assert_eq!(
            ws.benches,
            ["alloc", "control", "json", "memory", "startup", "threads"]
        );
        assert!(ws.criterion_home().ends_with("criterion"));
    }

    #[test]
    fn commands_carry_target_features_and_flags() {
        let ws = Workspace {
            root: "/w".into(),
            target_dir: "/w/target".into(),
            benches: vec![],
        };
        let args = |name: &str| {
            let cmd = ws.cargo_bench(BenchVariant::parse(name).unwrap());
            let args: Vec<String> = cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let rustflags = cmd
                .get_envs()
                .find(|(k, _)| *k == "RUSTFLAGS")
                .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()));
            (args.join(" "), rustflags)
        };
        assert_eq!(args("glibc-system"), ("bench -p workloads".into(), None));
        assert_eq!(
            args("musl-mimalloc").0,
            "bench -p workloads --target x86_64-unknown-linux-musl --features mimalloc"
        );
        let (line, flags) = args("glibc-static-system");
        assert_eq!(line, "bench -p workloads --target x86_64-unknown-linux-gnu");
        assert!(flags.unwrap().ends_with("-C target-feature=+crt-static"));
    }
}

//! The agent's image: this harness built static for musl with the `agent` profile, in a
//! scratch image tagged by the binary's digest, built on the target daemon from an
//! in-memory context (no registry). A daemon that has the tag already is not sent it again.

use crate::build::image;
use crate::labels;
use anyhow::Context;
use bollard::Docker;
use std::path::{Path, PathBuf};

/// The target the agent is built for: static, runs in scratch on any x86_64 Linux.
pub const TARGET: &str = "x86_64-unknown-linux-musl";
/// The cargo profile of the agent build (see the workspace's Cargo.toml).
pub const PROFILE: &str = "agent";
/// Overrides where the agent binary comes from (a prebuilt static harness).
pub const BINARY_ENV: &str = "HARNESS_AGENT_BINARY";

/// The agent binary: `HARNESS_AGENT_BINARY`, else built from the workspace's own source
/// (`cargo build --profile agent --target x86_64-unknown-linux-musl -p harness`; a no-op
/// when up to date).
pub async fn binary(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(BINARY_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        anyhow::ensure!(
            path.is_file(),
            "{BINARY_ENV}={} is not a file (unset it to build the agent from source)",
            path.display()
        );
        return Ok(path);
    }
    let mut command =
        tokio::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    command
        .args(["build", "--quiet", "--profile", PROFILE, "--target", TARGET])
        .args(["-p", "harness", "--bin", "harness"])
        .current_dir(root);
    if crate::build::cargo::test_builds() {
        // The project's tests (`TEST_BUILDS_ENV`): no optimisation. They check what the agent
        // does, never how fast; this is the suite's largest compile (the whole harness for
        // musl), and unoptimised it costs under half the CPU time of opt-level 1 (157 against
        // 372 CPU-s, cold, on the 2-core CI machine).
        command.args(["--config", "profile.agent.opt-level=0"]);
    }
    let output = command
        .output()
        .await
        .context("cannot run cargo to build the measuring agent")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        anyhow::bail!(
            "the measuring agent did not build (cargo build --profile {PROFILE} --target {TARGET} -p harness): {} (run `harness doctor --fix` for the musl target, or use --agent never)",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        );
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target_dir.join(TARGET).join(PROFILE).join("harness"))
}

/// The agent's tag for a binary with this digest: `<namespace>/agent:<12 hex digits>`.
pub fn tag(sha256: &str) -> String {
    format!(
        "{}/agent:{}",
        labels::image_namespace(),
        &sha256[..12.min(sha256.len())]
    )
}

/// Makes sure `docker` has the agent image of `binary`; returns its tag.
pub async fn ensure(docker: &Docker, binary: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(binary)
        .with_context(|| format!("cannot read the agent binary {}", binary.display()))?;
    let sha256 = crate::digest::sha256_hex(&bytes);
    let tag = tag(&sha256);
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(tag);
    }
    let dockerfile = format!(
        "FROM scratch\nCOPY app /app\nUSER {}\nENTRYPOINT [\"/app\", \"agent\"]\n",
        image::USER
    );
    let labels = labels::with_tool(&[(labels::ROLE, "agent"), (labels::BINARY_SHA256, &sha256)]);
    image::build(docker, &tag, &dockerfile, &bytes, labels)
        .await
        .context("cannot build the agent image on the daemon")?;
    Ok(tag)
}

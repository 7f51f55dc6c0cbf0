//! `run --fresh-node` end to end against the real daemon: a throwaway dockerd and a local
//! registry are started, the variant is pushed, pulled on an empty data root twice and
//! started, the figures land in the results file, and nothing is left behind: no helper
//! process, temporary directory, mount, or registry tag in the main daemon.

use crate::support::{docker_lock, docker_or_skip, harness_cli, in_ci, RunCleanup};
use harness::freshnode::child::TEMP_PREFIX;
use harness::results::RunResults;
use std::collections::BTreeSet;

/// The reason this machine cannot run a fresh node, if any.
fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    ["dockerd", "docker-registry"]
        .into_iter()
        .find(|b| !harness::doctor::on_path(b))
        .map(|b| format!("no `{b}` on PATH"))
}

/// Temporary directories, processes and mounts of fresh nodes that exist right now.
fn leftovers() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) {
            found.insert(format!("dir {name}"));
        }
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(TEMP_PREFIX) {
            found.insert(format!("process {cmdline}"));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mounts.lines().filter(|l| l.contains(TEMP_PREFIX)) {
        found.insert(format!("mount {line}"));
    }
    found
}

async fn registry_tags(docker: &bollard::Docker) -> Vec<String> {
    let images = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .unwrap();
    images
        .into_iter()
        .flat_map(|i| i.repo_tags)
        .filter(|t| t.starts_with("127.0.0.1:"))
        .collect()
}

#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_node_run_records_pull_and_start_and_leaves_nothing_behind() {
    let _lock = docker_lock();
    if let Some(reason) = missing_prerequisite() {
        assert!(!in_ci(), "fresh node: required under CI=true: {reason}");
        eprintln!("SKIPPED a_fresh_node_run_records_pull_and_start: {reason}");
        return;
    }
    let Some(docker) = docker_or_skip("a_fresh_node_run_records_pull_and_start").await else {
        return;
    };
    let before = leftovers();
    let tags_before = registry_tags(&docker).await;
    let out = tempfile::tempdir().unwrap();
    let _cleanup = RunCleanup {
        out: Some(out.path().into()),
        ids: Vec::new(),
    };
    let out_arg = out.path().to_str().unwrap();
    let args = [
        "run",
        "--app",
        "http",
        "--quick",
        "--variants",
        "musl-system-scratch",
        "--fresh-node",
        "--fresh-node-runs",
        "2",
        "--quiet",
        "--out",
        out_arg,
    ];
    let (code, _, stderr) = harness_cli(&args);
    assert_eq!(code, 0, "harness run --fresh-node failed: {stderr}");
    let file = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a results file");
    let results = RunResults::load(&file).unwrap();
    let variant = results.variant("musl-system-scratch").unwrap();
    assert!(variant.is_ok(), "{:?}", variant.status);
    let fresh = variant.fresh_node.as_ref().expect("fresh-node figures");
    assert_eq!(fresh.samples.len(), 2);
    for s in &fresh.samples {
        let parts = [s.pull_ms, s.download_ms, s.start_ms, s.first_response_ms];
        assert!(parts.iter().all(|v| *v > 0.0), "{s:?}");
        assert!(s.unpack_ms >= 0.0, "{s:?}");
        assert!((s.pull_ms + s.start_ms - s.first_response_ms).abs() < 1e-6);
    }
    assert!(fresh.compressed_bytes > 0 && fresh.unpacked_bytes > fresh.compressed_bytes);
    assert_eq!(fresh.layers, 1, "a scratch image is one layer");
    assert!(!fresh.storage_driver.is_empty());
    assert!(fresh.modelled_first_response_100mbit_ms > fresh.modelled_first_response_1gbit_ms);
    assert_eq!(results.environment.docker_local, Some(true));
    let new: Vec<String> = leftovers().difference(&before).cloned().collect();
    assert!(new.is_empty(), "left behind: {new:#?}");
    assert_eq!(
        registry_tags(&docker).await,
        tags_before,
        "registry tags left in the main daemon"
    );
}

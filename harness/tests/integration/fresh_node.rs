//! `run --fresh-node` end to end against the real daemon: a throwaway dockerd and a local
//! registry are started, the variant is pushed, pulled on an empty data root twice and
//! started, the figures land in the results file, and nothing is left behind: no helper
//! process, temporary directory, mount, or registry tag in the main daemon. And the report
//! of such a file: its chart, its table with the modelled columns, and the remote note.

use crate::support::{checked_results, docker_lock, docker_or_skip, harness_cli, skip, RunCleanup};
use harness::fresh_node::child::TEMP_PREFIX;
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
        skip("a_fresh_node_run_records_pull_and_start", &reason);
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
    let results = checked_results(out.path());
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

/// A fixture run (written before `fresh_node` existed) with fresh-node figures added to two
/// variants and a remote daemon recorded.
fn fixture_with_fresh_nodes(dir: &std::path::Path) -> std::path::PathBuf {
    let fixture = crate::support::fixtures().join("report/http-run.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let summary = |median: f64| {
        serde_json::json!({"n": 3, "min": median * 0.9, "median": median, "p5": median * 0.9,
            "p95": median * 1.1, "max": median * 1.1, "median_ci_low": median * 0.95,
            "median_ci_high": median * 1.05})
    };
    let record = |compressed: u64, download: f64, unpack: f64, start: f64| {
        serde_json::json!({
            "storage_driver": "overlay2", "compressed_bytes": compressed,
            "unpacked_bytes": compressed * 2, "layers": 1, "samples": [],
            "pull_ms": summary(download + unpack), "download_ms": summary(download),
            "unpack_ms": summary(unpack), "start_ms": summary(start),
            "first_response_ms": summary(download + unpack + start),
            "modelled_first_response_100mbit_ms": 1234.5,
            "modelled_first_response_1gbit_ms": 678.9,
        })
    };
    let variants = value["variants"].as_array_mut().unwrap();
    variants[0]["fresh_node"] = record(29_000_000, 120.0, 1900.0, 160.0);
    variants[1]["fresh_node"] = record(2_000_000, 40.0, 270.0, 150.0);
    value["environment"]["docker_host"] = "tcp://10.0.0.9:2376".into();
    value["environment"]["docker_local"] = false.into();
    let path = dir.join("http-run.json");
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    path
}

#[test]
fn the_report_charts_fresh_nodes_labels_modelled_columns_and_notes_a_remote_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture_with_fresh_nodes(dir.path());
    let out = dir.path().join("report");
    let inputs = harness::report::load_files(&[file]).unwrap();
    let rendered = harness::report::render(&inputs, &out).unwrap();
    let md = std::fs::read_to_string(&rendered.report_md).unwrap();
    assert!(md.contains("### Cold start on a fresh node"), "{md}");
    assert!(md.contains("| modelled: 100 Mbit/s (ms) | modelled: 1 Gbit/s (ms) |"));
    assert!(md.contains("| 1.00× | 1,234 | 679 |"), "{md}");
    assert!(md.contains("is not on this machine"), "the remote note");
    assert!(
        md.contains("tcp://10.0.0.9:2376 (remote)"),
        "the environment row"
    );
    let plot = rendered
        .plots
        .iter()
        .find(|p| p.stem == "http-fresh-node")
        .expect("the fresh-node chart");
    assert!(std::fs::metadata(&plot.png).unwrap().len() > 1000);
    let svg = std::fs::read_to_string(&plot.svg).unwrap();
    assert!(svg.contains("pull: download") && svg.contains("pull: unpack"));

    // The fixture as it was (no fresh-node figures, local daemon): no such section or note.
    let plain =
        harness::report::load_files(&[crate::support::fixtures().join("report/http-run.json")])
            .unwrap();
    let rendered = harness::report::render(&plain, &dir.path().join("plain")).unwrap();
    let md = std::fs::read_to_string(&rendered.report_md).unwrap();
    assert!(!md.contains("fresh node") && !md.contains("is not on this machine"));
}

//! `harness profile` for real: perf samples two json-cruncher variants in docker over two
//! rounds, and the profile file (pooled and per-round figures), the flame graphs and the
//! cleanup are checked.

use crate::support::{docker_or_skip, docker_shared, harness_cli, skip};

#[test]
fn a_docker_profile_classifies_real_samples_and_leaves_nothing_behind() {
    let test = "profile::a_docker_profile_classifies_real_samples_and_leaves_nothing_behind";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(docker) = rt.block_on(docker_or_skip(test)) else {
        return;
    };
    if let Err(why) = harness::profiler::perf::version() {
        skip(test, &why);
        return;
    }
    // Shared: perf samples the job's own processes, and the test works in a namespace of
    // its own; it checks what was sampled and removed, not how fast.
    let _guard = docker_shared();
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let (code, stdout, stderr) = harness_cli(&[
        "profile",
        "--app",
        "json",
        "--threads",
        "2",
        // Long enough (about 0.5 s for glibc on two threads) that perf attaches well before
        // the job ends even on a loaded machine: at 32 MB glibc's job once ended first.
        "--dataset-mb",
        "128",
        "--rounds",
        "2",
        "--variants",
        "glibc-system-debian,musl-system-scratch",
        "--out",
        out_dir,
    ]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let files = harness::profiles::newest_per_app(&out.path().join("profiles")).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let results = harness::profiles::ProfileResults::load(&files[0]).unwrap();
    assert!(results.finished_at.is_some());
    assert!(results.perf_version.starts_with("perf version"));
    for name in ["glibc-system-debian", "musl-system-scratch"] {
        let v = results.variant(name).expect("profiled");
        assert!(v.failed.is_none(), "{name}: {:?}", v.failed);
        assert!(v.samples > 0, "{name}: no samples");
        let shares: f64 = v.buckets.values().map(|b| b.share).sum();
        assert!(
            (shares - 1.0).abs() < 1e-6,
            "{name}: shares add to {shares}"
        );
        // Symbols resolved: some samples land in named allocator functions.
        assert!(v.allocation_share() > 0.0, "{name}: no allocator samples");
        // Two rounds, each with its own samples, pooled into the totals.
        assert_eq!(v.rounds.len(), 2, "{name}: {:?}", v.rounds);
        assert_eq!(v.rounds.iter().map(|r| r.samples).sum::<u64>(), v.samples);
        assert_eq!(v.allocation_share.as_ref().map(|s| s.n), Some(2));
        let flame = out.path().join(v.flame_graph.as_ref().unwrap());
        let svg = std::fs::read_to_string(&flame).unwrap();
        // inferno's SVG carries a DOCTYPE, which roxmltree refuses unless allowed.
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        roxmltree::Document::parse_with_options(&svg, options).expect("the flame graph is SVG");
    }
    let musl = results.variant("musl-system-scratch").unwrap();
    assert!(musl.diff_flame_graph.is_some());
    assert_eq!(musl.allocation_share_ratio.as_ref().map(|r| r.n), Some(2));
    assert_eq!(results.rounds, 2);
    // The profiling images are gone.
    let namespace = crate::support::test_namespace();
    let images = rt
        .block_on(docker.list_images(None::<bollard::query_parameters::ListImagesOptions>))
        .unwrap();
    let left: Vec<_> = images
        .iter()
        .flat_map(|i| i.repo_tags.iter())
        .filter(|t| t.contains(&namespace) && t.ends_with("-profiling"))
        .collect();
    assert!(left.is_empty(), "profiling images left: {left:?}");
}

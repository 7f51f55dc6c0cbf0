//! `harness report` over several runs of one experiment (same app, host and schema): the
//! newest is reported in full, the others are its replicates, and every comparison whose
//! verdict differs between the runs is marked "does not replicate" — in the verdict, the
//! README block, the tables (‡) and a table of its own. Two runs that agree get no mark.
//!
//! The runs are synthetic (`report_noise::noisy_http`, seeded): invented figures, NOT
//! measurements.

use crate::report_noise::{centre, noisy_http, save};
use harness::report;
use harness::results::RunResults;
use std::path::PathBuf;

/// A run of the synthetic experiment: seed, start time, and musl-mimalloc-scratch's rps as
/// a share of the baseline's (the other variants: glibc-based ones exactly the baseline,
/// musl-system ones as `centre` has them).
fn run(seed: u64, started_at: &str, mimalloc: f64) -> RunResults {
    let base = centre("glibc-system-debian").0;
    let mut results = noisy_http(seed, 6, move |name| match name {
        "musl-mimalloc-scratch" => mimalloc * base / centre(name).0,
        "musl-system-scratch" | "musl-system-debian" => 1.0,
        _ => base / centre(name).0,
    });
    results.schema_version = 3;
    results.started_at = started_at.into();
    results.finished_at = Some(started_at.into());
    results
}

fn files(dir: &std::path::Path, runs: &[(&str, RunResults)]) -> Vec<PathBuf> {
    runs.iter().map(|(name, r)| save(r, dir, name)).collect()
}

#[test]
fn runs_that_disagree_are_marked_and_runs_that_agree_are_not() {
    let dir = tempfile::tempdir().unwrap();
    // The first run sees mimalloc at 0.6× the baseline, the second at parity.
    let paths = files(
        dir.path(),
        &[
            ("http-a.json", run(11, "2026-12-06T20:00:00Z", 0.6)),
            ("http-b.json", run(12, "2026-12-06T21:30:00Z", 1.0)),
        ],
    );
    let inputs = report::load_files(&paths).unwrap();
    assert_eq!((inputs.runs.len(), inputs.replicates.len()), (1, 1));
    assert_eq!(
        inputs.runs[0].path, paths[1],
        "the newest run is reported in full"
    );
    let verdict = report::verdict(&inputs);
    let sentences = &verdict[0].sentences;
    let replication = sentences
        .iter()
        .find(|s| s.starts_with("**Replication** (2 runs"))
        .unwrap_or_else(|| panic!("no replication sentence in {sentences:#?}"));
    assert!(
        replication.contains("**do not replicate**"),
        "{replication}"
    );
    let mimalloc = replication
        .split("musl-mimalloc-scratch: /json c=64 rps (")
        .nth(1)
        .unwrap_or_else(|| panic!("mimalloc's /json c=64 rps not named: {replication}"));
    assert!(
        mimalloc.starts_with("0.") && mimalloc.contains("× below 1 beyond noise; 1.0"),
        "{replication}"
    );
    // The throughput sentence that names mimalloc says its verdict does not replicate.
    assert!(
        sentences
            .iter()
            .any(|s| s.contains("**Does not replicate** for musl-mimalloc-scratch")),
        "{sentences:#?}"
    );
    // Only mimalloc's comparisons changed: no other variant is named as not replicating.
    for steady in ["musl-system-scratch:", "glibc-system-distroless:"] {
        assert!(!replication.contains(steady), "{replication}");
    }
    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let md = std::fs::read_to_string(&rendered.report_md).unwrap();
    assert!(md.contains("### Does it replicate?"), "{md}");
    assert!(md.contains("| **no** |"), "{md}");
    assert!(md.contains(" ‡"), "{md}");
    assert!(md.contains("do not replicate"), "{md}");

    // Two runs of the same servers: every comparison gets the same call in both.
    let dir = tempfile::tempdir().unwrap();
    let paths = files(
        dir.path(),
        &[
            ("http-c.json", run(21, "2026-12-06T20:00:00Z", 0.6)),
            ("http-d.json", run(22, "2026-12-06T21:30:00Z", 0.6)),
        ],
    );
    let inputs = report::load_files(&paths).unwrap();
    let verdict = report::verdict(&inputs);
    let replication = verdict[0]
        .sentences
        .iter()
        .find(|s| s.starts_with("**Replication** (2 runs"))
        .unwrap();
    assert!(!replication.contains("do not replicate"), "{replication}");
    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let md = std::fs::read_to_string(&rendered.report_md).unwrap();
    assert!(md.contains("### Does it replicate?"), "{md}");
    assert!(!md.contains("| **no** |") && !md.contains(" ‡"), "{md}");
}

#[test]
fn runs_on_another_host_are_never_pooled() {
    let dir = tempfile::tempdir().unwrap();
    let mut other = run(12, "2026-12-06T21:30:00Z", 1.0);
    other.environment.cpu_model = "Another CPU".into();
    let paths = files(
        dir.path(),
        &[
            ("http-a.json", run(11, "2026-12-06T20:00:00Z", 0.6)),
            ("http-b.json", other),
        ],
    );
    let inputs = report::load_files(&paths).unwrap();
    assert_eq!((inputs.runs.len(), inputs.replicates.len()), (2, 0));
    for group in report::verdict(&inputs) {
        assert!(
            !group
                .sentences
                .iter()
                .any(|s| s.starts_with("**Replication**")),
            "{group:#?}"
        );
    }
}

#[test]
fn compare_names_the_verdicts_that_do_not_replicate() {
    let (old, new) = (
        run(11, "2026-12-06T20:00:00Z", 0.6),
        run(12, "2026-12-06T21:30:00Z", 1.0),
    );
    let rows = harness::compare::compare(&old, &new);
    let row = rows
        .iter()
        .find(|r| r.variant == "musl-mimalloc-scratch" && r.metric == "rps ÷ baseline /json c64")
        .expect("mimalloc's paired rps row");
    assert_eq!(row.calls, Some(("below 1", "within noise")));
    assert!(!row.replicates());
    // musl's own allocator is far below glibc in both runs: the same call.
    let musl = rows
        .iter()
        .find(|r| r.variant == "musl-system-scratch" && r.metric == "rps ÷ baseline /json c64")
        .unwrap();
    assert_eq!(musl.calls, Some(("below 1", "below 1")));
    assert!(musl.replicates());
}

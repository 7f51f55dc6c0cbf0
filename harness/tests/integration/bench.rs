//! `harness bench` end to end, in-process: real cargo, real criterion, glibc and musl, on one
//! tiny bench in quick mode. It checks the shape of what comes out, never the timings.

use clap::Parser;
use harness::bench::{self, summary};
use harness::cli::Cli;
use std::path::{Path, PathBuf};

/// A bench that finishes in well under a second per variant in quick mode.
const TINY: &str = "^startup/instant_now/";

fn bench(args: &[&str]) -> anyhow::Result<()> {
    crate::support::without_runner_bootstrap();
    let argv = ["harness", "bench", "--quick", "--quiet"]
        .iter()
        .chain(args);
    harness::run(Cli::try_parse_from(argv).expect("the test's arguments parse"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn quick_bench_compares_musl_with_glibc() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    bench(&[
        "--variants",
        "musl-system,glibc-system",
        "--filter",
        TINY,
        "--out",
        out_arg,
    ])
    .unwrap();

    let files = files(out.path());
    assert_eq!(files.len(), 2, "{files:?}");
    let csv_path = &files[0];
    let json_path = &files[1];
    assert!(csv_path.to_str().unwrap().ends_with(".csv"), "{files:?}");
    let results = bench::load(json_path).unwrap();
    assert_eq!(results.kind, "bench");
    assert_eq!(results.baseline, "glibc-system");
    assert_eq!(results.variants, ["glibc-system", "musl-system"]);
    assert!(results.finished_at.is_some());
    assert!(results.environment.cpu_count >= 1);

    assert_eq!(results.benches.len(), 1, "{:?}", results.benches);
    let row = &results.benches[0];
    assert_eq!(row.bench, "startup/instant_now/1000");
    assert_eq!(row.throughput.as_ref().unwrap().unit, "elements");
    let variants: Vec<&str> = row.estimates.iter().map(|e| e.variant.as_str()).collect();
    assert_eq!(variants, ["glibc-system", "musl-system"]);
    for e in &row.estimates {
        assert!(
            e.mean_ns > 0.0 && e.mean_ci_low_ns <= e.mean_ci_high_ns,
            "{e:?}"
        );
        assert!(e.samples.is_some_and(|n| n >= 2), "{e:?}");
        // Quick mode: two processes per variant, one per round, each with its own estimate.
        let rounds: Vec<u32> = e.processes.iter().map(|p| p.repeat).collect();
        assert_eq!(rounds, [0, 1], "{e:?}");
        assert!(e.processes.iter().all(|p| p.mean_ns > 0.0), "{e:?}");
    }
    let mut sequence: Vec<u32> = row
        .estimates
        .iter()
        .flat_map(|e| e.processes.iter().map(|p| p.sequence))
        .collect();
    sequence.sort_unstable();
    assert_eq!(sequence, [0, 1, 2, 3], "four processes in all, each once");
    let musl = row.estimate("musl-system").unwrap();
    let ratio = musl.ratio_to_baseline.as_ref().expect("paired by round");
    assert_eq!(ratio.n, 2);
    let method = results
        .method
        .as_ref()
        .expect("schema 2 records its method");
    assert_eq!(method.repeats, 2);
    assert!(results.indicative_only(), "two processes carry no verdict");

    let table = summary::table(&results).to_string();
    let line = table
        .lines()
        .find(|l| l.contains(&row.bench))
        .expect(&table);
    assert!(table.contains("musl-system / glibc-system"), "{table}");
    assert!(line.contains('×') && line.contains("- │"), "{line}");
    let note = summary::reading_note(&results);
    assert!(
        note.contains("indicative only: 2 processes per variant"),
        "{note}"
    );
    let csv = std::fs::read_to_string(csv_path).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2, "{csv}");
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",significant,samples,ci_level,processes,ratio_ci_low,ratio_ci_high"),
        "{csv}"
    );
}

#[test]
fn a_filter_that_matches_nothing_is_a_usage_error_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("results");
    let err = bench(&[
        "--variants",
        "glibc-system",
        "--filter",
        "^no/such/bench$",
        "--out",
        target.to_str().unwrap(),
    ])
    .unwrap_err();
    assert_eq!(harness::exit_code(&err), 2, "{err:#}");
    assert!(err.to_string().contains("matches no bench"), "{err:#}");
    assert!(!target.exists());
}

#[test]
fn an_unknown_variant_is_a_usage_error_before_any_build() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("results");
    let err = bench(&[
        "--variants",
        "musl-tcmalloc",
        "--out",
        target.to_str().unwrap(),
    ])
    .unwrap_err();
    assert_eq!(harness::exit_code(&err), 2);
    assert!(
        err.to_string()
            .contains("unknown bench variant \"musl-tcmalloc\""),
        "{err}"
    );
    assert!(!target.exists());
}

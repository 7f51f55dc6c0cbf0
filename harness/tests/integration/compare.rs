//! `harness compare` over two fixture results files written for the logic
//! (`tests/fixtures/compare/`): verdicts per metric kind, directions, and the CLI path.

use crate::support::fixtures;
use clap::Parser;
use harness::cli::Cli;
use harness::compare::{caveats, compare, Row, Verdict};
use harness::results::RunResults;

fn rows() -> Vec<Row> {
    let dir = fixtures().join("compare");
    let old = RunResults::load(&dir.join("old.json")).unwrap();
    let new = RunResults::load(&dir.join("new.json")).unwrap();
    compare(&old, &new)
}

fn find<'a>(rows: &'a [Row], variant: &str, metric: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.variant == variant && r.metric == metric)
        .unwrap_or_else(|| panic!("no row {variant} {metric} in {rows:#?}"))
}

#[test]
fn compare_finds_a_shifted_cold_start_beyond_noise() {
    let rows = rows();
    let cold = find(&rows, "glibc-system-debian", "cold_start_ms");
    assert_eq!(cold.verdict, Verdict::BeyondNoise);
    assert_eq!((cold.old, cold.new), (Some(103.0), Some(133.0)));
    assert_eq!(cold.direction(), Some("worse"));
    let same = find(&rows, "musl-system-scratch", "cold_start_ms");
    assert_eq!(same.verdict, Verdict::WithinNoise, "{same:#?}");
    assert_eq!(same.direction(), None);
    let crunch = find(&rows, "glibc-system-debian", "mb_per_s t1");
    assert_eq!(crunch.verdict, Verdict::WithinNoise);
}

#[test]
fn compare_treats_sizes_as_exact_and_single_windows_as_unjudged() {
    let rows = rows();
    let image = find(&rows, "musl-system-scratch", "image_bytes");
    assert_eq!(image.verdict, Verdict::Exact);
    assert_eq!(image.direction(), Some("better"));
    assert!((image.change_pct().unwrap() + 2.0).abs() < 1e-9);
    let unchanged = find(&rows, "glibc-system-debian", "image_bytes");
    assert_eq!(
        (unchanged.change_pct(), unchanged.direction()),
        (Some(0.0), None)
    );
    let rps = find(&rows, "glibc-system-debian", "rps /plaintext c16");
    assert_eq!(rps.verdict, Verdict::NotApplicable("one sample"));
    assert!((rps.change_pct().unwrap() - 4.0).abs() < 1e-9);
    assert_eq!(rps.direction(), None, "no direction without a verdict");
    let p99 = find(&rows, "glibc-system-debian", "p99_us /plaintext c16");
    assert_eq!((p99.old, p99.new), (Some(900.0), Some(850.0)));
}

#[test]
fn compare_names_what_is_missing_on_one_side() {
    let rows = rows();
    let only_new = find(&rows, "musl-mimalloc-scratch", "variant");
    assert_eq!(
        only_new.verdict,
        Verdict::NotApplicable("only in the new file")
    );
    let t2 = find(&rows, "glibc-system-debian", "mb_per_s t2");
    assert_eq!(t2.verdict, Verdict::NotApplicable("missing on one side"));
    let one = find(&rows, "musl-system-scratch", "mb_per_s t1");
    assert_eq!(one.verdict, Verdict::NotApplicable("one sample"));
    let peak = find(&rows, "musl-system-scratch", "peak_memory_bytes");
    assert_eq!(peak.verdict, Verdict::NotApplicable("missing on one side"));
}

#[test]
fn compare_notes_different_machines() {
    let dir = fixtures().join("compare");
    let old = RunResults::load(&dir.join("old.json")).unwrap();
    let new = RunResults::load(&dir.join("new.json")).unwrap();
    let notes = caveats(&old, &new);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("machines differ"), "{notes:?}");
}

#[test]
fn compare_command_runs_and_a_missing_file_is_a_usage_error() {
    let dir = fixtures().join("compare");
    let (old, new) = (dir.join("old.json"), dir.join("new.json"));
    let cli = Cli::try_parse_from([
        "harness".as_ref(),
        "compare".as_ref(),
        old.as_os_str(),
        new.as_os_str(),
    ])
    .unwrap();
    harness::run(cli).unwrap();
    let missing = dir.join("no-such.json");
    let cli = Cli::try_parse_from([
        "harness".as_ref(),
        "compare".as_ref(),
        old.as_os_str(),
        missing.as_os_str(),
    ])
    .unwrap();
    let error = harness::run(cli).unwrap_err();
    assert_eq!(harness::exit_code(&error), 2);
    assert!(error.to_string().contains("no-such.json"), "{error}");
}

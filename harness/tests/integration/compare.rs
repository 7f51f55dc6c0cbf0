//! `harness compare` over two fixture results files written for the logic
//! (`tests/fixtures/compare/`, schema version 1) and over synthetic version 2 files
//! (`report_noise::noisy_http`): verdicts per metric kind, paired-ratio verdicts, no verdict
//! on fewer than 3 rounds, every differing setting as a caveat, and the CLI path.

use crate::report_noise::{noisy_http, save};
use crate::support::fixtures;
use clap::Parser;
use harness::cli::Cli;
use harness::compare::{caveats, compare, ratio_tally, Row, Verdict};
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
    assert_eq!(rps.verdict, Verdict::NotApplicable("fewer than 3 rounds"));
    assert!((rps.change_pct().unwrap() - 4.0).abs() < 1e-9);
    assert_eq!(rps.direction(), None, "no direction without a verdict");
    let p99 = find(&rows, "glibc-system-debian", "p99_us /plaintext c16");
    assert_eq!((p99.old, p99.new), (Some(900.0), Some(850.0)));
    assert_eq!(
        (p99.old_ci, p99.new_ci),
        (None, None),
        "one window, no interval"
    );
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
    assert_eq!(one.verdict, Verdict::NotApplicable("fewer than 3 samples"));
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

#[test]
fn compare_judges_cells_by_their_paired_ratios() {
    let old = noisy_http(1, 5, |_| 1.0);
    let same = noisy_http(2, 5, |_| 1.0);
    let rows = compare(&old, &same);
    let (within, judged) = ratio_tally(&rows);
    // 5 variants × 9 cells × (rps, CPU) ratios; a rerun of the same code is mostly a tie.
    assert_eq!(judged, 90, "{rows:#?}");
    assert!(
        within * 10 >= judged * 8,
        "{within} of {judged} within noise"
    );
    let ratio = find(&rows, "musl-system-scratch", "rps ÷ baseline /json c64");
    assert!(ratio.paired_ratio && ratio.old_ci.is_some(), "{ratio:#?}");
    assert!(rows
        .iter()
        .all(|r| r.variant != "glibc-system-debian" || !r.metric.contains("÷ baseline")));

    // musl-system-scratch 30% slower in every round: its paired ratios move beyond noise,
    // although the machine's drift makes its absolute rps interval as wide as the change.
    let slower = noisy_http(2, 5, |v| if v == "musl-system-scratch" { 0.7 } else { 1.0 });
    let rows = compare(&old, &slower);
    for metric in [
        "rps ÷ baseline /json c64",
        "cpu_us_per_request ÷ baseline /json c64",
    ] {
        let row = find(&rows, "musl-system-scratch", metric);
        assert_eq!(row.verdict, Verdict::BeyondNoise, "{row:#?}");
        assert_eq!(row.direction(), Some("worse"), "{row:#?}");
    }
    let absolute = find(&rows, "musl-system-scratch", "rps /json c64");
    assert_eq!(absolute.verdict, Verdict::WithinNoise, "{absolute:#?}");
    let cpu = find(&rows, "musl-system-scratch", "cpu_us_per_request /json c64");
    assert_eq!(cpu.verdict, Verdict::BeyondNoise, "{cpu:#?}");
}

#[test]
fn compare_gives_no_load_verdict_on_fewer_than_3_rounds() {
    let five = noisy_http(1, 5, |_| 1.0);
    let two = noisy_http(2, 2, |_| 1.0);
    let rows = compare(&five, &two);
    for metric in [
        "rps /json c64",
        "rps ÷ baseline /json c64",
        "cpu_us_per_request /json c64",
        "cpu_us_per_request ÷ baseline /json c64",
        "p99_us /json c64",
    ] {
        let row = find(&rows, "musl-system-scratch", metric);
        assert_eq!(
            row.verdict,
            Verdict::NotApplicable("fewer than 3 rounds"),
            "{row:#?}"
        );
        assert_eq!(row.direction(), None);
    }
    assert_eq!(ratio_tally(&rows), (0, 0));
    // The setting alone is enough: a file that says 2 rounds gets no verdict.
    let mut said_two = noisy_http(2, 5, |_| 1.0);
    said_two.settings.rounds = 2;
    let row = compare(&five, &said_two)
        .into_iter()
        .find(|r| r.variant == "musl-system-scratch" && r.metric == "rps /json c64")
        .unwrap();
    assert_eq!(row.verdict, Verdict::NotApplicable("fewer than 3 rounds"));
}

#[test]
fn compare_lists_every_differing_setting_as_a_caveat() {
    let old = noisy_http(1, 5, |_| 1.0);
    assert!(caveats(&old, &old).is_empty());
    let mut new = old.clone();
    let (s, e) = (&mut new.settings, &mut new.environment);
    s.memory_limit_bytes = Some(512_000_000);
    s.rounds = 7;
    s.duration_s = 2.0;
    s.warmup_s = 0.5;
    s.concurrency = vec![1, 64];
    s.endpoints = vec!["/json".into()];
    s.dataset_mb = 16.0;
    s.threads = vec![1, 2];
    s.server_cpus = "1".into();
    e.git_commit = Some("fedcba9876".into());
    e.git_dirty = Some(true);
    e.kernel = "6.18.44".into();
    e.docker_server_version = Some("20.10.24".into());
    e.cpu_model = "AMD EPYC".into();
    new.runtime = "native".into();
    new.variants[0].memory_method = Some("cgroup v1 memory.max_usage_in_bytes".into());
    let notes = caveats(&old, &new);
    for what in [
        "memory limits differ: none (old) vs 512000000 bytes (new)",
        "load rounds differ: 5 (old) vs 7 (new)",
        "load windows differ: 3s (old) vs 2s (new)",
        "warm-ups differ: 1s (old) vs 0.5s (new)",
        "concurrency levels differ: [1, 16, 64] (old) vs [1, 64] (new)",
        "endpoints differ: [/plaintext, /json, /parse] (old) vs [/json] (new)",
        "datasets differ",
        "thread counts differ",
        "harness commits differ",
        "uncommitted-code flags (git_dirty) differ: false (old) vs true (new)",
        "kernels differ",
        "Docker versions differ",
        "CPU models differ",
        "runtimes differ",
        "CPU placements (server; load generator) differ: 0; 1-3 (old) vs 1; 1-3 (new)",
        "peak memory methods differ",
    ] {
        assert!(
            notes.iter().any(|n| n.starts_with(what)),
            "no {what:?} in {notes:#?}"
        );
    }
    assert_eq!(notes.len(), 16, "{notes:#?}");
}

#[test]
fn compare_command_prints_paired_ratios_and_their_tally() {
    let dir = tempfile::tempdir().unwrap();
    let old = save(&noisy_http(1, 5, |_| 1.0), dir.path(), "old.json");
    let new = save(&noisy_http(2, 5, |_| 1.0), dir.path(), "new.json");
    let (code, stdout, stderr) =
        crate::support::harness_cli(&["compare", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("rps ÷ baseline /json c64"), "{stdout}");
    assert!(
        stdout.contains("paired ratios to the baseline: "),
        "{stdout}"
    );
    assert!(stdout.contains(" of 90 within noise ("), "{stdout}");
}

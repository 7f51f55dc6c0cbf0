use super::*;
use crate::results::{BenchMethod, ProcessEstimate, BENCH_SCHEMA_VERSION};

fn process(repeat: u32, mean_ns: f64) -> ProcessEstimate {
    ProcessEstimate {
        repeat,
        sequence: repeat,
        mean_ns,
        mean_ci_low_ns: mean_ns * 0.99,
        mean_ci_high_ns: mean_ns * 1.01,
        samples: 100,
    }
}

fn estimate(variant: &str, means: &[f64]) -> BenchEstimate {
    BenchEstimate {
        variant: variant.into(),
        mean_ns: 0.0,
        mean_ci_low_ns: 0.0,
        mean_ci_high_ns: 0.0,
        samples: None,
        ci_level: None,
        processes: means
            .iter()
            .enumerate()
            .map(|(r, m)| process(r as u32, *m))
            .collect(),
        ratio_to_baseline: None,
    }
}

fn row(bench: &str, glibc: &[f64], musl: &[f64]) -> BenchRow {
    BenchRow {
        bench: bench.into(),
        throughput: None,
        estimates: vec![
            estimate("glibc-system", glibc),
            estimate("musl-system", musl),
        ],
    }
}

fn file(rows: Vec<BenchRow>) -> BenchResults {
    BenchResults {
        schema_version: BENCH_SCHEMA_VERSION,
        harness_version: "0".into(),
        kind: "bench".into(),
        command_line: vec![],
        started_at: String::new(),
        finished_at: None,
        environment: Default::default(),
        baseline: "glibc-system".into(),
        variants: vec!["glibc-system".into(), "musl-system".into()],
        benches: rows,
        method: Some(BenchMethod {
            repeats: 6,
            order: "test".into(),
            order_seed: 0,
            criterion_args: vec![],
        }),
        verdicts: None,
    }
}

/// Six processes whose machine drifts by ±30% between repeats: each variant's own spread
/// is wide, but within a repeat musl takes 3× glibc's time.
const GLIBC: [f64; 6] = [100.0, 130.0, 70.0, 110.0, 90.0, 120.0];

#[test]
fn figures_are_medians_over_processes_and_ratios_are_paired_by_repeat() {
    let musl: Vec<f64> = GLIBC.iter().map(|g| g * 3.0).collect();
    let mut r = file(vec![row("alloc/small_churn/10000", &GLIBC, &musl)]);
    summarize(&mut r);
    let glibc = r.benches[0].estimate("glibc-system").unwrap();
    assert_eq!(glibc.mean_ns, 105.0);
    assert_eq!((glibc.mean_ci_low_ns, glibc.mean_ci_high_ns), (70.0, 130.0));
    assert!((glibc.ci_level.unwrap() - 0.96875).abs() < 1e-9);
    assert_eq!(glibc.samples, Some(100));
    assert!(glibc.ratio_to_baseline.is_none());
    let musl = r.benches[0].estimate("musl-system").unwrap();
    // The two variants' own intervals overlap widely, yet pairing sees 3× every time.
    let ratio = musl.ratio_to_baseline.as_ref().unwrap();
    assert!(
        (ratio.median - 3.0).abs() < 1e-9 && ratio.n == 6,
        "{ratio:?}"
    );
    let read = super::ratio(&r, &r.benches[0], "musl-system").unwrap();
    assert_eq!(read.beyond, Some(true));
    assert!((read.level.unwrap() - 0.96875).abs() < 1e-9);
    let v = r.verdicts.as_ref().unwrap();
    assert_eq!(v.comparisons, 1);
    assert!(v.negative_controls.is_empty(), "no control bench here");
    assert_eq!(control_line(&r), None);
}

#[test]
fn the_negative_control_is_judged_in_the_family_and_named_when_it_fails() {
    let same: Vec<f64> = GLIBC.iter().map(|g| g * 1.01).collect();
    let mut r = file(vec![
        row("control/fnv1a/4KiB", &GLIBC, &GLIBC),
        row("memory/memcpy/4KiB", &GLIBC, &same),
    ]);
    // A control that came out identical up to the drift: within noise.
    r.benches[0].estimates[1].processes[0].mean_ns *= 1.02;
    summarize(&mut r);
    assert_eq!(r.verdicts.as_ref().unwrap().comparisons, 2);
    let line = control_line(&r).unwrap();
    assert_eq!(
        line,
        "negative control (control/fnv1a/4KiB: no libc call, no allocation): within noise in all 1 comparisons"
    );

    // A control 1.3× slower in every repeat: the method is not holding.
    let slow: Vec<f64> = GLIBC.iter().map(|g| g * 1.3).collect();
    let mut r = file(vec![row("control/fnv1a/4KiB", &GLIBC, &slow)]);
    summarize(&mut r);
    let c = &r.verdicts.as_ref().unwrap().negative_controls[0];
    assert_eq!((c.comparisons, c.beyond_noise), (1, 1));
    assert_eq!(
        c.beyond_noise_cells,
        ["control/fnv1a/4KiB musl-system ×1.30"]
    );
    let line = control_line(&r).unwrap();
    assert!(
        line.contains("the method is not holding on this machine"),
        "{line}"
    );
}

#[test]
fn holm_over_the_file_keeps_a_lone_small_p_from_counting_as_a_finding() {
    // 40 benches with nothing going on but noise, and one with a modest effect whose own
    // p-value would pass at 0.05 but not after adjusting for 41 comparisons.
    let noisy = |i: usize| -> Vec<f64> {
        GLIBC
            .iter()
            .enumerate()
            .map(|(r, g)| g * (1.0 + 0.05 * (((r * 7 + i * 3) % 5) as f64 - 2.0)))
            .collect()
    };
    let mut rows: Vec<BenchRow> = (0..40)
        .map(|i| row(&format!("x/{i}"), &GLIBC, &noisy(i)))
        .collect();
    let modest: Vec<f64> = GLIBC
        .iter()
        .zip([1.04, 1.12, 1.06, 1.10, 1.05, 1.11])
        .map(|(g, f)| g * f)
        .collect();
    rows.push(row("x/modest", &GLIBC, &modest));
    let mut r = file(rows);
    summarize(&mut r);
    let e = r.benches[40].estimate("musl-system").unwrap();
    let ratio = e.ratio_to_baseline.as_ref().unwrap();
    assert!(ratio.p_value.unwrap() < 0.05, "{ratio:?}");
    assert!(ratio.p_adjusted.unwrap() > 0.05, "{ratio:?}");
    assert_eq!(
        super::ratio(&r, &r.benches[40], "musl-system")
            .unwrap()
            .beyond,
        Some(false)
    );
    assert_eq!(r.verdicts.as_ref().unwrap().comparisons, 41);
}

#[test]
fn too_few_processes_give_a_figure_but_no_verdict() {
    let musl: Vec<f64> = GLIBC[..4].iter().map(|g| g * 3.0).collect();
    let mut r = file(vec![row("a/b/c", &GLIBC[..4], &musl)]);
    summarize(&mut r);
    assert!(r.indicative_only());
    let read = super::ratio(&r, &r.benches[0], "musl-system").unwrap();
    assert!((read.value - 3.0).abs() < 1e-9);
    assert_eq!((read.ci, read.level, read.beyond), (None, None, None));
}

#[test]
fn geometric_means_are_taken_per_repeat_then_summarised() {
    let double: Vec<f64> = GLIBC.iter().map(|g| g * 2.0).collect();
    let half: Vec<f64> = GLIBC.iter().map(|g| g * 8.0).collect();
    let mut r = file(vec![row("a/1", &GLIBC, &double), row("a/2", &GLIBC, &half)]);
    summarize(&mut r);
    let g = geometric_mean(&r, "musl-system").unwrap();
    assert!((g.value - 4.0).abs() < 1e-9, "{g:?}");
    let (lo, hi) = g.ci.unwrap();
    assert!((lo - 4.0).abs() < 1e-9 && (hi - 4.0).abs() < 1e-9);
}

#[test]
fn two_files_agree_where_their_intervals_overlap() {
    let musl: Vec<f64> = GLIBC.iter().map(|g| g * 3.0).collect();
    let near: Vec<f64> = GLIBC.iter().map(|g| g * 2.9).collect();
    let far: Vec<f64> = GLIBC.iter().map(|g| g * 1.5).collect();
    let mut a = file(vec![row("a/1", &GLIBC, &musl), row("a/2", &GLIBC, &musl)]);
    let mut b = file(vec![row("a/1", &GLIBC, &near), row("a/2", &GLIBC, &far)]);
    // Give the per-round ratios some spread so the intervals have width.
    for r in [&mut a, &mut b] {
        for row in &mut r.benches {
            row.estimates[1].processes[0].mean_ns *= 1.05;
        }
        summarize(r);
    }
    let agree = agreement(&a, &b);
    assert_eq!((agree.compared, agree.overlapping), (2, 1), "{agree:?}");
    assert!(
        agree.differing[0].starts_with("a/2 musl-system 3.00× ("),
        "{agree:?}"
    );
    assert_eq!(experiment(&a), experiment(&b));
}

#[test]
fn a_schema_1_file_is_read_with_its_own_rule() {
    let mut r = file(vec![]);
    r.method = None;
    let e = |variant: &str, mean: f64| BenchEstimate {
        variant: variant.into(),
        mean_ns: mean,
        mean_ci_low_ns: mean * 0.95,
        mean_ci_high_ns: mean * 1.05,
        samples: Some(100),
        ci_level: None,
        processes: vec![],
        ratio_to_baseline: None,
    };
    r.benches.push(BenchRow {
        bench: "a/b/c".into(),
        throughput: None,
        estimates: vec![e("glibc-system", 100.0), e("musl-system", 200.0)],
    });
    let before = r.clone();
    summarize(&mut r);
    assert_eq!(r, before, "nothing to recompute in a schema 1 file");
    let read = super::ratio(&r, &r.benches[0], "musl-system").unwrap();
    assert_eq!(read.value, 2.0);
    let (lo, hi) = read.ci.unwrap();
    assert!((lo - 190.0 / 105.0).abs() < 1e-9 && (hi - 210.0 / 95.0).abs() < 1e-9);
    assert_eq!((read.level, read.beyond), (None, Some(true)));
    assert_eq!(geometric_mean(&r, "musl-system").unwrap().value, 2.0);
}

//! Comparing a bench results file: ratios against the baseline, significance, the table,
//! the CSV, and the headline allocation ratios.
//!
//! Ratio is the variant's mean time over the baseline's (above 1: slower than the baseline).
//! "Significant" means the two 95% confidence intervals of the mean do not overlap: a
//! conservative test (it misses some real differences, it rarely invents one) that needs
//! nothing but what criterion saved. With fewer than `MIN_BENCH_SAMPLES` samples (quick mode
//! can stop at two) the interval is just those values, so there is no verdict at all.
//! Everything here is computed from a `BenchResults`, so a file on disk renders the same as
//! the run that wrote it.

use crate::results::{BenchEstimate, BenchResults, BenchRow, MIN_BENCH_SAMPLES};
use comfy_table::{presets, CellAlignment, Table};

/// The variant's mean time over the baseline's.
pub fn ratio(estimate: &BenchEstimate, baseline: &BenchEstimate) -> f64 {
    estimate.ratio_to(baseline)
}

/// True when the two means' 95% confidence intervals do not overlap.
pub fn significant(a: &BenchEstimate, b: &BenchEstimate) -> bool {
    a.significant_against(b)
}

/// `significant`, when both estimates have samples enough for a verdict.
pub fn verdict(results: &BenchResults, a: &BenchEstimate, b: &BenchEstimate) -> Option<bool> {
    results.verdict(a, b)
}

/// The verdict as the table and the CSV write it: `yes`, `no`, or `-` without one.
fn verdict_cell(verdict: Option<bool>) -> &'static str {
    match verdict {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

/// The line under the table: how to read "significant", or why there is no verdict.
pub fn reading_note(results: &BenchResults) -> String {
    if results.indicative_only() {
        let fewest = results
            .min_samples()
            .map_or("an unrecorded number of".into(), |n| n.to_string());
        format!(
            "quick: indicative only. Some benches have {fewest} samples (fewer than {MIN_BENCH_SAMPLES}), so no confidence interval and no significance verdict (`-`); ratio > 1: slower than {}",
            results.baseline
        )
    } else {
        format!(
            "significant: the two 95% confidence intervals of the mean do not overlap; ratio > 1: slower than {}",
            results.baseline
        )
    }
}

/// One variant's estimate in a row, if it was measured.
pub fn estimate<'a>(row: &'a BenchRow, variant: &str) -> Option<&'a BenchEstimate> {
    row.estimate(variant)
}

/// `12.3 ns`, `4.56 µs`, `7.89 ms`, `1.23 s`.
pub fn format_ns(ns: f64) -> String {
    let (value, unit) = match ns {
        n if n >= 1e9 => (n / 1e9, "s"),
        n if n >= 1e6 => (n / 1e6, "ms"),
        n if n >= 1e3 => (n / 1e3, "µs"),
        n => (n, "ns"),
    };
    let digits = if value >= 100.0 { 1 } else { 2 };
    format!("{value:.digits$} {unit}")
}

fn others(results: &BenchResults) -> impl Iterator<Item = &String> {
    results
        .variants
        .iter()
        .filter(move |v| **v != results.baseline)
}

/// Bench, each variant's mean time, then ratio and significance per non-baseline variant.
pub fn table(results: &BenchResults) -> Table {
    let base = &results.baseline;
    let mut header = vec!["bench".to_string()];
    header.extend(results.variants.iter().map(|v| format!("{v} time")));
    for v in others(results) {
        header.push(format!("{v} / {base}"));
        header.push("significant".into());
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header(header);
    for row in &results.benches {
        let mut cells = vec![row.bench.clone()];
        cells.extend(
            results
                .variants
                .iter()
                .map(|v| estimate(row, v).map_or("-".into(), |e| format_ns(e.mean_ns))),
        );
        let baseline = estimate(row, base);
        for v in others(results) {
            match (estimate(row, v), baseline) {
                (Some(e), Some(b)) => {
                    cells.push(format!("{:.2}×", ratio(e, b)));
                    cells.push(verdict_cell(verdict(results, e, b)).into());
                }
                _ => cells.extend(["-".to_string(), "-".to_string()]),
            }
        }
        table.add_row(cells);
    }
    for column in table.column_iter_mut().skip(1) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    table
}

/// The numbers the bench suite exists for: each variant's time over the baseline's for
/// multi-threaded small-object churn at 1 thread and at the most threads measured (nproc).
pub fn headline(results: &BenchResults) -> Vec<String> {
    let churn: Vec<(u64, &BenchRow)> = results
        .benches
        .iter()
        .filter_map(|row| {
            let threads = row.bench.strip_prefix("alloc/threaded_churn/")?;
            Some((threads.parse().ok()?, row))
        })
        .collect();
    let (Some(single), Some(most)) = (
        churn.iter().min_by_key(|(t, _)| *t),
        churn.iter().max_by_key(|(t, _)| *t),
    ) else {
        return Vec::new();
    };
    let base = &results.baseline;
    let mut lines = Vec::new();
    for v in others(results) {
        let at = |&(threads, row): &(u64, &BenchRow)| {
            let (e, b) = (estimate(row, v)?, estimate(row, base)?);
            let sig = match verdict(results, e, b) {
                Some(true) => "",
                Some(false) => ", not significant",
                None => ", indicative only",
            };
            Some(format!("{:.2}× at {threads} thread(s){sig}", ratio(e, b)))
        };
        if let (Some(one), Some(many)) = (at(single), at(most)) {
            lines.push(format!("alloc/threaded_churn, {v} / {base}: {one}; {many}"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Throughput;

    fn est(variant: &str, mean: f64, half_width: f64) -> BenchEstimate {
        BenchEstimate {
            variant: variant.into(),
            mean_ns: mean,
            mean_ci_low_ns: mean - half_width,
            mean_ci_high_ns: mean + half_width,
            samples: Some(100),
        }
    }

    fn results(rows: Vec<BenchRow>) -> BenchResults {
        BenchResults {
            schema_version: crate::results::BENCH_SCHEMA_VERSION,
            harness_version: "0".into(),
            kind: "bench".into(),
            command_line: vec![],
            started_at: String::new(),
            finished_at: None,
            environment: Default::default(),
            baseline: "glibc-system".into(),
            variants: vec!["glibc-system".into(), "musl-system".into()],
            benches: rows,
        }
    }

    fn row(bench: &str, glibc: f64, musl: Option<f64>) -> BenchRow {
        let mut estimates = vec![est("glibc-system", glibc, glibc * 0.01)];
        estimates.extend(musl.map(|m| est("musl-system", m, m * 0.01)));
        BenchRow {
            bench: bench.into(),
            throughput: Some(Throughput {
                unit: "elements".into(),
                per_iteration: 10,
            }),
            estimates,
        }
    }

    #[test]
    fn ratio_and_significance_follow_the_intervals() {
        let base = est("glibc-system", 100.0, 5.0);
        assert_eq!(ratio(&est("musl-system", 250.0, 5.0), &base), 2.5);
        assert!(significant(&est("m", 110.0, 4.0), &base));
        assert!(significant(&base, &est("m", 110.0, 4.0)));
        // Touching or overlapping intervals are not a difference.
        assert!(!significant(&est("m", 110.0, 5.0), &base));
        assert!(!significant(&est("m", 102.0, 1.0), &base));
    }

    #[test]
    fn times_carry_their_unit() {
        assert_eq!(format_ns(12.345), "12.35 ns");
        assert_eq!(format_ns(4_560.0), "4.56 µs");
        assert_eq!(format_ns(123_456_789.0), "123.5 ms");
        assert_eq!(format_ns(2.5e9), "2.50 s");
    }

    #[test]
    fn table_and_csv_have_one_row_per_bench_and_a_dash_for_gaps() {
        let r = results(vec![
            row("alloc/small_churn/10000", 100.0, Some(300.0)),
            row("memory/memcpy/16B", 10.0, None),
        ]);
        let text = table(&r).to_string();
        assert!(text.contains("musl-system / glibc-system"), "{text}");
        assert!(text.contains("3.00×"), "{text}");
        let memcpy = text.lines().find(|l| l.contains("memcpy")).unwrap();
        assert!(memcpy.contains(" - "), "{memcpy}");
        let csv = <crate::export::csv::Csv as crate::export::Exporter<BenchResults>>::render(&r);
        assert_eq!(csv.lines().count(), 1 + 3);
        assert!(
            csv.contains("alloc/small_churn/10000,musl-system,300,297,303,elements,10,3,true,100"),
            "{csv}"
        );
    }

    #[test]
    fn two_samples_get_no_verdict_and_say_indicative_only() {
        // As quick mode saved it: two samples, the "CI" just those two values, far apart.
        let mut r = results(vec![
            row("alloc/threaded_churn/1", 100.0, Some(99.0)),
            row("alloc/threaded_churn/2", 100.0, Some(150.0)),
        ]);
        assert!(!r.indicative_only());
        assert_eq!(
            verdict(&r, &r.benches[1].estimates[1], &r.benches[1].estimates[0]),
            Some(true)
        );
        r.benches[1].estimates[1].samples = Some(2);
        assert!(r.indicative_only());
        assert_eq!(r.min_samples(), Some(2));
        let (musl, glibc) = (&r.benches[1].estimates[1], &r.benches[1].estimates[0]);
        assert!(
            significant(musl, glibc),
            "the intervals alone would say yes"
        );
        assert_eq!(verdict(&r, musl, glibc), None);
        let text = table(&r).to_string();
        let line = text
            .lines()
            .find(|l| l.contains("threaded_churn/2"))
            .unwrap();
        assert!(
            line.contains("1.50×") && line.trim_end().ends_with("- │"),
            "{line}"
        );
        assert!(!line.contains("yes") && !line.contains("no"), "{line}");
        assert!(
            <crate::export::csv::Csv as crate::export::Exporter<BenchResults>>::render(&r)
                .contains(
                    "alloc/threaded_churn/2,musl-system,150,148.5,151.5,elements,10,1.5,,2\n"
                )
        );
        assert!(reading_note(&r).starts_with("quick: indicative only. Some benches have 2 samples"));
        assert_eq!(
            headline(&r),
            ["alloc/threaded_churn, musl-system / glibc-system: 0.99× at 1 thread(s), not significant; 1.50× at 2 thread(s), indicative only"]
        );
    }

    #[test]
    fn an_older_quick_file_without_sample_counts_gets_no_verdict() {
        let mut r = results(vec![row("alloc/small_churn/10000", 100.0, Some(300.0))]);
        for e in &mut r.benches[0].estimates {
            e.samples = None;
        }
        assert!(!r.indicative_only(), "a full run of an older harness");
        assert_eq!(r.min_samples(), None);
        r.command_line = vec!["harness".into(), "bench".into(), "--quick".into()];
        assert!(r.indicative_only());
        assert!(reading_note(&r).contains("an unrecorded number of samples"));
    }

    #[test]
    fn headline_picks_one_thread_and_the_most() {
        let r = results(vec![
            row("alloc/threaded_churn/1", 100.0, Some(150.0)),
            row("alloc/threaded_churn/4", 100.0, Some(400.0)),
            row("alloc/threaded_churn/2", 100.0, Some(101.0)),
        ]);
        assert_eq!(
            headline(&r),
            ["alloc/threaded_churn, musl-system / glibc-system: 1.50× at 1 thread(s); 4.00× at 4 thread(s)"]
        );
        assert!(headline(&results(vec![row("alloc/small_churn/1", 1.0, Some(2.0))])).is_empty());
    }
}

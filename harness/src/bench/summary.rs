//! Comparing a bench results file: ratios against the baseline, their verdicts, the table,
//! the headline allocation ratios, the geometric means and the negative control's line.
//!
//! Ratio is the variant's time over the baseline's (above 1: slower than the baseline). How
//! a ratio gets its interval and its verdict depends on the file (`measure::bench::ratio`):
//! schema 2 over processes (paired by round, Holm over the file's comparisons), schema 1
//! from criterion's two 95% intervals not overlapping. Too few samples or processes: no
//! verdict at all. Everything here is computed from a `BenchResults`, so a file on disk
//! renders the same as the run that wrote it.

use crate::measure::bench::{self as judge, BenchRatio};
use crate::measure::stats::{interval_name, percent};
use crate::results::{BenchEstimate, BenchResults, BenchRow, MIN_BENCH_REPEATS, MIN_BENCH_SAMPLES};
use comfy_table::{presets, CellAlignment, Table};

/// The variant's mean time over the baseline's.
pub fn ratio(estimate: &BenchEstimate, baseline: &BenchEstimate) -> f64 {
    estimate.ratio_to(baseline)
}

/// Schema 1's rule: true when the two means' 95% confidence intervals do not overlap.
pub fn significant(a: &BenchEstimate, b: &BenchEstimate) -> bool {
    a.significant_against(b)
}

/// The verdict as the table writes it: `beyond noise`, `≈` (within noise), or `-` without
/// one.
fn verdict_cell(verdict: Option<bool>) -> &'static str {
    match verdict {
        Some(true) => "beyond noise",
        Some(false) => "≈",
        None => "-",
    }
}

/// `2.95× (2.61–3.40)`, or `2.95×` without an interval.
pub fn ratio_text(r: &BenchRatio) -> String {
    match r.ci {
        Some((lo, hi)) => format!("{:.2}× ({lo:.2}–{hi:.2})", r.value),
        None => format!("{:.2}×", r.value),
    }
}

/// The lines under the table: how to read a ratio and its verdict, or why there is none,
/// and the negative control's outcome.
pub fn reading_note(results: &BenchResults) -> String {
    let base = &results.baseline;
    let mut lines = Vec::new();
    if results.single_process() {
        lines.push(format!(
            "schema 1 file (one process per variant): verdict: the two 95% confidence intervals of criterion's mean do not overlap; ratio > 1: slower than {base}"
        ));
    } else {
        let repeats = results.method.as_ref().map_or(0, |m| m.repeats);
        let interval = interval_name(
            repeats,
            Some(crate::measure::stats::median_interval_rank(repeats as usize).1),
        );
        let comparisons = results.verdicts.as_ref().map_or(0, |v| v.comparisons);
        lines.push(format!(
            "ratio: time ÷ {base}'s, the median over {repeats} rounds of one process per variant (paired by round), with its {interval}; beyond noise: that interval excludes 1 and the Holm-adjusted p-value over the file's {comparisons} comparisons is at most 0.05 (≈: within noise)"
        ));
    }
    if results.indicative_only() {
        let fewest = results
            .min_samples()
            .map_or("an unrecorded number of".into(), |n| n.to_string());
        lines.push(match results.method.as_ref() {
            Some(m) if (m.repeats as usize) < MIN_BENCH_REPEATS => format!(
                "indicative only: {} processes per variant (fewer than {MIN_BENCH_REPEATS}), so no interval and no verdict (`-`)",
                m.repeats
            ),
            _ => format!(
                "quick: indicative only. Some benches have {fewest} samples (fewer than {MIN_BENCH_SAMPLES}), so no confidence interval and no verdict (`-`)"
            ),
        });
    }
    lines.extend(judge::control_line(results));
    lines.join("\n")
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

/// Bench, each variant's time, then ratio and verdict per non-baseline variant.
pub fn table(results: &BenchResults) -> Table {
    let base = &results.baseline;
    let mut header = vec!["bench".to_string()];
    header.extend(results.variants.iter().map(|v| format!("{v} time")));
    for v in others(results) {
        header.push(format!("{v} / {base}"));
        header.push("verdict".into());
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
        for v in others(results) {
            match judge::ratio(results, row, v) {
                Some(r) => {
                    cells.push(ratio_text(&r));
                    cells.push(verdict_cell(r.beyond).into());
                }
                None => cells.extend(["-".to_string(), "-".to_string()]),
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
/// multi-threaded small-object churn at 1 thread and at the most threads measured (nproc),
/// then its geometric mean over every bench.
pub fn headline(results: &BenchResults) -> Vec<String> {
    let churn: Vec<(u64, &BenchRow)> = results
        .benches
        .iter()
        .filter_map(|row| {
            let threads = row.bench.strip_prefix("alloc/threaded_churn/")?;
            Some((threads.parse().ok()?, row))
        })
        .collect();
    let base = &results.baseline;
    let mut lines = Vec::new();
    let single = churn.iter().min_by_key(|(t, _)| *t);
    let most = churn.iter().max_by_key(|(t, _)| *t);
    for v in others(results) {
        let at = |&(threads, row): &(u64, &BenchRow)| {
            let r = judge::ratio(results, row, v)?;
            let sig = match r.beyond {
                Some(true) => "",
                Some(false) => ", within noise",
                None => ", indicative only",
            };
            Some(format!("{} at {threads} thread(s){sig}", ratio_text(&r)))
        };
        if let (Some(one), Some(many)) = (single.and_then(at), most.and_then(at)) {
            lines.push(format!("alloc/threaded_churn, {v} / {base}: {one}; {many}"));
        }
    }
    for v in others(results) {
        if let Some(g) = judge::geometric_mean(results, v) {
            let n = results
                .benches
                .iter()
                .filter(|r| judge::ratio(results, r, v).is_some())
                .count();
            let interval = match (g.ci, g.level) {
                (Some((lo, hi)), Some(level)) => {
                    format!(" ({} interval {lo:.2}–{hi:.2})", percent(level))
                }
                _ => String::new(),
            };
            lines.push(format!(
                "geometric mean over {n} benches, {v} / {base}: {:.2}×{interval}",
                g.value
            ));
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
            ci_level: None,
            processes: vec![],
            ratio_to_baseline: None,
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
            method: None,
            verdicts: None,
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
            r.verdict(&r.benches[1].estimates[1], &r.benches[1].estimates[0]),
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
        assert_eq!(r.verdict(musl, glibc), None);
        let text = table(&r).to_string();
        let line = text
            .lines()
            .find(|l| l.contains("threaded_churn/2"))
            .unwrap();
        assert!(
            line.contains("1.50×") && line.trim_end().ends_with("- │"),
            "{line}"
        );
        assert!(!line.contains("beyond") && !line.contains('≈'), "{line}");
        assert!(
            <crate::export::csv::Csv as crate::export::Exporter<BenchResults>>::render(&r)
                .contains(
                    "alloc/threaded_churn/2,musl-system,150,148.5,151.5,elements,10,1.5,,2,,,,\n"
                )
        );
        let note = reading_note(&r);
        assert!(
            note.contains("\nquick: indicative only. Some benches have 2 samples"),
            "{note}"
        );
        assert_eq!(
            headline(&r),
            [
                "alloc/threaded_churn, musl-system / glibc-system: 0.99× (0.97–1.01) at 1 thread(s), within noise; 1.50× at 2 thread(s), indicative only",
                "geometric mean over 2 benches, musl-system / glibc-system: 1.22×"
            ]
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
            [
                "alloc/threaded_churn, musl-system / glibc-system: 1.50× (1.47–1.53) at 1 thread(s); 4.00× (3.92–4.08) at 4 thread(s)",
                "geometric mean over 3 benches, musl-system / glibc-system: 1.82×"
            ]
        );
        assert_eq!(
            headline(&results(vec![row("alloc/small_churn/1", 1.0, Some(2.0))])),
            ["geometric mean over 1 benches, musl-system / glibc-system: 2.00×"]
        );
    }
}

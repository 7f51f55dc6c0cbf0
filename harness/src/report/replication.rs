//! Does a verdict survive another run? Several runs of one experiment (the same app on the
//! same host, the same schema: `load::experiment`) are read as one experiment with
//! between-run spread: every comparison to the baseline is called per run (better or worse
//! beyond noise, or within noise), and a comparison whose calls differ between runs "does
//! not replicate" — said in the verdict, marked in the tables, listed in a table of its own.
//!
//! Calls use the adjusted p-values the report set over all its files (`load::judge`), so a run's
//! verdict here is the one its own section shows.

use super::doc::Table;
use super::fmt::factor;
use super::load::RunFile;
use crate::measure::controls::named_ratios;
use crate::results::{Ratio, RunResults};

/// How one run called one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Beyond noise, the ratio above 1.
    Above,
    /// Beyond noise, the ratio below 1.
    Below,
    Within,
}

impl Call {
    pub fn of(r: &Ratio) -> Call {
        match (r.beyond_noise(), r.median > 1.0) {
            (false, _) => Call::Within,
            (true, true) => Call::Above,
            (true, false) => Call::Below,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Call::Above => "above 1 beyond noise",
            Call::Below => "below 1 beyond noise",
            Call::Within => "within noise",
        }
    }
}

/// One comparison across the runs of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `musl-mimalloc-scratch`, or `glibc-system-debian (A/A control)`.
    pub arm: String,
    /// `/json c=64 rps`, `cold start`, `2 threads`.
    pub figure: String,
    /// Each run's ratio, in the order of the runs (oldest first); `None` where it lacks it.
    pub ratios: Vec<Option<Ratio>>,
}

impl Row {
    /// The calls of the runs that have the comparison.
    pub fn calls(&self) -> Vec<Call> {
        self.ratios.iter().flatten().map(Call::of).collect()
    }

    /// Whether every run that has the comparison called it the same way (true with one).
    pub fn replicates(&self) -> bool {
        let calls = self.calls();
        calls.windows(2).all(|w| w[0] == w[1])
    }

    /// Runs that have the comparison.
    pub fn runs(&self) -> usize {
        self.ratios.iter().flatten().count()
    }

    /// The median of the runs' median ratios, and their lowest and highest.
    pub fn between_runs(&self) -> Option<(f64, f64, f64)> {
        let mut medians: Vec<f64> = self.ratios.iter().flatten().map(|r| r.median).collect();
        if medians.is_empty() {
            return None;
        }
        medians.sort_by(f64::total_cmp);
        let mid = crate::measure::stats::percentile(&medians, 0.5);
        Some((mid, medians[0], medians[medians.len() - 1]))
    }

    pub fn name(&self) -> String {
        format!("{}: {}", self.arm, self.figure)
    }
}

/// Every comparison of the runs of one experiment (`runs` oldest first), in the order the
/// newest run has them, then any only older runs have.
pub fn rows(runs: &[&RunResults]) -> Vec<Row> {
    let per_run: Vec<Vec<(String, String, Ratio)>> = runs.iter().map(|r| arm_ratios(r)).collect();
    let mut keys: Vec<(String, String)> = Vec::new();
    for run in per_run.iter().rev() {
        for (arm, figure, _) in run {
            if !keys.iter().any(|(a, f)| a == arm && f == figure) {
                keys.push((arm.clone(), figure.clone()));
            }
        }
    }
    keys.into_iter()
        .map(|(arm, figure)| {
            let ratios = per_run
                .iter()
                .map(|run| {
                    run.iter()
                        .find(|(a, f, _)| *a == arm && *f == figure)
                        .map(|(_, _, r)| *r)
                })
                .collect();
            Row {
                arm,
                figure,
                ratios,
            }
        })
        .collect()
}

/// `(arm, figure, ratio)` for every comparison of a run, the A/A control's included.
fn arm_ratios(results: &RunResults) -> Vec<(String, String, Ratio)> {
    let variants = results.variants.iter().map(|v| (v.variant.name(), v));
    let control = results
        .control
        .iter()
        .map(|c| (format!("{} (A/A control)", c.variant), c));
    variants
        .chain(control)
        .flat_map(|(arm, v)| {
            named_ratios(v)
                .into_iter()
                .map(move |(figure, r)| (arm.clone(), figure, r))
        })
        .collect()
}

/// The runs of an experiment, oldest first: the replicates, then the run itself.
pub fn experiment<'a>(run: &'a RunFile, replicates: &[&'a RunFile]) -> Vec<&'a RunResults> {
    let mut runs: Vec<&RunResults> = replicates.iter().map(|r| &r.results).collect();
    runs.push(&run.results);
    runs
}

/// The verdict's sentence: how many comparisons replicate over the runs, and each that
/// does not; `None` for a single run.
pub fn sentence(runs: &[&RunResults]) -> Option<String> {
    if runs.len() < 2 {
        return None;
    }
    let rows = rows(runs);
    let shared: Vec<&Row> = rows.iter().filter(|r| r.runs() >= 2).collect();
    let failing: Vec<String> = shared
        .iter()
        .filter(|r| !r.replicates())
        .map(|r| {
            let calls: Vec<String> = r
                .ratios
                .iter()
                .map(|x| {
                    x.map_or("-".into(), |x| {
                        format!("{} {}", factor(x.median), Call::of(&x).words())
                    })
                })
                .collect();
            format!("{} ({})", r.name(), calls.join("; "))
        })
        .collect();
    let span = span(runs);
    let head = format!(
        "**Replication** ({} runs{span}): {} of {} comparisons get the same verdict in every run",
        runs.len(),
        shared.len() - failing.len(),
        shared.len()
    );
    Some(match failing.is_empty() {
        true => format!("{head}."),
        false => format!(
            "{head}; these **do not replicate**, so no verdict on them stands: {}.",
            failing.join(", ")
        ),
    })
}

/// `, 2026-12-06T21:00:00Z to 2026-12-06T22:10:00Z`: the first and last start.
fn span(runs: &[&RunResults]) -> String {
    match (runs.first(), runs.last()) {
        (Some(a), Some(b)) if a.started_at != b.started_at => {
            format!(", started {} to {}", a.started_at, b.started_at)
        }
        _ => String::new(),
    }
}

/// Whether `arm`'s `figure` is a comparison that does not replicate over `runs`.
pub fn fails(runs: &[&RunResults], arm: &str, figure: &str) -> bool {
    runs.len() > 1
        && rows(runs)
            .iter()
            .any(|r| r.arm == arm && r.figure == figure && r.runs() >= 2 && !r.replicates())
}

/// The table of every comparison over the runs: each run's ratio and call, the spread of
/// the runs' medians, and whether the calls agree.
pub fn table(runs: &[&RunResults]) -> Option<Table> {
    if runs.len() < 2 {
        return None;
    }
    let mut header = vec!["comparison".to_string()];
    header.extend((1..=runs.len()).map(|i| format!("run {i}")));
    header.push("between runs (median, range)".into());
    header.push("replicates".into());
    let mut t = Table::new(header);
    for row in rows(runs) {
        let mut cells = vec![row.name()];
        for r in &row.ratios {
            cells.push(match r {
                Some(r) => {
                    let mark = match Call::of(r) {
                        Call::Within => " ≈",
                        _ => "",
                    };
                    format!("{}{mark}", factor(r.median))
                }
                None => "-".into(),
            });
        }
        cells.push(row.between_runs().map_or("-".into(), |(mid, lo, hi)| {
            format!("{} ({lo:.2}–{hi:.2})", factor(mid))
        }));
        cells.push(match (row.runs() >= 2, row.replicates()) {
            (false, _) => "one run".into(),
            (true, true) => "yes".into(),
            (true, false) => "**no**".into(),
        });
        t.row(cells);
    }
    let starts: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| format!("run {} started {}", i + 1, r.started_at))
        .collect();
    Some(t.note(format!(
        "Each run's median paired ratio to the baseline; ≈: within noise in that run (as judged over all of this report's comparisons). A comparison replicates when every run calls it the same way: above 1, below 1 (each beyond noise), or within noise. {}.",
        starts.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(median: f64, beyond: bool) -> Ratio {
        Ratio {
            n: 6,
            median,
            ci_low: if beyond { median * 0.95 } else { 0.9 },
            ci_high: if beyond { median * 1.05 } else { 1.1 },
            level: Some(0.969),
            p_value: Some(if beyond { 0.001 } else { 0.5 }),
            p_adjusted: Some(if beyond { 0.001 } else { 0.5 }),
        }
    }

    #[test]
    fn calls_that_differ_between_runs_do_not_replicate() {
        let row = |ratios: Vec<Option<Ratio>>| Row {
            arm: "musl-mimalloc-scratch".into(),
            figure: "/json c=64 rps".into(),
            ratios,
        };
        let agree = row(vec![Some(ratio(0.5, true)), Some(ratio(0.55, true))]);
        assert!(agree.replicates());
        let flips = row(vec![Some(ratio(0.7, true)), Some(ratio(1.01, false))]);
        assert!(!flips.replicates());
        let opposite = row(vec![Some(ratio(0.7, true)), Some(ratio(1.3, true))]);
        assert!(!opposite.replicates());
        let one = row(vec![None, Some(ratio(0.7, true))]);
        assert!(one.replicates() && one.runs() == 1);
        assert_eq!(flips.between_runs(), Some((0.855, 0.7, 1.01)));
    }
}

//! `harness bench`: the criterion benches of `workloads`, once per link-allocator variant,
//! read back from criterion's saved baselines into one `BenchResults` file.
//!
//! Order of work: build every variant first (a broken one fails before minutes of measuring),
//! list the benches the filter selects (none is a usage error, with nothing written), then
//! per bench target run every variant in turn with `--save-baseline <variant>`, read the
//! estimates and rewrite the results file, so a failure keeps what finished. This module owns that order
//! and the progress lines; `cargo_runs` runs children, `criterion` reads files, `summary` renders.

pub mod cargo_runs;
pub mod criterion;
pub mod summary;

use crate::error::usage;
use crate::plan::bench::{BenchPlan, BenchVariant};
use crate::results::{BenchResults, BenchRow, BENCH_SCHEMA_VERSION};
use anyhow::{bail, Context};
use cargo_runs::Workspace;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// What a finished `harness bench` produced.
#[derive(Debug)]
pub struct BenchOutcome {
    pub results: BenchResults,
    pub json_path: PathBuf,
    pub csv_path: PathBuf,
}

/// One bench target and the ids in it that the filter selects.
#[derive(Debug, Clone)]
struct Selected {
    target: String,
    ids: Vec<String>,
}

/// Builds, lists, measures and records every variant of the plan.
pub fn run(plan: &BenchPlan, root: &Path) -> anyhow::Result<BenchOutcome> {
    let ws = Workspace::locate(root)?;
    let progress = BenchProgress::new(plan.quiet);
    for &variant in &plan.variants {
        progress.note(&format!("building the benches for {variant}"));
        ws.build(variant)?;
    }
    let selected = select(&ws, plan)?;
    let total: usize = selected.iter().map(|s| s.ids.len()).sum();
    progress.start(total * plan.variants.len());

    let started_at = crate::results::now();
    let stamp = started_at.replace(['-', ':'], "");
    let json_path = plan.out_dir.join(format!("bench-{stamp}.json"));
    let csv_path = json_path.with_extension("csv");
    let mut results = BenchResults {
        schema_version: BENCH_SCHEMA_VERSION,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        kind: "bench".into(),
        command_line: plan.command_line(),
        started_at,
        finished_at: None,
        environment: crate::environment::collect(&plan.machine, None, root),
        baseline: plan.baseline.name(),
        variants: plan.variants.iter().map(BenchVariant::name).collect(),
        benches: selected
            .iter()
            .flat_map(|s| &s.ids)
            .map(|id| BenchRow {
                bench: id.clone(),
                throughput: None,
                estimates: Vec::new(),
            })
            .collect(),
    };
    // Variants take turns per bench target, so a change in the machine's load over the run
    // spreads over all of them instead of landing on whichever ran last.
    for s in &selected {
        for &variant in &plan.variants {
            ws.measure(
                variant,
                &s.target,
                &criterion_args(plan, variant),
                &mut |line| progress.criterion_line(variant, line),
            )?;
            record(&mut results, &ws, variant, &s.ids)?;
            save(&results, &json_path)?;
        }
    }
    progress.finish();
    results.finished_at = Some(crate::results::now());
    save(&results, &json_path)?;
    Ok(BenchOutcome {
        results,
        json_path,
        csv_path,
    })
}

/// The bench targets and ids that the filter selects, listed with the first variant.
fn select(ws: &Workspace, plan: &BenchPlan) -> anyhow::Result<Vec<Selected>> {
    let mut selected = Vec::new();
    for target in &ws.benches {
        let ids = ws.list(plan.variants[0], target, plan.filter.as_deref())?;
        if !ids.is_empty() {
            selected.push(Selected {
                target: target.clone(),
                ids,
            });
        }
    }
    if selected.is_empty() {
        return Err(usage(format!(
            "--filter {:?} matches no bench: ids look like `alloc/threaded_churn/2`; list them with `cargo bench -- --list`",
            plan.filter.as_deref().unwrap_or("")
        )));
    }
    Ok(selected)
}

/// What follows `--` on each `cargo bench`: the baseline to save, quick mode, the filter.
pub fn criterion_args(plan: &BenchPlan, variant: BenchVariant) -> Vec<String> {
    let mut args = vec![
        "--save-baseline".to_string(),
        variant.name(),
        "--noplot".into(),
    ];
    if plan.quick {
        // Quick mode stops at 5% noise or at the measurement time, whichever comes first.
        args.extend(
            [
                "--quick",
                "--measurement-time",
                "1",
                "--nresamples",
                "10000",
            ]
            .map(String::from),
        );
    }
    args.extend(plan.filter.clone());
    args
}

/// Adds the variant's saved estimates for `ids` to their rows; each must have one.
fn record(
    results: &mut BenchResults,
    ws: &Workspace,
    variant: BenchVariant,
    ids: &[String],
) -> anyhow::Result<()> {
    let name = variant.name();
    let saved = criterion::read_baseline(&ws.criterion_home(), &name)?;
    for row in results
        .benches
        .iter_mut()
        .filter(|r| ids.contains(&r.bench))
    {
        let Some(s) = saved.iter().find(|s| s.id == row.bench) else {
            bail!(
                "criterion saved no estimates for {} under baseline {name} in {}",
                row.bench,
                ws.criterion_home().display()
            );
        };
        row.throughput = s.throughput.clone();
        row.estimates.retain(|e| e.variant != name);
        row.estimates.push(s.estimate.clone());
    }
    Ok(())
}

fn save(results: &BenchResults, json_path: &Path) -> anyhow::Result<()> {
    crate::export::write_all(results, json_path)
}

/// Progress on stderr: a bar over all benches × variants where stderr is a terminal, and
/// one line per finished bench everywhere (so CI logs show progress too).
struct BenchProgress {
    bar: Option<ProgressBar>,
    /// The previous line criterion printed: a long id stands on the line before its time.
    previous: std::cell::RefCell<String>,
}

impl BenchProgress {
    fn new(quiet: bool) -> BenchProgress {
        let bar = (!quiet).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} {wide_msg}")
                    .expect("the template is valid"),
            );
            bar
        });
        BenchProgress {
            bar,
            previous: Default::default(),
        }
    }

    fn note(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.suspend(|| eprintln!("{message}"));
        }
    }

    fn start(&self, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(0);
        }
    }

    fn criterion_line(&self, variant: BenchVariant, line: &str) {
        let Some(bar) = &self.bar else { return };
        let previous = self.previous.replace(line.trim().to_string());
        if let Some((id, time)) = finished_bench(&previous, line) {
            bar.inc(1);
            bar.set_message(format!("{variant}: {id}"));
            bar.suspend(|| eprintln!("{:<22} {id:<36} {time}", variant.name()));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Criterion's report on stdout ends each bench with `<id> time:   [low typical high]`; an
/// id longer than 23 characters stands alone on the line before. A second `time:` line, in
/// percent, is the change against the last run saved under the same baseline: not an end.
fn finished_bench(previous: &str, line: &str) -> Option<(String, String)> {
    let (id, time) = line.split_once("time:")?;
    if time.contains('%') {
        return None;
    }
    let id = match id.trim() {
        "" => previous.trim(),
        id => id,
    };
    Some((id.to_string(), time.trim().to_string()))
}

impl BenchOutcome {
    /// Where the results went, for the user.
    pub fn paths(&self) -> String {
        format!(
            "{} (and {})",
            self.json_path.display(),
            self.csv_path.display()
        )
    }
}

/// Reads a bench results file written by `run`.
pub fn load(path: &Path) -> anyhow::Result<BenchResults> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let results: BenchResults = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a bench results file", path.display()))?;
    if results.kind != "bench" || results.schema_version != BENCH_SCHEMA_VERSION {
        bail!(
            "{}: kind {:?}, schema_version {}: expected a bench results file of schema_version {BENCH_SCHEMA_VERSION}",
            path.display(),
            results.kind,
            results.schema_version
        );
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_benches_are_read_from_criterions_report() {
        // Lines as criterion 0.8 prints them when stdout is not a terminal.
        let short = "alloc/small_churn/10000 time:   [308.03 µs 329.30 µs 351.39 µs]";
        assert_eq!(
            finished_bench("", short),
            Some((
                "alloc/small_churn/10000".into(),
                "[308.03 µs 329.30 µs 351.39 µs]".into()
            ))
        );
        let long = "                        time:   [43.305 µs 45.222 µs 47.091 µs]";
        assert_eq!(
            finished_bench("startup/system_time_now/1000", long).map(|(id, _)| id),
            Some("startup/system_time_now/1000".into())
        );
        let change =
            "                        time:   [−96.507% −96.103% −95.684%] (p = 0.00 < 0.05)";
        assert_eq!(finished_bench("x", change), None);
        assert_eq!(
            finished_bench(
                "x",
                "                        thrpt:  [1 GiB/s 2 GiB/s 3 GiB/s]"
            ),
            None
        );
    }

    #[test]
    fn quick_mode_and_the_filter_reach_criterion() {
        let args = crate::cli::BenchArgs {
            variants: vec!["musl-system".into()],
            filter: Some("^alloc/".into()),
            quick: true,
            out: "out".into(),
            machine: None,
            quiet: true,
        };
        let plan = BenchPlan::from_args(&args).unwrap();
        let argv = criterion_args(&plan, plan.variants[0]).join(" ");
        assert_eq!(
            argv,
            "--save-baseline musl-system --noplot --quick --measurement-time 1 --nresamples 10000 ^alloc/"
        );
    }
}

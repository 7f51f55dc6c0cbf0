//! `harness bench`: the criterion benches of `workloads`, once per link-allocator variant,
//! read back from criterion's saved baselines into one `BenchResults` file.
//!
//! Order of work: build every variant first (a broken one fails before minutes of measuring),
//! list the benches the filter selects (none is a usage error, with nothing written), then
//! per variant run each bench target with `--save-baseline <variant>`, read the estimates and
//! rewrite the results file, so a failure keeps what finished. This module owns that order
//! and the progress lines; `cargo` runs children, `criterion` reads files, `compare` renders.

pub mod cargo;
pub mod compare;
pub mod criterion;
pub mod environment;
pub mod plan;

use crate::error::usage;
use crate::results::{self, BenchResults, BenchRow, SCHEMA_VERSION};
use anyhow::{bail, Context};
use cargo::Workspace;
use indicatif::{ProgressBar, ProgressStyle};
use plan::{BenchPlan, BenchVariant};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    let progress = Progress::new(plan.quiet);
    for &variant in &plan.variants {
        progress.note(&format!("building the benches for {variant}"));
        ws.build(variant)?;
    }
    let selected = select(&ws, plan)?;
    let total: usize = selected.iter().map(|s| s.ids.len()).sum();
    progress.start(total * plan.variants.len());

    let started_at = now_rfc3339();
    let stamp = started_at.replace(['-', ':'], "");
    let json_path = plan.out_dir.join(format!("bench-{stamp}.json"));
    let csv_path = json_path.with_extension("csv");
    let mut results = BenchResults {
        schema_version: SCHEMA_VERSION,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        kind: "bench".into(),
        command_line: plan.command_line(),
        started_at,
        finished_at: None,
        environment: environment::collect(&plan.machine, root),
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
    for &variant in &plan.variants {
        for s in &selected {
            ws.measure(
                variant,
                &s.target,
                &criterion_args(plan, variant),
                &mut |line| progress.criterion_line(variant, line),
            )?;
        }
        record(&mut results, &ws, variant)?;
        save(&results, &json_path, &csv_path)?;
    }
    progress.finish();
    results.finished_at = Some(now_rfc3339());
    save(&results, &json_path, &csv_path)?;
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

/// Adds the variant's saved estimates to the rows; every listed bench must have one.
fn record(results: &mut BenchResults, ws: &Workspace, variant: BenchVariant) -> anyhow::Result<()> {
    let name = variant.name();
    let saved = criterion::read_baseline(&ws.criterion_home(), &name)?;
    for row in &mut results.benches {
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

fn save(results: &BenchResults, json_path: &Path, csv_path: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(results).expect("results always serialize");
    results::write_atomically(json_path, &json)?;
    results::write_atomically(csv_path, compare::csv(results).as_bytes())?;
    Ok(())
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Progress on stderr: a bar over all benches × variants where stderr is a terminal, and
/// one line per finished bench everywhere (so CI logs show progress too).
struct Progress {
    bar: Option<ProgressBar>,
    current: std::cell::RefCell<String>,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        let bar = (!quiet).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} {wide_msg}")
                    .expect("the template is valid"),
            );
            bar
        });
        Progress {
            bar,
            current: Default::default(),
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

    /// Follows criterion's plain (non-terminal) output: `Benchmarking <id>: Analyzing` ends a
    /// bench, and the `time:` line that follows carries its estimate (a second `time:` line
    /// with percentages is criterion's change against the last run under that baseline).
    fn criterion_line(&self, variant: BenchVariant, line: &str) {
        let Some(bar) = &self.bar else { return };
        if let Some(rest) = line.strip_prefix("Benchmarking ") {
            let id = rest.split(": ").next().unwrap_or(rest);
            *self.current.borrow_mut() = id.to_string();
            bar.set_message(format!("{variant}: {id}"));
            if rest.ends_with(": Analyzing") {
                bar.inc(1);
            }
        } else if let Some(time) = line
            .trim_start()
            .strip_prefix("time:")
            .filter(|t| !t.contains('%'))
        {
            let id = self.current.borrow();
            bar.suspend(|| eprintln!("{variant:<22} {id:<36} {}", time.trim()));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
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
    if results.kind != "bench" || results.schema_version != SCHEMA_VERSION {
        bail!(
            "{}: kind {:?}, schema_version {}: expected a bench results file of schema_version {SCHEMA_VERSION}",
            path.display(),
            results.kind,
            results.schema_version
        );
    }
    Ok(results)
}

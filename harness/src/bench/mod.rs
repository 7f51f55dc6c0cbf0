//! `harness bench`: the criterion benches of `workloads`, run as separate processes per
//! link-allocator variant, `repeats` times each, read back from criterion's saved estimates
//! into one `BenchResults` file.
//!
//! Order of work: build every variant first (a broken one fails before minutes of measuring),
//! list the benches the filter selects (none is a usage error, with nothing written), then
//! measure round by round: in each round, every chunk of benches (one bench function's
//! parameters) runs once per variant, the variants in a seeded shuffled order, so a drifting
//! machine lands on all of them alike and each round's processes of one chunk lie seconds
//! apart (their ratio is the paired figure). After every process the file is recomputed
//! (`measure::bench::summarize`) and rewritten, so a failure keeps what finished. This
//! module owns that order and the progress lines; `cargo_runs` runs children, `criterion`
//! reads files, `summary` renders.

pub mod cargo_runs;
pub mod criterion;
pub mod summary;

use crate::error::usage;
use crate::measure::stats::shuffled;
use crate::plan::bench::{BenchPlan, BenchVariant};
use crate::results::{
    BenchEstimate, BenchMethod, BenchResults, BenchRow, ProcessEstimate, BENCH_SCHEMA_VERSION,
};
use anyhow::{bail, Context};
use cargo_runs::{Binaries, Workspace};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// What a finished `harness bench` produced.
#[derive(Debug)]
pub struct BenchOutcome {
    pub results: BenchResults,
    pub json_path: PathBuf,
    pub csv_path: PathBuf,
}

/// Benches that run in one process: one bench target's ids of one bench function
/// (`memory/memcpy/…`), in criterion's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub target: String,
    pub ids: Vec<String>,
}

/// How the processes are ordered, for the results file.
const ORDER: &str = "round by round; in each round every chunk of benches (one bench function) once per variant, the variants shuffled per round and chunk (SplitMix64 Fisher-Yates, seed = order_seed ^ round << 32 ^ chunk)";

/// Builds, lists, measures and records every variant of the plan.
pub fn run(plan: &BenchPlan, root: &Path) -> anyhow::Result<BenchOutcome> {
    let ws = Workspace::locate(root)?;
    let progress = BenchProgress::new(plan.quiet);
    let mut binaries: Vec<Binaries> = Vec::new();
    for &variant in &plan.variants {
        progress.note(&format!("building the benches for {variant}"));
        binaries.push(ws.build(variant)?);
    }
    let chunks = select(&ws, plan, &binaries[0])?;
    let ids: usize = chunks.iter().map(|c| c.ids.len()).sum();
    progress.start(ids * plan.variants.len() * plan.repeats as usize);

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
        benches: chunks
            .iter()
            .flat_map(|c| &c.ids)
            .map(|id| BenchRow {
                bench: id.clone(),
                throughput: None,
                estimates: Vec::new(),
            })
            .collect(),
        method: Some(BenchMethod {
            repeats: plan.repeats,
            order: ORDER.into(),
            order_seed: plan.seed,
            criterion_args: criterion_args(plan, None),
        }),
        verdicts: None,
    };
    let mut sequence = 0;
    for repeat in 0..plan.repeats {
        for (c, chunk) in chunks.iter().enumerate() {
            let seed = plan.seed ^ (u64::from(repeat) << 32) ^ c as u64;
            let order: Vec<usize> = shuffled(&(0..plan.variants.len()).collect::<Vec<_>>(), seed);
            for i in order {
                let variant = plan.variants[i];
                let home = tempfile::tempdir().context("creating a directory for criterion")?;
                ws.measure(
                    variant,
                    &binaries[i][&chunk.target],
                    home.path(),
                    &criterion_args(plan, Some((variant, chunk))),
                    &mut |line| progress.criterion_line(variant, repeat, plan.repeats, line),
                )?;
                record(
                    &mut results,
                    home.path(),
                    variant,
                    repeat,
                    sequence,
                    &chunk.ids,
                )?;
                sequence += 1;
                crate::measure::bench::summarize(&mut results);
                save(&results, &json_path)?;
            }
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

/// The benches the filter selects, listed with the first variant's binaries, in chunks.
fn select(ws: &Workspace, plan: &BenchPlan, binaries: &Binaries) -> anyhow::Result<Vec<Chunk>> {
    let mut chunks = Vec::new();
    for target in &ws.benches {
        let ids = ws.list(plan.variants[0], &binaries[target], plan.filter.as_deref())?;
        chunks.extend(chunk(target, ids));
    }
    if chunks.is_empty() {
        return Err(usage(format!(
            "--filter {:?} matches no bench: ids look like `alloc/threaded_churn/2`; list them with `cargo bench -- --list`",
            plan.filter.as_deref().unwrap_or("")
        )));
    }
    Ok(chunks)
}

/// One bench target's ids split by bench function (`group/function`), keeping their order.
pub fn chunk(target: &str, ids: Vec<String>) -> Vec<Chunk> {
    let function = |id: &str| {
        id.rsplit_once('/')
            .map_or(id.to_string(), |(f, _)| f.to_string())
    };
    let mut chunks: Vec<Chunk> = Vec::new();
    for id in ids {
        match chunks.last_mut() {
            Some(last) if function(&last.ids[0]) == function(&id) => last.ids.push(id),
            _ => chunks.push(Chunk {
                target: target.to_string(),
                ids: vec![id],
            }),
        }
    }
    chunks
}

/// Criterion's window per bench in each process: short, because the verdict comes from
/// many processes, not from one long one.
pub const WARM_UP_S: &str = "0.15";
pub const MEASUREMENT_S: &str = "0.35";

/// What follows the binary's `--bench` in every process: where to save, the windows (or
/// quick mode), and, for one chunk, a filter that matches exactly its ids. Without a chunk:
/// the settings every process shares, for the results file.
pub fn criterion_args(plan: &BenchPlan, process: Option<(BenchVariant, &Chunk)>) -> Vec<String> {
    let mut args = vec!["--noplot".to_string()];
    if let Some((variant, _)) = process {
        args.extend(["--save-baseline".into(), variant.name()]);
    }
    let window: [&str; 4] = if plan.quick {
        // Quick mode stops at 5% noise or at the measurement time, whichever comes first.
        ["--quick", "--measurement-time", "0.5", ""]
    } else {
        [
            "--warm-up-time",
            WARM_UP_S,
            "--measurement-time",
            MEASUREMENT_S,
        ]
    };
    args.extend(
        window
            .iter()
            .filter(|a| !a.is_empty())
            .map(|a| a.to_string()),
    );
    args.extend(["--nresamples".into(), "10000".into()]);
    if let Some((_, chunk)) = process {
        let ids: Vec<String> = chunk.ids.iter().map(|id| regex::escape(id)).collect();
        args.push(format!("^(?:{})$", ids.join("|")));
    }
    args
}

/// Adds one process's estimates (saved under `home`) for `ids` to their rows; each must
/// have one.
fn record(
    results: &mut BenchResults,
    home: &Path,
    variant: BenchVariant,
    repeat: u32,
    sequence: u32,
    ids: &[String],
) -> anyhow::Result<()> {
    let name = variant.name();
    let saved = criterion::read_baseline(home, &name)?;
    let order = results.variants.clone();
    for row in results
        .benches
        .iter_mut()
        .filter(|r| ids.contains(&r.bench))
    {
        let Some(s) = saved.iter().find(|s| s.id == row.bench) else {
            bail!(
                "criterion saved no estimates for {} under baseline {name} in {}",
                row.bench,
                home.display()
            );
        };
        row.throughput = s.throughput.clone();
        let e = &s.estimate;
        let process = ProcessEstimate {
            repeat,
            sequence,
            mean_ns: e.mean_ns,
            mean_ci_low_ns: e.mean_ci_low_ns,
            mean_ci_high_ns: e.mean_ci_high_ns,
            samples: e.samples.unwrap_or(0),
        };
        match row.estimates.iter_mut().find(|e| e.variant == name) {
            Some(estimate) => estimate.processes.push(process),
            None => row.estimates.push(BenchEstimate {
                processes: vec![process],
                ..e.clone()
            }),
        }
        row.estimates
            .sort_by_key(|e| order.iter().position(|v| *v == e.variant));
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

    fn criterion_line(&self, variant: BenchVariant, repeat: u32, repeats: u32, line: &str) {
        let Some(bar) = &self.bar else { return };
        let previous = self.previous.replace(line.trim().to_string());
        if let Some((id, time)) = finished_bench(&previous, line) {
            bar.inc(1);
            bar.set_message(format!("{variant}: {id}"));
            let round = format!("{}/{repeats}", repeat + 1);
            bar.suspend(|| eprintln!("{round:>5} {:<22} {id:<36} {time}", variant.name()));
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

/// Reads a bench results file written by `run` (or by an older harness), its verdicts
/// recomputed with this harness's rules.
pub fn load(path: &Path) -> anyhow::Result<BenchResults> {
    Ok(crate::measure::bench::load(path)?)
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

    fn plan(args: &[&str]) -> BenchPlan {
        let argv = ["harness", "bench"].iter().chain(args);
        let crate::cli::Command::Bench(args) =
            <crate::cli::Cli as clap::Parser>::try_parse_from(argv)
                .unwrap()
                .command
        else {
            panic!("not bench")
        };
        BenchPlan::from_args(&args).unwrap()
    }

    #[test]
    fn each_process_gets_its_chunk_exactly_and_its_own_baseline_name() {
        let p = plan(&["--variants", "musl-system"]);
        let chunk = Chunk {
            target: "memory".into(),
            ids: vec!["memory/memcpy/16B".into(), "memory/memcpy/4KiB".into()],
        };
        let argv = criterion_args(&p, Some((p.variants[0], &chunk))).join(" ");
        assert_eq!(
            argv,
            r"--noplot --save-baseline musl-system --warm-up-time 0.15 --measurement-time 0.35 --nresamples 10000 ^(?:memory/memcpy/16B|memory/memcpy/4KiB)$"
        );
        let re = regex::Regex::new(argv.rsplit(' ').next().unwrap()).unwrap();
        assert!(re.is_match("memory/memcpy/4KiB"));
        assert!(!re.is_match("memory/memcpy/4KiB2") && !re.is_match("xmemory/memcpy/16B"));
        assert_eq!(
            criterion_args(&plan(&["--quick"]), None).join(" "),
            "--noplot --quick --measurement-time 0.5 --nresamples 10000"
        );
    }

    #[test]
    fn chunks_are_bench_functions_in_order() {
        let ids = [
            "alloc/small_churn/10000",
            "alloc/vec_growth/1000",
            "alloc/vec_growth/1000000",
            "alloc/x",
        ];
        let chunks = chunk("alloc", ids.iter().map(|s| s.to_string()).collect());
        let shape: Vec<usize> = chunks.iter().map(|c| c.ids.len()).collect();
        assert_eq!(shape, [1, 2, 1]);
        assert!(chunks.iter().all(|c| c.target == "alloc"));
        assert!(chunk("alloc", vec![]).is_empty());
    }
}

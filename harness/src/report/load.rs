//! Which results files a report reads, and reading them.
//!
//! Owns telling a bench file (`"kind": "bench"`) from a run file and finding the newest full
//! runs when none are named (what counts as full is `select`'s). Parsing and schema checks are `results`' job; rendering is not here.

use super::select;
use crate::error::usage;
use crate::results::{BenchResults, RunResults};
use std::path::{Path, PathBuf};

/// One run file as read, with where it came from.
#[derive(Debug, Clone)]
pub struct RunFile {
    pub path: PathBuf,
    pub results: RunResults,
}

/// One bench file as read, with where it came from.
#[derive(Debug, Clone)]
pub struct BenchFile {
    pub path: PathBuf,
    pub results: BenchResults,
}

/// Everything a report is rendered from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// One run per experiment (app on one host): the newest of its runs.
    pub runs: Vec<RunFile>,
    /// The other runs of the same experiments (same app, host and schema version), oldest
    /// first: they are not reported in full, but every verdict is checked against them.
    pub replicates: Vec<RunFile>,
    pub bench: Option<BenchFile>,
    /// The other full bench files of the bench's experiment (`measure::bench::experiment`),
    /// oldest first: its ratios are checked against theirs.
    pub bench_replicates: Vec<BenchFile>,
    /// Paired ratios judged together, over every run file (replicates included): their
    /// adjusted p-values are set over this family (see `judge`).
    pub comparisons: usize,
}

impl Inputs {
    /// The replicates of `run` (same experiment), oldest first, `run` itself not included.
    pub fn replicates_of(&self, run: &RunFile) -> Vec<&RunFile> {
        let key = experiment(&run.results);
        self.replicates
            .iter()
            .filter(|r| experiment(&r.results) == key)
            .collect()
    }
}

/// What makes two runs one experiment: the app, the host (CPU, cores, kernel, daemon) and
/// the schema version (a method change is a new experiment).
pub fn experiment(r: &RunResults) -> (String, String, u32, String, Option<String>, u32) {
    let e = &r.environment;
    (
        r.app.clone(),
        e.cpu_model.clone(),
        e.cpu_count,
        e.kernel.clone(),
        e.docker_host.clone(),
        r.schema_version,
    )
}

/// Splits `runs` into one run per experiment (the newest, in the order given) and the
/// replicates (oldest first), then judges every ratio of every file as one family.
fn group_and_judge(runs: Vec<RunFile>, inputs: &mut Inputs) {
    let newest = |run: &RunFile| {
        let key = experiment(&run.results);
        runs.iter()
            .filter(|r| experiment(&r.results) == key)
            .max_by(|a, b| a.results.started_at.cmp(&b.results.started_at))
            .is_some_and(|r| r.path == run.path)
    };
    let (primary, mut replicates): (Vec<RunFile>, Vec<RunFile>) =
        runs.iter().cloned().partition(|r| newest(r));
    replicates.sort_by(|a, b| a.results.started_at.cmp(&b.results.started_at));
    inputs.runs = primary;
    inputs.replicates = replicates;
    judge(inputs);
}

/// Sets the adjusted p-value of every paired ratio in every run file over all of them
/// together (Holm): the report's one error rate.
pub fn judge(inputs: &mut Inputs) {
    let mut ratios: Vec<&mut crate::results::Ratio> = inputs
        .runs
        .iter_mut()
        .chain(inputs.replicates.iter_mut())
        .flat_map(|r| r.results.ratios_mut())
        .collect();
    inputs.comparisons = crate::measure::stats::adjust_family(&mut ratios);
}

/// A file found while looking for the newest results, but left out because it cannot be read.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Reads the named files; any file that cannot be used is a usage error naming it. Runs of
/// one experiment (see `experiment`) become one run and its replicates.
pub fn load_files(paths: &[PathBuf]) -> anyhow::Result<Inputs> {
    let mut inputs = Inputs::default();
    let mut runs = Vec::new();
    for path in paths {
        if is_bench_file(path) {
            let results = crate::measure::bench::load(path).map_err(|e| usage(e.to_string()))?;
            let file = BenchFile {
                path: path.clone(),
                results,
            };
            let key = crate::measure::bench::experiment(&file.results);
            let Some(earlier) = inputs.bench.take() else {
                inputs.bench = Some(file);
                continue;
            };
            if crate::measure::bench::experiment(&earlier.results) != key
                || file.results.single_process()
            {
                return Err(usage(format!(
                    "{} and {} are bench results of different machines or methods: name one (two files of one experiment are checked against each other)",
                    earlier.path.display(),
                    path.display()
                )));
            }
            // The newest is reported; the others are its replicates, oldest first.
            let (newer, older) = match file.results.started_at > earlier.results.started_at {
                true => (file, earlier),
                false => (earlier, file),
            };
            inputs.bench = Some(newer);
            inputs.bench_replicates.push(older);
            inputs
                .bench_replicates
                .sort_by(|a, b| a.results.started_at.cmp(&b.results.started_at));
        } else {
            let results = RunResults::load(path).map_err(|e| usage(e.to_string()))?;
            runs.push(RunFile {
                path: path.clone(),
                results,
            });
        }
    }
    if runs.is_empty() && inputs.bench.is_none() {
        return Err(usage("no results files named"));
    }
    group_and_judge(runs, &mut inputs);
    Ok(inputs)
}

/// The newest full run per app in `dir/runs/`, with the other full runs of its experiment as
/// replicates, and the newest full bench file in `dir/bench/` (see `select`: finished, not
/// `--quick`, every default variant).
///
/// "Newest" is by `started_at`. Files that cannot be read, and files newer than the one
/// chosen that are not full runs, are returned as skipped with the reason, not fatal, so one
/// stale or partial file in the directory does not block the report.
pub fn discover(dir: &Path) -> anyhow::Result<(Inputs, Vec<Skipped>)> {
    let mut skipped = Vec::new();
    let mut runs = Vec::new();
    for path in json_files(&dir.join("runs"))? {
        match RunResults::load(&path) {
            Ok(results) => runs.push(RunFile { path, results }),
            Err(e) => skipped.push(Skipped {
                path,
                reason: e.to_string(),
            }),
        }
    }
    let mut benches = Vec::new();
    for path in json_files(&dir.join("bench"))? {
        match crate::measure::bench::load(&path) {
            Ok(results) => benches.push(BenchFile { path, results }),
            Err(e) => skipped.push(Skipped {
                path,
                reason: e.to_string(),
            }),
        }
    }
    let mut inputs = Inputs::default();
    let mut apps: Vec<String> = runs.iter().map(|r| r.results.app.clone()).collect();
    apps.sort();
    apps.dedup();
    let mut chosen_runs = Vec::new();
    for app in apps {
        let of_app = runs.iter().filter(|r| r.results.app == app);
        let (chosen, passed) = newest_full(
            of_app,
            |r| &r.results.started_at,
            |r| select::run_shortfalls(&r.results),
            |r| &r.path,
        );
        skipped.extend(passed);
        let Some(chosen) = chosen else {
            continue;
        };
        let key = experiment(&chosen.results);
        chosen_runs.extend(
            runs.iter()
                .filter(|r| r.path != chosen.path && experiment(&r.results) == key)
                .filter(|r| r.results.schema_version >= 3)
                .filter(|r| select::run_shortfalls(&r.results).is_empty())
                .cloned(),
        );
        chosen_runs.push(chosen.clone());
    }
    let (chosen, passed) = newest_full(
        benches.iter(),
        |b| &b.results.started_at,
        |b| select::bench_shortfalls(&b.results),
        |b| &b.path,
    );
    inputs.bench = chosen.cloned();
    if let Some(chosen) = &inputs.bench {
        let key = crate::measure::bench::experiment(&chosen.results);
        let mut replicates: Vec<BenchFile> = benches
            .iter()
            .filter(|b| b.path != chosen.path && !b.results.single_process())
            .filter(|b| crate::measure::bench::experiment(&b.results) == key)
            .filter(|b| select::bench_shortfalls(&b.results).is_empty())
            .cloned()
            .collect();
        replicates.sort_by(|a, b| a.results.started_at.cmp(&b.results.started_at));
        inputs.bench_replicates = replicates;
    }
    skipped.extend(passed);
    group_and_judge(chosen_runs, &mut inputs);
    if inputs.runs.is_empty() && inputs.bench.is_none() {
        return Err(usage(format!(
            "no usable results files in {0}/runs or {0}/bench (a report picks finished runs of the default variants, without --quick): run `harness run --app http` (or name the files)",
            dir.display()
        )));
    }
    Ok((inputs, skipped))
}

/// The newest file with no shortfall, and the files newer than it that were passed over.
fn newest_full<'a, T>(
    files: impl Iterator<Item = &'a T>,
    started_at: impl Fn(&T) -> &String,
    shortfalls: impl Fn(&T) -> Vec<select::Shortfall>,
    path: impl Fn(&T) -> &PathBuf,
) -> (Option<&'a T>, Vec<Skipped>) {
    let mut files: Vec<&T> = files.collect();
    files.sort_by(|a, b| started_at(b).cmp(started_at(a)));
    let mut passed = Vec::new();
    for file in files {
        let short = shortfalls(file);
        if short.is_empty() {
            return (Some(file), passed);
        }
        passed.push(Skipped {
            path: path(file).clone(),
            reason: format!("not a full run: {}", select::describe(&short)),
        });
    }
    (None, passed)
}

/// True when the file says it is a bench file; anything unreadable is left to the run loader,
/// which reports it properly.
fn is_bench_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some("bench"))
}

/// The `*.json` files directly in `dir`, sorted; none when `dir` does not exist.
pub(super) fn json_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(usage(format!("{}: cannot list: {e}", dir.display()))),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

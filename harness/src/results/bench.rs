//! The results of `harness bench`: criterion estimates per bench and variant, with their
//! own schema version (`BENCH_SCHEMA_VERSION`, published as `harness/schema/bench.schema.json`).
//!
//! Schema 2 holds every process: each variant's bench binary runs `repeats` times, and a
//! bench's figure is the median over processes of criterion's within-process mean, with a
//! distribution-free interval across processes and a ratio to the baseline paired by repeat.
//! Schema 1 files (one process per variant, criterion's within-process interval) still load;
//! which rule tells two estimates apart depends on which kind a file is.

use super::{load_versioned, Environment, Ratio, ResultsError, Verdicts, BENCH_SCHEMA_VERSION};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The JSON Schema of a bench results file, as published in
/// `harness/schema/bench.schema.json`.
pub fn bench_json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(BenchResults)).expect("schemas serialize")
}

impl BenchResults {
    /// Reads and checks a bench results file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<BenchResults, ResultsError> {
        load_versioned(path, Some("bench"), &READABLE_BENCH_VERSIONS)
    }
}

/// What one `harness bench` produced: criterion estimates per bench and per variant.
///
/// Variants here are `link-allocator` (no base image: benches run in-process). Ratios are
/// computed by readers against `baseline`, so the file holds only measured values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BenchResults {
    pub schema_version: u32,
    pub harness_version: String,
    /// Always `bench`: tells a reader which kind of results file this is.
    pub kind: String,
    pub command_line: Vec<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub environment: Environment,
    /// The variant every other is compared against, e.g. `glibc-system`.
    pub baseline: String,
    /// Every variant measured, e.g. `glibc-system`, `musl-system`, `musl-mimalloc`.
    pub variants: Vec<String>,
    pub benches: Vec<BenchRow>,
    /// How the processes were run (schema 2); absent in schema 1 files, which ran one
    /// process per variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<BenchMethod>,
    /// The file's own judgement of its comparisons to the baseline and of its negative
    /// controls (schema 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdicts: Option<Verdicts>,
}

/// Every schema version `BenchResults::load` reads.
pub const READABLE_BENCH_VERSIONS: [u32; 2] = [1, BENCH_SCHEMA_VERSION];

/// How `harness bench` ran the bench binaries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BenchMethod {
    /// Processes per variant per bench.
    pub repeats: u32,
    /// The order processes ran in, in words.
    pub order: String,
    /// The seed of that order's shuffles.
    pub order_seed: u64,
    /// What every process got after the bench binary's name (the filter aside).
    pub criterion_args: Vec<String>,
}

/// One process's criterion estimate of one bench.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ProcessEstimate {
    /// Which repeat (round) of the run, from 0: the baseline's process of the same repeat is
    /// its pair.
    pub repeat: u32,
    /// The process's place in the run's order of processes, from 0.
    pub sequence: u32,
    /// Criterion's mean time per iteration in this process and its 95% bootstrap interval.
    pub mean_ns: f64,
    pub mean_ci_low_ns: f64,
    pub mean_ci_high_ns: f64,
    pub samples: u64,
}

/// One criterion benchmark (`group/function/parameter`) across variants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BenchRow {
    pub bench: String,
    /// Bytes or elements per iteration, when the bench declares a throughput.
    pub throughput: Option<Throughput>,
    pub estimates: Vec<BenchEstimate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Throughput {
    /// `bytes` or `elements`.
    pub unit: String,
    pub per_iteration: u64,
}

/// One variant's time per iteration of one bench.
///
/// Schema 2: `mean_ns` is the median over `processes` of criterion's mean, and the interval
/// is the distribution-free interval of that median across processes, of level `ci_level`.
/// Schema 1: criterion's mean in its one process and its 95% bootstrap interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BenchEstimate {
    pub variant: String,
    pub mean_ns: f64,
    pub mean_ci_low_ns: f64,
    pub mean_ci_high_ns: f64,
    /// How many samples criterion took (100 by default; quick mode may stop at 2; in schema
    /// 2 the fewest of any process); absent in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// The interval's coverage, 0–1 (schema 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_level: Option<f64>,
    /// Criterion's estimate in each process, in the order they ran (schema 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessEstimate>,
    /// This time over the baseline's, one ratio per repeat paired with the baseline's
    /// process of the same repeat (schema 2; absent for the baseline itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_to_baseline: Option<Ratio>,
}

/// Below this many samples an interval says nothing: no CI and no significance verdict.
pub const MIN_BENCH_SAMPLES: u64 = 10;

/// Below this many processes (schema 2) a bench gets no verdict: the interval of a median
/// of four is at most the range, 87.5%.
pub const MIN_BENCH_REPEATS: usize = 5;

impl BenchRow {
    /// One variant's estimate in this row, if it was measured.
    pub fn estimate(&self, variant: &str) -> Option<&BenchEstimate> {
        self.estimates.iter().find(|e| e.variant == variant)
    }
}

impl BenchEstimate {
    /// This mean time over the baseline's.
    pub fn ratio_to(&self, baseline: &BenchEstimate) -> f64 {
        self.mean_ns / baseline.mean_ns
    }

    /// True when the two means' 95% confidence intervals do not overlap.
    pub fn significant_against(&self, other: &BenchEstimate) -> bool {
        self.mean_ci_high_ns < other.mean_ci_low_ns || other.mean_ci_high_ns < self.mean_ci_low_ns
    }
}

impl BenchResults {
    /// True when the file was written by `harness bench --quick`.
    pub fn is_quick(&self) -> bool {
        self.command_line.iter().any(|a| a == "--quick")
    }

    /// True for a schema 1 file: one process per variant, criterion's intervals.
    pub fn single_process(&self) -> bool {
        self.method.is_none()
    }

    /// Whether `estimate`'s interval can carry a verdict: at least `MIN_BENCH_SAMPLES`
    /// samples (and, in schema 2, `MIN_BENCH_REPEATS` processes), or, in an older file that
    /// did not record samples, not a `--quick` run.
    pub fn judgeable(&self, estimate: &BenchEstimate) -> bool {
        let samples = estimate
            .samples
            .map_or(!self.is_quick(), |n| n >= MIN_BENCH_SAMPLES);
        samples && (self.single_process() || estimate.processes.len() >= MIN_BENCH_REPEATS)
    }

    /// Schema 1's rule: whether `a` and `b` differ beyond noise (their 95% intervals of the
    /// mean do not overlap), when both have samples enough for a verdict. Schema 2 files are
    /// judged on their paired ratios (`measure::bench`).
    pub fn verdict(&self, a: &BenchEstimate, b: &BenchEstimate) -> Option<bool> {
        (self.judgeable(a) && self.judgeable(b)).then(|| a.significant_against(b))
    }

    /// True when any estimate in the file is too thin for a verdict: the file's ratios are
    /// indicative only.
    pub fn indicative_only(&self) -> bool {
        self.benches
            .iter()
            .flat_map(|b| &b.estimates)
            .any(|e| !self.judgeable(e))
    }

    /// The fewest samples any estimate has, when every estimate records its count.
    pub fn min_samples(&self) -> Option<u64> {
        let all = self.benches.iter().flat_map(|b| &b.estimates);
        all.map(|e| e.samples)
            .collect::<Option<Vec<u64>>>()?
            .into_iter()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published schema must match the types; `UPDATE_SCHEMA=1 cargo test` rewrites it.
    #[test]
    fn published_bench_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/bench.schema.json");
        let generated = serde_json::to_string_pretty(&bench_json_schema()).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "{} is stale: run `UPDATE_SCHEMA=1 cargo test -p harness published_bench_schema`",
            path.display()
        );
    }

    #[test]
    fn a_schema_1_file_still_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/bench.json");
        let r = BenchResults::load(&path).unwrap();
        assert_eq!(r.schema_version, 1);
        assert!(r.single_process() && r.verdicts.is_none());
        assert!(r
            .benches
            .iter()
            .flat_map(|b| &b.estimates)
            .all(|e| e.processes.is_empty()));
    }
}

//! The results of `harness bench`: criterion estimates per bench and variant, with their
//! own schema version (`BENCH_SCHEMA_VERSION`), and the rules that tell two estimates apart.

use super::{load_versioned, Environment, ResultsError, BENCH_SCHEMA_VERSION};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

impl BenchResults {
    /// Reads and checks a bench results file; errors name the file and the field.
    pub fn load(path: &Path) -> Result<BenchResults, ResultsError> {
        load_versioned(path, Some("bench"), &[BENCH_SCHEMA_VERSION])
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

/// Criterion's estimate of the mean time per iteration, with its 95% confidence interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BenchEstimate {
    pub variant: String,
    pub mean_ns: f64,
    pub mean_ci_low_ns: f64,
    pub mean_ci_high_ns: f64,
    /// How many samples criterion took (100 by default; quick mode may stop at 2); absent
    /// in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
}

/// Below this many samples an interval says nothing: no CI and no significance verdict.
pub const MIN_BENCH_SAMPLES: u64 = 10;

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

    /// Whether `estimate`'s interval can carry a verdict: at least `MIN_BENCH_SAMPLES`
    /// samples, or, in an older file that did not record them, not a `--quick` run.
    pub fn judgeable(&self, estimate: &BenchEstimate) -> bool {
        estimate
            .samples
            .map_or(!self.is_quick(), |n| n >= MIN_BENCH_SAMPLES)
    }

    /// Whether `a` and `b` differ beyond noise (their 95% intervals of the mean do not
    /// overlap), when both have samples enough for a verdict.
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

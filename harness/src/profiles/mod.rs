//! CPU profiles as published: the `results/profiles/<app>-<time>.json` type, its schema,
//! and the bucket rules that turn folded stacks into shares (`buckets`).
//!
//! `harness profile` writes these files and `harness report` reads them; neither the
//! sampling (`profiler`) nor the rendering (`report`) lives here. A file holds per variant
//! the sample count, the share and sample count of every bucket, the top leaf functions,
//! and, for servers, CPU µs per request (so bucket share × CPU per request gives µs per
//! request spent in each bucket); never the raw stacks.

pub mod buckets;

use crate::matrix::Variant;
use crate::measure::stats::{paired_ratio, summarize};
use crate::results::{Environment, Ratio, Summary};
use buckets::{Bucket, Tally};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The version of the profile file format.
pub const SCHEMA_VERSION: u32 = 1;

/// One `harness profile` run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ProfileResults {
    pub schema_version: u32,
    pub app: String,
    pub started_at: String,
    /// Absent while it runs, or when it was cut short.
    pub finished_at: Option<String>,
    /// The exact command line.
    pub command: Vec<String>,
    /// `docker` or `native`.
    pub runtime: String,
    pub environment: Environment,
    /// `perf --version`.
    pub perf_version: String,
    /// Samples per second per CPU (`perf record -F`).
    pub frequency_hz: u32,
    /// How stacks were unwound (`dwarf`).
    pub call_graph: String,
    pub workload: Workload,
    /// Rounds: each variant sampled once per round, the variants interleaved. Files from
    /// before rounds existed hold one.
    #[serde(default = "one_round")]
    pub rounds: u32,
    /// The variant each differential flame graph is drawn against.
    pub baseline: String,
    pub variants: Vec<VariantProfile>,
}

/// What was running while perf sampled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Workload {
    /// `server` (one load window) or `batch` (one job).
    pub kind: String,
    /// Server: the request's name, its concurrency and the window's length.
    pub request: Option<String>,
    pub concurrency: Option<u32>,
    pub duration_s: Option<f64>,
    /// Batch: the thread count.
    pub threads: Option<u32>,
    /// Batch: the dataset size in MB (absent in files written before it was recorded).
    #[serde(default)]
    pub dataset_mb: Option<f64>,
}

fn one_round() -> u32 {
    1
}

/// One variant's profile: every round's samples pooled, and each round on its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct VariantProfile {
    pub variant: Variant,
    /// Samples perf recorded of the app (all its threads), over every round.
    pub samples: u64,
    /// Per bucket (`allocator`, `locks`, …): its samples and share of `samples` (pooled).
    pub buckets: BTreeMap<Bucket, BucketShare>,
    /// The leaf functions with the most samples, with their shares.
    pub top_functions: Vec<FunctionShare>,
    /// Server: requests answered during the sampled window (warm-up and drain included).
    pub requests: Option<u64>,
    /// Server: the server's CPU time per request over the window, in µs (its cgroup, or
    /// natively its threads' schedstat); with several rounds, the median of the rounds'.
    pub cpu_us_per_request: Option<f64>,
    /// Server: requests/s of the window. Batch: the job's own throughput figure. With
    /// several rounds, the median of the rounds'.
    pub throughput: Option<f64>,
    pub throughput_unit: Option<String>,
    /// The flame graph SVG, relative to the results directory (`plots/…`).
    pub flame_graph: Option<String>,
    /// The differential flame graph against the baseline (absent for the baseline).
    pub diff_flame_graph: Option<String>,
    /// Why this variant has no profile, when it failed.
    pub failed: Option<String>,
    /// Each round's own figures (empty in files from before rounds existed).
    #[serde(default)]
    pub rounds: Vec<RoundProfile>,
    /// The allocator + locks + memory mapping share across rounds: n, median and its 95%
    /// interval (up to 5 rounds, the rounds' range).
    #[serde(default)]
    pub allocation_share: Option<Summary>,
    /// That share ÷ the baseline's in the same round: the median of the per-round ratios
    /// and its 95% interval (absent for the baseline itself).
    #[serde(default)]
    pub allocation_share_ratio: Option<Ratio>,
}

/// One round of one variant: its samples, every bucket's share and what the workload
/// measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RoundProfile {
    /// The round, from 1.
    pub round: u32,
    pub samples: u64,
    /// Per bucket, its share of this round's samples (0 to 1).
    pub shares: BTreeMap<Bucket, f64>,
    pub cpu_us_per_request: Option<f64>,
    pub throughput: Option<f64>,
}

impl RoundProfile {
    /// The allocator + locks + memory mapping share of this round.
    pub fn allocation_share(&self) -> f64 {
        Bucket::ALLOCATION
            .iter()
            .map(|b| self.shares.get(b).copied().unwrap_or(0.0))
            .sum()
    }
}

/// A bucket's samples and share.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BucketShare {
    pub samples: u64,
    /// 0 to 1.
    pub share: f64,
    /// Server: `share × cpu_us_per_request`.
    pub us_per_request: Option<f64>,
}

/// A function's share of the samples (as the leaf frame).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct FunctionShare {
    pub function: String,
    pub share: f64,
}

impl VariantProfile {
    /// A profile from a tally of folded stacks and, for servers, CPU per request.
    pub fn from_tally(variant: Variant, tally: &Tally, cpu_us_per_request: Option<f64>) -> Self {
        let buckets = Bucket::ALL
            .iter()
            .map(|&b| {
                let share = tally.share(b);
                let samples = tally.buckets.get(&b).copied().unwrap_or(0);
                let us = cpu_us_per_request.map(|cpu| share * cpu);
                (
                    b,
                    BucketShare {
                        samples,
                        share,
                        us_per_request: us,
                    },
                )
            })
            .collect();
        VariantProfile {
            variant,
            samples: tally.samples,
            buckets,
            top_functions: tally
                .top_leaves(10)
                .into_iter()
                .map(|(function, share)| FunctionShare { function, share })
                .collect(),
            requests: None,
            cpu_us_per_request,
            throughput: None,
            throughput_unit: None,
            flame_graph: None,
            diff_flame_graph: None,
            failed: None,
            rounds: Vec::new(),
            allocation_share: None,
            allocation_share_ratio: None,
        }
    }

    /// One variant's profile from its rounds: `tally` pools every round's samples (the
    /// buckets, the top functions), each round keeps its own shares, and CPU per request and
    /// throughput are the rounds' medians.
    pub fn pooled(variant: Variant, tally: &Tally, rounds: Vec<RoundProfile>) -> Self {
        let median = |values: Vec<f64>| summarize(&values).map(|s| s.median);
        let cpu = median(rounds.iter().filter_map(|r| r.cpu_us_per_request).collect());
        let mut profile = VariantProfile::from_tally(variant, tally, cpu);
        profile.throughput = median(rounds.iter().filter_map(|r| r.throughput).collect());
        let shares: Vec<f64> = rounds.iter().map(RoundProfile::allocation_share).collect();
        profile.allocation_share = summarize(&shares);
        profile.rounds = rounds;
        profile
    }

    /// A variant that could not be profiled.
    pub fn failed(variant: Variant, reason: String) -> Self {
        let mut profile = VariantProfile::from_tally(variant, &Tally::default(), None);
        profile.failed = Some(reason);
        profile
    }

    /// A bucket's share, 0 when absent.
    pub fn share(&self, bucket: Bucket) -> f64 {
        self.buckets.get(&bucket).map_or(0.0, |b| b.share)
    }

    /// The allocator + locks + memory mapping share.
    pub fn allocation_share(&self) -> f64 {
        Bucket::ALLOCATION.iter().map(|&b| self.share(b)).sum()
    }
}

impl ProfileResults {
    /// Reads and checks a profile file; errors name the file.
    pub fn load(path: &Path) -> anyhow::Result<ProfileResults> {
        crate::results::load_json_versioned(
            path,
            "profile",
            SCHEMA_VERSION,
            |r: &ProfileResults| r.schema_version,
        )
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        crate::results::save_json(path, self)
    }

    pub fn variant(&self, name: &str) -> Option<&VariantProfile> {
        self.variants.iter().find(|v| v.variant.name() == name)
    }

    /// Sets each variant's allocation-share ratio to the baseline's, paired round by round.
    pub fn pair_with_baseline(&mut self) {
        let per_round = |v: &VariantProfile| -> Vec<(u32, f64)> {
            v.rounds
                .iter()
                .map(|r| (r.round, r.allocation_share()))
                .collect()
        };
        let Some(base) = self.variant(&self.baseline).map(per_round) else {
            return;
        };
        for v in &mut self.variants {
            if v.variant.name() != self.baseline && v.failed.is_none() {
                v.allocation_share_ratio = paired_ratio(&per_round(v), &base);
            }
        }
    }
}

/// The JSON Schema of a profile file, as published in `harness/schema/profile.schema.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ProfileResults)).expect("schemas serialize")
}

/// The newest profile file per app in `dir`.
pub use crate::results::newest_per_app;

#[cfg(test)]
mod tests {
    use super::*;

    /// The published schema must match the types; `UPDATE_SCHEMA=1 cargo test` rewrites it.
    #[test]
    fn published_profile_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/profile.schema.json");
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(published == generated, "{} is stale", path.display());
    }

    #[test]
    fn the_published_profiles_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/profiles");
        for path in newest_per_app(&dir).unwrap() {
            let p = ProfileResults::load(&path).unwrap();
            assert!(p
                .variants
                .iter()
                .all(|v| v.failed.is_some() || v.samples > 0));
        }
    }
}

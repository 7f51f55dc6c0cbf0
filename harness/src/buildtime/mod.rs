//! `harness build --cold`: build time as a team pays it, per variant and repeated.
//!
//! Each round builds every variant (in a seeded shuffled order of its own) four ways, on a
//! copy of the app's workspace so the user's files are never touched: a **clean compile**
//! (an empty target directory; the registry sources already in the cargo home, as in a CI
//! job with a warmed cargo home), split into the dependencies and the app itself; an
//! **incremental rebuild** after a one-line change to the app's main source file, in that
//! same target directory; the **image build** without the daemon's layer cache, then again
//! with it and the rebuilt binary (only the binary changed). CPU time stands beside wall
//! time. No figure depends on the order the variants were built in: every compile starts
//! from an empty directory of its own.
//!
//! This module owns the results file (`results/builds/<app>-<UTC time>.json`, kind
//! `build-time`) and the figures read from it; `measure` runs the rounds, `timed` times one
//! cargo build. The report's section is `report::build_time`.

pub mod measure;
mod timed;

use crate::matrix::AllocatorSource;
use crate::results::Environment;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of the build-time file format.
pub const SCHEMA_VERSION: u32 = 1;

/// The `kind` of a build-time file.
pub const KIND: &str = "build-time";

/// One `harness build --cold`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BuildTimes {
    /// Always `build-time`.
    pub kind: String,
    pub schema_version: u32,
    pub app: String,
    pub started_at: String,
    /// Absent while it runs, or when it was cut short.
    pub finished_at: Option<String>,
    pub command: Vec<String>,
    pub environment: Environment,
    pub method: Method,
    /// The variant the others' paired ratios are against.
    pub baseline: String,
    pub variants: Vec<VariantTimes>,
}

/// How the figures were taken, in words and numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Method {
    pub rounds: u32,
    /// The seed of the rounds' shuffled orders.
    pub seed: u64,
    /// Each round's order of the variants, as built.
    pub orders: Vec<Vec<String>>,
    /// Whether images were built (not with `--no-images`).
    pub images: bool,
    pub clean: String,
    pub incremental: String,
    pub image_cold: String,
    pub image_cached: String,
    pub cpu: String,
}

/// One variant's figures over the rounds, and what determined them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct VariantTimes {
    pub variant: String,
    pub settings: BuildSettings,
    pub rounds: Vec<RoundTimes>,
    /// Why the variant stopped being measured, when it did (the rounds before stay).
    pub failure: Option<String>,
}

/// What decides a build's cost: the profile's settings, the target, the flags, the linker,
/// and where the allocator comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BuildSettings {
    /// `dist`.
    pub profile: String,
    /// The profile's settings as `key=value`: `lto="fat"`, `codegen-units=1`…
    pub profile_settings: Vec<String>,
    pub target: String,
    /// RUSTFLAGS, set explicitly for every build (`-C target-feature=+crt-static`, or empty).
    pub rustflags: String,
    /// The linker: `CARGO_TARGET_<TRIPLE>_LINKER` when set, else the target's default.
    pub linker: String,
    /// `feature` (the crate's own cargo feature, compiled with it), `injected` (a library
    /// built once from C and cached, linked into the binary: not in these figures), or
    /// absent for the libc's allocator.
    pub allocator_source: Option<AllocatorSource>,
}

/// One round of one variant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RoundTimes {
    pub round: u32,
    pub clean: Compile,
    pub incremental: Compile,
    /// The image built with no layer cache, seconds.
    pub image_cold_s: Option<f64>,
    /// The image built again with the cache, only the binary changed, seconds.
    pub image_cached_s: Option<f64>,
}

/// One cargo build.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Compile {
    pub wall_s: f64,
    /// User + system CPU of cargo and every process it waited for.
    pub cpu_s: f64,
    /// Wall time until the last unit that is not the app's own finished: the dependencies.
    pub deps_wall_s: f64,
    /// Units cargo compiled (not fresh): every unit for a clean compile, the app's for an
    /// incremental one.
    pub units: u32,
}

/// A figure of a build-time file, per round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    CleanWall,
    CleanCpu,
    Dependencies,
    AppItself,
    IncrementalWall,
    IncrementalCpu,
    ImageCold,
    ImageCached,
    /// Checkout to image in a CI job with no cargo target cache and no layer cache.
    TotalCold,
    /// The same after a one-line change, with both caches.
    TotalCached,
}

impl Figure {
    pub const ALL: [Figure; 10] = [
        Figure::CleanWall,
        Figure::CleanCpu,
        Figure::Dependencies,
        Figure::AppItself,
        Figure::IncrementalWall,
        Figure::IncrementalCpu,
        Figure::ImageCold,
        Figure::ImageCached,
        Figure::TotalCold,
        Figure::TotalCached,
    ];

    /// Whether the figure needs the images (absent with `--no-images`).
    pub fn needs_images(self) -> bool {
        matches!(
            self,
            Figure::ImageCold | Figure::ImageCached | Figure::TotalCold | Figure::TotalCached
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Figure::CleanWall => "clean compile",
            Figure::CleanCpu => "clean compile, CPU",
            Figure::Dependencies => "of it: dependencies",
            Figure::AppItself => "of it: the app",
            Figure::IncrementalWall => "incremental rebuild",
            Figure::IncrementalCpu => "incremental rebuild, CPU",
            Figure::ImageCold => "image build, no cache",
            Figure::ImageCached => "image build, cached",
            Figure::TotalCold => "total, cold CI job",
            Figure::TotalCached => "total, cached job",
        }
    }

    /// This figure of one round, seconds.
    pub fn of(self, r: &RoundTimes) -> Option<f64> {
        Some(match self {
            Figure::CleanWall => r.clean.wall_s,
            Figure::CleanCpu => r.clean.cpu_s,
            Figure::Dependencies => r.clean.deps_wall_s,
            Figure::AppItself => r.clean.wall_s - r.clean.deps_wall_s,
            Figure::IncrementalWall => r.incremental.wall_s,
            Figure::IncrementalCpu => r.incremental.cpu_s,
            Figure::ImageCold => r.image_cold_s?,
            Figure::ImageCached => r.image_cached_s?,
            Figure::TotalCold => r.clean.wall_s + r.image_cold_s?,
            Figure::TotalCached => r.incremental.wall_s + r.image_cached_s?,
        })
    }
}

impl VariantTimes {
    /// `(round, seconds)` of a figure over the rounds.
    pub fn samples(&self, figure: Figure) -> Vec<(u32, f64)> {
        self.rounds
            .iter()
            .filter_map(|r| Some((r.round, figure.of(r)?)))
            .collect()
    }

    /// A figure's median over the rounds, with the interval of the median.
    pub fn summary(&self, figure: Figure) -> Option<crate::results::Summary> {
        let samples: Vec<f64> = self.samples(figure).into_iter().map(|(_, s)| s).collect();
        crate::measure::stats::summarize(&samples)
    }
}

impl BuildTimes {
    /// Reads a build-time file, naming the file and the problem when it cannot.
    pub fn load(path: &Path) -> anyhow::Result<BuildTimes> {
        let times: BuildTimes = crate::results::load_json_versioned(
            path,
            "build-time",
            SCHEMA_VERSION,
            |t: &BuildTimes| t.schema_version,
        )?;
        anyhow::ensure!(
            times.kind == KIND,
            "{}: not a build-time file (kind {:?})",
            path.display(),
            times.kind
        );
        Ok(times)
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        crate::results::save_json(path, self)
    }

    pub fn variant(&self, name: &str) -> Option<&VariantTimes> {
        self.variants.iter().find(|v| v.variant == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_build_time_schema_matches_the_types() {
        let schema = serde_json::to_string_pretty(&schemars::schema_for!(BuildTimes)).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/build-time.schema.json");
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, format!("{schema}\n")).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            published.trim(),
            schema.trim(),
            "harness/schema/build-time.schema.json is stale: UPDATE_SCHEMA=1 cargo test -p harness --lib buildtime::"
        );
    }

    #[test]
    fn every_published_build_time_file_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/builds");
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "json") {
                let times = BuildTimes::load(&path).unwrap();
                assert!(!times.variants.is_empty(), "{}", path.display());
            }
        }
    }
}

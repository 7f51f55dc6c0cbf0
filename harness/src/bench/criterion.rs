//! Reading what criterion saved under a named baseline.
//!
//! Criterion 0.8 writes `<home>/<group>/<function>/<parameter>/<baseline>/` per bench (each
//! part made file-name safe), holding `benchmark.json` (the id and the throughput) and
//! `estimates.json` (bootstrap estimates in ns, with their confidence intervals) and
//! `sample.json` (one iteration count and total time per sample). This module
//! owns that layout and its JSON; it knows nothing of cargo, variants or comparisons.

use crate::results::{BenchEstimate, Throughput};
use anyhow::{bail, Context};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How deep below the criterion home a baseline directory can be (group/function/param/base).
const MAX_DEPTH: usize = 4;

/// One bench's saved result under one baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// `group/function/parameter`, as criterion prints and filters it.
    pub id: String,
    pub throughput: Option<Throughput>,
    pub estimate: BenchEstimate,
}

#[derive(Deserialize)]
struct SavedId {
    full_id: String,
    throughput: Option<CriterionThroughput>,
}

/// Criterion's own `Throughput`, as serde writes it.
#[derive(Deserialize)]
enum CriterionThroughput {
    Bits(u64),
    Bytes(u64),
    BytesDecimal(u64),
    Elements(u64),
    // Its `bytes` field is not read: elements are the primary unit.
    ElementsAndBytes { elements: u64 },
}

/// Criterion's saved samples: only how many there were is read.
#[derive(Deserialize)]
struct Samples {
    iters: Vec<f64>,
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    confidence_interval: ConfidenceInterval,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct ConfidenceInterval {
    confidence_level: f64,
    lower_bound: f64,
    upper_bound: f64,
}

impl From<CriterionThroughput> for Throughput {
    fn from(t: CriterionThroughput) -> Throughput {
        let (unit, per_iteration) = match t {
            CriterionThroughput::Bits(n) => ("bits", n),
            CriterionThroughput::Bytes(n) | CriterionThroughput::BytesDecimal(n) => ("bytes", n),
            // Elements are criterion's primary unit when both are given.
            CriterionThroughput::Elements(n)
            | CriterionThroughput::ElementsAndBytes { elements: n, .. } => ("elements", n),
        };
        Throughput {
            unit: unit.into(),
            per_iteration,
        }
    }
}

/// Reads one baseline directory (`…/<parameter>/<baseline>/`), labelling it `variant`.
pub fn read_saved(dir: &Path, variant: &str) -> anyhow::Result<Saved> {
    let id: SavedId = read_json(&dir.join("benchmark.json"))?;
    let estimates: Estimates = read_json(&dir.join("estimates.json"))?;
    let samples: Samples = read_json(&dir.join("sample.json"))?;
    let mean = estimates.mean;
    let ci = mean.confidence_interval;
    if (ci.confidence_level - 0.95).abs() > 1e-9 {
        bail!(
            "{}: confidence level {} is not 0.95: rerun without --confidence-level",
            dir.display(),
            ci.confidence_level
        );
    }
    Ok(Saved {
        id: id.full_id,
        throughput: id.throughput.map(Throughput::from),
        estimate: BenchEstimate {
            variant: variant.to_string(),
            mean_ns: mean.point_estimate,
            mean_ci_low_ns: ci.lower_bound,
            mean_ci_high_ns: ci.upper_bound,
            samples: Some(samples.iters.len() as u64),
            ci_level: None,
            processes: Vec::new(),
            ratio_to_baseline: None,
        },
    })
}

/// Every bench saved under `baseline` below `home`, sorted by id.
pub fn read_baseline(home: &Path, baseline: &str) -> anyhow::Result<Vec<Saved>> {
    let mut dirs = Vec::new();
    find_baseline_dirs(home, baseline, 0, &mut dirs)
        .with_context(|| format!("reading criterion's results in {}", home.display()))?;
    let mut saved = dirs
        .iter()
        .map(|dir| read_saved(dir, baseline))
        .collect::<anyhow::Result<Vec<Saved>>>()?;
    saved.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(saved)
}

fn find_baseline_dirs(
    dir: &Path,
    baseline: &str,
    depth: usize,
    found: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    if depth > MAX_DEPTH || !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == baseline) && path.join("benchmark.json").is_file()
        {
            found.push(path);
        } else {
            find_baseline_dirs(&path, baseline, depth + 1, found)?;
        }
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read criterion's file", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not the criterion 0.8 format this harness reads",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criterion")
    }

    #[test]
    fn reads_a_real_baseline_with_its_throughput() {
        let saved = read_baseline(&fixtures(), "glibc-system").unwrap();
        let ids: Vec<&str> = saved.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, FIXTURE_IDS);
        for s in &saved {
            let e = &s.estimate;
            assert_eq!(e.variant, "glibc-system");
            assert!(e.mean_ns > 0.0, "{s:?}");
            assert!(e.mean_ci_low_ns <= e.mean_ns && e.mean_ns <= e.mean_ci_high_ns);
            // Quick-mode baselines: two samples each.
            assert_eq!(e.samples, Some(2), "{s:?}");
        }
        let memcpy = &saved[0];
        assert_eq!(
            memcpy.throughput,
            Some(Throughput {
                unit: "bytes".into(),
                per_iteration: 4096
            })
        );
        assert_eq!(
            saved[1].throughput.as_ref().map(|t| t.unit.as_str()),
            Some("elements")
        );
    }

    #[test]
    fn both_variants_of_the_fixture_hold_the_same_benches() {
        let musl = read_baseline(&fixtures(), "musl-system").unwrap();
        let ids: Vec<&str> = musl.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, FIXTURE_IDS);
        assert!(read_baseline(&fixtures(), "musl-jemalloc")
            .unwrap()
            .is_empty());
        assert!(read_baseline(&fixtures().join("missing"), "x")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("g/f/1/v");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("benchmark.json"), "{\"full_id\": 3}").unwrap();
        let err = read_baseline(dir.path(), "v").unwrap_err();
        assert!(format!("{err:#}").contains("benchmark.json"), "{err:#}");
    }

    #[test]
    fn a_missing_sample_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let from = fixtures().join("memory/memcpy/4KiB/glibc-system");
        let base = dir.path().join("memory/memcpy/4KiB/glibc-system");
        std::fs::create_dir_all(&base).unwrap();
        for file in ["benchmark.json", "estimates.json"] {
            std::fs::copy(from.join(file), base.join(file)).unwrap();
        }
        let err = read_baseline(dir.path(), "glibc-system").unwrap_err();
        assert!(format!("{err:#}").contains("sample.json"), "{err:#}");
    }

    const FIXTURE_IDS: [&str; 2] = ["memory/memcpy/4KiB", "startup/instant_now/1000"];
}

//! The numbers a report shows, derived from a results file: per-variant figures, ratios to the
//! baseline with their intervals, the allocation-heavy workload and the size/throughput frontier.
//!
//! Plots, tables and the verdict all read these, so they cannot disagree. Nothing here draws
//! or formats text beyond the workload's label.

use super::load::RunFile;
use crate::matrix::BASELINE;
use crate::results::{AppKind, BenchResults, RunResults, Status, Summary, VariantResult};

/// Bytes per MB: the report uses decimal megabytes throughout, as the Docker daemon does.
pub const BYTES_PER_MB: f64 = 1e6;

/// A measured value with the 95% confidence interval of its median, when the results carry one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub ci: Option<(f64, f64)>,
}

/// Whether two estimates can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Both have intervals and they do not overlap.
    Distinct,
    /// Both have intervals and they overlap: the difference is within the noise.
    WithinNoise,
    /// At least one is a single measurement, so the noise is unknown.
    Unknown,
}

impl Estimate {
    pub fn exact(value: f64) -> Self {
        Self { value, ci: None }
    }

    /// The median, with its CI when there are at least two samples (one sample has no
    /// noise estimate).
    pub fn repeated(s: &Summary) -> Self {
        Self {
            value: s.median,
            ci: (s.n > 1).then_some((s.median_ci_low, s.median_ci_high)),
        }
    }

    /// The median and its CI.
    pub fn median(s: &Summary) -> Self {
        Self {
            value: s.median,
            ci: Some((s.median_ci_low, s.median_ci_high)),
        }
    }

    /// `self / base`, with the widest interval the two intervals allow (conservative).
    pub fn ratio(&self, base: &Estimate) -> Estimate {
        let ci = match (self.ci, base.ci) {
            (Some((lo, hi)), Some((blo, bhi))) if blo > 0.0 && bhi > 0.0 => {
                Some((lo / bhi, hi / blo))
            }
            _ => None,
        };
        Estimate {
            value: self.value / base.value,
            ci,
        }
    }

    pub fn noise_against(&self, other: &Estimate) -> Noise {
        match (self.ci, other.ci) {
            (Some((lo, hi)), Some((olo, ohi))) if lo <= ohi && olo <= hi => Noise::WithinNoise,
            (Some(_), Some(_)) => Noise::Distinct,
            _ => Noise::Unknown,
        }
    }
}

/// The workload the tradeoff and verdict call allocation-heavy, and its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// e.g. `GET /json at concurrency 64` or `json-cruncher at 4 threads`.
    pub label: String,
    /// `rps`, or the batch app's throughput unit (`MB/s` for json-cruncher).
    pub unit: String,
}

/// One variant's headline figures; `None` where the variant did not get that far.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRow {
    pub name: String,
    /// `(step, reason)` when the variant failed.
    pub failure: Option<(String, String)>,
    pub image_mb: Option<f64>,
    pub cold_start_ms: Option<Estimate>,
    /// p5 and p95 of the cold start.
    pub cold_start_range_ms: Option<(f64, f64)>,
    pub process_start_ms: Option<Estimate>,
    /// Throughput on the allocation-heavy workload, in the workload's unit.
    pub alloc_heavy: Option<Estimate>,
    /// True when the load generator, not the app, was probably the bottleneck.
    pub loadgen_bound: bool,
    pub peak_memory_mb: Option<f64>,
}

/// One run file, reduced to what the report shows.
#[derive(Debug, Clone)]
pub struct RunView<'a> {
    pub file: &'a RunFile,
    /// A short, unique name for this run in file names and anchors (`http`, `json`).
    pub slug: String,
    /// The baseline variant's name when the run has it with the figures needed.
    pub baseline: Option<String>,
    pub workload: Option<Workload>,
    pub rows: Vec<VariantRow>,
}

impl<'a> RunView<'a> {
    pub fn new(file: &'a RunFile, slug: String) -> Self {
        let results = &file.results;
        let workload = alloc_workload(results);
        let rows: Vec<VariantRow> = results
            .variants
            .iter()
            .map(|v| variant_row(results, v))
            .collect();
        let baseline = rows
            .iter()
            .find(|r| r.name == BASELINE)
            .map(|r| r.name.clone());
        Self {
            file,
            slug,
            baseline,
            workload,
            rows,
        }
    }

    pub fn results(&self) -> &RunResults {
        &self.file.results
    }

    pub fn baseline_row(&self) -> Option<&VariantRow> {
        let name = self.baseline.as_ref()?;
        self.rows.iter().find(|r| &r.name == name)
    }

    /// Variants no other variant beats on both image size (smaller) and allocation-heavy
    /// throughput (higher), in order of image size.
    pub fn frontier(&self) -> Vec<&VariantRow> {
        let points: Vec<(&VariantRow, f64, f64)> = self
            .rows
            .iter()
            .filter_map(|r| Some((r, r.image_mb?, r.alloc_heavy?.value)))
            .collect();
        let mut front: Vec<(&VariantRow, f64, f64)> = points
            .iter()
            .filter(|(_, size, thr)| {
                !points
                    .iter()
                    .any(|(_, s, t)| s <= size && t >= thr && (s < size || t > thr))
            })
            .copied()
            .collect();
        front.sort_by(|a, b| a.1.total_cmp(&b.1));
        front.into_iter().map(|(r, _, _)| r).collect()
    }
}

/// `/json` at the highest concurrency (server apps), or the crunch at the most threads (batch).
fn alloc_workload(results: &RunResults) -> Option<Workload> {
    match results.app_kind {
        AppKind::Server => {
            let concurrency = json_loads(results).map(|l| l.concurrency).max()?;
            Some(Workload {
                label: format!("GET /json at concurrency {concurrency}"),
                unit: "rps".into(),
            })
        }
        AppKind::Batch => {
            let threads = results
                .variants
                .iter()
                .flat_map(|v| &v.crunch)
                .map(|c| c.threads)
                .max()?;
            Some(Workload {
                label: format!("{} at {threads} threads", results.app),
                unit: results.throughput_unit(),
            })
        }
    }
}

fn json_loads(results: &RunResults) -> impl Iterator<Item = &crate::results::LoadResult> {
    results
        .variants
        .iter()
        .flat_map(|v| &v.load)
        .filter(|l| l.endpoint == "/json")
}

fn variant_row(results: &RunResults, v: &VariantResult) -> VariantRow {
    let failure = match &v.status {
        Status::Ok => None,
        Status::Failed { step, reason, .. } => Some((step.clone(), reason.clone())),
    };
    let image_mb = v
        .build
        .as_ref()
        .and_then(|b| b.image.as_ref())
        .map(|i| i.image_bytes as f64 / BYTES_PER_MB);
    let (alloc_heavy, loadgen_bound) = alloc_heavy(results, v);
    VariantRow {
        name: v.variant.name(),
        failure,
        image_mb,
        cold_start_ms: v
            .cold_start
            .as_ref()
            .map(|c| Estimate::median(&c.cold_start_ms)),
        cold_start_range_ms: v
            .cold_start
            .as_ref()
            .map(|c| (c.cold_start_ms.p5, c.cold_start_ms.p95)),
        process_start_ms: v
            .cold_start
            .as_ref()
            .and_then(|c| c.process_start_ms.as_ref())
            .map(Estimate::median),
        alloc_heavy,
        loadgen_bound,
        peak_memory_mb: v.peak_memory_bytes.map(|b| b as f64 / BYTES_PER_MB),
    }
}

/// This variant's figure on the allocation-heavy workload, and whether it was loadgen-bound.
fn alloc_heavy(results: &RunResults, v: &VariantResult) -> (Option<Estimate>, bool) {
    match results.app_kind {
        AppKind::Server => {
            let Some(top) = json_loads(results).map(|l| l.concurrency).max() else {
                return (None, false);
            };
            v.load
                .iter()
                .find(|l| l.endpoint == "/json" && l.concurrency == top)
                .map_or((None, false), |l| {
                    (Some(Estimate::repeated(&l.rps)), l.loadgen_bound)
                })
        }
        AppKind::Batch => {
            let top = results
                .variants
                .iter()
                .flat_map(|v| &v.crunch)
                .map(|c| c.threads)
                .max();
            let crunch = v.crunch.iter().find(|c| Some(c.threads) == top);
            (crunch.map(|c| Estimate::median(&c.mb_per_s)), false)
        }
    }
}

/// Slugs for the run sections: the app name, with a counter when two runs share it.
pub fn slugs(runs: &[RunFile]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for run in runs {
        let base: String = run
            .results
            .app
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut slug = base.clone();
        let mut n = 2;
        while out.contains(&slug) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        out.push(slug);
    }
    out
}

/// Each bench's time for `variant` relative to the baseline, with a conservative interval
/// (none when either side has too few samples for one: see `BenchResults::judgeable`);
/// benches missing either estimate are left out.
pub fn bench_ratios<'a>(bench: &'a BenchResults, variant: &str) -> Vec<(&'a str, Estimate)> {
    let estimate = |row: &crate::results::BenchRow, name: &str| {
        row.estimates
            .iter()
            .find(|e| e.variant == name)
            .map(|e| Estimate {
                value: e.mean_ns,
                ci: bench
                    .judgeable(e)
                    .then_some((e.mean_ci_low_ns, e.mean_ci_high_ns)),
            })
    };
    bench
        .benches
        .iter()
        .filter_map(|row| {
            let base = estimate(row, &bench.baseline)?;
            let v = estimate(row, variant)?;
            Some((row.bench.as_str(), v.ratio(&base)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_interval_is_conservative() {
        let a = Estimate {
            value: 10.0,
            ci: Some((9.0, 11.0)),
        };
        let b = Estimate {
            value: 20.0,
            ci: Some((18.0, 22.0)),
        };
        let r = a.ratio(&b);
        assert_eq!(r.value, 0.5);
        let (lo, hi) = r.ci.unwrap();
        assert!((lo - 9.0 / 22.0).abs() < 1e-12 && (hi - 11.0 / 18.0).abs() < 1e-12);
        assert_eq!(a.noise_against(&b), Noise::Distinct);
        assert_eq!(Estimate::exact(1.0).noise_against(&b), Noise::Unknown);
        let c = Estimate {
            value: 10.5,
            ci: Some((10.8, 12.0)),
        };
        assert_eq!(a.noise_against(&c), Noise::WithinNoise);
    }
}

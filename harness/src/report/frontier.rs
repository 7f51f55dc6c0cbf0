//! The size/performance frontier: the variants that no other variant beats on both image size
//! and the tradeoff's figure (server CPU per request, or throughput).
//!
//! Sizes are exact; the figure has noise. A variant leaves the frontier only when another is
//! no bigger and better beyond the noise (see `Measured::beats`): two variants whose figures
//! are tied within noise both stay, and so does every variant whose figure is a single
//! reading, since one reading cannot show that anything beats it.

use super::estimate::{Better, Measured};
use super::metrics::{RunView, VariantRow};

/// The figure a tradeoff weighs against image size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// The allocation-heavy workload's throughput (higher is better).
    Throughput,
    /// Server CPU per request on the same load cell (lower is better).
    CpuPerRequest,
}

impl Axis {
    pub fn better(self) -> Better {
        match self {
            Axis::Throughput => Better::Higher,
            Axis::CpuPerRequest => Better::Lower,
        }
    }

    pub fn of(self, row: &VariantRow) -> Option<Measured> {
        match self {
            Axis::Throughput => row.alloc_heavy,
            Axis::CpuPerRequest => row.cpu_per_request,
        }
    }

    /// `throughput` or `server CPU per request`.
    pub fn name(self) -> &'static str {
        match self {
            Axis::Throughput => "throughput",
            Axis::CpuPerRequest => "server CPU per request",
        }
    }
}

impl RunView<'_> {
    /// Variants no other variant beats on both image size and `axis` (see `frontier`), in
    /// order of image size.
    pub fn frontier(&self, axis: Axis) -> Vec<&VariantRow> {
        frontier(&self.rows, axis)
    }

    /// The axis the tradeoff is drawn and judged on: server CPU per request where the file
    /// has it (it compares servers even where the load generator was the bottleneck), else
    /// throughput.
    pub fn tradeoff_axis(&self) -> Axis {
        match self.rows.iter().any(|r| r.cpu_per_request.is_some()) {
            true => Axis::CpuPerRequest,
            false => Axis::Throughput,
        }
    }
}

/// The frontier of `rows` on `axis`, in order of image size.
pub fn frontier(rows: &[VariantRow], axis: Axis) -> Vec<&VariantRow> {
    let points: Vec<(&VariantRow, f64, Measured)> = rows
        .iter()
        .filter_map(|r| Some((r, r.image_mb?, axis.of(r)?)))
        .collect();
    let mut front: Vec<(&VariantRow, f64, Measured)> = points
        .iter()
        .filter(|(row, size, figure)| {
            !points.iter().any(|(other, s, f)| {
                other.name != row.name && s <= size && f.beats(figure, axis.better())
            })
        })
        .copied()
        .collect();
    front.sort_by(|a, b| a.1.total_cmp(&b.1));
    front.into_iter().map(|(r, _, _)| r).collect()
}

/// True when every point's figure carries an interval, so the frontier could drop points.
pub fn noise_known(rows: &[VariantRow], axis: Axis) -> bool {
    rows.iter()
        .filter(|r| r.image_mb.is_some())
        .filter_map(|r| axis.of(r))
        .all(|m| m.paired.unwrap_or(m.own).ci.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::estimate::Estimate;

    fn row(name: &str, image_mb: f64, rps: f64, ci: Option<(f64, f64)>) -> VariantRow {
        VariantRow {
            name: name.into(),
            failure: None,
            image_mb: Some(image_mb),
            cold_start_ms: None,
            cold_start: None,
            cold_start_range_ms: None,
            process_start_ms: None,
            alloc_heavy: Some(Measured::unpaired(Estimate::with_ci(rps, ci))),
            cpu_per_request: None,
            bound: None,
            peak_memory_mb: None,
            container_peak_memory_mb: None,
        }
    }

    fn names(rows: &[VariantRow], axis: Axis) -> Vec<&str> {
        frontier(rows, axis)
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }

    #[test]
    fn a_point_leaves_only_when_a_smaller_one_is_better_beyond_noise() {
        let rows = [
            // Smaller and 1.6% faster, but the intervals overlap: both stay.
            row("static", 2.0, 19_624.0, Some((19_100.0, 20_100.0))),
            row("distroless", 20.0, 19_310.0, Some((18_900.0, 19_800.0))),
            // Bigger and slower beyond noise than `static`: dropped.
            row("debian", 75.0, 15_000.0, Some((14_500.0, 15_500.0))),
            // Bigger than both but faster beyond noise: stays.
            row("mimalloc", 30.0, 25_000.0, Some((24_000.0, 26_000.0))),
        ];
        assert_eq!(
            names(&rows, Axis::Throughput),
            ["static", "distroless", "mimalloc"]
        );
        assert!(noise_known(&rows, Axis::Throughput));
    }

    #[test]
    fn single_readings_cannot_drop_anything() {
        let rows = [
            row("small", 1.0, 20_000.0, None),
            row("big", 70.0, 10_000.0, None),
        ];
        assert_eq!(names(&rows, Axis::Throughput), ["small", "big"]);
        assert!(!noise_known(&rows, Axis::Throughput));
    }

    #[test]
    fn cpu_per_request_is_better_lower_and_uses_paired_ratios() {
        let cpu = |value, lo, hi| Measured {
            own: Estimate::with_ci(value * 40.0, Some((value * 20.0, value * 60.0))),
            paired: Some(Estimate::with_ci(value, Some((lo, hi)))),
        };
        let mut rows = [
            row("base", 75.0, 1.0, None),
            row("lean", 1.0, 1.0, None),
            row("heavy", 2.0, 1.0, None),
        ];
        rows[0].cpu_per_request = Some(cpu(1.0, 1.0, 1.0));
        rows[1].cpu_per_request = Some(cpu(0.9, 0.85, 0.95));
        rows[2].cpu_per_request = Some(cpu(1.5, 1.4, 1.6));
        // The absolute figures overlap; the paired ratios put `lean` ahead of both.
        assert_eq!(names(&rows, Axis::CpuPerRequest), ["lean"]);
    }
}

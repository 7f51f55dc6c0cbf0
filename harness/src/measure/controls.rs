//! Negative controls read from a results file: the A/A control arm (the baseline measured
//! twice in every round), and pairs of variants that ran the very same binary (one digest,
//! two images). Both must come out "within noise"; the share that does not is the method's
//! false-alarm rate on that machine, and every report and run prints it.
//!
//! Pure reading of results: it measures nothing and adjusts nothing (adjusted p-values come with the
//! ratios, adjusted over whatever family the caller judged them in).

use crate::results::{NegativeControl as ControlOutcome, Ratio, RunResults, VariantResult};

impl ControlOutcome {
    /// `A/A control (…): 1 of 26 comparisons beyond noise (/json c=64 rps ×1.07)`.
    pub fn line(&self) -> String {
        let which = if self.beyond_noise_cells.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.beyond_noise_cells.join(", "))
        };
        format!(
            "{}: {} of {} comparisons beyond noise{which}",
            self.label, self.beyond_noise, self.comparisons
        )
    }
}

/// A control from its named ratios.
fn outcome(label: String, variants: Vec<String>, named: &[(String, Ratio)]) -> ControlOutcome {
    let beyond = beyond_cells(named);
    ControlOutcome {
        label,
        variants,
        comparisons: named.len() as u32,
        beyond_noise: beyond.len() as u32,
        beyond_noise_cells: beyond,
    }
}

/// Every negative control of a run: the A/A arm, then each pair of variants whose measured
/// binaries share a digest.
pub fn outcomes(results: &RunResults) -> Vec<ControlOutcome> {
    let mut out = Vec::new();
    let baseline = baseline_of(results);
    if let (Some(control), Some(base)) = (&results.control, baseline) {
        out.push(outcome(
            format!("A/A control ({} measured twice per round)", base.variant),
            vec![base.variant.name()],
            &named_ratios(control),
        ));
    }
    for (a, b) in same_binary_pairs(results) {
        out.push(pair_outcome(a, b, baseline));
    }
    out
}

/// Pairs of ok variants whose builds produced the same binary (by SHA-256), in plan order.
pub fn same_binary_pairs(results: &RunResults) -> Vec<(&VariantResult, &VariantResult)> {
    let digest = |v: &VariantResult| v.build.as_ref().and_then(|b| b.binary_sha256.clone());
    let ok: Vec<&VariantResult> = results.variants.iter().filter(|v| v.is_ok()).collect();
    let mut pairs = Vec::new();
    for (i, a) in ok.iter().enumerate() {
        for b in &ok[i + 1..] {
            if digest(a).is_some() && digest(a) == digest(b) {
                pairs.push((*a, *b));
            }
        }
    }
    pairs
}

/// Whether two variants ran one binary: an A/A pair, never ranked against each other.
pub fn same_binary(results: &RunResults, a: &str, b: &str) -> bool {
    same_binary_pairs(results).iter().any(|(x, y)| {
        let (x, y) = (x.variant.name(), y.variant.name());
        (x == a && y == b) || (x == b && y == a)
    })
}

fn baseline_of(results: &RunResults) -> Option<&VariantResult> {
    results
        .variant(crate::matrix::BASELINE)
        .or_else(|| results.variants.first())
}

/// A same-binary pair: with the baseline, the other's ratios to it; else their ratios to
/// the baseline side by side, apart when the two intervals do not overlap and either is
/// beyond noise.
fn pair_outcome(
    a: &VariantResult,
    b: &VariantResult,
    baseline: Option<&VariantResult>,
) -> ControlOutcome {
    let label = format!(
        "same binary: {} and {} (sha256 {})",
        a.variant,
        b.variant,
        a.build
            .as_ref()
            .and_then(|x| x.binary_sha256.as_deref())
            .map_or("", |d| &d[..d.len().min(12)])
    );
    let variants = vec![a.variant.name(), b.variant.name()];
    let is_base = |v: &VariantResult| baseline.is_some_and(|base| base.variant == v.variant);
    if is_base(a) || is_base(b) {
        let other = if is_base(a) { b } else { a };
        return outcome(label, variants, &named_ratios(other));
    }
    let (ra, rb) = (named_ratios(a), named_ratios(b));
    let mut cells: u32 = 0;
    let mut apart = Vec::new();
    for (name, x) in &ra {
        let Some((_, y)) = rb.iter().find(|(n, _)| n == name) else {
            continue;
        };
        cells += 1;
        let disjoint = x.ci_high < y.ci_low || y.ci_high < x.ci_low;
        if disjoint && (x.beyond_noise() || y.beyond_noise()) {
            apart.push(format!("{name} ×{:.2} vs ×{:.2}", x.median, y.median));
        }
    }
    ControlOutcome {
        label,
        variants,
        comparisons: cells,
        beyond_noise: apart.len() as u32,
        beyond_noise_cells: apart,
    }
}

/// The paired ratios a run judges (every variant's and the A/A control's that carry a
/// p-value).
pub fn comparisons(results: &RunResults) -> usize {
    results
        .variants
        .iter()
        .chain(results.control.as_ref())
        .chain(&results.runtime_arms)
        .flat_map(named_ratios)
        .filter(|(_, r)| r.p_value.is_some())
        .count()
}

/// A variant's ratios to the baseline, each named for what it compares.
pub fn named_ratios(v: &VariantResult) -> Vec<(String, Ratio)> {
    let mut out = Vec::new();
    if let Some(r) = v.cold_start.as_ref().and_then(|c| c.ratio_to_baseline) {
        out.push(("cold start".to_string(), r));
    }
    for cell in &v.load {
        let Some(ratios) = &cell.ratio_to_baseline else {
            continue;
        };
        let name = format!("{} c={}", cell.endpoint, cell.concurrency);
        out.push((format!("{name} rps"), ratios.rps));
        if let Some(cpu) = ratios.server_cpu_us_per_request {
            out.push((format!("{name} CPU/request"), cpu));
        }
    }
    for c in &v.crunch {
        if let Some(r) = c.ratio_to_baseline {
            out.push((format!("{} threads", c.threads), r));
        }
    }
    out
}

fn beyond_cells(named: &[(String, Ratio)]) -> Vec<String> {
    named
        .iter()
        .filter(|(_, r)| r.beyond_noise())
        .map(|(name, r)| format!("{name} ×{:.2}", r.median))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{BuildRecord, ColdStart};

    fn ratio(median: f64, lo: f64, hi: f64, q: f64) -> Ratio {
        Ratio {
            n: 6,
            median,
            ci_low: lo,
            ci_high: hi,
            level: Some(0.969),
            p_value: Some(q),
            p_adjusted: Some(q),
        }
    }

    fn variant(name: &str, sha: &str, cold: Option<Ratio>) -> VariantResult {
        let mut v = VariantResult::new(name.parse().unwrap());
        v.build = Some(BuildRecord {
            compile_s: 0.0,
            compile_cold: false,
            compile_kind: None,
            binary_bytes: 1,
            binary_sha256: Some(sha.into()),
            allocator_source: None,
            allocator_library: None,
            allocator_check: None,
            static_binary: false,
            interpreter: None,
            needed_libraries: Vec::new(),
            image: None,
        });
        let s = crate::measure::stats::summarize(&[1.0, 2.0]).unwrap();
        v.cold_start = Some(ColdStart {
            samples_ms: Vec::new(),
            cold_start_ms: s,
            process_start_samples_ms: Vec::new(),
            process_start_ms: None,
            ratio_to_baseline: cold,
            create_samples_ms: Vec::new(),
            create_ms: None,
            start_samples_ms: Vec::new(),
            start_ms: None,
        });
        v
    }

    #[test]
    fn the_control_and_same_binary_pairs_are_counted() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/report/http-run.json");
        let mut results = RunResults::load(&path).unwrap();
        results.variants = vec![
            variant("glibc-system-debian", "aaa", None),
            variant(
                "glibc-system-distroless",
                "aaa",
                Some(ratio(1.1, 1.05, 1.2, 0.01)),
            ),
            variant(
                "musl-system-scratch",
                "bbb",
                Some(ratio(0.5, 0.4, 0.6, 0.001)),
            ),
            variant(
                "musl-system-debian",
                "bbb",
                Some(ratio(0.52, 0.45, 0.58, 0.001)),
            ),
        ];
        results.control = Some(variant(
            "glibc-system-debian",
            "aaa",
            Some(ratio(1.0, 0.9, 1.1, 0.9)),
        ));
        let lines: Vec<String> = outcomes(&results).iter().map(|o| o.line()).collect();
        assert_eq!(
            lines,
            [
                "A/A control (glibc-system-debian measured twice per round): 0 of 1 comparisons beyond noise",
                "same binary: glibc-system-debian and glibc-system-distroless (sha256 aaa): 1 of 1 comparisons beyond noise (cold start ×1.10)",
                "same binary: musl-system-scratch and musl-system-debian (sha256 bbb): 0 of 1 comparisons beyond noise",
            ]
        );
        assert!(same_binary(
            &results,
            "musl-system-debian",
            "musl-system-scratch"
        ));
        assert!(!same_binary(
            &results,
            "musl-system-debian",
            "glibc-system-debian"
        ));
    }
}

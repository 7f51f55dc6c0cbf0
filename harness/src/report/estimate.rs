//! A figure with its noise: `Estimate` (a value and the interval of its median, at the
//! level the file records, when it has one), `Measured` (a variant's estimate beside its
//! per-round paired ratio to the baseline), and the one test every table, plot and sentence
//! uses to tell two figures apart.
//!
//! A paired ratio is told apart from the baseline by its family verdict (`Ratio::beyond_noise`:
//! its interval excludes 1 and its Holm-adjusted p-value over the report's comparisons is at
//! most 5%). Two variants are told apart only when both carry an interval and the
//! intervals do not overlap; where both have a paired ratio to the same baseline, the
//! ratios are compared instead of the absolute figures: pairing each round with the
//! baseline's round cancels the drift of the machine between rounds.

use crate::results::{Ratio, Summary};

/// A measured value with the interval of its median, when the results carry one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub ci: Option<(f64, f64)>,
    /// The interval's coverage (0–1), where the file records it.
    pub level: Option<f64>,
    /// For a paired ratio: whether it is beyond noise against 1, as its family judged it.
    pub beyond: Option<bool>,
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

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

impl Estimate {
    pub fn exact(value: f64) -> Self {
        Self {
            value,
            ci: None,
            level: None,
            beyond: None,
        }
    }

    /// A value with an interval of unknown level.
    pub fn with_ci(value: f64, ci: Option<(f64, f64)>) -> Self {
        Self {
            ci,
            ..Self::exact(value)
        }
    }

    /// The median, with its interval when there are at least two samples (one sample has
    /// no noise estimate).
    pub fn repeated(s: &Summary) -> Self {
        Self {
            level: s.median_ci_level,
            ..Self::with_ci(
                s.median,
                (s.n > 1).then_some((s.median_ci_low, s.median_ci_high)),
            )
        }
    }

    /// The median and its interval.
    pub fn median(s: &Summary) -> Self {
        Self {
            level: s.median_ci_level,
            ..Self::with_ci(s.median, Some((s.median_ci_low, s.median_ci_high)))
        }
    }

    /// A paired ratio: the median of per-round ratios, with its interval when there are
    /// at least two pairs, and its family verdict.
    pub fn paired(r: &Ratio) -> Self {
        Self {
            value: r.median,
            ci: (r.n > 1).then_some((r.ci_low, r.ci_high)),
            level: r.level,
            beyond: (r.n > 1).then(|| r.beyond_noise()),
        }
    }

    /// Exactly 1 with an interval of no width: the baseline against itself, round by round.
    pub fn one() -> Self {
        Self::with_ci(1.0, Some((1.0, 1.0)))
    }

    /// Whether this is the baseline's own exact 1 (`one`).
    fn is_one(&self) -> bool {
        self.value == 1.0 && self.ci == Some((1.0, 1.0)) && self.beyond.is_none()
    }

    /// `self / base`, with the widest interval the two intervals allow (conservative).
    pub fn ratio(&self, base: &Estimate) -> Estimate {
        let ci = match (self.ci, base.ci) {
            (Some((lo, hi)), Some((blo, bhi))) if blo > 0.0 && bhi > 0.0 => {
                Some((lo / bhi, hi / blo))
            }
            _ => None,
        };
        Estimate::with_ci(self.value / base.value, ci)
    }

    /// Against the baseline's exact 1, a paired ratio's family verdict; otherwise whether
    /// the two intervals overlap.
    pub fn noise_against(&self, other: &Estimate) -> Noise {
        let verdict = |e: &Estimate, one: &Estimate| match (one.is_one(), e.beyond, e.ci) {
            (true, Some(true), Some(_)) => Some(Noise::Distinct),
            (true, Some(false), Some(_)) => Some(Noise::WithinNoise),
            _ => None,
        };
        if let Some(noise) = verdict(self, other).or_else(|| verdict(other, self)) {
            return noise;
        }
        match (self.ci, other.ci) {
            (Some((lo, hi)), Some((olo, ohi))) if lo <= ohi && olo <= hi => Noise::WithinNoise,
            (Some(_), Some(_)) => Noise::Distinct,
            _ => Noise::Unknown,
        }
    }

    /// For a ratio: whether its interval includes 1 (within noise), excludes it, or is absent.
    pub fn noise_against_one(&self) -> Noise {
        self.noise_against(&Estimate::one())
    }

    /// The CI's larger half-width as a percentage of the value: `±2.1%`.
    pub fn half_width_pct(&self) -> Option<f64> {
        let (lo, hi) = self.ci?;
        (self.value != 0.0)
            .then(|| (self.value - lo).max(hi - self.value) / self.value.abs() * 100.0)
    }
}

/// One variant's figure: its own estimate and, where the file pairs rounds with the
/// baseline's, the median of the per-round ratios to the baseline (exactly 1 for the
/// baseline itself).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub own: Estimate,
    pub paired: Option<Estimate>,
}

impl Measured {
    /// A figure with no paired ratio (cold starts, crunch jobs, version 1 load windows).
    pub fn unpaired(own: Estimate) -> Self {
        Self { own, paired: None }
    }

    /// Whether `self` and `other` differ beyond the noise: their paired ratios when both have
    /// one, else their own estimates.
    pub fn noise_against(&self, other: &Measured) -> Noise {
        match (self.paired, other.paired) {
            (Some(a), Some(b)) => a.noise_against(&b),
            _ => self.own.noise_against(&other.own),
        }
    }

    /// This figure ÷ the baseline's: the paired ratio when there is one, else the ratio of
    /// the two estimates with the widest interval theirs allow.
    pub fn ratio_to(&self, base: &Measured) -> Estimate {
        self.paired.unwrap_or_else(|| self.own.ratio(&base.own))
    }

    /// The value the two figures are ranked by: the paired ratio where both have one.
    fn key(&self, other: &Measured) -> (f64, f64) {
        match (self.paired, other.paired) {
            (Some(a), Some(b)) => (a.value, b.value),
            _ => (self.own.value, other.own.value),
        }
    }

    /// True when `self` is better than `other` beyond the noise; never when the noise is
    /// unknown (a single reading cannot show it).
    pub fn beats(&self, other: &Measured, better: Better) -> bool {
        let (a, b) = self.key(other);
        let ahead = match better {
            Better::Higher => a > b,
            Better::Lower => a < b,
        };
        ahead && self.noise_against(other) == Noise::Distinct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(value: f64, lo: f64, hi: f64) -> Estimate {
        Estimate::with_ci(value, Some((lo, hi)))
    }

    #[test]
    fn ratio_interval_is_conservative() {
        let (a, b) = (e(10.0, 9.0, 11.0), e(20.0, 18.0, 22.0));
        let r = a.ratio(&b);
        assert_eq!(r.value, 0.5);
        let (lo, hi) = r.ci.unwrap();
        assert!((lo - 9.0 / 22.0).abs() < 1e-12 && (hi - 11.0 / 18.0).abs() < 1e-12);
        assert_eq!(a.noise_against(&b), Noise::Distinct);
        assert_eq!(Estimate::exact(1.0).noise_against(&b), Noise::Unknown);
        assert_eq!(a.noise_against(&e(10.5, 10.8, 12.0)), Noise::WithinNoise);
        assert_eq!(a.half_width_pct(), Some(10.0));
    }

    #[test]
    fn paired_ratios_decide_where_both_have_one() {
        // The absolute figures overlap (the machine drifted), the paired ratios do not.
        let a = Measured {
            own: e(100.0, 60.0, 140.0),
            paired: Some(e(0.5, 0.48, 0.52)),
        };
        let base = Measured {
            own: e(200.0, 120.0, 280.0),
            paired: Some(Estimate::one()),
        };
        assert_eq!(a.own.noise_against(&base.own), Noise::WithinNoise);
        assert_eq!(a.noise_against(&base), Noise::Distinct);
        assert!(base.beats(&a, Better::Higher) && !a.beats(&base, Better::Higher));
        assert_eq!(a.ratio_to(&base), e(0.5, 0.48, 0.52));
        // A ratio whose interval holds 1 is a tie with the baseline.
        let tie = Measured {
            paired: Some(e(0.97, 0.9, 1.05)),
            ..a
        };
        assert_eq!(tie.noise_against(&base), Noise::WithinNoise);
        assert!(!base.beats(&tie, Better::Higher));
        // Without pairs, the conservative ratio of the two estimates.
        let (x, y) = (Measured::unpaired(a.own), Measured::unpaired(base.own));
        assert_eq!(x.ratio_to(&y).ci, Some((60.0 / 280.0, 140.0 / 120.0)));
        // One reading each: nothing beats anything.
        let one = |v| Measured::unpaired(Estimate::exact(v));
        assert!(!one(2.0).beats(&one(1.0), Better::Higher));
    }
}

//! The arms a run measures: every planned variant, and the A/A control — the baseline
//! variant again, with instances of its own from the same image, measured in every round
//! like a variant. The control is the run's negative result by construction: whatever it
//! shows "beyond noise" is the method's error rate on this machine, not a difference.
//!
//! Ratios pair each round with the baseline's: a variant's divide by both baseline arms
//! (their geometric mean in that round), so one slow window of one arm moves them half as
//! much; the control's divide by the baseline arm alone, as an A/A test must.
//!
//! With `--oci-runtime A,B,…` every variant also has a runtime arm per runtime after the
//! first: the same image, its own instances, created under that runtime, measured in every
//! round like a variant. A runtime arm's ratios divide by its own variant's arm (under the
//! run's first runtime) of the same round: the runtime's effect on that variant, paired.

use super::Run;
use crate::matrix::Variant;
use crate::measure::stats;
use crate::results::{Ratio, VariantResult, Verdicts};
use crate::runtime::Runtime;
use std::fmt;

/// One measured arm of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arm {
    Variant(Variant),
    /// The A/A control: the baseline variant's second arm.
    Control(Variant),
    /// The variant under the plan's `runtime_arms[i]`.
    Runtime(Variant, usize),
}

impl From<Variant> for Arm {
    fn from(v: Variant) -> Self {
        Arm::Variant(v)
    }
}

impl Arm {
    /// The variant whose build the arm runs.
    pub fn variant(self) -> Variant {
        match self {
            Arm::Variant(v) | Arm::Control(v) | Arm::Runtime(v, _) => v,
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arm::Variant(v) => write!(f, "{v}"),
            Arm::Control(v) => write!(f, "{v} (A/A control)"),
            Arm::Runtime(v, i) => write!(f, "{v} (OCI runtime arm {})", i + 1),
        }
    }
}

/// How an arm's figures pair with the baseline's: which arms' samples form the denominator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    /// The baseline arm itself: no ratio.
    None,
    /// Divide by these arms' samples of the same round (their geometric mean).
    Against(Vec<Arm>),
}

/// The denominators of `arm`'s ratios, given the baseline variant and whether the run has
/// a control arm.
pub fn pairing(arm: Arm, baseline: Option<Variant>, control: bool) -> Pairing {
    if let Arm::Runtime(v, _) = arm {
        return Pairing::Against(vec![Arm::Variant(v)]);
    }
    let Some(base) = baseline else {
        return Pairing::None;
    };
    match arm {
        Arm::Variant(v) if v == base => Pairing::None,
        Arm::Control(_) => Pairing::Against(vec![Arm::Variant(base)]),
        Arm::Variant(_) if control => {
            Pairing::Against(vec![Arm::Variant(base), Arm::Control(base)])
        }
        Arm::Variant(_) => Pairing::Against(vec![Arm::Variant(base)]),
        Arm::Runtime(..) => unreachable!("paired above"),
    }
}

/// The paired ratio of `own` samples (`(round, value)`) to the samples of the arms
/// `pairing` names, as `samples_of` gives them.
pub fn paired<'s>(
    own: &[(u32, f64)],
    pairing: &Pairing,
    samples_of: impl Fn(Arm) -> Option<&'s [(u32, f64)]>,
) -> Option<Ratio> {
    let Pairing::Against(arms) = pairing else {
        return None;
    };
    let baselines: Vec<&[(u32, f64)]> = arms.iter().filter_map(|&a| samples_of(a)).collect();
    if baselines.is_empty() {
        return None;
    }
    stats::paired_ratio(own, &stats::combined_baseline(&baselines))
}

impl<R: Runtime> Run<'_, R> {
    /// Every arm still measured: the ok variants in plan order, then the control while it
    /// and its baseline are ok, then the runtime arms whose variant is ok.
    pub(super) fn ok_arms(&self) -> Vec<Arm> {
        let mut arms: Vec<Arm> = self.ok_variants().into_iter().map(Arm::Variant).collect();
        if let Some(control) = self.results.control.as_ref().filter(|c| c.is_ok()) {
            if arms.contains(&Arm::Variant(control.variant)) {
                arms.push(Arm::Control(control.variant));
            }
        }
        for (i, name) in self.plan.runtime_arms.iter().enumerate() {
            for v in self.ok_variants() {
                let ok = self
                    .results
                    .runtime_arm(v, name)
                    .is_some_and(VariantResult::is_ok);
                if ok {
                    arms.push(Arm::Runtime(v, i));
                }
            }
        }
        arms
    }

    /// The OCI runtime `arm`'s instances are created under, over the run's own: a runtime
    /// arm's.
    pub(super) fn oci_runtime_of(&self, arm: Arm) -> Option<String> {
        match arm {
            Arm::Runtime(_, i) => self.plan.runtime_arms.get(i).cloned(),
            _ => None,
        }
    }

    pub(super) fn arm_result_mut(&mut self, arm: Arm) -> &mut VariantResult {
        match arm {
            Arm::Variant(v) => self.result_mut(v),
            Arm::Control(_) => self
                .results
                .control
                .as_mut()
                .expect("a control arm has a result"),
            Arm::Runtime(v, i) => {
                let name = &self.plan.runtime_arms[i];
                self.results
                    .runtime_arms
                    .iter_mut()
                    .find(|r| r.variant == v && r.oci_runtime.as_ref() == Some(name))
                    .expect("a runtime arm has a result")
            }
        }
    }

    /// The pairing of `arm`'s figures in this run.
    pub(super) fn pairing_of(&self, arm: Arm) -> Pairing {
        pairing(arm, self.baseline_variant(), self.results.control.is_some())
    }

    /// The control's build is the baseline's (the same image), and each runtime arm's its
    /// variant's; a variant that failed to build fails those arms with it.
    pub(super) fn share_builds_with_arms(&mut self) {
        let variants = self.results.variants.clone();
        let shared = self
            .results
            .control
            .iter_mut()
            .chain(self.results.runtime_arms.iter_mut());
        for arm in shared {
            if let Some(own) = variants.iter().find(|v| v.variant == arm.variant) {
                if !own.is_ok() {
                    arm.status = own.status.clone();
                }
                arm.build = own.build.clone();
            }
        }
    }

    /// Re-judges every ratio of the run together (Holm over the run's own comparisons), so
    /// the file's adjusted p-values always match its ratios.
    pub(super) fn adjust_ratios(&mut self) {
        let comparisons = stats::adjust_family(&mut self.results.ratios_mut());
        self.results.verdicts = Some(Verdicts {
            method: stats::METHOD.into(),
            comparisons: comparisons as u32,
            family_wise_error_rate: stats::ALPHA,
            negative_controls: crate::measure::controls::outcomes(&self.results),
        });
    }
}

/// Round-tagged samples: the i-th sample of an arm belongs to round `rounds[i]`.
pub fn by_round(rounds: &[u32], values: &[f64]) -> Vec<(u32, f64)> {
    rounds.iter().copied().zip(values.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> Variant {
        name.parse().unwrap()
    }

    #[test]
    fn variants_divide_by_both_baseline_arms_and_the_control_by_the_baseline_alone() {
        let base = v("glibc-system-debian");
        let other = v("musl-system-scratch");
        assert_eq!(pairing(Arm::Variant(base), Some(base), true), Pairing::None);
        assert_eq!(
            pairing(Arm::Control(base), Some(base), true),
            Pairing::Against(vec![Arm::Variant(base)])
        );
        assert_eq!(
            pairing(Arm::Variant(other), Some(base), true),
            Pairing::Against(vec![Arm::Variant(base), Arm::Control(base)])
        );
        assert_eq!(
            pairing(Arm::Variant(other), Some(base), false),
            Pairing::Against(vec![Arm::Variant(base)])
        );
        assert_eq!(pairing(Arm::Variant(other), None, true), Pairing::None);
        // A runtime arm divides by its own variant's arm, baseline or not.
        for baseline in [Some(base), None] {
            assert_eq!(
                pairing(Arm::Runtime(other, 0), baseline, true),
                Pairing::Against(vec![Arm::Variant(other)])
            );
        }
    }

    #[test]
    fn one_slow_baseline_window_moves_a_variants_ratio_half_as_much() {
        let base = v("glibc-system-debian");
        let other = v("musl-system-scratch");
        // Round 2 of the baseline arm is slow (half speed); the control arm is not.
        let baseline = [(0, 100.0), (1, 100.0), (2, 50.0)];
        let control = [(0, 100.0), (1, 100.0), (2, 100.0)];
        let variant = [(0, 100.0), (1, 100.0), (2, 100.0)];
        let samples = |arm: Arm| match arm {
            Arm::Control(_) => Some(&control[..]),
            _ => Some(&baseline[..]),
        };
        let both = pairing(Arm::Variant(other), Some(base), true);
        let ratio = paired(&variant, &both, samples).unwrap();
        // Against both arms: 100 / sqrt(50 × 100) = 1.414 in round 2, not 2.
        assert!((ratio.ci_high - 2f64.sqrt()).abs() < 1e-12, "{ratio:?}");
        let alone = pairing(Arm::Variant(other), Some(base), false);
        let ratio = paired(&variant, &alone, samples).unwrap();
        assert!((ratio.ci_high - 2.0).abs() < 1e-12, "{ratio:?}");
    }
}

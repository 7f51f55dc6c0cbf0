//! The verdict's superlatives, said only where the noise allows: the best (or worst) variant
//! on a figure, or the variants tied within noise for it, and how it stands against the
//! baseline.
//!
//! A group of leaders is the best variant and every variant within noise of it: a variant is
//! never called best on a difference inside the noise. Where the noise is unknown (single
//! readings) the ranking falls back on the values and the sentence says there is no interval.

use super::estimate::{Better, Measured, Noise};
use super::fmt::{factor, num, ratio_ci};
use super::metrics::{RunView, VariantRow};

/// How a figure is named in a sentence.
#[derive(Debug, Clone, Copy)]
pub struct Words<'a> {
    pub unit: &'a str,
    pub better: Better,
    /// `is smallest`, `is fastest`, `is highest`, `uses least`.
    pub verb: &'a str,
    /// For a tie: `tied within noise … for WORD` (`smallest`, `fastest`, `highest`, `least`).
    pub top: &'a str,
    /// `smaller`, `faster`, `less`; empty to state the factor alone.
    pub comparative: &'a str,
    /// Appended where a figure is a single reading (no interval).
    pub unknown_noise: &'a str,
    /// Whether single readings may be ranked at all: sizes and peak memory yes; load
    /// windows, which swing with whatever else the machine does, no.
    pub rank_single_readings: bool,
    /// Whether the figure is the binary's own (throughput, CPU per request): then two
    /// variants that ran the same binary are an A/A pair, named together, never ranked.
    pub by_binary: bool,
}

type Ranked<'v> = Vec<(&'v VariantRow, Measured)>;

/// Every row with the figure, best first: by paired ratio where all have one, else by value.
fn ranked<'v>(
    view: &'v RunView,
    metric: &impl Fn(&VariantRow) -> Option<Measured>,
    better: Better,
) -> Ranked<'v> {
    let mut out: Ranked = view
        .rows
        .iter()
        .filter_map(|r| Some((r, metric(r)?)))
        .collect();
    let all_paired = out.iter().all(|(_, m)| m.paired.is_some());
    let key = |m: &Measured| match all_paired {
        true => m.paired.map_or(m.own.value, |p| p.value),
        false => m.own.value,
    };
    out.sort_by(|a, b| key(&a.1).total_cmp(&key(&b.1)));
    if better == Better::Higher {
        out.reverse();
    }
    out
}

/// The first of `ranked` and every other within noise of it, or, on a figure of the binary's
/// own (`by_binary`), running the same binary as it (an A/A pair is never ranked).
fn leaders<'v>(view: &RunView, ranked: &Ranked<'v>, by_binary: bool) -> Ranked<'v> {
    let Some((first, fm)) = ranked.first() else {
        return Vec::new();
    };
    let mut out = vec![(*first, *fm)];
    out.extend(
        ranked[1..]
            .iter()
            .filter(|(r, m)| {
                m.noise_against(fm) == Noise::WithinNoise
                    || (by_binary && view.same_binary(&r.name, &first.name))
            })
            .copied(),
    );
    out
}

/// `296 ms [290–307]`: the value and its CI where it has one.
pub fn value(m: &Measured, unit: &str) -> String {
    let ci = m.own.ci.map_or(String::new(), |(lo, hi)| {
        format!(" [{}–{}]", num(lo), num(hi))
    });
    format!("{} {unit}{ci}", num(m.own.value))
}

/// "X is best at V", or "X (V) is tied within noise with Y (V), Z (V) for best", then how it
/// stands against the baseline.
pub fn best(
    view: &RunView,
    metric: impl Fn(&VariantRow) -> Option<Measured>,
    w: Words,
) -> Option<String> {
    let ranked = ranked(view, &metric, w.better);
    if !w.rank_single_readings && unjudged(&ranked) {
        return Some(span(view, &metric, &ranked, w));
    }
    let group = leaders(view, &ranked, w.by_binary);
    let (top, tm) = group.first()?;
    let mut s = match group.len() {
        1 => format!("{} {} at {}", top.name, w.verb, value(tm, w.unit)),
        _ => format!(
            "{} ({}) is tied within noise with {} for {}",
            top.name,
            value(tm, w.unit),
            listed(&group[1..], w.unit),
            w.top
        ),
    };
    s.push_str(&against_baseline(view, &metric, &group, w));
    Some(s)
}

/// The other end: the worst variant, or those tied within noise for worst; `None` when the
/// worst is among the best or is the baseline, or not worse than the baseline.
pub fn worst(
    view: &RunView,
    metric: impl Fn(&VariantRow) -> Option<Measured>,
    w: Words,
) -> Option<String> {
    let mut ranked = ranked(view, &metric, w.better);
    if !w.rank_single_readings && unjudged(&ranked) {
        return None;
    }
    let best = leaders(view, &ranked, w.by_binary);
    ranked.reverse();
    let group = leaders(view, &ranked, w.by_binary);
    let base = view.baseline_row()?;
    let bm = metric(base)?;
    let in_group = |g: &Ranked, name: &str| g.iter().any(|(r, _)| r.name == name);
    let (bottom, m) = group.first()?;
    let worse_than_base = match w.better {
        Better::Higher => m.own.value < bm.own.value,
        Better::Lower => m.own.value > bm.own.value,
    };
    if in_group(&group, &base.name) || in_group(&best, &bottom.name) || !worse_than_base {
        return None;
    }
    let items: Vec<String> = group
        .iter()
        .map(|(r, m)| {
            let ratio = m.ratio_to(&bm);
            let noise = noise_words(m.noise_against(&bm), w.unknown_noise);
            format!(
                "{} at {}, {} {}{noise}",
                r.name,
                value(m, w.unit),
                ratio_ci(&ratio),
                base.name
            )
        })
        .collect();
    Some(match items.len() {
        1 => items[0].clone(),
        _ => format!("tied within noise: {}", items.join("; ")),
    })
}

/// True when some pair of the figures cannot be told apart for want of an interval.
fn unjudged(ranked: &Ranked) -> bool {
    ranked.iter().any(|(_, a)| {
        ranked
            .iter()
            .any(|(_, b)| a.noise_against(b) == Noise::Unknown)
    })
}

/// Single readings, not ranked: the span they cover, each end against the baseline.
fn span(
    view: &RunView,
    metric: &impl Fn(&VariantRow) -> Option<Measured>,
    ranked: &Ranked,
    w: Words,
) -> String {
    let base = view.baseline_row().and_then(|b| Some((b, metric(b)?)));
    let end = |(r, m): &(&VariantRow, Measured)| match base {
        Some((b, bm)) if b.name != r.name => format!(
            "{} ({}, {} {})",
            value(m, w.unit),
            r.name,
            factor(m.ratio_to(&bm).value),
            b.name
        ),
        _ => format!("{} ({})", value(m, w.unit), r.name),
    };
    let mut ends: Vec<&(&VariantRow, Measured)> = ranked.iter().collect();
    ends.sort_by(|a, b| a.1.own.value.total_cmp(&b.1.own.value));
    match (ends.first(), ends.last()) {
        (Some(lo), Some(hi)) if ends.len() > 1 => format!(
            "{}: no ranking; the readings run from {} to {}",
            w.unknown_noise.trim_start_matches("; "),
            end(lo),
            end(hi)
        ),
        (Some(one), _) => format!(
            "{} only: {}",
            w.unknown_noise.trim_start_matches("; "),
            end(one)
        ),
        _ => String::new(),
    }
}

fn listed(group: &[(&VariantRow, Measured)], unit: &str) -> String {
    let items: Vec<String> = group
        .iter()
        .map(|(r, m)| format!("{} ({})", r.name, value(m, unit)))
        .collect();
    items.join(", ")
}

fn noise_words(noise: Noise, unknown: &str) -> String {
    match noise {
        Noise::WithinNoise => " — within noise of the baseline".into(),
        Noise::Distinct => ", beyond noise".into(),
        Noise::Unknown => unknown.into(),
    }
}

/// `, 12% faster than B (V), ratio 0.88× (0.85–0.91), beyond noise`, or the baseline's place
/// in the group.
fn against_baseline(
    view: &RunView,
    metric: &impl Fn(&VariantRow) -> Option<Measured>,
    group: &Ranked,
    w: Words,
) -> String {
    let Some((base, bm)) = view.baseline_row().and_then(|b| Some((b, metric(b)?))) else {
        return String::new();
    };
    if group.iter().any(|(r, _)| r.name == base.name) {
        return match group.len() {
            1 => " (the baseline itself)".into(),
            _ => format!("; the baseline, {}, is among them", base.name),
        };
    }
    let (top, tm) = group[0];
    let ratio = tm.ratio_to(&bm);
    let r = ratio.value;
    let base_value = format!("{} ({})", base.name, value(&bm, w.unit));
    let with_ci = |how: String| match ratio.ci {
        Some(_) => format!("{how} {base_value}, ratio {}", ratio_ci(&ratio)),
        None => format!("{how} {base_value}"),
    };
    let how = match w.better {
        Better::Lower if w.comparative.is_empty() => with_ci(factor(r)),
        Better::Lower if r > 0.5 => {
            with_ci(format!("{:.0}% {} than", (1.0 - r) * 100.0, w.comparative))
        }
        Better::Lower => with_ci(format!("{} {} than", factor(1.0 / r), w.comparative)),
        Better::Higher => format!("{} {base_value}", ratio_ci(&ratio)),
    };
    let noise = noise_words(tm.noise_against(&bm), w.unknown_noise);
    match group.len() {
        1 => format!(", {how}{noise}"),
        _ => format!("; {} is {how}{noise}", top.name),
    }
}

/// The variants tied for best on a figure: the best and every variant within noise of it
/// (or, with `by_binary`, running its binary), best first; `None` where some pair cannot be
/// told apart for want of an interval, or no variant has the figure.
pub fn tied_for_best<'v>(
    view: &'v RunView,
    metric: impl Fn(&VariantRow) -> Option<Measured>,
    better: Better,
    by_binary: bool,
) -> Option<Ranked<'v>> {
    let ranked = ranked(view, &metric, better);
    if ranked.is_empty() || unjudged(&ranked) {
        return None;
    }
    Some(leaders(view, &ranked, by_binary))
}

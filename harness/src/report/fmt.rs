//! How numbers read in the report: significant digits, thousands, factors and intervals.

use super::metrics::{Estimate, Noise};

/// A number with about three significant digits, no trailing noise.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        thousands(v)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// An axis tick: as few digits as the value needs (`0.8`, `16`, `2.5`, `41,000`).
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        return thousands(v);
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An integer part with thousands separators: `41,200`.
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A ratio as a factor: `1.08×`, `4.2×`, `40×`.
pub fn factor(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else if r >= 2.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// A ratio with its interval when it has one: `0.42× (0.40–0.45)`.
pub fn ratio_ci(r: &Estimate) -> String {
    match r.ci {
        Some((lo, hi)) => format!("{} ({lo:.2}–{hi:.2})", factor(r.value)),
        None => factor(r.value),
    }
}

/// A median with its interval: `24.1 [23.5–25.0]`.
pub fn value_ci(e: &Estimate) -> String {
    match e.ci {
        Some((lo, hi)) => format!("{} [{}–{}]", num(e.value), num(lo), num(hi)),
        None => num(e.value),
    }
}

/// What an interval of the median from `n` samples is: `96.9% interval`, `range of 5
/// (93.8%)`, or for files without levels a bootstrap interval named as such.
pub fn interval_label(n: u32, level: Option<f64>) -> String {
    crate::measure::stats::interval_name(n, level)
}

/// What the interval of a median over `n` samples of `results` is: exact levels from
/// schema version 3 on, the bootstrap interval's name before.
pub fn interval_of(results: &crate::results::RunResults, n: u32) -> String {
    use crate::measure::stats;
    let level = (results.schema_version >= 3).then(|| stats::median_interval_rank(n as usize).1);
    interval_label(n, level)
}

/// The table mark for a difference from the baseline.
pub fn noise_mark(noise: Noise) -> &'static str {
    match noise {
        Noise::WithinNoise => "within noise",
        Noise::Distinct => "distinct",
        Noise::Unknown => "no CI",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(41234.4), "41,234");
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(tick(0.8), "0.8");
        assert_eq!(tick(16.0), "16");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(45000.0), "45,000");
        assert_eq!(factor(40.4), "40×");
        assert_eq!(factor(4.24), "4.2×");
        assert_eq!(factor(1.084), "1.08×");
    }
}

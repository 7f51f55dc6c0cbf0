//! `harness compare OLD.json NEW.json`: per variant and metric, old, new, the change, and
//! whether the change is beyond the noise of both runs.
//!
//! The noise test is `stats::beyond_noise`: the 95% bootstrap intervals of the two medians,
//! recomputed from the sample arrays, do not overlap. Sizes (`image_bytes`,
//! `binary_bytes`) are deterministic, so any change in them is real ("exact"). Metrics with
//! a single sample per run (a load window's `rps` and `p99_us`, `peak_memory_bytes`) carry
//! no noise estimate, so their verdict is "n/a: one sample": re-run both sides to judge
//! them. This module reads results files only; `commands` prints.

use crate::measure::stats::{beyond_noise, summarize};
use crate::results::{RunResults, VariantResult};
use std::fmt;

/// Is the change real?
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The medians' 95% bootstrap intervals do not overlap.
    BeyondNoise,
    /// They overlap: this pair of runs cannot tell the difference from noise.
    WithinNoise,
    /// A deterministic metric: any change is real.
    Exact,
    /// No verdict possible, and why.
    NotApplicable(&'static str),
}

/// One metric of one variant in both files.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub variant: String,
    /// The metric name with its unit, and its key where there are several
    /// (`rps /plaintext c64`, `mb_per_s t4`).
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
    pub verdict: Verdict,
    /// True when a larger value is better (rps, mb_per_s).
    pub higher_is_better: bool,
}

impl Row {
    /// (new − old) / old in percent, when both exist and old is not zero.
    pub fn change_pct(&self) -> Option<f64> {
        match (self.old, self.new) {
            (Some(old), Some(new)) if old != 0.0 => Some((new - old) / old * 100.0),
            _ => None,
        }
    }

    /// `better` or `worse` for a change the verdict says is real; `None` otherwise.
    pub fn direction(&self) -> Option<&'static str> {
        let real = matches!(self.verdict, Verdict::BeyondNoise | Verdict::Exact);
        let (old, new) = (self.old?, self.new?);
        if !real || old == new {
            return None;
        }
        Some(if (new > old) == self.higher_is_better {
            "better"
        } else {
            "worse"
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::BeyondNoise => f.write_str("beyond noise"),
            Verdict::WithinNoise => f.write_str("within noise"),
            Verdict::Exact => f.write_str("exact"),
            Verdict::NotApplicable(why) => write!(f, "n/a: {why}"),
        }
    }
}

/// Every comparable metric of every variant, old file's variants first.
pub fn compare(old: &RunResults, new: &RunResults) -> Vec<Row> {
    let mut names: Vec<String> = old.variants.iter().map(|v| v.variant.name()).collect();
    for v in &new.variants {
        if !names.contains(&v.variant.name()) {
            names.push(v.variant.name());
        }
    }
    let mut rows = Vec::new();
    for name in names {
        match (old.variant(&name), new.variant(&name)) {
            (Some(a), Some(b)) => rows.extend(variant_rows(&name, a, b)),
            (a, _) => rows.push(Row {
                variant: name,
                metric: "variant".into(),
                old: None,
                new: None,
                verdict: Verdict::NotApplicable(if a.is_some() {
                    "only in the old file"
                } else {
                    "only in the new file"
                }),
                higher_is_better: false,
            }),
        }
    }
    rows
}

/// Notes on differences that make a comparison less meaningful (machine, settings).
pub fn caveats(old: &RunResults, new: &RunResults) -> Vec<String> {
    let mut notes = Vec::new();
    let mut differ = |what: &str, a: String, b: String| {
        if a != b {
            notes.push(format!("{what} differ: {a} (old) vs {b} (new)"));
        }
    };
    differ("apps", old.app.clone(), new.app.clone());
    differ("runtimes", old.runtime.clone(), new.runtime.clone());
    differ(
        "machines",
        old.environment.machine.clone(),
        new.environment.machine.clone(),
    );
    differ(
        "CPU models",
        old.environment.cpu_model.clone(),
        new.environment.cpu_model.clone(),
    );
    let (a, b) = (&old.settings, &new.settings);
    differ(
        "load windows",
        format!("{}s", a.duration_s),
        format!("{}s", b.duration_s),
    );
    differ("server CPUs", a.server_cpus.clone(), b.server_cpus.clone());
    differ(
        "load generator CPUs",
        a.loadgen_cpus.clone(),
        b.loadgen_cpus.clone(),
    );
    notes
}

fn variant_rows(name: &str, a: &VariantResult, b: &VariantResult) -> Vec<Row> {
    let row = |metric: String, old, new, verdict, higher_is_better| Row {
        variant: name.to_string(),
        metric,
        old,
        new,
        verdict,
        higher_is_better,
    };
    let one_sample = || Verdict::NotApplicable("one sample");
    let mut rows = Vec::new();
    let size = |v: &VariantResult, image: bool| {
        v.build.as_ref().and_then(|b| {
            if image {
                b.image.as_ref().map(|i| i.image_bytes as f64)
            } else {
                Some(b.binary_bytes as f64)
            }
        })
    };
    for (metric, image) in [("image_bytes", true), ("binary_bytes", false)] {
        if size(a, image).is_some() || size(b, image).is_some() {
            rows.push(row(
                metric.into(),
                size(a, image),
                size(b, image),
                Verdict::Exact,
                false,
            ));
        }
    }
    if a.cold_start.is_some() || b.cold_start.is_some() {
        let samples = |v: &VariantResult| v.cold_start.as_ref().map(|c| c.samples_ms.clone());
        rows.push(sampled(
            row("cold_start_ms".into(), None, None, one_sample(), false),
            samples(a),
            samples(b),
        ));
    }
    rows.extend(load_rows(a, b, &row));
    if a.peak_memory_bytes.is_some() || b.peak_memory_bytes.is_some() {
        let (x, y) = (a.peak_memory_bytes, b.peak_memory_bytes);
        let verdict = if x.is_some() && y.is_some() {
            one_sample()
        } else {
            Verdict::NotApplicable("missing on one side")
        };
        let bytes = |p: Option<u64>| p.map(|p| p as f64);
        rows.push(row(
            "peak_memory_bytes".into(),
            bytes(x),
            bytes(y),
            verdict,
            false,
        ));
    }
    let mut threads: Vec<u32> = a
        .crunch
        .iter()
        .chain(&b.crunch)
        .map(|c| c.threads)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    for t in threads {
        let samples = |v: &VariantResult| {
            v.crunch
                .iter()
                .find(|c| c.threads == t)
                .map(|c| c.samples_mb_per_s.clone())
        };
        let base = row(format!("mb_per_s t{t}"), None, None, one_sample(), true);
        rows.push(sampled(base, samples(a), samples(b)));
    }
    rows
}

/// The median of each side's samples and the bootstrap-overlap verdict.
fn sampled(mut row: Row, old: Option<Vec<f64>>, new: Option<Vec<f64>>) -> Row {
    let (a, b) = (
        old.as_deref().and_then(summarize),
        new.as_deref().and_then(summarize),
    );
    row.old = a.map(|s| s.median);
    row.new = b.map(|s| s.median);
    row.verdict = match (a, b) {
        (Some(a), Some(b)) if a.n >= 2 && b.n >= 2 => {
            if beyond_noise(&a, &b) {
                Verdict::BeyondNoise
            } else {
                Verdict::WithinNoise
            }
        }
        (Some(_), Some(_)) => Verdict::NotApplicable("one sample"),
        _ => Verdict::NotApplicable("missing on one side"),
    };
    row
}

type MakeRow<'a> = dyn Fn(String, Option<f64>, Option<f64>, Verdict, bool) -> Row + 'a;

/// rps and p99_us per endpoint × concurrency (× rate): one window each, so no verdict.
fn load_rows(a: &VariantResult, b: &VariantResult, row: &MakeRow<'_>) -> Vec<Row> {
    let mut keys: Vec<(String, u32, Option<u64>)> = Vec::new();
    for l in a.load.iter().chain(&b.load) {
        let key = (l.endpoint.clone(), l.concurrency, l.rate_rps);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mut rows = Vec::new();
    for (endpoint, concurrency, rate) in keys {
        let find = |v: &VariantResult| {
            v.load
                .iter()
                .find(|l| {
                    l.endpoint == endpoint && l.concurrency == concurrency && l.rate_rps == rate
                })
                .cloned()
        };
        let (x, y) = (find(a), find(b));
        let label = match rate {
            Some(r) => format!("{endpoint} c{concurrency} @{r}/s"),
            None => format!("{endpoint} c{concurrency}"),
        };
        let verdict = || match (&x, &y) {
            (Some(_), Some(_)) => Verdict::NotApplicable("one sample"),
            _ => Verdict::NotApplicable("missing on one side"),
        };
        let rps = |l: &Option<crate::results::LoadResult>| l.as_ref().map(|l| l.rps.median);
        let p99 =
            |l: &Option<crate::results::LoadResult>| l.as_ref().map(|l| l.latency_us.p99 as f64);
        rows.push(row(
            format!("rps {label}"),
            rps(&x),
            rps(&y),
            verdict(),
            true,
        ));
        rows.push(row(
            format!("p99_us {label}"),
            p99(&x),
            p99(&y),
            verdict(),
            false,
        ));
    }
    rows
}

//! The load tables of a server run: per endpoint, a row per variant and a column per
//! concurrency, for throughput, server CPU per request and p99 latency.
//!
//! Each cell is the median over the rounds with its interval (at the level the note states),
//! then its ratio to the baseline: the paired per-round ratio with its interval where the
//! file has it, else the ratio of the two figures (version 1 files: one window per cell, no
//! interval). The A/A control is a row of its own. What limited a cell is marked where it
//! changes what the figure means, and a ratio whose verdict another run of the same
//! experiment contradicts is marked ‡.

use super::doc::Table;
use super::fmt::{factor, num, value_ci};
use super::metrics::{find_cell, LoadFigure, RunView};
use super::tables::{ratio_noise, DASH};
use crate::results::{Bound, LoadResult, VariantResult};

/// The concurrency levels measured on `endpoint`, ascending.
fn levels(view: &RunView, endpoint: &str) -> Vec<u32> {
    let mut levels: Vec<u32> = view
        .results()
        .variants
        .iter()
        .flat_map(|v| &v.load)
        .filter(|l| l.endpoint == endpoint)
        .map(|l| l.concurrency)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    levels
}

/// How many rounds each cell had, as the note says it.
fn rounds_note(view: &RunView) -> String {
    let r = view.results();
    if r.schema_version < 2 {
        return "One load window per cell (a schema version 1 file), so no confidence interval; after ·, × the baseline at the same concurrency, with no interval either.".into();
    }
    let level = super::fmt::interval_label(r.settings.rounds, rounds_level(r));
    format!(
        "Median over {} rounds with the {level} of the median (none from a single round); after ·, × the baseline at the same concurrency: the median of per-round ratios to the baseline of the same round, with its {level}. ≈: within noise (see the reading note under the verdict).",
        r.settings.rounds
    )
}

/// The level of a run's load intervals: as recorded, or (older files) unknown.
fn rounds_level(r: &crate::results::RunResults) -> Option<f64> {
    r.variants
        .iter()
        .flat_map(|v| &v.load)
        .find_map(|l| l.rps.median_ci_level)
}

/// Throughput or server CPU per request on `endpoint`; `None` when no cell has the figure.
pub fn figure(view: &RunView, endpoint: &str, figure: LoadFigure) -> Option<Table> {
    let results = view.results();
    let levels = levels(view, endpoint);
    let unit = match figure {
        LoadFigure::Rps => "rps",
        LoadFigure::CpuPerRequest => "µs/request",
    };
    let mut header = vec!["variant".to_string()];
    let ci = if results.schema_version < 2 {
        ""
    } else {
        " [interval]"
    };
    header.extend(levels.iter().map(|c| format!("c={c} ({unit}{ci})")));
    let mut t = Table::new(header);
    let base: Option<&VariantResult> = view.baseline.as_ref().and_then(|b| results.variant(b));
    let (mut any, mut bound_any, mut unreplicated) = (false, false, false);
    let experiment = view.experiment();
    let control = results.control.iter().map(|c| (c, true));
    for (v, is_control) in results.variants.iter().map(|v| (v, false)).chain(control) {
        let arm = match is_control {
            true => format!("{} (A/A control)", v.variant),
            false => v.variant.name(),
        };
        let mut cells = vec![arm.clone()];
        for &c in &levels {
            let Some(m) = view.load_figure(v, endpoint, c, figure) else {
                cells.push(DASH.into());
                continue;
            };
            any = true;
            let mut cell = value_ci(&m.own);
            let b = base.and_then(|b| view.load_figure(b, endpoint, c, figure));
            if let Some(b) = b.filter(|_| is_control || Some(v.variant.name()) != view.baseline) {
                cell.push_str(&format!(
                    " · {}",
                    ratio_noise(&m.ratio_to(&b), m.noise_against(&b))
                ));
                let what = match figure {
                    LoadFigure::Rps => "rps",
                    LoadFigure::CpuPerRequest => "CPU/request",
                };
                let name = format!("{endpoint} c={c} {what}");
                if super::replication::fails(&experiment, &arm, &name) {
                    unreplicated = true;
                    cell.push_str(" ‡");
                }
            }
            let bound = find_cell(v, endpoint, c).map(|l| l.bound);
            if figure == LoadFigure::Rps && bound == Some(Bound::Loadgen) {
                bound_any = true;
                cell.push_str(" †");
            }
            cells.push(cell);
        }
        t.row(cells);
    }
    let has_cpu = results
        .variants
        .iter()
        .flat_map(|v| &v.load)
        .any(|l| l.server_cpu_us_per_request.is_some());
    let what = match figure {
        LoadFigure::Rps if bound_any && has_cpu => " †: the load generator was the bottleneck: this rps measures the load generator, not the server; the cell's server CPU per request still compares the servers.".to_string(),
        LoadFigure::Rps if bound_any => " †: the load generator was the bottleneck: this rps measures the load generator, not the server.".to_string(),
        LoadFigure::Rps => String::new(),
        LoadFigure::CpuPerRequest => format!(
            " Server CPU time per request completed, µs ({}). Lower is better.",
            cpu_method(view)
        ),
    };
    let dagger = match unreplicated {
        true => " ‡: another run of this experiment calls this comparison differently (see \"Does it replicate?\").",
        false => "",
    };
    any.then(|| t.note(format!("{}{dagger}{what}", rounds_note(view))))
}

/// How server CPU was read, as the first cell that has it records it.
fn cpu_method(view: &RunView) -> String {
    let cells = view.results().variants.iter().flat_map(|v| &v.load);
    let measured = cells
        .filter_map(|l| l.server_cpu_method.as_deref())
        .find(|m| !m.starts_with("not available"));
    measured.unwrap_or("method not recorded").to_string()
}

/// p99 latency per concurrency on `endpoint`: all rounds' requests merged.
pub fn p99(view: &RunView, endpoint: &str) -> Table {
    let results = view.results();
    let levels = levels(view, endpoint);
    let mut header = vec!["variant".to_string()];
    header.extend(levels.iter().map(|c| format!("c={c} (p99 ms)")));
    let mut t = Table::new(header);
    let ms = |l: &LoadResult| l.latency_us.p99 as f64 / 1000.0;
    let base: Option<&VariantResult> = view.baseline.as_ref().and_then(|b| results.variant(b));
    for v in &results.variants {
        let mut cells = vec![v.variant.name()];
        for &c in &levels {
            cells.push(match find_cell(v, endpoint, c) {
                None => DASH.into(),
                Some(l) => {
                    let b = base.and_then(|b| find_cell(b, endpoint, c)).map(ms);
                    match b.filter(|b| *b > 0.0) {
                        Some(b) => format!("{} ({})", num(ms(l)), factor(ms(l) / b)),
                        None => num(ms(l)),
                    }
                }
            });
        }
        t.row(cells);
    }
    t.note("p99 of every round's requests merged into one histogram; in brackets: × the baseline's at the same concurrency, with no interval.")
}

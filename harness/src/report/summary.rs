//! The README's generated blocks: `summary` (where the files come from, the warnings, and one
//! table of headline figures for glibc in debian against musl in scratch) and `bench` (the
//! criterion rows the README names). Rendered from the files only, with no time stamp, so the
//! same files always give the same text.
//!
//! `readme` splices these into the README; the full report is `sections`'.

use super::doc::{Block, Table};
use super::fmt::{factor, num};
use super::load::Inputs;
use super::metrics::{bench_ratios, Estimate, Measured, Noise, RunView, VariantRow};
use super::provenance::{self, Source};
use super::tables::duration_ns;
use crate::matrix::{Variant, BASELINE};
use crate::results::{AppKind, BenchResults, RunResults};

/// The summary's columns: the baseline and the two scratch images the README asks about.
pub const COLUMNS: [&str; 3] = [BASELINE, "musl-system-scratch", "musl-mimalloc-scratch"];

/// One table row: a label and a cell per column (`None`: not measured).
type Row = (String, Vec<Option<String>>);

/// Where the files come from, what to beware of, and the headline table.
pub fn summary(
    inputs: &Inputs,
    views: &[RunView],
    sources: &[Source],
    builds: &[crate::buildtime::BuildTimes],
) -> Vec<Block> {
    let mut blocks = vec![
        Block::Paragraph("From these files (command, start to finish):".into()),
        Block::List(
            sources
                .iter()
                .map(|s| format!("`{}`: `{}`, {}", s.name, s.command(), s.took()))
                .collect(),
        ),
        Block::Paragraph(provenance::facts_line(&provenance::facts(sources))),
    ];
    let warnings = provenance::warnings(sources);
    if !warnings.is_empty() {
        blocks.push(Block::List(
            warnings
                .iter()
                .map(|w| format!("**Warning**: {w}"))
                .collect(),
        ));
    }
    let mut rows: Vec<Row> = Vec::new();
    for view in views {
        rows.extend(run_rows(view));
    }
    rows.extend(views.iter().find_map(posture_row));
    rows.extend(super::build_time::summary_rows(builds, &COLUMNS));
    let bench = inputs.bench.as_ref().map(|b| &b.results);
    let churn = bench.map(churn_rows).unwrap_or_default();
    let mut note = vec![interval_note(views)];
    note.extend(control_notes(views));
    let text = |needle: &str| {
        rows.iter()
            .any(|(_, cells)| cells.iter().flatten().any(|c| c.contains(needle)))
    };
    let v1_load = views
        .iter()
        .any(|v| v.results().app_kind == AppKind::Server && v.results().schema_version < 2);
    if text(" rps") && v1_load {
        note.push("rps from a results file of schema version 1: one load window per cell, so no interval.".into());
    }
    if text("does not replicate") {
        note.push("\"does not replicate\": another run of the same experiment called this comparison differently (see the report's \"Does it replicate?\").".into());
    }
    if text("†") {
        note.push("†: the load generator was the bottleneck, so that rps measures the load generator, not the server.".into());
    }
    if !builds.is_empty() {
        let which: Vec<String> = builds
            .iter()
            .map(|b| {
                let e = &b.environment;
                format!(
                    "{} started {} on a {}-core {}, kernel {}, {}",
                    b.app,
                    b.started_at,
                    e.cpu_count,
                    e.cpu_model,
                    e.kernel,
                    provenance::code_words(e)
                )
            })
            .collect();
        note.push(format!("Build rows: from `harness build --cold` ({}), each compile in an empty target directory of its own (the cargo home already holding the registry sources), the image with no layer cache; medians over its rounds, in brackets × the baseline paired round by round.", which.join("; ")));
    }
    if !churn.is_empty() {
        note.push("Criterion rows: in-process time per iteration of the same link and allocator (no image).".into());
    }
    if !churn.is_empty() && bench.is_some_and(BenchResults::indicative_only) {
        note.push("\"indicative\": too few processes or samples for an interval.".into());
    }
    rows.extend(churn);
    rows.retain(|(_, cells)| cells.iter().any(Option::is_some));
    if rows.is_empty() {
        return blocks;
    }
    let mut t = Table::new([String::new()].into_iter().chain(COLUMNS.map(String::from)));
    for (label, cells) in rows {
        let cells = cells.into_iter().map(|c| c.unwrap_or_else(|| "—".into()));
        t.row([label].into_iter().chain(cells));
    }
    blocks.push(Block::Table(t.note(note.join(" "))));
    blocks
}

fn run_rows(view: &RunView) -> Vec<Row> {
    let results = view.results();
    let app = &results.app;
    let cells = |f: &dyn Fn(&VariantRow) -> Option<String>| -> Vec<Option<String>> {
        COLUMNS
            .iter()
            .map(|c| view.rows.iter().find(|r| r.name == *c).and_then(f))
            .collect()
    };
    let mut rows = vec![
        (
            format!("{app} image"),
            cells(&|r| r.image_mb.map(|mb| format!("{} MB", num(mb)))),
        ),
        (
            format!("{app} cold start (median of {})", results.settings.runs),
            cells(&|r| r.cold_start_ms.map(|e| format!("{} ms", num(e.value)))),
        ),
    ];
    rows.extend(fresh_node_rows(results));
    match results.app_kind {
        AppKind::Server => rows.extend(load_rows(view, &cells)),
        AppKind::Batch => rows.extend(crunch_rows(view)),
    }
    rows
}

type Cells<'a> = dyn Fn(&dyn Fn(&VariantRow) -> Option<String>) -> Vec<Option<String>> + 'a;

/// The allocation-heavy cell's throughput and server CPU per request, each with its noise.
fn load_rows(view: &RunView, cells: &Cells) -> Vec<Row> {
    let Some(w) = &view.workload else {
        return Vec::new();
    };
    let results = view.results();
    let app = &results.app;
    let over = match results.schema_version {
        1 => "one window".to_string(),
        _ => format!("median of {} rounds", results.settings.rounds),
    };
    let base = view.baseline_row();
    let mut rows = vec![(
        format!("{app} {} ({over})", w.label),
        cells(&|r| {
            let m = r.alloc_heavy?;
            let bound = if r.loadgen_bound() { " †" } else { "" };
            let b = base.and_then(|b| b.alloc_heavy);
            let fails = replicates_not(view, r, "rps");
            Some(format!(
                "{}{}{bound}",
                with_pm(&m, "rps"),
                versus(&m, b, r, fails)
            ))
        }),
    )];
    let cpu = cells(&|r| {
        let m = r.cpu_per_request?;
        let b = base.and_then(|b| b.cpu_per_request);
        let fails = replicates_not(view, r, "CPU/request");
        Some(format!("{}{}", with_pm(&m, "µs"), versus(&m, b, r, fails)))
    });
    if cpu.iter().any(Option::is_some) {
        rows.push((
            format!("{app} server CPU per request, {} ({over})", w.label),
            cpu,
        ));
    }
    rows
}

/// `18,997 rps ±2.1%`: the median and, where it has one, its CI's larger half-width.
fn with_pm(m: &Measured, unit: &str) -> String {
    match m.own.half_width_pct() {
        Some(pct) => format!("{} {unit} ±{pct:.1}%", num(m.own.value)),
        None => format!("{} {unit}", num(m.own.value)),
    }
}

/// Whether `row`'s comparison on the allocation-heavy cell (`what`: `rps`, `CPU/request`)
/// gets different verdicts in the runs of its experiment.
fn replicates_not(view: &RunView, row: &VariantRow, what: &str) -> bool {
    let Some((endpoint, c)) = view.workload.as_ref().and_then(|w| w.cell.clone()) else {
        return false;
    };
    super::replication::fails(
        &view.experiment(),
        &row.name,
        &format!("{endpoint} c={c} {what}"),
    )
}

/// The note's first sentence: what ± and the brackets are, with the intervals' levels and
/// how many comparisons were judged together.
fn interval_note(views: &[RunView]) -> String {
    let levels: Vec<String> = views
        .iter()
        .map(|v| {
            let r = v.results();
            let load = match r.app_kind {
                AppKind::Server => format!(
                    "{} rounds: {}; ",
                    r.settings.rounds,
                    super::fmt::interval_of(r, r.settings.rounds)
                ),
                AppKind::Batch => String::new(),
            };
            format!(
                "{}: {load}{} runs: {}",
                r.app,
                r.settings.runs,
                super::fmt::interval_of(r, r.settings.runs)
            )
        })
        .collect();
    let comparisons = views.first().map_or(0, |v| v.comparisons);
    format!("Medians where a figure is repeated; ±: the larger half of the interval of the median, as a share of it (distribution-free intervals at their true level: {}). In brackets: × {BASELINE} with its interval: for paired figures the median of per-round ratios to the baseline of the same round, for others the ratio of the medians with the widest interval theirs allow; \"within noise\": the interval includes 1, or its p-value adjusted over all {comparisons} comparisons of the report (Holm) is above 5%.", levels.join("; "))
}

/// How each run's negative controls came out, as judged in the report.
fn control_notes(views: &[RunView]) -> Vec<String> {
    views
        .iter()
        .flat_map(|v| {
            let app = v.results().app.clone();
            crate::measure::controls::outcomes(v.results())
                .into_iter()
                .map(move |o| format!("{app}, {}.", o.line()))
        })
        .collect()
}

/// ` (0.45× [0.43–0.47])` against the baseline, `, within noise` added when the interval
/// includes 1 (or the two CIs overlap), `, does not replicate` when another run of the
/// experiment calls it differently; nothing for the baseline itself.
fn versus(m: &Measured, base: Option<Measured>, row: &VariantRow, fails: bool) -> String {
    let Some(b) = base.filter(|b| row.name != BASELINE && b.own.value > 0.0) else {
        return String::new();
    };
    let ratio = m.ratio_to(&b);
    let ci = ratio
        .ci
        .map_or(String::new(), |(lo, hi)| format!(" [{lo:.2}–{hi:.2}]"));
    let within = match m.noise_against(&b) {
        Noise::WithinNoise => ", within noise",
        _ => "",
    };
    let fails = if fails { ", does not replicate" } else { "" };
    format!(" ({}{ci}{within}{fails})", factor(ratio.value))
}

fn fresh_node_rows(results: &RunResults) -> Vec<Row> {
    let fresh = |name: &str| results.variant(name).and_then(|v| v.fresh_node.as_ref());
    let Some(n) = COLUMNS
        .iter()
        .find_map(|c| fresh(c))
        .map(|f| f.first_response_ms.n)
    else {
        return Vec::new();
    };
    let ms = |v: f64| format!("{} ms", num(v));
    vec![
        (
            format!(
                "{} first response on a fresh node (pull + start, median of {n})",
                results.app
            ),
            COLUMNS
                .iter()
                .map(|c| fresh(c).map(|f| ms(f.first_response_ms.median)))
                .collect(),
        ),
        (
            "the same, modelled for a 100 Mbit/s link".into(),
            COLUMNS
                .iter()
                .map(|c| fresh(c).map(|f| ms(f.modelled_first_response_100mbit_ms)))
                .collect(),
        ),
    ]
}

/// The batch app's throughput at the fewest and the most threads.
fn crunch_rows(view: &RunView) -> Vec<Row> {
    let results = view.results();
    let mut threads: Vec<u32> = results
        .variants
        .iter()
        .flat_map(|v| &v.crunch)
        .map(|c| c.threads)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    let ends: Vec<u32> = match threads.as_slice() {
        [] => Vec::new(),
        [one] => vec![*one],
        [lo, .., hi] => vec![*lo, *hi],
    };
    let unit = results.throughput_unit();
    let at = |name: &str, n: u32| {
        let v = results.variant(name)?;
        let c = v.crunch.iter().find(|c| c.threads == n)?;
        let paired = match (name == BASELINE, c.ratio_to_baseline) {
            (true, _) if results.schema_version >= 3 => Some(Estimate::one()),
            (_, ratio) => ratio.map(|r| Estimate::paired(&r)),
        };
        Some(Measured {
            own: Estimate::repeated(&c.mb_per_s),
            paired,
        })
    };
    ends.into_iter()
        .map(|n| {
            let label = format!(
                "{}, {n} thread{}",
                results.app,
                if n == 1 { "" } else { "s" }
            );
            let base = at(BASELINE, n);
            let cells = COLUMNS
                .iter()
                .map(|c| {
                    let e = at(c, n)?;
                    let row = view.rows.iter().find(|r| r.name == *c)?;
                    let figure = format!("{n} threads");
                    let fails = super::replication::fails(&view.experiment(), c, &figure);
                    Some(format!(
                        "{} {unit}{}",
                        num(e.own.value),
                        versus(&e, base, row, fails)
                    ))
                })
                .collect();
            (label, cells)
        })
        .collect()
}

fn posture_row(view: &RunView) -> Option<Row> {
    let results = view.results();
    let cells: Vec<Option<String>> = COLUMNS
        .iter()
        .map(|c| {
            let p = results
                .variant(c)?
                .build
                .as_ref()?
                .image
                .as_ref()?
                .posture
                .as_ref()?;
            Some(format!(
                "{}, {}, {}, {}+{}",
                super::fmt::thousands(p.file_count as f64),
                p.package_count,
                p.shells.len(),
                p.setuid_files.len(),
                p.setgid_files.len()
            ))
        })
        .collect();
    cells.iter().any(Option::is_some).then(|| {
        let label = format!(
            "{} image: files, packages, shells, setuid+setgid",
            results.app
        );
        (label, cells)
    })
}

/// `alloc/threaded_churn` at one thread and at the most threads measured.
fn churn_rows(bench: &BenchResults) -> Vec<Row> {
    let mut threads: Vec<u64> = bench
        .benches
        .iter()
        .filter_map(|b| b.bench.strip_prefix("alloc/threaded_churn/")?.parse().ok())
        .collect();
    threads.sort_unstable();
    threads.dedup();
    let ends: Vec<u64> = match threads.as_slice() {
        [] => Vec::new(),
        [one] => vec![*one],
        [lo, .., hi] => vec![*lo, *hi],
    };
    ends.into_iter()
        .map(|n| {
            let id = format!("alloc/threaded_churn/{n}");
            let cells = COLUMNS
                .iter()
                .map(|c| bench_cell(bench, &id, &bench_variant(c)))
                .collect();
            (format!("criterion `{id}`"), cells)
        })
        .collect()
}

/// A run variant's link and allocator: the bench variant that times the same code.
fn bench_variant(name: &str) -> String {
    name.parse::<Variant>().map_or(name.to_string(), |v| {
        format!("{}-{}", v.link.name(), v.allocator.name())
    })
}

/// `14.8 ms (10×)`, `1.58 ms (1.08×, within noise)`, `1.58 ms (1.08×, indicative)`.
fn bench_cell(bench: &BenchResults, id: &str, variant: &str) -> Option<String> {
    let row = bench.benches.iter().find(|b| b.bench == id)?;
    let e = row.estimates.iter().find(|e| e.variant == variant)?;
    let time = duration_ns(e.mean_ns);
    if variant == bench.baseline {
        return Some(time);
    }
    let (_, ratio) = bench_ratios(bench, variant)
        .into_iter()
        .find(|(b, _)| *b == id)?;
    Some(format!(
        "{time} ({}{})",
        factor(ratio.value),
        ratio_mark(&ratio)
    ))
}

fn ratio_mark(ratio: &Estimate) -> &'static str {
    match (ratio.ci, ratio.noise_against_one()) {
        (None, _) => ", indicative",
        (Some(_), super::metrics::Noise::WithinNoise) => ", within noise",
        (Some(_), _) => "",
    }
}

/// The criterion rows the README names, per variant and as ratios to the baseline.
pub fn bench(bench: &BenchResults, source: &Source, ids: &[String]) -> Vec<Block> {
    let others: Vec<&String> = bench
        .variants
        .iter()
        .filter(|v| **v != bench.baseline)
        .collect();
    let samples = match bench.min_samples() {
        Some(n) => format!("at least {n} samples per bench and process"),
        None => "sample counts not recorded".into(),
    };
    let mut blocks = vec![Block::Paragraph(format!(
        "From `{}` (`{}`, {}), {samples}. {} Ratio = variant ÷ {}. {}",
        source.name,
        source.command(),
        source.took(),
        provenance::facts_line(&provenance::facts(std::slice::from_ref(source))),
        bench.baseline,
        super::tables::bench_method_note(bench)
    ))];
    blocks.extend(
        crate::measure::bench::control_line(bench)
            .map(|l| Block::Paragraph(format!("{}.", super::tables::upper_first(&l)))),
    );
    blocks.extend(
        provenance::warnings(std::slice::from_ref(source))
            .into_iter()
            .map(|w| Block::Paragraph(format!("**Warning**: {w}"))),
    );
    let mut header = vec!["bench".to_string()];
    header.extend(bench.variants.iter().cloned());
    header.extend(others.iter().map(|v| format!("{v} ÷ {}", bench.baseline)));
    let mut t = Table::new(header);
    let mut absent = Vec::new();
    for id in ids {
        let Some(row) = bench.benches.iter().find(|b| &b.bench == id) else {
            absent.push(format!("`{id}`"));
            continue;
        };
        let mut cells = vec![id.clone()];
        for v in &bench.variants {
            let e = row.estimates.iter().find(|e| &e.variant == v);
            cells.push(e.map_or("—".into(), |e| duration_ns(e.mean_ns)));
        }
        for v in &others {
            let ratio = bench_ratios(bench, v).into_iter().find(|(b, _)| b == id);
            cells.push(ratio.map_or("—".into(), |(_, r)| {
                format!("{}{}", factor(r.value), ratio_mark(&r).replace(", ", " "))
            }));
        }
        t.row(cells);
    }
    blocks.push(Block::Table(t));
    if !absent.is_empty() {
        blocks.push(Block::Paragraph(format!(
            "Not in this file: {}.",
            absent.join(", ")
        )));
    }
    blocks
}

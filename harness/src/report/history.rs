//! The report's "History" section: for each experiment (one app on one host, one schema
//! version: `load::experiment`) with more than one run, its headline figures against the
//! runs in the order measured, each change the regression gate (`compare::gate`, threshold
//! 0) calls beyond noise marked, and beside them how the A/A controls came out: how often a
//! gate on this machine would have cried wolf.

use super::doc::Table;
use super::metrics::RunView;
use super::plots::{Change, History, HistoryPanel, HistoryPoint, HistorySeries, Palette};
use crate::compare::gate::{self, Gate};
use crate::results::{AppKind, RunResults, Summary, VariantResult};

/// How a headline figure is read from a variant.
type Read = Box<dyn Fn(&VariantResult) -> Option<Summary>>;

/// One headline figure: its panel title and axis, the gate's name for it, and how to read
/// its median and interval from a variant.
struct Headline {
    title: String,
    y_label: String,
    metric: String,
    read: Read,
}

fn cell_summary(v: &VariantResult, endpoint: &str, c: u32, cpu: bool) -> Option<Summary> {
    let cell = v
        .load
        .iter()
        .find(|l| l.endpoint == endpoint && l.concurrency == c && l.rate_rps.is_none())?;
    match cpu {
        true => cell.server_cpu_us_per_request,
        false => Some(cell.rps),
    }
}

/// The figures that decide the report's answer for this app, and its cold start.
fn headlines(view: &RunView) -> Vec<Headline> {
    let results = view.results();
    let mut out = Vec::new();
    match (
        results.app_kind,
        view.workload.as_ref().and_then(|w| w.cell.clone()),
    ) {
        (AppKind::Server, Some((endpoint, c))) => {
            let (e, e2) = (endpoint.clone(), endpoint.clone());
            out.push(Headline {
                title: format!("server CPU per request, {endpoint} c={c}"),
                y_label: "µs per request".into(),
                metric: format!("cpu_us_per_request {endpoint} c{c}"),
                read: Box::new(move |v| cell_summary(v, &e, c, true)),
            });
            out.push(Headline {
                title: format!("throughput, {endpoint} c={c}"),
                y_label: "requests/s".into(),
                metric: format!("rps {endpoint} c{c}"),
                read: Box::new(move |v| cell_summary(v, &e2, c, false)),
            });
        }
        (AppKind::Batch, _) => {
            if let Some(t) = results
                .variants
                .iter()
                .flat_map(|v| v.crunch.iter().map(|c| c.threads))
                .max()
            {
                let unit = view
                    .workload
                    .as_ref()
                    .map_or("throughput".to_string(), |w| w.unit.clone());
                out.push(Headline {
                    title: format!("throughput at {t} threads"),
                    y_label: unit,
                    metric: format!("mb_per_s t{t}"),
                    read: Box::new(move |v| {
                        v.crunch.iter().find(|c| c.threads == t).map(|c| c.mb_per_s)
                    }),
                });
            }
        }
        _ => {}
    }
    out.push(Headline {
        title: "cold start".into(),
        y_label: "ms".into(),
        metric: "cold_start_ms".into(),
        read: Box::new(|v| v.cold_start.as_ref().map(|c| c.cold_start_ms)),
    });
    out
}

/// `0e8978e 12-06`: a run's commit and the day it started.
fn run_label(r: &RunResults) -> String {
    let commit = r
        .environment
        .git_commit
        .as_deref()
        .map_or("?".to_string(), |c| c[..c.len().min(7)].to_string());
    let dirty = if r.environment.git_dirty == Some(true) {
        "+"
    } else {
        ""
    };
    let day = r.started_at.get(5..10).unwrap_or("");
    format!("{commit}{dirty} {day}")
}

/// Two runs whose every variant measured in both ran the very same binary (by digest):
/// whatever changed between them is the machine's (or the harness's), not the code's.
fn same_binaries(a: &RunResults, b: &RunResults) -> bool {
    let digest = |v: &VariantResult| v.build.as_ref().and_then(|b| b.binary_sha256.clone());
    let pairs: Vec<(Option<String>, Option<String>)> = a
        .variants
        .iter()
        .filter_map(|x| Some((digest(x), digest(b.variant(&x.variant.name())?))))
        .collect();
    !pairs.is_empty() && pairs.iter().all(|(x, y)| x.is_some() && x == y)
}

/// The smallest threshold under which none of `gates` would fail on a repeated figure:
/// the largest worse_pct among their regressions (sizes and broken variants aside).
fn silent_above(gates: &[&Gate]) -> f64 {
    gates
        .iter()
        .flat_map(|g| g.regressions())
        .filter(|t| t.p_value.is_some())
        .map(|t| t.worse_pct)
        .fold(0.0, f64::max)
}

fn change_of(gate: Option<&Gate>, variant: &str, metric: &str) -> Change {
    let Some(t) = gate.and_then(|g| {
        g.tests
            .iter()
            .find(|t| t.variant == variant && t.metric == metric)
    }) else {
        return Change::None;
    };
    match (t.beyond_noise, t.worse_pct > 0.0) {
        (false, _) => Change::None,
        (true, true) => Change::Worse,
        (true, false) => Change::Better,
    }
}

/// The run's own paired A/A verdict: `0 of 13 beyond noise`, or why there is none.
fn own_control(r: &RunResults) -> String {
    let control = r.verdicts.as_ref().and_then(|v| {
        v.negative_controls
            .iter()
            .find(|c| c.label.starts_with("A/A"))
    });
    match control {
        Some(c) if c.beyond_noise == 0 => format!("0 of {} beyond noise", c.comparisons),
        Some(c) => format!(
            "**{} of {} beyond noise**: {}",
            c.beyond_noise,
            c.comparisons,
            c.beyond_noise_cells.join(", ")
        ),
        None => "none (no control arm in this file)".into(),
    }
}

/// What the gate said of `cur` against the run before.
fn gate_cell(gate: &Gate) -> String {
    let worse = gate.regressions();
    let better = gate
        .tests
        .iter()
        .filter(|t| t.beyond_noise && t.worse_pct < 0.0 && t.p_value.is_some())
        .count();
    let mut s = match (worse.len(), gate.broken.len()) {
        (0, 0) => "passes".to_string(),
        (n, b) => {
            let named: Vec<String> = worse
                .iter()
                .take(3)
                .map(|t| format!("{} {} {:+.0}%", t.variant, t.metric, t.worse_pct))
                .collect();
            let more = match n > 3 {
                true => format!(" and {} more", n - 3),
                false => String::new(),
            };
            let broken = match b {
                0 => String::new(),
                b => format!(", {b} variant(s) broken"),
            };
            format!("**fails**: {n} worse{broken} ({}{more})", named.join("; "))
        }
    };
    if better > 0 {
        s.push_str(&format!("; {better} better"));
    }
    s
}

/// The gate's own control over both runs: `within noise` or what tripped.
fn gate_control_cell(gate: &Gate) -> String {
    let tripped: Vec<String> = gate
        .controls
        .iter()
        .filter(|c| c.run == "new")
        .flat_map(|c| &c.tripped)
        .map(|t| format!("{} {:.0}% ({})", t.metric, t.shift_pct, t.test))
        .collect();
    let missing = gate
        .controls
        .iter()
        .filter(|c| c.run == "new")
        .find_map(|c| c.missing.clone());
    match (missing, tripped.is_empty()) {
        (Some(_), _) => "no control arm".into(),
        (None, true) => "within noise".into(),
        (None, false) => format!("**tripped**: {}", tripped.join(", ")),
    }
}

/// The experiment's runs in the order measured, and the gate's judgement (threshold 0) of
/// each against the run before (none for the first).
fn timeline<'a>(view: &'a RunView) -> (Vec<&'a RunResults>, Vec<Option<Gate>>) {
    let mut runs: Vec<&RunResults> = view
        .replicates
        .iter()
        .map(|r| &r.results)
        .chain([view.results()])
        .collect();
    runs.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    let gates = (0..runs.len())
        .map(|i| (i > 0).then(|| gate::judge(runs[i - 1], runs[i], 0.0)))
        .collect();
    (runs, gates)
}

/// The generated `history` block of the book: per experiment with more than one run, how
/// often the gate would have cried wolf between its runs.
pub fn blocks(views: &[RunView]) -> Vec<super::doc::Block> {
    views
        .iter()
        .filter(|v| !v.replicates.is_empty())
        .map(|view| {
            let (runs, gates) = timeline(view);
            super::doc::Block::Paragraph(format!(
                "{} ({} runs): {}",
                view.slug,
                runs.len(),
                cry_wolf(&runs, &gates)
            ))
        })
        .collect()
}

/// Adds the section (nothing when no experiment has two runs).
pub fn section(
    builder: &mut super::sections::Builder,
    views: &[RunView],
    palette: &Palette,
) -> anyhow::Result<()> {
    let with_history: Vec<&RunView> = views.iter().filter(|v| !v.replicates.is_empty()).collect();
    if with_history.is_empty() {
        return Ok(());
    }
    builder.doc.heading(2, "History");
    builder.doc.paragraph(format!(
        "Every run of one experiment (the same app on the same host and kernel, the same results schema), in the order measured: the figures that decide the answer above, each with the interval of its median, and what `harness compare PREVIOUS THIS --fail-on-regression` would have said of each run against the one before ({}). A ring marks a change it calls beyond noise. Runs of the very same binaries differ only by the machine: every change the gate calls between them is a false alarm, and the A/A columns say how often the runs' own controls tripped.",
        gate::METHOD
    ));
    for view in with_history {
        let (runs, gates) = timeline(view);
        builder
            .doc
            .heading(3, format!("{}: {} runs", view.slug, runs.len()));
        builder.figure(Some(chart(view, &runs, &gates, palette)))?;
        builder.doc.table(table(&runs, &gates));
        builder.doc.paragraph(cry_wolf(&runs, &gates));
    }
    Ok(())
}

fn chart(
    view: &RunView,
    runs: &[&RunResults],
    gates: &[Option<Gate>],
    palette: &Palette,
) -> History {
    let mut names: Vec<String> = Vec::new();
    for r in runs.iter().rev() {
        for v in &r.variants {
            if !names.contains(&v.variant.name()) {
                names.push(v.variant.name());
            }
        }
    }
    let panels = headlines(view)
        .into_iter()
        .map(|h| HistoryPanel {
            series: names
                .iter()
                .map(|name| HistorySeries {
                    name: name.clone(),
                    points: runs
                        .iter()
                        .enumerate()
                        .filter_map(|(i, r)| {
                            let s = (h.read)(r.variant(name).filter(|v| v.is_ok())?)?;
                            Some(HistoryPoint {
                                run: i,
                                y: s.median,
                                ci: (s.n > 1).then_some((s.median_ci_low, s.median_ci_high)),
                                change: change_of(gates[i].as_ref(), name, &h.metric),
                            })
                        })
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
            title: h.title,
            y_label: h.y_label,
        })
        .collect();
    let e = &runs[runs.len() - 1].environment;
    History {
        stem: format!("{}-history", view.slug),
        title: format!("{}: headline figures run by run", view.slug),
        subtitle: format!(
            "{} runs on {} ({} CPUs); median with the interval of the median",
            runs.len(),
            e.cpu_model,
            e.cpu_count
        ),
        runs: runs.iter().map(|r| run_label(r)).collect(),
        panels,
        palette: palette.clone(),
    }
}

fn table(runs: &[&RunResults], gates: &[Option<Gate>]) -> Table {
    let mut t = Table::new([
        "run",
        "code",
        "rounds",
        "A/A control (the run's own, paired)",
        "gate against the run before",
        "gate's control (this run's A/A, as the gate tests)",
    ]);
    for (i, r) in runs.iter().enumerate() {
        let (verdict, control) = match &gates[i] {
            Some(g) => (gate_cell(g), gate_control_cell(g)),
            None => ("—".into(), "—".into()),
        };
        let code = match i > 0 && same_binaries(runs[i - 1], r) {
            true => format!(
                "{} (the same binaries as the run before)",
                super::provenance::code_words(&r.environment)
            ),
            false => super::provenance::code_words(&r.environment),
        };
        t.row([
            r.started_at.clone(),
            code,
            r.settings.rounds.to_string(),
            own_control(r),
            verdict,
            control,
        ]);
    }
    t.note("Gate: threshold 0 (any change beyond noise); sizes count too (any byte). A figure worse beyond noise but within the shift a tripped A/A control showed is not counted.")
}

/// How often the gate would have failed, and how often on the same code.
fn cry_wolf(runs: &[&RunResults], gates: &[Option<Gate>]) -> String {
    let pairs: Vec<(usize, &Gate)> = gates
        .iter()
        .enumerate()
        .filter_map(|(i, g)| g.as_ref().map(|g| (i, g)))
        .collect();
    let failed = pairs.iter().filter(|(_, g)| g.fails()).count();
    let same: Vec<&(usize, &Gate)> = pairs
        .iter()
        .filter(|(i, _)| same_binaries(runs[i - 1], runs[*i]))
        .collect();
    let same_failed = same.iter().filter(|(_, g)| g.fails()).count();
    let tripped = runs
        .iter()
        .filter(|r| {
            r.verdicts.as_ref().is_some_and(|v| {
                v.negative_controls
                    .iter()
                    .any(|c| c.label.starts_with("A/A") && c.beyond_noise > 0)
            })
        })
        .count();
    let with_control = runs.iter().filter(|r| r.control.is_some()).count();
    let same_gates: Vec<&Gate> = same.iter().map(|(_, g)| *g).collect();
    let same_words = match same.len() {
        0 => "no pair of consecutive runs ran the very same binaries, so none shows the machine alone".to_string(),
        n => format!(
            "{n} of those pairs ran the very same binaries (every variant's digest equal), and it would have failed {same_failed} of them{}",
            match same_failed {
                0 => ": no false alarm".to_string(),
                _ => format!(
                    ", each a false alarm: the machine moved between the runs by more than the rounds within a run show (a threshold of `--fail-on-regression={:.0}` would have kept it silent on them)",
                    silent_above(&same_gates).ceil()
                ),
            }
        ),
    };
    let controls = match with_control {
        0 => "None of the runs has an A/A control arm.".to_string(),
        n => format!(
            "The runs' own paired A/A control called something beyond noise in {tripped} of the {n} runs that have one."
        ),
    };
    format!(
        "**Would the gate have cried wolf?** Between consecutive runs it would have failed {failed} of {} times (any worse figure beyond noise, sizes included); {same_words}. {controls}",
        pairs.len()
    )
}

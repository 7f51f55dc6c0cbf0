//! The report's first screen: per app and per kind of workload it stands for, which variant
//! to ship and why, in one sentence each.
//!
//! The rule, the same everywhere: take the variants tied for best on the figure that decides
//! the workload (the best and every variant within noise of it, as the verdict groups them),
//! and ship the one among them with the smallest image; then say what the smallest image of
//! all would cost on that figure, when it is not the one shipped. Figures, intervals and
//! noise calls are the verdict's (`ranking`, `estimate`); a comparison the runs of the
//! experiment call differently is marked, and a file that is not a full run says so first.
//! Nothing here states a figure that is not in the files.

use super::doc::Block;
use super::fmt::{factor, num, ratio_ci};
use super::metrics::{Better, Estimate, Measured, RunView, VariantRow};
use super::ranking::{tied_for_best, value};
use crate::check::pitfalls::{Status, ALL};
use crate::check::CheckResults;
use crate::results::AppKind;

/// The first section's heading: the question the report answers.
pub const HEADING: &str = "Which variant to ship";

/// How the first section chooses, said above its answers.
pub const RULE: &str = "For each kind of workload: of the variants tied within noise for the best on the figure that decides it, the one with the smallest image; then what the smallest image of all costs there. Intervals in brackets.";

/// One app's recommendations.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// e.g. `http (a server)`.
    pub title: String,
    pub sentences: Vec<String>,
}

/// What decides one kind of workload: its name, the figure, which way is better, its unit.
struct Decides<'a> {
    /// `Serving under load`, `Scaling from zero`…
    kind: &'a str,
    /// `server CPU per request on GET /json at concurrency 64`.
    figure: String,
    /// The figure's short name: `server CPU per request`.
    noun: &'a str,
    better: Better,
    unit: &'a str,
    /// Whether two variants of one binary are one (throughput, CPU: the binary's own).
    by_binary: bool,
    /// The replication table's name of this comparison, where it has one.
    replication: Option<String>,
}

/// Every run's answer, in the order of the views; `checks` are the newest `harness check`
/// files, one per app.
pub fn answers(views: &[RunView], checks: &[CheckResults]) -> Vec<Answer> {
    views.iter().map(|v| answer(v, checks)).collect()
}

fn answer(view: &RunView, checks: &[CheckResults]) -> Answer {
    let results = view.results();
    let short = super::select::run_shortfalls(results);
    let mut sentences: Vec<String> = super::select::verdict_sentence(&short)
        .into_iter()
        .collect();
    let kind = match results.app_kind {
        AppKind::Server => "a server",
        AppKind::Batch => "a batch job",
    };
    let recommended: Vec<Recommendation> =
        under_load(view).into_iter().chain(starting(view)).collect();
    let mut chosen: Vec<String> = Vec::new();
    for r in &recommended {
        if let Some(c) = r.choice.as_ref().filter(|c| !chosen.contains(c)) {
            chosen.push(c.clone());
        }
    }
    sentences.extend(recommended.into_iter().map(|r| r.sentence));
    if !chosen.is_empty() {
        sentences.extend(will_it_run(&results.app, checks, &chosen));
    }
    let failed: Vec<&str> = view
        .rows
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| r.name.as_str())
        .collect();
    if !failed.is_empty() {
        sentences.push(format!(
            "Not judged: {} failed (see the run's section).",
            failed.join(", ")
        ));
    }
    Answer {
        title: format!("{} ({kind}){}", results.app, view.on_host()),
        sentences,
    }
}

/// The sentence for the load the app is built for: CPU per request (or throughput) of a
/// server on its allocation-heavy cell, throughput of a batch job at its most threads.
fn under_load(view: &RunView) -> Option<Recommendation> {
    let w = view.workload.as_ref()?;
    let axis = view.tradeoff_axis();
    let (what, unit, better, replication_what) = match axis {
        super::frontier::Axis::CpuPerRequest => {
            ("server CPU per request", "µs", Better::Lower, "CPU/request")
        }
        super::frontier::Axis::Throughput => ("throughput", w.unit.as_str(), Better::Higher, "rps"),
    };
    let replication = match (&w.cell, view.results().app_kind) {
        (Some((endpoint, c)), _) => Some(format!("{endpoint} c={c} {replication_what}")),
        (None, AppKind::Batch) => max_threads(view).map(|t| format!("{t} threads")),
        _ => None,
    };
    let kind = match view.results().app_kind {
        AppKind::Server => "Serving under load",
        AppKind::Batch => "Running the job",
    };
    let decides = Decides {
        kind,
        figure: format!("{what} on {}", w.label),
        noun: what,
        better,
        unit,
        by_binary: true,
        replication,
    };
    recommend(view, &decides, |r| axis.of(r))
}

/// The sentence for starting: on a fresh node (pull and start) where the run measured it,
/// else the cold start on a node that has the image.
fn starting(view: &RunView) -> Option<Recommendation> {
    let fresh = |r: &VariantRow| {
        let v = view
            .results()
            .variants
            .iter()
            .find(|v| v.variant.name() == r.name)?;
        Some(Measured::unpaired(Estimate::median(
            &v.fresh_node.as_ref()?.first_response_ms,
        )))
    };
    if view.rows.iter().any(|r| fresh(r).is_some()) {
        let decides = Decides {
            kind: "Scaling from zero",
            figure: "time to first response on a node that must pull the image".into(),
            noun: "time to first response",
            better: Better::Lower,
            unit: "ms",
            by_binary: false,
            replication: None,
        };
        return recommend(view, &decides, fresh);
    }
    let decides = Decides {
        kind: "Starting",
        figure: "cold start on a node that has the image".into(),
        noun: "cold start",
        better: Better::Lower,
        unit: "ms",
        by_binary: false,
        replication: Some("cold start".into()),
    };
    recommend(view, &decides, |r| {
        r.cold_start.or(r.cold_start_ms.map(Measured::unpaired))
    })
}

/// "**KIND: ship X.** Tied within noise for the best FIGURE (V) with …, and the smallest
/// image of those: N MB …; the smallest image of all, Y (M MB), needs R× …".
fn recommend(
    view: &RunView,
    d: &Decides,
    metric: impl Fn(&VariantRow) -> Option<Measured>,
) -> Option<Recommendation> {
    let measured = view.rows.iter().filter(|r| metric(r).is_some()).count();
    if measured == 0 {
        return None;
    }
    let Some(tied) = tied_for_best(view, &metric, d.better, d.by_binary) else {
        return Some(Recommendation {
            sentence: format!(
                "**{}**: no recommendation: its {} are single readings with no interval, so no variant can be told apart from another.",
                d.kind, d.figure
            ),
            choice: None,
        });
    };
    let size = |r: &VariantRow| r.image_mb.unwrap_or(f64::INFINITY);
    let (choice, cm) = *tied.iter().min_by(|a, b| size(a.0).total_cmp(&size(b.0)))?;
    let reason = if tied.len() == measured && measured > 1 {
        let values = tied.iter().map(|(_, m)| m.own.value);
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        format!(
            "all {measured} variants are within noise of the best on {} ({}–{} {}), so the smallest image decides: {}",
            d.figure,
            num(lo),
            num(hi),
            d.unit,
            size_words(view, choice)
        )
    } else if tied.len() == 1 {
        format!(
            "the best {} beyond noise ({}), in {}",
            d.figure,
            value(&cm, d.unit),
            size_words(view, choice)
        )
    } else {
        let others: Vec<&str> = tied
            .iter()
            .filter(|(r, _)| r.name != choice.name)
            .map(|(r, _)| r.name.as_str())
            .collect();
        format!(
            "tied within noise for the best {} ({}) with {}, and the smallest image of those: {}",
            d.figure,
            value(&cm, d.unit),
            others.join(", "),
            size_words(view, choice)
        )
    };
    let mut s = format!(
        "**{}: ship {}.** {}",
        d.kind,
        choice.name,
        capitalised(&reason)
    );
    if let Some(smallest) = smallest_other(view, choice, &metric) {
        s.push_str(&smallest_costs(view, d, &metric, smallest, choice));
    }
    s.push('.');
    let runs = view.experiment();
    if let Some(figure) = &d.replication {
        if super::replication::fails(&runs, &choice.name, figure) {
            s.push_str(&format!(
                " **Does not replicate**: another run of this experiment calls {}'s {} differently.",
                choice.name, d.figure
            ));
        }
    }
    Some(Recommendation {
        sentence: s,
        choice: Some(choice.name.clone()),
    })
}

/// The answers as a generated block of the README: per app its title and sentences, then
/// where the report (`report`, named from the page) shows them with the tradeoff charts.
pub fn blocks(views: &[RunView], checks: &[CheckResults], report: &str) -> Vec<Block> {
    let mut out = Vec::new();
    for answer in answers(views, checks) {
        out.push(Block::Paragraph(format!("**{}**", answer.title)));
        out.push(Block::List(answer.sentences));
    }
    out.push(Block::Paragraph(format!(
        "{RULE} The tradeoff charts and every comparison: [{report}]({report}#{}).",
        super::anchor::slug(HEADING)
    )));
    out
}

/// One kind of workload's sentence and the variant it recommends, if any.
struct Recommendation {
    sentence: String,
    choice: Option<String>,
}

/// What the app's newest `harness check` found missing in the recommended variants' images.
fn will_it_run(app: &str, checks: &[CheckResults], chosen: &[String]) -> Option<String> {
    let check = checks.iter().find(|c| c.app == app)?;
    let mut fine = Vec::new();
    let mut lacking = Vec::new();
    for name in chosen {
        let Some(v) = check.variants.iter().find(|v| &v.variant == name) else {
            lacking.push(format!("{name} was not checked"));
            continue;
        };
        let broken: Vec<&str> = ALL
            .into_iter()
            .filter(|p| v.status(*p) == Status::Breaks)
            .map(|p| p.name())
            .collect();
        match (v.traced, broken.is_empty(), v.failures.any()) {
            (false, _, _) => lacking.push(format!("{name} ran untraced")),
            (true, true, false) => fine.push(name.as_str()),
            (true, true, true) => {
                lacking.push(format!("{name} failed requests, with nothing missing"))
            }
            (true, false, failed) => lacking.push(format!(
                "{name} lacks {}{}",
                broken.join(", "),
                if failed { " and failed requests" } else { "" }
            )),
        }
    }
    let date = check
        .started_at
        .split('T')
        .next()
        .unwrap_or(&check.started_at);
    let workload = &check.workload;
    Some(match (fine.as_slice(), lacking.is_empty()) {
        (_, true) => format!(
            "**Will it run there:** `harness check` ({date}; {workload}) found nothing missing in the image of {}.",
            fine.join(" or ")
        ),
        ([], false) => format!(
            "**Will it run there:** `harness check` ({date}; {workload}): {} (the fixes are under Will it run?).",
            lacking.join("; ")
        ),
        _ => format!(
            "**Will it run there:** `harness check` ({date}; {workload}): {}; nothing missing in {} (the fixes are under Will it run?).",
            lacking.join("; "),
            fine.join(" or ")
        ),
    })
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

/// `1.74 MB, 43× smaller than glibc-system-debian's 75.3 MB` (or the size alone).
fn size_words(view: &RunView, choice: &VariantRow) -> String {
    let Some(mb) = choice.image_mb else {
        return "size unknown".into();
    };
    match view.baseline_row().and_then(|b| Some((b, b.image_mb?))) {
        Some((b, bmb)) if b.name != choice.name && bmb > mb => format!(
            "{} MB, {} smaller than {}'s {} MB",
            num(mb),
            factor(bmb / mb),
            b.name,
            num(bmb)
        ),
        _ => format!("{} MB", num(mb)),
    }
}

/// The variant with the smallest image, when it is not `choice` and has the figure.
fn smallest_other<'v>(
    view: &'v RunView,
    choice: &VariantRow,
    metric: &impl Fn(&VariantRow) -> Option<Measured>,
) -> Option<&'v VariantRow> {
    let smallest = view
        .rows
        .iter()
        .filter(|r| r.image_mb.is_some() && metric(r).is_some())
        .min_by(|a, b| a.image_mb.unwrap().total_cmp(&b.image_mb.unwrap()))?;
    (smallest.name != choice.name && smallest.image_mb < choice.image_mb).then_some(smallest)
}

/// `; the smallest image, Y (0.943 MB), needs 2.9× (2.74–3.02) glibc-system-debian's`.
fn smallest_costs(
    view: &RunView,
    d: &Decides,
    metric: &impl Fn(&VariantRow) -> Option<Measured>,
    smallest: &VariantRow,
    choice: &VariantRow,
) -> String {
    let (Some(sm), Some(cm)) = (metric(smallest), metric(choice)) else {
        return String::new();
    };
    let mb = smallest.image_mb.map_or(String::new(), num);
    let head = format!("; the smallest image of all, {} ({mb} MB),", smallest.name);
    // Against the baseline where both are paired to it (the interval is the file's own);
    // else against the choice, as the ratio of the medians with the widest interval theirs
    // allow.
    let base = view.baseline_row().and_then(|b| Some((b, metric(b)?)));
    let (ratio, against): (Estimate, String) = match base {
        Some((b, bm)) if sm.paired.is_some() => {
            (sm.ratio_to(&bm), format!("{}'s {}", b.name, d.noun))
        }
        _ => (
            sm.own.ratio(&cm.own),
            format!("{}'s {}", choice.name, d.noun),
        ),
    };
    if ratio.noise_against_one() == super::metrics::Noise::WithinNoise {
        return format!("{head} is within noise of {against}");
    }
    let verb = match (d.better, ratio.value > 1.0) {
        (Better::Lower, true) => "needs",
        (Better::Lower, false) => "needs only",
        (Better::Higher, false) => "reaches only",
        (Better::Higher, true) => "reaches",
    };
    format!(
        "{head} {verb} {} {against} ({})",
        ratio_ci(&ratio),
        value(&sm, d.unit)
    )
}

fn max_threads(view: &RunView) -> Option<u32> {
    view.results()
        .variants
        .iter()
        .flat_map(|v| &v.crunch)
        .map(|c| c.threads)
        .max()
}

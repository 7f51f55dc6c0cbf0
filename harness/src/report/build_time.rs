//! The report's "Build time" section: from the newest `harness build --cold` file of each
//! app, every figure's median with the interval of its median and its ratio to the
//! baseline paired round by round (judged as one family per file: the interval excludes 1
//! and the Holm-adjusted p-value is at most 5%), a chart of those ratios, what determined
//! each variant's build, and the image build of musl-system-scratch set beside the claim
//! that a scratch image is "built in a second".

use super::doc::Table;
use super::fmt::{num, ratio_ci};
use super::metrics::Estimate;
use super::plots::{BenchRatioRow, BenchRatios, Palette};
use crate::buildtime::{BuildTimes, Figure};
use crate::measure::stats;
use crate::results::Ratio;

/// The figures of the table, in order.
const TABLE: [Figure; 10] = Figure::ALL;

/// The figures of the chart: what a team waits for.
const CHART: [Figure; 6] = [
    Figure::CleanWall,
    Figure::IncrementalWall,
    Figure::ImageCold,
    Figure::ImageCached,
    Figure::TotalCold,
    Figure::TotalCached,
];

/// The variant whose image the seed said is "built in a second".
const SCRATCH: &str = "musl-system-scratch";

/// Every variant's paired ratio to the baseline, per figure, adjusted as one family.
struct Ratios {
    of: Vec<(String, Figure, Ratio)>,
}

impl Ratios {
    fn new(times: &BuildTimes) -> Self {
        let base = times.variant(&times.baseline);
        let mut of = Vec::new();
        for v in times
            .variants
            .iter()
            .filter(|v| v.variant != times.baseline)
        {
            for figure in Figure::ALL {
                let Some(b) = base else { continue };
                if let Some(r) = stats::paired_ratio(&v.samples(figure), &b.samples(figure)) {
                    of.push((v.variant.clone(), figure, r));
                }
            }
        }
        let mut refs: Vec<&mut Ratio> = of.iter_mut().map(|(_, _, r)| r).collect();
        stats::adjust_family(&mut refs);
        Self { of }
    }

    fn get(&self, variant: &str, figure: Figure) -> Option<&Ratio> {
        self.of
            .iter()
            .find(|(v, f, _)| v == variant && *f == figure)
            .map(|(_, _, r)| r)
    }
}

/// The median and interval of a figure over the rounds.
fn median(times: &BuildTimes, variant: &str, figure: Figure) -> Option<Estimate> {
    times
        .variant(variant)?
        .summary(figure)
        .map(|s| Estimate::repeated(&s))
}

/// `51.7 [50.1–53.0]` seconds.
fn seconds(e: &Estimate) -> String {
    match e.ci {
        Some((lo, hi)) => format!("{} [{}–{}]", num(e.value), num(lo), num(hi)),
        None => num(e.value),
    }
}

/// Adds the section for each file, with its chart.
pub fn section(builder: &mut super::sections::Builder, files: &[BuildTimes]) -> anyhow::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    builder.doc.heading(2, "Build time");
    builder.doc.paragraph("From `harness build --cold`: per variant, rounds of a clean compile (an empty target directory; the registry sources already in the cargo home, as in a CI job with a warmed cargo home), an incremental rebuild after a one-line change to the app's source, and the image built without and with the daemon's layer cache; each round builds every variant once in a shuffled order, each compile from an empty directory of its own, so no figure depends on the build order. A run's own `compile_s` (in the results files) is what its cargo call had to do after the builds before it, labelled clean, incremental or reused: never a variant's build cost.");
    for times in files {
        let ratios = Ratios::new(times);
        builder
            .doc
            .heading(3, format!("{}: compile and image builds", times.app));
        builder.doc.paragraph(provenance(times));
        if let Some(s) = claim(times) {
            builder.doc.paragraph(s);
        }
        builder.figure(chart(times, &ratios))?;
        builder.doc.table(table(times, &ratios));
        builder.doc.table(settings(times));
    }
    Ok(())
}

fn provenance(times: &BuildTimes) -> String {
    let e = &times.environment;
    let code = super::provenance::code_words(e);
    format!(
        "Measured {} on {} ({}, {} CPUs), {code}, {}: {} round{} per variant; baseline {}. CPU time is {}.",
        times.started_at,
        e.machine,
        e.cpu_model,
        e.cpu_count,
        e.rustc_version,
        times.method.rounds,
        if times.method.rounds == 1 { "" } else { "s" },
        times.baseline,
        times.method.cpu
    )
}

/// The seed's "built in a second", beside what was measured for the scratch image.
fn claim(times: &BuildTimes) -> Option<String> {
    let cold = median(times, SCRATCH, Figure::ImageCold)?;
    let cached = median(times, SCRATCH, Figure::ImageCached)?;
    let clean = median(times, SCRATCH, Figure::CleanWall)?;
    let total = median(times, SCRATCH, Figure::TotalCold)?;
    Some(format!(
        "**\"Built in a second\"?** The image of {SCRATCH} builds in {} s without the layer cache and {} s with it; before it, a clean compile takes {} s, so a cold CI job takes {} s from checkout to image (medians, intervals of the median in brackets).",
        seconds(&cold),
        seconds(&cached),
        seconds(&clean),
        seconds(&total)
    ))
}

fn table(times: &BuildTimes, ratios: &Ratios) -> Table {
    let names: Vec<&str> = times.variants.iter().map(|v| v.variant.as_str()).collect();
    let mut t = Table::new(
        ["figure (s)".to_string()]
            .into_iter()
            .chain(names.iter().map(|n| n.to_string())),
    );
    let level = times
        .variants
        .iter()
        .find_map(|v| median(times, &v.variant, Figure::CleanWall)?.level);
    for figure in TABLE {
        if !times.method.images && figure.needs_images() {
            continue;
        }
        let cells = names.iter().map(|name| {
            let Some(m) = median(times, name, figure) else {
                return "—".to_string();
            };
            let ratio = match ratios.get(name, figure) {
                Some(r) => {
                    let e = Estimate::paired(r);
                    let noise = if e.beyond == Some(true) { "" } else { " ≈" };
                    format!(" · {}{noise}", ratio_ci(&e))
                }
                None => String::new(),
            };
            format!("{}{ratio}", seconds(&m))
        });
        t.row([figure.name().to_string()].into_iter().chain(cells));
    }
    let level = level
        .filter(|_| times.method.rounds > 1)
        .map_or(String::new(), |l| {
            format!(
                " ({} for {} rounds)",
                stats::percent(l),
                times.method.rounds
            )
        });
    t.note(format!(
        "Median over the rounds with the interval of the median{level}; · the ratio to {} paired round by round, with its interval; ≈: within noise (the interval includes 1, or the p-value adjusted by Holm over the file's {} comparisons is above 5%). Dependencies: until the last unit that is not the app's own finished; the app: the rest (its crate and the final, LTO link).",
        times.baseline,
        ratios.of.len()
    ))
}

fn settings(times: &BuildTimes) -> Table {
    let mut t = Table::new([
        "variant",
        "target",
        "RUSTFLAGS",
        "linker",
        "allocator",
        "profile",
    ]);
    for v in &times.variants {
        let s = &v.settings;
        t.row([
            v.variant.clone(),
            s.target.clone(),
            if s.rustflags.is_empty() {
                "—".into()
            } else {
                format!("`{}`", s.rustflags)
            },
            s.linker.clone(),
            s.allocator_source
                .map_or("the libc's", crate::matrix::AllocatorSource::name)
                .to_string(),
            format!("{}: {}", s.profile, s.profile_settings.join(", ")),
        ]);
    }
    t.note("What determined each build: the cargo profile and its settings, the target, the RUSTFLAGS the harness sets, the linker, and where the allocator came from (`feature`: the crate's own cargo feature, compiled in these figures).")
}

fn chart(times: &BuildTimes, ratios: &Ratios) -> Option<BenchRatios> {
    let variants: Vec<String> = times
        .variants
        .iter()
        .map(|v| v.variant.clone())
        .filter(|v| *v != times.baseline)
        .collect();
    let rows: Vec<BenchRatioRow> = CHART
        .iter()
        .filter_map(|figure| {
            let ratios: Vec<(String, Estimate)> = variants
                .iter()
                .filter_map(|v| Some((v.clone(), Estimate::paired(ratios.get(v, *figure)?))))
                .collect();
            (!ratios.is_empty()).then(|| BenchRatioRow {
                bench: figure.name().to_string(),
                ratios,
            })
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(BenchRatios {
        stem: format!("{}-build-time", times.app),
        title: format!("Build time relative to {} ({})", times.baseline, times.app),
        rows_are: ("figure".into(), "its build time in seconds".into()),
        subtitle: format!(
            "median of per-round ratios over {} rounds, whiskers: its interval; below 1: faster to build",
            times.method.rounds
        ),
        baseline: times.baseline.clone(),
        palette: Palette::new(variants.iter().map(String::as_str)),
        variants,
        rows,
    })
}

/// The README summary's build-time rows: per app the clean compile, the incremental rebuild
/// and the image without the cache, for `columns`, each non-baseline cell with its paired
/// ratio to the baseline.
pub fn summary_rows(files: &[BuildTimes], columns: &[&str]) -> Vec<(String, Vec<Option<String>>)> {
    let mut rows = Vec::new();
    for times in files {
        let ratios = Ratios::new(times);
        let n = times.method.rounds;
        for figure in [
            Figure::CleanWall,
            Figure::IncrementalWall,
            Figure::ImageCold,
        ] {
            let cells = columns
                .iter()
                .map(|c| {
                    let m = median(times, c, figure)?;
                    let ratio = ratios.get(c, figure).map_or(String::new(), |r| {
                        let e = Estimate::paired(r);
                        let noise = if e.beyond == Some(true) {
                            ""
                        } else {
                            ", within noise"
                        };
                        match e.ci {
                            Some((lo, hi)) => format!(
                                " ({} [{lo:.2}–{hi:.2}]{noise})",
                                super::fmt::factor(e.value)
                            ),
                            None => format!(" ({})", super::fmt::factor(e.value)),
                        }
                    });
                    Some(format!("{} s{ratio}", num(m.value)))
                })
                .collect();
            rows.push((
                format!("{} {} (median of {n} rounds)", times.app, figure.name()),
                cells,
            ));
        }
    }
    rows
}

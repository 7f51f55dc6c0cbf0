//! The report's "Cold start by OCI runtime and engine" section, from the run files in
//! `out/runtimes/`: each is one run under one engine and one OCI runtime (`harness run
//! --docker-host … --oci-runtime …`), as its `environment` records them. Per app, each
//! variant's cold start under each setup (engine · runtime), split into the engine's create
//! call, its start call and the rest, pooled over the setup's runs; a chart of variant ×
//! setup; and each setup against the reference (Docker under runc where there is one).
//!
//! **The verdicts.** Runs of different setups are not paired round by round, so each
//! variant's cold starts under a setup are compared with the reference's as two samples, by
//! the regression gate's test (Welch's t-test on the logarithms, `compare::gate::welch_log`),
//! Holm-adjusted over every comparison of the section; beyond noise at an adjusted p-value
//! of at most `ALPHA`. **Its control** is the gate's between-run A/A: each setup that ran
//! more than once has its first two runs compared by the same test (one family of their
//! own). When one trips, runs of one setup differ by more than their cold starts' spread
//! shows, and a setup's shift no larger than the largest tripped A/A shift is called
//! "within between-run drift" rather than a difference.

use super::doc::Table;
use super::fmt::{factor, num};
use super::plots::{RuntimeBars, RuntimeRow};
use super::sections::Builder;
use crate::compare::gate::welch_log;
use crate::measure::stats::{self, ALPHA};
use crate::results::{ColdStart, RunResults, Status};
use std::path::{Path, PathBuf};

/// One run file of `out/runtimes/`.
pub struct RuntimeRun {
    pub path: PathBuf,
    pub results: RunResults,
}

/// Every run file in `dir` (sorted by name: by start time for the harness's names); a file
/// that is not a results file is an error naming it.
pub fn load(dir: &Path) -> anyhow::Result<Vec<RuntimeRun>> {
    let mut out = Vec::new();
    for path in super::load::json_files(dir)? {
        let results = RunResults::load(&path)?;
        out.push(RuntimeRun { path, results });
    }
    Ok(out)
}

/// An engine and the OCI runtime its containers ran under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Setup {
    engine: String,
    runtime: String,
}

impl Setup {
    /// `None` for a native run, which has neither.
    fn of(r: &RunResults) -> Option<Setup> {
        let e = &r.environment;
        Some(Setup {
            engine: engine_label(e.engine.as_deref()?),
            runtime: e.oci_runtime.clone()?,
        })
    }

    fn label(&self) -> String {
        format!("{} · {}", self.engine, self.runtime)
    }

    /// The setup the others are compared with: Docker under runc, the usual default.
    fn is_reference_kind(&self) -> bool {
        self.engine.starts_with("Docker") && self.runtime == "runc"
    }
}

/// `Engine 20.10.24+dfsg1` (Docker's name for itself) → `Docker 20.10.24+dfsg1`; other
/// engines (`Podman Engine 4.3.1`) as they name themselves.
fn engine_label(engine: &str) -> String {
    match engine.strip_prefix("Engine ") {
        Some(version) => format!("Docker {version}"),
        None => engine.to_string(),
    }
}

/// One variant's cold starts under one setup, pooled over its runs.
#[derive(Debug, Default, Clone)]
struct Pooled {
    runs: usize,
    total: Vec<f64>,
    create: Vec<f64>,
    start: Vec<f64>,
    /// The rest of each cold start: total less create and start, where all three exist.
    rest: Vec<f64>,
    /// The first two runs' totals, for the between-run A/A.
    first_two: Vec<Vec<f64>>,
}

impl Pooled {
    fn add(&mut self, cold: &ColdStart) {
        self.runs += 1;
        self.total.extend(&cold.samples_ms);
        self.create.extend(&cold.create_samples_ms);
        self.start.extend(&cold.start_samples_ms);
        let n = cold.samples_ms.len();
        if cold.create_samples_ms.len() == n && cold.start_samples_ms.len() == n {
            self.rest.extend((0..n).map(|i| {
                cold.samples_ms[i] - cold.create_samples_ms[i] - cold.start_samples_ms[i]
            }));
        }
        if self.first_two.len() < 2 {
            self.first_two.push(cold.samples_ms.clone());
        }
    }
}

/// A two-sample test of one variant's cold starts: `b` against `a`.
#[derive(Debug, Clone)]
struct Test {
    variant: String,
    /// The setup tested, and what it is tested against.
    setup: Setup,
    /// median(b) ÷ median(a).
    ratio: f64,
    p: f64,
    p_adjusted: f64,
}

impl Test {
    fn new(variant: &str, setup: &Setup, a: &[f64], b: &[f64]) -> Option<Test> {
        let p = welch_log(a, b)?;
        let (ma, mb) = (stats::summarize(a)?.median, stats::summarize(b)?.median);
        Some(Test {
            variant: variant.to_string(),
            setup: setup.clone(),
            ratio: mb / ma,
            p,
            p_adjusted: p,
        })
    }

    fn beyond_noise(&self) -> bool {
        self.p_adjusted <= ALPHA
    }

    /// How far the median moved, in percent of the reference's, either way.
    fn shift_pct(&self) -> f64 {
        (self.ratio - 1.0).abs() * 100.0
    }
}

fn adjust(tests: &mut [Test]) {
    let adjusted = stats::holm(&tests.iter().map(|t| t.p).collect::<Vec<_>>());
    for (t, q) in tests.iter_mut().zip(adjusted) {
        t.p_adjusted = q;
    }
}

/// One app's runs on one kind of machine, gathered by setup and variant.
struct App<'a> {
    name: String,
    /// `2-core x86_64, AMD EPYC`: runs of other machines are never pooled.
    machine: String,
    /// Setups in order: the reference first, then by name.
    setups: Vec<Setup>,
    variants: Vec<String>,
    pooled: std::collections::BTreeMap<(String, Setup), Pooled>,
    files: Vec<(&'a RuntimeRun, Setup)>,
    /// Files whose every variant failed: what the first one said.
    failed: Vec<(&'a RuntimeRun, Setup, String)>,
}

impl<'a> App<'a> {
    fn gather(name: &str, machine: &str, runs: &'a [RuntimeRun]) -> App<'a> {
        let mut app = App {
            name: name.to_string(),
            machine: machine.to_string(),
            setups: Vec::new(),
            variants: Vec::new(),
            pooled: Default::default(),
            files: Vec::new(),
            failed: Vec::new(),
        };
        for run in runs
            .iter()
            .filter(|r| r.results.app == name && machine_of(&r.results) == machine)
        {
            let Some(setup) = Setup::of(&run.results) else {
                continue;
            };
            let ok: Vec<_> = run.results.variants.iter().filter(|v| v.is_ok()).collect();
            if ok.is_empty() {
                let why = run
                    .results
                    .variants
                    .iter()
                    .find_map(|v| match &v.status {
                        Status::Failed { step, reason, .. } => Some(format!("{step}: {reason}")),
                        Status::Ok => None,
                    })
                    .unwrap_or_else(|| "no variant".into());
                app.failed.push((run, setup, why));
                continue;
            }
            // The run's own arms, then its runtime arms, each under its own runtime.
            let arms = ok.into_iter().map(|v| (v, setup.clone())).chain(
                run.results
                    .runtime_arms
                    .iter()
                    .filter(|r| r.is_ok())
                    .filter_map(|r| {
                        let runtime = r.oci_runtime.clone()?;
                        Some((
                            r,
                            Setup {
                                runtime,
                                ..setup.clone()
                            },
                        ))
                    }),
            );
            for (v, arm_setup) in arms {
                let Some(cold) = &v.cold_start else { continue };
                let name = v.variant.name().to_string();
                if !app.variants.contains(&name) {
                    app.variants.push(name.clone());
                }
                app.pooled
                    .entry((name, arm_setup.clone()))
                    .or_default()
                    .add(cold);
                if !app.setups.contains(&arm_setup) {
                    app.setups.push(arm_setup);
                }
            }
            app.files.push((run, setup));
        }
        app.setups.sort();
        if let Some(i) = app.setups.iter().position(Setup::is_reference_kind) {
            let reference = app.setups.remove(i);
            app.setups.insert(0, reference);
        }
        app
    }

    fn get(&self, variant: &str, setup: &Setup) -> Option<&Pooled> {
        self.pooled.get(&(variant.to_string(), setup.clone()))
    }

    /// Each other setup against the reference, per variant (one family).
    fn comparisons(&self) -> Vec<Test> {
        let Some((reference, others)) = self.setups.split_first() else {
            return Vec::new();
        };
        let mut tests = Vec::new();
        for v in &self.variants {
            let Some(a) = self.get(v, reference) else {
                continue;
            };
            for s in others {
                if let Some(t) = self
                    .get(v, s)
                    .and_then(|b| Test::new(v, s, &a.total, &b.total))
                {
                    tests.push(t);
                }
            }
        }
        adjust(&mut tests);
        tests
    }

    /// Each setup's first run against its second, per variant (one family): the A/A.
    fn controls(&self) -> Vec<Test> {
        let mut tests = Vec::new();
        for v in &self.variants {
            for s in &self.setups {
                if let Some([a, b]) = self.get(v, s).map(|p| p.first_two.as_slice()) {
                    tests.extend(Test::new(v, s, a, b));
                }
            }
        }
        adjust(&mut tests);
        tests
    }
}

/// The largest shift among the tripped between-run A/A tests, in percent; 0 when none.
fn drift_pct(controls: &[Test]) -> f64 {
    controls
        .iter()
        .filter(|t| t.beyond_noise())
        .map(Test::shift_pct)
        .fold(0.0, f64::max)
}

/// What a comparison says, in words.
fn verdict(t: &Test, drift: f64) -> String {
    let pct = t.shift_pct();
    let way = if t.ratio < 1.0 { "shorter" } else { "longer" };
    if !t.beyond_noise() {
        "within noise".into()
    } else if pct <= drift {
        format!("{way} by {pct:.0}%, within between-run drift ({drift:.0}%)")
    } else {
        format!("**{way} by {pct:.0}%**, beyond noise")
    }
}

/// `0.03`, `<0.001`.
fn p_value(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// `123 [119–133]`: the median and the interval of the median.
fn median_ci(samples: &[f64]) -> String {
    match stats::summarize(samples) {
        Some(s) => format!(
            "{} [{}–{}]",
            num(s.median),
            num(s.median_ci_low),
            num(s.median_ci_high)
        ),
        None => "–".into(),
    }
}

/// The machine a run measured, as far as its figures depend on it.
fn machine_of(r: &RunResults) -> String {
    let e = &r.environment;
    format!("{}, {}", e.machine, e.cpu_model)
}

/// The section, when `runs` has any run of an engine (native runs have none).
pub fn section(builder: &mut Builder, runs: &[RuntimeRun]) -> anyhow::Result<()> {
    let mut apps: Vec<(String, String)> = runs
        .iter()
        .filter(|r| Setup::of(&r.results).is_some())
        .map(|r| (r.results.app.clone(), machine_of(&r.results)))
        .collect();
    apps.sort();
    apps.dedup();
    if apps.is_empty() {
        return Ok(());
    }
    builder
        .doc
        .heading(2, "Cold start by OCI runtime and engine");
    builder.doc.paragraph(
        "From the run files in `results/runtimes/`, each one run under one engine and one OCI runtime (`harness run --docker-host … --oci-runtime …`, on throwaway engines that `scripts/engine` starts). On a node that has the image, a container's cold start is mostly the engine's and the OCI runtime's work, the part a team can change without touching its binary; each bar splits it into the engine's create call, its start call (where the OCI runtime sets the container up and starts its process) and the rest, the process's own start-up to its first response. Each setup is compared with the reference (Docker under runc) by Welch's t-test on the logarithms of the pooled cold starts, Holm-adjusted over the section; the runs are one after another, not interleaved round by round, so the control is between runs: each setup's first two runs compared by the same test, and a shift no larger than a tripped control's is not called a difference.",
    );
    for (name, machine) in apps {
        app_section(builder, &App::gather(&name, &machine, runs))?;
    }
    Ok(())
}

fn app_section(builder: &mut Builder, app: &App) -> anyhow::Result<()> {
    builder
        .doc
        .heading(3, format!("{} on {}", app.name, app.machine));
    let comparisons = app.comparisons();
    let controls = app.controls();
    let drift = drift_pct(&controls);
    builder.doc.paragraph(sources(app));
    let mut rows = Vec::new();
    for v in &app.variants {
        for s in &app.setups {
            let Some(p) = app.get(v, s) else { continue };
            let Some(total) = stats::summarize(&p.total) else {
                continue;
            };
            let median = |x: &[f64]| stats::summarize(x).map(|s| s.median);
            rows.push(RuntimeRow {
                name: format!("{v} · {}", s.label()),
                create_ms: median(&p.create),
                start_ms: median(&p.start),
                cold_start_ms: total.median,
                ci_ms: (total.median_ci_low, total.median_ci_high),
            });
        }
    }
    if !rows.is_empty() {
        builder.figure(Some(RuntimeBars {
            stem: format!(
                "cold-start-by-runtime-{}-{}",
                app.name,
                super::anchor::slug(&app.machine)
            ),
            title: format!(
                "{}: cold start by engine and OCI runtime ({})",
                app.name, app.machine
            ),
            subtitle: format!(
                "{} setup{}, {} run{}; medians over each setup's runs",
                app.setups.len(),
                if app.setups.len() == 1 { "" } else { "s" },
                app.files.len(),
                if app.files.len() == 1 { "" } else { "s" },
            ),
            rows,
        }))?;
    }
    builder.doc.table(table(app, &comparisons, drift));
    builder.doc.paragraph(control_words(&controls, drift));
    builder.doc.table(paired_table(app));
    Ok(())
}

/// The runs with runtime arms (`--oci-runtime A,B`): each arm's cold start ÷ its variant's
/// under the run's own runtime, paired round by round, as the run judged it.
fn paired_table(app: &App) -> Table {
    let mut t = Table::new([
        "run",
        "variant",
        "runtime ÷ the run's",
        "cold start ratio (paired)",
        "p adj.",
        "verdict",
    ]);
    for (run, setup) in &app.files {
        for arm in run.results.runtime_arms.iter().filter(|r| r.is_ok()) {
            let (Some(runtime), Some(ratio)) = (
                &arm.oci_runtime,
                arm.cold_start.as_ref().and_then(|c| c.ratio_to_baseline),
            ) else {
                continue;
            };
            let beyond = (ratio.ci_low > 1.0 || ratio.ci_high < 1.0)
                && ratio.p_adjusted.is_some_and(|p| p <= ALPHA);
            let verdict = match (beyond, ratio.median < 1.0) {
                (false, _) => "within noise".to_string(),
                (true, true) => format!("**shorter by {:.0}%**", (1.0 - ratio.median) * 100.0),
                (true, false) => format!("**longer by {:.0}%**", (ratio.median - 1.0) * 100.0),
            };
            t.row([
                format!("`{}`", super::provenance::file_name(&run.path)),
                arm.variant.name(),
                format!("{runtime} ÷ {}", setup.runtime),
                format!(
                    "{} ({:.2}–{:.2})",
                    factor(ratio.median),
                    ratio.ci_low,
                    ratio.ci_high
                ),
                ratio.p_adjusted.map_or("–".into(), p_value),
                verdict,
            ]);
        }
    }
    t.note("Runtime arms measured in the same rounds as their variant (`--oci-runtime A,B`): the median of the per-round ratios with its interval, judged as the run judged it (the interval excludes 1 and the Holm-adjusted p-value over the run's comparisons is at most 0.05). These verdicts are paired, and need no between-run control.")
}

fn sources(app: &App) -> String {
    let mut parts: Vec<String> = app
        .files
        .iter()
        .map(|(run, setup)| {
            let mut arms: Vec<String> = run
                .results
                .runtime_arms
                .iter()
                .filter_map(|r| r.oci_runtime.clone())
                .collect();
            arms.dedup();
            let arms = match arms.is_empty() {
                true => String::new(),
                false => format!(" with {} arms interleaved", arms.join(", ")),
            };
            format!(
                "`{}` ({}{arms}, {})",
                super::provenance::file_name(&run.path),
                setup.label(),
                run.results.started_at
            )
        })
        .collect();
    parts.extend(app.failed.iter().map(|(run, setup, why)| {
        format!(
            "`{}` ({}: every variant failed, {why})",
            super::provenance::file_name(&run.path),
            setup.label()
        )
    }));
    format!("Runs: {}.", parts.join("; "))
}

fn table(app: &App, comparisons: &[Test], drift: f64) -> Table {
    let mut t = Table::new([
        "variant",
        "engine · runtime",
        "runs",
        "cold start (ms)",
        "create call (ms)",
        "start call (ms)",
        "rest (ms)",
        "vs the reference",
    ]);
    for v in &app.variants {
        for (i, s) in app.setups.iter().enumerate() {
            let Some(p) = app.get(v, s) else { continue };
            let versus = match comparisons
                .iter()
                .find(|c| &c.variant == v && &c.setup == s)
            {
                Some(c) => format!(
                    "{} (p adj. {}): {}",
                    factor(c.ratio),
                    p_value(c.p_adjusted),
                    verdict(c, drift)
                ),
                None if i == 0 => "the reference".into(),
                None => "–".into(),
            };
            t.row([
                v.clone(),
                s.label(),
                p.runs.to_string(),
                median_ci(&p.total),
                median_ci(&p.create),
                median_ci(&p.start),
                median_ci(&p.rest),
                versus,
            ]);
        }
    }
    t.note("Medians over the setup's runs, the interval of the median in brackets; the rest is each cold start less its two calls. The factor: the setup's median cold start ÷ the reference's; p adj.: the Holm-adjusted p-value.")
}

fn control_words(controls: &[Test], drift: f64) -> String {
    if controls.is_empty() {
        return "No setup ran twice: the section has no between-run control, and its verdicts cannot tell a setup from the machine's drift between runs.".into();
    }
    let tripped: Vec<String> = controls
        .iter()
        .filter(|t| t.beyond_noise())
        .map(|t| {
            format!(
                "{} under {} ({})",
                t.variant,
                t.setup.label(),
                factor(t.ratio)
            )
        })
        .collect();
    if tripped.is_empty() {
        format!(
            "Between-run control: {} A/A comparison{} (a setup's first run against its second), none beyond noise.",
            controls.len(),
            if controls.len() == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "Between-run control: {} of {} A/A comparisons beyond noise ({}): runs of one setup differ by up to {drift:.0}%, more than their spread shows, so no shift up to that is called a difference.",
            tripped.len(),
            controls.len(),
            tripped.join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(ratio: f64, p_adjusted: f64) -> Test {
        Test {
            variant: "v".into(),
            setup: Setup {
                engine: "Docker 20".into(),
                runtime: "crun".into(),
            },
            ratio,
            p: p_adjusted,
            p_adjusted,
        }
    }

    #[test]
    fn engines_are_named_as_a_reader_knows_them() {
        assert_eq!(
            engine_label("Engine 20.10.24+dfsg1"),
            "Docker 20.10.24+dfsg1"
        );
        assert_eq!(engine_label("Podman Engine 4.3.1"), "Podman Engine 4.3.1");
    }

    #[test]
    fn a_shift_within_a_tripped_controls_drift_is_not_called_a_difference() {
        assert_eq!(verdict(&test(0.8, 0.5), 0.0), "within noise");
        assert_eq!(
            verdict(&test(0.8, 0.01), 0.0),
            "**shorter by 20%**, beyond noise"
        );
        assert_eq!(
            verdict(&test(1.1, 0.01), 12.0),
            "longer by 10%, within between-run drift (12%)"
        );
        let controls = [test(1.12, 0.01), test(1.3, 0.2)];
        assert!((drift_pct(&controls) - 12.0).abs() < 1e-9);
    }

    #[test]
    fn the_rest_is_each_cold_start_less_its_two_calls_and_the_first_two_runs_are_kept() {
        let cold = ColdStart {
            samples_ms: vec![100.0, 120.0],
            cold_start_ms: stats::summarize(&[100.0, 120.0]).unwrap(),
            process_start_samples_ms: vec![],
            process_start_ms: None,
            ratio_to_baseline: None,
            create_samples_ms: vec![10.0, 12.0],
            create_ms: None,
            start_samples_ms: vec![70.0, 80.0],
            start_ms: None,
        };
        let mut p = Pooled::default();
        for _ in 0..3 {
            p.add(&cold);
        }
        assert_eq!(p.runs, 3);
        assert_eq!(&p.rest[..2], &[20.0, 28.0]);
        assert_eq!(p.total.len(), 6);
        assert_eq!(p.first_two.len(), 2);
    }
}

//! `harness profile`: where each variant's CPU time goes. Per variant it builds a profiling
//! binary (`build`), runs it as `run` would (docker or native, same CPUs, same limits),
//! samples it with `perf record` for one load window (server) or one job (batch) (`perf`),
//! folds the stacks, classifies every sample into a bucket (`profiles::buckets`) and draws
//! flame graphs (`flame`). Each variant's figures reach `results/profiles/<app>-<time>.json`
//! as soon as it is done; the folded stacks stay in a temporary directory and are dropped.

pub mod build;
pub mod flame;
pub mod perf;
mod sample;

use crate::matrix::{Base, Variant, BASELINE};
use crate::plan::profile::{ProfilePlan, Workload};
use crate::profiles::{self, ProfileResults, VariantProfile};
use crate::progress::Progress;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::native::NativeRuntime;
use crate::runtime::{docker_client, Runtime};
use bollard::Docker;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What the run needs besides the plan: where files go, the daemon, the base image.
struct Context<'a> {
    plan: &'a ProfilePlan,
    root: PathBuf,
    run_id: String,
    work: &'a Path,
    docker: Option<&'a Docker>,
    debian_tag: String,
    progress: Progress,
}

/// Profiles every variant of the plan and returns the profile file's path.
pub async fn profile(plan: &ProfilePlan, command: Vec<String>) -> anyhow::Result<PathBuf> {
    let perf_version = perf::version().map_err(crate::error::prerequisite)?;
    let docker = match plan.runtime.as_deref() {
        Some("native") => None,
        _ => Some(docker_client::connect().await?),
    };
    if let Some(problem) = perf::permission_problem(docker.is_none()) {
        return Err(crate::error::prerequisite(problem));
    }
    let work = tempfile::tempdir()?;
    perf::preflight(work.path()).map_err(crate::error::prerequisite)?;
    let run_id = crate::commands::new_run_id(&plan.app.name);
    let profiles_dir = plan.out_dir.join("profiles");
    let plots_dir = plan.out_dir.join("plots");
    for dir in [&profiles_dir, &plots_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::error::usage(format!("{}: cannot create: {e}", dir.display())))?;
    }
    let path = profiles_dir.join(format!("{run_id}.json"));
    let progress = Progress::new(false);
    let debian_tag = match &docker {
        Some(docker) if plan.variants.iter().any(|v| v.base != Base::Scratch) => {
            let step = progress.step("provisioning the debian base image");
            let base = crate::build::base::ensure(docker, true)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no debian base image"))?;
            step.done(format!("base image: {}", base.tag));
            base.tag
        }
        _ => String::new(),
    };
    let root = crate::app::workspace_root();
    let docker_version = match &docker {
        Some(docker) => docker_client::server_version(docker).await,
        None => None,
    };
    let mut results = ProfileResults {
        schema_version: profiles::SCHEMA_VERSION,
        app: plan.app.name.clone(),
        started_at: crate::runner::now(),
        finished_at: None,
        command,
        runtime: if docker.is_some() { "docker" } else { "native" }.into(),
        environment: crate::environment::collect(
            &crate::plan::default_machine_label(),
            docker_version,
            &root,
        ),
        perf_version,
        frequency_hz: perf::FREQUENCY_HZ,
        call_graph: perf::CALL_GRAPH.into(),
        workload: workload_record(&plan.workload),
        baseline: baseline(&plan.variants).name(),
        variants: Vec::new(),
    };
    results.save(&path)?;
    let cx = Context {
        plan,
        root,
        run_id,
        work: work.path(),
        docker: docker.as_ref(),
        debian_tag,
        progress,
    };
    let folded = match &docker {
        Some(docker) => {
            let runtime = DockerRuntime::new(docker.clone(), &cx.run_id, &plan.app.name);
            cx.all(&runtime, &mut results, &path).await
        }
        None => cx.all(&NativeRuntime::default(), &mut results, &path).await,
    }?;
    draw(&cx, &mut results, &folded, &plots_dir)?;
    results.finished_at = Some(crate::runner::now());
    results.save(&path)?;
    Ok(path)
}

impl Context<'_> {
    /// Profiles each variant in turn; a variant that fails is recorded as failed and the
    /// others go on. Returns the folded stacks of those that worked.
    async fn all<R: Runtime>(
        &self,
        runtime: &R,
        results: &mut ProfileResults,
        path: &Path,
    ) -> anyhow::Result<HashMap<Variant, String>> {
        let mut folded = HashMap::new();
        for &variant in &self.plan.variants {
            let step = self.progress.step(format!("profiling {variant}"));
            let outcome = self.one(runtime, variant).await;
            let _ = runtime.sweep().await;
            match outcome {
                Ok((profile, stacks)) => {
                    step.done(format!(
                        "{variant}: {} samples, allocator + locks + memory mapping {:.0}%{}",
                        profile.samples,
                        profile.allocation_share() * 100.0,
                        profile
                            .cpu_us_per_request
                            .map_or(String::new(), |us| format!(", {us:.1} µs CPU per request"))
                    ));
                    results.variants.push(profile);
                    folded.insert(variant, stacks);
                }
                Err(e) => {
                    step.done(format!("{variant}: profile failed: {e:#}"));
                    results
                        .variants
                        .push(VariantProfile::failed(variant, format!("{e:#}")));
                }
            }
            results.save(path)?;
        }
        anyhow::ensure!(
            !folded.is_empty(),
            "no variant could be profiled (see above)"
        );
        Ok(folded)
    }
}

/// The variant differential flame graphs compare against: the baseline when profiled,
/// else the first.
fn baseline(variants: &[Variant]) -> Variant {
    variants
        .iter()
        .copied()
        .find(|v| v.name() == BASELINE)
        .unwrap_or(variants[0])
}

fn workload_record(workload: &Workload) -> profiles::Workload {
    match workload {
        Workload::Server {
            request,
            concurrency,
            duration,
        } => profiles::Workload {
            kind: "server".into(),
            request: Some(request.name.clone()),
            concurrency: Some(*concurrency),
            duration_s: Some(duration.as_secs_f64()),
            threads: None,
        },
        Workload::Batch { threads, .. } => profiles::Workload {
            kind: "batch".into(),
            request: None,
            concurrency: None,
            duration_s: None,
            threads: Some(*threads),
        },
    }
}

/// Draws each variant's flame graph and its differential one against the baseline, into
/// `plots_dir`, and records their paths (relative to the results directory).
fn draw(
    cx: &Context<'_>,
    results: &mut ProfileResults,
    folded: &HashMap<Variant, String>,
    plots_dir: &Path,
) -> anyhow::Result<()> {
    let what = match &results.workload {
        w if w.kind == "server" => format!(
            "{} at {} connections",
            w.request.clone().unwrap_or_default(),
            w.concurrency.unwrap_or(0)
        ),
        w => format!("one job on {} threads", w.threads.unwrap_or(0)),
    };
    let base_name = results.baseline.clone();
    let base = folded
        .iter()
        .find(|(v, _)| v.name() == base_name)
        .map(|(_, f)| f.clone());
    for profile in &mut results.variants {
        let Some(stacks) = folded.get(&profile.variant) else {
            continue;
        };
        let name = profile.variant.name();
        let file = format!("{}-flame-{name}.svg", cx.plan.app.name);
        flame::write(
            stacks,
            format!("{} {name}: where the CPU goes", cx.plan.app.name),
            format!(
                "{what}, perf -F {} --call-graph {}",
                perf::FREQUENCY_HZ,
                perf::CALL_GRAPH
            ),
            &plots_dir.join(&file),
        )?;
        profile.flame_graph = Some(format!("plots/{file}"));
        if let Some(base) = base.as_ref().filter(|_| name != base_name) {
            let file = format!("{}-flame-diff-{name}.svg", cx.plan.app.name);
            flame::write_diff(
                base,
                stacks,
                format!("{} {name} against {base_name}", cx.plan.app.name),
                "red: a larger share of the samples than in the baseline, blue: smaller".into(),
                &plots_dir.join(&file),
            )?;
            profile.diff_flame_graph = Some(format!("plots/{file}"));
        }
    }
    Ok(())
}

/// The printed table: per variant its samples, each bucket's share and, for servers, CPU
/// per request.
pub fn summary(results: &ProfileResults) -> comfy_table::Table {
    use crate::profiles::buckets::Bucket;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec!["variant".to_string(), "samples".into()];
    header.extend(Bucket::ALL.iter().map(|b| b.label().to_string()));
    header.push("CPU µs/request".into());
    table.set_header(header);
    for v in &results.variants {
        let mut row = vec![v.variant.name()];
        if let Some(why) = &v.failed {
            row.push(format!("failed: {why}"));
            table.add_row(row);
            continue;
        }
        row.push(v.samples.to_string());
        row.extend(
            Bucket::ALL
                .iter()
                .map(|&b| format!("{:.1}%", v.share(b) * 100.0)),
        );
        row.push(
            v.cpu_us_per_request
                .map_or("-".into(), |us| format!("{us:.1}")),
        );
        table.add_row(row);
    }
    table
}

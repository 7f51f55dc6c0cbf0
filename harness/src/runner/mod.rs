//! `harness run`: build every chosen variant, then measure them, writing the results file
//! after each unit of work so a crash or Ctrl-C loses at most what was in flight.
//!
//! Order: builds; cold starts interleaved across variants (ABCABC…); then per variant its
//! load windows (servers) or, per thread count, crunch jobs interleaved across variants
//! (batch). Every instance started is tracked and removed, on success, failure or signal.

mod arms;
pub mod batch;
mod fresh_node;
pub mod hosts;
mod load;
mod measurer;
mod phases;
mod remote;
mod setup;
mod table;
#[cfg(test)]
mod tests;

use crate::app::workspace_root;
use crate::build::artifact::{self, Artifact, Kept};
use crate::build::{self, base, Packaging};
use crate::error::HarnessError;
use crate::matrix::Variant;
use crate::plan::RunPlan;
use crate::progress::Progress;
use crate::results::{MeasuredBinary, RunResults, Settings, VariantResult, SCHEMA_VERSION};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::native::NativeRuntime;
use crate::runtime::pinning;
use crate::runtime::{docker_client, retry, Runtime};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use arms::Arm;
pub use table::{control_line, legend, summary_table};

/// Room a run needs for its results file and CSV (a full run's JSON is about 100 kB).
const RESULTS_ROOM: usize = 256 << 10;
/// The longest a run's final cleanup waits for an unanswering daemon.
const CLEANUP_DEADLINE: Duration = Duration::from_secs(30);
/// The per-call timeout of image builds and base imports, which answer only when done.
const IMAGE_BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// The state of one run: the plan, the results so far and where they are written.
pub struct Run<'a, R: Runtime> {
    pub plan: &'a RunPlan,
    pub runtime: &'a R,
    pub results: RunResults,
    pub path: PathBuf,
    pub progress: Progress,
    /// Binaries and image tags of the variants that built.
    pub artifacts: HashMap<Variant, Launchable>,
    /// Instances started and not yet removed, with their variants.
    pub live: Arc<Mutex<HashMap<String, Variant>>>,
    /// What the instances removed so far ran, read back before their removal.
    launched: Mutex<HashMap<Variant, Launched>>,
    pub server_cpus: Vec<usize>,
    pub loadgen_cpus: Vec<usize>,
    /// Who measures what touches the app.
    measurer: measurer::Measurer,
}

/// What a built variant is started from.
#[derive(Debug, Clone)]
pub struct Launchable {
    /// The variant's own binary and its digest, checked before every native launch.
    pub artifact: Artifact,
    /// The image tag (docker).
    pub image: Option<String>,
}

/// The binary instances of one variant ran: the first digest read back, and any other.
#[derive(Debug, Clone, Default)]
struct Launched {
    first: Option<MeasuredBinary>,
    mismatch: Option<String>,
}

/// Runs a plan end to end and returns the results file's path.
pub async fn run(plan: &RunPlan, command_line: Vec<String>) -> anyhow::Result<PathBuf> {
    let run_id = crate::results::new_run_id(&plan.app.name);
    let path = plan.out_dir.join(format!("{run_id}.json"));
    let progress = Progress::new(plan.quiet);
    let fake =
        crate::runtime::fake::spec::from_env(plan.is_server()).map_err(crate::error::usage)?;
    let docker = match fake {
        Some(_) => None,
        None => setup::connect(plan, &progress).await?,
    };
    // Before anything is created: a runtime the daemon lacks is a usage error.
    let facts = match &docker {
        Some(d) => {
            for name in &plan.runtime_arms {
                docker_client::daemon_facts(d, Some(name)).await?;
            }
            Some(docker_client::daemon_facts(d, plan.oci_runtime.as_deref()).await?)
        }
        None => None,
    };
    crate::results::check_writable(&plan.out_dir, RESULTS_ROOM)?;
    let _lock = setup::claim(plan, docker.as_ref(), &run_id, &progress).await?;
    if let Some(fake) = fake {
        let mut run = Run::new(plan, &fake, path, progress, command_line, None);
        run.fake_artifacts();
        return run.execute(None).await;
    }
    // An app that calls an upstream gets one on this machine's loopback, for the whole run.
    let (app, _upstream) = crate::upstream::for_app(&plan.app).await?;
    let with_upstream;
    let plan = match &_upstream {
        Some(_) => {
            if docker.is_some() && !docker_client::is_local(&docker_client::host()) {
                return Err(HarnessError::Usage(format!(
                    "{} calls an upstream (`upstream = \"https\"`), which the harness serves on this machine's loopback, out of reach of the daemon at {}: run on the daemon's host",
                    plan.app.name,
                    docker_client::host()
                ))
                .into());
            }
            with_upstream = RunPlan {
                app,
                ..plan.clone()
            };
            &with_upstream
        }
        None => plan,
    };
    match docker {
        Some(docker) => {
            let host = docker_client::host();
            let use_agent = remote::wants_agent(plan.agent, &host);
            if !docker_client::is_local(&host) && !use_agent {
                progress.println(format!("warning: {}", docker_client::remote_note(&host)));
            }
            let daemon = remote::Daemon::read(&docker).await?;
            // Image builds and base imports answer only when done: they get a long timeout.
            let builder = docker.clone().with_timeout(IMAGE_BUILD_TIMEOUT);
            let runtime = DockerRuntime::new(docker, &run_id, &plan.app.name)
                .with_oci_runtime(plan.oci_runtime.clone());
            let base = base::provision(&builder, &plan.variants, &progress).await?;
            let packaging = Packaging {
                docker: &builder,
                base: base.as_ref(),
                run_id: &run_id,
            };
            let mut run = Run::new(plan, &runtime, path, progress, command_line, facts);
            if use_agent {
                run.use_agent(&builder, &daemon).await?;
            }
            run.execute(Some(&packaging)).await
        }
        None => {
            let runtime = NativeRuntime::default();
            let run = Run::new(plan, &runtime, path, progress, command_line, None);
            run.execute(None).await
        }
    }
}

/// The A/A control's result, when the plan asks for one and compares variants (two or
/// more): the baseline variant again, or the first planned when the baseline is absent,
/// as ratios use.
fn control_arm(plan: &RunPlan) -> Option<VariantResult> {
    if !plan.control || plan.variants.len() < 2 {
        return None;
    }
    let base = plan
        .variants
        .iter()
        .copied()
        .find(|v| v.name() == crate::matrix::BASELINE)
        .or_else(|| plan.variants.first().copied())?;
    Some(VariantResult::new(base))
}

impl<'a, R: Runtime> Run<'a, R> {
    fn new(
        plan: &'a RunPlan,
        runtime: &'a R,
        path: PathBuf,
        progress: Progress,
        command_line: Vec<String>,
        daemon: Option<docker_client::DaemonFacts>,
    ) -> Self {
        let allowed = pinning::allowed_cpus();
        let (server_cpus, loadgen_cpus) = if plan.is_server() {
            pinning::split_halves(&allowed)
        } else {
            (allowed.clone(), Vec::new())
        };
        let root = workspace_root();
        let results = RunResults {
            schema_version: SCHEMA_VERSION,
            harness_version: env!("CARGO_PKG_VERSION").into(),
            app: plan.app.name.clone(),
            app_kind: plan.app.kind,
            runtime: runtime.name().into(),
            command_line,
            started_at: crate::results::now(),
            finished_at: None,
            environment: crate::results::Environment {
                engine: daemon.as_ref().and_then(|d| d.engine.clone()),
                oci_runtime: daemon.as_ref().and_then(|d| d.oci_runtime.clone()),
                ..crate::environment::collect(&plan.machine, daemon.and_then(|d| d.version), &root)
            },
            settings: Settings {
                runs: plan.runs,
                rounds: if plan.is_server() { plan.rounds } else { 0 },
                target_ci_percent: plan.target_ci,
                warmup_s: plan.warmup.as_secs_f64(),
                duration_s: plan.duration.as_secs_f64(),
                concurrency: if plan.is_server() {
                    plan.concurrency.clone()
                } else {
                    Vec::new()
                },
                endpoints: plan.requests.iter().map(|r| r.name.clone()).collect(),
                rate_rps: plan.rate,
                threads: if plan.is_server() {
                    Vec::new()
                } else {
                    plan.threads.clone()
                },
                dataset_mb: if plan.is_server() {
                    0.0
                } else {
                    plan.dataset_mb
                },
                server_cpus: pinning::cpu_list(&server_cpus),
                loadgen_cpus: pinning::cpu_list(&loadgen_cpus),
                memory_limit_bytes: plan.memory_limit,
                ready_timeout_s: plan.ready_timeout.as_secs_f64(),
                measured_by: "in-process".into(),
            },
            variants: plan
                .variants
                .iter()
                .map(|&v| VariantResult::new(v))
                .collect(),
            control: None,
            runtime_arms: plan
                .runtime_arms
                .iter()
                .flat_map(|name| {
                    plan.variants.iter().map(|&v| VariantResult {
                        oci_runtime: Some(name.clone()),
                        ..VariantResult::new(v)
                    })
                })
                .collect(),
            verdicts: None,
        };
        let mut results = results;
        results.control = control_arm(plan);
        Run {
            plan,
            runtime,
            results,
            path,
            progress,
            artifacts: HashMap::new(),
            live: Arc::default(),
            launched: Mutex::default(),
            server_cpus,
            loadgen_cpus,
            measurer: measurer::Measurer::InProcess,
        }
    }

    /// Stands in for every variant's build (the fake backend's runs and the unit tests):
    /// a binary that does not exist, with a digest of zeros, and an image tag.
    fn fake_artifacts(&mut self) {
        for &variant in &self.plan.variants {
            let artifact = Artifact {
                path: PathBuf::from("/nonexistent").join(&self.plan.app.bin),
                sha256: "0".repeat(64),
            };
            let image = Some(format!("{}:{variant}", self.plan.app.name));
            self.artifacts
                .insert(variant, Launchable { artifact, image });
        }
        self.share_builds_with_arms();
    }

    /// Runs every phase, racing a Ctrl-C/SIGTERM that removes every instance and keeps
    /// what finished.
    async fn execute(self, packaging: Option<&Packaging<'_>>) -> anyhow::Result<PathBuf> {
        self.execute_until(packaging, crate::error::interrupt_signal())
            .await
    }

    /// `execute`, with the interrupt as a future (a signal, or a test's stand-in for one)
    /// resolving to the signal's name and number.
    async fn execute_until(
        mut self,
        packaging: Option<&Packaging<'_>>,
        interrupt: impl std::future::Future<Output = (&'static str, i32)>,
    ) -> anyhow::Result<PathBuf> {
        self.save()?;
        let outcome = tokio::select! {
            result = self.phases(packaging) => Ok(result),
            signal = interrupt => Err(signal),
        };
        if let Ok(Err(e)) = &outcome {
            if retry::is_api_failure(e) {
                eprintln!(
                    "{e:#}: removing this run's containers (retrying for up to {} s)",
                    CLEANUP_DEADLINE.as_secs()
                );
            }
        }
        self.remove_live().await;
        if let measurer::Measurer::Agent(agent) =
            std::mem::replace(&mut self.measurer, measurer::Measurer::InProcess)
        {
            agent.stop().await;
        }
        match outcome {
            Ok(Err(e)) => {
                // What finished is on disk already; this records the failing step too.
                let _ = self.save();
                Err(e)
            }
            Ok(Ok(())) => {
                self.results.finished_at = Some(crate::results::now());
                self.save()?;
                Ok(self.path.clone())
            }
            Err((name, signal)) => {
                self.save()?;
                let results = self.path.display().to_string();
                Err(HarnessError::Interrupted {
                    name,
                    signal,
                    results,
                }
                .into())
            }
        }
    }

    async fn phases(&mut self, packaging: Option<&Packaging<'_>>) -> anyhow::Result<()> {
        self.build_all(packaging).await?;
        self.cold_starts().await?;
        if self.plan.is_server() {
            self.loads().await?;
        } else {
            self.crunches().await?;
        }
        if let (Some(runs), Some(packaging)) = (self.plan.fresh_node, packaging) {
            self.fresh_nodes(packaging.docker, runs).await?;
        }
        Ok(())
    }

    async fn build_all(&mut self, packaging: Option<&Packaging<'_>>) -> anyhow::Result<()> {
        let root = workspace_root();
        for index in 0..self.results.variants.len() {
            let variant = self.results.variants[index].variant;
            if self.artifacts.contains_key(&variant) {
                // Built already (the runner's unit tests start from given artifacts).
                continue;
            }
            let step = self.progress.step(format!("building {variant}"));
            let mut outcome = build::compile_variant(&root, &self.plan.app, variant, false).await;
            if let (Ok(built), Some(packaging)) = (&mut outcome, packaging) {
                step.set_message(format!("building the image of {variant}"));
                if let Err(failed) =
                    build::package_variant(&self.plan.app, variant, built, packaging).await
                {
                    outcome = Err(failed);
                }
            }
            match outcome {
                Ok(built) => {
                    let image = built.record.image.as_ref().map(|i| i.tag.clone());
                    let digest = artifact::short(&built.artifact.sha256).to_string();
                    let how = match built.kept {
                        Kept::New => "",
                        Kept::Reused => ", reusing the earlier build",
                    };
                    let allocator = build::allocator_note(variant, &built.record);
                    step.done(format!("built {variant} (sha256 {digest}{allocator}{how})"));
                    self.artifacts.insert(
                        variant,
                        Launchable {
                            artifact: built.artifact,
                            image,
                        },
                    );
                    self.results.variants[index].build = Some(built.record);
                }
                Err((_, error)) if retry::is_api_failure(&error) => {
                    // The daemon is gone, not the variant broken: the run ends.
                    step.done(format!("{variant}: {error:#}"));
                    return Err(error);
                }
                Err((stage, error)) => {
                    step.done(format!("{variant}: {stage} failed: {error:#}"));
                    self.results.variants[index].fail(stage.name(), format!("{error:#}"), None);
                }
            }
            self.save()?;
        }
        self.share_builds_with_arms();
        self.save()
    }

    /// Writes the results file (atomically) and the CSV beside it.
    pub fn save(&self) -> anyhow::Result<()> {
        crate::export::write_all(&self.results, &self.path)
    }

    /// Removes every instance still tracked, then sweeps the run's label for any untracked
    /// one; gives up (loudly) after `CLEANUP_DEADLINE` if the daemon does not answer.
    async fn remove_live(&self) {
        let cleanup = async {
            // No read-back here: the run is over (or the daemon is failing), and every
            // call counts against the deadline.
            let live: Vec<String> = self
                .live
                .lock()
                .expect("not poisoned")
                .drain()
                .map(|(id, _)| id)
                .collect();
            for id in live {
                if let Err(e) = self.runtime.remove(&id).await {
                    eprintln!("warning: {e:#}");
                }
            }
            self.runtime.sweep().await
        };
        let hint = "run `harness clean --orphans` once the daemon answers";
        match tokio::time::timeout(CLEANUP_DEADLINE, cleanup).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("warning: cannot sweep this run's instances: {e:#} ({hint})"),
            Err(_) => eprintln!(
                "warning: this run's instances were not all removed within {} s ({hint})",
                CLEANUP_DEADLINE.as_secs()
            ),
        }
    }

    /// Removes every tracked instance (a step has at most one at a time), reading back
    /// first which binary it ran. A failure is a warning, shown even with --quiet: it may
    /// mean a container was left behind.
    pub(super) async fn release(&self) {
        let live: Vec<(String, Variant)> =
            self.live.lock().expect("not poisoned").drain().collect();
        for (id, variant) in live {
            self.read_back(&id, variant).await;
            if let Err(e) = self.runtime.remove(&id).await {
                eprintln!("warning: {e:#}");
            }
        }
    }

    /// Removes one tracked instance (a failed server mid-phase), reading back what it ran.
    pub(super) async fn release_one(&self, id: &str) {
        let variant = self.live.lock().expect("not poisoned").remove(id);
        if let Some(variant) = variant {
            self.read_back(id, variant).await;
        }
        if let Err(e) = self.runtime.remove(id).await {
            eprintln!("warning: {e:#}");
        }
    }

    /// Notes the digest of what instance `id` ran (when the runtime can tell), and any
    /// difference from the variant's build.
    async fn read_back(&self, id: &str, variant: Variant) {
        let instance = crate::runtime::Instance {
            id: id.to_string(),
            variant,
            engine: None,
        };
        let Ok(Some((sha256, source))) = self.runtime.launched_binary(&instance).await else {
            return;
        };
        let expected = self.artifacts.get(&variant).map(|a| &a.artifact.sha256);
        let mut launched = self.launched.lock().expect("not poisoned");
        let entry = launched.entry(variant).or_default();
        if expected.is_some_and(|e| *e != sha256) && entry.mismatch.is_none() {
            entry.mismatch = Some(format!(
                "{variant} ran a binary with sha256 {sha256} ({source}), not its build's {}",
                expected.map_or("", String::as_str)
            ));
        }
        entry.first.get_or_insert(MeasuredBinary { sha256, source });
    }

    /// Records the binaries read back so far, failing each variant that ran another
    /// binary than its own build.
    pub(super) fn record_launched(&mut self) {
        let launched = std::mem::take(&mut *self.launched.lock().expect("not poisoned"));
        for (variant, seen) in launched {
            let result = self.result_mut(variant);
            if result.measured_binary.is_none() {
                result.measured_binary = seen.first;
            }
            if let (Some(reason), true) = (seen.mismatch, result.is_ok()) {
                result.fail("binary", reason, None);
            }
        }
    }

    fn ok_variants(&self) -> Vec<Variant> {
        self.results
            .variants
            .iter()
            .filter(|v| v.is_ok())
            .map(|v| v.variant)
            .collect()
    }

    /// What a failed step means: a daemon that stopped answering (an `ApiFailed`) ends the
    /// run, so the error comes back; anything else fails `arm` alone at `step`, with
    /// the line printed and the container's last output kept.
    fn fail_arm(&mut self, arm: Arm, step: &str, error: anyhow::Error) -> anyhow::Result<()> {
        if retry::is_api_failure(&error) {
            return Err(error);
        }
        let what = step.replace('-', " ");
        self.progress
            .println(format!("{arm}: {what} failed: {error:#}"));
        self.arm_result_mut(arm)
            .fail(step, format!("{error:#}"), crate::runtime::logs_of(&error));
        Ok(())
    }

    fn result_mut(&mut self, variant: Variant) -> &mut VariantResult {
        self.results
            .variants
            .iter_mut()
            .find(|v| v.variant == variant)
            .expect("every planned variant has a result")
    }
}

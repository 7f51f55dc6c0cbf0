//! Running the check: per variant, build its image (or take the one given), start it with
//! the tracer as its first process, drive it with the workload, read back what it reached
//! for and how it failed, and remove what was started and built. The file is saved after
//! each variant; an interrupt removes this check's containers and images and keeps the
//! variants done.

use super::ask::{ask, error_lines, request_outcome};
use super::dns;
use super::pitfalls;
use super::trace::{Op, Trace};
use super::{AddressSeen, CheckResults, DnsCheck, Failures, PathSeen, VariantCheck};
use crate::build::image;
use crate::matrix::{Variant, BASELINE};
use crate::measure::cold_start;
use crate::measure::loadgen::{Endpoint, LoadSpec};
use crate::plan::check::{CheckPlan, Workload};
use crate::progress::Progress;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::{docker_client, pinning, Liveness, Runtime, StartSpec, Wrap};
use anyhow::Context as _;
use bollard::Docker;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The containers' memory limit, as `run`'s default.
const MEMORY_LIMIT: u64 = 2 << 30;
/// The trace file's name in the wrapper's writable directory.
const TRACE_FILE: &str = "trace.jsonl";

struct Context<'a> {
    plan: &'a CheckPlan,
    docker: &'a Docker,
    root: PathBuf,
    run_id: String,
    tracer: PathBuf,
    work: &'a Path,
    debian_tag: String,
    progress: Progress,
    /// The stub DNS and the resolver configuration file every variant gets.
    dns: Option<(dns::Stub, PathBuf)>,
    /// The last variant built: its Dockerfile and binary, for `--dockerfile`.
    built: std::sync::Mutex<Option<(String, PathBuf)>>,
}

/// What a check produced: its file, and the Dockerfile it wrote with what that copies in.
pub struct Checked {
    pub path: PathBuf,
    pub dockerfile: Option<(PathBuf, Vec<super::dockerfile::Copied>)>,
}

/// Checks every variant of the plan, and writes the Dockerfile when asked.
pub async fn check(plan: &CheckPlan, command: Vec<String>) -> anyhow::Result<Checked> {
    // An app that calls an upstream gets one on loopback while it is checked.
    let (app, _upstream) = crate::upstream::for_app(&plan.app).await?;
    let plan = &CheckPlan {
        app,
        ..plan.clone()
    };
    let docker = docker_client::connect().await?;
    let root = crate::app::workspace_root();
    let progress = Progress::new(false);
    let step = progress.step("building the tracer (the harness, static for musl)");
    let tracer = crate::agent::image::binary(&root)
        .await
        .context("cannot build the tracer")?;
    step.done(format!("tracer: {}", tracer.display()));
    let run_id = crate::results::new_run_id(&plan.app.name);
    let _lock = match plan.allow_concurrent {
        true => None,
        false => Some(crate::lock::claim_daemon(Some(&docker), &run_id).await?),
    };
    let dir = plan.out_dir.join("checks");
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::usage(format!("{}: cannot create: {e}", dir.display())))?;
    let path = dir.join(format!("{run_id}.json"));
    let debian_tag = match plan.image {
        Some(_) => String::new(),
        None => crate::build::base::provision(&docker, &plan.variants, &progress)
            .await?
            .map(|b| b.tag)
            .unwrap_or_default(),
    };
    let mut results = CheckResults {
        schema_version: super::SCHEMA_VERSION,
        app: plan.app.name.clone(),
        started_at: crate::results::now(),
        finished_at: None,
        command,
        environment: crate::environment::collect(
            &crate::plan::default_machine_label(),
            docker_client::server_version(&docker).await,
            &root,
        ),
        workload: plan.workload.describe(),
        baseline: baseline(&plan.variants).name(),
        resolv_conf: None,
        dns_skipped: None,
        variants: Vec::new(),
    };
    let work = tempfile::tempdir()?;
    let dns = match dns::Stub::start().await {
        Ok(stub) => {
            let file = work.path().join("resolv.conf");
            std::fs::write(&file, stub.resolv_conf())?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
            results.resolv_conf = Some(stub.resolv_conf());
            Some((stub, file))
        }
        Err(reason) => {
            results.dns_skipped = Some(reason);
            None
        }
    };
    results.save(&path)?;
    let cx = Context {
        plan,
        docker: &docker,
        root,
        run_id,
        tracer,
        work: work.path(),
        debian_tag,
        progress,
        dns,
        built: std::sync::Mutex::new(None),
    };
    let runtime = DockerRuntime::new(docker.clone(), &cx.run_id, &plan.app.name);
    cx.all_until_interrupted(&runtime, &mut results, &path)
        .await?;
    results.finished_at = Some(crate::results::now());
    results.save(&path)?;
    let dockerfile = match (&plan.dockerfile, results.variants.first()) {
        (Some(target), Some(checked)) => {
            let built = cx.built.lock().expect("not poisoned").take();
            let (base, binary) = built.with_context(|| {
                format!("no Dockerfile written: {} did not build", checked.variant)
            })?;
            anyhow::ensure!(
                checked.traced,
                "no Dockerfile written: {} was not traced, so what it lacks is unknown",
                checked.variant
            );
            let copies = super::dockerfile::write(target, &base, &binary, checked)?;
            Some((target.clone(), copies))
        }
        _ => None,
    };
    Ok(Checked { path, dockerfile })
}

/// The variant the others are set beside: the baseline when checked, else the first.
fn baseline(variants: &[Variant]) -> Variant {
    variants
        .iter()
        .copied()
        .find(|v| v.name() == BASELINE)
        .unwrap_or(variants[0])
}

impl Context<'_> {
    async fn all_until_interrupted(
        &self,
        runtime: &DockerRuntime,
        results: &mut CheckResults,
        path: &Path,
    ) -> anyhow::Result<()> {
        let (name, signal) = tokio::select! {
            done = self.all(runtime, results, path) => return done,
            signal = crate::error::interrupt_signal() => signal,
        };
        let _ = runtime.sweep().await;
        for &variant in &self.plan.variants {
            image::remove_if_built_by(self.docker, &self.tag(variant), &self.run_id).await;
        }
        Err(crate::error::HarnessError::Interrupted {
            name,
            signal,
            results: path.display().to_string(),
        }
        .into())
    }

    async fn all(
        &self,
        runtime: &DockerRuntime,
        results: &mut CheckResults,
        path: &Path,
    ) -> anyhow::Result<()> {
        for &variant in &self.plan.variants {
            let step = self.progress.step(format!("checking {variant}"));
            let checked = self.one(runtime, variant).await;
            let _ = runtime.sweep().await;
            step.done(format!("{variant}: {}", line_of(&checked)));
            results.variants.push(checked);
            results.save(path)?;
        }
        Ok(())
    }

    /// The image tag a check builds for `variant` (its own, so a user's images of the
    /// app, and `run`'s, are never touched).
    fn tag(&self, variant: Variant) -> String {
        crate::labels::variant_tag(&self.plan.app.name, &format!("{}-check", variant.name()))
    }

    async fn one(&self, runtime: &DockerRuntime, variant: Variant) -> VariantCheck {
        let mut checked = VariantCheck {
            variant: variant.name(),
            image: None,
            traced: false,
            untraced_reason: None,
            pitfalls: Vec::new(),
            paths: Vec::new(),
            addresses: Vec::new(),
            failures: Failures::default(),
            dns: None,
            error: None,
        };
        let built = match &self.plan.image {
            Some(tag) => Ok(tag.clone()),
            None => self.build(variant).await,
        };
        match built {
            Ok(tag) => {
                checked.image = Some(tag.clone());
                if let Err(e) = self.traced(runtime, variant, &tag, &mut checked).await {
                    checked.error = Some(format!("{e:#}"));
                }
            }
            Err(e) => checked.error = Some(format!("{e:#}")),
        }
        if self.plan.image.is_none() {
            image::remove_if_built_by(self.docker, &self.tag(variant), &self.run_id).await;
        }
        checked
    }

    /// Compiles the variant and builds its image as `run` would, under the check's tag.
    async fn build(&self, variant: Variant) -> anyhow::Result<String> {
        let built = crate::build::compile_variant(&self.root, &self.plan.app, variant, false)
            .await
            .map_err(|(stage, e)| e.context(stage.name()))?;
        let dockerfile = image::dockerfile(variant, &built.elf, &self.debian_tag)?;
        let bytes = built.artifact.read_verified(variant)?;
        let tag = self.tag(variant);
        let mut labels = image::variant_labels(&self.plan.app.name, variant, &self.run_id);
        labels.insert(
            crate::labels::BINARY_SHA256.to_string(),
            built.artifact.sha256.clone(),
        );
        image::build(self.docker, &tag, &dockerfile, &bytes, labels).await?;
        *self.built.lock().expect("not poisoned") = Some((dockerfile, built.artifact.path));
        Ok(tag)
    }

    /// Runs the variant traced under the workload and fills in what was seen.
    async fn traced(
        &self,
        runtime: &DockerRuntime,
        variant: Variant,
        tag: &str,
        checked: &mut VariantCheck,
    ) -> anyhow::Result<()> {
        let out = self.work.join(variant.name());
        std::fs::create_dir_all(&out)?;
        // The app runs as nobody: the tracer, its first process, must be able to write here.
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777))?;
        let (entrypoint, default_args) = entrypoint_of(self.docker, tag).await?;
        let mut spec = StartSpec {
            variant,
            image: Some(tag.to_string()),
            binary: PathBuf::new(),
            args: Vec::new(),
            env: Vec::new(),
            cpus: pinning::cpu_list(&pinning::allowed_cpus()),
            memory_limit: Some(MEMORY_LIMIT),
            purpose: "check".into(),
            wrap: Some(Wrap {
                binary: self.tracer.clone(),
                args: vec![
                    "trace".into(),
                    "--out".into(),
                    format!("{}/{TRACE_FILE}", crate::runtime::WRAP_OUT),
                    "--".into(),
                ],
                entrypoint,
                writable: out.clone(),
                files: self
                    .dns
                    .iter()
                    .map(|(_, file)| (file.clone(), "/etc/resolv.conf".to_string()))
                    .collect(),
            }),
            oci_runtime: None,
        };
        let dns_since = self.dns.as_ref().map(|(stub, _)| stub.now_ms());
        let mut cases = Vec::new();
        let logs = match &self.plan.workload {
            Workload::Server { requests, duration } => {
                let server = self.plan.app.server().context("not a server")?;
                let addr = server.launch.addr()?;
                spec.args = server.launch.args_for(addr);
                spec.env = server.launch.env_for(addr);
                if spec.args.is_empty() {
                    spec.args = default_args;
                }
                let instance = runtime.start(&spec).await?;
                let ready = cold_start::wait_ready(
                    runtime,
                    &instance,
                    addr,
                    &server.ready_path,
                    self.plan.ready_timeout,
                )
                .await;
                match ready {
                    Ok(()) => {
                        for request in requests {
                            let spec = LoadSpec {
                                addr,
                                endpoint: Endpoint::from_request(request)?,
                                concurrency: 1,
                                warmup: Duration::ZERO,
                                duration: *duration,
                                rate: None,
                                cpus: None,
                            };
                            let outcome = crate::measure::loadgen::run_load_blocking(spec).await;
                            checked
                                .failures
                                .requests
                                .push(request_outcome(&request.name, outcome));
                        }
                        if let (Some((stub, _)), Some(path)) = (&self.dns, &server.resolve_path) {
                            for case in dns::cases() {
                                cases.push(ask(stub, addr, path, case).await);
                            }
                        }
                    }
                    Err(e) => checked.failures.not_ready = Some(format!("{:#}", e.with_logs(""))),
                }
                if let Liveness::Exited { code } = runtime.liveness(&instance).await {
                    checked.failures.exit_code = code;
                }
                let logs = runtime.logs(&instance, 200).await;
                let _ = runtime.remove(&instance.id).await;
                logs
            }
            Workload::Batch {
                threads,
                dataset_mb,
            } => {
                let batch = self.plan.app.batch().context("not a batch app")?;
                spec.args = crate::runner::batch::fill(&batch.args, *threads, *dataset_mb);
                spec.env = batch.env.clone();
                let instance = runtime.start(&spec).await?;
                let exit = runtime
                    .wait(
                        &instance,
                        self.plan.ready_timeout.max(Duration::from_secs(300)),
                    )
                    .await;
                let _ = runtime.remove(&instance.id).await;
                let exit = exit?;
                checked.failures.exit_code = Some(exit.code);
                format!("{}{}", exit.stdout, exit.stderr)
            }
        };
        checked.failures.error_lines = error_lines(&logs);
        if let (Some((stub, _)), Some(since)) = (&self.dns, dns_since) {
            checked.dns = Some(DnsCheck {
                cases,
                queries: stub.queries_since(since),
            });
        }
        let trace = Trace::read(&out.join(TRACE_FILE));
        fill_from_trace(checked, trace, &logs);
        Ok(())
    }
}

/// The image's entrypoint, and its command (the arguments when none are given).
async fn entrypoint_of(docker: &Docker, tag: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let inspect = docker
        .inspect_image(tag)
        .await
        .with_context(|| format!("no image {tag} on the daemon"))?;
    let config = inspect.config.unwrap_or_default();
    let entrypoint = config.entrypoint.unwrap_or_default();
    let cmd = config.cmd.unwrap_or_default();
    Ok(match entrypoint.is_empty() {
        true => (cmd, Vec::new()),
        false => (entrypoint, cmd),
    })
}

/// Fills the paths, addresses and verdicts from the trace, or says why there is none.
fn fill_from_trace(checked: &mut VariantCheck, trace: std::io::Result<Trace>, logs: &str) {
    let trace = match trace {
        Ok(trace) => trace,
        Err(e) => {
            let said = logs
                .lines()
                .find(|l| l.starts_with("harness trace:"))
                .map_or(String::new(), |l| format!(" ({l})"));
            checked.untraced_reason = Some(format!("the tracer wrote no trace: {e}{said}"));
            return;
        }
    };
    checked.traced = trace.traced();
    if !checked.traced {
        checked.untraced_reason = Some(
            trace
                .untraceable()
                .unwrap_or("the tracer did not say it traced the app")
                .to_string(),
        );
        return;
    }
    checked.pitfalls = pitfalls::verdicts(&trace);
    let app = pitfalls::app_path(&trace);
    checked.paths = trace
        .paths()
        .filter(|(op, path, _, _)| !(*op == Op::Exec && Some(*path) == app))
        .map(|(op, path, outcome, _)| PathSeen {
            path: path.to_string(),
            op: op.name().into(),
            outcome: outcome.name().into(),
            pitfall: pitfalls::Pitfall::of(op, path),
        })
        .collect();
    checked.addresses = trace
        .addresses()
        .map(|(call, address, outcome)| AddressSeen {
            call: call.into(),
            address: address.into(),
            outcome: outcome.name().into(),
        })
        .collect();
}

/// The progress line of a checked variant.
fn line_of(checked: &VariantCheck) -> String {
    if let Some(e) = &checked.error {
        return format!("check failed: {e}");
    }
    let breaking: Vec<&str> = checked.breaking().map(|v| v.pitfall.name()).collect();
    let files = match (checked.traced, breaking.is_empty()) {
        (false, _) => format!(
            "not traced ({})",
            checked.untraced_reason.as_deref().unwrap_or("")
        ),
        (true, true) => "nothing it reached for is missing".into(),
        (true, false) => format!("missing {}", breaking.join(", ")),
    };
    format!("{files}; failures: {}", checked.failures.summary())
}

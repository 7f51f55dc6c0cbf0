//! One variant's profile: build, start, sample while the workload runs, fold, classify.
//!
//! A server gets a 1 s unsampled warm-up, then perf attaches to its main process (and so
//! every thread) and one load window runs from the load generator's CPUs, the server's CPU
//! time read before and after it. A batch job is created and started, and perf attaches to
//! its process at once (the first milliseconds of the job, before perf is attached, are
//! not sampled); perf ends with the job. Every instance is removed whatever happens; the
//! profiling image too.

use super::{build, perf, Context};
use crate::matrix::Variant;
use crate::measure::cold_start;
use crate::measure::loadgen::{Endpoint, LoadSpec};
use crate::plan::profile::Workload;
use crate::profiles::buckets::Tally;
use crate::profiles::VariantProfile;
use crate::runtime::pinning;
use crate::runtime::{Instance, Liveness, Runtime, StartSpec};
use anyhow::Context as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The containers' memory limit, as `run`'s default.
const MEMORY_LIMIT: u64 = 2 << 30;
/// The unsampled warm-up of a server.
const WARMUP: Duration = Duration::from_secs(1);
/// How long perf may take to attach.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the workload measured besides the samples.
struct Measured {
    requests: Option<u64>,
    cpu_us_per_request: Option<f64>,
    throughput: Option<f64>,
    throughput_unit: Option<String>,
}

impl Context<'_> {
    pub(super) async fn one<R: Runtime>(
        &self,
        runtime: &R,
        variant: Variant,
    ) -> anyhow::Result<(VariantProfile, String)> {
        let binary = build::compile(&self.root, &self.plan.app, variant).await?;
        let image = match self.docker {
            Some(docker) => Some(
                build::image(
                    docker,
                    &self.plan.app,
                    variant,
                    &binary,
                    &self.debian_tag,
                    &self.run_id,
                )
                .await?,
            ),
            None => None,
        };
        let outcome = self.sampled(runtime, variant, &binary, image.clone()).await;
        if let (Some(docker), Some(tag)) = (self.docker, image) {
            crate::build::image::remove_if_built_by(docker, &tag, &self.run_id).await;
        }
        let (data, symfs, measured) = outcome?;
        let folded = perf::folded(&data, symfs.as_deref())?;
        let _ = std::fs::remove_file(&data);
        let tally = Tally::of_folded(&folded);
        if tally.samples == 0 {
            let hint = match self.plan.workload {
                Workload::Batch { .. } => {
                    ": the job may have ended before perf attached (a larger --dataset-mb makes it longer)"
                }
                Workload::Server { .. } => "",
            };
            anyhow::bail!("perf recorded no samples of {variant}{hint}");
        }
        let mut profile = VariantProfile::from_tally(variant, &tally, measured.cpu_us_per_request);
        profile.requests = measured.requests;
        profile.throughput = measured.throughput;
        profile.throughput_unit = measured.throughput_unit;
        Ok((profile, folded))
    }

    /// Starts the variant, samples it under its workload and removes it: the perf data, the
    /// symbol directory (docker) and what the workload measured.
    async fn sampled<R: Runtime>(
        &self,
        runtime: &R,
        variant: Variant,
        binary: &build::ProfilingBinary,
        image: Option<String>,
    ) -> anyhow::Result<(PathBuf, Option<PathBuf>, Measured)> {
        let cpus = pinning::allowed_cpus();
        let (server_cpus, loadgen_cpus) = pinning::split_halves(&cpus);
        let data = self.work.join(format!("{}.perf.data", variant.name()));
        let symfs_dir = self.work.join(format!("{}.symfs", variant.name()));
        let mut spec = StartSpec {
            variant,
            image,
            binary: binary.artifact.path.clone(),
            args: Vec::new(),
            env: Vec::new(),
            cpus: pinning::cpu_list(&cpus),
            memory_limit: Some(MEMORY_LIMIT),
            purpose: "profile".into(),
            wrap: None,
            oci_runtime: None,
        };
        match &self.plan.workload {
            Workload::Server {
                request,
                concurrency,
                duration,
            } => {
                let server = self.plan.app.server().context("not a server")?;
                let addr = server.launch.addr()?;
                spec.args = server.launch.args_for(addr);
                spec.env = server.launch.env_for(addr);
                spec.cpus = pinning::cpu_list(&server_cpus);
                let instance = runtime.start(&spec).await?;
                let result = async {
                    cold_start::wait_ready(
                        runtime,
                        &instance,
                        addr,
                        &server.ready_path,
                        self.plan.ready_timeout,
                    )
                    .await
                    .map_err(|e| e.with_logs(""))?;
                    let load = |duration: Duration| LoadSpec {
                        addr,
                        endpoint: Endpoint::from_request(request).expect("checked by the plan"),
                        concurrency: *concurrency,
                        warmup: Duration::ZERO,
                        duration,
                        rate: None,
                        cpus: Some(loadgen_cpus.clone()),
                    };
                    crate::measure::loadgen::run_load_blocking(load(WARMUP)).await?;
                    let symfs = self.symfs(variant, &instance, binary, &symfs_dir).await?;
                    let meter = runtime.cpu_meter(&instance).await;
                    let recording = attach(runtime, &instance, &data).await?;
                    let before = meter.as_ref().ok().and_then(|m| m.read_ns().ok());
                    let report =
                        crate::measure::loadgen::run_load_blocking(load(*duration)).await?;
                    let after = meter.as_ref().ok().and_then(|m| m.read_ns().ok());
                    recording.stop()?;
                    let requests = report.completed();
                    let cpu = match (before, after) {
                        (Some(b), Some(a)) if requests > 0 => {
                            Some(a.saturating_sub(b) as f64 / 1e3 / requests as f64)
                        }
                        _ => None,
                    };
                    Ok::<_, anyhow::Error>((
                        symfs,
                        Measured {
                            requests: Some(requests),
                            cpu_us_per_request: cpu,
                            throughput: Some(report.rps),
                            throughput_unit: Some("requests/s".into()),
                        },
                    ))
                }
                .await;
                let _ = runtime.remove(&instance.id).await;
                let (symfs, measured) = result?;
                Ok((data, symfs, measured))
            }
            Workload::Batch {
                threads,
                dataset_mb,
            } => {
                let batch = self.plan.app.batch().context("not a batch app")?;
                spec.args = crate::runner::batch::fill(&batch.args, *threads, *dataset_mb);
                spec.env = batch.env.clone();
                let instance = runtime.start(&spec).await?;
                let result = async {
                    let recording = attach(runtime, &instance, &data).await?;
                    let start = Instant::now();
                    let exit = runtime
                        .wait(
                            &instance,
                            self.plan.ready_timeout.max(Duration::from_secs(300)),
                        )
                        .await?;
                    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
                    recording.finish(Duration::from_secs(30)).with_context(|| {
                        format!("the job ran {wall_ms:.0} ms: too short for perf to attach? (a larger --dataset-mb makes it longer)")
                    })?;
                    anyhow::ensure!(
                        exit.code == 0,
                        "the job exited with status {}: {}",
                        exit.code,
                        exit.stderr.trim()
                    );
                    let job = crate::runner::batch::parse_job(batch, wall_ms, &exit.stdout)?;
                    let symfs = self.symfs(variant, &instance, binary, &symfs_dir).await?;
                    Ok::<_, anyhow::Error>((
                        symfs,
                        Measured {
                            requests: None,
                            cpu_us_per_request: None,
                            throughput: Some(job.throughput),
                            throughput_unit: Some(batch.throughput_unit.clone()),
                        },
                    ))
                }
                .await;
                let _ = runtime.remove(&instance.id).await;
                let (symfs, measured) = result?;
                Ok((data, symfs, measured))
            }
        }
    }

    /// The symbol directory of a docker instance; `None` natively (perf finds the files
    /// where the process saw them).
    async fn symfs(
        &self,
        variant: Variant,
        instance: &Instance,
        binary: &build::ProfilingBinary,
        dir: &std::path::Path,
    ) -> anyhow::Result<Option<PathBuf>> {
        match self.docker {
            Some(docker) => Ok(Some(
                build::symfs(docker, &instance.id, variant, binary, dir)
                    .await
                    .context("cannot copy the container's binaries for perf's symbols")?,
            )),
            None => Ok(None),
        }
    }
}

/// Attaches `perf record` to the instance's main process and waits until it has.
async fn attach<R: Runtime>(
    runtime: &R,
    instance: &Instance,
    data: &std::path::Path,
) -> anyhow::Result<perf::Recording> {
    let pid = match runtime.liveness(instance).await {
        Liveness::Running { pid: Ok(pid) } => pid,
        Liveness::Running { pid: Err(why) } => anyhow::bail!("cannot find its process: {why}"),
        other => anyhow::bail!("it is not running ({other:?})"),
    };
    let recording = perf::Recording::start(pid, data)?;
    let start = Instant::now();
    while !recording.attached() {
        anyhow::ensure!(
            start.elapsed() < ATTACH_TIMEOUT,
            "perf record did not attach to pid {pid} within {ATTACH_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(recording)
}

//! The `--fresh-node` phase of a run: push every variant that is still ok to a local
//! registry, then, interleaved across variants, pull and start each on a fresh daemon with
//! an empty data root, and record the figures per variant. A failure marks only its variant.

use super::batch;
use super::phases::{listen_on, server_addr};
use super::Run;
use crate::app::Drive;
use crate::fresh_node::model::Sizes;
use crate::fresh_node::{self, pull, FreshNode, FreshNodeSample, Pushed, Session};
use crate::matrix::Variant;
use crate::measure::{cold_start, stats};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::{Instance, Runtime, StartSpec};
use anyhow::Context;
use bollard::Docker;
use std::collections::HashMap;
use std::sync::Mutex;

/// Per variant: what the registry holds, the samples so far, and the unpacked size.
type Collected = HashMap<Variant, (Pushed, Vec<FreshNodeSample>, u64)>;

impl<R: Runtime> Run<'_, R> {
    pub(super) async fn fresh_nodes(&mut self, main: &Docker, runs: u32) -> anyhow::Result<()> {
        let step = self.progress.step("fresh node: starting a local registry");
        let mut session = Session::start(main.clone()).await?;
        step.done(format!(
            "fresh node: registry on {}",
            session.registry_host()
        ));
        let mut collected = self.push_all(&session).await;
        let variants: Vec<Variant> = self
            .ok_variants()
            .into_iter()
            .filter(|v| collected.contains_key(v))
            .collect();
        let order: Vec<Variant> = stats::interleaved_order(&variants, runs)
            .into_iter()
            .map(|(_, v)| *v)
            .collect();
        let bar = self.progress.bar(
            order.len() as u64,
            "fresh node: pull + start on an empty daemon (interleaved)",
        );
        let mut storage_driver = String::new();
        for variant in order {
            bar.inc();
            if !self.result_mut(variant).is_ok() {
                continue;
            }
            let reference = collected[&variant].0.reference.clone();
            match self.fresh_sample(&mut session, variant, &reference).await {
                Ok((sample, unpacked, driver)) => {
                    let entry = collected.get_mut(&variant).expect("pushed");
                    entry.1.push(sample);
                    entry.2 = unpacked;
                    storage_driver = driver;
                }
                Err(e) => self.fresh_failed(variant, e),
            }
        }
        drop(bar);
        session.stop();
        self.record_fresh(collected, &storage_driver);
        self.save()
    }

    async fn push_all(&mut self, session: &Session) -> Collected {
        let mut collected = Collected::new();
        for variant in self.ok_variants() {
            let launchable = self.artifacts[&variant].clone();
            let Some(tag) = launchable.image else {
                continue;
            };
            let step = self.progress.step(format!("fresh node: pushing {variant}"));
            let sha256 = &launchable.artifact.sha256;
            let checked =
                crate::build::image::check_binary(session.main(), &tag, variant, sha256).await;
            match checked.and(session.push(&tag).await) {
                Ok(pushed) => {
                    step.done(format!(
                        "fresh node: pushed {variant} ({} compressed bytes)",
                        pushed.manifest.compressed_bytes()
                    ));
                    collected.insert(variant, (pushed, Vec::new(), 0));
                }
                Err(e) => {
                    drop(step);
                    self.fresh_failed(variant, e);
                }
            }
        }
        collected
    }

    fn fresh_failed(&mut self, variant: Variant, e: anyhow::Error) {
        self.progress
            .println(format!("{variant}: fresh node failed: {e:#}"));
        self.result_mut(variant)
            .fail("fresh-node", format!("{e:#}"), None);
    }

    /// One repetition on a new, empty daemon: pull, then start → first response (or exit).
    /// Returns the sample, the unpacked size and the daemon's storage driver.
    async fn fresh_sample(
        &self,
        session: &mut Session,
        variant: Variant,
        reference: &str,
    ) -> anyhow::Result<(FreshNodeSample, u64, String)> {
        let node = session.fresh_daemon().await?;
        let measured = async {
            let times = pull::pull(&node.docker, reference).await?;
            let unpacked = fresh_node::image_bytes(&node.docker, reference).await?;
            let start_ms = self.fresh_start(&node.docker, variant, reference).await?;
            anyhow::Ok((times, unpacked, start_ms))
        }
        .await;
        let driver = node.storage_driver.clone();
        let log = node.log_tail();
        node.stop();
        let (times, unpacked, start_ms) =
            measured.with_context(|| format!("on a fresh dockerd ({driver}); its log: {log}"))?;
        let sample = FreshNodeSample {
            pull_ms: times.pull_ms,
            download_ms: times.download_ms,
            unpack_ms: times.unpack_ms,
            start_ms,
            first_response_ms: times.pull_ms + start_ms,
        };
        Ok((sample, unpacked, driver))
    }

    /// Create → first good response (servers) or → exit (batch), with the settings of the
    /// run's cold starts; the container is removed before the daemon stops.
    async fn fresh_start(
        &self,
        docker: &Docker,
        variant: Variant,
        reference: &str,
    ) -> anyhow::Result<f64> {
        let run_id = self.path.file_stem().map_or_else(
            || "fresh-node".to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let runtime = DockerRuntime::new(docker.clone(), &run_id, &self.plan.app.name);
        let started: Mutex<Option<String>> = Mutex::default();
        let track = |i: &Instance| *started.lock().expect("not poisoned") = Some(i.id.clone());
        let timeout = self.plan.ready_timeout;
        let outcome = match &self.plan.app.drive {
            Drive::Server(server) => {
                let addr = server_addr(server)?;
                let spec = self.fresh_spec(variant, reference, listen_on(server, addr))?;
                let path = &server.ready_path;
                cold_start::server_once(&runtime, &spec, addr, path, timeout, &track)
                    .await
                    .map(|(ms, _)| ms)
            }
            Drive::Batch(job) => {
                let args = batch::fill(&job.cold_args, 1, self.plan.dataset_mb);
                let spec = self.fresh_spec(variant, reference, (args, job.env.clone()))?;
                cold_start::exit_once(&runtime, &spec, timeout, &track)
                    .await
                    .map(|(ms, _)| ms)
            }
        };
        let id = started.lock().expect("not poisoned").take();
        if let Some(id) = id {
            let _ = runtime.remove(&id).await;
        }
        outcome
    }

    /// The run's cold-start settings, with the image as the fresh node knows it.
    fn fresh_spec(
        &self,
        variant: Variant,
        reference: &str,
        launch: (Vec<String>, Vec<(String, String)>),
    ) -> anyhow::Result<StartSpec> {
        let mut spec = self.spec(variant, launch, &self.server_cpus, "fresh-node")?;
        spec.image = Some(reference.to_string());
        Ok(spec)
    }

    fn record_fresh(&mut self, collected: Collected, storage_driver: &str) {
        for (variant, (pushed, samples, unpacked_bytes)) in collected {
            let sizes = Sizes {
                storage_driver: storage_driver.to_string(),
                compressed_bytes: pushed.manifest.compressed_bytes(),
                unpacked_bytes,
                layers: pushed.manifest.layer_bytes.len() as u32,
            };
            let result = self.result_mut(variant);
            if !result.is_ok() {
                continue;
            }
            result.fresh_node = FreshNode::from_samples(sizes, samples);
            if let Some(f) = &result.fresh_node {
                let line = format!(
                    "fresh node: {variant}: first response {:.0} ms (pull {:.0} = download {:.0} + unpack {:.0}, start {:.0}; medians of {})",
                    f.first_response_ms.median,
                    f.pull_ms.median,
                    f.download_ms.median,
                    f.unpack_ms.median,
                    f.start_ms.median,
                    f.first_response_ms.n
                );
                self.progress.println(line);
            }
        }
    }
}

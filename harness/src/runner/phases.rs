//! The measuring phases of a server run, and the cold starts every run has: interleaved cold
//! starts, then load windows per variant, one per request × concurrency. Each failure marks
//! only its variant failed, with the reason and the instance's last output, and the run
//! goes on. Batch jobs are in `batch`.

use super::{batch, Run};
use crate::app::{Drive, RequestSpec, ServerDrive};
use crate::matrix::Variant;
use crate::measure::cold_start;
use crate::measure::loadgen::{self, Endpoint, LoadSpec};
use crate::measure::{pinning, stats};
use crate::results::ColdStart;
use crate::runtime::{logs_of, retry, Instance, InstanceFailed, Runtime, StartSpec};
use anyhow::Context;
use std::collections::HashMap;
use std::net::SocketAddr;

impl<R: Runtime> Run<'_, R> {
    pub(super) fn spec(
        &self,
        variant: Variant,
        (args, env): (Vec<String>, Vec<(String, String)>),
        cpus: &[usize],
        purpose: &str,
    ) -> anyhow::Result<StartSpec> {
        let launchable = self
            .artifacts
            .get(&variant)
            .with_context(|| format!("{variant} has no build"))?;
        // A binary runs from its path only natively; the check stays outside any timing.
        if launchable.image.is_none() {
            launchable.artifact.verify(variant)?;
        }
        Ok(StartSpec {
            variant,
            image: launchable.image.clone(),
            binary: launchable.artifact.path.clone(),
            args,
            env,
            cpus: pinning::cpu_list(cpus),
            memory_limit: self.plan.memory_limit,
            purpose: purpose.into(),
        })
    }

    pub(super) fn tracker(&self) -> impl Fn(&Instance) + '_ {
        move |instance: &Instance| {
            self.live
                .lock()
                .expect("not poisoned")
                .insert(instance.id.clone(), instance.variant);
        }
    }

    /// One cold start (create → first 200, or → exit of the cold job) and, when the app has
    /// a `version_arg`, one run of it (create → first output).
    async fn cold_start_pair(&self, variant: Variant) -> anyhow::Result<(f64, Option<f64>)> {
        let timeout = self.plan.ready_timeout;
        let cpus = self.server_cpus.clone();
        let track = self.tracker();
        let cold = match &self.plan.app.drive {
            Drive::Server(server) => {
                let addr = free_addr()?;
                let spec = self.spec(variant, listen_on(server, addr), &cpus, "cold-start")?;
                let ms = cold_start::server_once(
                    self.runtime,
                    &spec,
                    addr,
                    &server.ready_path,
                    timeout,
                    &track,
                )
                .await;
                self.release().await;
                ms?
            }
            Drive::Batch(batch) => {
                let args = batch::fill(&batch.cold_args, 1, self.plan.dataset_mb);
                let spec = self.spec(variant, (args, Vec::new()), &cpus, "cold-start")?;
                let outcome = cold_start::exit_once(self.runtime, &spec, timeout, &track).await;
                self.release().await;
                outcome?.0
            }
        };
        let Some(version_arg) = self.plan.app.version_arg.clone() else {
            return Ok((cold, None));
        };
        let spec = self.spec(
            variant,
            (vec![version_arg.clone()], Vec::new()),
            &cpus,
            "process-start",
        )?;
        let outcome = cold_start::process_start_once(self.runtime, &spec, timeout, &track).await;
        self.release().await;
        let process = outcome.with_context(|| format!("`{version_arg}` run failed"))?;
        Ok((cold, Some(process)))
    }

    pub(super) async fn cold_starts(&mut self) -> anyhow::Result<()> {
        let variants = self.ok_variants();
        let order: Vec<Variant> = stats::interleaved_order(&variants, self.plan.runs)
            .into_iter()
            .map(|(_, v)| *v)
            .collect();
        let bar = self
            .progress
            .bar(order.len() as u64, "cold starts (interleaved)");
        let mut samples: HashMap<Variant, (Vec<f64>, Vec<f64>)> = HashMap::new();
        for variant in order {
            bar.inc();
            if !self.result_mut(variant).is_ok() {
                continue;
            }
            match self.cold_start_pair(variant).await {
                Ok((cold, process)) => {
                    let entry = samples.entry(variant).or_default();
                    entry.0.push(cold);
                    entry.1.extend(process);
                }
                Err(e) if retry::is_api_failure(&e) => return Err(e),
                Err(e) => {
                    self.progress
                        .println(format!("{variant}: cold start failed: {e:#}"));
                    self.result_mut(variant)
                        .fail("cold-start", format!("{e:#}"), logs_of(&e));
                }
            }
        }
        drop(bar);
        self.record_launched();
        for (variant, (cold, process)) in samples {
            let result = self.result_mut(variant);
            if let (true, Some(cold_start_ms)) = (result.is_ok(), stats::summarize(&cold)) {
                result.cold_start = Some(ColdStart {
                    samples_ms: cold,
                    cold_start_ms,
                    process_start_ms: stats::summarize(&process),
                    process_start_samples_ms: process,
                });
            }
        }
        self.save()
    }

    pub(super) async fn loads(&mut self) -> anyhow::Result<()> {
        for variant in self.ok_variants() {
            let outcome = self.load_variant(variant).await;
            let peak = match &outcome {
                Ok(instance) => Some(self.runtime.peak_memory(instance).await),
                Err(_) => None,
            };
            self.release().await;
            self.record_launched();
            match outcome {
                Ok(_) if !self.result_mut(variant).is_ok() => {}
                Ok(_) => {
                    let peak = peak.expect("read for every measured server");
                    let result = self.result_mut(variant);
                    if let Some(warning) = result.record_memory(&peak.process, &peak.container) {
                        self.progress.println(format!("warning: {warning}"));
                    }
                }
                Err(e) if retry::is_api_failure(&e) => return Err(e),
                Err(e) => {
                    self.progress
                        .println(format!("{variant}: load failed: {e:#}"));
                    self.result_mut(variant)
                        .fail("load", format!("{e:#}"), logs_of(&e));
                }
            }
            self.save()?;
        }
        Ok(())
    }

    /// Starts one server and runs every request × concurrency window against it.
    async fn load_variant(&mut self, variant: Variant) -> anyhow::Result<Instance> {
        let server = self.plan.app.server().context("not a server")?.clone();
        let addr = free_addr()?;
        let spec = self.spec(
            variant,
            listen_on(&server, addr),
            &self.server_cpus.clone(),
            "load",
        )?;
        let instance = self.runtime.start(&spec).await?;
        self.tracker()(&instance);
        if let Err(e) = cold_start::wait_ready(
            self.runtime,
            &instance,
            addr,
            &server.ready_path,
            self.plan.ready_timeout,
        )
        .await
        {
            let logs = self.runtime.logs(&instance, 20).await;
            return Err(e.with_logs(&logs));
        }
        let windows: Vec<(&RequestSpec, u32)> = self
            .plan
            .requests
            .iter()
            .flat_map(|r| self.plan.concurrency.iter().map(move |&c| (r, c)))
            .collect();
        let bar = self
            .progress
            .bar(windows.len() as u64, format!("load on {variant}"));
        for (request, concurrency) in windows {
            let endpoint = &request.name;
            bar.set_message(format!(
                "{variant}: {endpoint} at {concurrency} connections"
            ));
            let spec = LoadSpec {
                addr,
                endpoint: Endpoint::from_request(request)?,
                concurrency,
                warmup: self.plan.warmup,
                duration: self.plan.duration,
                rate: self.plan.rate,
                cpus: (!self.loadgen_cpus.is_empty()).then(|| self.loadgen_cpus.clone()),
            };
            let report = tokio::task::spawn_blocking(move || loadgen::run_load(&spec)).await??;
            bar.inc();
            self.check_window(&instance, request, &report).await?;
            self.result_mut(variant).load.push(report.to_result());
        }
        Ok(instance)
    }

    /// Fails the variant when the server died during a window or answered every request
    /// with an unexpected status; warns when the load generator was the bottleneck.
    async fn check_window(
        &mut self,
        instance: &Instance,
        request: &RequestSpec,
        report: &loadgen::LoadReport,
    ) -> anyhow::Result<()> {
        let (variant, endpoint, concurrency) =
            (instance.variant, &request.name, report.concurrency);
        if report.errors() > 0 {
            let window = report.to_result();
            let died = !self.runtime.is_running(instance).await?;
            // Dead, or alive and hung: either way the window measured nothing.
            if died || window.requests == 0 {
                // The window is kept: its error count is the evidence.
                self.result_mut(variant).load.push(window);
                let what = if died {
                    "the server died"
                } else {
                    "the server answered no request"
                };
                return Err(InstanceFailed {
                    reason: format!(
                        "{what} during {endpoint} at {concurrency} connections ({} errors, first: {})",
                        report.errors(),
                        report.first_error.as_deref().unwrap_or("-"),
                    ),
                    logs: self.runtime.logs(instance, 20).await,
                }
                .into());
            }
        }
        if report.loadgen_bound {
            self.progress.println(format!(
                "warning: {variant} {endpoint} c={concurrency}: the load generator used {:.0}% CPU and was probably the bottleneck",
                report.loadgen_cpu_percent
            ));
        }
        let unexpected = report.to_result().non_2xx;
        if unexpected > 0 && unexpected == report.completed() {
            anyhow::bail!(
                "every response to {} {} was unexpected: expected status {} ({unexpected} of {}); check `path`/`expect_status` in [package.metadata.harness.requests]",
                request.method,
                request.path,
                request.expect_status,
                report.completed()
            );
        }
        Ok(())
    }
}

/// The arguments and environment that make `server` listen on `addr`.
pub(super) fn listen_on(
    server: &ServerDrive,
    addr: SocketAddr,
) -> (Vec<String>, Vec<(String, String)>) {
    (server.port.args(addr), server.port.env(addr))
}

/// A free loopback address: bind port 0, read it, release it.
fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::PortArg;

    #[test]
    fn each_port_setting_reaches_the_app() {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let server = |port| ServerDrive {
            port,
            ready_path: "/".into(),
            requests: Vec::new(),
        };
        let env = listen_on(&server(PortArg::Env("PORT".into())), addr);
        assert_eq!(env, (vec![], vec![("PORT".into(), "4321".into())]));
        let flag = listen_on(&server(PortArg::AddrFlag("--listen".into())), addr);
        assert_eq!(flag.0, ["--listen", "127.0.0.1:4321"]);
        let port = listen_on(&server(PortArg::PortFlag("-p".into())), addr);
        assert_eq!(
            (port.0.as_slice(), port.1.is_empty()),
            (&["-p".to_string(), "4321".to_string()][..], true)
        );
    }
}

//! The measuring phases of a run: interleaved cold starts, load windows per variant, and
//! interleaved crunch jobs per thread count. Each failure marks only its variant failed,
//! with the reason and the instance's last output, and the run goes on.

use super::Run;
use crate::matrix::Variant;
use crate::measure::cold_start;
use crate::measure::loadgen::{self, Endpoint, LoadSpec};
use crate::measure::{pinning, stats};
use crate::results::{ColdStart, CrunchResult};
use crate::runtime::{logs_of, retry, Instance, InstanceFailed, Runtime, StartSpec};
use anyhow::Context;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The tiny job a batch cold start runs: generate 10 kB, crunch it once on one thread.
const BATCH_COLD_ARGS: [&str; 4] = ["--size-mb", "0.01", "--threads", "1"];
/// Crunch rounds per job (the app reports their mean throughput).
const CRUNCH_ROUNDS: u32 = 2;

impl<R: Runtime> Run<'_, R> {
    fn spec(
        &self,
        variant: Variant,
        args: Vec<String>,
        cpus: &[usize],
        purpose: &str,
    ) -> StartSpec {
        let (binary, image) = self.artifacts[&variant].clone();
        StartSpec {
            variant,
            image,
            binary,
            args,
            cpus: pinning::cpu_list(cpus),
            memory_limit: self.plan.memory_limit,
            purpose: purpose.into(),
        }
    }

    fn tracker(&self) -> impl Fn(&Instance) + '_ {
        move |instance: &Instance| {
            self.live
                .lock()
                .expect("not poisoned")
                .insert(instance.id.clone());
        }
    }

    /// One cold start (create → first 200, or → exit of a tiny job) and one `--version` run.
    async fn cold_start_pair(&self, variant: Variant) -> anyhow::Result<(f64, f64)> {
        let timeout = self.plan.ready_timeout;
        let cpus = self.server_cpus.clone();
        let track = self.tracker();
        let cold = if self.plan.is_server() {
            let addr = free_addr()?;
            let args = vec![self.plan.app.addr_flag.clone(), addr.to_string()];
            let spec = self.spec(variant, args, &cpus, "cold-start");
            let ms = cold_start::server_once(
                self.runtime,
                &spec,
                addr,
                &self.plan.app.ready_path,
                timeout,
                &track,
            )
            .await;
            self.release().await;
            ms?
        } else {
            let spec = self.spec(
                variant,
                BATCH_COLD_ARGS.iter().map(|s| s.to_string()).collect(),
                &cpus,
                "cold-start",
            );
            let outcome = cold_start::exit_once(self.runtime, &spec, timeout, &track).await;
            self.release().await;
            outcome?.0
        };
        let spec = self.spec(variant, vec!["--version".into()], &cpus, "process-start");
        let outcome = cold_start::process_start_once(self.runtime, &spec, timeout, &track).await;
        self.release().await;
        let process = outcome.context("`--version` run failed")?;
        Ok((cold, process))
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
                    entry.1.push(process);
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
        for (variant, (cold, process)) in samples {
            let result = self.result_mut(variant);
            if let (true, Some(cold_start_ms), Some(process_start_ms)) = (
                result.is_ok(),
                stats::summarize(&cold),
                stats::summarize(&process),
            ) {
                result.cold_start = Some(ColdStart {
                    samples_ms: cold,
                    cold_start_ms,
                    process_start_samples_ms: process,
                    process_start_ms,
                });
            }
        }
        self.save()
    }

    pub(super) async fn loads(&mut self) -> anyhow::Result<()> {
        for variant in self.ok_variants() {
            let outcome = self.load_variant(variant).await;
            let peak = match &outcome {
                Ok(instance) => self.runtime.peak_memory(instance).await,
                Err(_) => None,
            };
            self.release().await;
            match outcome {
                Ok(_) => {
                    let result = self.result_mut(variant);
                    result.peak_memory_bytes = peak.as_ref().map(|p| p.0);
                    result.memory_method = peak.map(|p| p.1);
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

    /// Starts one server and runs every endpoint × concurrency window against it.
    async fn load_variant(&mut self, variant: Variant) -> anyhow::Result<Instance> {
        let addr = free_addr()?;
        let args = vec![self.plan.app.addr_flag.clone(), addr.to_string()];
        let spec = self.spec(variant, args, &self.server_cpus.clone(), "load");
        let instance = self.runtime.start(&spec).await?;
        self.tracker()(&instance);
        if let Err(e) = cold_start::wait_ready(
            self.runtime,
            &instance,
            addr,
            &self.plan.app.ready_path,
            self.plan.ready_timeout,
        )
        .await
        {
            let logs = self.runtime.logs(&instance, 20).await;
            return Err(e.with_logs(&logs));
        }
        let windows: Vec<(String, u32)> = self
            .plan
            .endpoints
            .iter()
            .flat_map(|e| self.plan.concurrency.iter().map(move |&c| (e.clone(), c)))
            .collect();
        let bar = self
            .progress
            .bar(windows.len() as u64, format!("load on {variant}"));
        for (endpoint, concurrency) in windows {
            bar.set_message(format!(
                "{variant}: {endpoint} at {concurrency} connections"
            ));
            let spec = LoadSpec {
                addr,
                endpoint: Endpoint::for_path(&endpoint).context("unknown endpoint")?,
                concurrency,
                warmup: self.plan.warmup,
                duration: self.plan.duration,
                rate: self.plan.rate,
                cpus: (!self.loadgen_cpus.is_empty()).then(|| self.loadgen_cpus.clone()),
            };
            let report = tokio::task::spawn_blocking(move || loadgen::run_load(&spec)).await??;
            bar.inc();
            if report.errors() > 0 {
                let window = report.to_result();
                let died = !self.runtime.is_running(&instance).await?;
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
                        logs: self.runtime.logs(&instance, 20).await,
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
            self.result_mut(variant).load.push(report.to_result());
        }
        Ok(instance)
    }

    pub(super) async fn crunches(&mut self) -> anyhow::Result<()> {
        let variants = self.ok_variants();
        let cpus = self.server_cpus.clone();
        let timeout = self.plan.ready_timeout.max(Duration::from_secs(300));
        for &threads in &self.plan.threads.clone() {
            let order: Vec<Variant> = stats::interleaved_order(&variants, self.plan.runs)
                .into_iter()
                .map(|(_, v)| *v)
                .collect();
            let bar = self.progress.bar(
                order.len() as u64,
                format!("crunch on {threads} threads (interleaved)"),
            );
            let mut samples: HashMap<Variant, (Vec<f64>, String, u64)> = HashMap::new();
            for variant in order {
                bar.inc();
                if !self.result_mut(variant).is_ok() {
                    continue;
                }
                let args = crunch_args(self.plan.dataset_mb, threads);
                let spec = self.spec(variant, args, &cpus, "crunch");
                let outcome = {
                    let track = self.tracker();
                    cold_start::exit_once(self.runtime, &spec, timeout, &track).await
                };
                self.release().await;
                match outcome.and_then(|(_, stdout)| parse_crunch_line(&stdout)) {
                    Ok(line) => {
                        let entry = samples.entry(variant).or_default();
                        entry.0.push(line.mb_per_s);
                        entry.1 = line.checksum;
                        entry.2 = entry.2.max(line.max_rss_bytes);
                    }
                    Err(e) if retry::is_api_failure(&e) => return Err(e),
                    Err(e) => {
                        self.result_mut(variant)
                            .fail("crunch", format!("{e:#}"), logs_of(&e))
                    }
                }
            }
            drop(bar);
            self.record_crunch(threads, samples);
            self.save()?;
        }
        Ok(())
    }

    fn record_crunch(&mut self, threads: u32, samples: HashMap<Variant, (Vec<f64>, String, u64)>) {
        let checksums: std::collections::BTreeSet<&String> =
            samples.values().map(|s| &s.1).collect();
        let mismatch = checksums.len() > 1;
        for (variant, (mb_per_s, checksum, peak)) in &samples {
            let result = self.result_mut(*variant);
            if mismatch {
                result.fail(
                    "crunch",
                    format!(
                        "checksums differ between variants at {threads} threads: {checksums:?}"
                    ),
                    None,
                );
                continue;
            }
            if let Some(summary) = stats::summarize(mb_per_s) {
                result.crunch.push(CrunchResult {
                    threads,
                    samples_mb_per_s: mb_per_s.clone(),
                    mb_per_s: summary,
                    checksum: checksum.clone(),
                });
                result.peak_memory_bytes = Some(result.peak_memory_bytes.unwrap_or(0).max(*peak));
                result.memory_method = Some("getrusage ru_maxrss reported by json-cruncher".into());
            }
        }
    }
}

fn crunch_args(dataset_mb: f64, threads: u32) -> Vec<String> {
    let args = [
        "--size-mb",
        &dataset_mb.to_string(),
        "--threads",
        &threads.to_string(),
        "--rounds",
        &CRUNCH_ROUNDS.to_string(),
    ];
    args.iter().map(|s| s.to_string()).collect()
}

/// The fields of json-cruncher's one output line that a run records.
#[derive(Debug, PartialEq)]
pub struct CrunchLine {
    pub mb_per_s: f64,
    pub checksum: String,
    pub max_rss_bytes: u64,
}

pub fn parse_crunch_line(stdout: &str) -> anyhow::Result<CrunchLine> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("json-cruncher printed no result line")?;
    let value: serde_json::Value =
        serde_json::from_str(line).context("json-cruncher's result line is not JSON")?;
    let mb_per_s = value["mb_per_s"]
        .as_f64()
        .filter(|v| *v > 0.0)
        .context("result line has no positive mb_per_s")?;
    let checksum = value["checksum"]
        .as_str()
        .context("result line has no checksum")?
        .to_string();
    let max_rss_bytes = value["max_rss_kb"].as_u64().unwrap_or(0) * 1024;
    Ok(CrunchLine {
        mb_per_s,
        checksum,
        max_rss_bytes,
    })
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

    #[test]
    fn crunch_lines_parse_and_bad_ones_are_named() {
        let line = r#"{"bytes":10,"mb_per_s":12.5,"checksum":"00ff","max_rss_kb":2}"#;
        let parsed = parse_crunch_line(&format!("noise\n{line}\n")).unwrap();
        assert_eq!(
            parsed,
            CrunchLine {
                mb_per_s: 12.5,
                checksum: "00ff".into(),
                max_rss_bytes: 2048
            }
        );
        assert!(parse_crunch_line("")
            .unwrap_err()
            .to_string()
            .contains("no result line"));
        assert!(parse_crunch_line(r#"{"mb_per_s":0,"checksum":"x"}"#).is_err());
    }
}

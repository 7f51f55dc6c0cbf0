//! What every run measures first, and the pieces its phases share: how a variant is
//! started (`spec`, tracked instances), and cold starts in shuffled rounds. Each failure
//! marks only its variant failed, with the reason and the instance's last output, and the
//! run goes on. Load rounds are in `load`, batch jobs in `batch`.

use super::arms::{self, Arm};
use super::{batch, Run};
use crate::app::{Drive, ServerDrive};
use crate::measure::cold_start;
use crate::measure::stats;
use crate::results::ColdStart;
use crate::runtime::pinning;
use crate::runtime::{Instance, Runtime, StartSpec};
use anyhow::Context;
use std::collections::HashMap;
use std::net::SocketAddr;

impl<R: Runtime> Run<'_, R> {
    /// How `arm` (a variant, or a variant's control or runtime arm) is started.
    pub(super) fn spec(
        &self,
        arm: impl Into<Arm>,
        (args, env): (Vec<String>, Vec<(String, String)>),
        cpus: &[usize],
        purpose: &str,
    ) -> anyhow::Result<StartSpec> {
        let arm = arm.into();
        let variant = arm.variant();
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
            wrap: None,
            oci_runtime: self.oci_runtime_of(arm),
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
    async fn cold_start_pair(&self, arm: Arm) -> anyhow::Result<ColdSample> {
        let timeout = self.plan.ready_timeout;
        let cpus = self.server_cpus.clone();
        let track = self.tracker();
        let (cold, engine) = match &self.plan.app.drive {
            Drive::Server(server) => {
                let addr = self.listen_addr(server).await?;
                let spec = self.spec(arm, listen_on(server, addr), &cpus, "cold-start")?;
                let ms = self
                    .server_cold_start(&spec, addr, &server.ready_path)
                    .await;
                self.release().await;
                ms?
            }
            Drive::Batch(batch) => {
                let args = batch::fill(&batch.cold_args, 1, self.plan.dataset_mb);
                let spec = self.spec(arm, (args, batch.env.clone()), &cpus, "cold-start")?;
                let outcome = cold_start::exit_once(self.runtime, &spec, timeout, &track).await;
                self.release().await;
                (outcome?.0, None)
            }
        };
        let Some(version_arg) = self.plan.app.version_arg.clone() else {
            return Ok(ColdSample {
                cold,
                process: None,
                engine,
            });
        };
        let spec = self.spec(
            arm,
            (vec![version_arg.clone()], Vec::new()),
            &cpus,
            "process-start",
        )?;
        let outcome = cold_start::process_start_once(self.runtime, &spec, timeout, &track).await;
        self.release().await;
        let process = outcome.with_context(|| format!("`{version_arg}` run failed"))?;
        Ok(ColdSample {
            cold,
            process: Some(process),
            engine,
        })
    }

    /// Cold starts in rounds: one warm-up round (discarded: the first start of an image
    /// pays for cold page caches), then `--runs` rounds, every arm (variants and the A/A
    /// control) once per round in a seeded shuffled order, so drift and order effects
    /// spread over all of them. Each arm's cold starts pair with the baseline's by round.
    pub(super) async fn cold_starts(&mut self) -> anyhow::Result<()> {
        let arms = self.ok_arms();
        let order: Vec<(u32, Arm)> = (0..=self.plan.runs)
            .flat_map(|round| {
                let shuffled = stats::shuffled(&arms, u64::from(round));
                shuffled.into_iter().map(move |a| (round, a))
            })
            .collect();
        let bar = self.progress.bar(
            order.len() as u64,
            "cold starts (interleaved): 1 warm-up round, then shuffled rounds",
        );
        let mut samples: HashMap<Arm, ArmSamples> = HashMap::new();
        for (round, arm) in order {
            bar.inc();
            if !self.arm_result_mut(arm).is_ok() {
                continue;
            }
            match self.cold_start_pair(arm).await {
                Ok(_) if round == 0 => {}
                Ok(sample) => {
                    let entry = samples.entry(arm).or_default();
                    entry.rounds.push(round);
                    entry.cold.push(sample.cold);
                    entry.process.extend(sample.process);
                    if let Some(engine) = sample.engine {
                        entry.create.push(engine.create_ms);
                        entry.start.push(engine.start_ms);
                    }
                }
                Err(e) => self.fail_arm(arm, "cold-start", e)?,
            }
        }
        drop(bar);
        self.record_launched();
        let tagged: HashMap<Arm, Vec<(u32, f64)>> = samples
            .iter()
            .map(|(arm, s)| (*arm, arms::by_round(&s.rounds, &s.cold)))
            .collect();
        for (arm, s) in samples {
            let pairing = self.pairing_of(arm);
            let ratio = arms::paired(&tagged[&arm], &pairing, |a| {
                tagged.get(&a).map(Vec::as_slice)
            });
            let result = self.arm_result_mut(arm);
            if let (true, Some(cold_start_ms)) = (result.is_ok(), stats::summarize(&s.cold)) {
                result.cold_start = Some(ColdStart {
                    samples_ms: s.cold,
                    cold_start_ms,
                    process_start_ms: stats::summarize(&s.process),
                    process_start_samples_ms: s.process,
                    ratio_to_baseline: ratio,
                    create_ms: stats::summarize(&s.create),
                    create_samples_ms: s.create,
                    start_ms: stats::summarize(&s.start),
                    start_samples_ms: s.start,
                });
            }
        }
        self.adjust_ratios();
        self.save()
    }
}

/// One arm's cold starts: the round of each, the cold start, the process start, and the
/// engine's create and start calls of each cold start (docker).
#[derive(Default)]
struct ArmSamples {
    rounds: Vec<u32>,
    cold: Vec<f64>,
    process: Vec<f64>,
    create: Vec<f64>,
    start: Vec<f64>,
}

/// One cold start: create → first response (or the job's exit), the process start where
/// the app has a `version_arg`, and the engine's share where the runtime tells.
struct ColdSample {
    cold: f64,
    process: Option<f64>,
    engine: Option<crate::runtime::EngineTimes>,
}

/// The arguments and environment that make `server` listen on `addr`.
pub(super) fn listen_on(
    server: &ServerDrive,
    addr: SocketAddr,
) -> (Vec<String>, Vec<(String, String)>) {
    (server.launch.args_for(addr), server.launch.env_for(addr))
}

/// Where `server` is started: its fixed port, or a free loopback port (bind port 0, read
/// it, release it).
pub(super) fn server_addr(server: &ServerDrive) -> anyhow::Result<SocketAddr> {
    server
        .launch
        .addr()
        .with_context(|| match server.launch.fixed_port {
            Some(port) => format!("cannot use 127.0.0.1:{port}"),
            None => "cannot find a free port on 127.0.0.1".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::launch::{Launch, LaunchFields};

    #[test]
    fn each_launch_setting_reaches_the_app() {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let server = |fields: LaunchFields| ServerDrive {
            launch: Launch::from_fields(&fields).unwrap(),
            ready_path: "/".into(),
            requests: Vec::new(),
            resolve_path: None,
            upstream: false,
            check_requests: Vec::new(),
        };
        let env = listen_on(&server(LaunchFields::default()), addr);
        assert_eq!(env, (vec![], vec![("PORT".into(), "4321".into())]));
        let flag = listen_on(
            &server(LaunchFields {
                addr_flag: Some("--listen"),
                ..Default::default()
            }),
            addr,
        );
        assert_eq!(flag.0, ["--listen", "127.0.0.1:4321"]);
        let fixed = server(LaunchFields {
            port: Some(8080),
            ..Default::default()
        });
        let addr = server_addr(&fixed).unwrap();
        assert_eq!(addr.port(), 8080);
        assert_eq!(listen_on(&fixed, addr), (vec![], vec![]));
    }
}

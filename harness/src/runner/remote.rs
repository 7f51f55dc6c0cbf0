//! A run measured by the agent: whether to use it (`--agent`), the facts of the daemon's
//! host that replace this machine's in the results (CPUs, kernel, cgroups, CPU model), and
//! starting the agent container pinned to the load CPUs of that host.

use super::measurer::Measurer;
use super::Run;
use crate::agent::{self, Agent, Request};
use crate::measure::AgentMode;
use crate::runtime::pinning;
use crate::runtime::retry::{self, Call};
use crate::runtime::Runtime;
use bollard::Docker;
use std::time::Duration;

/// Whether `host` is measured by the agent under `mode`: `auto` uses it unless the daemon
/// is this machine's unix socket.
pub fn wants_agent(mode: AgentMode, host: &str) -> bool {
    match mode {
        AgentMode::Always => true,
        AgentMode::Never => false,
        AgentMode::Auto => !host.starts_with("unix://"),
    }
}

/// What the daemon says about its host.
pub struct Daemon {
    pub cpus: usize,
    pub kernel: Option<String>,
    pub cgroup_version: Option<u32>,
}

impl Daemon {
    pub async fn read(docker: &Docker) -> anyhow::Result<Daemon> {
        let info = retry::run_call("read the daemon's info", Call::Read, || docker.info()).await?;
        Ok(Daemon {
            cpus: info.ncpu.unwrap_or(1).max(1) as usize,
            kernel: info.kernel_version,
            cgroup_version: info.cgroup_version.and_then(|v| v.to_string().parse().ok()),
        })
    }
}

impl<R: Runtime> Run<'_, R> {
    /// Builds and sends the agent, starts it on the daemon's host pinned to that host's
    /// load CPUs, and records the host's facts in place of this machine's.
    pub(super) async fn use_agent(
        &mut self,
        docker: &Docker,
        daemon: &Daemon,
    ) -> anyhow::Result<()> {
        let step = self
            .progress
            .step("building the measuring agent and sending it to the daemon");
        let binary = agent::image::binary(&crate::app::workspace_root()).await?;
        let image = agent::image::ensure(docker, &binary).await?;
        let all: Vec<usize> = (0..daemon.cpus).collect();
        let (server, load) = if self.plan.is_server() {
            pinning::split_halves(&all)
        } else {
            (all.clone(), all.clone())
        };
        let cpus = pinning::cpu_list(&load);
        let run_id = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let owner = agent::client::Owner {
            run_id: &run_id,
            app: &self.plan.app.name,
            cpus: &cpus,
        };
        let agent = Agent::start(docker, &image, &owner).await?;
        let model: Result<String, _> = agent.call(Request::CpuModel, Duration::from_secs(30)).await;
        let model = match model {
            Ok(model) => model,
            Err(e) => {
                agent.stop().await;
                return Err(e.context("the measuring agent does not answer"));
            }
        };
        step.done(format!(
            "measuring agent {image} runs on CPUs {cpus} of the daemon's host"
        ));
        let env = &mut self.results.environment;
        env.cpu_model = model;
        env.cpu_count = daemon.cpus as u32;
        if let Some(kernel) = &daemon.kernel {
            env.kernel = kernel.clone();
        }
        env.cgroup_version = daemon.cgroup_version.or(env.cgroup_version);
        if self.plan.is_server() {
            self.server_cpus = server;
            self.loadgen_cpus = load;
        } else {
            self.server_cpus = all;
        }
        let settings = &mut self.results.settings;
        settings.server_cpus = pinning::cpu_list(&self.server_cpus);
        settings.loadgen_cpus = pinning::cpu_list(&self.loadgen_cpus);
        self.measurer = Measurer::Agent(agent);
        settings.measured_by = self.measurer.name().into();
        self.save()
    }
}

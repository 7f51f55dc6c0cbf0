//! Who takes the figures that touch the app: this process (`InProcess`, the default on a
//! local unix socket) or the measuring agent on the daemon's host (`Agent`), which probes,
//! loads and reads cgroups where the app runs. Both give the runner the same types, so the
//! phases do not know which one measured.

use super::phases::server_addr;
use super::Run;
use crate::agent::{Agent, LoadReply, PeakReply, Request};
use crate::app::ServerDrive;
use crate::measure::cold_start::{self, NotReady};
use crate::measure::loadgen::{self, LoadReport, LoadSpec};
use crate::runtime::cgroup::CpuMeter;
use crate::runtime::{Instance, PeakMemory, Runtime, StartSpec};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How often a readiness wait asks the runtime whether the server died.
const LIVENESS_INTERVAL: Duration = Duration::from_millis(200);
/// Slack on top of an agent request's own duration before it counts as lost.
const AGENT_SLACK: Duration = Duration::from_secs(30);

/// Who measures.
pub enum Measurer {
    InProcess,
    Agent(Agent),
}

impl Measurer {
    /// `in-process` or `agent`, as the results record it.
    pub fn name(&self) -> &'static str {
        match self {
            Measurer::InProcess => "in-process",
            Measurer::Agent(_) => "agent",
        }
    }
}

/// How a server's CPU time is read.
pub(super) enum Meter {
    Local(Result<CpuMeter, String>),
    /// By the agent: the server's pid on its host and the method, or why not.
    Agent(Result<(u32, String), String>),
}

impl Meter {
    pub(super) fn method(&self) -> String {
        match self {
            Meter::Local(meter) => meter
                .as_ref()
                .map_or_else(|_| String::new(), CpuMeter::method),
            Meter::Agent(meter) => meter.as_ref().map_or_else(
                |_| String::new(),
                |(_, m)| format!("{m}, read by the agent"),
            ),
        }
    }
}

type Answer = oneshot::Receiver<Result<serde_json::Value, String>>;

impl<R: Runtime> Run<'_, R> {
    /// Where `server` listens: its fixed port, or a free port on the host that runs it.
    pub(super) async fn listen_addr(&self, server: &ServerDrive) -> anyhow::Result<SocketAddr> {
        match (&self.measurer, server.launch.fixed_port) {
            (Measurer::Agent(agent), None) => {
                let port: u16 = agent.call(Request::FreePort, AGENT_SLACK).await?;
                Ok(SocketAddr::from(([127, 0, 0, 1], port)))
            }
            _ => server_addr(server),
        }
    }

    /// One server cold start: start → first 200 where the server runs.
    pub(super) async fn server_cold_start(
        &self,
        spec: &StartSpec,
        addr: SocketAddr,
        path: &str,
    ) -> anyhow::Result<(f64, Option<crate::runtime::EngineTimes>)> {
        let timeout = self.plan.ready_timeout;
        let track = self.tracker();
        let Measurer::Agent(agent) = &self.measurer else {
            return cold_start::server_once(self.runtime, spec, addr, path, timeout, &track).await;
        };
        // The agent's clock starts when the request reaches it, just before the create
        // call reaches the daemon: the cold start as seen on the daemon's host.
        let (id, answer) = agent.send(wait_request(addr, path, timeout)).await?;
        let instance = match self.runtime.start(spec).await {
            Ok(instance) => instance,
            Err(e) => {
                agent.cancel(id).await;
                return Err(e);
            }
        };
        track(&instance);
        match self.agent_ready(agent, &instance, id, answer, path).await {
            Ok(ms) => Ok((ms, instance.engine)),
            Err(e) => Err(e.with_logs(&self.runtime.logs(&instance, 20).await)),
        }
    }

    /// Waits until a started server answers 200 at `path`.
    pub(super) async fn wait_server(
        &self,
        instance: &Instance,
        addr: SocketAddr,
        path: &str,
    ) -> Result<(), NotReady> {
        let timeout = self.plan.ready_timeout;
        let Measurer::Agent(agent) = &self.measurer else {
            return cold_start::wait_ready(self.runtime, instance, addr, path, timeout).await;
        };
        let (id, answer) = agent
            .send(wait_request(addr, path, timeout))
            .await
            .map_err(NotReady::Runtime)?;
        self.agent_ready(agent, instance, id, answer, path)
            .await
            .map(|_| ())
    }

    /// Awaits the agent's readiness answer, asking the runtime meanwhile whether the
    /// server died (then the agent's wait is cancelled).
    async fn agent_ready(
        &self,
        agent: &Agent,
        instance: &Instance,
        id: u64,
        mut answer: Answer,
        path: &str,
    ) -> Result<f64, NotReady> {
        let deadline = Instant::now() + self.plan.ready_timeout + AGENT_SLACK;
        let mut tick = tokio::time::interval(LIVENESS_INTERVAL);
        loop {
            tokio::select! {
                got = &mut answer => {
                    return match got {
                        Ok(Ok(value)) => serde_json::from_value(value)
                            .map_err(|e| NotReady::Runtime(e.into())),
                        Ok(Err(why)) => Err(NotReady::Timeout {
                            path: path.into(),
                            timeout: self.plan.ready_timeout,
                            doing: format!("the agent on the daemon's host: {why}"),
                        }),
                        Err(_) => Err(NotReady::Runtime(anyhow::anyhow!(
                            "the measuring agent stopped answering"
                        ))),
                    };
                }
                _ = tick.tick() => {
                    if Instant::now() > deadline {
                        agent.cancel(id).await;
                        return Err(NotReady::Runtime(anyhow::anyhow!(
                            "the measuring agent did not answer a readiness wait"
                        )));
                    }
                    if !self.runtime.is_running(instance).await.map_err(NotReady::Runtime)? {
                        agent.cancel(id).await;
                        let code = match self.runtime.liveness(instance).await {
                            crate::runtime::Liveness::Exited { code } => code,
                            _ => None,
                        };
                        return Err(NotReady::Exited { path: path.into(), code });
                    }
                }
            }
        }
    }

    /// How the server's CPU time will be read.
    pub(super) async fn server_meter(&self, instance: &Instance) -> Meter {
        let Measurer::Agent(agent) = &self.measurer else {
            return Meter::Local(self.runtime.cpu_meter(instance).await);
        };
        let read = async {
            let pid = self.runtime.host_pid(instance).await?;
            let request = Request::Meter {
                pid,
                container: instance.id.clone(),
            };
            let method: String = agent
                .call(request, AGENT_SLACK)
                .await
                .map_err(|e| format!("{e:#}"))?;
            Ok((pid, method))
        };
        Meter::Agent(read.await)
    }

    /// One load window and the server's CPU over it (`cpu_ns`, `wall_s`).
    pub(super) async fn load_window(
        &self,
        spec: LoadSpec,
        instance: &Instance,
        meter: &Meter,
    ) -> anyhow::Result<(LoadReport, Result<(u64, f64), String>)> {
        match (&self.measurer, meter) {
            (Measurer::Agent(agent), Meter::Agent(pid)) => {
                let server = pid.as_ref().ok().map(|(p, _)| (*p, instance.id.clone()));
                let unread = pid.as_ref().err().cloned();
                let timeout = spec.warmup + spec.duration + loadgen::DRAIN + AGENT_SLACK;
                let request = Request::Load {
                    spec: crate::agent::wire_spec(&spec),
                    server,
                };
                let reply: LoadReply = agent.call(request, timeout).await?;
                let cpu = match unread {
                    Some(why) => Err(why),
                    None => reply.server_cpu,
                };
                Ok((reply.report, cpu))
            }
            (_, meter) => {
                let read = || match meter {
                    Meter::Local(m) => m.as_ref().map_err(Clone::clone).and_then(|m| m.read_ns()),
                    Meter::Agent(_) => Err("read by no one".to_string()),
                };
                let before = (Instant::now(), read());
                let report =
                    tokio::task::spawn_blocking(move || loadgen::run_load(&spec)).await??;
                let after = (Instant::now(), read());
                let cpu = match (before.1, after.1) {
                    (Ok(a), Ok(b)) => Ok((b.saturating_sub(a), (after.0 - before.0).as_secs_f64())),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                Ok((report, cpu))
            }
        }
    }

    /// The server's peak memory (process and container), read where it runs.
    pub(super) async fn server_peak(&self, instance: &Instance) -> PeakMemory {
        let Measurer::Agent(agent) = &self.measurer else {
            return self.runtime.peak_memory(instance).await;
        };
        let read = async {
            let pid = self.runtime.host_pid(instance).await?;
            let request = Request::Peak {
                pid,
                container: instance.id.clone(),
            };
            agent
                .call::<PeakReply>(request, AGENT_SLACK)
                .await
                .map_err(|e| format!("{e:#}"))
        };
        match read.await {
            Ok(peak) => PeakMemory {
                process: peak.process,
                container: peak.container,
            },
            Err(why) => PeakMemory {
                process: Err(why.clone()),
                container: Err(why),
            },
        }
    }
}

fn wait_request(addr: SocketAddr, path: &str, timeout: Duration) -> Request {
    Request::WaitReady {
        addr,
        path: path.into(),
        timeout_ms: timeout.as_millis() as u64,
    }
}

//! The docker runtime: variants as containers through bollard, on host networking.
//!
//! Host networking measures the app, not docker-proxy, and the app binds 127.0.0.1 only.
//! Containers run as uid 65534 (set in the image, and forced here whatever the image says)
//! with a read-only root filesystem, all capabilities dropped, no-new-privileges, a pids
//! limit and the run's memory limit, and carry the harness's labels (with this process as
//! owner). Every API call goes through `retry`.

use super::retry::{self, Call, Policy};
use super::sampler::{Sampler, Target};
use super::{cgroup, Exit, Instance, Liveness, PeakMemory, Runtime, StartSpec};
use crate::labels;
use anyhow::Context;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::time::Duration;

/// The most processes/threads a container may have.
pub const PIDS_LIMIT: i64 = 512;

pub struct DockerRuntime {
    docker: Docker,
    run_id: String,
    app: String,
    /// This process, as the owner label of every container (see `owner`).
    owner: String,
    /// `--oci-runtime`: the runtime containers are created with; `None`: the daemon's default.
    oci_runtime: Option<String>,
}

impl DockerRuntime {
    pub fn new(docker: Docker, run_id: &str, app: &str) -> Self {
        Self {
            docker,
            run_id: run_id.into(),
            app: app.into(),
            owner: crate::owner::current(),
            oci_runtime: None,
        }
    }

    /// Runs every container under the daemon's registered OCI runtime `name` (`--oci-runtime`)
    /// instead of its default.
    pub fn with_oci_runtime(mut self, name: Option<String>) -> Self {
        self.oci_runtime = name;
        self
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn body(&self, spec: &StartSpec) -> anyhow::Result<ContainerCreateBody> {
        let image = spec
            .image
            .clone()
            .context("the docker runtime needs an image")?;
        let labels = labels::with_tool(&[
            (labels::ROLE, "variant"),
            (labels::APP, &self.app),
            (labels::VARIANT, &spec.variant.name()),
            (labels::RUN_ID, &self.run_id),
            (labels::OWNER, &self.owner),
        ]);
        let (entrypoint, binds) = match &spec.wrap {
            Some(wrap) => (
                Some(
                    std::iter::once(crate::runtime::WRAP_PATH.to_string())
                        .chain(wrap.args.iter().cloned())
                        .chain(wrap.entrypoint.iter().cloned())
                        .collect(),
                ),
                Some(
                    [
                        format!("{}:{}:ro", wrap.binary.display(), crate::runtime::WRAP_PATH),
                        format!("{}:{}", wrap.writable.display(), crate::runtime::WRAP_OUT),
                    ]
                    .into_iter()
                    .chain(
                        wrap.files
                            .iter()
                            .map(|(here, there)| format!("{}:{there}:ro", here.display())),
                    )
                    .collect(),
                ),
            ),
            None => (None, None),
        };
        Ok(ContainerCreateBody {
            image: Some(image),
            entrypoint,
            user: Some(crate::runtime::USER.into()),
            cmd: Some(spec.args.clone()),
            env: (!spec.env.is_empty())
                .then(|| spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some("host".into()),
                cpuset_cpus: Some(spec.cpus.clone()),
                memory: spec.memory_limit.map(|m| m as i64),
                memory_swap: spec.memory_limit.map(|m| m as i64),
                pids_limit: Some(PIDS_LIMIT),
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                binds,
                runtime: spec
                    .oci_runtime
                    .clone()
                    .or_else(|| self.oci_runtime.clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    /// Creates a container (labelled with the run and this process as its owner).
    async fn create(&self, spec: &StartSpec) -> anyhow::Result<String> {
        let body = self.body(spec)?;
        // A retried create whose first try reached the daemon leaves an untracked container:
        // it carries the run's label, so the run's final sweep removes it.
        let created = retry::run_call("create a container", Call::Write, || {
            self.docker.create_container(None, body.clone())
        })
        .await
        .with_context(|| format!("cannot create a container of {}", spec.variant))?;
        Ok(created.id)
    }

    /// Starts a created container; "already started" (a retry after a lost answer) is fine.
    async fn start_created(&self, id: &str) -> anyhow::Result<()> {
        let started = retry::retry("start a container", Call::Write, Policy::RUN, || {
            self.docker.start_container(id, None)
        })
        .await?;
        match started {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The host pid of a running container's main process, checked to be in that
    /// container's cgroup (a daemon in another pid namespace, or on another machine, has
    /// pids that mean nothing here): the reason when it cannot be had.
    pub async fn main_pid(&self, id: &str) -> Result<u32, String> {
        main_process(&self.docker, id).await.map(|(pid, _)| pid)
    }

    async fn read_logs(&self, id: &str, tail: &str) -> anyhow::Result<(String, String)> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(tail)
            .build();
        retry::run_call("read a container's logs", Call::Read, || async {
            let mut stream = self.docker.logs(id, Some(options.clone()));
            let (mut out, mut err) = (String::new(), String::new());
            while let Some(chunk) = stream.next().await {
                match chunk? {
                    bollard::container::LogOutput::StdErr { message } => {
                        err.push_str(&String::from_utf8_lossy(&message))
                    }
                    other => out.push_str(&String::from_utf8_lossy(&other.into_bytes())),
                }
            }
            Ok((out, err))
        })
        .await
    }
}

impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn start(&self, spec: &StartSpec) -> anyhow::Result<Instance> {
        let clock = std::time::Instant::now();
        let id = self.create(spec).await?;
        let created = clock.elapsed();
        if let Err(e) = self.start_created(&id).await {
            let _ = self.remove(&id).await;
            return Err(e)
                .with_context(|| format!("cannot start the container of {}", spec.variant));
        }
        let started = clock.elapsed();
        Ok(Instance {
            id,
            variant: spec.variant,
            engine: Some(crate::runtime::EngineTimes {
                create_ms: created.as_secs_f64() * 1e3,
                start_ms: (started - created).as_secs_f64() * 1e3,
            }),
        })
    }

    async fn start_until_output(
        &self,
        spec: &StartSpec,
        timeout: Duration,
        track: &(dyn Fn(&Instance) + Sync),
    ) -> anyhow::Result<String> {
        let id = self.create(spec).await?;
        track(&Instance {
            id: id.clone(),
            variant: spec.variant,
            engine: None,
        });
        let options = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdout(true)
            .stderr(true)
            .logs(true)
            .build();
        let mut attached = retry::run_call("attach to a container", Call::Read, || {
            self.docker.attach_container(&id, Some(options.clone()))
        })
        .await?;
        self.start_created(&id).await?;
        match tokio::time::timeout(timeout, attached.output.next()).await {
            Ok(Some(Ok(chunk))) => Ok(String::from_utf8_lossy(&chunk.into_bytes()).into_owned()),
            Ok(Some(Err(e))) => Err(e).context("reading the container's output failed"),
            Ok(None) => anyhow::bail!("{} exited without output", spec.variant),
            Err(_) => anyhow::bail!("{} wrote nothing within {timeout:?}", spec.variant),
        }
    }

    async fn is_running(&self, instance: &Instance) -> anyhow::Result<bool> {
        let inspected = retry::retry("inspect a container", Call::Read, Policy::RUN, || {
            self.docker.inspect_container(&instance.id, None)
        })
        .await?;
        match inspected {
            Ok(info) => Ok(info.state.and_then(|s| s.running).unwrap_or(false)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(e).context("cannot inspect the container"),
        }
    }

    async fn host_pid(&self, instance: &Instance) -> Result<u32, String> {
        let info = retry::run_call("inspect a container", Call::Read, || {
            self.docker.inspect_container(&instance.id, None)
        })
        .await
        .map_err(|e| format!("cannot inspect the container: {e:#}"))?;
        info.state
            .and_then(|s| s.pid)
            .filter(|&p| p > 0)
            .map(|p| p as u32)
            .ok_or_else(|| "the container is not running".into())
    }

    async fn liveness(&self, instance: &Instance) -> Liveness {
        let inspected = retry::run_call("inspect a container", Call::Read, || {
            self.docker.inspect_container(&instance.id, None)
        })
        .await;
        let state = match inspected {
            Ok(info) => info.state.unwrap_or_default(),
            Err(e) => return Liveness::Unknown(format!("cannot inspect the container: {e:#}")),
        };
        match (state.running, state.paused) {
            (Some(true), Some(true)) => Liveness::Paused,
            (Some(true), _) => Liveness::Running {
                pid: self.main_pid(&instance.id).await,
            },
            (_, _) => Liveness::Exited {
                code: state.exit_code,
            },
        }
    }

    async fn wait(&self, instance: &Instance, timeout: Duration) -> anyhow::Result<Exit> {
        let deadline = tokio::time::Instant::now() + timeout;
        // The container's /proc entry and cgroup vanish at its exit: sample them meanwhile.
        let (docker, id) = (self.docker.clone(), instance.id.clone());
        let sampler = Sampler::start(async move {
            let (pid, program) = main_process(&docker, &id).await?;
            // An exiting process is moved to the root cgroup: a path without the container
            // is not its cgroup.
            let cgroup = cgroup::Cgroup::of_pid(pid).and_then(|c| {
                if c.memory_dir.to_string_lossy().contains(&id) {
                    Ok(c)
                } else {
                    Err("it exited before its cgroup could be found".into())
                }
            });
            Ok(Target {
                pid,
                cgroup,
                program,
            })
        });
        let code = retry::run_call("wait for a container", Call::Read, || async {
            let mut stream = self.docker.wait_container(&instance.id, None);
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => Ok(None),
                Ok(Some(Ok(response))) => Ok(Some(response.status_code)),
                // bollard reports a non-zero exit as an error carrying the code.
                Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError {
                    code, ..
                }))) => Ok(Some(code)),
                Ok(Some(Err(e))) => Err(e),
                Ok(None) => Err(closed_early("the wait stream")),
            }
        })
        .await?;
        let Some(code) = code else {
            anyhow::bail!("{} did not exit within {timeout:?}", instance.variant)
        };
        let peak_memory = sampler.finish().await;
        let (stdout, stderr) = self.read_logs(&instance.id, "all").await?;
        Ok(Exit {
            code,
            stdout,
            stderr,
            peak_memory: Some(peak_memory),
        })
    }

    async fn cpu_meter(&self, instance: &Instance) -> Result<cgroup::CpuMeter, String> {
        let pid = self.main_pid(&instance.id).await?;
        let meter = cgroup::CpuMeter::Cgroup(cgroup::Cgroup::of_pid(pid)?);
        meter.read_ns()?;
        Ok(meter)
    }

    async fn peak_memory(&self, instance: &Instance) -> PeakMemory {
        match self.main_pid(&instance.id).await {
            Ok(pid) => PeakMemory {
                process: cgroup::process_peak(pid),
                container: cgroup::Cgroup::of_pid(pid).and_then(|c| c.memory_peak()),
            },
            Err(reason) => PeakMemory {
                process: Err(reason.clone()),
                container: Err(reason),
            },
        }
    }

    async fn launched_binary(
        &self,
        instance: &Instance,
    ) -> anyhow::Result<Option<(String, String)>> {
        // A container's labels include its image's, where the digest was put at build time.
        let info = retry::run_call("inspect a container", Call::Read, || {
            self.docker.inspect_container(&instance.id, None)
        })
        .await
        .context("cannot inspect the container")?;
        let sha256 = info
            .config
            .and_then(|c| c.labels)
            .and_then(|mut l| l.remove(labels::BINARY_SHA256));
        Ok(sha256.map(|s| (s, format!("image label {}", labels::BINARY_SHA256))))
    }

    async fn logs(&self, instance: &Instance, lines: usize) -> String {
        match self.read_logs(&instance.id, &lines.to_string()).await {
            Ok((out, err)) => format!("{out}{err}"),
            Err(e) => format!("(no logs: {e:#})"),
        }
    }

    async fn remove(&self, id: &str) -> anyhow::Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let removed = retry::retry("remove a container", Call::Read, Policy::RUN, || {
            self.docker.remove_container(id, Some(options.clone()))
        })
        .await
        .with_context(|| format!("cannot remove container {id}"))?;
        match removed {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove container {id}")),
        }
    }

    async fn sweep(&self) -> anyhow::Result<usize> {
        remove_containers(&self.docker, Some(&self.run_id)).await
    }
}

/// Removes the harness's containers of this namespace (of one run, when `run_id` is given);
/// returns how many.
/// Transient API faults are retried with the cleanup's patience (see `retry::Policy`).
pub async fn remove_containers(docker: &Docker, run_id: Option<&str>) -> anyhow::Result<usize> {
    let filters = crate::labels::filter(run_id);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let listed = retry::retry(
        "list the harness's containers",
        Call::Read,
        retry::Policy::CLEANUP,
        || docker.list_containers(Some(options.clone())),
    )
    .await??;
    let mut removed = 0;
    for c in listed {
        let Some(id) = c.id else { continue };
        if !c.labels.as_ref().is_some_and(crate::labels::in_namespace) {
            continue;
        }
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let outcome = retry::retry(
            format!("remove container {id}"),
            Call::Read,
            retry::Policy::CLEANUP,
            || docker.remove_container(&id, Some(options.clone())),
        )
        .await?;
        match outcome {
            Ok(()) => removed += 1,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(removed)
}

/// `DockerRuntime::main_pid`, for tasks that outlive the borrow of the runtime, with the
/// program the container runs (its main process is the runtime's init until it execs it).
async fn main_process(docker: &Docker, id: &str) -> Result<(u32, Option<String>), String> {
    if !super::docker_client::is_local(&super::docker_client::host()) {
        return Err("the daemon is on another machine: its processes cannot be read here".into());
    }
    let info = retry::run_call("inspect a container", Call::Read, || {
        docker.inspect_container(id, None)
    })
    .await
    .map_err(|e| format!("cannot inspect the container: {e:#}"))?;
    let program = info.path.clone();
    let pid = info
        .state
        .and_then(|s| s.pid)
        .filter(|&p| p > 0)
        .ok_or("the container is not running")? as u32;
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    if !cgroups.contains(id) {
        return Err(format!(
                "pid {pid} is not the container's process here (the daemon runs in another pid namespace)"
            ));
    }
    Ok((pid, program))
}

/// A stream the daemon ended before its answer: a passing fault, worth another try.
fn closed_early(what: &str) -> bollard::errors::Error {
    bollard::errors::Error::IOError {
        err: std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the daemon closed {what} early"),
        ),
    }
}

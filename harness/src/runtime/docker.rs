//! The docker runtime: variants as containers through bollard, on host networking.
//!
//! Host networking measures the app, not docker-proxy, and the app binds 127.0.0.1 only.
//! Containers run as uid 65534 (set in the image, and forced here whatever the image says)
//! with a read-only root filesystem, all capabilities dropped, no-new-privileges, a pids
//! limit and the run's memory limit, and carry the harness's labels.

use super::{Exit, Instance, Runtime, StartSpec};
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
}

impl DockerRuntime {
    pub fn new(docker: Docker, run_id: &str, app: &str) -> Self {
        Self {
            docker,
            run_id: run_id.into(),
            app: app.into(),
        }
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
        ]);
        Ok(ContainerCreateBody {
            image: Some(image),
            user: Some(crate::build::image::USER.into()),
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
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    async fn read_logs(&self, id: &str, tail: &str) -> (String, String) {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(tail)
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let (mut out, mut err) = (String::new(), String::new());
        while let Some(Ok(chunk)) = stream.next().await {
            match chunk {
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => out.push_str(&String::from_utf8_lossy(&other.into_bytes())),
            }
        }
        (out, err)
    }
}

impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn start(&self, spec: &StartSpec) -> anyhow::Result<Instance> {
        let body = self.body(spec)?;
        let created = self
            .docker
            .create_container(None, body)
            .await
            .with_context(|| format!("cannot create a container of {}", spec.variant))?;
        if let Err(e) = self.docker.start_container(&created.id, None).await {
            let _ = self.remove(&created.id).await;
            return Err(e)
                .with_context(|| format!("cannot start the container of {}", spec.variant));
        }
        Ok(Instance {
            id: created.id,
            variant: spec.variant,
        })
    }

    async fn start_until_output(
        &self,
        spec: &StartSpec,
        timeout: Duration,
        track: &(dyn Fn(&Instance) + Sync),
    ) -> anyhow::Result<String> {
        let created = self.docker.create_container(None, self.body(spec)?).await?;
        track(&Instance {
            id: created.id.clone(),
            variant: spec.variant,
        });
        let options = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdout(true)
            .stderr(true)
            .logs(true)
            .build();
        let mut attached = self
            .docker
            .attach_container(&created.id, Some(options))
            .await?;
        self.docker.start_container(&created.id, None).await?;
        match tokio::time::timeout(timeout, attached.output.next()).await {
            Ok(Some(Ok(chunk))) => Ok(String::from_utf8_lossy(&chunk.into_bytes()).into_owned()),
            Ok(Some(Err(e))) => Err(e).context("reading the container's output failed"),
            Ok(None) => anyhow::bail!("{} exited without output", spec.variant),
            Err(_) => anyhow::bail!("{} wrote nothing within {timeout:?}", spec.variant),
        }
    }

    async fn is_running(&self, instance: &Instance) -> bool {
        match self.docker.inspect_container(&instance.id, None).await {
            Ok(info) => info.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        }
    }

    async fn wait(&self, instance: &Instance, timeout: Duration) -> anyhow::Result<Exit> {
        let mut stream = self.docker.wait_container(&instance.id, None);
        let code = match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => anyhow::bail!("{} did not exit within {timeout:?}", instance.variant),
            Ok(Some(Ok(response))) => response.status_code,
            // bollard reports a non-zero exit as an error carrying the code.
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => code,
            Ok(Some(Err(e))) => return Err(e).context("waiting for the container failed"),
            Ok(None) => anyhow::bail!("the daemon closed the wait stream early"),
        };
        let (stdout, stderr) = self.read_logs(&instance.id, "all").await;
        Ok(Exit {
            code,
            stdout,
            stderr,
            peak_memory: None,
        })
    }

    async fn peak_memory(&self, instance: &Instance) -> Option<(u64, String)> {
        cgroup_peak_memory(&instance.id)
    }

    async fn logs(&self, instance: &Instance, lines: usize) -> String {
        let (out, err) = self.read_logs(&instance.id, &lines.to_string()).await;
        format!("{out}{err}")
    }

    async fn remove(&self, id: &str) -> anyhow::Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove container {id}")),
        }
    }

    async fn sweep(&self) -> anyhow::Result<usize> {
        crate::cleanup::remove_containers(&self.docker, Some(&self.run_id)).await
    }
}

/// Reads a running container's peak memory from its cgroup (v1 or v2), when the daemon is
/// local and uses the usual cgroup layout.
pub fn cgroup_peak_memory(id: &str) -> Option<(u64, String)> {
    let candidates = [
        (
            format!("/sys/fs/cgroup/memory/docker/{id}/memory.max_usage_in_bytes"),
            "cgroup v1 memory.max_usage_in_bytes",
        ),
        (
            format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.peak"),
            "cgroup v2 memory.peak",
        ),
        (
            format!("/sys/fs/cgroup/docker/{id}/memory.peak"),
            "cgroup v2 memory.peak",
        ),
    ];
    candidates.iter().find_map(|(path, method)| {
        let text = std::fs::read_to_string(path).ok()?;
        Some((text.trim().parse().ok()?, method.to_string()))
    })
}

//! The harness's side of the agent: one long-lived agent container per run and daemon,
//! started with the run's labels (so the run's sweep and `harness clean` find it), attached
//! to, and asked over its stdin; replies are routed to their callers by id.
//!
//! A reply that never comes (the agent or its daemon died) is an error naming the agent's
//! last output, never a hang: every call has a deadline.

use super::{Envelope, Reply, Request, HOST_CGROUP_ROOT};
use crate::labels;
use crate::runtime::retry::{self, Call};
use anyhow::Context;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigCgroupnsModeEnum};
use bollard::query_parameters::{AttachContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<serde_json::Value, String>>>>>;

/// A running agent container and the line protocol to it.
pub struct Agent {
    docker: Docker,
    pub container: String,
    input: tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>,
    pending: Pending,
    next: AtomicU64,
    /// The agent's last stderr lines, for errors.
    stderr: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

/// Who the agent container belongs to.
pub struct Owner<'a> {
    pub run_id: &'a str,
    pub app: &'a str,
    /// The load generator's CPUs on the daemon's host (cpuset list).
    pub cpus: &'a str,
}

impl Agent {
    /// Creates, attaches to and starts the agent container from `image`.
    pub async fn start(docker: &Docker, image: &str, owner: &Owner<'_>) -> anyhow::Result<Agent> {
        let created = retry::run_call("create the agent container", Call::Write, || {
            docker.create_container(None, body(image, owner))
        })
        .await
        .context("cannot create the agent container")?;
        let id = created.id;
        let attached = async {
            let options = AttachContainerOptionsBuilder::default()
                .stream(true)
                .stdin(true)
                .stdout(true)
                .stderr(true)
                .build();
            let attached = docker
                .attach_container(&id, Some(options))
                .await
                .context("cannot attach to the agent container")?;
            docker
                .start_container(&id, None)
                .await
                .context("cannot start the agent container")?;
            anyhow::Ok(attached)
        }
        .await;
        let attached = match attached {
            Ok(a) => a,
            Err(e) => {
                remove(docker, &id).await;
                return Err(e);
            }
        };
        let pending: Pending = Arc::default();
        let stderr: Arc<Mutex<String>> = Arc::default();
        let reader = tokio::spawn(route(attached.output, pending.clone(), stderr.clone()));
        Ok(Agent {
            docker: docker.clone(),
            container: id,
            input: tokio::sync::Mutex::new(attached.input),
            pending,
            next: AtomicU64::new(1),
            stderr,
            reader,
        })
    }

    /// Sends `request` and returns its id and the receiver of its answer.
    pub async fn send(
        &self,
        request: Request,
    ) -> anyhow::Result<(u64, oneshot::Receiver<Result<serde_json::Value, String>>)> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("not poisoned").insert(id, tx);
        let mut line = serde_json::to_vec(&Envelope { id, request })?;
        line.push(b'\n');
        let mut input = self.input.lock().await;
        input
            .write_all(&line)
            .await
            .and(input.flush().await)
            .map_err(|e| anyhow::anyhow!("cannot write to the agent: {e}{}", self.last_words()))?;
        Ok((id, rx))
    }

    /// Awaits the answer of a request sent with `send`, up to `timeout`.
    pub async fn receive<T: DeserializeOwned>(
        &self,
        rx: oneshot::Receiver<Result<serde_json::Value, String>>,
        timeout: Duration,
    ) -> anyhow::Result<T> {
        let answer = match tokio::time::timeout(timeout, rx).await {
            Err(_) => anyhow::bail!("the agent did not answer within {timeout:?}"),
            Ok(Err(_)) => anyhow::bail!("the agent stopped answering{}", self.last_words()),
            Ok(Ok(answer)) => answer,
        };
        let value = answer.map_err(|e| anyhow::anyhow!("the agent: {e}"))?;
        serde_json::from_value(value).context("the agent's answer is not what was asked")
    }

    /// Sends `request` and waits (up to `timeout`) for its answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        request: Request,
        timeout: Duration,
    ) -> anyhow::Result<T> {
        let (_, rx) = self.send(request).await?;
        self.receive(rx, timeout).await
    }

    /// Stops a request still running on the agent.
    pub async fn cancel(&self, target: u64) {
        self.pending.lock().expect("not poisoned").remove(&target);
        let _ = self.send(Request::Cancel { target }).await;
    }

    /// Removes the agent container.
    pub async fn stop(self) {
        self.reader.abort();
        remove(&self.docker, &self.container).await;
    }

    fn last_words(&self) -> String {
        let text = self.stderr.lock().expect("not poisoned").clone();
        match text.trim() {
            "" => String::new(),
            t => format!(" (its last output: {t})"),
        }
    }
}

/// Routes each stdout line to the caller waiting for its id; keeps the stderr tail. When
/// the stream ends, every waiting caller learns that the agent is gone.
async fn route(
    mut output: Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                > + Send,
        >,
    >,
    pending: Pending,
    stderr: Arc<Mutex<String>>,
) {
    let mut buffer = Vec::new();
    while let Some(Ok(chunk)) = output.next().await {
        match chunk {
            bollard::container::LogOutput::StdErr { message } => {
                let mut tail = stderr.lock().expect("not poisoned");
                tail.push_str(&String::from_utf8_lossy(&message));
                if tail.chars().count() > 2000 {
                    *tail = tail.chars().skip(tail.chars().count() - 2000).collect();
                }
            }
            other => buffer.extend_from_slice(&other.into_bytes()),
        }
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            if let Ok(reply) = serde_json::from_slice::<Reply>(&line) {
                if let Some(tx) = pending.lock().expect("not poisoned").remove(&reply.id) {
                    let _ = tx.send(reply.outcome);
                }
            }
        }
    }
    pending.lock().expect("not poisoned").clear();
}

fn body(image: &str, owner: &Owner<'_>) -> ContainerCreateBody {
    let labels = labels::with_tool(&[
        (labels::ROLE, "agent"),
        (labels::APP, owner.app),
        (labels::RUN_ID, owner.run_id),
        (labels::OWNER, &crate::owner::current()),
    ]);
    ContainerCreateBody {
        image: Some(image.into()),
        user: Some(crate::runtime::USER.into()),
        open_stdin: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        stdin_once: Some(false),
        tty: Some(false),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some("host".into()),
            pid_mode: Some("host".into()),
            cgroupns_mode: Some(HostConfigCgroupnsModeEnum::HOST),
            binds: Some(vec![format!("/sys/fs/cgroup:{HOST_CGROUP_ROOT}:ro")]),
            cpuset_cpus: Some(owner.cpus.into()),
            pids_limit: Some(crate::runtime::docker::PIDS_LIMIT),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    if let Err(e) = docker.remove_container(id, Some(options)).await {
        if !matches!(
            e,
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            }
        ) {
            eprintln!("warning: cannot remove the agent container {id}: {e}");
        }
    }
}

//! What a run does before its first build: connect to the daemon with the run's per-call
//! timeout, take the daemon's run lock (unless `--allow-concurrent`), and remove the
//! containers that runs killed outright left behind.

use crate::lock::{self, RunLock};
use crate::plan::RunPlan;
use crate::progress::Progress;
use crate::runtime::{docker_client, RuntimeKind};
use bollard::Docker;

/// The daemon, or `None` to run natively (asked for, or no daemon answered).
pub(super) async fn connect(plan: &RunPlan, progress: &Progress) -> anyhow::Result<Option<Docker>> {
    if plan.fresh_node.is_some() {
        crate::fresh_node::preflight()?;
    }
    let docker = match plan.runtime {
        Some(RuntimeKind::Native) => None,
        Some(RuntimeKind::Docker) => Some(docker_client::connect().await?),
        // A fresh-node run measures docker or nothing.
        None if plan.fresh_node.is_some() => Some(docker_client::connect().await?),
        None => match docker_client::connect().await {
            Ok(docker) => Some(docker),
            Err(e) => {
                progress.println(format!(
                    "warning: {e:#}; running natively instead: image size and the container runtime's share of cold start are not measured"
                ));
                None
            }
        },
    };
    Ok(docker.map(|d| d.with_timeout(plan.docker_timeout)))
}

/// Takes the run lock for this daemon (or for native runs on this machine) and image
/// namespace, then removes dead runs' containers. The lock lives as long as the returned
/// value.
pub(super) async fn claim(
    plan: &RunPlan,
    docker: Option<&Docker>,
    run_id: &str,
    progress: &Progress,
) -> anyhow::Result<Option<RunLock>> {
    let lock = if plan.allow_concurrent {
        None
    } else {
        Some(lock::claim_daemon(docker, run_id).await?)
    };
    if let Some(docker) = docker {
        let orphans = crate::cleanup::remove_orphans(docker).await?;
        if orphans.containers > 0 {
            progress.println(format!(
                "removed {} containers left by runs that died: {}",
                orphans.containers,
                orphans.run_ids.join(", ")
            ));
        }
    }
    Ok(lock)
}

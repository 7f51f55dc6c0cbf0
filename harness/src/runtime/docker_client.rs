//! Connecting to the Docker daemon the way the docker CLI does, with one clear error.
//!
//! Honours `DOCKER_HOST` (unix, tcp, and TLS through `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`
//! via bollard's defaults) and negotiates the API version so older daemons work.

use crate::error::prerequisite;
use bollard::Docker;
use std::time::Duration;

/// A connected, version-negotiated client, or a prerequisite error saying how to fix it.
pub async fn connect() -> anyhow::Result<Docker> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let unreachable = |e: &dyn std::fmt::Display| {
        prerequisite(format!(
            "Docker is unreachable at {host}: {e} (start the daemon, fix DOCKER_HOST, or use --runtime native)"
        ))
    };
    let docker = Docker::connect_with_defaults()
        .map_err(|e| unreachable(&e))?
        .with_timeout(Duration::from_secs(120));
    let negotiated = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
        .await
        .map_err(|_| unreachable(&"no answer within 10 s"))?
        .map_err(|e| unreachable(&e))?;
    Ok(negotiated)
}

/// The daemon's version string, e.g. `20.10.24+dfsg1`.
pub async fn server_version(docker: &Docker) -> Option<String> {
    docker.version().await.ok().and_then(|v| v.version)
}

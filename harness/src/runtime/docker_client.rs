//! Connecting to the Docker daemon the way the docker CLI does, with one clear error.
//!
//! Honours `DOCKER_HOST` (unix, tcp, and TLS through `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`
//! via bollard's defaults) and negotiates the API version so older daemons work.

use crate::error::prerequisite;
use bollard::Docker;
use std::time::Duration;

/// The daemon's socket when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The daemon the harness talks to, as the docker CLI would pick it: `DOCKER_HOST`, or the
/// default socket.
pub fn host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.into())
}

/// Whether `host` is a daemon on this machine: a unix socket, or tcp/http(s) to a loopback
/// address. Anything else (another host, ssh) is remote.
pub fn is_local(host: &str) -> bool {
    if host.starts_with("unix://") {
        return true;
    }
    let Some((_, rest)) = host.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let name = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let scheme_ok = ["tcp://", "http://", "https://"]
        .iter()
        .any(|s| host.starts_with(s));
    scheme_ok
        && (name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

/// The warning printed, and kept in the report, when the measured daemon is remote.
pub fn remote_note(host: &str) -> String {
    format!(
        "the Docker daemon at {host} is not on this machine: the load generator and the readiness probes run here, so every latency, throughput and cold-start figure includes the network between the two"
    )
}

/// The certificate directory of one host among several: `DOCKER_CERT_PATH/<HOST:PORT>/`
/// when that directory exists (else the host uses `DOCKER_CERT_PATH` itself, as the docker
/// CLI does).
pub fn cert_dir_for(host: &str) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("DOCKER_CERT_PATH").filter(|p| !p.is_empty())?;
    let authority = host.split_once("://").map_or(host, |(_, rest)| rest);
    let dir = std::path::Path::new(&base).join(authority.trim_end_matches('/'));
    dir.is_dir().then_some(dir)
}

/// `DOCKER_HOST`, when set to something (an empty value counts as unset, as for the CLI).
pub fn host_from_env() -> Option<String> {
    std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty())
}

/// Checks the shape of a `DOCKER_HOST` value, not whether anything answers there.
pub fn check_host(host: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "DOCKER_HOST {host:?} {why}: expected unix:///path/to/docker.sock or tcp://HOST:PORT"
        ))
    };
    if let Some(path) = host.strip_prefix("unix://") {
        return match path.starts_with('/') {
            true => Ok(()),
            false => bad("is not an absolute socket path"),
        };
    }
    let Some(authority) = ["tcp://", "http://"]
        .iter()
        .find_map(|scheme| host.strip_prefix(scheme))
    else {
        return bad("has an unsupported scheme");
    };
    let authority = authority.trim_end_matches('/');
    let (name, port) = match authority.rsplit_once(':') {
        // A bracketed IPv6 address without a port: `[::1]`.
        Some((_, tail)) if tail.ends_with(']') => (authority, None),
        Some((name, port)) => (name, Some(port)),
        None => (authority, None),
    };
    let name_ok = !name.is_empty()
        && !name.contains(['/', '@', ' '])
        && (!name.contains(':') || (name.starts_with('[') && name.ends_with(']')));
    if !name_ok {
        return bad("has no usable host name");
    }
    match port.map(str::parse::<u16>) {
        Some(Ok(0) | Err(_)) => bad("has no valid port"),
        _ => Ok(()),
    }
}

/// A connected, version-negotiated client; a usage error for a malformed `DOCKER_HOST`, and a
/// prerequisite error saying how to fix it when nothing answers.
pub async fn connect() -> anyhow::Result<Docker> {
    let host = host();
    check_host(&host).map_err(crate::error::usage)?;
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

/// What a run records of the daemon it measured on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaemonFacts {
    pub version: Option<String>,
    /// The engine as it names itself, with its version (`Engine 20.10.24+dfsg1`, `Podman
    /// Engine 4.3.1`).
    pub engine: Option<String>,
    /// The OCI runtime the run's containers run under: the one asked for, else the
    /// daemon's default.
    pub oci_runtime: Option<String>,
    /// Every runtime the daemon has registered, sorted.
    pub runtimes: Vec<String>,
}

/// The daemon's facts; `wanted` (`--oci-runtime`) must be one of its registered runtimes,
/// else a usage error names those it has and how to register another.
pub async fn daemon_facts(docker: &Docker, wanted: Option<&str>) -> anyhow::Result<DaemonFacts> {
    let version = docker.version().await.ok();
    let engine = version.as_ref().and_then(|v| {
        let c = v.components.as_ref()?.first()?;
        Some(format!("{} {}", c.name, c.version))
    });
    let info = docker.info().await.ok();
    let mut runtimes: Vec<String> = info
        .as_ref()
        .and_then(|i| i.runtimes.as_ref())
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default();
    runtimes.sort();
    if let Some(name) = wanted {
        if !runtimes.iter().any(|r| r == name) {
            return Err(crate::error::usage(format!(
                "--oci-runtime {name}: the daemon at {} has no runtime {name:?} (it has: {}); register it in its daemon.json (`harness doctor` prints the entry) and reload the daemon",
                host(),
                if runtimes.is_empty() { "none listed".to_string() } else { runtimes.join(", ") }
            )));
        }
    }
    let default = info.as_ref().and_then(|i| i.default_runtime.clone());
    // Podman's Docker-compatible API (4.3) creates every container under the service's
    // runtime, whatever the request says: a run would record one runtime and measure another.
    if let (Some(name), Some(engine)) = (wanted, engine.as_deref()) {
        if engine.contains("Podman") && default.as_deref() != Some(name) {
            return Err(crate::error::usage(format!(
                "--oci-runtime {name}: {engine}'s Docker-compatible API ignores a container's runtime and would run {} instead; start the service under it (`podman --runtime {name} system service …`) and drop --oci-runtime",
                default.as_deref().unwrap_or("its default")
            )));
        }
    }
    Ok(DaemonFacts {
        version: version.and_then(|v| v.version),
        engine,
        oci_runtime: wanted.map(str::to_string).or(default),
        runtimes,
    })
}

/// The `daemon.json` entry that registers `name` at `path`, and how to make the daemon
/// read it.
pub fn runtime_entry(name: &str, path: &str) -> String {
    format!(
        "add to /etc/docker/daemon.json: {{\"runtimes\": {{\"{name}\": {{\"path\": \"{path}\"}}}}}} (merged with what is there), then reload the daemon: `kill -HUP $(pidof dockerd)` (runtimes reload without a restart) or `systemctl restart docker`; or start a daemon of your own with `--add-runtime {name}={path}`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_sockets_and_loopback_tcp_are_local_and_other_hosts_are_not() {
        for local in [
            "unix:///var/run/docker.sock",
            "tcp://127.0.0.1:2375",
            "tcp://localhost:2376",
            "tcp://[::1]:2375",
            "https://127.0.0.2:2376",
        ] {
            assert!(is_local(local), "{local}");
        }
        for remote in [
            "tcp://10.0.0.5:2376",
            "tcp://build-box.example:2375",
            "ssh://me@box",
            "tcp://[2001:db8::1]:2375",
            "nonsense",
        ] {
            assert!(!is_local(remote), "{remote}");
        }
    }

    #[test]
    fn docker_hosts_are_checked_for_shape() {
        for good in [
            DEFAULT_HOST,
            "tcp://127.0.0.1:2375",
            "tcp://docker.example:2376/",
            "http://localhost:2375",
            "tcp://[::1]:2375",
            "tcp://[::1]",
            "tcp://dockerhost",
        ] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in [
            "bogus://x",
            "tcp://:::",
            "tcp://:2375",
            "tcp://host:0",
            "tcp://host:99999",
            "tcp://",
            "unix://relative.sock",
            "/var/run/docker.sock",
        ] {
            let e = check_host(bad).unwrap_err();
            assert!(
                e.contains(bad) && e.contains("expected unix://"),
                "{bad}: {e}"
            );
        }
    }
}

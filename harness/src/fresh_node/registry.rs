//! The local registry a fresh node pulls from: Debian's `docker-registry`, started by the
//! harness on 127.0.0.1 with a temporary config and storage, and stopped after.
//!
//! Also reads what the registry stores: an image's manifest and the sizes of its layer
//! blobs (the compressed bytes a node downloads). Docker daemons treat 127.0.0.0/8
//! registries as insecure (plain HTTP) by default, so no TLS or daemon setting is needed.

use super::child::{self, Helper};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The registry binary of Debian's `docker-registry` package.
pub const BINARY: &str = "docker-registry";
/// How long the registry may take to answer `/v2/`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Manifest media types the harness understands, in the `Accept` header of its request.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/// A running registry on `addr`; stopped and its storage removed on drop.
#[derive(Debug)]
pub struct LocalRegistry {
    pub addr: SocketAddr,
    helper: Helper,
}

/// The registry's config: storage under `root`, listening on `addr` only, no auth.
pub fn config_yaml(root: &Path, addr: SocketAddr) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n",
        root.display()
    )
}

impl LocalRegistry {
    /// Starts a registry on a free 127.0.0.1 port and waits until it answers.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = child::temp_dir("registry")?;
        let addr = free_loopback_addr()?;
        let config = dir.join("config.yml");
        std::fs::write(&config, config_yaml(&dir.join("storage"), addr))
            .with_context(|| format!("cannot write {}", config.display()))?;
        let mut command = Command::new(BINARY);
        command.arg("serve").arg(&config);
        let mut helper = Helper::spawn("docker-registry", command, dir)?;
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if let Some(status) = helper.exited() {
                anyhow::bail!(
                    "{BINARY} exited ({status}) before answering on {addr}: {}",
                    helper.log_tail(5)
                );
            }
            if let Ok((200, _)) = http_get(addr, "/v2/", None).await {
                return Ok(Self { addr, helper });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let tail = helper.log_tail(5);
        helper.stop(Duration::from_secs(5));
        anyhow::bail!("{BINARY} did not answer on {addr} within {READY_TIMEOUT:?}: {tail}")
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The manifest of `repository:tag` as the registry stores it.
    pub async fn manifest(&self, repository: &str, tag: &str) -> anyhow::Result<Manifest> {
        let path = format!("/v2/{repository}/manifests/{tag}");
        let (status, body) = http_get(self.addr, &path, Some(MANIFEST_TYPES)).await?;
        anyhow::ensure!(
            status == 200,
            "the registry answered {status} for {path}: {}",
            String::from_utf8_lossy(&body)
        );
        Manifest::parse(&body).with_context(|| format!("the manifest of {repository}:{tag}"))
    }

    pub fn stop(mut self) {
        self.helper.stop(Duration::from_secs(10));
    }
}

/// The parts of an image manifest (docker v2 schema 2 or OCI) that size a pull.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Compressed size of each layer blob, in manifest order.
    pub layer_bytes: Vec<u64>,
    pub config_bytes: u64,
}

impl Manifest {
    pub fn parse(json: &[u8]) -> anyhow::Result<Manifest> {
        let value: serde_json::Value =
            serde_json::from_slice(json).context("the manifest is not JSON")?;
        let size = |v: &serde_json::Value, what: &str| {
            v["size"]
                .as_u64()
                .with_context(|| format!("{what} has no size"))
        };
        let layers = value["layers"]
            .as_array()
            .context("the manifest has no layers (a manifest list or schema 1?)")?;
        let layer_bytes = layers
            .iter()
            .enumerate()
            .map(|(i, l)| size(l, &format!("layer {i}")))
            .collect::<anyhow::Result<Vec<u64>>>()?;
        let config_bytes = size(&value["config"], "the config")?;
        Ok(Manifest {
            layer_bytes,
            config_bytes,
        })
    }

    /// The bytes a node downloads for the layers: the sum of the layer blob sizes.
    pub fn compressed_bytes(&self) -> u64 {
        self.layer_bytes.iter().sum()
    }
}

/// A free port on 127.0.0.1 (bind port 0, read it, release it).
pub fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?)
}

/// One plain-HTTP GET on a fresh connection: status and body.
async fn http_get(
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> anyhow::Result<(u16, Bytes)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    let driver = tokio::spawn(connection);
    let mut request = hyper::Request::get(path).header("host", addr.to_string());
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new())?)
        .await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    driver.abort();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_listens_on_loopback_and_stores_in_the_temp_dir() {
        let addr: SocketAddr = "127.0.0.1:40123".parse().unwrap();
        let yaml = config_yaml(Path::new("/tmp/x/storage"), addr);
        assert!(yaml.contains("  addr: 127.0.0.1:40123\n"), "{yaml}");
        assert!(
            yaml.contains("    rootdirectory: /tmp/x/storage\n"),
            "{yaml}"
        );
        assert!(!yaml.contains(":5000"), "never the packaged service's port");
        assert!(
            !yaml.contains("auth"),
            "no htpasswd: pushes and pulls are anonymous"
        );
    }

    #[test]
    fn manifest_layer_sizes_are_summed_and_bad_manifests_are_named() {
        let json = br#"{"schemaVersion":2,
            "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1470,"digest":"sha256:a"},
            "layers":[{"size":29150000,"digest":"sha256:b"},{"size":1234567,"digest":"sha256:c"}]}"#;
        let manifest = Manifest::parse(json).unwrap();
        assert_eq!(manifest.layer_bytes, [29_150_000, 1_234_567]);
        assert_eq!(manifest.config_bytes, 1470);
        assert_eq!(manifest.compressed_bytes(), 30_384_567);
        let list = br#"{"schemaVersion":2,"manifests":[]}"#;
        let e = format!("{:#}", Manifest::parse(list).unwrap_err());
        assert!(e.contains("no layers"), "{e}");
        let sizeless = br#"{"config":{"size":1},"layers":[{"digest":"x"}]}"#;
        let e = format!("{:#}", Manifest::parse(sizeless).unwrap_err());
        assert!(e.contains("layer 0 has no size"), "{e}");
    }
}

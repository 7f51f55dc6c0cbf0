//! Least privilege, checked against the real daemon: each variant's posture is measured from
//! the built image, containers run with every restriction the README claims, and a secret
//! placed in a crate never reaches the image's build context or the image.

use crate::support::{docker_lock, docker_or_skip, RunCleanup};
use bollard::Docker;
use harness::app::{workspace_root, AppSpec};
use harness::build::{base, build_variant, Packaging};
use harness::matrix::Variant;
use harness::runtime::docker::{DockerRuntime, PIDS_LIMIT};
use harness::runtime::{Runtime, StartSpec};
use std::sync::{Arc, Mutex};

/// A string that appears nowhere but in the planted secret files.
const SECRET: &str = "AKIAQX7SECRETMARKER0wJalrXUtnFEMI";

#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn posture_is_measured_from_the_real_images() {
    let _lock = crate::support::docker_lock_once_built("http", crate::support::MUSL_GLIBC_PAIR);
    let Some(docker) = docker_or_skip("posture_is_measured").await else {
        return;
    };
    let run_id = "posture-test";
    let _cleanup = RunCleanup {
        out: None,
        ids: vec![run_id.into()],
    };
    let built = crate::support::build_http_pair(&docker, run_id).await;
    let scratch = built[0].1.record.image.as_ref().unwrap();
    let p = scratch.posture.as_ref().expect("scratch posture measured");
    assert_eq!(p.image_user, "65534:65534");
    assert_eq!(p.runtime_user, "65534:65534");
    assert!(p.shells.is_empty(), "{p:?}");
    assert_eq!((p.file_count, p.package_count), (1, 0), "{p:?}");
    assert!(
        p.setuid_files.is_empty() && p.setgid_files.is_empty(),
        "{p:?}"
    );

    let debian = built[1].1.record.image.as_ref().unwrap();
    let p = debian.posture.as_ref().expect("debian posture measured");
    eprintln!("debian posture: {p:?}");
    assert_eq!(p.image_user, "65534:65534");
    assert!(p.shells.iter().any(|s| s.ends_with("/sh")), "{p:?}");
    assert!(p.shells.iter().any(|s| s.ends_with("/bash")), "{p:?}");
    assert!(p.package_count > 50, "{p:?}");
    assert!(p.file_count > 1000, "{p:?}");
    assert!(p.setuid_files.iter().any(|f| f.ends_with("/su")), "{p:?}");

    let runtime = DockerRuntime::new(docker.clone(), run_id, "http");
    assert_runtime_restrictions(&docker, &runtime, built[1].0, &debian.tag).await;
    let base = base::ensure(&docker, true).await.unwrap().unwrap();
    assert_restrictions_hold_inside(&runtime, built[1].0, &base.tag).await;
}

/// Runs a shell in the debian base (whose image user is root) through the docker runtime and
/// reads, from inside, what the process actually got.
async fn assert_restrictions_hold_inside(runtime: &DockerRuntime, variant: Variant, image: &str) {
    let probe = "id -u; id -g; grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status; \
                 touch /probe 2>/dev/null && echo rootfs-writable || echo rootfs-read-only";
    let spec = StartSpec {
        variant,
        image: Some(image.into()),
        binary: "/bin/sh".into(),
        args: vec!["/bin/sh".into(), "-c".into(), probe.into()],
        env: Vec::new(),
        cpus: "0".into(),
        memory_limit: None,
        purpose: "posture-probe".into(),
        wrap: None,
        oci_runtime: None,
    };
    let instance = runtime.start(&spec).await.unwrap();
    let exit = runtime
        .wait(&instance, std::time::Duration::from_secs(60))
        .await;
    runtime.remove(&instance.id).await.unwrap();
    let exit = exit.unwrap();
    let lines: Vec<&str> = exit.stdout.lines().map(str::trim).collect();
    assert_eq!(exit.code, 0, "{exit:?}");
    assert_eq!(&lines[..2], ["65534", "65534"], "not nobody: {exit:?}");
    for expected in [
        "CapPrm:\t0000000000000000",
        "CapEff:\t0000000000000000",
        "NoNewPrivs:\t1",
        "rootfs-read-only",
    ] {
        assert!(lines.contains(&expected), "{expected:?} missing: {exit:?}");
    }
}

/// Starts the image through the docker runtime and checks what the daemon applied.
async fn assert_runtime_restrictions(
    docker: &Docker,
    runtime: &DockerRuntime,
    variant: Variant,
    image: &str,
) {
    let spec = StartSpec {
        variant,
        image: Some(image.into()),
        binary: "/app".into(),
        args: vec!["--addr".into(), "127.0.0.1:1".into()],
        env: Vec::new(),
        cpus: "0".into(),
        memory_limit: Some(64 << 20),
        purpose: "posture".into(),
        wrap: None,
        oci_runtime: None,
    };
    let instance = runtime.start(&spec).await.unwrap();
    let info = docker.inspect_container(&instance.id, None).await;
    runtime.remove(&instance.id).await.unwrap();
    let info = info.unwrap();
    let host = info.host_config.unwrap();
    assert_eq!(info.config.unwrap().user.as_deref(), Some("65534:65534"));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert!(host
        .security_opt
        .unwrap_or_default()
        .contains(&"no-new-privileges".to_string()));
    assert_eq!(host.pids_limit, Some(PIDS_LIMIT));
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(host.network_mode.as_deref(), Some("host"));
    assert!(host.cap_add.unwrap_or_default().is_empty());
    assert_ne!(host.privileged, Some(true));
}

/// A throwaway binary crate, outside the repository, with secrets beside its manifest.
fn secret_crate(dir: &std::path::Path) -> AppSpec {
    let files = [
        (
            "Cargo.toml",
            "[package]\nname = \"secret-probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n[profile.dist]\ninherits = \"release\"\n",
        ),
        (
            "Cargo.lock",
            "version = 4\n\n[[package]]\nname = \"secret-probe\"\nversion = \"0.1.0\"\n",
        ),
        ("src/main.rs", "fn main() {\n    println!(\"probe\");\n}\n"),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(
        dir.join(".env"),
        format!("AWS_SECRET_ACCESS_KEY={SECRET}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("id_rsa"),
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n"),
    )
    .unwrap();
    // The toolchain pin, so the crate builds with the toolchain that has the musl target.
    std::fs::copy(
        workspace_root().join("rust-toolchain.toml"),
        dir.join("rust-toolchain.toml"),
    )
    .unwrap();
    AppSpec::from_manifest(Some("secret-probe"), dir, None).unwrap()
}

#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_in_the_crate_never_reaches_the_build_context_or_the_image() {
    let _lock = docker_lock();
    let Some(_) = docker_or_skip("secret_never_reaches_the_context").await else {
        return;
    };
    let run_id = "secret-test";
    let _cleanup = RunCleanup {
        out: None,
        ids: vec![run_id.into()],
    };
    let dir = tempfile::tempdir().unwrap();
    let app = secret_crate(dir.path());
    let (docker, sent) = recording_proxy(dir.path()).await;
    let packaging = Packaging {
        docker: &docker,
        base: None,
        run_id,
    };
    let variant: Variant = "musl-system-scratch".parse().unwrap();
    let built = build_variant(dir.path(), &app, variant, false, Some(&packaging))
        .await
        .unwrap_or_else(|(step, e)| panic!("{step} failed: {e:#}"));
    let sent = sent.lock().unwrap().clone();
    // The capture is real: the Dockerfile and the binary went through it.
    assert!(contains(&sent, b"FROM scratch"), "the proxy saw no build");
    let binary = std::fs::read(&built.artifact.path).unwrap();
    assert!(
        contains(&sent, &binary[..4096]),
        "the proxy missed the binary"
    );
    for secret in [
        SECRET.as_bytes(),
        b"AWS_SECRET_ACCESS_KEY",
        b"id_rsa",
        b".env",
    ] {
        assert!(
            !contains(&sent, secret),
            "{} reached the daemon",
            String::from_utf8_lossy(secret)
        );
    }
    let tag = &built.record.image.unwrap().tag;
    let filesystem = export_image(&docker, tag, run_id).await;
    assert!(contains(&filesystem, &binary[..4096]));
    assert!(
        !contains(&filesystem, SECRET.as_bytes()),
        "the secret is in {tag}"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A unix-socket proxy to the daemon that records every byte the client sends, and a
/// client connected through it.
async fn recording_proxy(dir: &std::path::Path) -> (Docker, Arc<Mutex<Vec<u8>>>) {
    let upstream = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(String::from))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    let socket = dir.join("proxy.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, log) = (upstream.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(daemon) = tokio::net::UnixStream::connect(&upstream).await else {
                    return;
                };
                forward(client, daemon, log).await;
            });
        }
    });
    let docker =
        Docker::connect_with_unix(socket.to_str().unwrap(), 120, bollard::API_DEFAULT_VERSION)
            .unwrap()
            .negotiate_version()
            .await
            .unwrap();
    (docker, sent)
}

async fn forward(
    client: tokio::net::UnixStream,
    daemon: tokio::net::UnixStream,
    log: Arc<Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut daemon_rx, mut daemon_tx) = daemon.into_split();
    let back = tokio::spawn(async move { tokio::io::copy(&mut daemon_rx, &mut client_tx).await });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = client_rx.read(&mut buf).await {
        log.lock().unwrap().extend_from_slice(&buf[..n]);
        if daemon_tx.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = back.await;
}

/// The image's flattened filesystem as a tar, through a created, labelled container.
async fn export_image(docker: &Docker, tag: &str, run_id: &str) -> Vec<u8> {
    use futures_util::StreamExt;
    let labels = harness::labels::with_tool(&[
        (harness::labels::ROLE, "test"),
        (harness::labels::RUN_ID, run_id),
    ]);
    let body = bollard::models::ContainerCreateBody {
        image: Some(tag.into()),
        labels: Some(labels),
        ..Default::default()
    };
    let id = docker.create_container(None, body).await.unwrap().id;
    let mut stream = docker.export_container(&id);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    docker.remove_container(&id, Some(options)).await.unwrap();
    out
}

#[test]
fn the_report_shows_a_security_posture_table_per_variant() {
    let fixture = crate::support::fixtures().join("report/http-run.json");
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let posture = serde_json::json!({
        "image_user": "65534:65534", "runtime_user": "65534:65534",
        "shells": ["/usr/bin/bash", "/usr/bin/sh"], "file_count": 4321,
        "package_count": 87, "setuid_files": ["/usr/bin/su"], "setgid_files": []
    });
    let first = &mut run["variants"][0];
    let name = first["variant"].as_str().unwrap().to_string();
    first["build"]["image"]["posture"] = posture;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(&file, serde_json::to_vec(&run).unwrap()).unwrap();
    let out = dir.path().join("report");
    let (code, _, stderr) = crate::support::harness_cli(&[
        "report",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let md = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(md.contains("### Security posture"), "{md}");
    let row = format!(
        "| {name} | `65534:65534` | `/usr/bin/bash`, `/usr/bin/sh` | 4321 | 87 | `/usr/bin/su (u)` |"
    );
    assert!(md.contains(&row), "no row {row} in {md}");
    // Variants without a measured posture (older files) get no row rather than a guess.
    assert_eq!(md.matches("`65534:65534`").count(), 1);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("Security posture") && html.contains("<code>/usr/bin/su (u)</code>"));
}

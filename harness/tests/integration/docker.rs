//! Against the real daemon: build real images through bollard, start them, and get
//! `Hello, World!` over 127.0.0.1; then a quick end-to-end run checked against the schema.

use crate::support::docker_or_skip;
use harness::matrix::Variant;
use harness::runtime::docker::DockerRuntime;
use harness::runtime::{Runtime, StartSpec};
use std::time::Duration;

async fn hello_from(
    runtime: &DockerRuntime,
    variant: Variant,
    image: String,
    binary: std::path::PathBuf,
) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = StartSpec {
        variant,
        image: Some(image),
        binary,
        args: vec!["--addr".into(), format!("127.0.0.1:{port}")],
        env: Vec::new(),
        cpus: "0".into(),
        memory_limit: None,
        purpose: "test".into(),
        wrap: None,
        oci_runtime: None,
    };
    let instance = runtime.start(&spec).await.unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let ready = harness::measure::cold_start::wait_ready(
        runtime,
        &instance,
        addr,
        "/plaintext",
        Duration::from_secs(30),
    )
    .await;
    let body = if ready.is_ok() {
        get(addr, "/plaintext").await
    } else {
        String::new()
    };
    let logs = runtime.logs(&instance, 20).await;
    runtime.remove(&instance.id).await.unwrap();
    ready.unwrap_or_else(|e| panic!("{variant} never became ready: {e}; logs: {logs}"));
    assert!(body.ends_with("Hello, World!"), "{variant}: {body}");
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

// The lock only serializes tests (each has its own runtime), so holding it across awaits is
// the point, not a deadlock risk.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn musl_scratch_and_glibc_debian_images_serve_hello_world() {
    let _lock = crate::support::docker_lock_once_built("http", crate::support::MUSL_GLIBC_PAIR);
    let Some(docker) = docker_or_skip("images_serve_hello_world").await else {
        return;
    };
    let run_id = "integration-test";
    let _cleanup = crate::support::RunCleanup {
        out: None,
        ids: vec![run_id.to_string()],
    };
    let runtime = DockerRuntime::new(docker.clone(), run_id, "http");
    for (variant, built) in crate::support::build_http_pair(&docker, run_id).await {
        let name = variant.name();
        let image = built.record.image.clone().unwrap();
        if name == "musl-system-scratch" {
            assert!(built.record.static_binary);
            assert!(image.image_bytes < 2_000_000, "{} bytes", image.image_bytes);
            let ratio = image.image_bytes as f64 / built.record.binary_bytes as f64;
            assert!((0.99..=1.01).contains(&ratio), "image/binary = {ratio}");
        } else {
            assert!(!built.record.static_binary);
            assert!(
                (65_000_000..=90_000_000).contains(&image.image_bytes),
                "{} bytes",
                image.image_bytes
            );
            assert!(image.base_provenance.is_some());
        }
        hello_from(&runtime, variant, image.tag, built.artifact.path).await;
    }
    let cleaned = harness::cleanup::clean(&docker, Some(run_id), false)
        .await
        .unwrap();
    assert_eq!(cleaned.containers, 0, "every container was already removed");
    assert_eq!(cleaned.images, 2);
}

#[test]
fn quick_run_writes_a_results_file_that_passes_the_schema() {
    let _lock = crate::support::docker_shared_once_built("http", crate::support::MUSL_GLIBC_PAIR);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(_docker) = rt.block_on(docker_or_skip("quick_run")) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let _cleanup = crate::support::RunCleanup {
        out: Some(out.path().to_path_buf()),
        ids: Vec::new(),
    };
    let (code, stdout, stderr) = crate::support::harness_cli(&[
        "run",
        "--app",
        "http",
        "--quick",
        "--quiet",
        "--variants",
        "musl-system-scratch,glibc-system-debian",
        "--concurrency",
        "4",
        // Shorter windows than --quick's (200 ms warm-up, 500 ms): the test checks the file
        // a quick run writes, not its figures, and its 27 windows were most of its work.
        "--warmup",
        "50ms",
        "--duration",
        "200ms",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let results = crate::support::checked_results(out.path());
    let file = crate::support::results_file(out.path()).unwrap();
    assert!(results.finished_at.is_some());
    assert_eq!(results.variants.len(), 2);
    for v in &results.variants {
        assert!(v.is_ok(), "{:?}", v.status);
        let build = v.build.as_ref().unwrap();
        assert!(build.binary_bytes > 0 && build.image.as_ref().unwrap().image_bytes > 0);
        let cold = v.cold_start.as_ref().unwrap();
        assert!(cold.cold_start_ms.median > 0.0 && cold.process_start_ms.unwrap().median > 0.0);
        assert_eq!(v.load.len(), 3, "one window per endpoint");
        for l in &v.load {
            assert!(
                l.rps.median > 0.0 && l.rps.n == 3 && l.requests > 0 && l.latency_us.p99 > 0,
                "{l:?}"
            );
            assert_eq!((l.errors, l.non_2xx), (0, 0), "{l:?}");
        }
        assert!(v.peak_memory_bytes.unwrap() > 0);
    }
    assert!(file.with_extension("csv").exists());
    // `harness clean` of the run, in the test's namespace: the run removed its containers
    // and built its two images, nothing else.
    let run_id = file.file_stem().unwrap().to_str().unwrap();
    let (code, stdout, stderr) = crate::support::harness_cli(&["clean", "--run-id", run_id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        "removed 0 containers and 2 images",
        "the run left containers, or built other images"
    );
}

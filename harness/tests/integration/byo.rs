//! Bring your own crate: crates that are not in this repository, generated in tempdirs (std
//! only, so they build offline in seconds), driven through `harness` by their table or by
//! the defaults.

use crate::support::{checked_results, harness_cli};
use harness::results::Status;
use std::path::Path;

/// A tiny keep-alive HTTP server using only std: listens on 127.0.0.1:$PORT, answers
/// `GET /` with 200 `ok` and anything else with 404.
pub const STD_SERVER: &str = r#"
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn main() {
    let port: u16 = std::env::var("PORT").expect("PORT is set").parse().expect("PORT is a port");
    // Extra CPU work per request, in microseconds: how a test makes this server slower.
    let work = Duration::from_micros(
        std::env::var("EXTRA_WORK_US").ok().and_then(|v| v.parse().ok()).unwrap_or(0),
    );
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve(stream, work));
    }
}

fn serve(mut stream: TcpStream, work: Duration) {
    let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let start = Instant::now();
            while start.elapsed() < work {
                std::hint::spin_loop();
            }
            let reply: &[u8] = if buf.starts_with(b"GET / ") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            };
            if stream.write_all(reply).is_err() {
                return;
            }
            buf.drain(..end + 4);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
"#;

/// A batch job using only std: sums a few million numbers, prints `ops=<per second>` and a
/// checksum.
const STD_BATCH: &str = r#"
fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let start = std::time::Instant::now();
    let mut sum = 0u64;
    for i in 0..n {
        sum = sum.wrapping_add(std::hint::black_box(i) * 3);
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    println!("sum={sum:x}");
    println!("ops={:.1}", n as f64 / secs);
}
"#;

/// Writes a crate called `name` into a fresh tempdir: `manifest_tail` is appended to its
/// `[package]` section, `main` is src/main.rs, `build` an optional build.rs.
pub fn make_crate(
    name: &str,
    manifest_tail: &str,
    main: &str,
    build: Option<&str>,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{manifest_tail}"),
    )
    .unwrap();
    std::fs::write(root.join("src/main.rs"), main).unwrap();
    if let Some(build) = build {
        std::fs::write(root.join("build.rs"), build).unwrap();
    }
    dir
}

pub fn std_server() -> tempfile::TempDir {
    make_crate("tiny-std-server", "", STD_SERVER, None)
}

fn run_native(app: &Path, extra: &[&str], out: &Path) -> (i32, String, String) {
    let mut args = vec![
        "run",
        "--app",
        app.to_str().unwrap(),
        "--quick",
        "--quiet",
        "--runtime",
        "native",
        // These tests check what a run records, not timings: they may run side by side.
        "--allow-concurrent",
        "--variants",
        "glibc-system-debian,musl-system-scratch",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    harness_cli(&args)
}

#[test]
fn variants_of_a_crate_without_allocator_features_say_they_are_injected() {
    let krate = std_server();
    let path = krate.path().to_str().unwrap();
    let (code, stdout, stderr) = harness_cli(&["variants", "--app", path]);
    assert_eq!(code, 0, "{stderr}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap()
            .to_string()
    };
    for name in [
        "musl-mimalloc-scratch",
        "musl-jemalloc-scratch",
        "glibc-mimalloc-debian",
    ] {
        assert!(row(name).contains(" injected "), "{stdout}");
    }
    assert!(row("musl-system-scratch").contains(" libc "), "{stdout}");
    assert!(
        stdout.contains("has no `mimalloc` or `jemalloc` feature: mimalloc and jemalloc are linked into the unchanged crate"),
        "{stdout}"
    );
    // The sample apps have both features: nothing is injected.
    let (_, http, _) = harness_cli(&["variants", "--app", "http"]);
    assert!(!http.contains("injected"), "{http}");
    assert!(http.contains(" feature "), "{http}");
}

#[test]
fn an_outside_crate_with_no_table_runs_natively_with_the_defaults() {
    let krate = std_server();
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_native(krate.path(), &["--concurrency", "4"], out.path());
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        !krate.path().join("target").exists(),
        "builds go to the harness's target/apps/"
    );
    let results = checked_results(out.path());
    assert_eq!(
        (results.app.as_str(), results.settings.endpoints.as_slice()),
        ("tiny-std-server", &["/".to_string()][..])
    );
    for v in &results.variants {
        assert_eq!(v.status, Status::Ok, "{}", v.variant);
        let cold = v.cold_start.as_ref().unwrap();
        assert!(cold.cold_start_ms.median > 0.0);
        assert!(
            cold.process_start_ms.is_none(),
            "no version_arg, no process start"
        );
        let [load] = v.load.as_slice() else {
            panic!("one window: {:?}", v.load)
        };
        assert_eq!(load.endpoint, "/");
        assert!(load.requests > 0 && load.rps.median > 0.0, "{load:?}");
        assert_eq!((load.errors, load.non_2xx), (0, 0), "{load:?}");
    }
    assert!(
        results.variants[1].build.as_ref().unwrap().static_binary,
        "musl is static"
    );
}

#[test]
fn a_request_answered_with_another_status_fails_its_variant_by_name() {
    let krate = make_crate(
        "tiny-std-server",
        "[package.metadata.harness]\n[[package.metadata.harness.requests]]\nname = \"missing\"\npath = \"/missing\"\n",
        STD_SERVER,
        None,
    );
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_native(krate.path(), &["--concurrency", "2"], out.path());
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("variants failed: glibc-system-debian (load)"),
        "{stderr}"
    );
    let results = checked_results(out.path());
    for v in &results.variants {
        let Status::Failed { step, reason, .. } = &v.status else {
            panic!("{:?}", v.status)
        };
        assert_eq!(step, "load");
        assert!(
            reason.contains("every response to GET /missing was unexpected: expected status 200"),
            "{reason}"
        );
    }
    // With the status it does answer, the same request is a clean window.
    let krate = make_crate(
        "tiny-std-server",
        "[package.metadata.harness]\n[[package.metadata.harness.requests]]\npath = \"/missing\"\nexpect_status = 404\n",
        STD_SERVER,
        None,
    );
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_native(
        krate.path(),
        &["--concurrency", "2", "--variants", "musl-system-scratch"],
        out.path(),
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let v = &checked_results(out.path()).variants[0];
    assert!(
        v.is_ok() && v.load[0].requests > 0 && v.load[0].non_2xx == 0,
        "{v:?}"
    );
}

#[test]
fn a_batch_crate_reports_the_throughput_its_regex_picks() {
    let krate = make_crate(
        "std-batch",
        "[package.metadata.harness]\nkind = \"batch\"\nargs = [\"3000000\"]\ncold_args = [\"10\"]\nthroughput_regex = 'ops=([0-9.]+)'\nthroughput_unit = \"ops/s\"\nchecksum_regex = 'sum=([0-9a-f]+)'\n",
        STD_BATCH,
        None,
    );
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_native(krate.path(), &[], out.path());
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let results = checked_results(out.path());
    assert_eq!(results.app, "std-batch");
    for v in &results.variants {
        assert!(v.is_ok(), "{:?}", v.status);
        let [crunch] = v.crunch.as_slice() else {
            panic!("one thread count: {:?}", v.crunch)
        };
        assert_eq!(crunch.throughput_unit.as_deref(), Some("ops/s"));
        assert!(crunch.mb_per_s.median > 1e5, "{crunch:?}");
        // 3e6 iterations of sum += 3i: the checksum every variant must agree on.
        let expected = (0..3_000_000u64).fold(0u64, |s, i| s.wrapping_add(i * 3));
        assert_eq!(crunch.checksum, format!("{expected:x}"));
    }
}

/// A batch job using only std that reports no memory figure: touches `$1` MiB (64 by
/// default), holds it 200 ms, frees it, prints a checksum.
const STD_HOG: &str = r#"
fn main() {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let mut block = vec![0u8; mib << 20];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let touched: u64 = std::hint::black_box(&block).iter().map(|&b| u64::from(b)).sum();
    println!("pages={touched}");
}
"#;

/// `[package.metadata.harness]` of the memory hog: no `peak_rss_kb_regex`.
const HOG_TABLE: &str =
    "[package.metadata.harness]\nkind = \"batch\"\nargs = [\"64\"]\ncold_args = [\"1\"]\n";

/// The runtime's sampled peak of every variant: the process's at least the 64 MiB it
/// touched; returns each variant's (process, container) bytes.
fn sampled_peaks(results: &harness::results::RunResults) -> Vec<(u64, Option<u64>)> {
    results
        .variants
        .iter()
        .map(|v| {
            assert!(v.is_ok(), "{}: {:?}", v.variant, v.status);
            let process = v.peak_memory_bytes.expect("a sampled process peak");
            assert!(process >= 64 << 20, "{}: {process} B", v.variant);
            let method = v.memory_method.as_deref().unwrap_or_default();
            assert!(
                method.contains("VmHWM") && method.contains("sampled every 20 ms"),
                "{method}"
            );
            (process, v.container_peak_memory_bytes)
        })
        .collect()
}

#[test]
fn a_batch_crate_that_reports_no_memory_gets_its_sampled_peak_natively() {
    let krate = make_crate("std-hog", HOG_TABLE, STD_HOG, None);
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_native(krate.path(), &[], out.path());
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let results = checked_results(out.path());
    for (v, (_, container)) in results.variants.iter().zip(sampled_peaks(&results)) {
        assert_eq!(container, None);
        assert_eq!(
            v.container_memory_method.as_deref(),
            Some("not available: native: no container")
        );
    }
}

#[test]
fn a_batch_crate_that_reports_no_memory_gets_its_container_s_peak_in_docker() {
    let krate = make_crate("std-hog", HOG_TABLE, STD_HOG, None);
    let _lock = crate::support::docker_shared_once_built(
        krate.path().to_str().unwrap(),
        crate::support::MUSL_GLIBC_PAIR,
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(_docker) = rt.block_on(crate::support::docker_or_skip("byo_docker_batch_memory"))
    else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let _cleanup = crate::support::RunCleanup {
        out: Some(out.path().to_path_buf()),
        ids: Vec::new(),
    };
    let (code, stdout, stderr) = harness_cli(&[
        "run",
        "--app",
        krate.path().to_str().unwrap(),
        "--quick",
        "--quiet",
        "--allow-concurrent",
        "--variants",
        "musl-system-scratch,glibc-system-debian",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let results = checked_results(out.path());
    assert_eq!(results.runtime, "docker");
    for (v, (process, container)) in results.variants.iter().zip(sampled_peaks(&results)) {
        let container = container.expect("a sampled container peak");
        assert!(
            container >= process,
            "{}: {container} < {process}",
            v.variant
        );
        let method = v.container_memory_method.as_deref().unwrap_or_default();
        assert!(
            method.contains("cgroup") && method.contains("sampled every 20 ms"),
            "{method}"
        );
    }
}

/// A build script that fails only for musl, the way a crate wrapping a C library does.
const MUSL_ONLY_FAILURE: &str = r#"
fn main() {
    if std::env::var("TARGET").unwrap_or_default().contains("musl") {
        panic!("libwidget has no musl build on this system");
    }
}
"#;

#[test]
fn a_crate_that_cannot_build_for_musl_fails_only_its_musl_variants_clearly() {
    let krate = make_crate("widget-server", "", STD_SERVER, Some(MUSL_ONLY_FAILURE));
    let out = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_native(krate.path(), &["--concurrency", "2"], out.path());
    assert_eq!(code, 4, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("musl-system-scratch (build)")
            && stderr.contains("the others' results are kept"),
        "{stderr}"
    );
    let results = checked_results(out.path());
    let [glibc, musl] = results.variants.as_slice() else {
        panic!()
    };
    assert!(
        glibc.is_ok() && !glibc.load.is_empty(),
        "{:?}",
        glibc.status
    );
    let Status::Failed { step, reason, .. } = &musl.status else {
        panic!("{:?}", musl.status)
    };
    assert_eq!(step, "build");
    assert!(
        reason.starts_with(
            "musl build failed: a build script failed: libwidget has no musl build on this system"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("failed to run custom build command for `widget-server"),
        "{reason}"
    );
    // `harness build` says the same, per variant, and fails overall.
    let (code, stdout, stderr) = harness_cli(&[
        "build",
        "--app",
        krate.path().to_str().unwrap(),
        "--no-images",
        "--variants",
        "glibc-system-debian,musl-system-scratch",
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("1 of 2 variants failed to build"),
        "{stderr}"
    );
    assert!(
        format!("{stdout}{stderr}").contains("libwidget has no musl build"),
        "{stdout}{stderr}"
    );
}

#[test]
fn an_outside_crate_with_no_table_runs_in_docker_with_the_defaults() {
    let krate = std_server();
    let _lock = crate::support::docker_shared_once_built(
        krate.path().to_str().unwrap(),
        crate::support::MUSL_GLIBC_PAIR,
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(_docker) = rt.block_on(crate::support::docker_or_skip("byo_docker_run")) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let _cleanup = crate::support::RunCleanup {
        out: Some(out.path().to_path_buf()),
        ids: Vec::new(),
    };
    let (code, stdout, stderr) = harness_cli(&[
        "run",
        "--app",
        krate.path().to_str().unwrap(),
        "--quick",
        "--quiet",
        "--variants",
        "musl-system-scratch,glibc-system-debian",
        "--concurrency",
        "4",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let results = checked_results(out.path());
    assert_eq!(
        (results.app.as_str(), results.runtime.as_str()),
        ("tiny-std-server", "docker")
    );
    for v in &results.variants {
        assert!(v.is_ok(), "{}: {:?}", v.variant, v.status);
        let image = v.build.as_ref().unwrap().image.as_ref().unwrap();
        let repository = format!("{}/tiny-std-server:", crate::support::test_namespace());
        assert!(image.tag.starts_with(&repository), "{}", image.tag);
        assert!(image.image_bytes > 0);
        let load = &v.load[0];
        assert!(
            load.requests > 0 && (load.errors, load.non_2xx) == (0, 0),
            "{load:?}"
        );
    }
}

/// `profile` ends like `run`: a variant that could not be profiled is named with its step,
/// the file keeps why, and the command exits 4 (0 with `--allow-partial`).
#[test]
fn a_variant_that_cannot_be_profiled_makes_profile_exit_4_naming_it() {
    let krate = make_crate("widget-server", "", STD_SERVER, Some(MUSL_ONLY_FAILURE));
    let out = tempfile::tempdir().unwrap();
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "profile",
            "--app",
            krate.path().to_str().unwrap(),
            "--runtime",
            "native",
            "--variants",
            "musl-system-scratch",
            "--duration",
            "1s",
            "--rounds",
            "1",
            "--allow-concurrent",
            "--out",
            out.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        harness_cli(&args)
    };
    let (code, _, stderr) = args(&[]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(
            "error: 1 of 1 variant failed: musl-system-scratch (profile); nothing was measured in "
        ),
        "{stderr}"
    );
    let (code, _, stderr) = args(&["--allow-partial"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(--allow-partial: exit 0)"), "{stderr}");
}

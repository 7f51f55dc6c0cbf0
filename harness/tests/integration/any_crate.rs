//! Any crate, unmodified: servers that take their address their own way or bind a fixed
//! port, a batch job whose mimalloc is an optional dependency, and allocators injected into
//! a crate that has no feature for them. Every crate is written here into a tempdir, with no
//! harness table (everything comes from `--set`), and runs through `harness run --quick`.

use crate::byo::make_crate;
use crate::support::{checked_results, harness_cli};
use harness::matrix::{AllocatorSource, Variant};
use harness::results::{RunResults, Status};
use std::path::Path;

/// A std-only keep-alive HTTP server; `bind` is the expression of the address it binds.
fn server(bind: &str) -> String {
    format!(
        r#"
use std::io::{{Read, Write}};
use std::net::{{TcpListener, TcpStream}};

fn main() {{
    let listener = TcpListener::bind({bind}).expect("bind");
    for stream in listener.incoming().flatten() {{
        std::thread::spawn(move || serve(stream));
    }}
}}

fn serve(mut stream: TcpStream) {{
    let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
    loop {{
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {{
            let reply: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if stream.write_all(reply).is_err() {{
                return;
            }}
            buf.drain(..end + 4);
        }}
        match stream.read(&mut chunk) {{
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }}
    }}
}}
"#
    )
}

/// A std-only batch job that allocates hard on `argv[1]` threads (`argv[2]` rounds each),
/// knowing nothing of allocators: prints a checksum and `N rounds/s`.
const ALLOCATING_JOB: &str = r#"
use std::collections::BTreeMap;

fn work(seed: u64, rounds: usize) -> u64 {
    let (mut sum, mut x) = (0u64, seed);
    for _ in 0..rounds {
        let mut map: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for i in 0..200 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            map.insert(format!("k{}-{i}", x % 1000), (0..x % 64).collect());
        }
        sum = sum.wrapping_add(map.values().map(|v| v.len() as u64).sum::<u64>());
    }
    sum
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    let (threads, rounds) = (arg(1, 2), arg(2, 500));
    let start = std::time::Instant::now();
    let jobs: Vec<_> = (0..threads)
        .map(|t| std::thread::spawn(move || work(t as u64 + 1, rounds)))
        .collect();
    let sum: u64 = jobs.into_iter().map(|j| j.join().unwrap()).sum();
    println!("checksum {}", sum / threads as u64);
    println!("{:.1} rounds/s", (threads * rounds) as f64 / start.elapsed().as_secs_f64());
}
"#;

/// The `--set` flags that drive `ALLOCATING_JOB` as a batch job.
const JOB_SETS: [&str; 8] = [
    "--set",
    "kind=batch",
    "--set",
    r#"args=["{threads}", "400"]"#,
    "--set",
    "throughput_regex='([0-9.]+) rounds/s'",
    "--set",
    "checksum_regex='checksum ([0-9]+)'",
];

/// `harness run --quick` (2 cold starts, 1 round) of `app` in docker with `variants` and
/// `extra` flags, holding the daemon shared once the binaries are built; the results
/// (schema-checked) or the failure's output. `None` when docker is unreachable (a loud skip).
fn run_in_docker(app: &Path, variants: &str, extra: &[&str], test: &str) -> Option<RunResults> {
    let _lock = crate::support::docker_shared_once_built(app.to_str().unwrap(), variants);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(crate::support::docker_or_skip(test))?;
    let out = tempfile::tempdir().unwrap();
    let _cleanup = crate::support::RunCleanup {
        out: Some(out.path().to_path_buf()),
        ids: Vec::new(),
    };
    let mut args = vec![
        "run",
        "--app",
        app.to_str().unwrap(),
        "--quick",
        "--quiet",
        "--allow-concurrent",
        // What these tests check is the build and how the crate is driven, not the figures:
        // the fewest cold starts and rounds a run takes.
        "--runs",
        "2",
        "--rounds",
        "1",
        "--concurrency",
        "2",
        "--variants",
        variants,
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = harness_cli(&args);
    let results = checked_results(out.path());
    // Exit 4 exactly when some arm failed, with the line that names them.
    let failed = results
        .variants
        .iter()
        .chain(results.control.as_ref())
        .any(|v| !v.is_ok());
    assert_eq!(
        code,
        if failed { 4 } else { 0 },
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(
        failed,
        stderr.contains("(exit 4; --allow-partial"),
        "{stderr}"
    );
    Some(results)
}

fn failure(results: &RunResults, variant: &str) -> (String, String, String) {
    let v = results
        .variants
        .iter()
        .find(|v| v.variant.name() == variant)
        .unwrap();
    match &v.status {
        Status::Failed { step, reason, logs } => (
            step.clone(),
            reason.clone(),
            logs.clone().unwrap_or_default(),
        ),
        other => panic!("{variant} should have failed: {other:?}"),
    }
}

fn assert_served(results: &RunResults) {
    for v in &results.variants {
        assert!(v.is_ok(), "{}: {:?}", v.variant, v.status);
        let load = &v.load[0];
        assert!(
            load.requests > 0 && (load.errors, load.non_2xx) == (0, 0),
            "{load:?}"
        );
    }
}

#[test]
fn a_server_taking_host_and_port_from_addr_runs_with_an_env_table() {
    let krate = make_crate(
        "addr-server",
        "",
        &server(r#"std::env::var("ADDR").expect("ADDR is set")"#),
        None,
    );
    // Left to the default (PORT), it dies at once: the diagnosis is its exit and output.
    let quick_fail = ["--ready-timeout", "5s"];
    let Some(results) = run_in_docker(krate.path(), "musl-system-scratch", &quick_fail, "addr")
    else {
        return;
    };
    let (step, reason, logs) = failure(&results, "musl-system-scratch");
    assert_eq!(step, "cold-start");
    // The dist profile aborts on panic; as a container's pid 1 that ends in SIGSEGV (139).
    assert!(
        reason.starts_with("it exited (status ") && reason.contains(") before answering /"),
        "{reason}"
    );
    assert!(logs.contains("ADDR is set"), "{logs}");
    let set = r#"env={ ADDR = "127.0.0.1:{port}" }"#;
    let results = run_in_docker(
        krate.path(),
        "musl-system-scratch,glibc-system-debian",
        &["--set", set],
        "addr",
    )
    .unwrap();
    assert_served(&results);
    // Every cold start split into the engine's create and start calls and the rest.
    for v in &results.variants {
        let cold = v.cold_start.as_ref().unwrap();
        assert_eq!(cold.create_samples_ms.len(), cold.samples_ms.len());
        assert_eq!(cold.start_samples_ms.len(), cold.samples_ms.len());
        for (i, total) in cold.samples_ms.iter().enumerate() {
            let engine = cold.create_samples_ms[i] + cold.start_samples_ms[i];
            assert!(
                cold.create_samples_ms[i] > 0.0 && engine > 0.0 && engine < *total,
                "{}: {cold:?}",
                v.variant
            );
        }
    }
}

#[test]
fn a_server_on_a_fixed_port_runs_with_port_and_without_it_is_told_which_port_it_took() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("\"127.0.0.1:{port}\"");
    let krate = make_crate("fixed-port-server", "", &server(&bind), None);
    let quick_fail = ["--ready-timeout", "3s"];
    let Some(results) = run_in_docker(krate.path(), "musl-system-scratch", &quick_fail, "fixed")
    else {
        return;
    };
    let (step, reason, _) = failure(&results, "musl-system-scratch");
    assert_eq!(step, "cold-start");
    let expected = format!("it listens on 127.0.0.1:{port}, not on the port the harness gave it (");
    assert!(reason.contains(&expected), "{reason}");
    assert!(
        reason.contains(&format!(
            "(set `port = {port}`, or pass the port with `env` or `args`)"
        )),
        "{reason}"
    );
    // Given the port, both variants run: their servers take turns on it.
    let set = format!("port={port}");
    let results = run_in_docker(
        krate.path(),
        "musl-system-scratch,glibc-system-debian",
        &["--set", &set],
        "fixed",
    )
    .unwrap();
    assert_served(&results);
    assert!(results.variants.iter().all(|v| v.cold_start.is_some()));
}

#[test]
fn an_optional_mimalloc_dependency_is_the_crates_own_feature() {
    let main = format!(
        "#[cfg(feature = \"mimalloc\")]\n#[global_allocator]\nstatic GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;\n{ALLOCATING_JOB}"
    );
    let deps = "[dependencies]\nmimalloc = { version = \"0.1\", optional = true, default-features = false }\n";
    let krate = make_crate("optional-mimalloc-job", deps, &main, None);
    let path = krate.path().to_str().unwrap();
    let (code, stdout, stderr) = harness_cli(&["variants", "--app", path]);
    assert_eq!(code, 0, "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.contains(" musl-mimalloc-scratch "))
        .unwrap();
    assert!(row.contains(" feature "), "{stdout}");
    let jemalloc = stdout
        .lines()
        .find(|l| l.contains(" musl-jemalloc-scratch "))
        .unwrap();
    assert!(jemalloc.contains(" injected "), "{stdout}");
    let variants = "musl-system-scratch,musl-mimalloc-scratch";
    // Under a runtime named explicitly (the daemon's runc): recorded with the engine.
    let extra = [&JOB_SETS[..], &["--oci-runtime", "runc"]].concat();
    let Some(results) = run_in_docker(krate.path(), variants, &extra, "optional_mimalloc") else {
        return;
    };
    assert_eq!(results.environment.oci_runtime.as_deref(), Some("runc"));
    assert!(
        results
            .environment
            .engine
            .as_deref()
            .is_some_and(|e| e.contains("Engine")),
        "{:?}",
        results.environment.engine
    );
    let [system, mimalloc] = results.variants.as_slice() else {
        panic!("{:?}", results.variants)
    };
    assert!(system.is_ok() && mimalloc.is_ok(), "{:?}", mimalloc.status);
    let build = mimalloc.build.as_ref().unwrap();
    assert_eq!(build.allocator_source, Some(AllocatorSource::Feature));
    assert_eq!(
        build.allocator_check.as_deref(),
        Some("\"mimalloc: \" found in the binary")
    );
    assert_eq!(
        build.allocator_library, None,
        "built by the crate, not injected"
    );
    assert_eq!(system.build.as_ref().unwrap().allocator_source, None);
    assert_eq!(system.crunch[0].checksum, mimalloc.crunch[0].checksum);
}

#[test]
fn an_unmodified_crate_gets_mimalloc_and_jemalloc_injected() {
    let krate = make_crate("allocating-job", "", ALLOCATING_JOB, None);
    let path = krate.path().to_str().unwrap();
    let (code, stdout, stderr) = harness_cli(&["variants", "--app", path]);
    assert_eq!(code, 0, "{stderr}");
    for v in [
        "musl-mimalloc-scratch",
        "musl-mimalloc-debian",
        "musl-jemalloc-scratch",
        "musl-jemalloc-debian",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.contains(&format!(" {v} ")))
            .unwrap();
        assert!(row.contains(" yes ") && row.contains(" injected "), "{row}");
    }
    let variants = "musl-system-scratch,musl-mimalloc-scratch,musl-jemalloc-scratch";
    let Some(results) = run_in_docker(krate.path(), variants, &JOB_SETS, "injected") else {
        return;
    };
    let checksum = &results.variants[0].crunch[0].checksum;
    for v in &results.variants {
        assert!(v.is_ok(), "{}: {:?}", v.variant, v.status);
        assert_eq!(&v.crunch[0].checksum, checksum, "{}", v.variant);
        let build = v.build.as_ref().unwrap();
        match v.variant.allocator.name() {
            "system" => assert_eq!(build.allocator_source, None),
            name => {
                assert_eq!(
                    build.allocator_source,
                    Some(AllocatorSource::Injected),
                    "{name}"
                );
                let check = build.allocator_check.as_deref().unwrap();
                assert!(check.ends_with("found in the binary"), "{check}");
                let library = build.allocator_library.as_deref().unwrap();
                assert!(library.contains("-sys 0."), "{library}");
            }
        }
    }
}

/// Runs `binary` with both allocators' debug switches set; its stderr.
fn stderr_with_allocator_switches(binary: &Path) -> String {
    let output = std::process::Command::new(binary)
        .args(["1", "10"])
        .env("MIMALLOC_VERBOSE", "1")
        .env("MALLOC_CONF", "harness_probe:1")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", binary.display());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_injected_allocator_replaces_malloc_in_every_link_kind() {
    // The switches each allocator reads from the environment show whose malloc runs:
    // mimalloc prints its start-up under MIMALLOC_VERBOSE, jemalloc rejects an unknown
    // MALLOC_CONF pair; the libc's mallocs ignore both.
    let _busy = crate::support::busy_machine();
    let krate = make_crate("allocating-job", "", ALLOCATING_JOB, None);
    let app = harness::app::AppSpec::from_manifest(None, krate.path(), None).unwrap();
    let root = harness::app::workspace_root();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let names = [
        "musl-system-scratch",
        "musl-mimalloc-scratch",
        "musl-jemalloc-scratch",
        "glibc-system-debian",
        "glibc-mimalloc-debian",
        "glibc-static-jemalloc-scratch",
    ];
    for name in names {
        let variant: Variant = name.parse().unwrap();
        let built = rt
            .block_on(harness::build::compile_variant(&root, &app, variant, false))
            .unwrap_or_else(|(step, e)| panic!("{name}: {step}: {e:#}"));
        let stderr = stderr_with_allocator_switches(&built.artifact.path);
        let mimalloc = stderr.contains("mimalloc: process init");
        let jemalloc = stderr.contains("<jemalloc>: Invalid conf pair: harness_probe:1");
        let expected = match variant.allocator.name() {
            "mimalloc" => (true, false),
            "jemalloc" => (false, true),
            _ => (false, false),
        };
        assert_eq!((mimalloc, jemalloc), expected, "{name}: {stderr}");
    }
}

#[test]
fn a_quoted_set_value_toml_refuses_is_an_error_naming_the_literal_form() {
    let krate = make_crate("allocating-job", "", ALLOCATING_JOB, None);
    let (code, _, stderr) = harness_cli(&[
        "run",
        "--app",
        krate.path().to_str().unwrap(),
        "--set",
        "kind=batch",
        "--set",
        r#"throughput_regex="\(([0-9.]+) MB/s\)""#,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a valid TOML string ("), "{stderr}");
    assert!(
        stderr.contains(r"throughput_regex='\(([0-9.]+) MB/s\)'"),
        "{stderr}"
    );
}

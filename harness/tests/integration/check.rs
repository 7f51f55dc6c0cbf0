//! `harness check` against the real daemon, on crates written here (never copied from the
//! sample apps) and on the service sample app: a crate that loads the system's CA roots
//! through rustls-native-certs at start must be reported with its CA bundle missing in
//! scratch, with the fix, and the Dockerfile the check writes must build with the docker CLI
//! and pass the same check; one that bundles webpki roots must be reported clean; the DNS
//! cases must match the stub's log per libc. The tracer itself is tested without Docker.

use crate::byo::make_crate;
use crate::support::harness_cli;
use harness::check::pitfalls::{Pitfall, Status};
use harness::check::CheckResults;
use std::path::Path;

/// A std-only keep-alive HTTP server on `PORT` that runs `setup` first (printing what it
/// found), answers `GET /resolve?name=NAME` with the addresses the libc (getaddrinfo)
/// resolves NAME to, or 502 and the error, and anything else with `ok`.
fn server(setup: &str) -> String {
    format!(
        r#"
use std::io::{{Read, Write}};
use std::net::{{TcpListener, TcpStream, ToSocketAddrs}};

fn main() {{
    {setup}
    let port = std::env::var("PORT").expect("PORT is set");
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap())).expect("bind");
    for stream in listener.incoming().flatten() {{
        std::thread::spawn(move || serve(stream));
    }}
}}

fn answer(path: &str) -> (&'static str, String) {{
    match path.strip_prefix("/resolve?name=") {{
        Some(name) => match (name, 80).to_socket_addrs() {{
            Ok(addrs) => ("200 OK", addrs.map(|a| a.ip().to_string()).collect::<Vec<_>>().join(" ")),
            Err(e) => ("502 Bad Gateway", format!("cannot resolve {{name}}: {{e}}")),
        }},
        None => ("200 OK", "ok".to_string()),
    }}
}}

fn serve(mut stream: TcpStream) {{
    let (mut seen, mut buf) = (Vec::new(), [0u8; 4096]);
    loop {{
        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {{
            let head = String::from_utf8_lossy(&seen[..end]).into_owned();
            seen.drain(..end + 4);
            let (status, body) = answer(head.split_whitespace().nth(1).unwrap_or("/"));
            let reply = format!("HTTP/1.1 {{status}}\r\nContent-Length: {{}}\r\n\r\n{{body}}", body.len());
            if stream.write_all(reply.as_bytes()).is_err() {{
                return;
            }}
        }}
        match stream.read(&mut buf) {{
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }}
    }}
}}
"#
    )
}

/// Loads the system roots at start, as reqwest's and tonic's native-roots features do, and
/// says how many it found (a service that warns and serves on, failing only at its first
/// outbound call).
const NATIVE_ROOTS: &str = r#"let found = rustls_native_certs::load_native_certs();
    eprintln!("loaded {} CA certificates from the system ({} errors)", found.certs.len(), found.errors.len());
    if found.certs.is_empty() { eprintln!("error: no CA certificates were loaded from the system"); }"#;

const WEBPKI_ROOTS: &str =
    r#"eprintln!("{} bundled CA roots", webpki_roots::TLS_SERVER_ROOTS.len());"#;

/// `harness check` of `app` with `args`; the check file, checked against the published
/// schema, and the printed output. `None` when docker is unreachable (a loud skip).
fn check(app: &Path, args: &[&str], out: &Path, test: &str) -> Option<(CheckResults, String)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(crate::support::docker_or_skip(test))?;
    let mut all = vec![
        "check",
        "--app",
        app.to_str().unwrap(),
        "--allow-concurrent",
        "--duration",
        "300ms",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = harness_cli(&all);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let dir = out.join("checks");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let file = files.pop().expect("a check file");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    crate::support::assert_valid(&value, &harness::check::check_json_schema());
    let results = CheckResults::load(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    Some((results, stdout))
}

fn status(results: &CheckResults, variant: &str, pitfall: Pitfall) -> Status {
    results.variant(variant).expect("checked").status(pitfall)
}

/// Builds what a check of `app` needs before the Docker lock is taken: the variants'
/// binaries (`support::prebuild`; the check reuses them) and the tracer, so that the lock
/// is held for the daemon's work, not for compiling.
fn prebuild(app: &Path, variants: &str) {
    let _busy = crate::support::busy_machine();
    crate::support::prebuild(app.to_str().unwrap(), variants);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(harness::agent::image::binary(
        &harness::app::workspace_root(),
    ))
    .expect("the tracer builds");
}

/// Builds `tag` from a Dockerfile the check wrote, with the docker CLI (an independent
/// builder); the image is removed when the returned guard drops.
fn build_image(dockerfile: &Path, context: &Path, tag: &str) -> RemoveImage {
    let remove = RemoveImage(tag.to_string());
    let built = std::process::Command::new("docker")
        .args(["build", "-q", "-t", tag, "-f"])
        .arg(dockerfile)
        .arg(context)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    remove
}

/// Removes an image the test built with the docker CLI, whatever happens.
struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

/// A crate that loads the system roots at start (and resolves names on request): the CA
/// bundle is missing in scratch and in the minbase debian, with its fix; the Dockerfile the
/// check writes builds, and its image has the roots; each libc resolves the DNS cases as
/// the stub's log shows.
#[test]
fn native_roots_are_missing_in_scratch_and_the_written_dockerfile_fixes_it() {
    let krate = make_crate(
        "native-roots-server",
        "\n[dependencies]\nrustls-native-certs = \"0.8\"\n",
        &server(NATIVE_ROOTS),
        None,
    );
    prebuild(krate.path(), "glibc-system-debian,musl-system-scratch");
    let _lock = crate::support::docker_shared();
    let out = tempfile::tempdir().unwrap();
    let Some((results, stdout)) = check(
        krate.path(),
        &[
            "--variants",
            "glibc-system-debian,musl-system-scratch",
            "--set",
            "resolve_path=/resolve?name={name}",
        ],
        out.path(),
        "native roots",
    ) else {
        return;
    };
    assert_dns_as_logged(&results, &stdout);
    let scratch = results.variant("musl-system-scratch").unwrap();
    assert!(scratch.traced, "{:?}", scratch.untraced_reason);
    let ca = scratch
        .pitfalls
        .iter()
        .find(|v| v.pitfall == Pitfall::CaCertificates)
        .expect("the CA bundle was reached for");
    assert_eq!(ca.status, Status::Breaks, "{ca:?}");
    assert!(
        ca.missing
            .iter()
            .any(|p| p == "/etc/ssl/certs/ca-certificates.crt"),
        "{:?}",
        ca.missing
    );
    assert!(ca.fix.as_deref().unwrap().contains("ca-certificates"));
    // The server still serves: only the trace shows what its first TLS call would meet.
    assert!(!scratch.failures.any(), "{:?}", scratch.failures);
    assert!(
        scratch
            .failures
            .error_lines
            .iter()
            .any(|l| l.contains("no CA certificates")),
        "{:?}",
        scratch.failures.error_lines
    );
    assert!(
        stdout.contains("musl-system-scratch: CA certificates breaks"),
        "{stdout}"
    );
    // The debian base is minbase, without the ca-certificates package: it lacks them too.
    assert_eq!(
        status(&results, "glibc-system-debian", Pitfall::CaCertificates),
        Status::Breaks
    );

    // The Dockerfile the check writes for scratch builds with the docker CLI, and its
    // image passes the same check.
    let context = tempfile::tempdir().unwrap();
    let dockerfile = context.path().join("Dockerfile");
    let Some((_, stdout)) = check(
        krate.path(),
        &[
            "--variants",
            "musl-system-scratch",
            "--dockerfile",
            dockerfile.to_str().unwrap(),
        ],
        out.path(),
        "native roots",
    ) else {
        return;
    };
    assert!(stdout.contains("dockerfile: "), "{stdout}");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    assert!(
        text.contains("COPY check-rootfs/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt"),
        "{text}"
    );
    let tag = format!(
        "{}/check-fixed:native-roots",
        crate::support::test_namespace()
    );
    let _remove = build_image(&dockerfile, context.path(), &tag);
    let (fixed, _) = check(
        krate.path(),
        &["--variants", "musl-system-scratch", "--image", &tag],
        out.path(),
        "native roots",
    )
    .unwrap();
    let fixed_scratch = fixed.variant("musl-system-scratch").unwrap();
    assert_eq!(fixed_scratch.image.as_deref(), Some(tag.as_str()));
    assert_eq!(
        status(&fixed, "musl-system-scratch", Pitfall::CaCertificates),
        Status::Works
    );
    assert_eq!(fixed_scratch.breaking().count(), 0, "{fixed_scratch:?}");
    assert!(
        fixed_scratch
            .failures
            .error_lines
            .iter()
            .all(|l| !l.contains("no CA certificates")),
        "{:?}",
        fixed_scratch.failures.error_lines
    );
}

#[test]
fn bundled_webpki_roots_are_reported_clean() {
    let krate = make_crate(
        "webpki-roots-server",
        "\n[dependencies]\nwebpki-roots = \"1\"\n",
        &server(WEBPKI_ROOTS),
        None,
    );
    prebuild(krate.path(), "musl-system-scratch");
    let _lock = crate::support::docker_shared();
    let out = tempfile::tempdir().unwrap();
    let Some((results, _)) = check(
        krate.path(),
        &["--variants", "musl-system-scratch"],
        out.path(),
        "webpki roots",
    ) else {
        return;
    };
    let scratch = results.variant("musl-system-scratch").unwrap();
    assert!(scratch.traced, "{:?}", scratch.untraced_reason);
    assert_eq!(
        status(&results, "musl-system-scratch", Pitfall::CaCertificates),
        Status::NotReached
    );
    assert_eq!(scratch.breaking().count(), 0, "{:?}", scratch.pitfalls);
    assert!(!scratch.failures.any(), "{:?}", scratch.failures);
}

/// The outcome of the DNS case whose lookup is `lookup`, in `variant`.
fn case<'a>(
    results: &'a CheckResults,
    variant: &str,
    lookup: &str,
) -> &'a harness::check::CaseOutcome {
    let dns = results
        .variant(variant)
        .unwrap()
        .dns
        .as_ref()
        .expect("dns checked");
    dns.cases
        .iter()
        .find(|c| c.case.lookup == lookup)
        .expect("case asked")
}

/// The DNS cases, per libc, as the stub's log shows them: glibc asks its nameservers in
/// turn and resolves every case; musl asks both at once and the external resolver's fast
/// NXDOMAIN wins for a cluster name; the big answer is right exactly when the log shows a
/// retry over TCP.
fn assert_dns_as_logged(results: &CheckResults, stdout: &str) {
    assert_eq!(results.dns_skipped, None, "{stdout}");
    assert!(results
        .resolv_conf
        .as_deref()
        .unwrap()
        .contains("options ndots:5"));
    use harness::check::dns::Server;
    // A public name: both libcs get it right.
    for variant in ["glibc-system-debian", "musl-system-scratch"] {
        let api = case(results, variant, "api.example.test.");
        assert_eq!(api.verdict, "right", "{variant}: {api:?}");
    }
    // The short name under a pod's settings. glibc asks its nameservers in turn: the
    // cluster DNS first, which answers; the external resolver never sees the name.
    let glibc = case(results, "glibc-system-debian", "upstream");
    assert_eq!(glibc.verdict, "right", "{glibc:?}");
    assert_eq!(
        glibc.queries[0].server,
        Server::Cluster,
        "{:?}",
        glibc.queries
    );
    assert_eq!(glibc.queries[0].name, "upstream.default.svc.cluster.local.");
    assert!(
        glibc.queries.iter().all(|q| q.server == Server::Cluster),
        "{:?}",
        glibc.queries
    );
    // musl asks both at once and takes the first answer: the external resolver's fast
    // NXDOMAIN, so the name does not resolve.
    let musl = case(results, "musl-system-scratch", "upstream");
    let first = &musl.queries[0].name;
    assert!(
        musl.queries
            .iter()
            .any(|q| q.server == Server::External && &q.name == first && q.rcode == "NXDOMAIN"),
        "{:?}",
        musl.queries
    );
    assert!(
        musl.behaviour.starts_with("asked both nameservers at once"),
        "{}: {:#?}",
        musl.behaviour,
        musl.queries
    );
    assert_ne!(musl.verdict, "right", "{musl:?}");
    // The answer over 512 bytes: right exactly when the log shows a retry over TCP.
    for variant in ["glibc-system-debian", "musl-system-scratch"] {
        let big = case(results, variant, "big.example.test.");
        assert!(
            big.queries.iter().any(|q| q.truncated),
            "{variant}: {:?}",
            big.queries
        );
        let tcp = big.queries.iter().any(|q| q.transport == "tcp");
        assert_eq!(big.verdict == "right", tcp, "{variant}: {big:?}");
    }
    assert!(case(results, "glibc-system-debian", "big.example.test.")
        .queries
        .iter()
        .any(|q| q.transport == "tcp"));
}

/// The service sample app in scratch: its CA roots, time zones and user database are all
/// missing, each with its fix and a failed request to show for it; the Dockerfile the check
/// writes copies them in, and the image it builds serves every request.
#[test]
fn the_service_app_breaks_in_scratch_and_its_dockerfile_mends_it() {
    let app = Path::new("service");
    prebuild(app, "musl-system-scratch");
    let _lock = crate::support::docker_shared();
    let out = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    let dockerfile = context.path().join("Dockerfile");
    let Some((results, _)) = check(
        app,
        &[
            "--variants",
            "musl-system-scratch",
            "--dockerfile",
            dockerfile.to_str().unwrap(),
        ],
        out.path(),
        "service",
    ) else {
        return;
    };
    let scratch = results.variant("musl-system-scratch").unwrap();
    for pitfall in [
        Pitfall::CaCertificates,
        Pitfall::TimeZone,
        Pitfall::UserDatabase,
    ] {
        let verdict = scratch
            .pitfalls
            .iter()
            .find(|v| v.pitfall == pitfall)
            .unwrap_or_else(|| panic!("{pitfall:?} not reached: {:?}", scratch.pitfalls));
        assert_eq!(verdict.status, Status::Breaks, "{verdict:?}");
        assert!(verdict.fix.is_some());
    }
    let failed: Vec<&str> = scratch
        .failures
        .requests
        .iter()
        .filter(|r| r.unexpected_status > 0)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        failed,
        ["/fetch", "/time", "/whoami"],
        "{:?}",
        scratch.failures
    );
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    for copied in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/usr/share/zoneinfo",
        "/etc/passwd",
    ] {
        assert!(text.contains(&format!(" {copied}\n")), "{copied}: {text}");
    }
    let tag = format!("{}/check-fixed:service", crate::support::test_namespace());
    let _remove = build_image(&dockerfile, context.path(), &tag);
    let (fixed, _) = check(
        app,
        &["--variants", "musl-system-scratch", "--image", &tag],
        out.path(),
        "service",
    )
    .unwrap();
    let fixed = fixed.variant("musl-system-scratch").unwrap();
    assert_eq!(fixed.breaking().count(), 0, "{:?}", fixed.pitfalls);
    assert!(!fixed.failures.any(), "{:?}", fixed.failures);
    // Files do not change how musl asks its nameservers: the short name still fails.
    let dns = fixed.dns.as_ref().unwrap();
    let short = dns
        .cases
        .iter()
        .find(|c| c.case.lookup == "upstream")
        .unwrap();
    assert_ne!(short.verdict, "right", "{short:?}");
}

/// The tracer on this machine, no Docker: it passes the app's exit code through, forwards a
/// SIGTERM to it, and when ptrace is refused (here: its child is already traced by an
/// outer tracer) it says so in the trace and still runs the app.
#[test]
fn the_tracer_passes_exit_codes_and_signals_through_and_says_when_it_cannot_trace() {
    use harness::check::trace::{Trace, TraceLine};
    let dir = tempfile::tempdir().unwrap();
    let (outer, inner) = (
        dir.path().join("outer.jsonl"),
        dir.path().join("inner.jsonl"),
    );
    let harness = env!("CARGO_BIN_EXE_harness");
    let status = std::process::Command::new(harness)
        .args(["trace", "--out"])
        .arg(&outer)
        .args(["--", harness, "trace", "--out"])
        .arg(&inner)
        .args([
            "--",
            "sh",
            "-c",
            "cat /nonexistent/file 2>/dev/null; exit 7",
        ])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
    let inner = Trace::read(&inner).unwrap();
    assert!(!inner.traced());
    assert!(
        inner.untraceable().unwrap().contains("PTRACE_TRACEME"),
        "{:?}",
        inner.lines
    );
    assert!(inner.lines.contains(&TraceLine::Exit {
        code: Some(7),
        signal: None
    }));
    // The outer tracer followed the inner one's child: the file it missed is in its trace.
    let outer = Trace::read(&outer).unwrap();
    assert!(outer.traced());
    assert!(
        outer
            .paths()
            .any(|(_, path, outcome, _)| path == "/nonexistent/file"
                && outcome == harness::check::trace::Outcome::Missing),
        "{:?}",
        outer.lines
    );

    // A SIGTERM to the tracer reaches the app, and the tracer exits as the app did.
    let trace = dir.path().join("term.jsonl");
    let mut child = std::process::Command::new(harness)
        .args(["trace", "--out"])
        .arg(&trace)
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !Trace::read(&trace).is_ok_and(|t| {
        t.paths()
            .any(|(op, _, _, _)| op == harness::check::trace::Op::Exec)
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the tracer never exec'd sleep"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    assert!(Trace::read(&trace)
        .unwrap()
        .lines
        .contains(&TraceLine::Exit {
            code: None,
            signal: Some(libc::SIGTERM)
        }));
}

/// A daemon on another machine cannot bind-mount this machine's tracer and trace
/// directory: the check says so in one line and exits 2 before building or connecting.
#[test]
fn a_check_of_a_daemon_on_another_machine_is_refused_in_one_line() {
    let output = crate::support::harness_command()
        .args([
            "check",
            "--app",
            "http",
            "--variants",
            "musl-system-scratch",
        ])
        // A documentation address (TEST-NET-1): refused in planning, so never contacted.
        .env("DOCKER_HOST", "tcp://192.0.2.1:2375")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("on another machine"), "{stderr}");
}

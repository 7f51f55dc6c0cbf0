//! Remote daemons, for real: throwaway `dockerd`s listening on tcp://127.0.0.1:PORT (own data
//! root, exec root and pid file, no bridge), started and stopped here. A run against them is
//! measured by the agent on the daemon's host; several run in parallel (`--spread`,
//! `--replicate`); one lost mid-run (its connection cut) fails only its own share and leaves
//! nothing behind on the others. These check correctness (every request counted, each
//! host's results from that host), not speed.

use crate::support;
use bollard::Docker;
use harness::fresh_node::child::{self, Helper};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A throwaway daemon on a loopback tcp port.
struct TcpDaemon {
    host: String,
    helper: Helper,
    /// The client certificates, for a TLS daemon.
    client_certs: Option<PathBuf>,
}

impl TcpDaemon {
    /// Starts one, with TLS when `tls` names a directory holding ca.pem, server-cert.pem and
    /// server-key.pem; `None` when dockerd cannot run here (skip).
    async fn start(tls: Option<&Path>) -> anyhow::Result<TcpDaemon> {
        let dir = child::temp_dir("tcp-dockerd")?;
        std::fs::write(dir.join("daemon.json"), "{}\n")?;
        let addr = harness::fresh_node::registry::free_loopback_addr()?;
        let at = |name: &str| dir.join(name).display().to_string();
        let main = harness::runtime::docker_client::connect().await?;
        let driver = main.info().await?.driver.unwrap_or_else(|| "vfs".into());
        let mut command = Command::new("dockerd");
        command.args([
            format!("--config-file={}", at("daemon.json")),
            format!("--data-root={}", at("data")),
            format!("--exec-root={}", at("exec")),
            format!("--pidfile={}", at("dockerd.pid")),
            format!("--host=tcp://{addr}"),
            format!("--storage-driver={driver}"),
            "--cgroup-parent=glibc-vs-musl-test-remote".into(),
            "--bridge=none".into(),
            "--iptables=false".into(),
            "--ip-masq=false".into(),
            "--log-level=warn".into(),
        ]);
        if let Some(tls) = tls {
            let file = |name: &str| tls.join(name).display().to_string();
            command.args([
                "--tlsverify".to_string(),
                format!("--tlscacert={}", file("ca.pem")),
                format!("--tlscert={}", file("server-cert.pem")),
                format!("--tlskey={}", file("server-key.pem")),
            ]);
        }
        let mut helper = Helper::spawn("dockerd", command, dir.clone())?;
        helper.also_kill(dir.join("exec/containerd/containerd.pid"));
        let host = format!("tcp://{addr}");
        let start = Instant::now();
        // A TLS daemon refuses plain http: its port answering at all is enough here.
        while start.elapsed() < Duration::from_secs(60) {
            anyhow::ensure!(
                helper.exited().is_none(),
                "dockerd exited: {}",
                helper.log_tail(5)
            );
            if std::net::TcpStream::connect(addr).is_ok() {
                let client_certs = tls.map(Path::to_path_buf);
                return Ok(TcpDaemon {
                    host,
                    helper,
                    client_certs,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!("dockerd did not listen within 60 s: {}", helper.log_tail(5))
    }

    fn client(&self) -> Docker {
        let version = bollard::API_DEFAULT_VERSION;
        match &self.client_certs {
            Some(dir) => Docker::connect_with_ssl(
                &self.host,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                30,
                version,
            )
            .unwrap(),
            None => Docker::connect_with_http(&self.host, 30, version).unwrap(),
        }
    }

    /// The harness's containers on this daemon (any namespace).
    async fn containers_left(&self) -> Vec<String> {
        self.containers(harness::labels::filter(None)).await
    }

    /// The app containers a run started on this daemon (not the agent, nor an image
    /// build's: those carry no owner), running or not.
    async fn app_containers(&self) -> Vec<String> {
        let mut filters = harness::labels::filter(None);
        let labels = filters.entry("label".into()).or_default();
        labels.push(format!("{}=variant", harness::labels::ROLE));
        labels.push(harness::labels::OWNER.into());
        self.containers(filters).await
    }

    async fn containers(
        &self,
        filters: std::collections::HashMap<String, Vec<String>>,
    ) -> Vec<String> {
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self.client().list_containers(Some(options)).await.unwrap();
        listed.into_iter().filter_map(|c| c.id).collect()
    }

    fn stop(mut self) {
        self.helper.stop(Duration::from_secs(20));
    }
}

/// Two daemons, or `None` after a loud skip.
async fn two_daemons(test: &str) -> Option<(TcpDaemon, TcpDaemon)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        support::skip(test, "throwaway dockerds need root");
        return None;
    }
    support::docker_or_skip(test).await?;
    match (TcpDaemon::start(None).await, TcpDaemon::start(None).await) {
        (Ok(a), Ok(b)) => Some((a, b)),
        (Err(e), _) | (_, Err(e)) => {
            support::skip(test, &format!("cannot start a throwaway dockerd: {e:#}"));
            None
        }
    }
}

/// The arguments of a short http run of `variants` into `out` on `hosts` (2 cold starts
/// unless `extra` says `--runs`).
fn run_args(hosts: &[&str], variants: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let runs = if extra.contains(&"--runs") {
        ""
    } else {
        "--runs=2"
    };
    let mut args: Vec<String> = [
        "run",
        "--app",
        "http",
        runs,
        "--concurrency",
        "4",
        "--endpoints",
        "/plaintext",
        "--quiet",
        "--variants",
        variants,
        "--out",
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .map(|s| s.to_string())
    .collect();
    args.push(out.display().to_string());
    for host in hosts {
        args.extend(["--docker-host".to_string(), host.to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The one results file under `dir`, checked against the schema.
fn results_in(dir: &Path) -> harness::results::RunResults {
    support::checked_results(dir)
}

/// Every request the agent sent was counted: completed in some phase, no errors.
fn check_measured_by_agent(results: &harness::results::RunResults, host: &str) {
    assert_eq!(results.settings.measured_by, "agent");
    assert_eq!(results.environment.docker_host.as_deref(), Some(host));
    for v in &results.variants {
        assert!(v.is_ok(), "{}: {:?}", v.variant, v.status);
        assert!(v.cold_start.is_some(), "{}: no cold start", v.variant);
        assert!(
            v.peak_memory_bytes.is_some(),
            "{}: no peak memory",
            v.variant
        );
        for cell in &v.load {
            assert_eq!(cell.errors, 0, "{}: {cell:?}", v.variant);
            assert!(cell.requests > 0, "{}: {cell:?}", v.variant);
            assert!(
                cell.server_cpu_us_per_request.is_some(),
                "{}: no server CPU",
                v.variant
            );
        }
    }
}

// The machine guard only orders tests (each has its own runtime): held across awaits.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn spread_runs_each_share_on_its_own_host_through_the_agent() {
    // It builds the agent and runs `harness` by itself: the machine is busy meanwhile.
    let _busy = support::busy_machine();
    let test = "remote::spread_runs_each_share_on_its_own_host_through_the_agent";
    let Some((a, b)) = two_daemons(test).await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let args = run_args(
        &[&a.host, &b.host],
        "musl-system-scratch,glibc-static-system-scratch",
        out.path(),
        &["--spread", "--quick", "--rounds", "1"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = support::harness_cli(&args);
    assert_eq!(code, 0, "{stderr}");
    let mut seen = Vec::new();
    for daemon in [&a, &b] {
        let dir = out.path().join(harness::runner::hosts::slug(&daemon.host));
        let results = results_in(&dir);
        check_measured_by_agent(&results, &daemon.host);
        assert_eq!(results.variants.len(), 1, "{:?}", results.variants);
        seen.push(results.variants[0].variant.name());
        assert!(daemon.containers_left().await.is_empty(), "{}", daemon.host);
    }
    seen.sort();
    assert_eq!(seen, ["glibc-static-system-scratch", "musl-system-scratch"]);
    // One report over both hosts' files names each host in its run heading and verdict.
    let files: Vec<String> = [&a, &b]
        .iter()
        .map(|d| {
            let dir = out.path().join(harness::runner::hosts::slug(&d.host));
            support::results_file(&dir).unwrap().display().to_string()
        })
        .collect();
    let report = out.path().join("report");
    let report_s = report.display().to_string();
    let (code, _, stderr) =
        support::harness_cli(&["report", &files[0], &files[1], "--out", &report_s]);
    assert_eq!(code, 0, "{stderr}");
    let md = std::fs::read_to_string(report.join("REPORT.md")).unwrap();
    for daemon in [&a, &b] {
        assert!(
            md.contains(&format!("## http run on {} (", daemon.host)),
            "{md}"
        );
        assert!(
            md.contains(&format!("### http run on {}\n", daemon.host)),
            "{md}"
        );
    }
    a.stop();
    b.stop();
}

/// A loopback TCP relay to a daemon that can be cut: every connection through it, open or
/// new, then fails at once. That is a daemon lost mid-run, deterministically: a dockerd
/// told to stop keeps serving the connections already open while its containers get their
/// 10 s stop timeout, time in which a short share could finish.
struct Relay {
    host: String,
    accepting: tokio::task::JoinHandle<()>,
    open: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

/// When a relay cuts itself: as the client sends its `nth` request (counting from 1) whose
/// bytes hold `request`.
#[derive(Clone, Copy)]
struct CutAt {
    request: &'static [u8],
    nth: usize,
}

impl Relay {
    async fn to(daemon: &str, cut_at: Option<CutAt>) -> Arc<Relay> {
        let target = daemon.trim_start_matches("tcp://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = format!("tcp://{}", listener.local_addr().unwrap());
        let open = Arc::new(Mutex::new(Vec::new()));
        let (relays, seen) = (open.clone(), Arc::new(AtomicUsize::new(0)));
        let (cut_tx, mut cut_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let accepting = tokio::spawn(async move {
            loop {
                let (inbound, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => return,
                    },
                    _ = cut_rx.recv() => return,
                };
                let (target, seen, cut_tx) = (target.clone(), seen.clone(), cut_tx.clone());
                let relay = tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let replies = tokio::io::copy(&mut out_read, &mut in_write);
                    let requests = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match in_read.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            let chunk = &buf[..n];
                            if let Some(at) = cut_at {
                                let hit = chunk.windows(at.request.len()).any(|w| w == at.request);
                                if hit && seen.fetch_add(1, Ordering::SeqCst) + 1 == at.nth {
                                    let _ = cut_tx.send(());
                                    return;
                                }
                            }
                            if out_write.write_all(chunk).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = replies => {}
                        _ = requests => {}
                    }
                });
                relays.lock().unwrap().push(relay);
            }
        });
        let relay = Arc::new(Relay {
            host,
            accepting,
            open,
        });
        // The cut asked for by a request closes everything, as `cut` does.
        let cutter = relay.clone();
        tokio::spawn(async move {
            while !cutter.accepting.is_finished() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            cutter.cut();
        });
        relay
    }

    /// Closes the listening socket and every relayed connection.
    fn cut(&self) {
        self.accepting.abort();
        for relay in self.open.lock().unwrap().drain(..) {
            relay.abort();
        }
    }
}

/// Runs one http share on each of A and B (B through `relay`), waits for B to be lost as
/// `lose_b` says, and checks that B's share failed on the API, A's finished measured by its
/// agent, and nothing is left on A; returns the run's stderr.
async fn lose_b_mid_run(
    a: &TcpDaemon,
    relay: &Relay,
    lose_b: impl std::future::Future<Output = ()>,
) -> String {
    let out = tempfile::tempdir().unwrap();
    let args = run_args(
        &[&a.host, &relay.host],
        "musl-system-scratch",
        out.path(),
        &[
            "--replicate",
            "--runs",
            "4",
            "--rounds",
            "2",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
        ],
    );
    let mut child = crate::support::harness_command()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::pin!(lose_b);
    // The event is what the loop waits for; the deadline only bounds a run that never gets
    // there. Building the share's images on both daemons took over 400 s on a slower
    // 2-core host (CI of 2026-12-07), so the bound is generous.
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        assert!(Instant::now() < deadline, "B was never lost");
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "the run ended before B was lost: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::select! {
            _ = &mut lose_b => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("error: 1 of 2 hosts failed")
            && stderr.contains(&format!("{}: failed: ", relay.host))
            && stderr.contains("Docker API failed after"),
        "{stderr}"
    );
    let a_results = results_in(&out.path().join(harness::runner::hosts::slug(&a.host)));
    check_measured_by_agent(&a_results, &a.host);
    assert!(a_results.finished_at.is_some());
    assert!(a.containers_left().await.is_empty(), "left on {}", a.host);
    stderr
}

// The machine guard only orders tests (each has its own runtime): held across awaits.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_lost_at_a_cold_start_fails_its_share_and_the_other_host_finishes() {
    // It builds the agent and runs `harness` by itself: the machine is busy meanwhile.
    let _busy = support::busy_machine();
    let test = "remote::a_daemon_lost_at_a_cold_start_fails_its_share_and_the_other_host_finishes";
    let Some((a, b)) = two_daemons(test).await else {
        return;
    };
    let relay = Relay::to(&b.host, None).await;
    // Cut at B's first app container: every step after it needs B's API.
    let lost = async {
        while b.app_containers().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        relay.cut();
    };
    lose_b_mid_run(&a, &relay, lost).await;
    a.stop();
    // What the run could not remove through the cut goes with B's own shutdown.
    b.stop();
}

// The machine guard only orders tests (each has its own runtime): held across awaits.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_lost_during_an_image_build_fails_its_share_not_its_variant() {
    // It builds the agent and runs `harness` by itself: the machine is busy meanwhile.
    let _busy = support::busy_machine();
    let test = "remote::a_daemon_lost_during_an_image_build_fails_its_share_not_its_variant";
    let Some((a, b)) = two_daemons(test).await else {
        return;
    };
    // B's first build is the agent's image, its second the variant's: cut as that one starts.
    let at = CutAt {
        request: b"/build?",
        nth: 2,
    };
    let relay = Relay::to(&b.host, Some(at)).await;
    let lost = async {
        while !relay.accepting.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let stderr = lose_b_mid_run(&a, &relay, lost).await;
    // The build was tried again and the share ended on the API (the helper checks the exit),
    // rather than the variant marked failed and the share "done".
    assert!(
        stderr.contains("build ") && stderr.contains("/http:musl-system-scratch"),
        "{stderr}"
    );
    a.stop();
    b.stop();
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl
/// CLI in `dir` (ca.pem, server-cert.pem, server-key.pem, cert.pem, key.pem).
fn make_certs(dir: &Path) -> anyhow::Result<()> {
    let steps: [&[&str]; 8] = [
        &["genrsa", "-out", "ca-key.pem", "2048"],
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "1",
            "-key",
            "ca-key.pem",
            "-sha256",
            "-subj",
            "/CN=glibc-vs-musl test CA",
            "-out",
            "ca.pem",
        ],
        &["genrsa", "-out", "server-key.pem", "2048"],
        &[
            "req",
            "-new",
            "-subj",
            "/CN=127.0.0.1",
            "-key",
            "server-key.pem",
            "-out",
            "server.csr",
        ],
        &[
            "x509",
            "-req",
            "-days",
            "1",
            "-sha256",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "server-cert.pem",
            "-extfile",
            "server.cnf",
        ],
        &["genrsa", "-out", "key.pem", "2048"],
        &[
            "req",
            "-new",
            "-subj",
            "/CN=client",
            "-key",
            "key.pem",
            "-out",
            "client.csr",
        ],
        &[
            "x509",
            "-req",
            "-days",
            "1",
            "-sha256",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-extfile",
            "client.cnf",
        ],
    ];
    std::fs::write(
        dir.join("server.cnf"),
        "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
    )?;
    std::fs::write(dir.join("client.cnf"), "extendedKeyUsage = clientAuth\n")?;
    for args in steps {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

// The machine guard only orders tests (each has its own runtime): held across awaits.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn a_tls_daemon_is_reached_with_its_own_certificate_directory() {
    // It builds the agent and runs `harness` by itself: the machine is busy meanwhile.
    let _busy = support::busy_machine();
    let test = "remote::a_tls_daemon_is_reached_with_its_own_certificate_directory";
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        support::skip(test, "throwaway dockerds need root");
        return;
    }
    if support::docker_or_skip(test).await.is_none() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    if let Err(e) = make_certs(certs.path()) {
        support::skip(
            test,
            &format!("cannot make certificates with openssl: {e:#}"),
        );
        return;
    }
    let daemon = TcpDaemon::start(Some(certs.path())).await.unwrap();
    // The client's certificates in DOCKER_CERT_PATH/<HOST:PORT>/, as for one of several hosts.
    let cert_root = tempfile::tempdir().unwrap();
    let authority = daemon.host.trim_start_matches("tcp://");
    let own = cert_root.path().join(authority);
    std::fs::create_dir_all(&own).unwrap();
    for file in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(certs.path().join(file), own.join(file)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let args = run_args(
        &[&daemon.host],
        "musl-system-scratch",
        out.path(),
        &["--quick", "--rounds", "1"],
    );
    let output = crate::support::harness_command()
        .args(&args)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", cert_root.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    check_measured_by_agent(&results_in(out.path()), &daemon.host);
    assert!(daemon.containers_left().await.is_empty());
    // Without certificates the same daemon is refused, with one error line.
    let output = crate::support::harness_command()
        .args(&args)
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.matches("error: ").count(), 1, "{stderr}");
    daemon.stop();
}

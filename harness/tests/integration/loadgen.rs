//! The built-in load generator against the real http-server library, served in-process on
//! 127.0.0.1:0: counts must equal the server's own counter, failures must be counted and
//! bounded, and the rate mode must keep its rate.

use bytes::Bytes;
use harness::measure::loadgen::{
    run_load, run_load_with, Client, Endpoint, LoadReport, LoadSpec, DRAIN,
};
use http_server::Counters;
use hyper::Method;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The http-server on its own runtime and thread; `kill` drops the runtime, which closes
/// every open connection, as a killed process would.
struct TestServer {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    fn start() -> TestServer {
        let counters = Arc::new(Counters::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = counters.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                http_server::serve(listener, served, async {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        TestServer {
            addr: addr_rx.recv().unwrap(),
            counters,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn answered(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spec(addr: SocketAddr, path: &str, concurrency: u32, warmup_ms: u64, ms: u64) -> LoadSpec {
    LoadSpec {
        addr,
        endpoint: Endpoint::for_path(path).unwrap(),
        concurrency,
        warmup: Duration::from_millis(warmup_ms),
        duration: Duration::from_millis(ms),
        rate: None,
        cpus: None,
    }
}

fn assert_clean(report: &LoadReport) {
    assert_eq!(report.errors(), 0, "{report:#?}");
    assert_eq!(report.abandoned, 0, "{report:#?}");
    assert!(
        report.warmup.requests > 0 && report.window.requests > 0,
        "{report:#?}"
    );
    let l = report.latency_us;
    assert!(0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
}

const CLIENTS: [Client; 2] = [Client::Lean, Client::Hyper];

#[test]
fn loadgen_counts_match_the_server_counter_exactly() {
    for (path, client) in ["/plaintext", "/json", "/parse"]
        .into_iter()
        .flat_map(|p| CLIENTS.map(|c| (p, c)))
    {
        let server = TestServer::start();
        let report = run_load_with(&spec(server.addr, path, 4, 100, 300), client).unwrap();
        assert_clean(&report);
        assert_eq!(report.window.non_2xx + report.warmup.non_2xx, 0, "{path}");
        assert_eq!(
            report.completed(),
            server.answered(),
            "{path} {client:?}: {report:#?}"
        );
        assert_eq!(report.errors(), 0);
        assert!((report.rps - report.window.requests as f64 / 0.3).abs() < 1e-6);
    }
}

#[test]
fn loadgen_counts_non_2xx_responses() {
    for client in CLIENTS {
        let server = TestServer::start();
        let mut spec = spec(server.addr, "/plaintext", 2, 50, 200);
        spec.endpoint = Endpoint::new(Method::GET, "/no-such-endpoint", Bytes::new()).unwrap();
        let report = run_load_with(&spec, client).unwrap();
        assert_clean(&report);
        assert_eq!(report.window.non_2xx, report.window.requests);
        assert_eq!(report.non_2xx(), report.completed());
        assert_eq!(report.completed(), server.answered(), "{client:?}");
    }
}

#[test]
fn loadgen_counts_errors_when_the_server_is_killed_mid_window() {
    for client in CLIENTS {
        killed_server_gives_errors(client);
    }
}

fn killed_server_gives_errors(client: Client) {
    let mut server = TestServer::start();
    let spec = spec(server.addr, "/plaintext", 4, 0, 1500);
    let began = Instant::now();
    let load = std::thread::spawn(move || run_load_with(&spec, client));
    std::thread::sleep(Duration::from_millis(500));
    let answered_before_kill = server.answered();
    server.kill();
    let report = load.join().unwrap().unwrap();
    assert!(
        answered_before_kill > 0,
        "the server answered nothing before the kill"
    );
    assert!(report.window.requests > 0, "{report:#?}");
    assert!(report.window.errors > 0, "{report:#?}");
    assert!(report.first_error.is_some());
    assert!(report.errors() >= report.window.errors);
    // Bounded: it ends with its window plus drain (generous slack for a loaded machine).
    assert!(began.elapsed() < Duration::from_millis(1500) + DRAIN + Duration::from_secs(10));
}

#[test]
fn loadgen_abandons_requests_a_silent_server_never_answers() {
    for client in CLIENTS {
        silent_server_requests_are_abandoned(client);
    }
}

fn silent_server_requests_are_abandoned(client: Client) {
    // Accepts connections and reads nothing, answers nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(listener.accept().unwrap().0);
        }
        std::thread::sleep(Duration::from_millis(300) + DRAIN + Duration::from_millis(500));
        held.len()
    });
    let report = run_load_with(&spec(addr, "/plaintext", 3, 0, 300), client).unwrap();
    assert_eq!(report.completed(), 0, "{report:#?}");
    assert_eq!(report.abandoned, 3, "{report:#?}");
    assert_eq!(report.errors(), 3, "{report:#?}");
    // Unanswered for the whole window: in the latencies, censored at its end (~300 ms).
    assert_eq!(report.censored, 3, "{report:#?}");
    assert!(report.latency_us.p50 >= 250_000, "{report:#?}");
    assert_eq!(holder.join().unwrap(), 3);
}

/// A hyper server that, once a second from `first_stall` after its first request on, stalls
/// for 200 ms: every request arriving in a stall is answered 200 ms after it arrived (a slow
/// dependency), the others at once. Connections are served concurrently. Returns its address
/// and a stop handle. The schedule starts at the load's first request, not at a clock read
/// before the load: on a busy machine the load can start hundreds of milliseconds later, and
/// the stalls would then miss the window edges the test places them on.
fn stalling_server(
    first_stall: Duration,
) -> (
    SocketAddr,
    std::thread::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let epoch: Arc<std::sync::OnceLock<Instant>> = Arc::default();
            loop {
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => accepted.unwrap(),
                    _ = &mut stopped => return,
                };
                let epoch = epoch.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req| {
                        let epoch = *epoch.get_or_init(|| Instant::now() + first_stall);
                        async move {
                            let since = Instant::now().saturating_duration_since(epoch);
                            let stalled = Instant::now() >= epoch
                                && since.as_millis() % 1000 < STALL.as_millis();
                            if stalled {
                                tokio::time::sleep(STALL).await;
                            }
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                http_body_util::Full::new(Bytes::from_static(b"ok")),
                            ))
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
    });
    (addr_rx.recv().unwrap(), thread, stop)
}

const STALL: Duration = Duration::from_millis(200);

#[test]
fn loadgen_rate_mode_shows_a_stalling_server_s_worst_latencies() {
    for client in CLIENTS {
        stalls_show_in_rate_mode(client);
    }
}

fn stalls_show_in_rate_mode(client: Client) {
    // From the load's first request: warm-up to 500 ms, window 500–2500 ms. Stalls at
    // 400–600, 1400–1600 and 2400–2600 ms: the last one spans the window's end.
    let (addr, thread, stop) = stalling_server(Duration::from_millis(400));
    let mut spec = spec(addr, "/plaintext", 16, 500, 2000);
    spec.rate = Some(500);
    let report = run_load_with(&spec, client).unwrap();
    let _ = stop.send(());
    thread.join().unwrap();
    assert_eq!((report.errors(), report.abandoned), (0, 0), "{report:#?}");
    let l = report.latency_us;
    // Every request sent in a stall waited 200 ms: 16 connections, two stalls in the
    // window, ~1000 requests: 3% of them.
    assert!(l.p99 >= 200_000, "{client:?}: {l:?}");
    // The requests due in a stall but queued behind the 16 stalled connections are
    // charged from their intended send time (200 ms down to 0): measured from when they
    // were sent, they would take ~1 ms and p90 would say nothing of the stalls.
    assert!(l.p90 >= 50_000, "{client:?}: {l:?}");
    // The stall at the window's end: the connections in it were unanswered then, and the
    // requests due behind them never sent. Both are in the latencies, censored at the end.
    assert!(
        report.drain.requests > 0 && report.rate_backlog > 0,
        "{client:?}: {report:#?}"
    );
    assert_eq!(
        report.censored,
        report.rate_backlog + report.drain.requests,
        "{client:?}: {report:#?}"
    );
    let counted = report.histogram.len();
    assert_eq!(counted, report.window.requests + report.censored);
}

#[test]
fn loadgen_rate_mode_sends_close_to_rate_times_duration() {
    for client in CLIENTS {
        rate_mode_keeps_its_rate(client);
    }
}

fn rate_mode_keeps_its_rate(client: Client) {
    let server = TestServer::start();
    let mut spec = spec(server.addr, "/plaintext", 4, 200, 1000);
    spec.rate = Some(1000);
    let report = run_load_with(&spec, client).unwrap();
    assert_clean(&report);
    // A shared, noisy machine can stall a connection for a moment: allow 2% of the schedule.
    assert!(report.rate_backlog <= 20, "{report:#?}");
    assert!(
        (900..=1100).contains(&report.window.requests),
        "{} requests in 1 s at 1000/s",
        report.window.requests
    );
    assert_eq!(report.completed(), server.answered());
    assert_eq!(report.rate_rps, Some(1000));
}

#[test]
fn loadgen_pinned_to_one_cpu_reports_it_and_its_cpu_use() {
    let server = TestServer::start();
    let cpu = *harness::runtime::pinning::allowed_cpus().last().unwrap();
    let mut spec = spec(server.addr, "/plaintext", 2, 50, 300);
    spec.cpus = Some(vec![cpu]);
    let report = run_load(&spec).unwrap();
    assert_clean(&report);
    assert_eq!(report.loadgen_cpus, [cpu]);
    // One CPU: between idle and one full core (with slack for sampling at the edges).
    assert!(
        report.loadgen_cpu_percent > 0.0 && report.loadgen_cpu_percent < 110.0,
        "{}",
        report.loadgen_cpu_percent
    );
}

#[test]
fn loadgen_rejects_impossible_specs() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut bad = spec(addr, "/plaintext", 0, 0, 100);
    assert!(run_load(&bad)
        .unwrap_err()
        .to_string()
        .contains("concurrency 0"));
    bad.concurrency = 1;
    bad.cpus = Some(vec![100_000]);
    assert!(run_load(&bad)
        .unwrap_err()
        .to_string()
        .contains("CPU 100000"));
    assert!(Endpoint::for_path("/nope").is_none());
}

/// A hyper server whose responses are chunked, and every third one ends its connection.
fn chunked_closing_server() -> (
    SocketAddr,
    Arc<std::sync::atomic::AtomicU64>,
    std::thread::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;
    let answered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let counter = answered.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => accepted.unwrap(),
                    _ = &mut stopped => return,
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req| {
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        let chunks = ["hello, ", "chunked ", "world"].map(|c| {
                            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(
                                c.as_bytes(),
                            )))
                        });
                        let mut response = hyper::Response::new(
                            StreamBody::new(futures_util::stream::iter(chunks)).boxed(),
                        );
                        if n % 3 == 0 {
                            response.headers_mut().insert(
                                "connection",
                                hyper::header::HeaderValue::from_static("close"),
                            );
                        }
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
    });
    (addr_rx.recv().unwrap(), answered, thread, stop)
}

#[test]
fn loadgen_reads_chunked_bodies_and_follows_connection_close() {
    for client in CLIENTS {
        let (addr, answered, thread, stop) = chunked_closing_server();
        let report = run_load_with(&spec(addr, "/plaintext", 3, 50, 300), client).unwrap();
        let _ = stop.send(());
        thread.join().unwrap();
        assert_clean(&report);
        assert_eq!(
            report.completed(),
            answered.load(Ordering::SeqCst),
            "{client:?}: {report:#?}"
        );
    }
}

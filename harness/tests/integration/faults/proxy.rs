//! A fault-injecting proxy between the harness and the Docker daemon: a unix socket that
//! forwards every connection to the daemon's socket, until told to stall (hold requests
//! unanswered) or drop the next N requests (close their connections unanswered).
//!
//! Modes apply per request, on pooled keep-alive connections too: each chunk the client
//! sends is checked against the mode before it is forwarded. Separately, the proxy can
//! freeze containers as they start: it pauses a container (of one variant, or any) after the
//! daemon started it and before the harness hears so, which makes a server that never
//! answers, deterministically; and it can hold image builds unanswered, which pins a run in
//! its image-build phase. Both are counted, and a test waits for the count it needs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

/// The daemon's socket the proxy forwards to.
const DAEMON: &str = "/var/run/docker.sock";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Requests are held, never forwarded or answered, until the mode changes.
    Stall,
    /// The next N requests' connections are closed; then back to `Pass`.
    DropNext(u32),
}

/// Which started containers to freeze: none, or those of one variant (or all).
type FreezeRule = Arc<Mutex<Option<Option<&'static str>>>>;

/// What every connection shares.
#[derive(Clone)]
struct Shared {
    mode: Arc<watch::Sender<Mode>>,
    dropped: Arc<AtomicU32>,
    freeze: FreezeRule,
    frozen: Arc<AtomicU32>,
    hold_builds: Arc<AtomicBool>,
    held_builds: Arc<AtomicU32>,
}

pub struct Proxy {
    pub socket: PathBuf,
    shared: Shared,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl Proxy {
    pub fn start() -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(async { UnixListener::bind(&socket) })
            .unwrap();
        let shared = Shared {
            mode: Arc::new(watch::channel(Mode::Pass).0),
            dropped: Arc::default(),
            freeze: Arc::default(),
            frozen: Arc::default(),
            hold_builds: Arc::default(),
            held_builds: Arc::default(),
        };
        let each = shared.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, each.clone()));
            }
        });
        Proxy {
            socket,
            shared,
            runtime: Some(runtime),
            _dir: dir,
        }
    }

    /// `DOCKER_HOST` pointing at the proxy.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn set(&self, mode: Mode) {
        self.shared.mode.send_replace(mode);
    }

    /// How many requests were dropped so far.
    pub fn dropped(&self) -> u32 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// From now on, pause every container of `variant` (or every one) as it starts.
    pub fn freeze_starts(&self, variant: Option<&'static str>) {
        *self.shared.freeze.lock().unwrap() = Some(variant);
    }

    /// How many containers were frozen so far.
    pub fn frozen(&self) -> u32 {
        self.shared.frozen.load(Ordering::SeqCst)
    }

    /// Whether `n` containers were frozen within `timeout` (the pause is done, not only asked).
    pub fn wait_frozen(&self, n: u32, timeout: Duration) -> bool {
        wait_until(timeout, || self.frozen() >= n)
    }

    /// From now on, hold every image build request: never forwarded, never answered.
    pub fn hold_builds(&self) {
        self.shared.hold_builds.store(true, Ordering::SeqCst);
    }

    /// Whether `n` build requests were being held within `timeout`.
    pub fn wait_held_builds(&self, n: u32, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.shared.held_builds.load(Ordering::SeqCst) >= n
        })
    }
}

fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What to do with one chunk from the client.
enum Verdict {
    Forward,
    Close,
    Stall,
}

fn decide(mode: &watch::Sender<Mode>, dropped: &AtomicU32, chunk: &[u8]) -> Verdict {
    let starts_request = [&b"GET "[..], b"POST ", b"DELETE ", b"HEAD ", b"PUT "]
        .iter()
        .any(|m| chunk.starts_with(m));
    let mut verdict = Verdict::Forward;
    mode.send_if_modified(|m| match *m {
        Mode::Pass => false,
        Mode::Stall => {
            verdict = Verdict::Stall;
            false
        }
        Mode::DropNext(n) if starts_request => {
            verdict = Verdict::Close;
            *m = if n <= 1 {
                Mode::Pass
            } else {
                Mode::DropNext(n - 1)
            };
            true
        }
        Mode::DropNext(_) => false,
    });
    if matches!(verdict, Verdict::Close) && starts_request {
        dropped.fetch_add(1, Ordering::SeqCst);
    }
    verdict
}

/// The container id of a `POST …/containers/<id>/start` request.
fn started_container(chunk: &[u8]) -> Option<String> {
    let line = std::str::from_utf8(chunk).ok()?.lines().next()?;
    let path = line.strip_prefix("POST ")?.split(' ').next()?;
    let parts: Vec<&str> = path.split('?').next()?.split('/').collect();
    match parts[..] {
        [.., "containers", id, "start"] => Some(id.to_string()),
        _ => None,
    }
}

/// Whether the chunk starts a `POST …/build` (an image build) request.
fn is_build(chunk: &[u8]) -> bool {
    let Some(line) = chunk.split(|&b| b == b'\n').next() else {
        return false;
    };
    let line = String::from_utf8_lossy(line);
    let path = line.strip_prefix("POST ").and_then(|r| r.split(' ').next());
    path.is_some_and(|p| p.split('?').next().unwrap_or("").ends_with("/build"))
}

/// Whether the freeze rule covers the container `id`.
async fn to_freeze(docker: &bollard::Docker, rule: Option<Option<&'static str>>, id: &str) -> bool {
    let Some(variant) = rule else {
        return false;
    };
    let Some(wanted) = variant else {
        return true;
    };
    let Ok(info) = docker.inspect_container(id, None).await else {
        return false;
    };
    let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
    labels.get(harness::labels::VARIANT).map(String::as_str) == Some(wanted)
}

async fn forward(client: UnixStream, shared: Shared) {
    let Ok(daemon) = UnixStream::connect(DAEMON).await else {
        return;
    };
    let Ok(direct) = bollard::Docker::connect_with_unix(DAEMON, 30, bollard::API_DEFAULT_VERSION)
    else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_daemon, mut to_daemon) = daemon.into_split();
    // A start to freeze: the daemon's answer is held until the container is paused.
    let (freeze_next, mut freezing) = tokio::sync::mpsc::unbounded_channel::<String>();
    let frozen = shared.frozen.clone();
    let answers = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match from_daemon.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if let Ok(id) = freezing.try_recv() {
                if direct.pause_container(&id).await.is_ok() {
                    frozen.fetch_add(1, Ordering::SeqCst);
                }
            }
            if to_client.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    });
    let direct = bollard::Docker::connect_with_unix(DAEMON, 30, bollard::API_DEFAULT_VERSION);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from_client.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if shared.hold_builds.load(Ordering::SeqCst) && is_build(&buf[..n]) {
            // Held: the context is read and dropped until the client gives up.
            shared.held_builds.fetch_add(1, Ordering::SeqCst);
            while let Ok(1..) = from_client.read(&mut buf).await {}
            break;
        }
        if let (Some(id), Ok(docker)) = (started_container(&buf[..n]), &direct) {
            let rule = *shared.freeze.lock().unwrap();
            if to_freeze(docker, rule, &id).await {
                let _ = freeze_next.send(id);
            }
        }
        match decide(&shared.mode, &shared.dropped, &buf[..n]) {
            Verdict::Forward => {
                if to_daemon.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            Verdict::Close => break,
            Verdict::Stall => {
                let mut changes = shared.mode.subscribe();
                let _ = changes.wait_for(|m| *m != Mode::Stall).await;
                break;
            }
        }
    }
    answers.abort();
}

#[test]
fn start_requests_name_their_container() {
    let id = started_container(b"POST /v1.41/containers/abc123/start HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(id.as_deref(), Some("abc123"));
    assert_eq!(
        started_container(b"POST /v1.41/containers/create HTTP/1.1\r\n"),
        None
    );
    assert_eq!(
        started_container(b"GET /v1.41/containers/abc/json HTTP/1.1\r\n"),
        None
    );
}

#[test]
fn build_requests_are_recognised() {
    assert!(is_build(b"POST /v1.41/build?t=x%2Fy&rm=1 HTTP/1.1\r\n"));
    assert!(is_build(b"POST /build HTTP/1.1\r\n"));
    assert!(!is_build(
        b"POST /v1.41/containers/build/start HTTP/1.1\r\n"
    ));
    assert!(!is_build(b"GET /v1.41/build HTTP/1.1\r\n"));
    assert!(!is_build(b"\x1f\x8b binary body"));
}

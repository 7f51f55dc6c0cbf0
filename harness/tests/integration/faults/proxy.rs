//! A fault-injecting proxy between the harness and the Docker daemon: a unix socket that
//! forwards every connection to the daemon's socket, until told to stall (hold requests
//! unanswered) or drop the next N requests (close their connections unanswered).
//!
//! Modes apply per request, on pooled keep-alive connections too: each chunk the client
//! sends is checked against the mode before it is forwarded.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
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

pub struct Proxy {
    pub socket: PathBuf,
    mode: Arc<watch::Sender<Mode>>,
    dropped: Arc<AtomicU32>,
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
        let mode = Arc::new(watch::channel(Mode::Pass).0);
        let dropped = Arc::new(AtomicU32::new(0));
        let (m, d) = (mode.clone(), dropped.clone());
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, m.clone(), d.clone()));
            }
        });
        Proxy {
            socket,
            mode,
            dropped,
            runtime: Some(runtime),
            _dir: dir,
        }
    }

    /// `DOCKER_HOST` pointing at the proxy.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// How many requests were dropped so far.
    pub fn dropped(&self) -> u32 {
        self.dropped.load(Ordering::SeqCst)
    }
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

async fn forward(client: UnixStream, mode: Arc<watch::Sender<Mode>>, dropped: Arc<AtomicU32>) {
    let Ok(daemon) = UnixStream::connect(DAEMON).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_daemon, mut to_daemon) = daemon.into_split();
    let answers =
        tokio::spawn(async move { tokio::io::copy(&mut from_daemon, &mut to_client).await });
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from_client.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match decide(&mode, &dropped, &buf[..n]) {
            Verdict::Forward => {
                if to_daemon.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            Verdict::Close => break,
            Verdict::Stall => {
                let mut changes = mode.subscribe();
                let _ = changes.wait_for(|m| *m != Mode::Stall).await;
                break;
            }
        }
    }
    answers.abort();
}

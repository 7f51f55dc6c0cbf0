//! One load-generating connection: connect, send requests one at a time over keep-alive
//! HTTP/1.1, count every outcome by the phase it ended in, reconnect after failures.
//!
//! The connection future and the request run in the same task (no spawned connection
//! driver), so a request costs no cross-task wake-ups. Every wait is bounded: connects and
//! back-offs by the end of the window, an in-flight request by the drain deadline, after
//! which it is counted as abandoned (an error).

use super::pacer::Pacer;
use super::{Endpoint, PhaseCounts};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::{sleep_until, timeout_at};

const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// The largest latency the histogram holds (larger ones are recorded as this).
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The fixed instants of one load run: warm-up, measured window, drain.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeline {
    pub start: Instant,
    pub warm_end: Instant,
    pub end: Instant,
    /// Requests still in flight at `end` may finish until here; later they are abandoned.
    pub drain_end: Instant,
}

impl Timeline {
    pub fn new(start: Instant, warmup: Duration, duration: Duration, drain: Duration) -> Self {
        let warm_end = start + warmup;
        let end = warm_end + duration;
        Timeline {
            start,
            warm_end,
            end,
            drain_end: end + drain,
        }
    }
}

/// What one connection task saw, merged across connections at the end.
#[derive(Debug)]
pub(super) struct Tally {
    pub warmup: PhaseCounts,
    pub window: PhaseCounts,
    pub drain: PhaseCounts,
    /// In flight at the drain deadline (also counted in `drain.errors`).
    pub abandoned: u64,
    /// Rate mode: tickets this connection took but could not send before the end.
    pub unsent_tickets: u64,
    /// Latency in µs of requests completed inside the window.
    pub histogram: Histogram<u64>,
    pub first_error: Option<String>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            warmup: PhaseCounts::default(),
            window: PhaseCounts::default(),
            drain: PhaseCounts::default(),
            abandoned: 0,
            unsent_tickets: 0,
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("static histogram bounds are valid"),
            first_error: None,
        }
    }

    fn phase(&mut self, timeline: &Timeline, at: Instant) -> &mut PhaseCounts {
        if at < timeline.warm_end {
            &mut self.warmup
        } else if at <= timeline.end {
            &mut self.window
        } else {
            &mut self.drain
        }
    }

    fn completed(&mut self, timeline: &Timeline, started: Instant, status: StatusCode) {
        let done = Instant::now();
        let phase = self.phase(timeline, done);
        phase.requests += 1;
        phase.non_2xx += u64::from(!status.is_success());
        if done >= timeline.warm_end && done <= timeline.end {
            let us = done.saturating_duration_since(started).as_micros();
            self.histogram
                .saturating_record(u64::try_from(us).unwrap_or(u64::MAX).max(1));
        }
    }

    fn error(&mut self, timeline: &Timeline, message: impl FnOnce() -> String) {
        self.phase(timeline, Instant::now()).errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (mine, theirs) in [
            (&mut self.warmup, other.warmup),
            (&mut self.window, other.window),
            (&mut self.drain, other.drain),
        ] {
            mine.add(theirs);
        }
        self.abandoned += other.abandoned;
        self.unsent_tickets += other.unsent_tickets;
        self.histogram
            .add(other.histogram)
            .expect("histograms with the same bounds always add");
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// What every connection of one run shares.
pub(super) struct Job {
    pub addr: SocketAddr,
    /// The `Host` header every request carries.
    pub host: HeaderValue,
    pub endpoint: Endpoint,
    pub timeline: Timeline,
    /// Constant-rate mode; closed loop when absent.
    pub pacer: Option<Arc<Pacer>>,
}

enum Flow {
    Reconnect,
    Stop,
}

type Sender = http1::SendRequest<Full<Bytes>>;

/// One connection's whole life: returns what it counted.
pub(super) async fn run_connection(job: Arc<Job>) -> Tally {
    let mut tally = Tally::new();
    let mut backoff = MIN_BACKOFF;
    // Rate mode: a ticket taken but not yet sent survives a reconnect, so its latency
    // includes the reconnect, as the coordinated-omission correction requires.
    let mut ticket = None;
    let deadline = sleep_until(job.timeline.drain_end.into());
    tokio::pin!(deadline);
    while Instant::now() < job.timeline.end {
        let connected = match timeout_at(job.timeline.end.into(), connect(job.addr)).await {
            Err(_elapsed) => break,
            Ok(connected) => connected,
        };
        match connected {
            Ok((sender, connection)) => {
                backoff = MIN_BACKOFF;
                let flow = drive(
                    &job,
                    (sender, connection),
                    &mut ticket,
                    &mut tally,
                    deadline.as_mut(),
                )
                .await;
                if let Flow::Stop = flow {
                    break;
                }
            }
            Err(e) => {
                tally.error(&job.timeline, || format!("connect to {}: {e}", job.addr));
                let wake = (Instant::now() + backoff).min(job.timeline.end);
                sleep_until(wake.into()).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    tally.unsent_tickets += u64::from(ticket.is_some());
    tally
}

type Connection = http1::Connection<TokioIo<tokio::net::TcpStream>, Full<Bytes>>;

async fn connect(addr: SocketAddr) -> std::io::Result<(Sender, Connection)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)
}

/// Sends requests on one connection until it fails (reconnect) or the run is over (stop).
async fn drive(
    job: &Job,
    (mut sender, connection): (Sender, Connection),
    ticket: &mut Option<Instant>,
    tally: &mut Tally,
    mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
) -> Flow {
    tokio::pin!(connection);
    loop {
        if Instant::now() >= job.timeline.end {
            return Flow::Stop;
        }
        if let (Some(pacer), None) = (&job.pacer, *ticket) {
            match pacer.next().await {
                Some(at) => *ticket = Some(at),
                None => return Flow::Stop,
            }
        }
        // Wait until the connection can take a request; nothing is sent yet, so a close
        // here is the server ending keep-alive, not a failed request.
        tokio::select! {
            biased;
            ready = sender.ready() => if ready.is_err() { return Flow::Reconnect },
            _ = &mut connection => return Flow::Reconnect,
            () = &mut deadline => return Flow::Stop,
        }
        let started = ticket.take().unwrap_or_else(Instant::now);
        let outcome = tokio::select! {
            biased;
            sent = exchange(&mut sender, job.endpoint.request(&job.host)) => sent.map_err(|e| error_text(&e)),
            ended = &mut connection => Err(match ended {
                Ok(()) => "connection closed by the server mid-request".to_string(),
                Err(e) => error_text(&e),
            }),
            () = &mut deadline => {
                tally.abandoned += 1;
                tally.error(&job.timeline, || "no response before the drain deadline".into());
                return Flow::Stop;
            }
        };
        match outcome {
            Ok(status) => tally.completed(&job.timeline, started, status),
            Err(message) => {
                tally.error(&job.timeline, || message);
                return Flow::Reconnect;
            }
        }
    }
}

/// Sends one request and reads its whole response; returns the status.
async fn exchange(sender: &mut Sender, request: Request<Full<Bytes>>) -> hyper::Result<StatusCode> {
    let response = sender.send_request(request).await?;
    let status = response.status();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(status)
}

/// An error with its sources, `outer: inner: …`.
fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

//! What one connection counts and the state a client keeps across its connections: the
//! per-connection tally (by phase, censored latencies), the job every connection shares,
//! and the lane a client drives requests through. The clients (`hyper_client`, `lean`) and
//! the connection loop (`conn`) use it; it uses neither.

use super::pacer::Pacer;
use super::timeline::Timeline;
use super::{Client, Endpoint, PhaseCounts};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::Sleep;

/// The largest latency the histogram holds (larger ones are recorded as this).
const MAX_LATENCY_US: u64 = 3_600_000_000;

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
    /// Latencies recorded censored at the window's end: requests unanswered then, and
    /// tickets never sent.
    pub censored: u64,
    /// Latency in µs of requests completed inside the window, and censored ones.
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
            censored: 0,
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

    /// A response fully read; `status` is its HTTP status code, `expected` the one the
    /// endpoint should answer with.
    pub fn completed(&mut self, timeline: &Timeline, started: Instant, status: u16, expected: u16) {
        let done = Instant::now();
        let phase = self.phase(timeline, done);
        phase.requests += 1;
        phase.non_2xx += u64::from(status != expected);
        if done > timeline.end {
            self.censor(timeline, started);
        } else if done >= timeline.warm_end {
            self.record(done.saturating_duration_since(started));
        }
    }

    /// A request due (or sent) at `started` that had no answer when the window ended: its
    /// latency is recorded as `end - started`, a lower bound of the real one, so that a
    /// server that falls behind shows its worst latencies instead of losing them (wrk2's
    /// rule). Nothing is recorded for a request started after the window.
    pub fn censor(&mut self, timeline: &Timeline, started: Instant) {
        if started < timeline.end {
            self.record(timeline.end - started);
            self.censored += 1;
        }
    }

    fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(us.max(1));
    }

    pub fn error(&mut self, timeline: &Timeline, message: impl FnOnce() -> String) {
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
        self.censored += other.censored;
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
    pub client: Client,
    /// The `Host` header every request carries (hyper client).
    pub host: HeaderValue,
    pub endpoint: Endpoint,
    /// The whole request, encoded once (lean client).
    pub request_bytes: Bytes,
    pub timeline: Timeline,
    /// Constant-rate mode; closed loop when absent.
    pub pacer: Option<Arc<Pacer>>,
}

/// What a client does after its connection ends.
pub(super) enum Flow {
    Reconnect,
    Stop,
}

/// A client's per-connection state that outlives one connection.
pub(super) struct Lane<'a> {
    pub job: &'a Job,
    pub tally: Tally,
    /// Rate mode: a ticket taken but not yet sent survives a reconnect, so its latency
    /// includes the reconnect, as the coordinated-omission correction requires.
    pub ticket: Option<Instant>,
    /// When the request in flight started (its ticket's time in rate mode).
    pub in_flight: Option<Instant>,
    /// Fires at the drain deadline: whatever is in flight then is abandoned.
    pub deadline: Pin<&'a mut Sleep>,
}

impl Lane<'_> {
    /// Waits until the next request may be sent: `false` once the window is over.
    pub async fn may_send(&mut self) -> bool {
        if Instant::now() >= self.job.timeline.end {
            return false;
        }
        if let (Some(pacer), None) = (&self.job.pacer, self.ticket) {
            match pacer.next().await {
                Some(at) => self.ticket = Some(at),
                None => return false,
            }
            // The ticket may come in just as the window ends: it stays unsent.
            return Instant::now() < self.job.timeline.end;
        }
        true
    }

    /// Marks a request as sent; returns the instant its latency runs from: its ticket's
    /// intended time, or now.
    pub fn start(&mut self) -> Instant {
        let started = self.ticket.take().unwrap_or_else(Instant::now);
        self.in_flight = Some(started);
        started
    }

    /// The request in flight got no answer before the drain deadline.
    pub fn abandon(&mut self) -> Flow {
        self.tally.abandoned += 1;
        let timeline = self.job.timeline;
        if let Some(started) = self.in_flight.take() {
            self.tally.censor(&timeline, started);
        }
        self.tally
            .error(&timeline, || "no response before the drain deadline".into());
        Flow::Stop
    }

    /// The request in flight (if any) failed: count it, and reconnect. One that failed
    /// after the window ended was unanswered at its end, and is censored there.
    pub fn fail(&mut self, message: String) -> Flow {
        let timeline = self.job.timeline;
        if let Some(started) = self.in_flight.take() {
            if Instant::now() > timeline.end {
                self.tally.censor(&timeline, started);
            }
        }
        self.tally.error(&timeline, || message);
        Flow::Reconnect
    }

    pub fn completed(&mut self, started: Instant, status: u16) {
        self.in_flight = None;
        let timeline = self.job.timeline;
        let expected = self.job.endpoint.expect_status;
        self.tally.completed(&timeline, started, status, expected);
    }
}

/// An error with its sources, `outer: inner: …`.
pub(super) fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose window ended 1 s ago: warm-up [-3 s, -2 s), window [-2 s, -1 s].
    fn past_timeline() -> Timeline {
        let start = Instant::now() - Duration::from_secs(3);
        let drain = crate::measure::loadgen::DRAIN;
        Timeline::new(start, Duration::from_secs(1), Duration::from_secs(1), drain)
    }

    fn ms(h: &Histogram<u64>, q: f64) -> u64 {
        h.value_at_quantile(q) / 1000
    }

    #[test]
    fn an_answer_after_the_window_counts_in_the_drain_censored_at_the_end() {
        let timeline = past_timeline();
        let mut tally = Tally::new();
        // Sent 300 ms before the window's end, answered now (1 s after it).
        let started = timeline.end - Duration::from_millis(300);
        tally.completed(&timeline, started, 200, 200);
        assert_eq!((tally.drain.requests, tally.window.requests), (1, 0));
        assert_eq!((tally.censored, tally.histogram.len()), (1, 1));
        assert_eq!(ms(&tally.histogram, 1.0), 300);
    }

    #[test]
    fn censoring_charges_from_the_start_to_the_window_end_only() {
        let timeline = past_timeline();
        let mut tally = Tally::new();
        // Due during warm-up and never sent: charged the warm-up's part too.
        tally.censor(&timeline, timeline.warm_end - Duration::from_millis(500));
        assert_eq!(ms(&tally.histogram, 1.0), 1500);
        // Started after the window: not one of its requests.
        tally.censor(&timeline, timeline.end + Duration::from_millis(1));
        assert_eq!((tally.censored, tally.histogram.len()), (1, 1));
        // Due at the very end: the smallest latency, never zero.
        tally.censor(&timeline, timeline.end - Duration::from_nanos(1));
        assert_eq!((tally.censored, tally.histogram.min()), (2, 1));
    }

    #[test]
    fn merging_adds_censored_counts_and_latencies() {
        let timeline = past_timeline();
        let (mut a, mut b) = (Tally::new(), Tally::new());
        a.censor(&timeline, timeline.end - Duration::from_millis(10));
        b.censor(&timeline, timeline.end - Duration::from_millis(20));
        b.unsent_tickets += 1;
        a.merge(b);
        assert_eq!((a.censored, a.unsent_tickets, a.histogram.len()), (2, 1, 2));
        assert_eq!(ms(&a.histogram, 1.0), 20);
    }
}

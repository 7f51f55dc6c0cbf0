//! Constant-rate pacing (`--rate`): tickets released at their intended send times.
//!
//! One OS thread releases ticket k at `start + k / rate` (sleeping with a 1 µs timer slack,
//! so releases are not stuck to tokio's 1 ms timer wheel), by adding a permit to a FIFO
//! semaphore. Whichever connection is free takes the next ticket, and its latency runs from
//! the ticket's intended time, not from when it was sent: a server that falls behind is
//! charged for the queue it causes (the coordinated-omission correction wrk2 makes). The
//! pacer stops releasing at the end of the window and then closes the semaphore, which ends
//! the connections' waits. Tickets released but never taken (every connection was busy)
//! are censored at the window's end like every other unanswered request
//! (`Pacer::censor_untaken`).

use super::timeline::Timeline;
use hdrhistogram::Histogram;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub(super) struct Pacer {
    tickets: Arc<Semaphore>,
    taken: AtomicU64,
    start: Instant,
    rate: u64,
}

/// The pacer's thread; joining it says how many tickets it released.
pub(super) struct PacerThread {
    handle: JoinHandle<u64>,
    /// The kernel thread id, so its CPU use counts as the load generator's.
    pub tid: libc::pid_t,
}

impl Pacer {
    /// Starts releasing tickets from `timeline.start`; the thread inherits the caller's CPUs.
    pub fn start(timeline: Timeline, rate: u64) -> std::io::Result<(Arc<Pacer>, PacerThread)> {
        let pacer = Arc::new(Pacer {
            tickets: Arc::new(Semaphore::new(0)),
            taken: AtomicU64::new(0),
            start: timeline.start,
            rate: rate.max(1),
        });
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let releaser = pacer.clone();
        let handle = std::thread::Builder::new()
            .name("loadgen-pacer".into())
            .spawn(move || {
                let _ = tid_tx.send(crate::runtime::pinning::current_tid());
                releaser.release_until(timeline.end)
            })?;
        let tid = tid_rx.recv().unwrap_or(0);
        Ok((pacer, PacerThread { handle, tid }))
    }

    /// The intended send time of ticket `k`.
    fn intended(&self, k: u64) -> Instant {
        let ns = u128::from(k) * 1_000_000_000 / u128::from(self.rate);
        self.start + Duration::from_nanos(ns.min(u128::from(u64::MAX)) as u64)
    }

    /// Waits for the next ticket and returns its intended send time; `None` once the window
    /// is over.
    pub async fn next(&self) -> Option<Instant> {
        let permit = self.tickets.acquire().await.ok()?;
        permit.forget();
        Some(self.intended(self.taken.fetch_add(1, Ordering::Relaxed)))
    }

    /// Tickets taken by connections so far.
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// Records the tickets released but never taken (`taken..released`) in `histogram`,
    /// each with latency `end - intended time`; returns how many. Call it once every
    /// connection has stopped.
    pub fn censor_untaken(
        &self,
        released: u64,
        end: Instant,
        histogram: &mut Histogram<u64>,
    ) -> u64 {
        let tickets = self.taken()..released.max(self.taken());
        let end_ns = end.saturating_duration_since(self.start).as_nanos();
        record_censored(histogram, self.rate, tickets.clone(), end_ns);
        tickets.end - tickets.start
    }

    fn release_until(&self, end: Instant) -> u64 {
        // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong) };
        let span = end.saturating_duration_since(self.start).as_nanos();
        // Tickets whose intended time falls before `end`: k * 1e9 / rate < span.
        let total = (span * u128::from(self.rate)).div_ceil(1_000_000_000) as u64;
        let mut released = 0u64;
        while released < total {
            let elapsed = Instant::now()
                .saturating_duration_since(self.start)
                .as_nanos();
            let due = ((elapsed * u128::from(self.rate) / 1_000_000_000) as u64 + 1).min(total);
            if due > released {
                self.tickets.add_permits((due - released) as usize);
                released = due;
            }
            if released < total {
                std::thread::sleep(
                    self.intended(released)
                        .saturating_duration_since(Instant::now()),
                );
            }
        }
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
        self.tickets.close();
        released
    }
}

/// Nanoseconds from the start to ticket `k`'s intended time (as `Pacer::intended`).
fn intended_ns(k: u64, rate: u64) -> u128 {
    u128::from(k) * 1_000_000_000 / u128::from(rate)
}

/// Records tickets `tickets` of a schedule at `rate` per second, each with latency
/// `end_ns - intended_ns(k)` in whole µs (at least 1, as `Tally` records), into `h`.
///
/// Overload can leave millions of tickets unsent, so tickets whose latencies fall in the
/// same histogram bucket are recorded with one `record_n`: the latency falls as `k` grows,
/// and the last ticket still in the bucket of ticket `k` follows from the schedule, which
/// makes the cost the number of buckets spanned, not the number of tickets.
pub(super) fn record_censored(
    h: &mut Histogram<u64>,
    rate: u64,
    tickets: Range<u64>,
    end_ns: u128,
) {
    let rate = rate.max(1);
    let latency_us = |k: u64| end_ns.saturating_sub(intended_ns(k, rate)) / 1000;
    let mut k = tickets.start;
    while k < tickets.end {
        let value = u64::try_from(latency_us(k))
            .unwrap_or(u64::MAX)
            .clamp(1, h.high());
        // The smallest latency recorded as `value`'s bucket (values of 0 are recorded as 1).
        let floor = if value <= 1 {
            0
        } else {
            h.lowest_equivalent(value)
        };
        // latency_us(j) >= floor  <=>  intended_ns(j) <= end_ns - floor µs  <=>  j < first_after.
        let first_after = match end_ns.checked_sub(u128::from(floor) * 1000) {
            Some(limit) => ((limit + 1) * u128::from(rate)).div_ceil(1_000_000_000),
            None => 0,
        };
        let last = u64::try_from(first_after)
            .unwrap_or(u64::MAX)
            .clamp(k + 1, tickets.end);
        h.saturating_record_n(value, last - k);
        k = last;
    }
}

impl PacerThread {
    /// Waits for the pacer to finish (it stops by itself at the end of the window).
    pub fn join(self) -> u64 {
        self.handle.join().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap()
    }

    /// One record per ticket: what `record_censored` must equal.
    fn one_by_one(rate: u64, tickets: Range<u64>, end_ns: u128) -> Histogram<u64> {
        let mut h = histogram();
        for k in tickets {
            let us = end_ns.saturating_sub(intended_ns(k, rate)) / 1000;
            h.saturating_record(u64::try_from(us).unwrap_or(u64::MAX).max(1));
        }
        h
    }

    #[test]
    fn untaken_tickets_are_censored_at_the_window_end() {
        // 500/s, window ending 2 s after the start: ticket 0 waited 2 s, ticket 999 2 ms.
        let mut h = histogram();
        record_censored(&mut h, 500, 0..1000, 2_000_000_000);
        assert_eq!(h.len(), 1000);
        assert_eq!(
            h.highest_equivalent(h.max()),
            h.highest_equivalent(2_000_000)
        );
        assert_eq!(h.min(), 2000);
        // Half the tickets waited at least 1 s.
        assert!(
            h.value_at_quantile(0.5) >= 998_000,
            "{}",
            h.value_at_quantile(0.5)
        );
        assert_eq!(h, one_by_one(500, 0..1000, 2_000_000_000));
    }

    #[test]
    fn grouping_records_exactly_what_one_record_per_ticket_would() {
        for (rate, tickets, end_ns) in [
            (1, 0..3, 3_000_000_000),
            (7, 2..50, 7_654_321_000),
            (1000, 0..1000, 1_000_000_000),
            (3_000_000, 0..3_000_000, 1_000_000_000),
            (3_000_000, 2_999_000..3_000_000, 1_000_000_000),
        ] {
            let mut h = histogram();
            record_censored(&mut h, rate, tickets.clone(), end_ns);
            assert_eq!(h, one_by_one(rate, tickets, end_ns), "rate {rate}");
        }
    }

    #[test]
    fn censoring_nothing_records_nothing_and_stays_in_bounds() {
        let mut h = histogram();
        record_censored(&mut h, 100, 5..5, 1_000_000_000);
        assert!(h.is_empty());
        // A ticket due at (or after) the end still counts once, as the smallest latency.
        record_censored(&mut h, 1, 0..2, 0);
        assert_eq!((h.len(), h.max()), (2, 1));
        // Beyond the histogram's range: saturated, not lost.
        let mut h = histogram();
        record_censored(&mut h, 1, 0..1, 10_000 * 1_000_000_000);
        assert_eq!(h.len(), 1);
        assert_eq!(h.max(), h.highest_equivalent(3_600_000_000));
    }
}

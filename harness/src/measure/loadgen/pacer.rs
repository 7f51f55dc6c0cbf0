//! Constant-rate pacing (`--rate`): tickets released at their intended send times.
//!
//! One OS thread releases ticket k at `start + k / rate` (sleeping with a 1 µs timer slack,
//! so releases are not stuck to tokio's 1 ms timer wheel), by adding a permit to a FIFO
//! semaphore. Whichever connection is free takes the next ticket, and its latency runs from
//! the ticket's intended time, not from when it was sent: a server that falls behind is
//! charged for the queue it causes (the coordinated-omission correction wrk2 makes). The
//! pacer stops releasing at the end of the window and then closes the semaphore, which ends
//! the connections' waits.

use super::conn::Timeline;
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
                let _ = tid_tx.send(crate::measure::pinning::current_tid());
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

impl PacerThread {
    /// Waits for the pacer to finish (it stops by itself at the end of the window).
    pub fn join(self) -> u64 {
        self.handle.join().unwrap_or(0)
    }
}

//! The fixed instants of one load run (warm-up, window, drain), shared by the connections
//! and the pacer.

use std::time::{Duration, Instant};

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

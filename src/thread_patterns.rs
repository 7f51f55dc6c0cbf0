//! Thread patterns: spawn and join, a mutex handed back and forth, a channel ping-pong.
//!
//! Spawning goes through the C library's `pthread_create` (stack mapping, TLS setup), which
//! glibc and musl do differently. Rust's `Mutex`, `Condvar` and `mpsc` are futex-based in std
//! itself, so those two patterns reach libc only through `syscall`: they are mostly a control
//! for the kernel and the scheduler. Each function returns a value that depends on every
//! thread's work, so callers can check it once. This module does not own timing.

use std::sync::{mpsc, Condvar, Mutex};
use std::thread;

/// 1, 2, 4, … below `max`, then `max` itself: the thread counts benches sweep.
pub fn thread_counts(max: usize) -> Vec<usize> {
    let max = max.max(1);
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|&n| n < max)
        .collect();
    counts.push(max);
    counts
}

/// The CPUs this process may use (at least 1).
pub fn available_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Spawns `threads` threads that each return `2i + 1`, and joins them all: `threads²`.
pub fn spawn_join(threads: usize) -> u64 {
    let handles: Vec<_> = (0..threads as u64)
        .map(|i| thread::spawn(move || 2 * i + 1))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("spawned thread panicked"))
        .sum()
}

/// Two threads take turns on one mutex `rounds` times in all, woken by a condvar each turn.
/// Returns the number of turns taken, which is `rounds`.
pub fn mutex_handoff(rounds: u64) -> u64 {
    // (whose turn: 0 or 1, turns taken)
    let state = (Mutex::new((0u8, 0u64)), Condvar::new());
    let player = |me: u8| {
        let (lock, turn_changed) = &state;
        let mut guard = lock.lock().expect("no thread panics holding the lock");
        loop {
            while guard.0 != me && guard.1 < rounds {
                guard = turn_changed.wait(guard).expect("lock not poisoned");
            }
            if guard.1 >= rounds {
                return;
            }
            guard.1 += 1;
            guard.0 = 1 - me;
            turn_changed.notify_one();
        }
    };
    thread::scope(|scope| {
        scope.spawn(|| player(1));
        player(0);
    });
    let turns = state.0.lock().expect("lock not poisoned").1;
    turns
}

/// Sends `0..rounds` to an echo thread that answers `n + 1`, one round trip at a time.
/// Returns the sum of the answers, `rounds * (rounds + 1) / 2`.
pub fn channel_ping_pong(rounds: u64) -> u64 {
    let (to_echo, echo_in) = mpsc::channel::<u64>();
    let (echo_out, from_echo) = mpsc::channel::<u64>();
    let echo = thread::spawn(move || {
        for n in echo_in {
            if echo_out.send(n + 1).is_err() {
                break;
            }
        }
    });
    let mut sum = 0;
    for n in 0..rounds {
        to_echo.send(n).expect("echo thread is alive");
        sum += from_echo.recv().expect("echo thread answers");
    }
    drop(to_echo);
    echo.join().expect("echo thread panicked");
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_double_up_to_the_cpu_count() {
        assert_eq!(thread_counts(1), [1]);
        assert_eq!(thread_counts(2), [1, 2]);
        assert_eq!(thread_counts(6), [1, 2, 4, 6]);
        assert_eq!(thread_counts(8), [1, 2, 4, 8]);
        assert_eq!(thread_counts(0), [1]);
    }

    #[test]
    fn patterns_return_their_closed_forms() {
        assert_eq!(spawn_join(1), 1);
        assert_eq!(spawn_join(7), 49);
        assert_eq!(mutex_handoff(1001), 1001);
        assert_eq!(mutex_handoff(0), 0);
        assert_eq!(channel_ping_pong(100), 5050);
    }
}

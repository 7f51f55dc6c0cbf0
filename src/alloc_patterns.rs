//! Allocation patterns that a libc's malloc decides the speed of.
//!
//! Each function does a fixed amount of work and returns a value derived from every
//! allocation, so the optimiser cannot remove it and callers can check it once.

use crate::dataset::SplitMix64;
use std::hint::black_box;
use std::sync::mpsc;
use std::thread;

/// Allocates and frees `count` small objects of 16–256 bytes, keeping a window of 64 alive.
pub fn small_churn(count: usize, seed: u64) -> u64 {
    let mut rng = SplitMix64::new(seed);
    let mut live: Vec<Vec<u8>> = Vec::with_capacity(64);
    let mut sum = 0u64;
    for i in 0..count {
        let size = 16 + rng.below(241) as usize;
        let block = vec![i as u8; size];
        sum = sum.wrapping_add(block.len() as u64 + u64::from(block[size - 1]));
        if live.len() < 64 {
            live.push(block);
        } else {
            live[i % 64] = block;
        }
    }
    sum + live.len() as u64
}

/// Allocates `count` blocks of mixed sizes up to 64 KiB, a window of 16 alive.
pub fn mixed_sizes(count: usize, seed: u64) -> u64 {
    let mut rng = SplitMix64::new(seed);
    let mut live: Vec<Box<[u8]>> = Vec::with_capacity(16);
    let mut sum = 0u64;
    for i in 0..count {
        let size = 1usize << (4 + rng.below(13)); // 16 B .. 64 KiB
        let block = vec![1u8; size].into_boxed_slice();
        sum = sum.wrapping_add(block.len() as u64);
        if live.len() < 16 {
            live.push(block);
        } else {
            live[i % 16] = block;
        }
    }
    sum
}

/// Grows a `Vec<u64>` one push at a time to `len` elements (log2(len) reallocations).
pub fn vec_growth(len: usize) -> u64 {
    let mut v = Vec::new();
    for i in 0..len as u64 {
        v.push(i);
    }
    black_box(&v).iter().sum()
}

/// Allocates, touches and frees one zeroed block of `bytes` (1 MiB crosses the mmap threshold).
pub fn big_block(bytes: usize) -> u64 {
    let mut block = vec![0u8; bytes].into_boxed_slice();
    let last = block.len() - 1;
    block[0] = 1;
    block[last] = 2;
    u64::from(black_box(&block)[0]) + u64::from(block[last])
}

/// `small_churn` on `threads` threads at once, `count_per_thread` each: malloc contention.
pub fn threaded_churn(threads: usize, count_per_thread: usize) -> u64 {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || small_churn(count_per_thread, t as u64)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("churn thread panicked"))
            .sum()
    })
}

/// Long-lived worker threads that run `small_churn` together on command, like a server's
/// worker pool: the threads and their allocator state outlive each call, so a call measures
/// malloc under contention, not thread creation or an allocator's per-thread setup.
#[derive(Debug)]
pub struct ChurnPool {
    orders: Vec<mpsc::Sender<usize>>,
    results: mpsc::Receiver<u64>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl ChurnPool {
    /// Starts `threads` workers; worker `t` churns with seed `t`.
    pub fn new(threads: usize) -> ChurnPool {
        let (report, results) = mpsc::channel();
        let (orders, workers) = (0..threads)
            .map(|t| {
                let (order, inbox) = mpsc::channel::<usize>();
                let report = report.clone();
                let worker = thread::spawn(move || {
                    for count in inbox {
                        if report.send(small_churn(count, t as u64)).is_err() {
                            break;
                        }
                    }
                });
                (order, worker)
            })
            .unzip();
        ChurnPool {
            orders,
            results,
            workers,
        }
    }

    /// Every worker runs `small_churn(count_per_thread, t)` at once; returns the sum of
    /// their results, the same as `threaded_churn(threads, count_per_thread)`.
    pub fn churn(&self, count_per_thread: usize) -> u64 {
        for order in &self.orders {
            order
                .send(count_per_thread)
                .expect("churn workers live as long as the pool");
        }
        (0..self.orders.len())
            .map(|_| self.results.recv().expect("every churn worker answers"))
            .sum()
    }
}

impl Drop for ChurnPool {
    fn drop(&mut self) {
        self.orders.clear();
        for worker in self.workers.drain(..) {
            // A worker that panicked has already printed why; nothing is left to clean up.
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_deterministic() {
        assert_eq!(small_churn(1000, 1), small_churn(1000, 1));
        assert_eq!(mixed_sizes(100, 1), mixed_sizes(100, 1));
        assert_eq!(vec_growth(10), 45);
        assert_eq!(big_block(1 << 20), 3);
        assert_eq!(
            threaded_churn(3, 100),
            (0..3).map(|t| small_churn(100, t)).sum::<u64>()
        );
        let pool = ChurnPool::new(3);
        assert_eq!(pool.churn(100), threaded_churn(3, 100));
        assert_eq!(
            pool.churn(100),
            threaded_churn(3, 100),
            "workers are reusable"
        );
    }
}

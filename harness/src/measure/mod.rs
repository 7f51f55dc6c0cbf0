//! Measuring: cold start, load generation, CPU pinning, and the statistics over samples.

pub mod calibrate;
pub mod cold_start;
pub mod loadgen;
pub mod rounds;
pub mod stats;

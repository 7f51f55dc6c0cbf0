//! Measuring: cold start, load generation, memory, and the statistics over samples.

pub mod calibrate;
pub mod loadgen;
pub mod pinning;
pub mod stats;

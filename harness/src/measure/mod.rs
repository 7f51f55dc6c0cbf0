//! Measuring: cold start, load generation, and the statistics over samples.

pub mod cold_start;

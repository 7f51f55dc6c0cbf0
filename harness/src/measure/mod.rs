//! Measuring: cold start, load generation, memory, and the statistics over samples.

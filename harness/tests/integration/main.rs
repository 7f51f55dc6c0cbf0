//! The harness's one integration-test binary: one module per area, fixtures in `tests/fixtures/`.
//!
//! Tests that need the Docker daemon fail under `CI=true` when it is unreachable and skip
//! loudly elsewhere (see `support::docker_or_skip`).

mod artifacts;
mod bench;
mod byo;
mod cli;
mod compare;
mod docker;
mod faults;
mod freshnode;
mod input;
mod loadgen;
mod posture;
mod report;
mod report_inputs;
mod report_noise;
mod support;
mod workspace;

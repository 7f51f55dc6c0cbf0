//! The harness's one integration-test binary: one module per area, fixtures in `tests/fixtures/`.
//!
//! The process works in an image namespace of its own (`support::test_namespace`), so its
//! images never collide with a user's or another test process's. A test whose prerequisite
//! is missing (the daemon, chromium, `docker-registry`, root) fails under `CI=true` and
//! elsewhere skips loudly, past the output capture (`support::skip`).

mod any_crate;
mod artifacts;
mod bench;
mod bench_report;
mod build_time;
mod byo;
mod check;
mod ci_recipe;
mod cli;
mod compare;
mod docker;
mod docs;
mod engines;
mod fake_backend;
mod faults;
mod fresh_node;
mod gate;
mod input;
mod isolation;
mod loadgen;
mod posture;
mod profile;
mod remote;
mod replication;
mod report;
mod report_inputs;
mod report_noise;
mod support;
mod workspace;

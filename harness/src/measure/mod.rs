//! Measuring: cold start, load generation, calibration against wrk, the statistics over
//! samples, and who measures (`AgentMode`: this process or the agent on the daemon's host).

pub mod bench;
pub mod calibrate;
pub mod cold_start;
pub mod controls;
pub mod loadgen;
pub mod rounds;
pub mod stats;

/// Who measures what touches the app: cold-start probes, load windows, CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentMode {
    /// The agent, unless the daemon is this machine's unix socket.
    Auto,
    /// Always the agent container on the daemon's host.
    Always,
    /// Always this process.
    Never,
}

//! The measuring agent: the harness's own readiness probe, load generator and cgroup
//! readers, run in a container on the daemon's host (host network, host pids, the host's
//! cgroups read-only), so that every figure touching the app is taken where the app runs.
//!
//! The agent is this binary, built static for musl (`image`), started by the hidden
//! `harness agent` subcommand (`serve`), and driven over the container's stdin and stdout:
//! one JSON request per line in, one JSON reply per line out, matched by id (`client`).
//! This module owns the protocol (`Request`, the wire forms of a load spec and report); it
//! does not decide what a run measures, which stays in `runner`.

pub mod client;
pub mod image;
pub mod serve;
mod wire;

pub use client::Agent;
pub use wire::{LoadReply, WireEndpoint, WireSpec};

/// A load spec as the agent is sent it.
pub fn wire_spec(spec: &crate::measure::loadgen::LoadSpec) -> WireSpec {
    WireSpec::from_spec(spec)
}

use crate::runtime::cgroup::Reading;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Where the agent container sees the host's cgroup file systems (bind-mounted read-only).
pub const HOST_CGROUP_ROOT: &str = "/host/sys/fs/cgroup";

/// One request to the agent, with its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub id: u64,
    pub request: Request,
}

/// What the agent can be asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// The host's CPU model (`/proc/cpuinfo`).
    CpuModel,
    /// A free port on the host's loopback (bound, read and released there).
    FreePort,
    /// Probe `addr` until `path` answers 200: the milliseconds from the request's arrival.
    WaitReady {
        addr: SocketAddr,
        path: String,
        timeout_ms: u64,
    },
    /// Stop the request with this id (a readiness wait whose server exited).
    Cancel { target: u64 },
    /// How the CPU time of the container whose main process is `pid` is read.
    Meter { pid: u32, container: String },
    /// One load window, with the server's cgroup CPU read around it when `pid` is given.
    Load {
        spec: WireSpec,
        server: Option<(u32, String)>,
    },
    /// The peak memory of process `pid` and of its container's cgroup.
    Peak { pid: u32, container: String },
}

/// A reply: the request's id and its answer or why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub outcome: Result<serde_json::Value, String>,
}

/// The answer to `Request::Peak`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeakReply {
    pub process: Reading,
    pub container: Reading,
}

//! Running variants: the `Runtime` trait, with docker (bollard) and native implementations.
//!
//! A runtime starts one instance of a built variant with given arguments and CPU set, says
//! whether it is still running, waits for it to exit, reads its output and peak memory, and
//! removes it. It knows nothing about what is measured; `measure` and `runner` do that.

pub mod cgroup;
pub mod docker;
pub mod docker_client;
#[doc(hidden)]
pub mod fake;
pub mod native;
pub mod pinning;
pub mod retry;
pub mod sampler;
pub mod sockets;

use crate::matrix::Variant;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Which runtime runs the variants: `--runtime docker|native`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Containers on the Docker daemon (bollard).
    Docker,
    /// Child processes on this machine.
    Native,
}

impl std::str::FromStr for RuntimeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "docker" => Ok(RuntimeKind::Docker),
            "native" => Ok(RuntimeKind::Native),
            other => Err(format!(
                "unknown runtime {other:?}: expected `docker` or `native`"
            )),
        }
    }
}

/// The user every instance runs as (nobody); the images say so too.
pub const USER: &str = "65534:65534";

/// What to start.
#[derive(Debug, Clone)]
pub struct StartSpec {
    pub variant: Variant,
    /// The image tag (docker) — absent for native.
    pub image: Option<String>,
    /// The binary (native).
    pub binary: PathBuf,
    pub args: Vec<String>,
    /// Environment variables set for it (e.g. `PORT`), on top of the image's or none.
    pub env: Vec<(String, String)>,
    /// A cpuset list such as `0` or `0-1`.
    pub cpus: String,
    pub memory_limit: Option<u64>,
    /// Unique within the run, e.g. `cold-3`.
    pub purpose: String,
    /// A program the app runs under (the check's tracer); docker only.
    pub wrap: Option<Wrap>,
    /// The OCI runtime of this instance over the runtime's own (a runtime arm of
    /// `--oci-runtime A,B`); docker only.
    pub oci_runtime: Option<String>,
}

/// A program an instance's own entrypoint runs under: `binary` (a file on this machine,
/// mounted read-only at `WRAP_PATH`) is the container's first process, given `args`, then
/// the image's `entrypoint` and the instance's arguments; `writable` (a directory here) is
/// mounted at `WRAP_OUT` for what it writes, and `files` over the paths they name.
#[derive(Debug, Clone)]
pub struct Wrap {
    pub binary: PathBuf,
    pub args: Vec<String>,
    pub entrypoint: Vec<String>,
    pub writable: PathBuf,
    /// Files here mounted read-only over paths in the container (a resolver configuration).
    pub files: Vec<(PathBuf, String)>,
}

/// Where a wrapper binary is mounted in the container.
pub const WRAP_PATH: &str = "/.harness/wrapper";
/// Where a wrapper's writable directory is mounted in the container.
pub const WRAP_OUT: &str = "/.harness/out";

/// A started instance.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Container id, or the process id for native.
    pub id: String,
    pub variant: Variant,
    /// How long the engine took to create and to start it, where the runtime tells.
    pub engine: Option<EngineTimes>,
}

/// The engine's share of a start (docker: the create call, then the start call, each until
/// the daemon answered), ms. What follows the start call, to the app's first response, is
/// the process's own start-up and the first request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineTimes {
    pub create_ms: f64,
    pub start_ms: f64,
}

/// How an instance ended.
#[derive(Debug, Clone)]
pub struct Exit {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
    /// Peak memory and how it was read, when the runtime can tell.
    pub peak_memory: Option<PeakMemory>,
}

/// Peak memory of an instance: the app process's own, and its container's (cgroup, which
/// also counts the container runtime, kernel memory and page cache). Each is the figure and
/// how it was read, or why it could not be.
#[derive(Debug, Clone)]
pub struct PeakMemory {
    pub process: cgroup::Reading,
    pub container: cgroup::Reading,
}

/// What an instance is doing, for saying why it did not become ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Liveness {
    /// Running, with its main process's pid on this machine (or why that is unknown).
    Running { pid: Result<u32, String> },
    /// Paused by the container runtime (frozen): it cannot answer anything.
    Paused,
    /// Gone, with its exit status when the runtime kept it.
    Exited { code: Option<i64> },
    /// The runtime could not tell.
    Unknown(String),
}

/// An instance failed (exited, never became ready, died under load): the reason and its
/// last output, which the runner records in the variant's `logs`.
#[derive(Debug, thiserror::Error)]
#[error("{reason}; last output: {}", if .logs.trim().is_empty() { "(none)" } else { .logs.trim() })]
pub struct InstanceFailed {
    pub reason: String,
    pub logs: String,
}

/// The last output an error carries, if an instance's failure is in its chain.
pub fn logs_of(error: &anyhow::Error) -> Option<String> {
    error
        .chain()
        .find_map(|e| e.downcast_ref::<InstanceFailed>())
        .map(|f| f.logs.trim().to_string())
}

/// Starting, watching and removing instances. Every instance `start` returns must be
/// passed to `remove` (the runner's registry makes sure, even on interrupt).
pub trait Runtime: Send + Sync {
    /// `docker` or `native`.
    fn name(&self) -> &'static str;

    /// Creates and starts an instance; the clock for cold start begins before this call.
    fn start(&self, spec: &StartSpec) -> impl Future<Output = anyhow::Result<Instance>> + Send;

    /// Creates and starts an instance, tracks it with `track` as soon as it exists, and
    /// returns once its first output arrives (the process has been exec'd and has written).
    fn start_until_output(
        &self,
        spec: &StartSpec,
        timeout: Duration,
        track: &(dyn Fn(&Instance) + Sync),
    ) -> impl Future<Output = anyhow::Result<String>> + Send;

    /// Whether it is still running; an error when the runtime cannot tell (its API failed).
    fn is_running(&self, instance: &Instance) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// The pid of its main process on the machine that runs it (the daemon's host), as the
    /// runtime reports it: not checked against this machine's processes.
    fn host_pid(&self, instance: &Instance) -> impl Future<Output = Result<u32, String>> + Send;

    /// Whether it runs (and its pid here) or exited (and with which status).
    fn liveness(&self, instance: &Instance) -> impl Future<Output = Liveness> + Send;

    /// Waits (up to `timeout`) for it to exit and collects its output.
    fn wait(
        &self,
        instance: &Instance,
        timeout: Duration,
    ) -> impl Future<Output = anyhow::Result<Exit>> + Send;

    /// How to read its CPU time while it runs (the reason when it cannot be read).
    fn cpu_meter(
        &self,
        instance: &Instance,
    ) -> impl Future<Output = Result<cgroup::CpuMeter, String>> + Send;

    /// Its peak memory so far: the process's own and its container's.
    fn peak_memory(&self, instance: &Instance) -> impl Future<Output = PeakMemory> + Send;

    /// The SHA-256 of the binary it runs, read back from what was launched (the process's
    /// executable, or the image's label), and where it was read; `None` when the runtime
    /// cannot tell (a job that exited before its executable could be opened).
    fn launched_binary(
        &self,
        instance: &Instance,
    ) -> impl Future<Output = anyhow::Result<Option<(String, String)>>> + Send;

    /// Its last `lines` lines of output (stdout and stderr), for failure reports.
    fn logs(&self, instance: &Instance, lines: usize) -> impl Future<Output = String> + Send;

    /// Stops and removes it; idempotent.
    fn remove(&self, id: &str) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Removes every instance of this run, tracked or not (an interrupt can land between
    /// creating an instance and tracking it); returns how many it found.
    fn sweep(&self) -> impl Future<Output = anyhow::Result<usize>> + Send;
}

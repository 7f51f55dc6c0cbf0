//! A scripted `Runtime` for tests of the runner: no Docker, no processes. Unit tests build
//! one in-process; the binary builds one from `GLIBC_VS_MUSL_FAKE_BACKEND` (`spec`), so CLI
//! tests run `harness run` end to end without a daemon. Each variant
//! follows its `Script` (start fails, the instance dies after so many liveness checks or
//! requests, a job hangs until interrupted), and every start, removal and sweep is recorded
//! so a test can assert that nothing was left running. An instance scripted to serve answers
//! HTTP (`serve`). It owns no measuring logic.

use super::{cgroup, Exit, Instance, Liveness, PeakMemory, Runtime, StartSpec};
use crate::matrix::Variant;
mod serve;
pub mod spec;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How one variant's instances behave.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// `start` fails with this message.
    pub start_error: Option<String>,
    /// The instance reports itself exited from this liveness check on (0: already dead).
    pub dies_after_checks: Option<u32>,
    /// The exit status and output `wait` returns.
    pub exit_code: i64,
    pub stdout: String,
    /// Serves HTTP 200 at its `PORT`, and dies (stops answering and running) after this
    /// many requests.
    pub serves_requests: Option<u64>,
}

/// One instance not yet removed.
struct Live {
    /// Liveness checks so far.
    checks: u32,
    /// Set when it dies (served its requests) or is removed: its server thread stops.
    dead: Arc<AtomicBool>,
}

/// A call the runner made, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Start(Variant, String),
    Remove(String),
    Sweep,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Instances started and not removed.
    live: HashMap<String, Live>,
    /// Starts that succeeded.
    starts: usize,
    calls: Vec<Call>,
}

/// The fake runtime: per-variant scripts, and what happened.
#[derive(Default)]
pub struct FakeRuntime {
    scripts: HashMap<Variant, Script>,
    /// Scripts of a variant's instances started under one OCI runtime (a runtime arm's):
    /// consulted when an instance starts.
    runtime_scripts: HashMap<(Variant, String), Script>,
    state: Mutex<State>,
    /// Woken at every start and every request served, for tests that interrupt a phase
    /// once it reached a given point.
    changed: Arc<Notify>,
    /// Requests answered by every instance so far.
    served: Arc<AtomicU64>,
    /// From this start on (1-based, over all variants), `wait` sees no exit before its
    /// timeout: the job runs until interrupted.
    hang_from: Option<usize>,
    /// The script of variants without one of their own.
    default: Script,
    /// A file every call is appended to, a line each (`start <variant> <purpose> <id>`,
    /// `remove <id>`, `sweep`), for tests that watch the binary from outside.
    journal: Option<std::path::PathBuf>,
}

impl FakeRuntime {
    /// Gives `variant`'s instances `script`; a variant without one starts, runs and exits 0.
    pub fn script(mut self, variant: Variant, script: Script) -> Self {
        self.scripts.insert(variant, script);
        self
    }

    /// Gives `variant`'s instances started under `oci_runtime` `script` when they start.
    pub fn runtime_script(mut self, variant: Variant, oci_runtime: &str, script: Script) -> Self {
        self.runtime_scripts
            .insert((variant, oci_runtime.to_string()), script);
        self
    }

    /// Gives every variant without a script of its own `script`.
    pub fn with_default(mut self, script: Script) -> Self {
        self.default = script;
        self
    }

    /// Appends every call to `path` as it is made.
    pub fn journal(mut self, path: std::path::PathBuf) -> Self {
        self.journal = Some(path);
        self
    }

    /// Makes the `n`th start (1-based, over all variants) and every later one hang.
    pub fn hang_from(mut self, n: usize) -> Self {
        self.hang_from = Some(n);
        self
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Instances started and not yet removed.
    pub fn live(&self) -> Vec<String> {
        let mut live: Vec<String> = self.lock().live.keys().cloned().collect();
        live.sort();
        live
    }

    /// How many starts succeeded so far.
    pub fn starts(&self) -> usize {
        self.lock().starts
    }

    /// Waits until at least `n` instances have been started.
    pub async fn started(&self, n: usize) {
        self.until(|| self.starts() >= n).await;
    }

    /// Waits until the instances have answered at least `n` requests in all.
    pub async fn served(&self, n: u64) {
        self.until(|| self.served.load(Ordering::SeqCst) >= n).await;
    }

    async fn until(&self, done: impl Fn() -> bool) {
        loop {
            let woken = self.changed.notified();
            if done() {
                return;
            }
            woken.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("not poisoned")
    }

    fn script_of(&self, variant: Variant) -> Script {
        self.scripts
            .get(&variant)
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }

    /// Records `call` in order, and in the journal when there is one.
    fn record(&self, state: &mut State, call: Call, id: Option<&str>) {
        if let Some(path) = &self.journal {
            use std::io::Write;
            let line = match (&call, id) {
                (Call::Start(variant, purpose), Some(id)) => {
                    format!("start {variant} {purpose} {id}")
                }
                (Call::Start(variant, purpose), None) => {
                    format!("failed-start {variant} {purpose}")
                }
                (Call::Remove(id), _) => format!("remove {id}"),
                (Call::Sweep, _) => "sweep".to_string(),
            };
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path);
            if let Ok(mut file) = file {
                let _ = writeln!(file, "{line}");
            }
        }
        state.calls.push(call);
    }

    /// Counts one liveness check; whether the instance is still running after it.
    fn check(&self, instance: &Instance) -> bool {
        let script = self.script_of(instance.variant);
        let mut state = self.lock();
        let Some(live) = state.live.get_mut(&instance.id) else {
            return false;
        };
        let alive = script.dies_after_checks.is_none_or(|n| live.checks < n);
        live.checks += 1;
        alive && !live.dead.load(Ordering::SeqCst)
    }
}

/// The port a server started with `spec` would listen on: its `PORT`, an address among its
/// arguments or environment (`--addr 127.0.0.1:PORT`), or the number after a `--port`-like
/// flag: the ways a crate's harness table can pass it.
fn listen_port(spec: &StartSpec) -> Option<u16> {
    if let Some((_, port)) = spec.env.iter().find(|(k, _)| k == "PORT") {
        return port.parse().ok();
    }
    let values = spec.args.iter().chain(spec.env.iter().map(|(_, v)| v));
    if let Some(addr) = values
        .filter_map(|v| v.parse::<std::net::SocketAddr>().ok())
        .next()
    {
        return Some(addr.port());
    }
    spec.args
        .windows(2)
        .find(|pair| pair[0].contains("port"))
        .and_then(|pair| pair[1].parse().ok())
}

impl Runtime for FakeRuntime {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn start(&self, spec: &StartSpec) -> anyhow::Result<Instance> {
        let script = spec
            .oci_runtime
            .as_ref()
            .and_then(|r| {
                self.runtime_scripts
                    .get(&(spec.variant, r.clone()))
                    .cloned()
            })
            .unwrap_or_else(|| self.script_of(spec.variant));
        let mut state = self.lock();
        let call = Call::Start(spec.variant, spec.purpose.clone());
        if let Some(error) = script.start_error {
            self.record(&mut state, call, None);
            anyhow::bail!(error);
        }
        state.next_id += 1;
        let id = format!("fake-{}", state.next_id);
        self.record(&mut state, call, Some(&id));
        let dead = Arc::new(AtomicBool::new(false));
        // A start that names no port (`--version`, a batch job) serves nothing.
        if let (Some(requests), Some(port)) = (script.serves_requests, listen_port(spec)) {
            let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
            let (served, changed) = (self.served.clone(), self.changed.clone());
            let dead = dead.clone();
            std::thread::spawn(move || serve::serve(&listener, requests, &dead, &served, &changed));
        }
        let live = Live { checks: 0, dead };
        state.live.insert(id.clone(), live);
        state.starts += 1;
        drop(state);
        self.changed.notify_waiters();
        Ok(Instance {
            id,
            variant: spec.variant,
            engine: None,
        })
    }

    async fn start_until_output(
        &self,
        spec: &StartSpec,
        _timeout: Duration,
        track: &(dyn Fn(&Instance) + Sync),
    ) -> anyhow::Result<String> {
        let instance = self.start(spec).await?;
        track(&instance);
        Ok(self.script_of(spec.variant).stdout)
    }

    async fn is_running(&self, instance: &Instance) -> anyhow::Result<bool> {
        Ok(self.check(instance))
    }

    async fn host_pid(&self, _instance: &Instance) -> Result<u32, String> {
        Err("a fake instance has no pid".into())
    }

    async fn liveness(&self, instance: &Instance) -> Liveness {
        let dies_after = self.script_of(instance.variant).dies_after_checks;
        let state = self.lock();
        let Some(live) = state.live.get(&instance.id) else {
            return Liveness::Exited { code: None };
        };
        let died = dies_after.is_some_and(|n| live.checks >= n);
        if died || live.dead.load(Ordering::SeqCst) {
            Liveness::Exited { code: Some(137) }
        } else {
            Liveness::Running {
                pid: Err("fake".into()),
            }
        }
    }

    async fn wait(&self, instance: &Instance, timeout: Duration) -> anyhow::Result<Exit> {
        let script = self.script_of(instance.variant);
        let number: Option<usize> = instance.id.trim_start_matches("fake-").parse().ok();
        if self.hang_from.is_some_and(|from| number >= Some(from)) {
            tokio::time::sleep(timeout).await;
            anyhow::bail!("{} did not exit within {timeout:?}", instance.id);
        }
        Ok(Exit {
            code: script.exit_code,
            stdout: script.stdout,
            stderr: String::new(),
            peak_memory: None,
        })
    }

    async fn cpu_meter(&self, _instance: &Instance) -> Result<cgroup::CpuMeter, String> {
        Err("a fake instance has no CPU meter".into())
    }

    async fn peak_memory(&self, _instance: &Instance) -> PeakMemory {
        PeakMemory {
            process: Err("fake".into()),
            container: Err("fake".into()),
        }
    }

    async fn launched_binary(
        &self,
        _instance: &Instance,
    ) -> anyhow::Result<Option<(String, String)>> {
        Ok(None)
    }

    async fn logs(&self, instance: &Instance, _lines: usize) -> String {
        format!("last words of {}", instance.id)
    }

    async fn remove(&self, id: &str) -> anyhow::Result<()> {
        let mut state = self.lock();
        self.record(&mut state, Call::Remove(id.to_string()), None);
        if let Some(live) = state.live.remove(id) {
            live.dead.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn sweep(&self) -> anyhow::Result<usize> {
        let mut state = self.lock();
        self.record(&mut state, Call::Sweep, None);
        let found = state.live.len();
        for (_, live) in state.live.drain() {
            live.dead.store(true, Ordering::SeqCst);
        }
        Ok(found)
    }
}

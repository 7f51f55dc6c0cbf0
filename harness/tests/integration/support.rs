//! Shared helpers for the integration tests: this process's image namespace and test
//! builds (set before `main`), loud skips, the daemon held shared (in a namespace per test)
//! or exclusively, the quiet and busy machine, per-run cleanup guards, results-file checks.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

// Before `main`, once: every test, in-process or through a `harness` it spawns (which
// inherits the environment), tags and cleans under an image namespace of this test process
// alone, `<namespace>-test-<pid>`. So the suite never moves or removes a user's
// `glibc-vs-musl/<app>:<variant>`, nor another test process's images on the same daemon.
// Set here rather than per test so that no test can forget it; set before `main`, while the
// process has one thread, so `set_var` races with nothing.
#[used]
#[link_section = ".init_array"]
static SET_TEST_NAMESPACE: extern "C" fn() = set_test_namespace;

extern "C" fn set_test_namespace() {
    use harness::labels::{IMAGE_NAMESPACE, NAMESPACE_ENV};
    // A namespace chosen from outside (`.ci/run` picks one to check for leaks) is the
    // prefix; the tests never work in the chosen namespace itself.
    let prefix = std::env::var(NAMESPACE_ENV)
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| IMAGE_NAMESPACE.into());
    let namespace = format!("{prefix}-test-{}", std::process::id());
    std::env::set_var(NAMESPACE_ENV, namespace);
    // Variant builds trade the binaries' speed for build time (`TEST_BUILDS_ENV`): the
    // tests check what the harness does with a binary, not how fast it runs.
    std::env::set_var(harness::build::cargo::TEST_BUILDS_ENV, "1");
}

/// The image namespace this test works in: its own (`docker_shared`) while it holds the
/// daemon shared, else this test process's (`harness::labels::image_namespace`).
pub fn test_namespace() -> String {
    let namespace = TEST_NAMESPACE
        .with(|n| n.borrow().clone())
        .unwrap_or_else(|| harness::labels::image_namespace().to_string());
    assert!(
        namespace.contains("-test-"),
        "the tests run outside a test namespace: {namespace}"
    );
    namespace
}

/// The tag `harness` gives `variant` of `app` in this test's namespace.
pub fn variant_tag(app: &str, variant: &str) -> String {
    format!("{}/{app}:{variant}", test_namespace())
}

/// The built `harness` binary, to run in this test's namespace: every test that starts a
/// `harness` starts it from here, so a test holding the daemon shared (`docker_shared`)
/// works in a namespace of its own, with its own run lock, images and cleanup.
pub fn harness_command() -> std::process::Command {
    without_runner_bootstrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_harness"));
    command.env(harness::labels::NAMESPACE_ENV, test_namespace());
    command
}

/// The variable `.ci/test-runner` sets beside `RUSTC_BOOTSTRAP`, which libtest needs for
/// `--report-time` and nothing else must see.
const RUNNER_BOOTSTRAP: &str = "GLIBC_VS_MUSL_RUNNER_BOOTSTRAP";

/// Removes the `RUSTC_BOOTSTRAP` that `.ci/test-runner` set for libtest alone, once, before
/// this process starts a cargo of its own (every `harness`, every in-process build takes
/// this path through `harness_command`, the Docker and machine locks, or `bench`). Inherited,
/// it changes the fingerprints of crates whose build scripts read it (proc-macro2,
/// thiserror, anyhow), so every build the tests start under `.ci/run` rebuilt from the
/// bottom in the next plain `cargo test`, and back. Called from inside a test, so libtest
/// has read its arguments already. A `RUSTC_BOOTSTRAP` of the caller's own (no runner
/// marker) is left alone.
pub fn without_runner_bootstrap() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os(RUNNER_BOOTSTRAP).is_some() {
            std::env::remove_var("RUSTC_BOOTSTRAP");
            std::env::remove_var(RUNNER_BOOTSTRAP);
        }
    });
}

/// The results file a run wrote into `out`, if any yet (a run writes one per run id).
pub fn results_file(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "json"))
}

/// The run's results from `out`: the file must pass the published schema and load.
pub fn checked_results(out: &Path) -> harness::results::RunResults {
    let file = results_file(out).expect("a results file");
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_valid(&value, &harness::results::json_schema());
    harness::results::RunResults::load(&file).unwrap()
}

/// Fails with every error when `value` does not pass `schema`.
pub fn assert_valid(value: &serde_json::Value, schema: &serde_json::Value) {
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:?}");
}

/// Builds what a run of `variants` of `app` (a sample app's name or a crate's path) will
/// compile, before the test takes the Docker lock: the lock is then held for the daemon's
/// work, not for compiling, and other tests' Docker work goes on meanwhile. The binaries
/// only (`harness build --no-images`); the run finds them built. A build that fails is left
/// for the run to report, where the test's own assertions read it.
pub fn prebuild(app: &str, variants: &str) {
    let _ = harness_cli(&["build", "--app", app, "--variants", variants, "--no-images"]);
}

/// The Docker lock, taken once `variants` of `app` are built (`prebuild`): held for the
/// daemon's work, not for compiling.
pub fn docker_lock_once_built(app: &str, variants: &str) -> DockerGuard {
    prebuild(app, variants);
    docker_lock()
}

/// The two variants most Docker tests build: one of each libc.
pub const MUSL_GLIBC_PAIR: &str = "musl-system-scratch,glibc-system-debian";

/// Builds the http app's `MUSL_GLIBC_PAIR` images under `run_id` (provisioning what they need
/// first), in that order.
pub async fn build_http_pair(
    docker: &bollard::Docker,
    run_id: &str,
) -> Vec<(harness::matrix::Variant, harness::build::Built)> {
    use harness::build::{base, build_variant, Packaging};
    let app = harness::app::AppSpec::resolve("http", None).unwrap();
    let variants: Vec<harness::matrix::Variant> = MUSL_GLIBC_PAIR
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    harness::doctor::ensure_for(&variants, true).unwrap();
    let base = base::ensure(docker, true).await.unwrap().unwrap();
    let packaging = Packaging {
        docker,
        base: Some(&base),
        run_id,
    };
    let mut built = Vec::new();
    for variant in variants {
        let root = harness::app::workspace_root();
        let b = build_variant(&root, &app, variant, false, Some(&packaging))
            .await
            .unwrap_or_else(|(step, e)| panic!("{variant}: {step} failed: {e:#}"));
        built.push((variant, b));
    }
    built
}

/// The fixtures directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// True under CI, where a missing prerequisite is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The skips of this process so far, for the summary printed at exit.
static SKIPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Skips `test` loudly, for a missing prerequisite (the caller then returns): under
/// `CI=true` nothing may skip, so this fails the test; elsewhere `SKIPPED test: reason`
/// goes straight to file descriptor 2, past libtest's capture of `eprintln!`, and again in
/// a summary when the test binary exits, so a local "all passed" says what it did not check.
pub fn skip(test: &str, reason: &str) {
    // libtest runs each test on a thread named after it: the full path beats our label.
    let current = std::thread::current();
    let name = current.name().filter(|n| *n != "main").unwrap_or(test);
    assert!(
        !in_ci(),
        "{name} cannot skip under CI=true, its prerequisite is missing: {reason}"
    );
    let line = format!("{name}: {reason}");
    write_stderr(&format!("SKIPPED {line}\n"));
    SKIPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(line);
}

/// Writes to the process's stderr itself, which libtest does not capture.
fn write_stderr(text: &str) {
    // SAFETY: write(2) on fd 2 from a live buffer of exactly `text.len()` bytes.
    let _ = unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
}

// At exit, after libtest's own summary: the skips again, in one block.
#[used]
#[link_section = ".fini_array"]
static REPORT_SKIPS: extern "C" fn() = report_skips;

extern "C" fn report_skips() {
    let skips = SKIPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !skips.is_empty() {
        let list = skips.join("\n  ");
        write_stderr(&format!("SKIPPED {} tests:\n  {list}\n", skips.len()));
    }
}

/// A connected Docker client, or `None` (skip, loudly) outside CI; under CI a missing
/// daemon fails the test with the reason.
pub async fn docker_or_skip(test: &str) -> Option<bollard::Docker> {
    match harness::runtime::docker_client::connect().await {
        Ok(docker) => Some(docker),
        Err(e) => {
            skip(test, &format!("Docker unreachable: {e:#}"));
            None
        }
    }
}

/// Tests whose assertions are figures (one variant beyond noise of another, a gate that must
/// stay silent on unchanged runs) need the machine quiet: the test threads beside them
/// compile and run servers. Every `harness_cli`, and every test that compiles or runs
/// `harness` by other means outside the Docker lock, holds this shared (`busy_machine`);
/// such a test holds it exclusively (`quiet_machine`) while it measures.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    /// Whether this test thread holds `MACHINE` already, shared or exclusively: its nested
    /// calls then take nothing (a second read lock behind a waiting writer would deadlock).
    static HOLDS_MACHINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `MACHINE` held by this thread (or nothing, when it held it already), until dropped.
pub struct MachineGuard {
    _read: Option<std::sync::RwLockReadGuard<'static, ()>>,
    _write: Option<std::sync::RwLockWriteGuard<'static, ()>>,
}

impl Drop for MachineGuard {
    fn drop(&mut self) {
        if self._read.is_some() || self._write.is_some() {
            HOLDS_MACHINE.with(|h| h.set(false));
        }
    }
}

/// Waits until no other test runs a `harness` or compiles, and keeps it so until the guard
/// drops.
pub fn quiet_machine() -> MachineGuard {
    without_runner_bootstrap();
    if HOLDS_MACHINE.with(|h| h.get()) {
        panic!("quiet_machine inside busy_machine: take the quiet machine first");
    }
    let write = MACHINE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    HOLDS_MACHINE.with(|h| h.set(true));
    MachineGuard {
        _read: None,
        _write: Some(write),
    }
}

/// Marks this test as loading the machine (compiling, running `harness`) until the guard
/// drops: a test measuring under `quiet_machine` waits for it, and it for that test.
pub fn busy_machine() -> MachineGuard {
    without_runner_bootstrap();
    if HOLDS_MACHINE.with(|h| h.get()) {
        return MachineGuard {
            _read: None,
            _write: None,
        };
    }
    let read = MACHINE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    HOLDS_MACHINE.with(|h| h.set(true));
    MachineGuard {
        _read: Some(read),
        _write: None,
    }
}

/// Runs the built `harness` binary with `args`; returns (exit code, stdout, stderr).
pub fn harness_cli(args: &[&str]) -> (i32, String, String) {
    let _busy = busy_machine();
    let output = harness_command()
        .args(args)
        .output()
        .expect("the harness binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Tests that use the daemon hold it exclusively (`docker_lock`) or shared (`docker_shared`).
/// Exclusively: a test that measures figures, reads the daemon as a whole (every dangling
/// image, every container), or works in this process's own namespace in-process. Shared:
/// a test whose daemon work is all done by `harness` children in a namespace of the test's
/// own, which keeps its run lock, images, containers and cleanup apart from the others'.
/// The shared tests run side by side; an exclusive one waits for them to finish, and new
/// ones wait for it (the lock prefers writers).
static DOCKER: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    /// The namespace of this test thread while it holds the daemon shared.
    static TEST_NAMESPACE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Takes the daemon exclusively, whatever an earlier failed test left the lock as.
pub fn docker_lock() -> DockerGuard {
    without_runner_bootstrap();
    let guard = DOCKER
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    DockerGuard::new(Held::Exclusive(guard))
}

/// Takes the daemon shared, in a namespace of this test's own (`<process namespace>-<n>`)
/// until the guard drops: `harness_command`, `test_namespace` and `RunCleanup` use it. The
/// shared debian base is made first, once, with the daemon held exclusively: runs in other
/// namespaces would otherwise make it side by side.
pub fn docker_shared() -> DockerGuard {
    without_runner_bootstrap();
    static BASE: std::sync::Once = std::sync::Once::new();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    BASE.call_once(|| {
        let _exclusive = docker_lock();
        ensure_base();
    });
    let guard = DOCKER
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let namespace = format!("{}-{n}", harness::labels::image_namespace());
    TEST_NAMESPACE.with(|t| *t.borrow_mut() = Some(namespace));
    DockerGuard::new(Held::Shared(guard))
}

/// `docker_shared`, taken once `variants` of `app` are built (`prebuild`).
pub fn docker_shared_once_built(app: &str, variants: &str) -> DockerGuard {
    prebuild(app, variants);
    docker_shared()
}

/// Provisions and builds the shared debian base, when the daemon answers (a test without
/// one skips on its own).
fn ensure_base() {
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        return;
    };
    rt.block_on(async {
        let Ok(docker) = harness::runtime::docker_client::connect().await else {
            return;
        };
        let glibc: harness::matrix::Variant = "glibc-system-debian".parse().unwrap();
        harness::doctor::ensure_for(&[glibc], true).expect("the base's prerequisites");
        harness::build::base::ensure(&docker, true)
            .await
            .expect("the debian base builds");
    });
}

enum Held {
    Exclusive(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
}

/// The daemon held by one test. libtest's own time of a test counts its wait for the lock
/// too, so each holder's time is recorded here and the longest are listed at exit.
pub struct DockerGuard {
    held: Option<Held>,
    test: String,
    since: std::time::Instant,
}

impl DockerGuard {
    fn new(held: Held) -> DockerGuard {
        DockerGuard {
            held: Some(held),
            test: std::thread::current().name().unwrap_or("?").to_string(),
            since: std::time::Instant::now(),
        }
    }
}

/// (seconds, test) for every release of `DOCKER_LOCK` so far.
static HELD: Mutex<Vec<(f64, String)>> = Mutex::new(Vec::new());

impl Drop for DockerGuard {
    fn drop(&mut self) {
        let held = self.since.elapsed().as_secs_f64();
        let test = match self.held {
            Some(Held::Shared(_)) => {
                TEST_NAMESPACE.with(|t| t.borrow_mut().take());
                format!("{} (shared)", self.test)
            }
            _ => std::mem::take(&mut self.test),
        };
        self.held = None;
        HELD.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((held, test));
    }
}

// At exit: how long the Docker tests held the daemon, the longest first.
#[used]
#[link_section = ".fini_array"]
static REPORT_HELD: extern "C" fn() = report_held;

extern "C" fn report_held() {
    let mut held = HELD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    if held.is_empty() {
        return;
    }
    held.sort_by(|a, b| b.0.total_cmp(&a.0));
    let shared = |test: &str| test.ends_with(" (shared)");
    let sum = |want: bool| -> (f64, usize) {
        let times: Vec<f64> = held
            .iter()
            .filter(|(_, t)| shared(t) == want)
            .map(|(s, _)| *s)
            .collect();
        (times.iter().sum(), times.len())
    };
    let ((alone, n_alone), (side, n_side)) = (sum(false), sum(true));
    let mut text = format!(
        "Docker lock held exclusively {alone:.0} s by {n_alone} tests (one at a time), \
         shared {side:.0} s by {n_side} tests (side by side); the longest:\n"
    );
    for (seconds, test) in held.iter().take(15) {
        text += &format!("  {seconds:7.1} s  {test}\n");
    }
    write_stderr(&text);
}

/// Removes what a run built, even when a test fails half-way: the runs whose results files
/// are in `out` (the run id is the file's stem), and the run ids in `ids`.
#[derive(Default)]
pub struct RunCleanup {
    pub out: Option<std::path::PathBuf>,
    pub ids: Vec<String>,
}

impl Drop for RunCleanup {
    fn drop(&mut self) {
        let mut ids = self.ids.clone();
        if let Some(Ok(entries)) = self.out.as_ref().map(std::fs::read_dir) {
            ids.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())),
            );
        }
        // A test holding the daemon shared ran `harness` in a namespace of its own, which
        // this process's in-process cleanup cannot see: its own `harness clean` removes it.
        if TEST_NAMESPACE.with(|t| t.borrow().is_some()) {
            for id in ids {
                let _ = harness_command().args(["clean", "--run-id", &id]).output();
            }
            return;
        }
        // A thread of its own: the test may be inside a tokio runtime already.
        let _ = std::thread::spawn(move || clean_ids(ids)).join();
    }
}

fn clean_ids(ids: Vec<String>) {
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        return;
    };
    rt.block_on(async {
        let Ok(docker) = harness::runtime::docker_client::connect().await else {
            return;
        };
        for id in ids {
            let _ = harness::cleanup::clean(&docker, Some(&id), false).await;
        }
    });
}

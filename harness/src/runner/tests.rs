//! Unit tests of the runner's failure and interrupt handling, against `FakeRuntime`: a
//! variant that fails to start, a server that dies, an interrupt in each phase. Builds are
//! skipped (the run starts from given artifacts); nothing here needs Docker or a network.

use super::*;
use crate::app::launch::LaunchFields;
use crate::app::{AppSpec, BatchDrive, Drive, Launch, ServerDrive};
use crate::results::{AppKind, Status};
use crate::runtime::fake::{Call, FakeRuntime, Script};
use std::future::{pending, Future};
use std::path::Path;

/// Long enough never to decide a test: each test ends on an event, not a timeout.
const NEVER: Duration = Duration::from_secs(60);

fn batch_app() -> AppSpec {
    app(
        AppKind::Batch,
        Drive::Batch(BatchDrive {
            args: vec!["--threads={threads}".into()],
            cold_args: vec!["--threads=1".into()],
            env: Vec::new(),
            throughput: None,
            throughput_unit: "jobs/s".into(),
            checksum: None,
            peak_rss_kb: None,
        }),
    )
}

fn server_app() -> AppSpec {
    app(
        AppKind::Server,
        Drive::Server(ServerDrive {
            launch: Launch::from_fields(&LaunchFields::default()).unwrap(),
            ready_path: "/".into(),
            requests: Vec::new(),
            resolve_path: None,
            upstream: false,
            check_requests: Vec::new(),
        }),
    )
}

fn app(kind: AppKind, drive: Drive) -> AppSpec {
    AppSpec {
        name: "fake-app".into(),
        package: "fake-app".into(),
        bin: "fake-app".into(),
        manifest_dir: PathBuf::from("/nonexistent"),
        kind,
        drive,
        version_arg: None,
        features: Default::default(),
        in_workspace: false,
    }
}

fn plan(app: AppSpec, variants: Vec<Variant>, out_dir: &Path) -> RunPlan {
    RunPlan {
        app,
        variants,
        runtime: None,
        runs: 1,
        rounds: 1,
        control: false,
        target_ci: None,
        max_rounds: 1,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(100),
        concurrency: vec![1],
        requests: Vec::new(),
        rate: None,
        threads: vec![1],
        dataset_mb: 1.0,
        ready_timeout: NEVER,
        memory_limit: None,
        fresh_node: None,
        docker_timeout: NEVER,
        oci_runtime: None,
        runtime_arms: Vec::new(),
        allow_concurrent: false,
        allow_partial: false,
        agent: crate::measure::AgentMode::Never,
        out_dir: out_dir.into(),
        machine: "test".into(),
        json: false,
        quiet: true,
    }
}

/// Runs `plan` on `fake` from given artifacts (no builds), racing `interrupt`; returns the
/// outcome and the results file as written.
async fn run_until(
    plan: &RunPlan,
    fake: &FakeRuntime,
    interrupt: impl Future<Output = (&'static str, i32)>,
) -> (anyhow::Result<PathBuf>, RunResults) {
    let path = plan.out_dir.join("run.json");
    let mut run = Run::new(plan, fake, path.clone(), Progress::new(true), vec![], None);
    run.fake_artifacts();
    let outcome = run.execute_until(None, interrupt).await;
    let results = RunResults::load(&path).expect("the results file is written");
    (outcome, results)
}

fn two_variants() -> (Variant, Variant) {
    let all = Variant::all();
    (all[0], all[1])
}

fn status(results: &RunResults, variant: Variant) -> &Status {
    &results
        .variants
        .iter()
        .find(|v| v.variant == variant)
        .expect("planned")
        .status
}

/// Every instance started was removed, and the run ended with a sweep.
fn assert_nothing_left(fake: &FakeRuntime) {
    assert_eq!(fake.live(), Vec::<String>::new());
    assert_eq!(fake.calls().last(), Some(&Call::Sweep));
}

/// `variant` failed at `step` for a reason holding `reason`, with `logs` as its output.
fn assert_failed(
    results: &RunResults,
    variant: Variant,
    step: &str,
    reason: &str,
    logs: Option<&str>,
) {
    match status(results, variant) {
        Status::Failed {
            step: failed_at,
            reason: why,
            logs: output,
        } => {
            assert_eq!(failed_at, step);
            assert!(why.contains(reason), "{why}");
            if logs.is_some() {
                assert_eq!(output.as_deref(), logs);
            }
        }
        Status::Ok => panic!("{variant} passed"),
    }
}

/// The runner removed instance `id` itself, before the final sweep.
fn assert_removed_before_the_sweep(fake: &FakeRuntime, id: &str) {
    let calls = fake.calls();
    let removed = calls.iter().position(|c| *c == Call::Remove(id.into()));
    let swept = calls.iter().position(|c| *c == Call::Sweep);
    assert!(removed.is_some() && removed < swept, "{calls:?}");
}

/// An interrupt (SIGINT) once the `n`th instance has started.
async fn interrupt_at_start(fake: &FakeRuntime, n: usize) -> (&'static str, i32) {
    fake.started(n).await;
    ("SIGINT", libc::SIGINT)
}

fn assert_interrupted(outcome: anyhow::Result<PathBuf>) {
    let error = outcome.expect_err("an interrupted run fails");
    match error.downcast_ref::<HarnessError>() {
        Some(HarnessError::Interrupted { name, signal, .. }) => {
            assert_eq!((*name, *signal), ("SIGINT", libc::SIGINT));
        }
        _ => panic!("not an interrupt: {error:#}"),
    }
}

#[tokio::test]
async fn a_variant_that_fails_to_start_fails_alone_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (broken, fine) = two_variants();
    let script = Script {
        start_error: Some("no such image".into()),
        ..Script::default()
    };
    let fake = FakeRuntime::default().script(broken, script);
    let plan = plan(batch_app(), vec![broken, fine], dir.path());
    let (outcome, results) = run_until(&plan, &fake, pending()).await;
    outcome.expect("one failed variant does not fail the run");
    assert_failed(&results, broken, "cold-start", "no such image", None);
    // It was tried once (the warm-up round), then left out.
    let tries = fake
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Start(v, _) if *v == broken))
        .count();
    assert_eq!(tries, 1);
    let other = results.variants.iter().find(|v| v.variant == fine).unwrap();
    assert!(other.is_ok());
    assert_eq!(other.cold_start.as_ref().unwrap().samples_ms.len(), 1);
    assert_eq!(other.crunch.len(), 1);
    assert!(results.finished_at.is_some());
    assert_nothing_left(&fake);
}

#[tokio::test]
async fn a_server_that_dies_is_caught_by_the_liveness_check_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (variant, _) = two_variants();
    let script = Script {
        dies_after_checks: Some(0),
        ..Script::default()
    };
    let fake = FakeRuntime::default().script(variant, script);
    let plan = plan(server_app(), vec![variant], dir.path());
    let (outcome, results) = run_until(&plan, &fake, pending()).await;
    outcome.expect("a dead server fails its variant, not the run");
    assert_failed(
        &results,
        variant,
        "cold-start",
        "137",
        Some("last words of fake-1"),
    );
    assert_removed_before_the_sweep(&fake, "fake-1");
    assert_nothing_left(&fake);
}

/// A one-variant batch run whose `n`th instance hangs and is interrupted once started:
/// checks that the run was interrupted, that it was that instance's start, and that the
/// instance was removed with nothing left; returns the results.
async fn interrupted_batch_at(n: usize) -> RunResults {
    let dir = tempfile::tempdir().unwrap();
    let (variant, _) = two_variants();
    let fake = FakeRuntime::default().hang_from(n);
    let plan = plan(batch_app(), vec![variant], dir.path());
    let (outcome, results) = run_until(&plan, &fake, interrupt_at_start(&fake, n)).await;
    assert_interrupted(outcome);
    assert_eq!(fake.starts(), n);
    assert!(fake.calls().contains(&Call::Remove(format!("fake-{n}"))));
    assert_nothing_left(&fake);
    results
}

#[tokio::test]
async fn an_interrupt_during_cold_starts_removes_the_instance() {
    let results = interrupted_batch_at(1).await;
    // Nothing finished, nothing failed, and the run is not marked finished.
    let result = &results.variants[0];
    assert!(result.is_ok() && result.cold_start.is_none());
    assert!(results.finished_at.is_none());
}

#[tokio::test]
async fn an_interrupt_during_batch_jobs_keeps_the_cold_starts() {
    // Two cold starts (warm-up and one round), then the first job hangs.
    let results = interrupted_batch_at(3).await;
    let result = &results.variants[0];
    assert!(result.is_ok());
    assert_eq!(result.cold_start.as_ref().unwrap().samples_ms.len(), 1);
    assert!(result.crunch.is_empty());
}

/// A server plan with one request (`GET /`) and load windows of `duration`.
fn server_plan(variant: Variant, duration: Duration, out_dir: &Path) -> RunPlan {
    let mut plan = plan(server_app(), vec![variant], out_dir);
    plan.requests = vec![crate::app::RequestSpec {
        name: "/".into(),
        method: "GET".into(),
        path: "/".into(),
        body: Vec::new(),
        expect_status: 200,
    }];
    plan.duration = duration;
    plan
}

#[tokio::test]
async fn a_server_that_dies_mid_window_fails_its_variant_and_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (variant, _) = two_variants();
    // Each instance answers 5 requests: a cold start's probe, then the load server's
    // readiness probe and 4 requests of its window, then it dies.
    let script = Script {
        serves_requests: Some(5),
        ..Script::default()
    };
    let fake = FakeRuntime::default().script(variant, script);
    let plan = server_plan(variant, Duration::from_millis(500), dir.path());
    let (outcome, results) = run_until(&plan, &fake, pending()).await;
    outcome.expect("a dead server fails its variant, not the run");
    assert_failed(
        &results,
        variant,
        "load",
        "the server died during",
        Some("last words of fake-3"),
    );
    assert_removed_before_the_sweep(&fake, "fake-3");
    assert_nothing_left(&fake);
}

#[tokio::test]
async fn an_interrupt_during_a_load_window_removes_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (variant, _) = two_variants();
    let script = Script {
        serves_requests: Some(u64::MAX),
        ..Script::default()
    };
    let fake = FakeRuntime::default().script(variant, script);
    let plan = server_plan(variant, Duration::from_millis(500), dir.path());
    // Two cold-start probes and the load server's readiness probe come first: the tenth
    // request is in the window.
    let interrupt = async {
        fake.served(10).await;
        ("SIGINT", libc::SIGINT)
    };
    let (outcome, results) = run_until(&plan, &fake, interrupt).await;
    assert_interrupted(outcome);
    assert_eq!(fake.starts(), 3);
    assert!(fake.calls().contains(&Call::Remove("fake-3".into())));
    assert_nothing_left(&fake);
    let result = &results.variants[0];
    assert!(result.is_ok());
    assert_eq!(result.cold_start.as_ref().unwrap().samples_ms.len(), 1);
    assert!(result.load.is_empty());
}

//! The app misbehaving: its server killed under load, or frozen (by the proxy) so it never
//! answers. Each marks only its variant failed, with the container's last output, and the
//! run goes on.

use super::child::{assert_no_containers_within, docker, wait_for_container};
use super::proxy::Proxy;
use super::{args, docker_available, start, LONG_WINDOW, MINUTE, TWO};
use std::time::Duration;

#[test]
fn a_server_killed_under_load_fails_only_its_variant() {
    let _lock = super::lock_once_built();
    if !docker_available("server_killed_under_load") {
        return;
    }
    // The window outlasts the test's reaction: the kill lands inside it. No A/A control:
    // the one glibc container is the variant's (the control's case is the next test).
    let mut window = LONG_WINDOW.to_vec();
    window.extend(["--variants", TWO, "--no-control"]);
    let mut run = start(&args(&window), &[]);
    let _cleanup = run.cleanup();
    run.wait_for(
        "glibc-system-debian: /plaintext at 1 connections",
        3 * MINUTE,
    );
    let id = wait_for_container(&run.run_id(), Some("glibc-system-debian"), MINUTE);
    docker(&["kill", &id]);
    assert_eq!(run.wait_exit(2 * MINUTE), 4, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("error: 1 of 2 variants failed: glibc-system-debian (load)"),
        "{}",
        run.stderr()
    );
    let results = run.results();
    let (glibc, musl) = (&results.variants[0], &results.variants[1]);
    let harness::results::Status::Failed { step, reason, logs } = &glibc.status else {
        panic!("the killed variant is not failed: {glibc:?}")
    };
    assert_eq!(step, "load");
    assert!(
        reason.contains("the server died during /plaintext at 1 connections"),
        "{reason}"
    );
    let logs = logs.as_deref().unwrap_or_default();
    assert!(logs.contains("http-server: listening"), "logs: {logs:?}");
    assert!(
        glibc.load[0].errors > 0,
        "the load generator counted no errors"
    );
    assert!(musl.is_ok() && musl.load.len() == 1, "{musl:?}");
    assert_eq!(musl.load[0].errors, 0);
    assert_no_containers_within(&run.run_id(), Duration::ZERO);
}

/// With the A/A control, the baseline runs two servers of one image: killing one fails
/// exactly that arm (the variant or its control), never the other or the other variant.
#[test]
fn a_killed_baseline_server_fails_only_its_arm() {
    let _lock = super::lock_once_built();
    if !docker_available("killed_baseline_server") {
        return;
    }
    let mut window = LONG_WINDOW.to_vec();
    window.extend(["--variants", TWO]);
    let mut run = start(&args(&window), &[]);
    let _cleanup = run.cleanup();
    run.wait_for(" at 1 connections", 3 * MINUTE);
    let id = wait_for_container(&run.run_id(), Some("glibc-system-debian"), MINUTE);
    docker(&["kill", &id]);
    assert_eq!(run.wait_exit(3 * MINUTE), 4, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("error: the A/A control arm of glibc-system-debian (load) failed")
            || run
                .stderr()
                .contains("error: 1 of 2 variants failed: glibc-system-debian (load)"),
        "{}",
        run.stderr()
    );
    let results = run.results();
    let control = results.control.as_ref().expect("an A/A control arm");
    let (glibc, musl) = (&results.variants[0], &results.variants[1]);
    let failed: Vec<&harness::results::VariantResult> = [glibc, control]
        .into_iter()
        .filter(|v| !v.is_ok())
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "exactly one glibc arm fails: {glibc:?} {control:?}"
    );
    let harness::results::Status::Failed { step, reason, .. } = &failed[0].status else {
        unreachable!()
    };
    assert_eq!(step, "load");
    // Killed during its window, or before it and found dead after the last one.
    assert!(
        reason.contains("the server died") || reason.contains("the server exited"),
        "{reason}"
    );
    assert!(musl.is_ok() && musl.load.len() == 1, "{musl:?}");
    assert_no_containers_within(&run.run_id(), Duration::ZERO);
}

#[test]
fn a_server_that_never_answers_fails_only_its_variant_with_its_logs() {
    let _lock = super::lock_once_built();
    if !docker_available("server_never_answers") {
        return;
    }
    // The proxy pauses glibc-system-debian's containers once started, before the harness
    // hears they are: they never answer.
    let proxy = Proxy::start();
    proxy.freeze_starts(Some("glibc-system-debian"));
    let host = proxy.docker_host();
    let mut run = start(
        &args(&["--variants", TWO, "--ready-timeout", "2s"]),
        &[("DOCKER_HOST", &host)],
    );
    let _cleanup = run.cleanup();
    let code = run.wait_exit(3 * MINUTE);
    let stderr = run.stderr();
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("variants failed: glibc-system-debian (cold-start)"),
        "{stderr}"
    );
    assert!(proxy.frozen() >= 1, "no container was frozen");
    let results = run.results();
    assert!(results.finished_at.is_some(), "the run went on to the end");
    let (glibc, musl) = (&results.variants[0], &results.variants[1]);
    let harness::results::Status::Failed { step, reason, logs } = &glibc.status else {
        panic!("the frozen variant is not failed: {glibc:?}")
    };
    assert_eq!(step, "cold-start");
    assert!(
        reason.contains("no 200 from /plaintext within 2s"),
        "{reason}"
    );
    assert!(logs.is_some(), "no logs recorded");
    let shown = "glibc-system-debian: cold start failed: no 200 from /plaintext within 2s: it is paused (its container is frozen); last output:";
    assert!(stderr.contains(shown), "{stderr}");
    assert!(musl.is_ok() && musl.load.len() == 1, "{musl:?}");
    assert_no_containers_within(&run.run_id(), Duration::from_secs(5));
}

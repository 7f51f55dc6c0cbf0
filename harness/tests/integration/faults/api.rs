//! The Docker API failing mid-run, through the fault-injecting proxy: a passing fault is
//! retried and the run succeeds; a lasting one ends the run with one clear line, keeps the
//! finished variant's results, and leaks no container.

use super::child::assert_no_containers_within;
use super::proxy::{Mode, Proxy};
use super::{args, docker_available, start, LONG_WINDOW, MINUTE, TWO};
use std::time::Duration;

#[test]
fn dropped_docker_api_requests_are_retried_and_the_run_succeeds() {
    let _lock = super::lock_once_built();
    if !docker_available("dropped_docker_api_requests") {
        return;
    }
    let proxy = Proxy::start();
    let host = proxy.docker_host();
    let mut run = start(&args(&[]), &[("DOCKER_HOST", &host)]);
    let _cleanup = run.cleanup();
    run.wait_for("cold starts (interleaved)", 3 * MINUTE);
    proxy.set(Mode::DropNext(2));
    assert_eq!(run.wait_exit(2 * MINUTE), 0, "{}", run.stderr());
    let stderr = run.stderr();
    assert_eq!(proxy.dropped(), 2, "{stderr}");
    assert!(stderr.contains("warning: Docker API: "), "{stderr}");
    assert!(stderr.contains("try 3 of 4"), "{stderr}");
    let results = run.results();
    assert!(results.variants[0].is_ok(), "{:?}", results.variants[0]);
    assert_no_containers_within(&run.run_id(), Duration::ZERO);
}

#[test]
fn a_stalled_docker_api_ends_the_run_cleanly_and_leaks_nothing() {
    let _lock = super::lock_once_built();
    if !docker_available("stalled_docker_api") {
        return;
    }
    let proxy = Proxy::start();
    let host = proxy.docker_host();
    let mut window = LONG_WINDOW.to_vec();
    // One round: the daemon is needed again right after the two windows.
    window.extend(["--variants", TWO, "--docker-timeout", "1s", "--rounds", "1"]);
    let mut run = start(&args(&window), &[("DOCKER_HOST", &host)]);
    let _cleanup = run.cleanup();
    // Both servers are live and glibc's window is running (long enough that the stall is
    // in place before it ends): stall the daemon, which the run needs again after the
    // round.
    run.wait_for(
        "glibc-system-debian: /plaintext at 1 connections",
        3 * MINUTE,
    );
    proxy.set(Mode::Stall);
    run.wait_for("removing this run's containers", MINUTE);
    proxy.set(Mode::Pass);
    assert_eq!(run.wait_exit(MINUTE), 1);
    let stderr = run.stderr();
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(error.contains("Docker API failed after 4 tries"), "{error}");
    let results = run.results();
    // The windows measured before the daemon was needed again are kept.
    for v in &results.variants {
        assert!(v.load.len() == 1 && v.load[0].rps.n == 1, "{v:?}");
    }
    assert_no_containers_within(&run.run_id(), Duration::ZERO);
}

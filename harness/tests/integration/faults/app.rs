//! The app misbehaving: its server killed under load, or frozen so it never answers. Each
//! marks only its variant failed, with the container's last output, and the run goes on.

use super::child::{assert_no_containers_within, docker, run_label, wait_for_container};
use super::{args, docker_available, start, MINUTE, TWO};
use crate::support::docker_lock;
use futures_util::StreamExt;
use std::time::Duration;

#[test]
fn a_server_killed_under_load_fails_only_its_variant() {
    let _lock = docker_lock();
    if !docker_available("server_killed_under_load") {
        return;
    }
    let mut run = start(
        &args(&[
            "--no-quick",
            "--variants",
            TWO,
            "--warmup",
            "0s",
            "--duration",
            "3s",
        ]),
        &[],
    );
    let _cleanup = run.cleanup();
    run.wait_for(
        "glibc-system-debian: /plaintext at 1 connections",
        3 * MINUTE,
    );
    let id = wait_for_container(
        &run.run_id(),
        Some("glibc-system-debian"),
        Duration::from_secs(2),
    );
    docker(&["kill", &id]);
    assert_eq!(run.wait_exit(2 * MINUTE), 0, "{}", run.stderr());
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

/// Makes every container of `variant` in run `run_id` unable to answer, until `stop` fires:
/// throttled to 0.1% of a CPU as soon as it is created, and frozen (paused) as soon as it
/// starts. Returns how many it froze.
fn freeze_on_start(
    run_id: String,
    variant: &'static str,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let docker = bollard::Docker::connect_with_local_defaults().unwrap();
            let filters = std::collections::HashMap::from([
                ("type", vec!["container".to_string()]),
                ("event", vec!["create".to_string(), "start".to_string()]),
                (
                    "label",
                    vec![
                        run_label(&run_id),
                        format!("{}={variant}", harness::labels::VARIANT),
                    ],
                ),
            ]);
            let options = bollard::query_parameters::EventsOptionsBuilder::default()
                .filters(&filters)
                .build();
            let mut events = docker.events(Some(options));
            let mut paused = 0;
            tokio::pin!(stop);
            loop {
                let event = tokio::select! {
                    _ = &mut stop => return paused,
                    event = events.next() => match event {
                        Some(Ok(event)) => event,
                        _ => return paused,
                    },
                };
                let Some(id) = event.actor.and_then(|a| a.id) else {
                    continue;
                };
                if event.action.as_deref() == Some("create") {
                    let throttle = bollard::models::ContainerUpdateBody {
                        cpu_quota: Some(1_000),
                        cpu_period: Some(1_000_000),
                        ..Default::default()
                    };
                    let _ = docker.update_container(&id, throttle).await;
                } else if docker.pause_container(&id).await.is_ok() {
                    paused += 1;
                }
            }
        })
    })
}

#[test]
fn a_server_that_never_answers_fails_only_its_variant_with_its_logs() {
    let _lock = docker_lock();
    if !docker_available("server_never_answers") {
        return;
    }
    let mut run = start(&args(&["--variants", TWO, "--ready-timeout", "2s"]), &[]);
    let _cleanup = run.cleanup();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let freezer = freeze_on_start(run.run_id(), "glibc-system-debian", stopped);
    let code = run.wait_exit(3 * MINUTE);
    let _ = stop.send(());
    let paused = freezer.join().unwrap();
    let stderr = run.stderr();
    assert_eq!(code, 0, "{stderr}");
    assert!(paused >= 1, "no container was frozen");
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
    let shown =
        "glibc-system-debian: cold start failed: no 200 from /plaintext within 2s; last output:";
    assert!(stderr.contains(shown), "{stderr}");
    assert!(musl.is_ok() && musl.load.len() == 1, "{musl:?}");
    assert_no_containers_within(&run.run_id(), Duration::from_secs(5));
}

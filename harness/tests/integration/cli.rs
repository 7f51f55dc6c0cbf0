//! Bad input dies in planning: one line naming the value and what is accepted, exit 2, no
//! panic, nothing created.

use crate::support::harness_cli;

fn assert_usage_error(args: &[&str], expected: &str) {
    let (code, _, stderr) = harness_cli(args);
    assert_eq!(code, 2, "{args:?}: exit {code}, stderr {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    let errors = lines.iter().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "{args:?}: one error line, got {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(
        lines.len() <= 4,
        "{args:?}: expected a short message, got {stderr}"
    );
}

#[test]
fn bad_run_arguments_are_rejected_before_anything_runs() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("never-created");
    let o = out_dir.to_str().unwrap();
    assert_usage_error(
        &["run", "--app", "grpc", "--out", o],
        "unknown app \"grpc\"",
    );
    // A Podman (or any engine's) socket that is not there: one line, exit 2, nothing built.
    assert_usage_error(
        &[
            "run",
            "--app",
            "http",
            "--docker-host",
            "unix:///nonexistent/podman/podman.sock",
            "--out",
            o,
        ],
        "there is no socket at /nonexistent/podman/podman.sock",
    );
    assert_usage_error(
        &["run", "--app", "http", "--variants", "zig-*", "--out", o],
        "matches no valid variant",
    );
    assert_usage_error(
        &[
            "run",
            "--app",
            "http",
            "--variants",
            "glibc-system-scratch",
            "--out",
            o,
        ],
        "cannot run",
    );
    assert_usage_error(
        &["run", "--app", "http", "--concurrency", "0", "--out", o],
        "--concurrency",
    );
    assert_usage_error(
        &["run", "--app", "http", "--duration", "-1s", "--out", o],
        "--duration",
    );
    assert_usage_error(
        &["run", "--app", "http", "--duration", "10x", "--out", o],
        "--duration",
    );
    assert_usage_error(
        &["run", "--app", "http", "--warmup", "9999999h", "--out", o],
        "--warmup",
    );
    assert_usage_error(
        &["run", "--app", "http", "--runs", "0", "--out", o],
        "--runs",
    );
    assert_usage_error(
        &["run", "--app", "http", "--endpoints", "/admin", "--out", o],
        "unknown endpoint",
    );
    assert_usage_error(
        &["run", "--app", "http", "--runtime", "podman", "--out", o],
        "unknown runtime",
    );
    assert_usage_error(
        &[
            "build",
            "--app",
            "http",
            "--variants",
            "musl-tcmalloc-scratch",
        ],
        "unknown variant",
    );
    assert!(
        !out_dir.exists(),
        "a rejected command created its output directory"
    );
}

#[test]
fn unknown_subcommands_and_flags_are_usage_errors() {
    let (code, _, stderr) = harness_cli(&["explode"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = harness_cli(&["run"]);
    assert_eq!(code, 2, "missing --app must be a usage error");
}

#[test]
fn variants_lists_the_matrix_with_validity() {
    let (code, stdout, _) = harness_cli(&["variants"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("musl-mimalloc-scratch"));
    assert!(stdout.contains("cannot start on bare scratch"));
    assert_eq!(stdout.matches("glibc-system-debian").count(), 1);
}

#[test]
fn profile_refuses_a_daemon_on_another_machine_before_anything_runs() {
    // No connection is made: the plan sees the address is not this machine's and stops.
    let output = crate::support::harness_command()
        .args([
            "profile",
            "--app",
            "json",
            "--out",
            "/nonexistent/never-created",
        ])
        .env("DOCKER_HOST", "tcp://build-host.invalid:2376")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("on another machine"), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(!std::path::Path::new("/nonexistent/never-created").exists());
}

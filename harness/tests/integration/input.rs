//! Bad input through the real binary, beyond the argument cases in `cli`: empty lists, an
//! unreachable or malformed `DOCKER_HOST`, broken results files given to `report` and
//! `compare`, and a crate path that is no crate. Each must print exactly one `error:` line
//! naming the value and what is accepted, exit non-zero (2 for usage), never panic, and
//! create nothing: no output directory, no results file, no container.

use crate::support::{docker_shared, fixtures};
use std::path::Path;
use std::process::Command;

/// Runs the harness with `args` and extra environment; returns (exit code, stderr).
fn harness(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = crate::support::harness_command();
    command.args(args).env("RUST_BACKTRACE", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("the harness binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The command fails with `code`, one `error:` line containing every `expected` text, no
/// panic and no backtrace (even with RUST_BACKTRACE=1), and `out` was not created.
fn assert_rejected(args: &[&str], env: &[(&str, &str)], code: i32, expected: &[&str], out: &Path) {
    let (got, stderr) = harness(args, env);
    let what = format!("{args:?} {env:?}: exit {got}, stderr:\n{stderr}");
    assert_eq!(got, code, "{what}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{what}");
    for text in expected {
        assert!(
            errors[0].contains(text),
            "{text:?} not in the error line: {what}"
        );
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!stderr.contains(bad), "{what}");
    }
    assert!(
        stderr.lines().filter(|l| !l.trim().is_empty()).count() <= 4,
        "{what}"
    );
    assert!(!out.exists(), "{what}: created {}", out.display());
}

/// The harness's containers, or `None` without a daemon.
fn harness_containers() -> Option<usize> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=dev.glibc-vs-musl.tool=harness",
            "--filter",
            &format!(
                "label={}={}",
                harness::labels::NAMESPACE,
                crate::support::test_namespace()
            ),
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&output.stdout).lines().count())
}

#[test]
fn empty_lists_and_out_of_range_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--app", "http", "--out", o];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let cases: [(&[&str], &[&str]); 10] = [
        (&["--variants", ""], &["--variants", "empty"]),
        (
            &["--variants", "musl-system-scratch,,"],
            &["--variants", "empty"],
        ),
        (&["--concurrency", ","], &["--concurrency", "empty"]),
        (&["--concurrency", ""], &["--concurrency", "empty"]),
        (&["--endpoints", ""], &["--endpoints", "empty"]),
        (
            &["--concurrency", "5000"],
            &["--concurrency", "5000", "1 to 4096"],
        ),
        (&["--concurrency", "1,lots"], &["--concurrency", "\"lots\""]),
        (
            &["--variants", "musl-foo-scratch"],
            &["\"musl-foo-scratch\"", "ALLOCATOR"],
        ),
        (&["--runs", "0"], &["--runs 0", "1 to 10000"]),
        (&["--duration", "9999999h"], &["--duration", "9999999h"]),
    ];
    for (extra, expected) in cases {
        let args = run(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_rejected(&args, &[], 2, expected, &out);
    }
    let json = ["run", "--app", "json", "--threads", ",", "--out", o];
    assert_rejected(&json, &[], 2, &["--threads", "empty"], &out);
}

#[test]
fn an_unknown_subcommand_is_one_usage_line() {
    let (code, stderr) = harness(&["explode"], &[]);
    assert_eq!(code, 2, "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("'explode'"), "{stderr}");
    assert!(stderr.contains("Usage: harness <COMMAND>"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_docker_host_is_named_and_nothing_runs() {
    // Containers are counted around the cases, in a namespace of the test's own: no other
    // test starts any there meanwhile.
    let _lock = docker_shared();
    let before = harness_containers();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let run = [
        "run",
        "--app",
        "http",
        "--quick",
        "--variants",
        "musl-system-scratch",
    ];
    let run_out = [&run[..], &["--out", o]].concat();
    for host in ["bogus://x", "tcp://:::", "unix://relative.sock"] {
        let env = [("DOCKER_HOST", host)];
        let expected = [host, "expected unix://"];
        assert_rejected(&run_out, &env, 2, &expected, &out);
        let docker_run = [&run_out[..], &["--runtime", "docker"]].concat();
        assert_rejected(&docker_run, &env, 2, &expected, &out);
        let build = [
            "build",
            "--app",
            "http",
            "--variants",
            "musl-system-scratch",
        ];
        assert_rejected(&build, &env, 2, &expected, &out);
        assert_rejected(&["clean", "--run-id", "x"], &env, 2, &expected, &out);
    }
    // A runtime the daemon has not registered: one line naming those it has, before
    // anything is built or created.
    if before.is_some() {
        let bad = [&run_out[..], &["--oci-runtime", "no-such-runtime"]].concat();
        let expected = [
            "--oci-runtime no-such-runtime",
            "has no runtime",
            "runc",
            "harness doctor",
        ];
        assert_rejected(&bad, &[], 2, &expected, &out);
        let two = [&run_out[..], &["--oci-runtime", "runc,no-such-runtime"]].concat();
        // Several: each must be the daemon's, each named once.
        assert_rejected(&two, &[], 2, &["has no runtime \"no-such-runtime\""], &out);
        let twice = [&run_out[..], &["--oci-runtime", "runc,runc"]].concat();
        assert_rejected(&twice, &[], 2, &["runc is named twice"], &out);
    }
    // Unreachable: a prerequisite error, not a silent fall-back to the native runtime.
    let env = [("DOCKER_HOST", "unix:///nonexistent.sock")];
    let (code, stderr) = harness(&run_out, &env);
    assert_eq!(code, 3, "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("unix:///nonexistent.sock") && errors[0].contains("--runtime native")
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let files: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "an unreachable daemon left {files:?}");
    let build = [
        "build",
        "--app",
        "http",
        "--variants",
        "musl-system-scratch",
    ];
    let (code, stderr) = harness(&build, &env);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(
        harness_containers(),
        before,
        "a rejected command started containers"
    );
}

/// Broken results files, each written into `dir`: (name, contents, what the error says).
fn broken_results(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let valid = std::fs::read_to_string(fixtures().join("report/http-run.json")).unwrap();
    let mut future: serde_json::Value = serde_json::from_str(&valid).unwrap();
    future["schema_version"] = 99.into();
    let mut wrong_type: serde_json::Value = serde_json::from_str(&valid).unwrap();
    wrong_type["variants"][0]["peak_memory_bytes"] = "lots".into();
    let cases = [
        (
            "malformed.json",
            "not json at all\n".to_string(),
            "not a results file",
        ),
        (
            "truncated.json",
            valid[..valid.len() / 2].to_string(),
            "not a results file",
        ),
        ("empty.json", String::new(), "not a results file"),
        (
            "future.json",
            future.to_string(),
            "schema_version 99 is not supported",
        ),
        (
            "wrong-type.json",
            wrong_type.to_string(),
            "variants[0].peak_memory_bytes",
        ),
    ];
    cases
        .into_iter()
        .map(|(name, text, says)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            (path, says.to_string())
        })
        .collect()
}

#[test]
fn broken_results_files_are_named_by_report_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report-out");
    let o = out.to_str().unwrap();
    let good = fixtures().join("report/http-run.json");
    let good = good.to_str().unwrap();
    for (path, says) in broken_results(dir.path()) {
        let p = path.to_str().unwrap();
        let expected = [p, says.as_str()];
        assert_rejected(&["report", p, "--out", o], &[], 2, &expected, &out);
        assert_rejected(&["compare", p, good], &[], 2, &expected, &out);
        assert_rejected(&["compare", good, p], &[], 2, &expected, &out);
    }
}

#[test]
fn a_path_that_is_not_a_binary_crate_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let empty = dir.path().join("no-cargo-toml");
    std::fs::create_dir(&empty).unwrap();
    let library = dir.path().join("not-a-manifest");
    std::fs::create_dir(&library).unwrap();
    std::fs::write(library.join("Cargo.toml"), "this is not toml [").unwrap();
    for crate_dir in [&empty, &library] {
        let path = crate_dir.to_str().unwrap();
        let args = [
            "run",
            "--app",
            path,
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ];
        let (code, stderr) = harness(&args, &[]);
        let what = format!("{path}: exit {code}: {stderr}");
        assert!(code != 0 && code != 101, "{what}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{what}");
        assert!(errors[0].contains(path), "{what}");
        assert!(!stderr.contains("panicked"), "{what}");
        assert!(!out.exists(), "{what}");
    }
}

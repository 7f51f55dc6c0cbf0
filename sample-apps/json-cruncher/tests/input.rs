//! json-cruncher's reader through the binary: malformed input, from a file or stdin, is one
//! clean line naming the problem and exit 1; never a panic.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs json-cruncher on `data` from stdin; (exit code, stdout, stderr).
fn crunch_stdin(data: &[u8], threads: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_json-cruncher"))
        .args(["--input", "-", "--threads", threads])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The process may exit before reading everything; a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(data);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_input_is_one_clean_error_line() {
    let valid = workloads::dataset::ndjson(5, 2_000);
    let mut truncated = valid.clone();
    truncated.truncate(valid.len() - 7);
    let cases: [(&[u8], &str); 5] = [
        (b"not json\n", "line 1: not a valid record"),
        (b"{\"id\": 1}\n", "line 1: not a valid record"),
        (&truncated, "not a valid record"),
        (b"\n\n  \n", "no records"),
        (b"\xff\xfe\x00garbage", "line 1: not a valid record"),
    ];
    for (data, says) in cases {
        let (code, stdout, stderr) = crunch_stdin(data, "2");
        assert_eq!(code, 1, "{says}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("json-cruncher: malformed input: "),
            "{stderr}"
        );
        assert!(stderr.contains(says), "{says}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, stdout, _) = crunch_stdin(&valid, "2");
    assert_eq!(code, 0);
    assert!(stdout.contains("\"checksum\""), "{stdout}");
}

#[test]
fn a_missing_file_and_bad_flags_are_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_json-cruncher"))
        .args(["--input", "/nonexistent/data.ndjson"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/data.ndjson"),
        "{stderr}"
    );
    let (code, _, stderr) = crunch_stdin(b"", "zero");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--threads") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

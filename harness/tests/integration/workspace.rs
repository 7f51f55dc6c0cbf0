//! The checkout the harness measures is found when it runs: the built binary, started in
//! another checkout, refuses with one line; started outside any, it measures its own.

use std::path::Path;

/// Runs the built harness in `dir`; returns (exit code, stdout, stderr).
fn harness_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = crate::support::harness_command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the harness binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// This test binary's checkout: the one the built harness belongs to.
fn this_checkout() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap()
}

#[test]
fn a_binary_run_inside_another_checkout_refuses_in_one_line() {
    let other = tempfile::tempdir().unwrap();
    let root = other.path();
    std::fs::create_dir_all(root.join("harness")).unwrap();
    std::fs::create_dir_all(root.join("sample-apps/http-server")).unwrap();
    std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::write(root.join("harness/Cargo.toml"), "[package]\n").unwrap();
    for args in [
        &["variants", "--app", "http"][..],
        &["build", "--app", "http", "--no-images"][..],
    ] {
        let (code, stdout, stderr) = harness_in(&root.join("sample-apps"), args);
        assert_eq!(code, 3, "{args:?}: {stdout}{stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert!(
            lines[0].starts_with("error: this harness binary belongs to the checkout"),
            "{stderr}"
        );
        assert!(
            lines[0].contains(&this_checkout().display().to_string()),
            "{stderr}"
        );
        assert!(lines[0].contains(&root.display().to_string()), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
}

#[test]
fn outside_any_checkout_it_measures_its_own() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = harness_in(elsewhere.path(), &["variants", "--app", "http"]);
    assert_eq!(code, 0, "{stderr}");
    let own = this_checkout().join("sample-apps/http-server/Cargo.toml");
    assert!(
        stdout.contains(&format!("app http ({})", own.display())),
        "{stdout}"
    );
}

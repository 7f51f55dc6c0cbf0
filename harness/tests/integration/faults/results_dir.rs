//! A results directory that cannot be written, or is full: the run stops with a usage
//! error (exit 2) before it builds anything. Neither needs the daemon.

use crate::support::harness_cli;

#[test]
fn an_unwritable_results_dir_is_refused_before_any_work() {
    let (code, _, stderr) = harness_cli(&[
        "run",
        "--app",
        "http",
        "--variants",
        "musl-system-scratch",
        "--out",
        "/dev/null/results",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot write results to /dev/null/results"),
        "{stderr}"
    );
    assert!(!stderr.contains("building"), "{stderr}");
}

#[test]
fn a_full_results_dir_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let mount = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir.path())
        .output();
    if !mount.as_ref().is_ok_and(|m| m.status.success()) {
        // CI runs as root, where mounting works: there a failure to mount is a failure.
        let reason = format!("cannot mount a tmpfs here: {mount:?}");
        crate::support::skip("a_full_results_dir", &reason);
        return;
    }
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    // Fill it: 1 MiB of tmpfs holds fewer than 2^20 bytes of data.
    let filler = std::fs::write(dir.path().join("filler"), vec![1u8; 2 << 20]);
    assert!(filler.is_err(), "the tmpfs took 2 MiB");
    let out = dir.path().to_str().unwrap();
    let (code, _, stderr) = harness_cli(&[
        "run",
        "--app",
        "http",
        "--variants",
        "musl-system-scratch",
        "--out",
        out,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(!stderr.contains("building"), "{stderr}");
}

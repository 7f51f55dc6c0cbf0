//! Engines other than the Docker daemon, on throwaway services of their own: a `podman
//! system service` on its own socket and storage (its Docker-compatible API). `doctor`
//! lists its runtimes, the results record the engine, and what its API cannot do is one
//! line and exit 2 before anything is built: it ignores a container's runtime, so
//! `--oci-runtime` other than the service's own is refused rather than mislabelled.

use crate::support::skip;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `podman system service` on a socket and storage under a temporary directory; killed,
/// its mounts undone and its directory removed on drop.
struct Podman {
    child: Child,
    dir: tempfile::TempDir,
}

impl Podman {
    fn start() -> Option<Podman> {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new("podman")
            .args(["--root", &at("root"), "--runroot", &at("run")])
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", at("podman.sock")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let podman = Podman { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !podman.socket().exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(podman)
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("podman.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Podman bind-mounts its overlay directory onto itself: undo it before removing.
        let overlay = self.dir.path().join("root/overlay");
        if overlay.exists() {
            let _ = Command::new("umount").arg("-R").arg(&overlay).status();
        }
    }
}

fn harness(args: &[&str], host: &str) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .env("DOCKER_HOST", host)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn podman_answers_doctor_and_a_runtime_its_api_would_ignore_is_refused() {
    if !Path::new("/usr/bin/podman").exists() {
        skip("podman", "podman is not installed (apt-get install podman)");
        return;
    }
    let Some(podman) = Podman::start() else {
        skip("podman", "podman system service did not start");
        return;
    };
    assert!(
        podman.socket().exists(),
        "no socket from podman system service"
    );
    let host = podman.host();
    let (_, stdout, stderr) = harness(&["doctor"], &host);
    let runtimes = stdout
        .lines()
        .find(|l| l.contains("OCI runtimes"))
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"));
    assert!(runtimes.contains("(default "), "{runtimes}");
    assert!(
        stdout.contains("daemon 4.") || stdout.contains("daemon 5."),
        "{stdout}"
    );
    // Whichever runtime the service does not run: refused before anything is built.
    let default = runtimes
        .split("(default ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_string();
    let other = if default == "runc" { "crun" } else { "runc" };
    let out = podman.dir.path().join("out");
    let args = [
        "run",
        "--app",
        "http",
        "--quick",
        "--variants",
        "musl-system-scratch",
        "--oci-runtime",
        other,
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, _, stderr) = harness(&args, &host);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("Podman Engine") && stderr.contains("ignores a container's runtime"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1
    );
    assert!(!out.exists(), "the refused run created {}", out.display());
}

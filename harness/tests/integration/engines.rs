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

/// A throwaway engine from `scripts/engine` (a dockerd with crun registered, or a Podman
/// service), on a socket and storage under a temporary directory; stopped and removed by
/// the same script on drop.
struct Engine {
    dir: tempfile::TempDir,
    host: String,
}

fn engine_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/engine")
}

impl Engine {
    fn start(kind: &str) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(engine_script())
            .arg(kind)
            .arg(dir.path().join("engine"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "scripts/engine {kind}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let host = stdout.trim().to_string();
        assert!(host.starts_with("unix://"), "{host}");
        Engine { dir, host }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = Command::new(engine_script())
            .arg("stop")
            .arg(self.dir.path().join("engine"))
            .status();
    }
}

/// A quick run of musl-system-scratch on `engine` (under `oci_runtime`, if given): exit 0,
/// every arm measured, its cold starts split into the two engine calls; the results.
fn quick_run(engine: &Engine, oci_runtime: Option<&str>) -> harness::results::RunResults {
    let out = engine.dir.path().join("out");
    let mut args = vec![
        "run",
        "--app",
        "http",
        "--quick",
        "--quiet",
        "--variants",
        "musl-system-scratch",
        "--docker-host",
        &engine.host,
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(runtime) = oci_runtime {
        args.extend(["--oci-runtime", runtime]);
    }
    let (code, stdout, stderr) = crate::support::harness_cli(&args);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let results = crate::support::checked_results(&out);
    let v = results.variant("musl-system-scratch").unwrap();
    assert!(v.is_ok(), "{:?}", v.status);
    let cold = v.cold_start.as_ref().expect("cold starts");
    assert_eq!(cold.create_samples_ms.len(), cold.samples_ms.len());
    assert_eq!(cold.start_samples_ms.len(), cold.samples_ms.len());
    results
}

/// crun, which Debian's 1.8 cannot run on this project's hybrid-cgroup VMs under the main
/// daemon, on a dockerd of `scripts/engine`'s: measured, and recorded as the runtime.
#[test]
fn crun_on_a_throwaway_dockerd_measures_a_variant_and_is_recorded() {
    if !Path::new("/usr/bin/crun").exists() {
        skip("crun", "crun is not installed (apt-get install crun)");
        return;
    }
    let engine = Engine::start("dockerd");
    let results = quick_run(&engine, Some("crun"));
    let e = &results.environment;
    assert_eq!(e.oci_runtime.as_deref(), Some("crun"));
    assert!(
        e.engine.as_deref().unwrap_or("").starts_with("Engine "),
        "{e:?}"
    );
}

/// Podman as an engine, through its Docker-compatible API on a service of
/// `scripts/engine`'s: the image built, cold starts and load measured, the engine recorded.
#[test]
fn podman_measures_a_variant_end_to_end() {
    if !Path::new("/usr/bin/podman").exists() {
        skip("podman", "podman is not installed (apt-get install podman)");
        return;
    }
    let engine = Engine::start("podman");
    let results = quick_run(&engine, None);
    let e = &results.environment;
    assert!(
        e.engine.as_deref().unwrap_or("").starts_with("Podman"),
        "{e:?}"
    );
    let v = results.variant("musl-system-scratch").unwrap();
    assert!(!v.load.is_empty(), "no load measured on Podman");
}

/// One run file of `results/runtimes/`: the report fixture recorded as run on `engine`
/// under `runtime`, every cold start times `scale` (a tenth of it the create call, 70% the
/// start call); with `failed`, every variant failed at its cold start instead.
fn runtime_file(dir: &Path, name: &str, engine: &str, runtime: &str, scale: f64, failed: bool) {
    let fixture = crate::support::fixtures().join("report/http-run.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    value["environment"]["engine"] = engine.into();
    value["environment"]["oci_runtime"] = runtime.into();
    for v in value["variants"].as_array_mut().unwrap() {
        let samples: Vec<f64> = v["cold_start"]["samples_ms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_f64().unwrap() * scale)
            .collect();
        let part = |share: f64| samples.iter().map(|s| s * share).collect::<Vec<_>>();
        v["cold_start"]["create_samples_ms"] = part(0.1).into();
        v["cold_start"]["start_samples_ms"] = part(0.7).into();
        v["cold_start"]["samples_ms"] = samples.into();
        if failed {
            v["status"] = serde_json::json!({"state": "failed", "step": "cold-start",
                "reason": "OCI runtime create failed", "logs": null});
        }
    }
    std::fs::write(dir.join(name), serde_json::to_vec(&value).unwrap()).unwrap();
}

/// The report's section of `results/runtimes/`: per variant and setup, the cold start split
/// into the engine's two calls and the rest, charted; each setup against Docker under runc
/// by the gate's two-sample test, with the runs of one setup as the between-run control.
#[test]
fn the_report_compares_engines_and_runtimes_with_docker_under_runc() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let runtimes = out.join("runtimes");
    std::fs::create_dir_all(&runtimes).unwrap();
    let docker = "Engine 20.10.24+dfsg1";
    runtime_file(&runtimes, "http-1.json", docker, "runc", 1.0, false);
    runtime_file(&runtimes, "http-2.json", docker, "crun", 0.8, false);
    runtime_file(&runtimes, "http-3.json", docker, "runc", 1.0, false);
    runtime_file(
        &runtimes,
        "http-4.json",
        "Podman Engine 4.3.1",
        "crun",
        1.0,
        true,
    );
    let fixture = crate::support::fixtures().join("report/http-run.json");
    let inputs = harness::report::load_files(&[fixture]).unwrap();
    let rendered = harness::report::render(&inputs, &out).unwrap();
    let md = std::fs::read_to_string(&rendered.report_md).unwrap();
    assert!(
        md.contains("## Cold start by OCI runtime and engine"),
        "{md}"
    );
    let row = |variant: &str, setup: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {variant} | {setup} |")))
            .unwrap_or_else(|| panic!("no row {variant} {setup}:\n{md}"))
            .to_string()
    };
    assert!(row("musl-system-scratch", "Docker 20.10.24+dfsg1 · runc").contains("| 2 |"));
    assert!(row("musl-system-scratch", "Docker 20.10.24+dfsg1 · runc").contains("the reference"));
    let crun = row("musl-system-scratch", "Docker 20.10.24+dfsg1 · crun");
    assert!(
        crun.contains("0.80× (p adj. <0.001)") && crun.contains("shorter by 20%"),
        "{crun}"
    );
    // Two identical runc runs: the between-run A/A of every variant, none beyond noise.
    assert!(
        md.contains("Between-run control: 6 A/A comparisons"),
        "{md}"
    );
    assert!(md.contains("none beyond noise"));
    assert!(
        md.contains("`http-4.json` (Podman Engine 4.3.1 · crun: every variant failed, cold-start: OCI runtime create failed)"),
        "{md}"
    );
    let plot = rendered
        .plots
        .iter()
        .find(|p| p.stem.starts_with("cold-start-by-runtime-http"))
        .expect("the runtime chart");
    assert!(std::fs::metadata(&plot.png).unwrap().len() > 1000);
    let svg = std::fs::read_to_string(&plot.svg).unwrap();
    assert!(svg.contains("start call (OCI runtime)"), "the legend");
}

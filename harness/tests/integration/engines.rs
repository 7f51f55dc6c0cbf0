//! Engines other than the host's Docker daemon, on throwaway services of `scripts/engine`'s:
//! a `podman system service` (its Docker-compatible API) and a dockerd with crun. `doctor`
//! lists its runtimes, the results record the engine, and what its API cannot do is one
//! line and exit 2 before anything is built: it ignores a container's runtime, so
//! `--oci-runtime` other than the service's own is refused rather than mislabelled.

use crate::support::skip;
use std::path::Path;
use std::process::Command;

fn harness(args: &[&str], host: &str) -> (i32, String, String) {
    let output = crate::support::harness_command()
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
    let podman = Engine::start("podman");
    let host = podman.host.clone();
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

/// `harness run --quick` of musl-system-scratch on `engine` (under `oci_runtime`, if
/// given) into `out`: (exit code, stdout, stderr).
fn quick(engine: &Engine, oci_runtime: Option<&str>, out: &Path) -> (i32, String, String) {
    let mut args = vec![
        "run",
        "--app",
        "http",
        "--quick",
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
    crate::support::harness_cli(&args)
}

/// A quick run of musl-system-scratch on `engine` (under `oci_runtime`, if given): exit 0,
/// every arm measured, its cold starts split into the two engine calls, no container left on
/// the engine; the results.
fn quick_run(engine: &Engine, oci_runtime: Option<&str>) -> harness::results::RunResults {
    let out = engine.dir.path().join("out");
    let (code, stdout, stderr) = quick(engine, oci_runtime, &out);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    // The run's table names each arm.
    if let Some((_, arm)) = oci_runtime.and_then(|r| r.split_once(',')) {
        let name = format!("musl-system-scratch under {arm}");
        assert!(stdout.contains(&name), "{stdout}");
    }
    let results = crate::support::checked_results(&out);
    // Every container the run created on the engine is gone (the docker CLI asks it).
    let left = Command::new("docker")
        .args(["-H", &engine.host, "ps", "-aq"])
        .output()
        .unwrap();
    assert!(left.status.success(), "{left:?}");
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        "",
        "containers left"
    );
    let v = results.variant("musl-system-scratch").unwrap();
    assert!(v.is_ok(), "{:?}", v.status);
    let cold = v.cold_start.as_ref().expect("cold starts");
    assert_eq!(cold.create_samples_ms.len(), cold.samples_ms.len());
    assert_eq!(cold.start_samples_ms.len(), cold.samples_ms.len());
    results
}

/// runc and crun (which Debian's 1.8 cannot run on this project's hybrid-cgroup VMs under
/// the main daemon) in one run on a dockerd of `scripts/engine`'s: the variant under runc,
/// the run's runtime, and its runtime arm under crun, measured in the same rounds, the arm's
/// cold start paired with the variant's.
#[test]
fn crun_beside_runc_on_a_throwaway_dockerd_is_a_paired_runtime_arm() {
    if !Path::new("/usr/bin/crun").exists() {
        skip("crun", "crun is not installed (apt-get install crun)");
        return;
    }
    let engine = Engine::start("dockerd");
    let results = quick_run(&engine, Some("runc,crun"));
    let e = &results.environment;
    assert_eq!(e.oci_runtime.as_deref(), Some("runc"));
    assert!(
        e.engine.as_deref().unwrap_or("").starts_with("Engine "),
        "{e:?}"
    );
    let variant = results.variant("musl-system-scratch").unwrap();
    let arm = results
        .runtime_arm(variant.variant, "crun")
        .expect("musl-system-scratch's crun arm");
    assert!(arm.is_ok(), "{:?}", arm.status);
    assert_eq!(arm.build, variant.build, "the arm runs its variant's image");
    let (own, cold) = (
        variant.cold_start.as_ref().unwrap(),
        arm.cold_start.as_ref().unwrap(),
    );
    assert_eq!(cold.samples_ms.len(), own.samples_ms.len(), "same rounds");
    assert!(!cold.start_samples_ms.is_empty());
    let ratio = cold
        .ratio_to_baseline
        .expect("crun ÷ runc, paired by round");
    assert!(ratio.p_adjusted.is_some(), "{ratio:?}");
    assert!(!arm.load.is_empty(), "the arm's load windows");
    // A runtime the daemon lacks, among several: one line, exit 2, nothing built.
    let out = engine.dir.path().join("refused");
    let (code, _, stderr) = quick(&engine, Some("runc,youki"), &out);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no runtime \"youki\""), "{stderr}");
    assert!(!out.exists());
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
    // The second runc run had a crun arm for musl-system-scratch (`--oci-runtime runc,crun`).
    let third = runtimes.join("http-3.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&third).unwrap()).unwrap();
    let mut arm = value["variants"][3].clone();
    assert_eq!(arm["variant"], "musl-system-scratch");
    arm["oci_runtime"] = "crun".into();
    arm["load"] = serde_json::json!([]);
    // The arm's cold starts are crun's of http-2.json: the two crun runs agree.
    let crun: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runtimes.join("http-2.json")).unwrap())
            .unwrap();
    arm["cold_start"] = crun["variants"][3]["cold_start"].clone();
    arm["cold_start"]["ratio_to_baseline"] = serde_json::json!({"n": 20, "median": 0.83,
        "ci_low": 0.80, "ci_high": 0.85, "level": 0.96, "p_value": 0.0001, "p_adjusted": 0.002});
    value["runtime_arms"] = serde_json::json!([arm]);
    std::fs::write(&third, serde_json::to_vec(&value).unwrap()).unwrap();
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
        crun.contains("p adj. <0.001") && crun.contains("beyond noise"),
        "{crun}"
    );
    // Two identical runc runs (and crun's two of musl-system-scratch): the between-run A/A,
    // none beyond noise.
    assert!(
        md.contains("Between-run control: 7 A/A comparisons"),
        "{md}"
    );
    assert!(md.contains("none beyond noise"));
    assert!(
        md.contains("`http-4.json` (Podman Engine 4.3.1 · crun: every variant failed, cold-start: OCI runtime create failed)"),
        "{md}"
    );
    // The runtime arm: in the sources, pooled as a crun run, and judged paired.
    assert!(
        md.contains("(Docker 20.10.24+dfsg1 · runc with crun arms interleaved"),
        "{md}"
    );
    assert!(row("musl-system-scratch", "Docker 20.10.24+dfsg1 · crun").contains("| 2 |"));
    assert!(
        md.contains("| `http-3.json` | musl-system-scratch | crun ÷ runc | 0.83× (0.80–0.85) | 0.002 | **shorter by 17%** |"),
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

/// With no engine answering, `doctor` says how to start one: dockerd, or Podman's API and
/// the `DOCKER_HOST` that reaches it.
#[test]
fn doctor_without_an_engine_says_how_to_start_dockerd_or_podman() {
    let (_, stdout, stderr) = harness(&["doctor"], "unix:///nonexistent/docker.sock");
    let line = stdout
        .lines()
        .find(|l| l.contains("docker") && l.contains("podman system service"))
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"));
    assert!(
        line.contains("DOCKER_HOST=unix:///run/podman/podman.sock"),
        "{line}"
    );
}

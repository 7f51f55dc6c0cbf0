//! The real `harness` binary on the fake backend (`GLIBC_VS_MUSL_FAKE_BACKEND`): no daemon,
//! no build, no container, each run over in a second or two. The permutations of failure
//! handling run here: an interrupt in the cold starts and in a load window, a server dying
//! under load, a variant that cannot start, a second run on one lock. The real tier
//! (`faults`) keeps one of each fault class against the real daemon. Each test checks the
//! exit code, the printed lines, the partial results (against the published schema) and,
//! through the fake's journal, that every instance started was removed by the run itself.

use crate::faults::child::HarnessRun;
use harness::results::{RunResults, Status};
use harness::runtime::fake::spec::BACKEND_ENV;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Nothing here may reach a daemon: a run that tried would fail on this address.
const NO_DAEMON: (&str, &str) = ("DOCKER_HOST", "tcp://127.0.0.1:9");
const TWO: &str = "glibc-system-debian,musl-system-scratch";
const WAIT: Duration = Duration::from_secs(60);

/// A short run of the http app's two variants on `/plaintext` at 1 connection; `extra`
/// replaces values (`--flag value` pairs) or appends, lone flags last.
fn args(extra: &[&str]) -> Vec<String> {
    let base = [
        "--app",
        "http",
        "--quick",
        "--runs",
        "2",
        "--rounds",
        "3",
        "--variants",
        TWO,
        "--endpoints",
        "/plaintext",
        "--concurrency",
        "1",
        "--warmup",
        "0s",
        "--duration",
        "150ms",
    ];
    let mut out: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    for pair in extra.chunks(2) {
        match out.iter().position(|a| a == pair[0]) {
            Some(at) if pair.len() == 2 => out[at + 1] = pair[1].to_string(),
            _ => out.extend(pair.iter().map(|s| s.to_string())),
        }
    }
    out
}

/// A fake run: the child, and the journal its fake runtime appends every call to.
struct FakeRun {
    run: HarnessRun,
    journal: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeRun {
    /// Starts `harness run ARGS` on the fake backend with `scripts` (`;`-separated), in an
    /// image namespace of its own: runs of parallel tests never share a run lock.
    fn start(args: &[String], scripts: &str) -> FakeRun {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let namespace = format!("{}-fake{n}", crate::support::test_namespace());
        FakeRun::start_in(args, scripts, &namespace)
    }

    /// `start`, in `namespace` (shared with another run to meet its lock).
    fn start_in(args: &[String], scripts: &str, namespace: &str) -> FakeRun {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        let spec = format!("journal={};{scripts}", journal.display());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [
            (BACKEND_ENV, spec.as_str()),
            NO_DAEMON,
            (harness::labels::NAMESPACE_ENV, namespace),
        ];
        let run = HarnessRun::start(&refs, &env);
        FakeRun {
            run,
            journal,
            _dir: dir,
        }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.journal)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every instance started was removed by the run (not only swept), and at least one
    /// was started.
    fn assert_every_instance_removed(&self) {
        let lines = self.lines();
        let started = starts(&lines);
        assert!(!started.is_empty(), "nothing started: {lines:?}");
        for id in started {
            assert!(
                lines.contains(&format!("remove {id}")),
                "{id} was never removed: {lines:?}"
            );
        }
    }

    fn results(&self) -> RunResults {
        crate::support::checked_results(self.run.out.path())
    }
}

/// The ids of the instances a journal says were started.
fn starts(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("start "))
        .filter_map(|l| l.rsplit(' ').next().map(str::to_string))
        .collect()
}

fn variant<'a>(results: &'a RunResults, name: &str) -> &'a harness::results::VariantResult {
    results
        .variants
        .iter()
        .find(|v| v.variant.name() == name)
        .unwrap_or_else(|| panic!("{name} is not in the results"))
}

/// Signals `run` and checks the interrupt guarantees: exit 128 + `signal` within 5 s, the
/// line that says so, a results file that passes the schema and is not finished.
fn interrupt(fake: &mut FakeRun, signal: i32) -> RunResults {
    fake.run.interrupt_and_check(signal);
    fake.results()
}

#[test]
fn a_fake_run_measures_every_arm_and_writes_results_that_pass_the_schema() {
    let out_args = args(&[]);
    let mut fake = FakeRun::start(&out_args, "");
    assert_eq!(fake.run.wait_exit(WAIT), 0, "{}", fake.run.stderr());
    let results = fake.results();
    assert_eq!(results.runtime, "fake");
    assert!(results.finished_at.is_some());
    for v in results.variants.iter().chain(results.control.as_ref()) {
        assert!(v.is_ok(), "{v:?}");
        assert_eq!(v.load.len(), 1, "one cell: {v:?}");
        assert_eq!(v.load[0].rps.n, 3, "a window per round: {v:?}");
        assert_eq!(v.cold_start.as_ref().map(|c| c.samples_ms.len()), Some(2));
    }
    assert!(results.control.is_some(), "the A/A control runs by default");
    fake.assert_every_instance_removed();
    // A report of it says that nothing in it was measured.
    let file = crate::support::results_file(fake.run.out.path()).unwrap();
    let report = fake.run.out.path().join("report");
    let (code, _, stderr) = crate::support::harness_cli(&[
        "report",
        file.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let md = std::fs::read_to_string(report.join("REPORT.md")).unwrap();
    assert!(
        md.contains("written on the tests' fake backend; its figures are not measurements"),
        "{md}"
    );
}

#[test]
fn sigterm_in_a_load_window_exits_143_keeps_every_finished_window_and_removes_all() {
    // musl's window is far longer than the test: the signal lands in it. No control, so
    // the first round's order is the two variants' shuffle.
    let long = args(&["--duration", "60s", "--no-control"]);
    let mut fake = FakeRun::start(&long, "musl-system-scratch=serves:100000000");
    // The line comes once musl's server answered, just before its window.
    fake.run
        .wait_for("musl-system-scratch: /plaintext at 1 connections", WAIT);
    let results = interrupt(&mut fake, libc::SIGTERM);
    let (glibc, musl) = (
        variant(&results, "glibc-system-debian"),
        variant(&results, "musl-system-scratch"),
    );
    // Round 1 runs the variants in the run's shuffled order: glibc's window is in the file
    // exactly when it came before musl's, which the signal cut short.
    let order = harness::measure::stats::shuffled(&[glibc.variant, musl.variant], 0);
    let glibc_first = order[0] == glibc.variant;
    assert!(
        glibc.is_ok() && glibc.load.len() == usize::from(glibc_first),
        "{glibc:?}"
    );
    if glibc_first {
        assert_eq!(glibc.load[0].rps.n, 1, "{glibc:?}");
    }
    assert!(
        musl.cold_start.is_some() && musl.load.is_empty(),
        "{musl:?}"
    );
    fake.assert_every_instance_removed();
}

#[test]
fn a_server_dying_under_load_fails_only_its_variant_and_a_later_sigterm_keeps_that() {
    // The first window's server dies after 40 requests; the second window is long, and
    // the signal lands in it.
    let long = args(&["--duration", "60s", "--no-control"]);
    let all: Vec<harness::matrix::Variant> = TWO.split(',').map(|n| n.parse().unwrap()).collect();
    let order = harness::measure::stats::shuffled(&all, 0);
    let (dying, other) = (order[0].name(), order[1].name());
    let mut fake = FakeRun::start(&long, &format!("{dying}=serves:40"));
    fake.run
        .wait_for(&format!("{other}: /plaintext at 1 connections"), WAIT);
    let stderr = fake.run.stderr();
    assert!(
        stderr.contains(&format!("{dying}: load failed")),
        "{stderr}"
    );
    let results = interrupt(&mut fake, libc::SIGTERM);
    let first = variant(&results, &dying);
    let Status::Failed { step, reason, logs } = &first.status else {
        panic!("the dying server's variant is not failed: {first:?}")
    };
    assert_eq!(step, "load");
    assert!(
        reason.contains("the server died during /plaintext at 1 connections"),
        "{reason}"
    );
    assert!(
        logs.as_deref()
            .unwrap_or("")
            .contains("last words of fake-"),
        "{logs:?}"
    );
    assert!(
        !first.load.is_empty() && first.load[0].errors > 0,
        "{first:?}"
    );
    let second = variant(&results, &other);
    assert!(
        second.is_ok() && second.cold_start.is_some() && second.load.is_empty(),
        "{second:?}"
    );
    fake.assert_every_instance_removed();
}

#[test]
fn sigint_in_the_cold_starts_removes_the_instance_that_never_answered() {
    // musl's instances run but never answer: its first cold start waits for readiness
    // (30 s) until the signal.
    let mut fake = FakeRun::start(&args(&[]), "musl-system-scratch=serves:never");
    fake.run.wait_for("cold starts (interleaved)", WAIT);
    let deadline = Instant::now() + WAIT;
    while !fake
        .lines()
        .iter()
        .any(|l| l.starts_with("start musl-system-scratch"))
    {
        assert!(Instant::now() < deadline, "musl never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let results = interrupt(&mut fake, libc::SIGINT);
    let musl = variant(&results, "musl-system-scratch");
    assert!(
        musl.cold_start.is_none() && musl.load.is_empty(),
        "{musl:?}"
    );
    fake.assert_every_instance_removed();
}

#[test]
fn a_variant_that_cannot_start_fails_by_name_and_the_others_are_measured() {
    let script = "musl-system-scratch=start-error:no such image: the fake refused it";
    let three = "glibc-system-debian,musl-system-scratch,musl-mimalloc-scratch";
    let mut fake = FakeRun::start(&args(&["--variants", three]), script);
    assert_eq!(fake.run.wait_exit(WAIT), 4, "{}", fake.run.stderr());
    let stderr = fake.run.stderr();
    let summary = format!(
        "error: 1 of 3 variants failed: musl-system-scratch (cold-start); the others' results are kept in {}",
        fake.run.out.path().display()
    );
    assert!(stderr.contains(&summary), "{stderr}");
    assert!(
        stderr.contains("musl-system-scratch: cold start failed")
            && stderr.contains("the fake refused it"),
        "{stderr}"
    );
    let results = fake.results();
    let musl = variant(&results, "musl-system-scratch");
    let Status::Failed { step, reason, .. } = &musl.status else {
        panic!("{musl:?}")
    };
    assert_eq!(step, "cold-start");
    assert!(reason.contains("the fake refused it"), "{reason}");
    for name in ["glibc-system-debian", "musl-mimalloc-scratch"] {
        let measured = variant(&results, name);
        assert!(measured.is_ok() && measured.load.len() == 1, "{measured:?}");
    }
    fake.assert_every_instance_removed();
}

/// A run that measured nothing exits 4 with one line naming every variant and its step;
/// `--allow-partial` accepts a partial run (exit 0), still naming what failed.
#[test]
fn a_run_whose_every_variant_fails_exits_4_and_allow_partial_accepts_a_partial_one() {
    let mut all = FakeRun::start(&args(&[]), "*=start-error:the fake refused it");
    assert_eq!(all.run.wait_exit(WAIT), 4, "{}", all.run.stderr());
    let stderr = all.run.stderr();
    assert!(
        stderr.contains("error: 2 of 2 variants failed: glibc-system-debian (cold-start), musl-system-scratch (cold-start), and the A/A control arm of glibc-system-debian (cold-start); nothing was measured in ")
            && stderr.contains("--allow-partial"),
        "{stderr}"
    );
    let results = all.results();
    assert!(results.variants.iter().all(|v| !v.is_ok()), "{results:?}");

    let script = "musl-system-scratch=start-error:the fake refused it";
    let mut allowed = FakeRun::start(&args(&["--allow-partial"]), script);
    assert_eq!(allowed.run.wait_exit(WAIT), 0, "{}", allowed.run.stderr());
    let stderr = allowed.run.stderr();
    assert!(
        stderr.contains("warning: 1 of 2 variants failed: musl-system-scratch (cold-start)")
            && stderr.contains("(--allow-partial: exit 0)"),
        "{stderr}"
    );
    assert!(variant(&allowed.results(), "glibc-system-debian").is_ok());
}

#[test]
fn a_second_run_is_refused_unless_allowed_and_a_bad_script_is_a_usage_error() {
    let namespace = format!("{}-shared", crate::support::test_namespace());
    let mut first = FakeRun::start_in(&args(&["--duration", "60s"]), "", &namespace);
    first.run.wait_for("at 1 connections", WAIT);
    let mut second = FakeRun::start_in(&args(&[]), "", &namespace);
    assert_eq!(second.run.wait_exit(WAIT), 3, "{}", second.run.stderr());
    let stderr = second.run.stderr();
    let holder = format!("run {} (pid {})", first.run.run_id(), first.run.pid());
    assert!(
        stderr.contains(&holder) && stderr.contains("--allow-concurrent"),
        "{stderr}"
    );
    assert!(std::fs::read_dir(second.run.out.path())
        .unwrap()
        .next()
        .is_none());
    let allowed_args = args(&["--rounds", "1", "--allow-concurrent"]);
    let mut allowed = FakeRun::start_in(&allowed_args, "", &namespace);
    assert_eq!(allowed.run.wait_exit(WAIT), 0, "{}", allowed.run.stderr());
    interrupt(&mut first, libc::SIGINT);
    first.assert_every_instance_removed();

    let mut bad = FakeRun::start(&args(&[]), "musl-system-scratch=serves:lots");
    assert_eq!(bad.run.wait_exit(WAIT), 2, "{}", bad.run.stderr());
    assert!(
        bad.run.stderr().contains(&format!("{BACKEND_ENV}: ")),
        "{}",
        bad.run.stderr()
    );
}

/// `--oci-runtime runc,crun`: every variant also measured as a runtime arm under crun, in the
/// same rounds, its ratios paired with its own variant's; a variant that cannot start fails
/// its runtime arm too, and the other variant's arm is still measured.
#[test]
fn runtime_arms_are_measured_in_every_round_and_fail_with_their_variant() {
    let two_runtimes = args(&["--oci-runtime", "runc,crun"]);
    let mut fake = FakeRun::start(&two_runtimes, "");
    assert_eq!(fake.run.wait_exit(WAIT), 0, "{}", fake.run.stderr());
    let results = fake.results();
    assert_eq!(
        results.environment.oci_runtime, None,
        "the fake has no daemon"
    );
    assert_eq!(results.runtime_arms.len(), 2, "{:?}", results.runtime_arms);
    for v in &results.variants {
        let arm = results.runtime_arm(v.variant, "crun").expect("a crun arm");
        assert!(arm.is_ok(), "{arm:?}");
        let cold = arm.cold_start.as_ref().unwrap();
        assert_eq!(cold.samples_ms.len(), 2, "a cold start per round");
        assert!(
            cold.ratio_to_baseline.is_some(),
            "paired with {}",
            v.variant
        );
        assert_eq!(arm.load.len(), 1);
        assert!(arm.load[0].ratio_to_baseline.is_some());
    }
    // The CSV beside it names each arm `variant@runtime`.
    let csv = std::fs::read_dir(fake.run.out.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "csv"))
        .expect("a CSV beside the results");
    let csv = std::fs::read_to_string(csv).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("http,musl-system-scratch@crun,ok,cold_start_ms")),
        "{csv}"
    );
    fake.assert_every_instance_removed();

    let script = "musl-system-scratch=start-error:no such image: the fake refused it";
    let mut fake = FakeRun::start(&two_runtimes, script);
    assert_eq!(fake.run.wait_exit(WAIT), 4, "{}", fake.run.stderr());
    let results = fake.results();
    let musl = variant(&results, "musl-system-scratch");
    let arm = results.runtime_arm(musl.variant, "crun").unwrap();
    assert!(!arm.is_ok(), "{arm:?}");
    let glibc = variant(&results, "glibc-system-debian");
    let arm = results.runtime_arm(glibc.variant, "crun").unwrap();
    assert!(arm.is_ok() && arm.load.len() == 1, "{arm:?}");
    fake.assert_every_instance_removed();

    // A runtime that cannot start this variant's containers while runc can: the run still
    // fails (exit 4) and names the arm, never passes with the arm silently missing.
    let script = "musl-system-scratch@crun=start-error:OCI runtime create failed";
    let mut fake = FakeRun::start(&two_runtimes, script);
    assert_eq!(fake.run.wait_exit(WAIT), 4, "{}", fake.run.stderr());
    let stderr = fake.run.stderr();
    assert!(
        stderr.contains("error: the crun arm of musl-system-scratch (cold-start) failed"),
        "{stderr}"
    );
    let results = fake.results();
    assert!(variant(&results, "musl-system-scratch").is_ok());
    let arm = results.runtime_arm(musl.variant, "crun").unwrap();
    assert!(!arm.is_ok(), "{arm:?}");
    fake.assert_every_instance_removed();
}

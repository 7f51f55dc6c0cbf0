//! What a report is rendered from and what it says about its files: the default choice of
//! full runs, the verdict's mark on named files that are not, the warnings on mixed machines
//! and uncommitted code, and the README blocks regenerated from the files.

use crate::support::{self, harness_cli};
use harness::report;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    support::fixtures().join("report").join(name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// The http fixture, started `minutes` after the hour instead of when it was.
fn http_at(minutes: u32) -> Value {
    let mut run = fixture_json("http-run.json");
    run["started_at"] = Value::from(format!("2026-06-01T10:{minutes:02}:00Z"));
    run
}

/// The json fixture made a run of the six default variants (it has five, not all default).
fn full_json() -> Value {
    let mut run = fixture_json("json-run.json");
    let variants = run["variants"].as_array_mut().unwrap();
    variants[4]["variant"] = Value::from("musl-system-debian");
    let mut distroless = variants[0].clone();
    distroless["variant"] = Value::from("glibc-system-distroless");
    variants.push(distroless);
    run["command_line"] = Value::from(vec!["harness", "run", "--app", "json"]);
    run["started_at"] = Value::from("2026-06-01T11:00:00Z");
    run
}

fn skipped_reason(skipped: &[report::Skipped], file: &str) -> String {
    skipped
        .iter()
        .find(|s| s.path.ends_with(file))
        .unwrap_or_else(|| panic!("{file} not among the skipped: {skipped:#?}"))
        .reason
        .clone()
}

#[test]
fn without_files_a_report_takes_the_newest_full_run_per_app() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    write_json(&runs, "http-a-full.json", &http_at(0));
    let mut unfinished = http_at(10);
    unfinished["finished_at"] = Value::Null;
    write_json(&runs, "http-b-unfinished.json", &unfinished);
    let mut quick = http_at(20);
    quick["command_line"]
        .as_array_mut()
        .unwrap()
        .push("--quick".into());
    write_json(&runs, "http-c-quick.json", &quick);
    let mut single = http_at(30);
    single["variants"].as_array_mut().unwrap().truncate(1);
    write_json(&runs, "http-d-single.json", &single);
    let mut older = http_at(0);
    older["started_at"] = Value::from("2026-01-01T00:00:00Z");
    write_json(&runs, "http-0-older.json", &older);
    write_json(&runs, "json-a-full.json", &full_json());
    write_json(&runs, "json-b-partial.json", &fixture_json("json-run.json"));
    std::fs::write(runs.join("x-broken.json"), "not json").unwrap();
    let bench_dir = dir.path().join("bench");
    write_json(&bench_dir, "bench-a.json", &fixture_json("bench.json"));
    let mut quick_bench = fixture_json("bench.json");
    quick_bench["started_at"] = Value::from("2026-06-01T00:00:00Z");
    quick_bench["command_line"] = Value::from(vec!["harness", "bench", "--quick"]);
    write_json(&bench_dir, "bench-b-quick.json", &quick_bench);

    let (inputs, skipped) = report::discover(dir.path()).unwrap();
    let chosen: Vec<&Path> = inputs.runs.iter().map(|r| r.path.as_path()).collect();
    assert_eq!(
        chosen,
        [runs.join("http-a-full.json"), runs.join("json-a-full.json")]
    );
    assert!(inputs.bench.unwrap().path.ends_with("bench-a.json"));
    let unfinished = skipped_reason(&skipped, "http-b-unfinished.json");
    assert_eq!(unfinished, "not a full run: unfinished (no `finished_at`)");
    assert!(skipped_reason(&skipped, "http-c-quick.json").contains("a `--quick` run"));
    assert!(skipped_reason(&skipped, "http-d-single.json")
        .contains("without 5 of the default variants (glibc-system-distroless,"));
    // json-run.json started before the full json run, so it is not even mentioned.
    assert!(!skipped
        .iter()
        .any(|s| s.path.ends_with("json-b-partial.json")));
    assert!(skipped_reason(&skipped, "bench-b-quick.json").contains("--quick"));
    assert!(skipped_reason(&skipped, "x-broken.json").contains("x-broken.json"));
    assert!(!skipped
        .iter()
        .any(|s| s.path.ends_with("http-0-older.json")));
    assert_eq!(skipped.len(), 5, "{skipped:#?}");

    // Nothing but partial runs: an error that says what a report looks for.
    let partial = tempfile::tempdir().unwrap();
    write_json(&partial.path().join("runs"), "q.json", &quick);
    let err = report::discover(partial.path()).unwrap_err();
    assert_eq!(harness::exit_code(&err), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("finished runs of the default variants"),
        "{msg}"
    );
    assert!(msg.contains("harness run --app http"), "{msg}");
}

/// The verdict sentences of one group, e.g. `http run`.
fn verdict_of(inputs: &report::Inputs, title: &str) -> Vec<String> {
    report::verdict(inputs)
        .into_iter()
        .find(|g| g.title == title)
        .unwrap_or_else(|| panic!("no verdict group {title}"))
        .sentences
}

#[test]
fn named_files_are_rendered_with_their_shortfalls_in_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut http = http_at(0);
    http["finished_at"] = Value::Null;
    http["command_line"]
        .as_array_mut()
        .unwrap()
        .push("--quick".into());
    let http = write_json(dir.path(), "http.json", &http);
    let inputs =
        report::load_files(&[http, fixture("json-run.json"), fixture("bench.json")]).unwrap();
    let verdict = verdict_of(&inputs, "http run");
    assert_eq!(
        verdict[0],
        "**Not a full run**: unfinished (no `finished_at`); a `--quick` run; its figures are indicative only."
    );
    assert!(verdict[1].starts_with("**Image size**"), "{verdict:#?}");
    assert_eq!(
        verdict_of(&inputs, "json run")[0],
        "**Not a full run**: without 2 of the default variants (glibc-system-distroless, musl-system-debian); it compares only what it has."
    );
    let bench = verdict_of(&inputs, "Criterion benches (against glibc-system)");
    assert!(bench[0].starts_with("**musl-system**"), "{bench:#?}");

    let out = tempfile::tempdir().unwrap();
    let rendered = report::render(&inputs, out.path()).unwrap();
    let md = std::fs::read_to_string(rendered.report_md).unwrap();
    assert!(md.contains("- **Not a full run**: unfinished"), "{md}");
}

#[test]
fn files_from_other_machines_or_uncommitted_code_are_warned_about() {
    let clean = report::load_files(&[fixture("http-run.json"), fixture("bench.json")]).unwrap();
    assert!(report::warnings(&clean).is_empty());

    let dir = tempfile::tempdir().unwrap();
    let mut bench = fixture_json("bench.json");
    bench["environment"]["cpu_model"] = Value::from("AMD EPYC");
    let bench = write_json(dir.path(), "bench-epyc.json", &bench);
    let mut json = fixture_json("json-run.json");
    json["environment"]["git_dirty"] = Value::from(true);
    let json = write_json(dir.path(), "json-dirty.json", &json);
    let http = fixture("http-run.json");
    let files = [&http, &json, &bench].map(|p| p.display().to_string());
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().join("results");
    let mut args = vec!["report"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--out", out_arg.to_str().unwrap()]);
    let (code, _, stderr) = harness_cli(&args);
    assert_eq!(code, 0, "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(warnings[0].starts_with("warning: These files were measured on 2 different machines: 4-core Intel(R) Xeon(R) CPU @ 2.20GHz, kernel 6.1.0-18-amd64"), "{stderr}");
    assert!(
        warnings[0].contains("4-core AMD EPYC, kernel 6.1.0-18-amd64 (`"),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("uncommitted code") && warnings[1].contains("json-dirty.json`."),
        "{stderr}"
    );
    let md = std::fs::read_to_string(out_arg.join("REPORT.md")).unwrap();
    assert!(md.contains("## Read this first"), "{md}");
    assert!(md.contains("bench-epyc.json`)."), "{md}");
}

const README: &str = "# A project\n\nHand-written text stays.\n\n<!-- BEGIN harness report: summary -->\nstale, hand-edited numbers\n<!-- END harness report: summary -->\n\nMore prose.\n\n<!-- BEGIN harness report: bench alloc/small_vec_churn crunch/parse_1mb no/such/bench -->\n<!-- END harness report: bench -->\n";

/// Renders the fixtures with a README beside `--out`; returns the README afterwards.
fn report_with_readme(dir: &Path) -> String {
    std::fs::write(dir.join("README.md"), README).unwrap();
    let out = dir.join("results");
    let mut args = vec!["report".to_string()];
    for name in ["http-run.json", "json-run.json", "bench.json"] {
        args.push(fixture(name).display().to_string());
    }
    args.extend(["--out".into(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = harness_cli(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("regenerated 2 block(s) in"), "{stdout}");
    std::fs::read_to_string(dir.join("README.md")).unwrap()
}

#[test]
fn the_readme_blocks_are_regenerated_from_the_files_deterministically() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = report_with_readme(a.path());
    assert_eq!(
        report_with_readme(a.path()),
        first,
        "a second run changes nothing"
    );
    assert_eq!(
        report_with_readme(b.path()),
        first,
        "nor does another directory"
    );

    assert!(first.starts_with("# A project\n\nHand-written text stays.\n\n"));
    assert!(first.contains("<!-- END harness report: summary -->\n\nMore prose.\n\n"));
    assert!(!first.contains("stale"), "{first}");
    for line in [
        "- `http-run.json`: `harness run --app http`, 17 min 44 s",
        "- `bench.json`: `harness bench`, 20 min 00 s",
        "**Machine**: 4-core Intel(R) Xeon(R) CPU @ 2.20GHz, kernel 6.1.0-18-amd64. **Toolchain**: rustc 1.95.0 (59807616e 2026-04-14), glibc 2.36, musl 1.2.5. **Daemon**: Docker 24.0.7, cgroup v2. **Code**: commit 0123456789.",
        "|  | glibc-system-debian | musl-system-scratch | musl-mimalloc-scratch |",
        "| http image | 77.9 MB | 2.62 MB | 2.83 MB |",
        "| http cold start (median of 20) | 413 ms | 352 ms | 356 ms |",
        "| http GET /json at concurrency 64 (one window) | 41,540 rps | 27,423 rps (0.66×) | 46,430 rps (1.12×) |",
    ] {
        assert!(first.contains(&format!("\n{line}\n")), "no line {line:?} in\n{first}");
    }
    assert!(first.contains("\n| json, 1 thread | "), "{first}");
    assert!(!first.contains("**Warning**"), "{first}");
    let bench = first
        .split("<!-- BEGIN harness report: bench")
        .nth(1)
        .unwrap();
    assert!(
        bench.contains("\n| alloc/small_vec_churn | 182 ns | "),
        "{bench}"
    );
    assert!(bench.contains("\n| crunch/parse_1mb | "), "{bench}");
    assert!(
        bench.contains("Not in this file: `no/such/bench`."),
        "{bench}"
    );

    // A README without blocks is left alone; none at all is not created.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("README.md"), "# no blocks\n").unwrap();
    let out = plain.path().join("results");
    let (code, stdout, _) = harness_cli(&[
        "report",
        fixture("bench.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("regenerated"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(plain.path().join("README.md")).unwrap(),
        "# no blocks\n"
    );
    let none = tempfile::tempdir().unwrap();
    let out = none.path().join("results");
    let (code, _, _) = harness_cli(&[
        "report",
        fixture("bench.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(!none.path().join("README.md").exists());
}

#[test]
fn the_books_pages_get_their_blocks_with_files_named_from_the_page() {
    let root = tempfile::tempdir().unwrap();
    let bench = root.path().join("results/bench/bench.json");
    std::fs::create_dir_all(bench.parent().unwrap()).unwrap();
    std::fs::copy(fixture("bench.json"), &bench).unwrap();
    std::fs::create_dir_all(root.path().join("docs")).unwrap();
    let page = root.path().join("docs/benchmarks.md");
    let block = "<!-- BEGIN harness report: bench alloc/small_vec_churn -->\n<!-- END harness report: bench -->\n";
    std::fs::write(&page, format!("# Benchmarks\n\nProse.\n\n{block}")).unwrap();
    std::fs::write(root.path().join("docs/plain.md"), "# no blocks\n").unwrap();
    let (code, stdout, stderr) = harness_cli(&[
        "report",
        bench.to_str().unwrap(),
        "--out",
        root.path().join("results").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("regenerated 1 block(s) in {}", page.display())),
        "{stdout}"
    );
    assert!(!stdout.contains("plain.md"), "{stdout}");
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.starts_with("# Benchmarks\n\nProse.\n\n"), "{text}");
    assert!(
        text.contains("\n| alloc/small_vec_churn | 182 ns | "),
        "{text}"
    );
    // From docs/, the file is one directory up; never an absolute path.
    assert!(text.contains("`../results/bench/bench.json`"), "{text}");
    assert!(!text.contains(&root.path().display().to_string()), "{text}");
}

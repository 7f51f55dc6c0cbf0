//! What a report says of schema 2 bench files: verdicts over processes, the negative
//! control (held or not), and whether one bench file's ratios replicate in another of the
//! same experiment. The files are built from the schema 1 fixture with invented per-round
//! processes (seeded, not measurements): each round's drift is shared by every variant, so
//! pairing by round cancels it.

use crate::support;
use harness::report;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const ROUNDS: usize = 6;
/// The machine's drift per round, shared by every variant in that round.
const DRIFT: [f64; ROUNDS] = [1.0, 1.3, 0.7, 1.1, 0.9, 1.2];
/// Per-round noise of one variant's process, a few percent.
const JITTER: [f64; ROUNDS] = [1.00, 1.03, 0.98, 1.01, 0.97, 1.02];

/// A schema 2 bench file: the fixture's benches plus `control/fnv1a/4KiB`, each variant's
/// processes its fixture mean × drift × jitter; `musl-system` × `shift` on `shifted`, and
/// × `control` on the control bench.
fn bench_v2(started_at: &str, shifted: &str, shift: f64, control: f64) -> Value {
    let path = support::fixtures().join("report/bench.json");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["schema_version"] = json!(2);
    file["started_at"] = json!(started_at);
    file["finished_at"] = json!(started_at);
    file["method"] = json!({
        "repeats": ROUNDS, "order": "test", "order_seed": 0, "criterion_args": []
    });
    let mut control_row = file["benches"][0].clone();
    control_row["bench"] = json!("control/fnv1a/4KiB");
    for e in control_row["estimates"].as_array_mut().unwrap() {
        e["mean_ns"] = json!(5000.0);
    }
    file["benches"].as_array_mut().unwrap().push(control_row);
    for row in file["benches"].as_array_mut().unwrap() {
        let bench = row["bench"].as_str().unwrap().to_string();
        for (v, e) in row["estimates"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            let mut factor = 1.0;
            if e["variant"] == "musl-system" && bench == shifted {
                factor = shift;
            }
            if e["variant"] == "musl-system" && bench.starts_with("control/") {
                factor = control;
            }
            let mean = e["mean_ns"].as_f64().unwrap() * factor;
            let processes: Vec<Value> = (0..ROUNDS)
                .map(|r| {
                    let m = mean * DRIFT[r] * JITTER[(r + v * 2) % ROUNDS];
                    json!({
                        "repeat": r, "sequence": r * 3 + v, "mean_ns": m,
                        "mean_ci_low_ns": m * 0.99, "mean_ci_high_ns": m * 1.01, "samples": 100
                    })
                })
                .collect();
            e["processes"] = json!(processes);
        }
    }
    file
}

fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

fn rendered(inputs: &report::Inputs) -> String {
    let out = tempfile::tempdir().unwrap();
    let files = report::render(inputs, out.path()).unwrap();
    std::fs::read_to_string(files.report_md).unwrap()
}

#[test]
fn two_bench_files_of_one_experiment_are_checked_against_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let older = write(
        dir.path(),
        "bench-a.json",
        &bench_v2("2026-06-01T10:00:00Z", "alloc/hashmap_grow", 1.0, 1.0),
    );
    let newer = write(
        dir.path(),
        "bench-b.json",
        &bench_v2("2026-06-01T11:00:00Z", "alloc/hashmap_grow", 2.0, 1.0),
    );
    let inputs = report::load_files(&[newer.clone(), older.clone()]).unwrap();
    assert_eq!(inputs.bench.as_ref().unwrap().path, newer);
    assert_eq!(inputs.bench_replicates.len(), 1);
    let md = rendered(&inputs);
    // 6 benches × 2 variants judged in each file; only the shifted one moved.
    assert!(
        md.contains("**Does it replicate?** Against `")
            && md.contains("11 of 12 ratio intervals overlap. Not overlapping: alloc/hashmap_grow musl-system "),
        "{md}"
    );
    assert!(
        md.contains("the negative control (control/fnv1a/4KiB: no libc call, no allocation) is within noise in all 2 of its comparisons"),
        "{md}"
    );
    assert!(
        md.contains("Holm over the bench file's 12 comparisons"),
        "{md}"
    );
    // The pairing cancels the ±30% drift: a 1.47× ratio stands beyond noise.
    let verdict = md
        .lines()
        .find(|l| l.starts_with("- **musl-system**"))
        .expect("a musl-system verdict");
    assert!(verdict.contains("slower beyond noise on 5"), "{verdict}");

    // Files of another machine are not one experiment.
    let mut elsewhere = bench_v2("2026-06-01T12:00:00Z", "x", 1.0, 1.0);
    elsewhere["environment"]["cpu_model"] = json!("another CPU");
    let elsewhere = write(dir.path(), "bench-c.json", &elsewhere);
    let err = report::load_files(&[newer, elsewhere]).unwrap_err();
    assert_eq!(harness::exit_code(&err), 2);
    assert!(
        err.to_string().contains("different machines or methods"),
        "{err}"
    );
}

#[test]
fn a_negative_control_beyond_noise_says_the_method_is_not_holding() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bench.json",
        &bench_v2("2026-06-01T10:00:00Z", "x", 1.0, 1.25),
    );
    let inputs = report::load_files(&[file]).unwrap();
    let md = rendered(&inputs);
    assert!(
        md.contains("**The criterion method is not holding on this machine**: its negative control came out beyond noise (control/fnv1a/4KiB musl-system ×1.25)"),
        "{md}"
    );
    assert!(md.contains("the method is not holding on this machine: read every verdict of this file as doubtful"), "{md}");
}

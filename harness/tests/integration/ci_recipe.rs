//! The CI recipe in `docs/ci.md`: every `run:` line of its workflow that calls the harness
//! or moves its results runs here, in order, as the workflow's shell would run it (`bash
//! -c`, `$HARNESS` set), in a checkout of a small server crate. The harness runs on the fake
//! backend (no daemon, no build), so what is checked is the recipe's commands: that they
//! parse, run, write where the next step reads, and end with a gate that passes on a run
//! compared with itself (the first pull request after main's run). What the gate decides on
//! real runs is `gate::`'s.

use crate::byo::make_crate;
use harness::compare::document::Comparison;
use harness::runtime::fake::spec::BACKEND_ENV;
use std::path::Path;

/// The `run:` lines of the recipe's workflow that the test runs: those that call the harness
/// or touch its `bench/` directory (installing the toolchain is the runner's business).
fn recipe_commands() -> Vec<String> {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ci.md");
    let text = std::fs::read_to_string(&page).unwrap();
    let start = text.find("```yaml\n").expect("docs/ci.md has a yaml block");
    let block = &text[start + 8..];
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.strip_prefix("run: ")
        })
        .filter(|c| c.contains("$HARNESS") || c.contains("bench/"))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_harness_command_of_the_recipe_runs() {
    let commands = recipe_commands();
    assert!(
        commands.len() >= 3 && commands.iter().any(|c| c.contains("--fail-on-regression")),
        "{commands:?}"
    );
    let krate = make_crate("recipe-server", "", crate::byo::STD_SERVER, None);
    let namespace = format!("{}-recipe", crate::support::test_namespace());
    for command in &commands {
        let output = std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", command])
            .current_dir(krate.path())
            .env("HARNESS", env!("CARGO_BIN_EXE_harness"))
            .env(BACKEND_ENV, "")
            .env("DOCKER_HOST", "tcp://127.0.0.1:9")
            .env(harness::labels::NAMESPACE_ENV, &namespace)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let document = krate.path().join("bench/comparison.json");
    let text = std::fs::read_to_string(&document).expect("the gate wrote its document");
    let comparison: Comparison = serde_json::from_str(&text).unwrap();
    assert!(comparison.enforced && !comparison.fails, "{text}");
    assert_eq!(comparison.gate.threshold_pct, 15.0);
    assert!(!comparison.rows.is_empty());
}

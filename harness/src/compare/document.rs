//! `harness compare --json`: the comparison as one document a script reads, with a
//! published schema (`harness/schema/comparison.schema.json`): both files' identity, every
//! caveat, every row of the table, and the gate's judgement.

use super::gate::Gate;
use super::Row;
use crate::results::RunResults;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of the comparison document this build writes.
pub const COMPARISON_SCHEMA_VERSION: u32 = 1;

/// The comparison of two results files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Comparison {
    pub schema_version: u32,
    /// Always `comparison`.
    pub kind: String,
    pub old: Side,
    pub new: Side,
    /// Every recorded setting and fact of the machine that differs between the files.
    pub caveats: Vec<String>,
    /// Every metric of every variant, as the table prints them.
    pub rows: Vec<JsonRow>,
    /// The regression gate (computed with threshold 0 when `--fail-on-regression` was not
    /// given, which `enforced` says).
    pub gate: Gate,
    /// Whether `--fail-on-regression` was given (and so decides the exit code).
    pub enforced: bool,
    /// Whether the gate fails (a regression or a broken variant).
    pub fails: bool,
}

/// One results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Side {
    pub path: String,
    pub app: String,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub machine: String,
    pub rounds: u32,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JsonRow {
    pub variant: String,
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
    /// Each side's interval, `[low, high]`.
    pub old_ci: Option<[f64; 2]>,
    pub new_ci: Option<[f64; 2]>,
    pub change_pct: Option<f64>,
    /// `beyond noise`, `within noise`, `exact` or `n/a: <why>`.
    pub verdict: String,
    /// `better` or `worse` where the change is real.
    pub direction: Option<String>,
    pub higher_is_better: bool,
    /// A paired ratio to the baseline (within each run).
    pub paired_ratio: bool,
    /// For a paired ratio: how the old and the new run called it against 1.
    pub calls: Option<[String; 2]>,
    /// False when the two runs call the paired ratio differently.
    pub replicates: bool,
}

fn side(path: &Path, r: &RunResults) -> Side {
    Side {
        path: path.display().to_string(),
        app: r.app.clone(),
        started_at: r.started_at.clone(),
        git_commit: r.environment.git_commit.clone(),
        git_dirty: r.environment.git_dirty,
        machine: r.environment.machine.clone(),
        rounds: r.settings.rounds,
    }
}

fn row(r: &Row) -> JsonRow {
    JsonRow {
        variant: r.variant.clone(),
        metric: r.metric.clone(),
        old: r.old,
        new: r.new,
        old_ci: r.old_ci.map(|(a, b)| [a, b]),
        new_ci: r.new_ci.map(|(a, b)| [a, b]),
        change_pct: r.change_pct(),
        verdict: r.verdict.to_string(),
        direction: r.direction().map(str::to_string),
        higher_is_better: r.higher_is_better,
        paired_ratio: r.paired_ratio,
        calls: r.calls.map(|(a, b)| [a.to_string(), b.to_string()]),
        replicates: r.replicates(),
    }
}

/// The document of a comparison already made.
pub fn document(
    (old_path, old): (&Path, &RunResults),
    (new_path, new): (&Path, &RunResults),
    rows: &[Row],
    gate: Gate,
    enforced: bool,
) -> Comparison {
    Comparison {
        schema_version: COMPARISON_SCHEMA_VERSION,
        kind: "comparison".into(),
        old: side(old_path, old),
        new: side(new_path, new),
        caveats: super::caveats(old, new),
        rows: rows.iter().map(row).collect(),
        fails: gate.fails(),
        gate,
        enforced,
    }
}

/// The published schema's text.
pub fn json_schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Comparison)).expect("a schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published schema must match the types; `UPDATE_SCHEMA=1 cargo test` rewrites it.
    #[test]
    fn published_comparison_schema_matches_the_types() {
        let schema = json_schema();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/comparison.schema.json");
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, format!("{schema}\n")).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            published.trim(),
            schema.trim(),
            "harness/schema/comparison.schema.json is stale: UPDATE_SCHEMA=1 cargo test -p harness --lib compare::"
        );
    }
}

//! Whether a results file is a full run, the kind a report picks by itself: finished, not
//! `--quick`, and with every variant of the default set (a bench file: every default bench
//! variant, no `--filter`). Named files are rendered whatever they are; what falls short is
//! said in the verdict.
//!
//! This module only judges files already read; finding and reading them is `load`'s.

use crate::matrix::DEFAULT_SET;
use crate::results::{BenchResults, RunResults};
use std::fmt;

/// One way a file falls short of a full run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// No `finished_at`: interrupted, failed, or still running.
    Unfinished,
    /// Written with `--quick`: fewer repetitions, shorter windows or fewer samples.
    Quick,
    /// A bench file limited to some benches with `--filter`.
    Filtered,
    /// Default variants it does not have.
    Missing(Vec<String>),
    /// Written on the fake backend the project's tests select: nothing in it was measured.
    Fake,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortfall::Unfinished => write!(f, "unfinished (no `finished_at`)"),
            Shortfall::Quick => write!(f, "a `--quick` run"),
            Shortfall::Filtered => write!(f, "only the benches a `--filter` selected"),
            Shortfall::Fake => write!(f, "written on the tests' fake backend"),
            Shortfall::Missing(names) => write!(
                f,
                "without {} of the default variants ({})",
                names.len(),
                names.join(", ")
            ),
        }
    }
}

/// Every shortfall, joined for one line: `unfinished (…); a --quick run`.
pub fn describe(shortfalls: &[Shortfall]) -> String {
    let parts: Vec<String> = shortfalls.iter().map(Shortfall::to_string).collect();
    parts.join("; ")
}

fn common(finished_at: &Option<String>, command_line: &[String]) -> Vec<Shortfall> {
    let mut out = Vec::new();
    if finished_at.is_none() {
        out.push(Shortfall::Unfinished);
    }
    if command_line.iter().any(|a| a == "--quick") {
        out.push(Shortfall::Quick);
    }
    out
}

fn missing(have: &[String], wanted: &[&str]) -> Option<Shortfall> {
    let missing: Vec<String> = wanted
        .iter()
        .filter(|w| !have.iter().any(|h| h == *w))
        .map(|w| w.to_string())
        .collect();
    (!missing.is_empty()).then_some(Shortfall::Missing(missing))
}

/// How a run file falls short of a full run; empty when it is one.
pub fn run_shortfalls(results: &RunResults) -> Vec<Shortfall> {
    let mut out = common(&results.finished_at, &results.command_line);
    let have: Vec<String> = results.variants.iter().map(|v| v.variant.name()).collect();
    out.extend(missing(&have, &DEFAULT_SET));
    if results.runtime == "fake" {
        out.push(Shortfall::Fake);
    }
    out
}

/// How a bench file falls short of a full `harness bench`; empty when it is one.
pub fn bench_shortfalls(results: &BenchResults) -> Vec<Shortfall> {
    let mut out = common(&results.finished_at, &results.command_line);
    if results.command_line.iter().any(|a| a == "--filter") {
        out.push(Shortfall::Filtered);
    }
    out.extend(missing(
        &results.variants,
        &crate::plan::bench::DEFAULT_VARIANTS,
    ));
    out
}

/// The verdict's opening sentence for a named file that is not a full run.
pub fn verdict_sentence(shortfalls: &[Shortfall]) -> Option<String> {
    if shortfalls.is_empty() {
        return None;
    }
    let indicative = shortfalls
        .iter()
        .any(|s| matches!(s, Shortfall::Unfinished | Shortfall::Quick));
    let tail = if shortfalls.contains(&Shortfall::Fake) {
        "its figures are not measurements"
    } else if indicative {
        "its figures are indicative only"
    } else {
        "it compares only what it has"
    };
    Some(format!(
        "**Not a full run**: {}; {tail}.",
        describe(shortfalls)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shortfall_is_said_in_one_line() {
        let all = [
            Shortfall::Unfinished,
            Shortfall::Quick,
            Shortfall::Missing(vec!["musl-system-debian".into()]),
        ];
        assert_eq!(
            verdict_sentence(&all).unwrap(),
            "**Not a full run**: unfinished (no `finished_at`); a `--quick` run; without 1 of the default variants (musl-system-debian); its figures are indicative only."
        );
        assert_eq!(
            verdict_sentence(&[Shortfall::Filtered]).unwrap(),
            "**Not a full run**: only the benches a `--filter` selected; it compares only what it has."
        );
        assert_eq!(verdict_sentence(&[]), None);
        assert_eq!(
            verdict_sentence(&[Shortfall::Quick, Shortfall::Fake]).unwrap(),
            "**Not a full run**: a `--quick` run; written on the tests' fake backend; its figures are not measurements."
        );
    }
}

//! `harness check`: will it run in scratch? Each variant runs in its own image under the
//! app's workload with a tracer as its first process (`tracer`, writing `trace` lines);
//! the paths it reached for and missed become per-pitfall verdicts with their fixes
//! (`pitfalls`), its failures (non-2xx, errors, exit code, error lines) are set beside the
//! baseline's, and the results reach `results/checks/<app>-<time>.json` (this module's
//! types, schema published as `harness/schema/check.schema.json`). `run` drives it, `ask`
//! sends the app its requests and DNS cases (answered by the stub in `dns`), `summary`
//! draws the tables, and `dockerfile` writes the runtime stage that copies in what was
//! missing.
//!
//! What the check did not observe it never reports as working: an untraced run says why,
//! and its pitfalls are "not observed".

mod ask;
pub mod dns;
pub mod dockerfile;
pub mod pitfalls;
mod run;
pub mod summary;
mod syscalls;
pub mod trace;
pub mod tracer;

pub use run::{check, Checked};
pub use summary::summary;

use crate::results::Environment;
use pitfalls::{Status, Verdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of the check file format.
pub const SCHEMA_VERSION: u32 = 1;

/// One `harness check`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CheckResults {
    pub schema_version: u32,
    pub app: String,
    pub started_at: String,
    /// Absent while it runs, or when it was cut short.
    pub finished_at: Option<String>,
    pub command: Vec<String>,
    pub environment: Environment,
    /// What the app was driven with while traced.
    pub workload: String,
    /// The variant the others' failures are set beside.
    pub baseline: String,
    /// The resolver configuration every variant ran with (a pod's, on the stub DNS).
    pub resolv_conf: Option<String>,
    /// Why name resolution was not checked, when it was not.
    pub dns_skipped: Option<String>,
    pub variants: Vec<VariantCheck>,
}

/// Name resolution under a pod's resolver settings, on the stub DNS (see `dns`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct DnsCheck {
    /// The lookups the check asked the app to make (none without a `resolve_path`).
    pub cases: Vec<CaseOutcome>,
    /// Every query the stub answered while the app ran (its workload and the cases).
    pub queries: Vec<dns::Query>,
}

/// One lookup the app was asked to make.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CaseOutcome {
    pub case: dns::Case,
    /// `right` (only right addresses), `wrong` (others, or none) or `failed` (an error).
    pub verdict: String,
    /// What the app answered: its addresses, or its error.
    pub answer: String,
    /// What the queries show the libc did, in a sentence.
    pub behaviour: String,
    /// The queries sent while the app resolved it, in order.
    pub queries: Vec<dns::Query>,
}

/// One variant in its image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct VariantCheck {
    pub variant: String,
    /// The image checked.
    pub image: Option<String>,
    /// Whether the tracer saw the app, and if not, why.
    pub traced: bool,
    pub untraced_reason: Option<String>,
    /// One verdict per pitfall the app reached for (none when untraced).
    pub pitfalls: Vec<Verdict>,
    /// Every distinct path reached for, with what was found.
    pub paths: Vec<PathSeen>,
    /// Every distinct address connected or sent to.
    pub addresses: Vec<AddressSeen>,
    pub failures: Failures,
    /// Name resolution (absent when it was not checked).
    pub dns: Option<DnsCheck>,
    /// The check itself could not run this variant (build, image or start): why.
    pub error: Option<String>,
}

/// A path and what the app found there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct PathSeen {
    pub path: String,
    /// `open`, `stat`, `access`, `exec` or `readlink`.
    pub op: String,
    /// `found`, `missing`, `denied` or `failed`.
    pub outcome: String,
    pub pitfall: pitfalls::Pitfall,
}

/// An address and whether the call reached it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct AddressSeen {
    /// `connect`, `sendto` or `sendmsg`.
    pub call: String,
    pub address: String,
    pub outcome: String,
}

/// How the app failed under the workload, if it did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Failures {
    /// Server: why it never became ready, when it did not.
    pub not_ready: Option<String>,
    /// Server: per request, what came back.
    pub requests: Vec<RequestOutcome>,
    /// The exit code: a batch job's, or a server's that exited during the workload (a
    /// server still running at the end has none).
    pub exit_code: Option<i64>,
    /// Lines of its output that read as errors (`error`, `panic`, `failed`, …), first few.
    pub error_lines: Vec<String>,
}

/// One request's responses.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RequestOutcome {
    pub name: String,
    pub responses: u64,
    /// Responses with another status than the request expects.
    pub unexpected_status: u64,
    /// Connection and I/O failures.
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Failures {
    /// Whether anything failed.
    pub fn any(&self) -> bool {
        self.not_ready.is_some()
            || self.exit_code.is_some_and(|c| c != 0)
            || self
                .requests
                .iter()
                .any(|r| r.unexpected_status > 0 || r.errors > 0 || r.responses == 0)
    }

    /// One line: what failed, or `none`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.not_ready.is_some() {
            parts.push("never ready".to_string());
        }
        for r in &self.requests {
            if r.unexpected_status > 0 || r.errors > 0 || r.responses == 0 {
                parts.push(format!(
                    "{}: {} of {} unexpected, {} errors",
                    r.name, r.unexpected_status, r.responses, r.errors
                ));
            }
        }
        if let Some(code) = self.exit_code.filter(|&c| c != 0) {
            parts.push(format!("exit {code}"));
        }
        if parts.is_empty() {
            return "none".into();
        }
        if let Some(line) = self.error_lines.first() {
            parts.push(format!("first error: {line}"));
        }
        parts.join("; ")
    }
}

impl VariantCheck {
    /// The pitfalls that break here.
    pub fn breaking(&self) -> impl Iterator<Item = &Verdict> {
        self.pitfalls.iter().filter(|v| v.status == Status::Breaks)
    }

    /// This variant's status for `pitfall`: its verdict's, `NotReached` when traced and not
    /// reached, `Unobserved` when untraced or not run.
    pub fn status(&self, pitfall: pitfalls::Pitfall) -> Status {
        if !self.traced {
            return Status::Unobserved;
        }
        self.pitfalls
            .iter()
            .find(|v| v.pitfall == pitfall)
            .map_or(Status::NotReached, |v| v.status)
    }
}

impl CheckResults {
    /// Reads and checks a check file; errors name the file.
    pub fn load(path: &Path) -> anyhow::Result<CheckResults> {
        crate::results::load_json_versioned(path, "check", SCHEMA_VERSION, |r: &CheckResults| {
            r.schema_version
        })
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        crate::results::save_json(path, self)
    }

    pub fn variant(&self, name: &str) -> Option<&VariantCheck> {
        self.variants.iter().find(|v| v.variant == name)
    }
}

/// The JSON schema of check files, as published in `harness/schema/check.schema.json`.
pub fn check_json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(CheckResults)).expect("schemas serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published schema must match the types; `UPDATE_SCHEMA=1 cargo test` rewrites it.
    #[test]
    fn published_check_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/check.schema.json");
        let generated = serde_json::to_string_pretty(&check_json_schema()).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "{} is stale: run `UPDATE_SCHEMA=1 cargo test -p harness published_check_schema`",
            path.display()
        );
    }

    #[test]
    fn the_published_checks_load_and_every_variant_was_traced() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/checks");
        let files = crate::results::newest_per_app(&dir).unwrap();
        assert!(!files.is_empty(), "no check file in {}", dir.display());
        for path in files {
            let c = CheckResults::load(&path).unwrap();
            assert!(
                c.variants.iter().all(|v| v.traced && v.error.is_none()),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn failures_summarise_what_went_wrong_and_nothing_else() {
        let mut f = Failures {
            requests: vec![RequestOutcome {
                name: "/plaintext".into(),
                responses: 10,
                ..Default::default()
            }],
            exit_code: None,
            error_lines: vec!["error: no CA certificates".into()],
            not_ready: None,
        };
        assert!(!f.any());
        assert_eq!(f.summary(), "none");
        f.requests[0].unexpected_status = 10;
        f.exit_code = Some(1);
        assert!(f.any());
        assert_eq!(
            f.summary(),
            "/plaintext: 10 of 10 unexpected, 0 errors; exit 1; first error: error: no CA certificates"
        );
    }
}

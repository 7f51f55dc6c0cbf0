//! The "Will it run?" section: from the newest `harness check` file of each app, what each
//! variant's image lacks (pitfall × variant), the fixes, the failures beside the
//! baseline's, and how each libc resolved names under a pod's resolver settings.

use super::doc::{Doc, Table};
use crate::check::summary::{dns_grid, grouped_findings, pitfall_grid, Grid};
use crate::check::CheckResults;

/// How the check works, said once above the tables.
const METHOD: &str = "From `harness check`: each variant runs in its own image with a tracer as its first process (the harness, static, bind-mounted read-only), driven by the app's own requests; every path its processes opened, stat'ed, checked or exec'd is recorded with what it found, in the image it runs in. A pitfall *breaks* when the app reached for its files and found none; *missing?* marks files the check has no rule for; *—*: never reached under this workload. Name resolution runs under a Kubernetes pod's resolver settings (search domains, `ndots:5`) on a stub DNS on loopback with two nameservers: the cluster DNS, listed first and slower, and an external resolver that answers NXDOMAIN at once for cluster names; the stub's log says what each libc asked.";

/// Adds the section, when there are check files.
pub fn section(doc: &mut Doc, checks: &[CheckResults]) {
    if checks.is_empty() {
        return;
    }
    doc.heading(2, "Will it run? What each image lacks");
    doc.paragraph(METHOD);
    for check in checks {
        doc.heading(3, format!("{}: files, failures and fixes", check.app));
        doc.paragraph(provenance(check));
        doc.table(table(pitfall_grid(check), None));
        doc.list(grouped_findings(check));
        if let Some(reason) = &check.dns_skipped {
            doc.paragraph(format!("Name resolution was not checked: {reason}."));
        }
        if let Some((grid, lines)) = dns_grid(check) {
            doc.table(table(
                grid,
                Some("right: only the right addresses; FAILED: the lookup failed; WRONG: other addresses".into()),
            ));
            doc.list(lines);
        }
    }
}

fn table(grid: Grid, note: Option<String>) -> Table {
    Table {
        header: grid.header,
        rows: grid.rows,
        note,
    }
}

/// When, where and on what code the check ran, and its workload.
fn provenance(check: &CheckResults) -> String {
    let e = &check.environment;
    let code = super::provenance::code_words(e);
    format!(
        "Checked {} on {} ({}), {code}; workload: {}; baseline {}.",
        check.started_at, e.machine, e.cpu_model, check.workload, check.baseline
    )
}

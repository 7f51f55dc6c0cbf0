//! The check as a person reads it: a grid of pitfall × variant (works, BREAKS, not
//! reached) with each variant's failures, a grid of DNS case × variant, and the lines that
//! say per variant what breaks, why, and the fix. The terminal table and the report's
//! "Will it run?" section are both drawn from these grids.

use super::pitfalls::{Pitfall, Status, ALL};
use super::CheckResults;

/// A header and rows of cells.
pub struct Grid {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Pitfall × variant: every pitfall some variant reached for, then the failures row.
pub fn pitfall_grid(results: &CheckResults) -> Grid {
    let mut header = vec!["".to_string()];
    header.extend(results.variants.iter().map(|v| v.variant.clone()));
    let reached = ALL.into_iter().filter(|&p| {
        results
            .variants
            .iter()
            .any(|v| !matches!(v.status(p), Status::NotReached | Status::Unobserved))
    });
    let mut rows: Vec<Vec<String>> = reached
        .map(|pitfall: Pitfall| {
            let mut row = vec![pitfall.name().to_string()];
            row.extend(results.variants.iter().map(|v| {
                match v.status(pitfall) {
                    Status::Works => "works",
                    Status::Breaks => "BREAKS",
                    Status::Missing => "missing?",
                    Status::NotReached => "—",
                    Status::Unobserved => "not observed",
                }
                .to_string()
            }));
            row
        })
        .collect();
    let mut failures = vec!["failures under the workload".to_string()];
    failures.extend(results.variants.iter().map(|v| {
        match &v.error {
            Some(_) => "check failed",
            None if v.failures.any() => "FAILED",
            None => "none",
        }
        .to_string()
    }));
    rows.push(failures);
    Grid { header, rows }
}

/// DNS case × variant, and a line per variant and case saying how it asked; `None` when no
/// variant was asked the cases.
pub fn dns_grid(results: &CheckResults) -> Option<(Grid, Vec<String>)> {
    let with_cases: Vec<_> = results
        .variants
        .iter()
        .filter(|v| v.dns.as_ref().is_some_and(|d| !d.cases.is_empty()))
        .collect();
    let cases = &with_cases.first()?.dns.as_ref()?.cases;
    let mut header = vec!["name resolution (a pod's resolver settings)".to_string()];
    header.extend(with_cases.iter().map(|v| v.variant.clone()));
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut row = vec![format!("{} (`{}`)", case.case.name, case.case.lookup)];
        for v in &with_cases {
            let Some(outcome) = v.dns.as_ref().and_then(|d| d.cases.get(i)) else {
                row.push("—".into());
                continue;
            };
            row.push(match outcome.verdict.as_str() {
                "right" => "right".to_string(),
                other => other.to_uppercase(),
            });
            lines.push(format!(
                "{} `{}`: {} ({})",
                v.variant,
                outcome.case.lookup,
                outcome.behaviour,
                shorten(&outcome.answer, 100)
            ));
        }
        rows.push(row);
    }
    Some((Grid { header, rows }, lines))
}

/// Per variant: what breaks (and whether it works in the baseline), why and the fix; files
/// without a rule that were missing; its failures beside the baseline's; why it was not
/// traced or not checked.
pub fn findings(results: &CheckResults) -> Vec<String> {
    let mut out = Vec::new();
    let baseline = results.variant(&results.baseline);
    for v in &results.variants {
        if let Some(e) = &v.error {
            out.push(format!("{}: the check could not run it: {e}", v.variant));
            continue;
        }
        if let Some(reason) = v.untraced_reason.as_deref().filter(|_| !v.traced) {
            out.push(format!(
                "{}: not traced, so no file is reported as working: {reason}",
                v.variant
            ));
        }
        for verdict in v.pitfalls.iter().filter(|p| p.status == Status::Missing) {
            out.push(format!(
                "{}: {} missing: {}",
                v.variant,
                verdict.pitfall.name(),
                verdict.why
            ));
        }
        for verdict in v.breaking() {
            let beside = match baseline.map(|b| b.status(verdict.pitfall)) {
                Some(Status::Works) if v.variant != results.baseline => {
                    format!(" (works in {})", results.baseline)
                }
                _ => String::new(),
            };
            out.push(format!(
                "{}: {} breaks{beside}: {}. Fix: {}",
                v.variant,
                verdict.pitfall.name(),
                verdict.why,
                verdict.fix.as_deref().unwrap_or("")
            ));
        }
        if v.failures.any() {
            let beside = match baseline.filter(|b| b.variant != v.variant) {
                Some(b) if !b.failures.any() => format!(" ({} has none)", b.variant),
                _ => String::new(),
            };
            out.push(format!(
                "{}: failures{beside}: {}",
                v.variant,
                v.failures.summary()
            ));
        }
    }
    out
}

/// The same findings grouped for a reader of several variants: per pitfall, the variants
/// it breaks in (and those it works in), why and the fix once; then each variant's
/// failures and anything it could not be checked for.
pub fn grouped_findings(results: &CheckResults) -> Vec<String> {
    let mut out = Vec::new();
    for pitfall in ALL {
        let breaking: Vec<_> = results
            .variants
            .iter()
            .filter_map(|v| {
                let verdict = v.breaking().find(|b| b.pitfall == pitfall)?;
                Some((v.variant.as_str(), verdict))
            })
            .collect();
        let Some((_, first)) = breaking.first() else {
            continue;
        };
        let works: Vec<&str> = results
            .variants
            .iter()
            .filter(|v| v.status(pitfall) == Status::Works)
            .map(|v| v.variant.as_str())
            .collect();
        let names: Vec<&str> = breaking.iter().map(|(name, _)| *name).collect();
        out.push(format!(
            "**{}** breaks in {}{}: {}. Fix: {}",
            pitfall.name(),
            names.join(", "),
            match works.is_empty() {
                true => String::new(),
                false => format!(" (works in {})", works.join(", ")),
            },
            first.why,
            first.fix.as_deref().unwrap_or("")
        ));
    }
    for v in &results.variants {
        if let Some(e) = &v.error {
            out.push(format!("{}: the check could not run it: {e}", v.variant));
        } else if let Some(reason) = v.untraced_reason.as_deref().filter(|_| !v.traced) {
            out.push(format!("{}: not traced: {reason}", v.variant));
        } else if v.failures.any() {
            out.push(format!("{} failures: {}", v.variant, v.failures.summary()));
        }
    }
    out
}

/// The terminal's rendering: both grids as tables, then the lines.
pub fn summary(results: &CheckResults) -> String {
    let mut out = format!("{}\n", terminal_table(&pitfall_grid(results)));
    match (&results.dns_skipped, dns_grid(results)) {
        (Some(reason), _) => out += &format!("name resolution not checked: {reason}\n"),
        (None, Some((grid, lines))) => {
            out += &format!("{}\n", terminal_table(&grid));
            for line in lines {
                out += &format!("{}\n", line.replace('`', ""));
            }
        }
        (None, None) => {}
    }
    for line in findings(results) {
        out += &format!("{line}\n");
    }
    out
}

fn terminal_table(grid: &Grid) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(grid.header.clone());
    for row in &grid.rows {
        table.add_row(row.iter().map(|c| c.replace('`', "")).collect::<Vec<_>>());
    }
    table
}

fn shorten(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

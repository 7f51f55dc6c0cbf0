//! `harness compare OLD NEW`: per variant and metric, which changes are beyond noise.

use comfy_table::Table;

/// Loads both files and prints the per-metric comparison.
pub fn execute(args: &crate::cli::CompareArgs) -> anyhow::Result<()> {
    use crate::results::RunResults;
    let load = |path: &std::path::Path| {
        RunResults::load(path).map_err(|e| crate::error::usage(e.to_string()))
    };
    let (old, new) = (load(&args.old)?, load(&args.new)?);
    for note in crate::compare::caveats(&old, &new) {
        eprintln!("note: {note}");
    }
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "variant",
        "metric",
        "old [interval]",
        "new [interval]",
        "change",
        "verdict",
    ]);
    let number = |v: f64| match v {
        v if v.abs() >= 100.0 => format!("{v:.0}"),
        v => format!("{v:.2}"),
    };
    let with_ci = |v: Option<f64>, ci: Option<(f64, f64)>| match (v, ci) {
        (Some(v), Some((lo, hi))) => format!("{} [{}–{}]", number(v), number(lo), number(hi)),
        (Some(v), None) => number(v),
        (None, _) => "-".into(),
    };
    let rows = crate::compare::compare(&old, &new);
    for row in &rows {
        let mut verdict = match row.direction() {
            Some(direction) => format!("{} ({direction})", row.verdict),
            None => row.verdict.to_string(),
        };
        if let Some((old, new)) = row.calls.filter(|_| !row.replicates()) {
            verdict.push_str(&format!("; vs baseline: {old} → {new}: does not replicate"));
        }
        table.add_row([
            row.variant.clone(),
            row.metric.clone(),
            with_ci(row.old, row.old_ci),
            with_ci(row.new, row.new_ci),
            row.change_pct().map_or("-".into(), |c| format!("{c:+.1}%")),
            verdict,
        ]);
    }
    println!("{table}");
    let (within, judged) = crate::compare::ratio_tally(&rows);
    if judged > 0 {
        println!(
            "paired ratios to the baseline: {within} of {judged} within noise ({:.0}%)",
            within as f64 / judged as f64 * 100.0
        );
    }
    let called: Vec<&crate::compare::Row> = rows.iter().filter(|r| r.calls.is_some()).collect();
    if !called.is_empty() {
        let failing: Vec<String> = called
            .iter()
            .filter(|r| !r.replicates())
            .map(|r| format!("{} {}", r.variant, r.metric))
            .collect();
        println!(
            "verdicts against the baseline: {} of {} the same in both runs{}",
            called.len() - failing.len(),
            called.len(),
            match failing.is_empty() {
                true => String::new(),
                false => format!("; these do not replicate: {}", failing.join(", ")),
            }
        );
    }
    if let Some(note) =
        crate::compare::small_sample_note(old.settings.rounds.min(new.settings.rounds))
    {
        println!("{note}");
    }
    Ok(())
}

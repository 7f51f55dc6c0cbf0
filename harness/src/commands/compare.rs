//! `harness compare OLD NEW`: per variant and metric, which changes are beyond noise; with
//! `--fail-on-regression[=PCT]`, a gate that exits 5 on a regression; with `--json`, one
//! document on stdout.

use comfy_table::Table;

/// Loads both files, prints the comparison (table or JSON) and the gate's lines, and fails
/// with the gate when it is enforced and trips.
pub fn execute(args: &crate::cli::CompareArgs) -> anyhow::Result<()> {
    use crate::results::RunResults;
    if let Some(pct) = args.fail_on_regression {
        if !(pct.is_finite() && pct >= 0.0) {
            return Err(crate::error::usage(format!(
                "--fail-on-regression={pct}: give a percentage of 0 or more (`--fail-on-regression=10`), or no value for any change beyond noise"
            )));
        }
    }
    let load = |path: &std::path::Path| {
        RunResults::load(path).map_err(|e| crate::error::usage(e.to_string()))
    };
    let (old, new) = (load(&args.old)?, load(&args.new)?);
    if args.fail_on_regression.is_some() && old.app != new.app {
        return Err(crate::error::usage(format!(
            "--fail-on-regression: {} is a run of {:?} and {} of {:?}: the gate compares runs of one app",
            args.old.display(),
            old.app,
            args.new.display(),
            new.app
        )));
    }
    let rows = crate::compare::compare(&old, &new);
    let gate = crate::compare::gate::judge(&old, &new, args.fail_on_regression.unwrap_or(0.0));
    let enforced = args.fail_on_regression.is_some();
    let gate_lines = crate::compare::gate::lines(&gate);
    if args.json {
        for note in crate::compare::caveats(&old, &new) {
            eprintln!("note: {note}");
        }
        if enforced {
            for line in &gate_lines {
                eprintln!("{line}");
            }
        }
        let failure = (enforced && gate.fails()).then(|| crate::compare::gate::failure_line(&gate));
        let document = crate::compare::document::document(
            (&args.old, &old),
            (&args.new, &new),
            &rows,
            gate,
            enforced,
        );
        println!("{}", serde_json::to_string_pretty(&document)?);
        return match failure {
            Some(line) => Err(crate::error::HarnessError::Regression(line).into()),
            None => Ok(()),
        };
    }
    for note in crate::compare::caveats(&old, &new) {
        eprintln!("note: {note}");
    }
    print_table(&rows);
    if let Some(note) =
        crate::compare::small_sample_note(old.settings.rounds.min(new.settings.rounds))
    {
        println!("{note}");
    }
    if enforced {
        for line in &gate_lines {
            println!("{line}");
        }
        if gate.fails() {
            let line = crate::compare::gate::failure_line(&gate);
            return Err(crate::error::HarnessError::Regression(line).into());
        }
    }
    Ok(())
}

/// The table, the tally of paired ratios within noise, and which verdicts do not replicate.
fn print_table(rows: &[crate::compare::Row]) {
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
    for row in rows {
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
    let (within, judged) = crate::compare::ratio_tally(rows);
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
}

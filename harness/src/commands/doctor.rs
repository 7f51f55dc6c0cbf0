//! `harness doctor`: check (and with `--fix`, install) the prerequisites, and print them as
//! a table; missing ones make it fail.

use comfy_table::Table;

/// Fixes (when asked), checks, and prints the prerequisites.
pub async fn execute(fix: bool) -> anyhow::Result<()> {
    if fix {
        for line in crate::doctor::fix_all().await? {
            println!("fixed: {line}");
        }
    }
    let checks = crate::doctor::checks().await;
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["prerequisite", "state", "detail", "fix"]);
    for c in &checks {
        table.add_row([
            c.name,
            if c.ok { "ok" } else { "MISSING" },
            &c.detail,
            if c.ok { "" } else { c.fix },
        ]);
    }
    println!("{table}");
    let missing: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(crate::error::prerequisite(format!(
            "missing: {} (see the fix column, or run `harness doctor --fix`)",
            missing.join(", ")
        )))
    }
}

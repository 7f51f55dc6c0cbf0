//! One function per subcommand: take the parsed arguments, plan, act, print.
//!
//! This is the only place that decides what a command prints; the modules it calls return
//! data. Async work runs on one tokio runtime built here.

use crate::cli::{Cli, Command};
use crate::matrix::Variant;
use comfy_table::Table;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Variants => {
            print_variants();
            Ok(())
        }
        Command::Build(_) | Command::Run(_) | Command::Doctor(_) => anyhow::bail!("not built yet"),
        Command::Bench(args) => bench(&args),
    }
}

fn bench(args: &crate::cli::BenchArgs) -> anyhow::Result<()> {
    let plan = crate::bench::plan::BenchPlan::from_args(args)?;
    let outcome = crate::bench::run(&plan, &crate::app::workspace_root())?;
    println!("{}", crate::bench::compare::table(&outcome.results));
    for line in crate::bench::compare::headline(&outcome.results) {
        println!("{line}");
    }
    println!(
        "significant: the two 95% confidence intervals of the mean do not overlap; ratio > 1: slower than {}",
        outcome.results.baseline
    );
    println!("results: {}", outcome.paths());
    Ok(())
}

fn print_variants() {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["variant", "valid", "default", "note"]);
    for v in Variant::all() {
        let reason = v.invalid_reason();
        table.add_row([
            v.name(),
            if reason.is_none() { "yes" } else { "no" }.to_string(),
            if v.is_default() { "yes" } else { "" }.to_string(),
            reason.unwrap_or("").to_string(),
        ]);
    }
    println!("{table}");
}

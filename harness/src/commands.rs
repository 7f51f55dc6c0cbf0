//! One function per subcommand: take the parsed arguments, plan, act, print.
//!
//! This is the only place that decides what a command prints; the modules it calls return
//! data. Async work runs on one tokio runtime built here.

use crate::cli::{Cli, Command, ReportArgs};
use crate::matrix::Variant;
use comfy_table::Table;
use std::path::Path;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Variants => {
            print_variants();
            Ok(())
        }
        Command::Build(_) | Command::Run(_) | Command::Doctor(_) => anyhow::bail!("not built yet"),
        Command::Report(args) => report(&args),
    }
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

fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let inputs = if args.files.is_empty() {
        let (inputs, skipped) = crate::report::discover(Path::new("results"))?;
        for s in skipped {
            eprintln!("warning: skipped {}: {}", s.path.display(), s.reason);
        }
        inputs
    } else {
        crate::report::load_files(&args.files)?
    };
    let rendered = crate::report::render(&inputs, &args.out)?;
    println!(
        "wrote {}, {} and {} plots (SVG + PNG) in {}",
        rendered.report_md.display(),
        rendered.index_html.display(),
        rendered.plots.len(),
        args.out.join("plots").display()
    );
    Ok(())
}

//! One module per subcommand, each the same shape: take the parsed arguments, plan (in
//! `plan`), act, print. This is the only place that decides what a command prints; the
//! modules it calls return data. Async work runs on one tokio runtime built here.

mod bench;
mod build;
mod calibrate;
mod check;
mod clean;
mod compare;
mod doctor;
mod profile;
mod report;
mod run;
mod tokio_runtime;
mod variants;

pub use build::mb;
pub use variants::variants_text;

use crate::cli::{Cli, Command};
use tokio_runtime::runtime;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Variants(args) => variants::execute(&args),
        Command::Build(args) => runtime()?.block_on(build::execute(args)),
        Command::Run(args) => run::execute(&args),
        Command::Clean(args) => clean::execute(&args),
        Command::Doctor(args) => runtime()?.block_on(doctor::execute(args.fix)),
        Command::Report(args) => report::execute(&args),
        Command::Calibrate(args) => calibrate::execute(&args),
        Command::Compare(args) => compare::execute(&args),
        Command::Bench(args) => bench::execute(&args),
        Command::Agent => crate::agent::serve::run(),
        Command::Profile(args) => profile::execute(&args),
        Command::Check(args) => check::execute(&args),
        Command::Trace(args) => crate::check::tracer::main(&args.out, &args.command),
    }
}

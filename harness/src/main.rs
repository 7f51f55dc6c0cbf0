//! The `harness` binary: parse the command line, call the library, print any error once.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = harness::cli::Cli::parse();
    match harness::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(harness::exit_code(&error))
        }
    }
}

//! `harness calibrate` arguments → a checked `CalibrateSpec`, before any server starts.

use super::{parse_duration, MAX_CONCURRENCY};
use crate::cli::CalibrateArgs;
use crate::measure::calibrate::CalibrateSpec;

/// Checks the flags (durations, concurrency, client) and turns them into a spec.
pub fn from_args(args: &CalibrateArgs) -> anyhow::Result<CalibrateSpec> {
    if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) {
        return Err(crate::error::usage(format!(
            "--concurrency {}: expected 1 to {MAX_CONCURRENCY}",
            args.concurrency
        )));
    }
    if !(1..=100).contains(&args.rounds) {
        return Err(crate::error::usage(format!(
            "--rounds {}: expected 1 to 100",
            args.rounds
        )));
    }
    Ok(CalibrateSpec {
        concurrency: args.concurrency,
        warmup: parse_duration(&args.warmup, "--warmup", true)?,
        duration: parse_duration(&args.duration, "--duration", false)?,
        server_cpu: args.server_cpu,
        loadgen_cpu: args.loadgen_cpu,
        rounds: args.rounds,
        client: args.client,
    })
}

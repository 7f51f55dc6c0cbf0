//! `harness profile`: plan, sample every variant with perf, print the buckets table.

use super::tokio_runtime::runtime;

/// Plans, profiles, and prints the table and the file's path.
pub fn execute(args: &crate::cli::ProfileArgs) -> anyhow::Result<()> {
    let plan = crate::plan::profile::ProfilePlan::from_args(args)?;
    crate::doctor::ensure_for(
        &plan.variants,
        plan.runtime != Some(crate::runtime::RuntimeKind::Native),
    )?;
    let command_line = std::env::args().collect();
    let path = runtime()?.block_on(crate::profiler::profile(&plan, command_line))?;
    println!(
        "{}",
        crate::profiler::summary(&crate::profiles::ProfileResults::load(&path)?)
    );
    println!("profile: {}", path.display());
    Ok(())
}

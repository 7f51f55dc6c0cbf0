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
    let profile = crate::profiles::ProfileResults::load(&path)?;
    println!("{}", crate::profiler::summary(&profile));
    println!("profile: {}", path.display());
    let failed: Vec<String> = profile
        .variants
        .iter()
        .filter(|v| v.failed.is_some())
        .map(|v| format!("{} (profile)", v.variant.name()))
        .collect();
    crate::error::partial(
        &failed,
        None,
        profile.variants.len(),
        &path,
        plan.allow_partial,
    )
}

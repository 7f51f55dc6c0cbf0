//! `harness check`: plan, trace every variant in its image, print the table (and the
//! Dockerfile written, when asked).

use super::tokio_runtime::runtime;

/// Plans, checks, and prints the table and the file's path.
pub fn execute(args: &crate::cli::CheckArgs) -> anyhow::Result<()> {
    let plan = crate::plan::check::CheckPlan::from_args(args)?;
    if plan.image.is_none() {
        crate::doctor::ensure_for(&plan.variants, true)?;
    }
    let command_line = std::env::args().collect();
    let checked = runtime()?.block_on(crate::check::check(&plan, command_line))?;
    let results = crate::check::CheckResults::load(&checked.path)?;
    print!("{}", crate::check::summary(&results));
    println!("check: {}", checked.path.display());
    if let Some((path, copies)) = checked.dockerfile {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        println!(
            "dockerfile: {} copies in {} file{} (build it with `docker build -f {} {}`, then check the image with --image)",
            path.display(),
            copies.len(),
            if copies.len() == 1 { "" } else { "s" },
            path.display(),
            dir.display()
        );
    }
    let failed: Vec<String> = results
        .variants
        .iter()
        .filter(|v| v.error.is_some())
        .map(|v| format!("{} (check)", v.variant))
        .collect();
    crate::error::partial(
        &failed,
        None,
        results.variants.len(),
        &checked.path,
        plan.allow_partial,
    )
}

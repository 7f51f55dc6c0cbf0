//! `harness bench`: the criterion benches once per link-allocator variant, compared with the
//! baseline.

/// Plans, runs the benches per variant, and prints the comparison.
pub fn execute(args: &crate::cli::BenchArgs) -> anyhow::Result<()> {
    let plan = crate::plan::bench::BenchPlan::from_args(args)?;
    let outcome = crate::bench::run(&plan, &crate::app::workspace()?)?;
    println!("{}", crate::bench::summary::table(&outcome.results));
    for line in crate::bench::summary::headline(&outcome.results) {
        println!("{line}");
    }
    println!("{}", crate::bench::summary::reading_note(&outcome.results));
    println!("results: {}", outcome.paths());
    Ok(())
}

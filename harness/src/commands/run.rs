//! `harness run`: plan, then one run on one daemon (or natively), or one child run per host
//! with several `--docker-host`.

use super::tokio_runtime::runtime;

/// Plans and runs; with several hosts, runs one child per host.
pub fn execute(args: &crate::cli::RunArgs) -> anyhow::Result<()> {
    let hosts = &args.docker_hosts;
    crate::plan::check_docker_hosts(args)?;
    if let [host] = hosts.as_slice() {
        // Before anything reads it, while this process has one thread.
        for (key, value) in crate::runner::hosts::host_env(host) {
            std::env::set_var(key, value);
        }
    }
    let plan = crate::plan::RunPlan::from_args(args)?;
    if hosts.len() > 1 {
        let shares =
            crate::runner::hosts::shares(hosts, &plan.variants, args.spread, &plan.out_dir)
                .map_err(crate::error::usage)?;
        let argv: Vec<String> = std::env::args().collect();
        return crate::runner::hosts::run_all(&argv, &shares);
    }
    // The fake backend (the project's CLI tests) builds nothing: no toolchain to check.
    if !crate::runtime::fake::spec::selected() {
        crate::doctor::ensure_for(
            &plan.variants,
            plan.runtime != Some(crate::runtime::RuntimeKind::Native),
        )?;
    }
    let command_line = std::env::args().collect();
    let rt = runtime()?;
    let outcome = rt.block_on(crate::runner::run(&plan, command_line));
    // After an interrupt a load window may still be draining on a blocking thread:
    // its server is gone, so do not wait for the window to end.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    print_outcome(&plan, &outcome?)
}

/// The summary table and its legend (unless `--quiet`), the results as JSON (`--json`), and
/// where they are, all read back from the results file.
fn print_outcome(plan: &crate::plan::RunPlan, path: &std::path::Path) -> anyhow::Result<()> {
    let results = crate::results::RunResults::load(path)?;
    if !plan.quiet {
        println!("{}", crate::runner::summary_table(&results));
        if let Some(legend) = crate::runner::legend(&results) {
            println!("{legend}");
        }
        for line in crate::runner::control_line(&results) {
            println!("{line}");
        }
    }
    if plan.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    crate::progress::Progress::new(plan.quiet).println(format!("results: {}", path.display()));
    let failed = |v: &crate::results::VariantResult| match &v.status {
        crate::results::Status::Failed { step, .. } => Some(step.clone()),
        crate::results::Status::Ok => None,
    };
    let variants: Vec<String> = results
        .variants
        .iter()
        .filter_map(|v| failed(v).map(|step| format!("{} ({step})", v.variant.name())))
        .collect();
    let control = results.control.as_ref().and_then(|c| {
        failed(c).map(|step| format!("the A/A control arm of {} ({step})", c.variant.name()))
    });
    // A runtime arm that failed while its variant did not (a runtime that cannot start
    // containers here): named too, so a run with a broken runtime never passes silently.
    let variant_ok = |arm: &crate::results::VariantResult| {
        results
            .variant(&arm.variant.name())
            .is_some_and(|v| v.is_ok())
    };
    let runtime_arms = results
        .runtime_arms
        .iter()
        .filter(|arm| variant_ok(arm))
        .filter_map(|arm| {
            let runtime = arm.oci_runtime.as_deref().unwrap_or("?");
            failed(arm).map(|step| format!("the {runtime} arm of {} ({step})", arm.variant.name()))
        });
    let others: Vec<String> = control.into_iter().chain(runtime_arms).collect();
    crate::error::partial(
        &variants,
        (!others.is_empty()).then(|| others.join(", ")),
        results.variants.len(),
        path,
        plan.allow_partial,
    )
}

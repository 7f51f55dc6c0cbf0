//! `harness bench` arguments → a checked `BenchPlan`, before any side effect.
//!
//! A bench variant is `link-allocator` (no base image: the benches run in-process on this
//! machine). Every value a user can get wrong dies here with one line naming it. This module
//! does not run cargo or touch the file system.

use crate::cli::BenchArgs;
use crate::error::usage;
use crate::matrix::{Allocator, Link};
use crate::plan::{default_machine_label, parse_list};
use std::fmt;
use std::path::PathBuf;

/// The bench variant every other is compared against when it is measured: the link and
/// allocator of the run matrix's baseline (`matrix::BASELINE`), without its base image.
pub const BENCH_BASELINE: &str = "glibc-system";

/// What `harness bench` measures without `--variants` (the CLI's default says the same).
pub const DEFAULT_VARIANTS: [&str; 3] = ["glibc-system", "musl-system", "musl-mimalloc"];

/// One libc linkage and one allocator: the build a bench binary is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BenchVariant {
    pub link: Link,
    pub allocator: Allocator,
}

impl BenchVariant {
    /// Every link × allocator pairing, in matrix order.
    pub fn all() -> Vec<BenchVariant> {
        Link::ALL
            .into_iter()
            .flat_map(|link| {
                Allocator::ALL
                    .into_iter()
                    .map(move |allocator| BenchVariant { link, allocator })
            })
            .collect()
    }

    pub fn name(&self) -> String {
        self.to_string()
    }

    /// `glibc-system`, `glibc-static-mimalloc`, `musl-jemalloc`…; errors list the accepted names.
    pub fn parse(text: &str) -> Result<BenchVariant, String> {
        BenchVariant::all()
            .into_iter()
            .find(|v| v.name() == text)
            .ok_or_else(|| {
                let names: Vec<String> = BenchVariant::all().iter().map(|v| v.name()).collect();
                format!(
                    "unknown bench variant {text:?}: expected LINK-ALLOCATOR, one of {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for BenchVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.link.name(), self.allocator.name())
    }
}

/// A checked `harness bench`.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// In the order given, without duplicates; the baseline first.
    pub variants: Vec<BenchVariant>,
    /// `glibc-system` when it is measured, otherwise the first variant given.
    pub baseline: BenchVariant,
    /// Criterion's filter: a regex over `group/function/parameter`.
    pub filter: Option<String>,
    pub quick: bool,
    /// Processes per variant per bench.
    pub repeats: u32,
    /// The seed of the process order's shuffles.
    pub seed: u64,
    pub out_dir: PathBuf,
    pub machine: String,
    pub quiet: bool,
}

/// Processes per variant per bench without `--repeats`: six, the fewest whose median has a
/// distribution-free interval above 95% (the range of six, 96.9%), as in `harness run`'s
/// rounds; `--quick` runs two.
pub const DEFAULT_REPEATS: u32 = crate::measure::stats::ROUNDS_FOR_TARGET_LEVEL;
pub const QUICK_REPEATS: u32 = 2;

impl BenchPlan {
    pub fn from_args(args: &BenchArgs) -> anyhow::Result<BenchPlan> {
        let mut variants: Vec<BenchVariant> = Vec::new();
        for variant in parse_list(&args.variants, "--variants", BenchVariant::parse)? {
            if !variants.contains(&variant) {
                variants.push(variant);
            }
        }
        let baseline = variants
            .iter()
            .copied()
            .find(|v| v.name() == BENCH_BASELINE)
            .unwrap_or(variants[0]);
        variants.retain(|v| *v != baseline);
        variants.insert(0, baseline);
        let filter = args.filter.as_deref().map(check_filter).transpose()?;
        let repeats = match (args.repeats, args.quick) {
            (Some(0), _) => {
                return Err(usage(
                    "--repeats 0 measures nothing: give at least 1 (6 for a verdict at 96.9%)",
                ))
            }
            (Some(n), _) => n,
            (None, true) => QUICK_REPEATS,
            (None, false) => DEFAULT_REPEATS,
        };
        Ok(BenchPlan {
            variants,
            baseline,
            filter,
            quick: args.quick,
            repeats,
            seed: args.seed,
            out_dir: args.out.clone(),
            machine: args.machine.clone().unwrap_or_else(default_machine_label),
            quiet: args.quiet,
        })
    }

    /// The command line that reproduces this plan, for the results file.
    pub fn command_line(&self) -> Vec<String> {
        let names: Vec<String> = self.variants.iter().map(BenchVariant::name).collect();
        let mut line = vec!["harness".into(), "bench".into(), "--variants".into()];
        line.push(names.join(","));
        if let Some(filter) = &self.filter {
            line.extend(["--filter".into(), filter.clone()]);
        }
        if self.quick {
            line.push("--quick".into());
        }
        line.extend(["--repeats".into(), self.repeats.to_string()]);
        if self.seed != 0 {
            line.extend(["--seed".into(), self.seed.to_string()]);
        }
        line.extend(["--out".into(), self.out_dir.display().to_string()]);
        line
    }
}

/// A filter criterion will accept: a valid regex that cannot be mistaken for a flag.
fn check_filter(filter: &str) -> anyhow::Result<String> {
    if filter.trim().is_empty() {
        return Err(usage(
            "--filter is empty: give a regex over bench ids such as `alloc/` (or leave it out)",
        ));
    }
    if let Some(rest) = filter.strip_prefix('-') {
        return Err(usage(format!(
            "--filter {filter:?} starts with '-', which criterion reads as a flag: write it as `[-]{rest}`"
        )));
    }
    regex::Regex::new(filter)
        .map_err(|e| usage(format!("--filter {filter:?} is not a valid regex: {e}")))?;
    Ok(filter.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_baseline_is_the_run_baseline_without_its_base() {
        assert_eq!(
            crate::matrix::BASELINE.strip_prefix(BENCH_BASELINE),
            Some("-debian")
        );
    }
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn plan(args: &[&str]) -> anyhow::Result<BenchPlan> {
        let argv = ["harness", "bench"].iter().chain(args);
        let Command::Bench(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not bench")
        };
        BenchPlan::from_args(&args)
    }

    fn names(plan: &BenchPlan) -> Vec<String> {
        plan.variants.iter().map(BenchVariant::name).collect()
    }

    #[test]
    fn default_set_has_glibc_system_as_baseline() {
        let p = plan(&[]).unwrap();
        assert_eq!(names(&p), DEFAULT_VARIANTS);
        assert_eq!(p.baseline.name(), "glibc-system");
        assert_eq!(
            p.command_line()[3],
            "glibc-system,musl-system,musl-mimalloc"
        );
    }

    #[test]
    fn baseline_moves_first_and_duplicates_go() {
        let p = plan(&["--variants", "musl-system,glibc-system,musl-system"]).unwrap();
        assert_eq!(names(&p), ["glibc-system", "musl-system"]);
        let p = plan(&["--variants", "musl-jemalloc,glibc-static-system"]).unwrap();
        assert_eq!(p.baseline.name(), "musl-jemalloc");
        assert_eq!(names(&p), ["musl-jemalloc", "glibc-static-system"]);
    }

    #[test]
    fn bad_input_is_a_usage_error_naming_the_value() {
        for (args, needle) in [
            (&["--variants", "musl-tcmalloc"][..], "musl-tcmalloc"),
            (&["--variants", ""][..], "--variants is empty"),
            (&["--variants", "glibc-system,"][..], "--variants"),
            (&["--variants", "musl-system-scratch"][..], "LINK-ALLOCATOR"),
            (&["--filter", "alloc/("][..], "not a valid regex"),
            (&["--filter", " "][..], "--filter is empty"),
            (&["--filter=-x"][..], "starts with '-'"),
            (&["--repeats", "0"][..], "--repeats 0"),
        ] {
            let err = plan(args).unwrap_err();
            assert_eq!(crate::exit_code(&err), 2, "{args:?}");
            assert!(err.to_string().contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn every_variant_name_parses_back() {
        let all = BenchVariant::all();
        assert_eq!(all.len(), 9);
        for v in all {
            assert_eq!(BenchVariant::parse(&v.name()), Ok(v));
        }
    }
}

//! Arguments → a checked, typed plan, before any side effect.
//!
//! Every value a user can get wrong dies here with one line naming it and what is accepted,
//! so a bad command never half-builds anything. This module owns parsing of durations,
//! lists and variant globs; it does not touch Docker, cargo or the file system beyond
//! reading the app's manifest.

use crate::app::AppSpec;
use crate::cli::{BuildArgs, RunArgs, Selection};
use crate::error::usage;
use crate::matrix::Variant;
use crate::results::AppKind;
use std::path::PathBuf;
use std::time::Duration;

/// The most open connections a load window may use.
pub const MAX_CONCURRENCY: u32 = 4096;
/// The longest load window or warm-up.
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub app: AppSpec,
    pub variants: Vec<Variant>,
    pub cold: bool,
    pub images: bool,
}

#[derive(Debug, Clone)]
pub struct RunPlan {
    pub app: AppSpec,
    pub variants: Vec<Variant>,
    pub runtime: Option<String>,
    pub runs: u32,
    pub warmup: Duration,
    pub duration: Duration,
    pub concurrency: Vec<u32>,
    pub endpoints: Vec<String>,
    pub rate: Option<u64>,
    /// json-cruncher thread counts.
    pub threads: Vec<u32>,
    pub dataset_mb: f64,
    pub ready_timeout: Duration,
    pub memory_limit: Option<u64>,
    /// The longest one Docker API call may take before it counts as failed and is retried.
    pub docker_timeout: Duration,
    /// Run even when another run holds the daemon's lock.
    pub allow_concurrent: bool,
    pub out_dir: PathBuf,
    pub machine: String,
    pub json: bool,
    pub quiet: bool,
}

/// The endpoints the http app serves, with the method and body each takes.
pub const ENDPOINTS: [&str; 3] = ["/plaintext", "/json", "/parse"];

impl BuildPlan {
    pub fn from_args(args: &BuildArgs) -> anyhow::Result<BuildPlan> {
        let (app, variants) = select(&args.selection)?;
        Ok(BuildPlan {
            app,
            variants,
            cold: args.cold,
            images: !args.no_images,
        })
    }
}

impl RunPlan {
    pub fn from_args(args: &RunArgs) -> anyhow::Result<RunPlan> {
        let (app, variants) = select(&args.selection)?;
        let runtime = match args.runtime.as_deref() {
            None => None,
            Some(r @ ("docker" | "native")) => Some(r.to_string()),
            Some(other) => {
                return Err(usage(format!(
                    "unknown runtime {other:?}: expected `docker` or `native`"
                )))
            }
        };
        if args.runs == 0 || args.runs > 10_000 {
            return Err(usage(format!("--runs {}: expected 1 to 10000", args.runs)));
        }
        let concurrency = parse_list(&args.concurrency, "--concurrency", |s| {
            let n: u32 = s
                .parse()
                .map_err(|_| format!("{s:?} is not a whole number"))?;
            if n == 0 || n > MAX_CONCURRENCY {
                return Err(format!(
                    "{n} is out of range: expected 1 to {MAX_CONCURRENCY}"
                ));
            }
            Ok(n)
        })?;
        let endpoints = parse_list(&args.endpoints, "--endpoints", |s| {
            ENDPOINTS
                .contains(&s)
                .then(|| s.to_string())
                .ok_or_else(|| {
                    format!(
                        "unknown endpoint {s:?}: expected one of {}",
                        ENDPOINTS.join(", ")
                    )
                })
        })?;
        let max_threads = 1024;
        let threads = if args.threads.is_empty() {
            (1..=available_cpus()).collect()
        } else {
            parse_list(&args.threads, "--threads", |s| match s.parse::<u32>() {
                Ok(n) if (1..=max_threads).contains(&n) => Ok(n),
                _ => Err(format!(
                    "{s:?} is not a thread count from 1 to {max_threads}"
                )),
            })?
        };
        if let Some(0) = args.rate {
            return Err(usage("--rate 0: expected at least 1 request/s"));
        }
        if !(args.dataset_mb > 0.0 && args.dataset_mb <= 4096.0) {
            return Err(usage(format!(
                "--dataset-mb {}: expected more than 0 and at most 4096",
                args.dataset_mb
            )));
        }
        let mut plan = RunPlan {
            app,
            variants,
            runtime,
            runs: args.runs,
            warmup: parse_duration(&args.warmup, "--warmup", true)?,
            duration: parse_duration(&args.duration, "--duration", false)?,
            concurrency,
            endpoints,
            rate: args.rate,
            threads,
            dataset_mb: args.dataset_mb,
            ready_timeout: parse_duration(&args.ready_timeout, "--ready-timeout", false)?,
            memory_limit: args.memory_limit.as_deref().map(parse_bytes).transpose()?,
            docker_timeout: parse_docker_timeout(&args.docker_timeout)?,
            allow_concurrent: args.allow_concurrent,
            out_dir: args.out.clone(),
            machine: args.machine.clone().unwrap_or_else(default_machine_label),
            json: args.json,
            quiet: args.quiet || args.json,
        };
        if args.quick {
            plan.make_quick();
        }
        Ok(plan)
    }

    /// `--quick`: the same shape of run, shortened to finish in well under two minutes.
    fn make_quick(&mut self) {
        self.runs = self.runs.min(5);
        self.warmup = self.warmup.min(Duration::from_millis(300));
        self.duration = self.duration.min(Duration::from_millis(700));
        self.concurrency.retain(|&c| c <= 16);
        if self.concurrency.is_empty() {
            self.concurrency.push(16);
        }
        self.threads = vec![1, available_cpus()];
        self.threads.dedup();
        self.dataset_mb = self.dataset_mb.min(2.0);
    }

    pub fn is_server(&self) -> bool {
        self.app.kind == AppKind::Server
    }
}

/// The app and the variants a selection names, checked.
pub fn select(selection: &Selection) -> anyhow::Result<(AppSpec, Vec<Variant>)> {
    let app = AppSpec::resolve(&selection.app)?;
    let variants = if selection.variants.is_empty() {
        match selection.matrix.as_str() {
            "default" => Variant::default_set(),
            "full" => Variant::all_valid(),
            other => {
                return Err(usage(format!(
                    "unknown --matrix {other:?}: expected `default` or `full`"
                )))
            }
        }
    } else {
        resolve_variants(&selection.variants).map_err(usage)?
    };
    Ok((app, variants))
}

/// Names or globs → variants, in matrix order, without duplicates.
pub fn resolve_variants(patterns: &[String]) -> Result<Vec<Variant>, String> {
    let mut chosen = Vec::new();
    for raw in patterns {
        let pattern = raw.trim();
        if pattern.is_empty() {
            return Err(
                "--variants has an empty entry: give names or globs separated by commas".into(),
            );
        }
        let matched: Vec<Variant> = if pattern.contains(['*', '?', '[']) {
            let glob = glob::Pattern::new(pattern)
                .map_err(|e| format!("--variants {pattern:?} is not a valid glob: {e}"))?;
            let matched: Vec<Variant> = Variant::all_valid()
                .into_iter()
                .filter(|v| glob.matches(&v.name()))
                .collect();
            if matched.is_empty() {
                return Err(format!(
                    "--variants {pattern:?} matches no valid variant (see `harness variants`)"
                ));
            }
            matched
        } else {
            let variant: Variant = pattern
                .parse()
                .map_err(|e: crate::matrix::UnknownVariant| e.to_string())?;
            if let Some(reason) = variant.invalid_reason() {
                return Err(format!("variant {pattern} cannot run: {reason}"));
            }
            vec![variant]
        };
        chosen.extend(matched);
    }
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

/// A comma list where every entry must parse; errors name the flag and the entry.
pub fn parse_list<T>(
    items: &[String],
    flag: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<Vec<T>> {
    if items.is_empty() || items.iter().all(|s| s.trim().is_empty()) {
        return Err(usage(format!("{flag} is empty: give at least one value")));
    }
    items
        .iter()
        .map(|s| parse(s.trim()).map_err(|e| usage(format!("{flag}: {e}"))))
        .collect()
}

/// `1s`, `500ms`, `2m`… within (0, 1h], or zero where `allow_zero`.
pub fn parse_duration(text: &str, flag: &str, allow_zero: bool) -> anyhow::Result<Duration> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        usage(format!(
            "{flag} {text:?} is not a duration ({e}): expected e.g. 500ms, 3s or 1m"
        ))
    })?;
    if d > MAX_WINDOW || (d.is_zero() && !allow_zero) {
        let low = if allow_zero { "0s" } else { "more than 0s" };
        return Err(usage(format!(
            "{flag} {text:?} is out of range: expected {low} up to 1h"
        )));
    }
    Ok(d)
}

/// `--docker-timeout`: whole seconds (the client's granularity) from 1 s to 10 min.
pub fn parse_docker_timeout(text: &str) -> anyhow::Result<Duration> {
    let d = parse_duration(text, "--docker-timeout", false)?;
    if d.subsec_nanos() != 0 || d > Duration::from_secs(600) {
        return Err(usage(format!(
            "--docker-timeout {text:?}: expected whole seconds from 1s to 10m"
        )));
    }
    Ok(d)
}

/// `512MiB`, `1GiB`, `100MB`, or plain bytes.
pub fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    match number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
    {
        Some(bytes) if bytes >= 6 << 20 => Ok(bytes),
        _ => Err(usage(format!(
            "memory limit {text:?}: expected a size of at least 6MiB such as 512MiB or 1GiB"
        ))),
    }
}

/// How many CPUs this process may use.
pub fn available_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

pub fn default_machine_label() -> String {
    format!("{}-core {}", available_cpus(), std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn globs_and_names_resolve_in_matrix_order() {
        let v = resolve_variants(&strings(&[
            "musl-*-scratch",
            "glibc-system-debian",
            "musl-system-scratch",
        ]))
        .unwrap();
        let names: Vec<_> = v.iter().map(Variant::name).collect();
        assert_eq!(
            names,
            [
                "glibc-system-debian",
                "musl-system-scratch",
                "musl-mimalloc-scratch",
                "musl-jemalloc-scratch"
            ]
        );
    }

    #[test]
    fn bad_selections_say_what_is_wrong() {
        let e = resolve_variants(&strings(&["zig-*"])).unwrap_err();
        assert!(e.contains("matches no valid variant"), "{e}");
        let e = resolve_variants(&strings(&["glibc-system-scratch"])).unwrap_err();
        assert!(e.contains("cannot run"), "{e}");
        assert!(resolve_variants(&strings(&[""])).is_err());
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(
            parse_duration("500ms", "--d", false).unwrap(),
            Duration::from_millis(500)
        );
        for bad in ["-1s", "10x", "9999999h", "0s", ""] {
            let e = parse_duration(bad, "--duration", false)
                .unwrap_err()
                .to_string();
            assert!(e.contains("--duration"), "{bad}: {e}");
        }
        assert!(parse_duration("0s", "--warmup", true).is_ok());
    }

    #[test]
    fn docker_timeouts_are_whole_seconds_up_to_ten_minutes() {
        assert_eq!(
            parse_docker_timeout("30s").unwrap(),
            Duration::from_secs(30)
        );
        for bad in ["500ms", "0s", "11m", "1.5s", "x"] {
            let e = parse_docker_timeout(bad).unwrap_err().to_string();
            assert!(e.contains("--docker-timeout"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1GB").unwrap(), 1_000_000_000);
        for bad in ["12", "lots", "-5MiB", "99999999999999999GiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn duration_parser_never_panics(s in ".{0,20}") {
            let _ = parse_duration(&s, "--d", false);
        }

        #[test]
        fn variant_resolver_never_panics_and_returns_valid(s in "[a-z*?-]{0,30}") {
            if let Ok(v) = resolve_variants(&[s]) {
                prop_assert!(v.iter().all(|v| v.invalid_reason().is_none()));
            }
        }

        #[test]
        fn list_parser_names_the_flag(items in proptest::collection::vec(".{0,8}", 0..5)) {
            if let Err(e) = parse_list(&items, "--concurrency", |s| s.parse::<u32>().map_err(|e| e.to_string())) {
                prop_assert!(e.to_string().contains("--concurrency"));
            }
        }
    }
}

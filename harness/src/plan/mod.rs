//! Arguments → a checked, typed plan, before any side effect.
//!
//! Every value a user can get wrong dies here with one line naming it and what is accepted,
//! so a bad command never half-builds anything. This module owns parsing of durations,
//! lists and variant globs; it does not touch Docker, cargo or the file system beyond
//! reading the app's manifest.

pub mod bench;
pub mod calibrate;
pub mod check;
pub mod profile;
mod selection;

use crate::app::{AppSpec, RequestSpec};
use crate::cli::{BuildArgs, RunArgs};
use crate::error::usage;
use crate::matrix::Variant;
use crate::results::AppKind;
use crate::runtime::RuntimeKind;
pub use selection::select;
use selection::{choose_requests, choose_threads};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::measure::loadgen::MAX_CONCURRENCY;
/// The most load rounds a run may have.
pub const MAX_ROUNDS: u32 = 100;
/// The longest load window or warm-up.
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub app: AppSpec,
    pub variants: Vec<Variant>,
    /// `--cold`: measure build time over `rounds` rounds into `out`.
    pub cold: bool,
    pub images: bool,
    pub rounds: u32,
    pub seed: u64,
    pub out: PathBuf,
}

#[derive(Debug, Clone)]
pub struct RunPlan {
    pub app: AppSpec,
    pub variants: Vec<Variant>,
    /// `None`: docker when a daemon answers, else native.
    pub runtime: Option<RuntimeKind>,
    pub runs: u32,
    /// Load rounds: every cell once per variant per round.
    pub rounds: u32,
    /// Measure the baseline again as an A/A control arm (`--no-control` turns it off).
    pub control: bool,
    /// `--target-ci`: add rounds until every cell's rps interval half-width is at most this
    /// percent of its median.
    pub target_ci: Option<f64>,
    /// The most rounds `--target-ci` may add up to.
    pub max_rounds: u32,
    pub warmup: Duration,
    pub duration: Duration,
    pub concurrency: Vec<u32>,
    /// The app's requests that `--endpoints` kept (all of them by default).
    pub requests: Vec<RequestSpec>,
    pub rate: Option<u64>,
    /// Batch thread counts (`{threads}` in the app's args); one entry, the CPUs the app may
    /// use, when its args take no thread count.
    pub threads: Vec<u32>,
    pub dataset_mb: f64,
    pub ready_timeout: Duration,
    pub memory_limit: Option<u64>,
    /// `--fresh-node`: repetitions per variant on a fresh daemon.
    pub fresh_node: Option<u32>,
    /// The longest one Docker API call may take before it counts as failed and is retried.
    pub docker_timeout: Duration,
    /// `--oci-runtime`: the daemon's registered runtime every container runs under.
    pub oci_runtime: Option<String>,
    /// `--oci-runtime A,B,…`: the runtimes after the first, each an arm of every variant.
    pub runtime_arms: Vec<String>,
    /// Run even when another run holds the daemon's lock.
    pub allow_concurrent: bool,
    /// `--allow-partial`: exit 0 when some variants failed.
    pub allow_partial: bool,
    /// Who measures what touches the app (`--agent`).
    pub agent: crate::measure::AgentMode,
    pub out_dir: PathBuf,
    pub machine: String,
    pub json: bool,
    pub quiet: bool,
}

impl BuildPlan {
    pub fn from_args(args: &BuildArgs) -> anyhow::Result<BuildPlan> {
        let (app, variants) = select(&args.selection)?;
        if !args.no_images {
            docker_host()?;
            crate::labels::check_namespace().map_err(usage)?;
        }
        if args.cold {
            if args.rounds == 0 {
                return Err(usage(
                    "--rounds must be at least 1 (3 or more give each figure an interval)",
                ));
            }
            crate::results::check_writable(&args.out, 256 * 1024)?;
        }
        Ok(BuildPlan {
            app,
            variants,
            cold: args.cold,
            images: !args.no_images,
            rounds: args.rounds,
            seed: args.seed,
            out: args.out.clone(),
        })
    }
}

impl RunPlan {
    pub fn from_args(args: &RunArgs) -> anyhow::Result<RunPlan> {
        let (app, variants) = select(&args.selection)?;
        let runtime = match args.runtime {
            // Setting DOCKER_HOST chooses docker: failing over to native would measure
            // something other than what the user pointed at.
            None => docker_host()?.map(|_| RuntimeKind::Docker),
            Some(RuntimeKind::Docker) => docker_host().map(|_| Some(RuntimeKind::Docker))?,
            Some(RuntimeKind::Native) => Some(RuntimeKind::Native),
        };
        crate::labels::check_namespace().map_err(usage)?;
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
        let requests = choose_requests(&app, &args.endpoints)?;
        let threads = choose_threads(&app, &args.threads)?;
        if args.rounds == 0 || args.rounds > MAX_ROUNDS || args.max_rounds > MAX_ROUNDS {
            return Err(usage(format!(
                "--rounds {} / --max-rounds {}: expected 1 to {MAX_ROUNDS}",
                args.rounds, args.max_rounds
            )));
        }
        if let Some(p) = args
            .target_ci
            .filter(|p| !(p.is_finite() && *p > 0.0 && *p < 100.0))
        {
            return Err(usage(format!(
                "--target-ci {p}: expected a percentage above 0 and below 100"
            )));
        }
        if let Some(0) = args.rate {
            return Err(usage("--rate 0: expected at least 1 request/s"));
        }
        if !(args.dataset_mb > 0.0 && args.dataset_mb <= 4096.0) {
            return Err(usage(format!(
                "--dataset-mb {}: expected more than 0 and at most 4096",
                args.dataset_mb
            )));
        }
        let oci_runtimes = oci_runtime(args, runtime)?;
        let mut plan = RunPlan {
            app,
            variants,
            runtime,
            runs: args.runs,
            rounds: args.rounds,
            control: !args.no_control,
            target_ci: args.target_ci,
            max_rounds: args.max_rounds,
            warmup: parse_duration(&args.warmup, "--warmup", true)?,
            duration: parse_duration(&args.duration, "--duration", false)?,
            concurrency,
            requests,
            rate: args.rate,
            threads,
            dataset_mb: args.dataset_mb,
            ready_timeout: parse_duration(&args.ready_timeout, "--ready-timeout", false)?,
            memory_limit: match args.memory_limit.as_str() {
                "none" => None,
                limit => Some(parse_bytes(limit)?),
            },
            fresh_node: fresh_node_runs(args, &crate::runtime::docker_client::host())?,
            docker_timeout: parse_docker_timeout(&args.docker_timeout)?,
            oci_runtime: oci_runtimes.first().cloned(),
            runtime_arms: oci_runtimes.iter().skip(1).cloned().collect(),
            allow_concurrent: args.allow_concurrent,
            allow_partial: args.allow_partial,
            agent: args.agent,
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
        self.rounds = self.rounds.min(3);
        self.warmup = self.warmup.min(Duration::from_millis(200));
        self.duration = self.duration.min(Duration::from_millis(500));
        // Higher concurrencies become 16, the highest a quick run keeps.
        let capped = self.concurrency.iter().any(|&c| c > 16);
        self.concurrency.retain(|&c| c <= 16);
        if (capped || self.concurrency.is_empty()) && !self.concurrency.contains(&16) {
            self.concurrency.push(16);
        }
        if self.threads.len() > 1 {
            self.threads = vec![1, available_cpus()];
            self.threads.dedup();
        }
        self.dataset_mb = self.dataset_mb.min(2.0);
    }

    pub fn is_server(&self) -> bool {
        self.app.kind == AppKind::Server
    }
}

/// The `--docker-host` values, checked for shape, and the flags that go with them.
pub fn check_docker_hosts(args: &RunArgs) -> anyhow::Result<()> {
    use crate::runtime::docker_client::check_host;
    for host in &args.docker_hosts {
        check_host(host).map_err(|e| usage(e.replacen("DOCKER_HOST", "--docker-host", 1)))?;
        // A socket path given on the command line that is not there is a typo or an engine
        // not started: bad input, named before anything is built. (A daemon that does not
        // answer on a socket that is there stays a prerequisite error, exit 3.)
        if let Some(path) = host.strip_prefix("unix://") {
            if !std::path::Path::new(path).exists() {
                return Err(usage(format!(
                    "--docker-host {host}: there is no socket at {path}: start the engine there (`dockerd -H {host}`, `podman system service {host}`, or `scripts/engine dockerd|podman DIR`, which prints its socket) or fix the path"
                )));
            }
        }
    }
    if !args.docker_hosts.is_empty() && args.runtime == Some(RuntimeKind::Native) {
        return Err(usage(
            "--docker-host runs on Docker daemons: drop --runtime native",
        ));
    }
    if (args.spread || args.replicate) && args.docker_hosts.len() < 2 {
        return Err(usage(
            "--spread and --replicate share a run among daemons: give two or more --docker-host",
        ));
    }
    if args.docker_hosts.len() > 1 && args.fresh_node {
        return Err(usage(
            "--fresh-node measures this machine's daemon: use it with one --docker-host at most",
        ));
    }
    Ok(())
}

/// `DOCKER_HOST`, checked for shape, when set.
fn docker_host() -> anyhow::Result<Option<String>> {
    use crate::runtime::docker_client::{check_host, host_from_env};
    host_from_env()
        .map(|host| check_host(&host).map(|()| host).map_err(usage))
        .transpose()
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
            let glob = variant_glob(pattern)
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

/// A variant-name glob. Names have no `/`, so a run of `*` means what one `*` does (the
/// glob crate would refuse `**` that is not a whole path component).
fn variant_glob(pattern: &str) -> Result<glob::Pattern, glob::PatternError> {
    let mut collapsed = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if !(c == '*' && collapsed.ends_with('*')) {
            collapsed.push(c);
        }
    }
    glob::Pattern::new(&collapsed)
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
/// `--oci-runtime A[,B,…]`: the run's runtime, then the runtimes each variant also gets an
/// arm under, for a run on a daemon (whether the daemon has them is checked when the run
/// connects, before anything is built).
fn oci_runtime(args: &RunArgs, runtime: Option<RuntimeKind>) -> anyhow::Result<Vec<String>> {
    let names = &args.oci_runtime;
    if names.iter().any(|n| n.trim().is_empty()) {
        return Err(usage(
            "--oci-runtime: give a runtime's name (`runc`, `crun`)",
        ));
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    if runtime == Some(RuntimeKind::Native) {
        return Err(usage(
            "--oci-runtime: a native run starts no container; drop --runtime native",
        ));
    }
    if args.fresh_node {
        return Err(usage(
            "--oci-runtime with --fresh-node: the fresh-node daemon runs its default runtime only; measure the runtime without --fresh-node",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(usage(format!(
            "--oci-runtime {}: {twice} is named twice; name each runtime once",
            names.join(",")
        )));
    }
    Ok(names.clone())
}

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
            "memory limit {text:?}: expected a size of at least 6MiB such as 512MiB or 1GiB, or `none`"
        ))),
    }
}

/// `--fresh-node` checked: the docker runtime on a daemon on this machine (the fresh node is
/// a second daemon here, pushed to from the main one), and a sane repetition count.
fn fresh_node_runs(args: &RunArgs, docker_host: &str) -> anyhow::Result<Option<u32>> {
    if !args.fresh_node {
        return Ok(None);
    }
    if args.runtime == Some(RuntimeKind::Native) {
        return Err(usage(
            "--fresh-node measures pulling an image on a fresh Docker daemon: drop --runtime native",
        ));
    }
    if !crate::runtime::docker_client::is_local(docker_host) {
        return Err(usage(format!(
            "--fresh-node needs the Docker daemon on this machine, but DOCKER_HOST={docker_host} is remote: the fresh daemon and the registry are started here (unset DOCKER_HOST, or drop --fresh-node)"
        )));
    }
    if !(1..=100).contains(&args.fresh_node_runs) {
        return Err(usage(format!(
            "--fresh-node-runs {}: expected 1 to 100",
            args.fresh_node_runs
        )));
    }
    Ok(Some(args.fresh_node_runs))
}

pub use crate::runtime::pinning::available_cpus;

pub fn default_machine_label() -> String {
    format!("{}-core {}", available_cpus(), std::env::consts::ARCH)
}

#[cfg(test)]
mod tests;

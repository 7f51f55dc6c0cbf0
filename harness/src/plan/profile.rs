//! `harness profile` arguments → a checked `ProfilePlan`, before anything is built or run.

use super::selection::{choose_requests, select};
use super::{available_cpus, parse_duration};
use crate::app::{AppSpec, RequestSpec};
use crate::cli::ProfileArgs;
use crate::error::usage;
use crate::matrix::Variant;
use crate::runtime::RuntimeKind;
use std::path::PathBuf;
use std::time::Duration;

/// The variants profiled when `--variants` is not given: the baseline and the two musl
/// variants the report's "Why" section explains.
pub const DEFAULT_VARIANTS: [&str; 3] = [
    "glibc-system-debian",
    "musl-system-scratch",
    "musl-mimalloc-scratch",
];

/// What one `harness profile` does.
#[derive(Debug, Clone)]
pub struct ProfilePlan {
    pub app: AppSpec,
    pub variants: Vec<Variant>,
    /// `None`: docker.
    pub runtime: Option<RuntimeKind>,
    pub workload: Workload,
    /// Each variant is sampled once per round, in interleaved order.
    pub rounds: u32,
    pub ready_timeout: Duration,
    pub out_dir: PathBuf,
    /// Without the daemon's run lock.
    pub allow_concurrent: bool,
    /// `--allow-partial`: exit 0 when some variants failed.
    pub allow_partial: bool,
}

/// What runs while perf samples.
#[derive(Debug, Clone)]
pub enum Workload {
    Server {
        request: RequestSpec,
        concurrency: u32,
        duration: Duration,
    },
    Batch {
        threads: u32,
        dataset_mb: f64,
    },
}

impl ProfilePlan {
    pub fn from_args(args: &ProfileArgs) -> anyhow::Result<ProfilePlan> {
        let mut selection = args.selection.clone();
        if selection.variants.is_empty() && selection.matrix == crate::matrix::MatrixChoice::Default
        {
            selection.variants = DEFAULT_VARIANTS.iter().map(|s| s.to_string()).collect();
        }
        let (app, variants) = select(&selection)?;
        if let Some(bad) = variants.iter().find(|v| v.invalid_reason().is_some()) {
            return Err(usage(format!(
                "{bad} cannot run: {}",
                bad.invalid_reason().unwrap_or_default()
            )));
        }
        let runtime = args.runtime;
        // perf samples this machine's processes: a daemon elsewhere runs the app out of reach.
        let host = crate::runtime::docker_client::host();
        if runtime != Some(RuntimeKind::Native) && !crate::runtime::docker_client::is_local(&host) {
            return Err(usage(format!(
                "harness profile samples with this machine's perf, but the Docker daemon at {host} is on another machine: run `harness profile` on that host, or pass `--runtime native`"
            )));
        }
        let workload = if app.server().is_some() {
            if args.threads.is_some() {
                return Err(usage(format!(
                    "--threads: {} is a server; use --request and --concurrency",
                    app.name
                )));
            }
            let requests =
                choose_requests(&app, &args.request.iter().cloned().collect::<Vec<_>>())?;
            let request = requests
                .into_iter()
                .next()
                .ok_or_else(|| usage(format!("{} has no requests to load", app.name)))?;
            if args.concurrency == 0 {
                return Err(usage("--concurrency must be at least 1".to_string()));
            }
            Workload::Server {
                request,
                concurrency: args.concurrency,
                duration: parse_duration(&args.duration, "--duration", false)?,
            }
        } else {
            if args.request.is_some() {
                return Err(usage(format!(
                    "--request: {} is a batch app, which takes no requests; use --threads",
                    app.name
                )));
            }
            let threads = args.threads.unwrap_or_else(available_cpus);
            if threads == 0 {
                return Err(usage("--threads must be at least 1".to_string()));
            }
            Workload::Batch {
                threads,
                dataset_mb: args.dataset_mb,
            }
        };
        if args.rounds == 0 {
            return Err(usage("--rounds must be at least 1".to_string()));
        }
        Ok(ProfilePlan {
            app,
            variants,
            runtime,
            workload,
            rounds: args.rounds,
            ready_timeout: parse_duration(&args.ready_timeout, "--ready-timeout", false)?,
            out_dir: args.out.clone(),
            allow_concurrent: args.allow_concurrent,
            allow_partial: args.allow_partial,
        })
    }
}

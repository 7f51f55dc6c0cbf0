//! `harness check` arguments → a checked `CheckPlan`, before anything is built or run.

use super::parse_duration;
use super::selection::select;
use crate::app::{AppSpec, RequestSpec};
use crate::cli::CheckArgs;
use crate::error::usage;
use crate::matrix::Variant;
use std::path::PathBuf;
use std::time::Duration;

/// What one `harness check` does.
#[derive(Debug, Clone)]
pub struct CheckPlan {
    pub app: AppSpec,
    pub variants: Vec<Variant>,
    pub workload: Workload,
    pub ready_timeout: Duration,
    /// An image to check instead of building the (one) variant's.
    pub image: Option<String>,
    /// Where to write the Dockerfile that fixes the (one) variant.
    pub dockerfile: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub allow_concurrent: bool,
    /// `--allow-partial`: exit 0 when some variants failed.
    pub allow_partial: bool,
}

/// What the app is driven with while it is traced: `run`'s own workload, shortened.
#[derive(Debug, Clone)]
pub enum Workload {
    /// Every request of the app, each sent for `duration` on one connection.
    Server {
        requests: Vec<RequestSpec>,
        duration: Duration,
    },
    /// One job.
    Batch { threads: u32, dataset_mb: f64 },
}

impl Workload {
    /// As the results file and the table say it.
    pub fn describe(&self) -> String {
        match self {
            Workload::Server { requests, duration } => format!(
                "each request for {}: {}",
                humantime::format_duration(*duration),
                requests
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Workload::Batch {
                threads,
                dataset_mb,
            } => format!("one job, {threads} threads, {dataset_mb} MB"),
        }
    }
}

impl CheckPlan {
    pub fn from_args(args: &CheckArgs) -> anyhow::Result<CheckPlan> {
        let (app, variants) = select(&args.selection)?;
        if let Some(bad) = variants.iter().find(|v| v.invalid_reason().is_some()) {
            return Err(usage(format!(
                "{bad} cannot run: {}",
                bad.invalid_reason().unwrap_or_default()
            )));
        }
        let single = |option: &str| {
            usage(format!(
                "{option} applies to one variant: name it with --variants (got {})",
                variants.len()
            ))
        };
        if args.image.is_some() && variants.len() != 1 {
            return Err(single("--image"));
        }
        if args.dockerfile.is_some() && variants.len() != 1 {
            return Err(single("--dockerfile"));
        }
        if args.dockerfile.is_some() && args.image.is_some() {
            return Err(usage(
                "--dockerfile writes the stage of a variant the check builds; leave out --image"
                    .to_string(),
            ));
        }
        if let Some(path) = &args.dockerfile {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if dir.is_some_and(|d| !d.is_dir()) || path.is_dir() {
                return Err(usage(format!(
                    "--dockerfile {}: its directory must exist, and it must name a file",
                    path.display()
                )));
            }
        }
        let workload = match app.server() {
            Some(server) => {
                if server.requests.is_empty() {
                    return Err(usage(format!("{} has no requests to send", app.name)));
                }
                Workload::Server {
                    requests: server
                        .requests
                        .iter()
                        .chain(&server.check_requests)
                        .cloned()
                        .collect(),
                    duration: parse_duration(&args.duration, "--duration", false)?,
                }
            }
            None => {
                if args.threads == 0 {
                    return Err(usage("--threads must be at least 1".to_string()));
                }
                Workload::Batch {
                    threads: args.threads,
                    dataset_mb: args.dataset_mb,
                }
            }
        };
        // The tracer's trace is read from a directory the daemon's host mounts.
        let host = crate::runtime::docker_client::host();
        if !crate::runtime::docker_client::is_local(&host) {
            return Err(usage(format!(
                "harness check reads its trace from a directory bind-mounted into the app's container, and the Docker daemon at {host} is on another machine: run `harness check` on that host"
            )));
        }
        Ok(CheckPlan {
            app,
            variants,
            workload,
            ready_timeout: parse_duration(&args.ready_timeout, "--ready-timeout", false)?,
            image: args.image.clone(),
            dockerfile: args.dockerfile.clone(),
            out_dir: args.out.clone(),
            allow_concurrent: args.allow_concurrent,
            allow_partial: args.allow_partial,
        })
    }
}

//! The command line, as clap derive structs; nothing else lives here.
//!
//! Closed choices are typed here (`--runtime`, `--matrix`, `--client`, `--agent`); values
//! that need checking against each other or the matrix stay strings, and `plan` turns them
//! into typed, validated settings before anything runs.

use crate::matrix::MatrixChoice;
use crate::measure::loadgen::Client;
use crate::measure::AgentMode;
use crate::runtime::RuntimeKind;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about = "glibc or musl, debian or scratch: build, run and measure every variant of an app"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the variant matrix: every variant, whether it can run, and the default set.
    Variants(VariantsArgs),
    /// Build the binaries and images of an app's variants and print what each cost.
    Build(BuildArgs),
    /// Build, run and measure an app's variants; print a table and write a results file.
    Run(Box<RunArgs>),
    /// Check the prerequisites (Docker, musl target, musl-gcc, mmdebstrap, base image).
    Doctor(DoctorArgs),
    /// Remove the containers and images the harness created (found by its labels only).
    Clean(CleanArgs),
    /// Render REPORT.md, index.html and the plots from results files.
    Report(ReportArgs),
    /// Measure the built-in load generator against wrk on a pinned http-server.
    Calibrate(CalibrateArgs),
    /// Compare two results files per variant and metric, and say which changes are beyond noise.
    Compare(CompareArgs),
    /// Run the criterion benches once per link-allocator variant and compare them to a baseline.
    Bench(BenchArgs),
    /// Sample each variant with perf under one load window (server) or one job (batch):
    /// flame graphs, and the CPU split into allocator, locks, memory mapping, copies, network.
    Profile(ProfileArgs),
    /// Will it run in scratch? Trace each variant in its image under the app's workload:
    /// the files it reached for and missed (CA roots, time zones, users…) with their fixes,
    /// and its failures beside the baseline's.
    Check(CheckArgs),
    /// The measuring agent (started by the harness in a container on the daemon's host).
    #[command(hide = true)]
    Agent,
    /// Run a program under the check's tracer (started by the harness inside an image).
    #[command(hide = true)]
    Trace(TraceArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Server: how long each of the app's requests is sent (one connection at a time).
    #[arg(long, default_value = "1s", allow_hyphen_values = true)]
    pub duration: String,
    /// Batch: the job's thread count.
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// Batch dataset size in MB, for apps whose args take `{dataset_mb}`.
    #[arg(long, default_value_t = 1.0)]
    pub dataset_mb: f64,
    /// How long a server may take to become ready (traced, it starts slower).
    #[arg(long, default_value = "60s", allow_hyphen_values = true)]
    pub ready_timeout: String,
    /// Check this image instead of building the variant's (one variant only): for an image
    /// built from the Dockerfile `--dockerfile` wrote, or any image of the app.
    #[arg(long, value_name = "TAG")]
    pub image: Option<String>,
    /// Write the runtime stage of the one variant checked, which copies in the files the
    /// check found missing (from this machine), to this path; its build context is the
    /// path's directory.
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,
    /// Where `checks/<app>-<time>.json` goes.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Check even when a run holds this daemon's lock.
    #[arg(long)]
    pub allow_concurrent: bool,
    /// Exit 0 even when some variants failed (their steps are still named, and every result
    /// kept); without it such a run exits 4.
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Where the trace's lines go (JSON, one object a line).
    #[arg(long)]
    pub out: PathBuf,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// `docker` (default when a daemon answers) or `native` (child processes).
    #[arg(long)]
    pub runtime: Option<RuntimeKind>,
    /// Server: the request to load, by name or path (default: the app's first; http: /plaintext).
    #[arg(long)]
    pub request: Option<String>,
    /// Server: open connections during the sampled window.
    #[arg(long, default_value_t = 16)]
    pub concurrency: u32,
    /// Batch: the thread count of the sampled job (default: every CPU).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Batch dataset size in MB, for apps whose args take `{dataset_mb}` (larger than
    /// `run`'s 8, so the job lasts long enough to sample).
    #[arg(long, default_value_t = 32.0)]
    pub dataset_mb: f64,
    /// Server: the sampled load window (after a 1 s warm-up that is not sampled).
    #[arg(long, default_value = "5s", allow_hyphen_values = true)]
    pub duration: String,
    /// Each variant is sampled once per round, the variants interleaved (ABCABC): shares are
    /// pooled over every round's samples, and their spread across rounds is published.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// How long a server may take to become ready.
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    pub ready_timeout: String,
    /// Where `profiles/<app>-<time>.json` and `plots/*.svg` go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Profile even when a run holds this daemon's lock (each disturbs the other).
    #[arg(long)]
    pub allow_concurrent: bool,
    /// Exit 0 even when some variants failed (their steps are still named, and every result
    /// kept); without it such a run exits 4.
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(Debug, Args)]
pub struct VariantsArgs {
    /// Also say which variants this app offers: `http`, `json`, or a crate directory.
    #[arg(long)]
    pub app: Option<String>,
    /// The workspace member, when `--app` is a workspace's directory.
    #[arg(long, short = 'p', requires = "app")]
    pub package: Option<String>,
    /// The binary, when the crate has several.
    #[arg(long, requires = "app")]
    pub bin: Option<String>,
}

/// Which app and which variants: shared by `build` and `run`.
#[derive(Debug, Args, Clone)]
pub struct Selection {
    /// The app: `http` (http-server), `json` (json-cruncher), or the directory of any binary
    /// crate (driven by its `[package.metadata.harness]` table, or by defaults).
    #[arg(long)]
    pub app: String,
    /// The workspace member to build, when `--app` is a workspace's directory.
    #[arg(long, short = 'p')]
    pub package: Option<String>,
    /// The binary to build, when the crate has several.
    #[arg(long)]
    pub bin: Option<String>,
    /// A `[package.metadata.harness]` field, over the crate's own table (repeatable):
    /// `--set port=8080`, `--set 'env={ ADDR = "127.0.0.1:{port}" }'`, `--set ready_path=/healthz`,
    /// `--set 'requests=[{ method = "POST", path = "/items", expect_status = 201 }]'`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Comma-separated variant names or globs (`musl-*`); default: the default set.
    #[arg(long, value_delimiter = ',', conflicts_with = "matrix")]
    pub variants: Vec<String>,
    /// `default` (the default set) or `full` (every valid variant).
    #[arg(long, default_value = "default")]
    pub matrix: MatrixChoice,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Measure build time as a team pays it, per variant over --rounds interleaved rounds:
    /// a clean compile (empty target dir), an incremental rebuild after a one-line change
    /// (to a copy of the source), the image without and with the layer cache; writes
    /// `<out>/<app>-<UTC time>.json`.
    #[arg(long)]
    pub cold: bool,
    /// With --cold: rounds, each building every variant once in a shuffled order.
    #[arg(long, default_value_t = 3, requires = "cold")]
    pub rounds: u32,
    /// With --cold: the seed of the rounds' shuffled orders.
    #[arg(long, default_value_t = 0, requires = "cold")]
    pub seed: u64,
    /// With --cold: where the build-time file goes.
    #[arg(long, default_value = "results/builds", requires = "cold")]
    pub out: PathBuf,
    /// Build binaries only, no images (no Docker needed).
    #[arg(long)]
    pub no_images: bool,
    /// Print the build records (with --cold: the build-time file) as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// `docker` (default when a daemon answers) or `native` (child processes).
    #[arg(long)]
    pub runtime: Option<RuntimeKind>,
    /// Cold-start repetitions, interleaved across variants.
    #[arg(long, default_value_t = 20)]
    pub runs: u32,
    /// Load rounds: each round measures every request × concurrency once per variant, the
    /// variants in a shuffled order. From 6 rounds the interval of a median reaches 95%
    /// (96.9%); with fewer it is the rounds' range, at its own lower level.
    #[arg(long, default_value_t = 6)]
    pub rounds: u32,
    /// Leave out the A/A control: by default the baseline is measured twice in every round
    /// (two instances of the same image), and the second arm is reported like a variant.
    #[arg(long)]
    pub no_control: bool,
    /// Keep adding rounds (up to --max-rounds) until every cell's rps interval is within
    /// this many percent of its median.
    #[arg(long, value_name = "PERCENT")]
    pub target_ci: Option<f64>,
    /// The most rounds --target-ci may run.
    #[arg(long, default_value_t = 20)]
    pub max_rounds: u32,
    /// Warm-up before each load window (e.g. `1s`, `500ms`); the servers stay up between
    /// windows, so this only settles the window's connections.
    #[arg(long, default_value = "250ms", allow_hyphen_values = true)]
    pub warmup: String,
    /// Measured load window per request, concurrency and round.
    #[arg(long, default_value = "1s", allow_hyphen_values = true)]
    pub duration: String,
    /// Comma-separated concurrency levels (open connections). The default keeps the run
    /// within about ten minutes with its A/A control and 6 rounds; `1,16,64` is the full grid.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    pub concurrency: Vec<String>,
    /// Comma-separated requests to load, by name or path (default: all the app's requests;
    /// http: /plaintext, /json, /parse).
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// Send at a constant rate (requests/s) and correct for coordinated omission.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Batch thread counts, for apps whose args take `{threads}`; default 1..=nproc.
    #[arg(long, value_delimiter = ',')]
    pub threads: Vec<String>,
    /// Batch dataset size in MB, for apps whose args take `{dataset_mb}`.
    #[arg(long, default_value_t = 8.0)]
    pub dataset_mb: f64,
    /// How long a variant may take to become ready.
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    pub ready_timeout: String,
    /// Container memory limit (e.g. `512MiB`), recorded in the results; `none` for no limit.
    #[arg(long, default_value = "2GiB")]
    pub memory_limit: String,
    /// How long one Docker API call may take before it is retried (image builds: 10 min).
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    pub docker_timeout: String,
    /// The OCI runtime every container runs under (`runc`, `crun`, or any runtime the daemon
    /// has registered; `harness doctor` lists them); default: the daemon's default. With
    /// several (`runc,crun`), each variant is also measured under each runtime after the
    /// first, as arms of its own interleaved in every round and paired with it.
    #[arg(long, value_name = "NAME[,NAME…]", value_delimiter = ',')]
    pub oci_runtime: Vec<String>,
    /// Run even when another run holds this daemon's lock (both runs' numbers suffer).
    #[arg(long)]
    pub allow_concurrent: bool,
    /// Exit 0 even when some variants failed (their steps are still named, and every result
    /// kept); without it such a run exits 4.
    #[arg(long)]
    pub allow_partial: bool,
    /// Who measures the app: `auto` (an agent container on the daemon's host, unless the
    /// daemon is this machine's unix socket), `always` (the agent), `never` (this process).
    #[arg(long, value_enum, default_value_t = AgentMode::Auto)]
    pub agent: AgentMode,
    /// A Docker daemon to run on, instead of DOCKER_HOST (repeatable; hosts run in parallel,
    /// each into `--out/<host>/`): `tcp://HOST:PORT` or `unix:///path/docker.sock`.
    #[arg(long = "docker-host", value_name = "URL")]
    pub docker_hosts: Vec<String>,
    /// With several --docker-host: split the variants across the hosts (each host's numbers
    /// compare only within that host).
    #[arg(long, conflicts_with = "replicate")]
    pub spread: bool,
    /// With several --docker-host: run every variant on every host (the default).
    #[arg(long)]
    pub replicate: bool,
    /// Short everything: 5 runs, 3 rounds of 0.5 s windows, concurrency ≤ 16, one thread
    /// count pair, 2 MB dataset.
    #[arg(long)]
    pub quick: bool,
    /// Also measure time to first response on a fresh node (a throwaway dockerd with an
    /// empty data root, pulling from a local registry). Needs root, dockerd, docker-registry.
    #[arg(long)]
    pub fresh_node: bool,
    /// Fresh-node repetitions per variant, each on a wiped data root (not shortened by --quick).
    #[arg(long, default_value_t = 5, requires = "fresh_node")]
    pub fresh_node_runs: u32,
    /// Where results files go.
    #[arg(long, default_value = "results/runs")]
    pub out: PathBuf,
    /// A label for this machine in the results.
    #[arg(long, env = "HARNESS_MACHINE")]
    pub machine: Option<String>,
    /// Print the results as JSON on stdout (progress still on stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the fixes that are safe to automate (rustup target, Debian packages, base image).
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Only what this run created (the results file's name without `.json`).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Also remove the cached debian base image.
    #[arg(long, conflicts_with = "orphans")]
    pub all: bool,
    /// Only the containers of runs whose process is gone (killed outright), as every run
    /// does when it starts.
    #[arg(long, conflicts_with = "run_id")]
    pub orphans: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Results files (run and bench); default: the newest run per app in results/runs/ and
    /// the newest file in results/bench/.
    pub files: Vec<PathBuf>,
    /// Where REPORT.md, index.html and plots/ go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Open connections, for both load generators.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u32,
    /// Warm-up of the built-in load generator before its window.
    #[arg(long, default_value = "1s")]
    pub warmup: String,
    /// Measured window of each load generator (wrk takes whole seconds).
    #[arg(long, default_value = "5s")]
    pub duration: String,
    /// The CPU the http-server is pinned to.
    #[arg(long, default_value_t = 0)]
    pub server_cpu: usize,
    /// The CPU both load generators are pinned to.
    #[arg(long, default_value_t = 1)]
    pub loadgen_cpu: usize,
    /// Rounds of (built-in, wrk), interleaved; the figures are medians over rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// The built-in load generator's HTTP client: `lean` (the default) or `hyper`.
    #[arg(long, default_value = "lean")]
    pub client: Client,
    /// Use this http-server binary instead of building it (`cargo build --profile dist`).
    #[arg(long)]
    pub server_binary: Option<PathBuf>,
    /// Also measure the measuring agent's load generator (in its container on the local
    /// daemon's host network, pinned to the same CPU) against the same pinned server.
    #[arg(long)]
    pub agent: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The older results file (the reference).
    pub old: PathBuf,
    /// The newer results file.
    pub new: PathBuf,
    /// Exit 5 when a figure of a variant measured in both is worse beyond noise (Holm over
    /// every figure compared, the runs' A/A controls taken into account), by more than PCT
    /// percent when given, or a variant measured in OLD failed in NEW.
    #[arg(
        long,
        value_name = "PCT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "0"
    )]
    pub fail_on_regression: Option<f64>,
    /// Print the comparison as one JSON document (`harness/schema/comparison.schema.json`)
    /// on stdout instead of the table; notes and the gate's lines go to stderr.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Comma-separated LINK-ALLOCATOR variants: LINK glibc|glibc-static|musl, ALLOCATOR
    /// system|mimalloc|jemalloc. The first is compared against glibc-system if listed.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "glibc-system,musl-system,musl-mimalloc"
    )]
    pub variants: Vec<String>,
    /// Only the benches whose id (`group/function/parameter`) matches this regex.
    #[arg(long)]
    pub filter: Option<String>,
    /// Criterion's quick mode (at most 0.5 s per bench, no warm-up) and 2 processes per
    /// variant: for CI and smoke tests, indicative only.
    #[arg(long)]
    pub quick: bool,
    /// Processes per variant per bench, interleaved across variants round by round; a
    /// bench's figure is the median over them [default: 6, or 2 with --quick].
    #[arg(long, value_name = "N")]
    pub repeats: Option<u32>,
    /// Seed of the shuffled order of variants in each round (recorded in the results).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where results files go.
    #[arg(long, default_value = "results/bench")]
    pub out: PathBuf,
    /// A label for this machine in the results.
    #[arg(long, env = "HARNESS_MACHINE")]
    pub machine: Option<String>,
    /// No progress or per-bench lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_parse() {
        let cli = Cli::try_parse_from(["harness", "run", "--app", "http"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.concurrency, ["1", "64"]);
        assert_eq!(args.runs, 20);
    }

    #[test]
    fn bench_defaults_parse() {
        let cli = Cli::try_parse_from(["harness", "bench"]).unwrap();
        let Command::Bench(args) = cli.command else {
            panic!("not bench")
        };
        assert_eq!(
            args.variants,
            ["glibc-system", "musl-system", "musl-mimalloc"]
        );
        assert_eq!(args.out, PathBuf::from("results/bench"));
        assert!(!args.quick && args.filter.is_none());
    }
}

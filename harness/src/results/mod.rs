//! The one results type that every run writes and every report reads, and its atomic writer.
//!
//! The JSON Schema of this file is published at `harness/schema/results.schema.json` and the
//! tests check real output against it. Bump `SCHEMA_VERSION` on any change that an older
//! reader could misread. Metric names carry their unit.

mod bench;

pub use bench::{
    bench_json_schema, BenchEstimate, BenchMethod, BenchResults, BenchRow, ProcessEstimate,
    Throughput, MIN_BENCH_REPEATS, MIN_BENCH_SAMPLES, READABLE_BENCH_VERSIONS,
};

use crate::matrix::Variant;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The version of the run results format this build writes. Version 3 added the A/A
/// control arm (`control`), the level of every interval (`median_ci_level`, `level`),
/// p-values and adjusted p-values of paired ratios, paired ratios of cold starts and batch jobs, and
/// ratios whose denominator combines both baseline arms. Version 2 files (bootstrap
/// intervals, nominally 95%) and version 1 files (one load window per cell) still load:
/// their intervals carry no level, and readers name them for what they are.
pub const SCHEMA_VERSION: u32 = 3;
/// The run results versions `RunResults::load` reads.
pub const READABLE_VERSIONS: [u32; 3] = [1, 2, 3];
/// The version of the bench results format (`harness bench`), which has its own history.
pub const BENCH_SCHEMA_VERSION: u32 = 2;

/// Everything one `harness run` measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RunResults {
    pub schema_version: u32,
    pub harness_version: String,
    /// `http`, `json`, or a crate's package name.
    pub app: String,
    pub app_kind: AppKind,
    /// `docker` or `native`.
    pub runtime: String,
    /// The exact command line, `argv[0]` first.
    pub command_line: Vec<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC; absent while the run is in progress or when it was interrupted.
    pub finished_at: Option<String>,
    pub environment: Environment,
    pub settings: Settings,
    /// In the order they were planned; written after each finishes.
    pub variants: Vec<VariantResult>,
    /// The A/A control: the baseline variant measured again as an arm of its own in every
    /// round (its own instances, from the same image), reported like a variant and never
    /// ranked. Its ratios are to the baseline arm alone; every other variant's ratios
    /// divide by both baseline arms (their geometric mean, round by round). Absent before
    /// schema version 3, with `--no-control`, and when the baseline is not measured.
    #[serde(default)]
    pub control: Option<VariantResult>,
    /// With `--oci-runtime A,B,…`: each variant again under each runtime after the first
    /// (`oci_runtime` names it), its own instances from the same image, measured in every
    /// round like a variant. Its ratios (`ratio_to_baseline`) are to its own variant's arm,
    /// under the run's runtime (`environment.oci_runtime`), paired by round: the runtime's
    /// effect on that variant. Never ranked; empty in older files and with one runtime.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_arms: Vec<VariantResult>,
    /// How the run judged its comparisons, and how its negative controls came out; absent
    /// before schema version 3. A report judges again over all of its files' comparisons.
    #[serde(default)]
    pub verdicts: Option<Verdicts>,
}

/// The run's own judgement of its comparisons to the baseline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Verdicts {
    /// How a comparison is called "beyond noise".
    pub method: String,
    /// Paired ratios judged together (every variant's and the A/A control's).
    pub comparisons: u32,
    /// The family-wise error rate controlled over them (0.05): the chance that any null
    /// comparison is called beyond noise.
    #[serde(alias = "false_discovery_rate")]
    pub family_wise_error_rate: f64,
    /// The A/A control and each pair of variants that ran the same binary.
    pub negative_controls: Vec<NegativeControl>,
}

/// A comparison that must come out within noise, and how it came out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct NegativeControl {
    /// e.g. `A/A control (glibc-system-debian measured twice per round)`.
    pub label: String,
    /// The variants involved.
    pub variants: Vec<String>,
    /// Comparisons made.
    pub comparisons: u32,
    /// Of them, called beyond noise.
    pub beyond_noise: u32,
    /// Those, named with their ratio (`/json c=64 rps ×1.07`).
    pub beyond_noise_cells: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    Server,
    Batch,
}

/// Where the numbers came from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Environment {
    /// A label for the machine, e.g. `2-core dev VM`.
    pub machine: String,
    pub cpu_model: String,
    pub cpu_count: u32,
    pub kernel: String,
    pub docker_server_version: Option<String>,
    /// 1 or 2; absent when unknown.
    pub cgroup_version: Option<u32>,
    pub rustc_version: String,
    pub glibc_version: Option<String>,
    pub musl_version: Option<String>,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    /// The daemon measured, as `DOCKER_HOST` names it (`unix:///var/run/docker.sock` when unset).
    #[serde(default)]
    pub docker_host: Option<String>,
    /// False when the daemon is on another machine: latency then includes the network.
    #[serde(default)]
    pub docker_local: Option<bool>,
    /// The engine behind the Docker API, as it names itself (`Engine 20.10.24+dfsg1`,
    /// `Podman Engine 4.3.1`); absent for native runs and in older files.
    #[serde(default)]
    pub engine: Option<String>,
    /// The OCI runtime the containers ran under (`--oci-runtime`, else the daemon's
    /// default: `runc`, `crun`); absent for native runs and in older files.
    #[serde(default)]
    pub oci_runtime: Option<String>,
}

/// The settings that shaped the measurements.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Settings {
    /// Cold-start repetitions (after one discarded warm-up round), and crunch repetitions.
    pub runs: u32,
    /// Load rounds run (each: every cell once per variant); 1 in version 1 files.
    #[serde(default = "one")]
    pub rounds: u32,
    /// `--target-ci` percent, when rounds were added until cells were that precise.
    #[serde(default)]
    pub target_ci_percent: Option<f64>,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub concurrency: Vec<u32>,
    pub endpoints: Vec<String>,
    /// Constant-rate mode (requests/s), if used.
    pub rate_rps: Option<u64>,
    /// json-cruncher thread counts.
    pub threads: Vec<u32>,
    /// json-cruncher dataset size.
    pub dataset_mb: f64,
    /// CPUs the app may use (cpuset list, e.g. `0`).
    pub server_cpus: String,
    /// CPUs the load generator is pinned to.
    pub loadgen_cpus: String,
    pub memory_limit_bytes: Option<u64>,
    pub ready_timeout_s: f64,
    /// Who took the figures that touch the app (readiness, load, CPU, memory): `in-process`
    /// (the harness itself, on this machine) or `agent` (the measuring agent, in a container
    /// on the daemon's host). Files before this field were measured in-process.
    #[serde(default = "in_process")]
    pub measured_by: String,
}

fn one() -> u32 {
    1
}

fn in_process() -> String {
    "in-process".into()
}

/// One variant's outcome: what was measured before any failure is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct VariantResult {
    pub variant: Variant,
    pub status: Status,
    pub build: Option<BuildRecord>,
    pub cold_start: Option<ColdStart>,
    /// http: one entry per endpoint × concurrency.
    pub load: Vec<LoadResult>,
    /// json-cruncher: one entry per thread count.
    pub crunch: Vec<CrunchResult>,
    /// The app process's own peak resident set (`VmHWM`), or the app's own report; files
    /// before this was settled may hold the container's figure (see `memory_method`).
    pub peak_memory_bytes: Option<u64>,
    /// How peak memory was read, or `not available: <reason>`.
    pub memory_method: Option<String>,
    /// The container's cgroup peak: the app plus the container runtime's short-lived
    /// processes, kernel memory and the page cache of the image's files.
    #[serde(default)]
    pub container_peak_memory_bytes: Option<u64>,
    /// How the container figure was read, or `not available: <reason>`.
    #[serde(default)]
    pub container_memory_method: Option<String>,
    /// `run --fresh-node`: pull and start on a node that has never seen the image.
    #[serde(default)]
    pub fresh_node: Option<FreshNode>,
    /// The binary that was measured, read back from what ran; absent in older files.
    #[serde(default)]
    pub measured_binary: Option<MeasuredBinary>,
    /// A runtime arm's OCI runtime (`RunResults::runtime_arms`); absent for every other arm,
    /// which ran under `environment.oci_runtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_runtime: Option<String>,
}

/// The digest of the binary an instance of the variant actually ran, and where it was read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct MeasuredBinary {
    /// SHA-256 (hex); equals `build.binary_sha256`, or the variant failed.
    pub sha256: String,
    /// `/proc/<pid>/exe` (native) or the image label `dev.glibc-vs-musl.binary-sha256` (docker).
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Failed {
        /// Which step failed: `build`, `image`, `start`, `cold-start`, `load`, `crunch`, `fresh-node`.
        step: String,
        reason: String,
        /// The container's or process's last log lines, if any.
        logs: Option<String>,
    },
}

/// What one cargo call of a run did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompileKind {
    /// An empty target dir: every unit compiled.
    Clean,
    /// Some units compiled again (another variant's features, a changed source).
    Incremental,
    /// Nothing compiled: an earlier build was reused.
    Reused,
}

impl CompileKind {
    pub fn name(self) -> &'static str {
        match self {
            CompileKind::Clean => "clean",
            CompileKind::Incremental => "incremental",
            CompileKind::Reused => "reused",
        }
    }
}

/// What building the variant cost and produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BuildRecord {
    /// How long this run's cargo call took: whatever it had to do, given the builds before
    /// it (see `compile_kind`). Not a variant's build cost: `harness build --cold` measures
    /// that.
    pub compile_s: f64,
    /// True when the target dir was clean, so `compile_s` is a cold compile.
    pub compile_cold: bool,
    /// What `compile_s` timed: a clean compile, an incremental one (some units rebuilt), or
    /// a reused build (nothing compiled); absent in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_kind: Option<CompileKind>,
    pub binary_bytes: u64,
    /// SHA-256 (hex) of the binary as built; absent in files written before it was recorded.
    #[serde(default)]
    pub binary_sha256: Option<String>,
    /// Where a non-libc allocator came from: the crate's own cargo feature, or `injected`
    /// at link time into the unchanged crate. Absent for the libc's allocator (and in files
    /// written before it was recorded).
    #[serde(default)]
    pub allocator_source: Option<crate::matrix::AllocatorSource>,
    /// The C sources of an injected allocator: crate, version and features.
    #[serde(default)]
    pub allocator_library: Option<String>,
    /// How the binary was shown to contain its allocator (a string only it has), e.g.
    /// `"mimalloc: " found in the binary`.
    #[serde(default)]
    pub allocator_check: Option<String>,
    pub static_binary: bool,
    /// The ELF interpreter (`/lib64/ld-linux-x86-64.so.2`) of a dynamic binary.
    pub interpreter: Option<String>,
    /// Shared libraries the binary needs (DT_NEEDED).
    pub needed_libraries: Vec<String>,
    /// Absent for the native runtime, which makes no image.
    pub image: Option<ImageRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ImageRecord {
    pub tag: String,
    pub id: String,
    pub image_build_s: f64,
    /// The size the daemon reports.
    pub image_bytes: u64,
    /// Where the base image came from (debian and distroless only).
    pub base_provenance: Option<String>,
    /// Measured from the built image; absent in files written before it was recorded.
    #[serde(default)]
    pub posture: Option<Posture>,
}

/// An image's attack surface, measured from its flattened filesystem.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Posture {
    /// The image config's `USER` (empty: root).
    pub image_user: String,
    /// The user the docker runtime runs the container as, whatever the image says.
    pub runtime_user: String,
    /// Shells on the usual `PATH` directories, e.g. `/usr/bin/sh`; empty when none.
    pub shells: Vec<String>,
    /// Regular files in the image (not Docker's per-container `/etc/hosts` and the like).
    pub file_count: u64,
    /// Debian packages installed (from `/var/lib/dpkg/status`); 0 without a dpkg database.
    pub package_count: u64,
    pub setuid_files: Vec<String>,
    pub setgid_files: Vec<String>,
}

/// A distribution summary: min, median, p95 and the interval of the median.
///
/// The interval is a pair of order statistics whose coverage of the median is exact for
/// any continuous distribution (`measure::stats`): the narrowest reaching 95%, or the
/// samples' range, below 95%, up to 5 samples. Files before schema version 3 hold a
/// percentile-bootstrap interval (nominally 95%; the range up to 5 samples) and no level.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Summary {
    pub n: u32,
    pub min: f64,
    pub median: f64,
    pub p5: f64,
    pub p95: f64,
    pub max: f64,
    pub median_ci_low: f64,
    pub median_ci_high: f64,
    /// The interval's coverage of the median, 0–1 (e.g. 0.969 for 6 samples).
    #[serde(default)]
    pub median_ci_level: Option<f64>,
}

/// Cold start: create → first good response (or batch exit), and the bare process start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ColdStart {
    pub samples_ms: Vec<f64>,
    pub cold_start_ms: Summary,
    /// The app's `version_arg` (`--version`) run in the same image, create → its first output: the container runtime's and process start's share, without the program's own start-up. Empty when the app has no `version_arg`.
    #[serde(default)]
    pub process_start_samples_ms: Vec<f64>,
    pub process_start_ms: Option<Summary>,
    /// The cold start ÷ the baseline's, paired by round (the i-th sample of each is the
    /// same round); absent for the baseline and before schema version 3.
    #[serde(default)]
    pub ratio_to_baseline: Option<Ratio>,
    /// Of each cold start (server, docker): the engine's create call, until the daemon
    /// answered, ms. Empty for native runs, batch jobs and older files.
    #[serde(default)]
    pub create_samples_ms: Vec<f64>,
    #[serde(default)]
    pub create_ms: Option<Summary>,
    /// Of each cold start: the start call after it, until the daemon answered, ms. The
    /// rest of the cold start (`samples_ms` less both) is the process's own start-up and
    /// its first response.
    #[serde(default)]
    pub start_samples_ms: Vec<f64>,
    #[serde(default)]
    pub start_ms: Option<Summary>,
}

/// One load cell: an endpoint at one concurrency (and rate), measured once per round.
///
/// Every figure with a spread is a `Summary` over the rounds' windows, with the per-round
/// samples beside it; ratios to the baseline pair each round's window with the baseline's
/// window of the same round, so drift of the machine between rounds cancels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct LoadResult {
    pub endpoint: String,
    pub concurrency: u32,
    pub rate_rps: Option<u64>,
    /// One window's measured length, seconds.
    pub duration_s: f64,
    /// Requests completed inside the measured windows, all rounds.
    pub requests: u64,
    /// Connection and I/O errors, all phases and rounds.
    pub errors: u64,
    pub non_2xx: u64,
    /// Requests per second of each round's window.
    pub rps: Summary,
    pub rps_samples: Vec<f64>,
    /// Server CPU time per request completed (warm-up, window and drain alike), µs: from
    /// the server's cgroup (docker) or its threads (native). Absent when not readable.
    pub server_cpu_us_per_request: Option<Summary>,
    #[serde(default)]
    pub server_cpu_us_per_request_samples: Vec<f64>,
    /// Server CPU use over each window, as a share of one core (100 = one core busy).
    pub server_cpu_percent: Option<Summary>,
    /// How server CPU was read, or `not available: <reason>`.
    pub server_cpu_method: Option<String>,
    /// Latency of the requests completed in the windows, all rounds merged, µs.
    pub latency_us: Latency,
    /// p99 of each round's window, µs.
    #[serde(default)]
    pub p99_us_samples: Vec<f64>,
    /// CPU the load generator used (median over rounds), as a share of one core.
    pub loadgen_cpu_percent: f64,
    /// True when the load generator reached its bound in most rounds.
    pub loadgen_bound: bool,
    /// What limited the windows (the most frequent over rounds).
    pub bound: Bound,
    /// `--rate`: requests due by the schedule but never sent (every connection busy).
    #[serde(default)]
    pub rate_backlog: u64,
    /// Requests still unanswered at the drain deadline, all rounds.
    #[serde(default)]
    pub abandoned: u64,
    /// Requests in flight at a window's end that completed in the drain, all rounds.
    #[serde(default)]
    pub drained: u64,
    /// Requests due but never sent, or unanswered when a window ended, entered in the
    /// latency histogram at the window's end (wrk2's rule), all rounds.
    #[serde(default)]
    pub censored: u64,
    /// Against the baseline variant's cell of the same rounds; absent for the baseline.
    #[serde(default)]
    pub ratio_to_baseline: Option<BaselineRatios>,
}

/// What limited a load window: the server (its CPUs were busy), the load generator (it
/// was), or neither (latency-bound, e.g. one connection).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    Server,
    Loadgen,
    Neither,
}

/// Paired ratios of a cell to the baseline's cell.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct BaselineRatios {
    /// This variant's rps ÷ the baseline's, per round.
    pub rps: Ratio,
    /// This variant's server CPU per request ÷ the baseline's, per round.
    pub server_cpu_us_per_request: Option<Ratio>,
}

/// The median of per-round paired ratios, its interval and the test of "no difference".
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Ratio {
    pub n: u32,
    pub median: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// The interval's coverage of the median ratio, 0–1 (absent before schema version 3,
    /// whose intervals are bootstrap ones, nominally 95%).
    #[serde(default)]
    pub level: Option<f64>,
    /// Two-sided p-value of the paired t-test on the logarithms of the per-round ratios.
    #[serde(default)]
    pub p_value: Option<f64>,
    /// `p_value` adjusted (Holm) over every comparison of the run that wrote the file; a
    /// report adjusts again over all of its comparisons.
    #[serde(default, alias = "q_value")]
    pub p_adjusted: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// A batch app's throughput at one thread count, repeated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CrunchResult {
    pub threads: u32,
    /// Throughput samples in `throughput_unit` (the name is json-cruncher's MB/s, kept so
    /// older files still load).
    pub samples_mb_per_s: Vec<f64>,
    pub mb_per_s: Summary,
    /// What the app's `checksum_regex` picked out; empty without one.
    pub checksum: String,
    /// The unit of `mb_per_s`: the app's `throughput_unit`, or `jobs/s (1 / wall time)`;
    /// absent in files written before it existed, which are all MB/s.
    #[serde(default)]
    pub throughput_unit: Option<String>,
    /// Throughput ÷ the baseline's at the same thread count, paired by repetition (they
    /// run interleaved); absent for the baseline and before schema version 3.
    #[serde(default)]
    pub ratio_to_baseline: Option<Ratio>,
}

/// A results file that cannot be used, named with the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a results file: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("{path}: schema_version {found} is not supported (this harness reads {readable}): re-run `harness run` with this version, or use the harness that wrote it")]
    Version {
        path: PathBuf,
        found: u64,
        readable: String,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The JSON Schema of a results file, as published in `harness/schema/results.schema.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RunResults)).expect("schemas serialize")
}

impl RunResults {
    /// The unit of a batch app's throughput (`mb_per_s`): the app's own, or MB/s for files
    /// written before apps could name one.
    pub fn throughput_unit(&self) -> String {
        self.variants
            .iter()
            .flat_map(|v| &v.crunch)
            .find_map(|c| c.throughput_unit.clone())
            .unwrap_or_else(|| "MB/s".into())
    }

    /// Reads and checks a results file; errors name the file and, where serde can, the field.
    pub fn load(path: &Path) -> Result<RunResults, ResultsError> {
        load_versioned(path, None, &READABLE_VERSIONS)
    }

    /// Writes the file atomically (temp file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(self).expect("results always serialize");
        write_atomically(path, &json)
    }

    pub fn variant(&self, name: &str) -> Option<&VariantResult> {
        self.variants.iter().find(|v| v.variant.name() == name)
    }

    /// Every paired ratio to the baseline the file holds, the A/A control's included: the
    /// family of comparisons a run (or a report, over several files) judges together.
    pub fn ratios_mut(&mut self) -> Vec<&mut Ratio> {
        self.variants
            .iter_mut()
            .chain(self.control.as_mut())
            .chain(self.runtime_arms.iter_mut())
            .flat_map(VariantResult::ratios_mut)
            .collect()
    }

    /// `variant`'s runtime arm under `oci_runtime`.
    pub fn runtime_arm(&self, variant: Variant, oci_runtime: &str) -> Option<&VariantResult> {
        self.runtime_arms
            .iter()
            .find(|r| r.variant == variant && r.oci_runtime.as_deref() == Some(oci_runtime))
    }
}

/// Reads a results file of this `SCHEMA_VERSION` (and, if given, this `kind`); errors name
/// the file and, where serde can, the field.
pub(crate) fn load_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    kind: Option<&str>,
    readable: &[u32],
) -> Result<T, ResultsError> {
    let malformed = |message: String| ResultsError::Malformed {
        path: path.into(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
        path: path.into(),
        source,
    })?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if readable.iter().any(|&r| u64::from(r) == v) => {
            if kind.is_none() && v == 1 {
                upgrade_v1(&mut value);
            }
        }
        Some(found) => {
            return Err(ResultsError::Version {
                path: path.into(),
                found,
                readable: readable
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" and "),
            })
        }
        None => {
            return Err(malformed(
                "field `schema_version` is missing or not a number".into(),
            ))
        }
    }
    if let Some(kind) = kind {
        if value.get("kind").and_then(serde_json::Value::as_str) != Some(kind) {
            return Err(malformed(format!("field `kind` is not {kind:?}")));
        }
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| malformed(format!("field `{}`: {}", e.path(), e.inner())))
}

/// Rewrites a version 1 run file's load windows in the version 2 shape, in memory: each
/// window becomes a cell of one round (its rps a summary of one sample, so no interval to
/// speak of), with no server CPU figures and no paired ratios, which version 1 did not
/// measure. `schema_version` stays 1, so readers can say the figures are single windows.
fn upgrade_v1(value: &mut serde_json::Value) {
    use serde_json::json;
    let Some(variants) = value.get_mut("variants").and_then(|v| v.as_array_mut()) else {
        return;
    };
    let loads = variants
        .iter_mut()
        .filter_map(|v| v.get_mut("load").and_then(|l| l.as_array_mut()))
        .flatten();
    for load in loads {
        let Some(window) = load.as_object_mut() else {
            continue;
        };
        let Some(rps) = window.get("rps").and_then(serde_json::Value::as_f64) else {
            continue;
        };
        let one = json!({"n": 1, "min": rps, "median": rps, "p5": rps, "p95": rps, "max": rps,
            "median_ci_low": rps, "median_ci_high": rps});
        let p99 = window.get("latency_us").and_then(|l| l.get("p99")).cloned();
        let loadgen_bound = window
            .get("loadgen_bound")
            .and_then(serde_json::Value::as_bool);
        window.insert("rps".into(), one);
        window.insert("rps_samples".into(), json!([rps]));
        window.insert(
            "p99_us_samples".into(),
            json!(p99.into_iter().collect::<Vec<_>>()),
        );
        for absent in ["server_cpu_us_per_request", "server_cpu_percent"] {
            window.insert(absent.into(), serde_json::Value::Null);
        }
        window.insert(
            "server_cpu_method".into(),
            json!("not available: not measured by schema_version 1"),
        );
        let bound = if loadgen_bound == Some(true) {
            "loadgen"
        } else {
            "neither"
        };
        window.insert("bound".into(), json!(bound));
    }
}

/// Reads `path` as a `kind` file (`profile`, `check`) whose `schema_version`, read by
/// `version`, must be `expected`; every error names the file, and for a file that does not
/// parse, the field. (Run and bench files go through `load_versioned`, which also reads
/// older versions and names `harness run` in its errors.)
pub fn load_json_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    kind: &str,
    expected: u32,
    version: impl Fn(&T) -> u32,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let loaded: T = serde_path_to_error::deserialize(de)
        .map_err(|e| anyhow::anyhow!("{}: not a {kind} file: {e}", path.display()))?;
    anyhow::ensure!(
        version(&loaded) == expected,
        "{}: {kind} schema_version {} (this harness reads {expected})",
        path.display(),
        version(&loaded)
    );
    Ok(loaded)
}

/// Fails early, before any long work, when results cannot be written to `dir`: not a
/// directory, not writable, or too full to hold `room` bytes (a usage error: exit 2).
pub fn check_writable(dir: &Path, room: usize) -> anyhow::Result<()> {
    use std::io::Write;
    let probe = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(&vec![0u8; room])?;
        file.as_file().sync_all()?;
        file.close()
    };
    probe().map_err(|e| {
        crate::error::HarnessError::Usage(format!(
            "cannot write results to {}: {e} (pick another directory with --out)",
            dir.display()
        ))
        .into()
    })
}

/// Writes `value` to `path` as pretty JSON, atomically.
pub fn save_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    write_atomically(path, json.as_bytes())?;
    Ok(())
}

/// The newest file per app in `dir`, by file name (`<app>-<UTC time>.json`); none when the
/// directory does not exist.
pub fn newest_per_app(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut newest: std::collections::BTreeMap<String, PathBuf> = Default::default();
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if let Some((app, _time)) = stem.rsplit_once('-') {
            newest.insert(app.to_string(), path.clone());
        }
    }
    Ok(newest.into_values().collect())
}

/// Writes `bytes` to `path` so that a reader sees either the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |source| ResultsError::Write {
        path: path.into(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut temp, bytes).map_err(err)?;
    temp.as_file().sync_all().map_err(err)?;
    // tempfile creates 0600; results and reports are meant to be read by others.
    std::fs::set_permissions(
        temp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(err)?;
    temp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

impl VariantResult {
    pub fn new(variant: Variant) -> Self {
        Self {
            variant,
            status: Status::Ok,
            build: None,
            cold_start: None,
            load: Vec::new(),
            crunch: Vec::new(),
            peak_memory_bytes: None,
            memory_method: None,
            container_peak_memory_bytes: None,
            container_memory_method: None,
            fresh_node: None,
            measured_binary: None,
            oci_runtime: None,
        }
    }

    pub fn fail(&mut self, step: &str, reason: impl Into<String>, logs: Option<String>) {
        self.status = Status::Failed {
            step: step.into(),
            reason: reason.into(),
            logs,
        };
    }

    pub fn is_ok(&self) -> bool {
        matches!(self.status, Status::Ok)
    }

    /// This variant's paired ratios to the baseline: cold start, each load cell's rps and
    /// server CPU per request, each thread count's throughput.
    pub fn ratios_mut(&mut self) -> Vec<&mut Ratio> {
        let cold = self
            .cold_start
            .as_mut()
            .and_then(|c| c.ratio_to_baseline.as_mut());
        let load = self
            .load
            .iter_mut()
            .filter_map(|l| l.ratio_to_baseline.as_mut())
            .flat_map(|r| std::iter::once(&mut r.rps).chain(r.server_cpu_us_per_request.as_mut()));
        let crunch = self
            .crunch
            .iter_mut()
            .filter_map(|c| c.ratio_to_baseline.as_mut());
        cold.into_iter().chain(load).chain(crunch).collect()
    }

    /// Records a peak-memory reading: the app process's and the container's, each the
    /// figure and its method or `not available: <reason>`. Returns a warning when the two
    /// disagree (the process above its own container).
    pub fn record_memory(
        &mut self,
        process: &Result<(u64, String), String>,
        container: &Result<(u64, String), String>,
    ) -> Option<String> {
        let split = |r: &Result<(u64, String), String>| match r {
            Ok((bytes, method)) => (Some(*bytes), Some(method.clone())),
            Err(reason) => (None, Some(format!("not available: {reason}"))),
        };
        (self.peak_memory_bytes, self.memory_method) = split(process);
        (
            self.container_peak_memory_bytes,
            self.container_memory_method,
        ) = split(container);
        match (self.peak_memory_bytes, self.container_peak_memory_bytes) {
            (Some(p), Some(c)) if p > c => Some(format!(
                "{}: the app process's peak ({p} B) is above its container's ({c} B): one of the two readings is wrong",
                self.variant
            )),
            _ => None,
        }
    }
}

/// Time to first response on a node that has never seen the image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct FreshNode {
    /// The fresh daemon's storage driver, e.g. `fuse-overlayfs`.
    pub storage_driver: String,
    /// Sum of the layer blobs in the registry: what a node downloads.
    pub compressed_bytes: u64,
    /// The image's size on the fresh node after the pull.
    pub unpacked_bytes: u64,
    pub layers: u32,
    /// One per repetition, each on an empty data root.
    pub samples: Vec<FreshNodeSample>,
    /// create_image from the local registry, until the stream ends.
    pub pull_ms: Summary,
    /// Pull start → the last layer's `Download complete` (loopback registry).
    pub download_ms: Summary,
    /// The rest of the pull: unpacking not hidden behind the download.
    pub unpack_ms: Summary,
    /// Create → first good response (servers) or → exit (batch), after the pull.
    pub start_ms: Summary,
    /// pull + start: time to first response on a fresh node.
    pub first_response_ms: Summary,
    /// Modelled, not measured: compressed_bytes over 100 Mbit/s + median unpack + median start.
    pub modelled_first_response_100mbit_ms: f64,
    /// Modelled, not measured: compressed_bytes over 1 Gbit/s + median unpack + median start.
    pub modelled_first_response_1gbit_ms: f64,
}

/// One repetition on an empty data root, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct FreshNodeSample {
    pub pull_ms: f64,
    pub download_ms: f64,
    pub unpack_ms: f64,
    pub start_ms: f64,
    pub first_response_ms: f64,
}

/// Now, RFC 3339 UTC (seconds): the time stamps of results files.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A run id: the app and the UTC time, e.g. `http-20261126T160102Z`; results files are named
/// after it.
pub fn new_run_id(app: &str) -> String {
    format!("{app}-{}", now().replace(['-', ':'], ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published schema must match the types; `UPDATE_SCHEMA=1 cargo test` rewrites it.
    #[test]
    fn published_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/results.schema.json");
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == generated,
            "{} is stale: run `UPDATE_SCHEMA=1 cargo test -p harness published_schema`",
            path.display()
        );
    }

    #[test]
    fn load_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.json");
        std::fs::write(&old, r#"{"schema_version": 0}"#).unwrap();
        let e = RunResults::load(&old).unwrap_err().to_string();
        assert!(
            e.contains("old.json") && e.contains("schema_version 0"),
            "{e}"
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"schema_version": 1, "app": 5}"#).unwrap();
        let e = RunResults::load(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("app"), "{e}");
        let cut = dir.path().join("cut.json");
        std::fs::write(&cut, r#"{"schema_version": 1, "app""#).unwrap();
        assert!(RunResults::load(&cut)
            .unwrap_err()
            .to_string()
            .contains("cut.json"));
    }
}

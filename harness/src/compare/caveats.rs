//! Every recorded setting and fact of the machine that differs between two results files:
//! what a reader must weigh before taking a change for the code's.
//!
//! The list is the files' `environment` and `settings` and the peak-memory methods, compared
//! as text, one note per difference. Nothing here judges whether a difference matters.

use crate::results::{RunResults, VariantResult};

/// One compared fact: its name and how to read it from a file.
type Fact = (&'static str, fn(&RunResults) -> String);

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("unknown".into(), T::to_string)
}

fn or_none<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("none".into(), T::to_string)
}

fn list<T: ToString>(v: &[T]) -> String {
    let parts: Vec<String> = v.iter().map(T::to_string).collect();
    format!("[{}]", parts.join(", "))
}

const FACTS: [Fact; 29] = [
    ("apps", |r| r.app.clone()),
    ("schema versions", |r| r.schema_version.to_string()),
    ("runtimes", |r| r.runtime.clone()),
    ("machines", |r| r.environment.machine.clone()),
    ("CPU models", |r| r.environment.cpu_model.clone()),
    ("CPU counts", |r| r.environment.cpu_count.to_string()),
    ("kernels", |r| r.environment.kernel.clone()),
    ("Docker versions", |r| {
        opt(&r.environment.docker_server_version)
    }),
    ("engines", |r| opt(&r.environment.engine)),
    ("OCI runtimes", |r| opt(&r.environment.oci_runtime)),
    ("cgroup versions", |r| opt(&r.environment.cgroup_version)),
    ("rustc versions", |r| r.environment.rustc_version.clone()),
    ("glibc versions", |r| opt(&r.environment.glibc_version)),
    ("musl versions", |r| opt(&r.environment.musl_version)),
    ("harness versions", |r| r.harness_version.clone()),
    ("harness commits", |r| opt(&r.environment.git_commit)),
    ("uncommitted-code flags (git_dirty)", |r| {
        opt(&r.environment.git_dirty)
    }),
    ("cold-start runs", |r| r.settings.runs.to_string()),
    ("load rounds", |r| r.settings.rounds.to_string()),
    ("target CIs", |r| {
        or_none(&r.settings.target_ci_percent.map(|p| format!("{p}%")))
    }),
    ("load windows", |r| format!("{}s", r.settings.duration_s)),
    ("warm-ups", |r| format!("{}s", r.settings.warmup_s)),
    ("concurrency levels", |r| list(&r.settings.concurrency)),
    ("endpoints", |r| list(&r.settings.endpoints)),
    ("rates", |r| {
        or_none(&r.settings.rate_rps.map(|x| format!("{x} requests/s")))
    }),
    ("thread counts", |r| list(&r.settings.threads)),
    ("datasets", |r| format!("{} MB", r.settings.dataset_mb)),
    ("memory limits", |r| {
        or_none(&r.settings.memory_limit_bytes.map(|b| format!("{b} bytes")))
    }),
    ("CPU placements (server; load generator)", |r| {
        format!("{}; {}", r.settings.server_cpus, r.settings.loadgen_cpus)
    }),
];

/// Notes on every difference that makes a comparison less meaningful.
pub fn caveats(old: &RunResults, new: &RunResults) -> Vec<String> {
    let mut notes: Vec<String> = FACTS
        .iter()
        .filter_map(|(what, read)| {
            let (a, b) = (read(old), read(new));
            (a != b).then(|| format!("{what} differ: {a} (old) vs {b} (new)"))
        })
        .collect();
    let methods = |r: &RunResults, f: fn(&VariantResult) -> &Option<String>| {
        let mut m: Vec<String> = r.variants.iter().filter_map(|v| f(v).clone()).collect();
        m.sort();
        m.dedup();
        m.join(" | ")
    };
    for (what, f) in [
        (
            "peak memory methods",
            (|v| &v.memory_method) as fn(&VariantResult) -> &Option<String>,
        ),
        ("container memory methods", |v| &v.container_memory_method),
    ] {
        let (a, b) = (methods(old, f), methods(new, f));
        if a != b && !a.is_empty() && !b.is_empty() {
            notes.push(format!(
                "{what} differ, so the figures may not measure the same thing: {a} (old) vs {b} (new)"
            ));
        }
    }
    notes
}

//! Where the combined files come from: the machine, toolchain, daemon and commit each one
//! records, said once when they agree and per file when they do not, and the warnings a
//! reader needs before comparing figures across files (other machines, uncommitted code).
//!
//! Everything is read from the files' `environment`; nothing is assumed about this machine.

use super::load::Inputs;
use crate::results::Environment;
use std::path::Path;

/// One results file as the provenance names it.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// How the file is named in the text, e.g. `results/runs/http-….json`.
    pub name: String,
    pub env: &'a Environment,
    pub command_line: &'a [String],
    pub started_at: &'a str,
    pub finished_at: Option<&'a str>,
}

impl Source<'_> {
    /// `harness run --app http`: the recorded command line, the program by its name alone.
    pub fn command(&self) -> String {
        let mut words: Vec<String> = self.command_line.to_vec();
        if let Some(first) = words.first_mut() {
            *first = file_name(Path::new(first.as_str()));
        }
        words.join(" ")
    }

    /// `5 min 56 s` from start to finish, `unfinished`, or `?` when a time does not parse.
    pub fn took(&self) -> String {
        let Some(finished) = self.finished_at else {
            return "unfinished".into();
        };
        let parse = |t: &str| humantime::parse_rfc3339_weak(t).ok();
        match (parse(self.started_at), parse(finished)) {
            (Some(a), Some(b)) => {
                let s = b.duration_since(a).map_or(0, |d| d.as_secs());
                match s / 60 {
                    0 => format!("{s} s"),
                    m => format!("{m} min {:02} s", s % 60),
                }
            }
            _ => "?".into(),
        }
    }
}

/// One recorded fact and which files carry each value of it, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub label: &'static str,
    pub values: Vec<(String, Vec<String>)>,
}

/// The run files, their replicates (the other runs of the same experiments), then the
/// bench file, each named by `name`.
pub fn sources<'a>(inputs: &'a Inputs, name: impl Fn(&Path) -> String) -> Vec<Source<'a>> {
    let runs = inputs.runs.iter().chain(&inputs.replicates).map(|r| {
        let x = &r.results;
        (
            &r.path,
            &x.environment,
            &x.command_line,
            &x.started_at,
            &x.finished_at,
        )
    });
    // The bench file last: the README's bench block takes the last source as its own.
    let bench = inputs
        .bench_replicates
        .iter()
        .chain(&inputs.bench)
        .map(|b| {
            let x = &b.results;
            (
                &b.path,
                &x.environment,
                &x.command_line,
                &x.started_at,
                &x.finished_at,
            )
        });
    runs.chain(bench)
        .map(
            |(path, env, command_line, started_at, finished_at)| Source {
                name: name(path),
                env,
                command_line,
                started_at,
                finished_at: finished_at.as_deref(),
            },
        )
        .collect()
}

/// `http-20261127T005542Z.json`: the file name alone.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

fn machine(e: &Environment) -> String {
    format!("{}-core {}, kernel {}", e.cpu_count, e.cpu_model, e.kernel)
}

fn toolchain(e: &Environment) -> String {
    let na = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    format!(
        "{}, glibc {}, musl {}",
        e.rustc_version,
        na(&e.glibc_version),
        na(&e.musl_version)
    )
}

/// Only files that measured containers record a daemon.
fn docker(e: &Environment) -> Option<String> {
    let version = e.docker_server_version.as_ref()?;
    let cgroup = e
        .cgroup_version
        .map_or("cgroup unknown".into(), |v| format!("cgroup v{v}"));
    Some(format!("Docker {version}, {cgroup}"))
}

fn code(e: &Environment) -> String {
    let commit: String = e
        .git_commit
        .as_deref()
        .map_or("unknown".into(), |c| c.chars().take(10).collect());
    match e.git_dirty {
        Some(true) => format!("commit {commit} with uncommitted changes"),
        _ => format!("commit {commit}"),
    }
}

/// Machine, toolchain, daemon and code, each with its distinct values.
pub fn facts(sources: &[Source]) -> Vec<Fact> {
    let fact = |label, value: &dyn Fn(&Environment) -> Option<String>| {
        let mut values: Vec<(String, Vec<String>)> = Vec::new();
        for s in sources {
            let Some(v) = value(s.env) else { continue };
            match values.iter_mut().find(|(seen, _)| *seen == v) {
                Some((_, files)) => files.push(s.name.clone()),
                None => values.push((v, vec![s.name.clone()])),
            }
        }
        Fact { label, values }
    };
    vec![
        fact("Machine", &|e| Some(machine(e))),
        fact("Toolchain", &|e| Some(toolchain(e))),
        fact("Daemon", &docker),
        fact("Code", &|e| Some(code(e))),
    ]
}

/// `**Machine**: X. **Toolchain**: Y (a, b); Z (c).` — a value is tied to its files only
/// where the files disagree.
pub fn facts_line(facts: &[Fact]) -> String {
    let parts: Vec<String> = facts
        .iter()
        .filter(|f| !f.values.is_empty())
        .map(|f| {
            let text = match f.values.as_slice() {
                [(one, _)] => one.clone(),
                many => many
                    .iter()
                    .map(|(v, files)| format!("{v} ({})", quoted(files)))
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            format!("**{}**: {text}.", f.label)
        })
        .collect();
    parts.join(" ")
}

/// What a reader must know before comparing the files' figures with each other.
pub fn warnings(sources: &[Source]) -> Vec<String> {
    let mut out = Vec::new();
    let machines = &facts(sources)[0].values;
    if machines.len() > 1 {
        let list: Vec<String> = machines
            .iter()
            .map(|(m, files)| format!("{m} ({})", quoted(files)))
            .collect();
        out.push(format!(
            "These files were measured on {} different machines: {}. Ratios within one file hold; figures from different files are not comparable.",
            machines.len(),
            list.join("; ")
        ));
    }
    let dirty: Vec<String> = sources
        .iter()
        .filter(|s| s.env.git_dirty == Some(true))
        .map(|s| s.name.clone())
        .collect();
    if !dirty.is_empty() {
        out.push(format!(
            "Measured from uncommitted code (`git_dirty: true`): {}. The commit it names does not reproduce it exactly.",
            quoted(&dirty)
        ));
    }
    out
}

fn quoted(files: &[String]) -> String {
    files
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `commit 0123456789`, `… with uncommitted changes`, or `an unknown commit`: the code a
/// file was measured from, as the report's sections say it.
pub fn code_words(e: &crate::results::Environment) -> String {
    match (&e.git_commit, e.git_dirty) {
        (Some(c), Some(true)) => {
            format!("commit {} with uncommitted changes", &c[..c.len().min(10)])
        }
        (Some(c), _) => format!("commit {}", &c[..c.len().min(10)]),
        (None, _) => "an unknown commit".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(cpu: &str, dirty: bool) -> Environment {
        Environment {
            cpu_model: cpu.into(),
            cpu_count: 2,
            kernel: "6.1".into(),
            rustc_version: "rustc 1.95.0".into(),
            git_commit: Some("0123456789abcdef".into()),
            git_dirty: Some(dirty),
            ..Environment::default()
        }
    }

    fn source<'a>(name: &str, env: &'a Environment) -> Source<'a> {
        Source {
            name: name.into(),
            env,
            command_line: &[],
            started_at: "2026-11-26T17:14:17Z",
            finished_at: Some("2026-11-26T17:25:32Z"),
        }
    }

    #[test]
    fn the_command_and_its_wall_time_come_from_the_file() {
        let e = env("Xeon", false);
        let line = ["./target/release/harness".to_string(), "bench".into()];
        let mut s = source("b.json", &e);
        s.command_line = &line;
        assert_eq!(s.command(), "harness bench");
        assert_eq!(s.took(), "11 min 15 s");
        s.finished_at = None;
        assert_eq!(s.took(), "unfinished");
    }

    #[test]
    fn one_machine_and_clean_code_is_said_once_without_warnings() {
        let (a, b) = (env("Xeon", false), env("Xeon", false));
        let s = [source("a.json", &a), source("b.json", &b)];
        assert!(warnings(&s).is_empty());
        let line = facts_line(&facts(&s));
        assert!(
            line.starts_with("**Machine**: 2-core Xeon, kernel 6.1. **Toolchain**: rustc 1.95.0, glibc unknown, musl unknown. **Code**: commit 0123456789."),
            "{line}"
        );
    }

    #[test]
    fn two_machines_and_dirty_code_are_warned_about_naming_the_files() {
        let (a, b, c) = (env("Xeon", false), env("EPYC", true), env("Xeon", false));
        let s = [
            source("http.json", &a),
            source("bench.json", &b),
            source("json.json", &c),
        ];
        let w = warnings(&s);
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(w[0].starts_with("These files were measured on 2 different machines: 2-core Xeon, kernel 6.1 (`http.json`, `json.json`); 2-core EPYC, kernel 6.1 (`bench.json`)."), "{}", w[0]);
        assert!(
            w[1].contains("uncommitted code") && w[1].contains("`bench.json`"),
            "{}",
            w[1]
        );
        assert!(!w[1].contains("http.json"), "{}", w[1]);
        let line = facts_line(&facts(&s));
        assert!(line.contains("**Code**: commit 0123456789 (`http.json`, `json.json`); commit 0123456789 with uncommitted changes (`bench.json`)."), "{line}");
    }
}

//! Several daemons (`--docker-host` given more than once): one `harness run` per host, in
//! parallel, each a child process of this one with that host as its `DOCKER_HOST` (and its
//! own certificate directory, when `DOCKER_CERT_PATH/<HOST:PORT>/` exists), writing into
//! `--out/<host>/`. `--spread` gives each host a share of the variants, `--replicate` (the
//! default) all of them. A host that fails fails its share with one line; the others finish.
//!
//! Children rather than tasks: a run's daemon is process-wide (`DOCKER_HOST`, its lock, its
//! cleanup on a signal), so each host gets a whole run of its own, the same code as one host.

use crate::matrix::Variant;
use crate::runtime::docker_client;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One host's part of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub host: String,
    pub variants: Vec<Variant>,
    pub out: PathBuf,
}

/// The hosts' shares: every variant on every host, or (`spread`) the variants dealt out in
/// turn. An error when a spread leaves a host with nothing.
pub fn shares(
    hosts: &[String],
    variants: &[Variant],
    spread: bool,
    out: &Path,
) -> Result<Vec<Share>, String> {
    if spread && variants.len() < hosts.len() {
        return Err(format!(
            "--spread over {} hosts needs at least as many variants, got {} (add variants, or use --replicate)",
            hosts.len(),
            variants.len()
        ));
    }
    Ok(hosts
        .iter()
        .enumerate()
        .map(|(index, host)| Share {
            host: host.clone(),
            variants: if spread {
                variants
                    .iter()
                    .skip(index)
                    .step_by(hosts.len())
                    .copied()
                    .collect()
            } else {
                variants.to_vec()
            },
            out: out.join(slug(host)),
        })
        .collect())
}

/// A host as a directory name: `tcp://127.0.0.1:2375` → `127.0.0.1_2375`.
pub fn slug(host: &str) -> String {
    let bare = host.split_once("://").map_or(host, |(_, rest)| rest);
    bare.trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// This command line for one share: without the host flags, `--out` and the variant
/// choice, then with the share's.
pub fn child_args(argv: &[String], share: &Share) -> Vec<String> {
    const WITH_VALUE: [&str; 4] = ["--docker-host", "--out", "--variants", "--matrix"];
    const ALONE: [&str; 2] = ["--spread", "--replicate"];
    let mut args = Vec::new();
    let mut skip = false;
    for arg in argv {
        if std::mem::take(&mut skip) {
            continue;
        }
        if WITH_VALUE.contains(&arg.as_str()) {
            skip = true;
            continue;
        }
        let flag = arg.split('=').next().unwrap_or_default();
        if (arg.contains('=') && WITH_VALUE.contains(&flag)) || ALONE.contains(&arg.as_str()) {
            continue;
        }
        args.push(arg.clone());
    }
    let names: Vec<String> = share.variants.iter().map(|v| v.name()).collect();
    args.push(format!("--variants={}", names.join(",")));
    args.push(format!("--out={}", share.out.display()));
    args
}

/// The environment that points a run at `host`: `DOCKER_HOST`, and `DOCKER_CERT_PATH`
/// when the host has a certificate directory of its own.
pub fn host_env(host: &str) -> Vec<(String, String)> {
    let mut env = vec![("DOCKER_HOST".to_string(), host.to_string())];
    if let Some(dir) = docker_client::cert_dir_for(host) {
        env.push(("DOCKER_CERT_PATH".into(), dir.display().to_string()));
    }
    env
}

/// Runs every share in parallel and waits for all; each line a child prints is shown with
/// its host. An error naming each host that failed, and why, when any did.
pub fn run_all(argv: &[String], shares: &[Share]) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut running = Vec::new();
    for share in shares {
        let mut command = Command::new(&exe);
        command
            .args(child_args(&argv[1..], share))
            .envs(host_env(&share.host))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let tag = slug(&share.host);
        let out = forward(child.stdout.take(), tag.clone(), false);
        let err = forward(child.stderr.take(), tag, true);
        running.push((share, child, out, err));
    }
    let mut failed = Vec::new();
    let mut partial_only = true;
    for (share, mut child, out, err) in running {
        let status = child.wait()?;
        let _ = out.join();
        let last_error = err.join().ok().flatten();
        if status.success() {
            eprintln!("{}: done: results in {}", share.host, share.out.display());
        } else {
            let why = last_error.unwrap_or_else(|| format!("it exited with {status}"));
            eprintln!("{}: failed: {why}", share.host);
            failed.push(format!("{}: {why}", share.host));
            partial_only &= status.code() == Some(4);
        }
    }
    if !failed.is_empty() && partial_only {
        // Every host ran; only some of their variants failed: exit 4 like one host would.
        return Err(crate::error::HarnessError::Partial(format!(
            "on {} of {} hosts some variants failed (every result kept): {}",
            failed.len(),
            shares.len(),
            failed.join("; ")
        ))
        .into());
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} hosts failed (the other hosts' results are kept): {}",
            failed.len(),
            shares.len(),
            failed.join("; ")
        );
    }
    Ok(())
}

/// Copies a child's output, each line prefixed with its host; returns the last `error:`
/// line's message.
fn forward(
    stream: Option<impl std::io::Read + Send + 'static>,
    tag: String,
    is_stderr: bool,
) -> std::thread::JoinHandle<Option<String>> {
    std::thread::spawn(move || {
        let mut last_error = None;
        for line in BufReader::new(stream?).lines().map_while(Result::ok) {
            if let Some(message) = line.strip_prefix("error: ") {
                last_error = Some(message.to_string());
            }
            match is_stderr {
                true => eprintln!("[{tag}] {line}"),
                false => println!("[{tag}] {line}"),
            }
        }
        last_error
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(names: &[&str]) -> Vec<Variant> {
        names.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn spread_deals_the_variants_and_replicate_copies_them() {
        let hosts = ["tcp://127.0.0.1:2375".to_string(), "tcp://box:2376".into()];
        let all = variants(&[
            "musl-system-scratch",
            "glibc-static-system-scratch",
            "musl-mimalloc-scratch",
        ]);
        let spread = shares(&hosts, &all, true, Path::new("out")).unwrap();
        assert_eq!(spread[0].variants, [all[0], all[2]]);
        assert_eq!(spread[1].variants, [all[1]]);
        assert_eq!(spread[1].out, Path::new("out/box_2376"));
        let copied = shares(&hosts, &all, false, Path::new("out")).unwrap();
        assert!(copied.iter().all(|s| s.variants == all));
        let e = shares(&hosts, &all[..1], true, Path::new("out")).unwrap_err();
        assert!(e.contains("--spread over 2 hosts"), "{e}");
    }

    #[test]
    fn a_child_gets_its_share_and_none_of_the_host_flags() {
        let argv: Vec<String> = [
            "run",
            "--app",
            "http",
            "--docker-host",
            "tcp://a:1",
            "--docker-host=tcp://b:2",
            "--spread",
            "--out",
            "x",
            "--variants=musl-*",
            "--quick",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let share = Share {
            host: "tcp://a:1".into(),
            variants: variants(&["musl-system-scratch"]),
            out: PathBuf::from("x/a_1"),
        };
        assert_eq!(
            child_args(&argv, &share),
            [
                "run",
                "--app",
                "http",
                "--quick",
                "--variants=musl-system-scratch",
                "--out=x/a_1"
            ]
        );
    }
}

//! The app and what of it a run takes: the variants (every valid one: an allocator the crate
//! has no feature for is injected at link time), the
//! requests `--endpoints` keeps and the thread counts its args can take.
//!
//! Part of planning: every mistake is a usage error naming the value, before anything runs.

use super::{available_cpus, parse_list, resolve_variants};
use crate::app::{AppSpec, RequestSpec, Which};
use crate::cli::Selection;
use crate::error::usage;
use crate::matrix::{MatrixChoice, Variant};

/// The app and the variants a selection names, checked.
pub fn select(selection: &Selection) -> anyhow::Result<(AppSpec, Vec<Variant>)> {
    let which = Which {
        package: selection.package.clone(),
        bin: selection.bin.clone(),
    };
    let app = AppSpec::resolve_with(&selection.app, &which, &selection.sets)?;
    let variants = if selection.variants.is_empty() {
        match selection.matrix {
            MatrixChoice::Default => Variant::default_set(),
            MatrixChoice::Full => Variant::all_valid(),
        }
    } else {
        resolve_variants(&selection.variants).map_err(usage)?
    };
    Ok((app, variants))
}

/// The app's requests that `--endpoints` names (by name or path); all when not given.
pub(super) fn choose_requests(
    app: &AppSpec,
    endpoints: &[String],
) -> anyhow::Result<Vec<RequestSpec>> {
    let Some(server) = app.server() else {
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        return Err(usage(format!(
            "--endpoints: {} is a batch app, which takes no requests",
            app.name
        )));
    };
    if endpoints.is_empty() {
        return Ok(server.requests.clone());
    }
    let known = || {
        server
            .requests
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = parse_list(endpoints, "--endpoints", |s| {
        server
            .requests
            .iter()
            .find(|r| r.name == s || r.path == s)
            .cloned()
            .ok_or_else(|| format!("unknown endpoint {s:?}: {} has {}", app.name, known()))
    })?;
    let mut unique: Vec<RequestSpec> = Vec::new();
    for request in chosen {
        if !unique.iter().any(|r| r.name == request.name) {
            unique.push(request);
        }
    }
    Ok(unique)
}

/// Batch thread counts: `--threads`, or 1..=nproc, when the app's args take `{threads}`.
pub(super) fn choose_threads(app: &AppSpec, threads: &[String]) -> anyhow::Result<Vec<u32>> {
    let takes_threads = app
        .batch()
        .is_some_and(|b| b.args.iter().any(|a| a.contains("{threads}")));
    if !takes_threads {
        if !threads.is_empty() {
            return Err(usage(format!(
                "--threads: the args of {} have no {{threads}} placeholder to put it in",
                app.name
            )));
        }
        return Ok(vec![available_cpus()]);
    }
    if threads.is_empty() {
        return Ok((1..=available_cpus()).collect());
    }
    let max_threads = 1024;
    parse_list(threads, "--threads", |s| match s.parse::<u32>() {
        Ok(n) if (1..=max_threads).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?} is not a thread count from 1 to {max_threads}"
        )),
    })
}

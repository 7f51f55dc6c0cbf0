//! Errors a caller branches on, and the exit code each maps to.
//!
//! Most failures travel as `anyhow::Error` with context and are printed once by `main`;
//! the kinds here are the ones whose exit code or handling differs.

/// Failures with their own exit code.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Bad arguments or input files: the user's to fix (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A prerequisite (Docker, a target, a tool) is missing (exit 3).
    #[error("{0}")]
    Prerequisite(String),
    /// The command ran, but some variants failed (their steps named); every result that
    /// was measured is kept (exit 4; `--allow-partial` makes it 0).
    #[error("{0}")]
    Partial(String),
    /// `compare --fail-on-regression`: a figure got worse beyond noise (exit 5).
    #[error("{0}")]
    Regression(String),
    /// The run was interrupted by a signal (exit 128 + signal).
    #[error("interrupted by {name}: containers removed, finished variants kept in {results}")]
    Interrupted {
        name: &'static str,
        signal: i32,
        results: String,
    },
}

/// The process exit code for an error: 2 usage, 3 prerequisite, 4 some variants failed,
/// 5 a regression, 128+n signal, 1 otherwise (the table in docs/usage.md).
pub fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<HarnessError>() {
        Some(HarnessError::Usage(_)) => 2,
        Some(HarnessError::Prerequisite(_)) => 3,
        Some(HarnessError::Partial(_)) => 4,
        Some(HarnessError::Regression(_)) => 5,
        Some(HarnessError::Interrupted { signal, .. }) => (128 + signal) as u8,
        None => 1,
    }
}

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    HarnessError::Usage(message.into()).into()
}

/// Ends a command whose variants `failed` (each `name (step)`) out of `total`, with every
/// result kept in `results`: exit 4 with one line naming them, or, with `--allow-partial`
/// (`allow`), the same line as a warning and success. `also`: another arm that failed (the
/// A/A control), named after them, never counted as a variant. Nothing failed: success.
pub fn partial(
    failed: &[String],
    also: Option<String>,
    total: usize,
    results: &std::path::Path,
    allow: bool,
) -> anyhow::Result<()> {
    if failed.is_empty() && also.is_none() {
        return Ok(());
    }
    let what = match failed.len() == total {
        true => "nothing was measured",
        false => "the others' results are kept",
    };
    let mut line = match failed.is_empty() {
        true => String::new(),
        false => format!(
            "{} of {total} variant{} failed: {}",
            failed.len(),
            if total == 1 { "" } else { "s" },
            failed.join(", ")
        ),
    };
    match (also, line.is_empty()) {
        (Some(arm), true) => line = format!("{arm} failed"),
        (Some(arm), false) => line.push_str(&format!(", and {arm}")),
        (None, _) => {}
    }
    line.push_str(&format!("; {what} in {}", results.display()));
    match allow {
        true => {
            eprintln!("warning: {line} (--allow-partial: exit 0)");
            Ok(())
        }
        false => Err(HarnessError::Partial(format!(
            "{line} (exit 4; --allow-partial accepts a partial run)"
        ))
        .into()),
    }
}

/// Shorthand for a missing prerequisite.
pub fn prerequisite(message: impl Into<String>) -> anyhow::Error {
    HarnessError::Prerequisite(message.into()).into()
}

/// Resolves on the first SIGINT or SIGTERM, with its name and number (for
/// [`HarnessError::Interrupted`]); never, where the handlers cannot be installed.
///
/// The handlers are installed by this call, not on the future's first poll: a run's phases
/// may get far (an instance started) before a `select!` first polls its interrupt, and a
/// signal in between would meet the default action and kill the process uncleaned. Call it
/// inside the runtime, before the work it races.
pub fn interrupt_signal() -> impl std::future::Future<Output = (&'static str, i32)> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    async move {
        let (Ok(mut int), Ok(mut term)) = handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => ("SIGINT", libc::SIGINT),
            _ = term.recv() => ("SIGTERM", libc::SIGTERM),
        }
    }
}

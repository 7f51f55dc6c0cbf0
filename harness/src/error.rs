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
    /// The run was interrupted by a signal (exit 128 + signal).
    #[error("interrupted by {name}: containers removed, finished variants kept in {results}")]
    Interrupted {
        name: &'static str,
        signal: i32,
        results: String,
    },
}

/// The process exit code for an error: 2 usage, 3 prerequisite, 128+n signal, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<HarnessError>() {
        Some(HarnessError::Usage(_)) => 2,
        Some(HarnessError::Prerequisite(_)) => 3,
        Some(HarnessError::Interrupted { signal, .. }) => (128 + signal) as u8,
        None => 1,
    }
}

/// Shorthand for a usage error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    HarnessError::Usage(message.into()).into()
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

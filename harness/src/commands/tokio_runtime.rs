//! The one tokio runtime a command's async work runs on.

/// A multi-threaded runtime with IO and timers.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

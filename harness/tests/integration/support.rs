//! Shared helpers for the integration tests.

use std::path::PathBuf;

/// The fixtures directory.
#[allow(dead_code)]
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// True under CI, where a missing prerequisite is a failure, not a skip.
#[allow(dead_code)]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

//! Retrying Docker API calls that failed for a passing reason, with bounded exponential
//! backoff, and the one error that says the daemon stayed unreachable.
//!
//! A call is retried when the connection failed, was reset or timed out, or the daemon
//! answered 502, 503 or 504 (and 500 for reads, which change nothing). Every retry is printed
//! as a warning. When the tries run out the caller gets [`ApiFailed`], which ends the run
//! (the runner checks for it with [`is_api_failure`]); any other error comes back as the
//! daemon's own answer, for the caller to handle (a 404 on remove, a failed variant).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// What a call does to the daemon's state, which decides what is safe to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Inspect, list, logs, version, and removals (removing twice is a 404, handled).
    Read,
    /// Create and start: retried on connection errors and 502-504, not on a 500, which is
    /// the daemon's verdict (an image that cannot start), not a passing fault.
    Write,
}

/// How many tries, and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub tries: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Policy {
    /// Calls during a run: 4 tries, 100 ms doubling (0.7 s of waiting plus the calls).
    pub const RUN: Policy = Policy {
        tries: 4,
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
    };
    /// The final cleanup of a run: more patience, so a daemon that comes back within about
    /// ten seconds still gets its containers removed.
    pub const CLEANUP: Policy = Policy {
        tries: 8,
        first_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(2),
    };

    /// The wait before try `next` (2, 3, …).
    pub fn backoff(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(16);
        (self.first_backoff * 2u32.pow(doublings)).min(self.max_backoff)
    }
}

/// The daemon kept failing a call: the run cannot go on.
#[derive(Debug, thiserror::Error)]
#[error("Docker API failed after {tries} tries: {what}")]
pub struct ApiFailed {
    pub tries: u32,
    pub what: String,
    #[source]
    pub last: bollard::errors::Error,
}

/// Whether an error is worth another try.
pub fn is_transient(error: &bollard::errors::Error, call: Call) -> bool {
    use bollard::errors::Error as E;
    match error {
        E::RequestTimeoutError
        | E::IOError { .. }
        | E::HyperResponseError { .. }
        | E::HyperLegacyError { .. } => true,
        E::DockerResponseServerError { status_code, .. } => {
            matches!(status_code, 502..=504) || (*status_code == 500 && call == Call::Read)
        }
        _ => false,
    }
}

/// Whether an error chain holds an [`ApiFailed`]: the run must end rather than mark one
/// variant failed.
pub fn is_api_failure(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.is::<ApiFailed>())
}

/// Runs `f` under `policy`. Outer error: the tries ran out. Inner error: the daemon's
/// answer to a call that is not worth retrying.
pub async fn retry<T, F, Fut>(
    what: impl Display,
    call: Call,
    policy: Policy,
    mut f: F,
) -> Result<Result<T, bollard::errors::Error>, ApiFailed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, bollard::errors::Error>>,
{
    let mut tried = 0;
    loop {
        tried += 1;
        match f().await {
            Ok(value) => return Ok(Ok(value)),
            Err(e) if !is_transient(&e, call) => return Ok(Err(e)),
            Err(e) if tried >= policy.tries => {
                return Err(ApiFailed {
                    tries: tried,
                    what: what.to_string(),
                    last: e,
                })
            }
            Err(e) => {
                let wait = policy.backoff(tried + 1);
                eprintln!(
                    "warning: Docker API: {what} failed ({e}); try {} of {} in {wait:?}",
                    tried + 1,
                    policy.tries
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// `retry` with the run's policy, both errors as one `anyhow::Error`.
pub async fn run_call<T, F, Fut>(what: impl Display, call: Call, f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, bollard::errors::Error>>,
{
    let what = what.to_string();
    match retry(&what, call, Policy::RUN, f).await? {
        Ok(value) => Ok(value),
        Err(e) => Err(anyhow::Error::new(e).context(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::errors::Error as E;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn server(status_code: u16) -> E {
        E::DockerResponseServerError {
            status_code,
            message: "x".into(),
        }
    }

    const FAST: Policy = Policy {
        tries: 4,
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    };

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let p = Policy::RUN;
        let waits: Vec<u128> = (2..=6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 400, 400]);
        assert_eq!(Policy::CLEANUP.backoff(100), Duration::from_secs(2));
    }

    #[test]
    fn only_passing_faults_are_transient() {
        assert!(is_transient(&E::RequestTimeoutError, Call::Write));
        assert!(is_transient(&server(503), Call::Write));
        assert!(is_transient(&server(500), Call::Read));
        assert!(!is_transient(&server(500), Call::Write));
        assert!(!is_transient(&server(404), Call::Read));
        assert!(!is_transient(&server(409), Call::Read));
    }

    #[tokio::test]
    async fn a_transient_fault_is_retried_until_it_passes() {
        let calls = AtomicU32::new(0);
        let out = retry("inspect", Call::Read, FAST, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(server(503)),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(out.unwrap().unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_lasting_fault_ends_with_the_number_of_tries() {
        let calls = AtomicU32::new(0);
        let out: Result<Result<(), _>, _> = retry("list containers", Call::Read, FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(E::RequestTimeoutError)
        })
        .await;
        let failed = out.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let line = format!("{:#}", anyhow::Error::new(failed));
        assert!(
            line.starts_with("Docker API failed after 4 tries: list containers: "),
            "{line}"
        );
    }

    #[tokio::test]
    async fn the_daemons_verdict_is_not_retried() {
        let calls = AtomicU32::new(0);
        let out: Result<Result<(), _>, _> = retry("remove", Call::Read, FAST, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(server(404))
        })
        .await;
        assert!(matches!(
            out,
            Ok(Err(E::DockerResponseServerError {
                status_code: 404,
                ..
            }))
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let e = anyhow::Error::new(ApiFailed {
            tries: 4,
            what: "x".into(),
            last: server(503),
        })
        .context("cannot create a container");
        assert!(is_api_failure(&e));
        assert!(!is_api_failure(&anyhow::anyhow!("other")));
    }
}

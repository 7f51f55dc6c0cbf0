//! What the tracer records, one JSON object a line: the paths a process reached for (opened,
//! stat'ed, checked, exec'd or read as a link) with what it found, the addresses it
//! connected or sent to, and how it ended. Written by `tracer` inside the container, read
//! back here by the check; a line is written the first time its (operation, target,
//! outcome) is seen, so a trace stays small under any load.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a traced process did to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `open`, `openat`, `openat2`: read (or write) it.
    Open,
    /// `stat`, `lstat`, `newfstatat`, `statx`: asked whether it exists.
    Stat,
    /// `access`, `faccessat`, `faccessat2`.
    Access,
    /// `execve`, `execveat`.
    Exec,
    /// `readlink`, `readlinkat`.
    Readlink,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::Stat => "stat",
            Op::Access => "access",
            Op::Exec => "exec",
            Op::Readlink => "readlink",
        }
    }
}

/// What the system call returned, as the check reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded.
    Found,
    /// `ENOENT` or `ENOTDIR`: not there.
    Missing,
    /// `EACCES` or `EPERM`: there, or not, but not for this user.
    Denied,
    /// Any other error (its errno is kept).
    Failed,
}

impl Outcome {
    /// The outcome of a system call that returned `ret` (a negated errno on failure).
    pub fn of_return(ret: i64) -> (Outcome, Option<i32>) {
        if ret >= 0 {
            return (Outcome::Found, None);
        }
        let errno = (-ret) as i32;
        let outcome = match errno {
            libc::ENOENT | libc::ENOTDIR => Outcome::Missing,
            libc::EACCES | libc::EPERM => Outcome::Denied,
            // A non-blocking connect that has begun is a connect that worked so far.
            libc::EINPROGRESS => Outcome::Found,
            _ => Outcome::Failed,
        };
        (outcome, Some(errno))
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Found => "found",
            Outcome::Missing => "missing",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceLine {
    /// The tracer is tracing the app, started as this pid.
    Traced { pid: u32 },
    /// The tracer could not trace; the app ran untraced.
    Untraceable { reason: String },
    /// A path the app reached for. `directory`: opened as a directory (`O_DIRECTORY`).
    Path {
        op: Op,
        path: String,
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        errno: Option<i32>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        directory: bool,
    },
    /// A socket address the app connected or sent a datagram to (`inet 127.0.0.1:53`,
    /// `inet6 [::1]:53`, `unix /var/run/nscd/socket`).
    Address {
        call: String,
        address: String,
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        errno: Option<i32>,
    },
    /// How the app's main process ended: its exit code, or the signal that killed it.
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// A trace read back: every line, and the lines that did not parse (a tracer killed
/// mid-line leaves at most one).
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub lines: Vec<TraceLine>,
    pub unreadable: usize,
}

impl Trace {
    pub fn parse(text: &str) -> Trace {
        let mut trace = Trace::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str(line) {
                Ok(parsed) => trace.lines.push(parsed),
                Err(_) => trace.unreadable += 1,
            }
        }
        trace
    }

    pub fn read(path: &Path) -> std::io::Result<Trace> {
        Ok(Trace::parse(&std::fs::read_to_string(path)?))
    }

    /// Whether the tracer traced the app (its first line says so).
    pub fn traced(&self) -> bool {
        self.lines
            .iter()
            .any(|l| matches!(l, TraceLine::Traced { .. }))
    }

    /// Why it could not trace, when it said so.
    pub fn untraceable(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            TraceLine::Untraceable { reason } => Some(reason.as_str()),
            _ => None,
        })
    }

    /// Every path line: (op, path, outcome, directory).
    pub fn paths(&self) -> impl Iterator<Item = (Op, &str, Outcome, bool)> {
        self.lines.iter().filter_map(|l| match l {
            TraceLine::Path {
                op,
                path,
                outcome,
                directory,
                ..
            } => Some((*op, path.as_str(), *outcome, *directory)),
            _ => None,
        })
    }

    /// Every address line: (call, address, outcome).
    pub fn addresses(&self) -> impl Iterator<Item = (&str, &str, Outcome)> {
        self.lines.iter().filter_map(|l| match l {
            TraceLine::Address {
                call,
                address,
                outcome,
                ..
            } => Some((call.as_str(), address.as_str(), *outcome)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_round_trips_and_a_torn_last_line_is_counted_not_fatal() {
        let lines = [
            TraceLine::Traced { pid: 7 },
            TraceLine::Path {
                op: Op::Open,
                path: "/etc/ssl/certs/ca-certificates.crt".into(),
                outcome: Outcome::Missing,
                errno: Some(2),
                directory: false,
            },
            TraceLine::Exit {
                code: Some(0),
                signal: None,
            },
        ];
        let mut text: String = lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect();
        text.push_str("{\"kind\":\"path\",\"op\":\"op");
        let trace = Trace::parse(&text);
        assert_eq!(trace.lines, lines);
        assert_eq!(trace.unreadable, 1);
        assert!(trace.traced());
        assert_eq!(
            trace.paths().next().unwrap().1,
            "/etc/ssl/certs/ca-certificates.crt"
        );
    }

    #[test]
    fn return_values_read_as_outcomes() {
        assert_eq!(Outcome::of_return(3), (Outcome::Found, None));
        assert_eq!(
            Outcome::of_return(-(libc::ENOENT as i64)),
            (Outcome::Missing, Some(libc::ENOENT))
        );
        assert_eq!(
            Outcome::of_return(-(libc::ENOTDIR as i64)).0,
            Outcome::Missing
        );
        assert_eq!(
            Outcome::of_return(-(libc::EACCES as i64)).0,
            Outcome::Denied
        );
        assert_eq!(
            Outcome::of_return(-(libc::EINPROGRESS as i64)).0,
            Outcome::Found
        );
        assert_eq!(
            Outcome::of_return(-(libc::ECONNREFUSED as i64)).0,
            Outcome::Failed
        );
    }
}

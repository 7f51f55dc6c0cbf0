//! Asking the app: one `GET` on a fresh connection read by its length, a DNS case through
//! its `resolve_path` with what the stub saw meanwhile, the failures a load window counted,
//! and the lines of its output that read as errors.

use super::dns;
use super::{CaseOutcome, RequestOutcome};
use std::time::Duration;

/// The most error lines kept per variant.
const ERROR_LINES: usize = 5;

/// Has the app resolve `case`'s name through `path`, and reads what the stub saw meanwhile.
pub async fn ask(
    stub: &dns::Stub,
    addr: std::net::SocketAddr,
    path: &str,
    case: dns::Case,
) -> CaseOutcome {
    let since = stub.now_ms();
    let path = path.replace("{name}", &case.lookup);
    let answer = get(addr, &path, RESOLVE_TIMEOUT).await;
    let queries = stub.queries_since(since);
    let (verdict, answer) = match answer {
        Ok((status, body)) if (200..300).contains(&status) => {
            let got: Vec<std::net::IpAddr> = body
                .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '"')
                .filter_map(|t| {
                    t.parse()
                        .ok()
                        .or_else(|| t.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
                })
                .collect();
            let right = !got.is_empty()
                && got
                    .iter()
                    .all(|ip| case.expect.iter().any(|e| e == &ip.to_string()));
            (if right { "right" } else { "wrong" }, first_line(&body))
        }
        Ok((status, body)) => ("failed", format!("{status}: {}", first_line(&body))),
        Err(e) => ("failed", e),
    };
    CaseOutcome {
        behaviour: dns::behaviour(&queries),
        case,
        verdict: verdict.into(),
        answer,
        queries,
    }
}

/// How long the app may take to resolve one name.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(20);

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty)")
        .chars()
        .take(300)
        .collect()
}

/// One `GET path` on a fresh connection: the status and the body, or why there is none.
/// The body ends where its length says, a chunked one at its last chunk, and else when the
/// app closes: a server that keeps the connection open is read all the same.
async fn get(
    addr: std::net::SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            if complete(&reply) {
                break;
            }
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(reply)
    };
    let reply = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => return Err(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => return Err(format!("cannot ask the app: {e}")),
        Ok(Ok(reply)) => String::from_utf8_lossy(&reply).into_owned(),
    };
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {}", first_line(head)))?;
    Ok((status, body.to_string()))
}

/// Whether `reply` holds a whole response: its head, and the body its head announces.
fn complete(reply: &[u8]) -> bool {
    let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&reply[..end]).to_ascii_lowercase();
    let body = &reply[end + 4..];
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    match length {
        Some(length) => body.len() >= length,
        None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
        None => false,
    }
}

pub fn request_outcome(
    name: &str,
    outcome: anyhow::Result<crate::measure::loadgen::LoadReport>,
) -> RequestOutcome {
    match outcome {
        Ok(report) => {
            let counts = [report.window, report.drain];
            RequestOutcome {
                name: name.to_string(),
                responses: counts.iter().map(|c| c.requests).sum(),
                unexpected_status: counts.iter().map(|c| c.non_2xx).sum(),
                errors: counts.iter().map(|c| c.errors).sum(),
                first_error: report.first_error,
            }
        }
        Err(e) => RequestOutcome {
            name: name.to_string(),
            first_error: Some(format!("{e:#}")),
            ..Default::default()
        },
    }
}

/// The lines of an app's output that read as errors, the first few, distinct.
pub fn error_lines(logs: &str) -> Vec<String> {
    const WORDS: [&str; 8] = [
        "error",
        "panic",
        "failed",
        "fatal",
        "no such file",
        "not found",
        "denied",
        "cannot",
    ];
    let mut out: Vec<String> = Vec::new();
    for line in logs.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let lower = line.to_lowercase();
        if WORDS.iter().any(|w| lower.contains(w)) && !out.iter().any(|l| l == line) {
            out.push(line.chars().take(300).collect());
            if out.len() == ERROR_LINES {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_complete_when_its_announced_body_is_in() {
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"));
        assert!(complete(
            b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcd"
        ));
        assert!(complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        ));
        // Without a length the body runs to the close.
        assert!(!complete(b"HTTP/1.1 200 OK\r\n\r\nabcd"));
    }

    #[test]
    fn error_lines_are_the_first_distinct_lines_that_read_as_errors() {
        let logs = "listening on 127.0.0.1:3000\nError: no CA certificates were loaded\nok\nError: no CA certificates were loaded\nthread 'main' panicked at src/main.rs:3\n";
        assert_eq!(
            error_lines(logs),
            [
                "Error: no CA certificates were loaded",
                "thread 'main' panicked at src/main.rs:3"
            ]
        );
    }
}

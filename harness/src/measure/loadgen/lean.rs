//! The lean client: the request encoded once, written whole, and the response read by
//! `http1::ResponseReader` straight off the socket, with no per-request allocation.
//!
//! One request is in flight per connection (no pipelining), so bytes after a complete
//! response are a protocol error. A response carrying `Connection: close` ends the
//! connection without an error; the next request goes on a new one.

use super::http1::{Response, ResponseReader};
use super::lane::{error_text, Flow, Lane};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer kept free before each read.
const READ_ROOM: usize = 16 * 1024;

/// Sends requests on one connection until it fails (reconnect) or the run is over (stop).
pub(super) async fn drive(lane: &mut Lane<'_>, mut stream: TcpStream) -> Flow {
    let mut buf = BytesMut::with_capacity(READ_ROOM);
    let mut reader = ResponseReader::new();
    loop {
        if !lane.may_send().await {
            return Flow::Stop;
        }
        if lane.job.pacer.is_some() {
            // Rate mode leaves connections idle; a server may close them meanwhile.
            match idle_state(&stream) {
                Idle::Open => {}
                Idle::Closed => return Flow::Reconnect,
                Idle::Unexpected => {
                    return lane.fail("the server sent bytes nobody asked for".into())
                }
            }
        }
        let started = lane.start();
        let job = lane.job;
        let request = &job.request_bytes;
        let outcome = tokio::select! {
            biased;
            read = exchange(&mut stream, request, &mut buf, &mut reader) => read,
            () = lane.deadline.as_mut() => return lane.abandon(),
        };
        match outcome {
            Ok(response) => {
                lane.completed(started, response.status);
                if response.close {
                    return Flow::Reconnect;
                }
            }
            Err(message) => return lane.fail(message),
        }
    }
}

/// Writes the request and reads one whole response.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut BytesMut,
    reader: &mut ResponseReader,
) -> Result<Response, String> {
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("send: {}", error_text(&e)))?;
    loop {
        if let Some(response) = reader.feed(buf).map_err(|e| e.to_string())? {
            if !buf.is_empty() {
                return Err(format!("{} unexpected bytes after a response", buf.len()));
            }
            return Ok(response);
        }
        buf.reserve(READ_ROOM);
        let read = stream
            .read_buf(buf)
            .await
            .map_err(|e| format!("receive: {}", error_text(&e)))?;
        if read == 0 {
            return reader.eof().map_err(|e| e.to_string());
        }
    }
}

enum Idle {
    Open,
    Closed,
    Unexpected,
}

/// Whether an idle connection is still usable, without blocking.
fn idle_state(stream: &TcpStream) -> Idle {
    let mut probe = [0u8; 1];
    match stream.try_read(&mut probe) {
        Ok(0) => Idle::Closed,
        Ok(_) => Idle::Unexpected,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Idle::Open,
        Err(_) => Idle::Closed,
    }
}

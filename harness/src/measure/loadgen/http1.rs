//! Reading one HTTP/1.1 response off a keep-alive connection, for the lean client.
//!
//! The head is parsed by `httparse` (the parser hyper uses); the body is framed by
//! `Content-Length`, by chunked transfer coding, or by the connection closing, and is
//! skipped, never stored. Interim (1xx) responses are skipped; 204 and 304 have no body.
//! This module knows nothing of sockets: callers feed it bytes and tell it about EOF.

use bytes::{Buf, BytesMut};

/// The longest response head or chunk-size line accepted.
const MAX_LINE: usize = 64 * 1024;
/// Response header fields parsed at most.
const MAX_HEADERS: usize = 64;

/// A response that cannot be read as HTTP/1.1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid HTTP/1.1 response: {0}")]
pub struct ProtocolError(pub String);

/// A complete response: its status and whether the server ends the connection after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub close: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
}

/// Reads one response incrementally.
#[derive(Debug)]
pub struct ResponseReader {
    state: State,
    status: u16,
    close: bool,
}

fn invalid(message: impl Into<String>) -> ProtocolError {
    ProtocolError(message.into())
}

impl ResponseReader {
    pub fn new() -> ResponseReader {
        ResponseReader {
            state: State::Head,
            status: 0,
            close: false,
        }
    }

    /// Consumes what it can from the front of `buf`; the response once it is complete.
    pub fn feed(&mut self, buf: &mut BytesMut) -> Result<Option<Response>, ProtocolError> {
        loop {
            let before = (self.state, buf.len());
            match self.state {
                State::Head => self.head(buf)?,
                State::Length(left) => {
                    let take = left.min(buf.len() as u64);
                    buf.advance(take as usize);
                    self.state = match left - take {
                        0 => return Ok(Some(self.done())),
                        left => State::Length(left),
                    };
                }
                State::ChunkSize => {
                    if let Some(line) = take_line(buf)? {
                        let size = chunk_size(&line)?;
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                    }
                }
                State::ChunkData(left) => {
                    let take = left.min(buf.len() as u64);
                    buf.advance(take as usize);
                    self.state = match left - take {
                        0 => State::ChunkEnd,
                        left => State::ChunkData(left),
                    };
                }
                State::ChunkEnd => {
                    if buf.len() >= 2 {
                        if &buf[..2] != b"\r\n" {
                            return Err(invalid("chunk data is not followed by CRLF"));
                        }
                        buf.advance(2);
                        self.state = State::ChunkSize;
                    }
                }
                State::Trailers => {
                    if let Some(line) = take_line(buf)? {
                        if line.is_empty() {
                            return Ok(Some(self.done()));
                        }
                    }
                }
                State::UntilClose => buf.clear(),
            }
            if (self.state, buf.len()) == before {
                return Ok(None);
            }
        }
    }

    /// The connection reached EOF: completes a close-delimited body, else it is an error.
    pub fn eof(&mut self) -> Result<Response, ProtocolError> {
        match self.state {
            State::UntilClose => Ok(self.done()),
            State::Head if self.status == 0 => Err(invalid("connection closed before a response")),
            _ => Err(invalid("connection closed in the middle of a response")),
        }
    }

    fn done(&mut self) -> Response {
        let response = Response {
            status: self.status,
            close: self.close,
        };
        *self = ResponseReader::new();
        response
    }

    fn head(&mut self, buf: &mut BytesMut) -> Result<(), ProtocolError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_LINE => {
                return Err(invalid("response head over 64 KiB"))
            }
            Ok(httparse::Status::Partial) => return Ok(()),
            Err(e) => return Err(invalid(e.to_string())),
        };
        let status = response.code.unwrap_or(0);
        let mut framing = Framing {
            close: response.version == Some(0),
            ..Framing::default()
        };
        for header in response.headers.iter() {
            framing.header(header.name, header.value)?;
        }
        buf.advance(len);
        self.status = status;
        self.close = framing.close;
        self.state = match status {
            100..=199 => State::Head,
            204 | 304 => return self.finish_bodiless(),
            _ if framing.chunked == Some(true) => State::ChunkSize,
            // A transfer coding other than chunked last: the body runs until the connection
            // closes (RFC 9112 section 6.3); Content-Length is then ignored.
            _ if framing.chunked == Some(false) => {
                self.close = true;
                State::UntilClose
            }
            _ => match framing.length {
                Some(0) => return self.finish_bodiless(),
                Some(n) => State::Length(n),
                None => {
                    self.close = true;
                    State::UntilClose
                }
            },
        };
        Ok(())
    }

    /// A response without a body is complete with its head: mark it so `feed` returns it.
    fn finish_bodiless(&mut self) -> Result<(), ProtocolError> {
        self.state = State::Length(0);
        Ok(())
    }
}

/// How the body is delimited, from the header fields.
#[derive(Debug, Default)]
struct Framing {
    length: Option<u64>,
    /// Whether the last transfer coding is chunked; `None` without Transfer-Encoding.
    chunked: Option<bool>,
    close: bool,
}

impl Framing {
    fn header(&mut self, name: &str, value: &[u8]) -> Result<(), ProtocolError> {
        let framing = ["content-length", "transfer-encoding", "connection"];
        if !framing.iter().any(|f| name.eq_ignore_ascii_case(f)) {
            return Ok(());
        }
        let value =
            std::str::from_utf8(value).map_err(|_| invalid(format!("{name} is not text")))?;
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| invalid(format!("content-length {value:?}")))?;
            if self.length.is_some_and(|m| m != n) {
                return Err(invalid("conflicting content-length values"));
            }
            self.length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            self.chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    self.close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    self.close = false;
                }
            }
        }
        Ok(())
    }
}

/// One CRLF-terminated line off the front of `buf`, without the CRLF; `None` until complete.
fn take_line(buf: &mut BytesMut) -> Result<Option<BytesMut>, ProtocolError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(at) => {
            let line = buf.split_to(at);
            buf.advance(2);
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE => Err(invalid("line over 64 KiB")),
        None => Ok(None),
    }
}

/// The size of a chunk from its size line (`1a;ext=1`).
fn chunk_size(line: &[u8]) -> Result<u64, ProtocolError> {
    let hex = line.split(|&b| b == b';').next().unwrap_or(b"");
    let hex = std::str::from_utf8(hex).unwrap_or("").trim();
    if hex.is_empty() || hex.len() > 15 {
        return Err(invalid(format!(
            "chunk size {:?}",
            String::from_utf8_lossy(line)
        )));
    }
    u64::from_str_radix(hex, 16)
        .map_err(|_| invalid(format!("chunk size {:?}", String::from_utf8_lossy(line))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step` and returns what the reader made of them.
    fn read(bytes: &[u8], step: usize) -> (Result<Option<Response>, ProtocolError>, usize) {
        let mut reader = ResponseReader::new();
        let mut buf = BytesMut::new();
        for piece in bytes.chunks(step) {
            buf.extend_from_slice(piece);
            match reader.feed(&mut buf) {
                Ok(None) => continue,
                other => return (other, buf.len()),
            }
        }
        (Ok(None), buf.len())
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\nserver: x\r\n\r\nHello, World!";

    #[test]
    fn content_length_bodies_complete_whatever_the_split() {
        for step in [1, 2, 7, OK.len()] {
            let (result, left) = read(OK, step);
            let response = result.unwrap().unwrap();
            assert_eq!(
                (response.status, response.close, left),
                (200, false, 0),
                "{step}"
            );
        }
        let (result, _) = read(&OK[..OK.len() - 1], 4);
        assert_eq!(result, Ok(None), "one byte short is not complete");
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let body = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;note=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\n";
        for step in [1, 3, body.len()] {
            let (result, left) = read(body, step);
            assert_eq!(result.unwrap().unwrap().status, 404, "{step}");
            assert_eq!(left, 0);
        }
    }

    #[test]
    fn bodiless_interim_and_close_delimited_responses() {
        let (r, _) = read(b"HTTP/1.1 204 No Content\r\n\r\n", 5);
        assert_eq!(r.unwrap().unwrap().status, 204);
        let (r, _) = read(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            4,
        );
        assert_eq!(r.unwrap().unwrap().status, 200);
        let (r, _) = read(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nhi",
            64,
        );
        assert!(r.unwrap().unwrap().close);
        let mut reader = ResponseReader::new();
        let mut buf = BytesMut::from(&b"HTTP/1.0 200 OK\r\n\r\nsome body"[..]);
        assert_eq!(reader.feed(&mut buf), Ok(None));
        assert_eq!(
            reader.eof(),
            Ok(Response {
                status: 200,
                close: true
            })
        );
    }

    #[test]
    fn truncated_and_malformed_responses_are_errors() {
        let mut reader = ResponseReader::new();
        let mut buf = BytesMut::from(&OK[..OK.len() - 3]);
        assert_eq!(reader.feed(&mut buf), Ok(None));
        assert!(reader.eof().unwrap_err().0.contains("middle of a response"));
        assert!(ResponseReader::new().eof().is_err());
        for bad in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n",
            b"SMTP ready\r\n\r\n",
        ] {
            let (result, _) = read(bad, bad.len());
            assert!(result.is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_reader_is_reusable_and_leaves_the_next_response_alone() {
        let mut two = OK.to_vec();
        two.extend_from_slice(OK);
        let mut buf = BytesMut::from(&two[..]);
        let mut reader = ResponseReader::new();
        assert!(reader.feed(&mut buf).unwrap().is_some());
        assert_eq!(buf.len(), OK.len());
        assert!(reader.feed(&mut buf).unwrap().is_some());
        assert!(buf.is_empty());
    }
}

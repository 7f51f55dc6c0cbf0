//! The HTTP server of a fake instance scripted to serve: it answers 200 to every request
//! on 127.0.0.1 at the instance's `PORT`, from threads, until it has answered its quota
//! (then it dies) or the instance is removed. Only loopback; it parses nothing but the
//! blank line that ends a GET.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Answers every request on `listener` with 200 until `dead`, which it sets itself after
/// `requests` requests in all; then every connection closes and new ones are refused.
pub(super) fn serve(
    listener: &TcpListener,
    requests: u64,
    dead: &Arc<AtomicBool>,
    served: &Arc<AtomicU64>,
    changed: &Arc<Notify>,
) {
    let answered = Arc::new(AtomicU64::new(0));
    listener
        .set_nonblocking(true)
        .expect("a nonblocking listener");
    while !dead.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (dead, served, changed) = (dead.clone(), served.clone(), changed.clone());
                let answered = answered.clone();
                std::thread::spawn(move || {
                    let mut connection = Connection {
                        stream,
                        requests,
                        answered: &answered,
                        dead: &dead,
                    };
                    connection.answer(&served, &changed);
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// One keep-alive connection of a serving instance.
struct Connection<'a> {
    stream: TcpStream,
    requests: u64,
    answered: &'a AtomicU64,
    dead: &'a AtomicBool,
}

impl Connection<'_> {
    /// Answers each request (a GET: its end is a blank line) until the client closes or
    /// the instance dies.
    fn answer(&mut self, served: &AtomicU64, changed: &Notify) {
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(10)));
        let mut buf = [0u8; 4096];
        let mut pending = Vec::new();
        while !self.dead.load(Ordering::SeqCst) {
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(_) => continue,
            };
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                pending.drain(..end + 4);
                if self.answered.fetch_add(1, Ordering::SeqCst) >= self.requests {
                    self.dead.store(true, Ordering::SeqCst);
                    return;
                }
                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if self.stream.write_all(reply).is_err() {
                    return;
                }
                served.fetch_add(1, Ordering::SeqCst);
                changed.notify_waiters();
            }
        }
    }
}

//! One load-generating connection's life, whichever client speaks HTTP on it: connect,
//! send requests one at a time, count every outcome by the phase it ended in, reconnect
//! after failures.
//!
//! Every wait is bounded: connects and back-offs by the end of the window, an in-flight
//! request by the drain deadline, after which it is counted as abandoned (an error). A
//! request still unanswered at the end of the window, and a rate-mode ticket never sent,
//! enters the latency histogram censored at the window's end (see `Tally::censor`). The
//! clients (`hyper_client`, `lean`) only exchange requests; the counting is in `lane`.

use super::lane::{Flow, Job, Lane, Tally};
use super::Client;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout_at};

const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// One connection's whole life: returns what it counted.
pub(super) async fn run_connection(job: Arc<Job>) -> Tally {
    let deadline = sleep_until(job.timeline.drain_end.into());
    tokio::pin!(deadline);
    let mut lane = Lane {
        job: &job,
        tally: Tally::new(),
        ticket: None,
        in_flight: None,
        deadline: deadline.as_mut(),
    };
    let mut backoff = MIN_BACKOFF;
    while Instant::now() < job.timeline.end {
        let connected = match timeout_at(job.timeline.end.into(), connect(job.addr)).await {
            Err(_elapsed) => break,
            Ok(connected) => connected,
        };
        let flow = match connected {
            Ok(stream) => {
                backoff = MIN_BACKOFF;
                match job.client {
                    Client::Hyper => super::hyper_client::drive(&mut lane, stream).await,
                    Client::Lean => super::lean::drive(&mut lane, stream).await,
                }
            }
            Err(e) => {
                let timeline = job.timeline;
                lane.tally
                    .error(&timeline, || format!("connect to {}: {e}", job.addr));
                let wake = (Instant::now() + backoff).min(job.timeline.end);
                sleep_until(wake.into()).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                Flow::Reconnect
            }
        };
        if let Flow::Stop = flow {
            break;
        }
    }
    if let Some(ticket) = lane.ticket.take() {
        lane.tally.unsent_tickets += 1;
        lane.tally.censor(&job.timeline, ticket);
    }
    lane.tally
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

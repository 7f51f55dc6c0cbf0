//! The hyper client: `hyper::client::conn::http1` on one keep-alive connection.
//!
//! The connection future and the request run in the same task (no spawned connection
//! driver), so a request costs no cross-task wake-ups. It is the reference the lean client
//! is checked against, and costs about twice the lean client's CPU per request.

use super::lane::{error_text, Flow, Lane};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Sender = http1::SendRequest<Full<Bytes>>;

/// Sends requests on one connection until it fails (reconnect) or the run is over (stop).
pub(super) async fn drive(lane: &mut Lane<'_>, stream: TcpStream) -> Flow {
    let (mut sender, connection) = match http1::Builder::new()
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
    {
        Ok(pair) => pair,
        Err(e) => return lane.fail(format!("HTTP/1.1 handshake: {}", error_text(&e))),
    };
    tokio::pin!(connection);
    loop {
        if !lane.may_send().await {
            return Flow::Stop;
        }
        // Wait until the connection can take a request; nothing is sent yet, so a close
        // here is the server ending keep-alive, not a failed request.
        tokio::select! {
            biased;
            ready = sender.ready() => if ready.is_err() { return Flow::Reconnect },
            _ = &mut connection => return Flow::Reconnect,
            () = lane.deadline.as_mut() => return Flow::Stop,
        }
        let started = lane.start();
        let exchange = exchange(&mut sender, lane.job.endpoint.request(&lane.job.host));
        tokio::pin!(exchange);
        let outcome = tokio::select! {
            biased;
            sent = &mut exchange => sent,
            ended = &mut connection => match ended {
                // The server closed after answering (`Connection: close`): the response is
                // already handed over, so finish reading it without the connection.
                Ok(()) => tokio::select! {
                    sent = &mut exchange => sent,
                    () = lane.deadline.as_mut() => return lane.abandon(),
                },
                Err(e) => return lane.fail(error_text(&e)),
            },
            () = lane.deadline.as_mut() => return lane.abandon(),
        };
        let outcome = outcome.map_err(|e| error_text(&e));
        match outcome {
            Ok(status) => lane.completed(started, status),
            Err(message) => return lane.fail(message),
        }
    }
}

/// Sends one request and reads its whole response; returns the status.
async fn exchange(sender: &mut Sender, request: Request<Full<Bytes>>) -> hyper::Result<u16> {
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(status)
}

//! The http-server sample app as a library: routes and the serve loop.
//!
//! `serve` takes a bound listener and a shutdown future (as mini-redis does), so tests bind
//! port 0 and stop it when they like. Process concerns (flags, runtime, signals) live in
//! `main.rs`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use workloads::record::{Record, Summary};

/// The `/plaintext` body: 13 bytes, as TechEmpower's test.
pub const PLAINTEXT: &[u8] = b"Hello, World!";
/// Records serialized by each `/json` request.
pub const JSON_RECORDS: usize = 100;
/// The largest body `/parse` accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Requests answered, shared with tests so they can compare against a client's count.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes; open connections are dropped.
pub async fn serve(
    listener: TcpListener,
    counters: Arc<Counters>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(_) => continue,
            },
            () = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        let counters = counters.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                counters.requests.fetch_add(1, Ordering::Relaxed);
                route(req)
            });
            // A client that goes away mid-request is not the server's error.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/plaintext") => {
            respond(StatusCode::OK, "text/plain", Bytes::from_static(PLAINTEXT))
        }
        (&Method::GET, "/json") => json(StatusCode::OK, json_body()),
        (&Method::POST, "/parse") => parse(req.into_body()).await,
        (_, "/plaintext" | "/json" | "/parse") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "no such endpoint: try /plaintext, /json or POST /parse",
        ),
    };
    Ok(response)
}

/// `/json`: builds `JSON_RECORDS` fresh records and serializes them (allocation-heavy on purpose).
pub fn json_body() -> Vec<u8> {
    let records = workloads::dataset::records(42, JSON_RECORDS);
    serde_json::to_vec(&records).expect("records always serialize")
}

async fn parse(body: Incoming) -> Response<Full<Bytes>> {
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body unreadable or over 16 MiB",
            )
        }
    };
    match serde_json::from_slice::<Vec<Record>>(&bytes) {
        Ok(records) => {
            let mut summary = Summary::default();
            records.iter().for_each(|r| summary.add(r));
            json(
                StatusCode::OK,
                serde_json::to_vec(&summary).expect("summary always serializes"),
            )
        }
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            &format!("body is not a JSON array of records: {e}"),
        ),
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    respond(status, "application/json", Bytes::from(body))
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(
        status,
        serde_json::to_vec(&serde_json::json!({ "error": message })).expect("always serializes"),
    )
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("server", "glibc-vs-musl")
        .body(Full::new(body))
        .expect("static headers are valid")
}

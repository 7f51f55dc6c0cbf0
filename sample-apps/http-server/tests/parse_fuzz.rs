//! Fuzzing `POST /parse` at scale with proptest, against the real server on 127.0.0.1:0:
//! arbitrary bytes and mutated valid bodies get a 400 with a JSON error (or a 200 when the
//! body still parses), never a crash, a dropped connection or a hang.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use proptest::prelude::*;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use workloads::record::Record;

/// One server for every case: started once, it must survive them all.
struct Server {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(http_server::Counters::default());
        runtime.spawn(http_server::serve(
            listener,
            counters,
            std::future::pending(),
        ));
        Server { runtime, addr }
    })
}

/// POSTs `body` to /parse on a fresh connection; (status, body). Panics on a hang.
fn post(body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let server = server();
    server.runtime.block_on(async {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(server.addr).await?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            let request = Request::post("/parse")
                .header("host", "fuzz")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap();
            let response = sender
                .send_request(request)
                .await
                .map_err(std::io::Error::other)?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>((status, bytes.to_bytes().to_vec()))
        };
        tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .expect("/parse did not answer within 10 s")
            .expect("/parse dropped the connection")
    })
}

/// The server's answer matches what the body is: records → 200, anything else → 400 with a
/// JSON error object.
fn check(body: Vec<u8>) -> Result<(), TestCaseError> {
    let valid = serde_json::from_slice::<Vec<Record>>(&body).is_ok();
    let (status, answer) = post(body);
    let json: serde_json::Value = serde_json::from_slice(&answer)
        .map_err(|e| TestCaseError::fail(format!("{status}: the answer is not JSON: {e}")))?;
    if valid {
        prop_assert_eq!(status, StatusCode::OK);
        prop_assert!(json["records"].is_u64(), "{}", json);
    } else {
        prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        prop_assert!(json["error"].is_string(), "{}", json);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_a_400_never_a_crash(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(body)?;
    }

    #[test]
    fn mutated_valid_bodies_get_a_400_or_a_200(
        seed in any::<u64>(),
        count in 0usize..6,
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..6),
    ) {
        check(workloads::dataset::mutate(
            workloads::dataset::json_array(seed, count),
            &edits,
        ))?;
    }
}

#[test]
fn the_server_still_serves_after_the_fuzzing_and_an_oversized_body() {
    let (status, _) = post(vec![b' '; http_server::MAX_BODY_BYTES + 1]);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = post(workloads::dataset::json_array(1, 3));
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

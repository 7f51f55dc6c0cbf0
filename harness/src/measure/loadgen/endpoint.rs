//! The request a load run sends over and over, and its two encodings: whole HTTP/1.1 bytes
//! (lean client) and a `hyper::Request` (hyper client).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};

/// One request, sent over and over: method, path and body; a response with any status but
/// `expect_status` is counted as unexpected (`non_2xx` in the results).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// What the results call it (the path, unless the app's table names it).
    pub name: String,
    pub method: Method,
    pub path: Uri,
    pub body: Bytes,
    pub expect_status: u16,
}

impl Endpoint {
    /// A request named by its path, expecting 200.
    pub fn new(method: Method, path: &str, body: Bytes) -> anyhow::Result<Endpoint> {
        let uri: Uri = path
            .parse()
            .map_err(|e| anyhow::anyhow!("endpoint {path:?} is not a request path: {e}"))?;
        Ok(Endpoint {
            name: path.to_string(),
            method,
            path: uri,
            body,
            expect_status: 200,
        })
    }

    /// One of an app's workload requests (from its `[package.metadata.harness]` table).
    pub fn from_request(request: &crate::app::RequestSpec) -> anyhow::Result<Endpoint> {
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|e| anyhow::anyhow!("method {:?}: {e}", request.method))?;
        let mut endpoint = Endpoint::new(method, &request.path, Bytes::from(request.body.clone()))?;
        endpoint.name = request.name.clone();
        endpoint.expect_status = request.expect_status;
        Ok(endpoint)
    }

    /// The http-server's request at `path`, as its Cargo.toml table declares it: `GET
    /// /plaintext`, `GET /json`, and `POST /parse` with its body file (which holds
    /// `workloads::dataset::json_array(PARSE_BODY_SEED, PARSE_BODY_RECORDS)`).
    pub fn for_path(path: &str) -> Option<Endpoint> {
        let app = crate::app::AppSpec::resolve("http", None).ok()?;
        let request = app.server()?.requests.iter().find(|r| r.path == path)?;
        Endpoint::from_request(request).ok()
    }

    /// The whole request as HTTP/1.1 bytes, with `Host: host`.
    pub(super) fn encode(&self, host: &str) -> Bytes {
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", self.method, self.path);
        if !self.body.is_empty() || self.method == Method::POST {
            head.push_str("Content-Type: application/json\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        Bytes::from(bytes)
    }

    /// A fresh request (hyper consumes one per send); the body bytes are shared, not copied.
    pub(super) fn request(&self, host: &HeaderValue) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.path.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, host.clone());
        if !self.body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        request
    }
}

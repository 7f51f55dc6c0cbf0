//! service: a small HTTP service that does what real services do, each on its own path, so
//! that what a scratch image lacks shows up as a failed request with its error:
//! - `GET /fetch`: an HTTPS call to the upstream (`UPSTREAM_URL`), trusting the system's
//!   CA roots, loaded once at start as reqwest's and tonic's native-roots features do, and
//!   the upstream's own CA (`UPSTREAM_CA`, PEM) on top, as a company's internal CA. Like
//!   those clients, it refuses to make TLS calls when the system has no roots at all;
//! - `GET /time?zone=ZONE`: the time in a named zone, from the system's tz database;
//! - `GET /whoami`: the name of the user it runs as, from the user database;
//! - `GET /resolve?name=NAME`: the addresses the libc resolves NAME to;
//! - `GET /health`: 200 once listening.
//!
//! Each answers 200 when it worked and 5xx with the error as the body when not.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How long one outbound call may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the service learned at start: where the upstream is and how to reach it.
pub struct State {
    upstream: Result<Upstream, String>,
    roots: Result<usize, String>,
}

struct Upstream {
    host: String,
    port: u16,
    path: String,
    /// The TLS client, or why there is none (no system roots).
    connector: Result<tokio_rustls::TlsConnector, String>,
}

impl State {
    /// Reads `UPSTREAM_URL` and `UPSTREAM_CA`, and the system's CA roots.
    pub fn from_env() -> Arc<State> {
        let roots = system_roots();
        let upstream = match std::env::var("UPSTREAM_URL") {
            Err(_) => Err("no upstream configured (set UPSTREAM_URL)".to_string()),
            Ok(url) => parse_url(&url).map(|(host, port, path)| Upstream {
                host,
                port,
                path,
                connector: connector(&roots, std::env::var("UPSTREAM_CA").ok().as_deref()),
            }),
        };
        Arc::new(State {
            upstream,
            roots: roots.map(|r| r.len()),
        })
    }

    /// The start-up log's lines: the roots loaded (or the error), and the upstream.
    pub fn describe(&self) -> [String; 2] {
        let roots = match &self.roots {
            Ok(n) => format!("loaded {n} CA certificates from the system"),
            Err(e) => format!("error: {e}"),
        };
        let upstream = match &self.upstream {
            Ok(u) => format!("upstream https://{}:{}{}", u.host, u.port, u.path),
            Err(e) => e.clone(),
        };
        [roots, upstream]
    }
}

/// The system's CA roots, or why there are none.
fn system_roots() -> Result<rustls::RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
        return Err(format!(
            "no CA certificates were loaded from the system{}",
            match errors.is_empty() {
                true => String::new(),
                false => format!(" ({})", errors.join("; ")),
            }
        ));
    }
    Ok(roots)
}

fn connector(
    roots: &Result<rustls::RootCertStore, String>,
    extra_pem: Option<&str>,
) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = roots.clone()?;
    if let Some(pem) = extra_pem {
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("UPSTREAM_CA is not PEM: {e}"))?;
            roots.add(cert).map_err(|e| format!("UPSTREAM_CA: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// `https://HOST:PORT/PATH` → (host, port, path).
fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("UPSTREAM_URL {url:?} is not https://HOST:PORT/PATH"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse()
                .map_err(|_| format!("UPSTREAM_URL {url:?}: bad port"))?,
        ),
        None => (authority, 443),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((host.to_string(), port, path.to_string()))
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            () = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| route(state.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "GET only".into()));
    }
    let query = |key: &str| {
        req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        })
    };
    let outcome = match req.uri().path() {
        "/health" => Ok("ok".to_string()),
        "/fetch" => fetch(&state).await,
        "/time" => time_in(&query("zone").unwrap_or_else(|| "UTC".into())),
        "/whoami" => whoami(),
        "/resolve" => match query("name") {
            Some(name) => resolve(&name).await,
            None => Err((StatusCode::BAD_REQUEST, "give ?name=NAME".into())),
        },
        _ => Err((
            StatusCode::NOT_FOUND,
            "no such endpoint: try /fetch, /time?zone=Z, /whoami, /resolve?name=N, /health".into(),
        )),
    };
    Ok(match outcome {
        Ok(body) => reply(StatusCode::OK, body),
        Err((status, error)) => reply(status, error),
    })
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body + "\n")));
    *response.status_mut() = status;
    response
}

type Outcome = Result<String, (StatusCode, String)>;

/// One HTTPS GET of the upstream: its body, or why it failed.
async fn fetch(state: &State) -> Outcome {
    let bad = |e: String| (StatusCode::BAD_GATEWAY, e);
    let upstream = state
        .upstream
        .as_ref()
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.clone()))?;
    let connector = upstream.connector.clone().map_err(bad)?;
    let call = async {
        let tcp = tokio::net::TcpStream::connect((upstream.host.as_str(), upstream.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", upstream.host, upstream.port))?;
        let name = rustls::pki_types::ServerName::try_from(upstream.host.clone())
            .map_err(|e| e.to_string())?;
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {}: {e}", upstream.host))?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            upstream.path, upstream.host
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        // The upstream may close without a TLS close_notify: what was read counts.
        let _ = tls.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        match answer.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.1 200") => {
                Ok(format!("upstream said: {}", body.trim()))
            }
            _ => Err(format!(
                "the upstream answered {:?}",
                answer.lines().next().unwrap_or("nothing")
            )),
        }
    };
    match tokio::time::timeout(FETCH_TIMEOUT, call).await {
        Ok(result) => result.map_err(bad),
        Err(_) => Err(bad(format!("no answer within {FETCH_TIMEOUT:?}"))),
    }
}

/// The time now in a named zone.
fn time_in(zone: &str) -> Outcome {
    let tz = jiff::tz::TimeZone::get(zone).map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot load the time zone {zone}: {e}"),
        )
    })?;
    Ok(jiff::Timestamp::now()
        .to_zoned(tz)
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string())
}

/// The name of the user this process runs as.
fn whoami() -> Outcome {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out value.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to a live buffer of the size given.
    let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no user database entry for uid {uid} (looked up with getpwuid_r)"),
        ));
    }
    // SAFETY: getpwuid_r filled pw_name with a NUL-terminated string in `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Ok(name.to_string_lossy().into_owned())
}

/// The addresses the libc resolves `name` to.
async fn resolve(name: &str) -> Outcome {
    match tokio::net::lookup_host((name, 80)).await {
        Ok(addrs) => Ok(addrs
            .map(|a| a.ip().to_string())
            .collect::<Vec<_>>()
            .join(" ")),
        Err(e) => Err((
            StatusCode::BAD_GATEWAY,
            format!("cannot resolve {name}: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_are_read_with_their_defaults() {
        assert_eq!(
            parse_url("https://localhost:8443/x").unwrap(),
            ("localhost".into(), 8443, "/x".into())
        );
        assert_eq!(
            parse_url("https://example.test").unwrap(),
            ("example.test".into(), 443, "/".into())
        );
        assert!(parse_url("http://example.test").is_err());
    }

    #[test]
    fn a_named_zone_is_formatted_or_its_error_returned() {
        assert!(time_in("UTC").is_ok());
        let (status, error) = time_in("Not/AZone").unwrap_err();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(error.contains("Not/AZone"), "{error}");
    }
}

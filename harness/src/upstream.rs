//! The upstream an app calls out to, for apps whose harness table says `upstream = "https"`:
//! an HTTPS server on this machine's loopback with a certificate for `localhost` signed by a
//! throwaway CA made for this run. The app is told where it is and which CA signed it
//! through its environment (`UPSTREAM_URL`, `UPSTREAM_CA` as PEM), so it can trust that CA
//! on top of the system's roots, as a service trusts its company's internal CA.
//!
//! Every request gets `200 upstream ok`. The server lives as long as the `Upstream` value;
//! it serves only loopback, and nothing it does leaves the machine. It does not know who
//! calls it or why: `runner`, `check` and `profiler` start one when the app asks.

use crate::app::AppSpec;
use anyhow::Context;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The variable naming the upstream's URL.
pub const URL_ENV: &str = "UPSTREAM_URL";
/// The variable holding the throwaway CA's certificate, PEM.
pub const CA_ENV: &str = "UPSTREAM_CA";
const BODY: &str = "upstream ok";

/// A running upstream; dropping it stops it.
pub struct Upstream {
    pub url: String,
    pub ca_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    /// Makes a CA and a `localhost` certificate, and serves HTTPS on 127.0.0.1, a free port.
    pub async fn start() -> anyhow::Result<Upstream> {
        let (ca_pem, chain, key) =
            certificates().context("cannot make the upstream's certificates")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen for the upstream")?;
        let port = listener.local_addr()?.port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve(tls).await;
                    }
                });
            }
        });
        Ok(Upstream {
            url: format!("https://localhost:{port}/"),
            ca_pem,
            task,
        })
    }

    /// The environment that points an app at it.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (URL_ENV.to_string(), self.url.clone()),
            (CA_ENV.to_string(), self.ca_pem.clone()),
        ]
    }

    /// `app` with this upstream's environment added to every start of it.
    pub fn for_app(&self, app: &AppSpec) -> AppSpec {
        let mut app = app.clone();
        if let crate::app::Drive::Server(server) = &mut app.drive {
            server.launch.env.extend(self.env());
        }
        app
    }
}

/// Starts an upstream when `app` asks for one: the app as it must be started, and the
/// upstream to keep alive meanwhile.
pub async fn for_app(app: &AppSpec) -> anyhow::Result<(AppSpec, Option<Upstream>)> {
    match app.server().is_some_and(|s| s.upstream) {
        false => Ok((app.clone(), None)),
        true => {
            let upstream = Upstream::start().await?;
            Ok((upstream.for_app(app), Some(upstream)))
        }
    }
}

/// The CA's PEM, and the server's chain and key.
fn certificates() -> anyhow::Result<(
    String,
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
)> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "glibc-vs-musl throwaway CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = ca.self_signed(&ca_key)?;
    let key = rcgen::KeyPair::generate()?;
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    let leaf = leaf.signed_by(&key, &ca, &ca_key)?;
    let private = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
    Ok((
        ca.pem(),
        vec![leaf.der().clone(), ca.der().clone()],
        private.into(),
    ))
}

/// Answers every request on one connection with `200 upstream ok`.
async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut stream: S) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let close = head.contains("connection: close");
            seen.drain(..end + 4);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{BODY}",
                BODY.len()
            );
            if stream.write_all(reply.as_bytes()).await.is_err() || close {
                let _ = stream.shutdown().await;
                return;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that trusts only the throwaway CA gets the answer over TLS, by name.
    #[tokio::test]
    async fn the_upstream_answers_a_client_that_trusts_its_ca() {
        let upstream = Upstream::start().await.unwrap();
        let mut roots = rustls::RootCertStore::empty();
        let pem = upstream.ca_pem.clone();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
            let cert: rustls::pki_types::CertificateDer = cert.unwrap();
            roots.add(cert).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let port = upstream
            .url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap();
        let tcp = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut reply = vec![0u8; 256];
        let n = tls.read(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply[..n]);
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.ends_with(BODY), "{reply}");
        assert_eq!(upstream.env()[0].0, URL_ENV);
    }
}

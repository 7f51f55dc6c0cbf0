//! service: flags, the tokio runtime and signals; the serving is in the library.
//!
//! Flags: `--addr HOST:PORT` (env `SERVICE_ADDR`, default 127.0.0.1:8080), `--version`,
//! `--help`. The upstream is named by `UPSTREAM_URL`, and its CA by `UPSTREAM_CA` (PEM).

use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: service [--addr HOST:PORT] [--version]";

fn main() -> ExitCode {
    let addr = match parse_args() {
        Ok(Some(addr)) => addr,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("service: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("service: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("service: cannot listen on {addr}: {e} (pick a free port with --addr)");
                return ExitCode::FAILURE;
            }
        };
        let state = service::State::from_env();
        eprintln!("service: listening on {addr}");
        for line in state.describe() {
            eprintln!("service: {line}");
        }
        service::serve(listener, state, shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn parse_args() -> Result<Option<SocketAddr>, String> {
    use lexopt::prelude::*;
    let mut addr = std::env::var("SERVICE_ADDR").unwrap_or("127.0.0.1:8080".into());
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("addr") => {
                addr = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .string()
                    .map_err(|_| "--addr is not UTF-8")?
            }
            Long("version") | Short('V') => {
                println!("service {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            Long("help") | Short('h') => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    addr.parse()
        .map(Some)
        .map_err(|_| format!("invalid address {addr:?}: expected HOST:PORT such as 127.0.0.1:8080"))
}

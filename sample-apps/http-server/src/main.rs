//! http-server: flags, the tokio runtime and signals; the serving is in the library.
//!
//! Flags: `--addr HOST:PORT` (env `HTTP_ADDR`, default 127.0.0.1:8080), `--threads N`
//! (env `WORKERS`, default the CPUs this process may use), `--version`, `--help`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: http-server [--addr HOST:PORT] [--threads N] [--version]";

struct Args {
    addr: SocketAddr,
    threads: usize,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("http-server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("http-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!(
                    "http-server: cannot listen on {}: {e} (pick a free port with --addr)",
                    args.addr
                );
                return ExitCode::FAILURE;
            }
        };
        eprintln!(
            "http-server: listening on {} with {} threads ({} {})",
            args.addr,
            args.threads,
            workloads::libc_name(),
            workloads::allocator_name()
        );
        http_server::serve(listener, Arc::default(), shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the default action (exit) still applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let env_or = |key: &str, default: String| std::env::var(key).unwrap_or(default);
    let mut addr = env_or("HTTP_ADDR", "127.0.0.1:8080".into());
    let default_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = env_or("WORKERS", default_threads.to_string());
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
            Long("threads") => {
                threads = parser
                    .value()
                    .map_err(|e| e.to_string())?
                    .string()
                    .map_err(|_| "--threads is not UTF-8")?
            }
            Long("version") | Short('V') => {
                println!(
                    "http-server {} ({} {})",
                    env!("CARGO_PKG_VERSION"),
                    workloads::libc_name(),
                    workloads::allocator_name()
                );
                return Ok(None);
            }
            Long("help") | Short('h') => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    let addr = addr.parse().map_err(|_| {
        format!("invalid address {addr:?}: expected HOST:PORT such as 127.0.0.1:8080")
    })?;
    let threads = match threads.parse::<usize>() {
        Ok(n) if n > 0 => n,
        _ => {
            return Err(format!(
                "invalid thread count {threads:?}: expected a whole number of at least 1"
            ))
        }
    };
    Ok(Some(Args { addr, threads }))
}

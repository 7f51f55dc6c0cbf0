//! json-cruncher: a batch job that parses and aggregates a JSON dataset and prints one line.
//!
//! It generates a deterministic dataset of `--size-mb` MB (or reads `--input FILE`, `-` for
//! stdin), crunches it on `--threads` threads for `--rounds` rounds, and prints exactly one
//! JSON line: bytes, threads, rounds, seconds, mb_per_s, checksum, max_rss_kb. Only the crunch
//! is timed.

use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str =
    "usage: json-cruncher [--size-mb N | --input FILE|-] [--threads T] [--rounds R] [--seed S] [--version]";

struct Args {
    input: Input,
    threads: usize,
    rounds: usize,
}

enum Input {
    Generate { bytes: usize, seed: u64 },
    File(String),
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("json-cruncher: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let data = match read_input(&args.input) {
        Ok(data) => data,
        Err(message) => {
            eprintln!("json-cruncher: {message}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let mut checksum = 0;
    for _ in 0..args.rounds {
        match workloads::crunch::crunch(&data, args.threads) {
            Ok(summary) => checksum = summary.checksum(),
            Err(e) => {
                eprintln!("json-cruncher: malformed input: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let bytes = data.len() * args.rounds;
    let line = serde_json::json!({
        "bytes": bytes,
        "threads": args.threads,
        "rounds": args.rounds,
        "seconds": seconds,
        "mb_per_s": bytes as f64 / 1e6 / seconds,
        "checksum": format!("{checksum:016x}"),
        "libc": workloads::libc_name(),
        "allocator": workloads::allocator_name(),
        "max_rss_kb": max_rss_kb(),
    });
    println!("{line}");
    ExitCode::SUCCESS
}

/// Peak resident set size of this program, in kB: `VmHWM` from `/proc/self/status`, or -1
/// where it cannot be read.
///
/// Not getrusage's `ru_maxrss`: Linux carries that across `execve`, so it would include
/// whatever ran in this process before the program (runc's init is about 11 MB); `VmHWM`
/// belongs to this program's own address space.
fn max_rss_kb() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(-1)
}

fn read_input(input: &Input) -> Result<Vec<u8>, String> {
    match input {
        Input::Generate { bytes, seed } => Ok(workloads::dataset::ndjson(*seed, *bytes)),
        Input::File(path) if path == "-" => {
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(data)
        }
        Input::File(path) => std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}")),
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let mut size_mb: f64 = 16.0;
    let mut seed = 1u64;
    let mut file = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rounds = 1usize;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("size-mb") => size_mb = number(&mut parser, "--size-mb")?,
            Long("seed") => seed = number(&mut parser, "--seed")?,
            Long("threads") => threads = number(&mut parser, "--threads")?,
            Long("rounds") => rounds = number(&mut parser, "--rounds")?,
            Long("input") => {
                file = Some(
                    parser
                        .value()
                        .map_err(|e| e.to_string())?
                        .string()
                        .map_err(|_| "--input is not UTF-8")?,
                )
            }
            Long("version") | Short('V') => {
                println!(
                    "json-cruncher {} ({} {})",
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
    if !(size_mb > 0.0 && size_mb <= 4096.0) {
        return Err(format!(
            "--size-mb {size_mb} is out of range: expected more than 0 and at most 4096"
        ));
    }
    if threads == 0 || threads > 1024 {
        return Err(format!(
            "--threads {threads} is out of range: expected 1 to 1024"
        ));
    }
    if rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let input = match file {
        Some(path) => Input::File(path),
        None => Input::Generate {
            bytes: (size_mb * 1e6) as usize,
            seed,
        },
    };
    Ok(Some(Args {
        input,
        threads,
        rounds,
    }))
}

fn number<T: std::str::FromStr>(parser: &mut lexopt::Parser, flag: &str) -> Result<T, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    let text = value.to_string_lossy().into_owned();
    text.parse()
        .map_err(|_| format!("{flag} {text:?} is not a valid number"))
}

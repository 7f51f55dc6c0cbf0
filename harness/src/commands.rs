//! One function per subcommand: take the parsed arguments, plan, act, print.
//!
//! This is the only place that decides what a command prints; the modules it calls return
//! data. Async work runs on one tokio runtime built here.

use crate::cli::{Cli, Command};
use crate::matrix::Variant;
use comfy_table::Table;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Variants => {
            print_variants();
            Ok(())
        }
        Command::Calibrate(args) => calibrate(&args),
        Command::Compare(args) => compare(&args),
        Command::Build(_) | Command::Run(_) | Command::Doctor(_) => anyhow::bail!("not built yet"),
    }
}

fn print_variants() {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["variant", "valid", "default", "note"]);
    for v in Variant::all() {
        let reason = v.invalid_reason();
        table.add_row([
            v.name(),
            if reason.is_none() { "yes" } else { "no" }.to_string(),
            if v.is_default() { "yes" } else { "" }.to_string(),
            reason.unwrap_or("").to_string(),
        ]);
    }
    println!("{table}");
}

fn calibrate(args: &crate::cli::CalibrateArgs) -> anyhow::Result<()> {
    use crate::measure::calibrate;
    let spec = calibrate::CalibrateSpec::from_args(args)?;
    calibrate::check(&spec)?;
    let binary = match &args.server_binary {
        Some(path) => path.clone(),
        None => calibrate::server_binary()?,
    };
    eprintln!(
        "calibrate: http-server (1 thread) on CPU {}, load generators on CPU {}, GET /plaintext, {} connections, {:?} windows, {} rounds, {} client",
        spec.server_cpu, spec.loadgen_cpu, spec.concurrency, spec.duration, spec.rounds, spec.client.name()
    );
    let c = calibrate::calibrate(&spec, &binary, print_round)?;
    if let Some(load) = c.load_average {
        println!("machine load (1-min average) before: {load:.2}");
    }
    match c.ratio() {
        Some(ratio) => println!(
            "calibrate: built-in {:.0} rps, wrk {:.0} rps, ratio {ratio:.2} (medians of {} rounds)",
            c.builtin_rps(),
            c.wrk_rps().unwrap_or(0.0),
            c.rounds.len()
        ),
        None => println!(
            "calibrate: built-in {:.0} rps; wrk is not installed, so no ratio (Debian: apt-get install wrk)",
            c.builtin_rps()
        ),
    }
    Ok(())
}

fn print_round(index: usize, round: &crate::measure::calibrate::Round) {
    let b = &round.builtin;
    println!(
        "round {}: built-in {:.0} rps, p50 {} us, p99 {} us, errors {}, non-2xx {}, its CPU {:.0}% ({:.1} us/request){}",
        index + 1,
        b.rps,
        b.latency_us.p50,
        b.latency_us.p99,
        b.errors(),
        b.window.non_2xx,
        b.loadgen_cpu_percent,
        b.cpu_us_per_request().unwrap_or(0.0),
        if b.loadgen_bound { ", load generator bound" } else { "" }
    );
    let server = |u: Option<crate::measure::calibrate::ServerUse>| match u {
        Some(u) => format!(
            "server CPU {:.0}% ({:.1} us/request)",
            u.cpu_percent, u.cpu_us_per_request
        ),
        None => "server CPU unknown".into(),
    };
    println!(
        "round {}: while built-in ran: {}",
        index + 1,
        server(round.server_builtin)
    );
    if round.wrk.is_some() {
        println!(
            "round {}: while wrk ran: {}",
            index + 1,
            server(round.server_wrk)
        );
    }
    if let Some(e) = &b.first_error {
        println!("round {}: built-in first error: {e}", index + 1);
    }
    if let Some(w) = &round.wrk {
        println!(
            "round {}: wrk {:.0} rps over {} s, CPU {:.1} us/request, non-2xx {}, socket errors: {}; ratio {:.2}",
            index + 1,
            w.rps,
            w.duration_s,
            w.cpu_us_per_request().unwrap_or(0.0),
            w.non_2xx,
            w.socket_errors.as_deref().unwrap_or("none"),
            round.ratio().unwrap_or(0.0)
        );
    }
}

fn compare(args: &crate::cli::CompareArgs) -> anyhow::Result<()> {
    use crate::results::RunResults;
    let load = |path: &std::path::Path| {
        RunResults::load(path).map_err(|e| crate::error::usage(e.to_string()))
    };
    let (old, new) = (load(&args.old)?, load(&args.new)?);
    for note in crate::compare::caveats(&old, &new) {
        eprintln!("note: {note}");
    }
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["variant", "metric", "old", "new", "change", "verdict"]);
    let number = |v: Option<f64>| match v {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    };
    for row in crate::compare::compare(&old, &new) {
        let verdict = match row.direction() {
            Some(direction) => format!("{} ({direction})", row.verdict),
            None => row.verdict.to_string(),
        };
        table.add_row([
            row.variant.clone(),
            row.metric.clone(),
            number(row.old),
            number(row.new),
            row.change_pct().map_or("-".into(), |c| format!("{c:+.1}%")),
            verdict,
        ]);
    }
    println!("{table}");
    Ok(())
}

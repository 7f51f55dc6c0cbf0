//! `harness calibrate`: the built-in load generator (and with `--agent` the agent's) against
//! wrk on the same pinned http-server; prints each round and the ratios.

use super::tokio_runtime::runtime;
use crate::app::workspace_root;
use crate::runtime::docker_client;
use std::path::Path;

/// Plans, calibrates, and prints each round and the ratios.
pub fn execute(args: &crate::cli::CalibrateArgs) -> anyhow::Result<()> {
    use crate::measure::calibrate;
    let spec = crate::plan::calibrate::from_args(args)?;
    calibrate::check(&spec)?;
    let binary = match &args.server_binary {
        Some(path) => path.clone(),
        None => calibrate_server_binary()?,
    };
    eprintln!(
        "calibrate: http-server (1 thread) on CPU {}, load generators on CPU {}, GET /plaintext, {} connections, {:?} windows, {} rounds, {} client",
        spec.server_cpu, spec.loadgen_cpu, spec.concurrency, spec.duration, spec.rounds, spec.client.name()
    );
    let c = if args.agent {
        calibrate_with_agent(&spec, &binary)?
    } else {
        calibrate::calibrate(&spec, &binary, None, print_round)?
    };
    if let (Some(agent), Some(wrk)) = (c.agent_rps(), c.wrk_rps()) {
        println!(
            "calibrate --agent: agent {agent:.0} rps, in-process {:.0} rps, wrk {wrk:.0} rps; agent/wrk {:.2}, agent/in-process {:.2} (medians of {} rounds)",
            c.builtin_rps(),
            agent / wrk.max(1e-9),
            agent / c.builtin_rps().max(1e-9),
            c.rounds.len()
        );
    }
    if let Some(load) = c.load_average {
        println!("machine load (1-min average) before: {load:.2}");
    }
    let p = &c.probe;
    println!(
        "readiness probe (connect + GET + status line, fresh connection): median {:.0} us, p95 {:.0} us over {} probes ({} failed); polling gap: refused probe {:.0} us + {:?} sleep taking {:.0} us; adds on average {:.0} us to a cold start",
        p.median_us, p.p95_us, p.probes, p.failed, p.refused_median_us,
        crate::measure::cold_start::PROBE_INTERVAL, p.sleep_median_us, p.added_us()
    );
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

/// `calibrate --agent`: the agent in a container on the local daemon (host network, the
/// load CPU) loads the same pinned server after the in-process generator and wrk.
fn calibrate_with_agent(
    spec: &crate::measure::calibrate::CalibrateSpec,
    binary: &Path,
) -> anyhow::Result<crate::measure::calibrate::Calibration> {
    use crate::agent::{self, Agent, LoadReply, Request};
    let rt = runtime()?;
    let run_id = crate::results::new_run_id("calibrate");
    let cpus = spec.loadgen_cpu.to_string();
    let agent = rt.block_on(async {
        let docker = docker_client::connect().await?;
        let binary = agent::image::binary(&workspace_root()).await?;
        let image = agent::image::ensure(&docker, &binary).await?;
        let owner = agent::client::Owner {
            run_id: &run_id,
            app: "calibrate",
            cpus: &cpus,
        };
        Agent::start(&docker, &image, &owner).await
    })?;
    let load = |load: &crate::measure::loadgen::LoadSpec| {
        let timeout = load.warmup + load.duration + std::time::Duration::from_secs(60);
        let request = Request::Load {
            spec: agent::wire_spec(load),
            server: None,
        };
        let reply: LoadReply = rt.block_on(agent.call(request, timeout))?;
        Ok(reply.report)
    };
    let outcome = crate::measure::calibrate::calibrate(spec, binary, Some(&load), print_round);
    rt.block_on(agent.stop());
    outcome
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
    if let Some(a) = &round.agent {
        println!(
            "round {}: agent {:.0} rps, p50 {} us, p99 {} us, errors {}, its CPU {:.0}%",
            index + 1,
            a.rps,
            a.latency_us.p50,
            a.latency_us.p99,
            a.errors(),
            a.loadgen_cpu_percent
        );
    }
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

/// The http-server binary `calibrate` measures against: the `glibc-system` build every run uses,
/// compiled (or found up to date) by the build module.
fn calibrate_server_binary() -> anyhow::Result<std::path::PathBuf> {
    let app = crate::app::AppSpec::resolve("http", None)?;
    let variant: crate::matrix::Variant = crate::matrix::BASELINE
        .parse()
        .expect("the baseline is a variant");
    let compiled =
        crate::build::cargo::compile(&crate::app::workspace_root(), &app, variant, false)?;
    Ok(compiled.path)
}

//! One function per subcommand: take the parsed arguments, plan, act, print.
//!
//! This is the only place that decides what a command prints; the modules it calls return
//! data. Async work runs on one tokio runtime built here.

use crate::app::workspace_root;
use crate::build::{self, base, Packaging};
use crate::cli::{BuildArgs, Cli, Command, ReportArgs};
use crate::matrix::{Base, Variant};
use crate::plan::BuildPlan;
use crate::progress::Progress;
use crate::results::{BuildRecord, Status};
use crate::runtime::docker_client;
use comfy_table::Table;
use std::path::Path;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Variants(args) => {
            let which = crate::app::Which {
                package: args.package.clone(),
                bin: args.bin.clone(),
            };
            let app = match &args.app {
                Some(app) => Some(crate::app::AppSpec::resolve_with(app, &which, &[])?),
                None => None,
            };
            println!("{}", variants_text(app.as_ref()));
            Ok(())
        }
        Command::Build(args) => runtime()?.block_on(build(args)),
        Command::Run(args) => {
            let hosts = &args.docker_hosts;
            crate::plan::check_docker_hosts(&args)?;
            if let [host] = hosts.as_slice() {
                // Before anything reads it, while this process has one thread.
                for (key, value) in crate::runner::hosts::host_env(host) {
                    std::env::set_var(key, value);
                }
            }
            let plan = crate::plan::RunPlan::from_args(&args)?;
            if hosts.len() > 1 {
                let shares =
                    crate::runner::hosts::shares(hosts, &plan.variants, args.spread, &plan.out_dir)
                        .map_err(crate::error::usage)?;
                let argv: Vec<String> = std::env::args().collect();
                return crate::runner::hosts::run_all(&argv, &shares);
            }
            crate::doctor::ensure_for(
                &plan.variants,
                plan.runtime != Some(crate::runtime::RuntimeKind::Native),
            )?;
            let command_line = std::env::args().collect();
            let rt = runtime()?;
            let outcome = rt.block_on(crate::runner::run(&plan, command_line));
            // After an interrupt a load window may still be draining on a blocking thread:
            // its server is gone, so do not wait for the window to end.
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            outcome.map(|_| ())
        }
        Command::Clean(args) => runtime()?.block_on(async {
            let docker = docker_client::connect().await?;
            if args.orphans {
                let orphans = crate::cleanup::remove_orphans(&docker).await?;
                println!(
                    "removed {} containers of runs that died ({})",
                    orphans.containers,
                    orphans.run_ids.join(", ")
                );
                return Ok(());
            }
            let cleaned = crate::cleanup::clean(&docker, args.run_id.as_deref(), args.all).await?;
            println!(
                "removed {} containers and {} images",
                cleaned.containers, cleaned.images
            );
            Ok(())
        }),
        Command::Doctor(args) => runtime()?.block_on(doctor(args.fix)),
        Command::Report(args) => report(&args),
        Command::Calibrate(args) => calibrate(&args),
        Command::Compare(args) => compare(&args),
        Command::Bench(args) => bench(&args),
        Command::Agent => crate::agent::serve::run(),
        Command::Profile(args) => {
            let plan = crate::plan::profile::ProfilePlan::from_args(&args)?;
            crate::doctor::ensure_for(
                &plan.variants,
                plan.runtime != Some(crate::runtime::RuntimeKind::Native),
            )?;
            let command_line = std::env::args().collect();
            let path = runtime()?.block_on(crate::profiler::profile(&plan, command_line))?;
            println!(
                "{}",
                crate::profiler::summary(&crate::profiles::ProfileResults::load(&path)?)
            );
            println!("profile: {}", path.display());
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn build(args: BuildArgs) -> anyhow::Result<()> {
    let plan = BuildPlan::from_args(&args)?;
    crate::doctor::ensure_for(&plan.variants, plan.images)?;
    let progress = Progress::new(args.json);
    let root = workspace_root();
    let run_id = crate::results::new_run_id(&plan.app.name);
    let docker = if plan.images {
        Some(docker_client::connect().await?)
    } else {
        None
    };
    let base = match &docker {
        Some(docker) if plan.variants.iter().any(|v| v.base != Base::Scratch) => {
            let step = progress.step("provisioning the debian base image (first time: ~20 s)");
            let base = base::ensure(docker, true)
                .await?
                .expect("ensure with build allowed always returns a base");
            step.done(format!("base image: {} ({})", base.tag, base.provenance));
            Some(base)
        }
        _ => None,
    };
    let mut rows: Vec<(Variant, Result<BuildRecord, String>)> = Vec::new();
    for &variant in &plan.variants {
        let step = progress.step(format!("building {variant}"));
        let packaging = docker.as_ref().map(|docker| Packaging {
            docker,
            base: base.as_ref(),
            run_id: &run_id,
        });
        let outcome =
            build::build_variant(&root, &plan.app, variant, plan.cold, packaging.as_ref()).await;
        match outcome {
            Ok(built) => {
                let reused = match built.kept {
                    crate::build::artifact::Kept::Reused => ", reusing the earlier build",
                    crate::build::artifact::Kept::New => "",
                };
                step.done(format!(
                    "built {variant} in {:.1} s (sha256 {}{}{reused})",
                    built.record.compile_s,
                    crate::digest::short(&built.artifact.sha256),
                    build::allocator_note(variant, &built.record),
                ));
                rows.push((variant, Ok(built.record)));
            }
            Err((stage, error)) => {
                step.done(format!("{variant}: {stage} failed: {error:#}"));
                rows.push((variant, Err(format!("{stage}: {error:#}"))));
            }
        }
    }
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|(v, r)| match r {
                Ok(record) => serde_json::json!({ "variant": v, "status": Status::Ok, "build": record }),
                Err(e) => serde_json::json!({ "variant": v, "status": { "state": "failed", "reason": e } }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{}", build_table(&rows));
    }
    let failed = rows.iter().filter(|(_, r)| r.is_err()).count();
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} variants failed to build (see above)",
        rows.len()
    );
    Ok(())
}

fn build_table(rows: &[(Variant, Result<BuildRecord, String>)]) -> Table {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "variant",
        "binary",
        "linking",
        "allocator",
        "image",
        "compile",
        "image build",
    ]);
    for (variant, row) in rows {
        match row {
            Ok(r) => {
                let image = r.image.as_ref();
                table.add_row([
                    variant.name(),
                    mb(r.binary_bytes),
                    if r.static_binary {
                        "static".into()
                    } else {
                        format!("dynamic ({} libs)", r.needed_libraries.len())
                    },
                    r.allocator_source
                        .map_or("libc", crate::matrix::AllocatorSource::name)
                        .to_string(),
                    image.map_or("-".into(), |i| mb(i.image_bytes)),
                    format!(
                        "{:.1} s{}",
                        r.compile_s,
                        if r.compile_cold { " cold" } else { " warm" }
                    ),
                    image.map_or("-".into(), |i| format!("{:.2} s", i.image_build_s)),
                ]);
            }
            Err(e) => {
                table.add_row([
                    variant.name(),
                    "failed".into(),
                    e.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    table
}

/// Bytes as MB with two decimals (10^6, as `docker images` shows).
pub fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

async fn doctor(fix: bool) -> anyhow::Result<()> {
    if fix {
        for line in crate::doctor::fix_all().await? {
            println!("fixed: {line}");
        }
    }
    let checks = crate::doctor::checks().await;
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["prerequisite", "state", "detail", "fix"]);
    for c in &checks {
        table.add_row([
            c.name,
            if c.ok { "ok" } else { "MISSING" },
            &c.detail,
            if c.ok { "" } else { c.fix },
        ]);
    }
    println!("{table}");
    let missing: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(crate::error::prerequisite(format!(
            "missing: {} (see the fix column, or run `harness doctor --fix`)",
            missing.join(", ")
        )))
    }
}

/// The matrix table; with an app, where each variant's allocator comes from (the libc, the
/// crate's feature, or injected at link time).
pub fn variants_text(app: Option<&crate::app::AppSpec>) -> String {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec!["variant", "valid", "default"];
    if app.is_some() {
        header.push("allocator");
    }
    header.push("note");
    table.set_header(header);
    for v in Variant::all() {
        let reason = v.invalid_reason();
        let mut row = vec![
            v.name(),
            if reason.is_none() { "yes" } else { "no" }.to_string(),
            if v.is_default() { "yes" } else { "" }.to_string(),
        ];
        if let Some(app) = app {
            row.push(app.allocator_note(v.allocator).to_string());
        }
        row.push(reason.unwrap_or_default().to_string());
        table.add_row(row);
    }
    let Some(app) = app else {
        return table.to_string();
    };
    let injected: Vec<&str> = crate::matrix::Allocator::ALL
        .iter()
        .filter(|&&a| app.allocator_source(a) == Some(crate::matrix::AllocatorSource::Injected))
        .map(|a| a.name())
        .collect();
    let head = format!("app {} ({})", app.name, app.manifest_path().display());
    let note = match injected.as_slice() {
        [] => String::new(),
        names => format!(
            "\n{} has no {} feature: {} linked into the unchanged crate at build time, from the allocator's C sources (built once per target under target/harness/allocators)",
            app.manifest_path().display(),
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or "),
            match names {
                [one] => format!("{one} is"),
                _ => format!("{} are", names.join(" and ")),
            }
        ),
    };
    format!("{head}\n{table}{note}")
}

fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let inputs = if args.files.is_empty() {
        let (inputs, skipped) = crate::report::discover(Path::new("results"))?;
        for s in skipped {
            eprintln!("note: left out {}: {}", s.path.display(), s.reason);
        }
        inputs
    } else {
        crate::report::load_files(&args.files)?
    };
    for warning in crate::report::warnings(&inputs) {
        eprintln!("warning: {warning}");
    }
    let rendered = crate::report::render(&inputs, &args.out)?;
    println!(
        "wrote {}, {} and {} plots (SVG + PNG) in {}",
        rendered.report_md.display(),
        rendered.index_html.display(),
        rendered.plots.len(),
        args.out.join("plots").display()
    );
    let readme = crate::report::readme_beside(&args.out);
    let blocks = crate::report::update_readme(&inputs, &readme)?;
    if blocks > 0 {
        println!("regenerated {blocks} block(s) in {}", readme.display());
    }
    Ok(())
}

fn calibrate(args: &crate::cli::CalibrateArgs) -> anyhow::Result<()> {
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
        reply.report.into_report()
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
    table.set_header([
        "variant",
        "metric",
        "old [95% CI]",
        "new [95% CI]",
        "change",
        "verdict",
    ]);
    let number = |v: f64| match v {
        v if v.abs() >= 100.0 => format!("{v:.0}"),
        v => format!("{v:.2}"),
    };
    let with_ci = |v: Option<f64>, ci: Option<(f64, f64)>| match (v, ci) {
        (Some(v), Some((lo, hi))) => format!("{} [{}–{}]", number(v), number(lo), number(hi)),
        (Some(v), None) => number(v),
        (None, _) => "-".into(),
    };
    let rows = crate::compare::compare(&old, &new);
    for row in &rows {
        let verdict = match row.direction() {
            Some(direction) => format!("{} ({direction})", row.verdict),
            None => row.verdict.to_string(),
        };
        table.add_row([
            row.variant.clone(),
            row.metric.clone(),
            with_ci(row.old, row.old_ci),
            with_ci(row.new, row.new_ci),
            row.change_pct().map_or("-".into(), |c| format!("{c:+.1}%")),
            verdict,
        ]);
    }
    println!("{table}");
    let (within, judged) = crate::compare::ratio_tally(&rows);
    if judged > 0 {
        println!(
            "paired ratios to the baseline: {within} of {judged} within noise ({:.0}%)",
            within as f64 / judged as f64 * 100.0
        );
    }
    if let Some(note) =
        crate::compare::small_sample_note(old.settings.rounds.min(new.settings.rounds))
    {
        println!("{note}");
    }
    Ok(())
}

fn bench(args: &crate::cli::BenchArgs) -> anyhow::Result<()> {
    let plan = crate::bench::plan::BenchPlan::from_args(args)?;
    let outcome = crate::bench::run(&plan, &crate::app::workspace()?)?;
    println!("{}", crate::bench::compare::table(&outcome.results));
    for line in crate::bench::compare::headline(&outcome.results) {
        println!("{line}");
    }
    println!("{}", crate::bench::compare::reading_note(&outcome.results));
    println!("results: {}", outcome.paths());
    Ok(())
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

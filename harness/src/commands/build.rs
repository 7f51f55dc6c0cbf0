//! `harness build`: compile every selected variant (and, unless `--no-images`, build its
//! image), then print a table or JSON of the build records.

use crate::app::workspace_root;
use crate::build::{self, base, Packaging};
use crate::cli::BuildArgs;
use crate::matrix::Variant;
use crate::plan::BuildPlan;
use crate::progress::Progress;
use crate::results::{BuildRecord, Status};
use crate::runtime::docker_client;
use comfy_table::Table;

/// Plans, builds each variant (and its image), and prints the records.
pub async fn execute(args: BuildArgs) -> anyhow::Result<()> {
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
        Some(docker) => base::provision(docker, &plan.variants, &progress).await?,
        None => None,
    };
    if plan.cold {
        let timing = crate::buildtime::measure::Plan {
            root: &root,
            app: &plan.app,
            variants: &plan.variants,
            rounds: plan.rounds,
            seed: plan.seed,
            docker: docker.as_ref(),
            base: base.as_ref(),
            run_id: &run_id,
            out: &plan.out,
        };
        let (times, path) = crate::buildtime::measure::measure(&timing, &progress).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&times)?);
        } else {
            println!("{}", build_time_table(&times));
            println!("results: {}", path.display());
        }
        let failed: Vec<String> = times
            .variants
            .iter()
            .filter_map(|v| Some(format!("{} ({})", v.variant, v.failure.as_ref()?)))
            .collect();
        anyhow::ensure!(
            failed.is_empty(),
            "{} of {} variants failed: {}",
            failed.len(),
            times.variants.len(),
            failed.join("; ")
        );
        return Ok(());
    }
    let mut rows: Vec<(Variant, Result<BuildRecord, String>)> = Vec::new();
    for &variant in &plan.variants {
        let step = progress.step(format!("building {variant}"));
        let packaging = docker.as_ref().map(|docker| Packaging {
            docker,
            base: base.as_ref(),
            run_id: &run_id,
        });
        let outcome =
            build::build_variant(&root, &plan.app, variant, false, packaging.as_ref()).await;
        match outcome {
            Ok(built) => {
                let reused = match built.kept {
                    crate::build::artifact::Kept::Reused => ", reusing the earlier build",
                    crate::build::artifact::Kept::New => "",
                };
                step.done(format!(
                    "built {variant}: {} in {:.1} s (sha256 {}{}{reused})",
                    kind_words(&built.record),
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

/// The medians of a build-time file, each with its interval's range, per variant.
fn build_time_table(times: &crate::buildtime::BuildTimes) -> Table {
    use crate::buildtime::Figure;
    let figures: Vec<Figure> = Figure::ALL
        .into_iter()
        .filter(|f| {
            times.method.images
                || !matches!(
                    f,
                    Figure::ImageCold
                        | Figure::ImageCached
                        | Figure::TotalCold
                        | Figure::TotalCached
                )
        })
        .collect();
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec!["variant".to_string()];
    header.extend(figures.iter().map(|f| format!("{} s", f.name())));
    table.set_header(header);
    for v in &times.variants {
        let mut row = vec![v.variant.clone()];
        for f in &figures {
            row.push(match v.summary(*f) {
                Some(s) if s.n > 1 => format!(
                    "{:.2} [{:.2}–{:.2}]",
                    s.median, s.median_ci_low, s.median_ci_high
                ),
                Some(s) => format!("{:.2}", s.median),
                None => "-".into(),
            });
        }
        table.add_row(row);
    }
    table
}

/// What this cargo call did, so its time is read for what it is: `clean compile`,
/// `incremental compile`, `reused build`.
fn kind_words(record: &BuildRecord) -> &'static str {
    use crate::results::CompileKind;
    match record.compile_kind {
        Some(CompileKind::Clean) => "clean compile",
        Some(CompileKind::Incremental) => "incremental compile",
        Some(CompileKind::Reused) => "reused build",
        None if record.compile_cold => "clean compile",
        None => "compile",
    }
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
                    format!("{:.1} s {}", r.compile_s, kind_words(r)),
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

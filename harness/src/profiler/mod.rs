//! `harness profile`: where each variant's CPU time goes. Per variant it builds a profiling
//! binary (`build`), runs it as `run` would (docker or native, same CPUs, same limits),
//! samples it with `perf record` for one load window (server) or one job (batch) (`perf`),
//! once per round with the variants interleaved, folds the stacks, classifies every sample
//! into a bucket (`profiles::buckets`) and draws flame graphs of the pooled rounds (`flame`).
//! The figures reach `results/profiles/<app>-<time>.json` after each sample; the folded
//! stacks stay in memory and are dropped.

pub mod build;
pub mod flame;
pub mod perf;
mod sample;

use crate::matrix::{Variant, BASELINE};
use crate::measure::stats;
use crate::plan::profile::{ProfilePlan, Workload};
use crate::profiles::buckets::Tally;
use crate::profiles::{self, ProfileResults, RoundProfile, VariantProfile};
use crate::progress::Progress;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::native::NativeRuntime;
use crate::runtime::{docker_client, Runtime};
use bollard::Docker;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What the run needs besides the plan: where files go, the daemon, the base image.
struct Context<'a> {
    plan: &'a ProfilePlan,
    root: PathBuf,
    run_id: String,
    work: &'a Path,
    docker: Option<&'a Docker>,
    debian_tag: String,
    progress: Progress,
}

/// Profiles every variant of the plan and returns the profile file's path.
pub async fn profile(plan: &ProfilePlan, command: Vec<String>) -> anyhow::Result<PathBuf> {
    // An app that calls an upstream gets one on loopback while it is sampled.
    let (app, _upstream) = crate::upstream::for_app(&plan.app).await?;
    let plan = &ProfilePlan {
        app,
        ..plan.clone()
    };
    let perf_version = perf::version().map_err(crate::error::prerequisite)?;
    let docker = match plan.runtime {
        Some(crate::runtime::RuntimeKind::Native) => None,
        _ => Some(docker_client::connect().await?),
    };
    if let Some(problem) = perf::permission_problem(docker.is_none()) {
        return Err(crate::error::prerequisite(problem));
    }
    let work = tempfile::tempdir()?;
    perf::preflight(work.path()).map_err(crate::error::prerequisite)?;
    let run_id = crate::results::new_run_id(&plan.app.name);
    // A run or another profile on the same daemon would skew both: the run lock.
    let _lock = match plan.allow_concurrent {
        true => None,
        false => Some(crate::lock::claim_daemon(docker.as_ref(), &run_id).await?),
    };
    let profiles_dir = plan.out_dir.join("profiles");
    let plots_dir = plan.out_dir.join("plots");
    for dir in [&profiles_dir, &plots_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::error::usage(format!("{}: cannot create: {e}", dir.display())))?;
    }
    let path = profiles_dir.join(format!("{run_id}.json"));
    let progress = Progress::new(false);
    let debian_tag = match &docker {
        Some(docker) => crate::build::base::provision(docker, &plan.variants, &progress)
            .await?
            .map(|base| base.tag)
            .unwrap_or_default(),
        None => String::new(),
    };
    let root = crate::app::workspace_root();
    let docker_version = match &docker {
        Some(docker) => docker_client::server_version(docker).await,
        None => None,
    };
    let mut results = ProfileResults {
        schema_version: profiles::SCHEMA_VERSION,
        app: plan.app.name.clone(),
        started_at: crate::results::now(),
        finished_at: None,
        command,
        runtime: if docker.is_some() { "docker" } else { "native" }.into(),
        environment: crate::environment::collect(
            &crate::plan::default_machine_label(),
            docker_version,
            &root,
        ),
        perf_version,
        frequency_hz: perf::FREQUENCY_HZ,
        call_graph: perf::CALL_GRAPH.into(),
        workload: workload_record(&plan.workload),
        rounds: plan.rounds,
        baseline: baseline(&plan.variants).name(),
        variants: Vec::new(),
    };
    results.save(&path)?;
    let cx = Context {
        plan,
        root,
        run_id,
        work: work.path(),
        docker: docker.as_ref(),
        debian_tag,
        progress,
    };
    let folded = match &docker {
        Some(docker) => {
            let runtime = DockerRuntime::new(docker.clone(), &cx.run_id, &plan.app.name);
            cx.all_until_interrupted(&runtime, &mut results, &path)
                .await
        }
        None => {
            cx.all_until_interrupted(&NativeRuntime::default(), &mut results, &path)
                .await
        }
    }?;
    draw(&cx, &mut results, &folded, &plots_dir)?;
    results.finished_at = Some(crate::results::now());
    results.save(&path)?;
    Ok(path)
}

impl Context<'_> {
    /// `all`, racing a Ctrl-C/SIGTERM: on a signal the sampled instance (and perf, and a
    /// cargo build) stop, this profile's instances and images are removed, and the file
    /// keeps the rounds done.
    async fn all_until_interrupted<R: Runtime>(
        &self,
        runtime: &R,
        results: &mut ProfileResults,
        path: &Path,
    ) -> anyhow::Result<HashMap<Variant, String>> {
        let (name, signal) = tokio::select! {
            folded = self.all(runtime, results, path) => return folded,
            signal = crate::error::interrupt_signal() => signal,
        };
        let _ = runtime.sweep().await;
        if let Some(docker) = self.docker {
            for &variant in &self.plan.variants {
                crate::build::image::remove_if_built_by(
                    docker,
                    &build::tag(&self.plan.app, variant),
                    &self.run_id,
                )
                .await;
            }
        }
        Err(crate::error::HarnessError::Interrupted {
            name,
            signal,
            results: path.display().to_string(),
        }
        .into())
    }

    /// Profiles every variant once per round, the variants interleaved (ABCABC) so drift of
    /// the machine spreads over all of them; a variant that fails a round is recorded as
    /// failed and sampled no more, and the others go on. The file is saved after each
    /// sample. Returns the pooled folded stacks of the variants that worked.
    async fn all<R: Runtime>(
        &self,
        runtime: &R,
        results: &mut ProfileResults,
        path: &Path,
    ) -> anyhow::Result<HashMap<Variant, String>> {
        let variants = &self.plan.variants;
        let mut rounds: Vec<Vec<(RoundProfile, String)>> = vec![Vec::new(); variants.len()];
        let mut failed: Vec<Option<String>> = vec![None; variants.len()];
        for (round, variant) in stats::interleaved_order(variants, self.plan.rounds) {
            let i = variants.iter().position(|v| v == variant).expect("listed");
            if failed[i].is_some() {
                continue;
            }
            let step = self.progress.step(format!(
                "round {}/{}: profiling {variant}",
                round + 1,
                self.plan.rounds
            ));
            let outcome = self.one(runtime, *variant).await;
            let _ = runtime.sweep().await;
            match outcome {
                Ok((profile, stacks)) => {
                    step.done(format!(
                        "round {}: {variant}: {} samples, allocator + locks + memory mapping {:.0}%{}",
                        round + 1,
                        profile.samples,
                        profile.allocation_share() * 100.0,
                        profile
                            .cpu_us_per_request
                            .map_or(String::new(), |us| format!(", {us:.1} µs CPU per request"))
                    ));
                    rounds[i].push((round_profile(round + 1, &profile), stacks));
                }
                Err(e) => {
                    step.done(format!(
                        "round {}: {variant}: profile failed: {e:#}",
                        round + 1
                    ));
                    failed[i] = Some(format!("round {}: {e:#}", round + 1));
                }
            }
            results.variants = pool_all(variants, &rounds, &failed).0;
            results.pair_with_baseline();
            results.save(path)?;
        }
        // Every variant failed: the file says why, and the command exits 4 naming them.
        Ok(pool_all(variants, &rounds, &failed).1)
    }
}

/// One round's figures from a profile of that round alone.
fn round_profile(round: u32, profile: &VariantProfile) -> RoundProfile {
    RoundProfile {
        round,
        samples: profile.samples,
        shares: profile
            .buckets
            .iter()
            .map(|(&bucket, share)| (bucket, share.share))
            .collect(),
        cpu_us_per_request: profile.cpu_us_per_request,
        throughput: profile.throughput,
    }
}

/// Every variant's profile so far (pooled over its rounds, or failed), and the pooled
/// folded stacks of those that did not fail.
fn pool_all(
    variants: &[Variant],
    rounds: &[Vec<(RoundProfile, String)>],
    failed: &[Option<String>],
) -> (Vec<VariantProfile>, HashMap<Variant, String>) {
    let mut profiles = Vec::new();
    let mut folded = HashMap::new();
    for ((&variant, done), failure) in variants.iter().zip(rounds).zip(failed) {
        if let Some(why) = failure {
            profiles.push(VariantProfile::failed(variant, why.clone()));
            continue;
        }
        if done.is_empty() {
            continue;
        }
        let stacks = merge_folded(done.iter().map(|(_, s)| s.as_str()));
        let tally = Tally::of_folded(&stacks);
        let kept = done.iter().map(|(r, _)| r.clone()).collect();
        profiles.push(VariantProfile::pooled(variant, &tally, kept));
        folded.insert(variant, stacks);
    }
    (profiles, folded)
}

/// Folded stacks of several recordings as one: each stack once, its counts added, sorted.
fn merge_folded<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut counts: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for line in parts.flat_map(str::lines) {
        if let Some((stack, count)) = line.rsplit_once(' ') {
            if let Ok(count) = count.trim().parse::<u64>() {
                *counts.entry(stack).or_default() += count;
            }
        }
    }
    counts
        .into_iter()
        .map(|(stack, count)| format!("{stack} {count}\n"))
        .collect()
}

/// The variant differential flame graphs compare against: the baseline when profiled,
/// else the first.
fn baseline(variants: &[Variant]) -> Variant {
    variants
        .iter()
        .copied()
        .find(|v| v.name() == BASELINE)
        .unwrap_or(variants[0])
}

fn workload_record(workload: &Workload) -> profiles::Workload {
    match workload {
        Workload::Server {
            request,
            concurrency,
            duration,
        } => profiles::Workload {
            kind: "server".into(),
            request: Some(request.name.clone()),
            concurrency: Some(*concurrency),
            duration_s: Some(duration.as_secs_f64()),
            threads: None,
            dataset_mb: None,
        },
        Workload::Batch {
            threads,
            dataset_mb,
        } => profiles::Workload {
            kind: "batch".into(),
            request: None,
            concurrency: None,
            duration_s: None,
            threads: Some(*threads),
            dataset_mb: Some(*dataset_mb),
        },
    }
}

/// Draws each variant's flame graph and its differential one against the baseline, into
/// `plots_dir`, and records their paths (relative to the results directory).
fn draw(
    cx: &Context<'_>,
    results: &mut ProfileResults,
    folded: &HashMap<Variant, String>,
    plots_dir: &Path,
) -> anyhow::Result<()> {
    let what = match &results.workload {
        w if w.kind == "server" => format!(
            "{} at {} connections",
            w.request.clone().unwrap_or_default(),
            w.concurrency.unwrap_or(0)
        ),
        w => format!("one job on {} threads", w.threads.unwrap_or(0)),
    };
    let base_name = results.baseline.clone();
    let base = folded
        .iter()
        .find(|(v, _)| v.name() == base_name)
        .map(|(_, f)| f.clone());
    for profile in &mut results.variants {
        let Some(stacks) = folded.get(&profile.variant) else {
            continue;
        };
        let name = profile.variant.name();
        let file = format!("{}-flame-{name}.svg", cx.plan.app.name);
        flame::write(
            stacks,
            format!("{} {name}: where the CPU goes", cx.plan.app.name),
            format!(
                "{what}, perf -F {} --call-graph {}",
                perf::FREQUENCY_HZ,
                perf::CALL_GRAPH
            ),
            &plots_dir.join(&file),
        )?;
        profile.flame_graph = Some(format!("plots/{file}"));
        if let Some(base) = base.as_ref().filter(|_| name != base_name) {
            let file = format!("{}-flame-diff-{name}.svg", cx.plan.app.name);
            flame::write_diff(
                base,
                stacks,
                format!("{} {name} against {base_name}", cx.plan.app.name),
                "red: a larger share of the samples than in the baseline, blue: smaller".into(),
                &plots_dir.join(&file),
            )?;
            profile.diff_flame_graph = Some(format!("plots/{file}"));
        }
    }
    Ok(())
}

/// The printed table: per variant its samples, each bucket's share and, for servers, CPU
/// per request.
pub fn summary(results: &ProfileResults) -> comfy_table::Table {
    use crate::profiles::buckets::Bucket;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec!["variant".to_string(), "samples".into()];
    header.extend(Bucket::ALL.iter().map(|b| b.label().to_string()));
    header.push("CPU µs/request".into());
    header.push("alloc + locks + mmap per round".into());
    table.set_header(header);
    for v in &results.variants {
        let mut row = vec![v.variant.name()];
        if let Some(why) = &v.failed {
            row.push(format!("failed: {why}"));
            table.add_row(row);
            continue;
        }
        row.push(v.samples.to_string());
        row.extend(
            Bucket::ALL
                .iter()
                .map(|&b| format!("{:.1}%", v.share(b) * 100.0)),
        );
        row.push(
            v.cpu_us_per_request
                .map_or("-".into(), |us| format!("{us:.1}")),
        );
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        row.push(match (&v.allocation_share, &v.allocation_share_ratio) {
            (Some(a), ratio) => format!(
                "{} [{}–{}], n={}{}",
                pct(a.median),
                pct(a.median_ci_low),
                pct(a.median_ci_high),
                a.n,
                ratio.as_ref().map_or(String::new(), |r| format!(
                    "; ×{:.2} [{:.2}–{:.2}] baseline",
                    r.median, r.ci_low, r.ci_high
                ))
            ),
            (None, _) => "-".into(),
        });
        table.add_row(row);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_recordings_merge_into_one_stack_per_line_with_counts_added() {
        let merged = merge_folded(["a;b 2\nc 1\n", "c 4\na;b 1\nbroken line\n"].into_iter());
        assert_eq!(merged, "a;b 3\nc 5\n");
    }

    #[test]
    fn rounds_pool_into_one_profile_and_a_failed_round_fails_the_variant() {
        let variants: Vec<Variant> = ["glibc-system-debian", "musl-system-scratch"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let round = |n: u32, folded: &str| {
            let tally = Tally::of_folded(folded);
            let p = VariantProfile::from_tally(variants[0], &tally, Some(10.0 * n as f64));
            (round_profile(n, &p), folded.to_string())
        };
        let rounds = vec![
            vec![round(1, "x;malloc 1\nx;main 3\n"), round(2, "x;main 4\n")],
            vec![round(1, "x;main 1\n")],
        ];
        let failed = vec![None, Some("round 2: it exited".to_string())];
        let (profiles, folded) = pool_all(&variants, &rounds, &failed);
        assert_eq!(profiles.len(), 2);
        let glibc = &profiles[0];
        assert_eq!(glibc.samples, 8);
        assert!((glibc.share(crate::profiles::buckets::Bucket::Allocator) - 0.125).abs() < 1e-9);
        assert_eq!(glibc.cpu_us_per_request, Some(15.0));
        let spread = glibc.allocation_share.as_ref().unwrap();
        assert_eq!((spread.n, spread.min, spread.max), (2, 0.0, 0.25));
        assert_eq!(folded[&variants[0]], "x;main 7\nx;malloc 1\n");
        assert_eq!(profiles[1].failed.as_deref(), Some("round 2: it exited"));
        assert!(!folded.contains_key(&variants[1]));
    }
}

//! The measuring phase of a batch run: per thread count, jobs interleaved across variants,
//! each job's output read through the app's table (throughput, checksum, peak RSS), or its
//! wall time when the table names no throughput. An app that reports no peak RSS gets the
//! peaks its runtime sampled while each job ran: the process's and its container's.
//!
//! Outputs whose checksums differ between variants fail those variants: a faster wrong
//! answer is not a result. This module does not start anything itself; the runtime does.

use super::arms::{self, Arm};
use super::Run;
use crate::app::metadata::{last_capture, BatchDrive};
use crate::measure::{cold_start, stats};
use crate::results::CrunchResult;
use crate::runtime::cgroup::Reading;
use crate::runtime::{logs_of, retry, sampler, PeakMemory, Runtime};
use anyhow::Context;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// What one job produced.
#[derive(Debug, PartialEq)]
pub struct JobOutcome {
    /// In the app's throughput unit, or jobs/s (1 / wall time).
    pub throughput: f64,
    pub checksum: String,
    /// Peak RSS the app reported (`peak_rss_kb_regex`).
    pub peak_bytes: Option<u64>,
}

/// What one arm's jobs at one thread count gave.
#[derive(Default)]
struct VariantSamples {
    throughputs: Vec<f64>,
    /// The repetition each throughput came from (they pair across arms).
    rounds: Vec<u32>,
    checksum: String,
    /// The highest peak RSS the app reported (`peak_rss_kb_regex`).
    reported_peak: Option<u64>,
    /// The highest peaks the runtime sampled while the jobs ran: process and container.
    sampled_peak: Option<PeakMemory>,
}

impl VariantSamples {
    fn add(&mut self, round: u32, job: JobOutcome, sampled: Option<PeakMemory>) {
        self.throughputs.push(job.throughput);
        self.rounds.push(round);
        self.checksum = job.checksum;
        self.reported_peak = self.reported_peak.max(job.peak_bytes);
        self.sampled_peak = match (self.sampled_peak.take(), sampled) {
            (Some(mut kept), Some(new)) => {
                sampler::keep_higher(&mut kept.process, new.process);
                sampler::keep_higher(&mut kept.container, new.container);
                Some(kept)
            }
            (kept, new) => kept.or(new),
        };
    }
}

type Samples = HashMap<Arm, VariantSamples>;

impl<R: Runtime> Run<'_, R> {
    pub(super) async fn crunches(&mut self) -> anyhow::Result<()> {
        let batch = self.plan.app.batch().context("not a batch app")?.clone();
        let arms = self.ok_arms();
        let cpus = self.server_cpus.clone();
        let timeout = self.plan.ready_timeout.max(Duration::from_secs(300));
        for &threads in &self.plan.threads.clone() {
            let order: Vec<(u32, Arm)> = stats::interleaved_order(&arms, self.plan.runs)
                .into_iter()
                .map(|(round, a)| (round, *a))
                .collect();
            let bar = self.progress.bar(
                order.len() as u64,
                format!("jobs on {threads} threads (interleaved)"),
            );
            let mut samples = Samples::new();
            for (round, arm) in order {
                bar.inc();
                if !self.arm_result_mut(arm).is_ok() {
                    continue;
                }
                let args = fill(&batch.args, threads, self.plan.dataset_mb);
                let spec = self.spec(arm, (args, batch.env.clone()), &cpus, "crunch")?;
                let outcome = {
                    let track = self.tracker();
                    cold_start::exit_once(self.runtime, &spec, timeout, &track).await
                };
                self.release().await;
                match outcome.and_then(|(ms, exit)| {
                    let job = parse_job(&batch, ms, &exit.stdout)?;
                    Ok((job, exit.peak_memory))
                }) {
                    Ok((job, sampled)) => samples.entry(arm).or_default().add(round, job, sampled),
                    Err(e) if retry::is_api_failure(&e) => return Err(e),
                    Err(e) => {
                        self.arm_result_mut(arm)
                            .fail("crunch", format!("{e:#}"), logs_of(&e))
                    }
                }
            }
            drop(bar);
            self.record_launched();
            self.record_crunch(&batch, threads, samples);
            self.adjust_ratios();
            self.save()?;
        }
        Ok(())
    }

    fn record_crunch(&mut self, batch: &BatchDrive, threads: u32, samples: Samples) {
        let checksums: BTreeSet<&String> = samples.values().map(|s| &s.checksum).collect();
        let mismatch = checksums.len() > 1;
        let reported_method = format!(
            "peak RSS reported by {} (peak_rss_kb_regex)",
            self.plan.app.name
        );
        let mut warnings = Vec::new();
        let tagged: HashMap<Arm, Vec<(u32, f64)>> = samples
            .iter()
            .map(|(arm, s)| (*arm, arms::by_round(&s.rounds, &s.throughputs)))
            .collect();
        for (arm, s) in &samples {
            let pairing = self.pairing_of(*arm);
            let ratio = arms::paired(&tagged[arm], &pairing, |a| {
                tagged.get(&a).map(Vec::as_slice)
            });
            let result = self.arm_result_mut(*arm);
            if mismatch {
                result.fail(
                    "crunch",
                    format!(
                        "checksums differ between variants at {threads} threads: {checksums:?}"
                    ),
                    None,
                );
                continue;
            }
            let Some(summary) = stats::summarize(&s.throughputs) else {
                continue;
            };
            result.crunch.push(CrunchResult {
                threads,
                samples_mb_per_s: s.throughputs.clone(),
                mb_per_s: summary,
                checksum: s.checksum.clone(),
                throughput_unit: Some(batch.throughput_unit.clone()),
                ratio_to_baseline: ratio,
            });
            if batch.peak_rss_kb.is_some() {
                if let Some(peak) = s.reported_peak {
                    result.peak_memory_bytes =
                        Some(result.peak_memory_bytes.unwrap_or(0).max(peak));
                    result.memory_method = Some(reported_method.clone());
                }
            } else if let Some(sampled) = &s.sampled_peak {
                // The app reports none: the runtime's sampled peaks, the highest over every
                // thread count so far.
                let mut process = recorded(result.peak_memory_bytes, &result.memory_method);
                let mut container = recorded(
                    result.container_peak_memory_bytes,
                    &result.container_memory_method,
                );
                sampler::keep_higher(&mut process, sampled.process.clone());
                sampler::keep_higher(&mut container, sampled.container.clone());
                warnings.extend(result.record_memory(&process, &container));
            }
        }
        for warning in warnings {
            self.progress.println(format!("warning: {warning}"));
        }
    }
}

/// A figure already in the results, as a reading (a missing one as no reading at all).
fn recorded(bytes: Option<u64>, method: &Option<String>) -> Reading {
    match (bytes, method) {
        (Some(bytes), Some(method)) => Ok((bytes, method.clone())),
        (_, method) => Err(method.clone().unwrap_or_default()),
    }
}

/// `args` with `{threads}` and `{dataset_mb}` filled in.
pub fn fill(args: &[String], threads: u32, dataset_mb: f64) -> Vec<String> {
    args.iter()
        .map(|a| {
            a.replace("{threads}", &threads.to_string())
                .replace("{dataset_mb}", &dataset_mb.to_string())
        })
        .collect()
}

/// Reads one job's output through the table; `wall_ms` is create → exit.
pub fn parse_job(batch: &BatchDrive, wall_ms: f64, stdout: &str) -> anyhow::Result<JobOutcome> {
    let throughput = match &batch.throughput {
        Some(regex) => {
            let text = last_capture(regex, stdout).with_context(|| {
                format!(
                    "throughput_regex {:?} matches nothing in the output: {}",
                    regex.as_str(),
                    tail(stdout)
                )
            })?;
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .with_context(|| {
                    format!("throughput_regex picked {text:?}, not a positive number")
                })?
        }
        None => 1e3 / wall_ms.max(1e-3),
    };
    let checksum = match &batch.checksum {
        Some(regex) => last_capture(regex, stdout)
            .with_context(|| {
                format!(
                    "checksum_regex {:?} matches nothing in the output: {}",
                    regex.as_str(),
                    tail(stdout)
                )
            })?
            .to_string(),
        None => String::new(),
    };
    let peak_bytes = batch.peak_rss_kb.as_ref().and_then(|regex| {
        last_capture(regex, stdout)
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    Ok(JobOutcome {
        throughput,
        checksum,
        peak_bytes,
    })
}

fn tail(stdout: &str) -> String {
    let last: Vec<&str> = stdout.lines().rev().take(3).collect();
    if last.is_empty() {
        "(no output)".into()
    } else {
        last.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppSpec;

    #[test]
    fn json_cruncher_lines_parse_through_its_table() {
        let app = AppSpec::resolve("json", None).unwrap();
        let batch = app.batch().unwrap();
        let line = r#"{"bytes":10,"checksum":"00ff","max_rss_kb":2,"mb_per_s":12.5}"#;
        let job = parse_job(batch, 99.0, &format!("noise\n{line}\n")).unwrap();
        assert_eq!(
            job,
            JobOutcome {
                throughput: 12.5,
                checksum: "00ff".into(),
                peak_bytes: Some(2048)
            }
        );
        let err = parse_job(batch, 1.0, "").unwrap_err().to_string();
        assert!(
            err.contains("matches nothing in the output: (no output)"),
            "{err}"
        );
        let err = parse_job(batch, 1.0, r#"{"mb_per_s":0,"checksum":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("not a positive number"), "{err}");
    }

    #[test]
    fn without_a_regex_the_metric_is_jobs_per_second_of_wall_time() {
        let dir = crate::app::fixture_crate(
            "[package]\nname = \"job\"\n[package.metadata.harness]\nkind = \"batch\"\n",
        );
        let app = AppSpec::from_manifest(None, dir.path(), None).unwrap();
        let job = parse_job(app.batch().unwrap(), 250.0, "whatever").unwrap();
        assert_eq!((job.throughput, job.peak_bytes), (4.0, None));
        assert_eq!(job.checksum, "");
    }

    #[test]
    fn each_figure_keeps_the_highest_sampled_peak_of_the_jobs() {
        let job = || JobOutcome {
            throughput: 1.0,
            checksum: "c".into(),
            peak_bytes: None,
        };
        let peak = |process: Reading, container: Reading| PeakMemory { process, container };
        let mut s = VariantSamples::default();
        s.add(0, job(), None);
        s.add(
            1,
            job(),
            Some(peak(Err("exited too soon".into()), Ok((300, "cg".into())))),
        );
        s.add(
            2,
            job(),
            Some(peak(Ok((100, "hwm".into())), Ok((200, "cg".into())))),
        );
        let kept = s.sampled_peak.unwrap();
        assert_eq!(kept.process, Ok((100, "hwm".into())));
        assert_eq!(kept.container, Ok((300, "cg".into())));
        assert_eq!(s.throughputs.len(), 3);
        // A figure already recorded competes as a reading; a missing one gives way.
        assert_eq!(recorded(Some(5), &Some("m".into())), Ok((5, "m".into())));
        assert!(recorded(None, &Some("not available: x".into())).is_err());
    }

    #[test]
    fn placeholders_are_filled() {
        let args = [
            "-t".to_string(),
            "{threads}".into(),
            "--mb={dataset_mb}".into(),
        ];
        assert_eq!(fill(&args, 3, 0.5), ["-t", "3", "--mb=0.5"]);
    }
}

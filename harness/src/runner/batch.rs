//! The measuring phase of a batch run: per thread count, jobs interleaved across variants,
//! each job's output read through the app's table (throughput, checksum, peak RSS), or its
//! wall time when the table names no throughput.
//!
//! Outputs whose checksums differ between variants fail those variants: a faster wrong
//! answer is not a result. This module does not start anything itself; the runtime does.

use super::Run;
use crate::app::metadata::{last_capture, BatchDrive};
use crate::matrix::Variant;
use crate::measure::{cold_start, stats};
use crate::results::CrunchResult;
use crate::runtime::{logs_of, retry, Runtime};
use anyhow::Context;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// What one job produced.
#[derive(Debug, PartialEq)]
pub struct JobOutcome {
    /// In the app's throughput unit, or jobs/s (1 / wall time).
    pub throughput: f64,
    pub checksum: String,
    /// Peak RSS the app reported, or the runtime measured.
    pub peak_bytes: Option<u64>,
}

/// Samples per variant: throughputs, the checksum, and the highest peak.
type Samples = HashMap<Variant, (Vec<f64>, String, Option<u64>)>;

impl<R: Runtime> Run<'_, R> {
    pub(super) async fn crunches(&mut self) -> anyhow::Result<()> {
        let batch = self.plan.app.batch().context("not a batch app")?.clone();
        let variants = self.ok_variants();
        let cpus = self.server_cpus.clone();
        let timeout = self.plan.ready_timeout.max(Duration::from_secs(300));
        for &threads in &self.plan.threads.clone() {
            let order: Vec<Variant> = stats::interleaved_order(&variants, self.plan.runs)
                .into_iter()
                .map(|(_, v)| *v)
                .collect();
            let bar = self.progress.bar(
                order.len() as u64,
                format!("jobs on {threads} threads (interleaved)"),
            );
            let mut samples = Samples::new();
            for variant in order {
                bar.inc();
                if !self.result_mut(variant).is_ok() {
                    continue;
                }
                let args = fill(&batch.args, threads, self.plan.dataset_mb);
                let spec = self.spec(variant, (args, batch.env.clone()), &cpus, "crunch")?;
                let outcome = {
                    let track = self.tracker();
                    cold_start::exit_once(self.runtime, &spec, timeout, &track).await
                };
                self.release().await;
                match outcome.and_then(|(ms, exit)| {
                    parse_job(
                        &batch,
                        ms,
                        &exit.stdout,
                        exit.peak_memory.and_then(|p| p.process.ok()).map(|p| p.0),
                    )
                }) {
                    Ok(job) => {
                        let entry = samples.entry(variant).or_default();
                        entry.0.push(job.throughput);
                        entry.1 = job.checksum;
                        entry.2 = entry.2.max(job.peak_bytes);
                    }
                    Err(e) if retry::is_api_failure(&e) => return Err(e),
                    Err(e) => {
                        self.result_mut(variant)
                            .fail("crunch", format!("{e:#}"), logs_of(&e))
                    }
                }
            }
            drop(bar);
            self.record_launched();
            self.record_crunch(&batch, threads, samples);
            self.save()?;
        }
        Ok(())
    }

    fn record_crunch(&mut self, batch: &BatchDrive, threads: u32, samples: Samples) {
        let checksums: BTreeSet<&String> = samples.values().map(|s| &s.1).collect();
        let mismatch = checksums.len() > 1;
        let memory_method = match &batch.peak_rss_kb {
            Some(_) => format!(
                "peak RSS reported by {} (peak_rss_kb_regex)",
                self.plan.app.name
            ),
            None => format!("{} runtime, at exit", self.runtime.name()),
        };
        for (variant, (throughputs, checksum, peak)) in &samples {
            let result = self.result_mut(*variant);
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
            if let Some(summary) = stats::summarize(throughputs) {
                result.crunch.push(CrunchResult {
                    threads,
                    samples_mb_per_s: throughputs.clone(),
                    mb_per_s: summary,
                    checksum: checksum.clone(),
                    throughput_unit: Some(batch.throughput_unit.clone()),
                });
                if let Some(peak) = peak {
                    result.peak_memory_bytes =
                        Some(result.peak_memory_bytes.unwrap_or(0).max(*peak));
                    result.memory_method = Some(memory_method.clone());
                }
            }
        }
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
pub fn parse_job(
    batch: &BatchDrive,
    wall_ms: f64,
    stdout: &str,
    runtime_peak: Option<u64>,
) -> anyhow::Result<JobOutcome> {
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
    let peak_bytes = match &batch.peak_rss_kb {
        Some(regex) => last_capture(regex, stdout)
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024),
        None => runtime_peak,
    };
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
        let job = parse_job(batch, 99.0, &format!("noise\n{line}\n"), None).unwrap();
        assert_eq!(
            job,
            JobOutcome {
                throughput: 12.5,
                checksum: "00ff".into(),
                peak_bytes: Some(2048)
            }
        );
        let err = parse_job(batch, 1.0, "", None).unwrap_err().to_string();
        assert!(
            err.contains("matches nothing in the output: (no output)"),
            "{err}"
        );
        let err = parse_job(batch, 1.0, r#"{"mb_per_s":0,"checksum":"x"}"#, None).unwrap_err();
        assert!(err.to_string().contains("not a positive number"), "{err}");
    }

    #[test]
    fn without_a_regex_the_metric_is_jobs_per_second_of_wall_time() {
        let dir = crate::app::fixture_crate(
            "[package]\nname = \"job\"\n[package.metadata.harness]\nkind = \"batch\"\n",
        );
        let app = AppSpec::from_manifest(None, dir.path(), None).unwrap();
        let job = parse_job(app.batch().unwrap(), 250.0, "whatever", Some(4096)).unwrap();
        assert_eq!((job.throughput, job.peak_bytes), (4.0, Some(4096)));
        assert_eq!(job.checksum, "");
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

//! The "Why" section: where each variant's CPU goes, from the newest profile file per app
//! (`results/profiles/`, written by `harness profile`): buckets side by side, a sentence per
//! variant against the baseline, and links to the flame graphs. Nothing here samples.

use super::doc::{Doc, Table};
use crate::measure::stats::excludes;
use crate::profiles::buckets::Bucket;
use crate::profiles::ProfileResults;

/// Adds the section when there are profiles; `runs` are the report's run files, whose
/// host, code and workload each profile is checked against.
pub fn section(doc: &mut Doc, profiles: &[ProfileResults], runs: &[&crate::results::RunResults]) {
    if profiles.is_empty() {
        return;
    }
    doc.heading(2, "Why: where the CPU goes");
    doc.paragraph(
        "From `harness profile`: each variant sampled with `perf record` during one load window (server) or one job (batch) per round, the variants interleaved round by round, every sample put in a bucket by the rule list in docs/profiles.md (allocator, locks and futex, memory mapping, memory copy, network and syscalls, the app itself, other). Shares are of the variant's own samples, pooled over its rounds; for servers, share × CPU µs per request (the rounds' median) gives µs per request in each bucket. The allocator + locks + memory mapping share is also given per round (median and the interval of the median: up to 5 rounds the rounds' range, 93.8% for 5; 96.9% for 6), and its ratio to the baseline's is paired by round.",
    );
    for p in profiles {
        app_section(doc, p);
        doc.paragraph(provenance(p));
        let run = runs.iter().find(|r| r.app == p.app);
        if let Some(warning) = run.and_then(|r| mismatch(p, r)) {
            doc.paragraph(format!("**Warning**: {warning}"));
        }
    }
}

/// Where and from what a profile was taken: time, machine, kernel, code, workload.
pub fn provenance(p: &ProfileResults) -> String {
    let e = &p.environment;
    let code = match (&e.git_commit, e.git_dirty) {
        (Some(c), Some(true)) => {
            format!("commit {} with uncommitted changes", &c[..c.len().min(10)])
        }
        (Some(c), _) => format!("commit {}", &c[..c.len().min(10)]),
        (None, _) => "an unknown commit".into(),
    };
    let w = &p.workload;
    let workload = match (w.kind.as_str(), w.threads, w.dataset_mb) {
        ("batch", Some(t), Some(mb)) => format!("{t} threads, {mb} MB dataset"),
        ("batch", Some(t), None) => format!("{t} threads, dataset size not recorded"),
        _ => format!(
            "{} at {} connections",
            w.request.clone().unwrap_or_default(),
            w.concurrency.unwrap_or(0)
        ),
    };
    format!(
        "Profiled {} by `{}`: {}-core {}, kernel {}, {code}; {workload}; {} rounds.",
        p.started_at,
        p.command.join(" "),
        e.cpu_count,
        e.cpu_model,
        e.kernel,
        p.rounds
    )
}

/// What differs between a profile and the run of the same app it sits beside: the host,
/// the code, the workload. `None` when nothing does.
pub fn mismatch(p: &ProfileResults, run: &crate::results::RunResults) -> Option<String> {
    let (a, b) = (&p.environment, &run.environment);
    let mut diffs = Vec::new();
    if a.cpu_model != b.cpu_model || a.cpu_count != b.cpu_count {
        diffs.push(format!(
            "CPU ({}-core {} vs {}-core {})",
            a.cpu_count, a.cpu_model, b.cpu_count, b.cpu_model
        ));
    }
    if a.kernel != b.kernel {
        diffs.push(format!("kernel ({} vs {})", a.kernel, b.kernel));
    }
    if a.git_commit != b.git_commit {
        diffs.push("commit".into());
    }
    if a.git_dirty == Some(true) {
        diffs.push("the profile's code had uncommitted changes".into());
    }
    let w = &p.workload;
    if let (Some(mb), "batch") = (w.dataset_mb, w.kind.as_str()) {
        if (mb - run.settings.dataset_mb).abs() > 1e-9 {
            diffs.push(format!(
                "dataset ({mb} MB vs the run's {} MB)",
                run.settings.dataset_mb
            ));
        }
    }
    if w.kind == "batch" && w.dataset_mb.is_none() {
        diffs.push("dataset size (not recorded by the profile)".into());
    }
    if let Some(t) = w.threads.filter(|t| !run.settings.threads.contains(t)) {
        diffs.push(format!("threads ({t}, which the run did not measure)"));
    }
    (!diffs.is_empty()).then(|| {
        format!(
            "this profile differs from the {} run reported above in {}: its shares explain that profile, not necessarily the run's figures.",
            run.app,
            diffs.join(", ")
        )
    })
}

fn app_section(doc: &mut Doc, p: &ProfileResults) {
    let w = &p.workload;
    let what = match w.kind.as_str() {
        "server" => format!(
            "{} at {} connections, {:.0} s window",
            w.request.clone().unwrap_or_default(),
            w.concurrency.unwrap_or(0),
            w.duration_s.unwrap_or(0.0)
        ),
        _ => format!("one job on {} threads", w.threads.unwrap_or(0)),
    };
    doc.heading(3, format!("{}: {what}", p.app));
    let server = w.kind == "server";
    let mut header = vec!["variant".to_string(), "samples".into()];
    header.extend(Bucket::ALL.iter().map(|b| b.label().to_string()));
    if server {
        header.push("CPU µs/request".into());
    }
    header.push("alloc + locks + mmap per round".into());
    let mut table = Table::new(header);
    for v in p.variants.iter().filter(|v| v.failed.is_none()) {
        let mut row = vec![v.variant.name(), v.samples.to_string()];
        for &b in &Bucket::ALL {
            let share = v.share(b) * 100.0;
            row.push(match v.buckets.get(&b).and_then(|s| s.us_per_request) {
                Some(us) if server => format!("{share:.1}% ({us:.1} µs)"),
                _ => format!("{share:.1}%"),
            });
        }
        if server {
            row.push(
                v.cpu_us_per_request
                    .map_or("-".into(), |us| format!("{us:.1}")),
            );
        }
        row.push(v.allocation_share.as_ref().map_or("-".into(), |a| {
            format!(
                "{} [{}–{}], n={}",
                pct(a.median),
                pct(a.median_ci_low),
                pct(a.median_ci_high),
                a.n
            )
        }));
        table.row(row);
    }
    // Shares depend on the CPU (its memcpy, its page zeroing): the note names it.
    let env = &p.environment;
    doc.table(table.note(format!(
        "{}, {} Hz, call graphs by {}; {} runtime; {} CPUs of {}; started {}.",
        p.perf_version,
        p.frequency_hz,
        p.call_graph,
        p.runtime,
        env.cpu_count,
        env.cpu_model,
        p.started_at
    )));
    doc.list(sentences(p));
    let flames: Vec<String> = p
        .variants
        .iter()
        .filter_map(|v| {
            let flame = v.flame_graph.as_ref()?;
            let diff = v.diff_flame_graph.as_ref().map_or(String::new(), |d| {
                format!(", against {}: `{d}`", p.baseline)
            });
            Some(format!("{}: flame graph `{flame}`{diff}", v.variant.name()))
        })
        .collect();
    doc.list(flames);
}

/// The stacked bar chart of one profile: per variant, its samples split by bucket.
pub fn figure(p: &ProfileResults) -> super::plots::CpuShareBars {
    use super::plots::CpuShareRow;
    super::plots::CpuShareBars {
        stem: format!("{}-cpu-buckets", p.app),
        title: format!("{}: where the CPU goes", p.app),
        subtitle: format!("perf samples by bucket ({})", p.workload.kind),
        buckets: Bucket::ALL.iter().map(|b| b.label().to_string()).collect(),
        rows: p
            .variants
            .iter()
            .filter(|v| v.failed.is_none())
            .map(|v| CpuShareRow {
                name: v.variant.name(),
                shares_pct: Bucket::ALL.iter().map(|&b| v.share(b) * 100.0).collect(),
            })
            .collect(),
    }
}

/// One sentence per variant: its allocator + locks + memory mapping share against the
/// baseline's, and for servers the buckets that make up its CPU gap to the baseline.
pub fn sentences(p: &ProfileResults) -> Vec<String> {
    let Some(base) = p.variant(&p.baseline).filter(|b| b.failed.is_none()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in p
        .variants
        .iter()
        .filter(|v| v.failed.is_none() && v.variant != base.variant)
    {
        let mut s = format!(
            "{} spends {} in the allocator, locks and memory mapping, {} {}",
            v.variant.name(),
            pct(v.allocation_share()),
            base.variant.name(),
            pct(base.allocation_share())
        );
        if let (Some(cpu), Some(base_cpu)) = (v.cpu_us_per_request, base.cpu_us_per_request) {
            let mut gaps: Vec<(Bucket, f64)> = Bucket::ALL
                .iter()
                .map(|&b| (b, (v.share(b) * cpu) - (base.share(b) * base_cpu)))
                .collect();
            gaps.sort_by(|a, b| b.1.total_cmp(&a.1));
            let parts: Vec<String> = gaps
                .iter()
                .map(|(b, us)| format!("{} {us:+.1} µs", b.label()))
                .collect();
            s += &format!(
                "; its {:.1} µs of CPU per request against {base_cpu:.1} µs ({:+.1} µs) split by bucket: {}",
                cpu,
                cpu - base_cpu,
                parts.join(", ")
            );
        }
        if let (Some(own), Some(theirs), Some(r)) = (
            &v.allocation_share,
            &base.allocation_share,
            &v.allocation_share_ratio,
        ) {
            let noise = if excludes(r.ci_low, r.ci_high, 1.0) {
                "beyond noise"
            } else {
                "within noise"
            };
            s += &format!(
                " (per round, n={}: {} [{}–{}] against {} [{}–{}]; ×{:.2} [{:.2}–{:.2}] the baseline's, paired by round, {noise})",
                own.n,
                pct(own.median),
                pct(own.median_ci_low),
                pct(own.median_ci_high),
                pct(theirs.median),
                pct(theirs.median_ci_low),
                pct(theirs.median_ci_high),
                r.median,
                r.ci_low,
                r.ci_high,
            );
        }
        out.push(s + ".");
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::buckets::Tally;
    use crate::profiles::{VariantProfile, Workload};

    /// A profile file of `app` against glibc-system-debian.
    fn profile_file(
        app: &str,
        workload: Workload,
        rounds: u32,
        variants: Vec<VariantProfile>,
    ) -> ProfileResults {
        ProfileResults {
            schema_version: 1,
            app: app.into(),
            started_at: "t".into(),
            finished_at: Some("t".into()),
            command: vec![],
            runtime: "docker".into(),
            environment: crate::results::Environment {
                cpu_model: "Test CPU 9000".into(),
                cpu_count: 2,
                ..Default::default()
            },
            perf_version: "perf version 6.1".into(),
            frequency_hz: 999,
            call_graph: "dwarf".into(),
            workload,
            rounds,
            baseline: "glibc-system-debian".into(),
            variants,
        }
    }

    fn profile(name: &str, folded: &str, cpu: f64) -> VariantProfile {
        VariantProfile::from_tally(name.parse().unwrap(), &Tally::of_folded(folded), Some(cpu))
    }

    #[test]
    fn the_sentence_names_the_shares_and_the_gap_by_bucket() {
        let workload = Workload {
            kind: "server".into(),
            request: Some("/json".into()),
            concurrency: Some(16),
            duration_s: Some(5.0),
            threads: None,
            dataset_mb: None,
        };
        let results = profile_file(
            "http",
            workload,
            1,
            vec![
                profile("glibc-system-debian", "a;main 93\na;malloc 7\n", 50.0),
                profile("musl-system-scratch", "a;main 59\na;malloc 41\n", 100.0),
            ],
        );
        let s = sentences(&results);
        assert_eq!(s.len(), 1);
        assert!(
            s[0].starts_with("musl-system-scratch spends 41% in the allocator, locks and memory mapping, glibc-system-debian 7%; its 100.0 µs of CPU per request against 50.0 µs (+50.0 µs) split by bucket: allocator +37.5 µs, the app itself +12.5 µs"),
            "{}",
            s[0]
        );
        // Beside a run on another CPU, from another commit, the section says so.
        let mut run = crate::results::RunResults::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/report/http-run.json"),
        )
        .unwrap();
        run.app = results.app.clone();
        let mut doc = Doc::default();
        section(&mut doc, std::slice::from_ref(&results), &[&run]);
        assert!(doc.blocks.len() > 4);
        let markdown = super::super::markdown::render(&doc);
        assert!(markdown.contains("2 CPUs of Test CPU 9000"), "{markdown}");
        assert!(markdown.contains("Profiled "), "{markdown}");
        assert!(
            markdown.contains("**Warning**: this profile differs from the"),
            "{markdown}"
        );
        assert!(
            markdown.contains("CPU (2-core Test CPU 9000 vs"),
            "{markdown}"
        );
        // Beside a run of the same host, code and workload, no warning.
        run.environment = results.environment.clone();
        let mut doc = Doc::default();
        section(&mut doc, &[results], &[&run]);
        let markdown = super::super::markdown::render(&doc);
        assert!(!markdown.contains("**Warning**"), "{markdown}");
    }

    fn rounds(shares: &[f64]) -> Vec<crate::profiles::RoundProfile> {
        shares
            .iter()
            .enumerate()
            .map(|(i, &a)| crate::profiles::RoundProfile {
                round: i as u32 + 1,
                samples: 100,
                shares: [(Bucket::Allocator, a), (Bucket::App, 1.0 - a)]
                    .into_iter()
                    .collect(),
                cpu_us_per_request: None,
                throughput: None,
            })
            .collect()
    }

    #[test]
    fn with_rounds_the_sentence_gives_the_spread_and_the_paired_ratio() {
        let pooled = |name: &str, folded: &str, shares: &[f64]| {
            VariantProfile::pooled(
                name.parse().unwrap(),
                &Tally::of_folded(folded),
                rounds(shares),
            )
        };
        let workload = Workload {
            kind: "batch".into(),
            request: None,
            concurrency: None,
            duration_s: None,
            threads: Some(2),
            dataset_mb: Some(32.0),
        };
        let mut results = profile_file(
            "json",
            workload,
            3,
            vec![
                pooled(
                    "glibc-system-debian",
                    "a;main 80\na;malloc 20\n",
                    &[0.2, 0.1, 0.2],
                ),
                pooled(
                    "musl-system-scratch",
                    "a;main 40\na;malloc 60\n",
                    &[0.6, 0.5, 0.8],
                ),
                pooled(
                    "musl-mimalloc-scratch",
                    "a;main 80\na;mi_malloc 20\n",
                    &[0.2, 0.12, 0.18],
                ),
            ],
        );
        results.pair_with_baseline();
        let s = sentences(&results);
        assert_eq!(s.len(), 2);
        // Ratios per round: 3, 5, 4 (median 4, beyond noise); 1, 1.2, 0.9 (within noise).
        assert!(
            s[0].ends_with("(per round, n=3: 60% [50%–80%] against 20% [10%–20%]; ×4.00 [3.00–5.00] the baseline's, paired by round, beyond noise)."),
            "{}",
            s[0]
        );
        assert!(s[1].contains("×1.00 [0.90–1.20]"), "{}", s[1]);
        assert!(s[1].ends_with("within noise)."), "{}", s[1]);
    }
}

//! The report's arithmetic (the `--rate` shortfall warning) and its JSON (how the agent
//! sends it back).

use super::*;

fn report(rate_rps: Option<u64>, rps: f64, rate_backlog: u64, censored: u64) -> LoadReport {
    let histogram = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    LoadReport {
        endpoint: "/json".into(),
        concurrency: 8,
        rate_rps,
        warmup: PhaseCounts::default(),
        window: PhaseCounts {
            requests: rps as u64,
            ..Default::default()
        },
        drain: PhaseCounts::default(),
        abandoned: 2,
        rate_backlog,
        censored,
        duration_s: 1.0,
        rps,
        latency_us: latency_of(&histogram),
        histogram,
        loadgen_cpus: vec![1],
        loadgen_cpu_percent: 10.0,
        loadgen_bound: false,
        first_error: None,
    }
}

#[test]
fn a_rate_kept_within_five_percent_gives_no_warning() {
    assert_eq!(report(Some(1000), 950.0, 0, 3).rate_shortfall(), None);
    assert_eq!(report(Some(1000), 1001.0, 0, 0).rate_shortfall(), None);
    // Closed loop has no rate to keep.
    assert_eq!(report(None, 1.0, 0, 0).rate_shortfall(), None);
}

#[test]
fn a_missed_rate_says_what_was_never_sent_or_answered() {
    let warning = report(Some(1000), 612.0, 350, 358)
        .rate_shortfall()
        .unwrap();
    assert!(
        warning.starts_with(
            "/json at 8 connections: 612 requests/s completed of the 1000 asked for (61%)"
        ),
        "{warning}"
    );
    assert!(
        warning
            .contains("350 due were never sent and 8 unanswered at the window's end (2 abandoned"),
        "{warning}"
    );
    assert!(warning.contains("lower bounds"), "{warning}");
}

#[test]
fn a_report_survives_json_with_its_histogram() {
    let mut sent = report(None, 5000.0, 0, 0);
    for v in [1, 17, 250, 250, 99_999, 1_234_567] {
        sent.histogram.record(v).unwrap();
    }
    sent.first_error = Some("connection reset".into());
    let json = serde_json::to_string(&sent).unwrap();
    let back: LoadReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.histogram.len(), sent.histogram.len());
    for q in [0.5, 0.9, 0.99, 1.0] {
        assert_eq!(
            back.histogram.value_at_quantile(q),
            sent.histogram.value_at_quantile(q),
            "{q}"
        );
    }
    assert_eq!(back.window, sent.window);
    assert_eq!(back.first_error, sent.first_error);
    assert_eq!(back.rps, sent.rps);
}

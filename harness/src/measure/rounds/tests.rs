//! The cell arithmetic on synthetic windows: summaries over rounds, CPU per request,
//! bottlenecks and ratios paired by round.

use super::*;
use crate::measure::loadgen::PhaseCounts;

fn report(rps: f64, latency_us: u64, loadgen_cpu_percent: f64) -> LoadReport {
    let mut histogram = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    histogram.record(latency_us).unwrap();
    let requests = rps as u64; // a 1 s window
    LoadReport {
        endpoint: "/json".into(),
        concurrency: 16,
        rate_rps: None,
        warmup: PhaseCounts {
            requests: requests / 4,
            ..Default::default()
        },
        window: PhaseCounts {
            requests,
            ..Default::default()
        },
        drain: PhaseCounts {
            requests: 16,
            ..Default::default()
        },
        abandoned: 0,
        rate_backlog: 0,
        censored: 0,
        duration_s: 1.0,
        rps,
        latency_us: loadgen::latency_of(&histogram),
        histogram,
        loadgen_cpus: vec![1],
        loadgen_cpu_percent,
        loadgen_bound: loadgen_cpu_percent >= 90.0,
        first_error: None,
    }
}

fn window(round: u32, rps: f64, cpu_ns: u64) -> Window {
    Window {
        round,
        report: report(rps, 1000 + u64::from(round), 40.0),
        server_cpu: Ok(ServerCpu {
            cpu_ns,
            wall_s: 1.25,
            cores: 1,
        }),
    }
}

#[test]
fn a_cell_summarises_its_rounds_and_pairs_them_with_the_baseline() {
    // The machine drifts: round 2 is twice as fast for everyone.
    let base: Vec<Window> = (0..3)
        .map(|r| window(r, if r == 2 { 2000.0 } else { 1000.0 }, 500_000_000))
        .collect();
    let variant: Vec<Window> = base
        .iter()
        .map(|w| window(w.round, w.report.rps * 0.4, 400_000_000))
        .collect();
    let result = cell(&variant, &[&base], "cgroup");
    assert_eq!(result.rps.n, 3);
    assert_eq!(result.rps_samples, [400.0, 400.0, 800.0]);
    assert_eq!(result.requests, 1600);
    let ratio = result.ratio_to_baseline.unwrap().rps;
    assert!(
        (ratio.median - 0.4).abs() < 1e-12 && (ratio.ci_high - 0.4).abs() < 1e-12,
        "{ratio:?}"
    );
    // CPU per request counts every completed request: warm-up + window + drain.
    let completed = 400 + 100 + 16;
    let expected = 400_000_000.0 / 1e3 / f64::from(completed);
    assert!((result.server_cpu_us_per_request_samples[0] - expected).abs() < 1e-9);
    assert!(result.server_cpu_us_per_request.unwrap().n == 3);
    assert_eq!(result.server_cpu_method.as_deref(), Some("cgroup"));
    assert_eq!(
        result.latency_us.max, 1002,
        "histograms of all rounds merge"
    );
    assert!(cell(&base, &[], "x").ratio_to_baseline.is_none());
}

#[test]
fn bound_comes_from_both_sides() {
    let mut w = window(0, 1000.0, 1_200_000_000); // 1.2 s CPU in 1.25 s: 96% of one core
    assert_eq!(w.bound(), Bound::Server);
    w.server_cpu = Ok(ServerCpu {
        cpu_ns: 500_000_000,
        wall_s: 1.25,
        cores: 1,
    });
    assert_eq!(w.bound(), Bound::Neither);
    w.report = report(1000.0, 10, 95.0);
    assert_eq!(w.bound(), Bound::Loadgen);
    w.server_cpu = Ok(ServerCpu {
        cpu_ns: 1_240_000_000,
        wall_s: 1.25,
        cores: 1,
    });
    assert_eq!(
        w.bound(),
        Bound::Server,
        "both saturated: the one closer to its limit"
    );
}

#[test]
fn unreadable_server_cpu_is_not_available_with_the_reason_never_zero() {
    let mut windows: Vec<Window> = (0..3).map(|r| window(r, 1000.0, 1)).collect();
    for w in &mut windows {
        w.server_cpu = Err("cannot read /sys/fs/cgroup/cpuacct/x/cpuacct.usage: denied".into());
    }
    let result = cell(&windows, &[], "cgroup");
    assert!(result.server_cpu_us_per_request.is_none() && result.server_cpu_percent.is_none());
    assert!(result.server_cpu_us_per_request_samples.is_empty());
    let method = result.server_cpu_method.unwrap();
    assert!(
        method.starts_with("not available: cannot read") && method.contains("denied"),
        "{method}"
    );
}

#[test]
fn target_ci_needs_every_cell_narrow_enough() {
    let narrow: Vec<Window> = (0..5)
        .map(|r| window(r, 1000.0 + f64::from(r), 1))
        .collect();
    let wide: Vec<Window> = (0..5)
        .map(|r| window(r, 500.0 + 300.0 * f64::from(r), 1))
        .collect();
    let (n, w) = (cell(&narrow, &[], ""), cell(&wide, &[], ""));
    assert!(precise_enough(std::slice::from_ref(&n), 1.0));
    assert!(!precise_enough(&[n, w], 5.0));
}

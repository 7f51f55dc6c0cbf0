//! The load generator's spec and report as JSON: the endpoint's bytes, and the latency
//! histogram as (value, count) pairs, rebuilt exactly on the other side.

use crate::measure::loadgen::{Endpoint, LoadReport, LoadSpec, PhaseCounts};
use crate::results::Latency;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// An `Endpoint` on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireEndpoint {
    pub name: String,
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub expect_status: u16,
}

/// A `LoadSpec` on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireSpec {
    pub addr: SocketAddr,
    pub endpoint: WireEndpoint,
    pub concurrency: u32,
    pub warmup_ns: u64,
    pub duration_ns: u64,
    pub rate: Option<u64>,
    pub cpus: Option<Vec<usize>>,
}

/// A `LoadReport` on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireReport {
    pub endpoint: String,
    pub concurrency: u32,
    pub rate_rps: Option<u64>,
    pub warmup: PhaseCounts,
    pub window: PhaseCounts,
    pub drain: PhaseCounts,
    pub abandoned: u64,
    pub rate_backlog: u64,
    pub censored: u64,
    pub duration_s: f64,
    pub rps: f64,
    pub latency_us: Latency,
    /// Every recorded latency bucket: (highest equivalent value µs, count).
    pub histogram: Vec<(u64, u64)>,
    pub loadgen_cpus: Vec<usize>,
    pub loadgen_cpu_percent: f64,
    pub loadgen_bound: bool,
    pub first_error: Option<String>,
}

/// The answer to `Request::Load`: the report and the server's CPU over the load run
/// (`cpu_ns`, `wall_s`), or why it could not be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReply {
    pub report: WireReport,
    pub server_cpu: Result<(u64, f64), String>,
}

impl WireSpec {
    pub fn from_spec(spec: &LoadSpec) -> WireSpec {
        let e = &spec.endpoint;
        WireSpec {
            addr: spec.addr,
            endpoint: WireEndpoint {
                name: e.name.clone(),
                method: e.method.to_string(),
                path: e.path.to_string(),
                body: e.body.to_vec(),
                expect_status: e.expect_status,
            },
            concurrency: spec.concurrency,
            warmup_ns: spec.warmup.as_nanos() as u64,
            duration_ns: spec.duration.as_nanos() as u64,
            rate: spec.rate,
            cpus: spec.cpus.clone(),
        }
    }

    pub fn to_spec(&self) -> anyhow::Result<LoadSpec> {
        let e = &self.endpoint;
        let method = hyper::Method::from_bytes(e.method.as_bytes())
            .with_context(|| format!("method {:?}", e.method))?;
        let mut endpoint = Endpoint::new(method, &e.path, bytes::Bytes::from(e.body.clone()))?;
        endpoint.name = e.name.clone();
        endpoint.expect_status = e.expect_status;
        Ok(LoadSpec {
            addr: self.addr,
            endpoint,
            concurrency: self.concurrency,
            warmup: Duration::from_nanos(self.warmup_ns),
            duration: Duration::from_nanos(self.duration_ns),
            rate: self.rate,
            cpus: self.cpus.clone(),
        })
    }
}

impl WireReport {
    pub fn from_report(r: &LoadReport) -> WireReport {
        let histogram = r
            .histogram
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        WireReport {
            endpoint: r.endpoint.clone(),
            concurrency: r.concurrency,
            rate_rps: r.rate_rps,
            warmup: r.warmup,
            window: r.window,
            drain: r.drain,
            abandoned: r.abandoned,
            rate_backlog: r.rate_backlog,
            censored: r.censored,
            duration_s: r.duration_s,
            rps: r.rps,
            latency_us: r.latency_us,
            histogram,
            loadgen_cpus: r.loadgen_cpus.clone(),
            loadgen_cpu_percent: r.loadgen_cpu_percent,
            loadgen_bound: r.loadgen_bound,
            first_error: r.first_error.clone(),
        }
    }

    pub fn into_report(self) -> anyhow::Result<LoadReport> {
        let mut histogram = hdrhistogram::Histogram::<u64>::new(3)?;
        for (value, count) in &self.histogram {
            histogram.record_n(*value, *count)?;
        }
        Ok(LoadReport {
            endpoint: self.endpoint,
            concurrency: self.concurrency,
            rate_rps: self.rate_rps,
            warmup: self.warmup,
            window: self.window,
            drain: self.drain,
            abandoned: self.abandoned,
            rate_backlog: self.rate_backlog,
            censored: self.censored,
            duration_s: self.duration_s,
            rps: self.rps,
            latency_us: self.latency_us,
            histogram,
            loadgen_cpus: self.loadgen_cpus,
            loadgen_cpu_percent: self.loadgen_cpu_percent,
            loadgen_bound: self.loadgen_bound,
            first_error: self.first_error,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_histogram_survives_the_wire() {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for v in [1, 17, 250, 250, 99_999, 1_234_567] {
            h.record(v).unwrap();
        }
        let pairs: Vec<(u64, u64)> = h
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let mut back = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for (v, c) in pairs {
            back.record_n(v, c).unwrap();
        }
        assert_eq!(back.len(), h.len());
        for q in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q), "{q}");
        }
    }
}

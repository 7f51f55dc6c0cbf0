//! The load generator's spec as JSON (the endpoint's bytes), and the reply to a load
//! request (the `LoadReport` itself, its histogram as (value, count) pairs).

use crate::measure::loadgen::{Endpoint, LoadReport, LoadSpec};
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

/// The answer to `Request::Load`: the report and the server's CPU over the load run
/// (`cpu_ns`, `wall_s`), or why it could not be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReply {
    pub report: LoadReport,
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

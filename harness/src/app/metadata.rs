//! The `[package.metadata.harness]` table: its fields, their defaults, and the checks that
//! turn it into a typed `Drive` (how to start the app and what to measure).
//!
//! Every field is optional; an absent table means a server on `PORT` answering `GET /`.
//! Unknown fields and fields of the other kind are errors naming the field, so a typo never
//! silently falls back to a default. This module reads body files named by the table; it
//! does not read Cargo.toml itself (see `app`).

use super::launch::{self, Launch, LaunchFields};
use crate::results::AppKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The table as written, before defaults and checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessTable {
    kind: Option<String>,
    version_arg: Option<String>,
    env: Option<BTreeMap<String, String>>,
    port: Option<i64>,
    port_env: Option<String>,
    addr_flag: Option<String>,
    port_flag: Option<String>,
    ready_path: Option<String>,
    requests: Option<Vec<RequestTable>>,
    resolve_path: Option<String>,
    upstream: Option<String>,
    check_requests: Option<Vec<RequestTable>>,
    args: Option<Vec<String>>,
    cold_args: Option<Vec<String>>,
    throughput_regex: Option<String>,
    throughput_unit: Option<String>,
    checksum_regex: Option<String>,
    peak_rss_kb_regex: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestTable {
    name: Option<String>,
    method: Option<String>,
    path: String,
    body_file: Option<String>,
    expect_status: Option<u16>,
}

/// How the app is driven, checked and with every default filled in.
#[derive(Debug, Clone)]
pub enum Drive {
    Server(ServerDrive),
    Batch(BatchDrive),
}

#[derive(Debug, Clone)]
pub struct ServerDrive {
    /// How it is told where to listen.
    pub launch: Launch,
    /// Polled with `GET` until it answers 200.
    pub ready_path: String,
    /// The workload: one load window per request and concurrency.
    pub requests: Vec<RequestSpec>,
    /// `GET` this path with `{name}` filled in to have the app resolve a name and answer
    /// with the addresses it got (2xx) or the error (other): `harness check` asks it the
    /// DNS cases. Absent: the check only logs the lookups the workload makes.
    pub resolve_path: Option<String>,
    /// `upstream = "https"`: the app calls an HTTPS upstream, which the harness starts on
    /// loopback and names in its environment (see `crate::upstream`).
    pub upstream: bool,
    /// Requests `harness check` sends after `requests` (not loaded by `run`): what may break
    /// in an image without stopping the app from serving its workload.
    pub check_requests: Vec<RequestSpec>,
}

/// One workload request, sent over and over on keep-alive connections.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// What results and `--endpoints` call it; the path unless named.
    pub name: String,
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    /// Responses with any other status count as unexpected (`non_2xx` in results).
    pub expect_status: u16,
}

#[derive(Debug, Clone)]
pub struct BatchDrive {
    /// Arguments of a measured job; `{threads}` and `{dataset_mb}` are filled in per job.
    pub args: Vec<String>,
    /// Arguments of the job timed as the cold start (default: `args`).
    pub cold_args: Vec<String>,
    /// Environment variables every job gets.
    pub env: Vec<(String, String)>,
    /// Picks the throughput out of stdout; absent: the metric is 1 / wall time.
    pub throughput: Option<regex::Regex>,
    pub throughput_unit: String,
    /// Picks a checksum out of stdout that must agree across variants.
    pub checksum: Option<regex::Regex>,
    /// Picks the app's own peak RSS in KiB out of stdout.
    pub peak_rss_kb: Option<regex::Regex>,
}

/// The unit of the default batch metric: completed jobs per second of wall time.
pub const WALL_TIME_UNIT: &str = "jobs/s (1 / wall time)";
/// Methods the load generator can send (HEAD is out: its responses carry no body).
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const SERVER_ONLY: &str = "applies to kind = \"server\" only";
const BATCH_ONLY: &str = "applies to kind = \"batch\" only";

impl HarnessTable {
    /// Checks the table and fills in defaults; `crate_dir` anchors `body_file`.
    pub fn into_drive(self, crate_dir: &Path) -> Result<(AppKind, Drive), String> {
        match self.kind.as_deref() {
            None | Some("server") => {
                self.reject(&self.batch_fields(), BATCH_ONLY)?;
                Ok((AppKind::Server, Drive::Server(self.server(crate_dir)?)))
            }
            Some("batch") => {
                self.reject(&self.server_fields(), SERVER_ONLY)?;
                Ok((AppKind::Batch, Drive::Batch(self.batch()?)))
            }
            Some(other) => Err(format!(
                "kind {other:?}: expected \"server\" (the default) or \"batch\""
            )),
        }
    }

    pub fn version_arg(&self) -> Option<String> {
        self.version_arg.clone()
    }

    fn server_fields(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("port", self.port.is_some()),
            ("port_env", self.port_env.is_some()),
            ("addr_flag", self.addr_flag.is_some()),
            ("port_flag", self.port_flag.is_some()),
            ("ready_path", self.ready_path.is_some()),
            ("requests", self.requests.is_some()),
            ("resolve_path", self.resolve_path.is_some()),
            ("upstream", self.upstream.is_some()),
            ("check_requests", self.check_requests.is_some()),
        ]
    }

    fn batch_fields(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("cold_args", self.cold_args.is_some()),
            ("throughput_regex", self.throughput_regex.is_some()),
            ("throughput_unit", self.throughput_unit.is_some()),
            ("checksum_regex", self.checksum_regex.is_some()),
            ("peak_rss_kb_regex", self.peak_rss_kb_regex.is_some()),
        ]
    }

    fn reject(&self, fields: &[(&'static str, bool)], why: &str) -> Result<(), String> {
        match fields.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(format!("`{name}` {why}")),
            None => Ok(()),
        }
    }

    fn server(&self, crate_dir: &Path) -> Result<ServerDrive, String> {
        let launch = Launch::from_fields(&LaunchFields {
            port: self.port,
            env: self.env.as_ref(),
            args: self.args.as_deref(),
            port_env: self.port_env.as_deref(),
            addr_flag: self.addr_flag.as_deref(),
            port_flag: self.port_flag.as_deref(),
        })?;
        let ready_path = self.ready_path.clone().unwrap_or_else(|| "/".into());
        check_path("ready_path", &ready_path)?;
        let requests = match &self.requests {
            None => vec![RequestSpec {
                name: "/".into(),
                method: "GET".into(),
                path: "/".into(),
                body: Vec::new(),
                expect_status: 200,
            }],
            Some(list) if list.is_empty() => {
                return Err(
                    "`requests` is empty: give at least one, or leave it out for `GET /`".into(),
                )
            }
            Some(list) => list
                .iter()
                .map(|r| r.check(crate_dir))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let check_requests = self
            .check_requests
            .iter()
            .flatten()
            .map(|r| r.check(crate_dir))
            .collect::<Result<Vec<_>, _>>()?;
        let all: Vec<&RequestSpec> = requests.iter().chain(&check_requests).collect();
        for (i, r) in all.iter().enumerate() {
            if all[..i].iter().any(|o| o.name == r.name) {
                return Err(format!(
                    "two requests are named {:?}: give each a distinct `name`",
                    r.name
                ));
            }
        }
        if let Some(path) = &self.resolve_path {
            check_path("resolve_path", path)?;
            if !path.contains("{name}") {
                return Err(format!(
                    "`resolve_path` {path:?} has no {{name}}: write where the name goes, as in \"/resolve?name={{name}}\""
                ));
            }
        }
        let upstream = match self.upstream.as_deref() {
            None => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "`upstream` {other:?}: expected \"https\" (an HTTPS server the harness starts on loopback)"
                ))
            }
        };
        Ok(ServerDrive {
            launch,
            ready_path,
            requests,
            resolve_path: self.resolve_path.clone(),
            upstream,
            check_requests,
        })
    }

    fn batch(&self) -> Result<BatchDrive, String> {
        let args = self.args.clone().unwrap_or_default();
        let cold_args = self.cold_args.clone().unwrap_or_else(|| args.clone());
        let env: Vec<(String, String)> = self.env.clone().unwrap_or_default().into_iter().collect();
        let batch = launch::BATCH_PLACEHOLDERS;
        launch::check_placeholders("args", args.iter(), &batch, "batch jobs")?;
        launch::check_placeholders("cold_args", cold_args.iter(), &batch, "batch jobs")?;
        launch::check_placeholders("env", env.iter().map(|(_, v)| v), &[], "a batch job's env")?;
        launch::check_env(&env)?;
        let throughput = self
            .throughput_regex
            .as_deref()
            .map(|r| one_group_regex("throughput_regex", r))
            .transpose()?;
        if self.throughput_unit.is_some() && throughput.is_none() {
            return Err("`throughput_unit` needs `throughput_regex`".into());
        }
        Ok(BatchDrive {
            cold_args,
            args,
            env,
            throughput_unit: match &throughput {
                Some(_) => self
                    .throughput_unit
                    .clone()
                    .unwrap_or_else(|| "units/s".into()),
                None => WALL_TIME_UNIT.into(),
            },
            throughput,
            checksum: self
                .checksum_regex
                .as_deref()
                .map(|r| one_group_regex("checksum_regex", r))
                .transpose()?,
            peak_rss_kb: self
                .peak_rss_kb_regex
                .as_deref()
                .map(|r| one_group_regex("peak_rss_kb_regex", r))
                .transpose()?,
        })
    }
}

impl RequestTable {
    fn check(&self, crate_dir: &Path) -> Result<RequestSpec, String> {
        check_path("requests.path", &self.path)?;
        let method = self.method.clone().unwrap_or_else(|| "GET".into());
        if !METHODS.contains(&method.as_str()) {
            return Err(format!(
                "request {}: method {method:?}: expected one of {}",
                self.path,
                METHODS.join(", ")
            ));
        }
        let expect_status = self.expect_status.unwrap_or(200);
        if !(200..=599).contains(&expect_status) {
            return Err(format!(
                "request {}: expect_status {expect_status}: expected 200 to 599",
                self.path
            ));
        }
        let body = match &self.body_file {
            None => Vec::new(),
            Some(file) => {
                let path = crate_dir.join(file);
                std::fs::read(&path).map_err(|e| {
                    format!(
                        "request {}: body_file {}: cannot read: {e} (paths are relative to the crate)",
                        self.path,
                        path.display()
                    )
                })?
            }
        };
        Ok(RequestSpec {
            name: self.name.clone().unwrap_or_else(|| self.path.clone()),
            method,
            path: self.path.clone(),
            body,
            expect_status,
        })
    }
}

fn check_path(field: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        return Err(format!(
            "`{field}` {path:?}: expected a request path starting with `/`, without spaces"
        ));
    }
    Ok(())
}

fn one_group_regex(field: &str, pattern: &str) -> Result<regex::Regex, String> {
    let regex =
        regex::Regex::new(pattern).map_err(|e| format!("`{field}` is not a valid regex: {e}"))?;
    if regex.captures_len() != 2 {
        return Err(format!(
            "`{field}` {pattern:?} has {} capture groups: expected exactly one, around the value",
            regex.captures_len() - 1
        ));
    }
    Ok(regex)
}

/// The last match of `regex`'s capture group in `text`.
pub fn last_capture<'t>(regex: &regex::Regex, text: &'t str) -> Option<&'t str> {
    regex
        .captures_iter(text)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

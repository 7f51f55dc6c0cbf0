//! The load phase of a server run, in rounds: every variant's server is started once (own
//! port, the same server CPUs, host network; an idle server costs nothing), then each
//! round measures every (request, concurrency) cell once for every variant, the variants
//! in a seeded shuffled order per round. Rounds go on until `--rounds`, or with
//! `--target-ci` until every cell is precise enough (at most `--max-rounds`). The results
//! are rewritten after every window; a server that fails fails only its variant. An app
//! that binds a fixed port has its servers up one at a time instead (`one_at_a_time`).

mod one_at_a_time;

use super::arms::{Arm, Pairing};
use super::measurer::Meter;
use super::phases::listen_on;
use super::Run;
use crate::app::RequestSpec;
use crate::matrix::{Variant, BASELINE};
use crate::measure::loadgen::{Endpoint, LoadReport, LoadSpec};
use crate::measure::rounds::{self, ServerCpu, Window};
use crate::measure::stats;
use crate::runtime::{logs_of, retry, Instance, InstanceFailed, Runtime};
use anyhow::Context;
use std::collections::HashMap;
use std::net::SocketAddr;

/// A variant's server, up for the whole load phase.
struct Server {
    instance: Instance,
    addr: SocketAddr,
    meter: Meter,
}

/// The cells of the phase: every request at every concurrency.
type Cells = Vec<(RequestSpec, u32)>;
/// Windows measured so far, per arm and cell index.
type Windows = HashMap<(Arm, usize), Vec<Window>>;

impl<R: Runtime> Run<'_, R> {
    pub(super) async fn loads(&mut self) -> anyhow::Result<()> {
        let cells: Cells = self
            .plan
            .requests
            .iter()
            .flat_map(|r| self.plan.concurrency.iter().map(move |&c| (r.clone(), c)))
            .collect();
        if self
            .plan
            .app
            .server()
            .is_some_and(|s| s.launch.fixed_port.is_some())
        {
            return self.loads_one_at_a_time(&cells).await;
        }
        let mut servers = self.start_servers().await?;
        let mut windows = Windows::new();
        let max_rounds = self.plan.max_rounds.max(self.plan.rounds);
        let planned = u64::from(self.plan.rounds) * (cells.len() * servers.len()) as u64;
        let bar = self.progress.bar(planned, "load rounds");
        let mut round = 0;
        while round < max_rounds && !self.enough_rounds(round) {
            let order = stats::shuffled(&self.ok_arms(), u64::from(round));
            for (index, (request, concurrency)) in cells.iter().enumerate() {
                for &arm in &order {
                    let Some(server) = servers.get(&arm) else {
                        continue;
                    };
                    bar.set_message(format!(
                        "round {}: {arm}: {} at {concurrency} connections",
                        round + 1,
                        request.name
                    ));
                    let (measured, verdict) =
                        match self.window(server, request, *concurrency, round).await {
                            Ok((window, verdict)) => (Some(window), verdict),
                            Err(e) => (None, Err(e)),
                        };
                    bar.inc();
                    // Every window reaches the file as it finishes, a failed one too (its
                    // error count is the evidence): an interrupt keeps what was measured.
                    if let Some(window) = measured {
                        windows.entry((arm, index)).or_default().push(window);
                        self.record_cells(&cells, &windows, &meter_methods(&servers));
                    }
                    match verdict {
                        Ok(()) => {}
                        Err(e) => {
                            self.fail_arm(arm, "load", e)?;
                            if let Some(server) = servers.remove(&arm) {
                                self.release_one(&server.instance.id).await;
                            }
                        }
                    }
                    self.save()?;
                }
            }
            round += 1;
        }
        drop(bar);
        self.finish_servers(servers).await?;
        self.save()
    }

    /// Whether the rounds so far suffice: `--rounds` done and, with `--target-ci`, every
    /// cell's interval within it.
    fn enough_rounds(&self, done: u32) -> bool {
        if done < self.plan.rounds {
            return false;
        }
        let Some(target) = self.plan.target_ci else {
            return true;
        };
        let cells: Vec<_> = self
            .results
            .variants
            .iter()
            .chain(self.results.control.as_ref())
            .chain(&self.results.runtime_arms)
            .filter(|v| v.is_ok())
            .flat_map(|v| v.load.iter().cloned())
            .collect();
        rounds::precise_enough(&cells, target)
    }

    /// Starts every ok arm's server and waits until it answers; a server that does not
    /// fails its arm.
    async fn start_servers(&mut self) -> anyhow::Result<HashMap<Arm, Server>> {
        let mut servers = HashMap::new();
        for arm in self.ok_arms() {
            if let Some(server) = self.start_server(arm).await? {
                servers.insert(arm, server);
            }
        }
        Ok(servers)
    }

    /// Starts `arm`'s server and waits until it answers; `None` (its arm failed, with the
    /// reason) when it does not.
    async fn start_server(&mut self, arm: Arm) -> anyhow::Result<Option<Server>> {
        let server = self.plan.app.server().context("not a server")?.clone();
        let step = self.progress.step(format!("starting the {arm} server"));
        let addr = self.listen_addr(&server).await?;
        let spec = self.spec(
            arm,
            listen_on(&server, addr),
            &self.server_cpus.clone(),
            "load",
        )?;
        let started = async {
            let instance = self.runtime.start(&spec).await?;
            self.tracker()(&instance);
            let ready = self.wait_server(&instance, addr, &server.ready_path).await;
            if let Err(e) = ready {
                let logs = self.runtime.logs(&instance, 20).await;
                return Err(e.with_logs(&logs));
            }
            Ok(instance)
        }
        .await;
        match started {
            Ok(instance) => {
                let meter = self.server_meter(&instance).await;
                step.done(format!("{arm} serves on {addr}"));
                Ok(Some(Server {
                    instance,
                    addr,
                    meter,
                }))
            }
            Err(e) if retry::is_api_failure(&e) => Err(e),
            Err(e) => {
                step.done(format!("{arm}: load failed: {e:#}"));
                self.arm_result_mut(arm)
                    .fail("load", format!("{e:#}"), logs_of(&e));
                Ok(None)
            }
        }
    }

    /// One window of `request` at `concurrency` against `server`, with the server's CPU
    /// read around it, and whether it counts: an error when the server died or answered
    /// nothing (the window is still returned, as evidence).
    async fn window(
        &self,
        server: &Server,
        request: &RequestSpec,
        concurrency: u32,
        round: u32,
    ) -> anyhow::Result<(Window, anyhow::Result<()>)> {
        let spec = LoadSpec {
            addr: server.addr,
            endpoint: Endpoint::from_request(request)?,
            concurrency,
            warmup: self.plan.warmup,
            duration: self.plan.duration,
            rate: self.plan.rate,
            cpus: (!self.loadgen_cpus.is_empty()).then(|| self.loadgen_cpus.clone()),
        };
        let (report, cpu) = self
            .load_window(spec, &server.instance, &server.meter)
            .await?;
        let server_cpu = cpu.map(|(cpu_ns, wall_s)| ServerCpu {
            cpu_ns,
            wall_s,
            cores: self.server_cpus.len().max(1),
        });
        let verdict = self.check_window(&server.instance, request, &report).await;
        if let Some(shortfall) = report.rate_shortfall() {
            let variant = server.instance.variant;
            self.progress.println(format!(
                "warning: {variant}, round {}: {shortfall}",
                round + 1
            ));
        }
        let window = Window {
            round,
            report,
            server_cpu,
        };
        Ok((window, verdict))
    }

    /// Fails the window when the server died during it or answered every request with an
    /// unexpected status, or answered nothing; warns when the load generator was the
    /// bottleneck.
    async fn check_window(
        &self,
        instance: &Instance,
        request: &RequestSpec,
        report: &LoadReport,
    ) -> anyhow::Result<()> {
        let (endpoint, concurrency) = (&request.name, report.concurrency);
        if report.errors() > 0 {
            let died = !self.runtime.is_running(instance).await?;
            // Dead, or alive and hung: either way the window measured nothing.
            if died || report.window.requests == 0 {
                let what = if died {
                    "the server died"
                } else {
                    "the server answered no request"
                };
                return Err(InstanceFailed {
                    reason: format!(
                        "{what} during {endpoint} at {concurrency} connections ({} errors, first: {})",
                        report.errors(),
                        report.first_error.as_deref().unwrap_or("-"),
                    ),
                    logs: self.runtime.logs(instance, 20).await,
                }
                .into());
            }
        }
        let unexpected = report.non_2xx();
        if unexpected > 0 && unexpected == report.completed() {
            anyhow::bail!(
                "every response to {} {} was unexpected: expected status {} ({unexpected} of {}); check `path`/`expect_status` in [package.metadata.harness.requests]",
                request.method,
                request.path,
                request.expect_status,
                report.completed()
            );
        }
        Ok(())
    }

    /// Rewrites every ok arm's cells from the windows so far, paired with the baseline's
    /// arms (see `arms::pairing`), and re-judges the run's ratios together.
    fn record_cells(&mut self, cells: &Cells, windows: &Windows, methods: &HashMap<Arm, String>) {
        for arm in self.ok_arms() {
            // An unreadable meter shows in every window's reading, with its reason.
            let method = methods.get(&arm).cloned().unwrap_or_default();
            let pairing = self.pairing_of(arm);
            let mut load = Vec::new();
            for index in 0..cells.len() {
                let Some(own) = windows.get(&(arm, index)).filter(|w| !w.is_empty()) else {
                    continue;
                };
                let baselines: Vec<&[Window]> = match &pairing {
                    Pairing::None => Vec::new(),
                    Pairing::Against(arms) => arms
                        .iter()
                        .filter_map(|a| windows.get(&(*a, index)))
                        .map(Vec::as_slice)
                        .collect(),
                };
                load.push(rounds::cell(own, &baselines, &method));
            }
            self.arm_result_mut(arm).load = load;
        }
        self.adjust_ratios();
    }

    /// The variant ratios are against: the baseline when it is measured, else the first.
    pub(super) fn baseline_variant(&self) -> Option<Variant> {
        let variants: Vec<Variant> = self.results.variants.iter().map(|v| v.variant).collect();
        variants
            .iter()
            .copied()
            .find(|v| v.name() == BASELINE)
            .or_else(|| variants.first().copied())
    }

    /// After the rounds: each server's peak memory (process and container), warnings for
    /// load-generator-bound cells, and the servers removed.
    async fn finish_servers(&mut self, servers: HashMap<Arm, Server>) -> anyhow::Result<()> {
        for (arm, server) in servers {
            self.stop_server(arm, server).await?;
        }
        self.warn_loadgen_bound();
        self.record_launched();
        Ok(())
    }

    /// Records a server's peak memory (process and container) and removes it. A daemon
    /// that stopped answering ends the run here (the caller removes everything); a server
    /// that died after its last window fails its variant.
    async fn stop_server(&mut self, arm: Arm, server: Server) -> anyhow::Result<()> {
        let alive = self.runtime.is_running(&server.instance).await?;
        if !alive {
            let logs = self.runtime.logs(&server.instance, 20).await;
            self.arm_result_mut(arm).fail(
                "load",
                "the server exited after its last load window",
                Some(logs),
            );
        }
        let peak = self.server_peak(&server.instance).await;
        self.release_one(&server.instance.id).await;
        let result = self.arm_result_mut(arm);
        if let Some(warning) = result.record_memory(&peak.process, &peak.container) {
            self.progress.println(format!("warning: {warning}"));
        }
        Ok(())
    }

    /// Warns, per variant, of the cells where the load generator was the bottleneck.
    fn warn_loadgen_bound(&self) {
        let arms = self
            .results
            .variants
            .iter()
            .chain(self.results.control.as_ref())
            .chain(&self.results.runtime_arms);
        for result in arms.filter(|v| v.is_ok()) {
            let bound: Vec<String> = result
                .load
                .iter()
                .filter(|c| c.bound == crate::results::Bound::Loadgen)
                .map(|c| format!("{} c={}", c.endpoint, c.concurrency))
                .collect();
            if !bound.is_empty() {
                self.progress.println(format!(
                    "warning: {}: the load generator was the bottleneck in {}: their rps measure it, not the server (server CPU per request still compares)",
                    result.variant,
                    bound.join(", ")
                ));
            }
        }
    }
}

/// How each server's CPU is read (empty where it cannot be).
fn meter_methods(servers: &HashMap<Arm, Server>) -> HashMap<Arm, String> {
    servers
        .iter()
        .map(|(v, s)| (*v, s.meter_method()))
        .collect()
}

impl Server {
    fn meter_method(&self) -> String {
        self.meter.method()
    }
}

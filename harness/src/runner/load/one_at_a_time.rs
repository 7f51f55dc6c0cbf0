//! The load phase of an app that binds a fixed port (`port = N`): two of its servers cannot
//! be up at once, so each round starts the variants' servers one at a time, in the round's
//! seeded shuffled order, measures every cell against it and removes it before the next.
//! The windows, pairing, saving and failure handling are the parent's; only the order of
//! starts differs. Each window's warm-up still runs on a server that has already answered.

use super::{Cells, Run, Windows};
use crate::measure::stats;
use crate::runtime::Runtime;
use std::collections::HashMap;

impl<R: Runtime> Run<'_, R> {
    pub(super) async fn loads_one_at_a_time(&mut self, cells: &Cells) -> anyhow::Result<()> {
        let mut windows = Windows::new();
        let mut methods = HashMap::new();
        let max_rounds = self.plan.max_rounds.max(self.plan.rounds);
        let planned = u64::from(self.plan.rounds) * (cells.len() * self.ok_arms().len()) as u64;
        let bar = self
            .progress
            .bar(planned, "load rounds (one server at a time: a fixed port)");
        let mut round = 0;
        while round < max_rounds && !self.enough_rounds(round) {
            for arm in stats::shuffled(&self.ok_arms(), u64::from(round)) {
                let Some(server) = self.start_server(arm).await? else {
                    continue;
                };
                methods.insert(arm, server.meter_method());
                let mut failed = None;
                for (index, (request, concurrency)) in cells.iter().enumerate() {
                    bar.set_message(format!(
                        "round {}: {arm}: {} at {concurrency} connections",
                        round + 1,
                        request.name
                    ));
                    let (measured, verdict) =
                        match self.window(&server, request, *concurrency, round).await {
                            Ok((window, verdict)) => (Some(window), verdict),
                            Err(e) => (None, Err(e)),
                        };
                    bar.inc();
                    if let Some(window) = measured {
                        windows.entry((arm, index)).or_default().push(window);
                        self.record_cells(cells, &windows, &methods);
                    }
                    if let Err(e) = verdict {
                        failed = Some(e);
                        break;
                    }
                    self.save()?;
                }
                match failed {
                    None => self.stop_server(arm, server).await?,
                    Some(e) => {
                        self.fail_arm(arm, "load", e)?;
                        self.release_one(&server.instance.id).await;
                    }
                }
                self.save()?;
            }
            round += 1;
        }
        drop(bar);
        self.warn_loadgen_bound();
        self.record_launched();
        self.save()
    }
}

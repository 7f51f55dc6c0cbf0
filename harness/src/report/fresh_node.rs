//! The report's fresh-node part: the chart's data and the table, from each variant's
//! `fresh_node` record. Modelled columns are marked `modelled` in their headers: they are
//! arithmetic on measured figures, not measurements.

use super::doc::Table;
use super::fmt::{factor, num, value_ci};
use super::metrics::{Estimate, RunView, BYTES_PER_MB};
use super::plots::{FreshNodeBars, FreshNodeRow};
use crate::fresh_node::FreshNode;

/// What the section says before its chart.
pub const EXPLANATION: &str = "A fresh node is a second, throwaway Docker daemon on this machine with an empty data root, pulling from a local registry on 127.0.0.1: each repetition starts a new daemon, pulls the image, then creates and starts the app until its first good response (batch: until it exits). Download runs until the daemon reports the last layer's bytes in (it includes resolving the manifest; over loopback it crosses no real network); unpack is the rest of the pull. The modelled columns replace the download with the compressed bytes over a 100 Mbit/s or 1 Gbit/s link and add the measured medians of unpack and start.";

fn records<'a>(view: &'a RunView) -> Vec<(String, &'a FreshNode)> {
    view.results()
        .variants
        .iter()
        .filter_map(|v| Some((v.variant.name(), v.fresh_node.as_ref()?)))
        .collect()
}

pub fn figure(view: &RunView) -> Option<FreshNodeBars> {
    let records = records(view);
    let first = records.first()?.1;
    let rows = records
        .iter()
        .map(|(name, f)| FreshNodeRow {
            name: name.clone(),
            download_ms: f.download_ms.median,
            unpack_ms: f.unpack_ms.median,
            start_ms: f.start_ms.median,
            first_response_ms: f.first_response_ms.median,
            p5_ms: f.first_response_ms.p5,
            p95_ms: f.first_response_ms.p95,
        })
        .collect();
    Some(FreshNodeBars {
        stem: format!("{}-fresh-node", view.slug),
        title: format!(
            "Time to first response on a fresh node ({})",
            view.results().app
        ),
        subtitle: format!(
            "empty dockerd ({}) pulling from a registry on 127.0.0.1, {} runs each; label: median total",
            first.storage_driver, first.first_response_ms.n
        ),
        rows,
    })
}

/// The table, or `None` when the run has no fresh-node figures.
pub fn table(view: &RunView) -> Option<Table> {
    let records = records(view);
    if records.is_empty() {
        return None;
    }
    let base = view
        .baseline
        .as_ref()
        .and_then(|b| records.iter().find(|(n, _)| n == b))
        .map(|(_, f)| f.first_response_ms.median);
    let mut t = Table::new([
        "variant",
        "compressed (MB)",
        "unpacked (MB)",
        "download (ms)",
        "unpack (ms)",
        "start (ms)",
        "first response (ms)",
        "× baseline",
        "modelled: 100 Mbit/s (ms)",
        "modelled: 1 Gbit/s (ms)",
    ]);
    for (name, f) in records {
        t.row([
            name,
            num(f.compressed_bytes as f64 / BYTES_PER_MB),
            num(f.unpacked_bytes as f64 / BYTES_PER_MB),
            num(f.download_ms.median),
            num(f.unpack_ms.median),
            num(f.start_ms.median),
            value_ci(&Estimate::median(&f.first_response_ms)),
            base.filter(|b| *b > 0.0)
                .map_or("—".into(), |b| factor(f.first_response_ms.median / b)),
            num(f.modelled_first_response_100mbit_ms),
            num(f.modelled_first_response_1gbit_ms),
        ]);
    }
    Some(t.note("Medians, first response with the interval of its median (the range of the repetitions up to 5: 93.8% for 5, 87.5% for 4). Compressed = the layer blobs in the registry; unpacked = the image's size on the fresh node; 1 MB = 1,000,000 bytes. Modelled = compressed bytes ÷ link speed + median unpack + median start: arithmetic, not a measurement."))
}

//! The table a person reads at the end of a run, from the results alone: per variant the
//! image size, cold-start median, throughput and p99 at the highest load, peak memory, and
//! each relative to the baseline variant.

use crate::matrix::BASELINE;
use crate::results::{AppKind, RunResults, VariantResult};
use comfy_table::Table;

/// Renders the summary table of a results file.
pub fn summary_table(results: &RunResults) -> Table {
    let baseline = results.variant(BASELINE).filter(|b| b.is_ok());
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let mut header = vec![
        "variant".to_string(),
        "image MB".into(),
        "cold start ms".into(),
    ];
    let columns = metric_columns(results);
    header.extend(columns.iter().map(|c| c.title.clone()));
    header.push("peak MB".into());
    table.set_header(header);
    for v in &results.variants {
        if !v.is_ok() {
            let reason = match &v.status {
                crate::results::Status::Failed { step, reason, .. } => {
                    format!("failed at {step}: {reason}")
                }
                crate::results::Status::Ok => String::new(),
            };
            table.add_row([v.variant.name(), truncate(&reason, 100)]);
            continue;
        }
        let mut row = vec![v.variant.name()];
        row.push(cell(image_mb(v), baseline.and_then(image_mb)));
        row.push(cell(cold_ms(v), baseline.and_then(cold_ms)));
        for c in &columns {
            row.push(cell((c.value)(v), baseline.and_then(|b| (c.value)(b))));
        }
        row.push(cell(peak_mb(v), baseline.and_then(peak_mb)));
        table.add_row(row);
    }
    table
}

/// Reads one metric of a variant.
type Metric = Box<dyn Fn(&VariantResult) -> Option<f64>>;

struct Column {
    title: String,
    value: Metric,
}

/// Servers: rps per endpoint at the highest concurrency, and p99 of the last endpoint there.
/// Batch: MB/s at the lowest and highest thread counts.
fn metric_columns(results: &RunResults) -> Vec<Column> {
    let s = &results.settings;
    match results.app_kind {
        AppKind::Server => {
            let Some(&top) = s.concurrency.iter().max() else {
                return Vec::new();
            };
            let mut columns: Vec<Column> = s
                .endpoints
                .iter()
                .map(|e| {
                    let endpoint = e.clone();
                    Column {
                        title: format!("{e} rps @{top}"),
                        value: Box::new(move |v| load(v, &endpoint, top).map(|l| l.rps.median)),
                    }
                })
                .collect();
            if let Some(e) = s
                .endpoints
                .iter()
                .find(|e| *e == "/json")
                .or(s.endpoints.last())
                .cloned()
            {
                columns.push(Column {
                    title: format!("{e} p99 µs @{top}"),
                    value: Box::new(move |v| load(v, &e, top).map(|l| l.latency_us.p99 as f64)),
                });
            }
            columns
        }
        AppKind::Batch => {
            let unit = results.throughput_unit();
            let mut threads: Vec<u32> = vec![
                *s.threads.iter().min().unwrap_or(&1),
                *s.threads.iter().max().unwrap_or(&1),
            ];
            threads.dedup();
            threads
                .into_iter()
                .map(|t| Column {
                    title: format!("{unit} @{t} threads"),
                    value: Box::new(move |v| {
                        v.crunch
                            .iter()
                            .find(|c| c.threads == t)
                            .map(|c| c.mb_per_s.median)
                    }),
                })
                .collect()
        }
    }
}

fn load<'a>(
    v: &'a VariantResult,
    endpoint: &str,
    concurrency: u32,
) -> Option<&'a crate::results::LoadResult> {
    v.load
        .iter()
        .find(|l| l.endpoint == endpoint && l.concurrency == concurrency)
}

fn image_mb(v: &VariantResult) -> Option<f64> {
    v.build
        .as_ref()?
        .image
        .as_ref()
        .map(|i| i.image_bytes as f64 / 1e6)
}

fn cold_ms(v: &VariantResult) -> Option<f64> {
    v.cold_start.as_ref().map(|c| c.cold_start_ms.median)
}

fn peak_mb(v: &VariantResult) -> Option<f64> {
    v.peak_memory_bytes.map(|b| b as f64 / 1e6)
}

/// `value (×ratio)` against the baseline.
fn cell(value: Option<f64>, baseline: Option<f64>) -> String {
    match (value, baseline) {
        (None, _) => "-".into(),
        (Some(v), Some(b)) if b > 0.0 => format!("{} (×{:.2})", number(v), v / b),
        (Some(v), _) => number(v),
    }
}

fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn truncate(text: &str, max: usize) -> String {
    let flat = text.replace('\n', " ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_the_ratio_to_the_baseline() {
        assert_eq!(cell(Some(50.0), Some(100.0)), "50.0 (×0.50)");
        assert_eq!(cell(Some(3.0), None), "3.00");
        assert_eq!(cell(None, Some(1.0)), "-");
    }
}

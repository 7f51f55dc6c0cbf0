//! Exporters over the results types, one per format, used by `run` and `bench` alike: JSON
//! (the results type itself, as published in `harness/schema/`) and CSV (long form). Each
//! file is written atomically, after each unit of work.

pub mod csv;
mod format;
pub mod json;

pub use format::Exporter;

use crate::results::write_atomically;
use std::path::Path;

/// Writes `results` as JSON at `path` and as CSV beside it (same name, `.csv`), atomically.
pub fn write_all<T>(results: &T, path: &Path) -> anyhow::Result<()>
where
    json::Json: Exporter<T>,
    csv::Csv: Exporter<T>,
{
    write_atomically(
        path,
        <json::Json as Exporter<T>>::render(results).as_bytes(),
    )?;
    write_atomically(
        &path.with_extension(<csv::Csv as Exporter<T>>::EXTENSION),
        <csv::Csv as Exporter<T>>::render(results).as_bytes(),
    )?;
    Ok(())
}

//! `harness report`: renders REPORT.md, index.html and the plots from results files only.
//!
//! Owns reading the files (`load`), deriving the numbers (`metrics`), the plots (`plots`,
//! `figures`), the document (`sections`, `tables`, `verdict`) and its two renderings
//! (`markdown`, `html`). It never sees a run's in-memory state: what is not in a results
//! file is not in the report.

mod doc;
mod figures;
mod fmt;
mod fresh_node;
mod html;
pub mod load;
mod markdown;
pub mod metrics;
pub mod plots;
mod posture;
mod sections;
mod tables;
mod verdict;

pub use load::{discover, load_files, Inputs, Skipped};
pub use verdict::VerdictGroup;

use crate::results::write_atomically;
use metrics::RunView;
use std::path::{Path, PathBuf};

/// What a render wrote.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub report_md: PathBuf,
    pub index_html: PathBuf,
    /// SVG and PNG of every plot, in document order.
    pub plots: Vec<plots::PlotFile>,
}

/// Renders the report of `inputs` into `out`: `REPORT.md`, `index.html`, `plots/*.svg|png`.
///
/// Plot files in `out/plots/` that this render did not write are removed, so the directory
/// always matches the report.
pub fn render(inputs: &Inputs, out: &Path) -> anyhow::Result<Rendered> {
    let plots_dir = out.join("plots");
    std::fs::create_dir_all(&plots_dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", plots_dir.display()))?;
    let views = views(inputs);
    let palette = palette(inputs);
    let mut builder = sections::Builder::new(&plots_dir);
    builder.build(inputs, &views, &palette)?;
    remove_stale_plots(&plots_dir, &builder.plots)?;
    let report_md = out.join("REPORT.md");
    write_atomically(&report_md, markdown::render(&builder.doc).as_bytes())?;
    let index_html = out.join("index.html");
    let page = html::render(&builder.doc, &plots_dir)?;
    write_atomically(&index_html, page.as_bytes())?;
    Ok(Rendered {
        report_md,
        index_html,
        plots: builder.plots,
    })
}

/// The verdict alone, as the report states it.
pub fn verdict(inputs: &Inputs) -> Vec<VerdictGroup> {
    let views = views(inputs);
    verdict::groups(&views, inputs.bench.as_ref().map(|b| &b.results))
}

fn views(inputs: &Inputs) -> Vec<RunView<'_>> {
    let slugs = metrics::slugs(&inputs.runs);
    inputs
        .runs
        .iter()
        .zip(slugs)
        .map(|(file, slug)| RunView::new(file, slug))
        .collect()
}

/// One colour per variant name across the run sections: the baseline first, then as seen.
/// (The bench section names `link-allocator` pairs and gets its own.)
fn palette(inputs: &Inputs) -> plots::Palette {
    let mut names: Vec<String> = vec![crate::matrix::BASELINE.to_string()];
    for run in &inputs.runs {
        names.extend(run.results.variants.iter().map(|v| v.variant.name()));
    }
    plots::Palette::new(names.iter().map(String::as_str))
}

fn remove_stale_plots(dir: &Path, written: &[plots::PlotFile]) -> anyhow::Result<()> {
    let keep: Vec<&Path> = written
        .iter()
        .flat_map(|p| [p.svg.as_path(), p.png.as_path()])
        .collect();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot list: {e}", dir.display()))?;
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let plot = path.extension().is_some_and(|x| x == "svg" || x == "png");
        if plot && !keep.contains(&path.as_path()) {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("{}: cannot remove: {e}", path.display()))?;
        }
    }
    Ok(())
}

//! `harness report`: renders REPORT.md, index.html and the plots from results files only.
//!
//! Owns reading the files (`load`), deriving the numbers and their noise (`metrics`,
//! `estimate`, `frontier`), the plots (`plots`, `figures`), the document (`sections`,
//! `tables`, `load_tables`, `verdict`, `ranking`), the sections of profiles (`why`) and
//! checks (`scratch`), and its two renderings (`markdown`, `html`). It never sees a run's
//! in-memory state: what is not in a results file is not in the report.

pub mod anchor;
mod answer;
mod build_time;
mod doc;
pub mod estimate;
mod figures;
mod fmt;
mod fresh_node;
pub mod frontier;
mod history;
mod html;
pub mod load;
mod load_tables;
mod markdown;
pub mod metrics;
pub mod plots;
mod posture;
pub mod provenance;
mod ranking;
mod readme;
pub mod replication;
pub mod runtimes;
mod scratch;
mod sections;
pub mod select;
mod summary;
mod tables;
mod verdict;
pub mod why;

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
    let checks = load_checks(out)?;
    let mut builder = sections::Builder::new(&plots_dir);
    builder.build(inputs, &views, &palette, &checks)?;
    let profiles = crate::results::newest_per_app(&out.join("profiles"))?
        .iter()
        .map(|p| crate::profiles::ProfileResults::load(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let builds = load_builds(out)?;
    build_time::section(&mut builder, &builds)?;
    runtimes::section(&mut builder, &runtimes::load(&out.join("runtimes"))?)?;
    history::section(&mut builder, &views, &palette)?;
    scratch::section(&mut builder.doc, &checks);
    let runs: Vec<&crate::results::RunResults> = inputs.runs.iter().map(|r| &r.results).collect();
    why::section(&mut builder.doc, &profiles, &runs);
    for profile in &profiles {
        builder.figure(Some(why::figure(profile)))?;
    }
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

/// The directory whose README and book a report in `out` keeps up to date: `out`'s parent.
pub fn root_beside(out: &Path) -> PathBuf {
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.into(),
        _ => PathBuf::from("."),
    }
}

/// The Markdown files a report in `out` keeps up to date: `README.md` beside `out`
/// (`results` → `README.md`) and the pages of the book beside it (`docs/*.md`), in that
/// order; each is used only when it has generated blocks.
pub fn pages_beside(out: &Path) -> Vec<PathBuf> {
    let root = root_beside(out);
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    let mut pages = vec![root.join("README.md")];
    pages.extend(docs);
    pages
}

/// Re-renders the generated blocks of the Markdown file `page` (the README or a page of the
/// book beside the report in `out`) from `inputs` (see `readme`: `summary`, `answer`, `history` and
/// `bench ID…`); returns how many there were, 0 when the file does not exist or has none.
/// Files below the checkout's root (`out`'s parent) are named relative to the page
/// (`results/…` from the README, `../results/…` from `docs/`), others by their file name.
pub fn update_page(inputs: &Inputs, page: &Path, out: &Path) -> anyhow::Result<usize> {
    let readme = page;
    let root = &root_beside(out);
    let text = match std::fs::read_to_string(readme) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => anyhow::bail!("{}: cannot read: {e}", readme.display()),
    };
    let name = |path: &Path| relative_name(path, page, root);
    let views = views(inputs);
    let sources = provenance::sources(inputs, name);
    let (spliced, blocks) = readme::splice(&text, &readme.display().to_string(), |block, args| {
        let blocks = match (block, &inputs.bench) {
            ("summary", _) => summary::summary(inputs, &views, &sources, &load_builds(out)?),
            ("answer", _) => {
                let checks = load_checks(out)?;
                let report = name(&out.join("REPORT.md"));
                answer::blocks(&views, &checks, &report)
            }
            ("bench", Some(bench)) => {
                let source = sources.last().expect("the bench file is a source");
                let mut blocks = summary::bench(&bench.results, source, args);
                blocks.extend(
                    sections::bench_replication(bench, &inputs.bench_replicates)
                        .into_iter()
                        .map(doc::Block::Paragraph),
                );
                blocks
            }
            ("bench", None) => anyhow::bail!("no bench results file among the inputs"),
            ("history", _) => history::blocks(&views),
            (other, _) => {
                anyhow::bail!(
                    "unknown block {other:?}: expected `summary`, `answer`, `history` or `bench ID…`"
                )
            }
        };
        Ok(markdown::render_blocks(&blocks))
    })?;
    if blocks > 0 && spliced != text {
        write_atomically(readme, spliced.as_bytes())?;
    }
    Ok(blocks)
}

/// `path` as a link from `page`: relative to it when both lie below `root`, else the file
/// name alone: never an absolute path, so the text does not depend on where the checkout is.
fn relative_name(path: &Path, page: &Path, root: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).ok();
    let (Some(path_abs), Some(page_abs), Some(root_abs)) = (abs(path), abs(page), abs(root)) else {
        return provenance::file_name(path);
    };
    let (Ok(rel), Ok(page_rel)) = (
        path_abs.strip_prefix(&root_abs),
        page_abs.strip_prefix(&root_abs),
    ) else {
        return provenance::file_name(path);
    };
    let depth = page_rel.components().count().saturating_sub(1);
    let mut out = PathBuf::new();
    for _ in 0..depth {
        out.push("..");
    }
    out.push(rel);
    out.display().to_string()
}

/// The newest `harness build --cold` file of each app in `out/builds`.
fn load_builds(out: &Path) -> anyhow::Result<Vec<crate::buildtime::BuildTimes>> {
    crate::results::newest_per_app(&out.join("builds"))?
        .iter()
        .map(|p| crate::buildtime::BuildTimes::load(p))
        .collect()
}

/// The newest `harness check` file of each app in `out/checks`.
fn load_checks(out: &Path) -> anyhow::Result<Vec<crate::check::CheckResults>> {
    crate::results::newest_per_app(&out.join("checks"))?
        .iter()
        .map(|p| crate::check::CheckResults::load(p))
        .collect()
}

/// What a reader must know before comparing the inputs' figures: other machines, dirty code.
pub fn warnings(inputs: &Inputs) -> Vec<String> {
    provenance::warnings(&provenance::sources(inputs, |p| p.display().to_string()))
}

/// The verdict alone, as the report states it.
pub fn verdict(inputs: &Inputs) -> Vec<VerdictGroup> {
    let views = views(inputs);
    verdict::groups(&views, inputs.bench.as_ref().map(|b| &b.results))
}

fn views(inputs: &Inputs) -> Vec<RunView<'_>> {
    let slugs = metrics::slugs(&inputs.runs);
    let mut views: Vec<RunView> = inputs
        .runs
        .iter()
        .zip(slugs)
        .map(|(file, slug)| RunView {
            replicates: inputs.replicates_of(file),
            comparisons: inputs.comparisons,
            ..RunView::new(file, slug)
        })
        .collect();
    // Runs on several daemons: one host's runs together (a stable sort keeps their order).
    views.sort_by_key(|v| v.results().environment.docker_host.clone());
    views
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
        // Flame graphs are written by `harness profile`, not by the report.
        let flame = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("-flame-"));
        let plot = !flame && path.extension().is_some_and(|x| x == "svg" || x == "png");
        if plot && !keep.contains(&path.as_path()) {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("{}: cannot remove: {e}", path.display()))?;
        }
    }
    Ok(())
}

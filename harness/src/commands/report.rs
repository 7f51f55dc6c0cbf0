//! `harness report`: render REPORT.md, index.html and the plots from results files, and
//! regenerate the blocks of the README and of the book's pages (`docs/`) that quote them.

use crate::cli::ReportArgs;
use std::path::Path;

/// Finds or loads the results files, renders the report, and says what it wrote.
pub fn execute(args: &ReportArgs) -> anyhow::Result<()> {
    let inputs = if args.files.is_empty() {
        let (inputs, skipped) = crate::report::discover(Path::new("results"))?;
        for s in skipped {
            eprintln!("note: left out {}: {}", s.path.display(), s.reason);
        }
        inputs
    } else {
        crate::report::load_files(&args.files)?
    };
    for warning in crate::report::warnings(&inputs) {
        eprintln!("warning: {warning}");
    }
    let rendered = crate::report::render(&inputs, &args.out)?;
    println!(
        "wrote {}, {} and {} plots (SVG + PNG) in {}",
        rendered.report_md.display(),
        rendered.index_html.display(),
        rendered.plots.len(),
        args.out.join("plots").display()
    );
    for page in crate::report::pages_beside(&args.out) {
        let blocks = crate::report::update_page(&inputs, &page, &args.out)?;
        if blocks > 0 {
            println!("regenerated {blocks} block(s) in {}", page.display());
        }
    }
    Ok(())
}

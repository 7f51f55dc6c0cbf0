//! Flame graphs drawn with inferno: one per variant from its folded stacks, and a
//! differential one of a variant against the baseline (red: more of the samples than in
//! the baseline, blue: fewer; shares are normalised so the two profiles compare).
//!
//! Frames narrower than `MIN_WIDTH_PCT` of the graph are left out, which keeps each SVG
//! small enough to publish (well under 1 MB) without hiding anything a reader could see.

use std::io::BufReader;
use std::path::Path;

/// Frames under this percentage of the width are not drawn.
pub const MIN_WIDTH_PCT: f64 = 0.1;

fn options(title: String, subtitle: String) -> inferno::flamegraph::Options<'static> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title;
    options.subtitle = Some(subtitle);
    options.count_name = "samples".into();
    options.min_width = MIN_WIDTH_PCT;
    options
}

/// Writes the flame graph of `folded` to `path`.
pub fn write(folded: &str, title: String, subtitle: String, path: &Path) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let mut opts = options(title, subtitle);
    inferno::flamegraph::from_lines(&mut opts, folded.lines(), &mut out)
        .map_err(|e| anyhow::anyhow!("cannot draw the flame graph {}: {e}", path.display()))?;
    crate::results::write_atomically(path, &out)?;
    Ok(())
}

/// Writes the differential flame graph of `after` against `before` to `path`.
pub fn write_diff(
    before: &str,
    after: &str,
    title: String,
    subtitle: String,
    path: &Path,
) -> anyhow::Result<()> {
    let mut diff = Vec::new();
    let diff_options = inferno::differential::Options {
        normalize: true,
        ..Default::default()
    };
    inferno::differential::from_readers(
        diff_options,
        BufReader::new(before.as_bytes()),
        BufReader::new(after.as_bytes()),
        &mut diff,
    )
    .map_err(|e| anyhow::anyhow!("cannot diff the profiles for {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&diff);
    write(&text, title, subtitle, path)
}

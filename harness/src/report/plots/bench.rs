//! The criterion comparison: each bench's time relative to the baseline variant, a dot per
//! variant with its interval, on a log axis, benches sorted by the largest ratio.

use super::{
    category_chart, header, legend, legend_rows, log_bounds, log_ticks, DrawResult, Figure, Marker,
    Palette,
};
use crate::report::fmt::tick;
use crate::report::metrics::Estimate;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// One bench: each non-baseline variant's time ratio to the baseline.
#[derive(Debug, Clone)]
pub struct BenchRatioRow {
    pub bench: String,
    pub ratios: Vec<(String, Estimate)>,
}

#[derive(Debug, Clone)]
pub struct BenchRatios {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    /// What one row is and what its bars measure, for the alt text: `("bench", "the time
    /// per iteration")`.
    pub rows_are: (String, String),
    pub baseline: String,
    /// The variants plotted (every one but the baseline), in legend order.
    pub variants: Vec<String>,
    pub rows: Vec<BenchRatioRow>,
    pub palette: Palette,
}

impl Figure for BenchRatios {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: per {} a bar for each of {}, {} as a multiple of {}'s, with its interval ({})",
            self.title,
            self.rows_are.0,
            self.variants.join(", "),
            self.rows_are.1,
            self.baseline,
            self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        let rows = self.rows.len() as u32;
        (
            1000,
            190 + 48 * rows + legend_rows(self.variants.len(), 1000) * 24,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let (w, h) = area.dim_in_pixel();
        let key_h = legend_rows(self.variants.len(), w) * 24 + 20;
        let (area, key) = area.split_vertically(h - key_h);
        let entries: Vec<(String, RGBColor)> = self
            .variants
            .iter()
            .map(|v| (v.clone(), self.palette.color(v)))
            .collect();
        legend(&key, &entries, Marker::Block)?;

        // Largest ratio on top.
        let mut rows = self.rows.clone();
        let worst = |r: &BenchRatioRow| r.ratios.iter().map(|(_, e)| e.value).fold(0.0, f64::max);
        rows.sort_by(|a, b| worst(b).total_cmp(&worst(a)));
        let values = rows.iter().flat_map(|r| &r.ratios).flat_map(|(_, e)| {
            let (lo, hi) = e.ci.unwrap_or((e.value, e.value));
            [lo, hi, e.value]
        });
        let (lo, hi) = log_bounds(values.chain([1.0]), 1.5);
        let names: Vec<String> = rows.iter().map(|r| r.bench.clone()).collect();
        let x = (lo..hi).log_scale().with_key_points(log_ticks(lo, hi));
        let desc = format!(
            "time per iteration relative to {} (log scale; > 1 is slower)",
            self.baseline
        );
        let mut chart = category_chart(&area, &names, x, &desc, &|v| format!("{}×", tick(*v)))?;
        let n = rows.len() as f64;
        let one = DashedPathElement::new(vec![(1.0, -0.6), (1.0, n - 0.4)], 6, 4, BLACK.mix(0.6));
        chart.draw_series([one])?;
        let m = self.variants.len().max(1) as f64;
        for (i, row) in rows.iter().enumerate() {
            for (name, e) in &row.ratios {
                let k = self.variants.iter().position(|v| v == name).unwrap_or(0) as f64;
                // Variants side by side within the row, the first on top.
                let y = n - 1.0 - i as f64 - (k - (m - 1.0) / 2.0) * (0.6 / m);
                let color = self.palette.color(name);
                if let Some((lo, hi)) = e.ci {
                    let bar = PathElement::new(vec![(lo, y), (hi, y)], color.stroke_width(2));
                    chart.draw_series([bar])?;
                }
                chart.draw_series([Circle::new((e.value, y), 5, color.filled())])?;
            }
        }
        Ok(())
    }
}

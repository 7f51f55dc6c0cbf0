//! The "where the CPU goes" plot: per variant, one bar of 100% of its samples stacked by
//! bucket (allocator, locks, memory mapping, memory copy, network, app, other), from a
//! profile file. Bars and axes are drawn by `bars`.

use super::bars::{bar_height, draw_bars, Bar};
use super::{header, legend, DrawResult, Figure, Marker};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One variant: its bucket shares in percent, in `Bucket::ALL` order.
#[derive(Debug, Clone)]
pub struct CpuShareRow {
    pub name: String,
    pub shares_pct: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct CpuShareBars {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    /// The bucket labels, in the rows' order.
    pub buckets: Vec<String>,
    pub rows: Vec<CpuShareRow>,
}

const COLOURS: [RGBColor; 7] = [
    RGBColor(225, 87, 89),
    RGBColor(242, 142, 43),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(78, 121, 167),
    RGBColor(89, 161, 79),
    RGBColor(186, 176, 172),
];

impl Figure for CpuShareBars {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: a stacked bar per variant, the share of its CPU samples in each bucket ({}) ({})",
            self.title,
            self.buckets.join(", "),
            self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        (1000, bar_height(self.rows.len()) + 60)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let (key, area) = area.split_vertically(60);
        let entries: Vec<(String, RGBColor)> = self
            .buckets
            .iter()
            .zip(COLOURS.iter().cycle())
            .map(|(b, &c)| (b.clone(), c))
            .collect();
        legend(&key, &entries, Marker::Block)?;
        let bars: Vec<Bar> = self
            .rows
            .iter()
            .map(|r| {
                let mut end = 0.0;
                let segments = r
                    .shares_pct
                    .iter()
                    .zip(COLOURS.iter().cycle())
                    .map(|(&s, &c)| {
                        end += s;
                        (end, c)
                    })
                    .collect();
                Bar {
                    label: format!(
                        "{:.0}% alloc+locks+mmap",
                        r.shares_pct.iter().take(3).sum::<f64>()
                    ),
                    segments,
                    whisker: None,
                    name: r.name.clone(),
                }
            })
            .collect();
        draw_bars(
            &area,
            &bars,
            0.0..135.0,
            0.0,
            "share of the variant's CPU samples (%)",
        )
    }
}

//! Horizontal bar plots, one bar per variant: sizes (image, peak memory) and the cold-start
//! median with p5–p95 whiskers.
//!
//! Bars are sorted so the smallest is on top; the numbers come from `metrics::VariantRow`.

use super::{
    category_chart, header, linear_top, log_bounds, log_ticks, text, DrawResult, Figure, Palette,
    Ticked, SMALL_PX,
};
use crate::report::fmt::{num as fmt_num, tick};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar per variant with a value in `unit`, on a log or a linear axis.
#[derive(Debug, Clone)]
pub struct SizeBars {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    /// The x axis title, with its unit.
    pub x_desc: String,
    pub unit: &'static str,
    pub log: bool,
    /// `(variant, value)`, any order.
    pub bars: Vec<(String, f64)>,
    pub palette: Palette,
}

/// One row of the cold-start plot, in milliseconds.
#[derive(Debug, Clone)]
pub struct ColdStartRow {
    pub name: String,
    pub median_ms: f64,
    pub p5_ms: f64,
    pub p95_ms: f64,
}

/// Bars: the cold start median; whiskers p5–p95.
#[derive(Debug, Clone)]
pub struct ColdStartBars {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    pub rows: Vec<ColdStartRow>,
}

const COLD: RGBColor = RGBColor(242, 142, 43);

pub(super) fn bar_height(n: usize) -> u32 {
    150 + 46 * n as u32
}

impl Figure for SizeBars {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: a horizontal bar per variant, its length the {} ({})",
            self.title, self.x_desc, self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        (1000, bar_height(self.bars.len()))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let mut bars = self.bars.clone();
        bars.sort_by(|a, b| a.1.total_cmp(&b.1));
        let bars: Vec<Bar> = bars
            .into_iter()
            .map(|(name, value)| Bar {
                label: format!("{} {}", fmt_num(value), self.unit),
                segments: vec![(value, self.palette.color(&name))],
                whisker: None,
                name,
            })
            .collect();
        if self.log {
            let (lo, hi) = log_bounds(bars.iter().map(Bar::end), 2.0);
            let x = (lo..hi * 1.5)
                .log_scale()
                .with_key_points(log_ticks(lo, hi * 1.5));
            draw_bars(&area, &bars, x, lo, &self.x_desc)
        } else {
            let top = linear_top(bars.iter().map(Bar::end), 1.3);
            draw_bars(&area, &bars, 0.0..top, 0.0, &self.x_desc)
        }
    }
}

impl Figure for ColdStartBars {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: a horizontal bar per variant, its length the median cold start in ms, a whisker from p5 to p95 ({})",
            self.title, self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        (1000, bar_height(self.rows.len()))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let mut rows = self.rows.clone();
        rows.sort_by(|a, b| a.median_ms.total_cmp(&b.median_ms));
        let bars: Vec<Bar> = rows
            .into_iter()
            .map(|r| Bar {
                label: format!("{} ms", fmt_num(r.median_ms)),
                segments: vec![(r.median_ms, COLD)],
                whisker: Some((r.p5_ms, r.p95_ms)),
                name: r.name,
            })
            .collect();
        let top = linear_top(bars.iter().map(Bar::end), 1.3);
        let desc = "cold start (ms): median; whiskers p5–p95";
        draw_bars(&area, &bars, 0.0..top, 0.0, desc)
    }
}

/// A bar made of stacked segments `(end, colour)`, each starting where the previous ended.
pub(super) struct Bar {
    pub(super) name: String,
    pub(super) segments: Vec<(f64, RGBColor)>,
    pub(super) whisker: Option<(f64, f64)>,
    pub(super) label: String,
}

impl Bar {
    /// Where the label goes: past the bar and its whisker.
    pub(super) fn end(&self) -> f64 {
        let bar = self.segments.last().map_or(0.0, |s| s.0);
        self.whisker.map_or(bar, |(_, hi)| hi.max(bar))
    }
}

/// A plot of stacked `bars` (top to bottom, in the order given) under a header and a legend
/// of the segments' `entries`, on a linear axis from 0 titled `x_desc`.
pub(super) fn draw_stacked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (title, subtitle): (&str, &str),
    entries: &[(String, RGBColor)],
    bars: &[Bar],
    x_desc: &str,
) -> DrawResult<DB> {
    let area = header(root, title, subtitle)?;
    let (key, area) = area.split_vertically(40);
    super::legend(&key, entries, super::Marker::Block)?;
    let top = linear_top(bars.iter().map(Bar::end), 1.3);
    draw_bars(&area, bars, 0.0..top, 0.0, x_desc)
}

/// Draws `bars` top to bottom on an x axis `x` whose bars start at `x0`.
pub(super) fn draw_bars<DB, X>(
    area: &DrawingArea<DB, Shift>,
    bars: &[Bar],
    x: X,
    x0: f64,
    x_desc: &str,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let names: Vec<String> = bars.iter().map(|b| b.name.clone()).collect();
    let mut chart = category_chart(area, &names, x, x_desc, &|v| tick(*v))?;
    for (rank, bar) in bars.iter().enumerate() {
        draw_bar(&mut chart, bar, (bars.len() - 1 - rank) as f64, x0)?;
    }
    Ok(())
}

/// One bar at `row`: its stacked segments, whisker and value label.
fn draw_bar<DB, X>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Ticked>>,
    bar: &Bar,
    row: f64,
    x0: f64,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
{
    let mut start = x0;
    for &(end, color) in &bar.segments {
        if end > start {
            let rect = [(start, row - 0.32), (end, row + 0.32)];
            chart.draw_series([Rectangle::new(rect, color.filled())])?;
            start = end;
        }
    }
    if let Some((lo, hi)) = bar.whisker {
        let style = BLACK.stroke_width(2);
        let line = |pts: Vec<(f64, f64)>| PathElement::new(pts, style);
        chart.draw_series([
            line(vec![(lo, row), (hi, row)]),
            line(vec![(lo, row - 0.15), (lo, row + 0.15)]),
            line(vec![(hi, row - 0.15), (hi, row + 0.15)]),
        ])?;
    }
    let label_style = text(SMALL_PX).pos(Pos::new(HPos::Left, VPos::Center));
    let label =
        EmptyElement::at((bar.end(), row)) + Text::new(bar.label.clone(), (8, 0), label_style);
    chart.draw_series([label])?;
    Ok(())
}

//! Line plots, a line per variant: throughput, server CPU per request and p99 latency against
//! concurrency (a panel per endpoint), and json-cruncher throughput against threads.
//!
//! Hollow points mark load windows where the load generator, not the app, was the
//! bottleneck; whiskers are the interval of the median where the results carry one.

use super::{
    header, legend, legend_rows, linear_top, log_bounds, log_ticks, text, DrawResult, Drawn,
    Figure, Marker, Palette, Ticked, TEXT_PX,
};
use crate::report::fmt::tick;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One measured point of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub ci: Option<(f64, f64)>,
    /// Drawn hollow: the load generator was probably the bottleneck.
    pub hollow: bool,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
}

/// Which load metric a `LoadLines` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMetric {
    Rps,
    /// Server CPU time per request, µs, on a linear axis from 0.
    CpuUsPerRequest,
    /// p99 latency in milliseconds, on a log axis.
    P99Ms,
}

impl LoadMetric {
    /// The y axis's description.
    pub fn axis(self) -> &'static str {
        match self {
            LoadMetric::Rps => "throughput (requests/s)",
            LoadMetric::CpuUsPerRequest => "server CPU per request (µs)",
            LoadMetric::P99Ms => "p99 latency (ms, log scale)",
        }
    }
}

/// A row of panels (one per endpoint) of a load metric against concurrency.
#[derive(Debug, Clone)]
pub struct LoadLines {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    pub metric: LoadMetric,
    pub panels: Vec<Panel>,
    pub palette: Palette,
}

/// A batch app's throughput (json-cruncher: MB/s) against threads.
#[derive(Debug, Clone)]
pub struct ThreadScaling {
    pub stem: String,
    /// The y axis, e.g. `throughput (MB/s)`.
    pub y_label: String,
    pub title: String,
    pub subtitle: String,
    pub series: Vec<Series>,
    pub palette: Palette,
}

fn names(series: &[Series]) -> Vec<String> {
    series.iter().map(|s| s.name.clone()).collect()
}

/// Draws the legend below the panels and returns the panels' area.
fn with_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[String],
    palette: &Palette,
) -> Drawn<DB, DrawingArea<DB, Shift>> {
    let (w, h) = area.dim_in_pixel();
    let key_h = legend_rows(names.len(), w) * 24 + 20;
    let (plots, key) = area.split_vertically(h - key_h);
    let entries: Vec<(String, RGBColor)> = names
        .iter()
        .map(|n| (n.clone(), palette.color(n)))
        .collect();
    legend(&key, &entries, Marker::Line)?;
    Ok(plots)
}

impl Figure for LoadLines {
    named_by_fields!();
    fn alt(&self) -> String {
        let panels: Vec<&str> = self.panels.iter().map(|p| p.title.as_str()).collect();
        format!(
            "{}: one panel per endpoint ({}), a line per variant, {} against the number of connections (log scale), a whisker per point for the interval of its median ({})",
            self.title,
            panels.join(", "),
            self.metric.axis(),
            self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        let w = 420 * self.panels.len().max(1) as u32 + 40;
        let n = self.panels.first().map_or(0, |p| p.series.len());
        (w, 560 + legend_rows(n, w) * 24)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let all: Vec<String> = self
            .panels
            .first()
            .map(|p| names(&p.series))
            .unwrap_or_default();
        let plots = with_legend(&area, &all, &self.palette)?;
        let cells = plots.split_evenly((1, self.panels.len().max(1)));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            let points = || panel.series.iter().flat_map(|s| &s.points);
            let mut xs: Vec<f64> = points().map(|p| p.x).collect();
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            let (xlo, xhi) = log_bounds(xs.iter().copied(), 1.6);
            let x = (xlo..xhi).log_scale().with_key_points(xs);
            let x_desc = "concurrency (connections, log scale)";
            match self.metric {
                LoadMetric::Rps | LoadMetric::CpuUsPerRequest => {
                    let y =
                        0.0..linear_top(points().map(|p| p.ci.map_or(p.y, |c| c.1.max(p.y))), 1.12);
                    let y_desc = self.metric.axis();
                    draw_panel(cell, panel, x, y, (x_desc, y_desc), &self.palette, true)?
                }
                LoadMetric::P99Ms => {
                    let (lo, hi) = log_bounds(points().map(|p| p.y), 1.6);
                    let y = (lo..hi).log_scale().with_key_points(log_ticks(lo, hi));
                    let y_desc = self.metric.axis();
                    draw_panel(cell, panel, x, y, (x_desc, y_desc), &self.palette, true)?
                }
            }
        }
        Ok(())
    }
}

impl Figure for ThreadScaling {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: a line per variant, {} against the number of threads ({})",
            self.title, self.y_label, self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        (1000, 620 + legend_rows(self.series.len(), 1000) * 24)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let plots = with_legend(&area, &names(&self.series), &self.palette)?;
        let points = || self.series.iter().flat_map(|s| &s.points);
        let mut xs: Vec<f64> = points().map(|p| p.x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let x = Ticked::new(xs[0] - 0.5..xs[xs.len() - 1] + 0.5, xs);
        let top = linear_top(points().map(|p| p.ci.map_or(p.y, |c| c.1.max(p.y))), 1.12);
        let panel = Panel {
            title: String::new(),
            series: self.series.clone(),
        };
        let desc = ("threads", self.y_label.as_str());
        draw_panel(&plots, &panel, x, 0.0..top, desc, &self.palette, false)
    }
}

/// One panel: axes, a line per series, points, and CI whiskers.
fn draw_panel<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    x: X,
    y: Y,
    (x_desc, y_desc): (&str, &str),
    palette: &Palette,
    log_x: bool,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .margin_right(24)
        .x_label_area_size(55)
        .y_label_area_size(80);
    if !panel.title.is_empty() {
        builder.caption(&panel.title, text(17.0));
    }
    let mut chart = builder.build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(text(TEXT_PX))
        .axis_desc_style(text(TEXT_PX))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    for (i, series) in panel.series.iter().enumerate() {
        draw_series(&mut chart, series, (i, panel.series.len()), palette, log_x)?;
    }
    Ok(())
}

/// One series: its line, whiskers and points. Series sharing an x are nudged apart (a few
/// percent of x, which reads the same on a log axis; a fixed share of one step on a linear
/// one), so their whiskers do not hide each other.
fn draw_series<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    series: &Series,
    (i, n): (usize, usize),
    palette: &Palette,
    log_x: bool,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let color = palette.color(&series.name);
    let share = 0.035 * (i as f64 - (n as f64 - 1.0) / 2.0);
    let dodge = |x: f64| if log_x { x * (1.0 + share) } else { x + share };
    let line = series.points.iter().map(|p| (dodge(p.x), p.y));
    chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
    for p in &series.points {
        let x = dodge(p.x);
        if let Some((lo, hi)) = p.ci {
            let whisker = PathElement::new(vec![(x, lo), (x, hi)], color.stroke_width(2));
            chart.draw_series([whisker])?;
        }
        let style = if p.hollow {
            color.stroke_width(2)
        } else {
            color.filled()
        };
        chart.draw_series([Circle::new((x, p.y), 5, style)])?;
    }
    Ok(())
}

//! The history of an experiment: each headline figure (a panel each) against the runs in
//! the order they were measured, a line per variant with its interval as a whisker, and a
//! ring where the regression gate calls the change from the run before beyond noise (black:
//! worse, grey: better).

use super::{
    header, legend, legend_rows, linear_top, text, DrawResult, Figure, Marker, Palette, Ticked,
    TEXT_PX,
};
use crate::report::fmt::tick;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How the gate called a point's change from the run before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Within noise, untested, or the first run.
    None,
    Worse,
    Better,
}

/// One run's figure of one variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryPoint {
    /// The run's index on the x axis.
    pub run: usize,
    pub y: f64,
    pub ci: Option<(f64, f64)>,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub struct HistorySeries {
    pub name: String,
    pub points: Vec<HistoryPoint>,
}

/// One headline figure.
#[derive(Debug, Clone)]
pub struct HistoryPanel {
    pub title: String,
    pub y_label: String,
    pub series: Vec<HistorySeries>,
}

/// Every headline figure of one experiment against its runs.
#[derive(Debug, Clone)]
pub struct History {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    /// One label per run (`0e8978e 12-06`), in order.
    pub runs: Vec<String>,
    pub panels: Vec<HistoryPanel>,
    pub palette: Palette,
}

/// Rings in colours no variant has (the palette is Tableau 10).
const WORSE: RGBColor = RGBColor(0, 0, 0);
const BETTER: RGBColor = RGBColor(150, 150, 150);

impl Figure for History {
    named_by_fields!();
    fn alt(&self) -> String {
        let panels: Vec<&str> = self.panels.iter().map(|p| p.title.as_str()).collect();
        format!(
            "{}: one panel per headline figure ({}), a line per variant of that figure against the runs in the order measured ({}), a whisker per point for the interval of its median, a black ring where the figure got worse beyond noise since the run before and a grey ring where it got better",
            self.title,
            panels.join("; "),
            self.runs.join(", ")
        )
    }
    fn size(&self) -> (u32, u32) {
        let w = 520 * self.panels.len().max(1) as u32 + 40;
        let n = self.panels.first().map_or(0, |p| p.series.len());
        (w, 560 + legend_rows(n + 2, w) * 24)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let names: Vec<String> = self
            .panels
            .first()
            .map(|p| p.series.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default();
        let (w, h) = area.dim_in_pixel();
        let key_h = legend_rows(names.len() + 2, w) * 24 + 20;
        let (plots, key) = area.split_vertically(h - key_h);
        let mut entries: Vec<(String, RGBColor)> = names
            .iter()
            .map(|n| (n.clone(), self.palette.color(n)))
            .collect();
        entries.push((
            "black ring: worse beyond noise since the run before".into(),
            WORSE,
        ));
        entries.push(("grey ring: better beyond noise".into(), BETTER));
        legend(&key, &entries, Marker::Line)?;
        let cells = plots.split_evenly((1, self.panels.len().max(1)));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            self.draw_panel(cell, panel)?;
        }
        Ok(())
    }
}

impl History {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &HistoryPanel,
    ) -> DrawResult<DB> {
        let n = self.runs.len().max(1);
        let x = Ticked::new(-0.5..n as f64 - 0.5, (0..n).map(|i| i as f64).collect());
        let points = || panel.series.iter().flat_map(|s| &s.points);
        let top = linear_top(points().map(|p| p.ci.map_or(p.y, |c| c.1.max(p.y))), 1.15);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .margin_right(24)
            .caption(&panel.title, text(17.0))
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x, 0.0..top)?;
        let label = |v: &f64| {
            let i = v.round();
            match i >= 0.0 && (i - v).abs() < 1e-6 {
                true => self.runs.get(i as usize).cloned().unwrap_or_default(),
                false => String::new(),
            }
        };
        chart
            .configure_mesh()
            .x_desc("run (commit, day measured)")
            .y_desc(panel.y_label.as_str())
            .x_label_formatter(&label)
            .y_label_formatter(&|v| tick(*v))
            .label_style(text(TEXT_PX))
            .axis_desc_style(text(TEXT_PX))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;
        let k = panel.series.len();
        for (i, series) in panel.series.iter().enumerate() {
            let color = self.palette.color(&series.name);
            let dodge = 0.06 * (i as f64 - (k as f64 - 1.0) / 2.0);
            let at = |p: &HistoryPoint| p.run as f64 + dodge;
            let line = series.points.iter().map(|p| (at(p), p.y));
            chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
            for p in &series.points {
                if let Some((lo, hi)) = p.ci {
                    let whisker =
                        PathElement::new(vec![(at(p), lo), (at(p), hi)], color.stroke_width(2));
                    chart.draw_series([whisker])?;
                }
                chart.draw_series([Circle::new((at(p), p.y), 5, color.filled())])?;
                let ring = match p.change {
                    Change::Worse => Some(WORSE),
                    Change::Better => Some(BETTER),
                    Change::None => None,
                };
                if let Some(ring) = ring {
                    chart.draw_series([Circle::new((at(p), p.y), 10, ring.stroke_width(3))])?;
                }
            }
        }
        Ok(())
    }
}

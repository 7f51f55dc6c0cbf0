//! The tradeoff scatter: image size (log) against a figure of the allocation-heavy workload
//! (server CPU per request, or throughput) with its interval as a whisker, colour for cold
//! start, and the frontier of variants nothing beats on both axes beyond noise.
//!
//! Labels are placed greedily around their points so they overlap neither each other, the
//! points, nor the baseline line; which variants form the frontier is decided in `metrics`.

use super::{
    header, linear_top, log_bounds, log_ticks, text, DrawResult, Figure, SMALL_PX, TEXT_PX,
};
use crate::report::estimate::Better;
use crate::report::fmt::{num as fmt_num, tick};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

#[derive(Debug, Clone)]
pub struct TradeoffPoint {
    pub name: String,
    pub image_mb: f64,
    /// The figure, relative to the baseline when `Tradeoff::relative`.
    pub y: f64,
    /// Its interval, when it has one.
    pub ci: Option<(f64, f64)>,
    pub cold_start_ms: Option<f64>,
    pub frontier: bool,
}

#[derive(Debug, Clone)]
pub struct Tradeoff {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    pub y_desc: String,
    /// Draw the baseline's y = 1 line.
    pub relative: bool,
    /// Which way the figure is better, said in the key.
    pub better: Better,
    pub points: Vec<TradeoffPoint>,
}

const FRONTIER: RGBColor = RGBColor(70, 70, 70);
const RADIUS: i32 = 9;
/// Viridis, reversed: a short cold start is light, a long one dark.
const RAMP: [(u8, u8, u8); 5] = [
    (253, 231, 37),
    (94, 201, 98),
    (33, 145, 140),
    (59, 82, 139),
    (68, 1, 84),
];

/// A label's box in backend pixels: left, top, right, bottom.
type Box2 = (i32, i32, i32, i32);

/// The colour at `share` (0..=1) along the ramp.
fn ramp(share: f64) -> RGBColor {
    let x = share.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64;
    let i = (x.floor() as usize).min(RAMP.len() - 2);
    let t = x - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    let (a, b) = (RAMP[i], RAMP[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Tradeoff {
    fn cold_range(&self) -> Option<(f64, f64)> {
        let cold = self.points.iter().filter_map(|p| p.cold_start_ms);
        let (lo, hi) = cold.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), c| {
            (l.min(c), h.max(c))
        });
        (lo <= hi).then_some((lo, hi))
    }

    fn color(&self, p: &TradeoffPoint) -> RGBColor {
        match (p.cold_start_ms, self.cold_range()) {
            (Some(c), Some((lo, hi))) if hi > lo => ramp((c - lo) / (hi - lo)),
            (Some(_), Some(_)) => ramp(0.5),
            _ => RGBColor(200, 200, 200),
        }
    }

    fn label(p: &TradeoffPoint) -> String {
        match p.cold_start_ms {
            Some(c) => format!("{} · {} ms", p.name, fmt_num(c)),
            None => p.name.clone(),
        }
    }

    /// The key under the chart: the colour bar and how to read the frontier.
    fn draw_key<DB: DrawingBackend>(&self, note: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let style = text(SMALL_PX);
        let mut x = 20;
        if let Some((lo, hi)) = self.cold_range() {
            let lead = "cold start median:";
            note.draw_text(lead, &style, (x, 8))?;
            x += note.estimate_text_size(lead, &style)?.0 as i32 + 8;
            let low = format!("{} ms", fmt_num(lo));
            note.draw_text(&low, &style, (x, 8))?;
            x += note.estimate_text_size(&low, &style)?.0 as i32 + 6;
            for i in 0..120 {
                let c = ramp(f64::from(i) / 119.0);
                note.draw(&Rectangle::new([(x + i, 6), (x + i + 1, 22)], c.filled()))?;
            }
            x += 126;
            note.draw_text(&format!("{} ms", fmt_num(hi)), &style, (x, 8))?;
            x += 90;
        }
        let key = match self.better {
            Better::Higher => "ringed points on the grey line: the frontier (no other variant is both smaller and higher beyond noise)",
            Better::Lower => "ringed points on the grey line: the frontier (no other variant is both smaller and lower beyond noise)",
        };
        note.draw_text(key, &style, (x, 8))
    }
}

impl Figure for Tradeoff {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: a point per variant, {} against image size in MB (log scale), the variants on the frontier marked ({})",
            self.title, self.y_desc, self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        (1100, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = header(root, &self.title, &self.subtitle)?;
        let (area, note) = area.split_vertically(area.dim_in_pixel().1 - 34);
        self.draw_key(&note)?;
        let (xlo, xhi) = log_bounds(self.points.iter().map(|p| p.image_mb), 2.5);
        let highs = self
            .points
            .iter()
            .map(|p| p.ci.map_or(p.y, |c| c.1.max(p.y)));
        let ytop = linear_top(highs.chain([1.0]), 1.2);
        let x = (xlo..xhi).log_scale().with_key_points(log_ticks(xlo, xhi));
        let mut chart = ChartBuilder::on(&area)
            .margin(15)
            .margin_right(30)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x, 0.0..ytop)?;
        chart
            .configure_mesh()
            .x_desc("image size (MB, log scale)")
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(text(TEXT_PX))
            .axis_desc_style(text(TEXT_PX))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;
        if self.relative {
            let base = DashedPathElement::new(vec![(xlo, 1.0), (xhi, 1.0)], 6, 4, BLACK.mix(0.5));
            chart.draw_series([base])?;
        }
        let mut front: Vec<&TradeoffPoint> = self.points.iter().filter(|p| p.frontier).collect();
        front.sort_by(|a, b| a.image_mb.total_cmp(&b.image_mb));
        let line = front.iter().map(|p| (p.image_mb, p.y));
        chart.draw_series(LineSeries::new(line, FRONTIER.mix(0.6).stroke_width(3)))?;
        for p in &self.points {
            if let Some((lo, hi)) = p.ci {
                let whisker = PathElement::new(
                    vec![(p.image_mb, lo), (p.image_mb, hi)],
                    FRONTIER.stroke_width(2),
                );
                chart.draw_series([whisker])?;
            }
        }
        for p in &self.points {
            let at = (p.image_mb, p.y);
            chart.draw_series([Circle::new(at, RADIUS, self.color(p).filled())])?;
            chart.draw_series([Circle::new(at, RADIUS, FRONTIER.stroke_width(1))])?;
            if p.frontier {
                chart.draw_series([Circle::new(at, RADIUS + 4, FRONTIER.stroke_width(2))])?;
            }
        }
        self.draw_labels(&area, &chart, (xlo, xhi))
    }
}

impl Tradeoff {
    fn draw_labels<DB: DrawingBackend, CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
        &self,
        area: &DrawingArea<DB, Shift>,
        chart: &ChartContext<'_, DB, CT>,
        (xlo, xhi): (f64, f64),
    ) -> DrawResult<DB> {
        let plot = chart.plotting_area();
        let (xr, yr) = plot.get_pixel_range();
        let bounds = (xr.start, yr.start, xr.end, yr.end);
        let style = text(SMALL_PX);
        // Points and the baseline line are obstacles, so no label covers them.
        let mut taken: Vec<Box2> = self
            .points
            .iter()
            .map(|p| {
                let (x, y) = plot.map_coordinate(&(p.image_mb, p.y));
                let r = RADIUS + 6;
                (x - r, y - r, x + r, y + r)
            })
            .collect();
        if self.relative {
            let (x0, y) = plot.map_coordinate(&(xlo, 1.0));
            let (x1, _) = plot.map_coordinate(&(xhi, 1.0));
            taken.push((x0, y - 1, x1, y + 1));
        }
        for p in &self.points {
            let label = Self::label(p);
            let (w, h) = area.estimate_text_size(&label, &style)?;
            let centre = plot.map_coordinate(&(p.image_mb, p.y));
            let spot = place(centre, (w as i32, h as i32), RADIUS + 9, bounds, &taken);
            taken.push(spot);
            let (ax, ay) = area.get_base_pixel();
            area.draw_text(&label, &style, (spot.0 - ax, spot.1 - ay))?;
        }
        Ok(())
    }
}

/// The first candidate spot around `centre` that stays in `bounds` and clears `taken`, or
/// failing that, the one that overlaps least.
fn place(centre: (i32, i32), (w, h): (i32, i32), r: i32, bounds: Box2, taken: &[Box2]) -> Box2 {
    let (cx, cy) = centre;
    let mut candidates = Vec::new();
    for step in 0..6 {
        let dy = step * (h + 4);
        candidates.extend([
            (cx + r, cy - h / 2 - dy),
            (cx + r, cy - h / 2 + dy),
            (cx - r - w, cy - h / 2 - dy),
            (cx - r - w, cy - h / 2 + dy),
            (cx - w / 2, cy - r - h - dy),
            (cx - w / 2, cy + r + dy),
        ]);
    }
    let boxes = candidates.into_iter().map(|(x, y)| (x, y, x + w, y + h));
    let inside =
        |b: &Box2| b.0 >= bounds.0 && b.1 >= bounds.1 && b.2 <= bounds.2 && b.3 <= bounds.3;
    let cost = |b: &Box2| -> i64 {
        let overlap: i64 = taken.iter().map(|t| overlap(b, t)).sum();
        overlap + if inside(b) { 0 } else { 1_000_000 }
    };
    boxes.min_by_key(cost).expect("candidates are never empty")
}

fn overlap(a: &Box2, b: &Box2) -> i64 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0) as i64;
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0) as i64;
    w * h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_avoid_each_other_and_stay_inside() {
        let bounds = (0, 0, 500, 500);
        let a = place((250, 250), (100, 14), 8, bounds, &[]);
        let b = place((252, 250), (100, 14), 8, bounds, &[a]);
        assert_eq!(overlap(&a, &b), 0);
        let edge = place((495, 250), (100, 14), 8, bounds, &[]);
        assert!(edge.2 <= 500, "{edge:?} leaves the plot");
    }

    #[test]
    fn ramp_runs_light_to_dark() {
        assert_eq!(ramp(0.0), RGBColor(253, 231, 37));
        assert_eq!(ramp(1.0), RGBColor(68, 1, 84));
        assert_eq!(ramp(0.5), RGBColor(33, 145, 140));
    }
}

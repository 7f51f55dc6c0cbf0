//! Drawing the report's plots, each as SVG and as PNG, with the embedded DejaVu Sans font.
//!
//! Owns the shared machinery: the `Figure` trait every plot implements, writing both formats,
//! the variant palette, titles, legends and tick helpers. The plots themselves live in
//! `bars`, `fresh_node`, `lines`, `tradeoff` and `bench`; the numbers they show come from `metrics`.

/// A `Figure`'s `stem` and `title`, read from the figure's own `stem` and `title` fields.
macro_rules! named_by_fields {
    () => {
        fn stem(&self) -> String {
            self.stem.clone()
        }
        fn title(&self) -> String {
            self.title.clone()
        }
    };
}

mod bars;
mod bench;
mod cpu_shares;
mod fresh_node;
mod history;
mod lines;
mod runtimes;
mod tradeoff;

pub use bars::{ColdStartBars, ColdStartRow, SizeBars};
pub use bench::{BenchRatioRow, BenchRatios};
pub use cpu_shares::{CpuShareBars, CpuShareRow};
pub use fresh_node::{FreshNodeBars, FreshNodeRow};
pub use history::{Change, History, HistoryPanel, HistoryPoint, HistorySeries};
pub use lines::{LoadLines, LoadMetric, Panel, Point, Series, ThreadScaling};
pub use runtimes::{RuntimeBars, RuntimeRow};
pub use tradeoff::{Tradeoff, TradeoffPoint};

use anyhow::anyhow;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The font every PNG's text is drawn with; SVGs name it and fall back to sans-serif.
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// DejaVu Sans first, so SVG viewers that have it lay text out as the PNGs do.
pub const FONT: &str = "DejaVu Sans, sans-serif";
pub const TITLE_PX: f64 = 22.0;
pub const TEXT_PX: f64 = 15.0;
pub const SMALL_PX: f64 = 13.0;

/// A drawing step's result on backend `DB`.
pub type DrawResult<DB> = Drawn<DB, ()>;

/// A drawing step's result on backend `DB` that yields a `T`.
pub type Drawn<DB, T> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// One plot: what it is called, how big it is, and how to draw it on any backend.
pub trait Figure {
    /// File name without extension, e.g. `http-image-size`.
    fn stem(&self) -> String;
    /// The plot's title.
    fn title(&self) -> String;
    /// The image's alt text: what it plots (its kind, axes and what one mark is), for a
    /// reader who cannot see it.
    fn alt(&self) -> String;
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// A plot as written: both files.
#[derive(Debug, Clone)]
pub struct PlotFile {
    pub title: String,
    pub alt: String,
    pub stem: String,
    pub svg: PathBuf,
    pub png: PathBuf,
}

/// Writes `figure` as `dir/STEM.svg` and `dir/STEM.png`.
pub fn write_figure(figure: &impl Figure, dir: &Path) -> anyhow::Result<PlotFile> {
    register_font();
    let stem = figure.stem();
    let size = figure.size();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        let fail = |e: &dyn std::fmt::Display| anyhow!("{}: drawing failed: {e}", svg.display());
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        figure.draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    crate::results::write_atomically(&svg, text.as_bytes())?;
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        let fail = |e: &dyn std::fmt::Display| anyhow!("{}: drawing failed: {e}", png.display());
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        figure.draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(PlotFile {
        title: figure.title(),
        alt: figure.alt(),
        stem,
        svg,
        png,
    })
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_err() {
            unreachable!("the embedded DejaVu Sans is a valid font");
        }
    });
}

/// Colours for variants, stable across every plot of a report (Tableau 10).
#[derive(Debug, Clone)]
pub struct Palette {
    names: Vec<String>,
}

const TABLEAU: [(u8, u8, u8); 10] = [
    (78, 121, 167),
    (242, 142, 43),
    (225, 87, 89),
    (118, 183, 178),
    (89, 161, 79),
    (237, 201, 72),
    (176, 122, 161),
    (255, 157, 167),
    (156, 117, 95),
    (186, 176, 172),
];

impl Palette {
    /// Colours are handed out in the order names are first seen.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
        Self { names: out }
    }

    pub fn color(&self, name: &str) -> RGBColor {
        let i = self.names.iter().position(|n| n == name).unwrap_or(0);
        let (r, g, b) = TABLEAU[i % TABLEAU.len()];
        RGBColor(r, g, b)
    }
}

pub fn text(px: f64) -> TextStyle<'static> {
    (FONT, px).into_font().color(&BLACK)
}

/// Draws a title and a smaller subtitle line, and returns the area below them.
pub fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Drawn<DB, DrawingArea<DB, Shift>> {
    let height = if subtitle.is_empty() { 40 } else { 62 };
    let (top, rest) = root.split_vertically(height);
    let (w, _) = top.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Top);
    top.draw_text(title, &text(TITLE_PX).pos(centre), (w as i32 / 2, 10))?;
    if !subtitle.is_empty() {
        let style = text(SMALL_PX).color(&RGBColor(80, 80, 80)).pos(centre);
        top.draw_text(subtitle, &style, (w as i32 / 2, 38))?;
    }
    Ok(rest)
}

/// How a legend entry is marked.
#[derive(Debug, Clone, Copy)]
pub enum Marker {
    Line,
    Block,
}

/// Draws legend entries in as many columns as fit, starting at the area's top-left.
pub fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor)],
    marker: Marker,
) -> DrawResult<DB> {
    let style = text(TEXT_PX);
    let widest = entries
        .iter()
        .map(|(name, _)| area.estimate_text_size(name, &style).map(|(w, _)| w))
        .try_fold(0u32, |acc, w| w.map(|w| acc.max(w)))?;
    let column = widest as i32 + 50;
    let (width, _) = area.dim_in_pixel();
    let columns = ((width as i32 - 20) / column).max(1) as usize;
    for (i, (name, color)) in entries.iter().enumerate() {
        let x = 20 + (i % columns) as i32 * column;
        let y = 10 + (i / columns) as i32 * 24;
        match marker {
            Marker::Line => area.draw(&PathElement::new(
                vec![(x, y + 8), (x + 28, y + 8)],
                color.stroke_width(3),
            ))?,
            Marker::Block => {
                area.draw(&Rectangle::new([(x, y), (x + 28, y + 16)], color.filled()))?
            }
        }
        area.draw_text(name, &style, (x + 36, y))?;
    }
    Ok(())
}

/// Rows a legend of `n` entries needs at `width` pixels (used to size the figure).
pub fn legend_rows(n: usize, width: u32) -> u32 {
    // Widest variant name (`glibc-static-jemalloc-scratch`) is about 230 px at TEXT_PX.
    let columns = ((width.saturating_sub(20)) / 280).max(1) as usize;
    n.div_ceil(columns) as u32
}

/// A linear axis whose ticks are exactly the given values (categories, thread counts).
#[derive(Debug, Clone)]
pub struct Ticked {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ticked {
    pub fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        Self { range, ticks }
    }

    /// `n` categories at 0..n, with room for a bar's thickness on either side.
    pub fn categories(n: usize) -> Self {
        Self::new(-0.6..n as f64 - 0.4, (0..n).map(|i| i as f64).collect())
    }
}

impl Ranged for Ticked {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = (value - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// A chart with `names` as categories on y (the first on top) and `x` on x, mesh drawn.
/// Category `i` of `n` sits at y = `n - 1 - i`.
pub fn category_chart<'a, DB, X>(
    area: &'a DrawingArea<DB, Shift>,
    names: &[String],
    x: X,
    x_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
) -> Drawn<DB, ChartContext<'a, DB, Cartesian2d<X::CoordDescType, Ticked>>>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let n = names.len();
    let label_w = widest(area, names.iter().cloned(), TEXT_PX)?;
    let mut chart = ChartBuilder::on(area)
        .margin(15)
        .margin_right(30)
        .x_label_area_size(55)
        .y_label_area_size(label_w + 20)
        .build_cartesian_2d(x, Ticked::categories(n))?;
    let row_name = |y: &f64| {
        let i = y.round() as usize;
        names
            .get(n.wrapping_sub(1 + i))
            .cloned()
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .x_label_formatter(x_fmt)
        .y_label_formatter(&row_name)
        .label_style(text(TEXT_PX))
        .axis_desc_style(text(TEXT_PX))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    Ok(chart)
}

/// A log axis's range: the positive, finite values' span widened by `pad` each way; a
/// decade either side of 1 when there are none, so a degenerate file still draws.
pub fn log_bounds(values: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    if hi > 0.0 {
        (lo / pad, hi * pad)
    } else {
        (0.1, 10.0)
    }
}

/// A linear axis's top: the largest finite value times `pad`, or 1 when nothing is positive.
pub fn linear_top(values: impl IntoIterator<Item = f64>, pad: f64) -> f64 {
    let max = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if max > 0.0 {
        max * pad
    } else {
        1.0
    }
}

/// Tick values for a log axis over `lo..hi`: 1-2-5 per decade, finer when that gives too
/// few, thinned to decades when it gives too many.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    // Mantissas in tenths, so each tick is one exact integer division: 0.7, not 0.70000001.
    let series = |tenths: &[u32]| {
        let mut ticks = Vec::new();
        let mut exp = lo.log10().floor() as i32 - 1;
        while 10f64.powi(exp) <= hi {
            for &k in tenths {
                let t = if exp >= 1 {
                    f64::from(k) * 10f64.powi(exp - 1)
                } else {
                    f64::from(k) / 10f64.powi(1 - exp)
                };
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
            exp += 1;
        }
        ticks
    };
    let mut ticks = series(&[10, 20, 50]);
    if ticks.len() < 4 {
        ticks = series(&[10, 15, 20, 30, 50, 70]);
    }
    if ticks.len() > 8 {
        ticks.retain(|t| {
            let m = t / 10f64.powf(t.log10().floor());
            (m - 1.0).abs() < 1e-9
        });
    }
    ticks
}

/// Widest rendered width of `labels` in pixels.
pub fn widest<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: impl IntoIterator<Item = String>,
    px: f64,
) -> Drawn<DB, u32> {
    let style = text(px);
    let mut max = 0;
    for label in labels {
        max = max.max(area.estimate_text_size(&label, &style)?.0);
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_follow_1_2_5() {
        assert_eq!(log_ticks(0.8, 60.0), vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        let wide = log_ticks(0.01, 5000.0);
        assert!(wide.len() <= 8 && wide.contains(&1.0) && wide.contains(&1000.0));
        assert_eq!(log_ticks(0.5, 3.0), vec![0.5, 0.7, 1.0, 1.5, 2.0, 3.0]);
        assert!(log_ticks(0.0, 3.0).is_empty() && log_ticks(2.0, f64::INFINITY).is_empty());
    }

    #[test]
    fn axis_bounds_survive_degenerate_values() {
        assert_eq!(log_bounds([0.0, f64::NAN], 2.0), (0.1, 10.0));
        assert_eq!(log_bounds([0.0, 2.0, 8.0], 2.0), (1.0, 16.0));
        assert_eq!(linear_top([0.0], 1.1), 1.0);
        assert_eq!(linear_top([f64::INFINITY, 5.0], 2.0), 10.0);
    }

    #[test]
    fn palette_is_stable_by_first_sight() {
        let p = Palette::new(["a", "b", "a", "c"]);
        assert_eq!(p.color("a"), RGBColor(78, 121, 167));
        assert_eq!(p.color("c"), RGBColor(225, 87, 89));
    }
}

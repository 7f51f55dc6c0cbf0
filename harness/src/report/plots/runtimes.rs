//! The cold start by OCI runtime and engine: one bar per variant and setup (engine · runtime),
//! in the order given (grouped by variant), stacked as the engine's create call, its start
//! call (the OCI runtime's work) and the rest until the first response (the process's own
//! start-up), medians; whiskers: the interval of the median cold start. Bars and axes are
//! drawn by `bars`.

use super::bars::{bar_height, draw_stacked, Bar};
use super::{DrawResult, Figure};
use crate::report::fmt::num as fmt_num;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One bar, in milliseconds (medians over the setup's cold starts).
#[derive(Debug, Clone)]
pub struct RuntimeRow {
    /// `musl-system-scratch · Docker 20.10 · crun`.
    pub name: String,
    pub create_ms: Option<f64>,
    pub start_ms: Option<f64>,
    pub cold_start_ms: f64,
    /// The interval of the median cold start.
    pub ci_ms: (f64, f64),
}

#[derive(Debug, Clone)]
pub struct RuntimeBars {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    pub rows: Vec<RuntimeRow>,
}

const CREATE: RGBColor = RGBColor(78, 121, 167);
const START: RGBColor = RGBColor(118, 183, 178);
const REST: RGBColor = RGBColor(242, 142, 43);

impl RuntimeRow {
    /// The stacked segments: create, start, and the rest up to the median cold start (the
    /// parts' medians need not add up to the total's: a part past it is cut there).
    fn bar(&self) -> Bar {
        let total = self.cold_start_ms;
        let create = self.create_ms.unwrap_or(0.0).min(total);
        let start = (create + self.start_ms.unwrap_or(0.0)).min(total);
        Bar {
            label: format!("{} ms", fmt_num(total)),
            segments: vec![(create, CREATE), (start, START), (total, REST)],
            whisker: Some(self.ci_ms),
            name: self.name.clone(),
        }
    }
}

impl Figure for RuntimeBars {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: a stacked horizontal bar per variant and engine and OCI runtime, the median cold start in ms split into the engine's create call, its start call and the rest until the first response, a whisker over the interval of the median ({})",
            self.title, self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        (1000, bar_height(self.rows.len()) + 40)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let entries = [
            ("create call".to_string(), CREATE),
            ("start call (OCI runtime)".to_string(), START),
            ("process start-up → first response".to_string(), REST),
        ];
        // In the order given, top to bottom: grouped by variant.
        let bars: Vec<Bar> = self.rows.iter().map(RuntimeRow::bar).collect();
        let desc = "cold start (ms): medians; whiskers: the interval of the median";
        draw_stacked(root, (&self.title, &self.subtitle), &entries, &bars, desc)
    }
}

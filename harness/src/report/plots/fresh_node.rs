//! The fresh-node plot: per variant, time to first response on a node that has never seen
//! the image, as stacked bars of download, unpack and start (medians), with whiskers p5–p95
//! of the total. Bars and axes are drawn by `bars`.

use super::bars::{bar_height, draw_stacked, Bar};
use super::{DrawResult, Figure};
use crate::report::fmt::num as fmt_num;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One variant's bar, in milliseconds (medians; `p5_ms`/`p95_ms` of the total).
#[derive(Debug, Clone)]
pub struct FreshNodeRow {
    pub name: String,
    pub download_ms: f64,
    pub unpack_ms: f64,
    pub start_ms: f64,
    pub first_response_ms: f64,
    pub p5_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone)]
pub struct FreshNodeBars {
    pub stem: String,
    pub title: String,
    pub subtitle: String,
    pub rows: Vec<FreshNodeRow>,
}

const DOWNLOAD: RGBColor = RGBColor(78, 121, 167);
const UNPACK: RGBColor = RGBColor(118, 183, 178);
const START: RGBColor = RGBColor(242, 142, 43);

impl Figure for FreshNodeBars {
    named_by_fields!();
    fn alt(&self) -> String {
        format!(
            "{}: a stacked horizontal bar per variant, the time to first response in ms split into download, unpack, start and first response, a whisker from p5 to p95 ({})",
            self.title, self.subtitle
        )
    }
    fn size(&self) -> (u32, u32) {
        (1000, bar_height(self.rows.len()) + 40)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let entries = [
            ("pull: download".to_string(), DOWNLOAD),
            ("pull: unpack".to_string(), UNPACK),
            ("start (create → first response)".to_string(), START),
        ];
        let mut rows = self.rows.clone();
        rows.sort_by(|a, b| a.first_response_ms.total_cmp(&b.first_response_ms));
        let bars: Vec<Bar> = rows
            .into_iter()
            .map(|r| {
                let download = r.download_ms;
                let unpack = download + r.unpack_ms;
                Bar {
                    label: format!("{} ms", fmt_num(r.first_response_ms)),
                    segments: vec![
                        (download, DOWNLOAD),
                        (unpack, UNPACK),
                        (unpack + r.start_ms, START),
                    ],
                    whisker: Some((r.p5_ms, r.p95_ms)),
                    name: r.name,
                }
            })
            .collect();
        let desc =
            "time to first response on a fresh node (ms): medians; whiskers p5–p95 of the total";
        draw_stacked(root, (&self.title, &self.subtitle), &entries, &bars, desc)
    }
}

//! JSON: the results type itself, pretty-printed, as `harness/schema/` publishes it.

use super::format::Exporter;
use serde::Serialize;

/// The JSON format.
pub struct Json;

impl<T: Serialize> Exporter<T> for Json {
    const EXTENSION: &'static str = "json";

    fn render(results: &T) -> String {
        serde_json::to_string_pretty(results).expect("results always serialize")
    }
}

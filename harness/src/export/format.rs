//! The `Exporter` trait every format implements.

/// One export format of a results type.
pub trait Exporter<T> {
    /// The file extension, without the dot.
    const EXTENSION: &'static str;
    /// The whole file.
    fn render(results: &T) -> String;
}

//! Heading anchors as GitHub names them, so a link written into REPORT.md or a README lands
//! on its heading there, and index.html gives its headings the same ids.
//!
//! GitHub's rule (github-slugger): the heading's text as rendered (code spans without their
//! backticks, emphasis without its stars), lowercased, every character that is not a letter,
//! a digit, a space, `-` or `_` dropped, each space turned into `-`; a slug already used in
//! the file gets `-1`, `-2`… Used by the report and by the link check of the docs.

use std::collections::HashSet;

/// The slug of one heading's text, before de-duplication.
pub fn slug(heading: &str) -> String {
    plain(heading)
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// A heading's text as rendered: without the Markdown of code spans and emphasis.
fn plain(heading: &str) -> String {
    heading.replace('`', "").replace("**", "")
}

/// The anchors of one file's headings, in order, each unique.
#[derive(Debug, Default)]
pub struct Anchors {
    used: HashSet<String>,
}

impl Anchors {
    /// The anchor of the next heading of the file.
    pub fn next(&mut self, heading: &str) -> String {
        let base = slug(heading);
        let mut id = base.clone();
        let mut n = 0;
        while self.used.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        self.used.insert(id.clone());
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_as_github_makes_them() {
        // Expected values read off github.com's rendering of headings like these.
        assert_eq!(
            slug("Will it run? `harness check`"),
            "will-it-run-harness-check"
        );
        assert_eq!(
            slug("Cold start on a fresh node: `harness run --fresh-node`"),
            "cold-start-on-a-fresh-node-harness-run---fresh-node"
        );
        assert_eq!(
            slug("Statistics (`measure/stats.rs`)"),
            "statistics-measurestatsrs"
        );
        assert_eq!(
            slug("Verdicts: what \"beyond noise\" means"),
            "verdicts-what-beyond-noise-means"
        );
        assert_eq!(
            slug("glibc or musl — what it costs"),
            "glibc-or-musl--what-it-costs"
        );
        assert_eq!(
            slug("µs per request × baseline"),
            "µs-per-request--baseline"
        );
        assert_eq!(slug("remote_daemons"), "remote_daemons");
    }

    #[test]
    fn a_repeated_heading_gets_a_number() {
        let mut a = Anchors::default();
        assert_eq!(a.next("Image size"), "image-size");
        assert_eq!(a.next("Image size"), "image-size-1");
        assert_eq!(a.next("Image size"), "image-size-2");
        assert_eq!(a.next("Image size 1"), "image-size-1-1");
    }
}

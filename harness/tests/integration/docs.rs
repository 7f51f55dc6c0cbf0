//! The documentation's links, checked offline: every relative link and anchor in README.md,
//! the book (`docs/`) and the published report must land on a file that exists and, where it
//! names one, a heading of that file, anchors named as GitHub names them
//! (`harness::report::anchor`). A moved section breaks this test, not a reader's click.
//! Links with a scheme (`https:`, `mailto:`) are left alone: nothing here goes online.

use harness::report::anchor::Anchors;
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The Markdown files a reader follows links through, below the checkout `root`.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("README.md"), root.join("results/REPORT.md")];
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "md") {
                out.push(path);
            }
        }
    }
    out.retain(|p| p.exists());
    out.sort();
    out
}

/// A page's links (destination, line) and its headings' anchors, read as CommonMark.
struct Page {
    links: Vec<(String, usize)>,
    anchors: Vec<String>,
}

fn read(text: &str) -> Page {
    let mut links = Vec::new();
    let mut anchors = Anchors::default();
    let mut ids = Vec::new();
    let mut heading: Option<String> = None;
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { id, .. }) => {
                heading = Some(String::new());
                if let Some(id) = id {
                    ids.push(id.to_string());
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(text) = heading.take() {
                    ids.push(anchors.next(&text));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push((dest_url.to_string(), line_of(range.start)));
            }
            _ => {}
        }
    }
    Page {
        links,
        anchors: ids,
    }
}

/// Every broken link of the pages below `root`, one line each: `FILE:LINE: LINK: why`.
pub fn broken_links(root: &Path) -> Vec<String> {
    let mut cache: BTreeMap<PathBuf, Page> = BTreeMap::new();
    let mut load = |path: &Path| -> Option<Vec<String>> {
        let key = path.canonicalize().ok()?;
        if !cache.contains_key(&key) {
            let text = std::fs::read_to_string(&key).ok()?;
            cache.insert(key.clone(), read(&text));
        }
        Some(cache[&key].anchors.clone())
    };
    let mut out = Vec::new();
    for page in pages(root) {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page
            .strip_prefix(root)
            .unwrap_or(&page)
            .display()
            .to_string();
        for (link, line) in read(&text).links {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = match path {
                "" => page.clone(),
                p => page.parent().unwrap().join(p),
            };
            let why = if !target.exists() {
                Some("no such file".to_string())
            } else if fragment.is_empty() || target.extension().is_none_or(|x| x != "md") {
                None
            } else {
                match load(&target) {
                    Some(anchors) if anchors.iter().any(|a| a == fragment) => None,
                    Some(_) => Some(format!("no heading #{fragment} there")),
                    None => Some("cannot read it".into()),
                }
            };
            if let Some(why) = why {
                out.push(format!("{name}:{line}: {link}: {why}"));
            }
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_of_the_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let pages = pages(root);
    assert!(
        pages.iter().any(|p| p.ends_with("docs/README.md")),
        "the book's index docs/README.md is missing: {pages:?}"
    );
    let broken = broken_links(root);
    assert!(
        broken.is_empty(),
        "broken links (fix the link, or the heading it names):\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_page_of_the_book_is_reachable_from_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut queue = vec![root.join("README.md").canonicalize().unwrap()];
    while let Some(page) = queue.pop() {
        if seen.contains(&page) {
            continue;
        }
        let text = std::fs::read_to_string(&page).unwrap();
        for (link, _) in read(&text).links {
            let path = link.split('#').next().unwrap_or("");
            if path.is_empty() || link.contains("://") || !path.ends_with(".md") {
                continue;
            }
            if let Ok(target) = page.parent().unwrap().join(path).canonicalize() {
                queue.push(target);
            }
        }
        seen.push(page);
    }
    for page in pages(root) {
        let page = page.canonicalize().unwrap();
        assert!(
            seen.contains(&page),
            "{} is not reachable by links from README.md",
            page.display()
        );
    }
}

#[test]
fn the_check_fails_on_a_missing_file_and_on_a_missing_heading() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("docs")).unwrap();
    std::fs::write(
        root.path().join("README.md"),
        "# Tool\n\n## Use `it` — now?\n\nSee [the book](docs/README.md), [use](#use-it--now), \
         [gone](#moved-away), [a page](docs/README.md#statistics), [lost](docs/lost.md) \
         and [the web](https://example.com/x#y).\n",
    )
    .unwrap();
    std::fs::write(
        root.path().join("docs/README.md"),
        "# Book\n\n## Statistics\n\n## Statistics\n\n[back](../README.md#use-it--now), \
         [second](#statistics-1), [third](#statistics-2)\n",
    )
    .unwrap();
    let broken = broken_links(root.path());
    assert_eq!(
        broken,
        [
            "README.md:5: #moved-away: no heading #moved-away there",
            "README.md:5: docs/lost.md: no such file",
            "docs/README.md:7: #statistics-2: no heading #statistics-2 there",
        ],
        "{broken:#?}"
    );
}

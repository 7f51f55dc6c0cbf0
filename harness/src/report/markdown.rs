//! Renders a `Doc` as GitHub-flavoured Markdown (REPORT.md): plots as SVG images with a link
//! to the PNG, tables as pipe tables.

use super::doc::{Block, Doc, Table};
use std::fmt::Write;

pub fn render(doc: &Doc) -> String {
    let mut out = format!("# {}\n\n", doc.title);
    let contents = doc.contents();
    for block in &doc.blocks {
        render_block(&mut out, block, &contents);
    }
    out
}

/// The blocks alone, with no title: what a generated README block holds (no contents).
pub fn render_blocks(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        render_block(&mut out, block, &[]);
    }
    out
}

fn render_block(out: &mut String, block: &Block, contents: &[(u8, String, String)]) {
    {
        match block {
            Block::Heading { level, text } => {
                let hashes = "#".repeat(usize::from(*level).clamp(2, 6));
                let _ = writeln!(out, "{hashes} {text}\n");
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {item}");
                }
                out.push('\n');
            }
            Block::Table(table) => table_md(out, table),
            Block::Plot { title, alt, stem } => {
                let alt = alt.replace(['[', ']'], "");
                let _ = writeln!(
                    out,
                    "![{alt}](plots/{stem}.svg)\n\n_{title}_ ([PNG](plots/{stem}.png))\n"
                );
            }
            Block::Row(cells) => {
                for block in cells.iter().flatten() {
                    render_block(out, block, contents);
                }
            }
            Block::Contents => {
                for (level, text, id) in contents {
                    let indent = "  ".repeat(usize::from(level.saturating_sub(2)));
                    let text = text.replace(['[', ']'], "");
                    let _ = writeln!(out, "{indent}- [{text}](#{id})");
                }
                out.push('\n');
            }
        }
    }
}

fn table_md(out: &mut String, table: &Table) {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let header: Vec<String> = table.header.iter().map(|h| cell(h)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    if let Some(note) = &table.note {
        let _ = writeln!(out, "_{note}_\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_pipes() {
        let mut doc = Doc {
            title: "T".into(),
            ..Doc::default()
        };
        let mut t = Table::new(["a", "b"]);
        t.row(["x|y", "z"]);
        doc.table(t);
        let md = render(&doc);
        assert!(md.contains("| x\\|y | z |"), "{md}");
        assert!(md.contains("|---|---|"));
    }
}

//! Renders a `Doc` as one self-contained HTML page (index.html): the plots' SVG inlined,
//! styles inline, nothing fetched from the network.

use super::doc::{Block, Doc, Table};
use std::fmt::Write;
use std::path::Path;

const STYLE: &str = "body{font-family:sans-serif;max-width:1150px;margin:1em auto;padding:0 1em;\
color:#222;line-height:1.45}p,li{overflow-wrap:anywhere}table{border-collapse:collapse;margin:0}\
.scroll{overflow-x:auto;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
th{background:#f3f3f3}figure{margin:1em 0}figure svg{max-width:100%;height:auto}\
figcaption{color:#555}code{background:#f3f3f3;padding:0 .2em}.note{color:#555;font-style:italic}\
h1{margin:.2em 0}h2{margin:.9em 0 .3em}h3{margin:.6em 0 .2em}\
.row{display:flex;flex-wrap:wrap;gap:0 1.5em;align-items:center}.row>div{flex:1 1 340px;min-width:0}\
.row>div:first-child{flex:1.5 1 480px}.row ul{padding-left:1.2em;margin:.3em 0}.row figure{margin:0}\
nav ul{columns:2 300px}nav>ul>li{break-inside:avoid}details summary{cursor:pointer;color:#1a5fb4}\
@media (max-width:600px){body{padding:0 .5em}th,td{padding:.2em .35em}}";

/// Tables longer than this are collapsed under a summary line (details on demand).
const LONG_TABLE_ROWS: usize = 16;

/// Renders the page; each plot's SVG is read from `plots_dir/STEM.svg`.
pub fn render(doc: &Doc, plots_dir: &Path) -> anyhow::Result<String> {
    let mut out = String::new();
    let title = escape(&doc.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n"
    );
    let contents = doc.contents();
    let mut anchors = super::anchor::Anchors::default();
    anchors.next(&doc.title);
    for block in &doc.blocks {
        render_block(&mut out, block, &contents, &mut anchors, plots_dir)?;
    }
    out.push_str("</body></html>\n");
    Ok(out)
}

fn render_block(
    out: &mut String,
    block: &Block,
    contents: &[(u8, String, String)],
    anchors: &mut super::anchor::Anchors,
    plots_dir: &Path,
) -> anyhow::Result<()> {
    {
        match block {
            Block::Heading { level, text } => {
                let l = level.clamp(&2, &6);
                let id = anchors.next(text);
                let _ = writeln!(out, "<h{l} id=\"{id}\">{}</h{l}>", inline(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", inline(text));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", inline(item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(table) => table_html(out, table),
            Block::Row(cells) => {
                out.push_str("<div class=\"row\">\n");
                for cell in cells {
                    out.push_str("<div>\n");
                    for block in cell {
                        render_block(out, block, contents, anchors, plots_dir)?;
                    }
                    out.push_str("</div>\n");
                }
                out.push_str("</div>\n");
            }
            Block::Contents => contents_html(out, contents),
            Block::Plot { title, alt, stem } => {
                let path = plots_dir.join(format!("{stem}.svg"));
                let svg = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
                let svg = svg.trim_start_matches(|c| c != '<');
                let svg = match svg.strip_prefix("<?xml") {
                    Some(rest) => rest.split_once("?>").map_or(rest, |(_, r)| r),
                    None => svg,
                };
                let svg = svg.trim().replacen(
                    "<svg ",
                    &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(alt)),
                    1,
                );
                let _ = writeln!(
                    out,
                    "<figure id=\"{stem}\">{svg}<figcaption>{}</figcaption></figure>",
                    escape(title)
                );
            }
        }
    }
    Ok(())
}

/// The contents as a list of links, each level-2 heading with its level-3 ones under it.
fn contents_html(out: &mut String, contents: &[(u8, String, String)]) {
    let link = |text: &str, id: &str| format!("<a href=\"#{id}\">{}</a>", inline(text));
    out.push_str("<nav><ul>\n");
    let mut items = contents.iter().peekable();
    while let Some((_, text, id)) = items.next() {
        let _ = write!(out, "<li>{}", link(text, id));
        let mut children = Vec::new();
        while let Some((_, text, id)) = items.next_if(|(level, _, _)| *level > 2) {
            children.push(format!("<li>{}</li>", link(text, id)));
        }
        if !children.is_empty() {
            let _ = write!(out, "<ul>{}</ul>", children.concat());
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul></nav>\n");
}

fn table_html(out: &mut String, table: &Table) {
    let long = table.rows.len() > LONG_TABLE_ROWS;
    if long {
        let _ = writeln!(
            out,
            "<details><summary>The table: {} rows</summary>",
            table.rows.len()
        );
    }
    out.push_str("<div class=\"scroll\"><table>\n<tr>");
    for h in &table.header {
        let _ = write!(out, "<th>{}</th>", inline(h));
    }
    out.push_str("</tr>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", inline(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
    if long {
        out.push_str("</details>\n");
    }
    if let Some(note) = &table.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", inline(note));
    }
}

/// Escapes text and turns `code` spans and **bold** into elements.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(text).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, piece) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{piece}</strong>");
                } else {
                    out.push_str(piece);
                }
            }
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_bold_and_escapes() {
        assert_eq!(
            inline("a `x<y` **b** & c"),
            "a <code>x&lt;y</code> <strong>b</strong> &amp; c"
        );
    }
}

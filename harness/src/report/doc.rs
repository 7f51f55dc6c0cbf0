//! The report as a format-neutral document: headings, paragraphs, tables and plots.
//!
//! `sections` builds one from the results; `markdown` and `html` render it, so REPORT.md and
//! index.html always carry the same content. Text may hold `code` spans in backticks.

/// One block of the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Heading {
        level: u8,
        text: String,
    },
    Paragraph(String),
    List(Vec<String>),
    Table(Table),
    /// A plot written as `plots/STEM.svg` and `plots/STEM.png`; `alt` says what it plots.
    Plot {
        title: String,
        alt: String,
        stem: String,
    },
    /// Cells side by side where the page is wide enough (one under the other otherwise),
    /// each cell a run of blocks.
    Row(Vec<Vec<Block>>),
    /// The contents: a link to every heading of levels 2 and 3 after this block.
    Contents,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// A line under the table: how to read it.
    pub note: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Doc {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn heading(&mut self, level: u8, text: impl Into<String>) {
        self.blocks.push(Block::Heading {
            level,
            text: text.into(),
        });
    }

    pub fn paragraph(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Paragraph(text.into()));
    }

    pub fn list(&mut self, items: Vec<String>) {
        if !items.is_empty() {
            self.blocks.push(Block::List(items));
        }
    }

    pub fn table(&mut self, table: Table) {
        if !table.rows.is_empty() {
            self.blocks.push(Block::Table(table));
        }
    }

    /// The headings (level, text, anchor) after the contents block, or after the start
    /// where there is none, of levels 2 and 3; anchors as `anchor::Anchors` gives them
    /// for the whole document, title first, so a link from the contents lands on its heading.
    pub fn contents(&self) -> Vec<(u8, String, String)> {
        let mut anchors = super::anchor::Anchors::default();
        anchors.next(&self.title);
        let start = self
            .blocks
            .iter()
            .position(|b| *b == Block::Contents)
            .unwrap_or(0);
        let mut out = Vec::new();
        for (i, block) in self.blocks.iter().enumerate() {
            if let Block::Heading { level, text } = block {
                let id = anchors.next(text);
                if i > start && (2..=3).contains(level) {
                    out.push((*level, text.clone(), id));
                }
            }
        }
        out
    }
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

//! Every PDF Hafen makes — reports, certificates, consent proofs, access exports, letters to
//! data subjects — goes through this one document layer: a document is a list of blocks
//! (headings, paragraphs, labelled fields, tables), laid out on A4 here (`layout`), drawn
//! with fonts from the binary (`fonts`, `text`) and written as tagged PDF/A-2b by krilla
//! (`pdf`). Why krilla and our own layout rather than typst: docs/decisions.md.

mod fonts;
mod layout;
mod pdf;
mod text;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::records::Lang;

pub use fonts::printable;

/// A document to print.
#[derive(Debug, Clone)]
pub struct Document {
    pub title: String,
    pub lang: Lang,
    /// When the content was produced: the PDF's creation date.
    pub created: DateTime<Utc>,
    /// Said on every page beside the page number: what this is, whose, which version and
    /// the content hash, so a single printed page can be traced back.
    pub footer: String,
    pub blocks: Vec<Block>,
}

/// One block of a document.
#[derive(Debug, Clone)]
pub enum Block {
    Title(String),
    Heading(String),
    Subheading(String),
    Paragraph(String),
    /// A label and its value; consecutive fields are set as one two-column table.
    Field(String, String),
    /// Monospaced text (hashes, ids).
    Mono(String),
    Space,
    Table(Table),
}

/// A table with a header row that repeats on every page it runs onto.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Relative column widths; without them the widths follow the content.
    pub widths: Option<Vec<f32>>,
}

impl Table {
    pub fn new(columns: Vec<String>) -> Self {
        Self {
            columns,
            ..Self::default()
        }
    }

    pub fn row(mut self, cells: Vec<String>) -> Self {
        self.rows.push(cells);
        self
    }
}

impl Document {
    pub fn new(title: impl Into<String>, lang: Lang, created: DateTime<Utc>) -> Self {
        Self {
            title: title.into(),
            lang,
            created,
            footer: String::new(),
            blocks: Vec::new(),
        }
    }

    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = footer.into();
        self
    }

    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    /// The PDF.
    pub fn render(&self) -> Result<Vec<u8>> {
        let sheet = layout::Sheet::for_blocks(&self.blocks);
        let pages = layout::paginate(&self.blocks, sheet);
        pdf::write(self, sheet, &pages)
    }
}

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
use crate::i18n::Lang;

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
    /// The tenant's letterhead at the head of the first page, if it has one.
    pub letterhead: Option<Letterhead>,
}

/// A tenant's letterhead: its sender lines top left, its logo top right, on the first page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Letterhead {
    pub sender: Vec<String>,
    /// PNG or JPEG bytes, checked when the register took them (`check_logo`).
    pub logo: Option<Vec<u8>>,
}

/// Whether `bytes` is a logo the PDFs can show: PNG or JPEG, at most `max` bytes, readable.
pub fn check_logo(bytes: &[u8], max: usize) -> Result<()> {
    if bytes.len() > max {
        return Err(crate::error::Error::invalid(
            "logo",
            format!("must be at most {} KiB", max / 1024),
        ));
    }
    match pdf::logo_image(bytes) {
        Some(_) => Ok(()),
        None => Err(crate::error::Error::invalid(
            "logo",
            "must be a PNG or JPEG image that can be read",
        )),
    }
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
            letterhead: None,
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
        let head = self
            .letterhead
            .as_ref()
            .map_or(0.0, layout::letterhead_height);
        let pages = text::with_word_cache(|| layout::paginate(&self.blocks, sheet, head));
        pdf::write(self, sheet, &pages)
    }
}

#[cfg(test)]
mod letterhead_tests {
    use super::*;

    #[test]
    fn a_letterhead_with_a_logo_renders() {
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
            .unwrap();
        let mut doc = Document::new("Titel", Lang::De, chrono::DateTime::UNIX_EPOCH);
        doc.push(Block::Title("Titel".into()));
        doc.letterhead = Some(Letterhead {
            sender: vec!["Muster GmbH".into(), "Musterstraße 1".into()],
            logo: Some(png),
        });
        let pdf = doc.render().map_err(|e| format!("{e:?}")).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
    }
}

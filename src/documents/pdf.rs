//! Laid-out pages into a tagged PDF/A-2b with krilla: fonts embedded and subset, every glyph
//! mapped back to its text (copy, search and screen readers get the real names), a tag
//! tree in reading order (headings, paragraphs, tables with header cells), footers and
//! repeated headers as artifacts, the creation date and language in the metadata.

use std::num::NonZeroU16;

use chrono::{Datelike, Timelike};
use krilla::color::luma;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag, TagGroup,
    TagKind, TagTree,
};
use krilla::{Document as Pdf, SerializeSettings};

use super::layout::{Item, Node, Page, Sheet, FOOTER, HEAD_TOP, LOGO_H, MARGIN_X, SENDER};
use super::text;
use super::{Block, Document};
use crate::error::{Error, Result};
use crate::i18n::Lang;

fn gray(level: f32) -> luma::Color {
    luma::Color::new((level.clamp(0.0, 1.0) * 255.0) as u8)
}

/// Writes the pages.
pub fn write(doc: &Document, sheet: Sheet, pages: &[Page]) -> Result<Vec<u8>> {
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_B)
        .finish()
        .map_err(|e| Error::internal(anyhow::anyhow!("PDF configuration: {e:?}")))?;
    let mut pdf = Pdf::new_with(SerializeSettings {
        configuration,
        enable_tagging: true,
        ..SerializeSettings::default()
    });
    let total = pages.len();
    let mut tagged: Vec<(Node, Identifier)> = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(sheet.w, sheet.h)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("page size")))?;
        let mut p = pdf.start_page_with(settings);
        let mut surface = p.surface();
        for item in &page.items {
            draw(&mut surface, item, &mut tagged);
        }
        if let (0, Some(head)) = (n, &doc.letterhead) {
            letterhead(&mut surface, head, sheet);
        }
        footer(&mut surface, doc, sheet, n + 1, total);
        surface.finish();
        p.finish();
    }
    pdf.set_tag_tree(tag_tree(doc, tagged));
    pdf.set_metadata(metadata(doc));
    pdf.finish()
        .map_err(|e| Error::internal(anyhow::anyhow!("PDF: {e:?}")))
}

fn language(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "de-DE",
        Lang::En => "en-GB",
    }
}

fn metadata(doc: &Document) -> Metadata {
    let at = doc.created;
    let created = DateTime::new(at.year().clamp(0, 9999) as u16)
        .month(at.month() as u8)
        .day(at.day() as u8)
        .hour(at.hour() as u8)
        .minute(at.minute() as u8)
        .second(at.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0);
    Metadata::new()
        .title(doc.title.clone())
        .language(language(doc.lang).into())
        .creator(format!("Hafen {}", env!("CARGO_PKG_VERSION")))
        .producer(format!("Hafen {} (krilla)", env!("CARGO_PKG_VERSION")))
        .creation_date(created)
}

fn draw(surface: &mut Surface, item: &Item, tagged: &mut Vec<(Node, Identifier)>) {
    match item {
        Item::Text {
            x,
            baseline,
            line,
            size,
            node,
        } => {
            match node {
                Node::Artifact => {
                    surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(
                        ArtifactType::Header,
                    )));
                }
                _ => {
                    let id = surface.start_tagged(ContentTag::Span(SpanTag::empty()));
                    tagged.push((*node, id));
                }
            }
            draw_line(surface, *x, *baseline, line, *size);
            surface.end_tagged();
        }
        Item::Fill {
            x,
            y,
            w,
            h,
            gray: g,
        } => {
            let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                return;
            };
            let mut pb = PathBuilder::new();
            pb.push_rect(rect);
            let Some(path) = pb.finish() else { return };
            surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(
                ArtifactType::default(),
            )));
            surface.set_stroke(None);
            surface.set_fill(Some(Fill {
                paint: gray(*g).into(),
                opacity: NormalizedF32::ONE,
                rule: Default::default(),
            }));
            surface.draw_path(&path);
            surface.set_fill(Some(Fill::default()));
            surface.end_tagged();
        }
        Item::Rule {
            x1,
            x2,
            y,
            width,
            gray: g,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1, *y);
            pb.line_to(*x2, *y);
            let Some(path) = pb.finish() else { return };
            surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(
                ArtifactType::default(),
            )));
            surface.set_fill(None);
            surface.set_stroke(Some(Stroke {
                paint: gray(*g).into(),
                width: *width,
                ..Stroke::default()
            }));
            surface.draw_path(&path);
            surface.set_stroke(None);
            surface.set_fill(Some(Fill::default()));
            surface.end_tagged();
        }
    }
}

fn draw_line(surface: &mut Surface, x: f32, baseline: f32, line: &text::Line, size: f32) {
    let mut x = x;
    for segment in &line.segments {
        if let Some(font) = segment.font.krilla() {
            surface.draw_glyphs(
                Point::from_xy(x, baseline),
                &segment.glyphs,
                font,
                &segment.text,
                size,
                false,
            );
        }
        x += segment.width;
    }
}

/// A logo's bytes as an image krilla can embed (PNG or JPEG), if they are one. Not
/// interpolated: PDF/A forbids it.
pub(crate) fn logo_image(bytes: &[u8]) -> Option<krilla::image::Image> {
    let data: krilla::Data = bytes.to_vec().into();
    if bytes.starts_with(b"\x89PNG") {
        krilla::image::Image::from_png(data, false).ok()
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        krilla::image::Image::from_jpeg(data, false).ok()
    } else {
        None
    }
}

/// The tenant's letterhead on the first page: sender lines top left, the logo top right
/// (at most `LOGO_H` high and a third of the width, proportions kept). Decoration, so an
/// artifact: the sender is named in the document's own text where it matters.
fn letterhead(surface: &mut Surface, head: &super::Letterhead, sheet: Sheet) {
    surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(
        ArtifactType::Header,
    )));
    surface.set_fill(Some(Fill {
        paint: gray(0.25).into(),
        ..Fill::default()
    }));
    for (k, line) in head.sender.iter().enumerate() {
        let shaped = text::shape_line(line, SENDER);
        let baseline = HEAD_TOP + SENDER.size + k as f32 * SENDER.leading();
        draw_line(surface, MARGIN_X, baseline, &shaped, SENDER.size);
    }
    surface.set_fill(Some(Fill::default()));
    if let Some(image) = head.logo.as_deref().and_then(logo_image) {
        let (w, h) = image.size();
        let scale = (LOGO_H / h.max(1) as f32).min(sheet.width() / 3.0 / w.max(1) as f32);
        let (dw, dh) = (w as f32 * scale, h as f32 * scale);
        if let Some(size) = krilla::geom::Size::from_wh(dw, dh) {
            let x = MARGIN_X + sheet.width() - dw;
            surface.push_transform(&krilla::geom::Transform::from_translate(x, HEAD_TOP));
            surface.draw_image(image, size);
            surface.pop();
        }
    }
    surface.end_tagged();
}

fn footer(surface: &mut Surface, doc: &Document, sheet: Sheet, page: usize, total: usize) {
    let label = match doc.lang {
        Lang::De => format!("Seite {page} von {total}"),
        Lang::En => format!("Page {page} of {total}"),
    };
    let numbers = text::shape_line(&label, FOOTER);
    let room = sheet.width() - numbers.width - 12.0;
    let y = sheet.h - 44.0;
    surface.start_tagged(ContentTag::Artifact(Artifact::with_kind(
        ArtifactType::Footer,
    )));
    surface.set_fill(Some(Fill {
        paint: gray(0.3).into(),
        ..Fill::default()
    }));
    for (k, line) in text::lines(&doc.footer, FOOTER, room)
        .iter()
        .take(2)
        .enumerate()
    {
        draw_line(
            surface,
            MARGIN_X,
            y + k as f32 * FOOTER.leading(),
            line,
            FOOTER.size,
        );
    }
    draw_line(
        surface,
        MARGIN_X + sheet.width() - numbers.width,
        y,
        &numbers,
        FOOTER.size,
    );
    surface.set_fill(Some(Fill::default()));
    surface.end_tagged();
}

/// The tag tree in block order: titles and headings as H1–H3, paragraphs as P, field
/// groups and tables as Table → TR → TH/TD.
fn tag_tree(doc: &Document, tagged: Vec<(Node, Identifier)>) -> TagTree {
    let mut tree = TagTree::new().with_lang(Some(language(doc.lang).into()));
    let mut i = 0;
    while i < doc.blocks.len() {
        let ids_of = |node: Node| -> Vec<Identifier> {
            tagged
                .iter()
                .filter(|(n, _)| *n == node)
                .map(|(_, id)| *id)
                .collect()
        };
        let kind: Option<TagKind> = match &doc.blocks[i] {
            Block::Title(t) => Some(heading(1, t)),
            Block::Heading(t) => Some(heading(2, t)),
            Block::Subheading(t) => Some(heading(3, t)),
            Block::Paragraph(_) | Block::Mono(_) => Some(Tag::P.into()),
            _ => None,
        };
        if let Some(kind) = kind {
            let ids = ids_of(Node::Block(i));
            if !ids.is_empty() {
                let mut group = TagGroup::new(kind);
                for id in ids {
                    group.push(id);
                }
                tree.push(group);
            }
            i += 1;
            continue;
        }
        if matches!(doc.blocks[i], Block::Table(_) | Block::Field(..)) {
            if let Some(table) = table_group(i, &tagged) {
                tree.push(table);
            }
        }
        // A field group spans several blocks; its cells are all under the first.
        i += 1;
        while matches!(doc.blocks[i - 1], Block::Field(..))
            && matches!(doc.blocks.get(i), Some(Block::Field(..)))
        {
            i += 1;
        }
    }
    tree
}

fn heading(level: u16, title: &str) -> TagKind {
    Tag::Hn(
        NonZeroU16::new(level).unwrap_or(NonZeroU16::MIN),
        Some(title.to_string()),
    )
    .into()
}

fn table_group(id: usize, tagged: &[(Node, Identifier)]) -> Option<TagGroup> {
    let cells: Vec<(usize, usize, bool, Identifier)> = tagged
        .iter()
        .filter_map(|(n, ident)| match n {
            Node::Cell {
                table,
                row,
                col,
                header,
            } if *table == id => Some((*row, *col, *header, *ident)),
            _ => None,
        })
        .collect();
    let rows = cells.iter().map(|c| c.0).max()? + 1;
    // A field table has no header row: its first column names each row.
    let field_table = !cells.iter().any(|c| c.2);
    let mut table = TagGroup::new(Tag::Table);
    for r in 0..rows {
        let mut tr = TagGroup::new(Tag::TR);
        let cols = cells.iter().filter(|c| c.0 == r).map(|c| c.1).max();
        for col in 0..cols.map_or(0, |c| c + 1) {
            let mine: Vec<&(usize, usize, bool, Identifier)> =
                cells.iter().filter(|c| c.0 == r && c.1 == col).collect();
            let Some(first) = mine.first() else { continue };
            let mut cell = if first.2 {
                TagGroup::new(Tag::TH(TableHeaderScope::Column))
            } else if col == 0 && field_table {
                TagGroup::new(Tag::TH(TableHeaderScope::Row))
            } else {
                TagGroup::new(Tag::TD)
            };
            for c in mine {
                cell.push(c.3);
            }
            tr.push(cell);
        }
        table.push(tr);
    }
    Some(table)
}

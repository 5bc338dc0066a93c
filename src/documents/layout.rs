//! Blocks onto A4 pages: paragraphs broken into lines, tables with widths from their
//! content and a header row repeated on every page, a heading never left alone at the foot
//! of a page, rows taller than a page split between lines.

use super::fonts::FontId;
use super::text::{self, Line, Style};
use super::{Block, Table};

/// 2 cm left and right, as DIN 5008 letters and most German forms.
pub const MARGIN_X: f32 = 56.7;
pub const TOP: f32 = 56.7;
/// The footer's band at the foot of the page.
const FOOTER_BAND: f32 = 62.0;

/// An A4 page, upright or on its side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sheet {
    pub w: f32,
    pub h: f32,
}

impl Sheet {
    pub const PORTRAIT: Sheet = Sheet {
        w: 595.28,
        h: 841.89,
    };
    pub const LANDSCAPE: Sheet = Sheet {
        w: 841.89,
        h: 595.28,
    };
    /// Tables with more columns than this do not fit upright: a log with eleven columns
    /// would wrap "Eingegangen" inside a word. The DSK's own register template is landscape.
    pub const MAX_PORTRAIT_COLUMNS: usize = 8;

    /// Upright, unless a table needs the width.
    pub fn for_blocks(blocks: &[Block]) -> Sheet {
        let wide = blocks.iter().any(|b| match b {
            Block::Table(t) => t.columns.len() > Self::MAX_PORTRAIT_COLUMNS,
            _ => false,
        });
        if wide {
            Sheet::LANDSCAPE
        } else {
            Sheet::PORTRAIT
        }
    }

    /// The width between the margins.
    pub fn width(self) -> f32 {
        self.w - 2.0 * MARGIN_X
    }

    /// Below this the footer lives.
    pub fn bottom(self) -> f32 {
        self.h - FOOTER_BAND
    }
}

const PAD: f32 = 3.5;

pub const TITLE: Style = Style::new(FontId::Bold, 16.0);
pub const HEADING: Style = Style::new(FontId::Bold, 12.5);
pub const SUBHEADING: Style = Style::new(FontId::Bold, 10.5);
pub const BODY: Style = Style::new(FontId::Regular, 10.0);
pub const MONO: Style = Style::new(FontId::Mono, 8.0);
pub const CELL: Style = Style::new(FontId::Regular, 8.5);
pub const CELL_HEAD: Style = Style::new(FontId::Bold, 8.5);
pub const FIELD_LABEL: Style = Style::new(FontId::Bold, 9.0);
pub const FIELD_VALUE: Style = Style::new(FontId::Regular, 9.0);
pub const FOOTER: Style = Style::new(FontId::Regular, 7.5);

/// What a piece of content is part of, for the tag tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A title, heading, paragraph or mono block (by block index).
    Block(usize),
    /// A cell of the table that starts at block `table` (fields: the first field).
    Cell {
        table: usize,
        row: usize,
        col: usize,
        header: bool,
    },
    /// Repeated table headers and decoration: not part of the reading order.
    Artifact,
}

#[derive(Debug, Clone)]
pub enum Item {
    Text {
        x: f32,
        baseline: f32,
        line: Line,
        size: f32,
        node: Node,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        gray: f32,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
}

/// Where a baseline sits in a line box starting at `top`.
fn baseline(top: f32, style: Style) -> f32 {
    top + style.size * 1.02
}

struct Cursor {
    pages: Vec<Page>,
    y: f32,
    sheet: Sheet,
    /// Where this page's text starts (lower on a first page under a letterhead).
    top: f32,
}

impl Cursor {
    fn room(&self) -> f32 {
        self.sheet.bottom() - self.y
    }

    fn at_top(&self) -> bool {
        self.y <= self.top
    }

    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = TOP;
        self.top = TOP;
    }

    /// A page break unless `height` still fits (or the page is empty anyway).
    fn keep(&mut self, height: f32) {
        if height > self.room() && !self.at_top() {
            self.new_page();
        }
    }

    fn push(&mut self, item: Item) {
        if let Some(page) = self.pages.last_mut() {
            page.items.push(item);
        }
    }

    fn space(&mut self, height: f32) {
        if !self.at_top() {
            self.y += height;
        }
    }

    /// Lines of a text block, breaking pages between lines.
    fn text(&mut self, lines: Vec<Line>, style: Style, node: Node) {
        for line in lines {
            self.keep(style.leading());
            let y = baseline(self.y, style);
            self.push(Item::Text {
                x: MARGIN_X,
                baseline: y,
                line,
                size: style.size,
                node,
            });
            self.y += style.leading();
        }
    }
}

/// The letterhead's sender lines.
pub const SENDER: Style = Style::new(FontId::Regular, 8.5);
/// The tallest a letterhead logo is drawn.
pub const LOGO_H: f32 = 42.0;
/// Where the letterhead starts, above the first page's text.
pub const HEAD_TOP: f32 = 34.0;

/// How much lower the first page's text starts under a letterhead.
pub fn letterhead_height(head: &super::Letterhead) -> f32 {
    let lines = head.sender.len() as f32 * SENDER.leading();
    let logo = if head.logo.is_some() { LOGO_H } else { 0.0 };
    (HEAD_TOP + lines.max(logo) + 14.0 - TOP).max(0.0)
}

/// Lays the blocks out on pages of `sheet`; the first page's text starts `head` lower (the
/// letterhead's room).
pub fn paginate(blocks: &[Block], sheet: Sheet, head: f32) -> Vec<Page> {
    let mut c = Cursor {
        pages: vec![Page::default()],
        y: TOP + head,
        sheet,
        top: TOP + head,
    };
    let width = sheet.width();
    let mut i = 0;
    while i < blocks.len() {
        match &blocks[i] {
            Block::Title(t) => {
                c.text(text::lines(t, TITLE, width), TITLE, Node::Block(i));
                c.space(8.0);
            }
            Block::Heading(t) | Block::Subheading(t) => {
                let (style, before, after) = match &blocks[i] {
                    Block::Heading(_) => (HEADING, 14.0, 5.0),
                    _ => (SUBHEADING, 8.0, 3.0),
                };
                c.space(before);
                let lines = text::lines(t, style, width);
                let own = lines.len() as f32 * style.leading() + after;
                c.keep(own + first_chunk(blocks, i + 1, width));
                c.text(lines, style, Node::Block(i));
                c.y += after;
            }
            Block::Paragraph(t) => {
                c.text(text::lines(t, BODY, width), BODY, Node::Block(i));
                c.space(5.0);
            }
            Block::Mono(t) => {
                c.text(text::lines(t, MONO, width), MONO, Node::Block(i));
                c.space(4.0);
            }
            Block::Space => c.space(8.0),
            Block::Field(..) => {
                let fields = field_rows(blocks, i);
                let n = fields.len();
                Grid::fields(i, fields, width).place(&mut c);
                c.space(6.0);
                i += n;
                continue;
            }
            Block::Table(t) => {
                Grid::table(i, t, width).place(&mut c);
                c.space(8.0);
            }
        }
        i += 1;
    }
    c.pages
}

/// The consecutive fields starting at `i`, as label/value rows.
fn field_rows(blocks: &[Block], i: usize) -> Vec<Vec<String>> {
    blocks[i..]
        .iter()
        .map_while(|b| match b {
            Block::Field(l, v) => Some(vec![l.clone(), v.clone()]),
            _ => None,
        })
        .collect()
}

/// The height the block at `i` needs to start on a page: what a heading keeps with it.
fn first_chunk(blocks: &[Block], i: usize, width: f32) -> f32 {
    match blocks.get(i) {
        Some(Block::Paragraph(t)) => {
            text::lines(t, BODY, width).len().min(2) as f32 * BODY.leading()
        }
        Some(Block::Mono(_)) => MONO.leading(),
        Some(Block::Field(..)) => {
            let mut rows = field_rows(blocks, i);
            rows.truncate(1);
            Grid::fields(i, rows, width).first_height()
        }
        Some(Block::Table(t)) => Grid::table(i, t, width).first_height(),
        Some(Block::Subheading(t)) => {
            text::lines(t, SUBHEADING, width).len() as f32 * SUBHEADING.leading()
                + 11.0
                + first_chunk(blocks, i + 1, width)
        }
        _ => 0.0,
    }
}

/// A table ready to place: widths fixed, cells broken into lines.
struct Grid {
    id: usize,
    /// The width of the whole table (the page's between the margins).
    width: f32,
    widths: Vec<f32>,
    header: Option<Vec<Vec<Line>>>,
    rows: Vec<Vec<Vec<Line>>>,
    /// Field tables: the first column is a row header.
    row_headers: bool,
}

fn leading_of(col: usize, row_headers: bool) -> f32 {
    if row_headers {
        if col == 0 {
            FIELD_LABEL.leading()
        } else {
            FIELD_VALUE.leading()
        }
    } else {
        CELL.leading()
    }
}

impl Grid {
    fn fields(id: usize, rows: Vec<Vec<String>>, width: f32) -> Self {
        let widths = vec![width * 0.32, width * 0.68];
        let rows = rows
            .iter()
            .map(|r| {
                vec![
                    text::lines(&r[0], FIELD_LABEL, widths[0] - 2.0 * PAD),
                    text::lines(&r[1], FIELD_VALUE, widths[1] - 2.0 * PAD),
                ]
            })
            .collect();
        Self {
            id,
            width,
            widths,
            header: None,
            rows,
            row_headers: true,
        }
    }

    fn table(id: usize, t: &Table, width: f32) -> Self {
        let n = t.columns.len().max(1);
        let widths = match &t.widths {
            Some(w) if w.len() == n && w.iter().all(|x| *x > 0.0) => {
                let sum: f32 = w.iter().sum();
                w.iter().map(|x| width * x / sum).collect()
            }
            _ => auto_widths(t, n, width),
        };
        let cells = |row: &[String], style: Style| -> Vec<Vec<Line>> {
            (0..n)
                .map(|c| {
                    let value = row.get(c).map(String::as_str).unwrap_or("");
                    text::lines(value, style, widths[c] - 2.0 * PAD)
                })
                .collect()
        };
        Self {
            id,
            width,
            header: Some(cells(&t.columns, CELL_HEAD)),
            rows: t.rows.iter().map(|r| cells(r, CELL)).collect(),
            widths,
            row_headers: false,
        }
    }

    fn row_height(&self, cells: &[Vec<Line>]) -> f32 {
        cells
            .iter()
            .enumerate()
            .map(|(c, lines)| lines.len().max(1) as f32 * leading_of(c, self.row_headers))
            .fold(0.0, f32::max)
            + 2.0 * PAD
    }

    fn header_height(&self) -> f32 {
        self.header.as_ref().map_or(0.0, |h| self.row_height(h))
    }

    fn first_height(&self) -> f32 {
        self.header_height() + self.rows.first().map_or(0.0, |r| self.row_height(r))
    }

    fn draw_header(&self, c: &mut Cursor, repeated: bool) {
        let Some(header) = &self.header else { return };
        let h = self.row_height(header);
        c.push(Item::Fill {
            x: MARGIN_X,
            y: c.y,
            w: self.width,
            h,
            gray: 0.91,
        });
        self.draw_cells(c, header, 0, true, repeated);
        c.y += h;
        c.push(Item::Rule {
            x1: MARGIN_X,
            x2: MARGIN_X + self.width,
            y: c.y,
            width: 0.8,
            gray: 0.35,
        });
    }

    fn draw_cells(
        &self,
        c: &mut Cursor,
        cells: &[Vec<Line>],
        row: usize,
        header: bool,
        repeated: bool,
    ) {
        let mut x = MARGIN_X;
        for (col, lines) in cells.iter().enumerate() {
            let style = match (self.row_headers, header, col) {
                (true, _, 0) => FIELD_LABEL,
                (true, _, _) => FIELD_VALUE,
                (false, true, _) => CELL_HEAD,
                (false, false, _) => CELL,
            };
            let node = if repeated {
                Node::Artifact
            } else {
                Node::Cell {
                    table: self.id,
                    row,
                    col,
                    header,
                }
            };
            for (k, line) in lines.iter().enumerate() {
                c.push(Item::Text {
                    x: x + PAD,
                    baseline: baseline(c.y + PAD + k as f32 * style.leading(), style),
                    line: line.clone(),
                    size: style.size,
                    node,
                });
            }
            x += self.widths.get(col).copied().unwrap_or(0.0);
        }
    }

    fn continue_on_new_page(&self, c: &mut Cursor) {
        c.new_page();
        self.draw_header(c, true);
    }

    fn place(&self, c: &mut Cursor) {
        c.keep(self.first_height());
        self.draw_header(c, false);
        let fresh_room = c.sheet.bottom() - TOP - self.header_height();
        // Rows are numbered after the header row in the tag tree.
        let first_row = usize::from(self.header.is_some());
        for (r, row) in self.rows.iter().enumerate() {
            let mut remaining: Vec<Vec<Line>> = row.clone();
            let mut fresh = false;
            loop {
                let h = self.row_height(&remaining);
                if h <= c.room() {
                    self.draw_row(c, &remaining, first_row + r, h);
                    break;
                }
                if h <= fresh_room && !fresh {
                    self.continue_on_new_page(c);
                    fresh = true;
                    continue;
                }
                // Taller than a page: as many lines as fit here, the rest on the next.
                let lead = (0..remaining.len())
                    .map(|col| leading_of(col, self.row_headers))
                    .fold(0.0, f32::max);
                let fit = ((c.room() - 2.0 * PAD) / lead).floor() as usize;
                if fit == 0 {
                    self.continue_on_new_page(c);
                    fresh = true;
                    continue;
                }
                let (now, later): (Vec<Vec<Line>>, Vec<Vec<Line>>) = remaining
                    .iter()
                    .map(|lines| {
                        let k = fit.min(lines.len());
                        (lines[..k].to_vec(), lines[k..].to_vec())
                    })
                    .unzip();
                let h = self.row_height(&now);
                self.draw_row(c, &now, first_row + r, h);
                remaining = later;
                self.continue_on_new_page(c);
                fresh = true;
            }
        }
    }

    fn draw_row(&self, c: &mut Cursor, cells: &[Vec<Line>], row: usize, h: f32) {
        self.draw_cells(c, cells, row, false, false);
        c.y += h;
        c.push(Item::Rule {
            x1: MARGIN_X,
            x2: MARGIN_X + self.width,
            y: c.y,
            width: 0.3,
            gray: 0.72,
        });
    }
}

/// Column widths from the content: every column at least as wide as its widest word (up
/// to a third of the page), the rest shared by how much more each column would like.
fn auto_widths(t: &Table, n: usize, width: f32) -> Vec<f32> {
    let mut min = vec![0.0f32; n];
    let mut max = vec![0.0f32; n];
    let mut measure = |row: &[String], style: Style| {
        for c in 0..n {
            let value = row.get(c).map(String::as_str).unwrap_or("");
            let (word, line) = text::extents(value, style);
            min[c] = min[c].max((word + 2.0 * PAD).min(width / 3.0));
            max[c] = max[c].max(line + 2.0 * PAD);
        }
    };
    measure(&t.columns, CELL_HEAD);
    for row in &t.rows {
        measure(row, CELL);
    }
    let sum_min: f32 = min.iter().sum();
    let sum_max: f32 = max.iter().sum();
    if sum_max <= width {
        // Everything fits on one line: share the spare width by content.
        return max.iter().map(|m| m * width / sum_max.max(1.0)).collect();
    }
    if sum_min >= width {
        return min.iter().map(|m| m * width / sum_min).collect();
    }
    let spare = width - sum_min;
    let wish: f32 = max.iter().zip(&min).map(|(a, b)| a - b).sum();
    min.iter()
        .zip(&max)
        .map(|(lo, hi)| lo + spare * (hi - lo) / wish.max(1.0))
        .collect()
}

#[cfg(test)]
mod tests;

//! A small text-document renderer on `pdf-writer`: A4 pages, headings, paragraphs and
//! monospaced lines (hashes), wrapped and paginated, with the PDF standard fonts (Helvetica,
//! Courier) in WinAnsi encoding, so the output needs no embedded fonts and prints anywhere.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// One block of a document.
#[derive(Debug, Clone)]
pub enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    /// A label and a value on one line (wrapped if long).
    Field(String, String),
    /// Monospaced text (hashes, ids).
    Mono(String),
    Space,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

struct Style {
    font: Name<'static>,
    size: f32,
    /// Average glyph width as a fraction of the size, for wrapping.
    width: f32,
    leading: f32,
}

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
const MONO: Name<'static> = Name(b"F3");

fn style(block: &Block) -> Style {
    match block {
        Block::Title(_) => Style {
            font: BOLD,
            size: 16.0,
            width: 0.55,
            leading: 22.0,
        },
        Block::Heading(_) => Style {
            font: BOLD,
            size: 12.0,
            width: 0.55,
            leading: 17.0,
        },
        Block::Mono(_) => Style {
            font: MONO,
            size: 8.0,
            width: 0.6,
            leading: 10.5,
        },
        _ => Style {
            font: REGULAR,
            size: 10.0,
            width: 0.5,
            leading: 13.5,
        },
    }
}

/// Encodes text for the standard fonts (WinAnsiEncoding); what it cannot show becomes '?'.
pub fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '\t' => b' ',
            _ => b'?',
        })
        .collect()
}

/// Splits `text` into lines of at most `max` characters at spaces (hard breaks kept).
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word = word.to_string();
            while word.chars().count() > max {
                let head: String = word.chars().take(max).collect();
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                lines.push(head);
                word = word.chars().skip(max).collect();
            }
            if line.chars().count() + word.chars().count() + 1 > max && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        lines.push(line);
    }
    lines
}

/// Renders the blocks; `footer` goes on every page with the page number (German labels).
pub fn render(title: &str, blocks: &[Block], footer: &str) -> Vec<u8> {
    render_in(title, blocks, footer, "Seite", "von")
}

/// Renders the blocks with the page label in another language ("Page", "of").
pub fn render_in(
    title: &str,
    blocks: &[Block],
    footer: &str,
    page_word: &str,
    of: &str,
) -> Vec<u8> {
    // Lay out lines first: (style, text, indent).
    let mut laid: Vec<(Style, String)> = Vec::new();
    for block in blocks {
        let s = style(block);
        let usable = PAGE_W - 2.0 * MARGIN;
        let max = ((usable / (s.size * s.width)) as usize).max(10);
        let text = match block {
            Block::Title(t) | Block::Heading(t) | Block::Paragraph(t) | Block::Mono(t) => t.clone(),
            Block::Field(label, value) => format!("{label}: {value}"),
            Block::Space => String::new(),
        };
        for line in wrap(&text, max) {
            laid.push((style(block), line));
        }
    }
    let mut pages: Vec<Vec<(Style, String, f32)>> = vec![Vec::new()];
    let mut y = PAGE_H - MARGIN;
    for (s, line) in laid {
        if y - s.leading < MARGIN + 20.0 {
            pages.push(Vec::new());
            y = PAGE_H - MARGIN;
        }
        y -= s.leading;
        if let Some(page) = pages.last_mut() {
            page.push((s, line, y));
        }
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let info = Ref::new(3);
    let fonts = [Ref::new(4), Ref::new(5), Ref::new(6)];
    let first_page = 7;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("Hafen"));
    for (id, base) in fonts
        .iter()
        .zip([&b"Helvetica"[..], b"Helvetica-Bold", b"Courier"])
    {
        pdf.type1_font(*id)
            .base_font(Name(base))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let total = pages.len();
    for (i, lines) in pages.into_iter().enumerate() {
        let page_id = page_ids[i];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        font_dict
            .pair(REGULAR, fonts[0])
            .pair(BOLD, fonts[1])
            .pair(MONO, fonts[2]);
        font_dict.finish();
        resources.finish();
        page.finish();
        let mut content = Content::new();
        for (s, text, y) in lines {
            content.begin_text();
            content.set_font(s.font, s.size);
            content.next_line(MARGIN, y);
            content.show(Str(&win_ansi(&text)));
            content.end_text();
        }
        content.begin_text();
        content.set_font(REGULAR, 7.5);
        content.next_line(MARGIN, MARGIN - 10.0);
        content.show(Str(&win_ansi(&format!(
            "{footer} — {page_word} {} {of} {total}",
            i + 1
        ))));
        content.end_text();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_paginated_pdf_with_umlauts() {
        let mut blocks = vec![
            Block::Title("Einwilligungsnachweis".into()),
            Block::Field("Zweck".into(), "Newsletter für Kunden".into()),
        ];
        for i in 0..120 {
            blocks.push(Block::Paragraph(format!("Zeile {i}: Größe, Straße, „Anführung“ und € — lang genug, um umbrochen zu werden, weil sie sehr lang ist.")));
        }
        blocks.push(Block::Mono("a".repeat(200)));
        let pdf = render("Test", &blocks, "Hafen");
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            pdf.windows(9).any(|w| w == b"/Count 4 ")
                || pdf.windows(8).any(|w| w == b"/Count 4")
                || pdf.windows(8).any(|w| w == b"/Count 5")
        );
        assert_eq!(
            win_ansi("Größe €"),
            vec![b'G', b'r', 0xF6, 0xDF, b'e', b' ', 0x80]
        );
        assert_eq!(wrap("eins zwei drei", 9), vec!["eins zwei", "drei"]);
    }
}

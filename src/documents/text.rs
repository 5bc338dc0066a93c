//! Text into lines: font fallback, shaping (rustybuzz), line breaking and right-to-left
//! reordering (unicode-bidi). A line is a list of shaped segments in visual order, each in
//! one font and one direction, ready to draw left to right.

use krilla::text::{GlyphId, KrillaGlyph};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use rustybuzz::{script, Direction, Language, Script, ShapePlan, UnicodeBuffer};
use unicode_bidi::BidiInfo;

use super::fonts::{font_for, is_attached, printable, FontId};

/// A font at a size.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub font: FontId,
    pub size: f32,
}

impl Style {
    pub const fn new(font: FontId, size: f32) -> Self {
        Self { font, size }
    }

    /// Distance between baselines.
    pub fn leading(self) -> f32 {
        self.size * 1.32
    }
}

/// A shaped run of text in one font and direction.
#[derive(Debug, Clone)]
pub struct Segment {
    pub font: FontId,
    pub text: String,
    pub glyphs: Vec<KrillaGlyph>,
    /// Width in points at the line's size.
    pub width: f32,
}

/// One line of text, its segments in visual order.
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub segments: Vec<Segment>,
    pub width: f32,
}

/// What a shaping plan depends on besides the font's data.
type PlanKey = (FontId, Direction, Script, Option<Language>);

/// The shaping plan for a font, direction, script and language, made once per process.
/// Making a plan reads the font's layout tables and is far slower than shaping a line with it
/// (`rustybuzz::shape` makes one per call: an Art. 15 PDF with 10 000 messages took two
/// minutes that way, docs/benchmarks.md).
fn plan_for(face: &rustybuzz::Face<'static>, key: PlanKey) -> Arc<ShapePlan> {
    static PLANS: OnceLock<Mutex<HashMap<PlanKey, Arc<ShapePlan>>>> = OnceLock::new();
    let plans = PLANS.get_or_init(Mutex::default);
    let mut plans = plans.lock().unwrap_or_else(|e| e.into_inner());
    plans
        .entry(key.clone())
        .or_insert_with(|| {
            let (_, direction, script, language) = key;
            let script = (script != script::UNKNOWN).then_some(script);
            Arc::new(ShapePlan::new(
                face,
                direction,
                script,
                language.as_ref(),
                &[],
            ))
        })
        .clone()
}

/// Shapes `text` in one font and direction.
fn shape_run(text: &str, font: FontId, size: f32, rtl: bool) -> Segment {
    let Some(face) = font.face() else {
        return Segment {
            font,
            text: text.to_string(),
            glyphs: Vec::new(),
            width: 0.0,
        };
    };
    let mut buffer = UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    buffer.set_direction(if rtl {
        Direction::RightToLeft
    } else {
        Direction::LeftToRight
    });
    let plan = plan_for(
        face,
        (font, buffer.direction(), buffer.script(), buffer.language()),
    );
    let output = rustybuzz::shape_with_plan(face, &plan, buffer);
    let upem = face.units_per_em() as f32;
    let infos = output.glyph_infos();
    let positions = output.glyph_positions();
    let mut glyphs = Vec::with_capacity(infos.len());
    let mut width = 0.0;
    for (i, (info, pos)) in infos.iter().zip(positions).enumerate() {
        let start = info.cluster as usize;
        // A cluster ends where the next different cluster begins in text order; in a
        // right-to-left run the glyphs come in reverse text order.
        let next = if rtl {
            infos[..i]
                .iter()
                .rev()
                .map(|g| g.cluster as usize)
                .find(|&c| c != start)
        } else {
            infos[i + 1..]
                .iter()
                .map(|g| g.cluster as usize)
                .find(|&c| c != start)
        };
        let end = next.filter(|&e| e > start).unwrap_or(text.len());
        let advance = pos.x_advance as f32 / upem;
        width += advance * size;
        glyphs.push(KrillaGlyph::new(
            GlyphId::new(info.glyph_id),
            advance,
            pos.x_offset as f32 / upem,
            pos.y_offset as f32 / upem,
            pos.y_advance as f32 / upem,
            start..end,
            None,
        ));
    }
    Segment {
        font,
        text: text.to_string(),
        glyphs,
        width,
    }
}

/// Splits text (in logical order) into runs that one font draws, as byte ranges of `text`.
fn font_runs(text: &str, primary: FontId) -> Vec<(FontId, Range<usize>)> {
    let mut runs: Vec<(FontId, Range<usize>)> = Vec::new();
    let mut current: Option<(FontId, usize)> = None;
    for (i, c) in text.char_indices() {
        let font = match current {
            // Joiners and marks stay with what they modify; spaces stay in the current
            // font so a right-to-left name is not cut into pieces.
            Some((f, _)) if is_attached(c) || (c.is_whitespace() && f.has(c)) => f,
            _ => font_for(c, primary).unwrap_or(primary),
        };
        match current {
            Some((f, start)) if f != font => {
                runs.push((f, start..i));
                current = Some((font, i));
            }
            None => current = Some((font, i)),
            _ => {}
        }
    }
    if let Some((f, start)) = current {
        runs.push((f, start..text.len()));
    }
    runs
}

/// Shapes one line of text (no line breaks) into segments in visual order.
pub fn shape_line(text: &str, style: Style) -> Line {
    let mut line = Line::default();
    if text.is_empty() {
        return line;
    }
    let bidi = BidiInfo::new(text, None);
    let Some(para) = bidi.paragraphs.first() else {
        return line;
    };
    let (levels, runs) = bidi.visual_runs(para, para.range.clone());
    for run in runs {
        let rtl = levels.get(run.start).is_some_and(|l| l.is_rtl());
        let piece = &text[run.clone()];
        let mut segments: Vec<Segment> = font_runs(piece, style.font)
            .into_iter()
            .map(|(font, range)| shape_run(&piece[range], font, style.size, rtl))
            .collect();
        if rtl {
            segments.reverse();
        }
        for s in segments {
            line.width += s.width;
            line.segments.push(s);
        }
    }
    line
}

/// The advances of `text` in points, each glyph's counted at the byte where its cluster
/// starts, so the width of any range between clusters is the sum over its bytes. The text is
/// shaped once, font run by font run: breaking lines then adds up widths instead of shaping
/// every word, and every character of an over-long word, on its own (an Art. 15 export of
/// messages without spaces shaped each character three times, docs/benchmarks.md).
fn advances(text: &str, style: Style) -> Vec<f32> {
    let mut out = vec![0.0; text.len()];
    // Right-to-left text is measured right to left: Arabic letters take other forms then.
    let levels = BidiInfo::new(text, None).levels;
    let rtl_at = |i: usize| levels.get(i).is_some_and(|l| l.is_rtl());
    for (font, range) in font_runs(text, style.font) {
        let mut start = range.start;
        while start < range.end {
            let rtl = rtl_at(start);
            let end = text[start..range.end]
                .char_indices()
                .map(|(i, _)| start + i)
                .find(|&i| rtl_at(i) != rtl)
                .unwrap_or(range.end);
            for glyph in shape_run(&text[start..end], font, style.size, rtl).glyphs {
                if let Some(slot) = out.get_mut(start + glyph.text_range.start) {
                    *slot += glyph.x_advance * style.size;
                }
            }
            start = end;
        }
    }
    out
}

/// The width of `text` on one line.
pub fn width(text: &str, style: Style) -> f32 {
    advances(text, style).iter().sum()
}

/// Byte ranges of `text` between the separators.
fn pieces<'a>(text: &'a str, separators: &'a [char]) -> impl Iterator<Item = Range<usize>> + 'a {
    let mut start = 0;
    text.char_indices()
        .filter(|(_, c)| separators.contains(c))
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .map(move |end| {
            let range = start..end;
            start = end + 1;
            range
        })
}

fn sum(advances: &[f32], range: Range<usize>) -> f32 {
    advances.get(range).map_or(0.0, |a| a.iter().sum())
}

/// What a column needs for `text`: its widest word (the narrowest it can be without breaking
/// words) and its longest hard line (the width to show it unbroken).
pub fn extents(text: &str, style: Style) -> (f32, f32) {
    let text = printable(text, style.font);
    let advances = advances(&text, style);
    let widest = |separators: &[char]| {
        pieces(&text, separators)
            .map(|r| sum(&advances, r))
            .fold(0.0, f32::max)
    };
    (widest(&[' ', '\n']), widest(&['\n']))
}

/// Breaks `text` into lines of at most `max` points: at spaces, and inside a word only when
/// the word alone is wider than the line (hashes, long compounds).
pub fn lines(text: &str, style: Style, max: f32) -> Vec<Line> {
    let text = printable(text, style.font);
    let space = width(" ", style);
    let mut out = Vec::new();
    for hard in text.split('\n') {
        let advances = advances(hard, style);
        let mut current = String::new();
        let mut current_width = 0.0;
        for range in pieces(hard, &[' ']).filter(|r| !r.is_empty()) {
            let word = &hard[range.clone()];
            let w = sum(&advances, range.clone());
            if !current.is_empty() && current_width + space + w <= max {
                current.push(' ');
                current.push_str(word);
                current_width += space + w;
                continue;
            }
            if !current.is_empty() {
                out.push(shape_line(&current, style));
                current.clear();
                current_width = 0.0;
            }
            if w <= max {
                current.push_str(word);
                current_width = w;
            } else {
                let mut cut = break_word(word, &advances[range], max);
                if let Some((last, last_width)) = cut.pop() {
                    for (piece, _) in cut {
                        out.push(shape_line(&piece, style));
                    }
                    current_width = last_width;
                    current = last;
                }
            }
        }
        out.push(shape_line(&current, style));
    }
    out
}

/// Cuts a word wider than `max` into pieces that fit (each with its width), never inside a
/// character cluster. `advances` are the word's own, byte by byte.
fn break_word(word: &str, advances: &[f32], max: f32) -> Vec<(String, f32)> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut piece_width = 0.0;
    for (i, c) in word.char_indices() {
        let w = sum(advances, i..i + c.len_utf8());
        if !piece.is_empty() && !is_attached(c) && piece_width + w > max {
            pieces.push((std::mem::take(&mut piece), piece_width));
            piece_width = 0.0;
        }
        piece.push(c);
        piece_width += w;
    }
    if !piece.is_empty() {
        pieces.push((piece, piece_width));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached plans shape exactly as a plan made for the call would (`rustybuzz::shape`):
    /// the same glyphs at the same advances, in every script the documents use.
    #[test]
    fn cached_plans_shape_like_fresh_ones() {
        let samples = [
            (
                FontId::Regular,
                "Übermittlung an Dritte: Straße 12, 10117 Berlin — fi ffl AV Wa",
                false,
            ),
            (FontId::Bold, "Löschnachweis Nr. 42", false),
            (FontId::Mono, "sha256=dbf78d816e8dc455", false),
            (FontId::Arabic, "مرحبا بالعالم", true),
            (FontId::Hebrew, "שלום עולם", true),
            (FontId::Regular, "12:45 – 0,5 %", false),
        ];
        for (font, text, rtl) in samples {
            for _ in 0..2 {
                let cached = shape_run(text, font, 10.0, rtl);
                let face = font.face().unwrap();
                let mut buffer = UnicodeBuffer::new();
                buffer.push_str(text);
                buffer.guess_segment_properties();
                buffer.set_direction(if rtl {
                    Direction::RightToLeft
                } else {
                    Direction::LeftToRight
                });
                let fresh = rustybuzz::shape(face, &[], buffer);
                let ids: Vec<u32> = fresh.glyph_infos().iter().map(|g| g.glyph_id).collect();
                let advances: Vec<i32> = fresh
                    .glyph_positions()
                    .iter()
                    .map(|p| p.x_advance)
                    .collect();
                let upem = face.units_per_em() as f32;
                assert_eq!(
                    cached
                        .glyphs
                        .iter()
                        .map(|g| g.glyph_id.to_u32())
                        .collect::<Vec<_>>(),
                    ids,
                    "{text}"
                );
                let cached_advances: Vec<i32> = cached
                    .glyphs
                    .iter()
                    .map(|g| (g.x_advance * upem).round() as i32)
                    .collect();
                assert_eq!(cached_advances, advances, "{text}");
            }
        }
    }

    const BODY: Style = Style::new(FontId::Regular, 10.0);

    fn text_of(line: &Line) -> String {
        line.segments.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn lines_break_at_spaces_within_the_width() {
        let lines = lines("eins zwei drei vier fünf sechs", BODY, 60.0);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(l.width <= 60.0 + 0.01, "{}", l.width);
        }
        let joined: Vec<String> = lines.iter().map(text_of).collect();
        assert_eq!(joined.join(" "), "eins zwei drei vier fünf sechs");
    }

    #[test]
    fn a_word_wider_than_the_line_is_cut() {
        let hash = "a".repeat(64);
        let lines = lines(&hash, BODY, 80.0);
        assert!(lines.len() > 2);
        assert_eq!(lines.iter().map(text_of).collect::<String>(), hash);
    }

    /// Line breaking adds up the advances of one shaping of the whole text: the sums agree
    /// with shaping each part on its own, in every script, within a rounding.
    #[test]
    fn summed_advances_agree_with_shaping_each_part() {
        for text in [
            "Übermittlung an Dritte: Straße 12, 10117 Berlin",
            "Name: محمد بن سلمان",
            "שלום עולם and more",
            "Danke ❤\u{FE0F} 😊 x",
        ] {
            let advances = advances(text, BODY);
            for range in pieces(text, &[' ']) {
                let alone = shape_line(&text[range.clone()], BODY).width;
                let summed = sum(&advances, range.clone());
                assert!(
                    (alone - summed).abs() < 0.05,
                    "{:?}: {alone} vs {summed}",
                    &text[range]
                );
            }
        }
    }

    #[test]
    fn extents_are_the_widest_word_and_the_longest_line() {
        let (word, line) = extents("kurz Donaudampfschiff\nnoch eine längere Zeile hier", BODY);
        let (w, l) = (
            shape_line("Donaudampfschiff", BODY).width,
            shape_line("noch eine längere Zeile hier", BODY).width,
        );
        assert!((word - w).abs() < 0.05, "{word} vs {w}");
        assert!((line - l).abs() < 0.05, "{line} vs {l}");
    }

    #[test]
    fn cut_pieces_of_a_long_word_each_fit_and_measure_what_they_draw() {
        let word = "0123456789abcdef".repeat(16);
        let lines = lines(&word, BODY, 80.0);
        for l in &lines {
            assert!(l.width <= 80.0 + 0.05, "{}", l.width);
        }
        assert!(lines[..lines.len() - 1]
            .iter()
            .all(|l| l.width > 80.0 - 10.0));
    }

    #[test]
    fn arabic_in_a_german_line_is_its_own_right_to_left_segment() {
        let line = shape_line("Name: محمد", BODY);
        let fonts: Vec<FontId> = line.segments.iter().map(|s| s.font).collect();
        assert_eq!(fonts, vec![FontId::Regular, FontId::Arabic]);
        assert_eq!(line.segments[1].text, "محمد");
        // Shaped: the four letters join, so the glyphs are not the isolated forms.
        assert_eq!(line.segments[1].glyphs.len(), 4);
    }

    #[test]
    fn an_emoji_with_its_variation_selector_is_one_segment() {
        let line = shape_line("Danke ❤\u{FE0F} 😊", BODY);
        assert!(line
            .segments
            .iter()
            .any(|s| s.font == FontId::Emoji && s.text.contains('😊')));
    }
}

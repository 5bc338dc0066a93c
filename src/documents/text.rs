//! Text into lines: font fallback, shaping (rustybuzz), line breaking and right-to-left
//! reordering (unicode-bidi). A line is a list of shaped segments in visual order, each in
//! one font and one direction, ready to draw left to right.

use krilla::text::{GlyphId, KrillaGlyph};
use std::cell::RefCell;
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
    let glyphs = shape_glyphs(text, font, rtl, None);
    Segment {
        font,
        text: text.to_string(),
        width: glyphs.iter().map(|g| g.x_advance * size).sum(),
        glyphs,
    }
}

/// The glyphs of `text` in one font and direction, their ranges into `text`; in the script
/// given, or the one the text itself names first.
fn shape_glyphs(text: &str, font: FontId, rtl: bool, script: Option<Script>) -> Vec<KrillaGlyph> {
    let Some(face) = font.face() else {
        return Vec::new();
    };
    let mut buffer = UnicodeBuffer::new();
    buffer.push_str(text);
    if let Some(script) = script {
        buffer.set_script(script);
    }
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
        glyphs.push(KrillaGlyph::new(
            GlyphId::new(info.glyph_id),
            pos.x_advance as f32 / upem,
            pos.x_offset as f32 / upem,
            pos.y_offset as f32 / upem,
            pos.y_advance as f32 / upem,
            start..end,
            None,
        ));
    }
    glyphs
}

/// The words shaped in this document, per font and script: looked up by the word's text
/// without making a key for each.
type Words = HashMap<(FontId, Script), HashMap<Box<str>, Vec<KrillaGlyph>>>;

thread_local! {
    /// The words this thread has shaped for the document it is laying out; None outside
    /// [`with_word_cache`]. Per document and dropped with it, never process-wide: the words
    /// are the people's messages, and they leave memory with the document that printed them.
    static WORDS: RefCell<Option<Words>> =
        const { RefCell::new(None) };
}

/// Runs `f` (the layout of one document) with a cache of the words shaped in it: people
/// repeat their words, and an Art. 15 export of 10 000 messages shaped the same words
/// thousands of times (docs/benchmarks.md).
pub fn with_word_cache<T>(f: impl FnOnce() -> T) -> T {
    struct Forget;
    impl Drop for Forget {
        fn drop(&mut self) {
            WORDS.with(|w| *w.borrow_mut() = None);
        }
    }
    if WORDS.with(|w| w.borrow().is_some()) {
        return f();
    }
    WORDS.with(|w| *w.borrow_mut() = Some(HashMap::new()));
    let _forget = Forget;
    f()
}

/// The glyphs of a left-to-right run, shaped word by word (the spaces between words as
/// words of their own) and each word once per document, as browsers' word caches do. The
/// same glyphs as shaping the run whole for fonts whose spaces take part in no kerning or
/// substitution, which a test checks for the fonts this is used for
/// ([`FontId::shapes_by_word`]). Outside [`with_word_cache`] the run is shaped whole.
fn shape_by_words(text: &str, font: FontId) -> Vec<KrillaGlyph> {
    WORDS.with(|w| {
        let mut w = w.borrow_mut();
        let Some(words) = w.as_mut().filter(|_| font.shapes_by_word()) else {
            return shape_glyphs(text, font, false, None);
        };
        let script = {
            let mut buffer = UnicodeBuffer::new();
            buffer.push_str(text);
            buffer.guess_segment_properties();
            buffer.script()
        };
        let words = words.entry((font, script)).or_default();
        let mut glyphs = Vec::with_capacity(text.len());
        for word in words_and_spaces(text) {
            let offset = word.start;
            let piece = &text[word];
            let placed = |g: &KrillaGlyph| {
                let mut g = g.clone();
                g.text_range = g.text_range.start + offset..g.text_range.end + offset;
                g
            };
            match words.get(piece) {
                Some(shaped) => glyphs.extend(shaped.iter().map(placed)),
                None => {
                    let shaped = shape_glyphs(piece, font, false, Some(script));
                    glyphs.extend(shaped.iter().map(placed));
                    words.insert(piece.into(), shaped);
                }
            }
        }
        glyphs
    })
}

/// `text` cut into its words and the runs of spaces between them, as byte ranges.
fn words_and_spaces(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (_, first) = chars.next()?;
        let space = first == ' ';
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if (c == ' ') != space {
                end = i;
                break;
            }
            chars.next();
        }
        let range = start..end;
        start = end;
        Some(range)
    })
}

/// Splits text (in logical order) into runs that one font draws, as byte ranges of `text`.
fn font_runs(text: &str, primary: FontId) -> Vec<(FontId, Range<usize>)> {
    let mut runs: Vec<(FontId, Range<usize>)> = Vec::new();
    let mut current: Option<(FontId, usize)> = None;
    for (i, c) in text.char_indices() {
        let font = match current {
            // Joiners and marks stay with what they modify; spaces stay in the current
            // font so a right-to-left name is not cut into pieces — but not in the emoji
            // font, whose space is as wide as an emoji.
            Some((f, _))
                if is_attached(c) || (c.is_whitespace() && f != FontId::Emoji && f.has(c)) =>
            {
                f
            }
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

/// Whether `text` has a character at or above Hebrew (U+0590): below it every character is
/// left to right or neutral, so the whole text is left to right.
fn may_be_right_to_left(text: &str) -> bool {
    text.chars().any(|c| c >= '\u{0590}')
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

/// A hard line of text shaped once, in logical order, font run by font run. Its advances are
/// counted at the byte where each glyph's cluster starts, so the width of any range between
/// clusters is a difference of two prefix sums: breaking lines adds up widths instead of shaping
/// every word, and every character of an over-long word, on its own (an Art. 15 export of 10 000
/// messages took minutes that way, docs/benchmarks.md). Text without right-to-left parts draws
/// its lines from these glyphs too; other text is shaped again line by line, for the order.
struct Shaped<'a> {
    text: &'a str,
    style: Style,
    /// `prefix[i]`: the width of the bytes before `i`, in points.
    prefix: Vec<f32>,
    /// The runs (font, byte range, glyphs with ranges into `text`), when all left to right.
    runs: Option<Vec<GlyphRun>>,
}

/// A run of glyphs in one font: the bytes of the text it draws, its glyphs' ranges into the text.
type GlyphRun = (FontId, Range<usize>, Vec<KrillaGlyph>);

impl<'a> Shaped<'a> {
    fn new(text: &'a str, style: Style) -> Self {
        let mut advances = vec![0.0; text.len()];
        // Right-to-left text is measured right to left: Arabic letters take other forms then.
        // Most messages have no character of a right-to-left script: all left to right then,
        // without classifying every character.
        let levels = if may_be_right_to_left(text) {
            BidiInfo::new(text, None).levels
        } else {
            Vec::new()
        };
        let rtl_at = |i: usize| levels.get(i).is_some_and(|l| l.is_rtl());
        let mut runs = Some(Vec::new());
        for (font, range) in font_runs(text, style.font) {
            let mut start = range.start;
            while start < range.end {
                let rtl = rtl_at(start);
                let end = text[start..range.end]
                    .char_indices()
                    .map(|(i, _)| start + i)
                    .find(|&i| rtl_at(i) != rtl)
                    .unwrap_or(range.end);
                let mut glyphs = if rtl {
                    shape_glyphs(&text[start..end], font, true, None)
                } else {
                    shape_by_words(&text[start..end], font)
                };
                for glyph in &mut glyphs {
                    glyph.text_range = glyph.text_range.start + start..glyph.text_range.end + start;
                    if let Some(slot) = advances.get_mut(glyph.text_range.start) {
                        *slot += glyph.x_advance * style.size;
                    }
                }
                match (&mut runs, rtl) {
                    (Some(r), false) => r.push((font, start..end, glyphs)),
                    _ => runs = None,
                }
                start = end;
            }
        }
        let mut prefix = Vec::with_capacity(text.len() + 1);
        let mut total = 0.0;
        prefix.push(total);
        for a in advances {
            total += a;
            prefix.push(total);
        }
        Self {
            text,
            style,
            prefix,
            runs,
        }
    }

    /// The width of a byte range.
    fn width(&self, range: Range<usize>) -> f32 {
        match (self.prefix.get(range.start), self.prefix.get(range.end)) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        }
    }

    /// The line of a byte range, from the glyphs already shaped where they fit it.
    fn line(&self, range: Range<usize>) -> Line {
        self.reused(range.clone())
            .unwrap_or_else(|| shape_line(&self.text[range], self.style))
    }

    /// None when the text has right-to-left parts or a cluster crosses the range's ends (a
    /// ligature cut by a line break): then the line is shaped on its own.
    fn reused(&self, range: Range<usize>) -> Option<Line> {
        let mut line = Line::default();
        for (font, run, glyphs) in self.runs.as_ref()? {
            let (start, end) = (run.start.max(range.start), run.end.min(range.end));
            if start >= end {
                continue;
            }
            let mut segment = Segment {
                font: *font,
                text: self.text[start..end].to_string(),
                glyphs: Vec::new(),
                width: 0.0,
            };
            for glyph in glyphs {
                let r = &glyph.text_range;
                let inside = r.start >= start && r.start < end;
                if (inside && r.end > end) || (r.start < start && r.end > start) {
                    return None;
                }
                if inside {
                    let mut glyph = glyph.clone();
                    glyph.text_range = r.start - start..r.end - start;
                    segment.width += glyph.x_advance * self.style.size;
                    segment.glyphs.push(glyph);
                }
            }
            line.width += segment.width;
            line.segments.push(segment);
        }
        Some(line)
    }
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

/// What a column needs for `text`: its widest word (the narrowest it can be without breaking
/// words) and its longest hard line (the width to show it unbroken).
pub fn extents(text: &str, style: Style) -> (f32, f32) {
    let text = printable(text, style.font);
    let shaped = Shaped::new(&text, style);
    let widest = |separators: &[char]| {
        pieces(&text, separators)
            .map(|r| shaped.width(r))
            .fold(0.0, f32::max)
    };
    (widest(&[' ', '\n']), widest(&['\n']))
}

/// Breaks `text` into lines of at most `max` points: at spaces, and inside a word only when
/// the word alone is wider than the line (hashes, long compounds).
pub fn lines(text: &str, style: Style, max: f32) -> Vec<Line> {
    let text = printable(text, style.font);
    let mut out = Vec::new();
    for hard in text.split('\n') {
        let shaped = Shaped::new(hard, style);
        // The words on the line so far: from the first one's start to the last one's end.
        let mut current: Option<Range<usize>> = None;
        for word in pieces(hard, &[' ']).filter(|r| !r.is_empty()) {
            if let Some(line) = current.clone() {
                if shaped.width(line.start..word.end) <= max {
                    current = Some(line.start..word.end);
                    continue;
                }
                out.push(shaped.line(line));
            }
            if shaped.width(word.clone()) <= max {
                current = Some(word);
            } else {
                let mut cut = break_word(&shaped, word, max);
                current = cut.pop();
                out.extend(cut.into_iter().map(|piece| shaped.line(piece)));
            }
        }
        out.push(current.map_or_else(Line::default, |line| shaped.line(line)));
    }
    out
}

/// Cuts a word wider than `max` into pieces that fit, never inside a character cluster.
fn break_word(shaped: &Shaped, word: Range<usize>, max: f32) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = word.start;
    for (i, c) in shaped.text[word.clone()].char_indices() {
        let at = word.start + i;
        let next = at + c.len_utf8();
        if at > start && !is_attached(c) && shaped.width(start..next) > max {
            pieces.push(start..at);
            start = at;
        }
    }
    if start < word.end {
        pieces.push(start..word.end);
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

    /// Shaping word by word, with the spaces as words of their own, gives the glyphs and
    /// advances of shaping the run whole, in every font that is shaped by word: their spaces
    /// kern with nothing and join nothing. Were a font to kern "T" against a space, or a
    /// ligature to reach across one, this fails and the font must leave `shapes_by_word`.
    #[test]
    fn words_shaped_alone_are_the_run_shaped_whole() {
        let mut corpus: String = (' '..='~').collect();
        corpus.push_str(
            " Übermittlung an Dritte: Straße 12, 10117 Berlin — fi ffl AV Wa To T. Y, \
             Löschnachweis für Ärzte, Öl, Ähre; „Anführung“ ‚x‘ «guillemets» 1/2 € 5 % \
             Ελληνικά Кириллица Łódź Şişli Vũ Việt  double  spaces   Tj Ty Yo P. F, L' V. W. ",
        );
        for font in [FontId::Regular, FontId::Bold, FontId::Mono] {
            assert!(font.shapes_by_word());
            let whole = shape_glyphs(&corpus, font, false, None);
            let (by_words, again) =
                with_word_cache(|| (shape_by_words(&corpus, font), shape_by_words(&corpus, font)));
            let key = |g: &KrillaGlyph| {
                (
                    g.glyph_id.to_u32(),
                    (g.x_advance * 10_000.0).round() as i64,
                    (g.x_offset * 10_000.0).round() as i64,
                    g.text_range.clone(),
                )
            };
            let whole: Vec<_> = whole.iter().map(key).collect();
            assert_eq!(
                by_words.iter().map(key).collect::<Vec<_>>(),
                whole,
                "{font:?}"
            );
            assert_eq!(again.iter().map(key).collect::<Vec<_>>(), whole, "{font:?}");
        }
    }

    /// The words stay in memory only while their document is laid out: they are the people's
    /// messages.
    #[test]
    fn the_word_cache_lives_as_long_as_its_document() {
        let distinct = with_word_cache(|| {
            shape_by_words("ja ja nein ja  nein", FontId::Regular);
            WORDS.with(|w| {
                w.borrow()
                    .as_ref()
                    .map(|m| m.values().map(HashMap::len).sum::<usize>())
            })
        });
        // "ja", "nein", " " and "  ".
        assert_eq!(distinct, Some(4));
        assert!(WORDS.with(|w| w.borrow().is_none()));
        // Outside a document nothing is kept.
        shape_by_words("ja ja", FontId::Regular);
        assert!(WORDS.with(|w| w.borrow().is_none()));
    }

    #[test]
    fn words_and_spaces_cover_the_text() {
        let text = "  zwei  Wörter ";
        let parts: Vec<&str> = words_and_spaces(text).map(|r| &text[r]).collect();
        assert_eq!(parts, ["  ", "zwei", "  ", "Wörter", " "]);
        assert_eq!(words_and_spaces("").count(), 0);
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
            let shaped = Shaped::new(text, BODY);
            for range in pieces(text, &[' ']) {
                let alone = shape_line(&text[range.clone()], BODY).width;
                let summed = shaped.width(range.clone());
                assert!(
                    (alone - summed).abs() < 0.05,
                    "{:?}: {alone} vs {summed}",
                    &text[range]
                );
            }
        }
    }

    /// Lines drawn from the glyphs of the whole hard line are the lines shaped on their own:
    /// the same glyphs, the same text, glyph ranges inside their segment's text.
    #[test]
    fn lines_from_the_shaped_text_are_the_lines_shaped_alone() {
        let text = "Übermittlung an Dritte: Straße 12, 10117 Berlin — Löschnachweis für alle \
                    Kategorien 😊 danke, efficient offices affirm Wa AV To";
        let ids = |l: &Line| -> Vec<u32> {
            l.segments
                .iter()
                .flat_map(|s| s.glyphs.iter().map(|g| g.glyph_id.to_u32()))
                .collect()
        };
        let broken = lines(text, BODY, 90.0);
        assert!(broken.len() > 3);
        for line in &broken {
            let alone = shape_line(&text_of(line), BODY);
            assert_eq!(ids(line), ids(&alone), "{}", text_of(line));
            assert!((line.width - alone.width).abs() < 0.2, "{}", text_of(line));
            for s in &line.segments {
                assert!(s.glyphs.iter().all(|g| g.text_range.end <= s.text.len()));
            }
        }
        // A line break inside a ligature's cluster falls back to shaping the pieces alone.
        let word = "ffi".repeat(40);
        for line in lines(&word, BODY, 50.0) {
            assert_eq!(ids(&line), ids(&shape_line(&text_of(&line), BODY)));
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

    /// The space after an emoji is the text's own, not the emoji font's (an em wide).
    #[test]
    fn the_space_after_an_emoji_is_the_texts() {
        let line = shape_line("zu 😊 18", BODY);
        let parts: Vec<(FontId, &str)> = line
            .segments
            .iter()
            .map(|s| (s.font, s.text.as_str()))
            .collect();
        assert_eq!(
            parts,
            [
                (FontId::Regular, "zu "),
                (FontId::Emoji, "😊"),
                (FontId::Regular, " 18")
            ]
        );
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

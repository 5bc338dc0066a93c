//! The fonts inside the binary and which one draws a character.
//!
//! Noto Sans covers Latin (with Turkish, Polish, Czech, Vietnamese), Greek and Cyrillic;
//! Noto Sans Arabic and Hebrew take the right-to-left scripts, Noto Emoji (monochrome) the
//! emoji, Noto Sans Mono the hashes. All are OFL (assets/fonts/OFL.txt). A character none of
//! them has is printed as a visible placeholder such as `[U+4E2D]`, never as "?": a name
//! in an Art. 15 copy must not silently change.

use std::sync::OnceLock;

use rustybuzz::Face;

/// One embedded font.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FontId {
    Regular,
    Bold,
    Mono,
    Arabic,
    Hebrew,
    Emoji,
}

const ALL: [FontId; 6] = [
    FontId::Regular,
    FontId::Bold,
    FontId::Mono,
    FontId::Arabic,
    FontId::Hebrew,
    FontId::Emoji,
];

impl FontId {
    fn data(self) -> &'static [u8] {
        match self {
            FontId::Regular => include_bytes!("../../assets/fonts/NotoSans-Regular.ttf"),
            FontId::Bold => include_bytes!("../../assets/fonts/NotoSans-Bold.ttf"),
            FontId::Mono => include_bytes!("../../assets/fonts/NotoSansMono-Regular.ttf"),
            FontId::Arabic => include_bytes!("../../assets/fonts/NotoSansArabic-Regular.ttf"),
            FontId::Hebrew => include_bytes!("../../assets/fonts/NotoSansHebrew-Regular.ttf"),
            FontId::Emoji => include_bytes!("../../assets/fonts/NotoEmoji-Regular.ttf"),
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The parsed face, for shaping and coverage. The fonts are part of the binary and a
    /// test loads each; a font that did not parse would only lose its characters to the
    /// placeholder, never panic.
    pub fn face(self) -> Option<&'static Face<'static>> {
        faces().get(self.index()).and_then(Option::as_ref)
    }

    /// The font as krilla embeds it (subset on output).
    pub fn krilla(self) -> Option<krilla::text::Font> {
        krillas().get(self.index()).cloned().flatten()
    }

    pub fn has(self, c: char) -> bool {
        match coverage().get(self.index()) {
            Some(bits) if (c as usize) < COVERED => {
                bits[c as usize / 64] >> (c as usize % 64) & 1 == 1
            }
            _ => self.face().is_some_and(|f| f.glyph_index(c).is_some()),
        }
    }

    /// Whether text in this font may be shaped word by word (`text::shape_by_words`): the
    /// Latin, Greek and Cyrillic fonts, whose spaces neither kern nor join. Not the
    /// right-to-left fonts (shaped by run for their order) nor the emoji font.
    pub fn shapes_by_word(self) -> bool {
        matches!(self, FontId::Regular | FontId::Bold | FontId::Mono)
    }
}

/// The characters whose coverage is looked up once per process: up to U+2FFF, every
/// alphabet the fonts draw and their punctuation. The font fallback asks for every character
/// of every message of an Art. 15 export, and a `cmap` lookup each time was a sixth of its
/// PDF's time (docs/benchmarks.md).
const COVERED: usize = 0x3000;

/// Per font, one bit per character below [`COVERED`]: whether the font has a glyph for it.
fn coverage() -> &'static [[u64; COVERED / 64]] {
    static COVERAGE: OnceLock<Vec<[u64; COVERED / 64]>> = OnceLock::new();
    COVERAGE.get_or_init(|| {
        faces()
            .iter()
            .map(|face| {
                let mut bits = [0u64; COVERED / 64];
                if let Some(face) = face {
                    for (i, c) in (0..COVERED as u32).filter_map(|i| Some(i).zip(char::from_u32(i)))
                    {
                        if face.glyph_index(c).is_some() {
                            bits[i as usize / 64] |= 1 << (i % 64);
                        }
                    }
                }
                bits
            })
            .collect()
    })
}

fn faces() -> &'static [Option<Face<'static>>] {
    static FACES: OnceLock<Vec<Option<Face<'static>>>> = OnceLock::new();
    FACES.get_or_init(|| ALL.iter().map(|f| Face::from_slice(f.data(), 0)).collect())
}

fn krillas() -> &'static [Option<krilla::text::Font>] {
    static FONTS: OnceLock<Vec<Option<krilla::text::Font>>> = OnceLock::new();
    FONTS.get_or_init(|| {
        ALL.iter()
            .map(|f| krilla::text::Font::new(f.data().into(), 0))
            .collect()
    })
}

/// Characters that belong to whatever comes before them (joiners, variation selectors,
/// combining marks): they never choose a font of their own.
pub fn is_attached(c: char) -> bool {
    matches!(c,
        '\u{200C}'..='\u{200F}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}'
        | '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0020}'..='\u{E007F}')
}

/// The font that draws `c` in text of the given primary font, or None when no embedded
/// font has it.
pub fn font_for(c: char, primary: FontId) -> Option<FontId> {
    if primary.has(c) {
        return Some(primary);
    }
    // Emoji presentation first for pictographs, so 😊 is the emoji glyph and not a text
    // fallback; then the scripts.
    [
        FontId::Emoji,
        FontId::Regular,
        FontId::Arabic,
        FontId::Hebrew,
        FontId::Mono,
    ]
    .into_iter()
    .find(|f| f.has(c))
}

/// Replaces every character no embedded font can draw with a visible placeholder
/// (`[U+4E2D]`) and drops control characters other than line breaks and tabs.
pub fn printable(text: &str, primary: FontId) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' {
            out.push('\n');
        } else if c == '\t' {
            out.push(' ');
        } else if c.is_control() {
            continue;
        } else if is_attached(c) || font_for(c, primary).is_some() {
            out.push(c);
        } else {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_font_loads() {
        for f in ALL {
            assert!(f.face().is_some() && f.krilla().is_some(), "{f:?}");
        }
    }

    /// The coverage bits answer as the font's own `cmap` does, below and above the line.
    #[test]
    fn remembered_coverage_is_the_fonts_own() {
        for f in ALL {
            let face = f.face().unwrap();
            for i in (0..0x3100u32).chain(0x1F600..0x1F650) {
                let Some(c) = char::from_u32(i) else { continue };
                assert_eq!(f.has(c), face.glyph_index(c).is_some(), "{f:?} U+{i:04X}");
            }
        }
    }

    #[test]
    fn every_script_a_customer_name_uses_has_a_font() {
        for (c, font) in [
            ('ş', FontId::Regular),
            ('Ł', FontId::Regular),
            ('ř', FontId::Regular),
            ('ệ', FontId::Regular),
            ('Δ', FontId::Regular),
            ('О', FontId::Regular),
            ('م', FontId::Arabic),
            ('ש', FontId::Hebrew),
            ('😊', FontId::Emoji),
        ] {
            assert_eq!(font_for(c, FontId::Regular), Some(font), "{c}");
        }
    }

    #[test]
    fn a_character_without_a_font_is_named_not_replaced_by_a_question_mark() {
        assert_eq!(printable("中 Ayşe", FontId::Regular), "[U+4E2D] Ayşe");
        assert_eq!(printable("a\u{7}b\tc", FontId::Regular), "ab c");
    }
}

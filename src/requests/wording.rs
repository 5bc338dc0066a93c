//! An install's own wording for the letters to data subjects: the salutation, paragraphs added
//! before the sign-off (e.g. office hours, a reference), and the sign-off itself, per
//! language, from `<templates_dir>/letters.toml`. The legal content of a letter — what was
//! erased, kept and why — stays Hafen's: a company changes its tone, not the law it cites.
//!
//! ```toml
//! [de]
//! salutation = "Sehr geehrte Damen und Herren,"
//! extra = ["Unser Zeichen: {request_id}. Sie erreichen uns montags bis freitags von 9 bis 17 Uhr."]
//! closing = ["Mit freundlichen Grüßen", "{controller}", "Datenschutzteam"]
//! ```
//!
//! Variables: `{controller}` (the tenant's name), `{request_id}`, `{received}` (the day the
//! request came in) and `{date}` (the letter's date), written the letter's way. A file with an
//! unknown key or variable stops the server at start, naming both.

use std::path::Path;

use serde::Deserialize;

use crate::i18n::Lang;

/// The variables a wording may use.
pub const VARIABLES: [&str; 4] = ["controller", "request_id", "received", "date"];

/// The wording for both languages; what a file leaves out stays Hafen's.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterWording {
    #[serde(default)]
    pub de: Wording,
    #[serde(default)]
    pub en: Wording,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wording {
    pub salutation: Option<String>,
    /// Paragraphs after Hafen's own, before the sign-off.
    #[serde(default)]
    pub extra: Vec<String>,
    /// The sign-off lines.
    pub closing: Option<Vec<String>>,
}

/// The values the variables stand for in one letter.
pub struct Values<'a> {
    pub controller: &'a str,
    pub request_id: &'a str,
    pub received: &'a str,
    pub date: &'a str,
}

impl LetterWording {
    /// Reads `<dir>/letters.toml`; no file means Hafen's own wording.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("letters.toml");
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let wording: Self = toml::from_str(text)?;
        for (lang, w) in [("de", &wording.de), ("en", &wording.en)] {
            let texts = w
                .salutation
                .iter()
                .chain(&w.extra)
                .chain(w.closing.iter().flatten());
            for t in texts {
                if let Some(unknown) = unknown_variable(t) {
                    anyhow::bail!(
                        "[{lang}] uses {{{unknown}}}; the variables are {}",
                        VARIABLES.map(|v| format!("{{{v}}}")).join(", ")
                    );
                }
            }
        }
        Ok(wording)
    }

    pub fn get(&self, lang: Lang) -> &Wording {
        match lang {
            Lang::De => &self.de,
            Lang::En => &self.en,
        }
    }
}

/// The first `{name}` in `text` that is not one of [`VARIABLES`].
fn unknown_variable(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if !VARIABLES.contains(&name) {
            return Some(name.to_string());
        }
        rest = &after[close + 1..];
    }
    None
}

/// `text` with its variables filled in.
pub fn fill(text: &str, v: &Values) -> String {
    text.replace("{controller}", v.controller)
        .replace("{request_id}", v.request_id)
        .replace("{received}", v.received)
        .replace("{date}", v.date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wording_file_is_read_and_checked() {
        let w = LetterWording::parse(
            "[de]\nsalutation = \"Sehr geehrte Damen und Herren,\"\nclosing = [\"Mit freundlichen Grüßen\", \"{controller}\"]\n",
        )
        .unwrap();
        assert_eq!(
            w.de.salutation.as_deref(),
            Some("Sehr geehrte Damen und Herren,")
        );
        assert_eq!(w.en, Wording::default());
        let e =
            LetterWording::parse("[de]\nextra = [\"Ihr Zeichen {kundennummer}\"]\n").unwrap_err();
        assert!(e.to_string().contains("{kundennummer}"), "{e}");
        assert!(e.to_string().contains("{request_id}"), "{e}");
        let e = LetterWording::parse("[de]\ngruss = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("gruss"), "{e}");
        let v = Values {
            controller: "Muster GmbH",
            request_id: "42",
            received: "01.12.2026",
            date: "04.12.2026",
        };
        assert_eq!(
            fill("{controller}, Zeichen {request_id} vom {received}", &v),
            "Muster GmbH, Zeichen 42 vom 01.12.2026"
        );
    }
}

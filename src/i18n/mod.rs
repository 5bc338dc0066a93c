//! What a person reads, in their language: [`Lang`] (German by default: Hafen's readers are in
//! Germany), dates, times and numbers with the reader's marks, the web interface's words
//! ([`Text`]) and the audit log's actions in words (`audit_words`). Every document, letter,
//! page and message a person sees takes its words and formats from here.

pub mod audit_words;
pub mod text;

pub use text::Text;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The language of a report: German by default (the reports are read in Germany).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    De,
    En,
}

impl Lang {
    /// The text in this language.
    pub fn pick(self, de: &str, en: &str) -> String {
        match self {
            Lang::De => de.to_string(),
            Lang::En => en.to_string(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "de" => Ok(Lang::De),
            "en" => Ok(Lang::En),
            _ => Err(Error::invalid("lang", "must be de or en")),
        }
    }
}

/// The zone every document states its times in: Hafen runs in Germany, and a DPO reads a
/// deletion at "22:05" as the time on the wall (docs/decisions.md).
pub const ZONE: chrono_tz::Tz = chrono_tz::Europe::Berlin;

fn local(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono_tz::Tz> {
    at.with_timezone(&ZONE)
}

/// The zone's name at that moment, in the reader's language: MEZ/MESZ or CET/CEST.
fn zone_name(at: &chrono::DateTime<chrono_tz::Tz>, lang: Lang) -> &'static str {
    use chrono::Offset;
    let summer = at.offset().fix().local_minus_utc() == 7200;
    match (lang, summer) {
        (Lang::De, false) => "MEZ",
        (Lang::De, true) => "MESZ",
        (Lang::En, false) => "CET",
        (Lang::En, true) => "CEST",
    }
}

/// A moment as a person reads it in a document: to the minute, in German time, the zone named
/// ("03.12.2026, 22:05 MEZ").
pub fn moment(at: chrono::DateTime<chrono::Utc>, lang: Lang) -> String {
    stamp(at, lang, "%H:%M")
}

/// A moment to the second, for evidence (consent proofs, deletion certificates):
/// "03.12.2026, 22:05:38 MEZ".
pub fn moment_precise(at: chrono::DateTime<chrono::Utc>, lang: Lang) -> String {
    stamp(at, lang, "%H:%M:%S")
}

/// Day, time in `clock` format and zone name, in German time.
fn stamp(at: chrono::DateTime<chrono::Utc>, lang: Lang, clock: &str) -> String {
    let at = local(at);
    let day = match lang {
        Lang::De => at.format("%d.%m.%Y"),
        Lang::En => at.format("%-d %b %Y"),
    };
    format!("{day}, {} {}", at.format(clock), zone_name(&at, lang))
}

/// The day a moment falls on in German time, as a person reads it ("03.12.2026").
pub fn day(at: chrono::DateTime<chrono::Utc>, lang: Lang) -> String {
    date(local(at).date_naive(), lang)
}

/// The day a moment falls on in German time.
pub fn local_date(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    local(at).date_naive()
}

/// A calendar date as a person reads it: "03.12.2026", "3 Dec 2026" (short enough for a
/// table column, unambiguous in any English-speaking country).
pub fn date(d: chrono::NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::De => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%-d %b %Y").to_string(),
    }
}

/// A whole number with thousands grouped the reader's way ("12.345" / "12,345").
pub fn integer(n: i64, lang: Lang) -> String {
    let digits = n.unsigned_abs().to_string();
    let sep = match lang {
        Lang::De => '.',
        Lang::En => ',',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A decimal with the reader's decimal mark ("99,5" / "99.5").
pub fn decimal(x: f64, places: usize, lang: Lang) -> String {
    let s = format!("{x:.places$}");
    match lang {
        Lang::De => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A percentage as the reader writes it: "99,5 %" in German (DIN 5008), "99.5%" in English.
pub fn percent(x: f64, lang: Lang) -> String {
    match lang {
        Lang::De => format!("{} %", decimal(x, 1, lang)),
        Lang::En => format!("{}%", decimal(x, 1, lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_german_wall_clock_with_the_zone_named() {
        let winter = "2026-12-03T21:05:38.661847731Z".parse().unwrap();
        assert_eq!(moment(winter, Lang::De), "03.12.2026, 22:05 MEZ");
        assert_eq!(moment(winter, Lang::En), "3 Dec 2026, 22:05 CET");
        assert_eq!(moment_precise(winter, Lang::De), "03.12.2026, 22:05:38 MEZ");
        let summer = "2026-07-01T22:30:00Z".parse().unwrap();
        assert_eq!(moment(summer, Lang::De), "02.07.2026, 00:30 MESZ");
        assert_eq!(day(summer, Lang::De), "02.07.2026");
        assert_eq!(day(summer, Lang::En), "2 Jul 2026");
    }

    #[test]
    fn numbers_use_the_readers_marks() {
        assert_eq!(integer(0, Lang::De), "0");
        assert_eq!(integer(999, Lang::De), "999");
        assert_eq!(integer(1234567, Lang::De), "1.234.567");
        assert_eq!(integer(-12345, Lang::En), "-12,345");
        assert_eq!(percent(99.5, Lang::De), "99,5 %");
        assert_eq!(percent(100.0, Lang::En), "100.0%");
    }
}

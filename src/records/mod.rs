//! Documents for people: the GDPR register a DPO keeps (`register`), what Hafen knows about
//! its own processing (`live`), the reports built from both (`kinds`, rendered by `report` as
//! JSON, CSV, XLSX and PDF through `crate::documents`).

pub mod instances;
pub mod kinds;
pub mod live;
pub mod register;
pub mod report;

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

/// A moment as a person reads it in a document: to the minute, with its zone.
pub fn moment(at: chrono::DateTime<chrono::Utc>, lang: Lang) -> String {
    match lang {
        Lang::De => at.format("%d.%m.%Y, %H:%M UTC").to_string(),
        Lang::En => at.format("%-d %b %Y, %H:%M UTC").to_string(),
    }
}

/// A day as a person reads it in a document.
pub fn day(at: chrono::DateTime<chrono::Utc>, lang: Lang) -> String {
    match lang {
        Lang::De => at.format("%d.%m.%Y").to_string(),
        Lang::En => at.format("%-d %B %Y").to_string(),
    }
}

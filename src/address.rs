//! Where a person is reached and what they are called: the platform (a known [`Platform`] or
//! another [`ChannelName`] an integration uses), their [`Address`] on it and the
//! [`DisplayName`] it reports. Every domain speaks of people in these terms — contacts are
//! found by them, messages carry them, channels deliver to them — so they stand below all of
//! them, validated once at the edge.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sensitive::Sensitive;

/// A platform Hafen connects to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Whatsapp,
    Messenger,
    Telegram,
}

/// A stored channel name (`whatsapp`, …) as people know it; an unknown name as it is.
pub fn channel_label(name: &str) -> String {
    Platform::parse(name)
        .map(Platform::label)
        .unwrap_or(name)
        .to_string()
}

impl Platform {
    /// The platform's name as people know it.
    pub fn label(self) -> &'static str {
        match self {
            Platform::Whatsapp => "WhatsApp",
            Platform::Messenger => "Facebook Messenger",
            Platform::Telegram => "Telegram",
        }
    }

    /// Every platform Hafen connects to, in the order people see them.
    pub const ALL: [Platform; 3] = [Self::Whatsapp, Self::Messenger, Self::Telegram];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Messenger => "messenger",
            Self::Telegram => "telegram",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "whatsapp" => Some(Self::Whatsapp),
            "messenger" => Some(Self::Messenger),
            "telegram" => Some(Self::Telegram),
            _ => None,
        }
    }
}

/// The channel a contact is reached on: `whatsapp`, `messenger`, `telegram`, or another
/// lowercase name of 1–32 characters (`a-z`, `0-9`, `_`, `-`) for integrations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

impl ChannelName {
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(Error::invalid(
                field,
                "must be 1-32 characters of a-z, 0-9, '_' or '-', starting with a letter (e.g. whatsapp, messenger, telegram)",
            ));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Channels whose addresses are phone numbers.
    fn uses_phone_numbers(&self) -> bool {
        matches!(self.0.as_str(), "whatsapp" | "sms")
    }
}

/// A contact's address on its channel, normalised so the same person always maps to the same
/// contact: phone numbers (WhatsApp, SMS) become E.164 digits without `+`; platform ids
/// (Messenger PSID, Telegram chat id) are kept as given, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(Sensitive<String>);

impl Address {
    pub fn parse(field: &str, channel: &ChannelName, s: &str) -> Result<Self> {
        let s = s.trim();
        if channel.uses_phone_numbers() {
            let digits: String = s
                .strip_prefix('+')
                .or_else(|| s.strip_prefix("00"))
                .unwrap_or(s)
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '/'))
                .collect();
            let valid = (6..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            if !valid {
                return Err(Error::invalid(
                    field,
                    "must be a phone number in international format (e.g. +49 151 …, 6-15 digits)",
                ));
            }
            return Ok(Self(Sensitive::new(digits)));
        }
        if s.is_empty() || s.chars().count() > 256 || s.chars().any(char::is_control) {
            return Err(Error::invalid(
                field,
                "must be 1-256 characters without control characters",
            ));
        }
        Ok(Self(Sensitive::new(s.to_string())))
    }

    /// An address as a platform delivers it: a phone number where it looks like one (so it
    /// matches contacts created through the API), otherwise the platform's opaque id (e.g. a
    /// WhatsApp `user_id` when `wa_id` is empty).
    pub fn parse_platform_id(field: &str, channel: &ChannelName, s: &str) -> Result<Self> {
        Self::parse(field, channel, s).or_else(|e| {
            let s = s.trim();
            if channel.uses_phone_numbers()
                && !s.is_empty()
                && s.len() <= 256
                && !s.chars().any(char::is_control)
            {
                Ok(Self(Sensitive::new(format!("id:{s}"))))
            } else {
                Err(e)
            }
        })
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A contact's display name as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(Sensitive<String>);

impl DisplayName {
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 256 || s.chars().any(char::is_control) {
            return Err(Error::invalid(
                field,
                "must be 1-256 characters without control characters",
            ));
        }
        Ok(Self(Sensitive::new(s.to_string())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

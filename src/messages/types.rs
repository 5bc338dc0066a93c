//! Validated message input. Everything after [`NewMessage::parse`] handles only valid values.
//! Validation errors name the field and the rule, never the value (it may be personal).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sensitive::Sensitive;

use crate::address::{Address, ChannelName, DisplayName};

/// Largest body accepted for one message, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest raw platform payload accepted for one message, in bytes (serialised JSON).
pub const MAX_RAW_BYTES: usize = 256 * 1024;
pub const MAX_EXTERNAL_ID_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the contact to the company.
    In,
    /// From the company to the contact.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        if s == "out" {
            Self::Out
        } else {
            Self::In
        }
    }
}

/// What a message is. Covers the platforms' documented types; a type Hafen does not know is
/// stored as `unsupported` (with its raw payload), never rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Image,
    Audio,
    Video,
    Document,
    Sticker,
    Location,
    Contacts,
    Interactive,
    Button,
    Reaction,
    Order,
    System,
    Postback,
    QuickReply,
    Template,
    Unsupported,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Document => "document",
            Self::Sticker => "sticker",
            Self::Location => "location",
            Self::Contacts => "contacts",
            Self::Interactive => "interactive",
            Self::Button => "button",
            Self::Reaction => "reaction",
            Self::Order => "order",
            Self::System => "system",
            Self::Postback => "postback",
            Self::QuickReply => "quick_reply",
            Self::Template => "template",
            Self::Unsupported => "unsupported",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .unwrap_or(Self::Unsupported)
    }
}

/// The API's JSON shape of a message to store.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    pub contact: ContactInput,
    pub direction: Direction,
    /// When the message was sent or received on the platform (RFC 3339).
    #[schema(example = "2026-11-26T10:15:00Z")]
    pub occurred_at: String,
    pub kind: MessageKind,
    /// The readable content (text, caption, button title); sealed at rest.
    #[serde(default)]
    pub body: Option<String>,
    /// The platform's message id (e.g. WhatsApp `wamid…`); unique per tenant and channel.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The platform's original payload, if any; sealed at rest.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub raw: Option<serde_json::Value>,
    /// A business letter (it prepares, concludes, executes or cancels a deal; § 257 HGB):
    /// kept under the rules for business letters. Default false.
    #[serde(default)]
    pub business_letter: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// `whatsapp`, `messenger`, `telegram`, or another channel name.
    #[schema(example = "whatsapp")]
    pub channel: String,
    /// Phone number (WhatsApp), page-scoped id (Messenger) or chat id (Telegram).
    #[schema(example = "+49 151 23456789")]
    pub address: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A message ready to be sealed and stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub channel: ChannelName,
    pub address: Address,
    pub display_name: Option<DisplayName>,
    pub direction: Direction,
    pub occurred_at: DateTime<Utc>,
    pub kind: MessageKind,
    pub body: Option<Sensitive<String>>,
    pub external_id: Option<Sensitive<String>>,
    pub raw: Option<Sensitive<Vec<u8>>>,
    /// The registered channel it came through (webhooks) or goes out on (sends).
    pub channel_id: Option<String>,
    /// Files to download through the platform (webhooks).
    pub media: Vec<crate::messages::inbound::MediaRef>,
    /// Marked as a business letter (by the caller, or by the channel's setting).
    pub business_letter: bool,
    /// The contact's new address, when the message announces that the person changed it
    /// (WhatsApp `user_changed_number`): stored with the message, in the same transaction.
    pub new_address: Option<Address>,
}

/// How far ahead of the server's clock a message may be dated (clocks of other systems drift).
/// A message dated years ahead by mistake would outlive every retention rule that counts from
/// collection, so it is refused rather than stored.
pub const MAX_AHEAD_HOURS: i64 = 24;

impl NewMessage {
    /// Validates one input; `at` prefixes field names (e.g. `messages[3].`). `now` is the
    /// server's time: a message may be dated at most [`MAX_AHEAD_HOURS`] ahead of it.
    pub fn parse(input: MessageInput, at: &str, now: DateTime<Utc>) -> Result<Self> {
        let channel = ChannelName::parse(&format!("{at}contact.channel"), &input.contact.channel)?;
        let address = Address::parse(
            &format!("{at}contact.address"),
            &channel,
            &input.contact.address,
        )?;
        let display_name = input
            .contact
            .display_name
            .as_deref()
            .map(|n| DisplayName::parse(&format!("{at}contact.display_name"), n))
            .transpose()?;
        let occurred_at = DateTime::parse_from_rfc3339(input.occurred_at.trim())
            .map_err(|_| {
                Error::invalid(
                    format!("{at}occurred_at"),
                    "must be an RFC 3339 timestamp with offset, e.g. 2026-11-26T10:15:00Z",
                )
            })?
            .with_timezone(&Utc);
        if occurred_at.timestamp() < 0 {
            return Err(Error::invalid(
                format!("{at}occurred_at"),
                "must not be before 1970",
            ));
        }
        if occurred_at > now + chrono::Duration::hours(MAX_AHEAD_HOURS) {
            return Err(Error::invalid(
                format!("{at}occurred_at"),
                format!(
                    "must not be more than {MAX_AHEAD_HOURS} hours ahead of the server's clock"
                ),
            ));
        }
        if let Some(body) = &input.body {
            if body.len() > MAX_BODY_BYTES {
                return Err(Error::invalid(
                    format!("{at}body"),
                    format!("must be at most {MAX_BODY_BYTES} bytes"),
                ));
            }
        }
        if let Some(id) = &input.external_id {
            if id.trim().is_empty()
                || id.chars().count() > MAX_EXTERNAL_ID_CHARS
                || id.chars().any(char::is_control)
            {
                return Err(Error::invalid(
                    format!("{at}external_id"),
                    format!(
                        "must be 1-{MAX_EXTERNAL_ID_CHARS} characters without control characters"
                    ),
                ));
            }
        }
        let raw = match input.raw {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => {
                let bytes = serde_json::to_vec(&value).map_err(Error::internal)?;
                if bytes.len() > MAX_RAW_BYTES {
                    return Err(Error::invalid(
                        format!("{at}raw"),
                        format!("must be at most {MAX_RAW_BYTES} bytes"),
                    ));
                }
                Some(Sensitive::new(bytes))
            }
        };
        Ok(Self {
            channel,
            address,
            display_name,
            direction: input.direction,
            occurred_at,
            kind: input.kind,
            body: input.body.map(Sensitive::new),
            external_id: input
                .external_id
                .map(|s| Sensitive::new(s.trim().to_string())),
            raw,
            channel_id: None,
            media: Vec::new(),
            business_letter: input.business_letter,
            new_address: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> ChannelName {
        ChannelName::parse("c", s).unwrap()
    }

    #[test]
    fn phone_numbers_normalise_to_the_same_contact() {
        let wa = ch("whatsapp");
        let a = Address::parse("a", &wa, "+49 151 2345-6789").unwrap();
        let b = Address::parse("a", &wa, "0049151 23456789").unwrap();
        assert_eq!(a.expose(), "4915123456789");
        assert_eq!(a, b);
        assert!(Address::parse("a", &wa, "12ab").is_err());
        assert!(Address::parse("a", &wa, "+0151").is_err());
        let tg = ch("telegram");
        assert_eq!(
            Address::parse("a", &tg, " -100123 ").unwrap().expose(),
            "-100123"
        );
    }

    #[test]
    fn errors_never_echo_the_value() {
        let err =
            Address::parse("contact.address", &ch("whatsapp"), "+49-SECRET-MARKER").unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
        assert!(ChannelName::parse("c", "WhatsApp").is_err());
        assert!(ChannelName::parse("c", "").is_err());
    }

    #[test]
    fn unknown_stored_kind_reads_as_unsupported() {
        assert_eq!(
            MessageKind::from_stored("quick_reply"),
            MessageKind::QuickReply
        );
        assert_eq!(
            MessageKind::from_stored("hologram"),
            MessageKind::Unsupported
        );
    }
}

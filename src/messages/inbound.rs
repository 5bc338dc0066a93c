//! What a platform webhook delivers, in Hafen's terms. The platform parsers
//! (`whatsapp::parse`, `messenger::parse`, `telegram::parse`) turn a verified raw body into
//! these events; they never panic and never reject a message type they do not know (it becomes
//! [`MessageKind::Unsupported`] with its raw item kept).

use chrono::{DateTime, Utc};

use crate::messages::MessageKind;

/// One item of a webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundEvent {
    Message(InboundMessage),
    Status(StatusUpdate),
    /// An item that is answered but not stored, and why: the receipt and the metric
    /// `hafen_webhook_items_ignored_total` count each.
    Skipped(Skip),
}

/// Why an item of a delivery was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// Another account's event (one Meta app, several numbers or pages).
    OtherAccount,
    /// The page's own message reported back (Messenger echo); Hafen stored it when it sent it.
    Echo,
    /// Bot or chat administration, not conversation (Telegram member changes, polls, …).
    Administration,
    /// A webhook field Hafen does not read (WhatsApp `changes[].field` other than `messages`
    /// and the groups fields).
    UnknownField,
    /// No id: of the message, its sender, chat or group.
    MissingId,
    /// No time, or not a time.
    BadTimestamp,
    /// Anything else the item lacks: an address the platform's rules refuse, a status Hafen
    /// does not know, a read watermark naming no message.
    Unusable,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtherAccount => "other_account",
            Self::Echo => "echo",
            Self::Administration => "administration",
            Self::UnknownField => "unknown_field",
            Self::MissingId => "missing_id",
            Self::BadTimestamp => "bad_timestamp",
            Self::Unusable => "unusable",
        }
    }
}

/// A message from a contact (or, for group/system events, about one).
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The platform account the payload was addressed to: WhatsApp `metadata.phone_number_id`,
    /// Messenger page id (`entry[].id` / `recipient.id`), Telegram: None (the bot is the channel).
    pub account_id: Option<String>,
    /// The contact's address: WhatsApp `from` (`wa_id`; falls back to `user_id` when empty),
    /// Messenger sender PSID, Telegram `chat.id` as a decimal string.
    pub address: String,
    /// Profile name (WhatsApp `contacts[].profile.name`, Telegram first + last name).
    pub display_name: Option<String>,
    /// The platform's message id: WhatsApp `wamid…`, Messenger `mid`, Telegram
    /// `"<chat id>:<message id>"` (Telegram ids are only unique per chat); an edited Telegram
    /// message gets `"<chat id>:<message id>:edit:<edit_date>"`.
    pub external_id: String,
    pub occurred_at: DateTime<Utc>,
    pub kind: MessageKind,
    /// Readable content where one exists: text, caption, button/list title, postback title,
    /// emoji of a reaction, "lat,lon name address" for locations, contact names for contacts.
    pub body: Option<String>,
    /// Files to download through the platform API.
    pub media: Vec<MediaRef>,
    /// The contact's new address, announced by this message (WhatsApp system message
    /// `user_changed_number`, `system.wa_id`): the contact moves to it.
    pub new_address: Option<String>,
    /// The whole raw item (one `messages[]` entry with its `contacts[]` peer, one `messaging[]`
    /// entry, one Telegram update): stored sealed.
    pub raw: serde_json::Value,
}

/// A file referenced by a message; the webhook carries only its id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediaRef {
    /// WhatsApp media id, Telegram `file_id`; for Messenger the attachment URL (Messenger sends
    /// a direct URL instead of an id).
    pub media_id: String,
    pub mime_type: Option<String>,
    /// Lowercase hex SHA-256 the platform documents for the file (WhatsApp), if given.
    pub sha256: Option<String>,
    pub filename: Option<String>,
}

/// A delivery status for a message the company sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub account_id: Option<String>,
    /// The platform id of the outbound message (WhatsApp `statuses[].id`; Messenger `mids[]` of
    /// delivery/read events — a watermark event without mids gives one update with an empty id).
    pub external_id: String,
    pub status: DeliveryStatus,
    pub occurred_at: DateTime<Utc>,
    /// WhatsApp `recipient_id`, Messenger sender PSID.
    pub recipient: Option<String>,
    pub errors: Vec<PlatformError>,
    pub raw: serde_json::Value,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// An error a platform reported (WhatsApp `errors[]`: code, title, message, error_data.details).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PlatformError {
    pub code: i64,
    pub title: String,
    pub detail: Option<String>,
}

/// Why a body could not be turned into events. Messages name the rule, never the content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not valid JSON")]
    Malformed,
    #[error("the body is not a {expected} webhook (object = {found:?})")]
    WrongObject {
        expected: &'static str,
        found: Option<String>,
    },
    #[error("the payload lacks a required field: {0}")]
    MissingField(&'static str),
}

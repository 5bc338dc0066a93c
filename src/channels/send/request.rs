//! What a caller asks to send, checked before anything is stored: the message (text, template
//! or media), the channel, the purpose of a push, the idempotency key; and what it is told back.

use super::*;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The channel to send through; default: the one the contact last wrote on.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Repeating a request with the same key returns the first message instead of sending again.
    /// The `Idempotency-Key` header works too.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub template: Option<TemplateInput>,
    #[serde(default)]
    pub media: Option<MediaInput>,
    /// Marks a push (advertising, newsletter) for this consent purpose: sent only when the
    /// contact's consent for it is confirmed. Absent: a reply in the conversation.
    #[serde(default)]
    pub purpose_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    /// e.g. `de` or `de_DE`.
    pub language: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub components: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaInput {
    /// image, video, audio or document.
    pub kind: String,
    /// A URL the platform can fetch.
    pub url: String,
    #[serde(default)]
    pub caption: Option<String>,
}

/// The result of a send request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SendReceipt {
    pub message_id: String,
    /// queued (will be retried), sent or failed.
    pub status: String,
    pub error: Option<PlatformError>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// True when the idempotency key named an earlier request: nothing was sent again.
    pub duplicate: bool,
}

impl SendRequest {
    pub(super) fn validate(self) -> Result<Validated> {
        let chosen = [
            self.text.is_some(),
            self.template.is_some(),
            self.media.is_some(),
        ];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err(Error::invalid(
                "body",
                "give exactly one of text, template, media",
            ));
        }
        let outbound = if let Some(text) = self.text {
            if text.trim().is_empty() || text.chars().count() > 4096 {
                return Err(Error::invalid("text", "must be 1-4096 characters"));
            }
            Outbound::Text { text }
        } else if let Some(t) = self.template {
            let name_ok = !t.name.is_empty()
                && t.name.len() <= 512
                && t.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                return Err(Error::invalid(
                    "template.name",
                    "must be the template's name: a-z, 0-9 and '_'",
                ));
            }
            let lang_ok = (2..=8).contains(&t.language.len())
                && t.language
                    .bytes()
                    .all(|b| b.is_ascii_alphabetic() || b == b'_');
            if !lang_ok {
                return Err(Error::invalid(
                    "template.language",
                    "must be a language code like de or de_DE",
                ));
            }
            Outbound::Template {
                name: t.name,
                language: t.language,
                components: t.components,
            }
        } else if let Some(m) = self.media {
            if !matches!(m.kind.as_str(), "image" | "video" | "audio" | "document") {
                return Err(Error::invalid(
                    "media.kind",
                    "must be image, video, audio or document",
                ));
            }
            if !(m.url.starts_with("https://") || m.url.starts_with("http://"))
                || m.url.len() > 2048
            {
                return Err(Error::invalid(
                    "media.url",
                    "must be an http(s) URL of at most 2048 characters",
                ));
            }
            if m.caption.as_ref().is_some_and(|c| c.chars().count() > 1024) {
                return Err(Error::invalid(
                    "media.caption",
                    "must be at most 1024 characters",
                ));
            }
            Outbound::Media {
                kind: m.kind,
                url: m.url,
                caption: m.caption,
            }
        } else {
            return Err(Error::invalid(
                "body",
                "give exactly one of text, template, media",
            ));
        };
        if let Some(key) = &self.idempotency_key {
            if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "idempotency_key",
                    "must be 1-255 characters",
                ));
            }
        }
        Ok(Validated {
            outbound,
            channel_id: self.channel_id,
            idempotency_key: self.idempotency_key,
            purpose_id: self.purpose_id,
        })
    }
}

pub(super) struct Validated {
    pub(super) outbound: Outbound,
    pub(super) channel_id: Option<String>,
    pub(super) idempotency_key: Option<String>,
    pub(super) purpose_id: Option<String>,
}

pub(super) fn kind_of(message: &Outbound) -> MessageKind {
    match message {
        Outbound::Text { .. } => MessageKind::Text,
        Outbound::Template { .. } => MessageKind::Template,
        Outbound::Media { kind, .. } => match kind.as_str() {
            "image" => MessageKind::Image,
            "video" => MessageKind::Video,
            "audio" => MessageKind::Audio,
            _ => MessageKind::Document,
        },
    }
}

/// The readable part kept as the message body.
pub(super) fn body_of(message: &Outbound) -> Option<String> {
    match message {
        Outbound::Text { text } => Some(text.clone()),
        Outbound::Template { name, language, .. } => {
            Some(format!("[template {name} ({language})]"))
        }
        Outbound::Media { caption, .. } => caption.clone(),
    }
}

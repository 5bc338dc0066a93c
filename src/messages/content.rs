//! What a message says, typed by kind: the parts of a platform's payload people need (a shared
//! contact's phone numbers, an order's items and prices, the payload of a pressed button, the id
//! of a chosen list entry, the error code of a message the platform could not deliver), so an
//! integrator reads `content` instead of digging through `raw`.
//!
//! `content.type` is always the message's `kind`. It is derived when the message is read, from
//! the sealed raw payload (see `messages::parse::content`), so messages stored before this
//! existed read the same way; without a platform payload (messages stored through the API, sent
//! messages) it is built from `body`.

use serde::Serialize;

use super::MessageKind;
use crate::messages::inbound::PlatformError;

/// A message's content, by kind. `type` names the kind.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text(TextContent),
    Image(MediaContent),
    Audio(MediaContent),
    Video(MediaContent),
    Document(MediaContent),
    Sticker(MediaContent),
    Location(LocationContent),
    Contacts(ContactsContent),
    Interactive(InteractiveContent),
    Button(ChoiceContent),
    Reaction(ReactionContent),
    Order(OrderContent),
    System(SystemContent),
    Postback(ChoiceContent),
    QuickReply(ChoiceContent),
    Template(TemplateContent),
    Unsupported(UnsupportedContent),
}

/// Text a person wrote.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct TextContent {
    pub text: Option<String>,
}

/// A file: image, audio, video, document or sticker. The file itself is an attachment of the
/// message (`GET …/messages/{id}/attachments/{n}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct MediaContent {
    /// The text sent with the file (for a sticker: its emoji).
    pub caption: Option<String>,
    /// The file's name as the sender gave it (documents).
    pub filename: Option<String>,
    pub mime_type: Option<String>,
}

/// A shared location or place.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct LocationContent {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The place's name (a venue's title, a pinned location's label).
    pub name: Option<String>,
    pub address: Option<String>,
    pub url: Option<String>,
}

/// Contact cards the person shared (WhatsApp `contacts`, Telegram `contact`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct ContactsContent {
    pub contacts: Vec<SharedContact>,
}

/// One shared contact card.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct SharedContact {
    pub name: Option<String>,
    pub phones: Vec<SharedPhone>,
    pub emails: Vec<String>,
    /// Company, department and title, as given.
    pub organization: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct SharedPhone {
    /// The number as shown on the card.
    pub phone: String,
    /// The number's WhatsApp id (digits), when it has one.
    pub wa_id: Option<String>,
    /// e.g. `CELL`, `WORK`, `HOME`.
    pub label: Option<String>,
}

/// An answer to an interactive message (WhatsApp): a reply button, a list entry, a Flow.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct InteractiveContent {
    /// `button_reply`, `list_reply`, `nfm_reply` (a Flow's answer) or another type the platform sent.
    pub reply: Option<String>,
    /// The id the company gave the button or list entry when it sent the message.
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// A Flow's answer (`response_json`), parsed.
    #[schema(value_type = Option<Object>)]
    pub response: Option<serde_json::Value>,
}

/// A pressed button or chosen suggestion: WhatsApp template buttons (`button`), Messenger
/// `postback` and `quick_reply`, Telegram inline keyboard buttons (`button`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct ChoiceContent {
    /// What the person saw and pressed (or wrote, for a quick reply).
    pub text: Option<String>,
    /// The value the company attached to the button when it sent the message.
    pub payload: Option<String>,
}

/// A reaction to an earlier message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct ReactionContent {
    /// The emoji; none when the person took their reaction back.
    pub emoji: Option<String>,
    /// The platform id (`external_id`) of the message reacted to.
    pub message_external_id: Option<String>,
}

/// An order from a catalogue (WhatsApp).
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct OrderContent {
    pub catalog_id: Option<String>,
    /// The text the person wrote with the order.
    pub note: Option<String>,
    pub items: Vec<OrderItem>,
    /// Sum of quantity × price over the items, when they all have a price in one currency.
    pub total: Option<f64>,
    /// The items' currency, when they share one (ISO 4217).
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct OrderItem {
    /// The product's id in the catalogue (`product_retailer_id`).
    pub product_id: Option<String>,
    pub quantity: Option<f64>,
    /// Price of one item.
    pub price: Option<f64>,
    pub currency: Option<String>,
}

/// Something that happened to the conversation rather than a message from the person: a changed
/// number, a group event, members joining.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct SystemContent {
    /// The platform's name for the event, e.g. `user_changed_number`, `group_create`,
    /// `request_welcome`, `new_chat_members`.
    pub event: Option<String>,
    pub text: Option<String>,
    /// The person's new address after `user_changed_number` (the contact moved to it).
    pub new_address: Option<String>,
}

/// A template message (sent by the company) or a shared structured message (Messenger).
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct TemplateContent {
    pub name: Option<String>,
    pub text: Option<String>,
}

/// Content the platform could not deliver or Hafen does not read (kept whole in `raw`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct UnsupportedContent {
    /// What the platform called it (e.g. Telegram `poll`, `dice`), when known.
    pub platform_type: Option<String>,
    /// The platform's reasons (WhatsApp `errors[]`, e.g. code 131051 "Message type unknown").
    pub errors: Vec<PlatformError>,
}

impl Content {
    /// The content of a message without a platform payload: the body in the kind's main field.
    pub fn from_body(kind: MessageKind, body: Option<&str>) -> Self {
        let text = body.map(str::to_string);
        let media = || MediaContent {
            caption: text.clone(),
            ..MediaContent::default()
        };
        let choice = || ChoiceContent {
            text: text.clone(),
            payload: None,
        };
        match kind {
            MessageKind::Text => Self::Text(TextContent { text }),
            MessageKind::Image => Self::Image(media()),
            MessageKind::Audio => Self::Audio(media()),
            MessageKind::Video => Self::Video(media()),
            MessageKind::Document => Self::Document(media()),
            MessageKind::Sticker => Self::Sticker(media()),
            MessageKind::Location => Self::Location(LocationContent {
                name: text,
                ..LocationContent::default()
            }),
            MessageKind::Contacts => Self::Contacts(ContactsContent {
                contacts: text
                    .map(|name| SharedContact {
                        name: Some(name),
                        ..SharedContact::default()
                    })
                    .into_iter()
                    .collect(),
            }),
            MessageKind::Interactive => Self::Interactive(InteractiveContent {
                title: text,
                ..InteractiveContent::default()
            }),
            MessageKind::Button => Self::Button(choice()),
            MessageKind::Postback => Self::Postback(choice()),
            MessageKind::QuickReply => Self::QuickReply(choice()),
            MessageKind::Reaction => Self::Reaction(ReactionContent {
                emoji: text,
                message_external_id: None,
            }),
            MessageKind::Order => Self::Order(OrderContent {
                note: text,
                ..OrderContent::default()
            }),
            MessageKind::System => Self::System(SystemContent {
                text,
                ..SystemContent::default()
            }),
            MessageKind::Template => Self::Template(TemplateContent { name: None, text }),
            MessageKind::Unsupported => Self::Unsupported(UnsupportedContent::default()),
        }
    }

    /// The sum of an order's items when every item has a quantity and a price in one currency.
    pub fn order_total(items: &[OrderItem]) -> (Option<f64>, Option<String>) {
        let currency = items.first().and_then(|i| i.currency.clone());
        let same = items.iter().all(|i| i.currency == currency);
        if items.is_empty() || !same {
            return (None, None);
        }
        let sum: Option<f64> = items
            .iter()
            .map(|i| Some(i.quantity? * i.price?))
            .sum::<Option<f64>>();
        (sum.map(|s| (s * 100.0).round() / 100.0), currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_the_kind() {
        for kind in [
            MessageKind::Text,
            MessageKind::Document,
            MessageKind::QuickReply,
            MessageKind::Unsupported,
        ] {
            let json = serde_json::to_value(Content::from_body(kind, Some("x"))).unwrap();
            assert_eq!(json["type"], kind.as_str());
        }
    }

    #[test]
    fn an_order_totals_only_in_one_currency() {
        let item = |q: f64, p: f64, c: &str| OrderItem {
            product_id: None,
            quantity: Some(q),
            price: Some(p),
            currency: Some(c.to_string()),
        };
        assert_eq!(
            Content::order_total(&[item(2.0, 30.0, "EUR"), item(1.0, 9.99, "EUR")]),
            (Some(69.99), Some("EUR".to_string()))
        );
        assert_eq!(
            Content::order_total(&[item(2.0, 30.0, "EUR"), item(1.0, 9.99, "USD")]),
            (None, None)
        );
    }
}

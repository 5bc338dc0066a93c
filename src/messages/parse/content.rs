//! A stored message's typed content, read from the raw payload its webhook delivered (kept
//! sealed with the message): the other half of the parsers in this folder, which decided the
//! message's kind and body when it arrived. See `messages::content` for the shapes.

use serde_json::Value;

use super::{array, at, content as text_of, id_text, join_present, text, text_owned};
use crate::messages::content::{
    ChoiceContent, ContactsContent, Content, InteractiveContent, LocationContent, MediaContent,
    OrderContent, OrderItem, ReactionContent, SharedContact, SharedPhone, SystemContent,
    TemplateContent, TextContent, UnsupportedContent,
};
use crate::messages::MessageKind;

/// What a message read back says: its typed content, and the platform id of the message it
/// answers or quotes (if any). `channel` is the message's channel name; a payload that is not
/// one of a platform's webhook items (messages stored through the API, sent messages) gives the
/// content of its body.
pub fn read(
    channel: &str,
    kind: MessageKind,
    raw: Option<&Value>,
    body: Option<&str>,
) -> (Content, Option<String>) {
    let from_raw = raw.and_then(|raw| match channel {
        "whatsapp" => whatsapp(kind, raw, body),
        "messenger" => messenger(kind, raw, body),
        "telegram" => telegram(kind, raw, body),
        _ => None,
    });
    from_raw.unwrap_or_else(|| (Content::from_body(kind, body), None))
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

/// A number sent as a JSON number or as a string holding one.
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn media(object: &Value, caption: Option<String>) -> MediaContent {
    MediaContent {
        caption,
        filename: text_owned(object, &["filename"]).or_else(|| text_owned(object, &["file_name"])),
        mime_type: super::mime_type(object, &["mime_type"]),
    }
}

fn media_of(kind: MessageKind, m: MediaContent) -> Option<Content> {
    Some(match kind {
        MessageKind::Image => Content::Image(m),
        MessageKind::Audio => Content::Audio(m),
        MessageKind::Video => Content::Video(m),
        MessageKind::Document => Content::Document(m),
        MessageKind::Sticker => Content::Sticker(m),
        _ => return None,
    })
}

// ---- WhatsApp: raw = {"message": item, "contact": …, "metadata": …} or a Groups API event ----

fn whatsapp(
    kind: MessageKind,
    raw: &Value,
    body: Option<&str>,
) -> Option<(Content, Option<String>)> {
    if let Some(group) = raw.get("group").filter(|g| g.is_object()) {
        let event = text_owned(group, &["type"]).or_else(|| text_owned(raw, &["field"]));
        let content = Content::System(SystemContent {
            event,
            text: owned(body),
            new_address: None,
        });
        return Some((content, None));
    }
    let item = raw.get("message").filter(|m| m.is_object())?;
    let reply_to = text_owned(item, &["context", "id"]);
    let type_name = text(item, &["type"]).unwrap_or_default();
    let object = item.get(type_name).unwrap_or(&Value::Null);
    let content = match kind {
        // A message in a WhatsApp group is kept as a record of the group.
        MessageKind::System if type_name != "system" => Content::System(SystemContent {
            event: Some(
                if text(item, &["group_id"]).is_some() {
                    "group_message"
                } else {
                    type_name
                }
                .to_string(),
            ),
            text: owned(body),
            new_address: None,
        }),
        MessageKind::System => {
            let event = text_owned(object, &["type"]);
            let new_address = (event.as_deref() == Some("user_changed_number"))
                .then(|| text_owned(object, &["wa_id"]))
                .flatten();
            Content::System(SystemContent {
                event,
                text: text_of(object, &["body"]),
                new_address,
            })
        }
        MessageKind::Text => Content::Text(TextContent {
            text: text_of(item, &["text", "body"]),
        }),
        MessageKind::Image
        | MessageKind::Audio
        | MessageKind::Video
        | MessageKind::Document
        | MessageKind::Sticker => media_of(kind, media(object, text_of(object, &["caption"])))?,
        MessageKind::Location => Content::Location(LocationContent {
            latitude: number(object.get("latitude")),
            longitude: number(object.get("longitude")),
            name: text_owned(object, &["name"]),
            address: text_owned(object, &["address"]),
            url: text_owned(object, &["url"]),
        }),
        MessageKind::Contacts => Content::Contacts(ContactsContent {
            contacts: array(item, &["contacts"])
                .iter()
                .map(whatsapp_card)
                .collect(),
        }),
        MessageKind::Interactive => {
            let reply = text(object, &["type"]);
            let answer = reply.and_then(|r| object.get(r)).unwrap_or(&Value::Null);
            let response = answer.get("response_json").map(|r| match r {
                Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| r.clone()),
                other => other.clone(),
            });
            Content::Interactive(InteractiveContent {
                reply: owned(reply),
                id: text_owned(answer, &["id"]),
                title: text_of(answer, &["title"]).or_else(|| text_of(answer, &["body"])),
                description: text_of(answer, &["description"]),
                response,
            })
        }
        MessageKind::Button => Content::Button(ChoiceContent {
            text: text_of(object, &["text"]),
            payload: text_owned(object, &["payload"]),
        }),
        MessageKind::Reaction => Content::Reaction(ReactionContent {
            emoji: text_of(object, &["emoji"]),
            message_external_id: text_owned(object, &["message_id"]),
        }),
        MessageKind::Order => {
            let items: Vec<OrderItem> = array(object, &["product_items"])
                .iter()
                .map(|i| OrderItem {
                    product_id: id_text(i.get("product_retailer_id")),
                    quantity: number(i.get("quantity")),
                    price: number(i.get("item_price")),
                    currency: text_owned(i, &["currency"]),
                })
                .collect();
            let (total, currency) = Content::order_total(&items);
            Content::Order(OrderContent {
                catalog_id: id_text(object.get("catalog_id")),
                note: text_of(object, &["text"]),
                items,
                total,
                currency,
            })
        }
        MessageKind::Unsupported => Content::Unsupported(UnsupportedContent {
            platform_type: Some(type_name)
                .filter(|t| !t.is_empty() && !matches!(*t, "unsupported" | "unknown"))
                .map(str::to_string),
            errors: array(item, &["errors"])
                .iter()
                .map(super::whatsapp::platform_error)
                .collect(),
        }),
        _ => Content::from_body(kind, body),
    };
    Some((content, reply_to))
}

fn whatsapp_card(c: &Value) -> SharedContact {
    let name = text_owned(c, &["name", "formatted_name"]).or_else(|| {
        join_present(
            [
                text(c, &["name", "first_name"]),
                text(c, &["name", "last_name"]),
            ],
            " ",
        )
    });
    SharedContact {
        name,
        phones: array(c, &["phones"])
            .iter()
            .filter_map(|p| {
                Some(SharedPhone {
                    phone: text_owned(p, &["phone"]).or_else(|| text_owned(p, &["wa_id"]))?,
                    wa_id: text_owned(p, &["wa_id"]),
                    label: text_owned(p, &["type"]),
                })
            })
            .collect(),
        emails: array(c, &["emails"])
            .iter()
            .filter_map(|e| text_owned(e, &["email"]))
            .collect(),
        organization: join_present(
            [
                text(c, &["org", "company"]),
                text(c, &["org", "department"]),
                text(c, &["org", "title"]),
            ],
            ", ",
        ),
    }
}

// ---- Messenger: raw = one `messaging[]` entry ----

fn messenger(
    kind: MessageKind,
    raw: &Value,
    body: Option<&str>,
) -> Option<(Content, Option<String>)> {
    if !raw.is_object() || raw.get("sender").is_none() {
        return None;
    }
    let message = raw.get("message").unwrap_or(&Value::Null);
    let reply_to = text_owned(message, &["reply_to", "mid"]);
    let first = array(message, &["attachments"])
        .first()
        .unwrap_or(&Value::Null);
    let content = match kind {
        MessageKind::QuickReply => Content::QuickReply(ChoiceContent {
            text: text_of(message, &["text"]),
            payload: text_owned(message, &["quick_reply", "payload"]),
        }),
        MessageKind::Postback => {
            let postback = raw.get("postback").unwrap_or(&Value::Null);
            Content::Postback(ChoiceContent {
                text: text_of(postback, &["title"]),
                payload: text_owned(postback, &["payload"]),
            })
        }
        MessageKind::Reaction => {
            let reaction = raw.get("reaction").unwrap_or(&Value::Null);
            Content::Reaction(ReactionContent {
                emoji: owned(body),
                message_external_id: text_owned(reaction, &["mid"]),
            })
        }
        MessageKind::Location => Content::Location(LocationContent {
            latitude: number(at(first, &["payload", "coordinates", "lat"])),
            longitude: number(at(first, &["payload", "coordinates", "long"])),
            name: text_owned(first, &["title"]),
            address: None,
            url: text_owned(first, &["url"]),
        }),
        MessageKind::Image
        | MessageKind::Audio
        | MessageKind::Video
        | MessageKind::Document
        | MessageKind::Sticker => media_of(kind, media(first, text_of(message, &["text"])))?,
        MessageKind::Template => Content::Template(TemplateContent {
            name: text_owned(first, &["payload", "template_type"]),
            text: owned(body),
        }),
        MessageKind::Unsupported => Content::Unsupported(UnsupportedContent {
            platform_type: raw.as_object().and_then(|o| {
                o.keys()
                    .find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp"))
                    .cloned()
            }),
            errors: Vec::new(),
        }),
        _ => Content::from_body(kind, body),
    };
    Some((content, reply_to))
}

// ---- Telegram: raw = the whole `Update` ----

/// The updates that carry a chat message, as the parser reads them.
const MESSAGE_KEYS: [&str; 6] = [
    "message",
    "channel_post",
    "business_message",
    "edited_message",
    "edited_channel_post",
    "edited_business_message",
];

/// Fields of a Telegram Message that are about the message, not its content.
const ENVELOPE: [&str; 26] = [
    "message_id",
    "message_thread_id",
    "from",
    "sender_chat",
    "sender_boost_count",
    "sender_business_bot",
    "chat",
    "date",
    "edit_date",
    "business_connection_id",
    "forward_origin",
    "is_topic_message",
    "is_automatic_forward",
    "reply_to_message",
    "external_reply",
    "quote",
    "reply_to_story",
    "via_bot",
    "has_protected_content",
    "is_from_offline",
    "media_group_id",
    "author_signature",
    "entities",
    "caption_entities",
    "link_preview_options",
    "reply_markup",
];

fn telegram(
    kind: MessageKind,
    raw: &Value,
    body: Option<&str>,
) -> Option<(Content, Option<String>)> {
    raw.get("update_id")?;
    if let Some(query) = raw.get("callback_query").filter(|q| q.is_object()) {
        return Some(telegram_button(query));
    }
    if let Some(r) = raw.get("message_reaction").filter(|r| r.is_object()) {
        let target = match (
            id_text(at(r, &["chat", "id"])),
            id_text(r.get("message_id")),
        ) {
            (Some(chat), Some(id)) => Some(format!("{chat}:{id}")),
            _ => None,
        };
        let content = Content::Reaction(ReactionContent {
            emoji: owned(body),
            message_external_id: target,
        });
        return Some((content, None));
    }
    let msg = MESSAGE_KEYS
        .iter()
        .find_map(|k| raw.get(*k))
        .filter(|m| m.is_object())?;
    let chat = id_text(at(msg, &["chat", "id"]));
    let reply_to = match (&chat, id_text(at(msg, &["reply_to_message", "message_id"]))) {
        (Some(chat), Some(id)) => Some(format!("{chat}:{id}")),
        _ => None,
    };
    let content = match kind {
        MessageKind::Text => Content::Text(TextContent {
            text: text_of(msg, &["text"]),
        }),
        MessageKind::Image
        | MessageKind::Audio
        | MessageKind::Video
        | MessageKind::Document
        | MessageKind::Sticker => {
            let file = [
                "animation",
                "video",
                "video_note",
                "voice",
                "audio",
                "document",
                "sticker",
            ]
            .iter()
            .find_map(|k| msg.get(*k).filter(|v| v.is_object()))
            .unwrap_or(&Value::Null);
            let caption = text_of(msg, &["caption"]).or_else(|| text_of(file, &["emoji"]));
            media_of(kind, media(file, caption))?
        }
        MessageKind::Location => {
            let venue = msg.get("venue").filter(|v| v.is_object());
            let place = venue.unwrap_or(msg);
            Content::Location(LocationContent {
                latitude: number(at(place, &["location", "latitude"])),
                longitude: number(at(place, &["location", "longitude"])),
                name: venue.and_then(|v| text_owned(v, &["title"])),
                address: venue.and_then(|v| text_owned(v, &["address"])),
                url: None,
            })
        }
        MessageKind::Contacts => {
            let c = msg.get("contact").unwrap_or(&Value::Null);
            Content::Contacts(ContactsContent {
                contacts: vec![SharedContact {
                    name: join_present([text(c, &["first_name"]), text(c, &["last_name"])], " "),
                    phones: text_owned(c, &["phone_number"])
                        .map(|phone| SharedPhone {
                            phone,
                            wa_id: None,
                            label: None,
                        })
                        .into_iter()
                        .collect(),
                    emails: Vec::new(),
                    organization: None,
                }],
            })
        }
        MessageKind::System => Content::System(SystemContent {
            event: content_key(msg),
            text: owned(body),
            new_address: None,
        }),
        MessageKind::Unsupported => Content::Unsupported(UnsupportedContent {
            platform_type: content_key(msg),
            errors: Vec::new(),
        }),
        _ => Content::from_body(kind, body),
    };
    Some((content, reply_to))
}

/// The first field of a Telegram Message that is its content (e.g. `poll`, `new_chat_members`).
fn content_key(msg: &Value) -> Option<String> {
    msg.as_object()?
        .iter()
        .find(|(k, v)| !ENVELOPE.contains(&k.as_str()) && !v.is_null())
        .map(|(k, _)| k.clone())
}

/// An inline keyboard button: its data, the label the person saw (found on the keyboard of the
/// message it was pressed under), and that message as the one answered.
fn telegram_button(query: &Value) -> (Content, Option<String>) {
    let data = text_owned(query, &["data"]).or_else(|| text_owned(query, &["game_short_name"]));
    let message = query.get("message").unwrap_or(&Value::Null);
    let label = array(message, &["reply_markup", "inline_keyboard"])
        .iter()
        .flat_map(|row| row.as_array().map_or(&[][..], Vec::as_slice))
        .find(|b| data.is_some() && text(b, &["callback_data"]) == data.as_deref())
        .and_then(|b| text_of(b, &["text"]));
    let answered = match (
        id_text(at(message, &["chat", "id"])),
        id_text(message.get("message_id")),
    ) {
        (Some(chat), Some(id)) => Some(format!("{chat}:{id}")),
        _ => None,
    };
    let content = Content::Button(ChoiceContent {
        text: label,
        payload: data,
    });
    (content, answered)
}

#[cfg(test)]
mod tests;

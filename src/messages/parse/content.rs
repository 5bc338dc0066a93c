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
mod tests {
    use super::*;
    use crate::messages::inbound::{InboundEvent, InboundMessage};
    use crate::messages::parse::test_support::{fixture, FIXTURES};

    /// Every message of a fixture, parsed as the webhook would, then read back.
    fn read_fixture(channel: &str, name: &str) -> Vec<(InboundMessage, Content, Option<String>)> {
        let body = fixture(name).as_bytes();
        let events = match channel {
            "whatsapp" => super::super::whatsapp::parse(body),
            "messenger" => super::super::messenger::parse(body),
            _ => super::super::telegram::parse(body),
        }
        .unwrap();
        events
            .into_iter()
            .filter_map(|e| match e {
                InboundEvent::Message(m) => Some(m),
                _ => None,
            })
            .map(|m| {
                let (content, reply_to) = read(channel, m.kind, Some(&m.raw), m.body.as_deref());
                (m, content, reply_to)
            })
            .collect()
    }

    fn one(channel: &str, name: &str) -> (Content, Option<String>) {
        let mut all = read_fixture(channel, name);
        assert_eq!(all.len(), 1, "{name}");
        let (_, c, r) = all.remove(0);
        (c, r)
    }

    fn json(c: &Content) -> Value {
        serde_json::to_value(c).unwrap()
    }

    #[test]
    fn every_fixture_reads_as_its_kind() {
        let mut read = 0;
        for (name, _) in FIXTURES {
            let channel = name.split('_').next().unwrap();
            for (m, content, _) in read_fixture(channel, name) {
                assert_eq!(json(&content)["type"], m.kind.as_str(), "{name}");
                read += 1;
            }
        }
        assert!(read >= 50, "{read}");
    }

    #[test]
    fn whatsapp_content_keeps_what_people_need() {
        let c = json(&one("whatsapp", "whatsapp_contacts.json").0);
        assert_eq!(c["contacts"][0]["name"], "Barbara J. Johnson");
        assert_eq!(c["contacts"][0]["phones"][0]["phone"], "+1 (415) 555-0123");
        assert_eq!(c["contacts"][0]["phones"][0]["wa_id"], "14155550123");
        assert_eq!(c["contacts"][0]["emails"][0], "bjohnson@luckyshrub.com");
        assert_eq!(
            c["contacts"][0]["organization"],
            "Lucky Shrub, Legal, Lead Counsel"
        );
        assert_eq!(c["contacts"][1]["phones"][0]["label"], "CELL");

        let c = json(&one("whatsapp", "whatsapp_order.json").0);
        assert_eq!(c["items"].as_array().unwrap().len(), 3);
        assert_eq!(c["items"][0]["product_id"], "di9ozbzfi4");
        assert_eq!(c["items"][0]["quantity"], 2.0);
        assert_eq!(c["items"][0]["price"], 30.0);
        assert_eq!(c["total"], 105.0);
        assert_eq!(c["currency"], "USD");
        assert_eq!(c["note"], "Please deliver before Friday");

        let (c, reply_to) = one("whatsapp", "whatsapp_button.json");
        let c = json(&c);
        assert_eq!(c["payload"], "Unsubscribe from Promos");
        assert_eq!(
            reply_to.as_deref(),
            Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA")
        );

        let c = json(&one("whatsapp", "whatsapp_list_reply.json").0);
        assert_eq!(c["reply"], "list_reply");
        assert_eq!(c["id"], "priority_express");
        assert_eq!(c["description"], "Next Day to 2 Days");

        let c = json(&one("whatsapp", "whatsapp_nfm_reply.json").0);
        assert_eq!(c["response"]["appointment_date"], "2026-03-01");

        let c = json(&one("whatsapp", "whatsapp_unsupported.json").0);
        assert_eq!(c["errors"][0]["code"], 131051);

        let c = json(&one("whatsapp", "whatsapp_document.json").0);
        assert_eq!(c["filename"], "lucky-shrub-invoice.pdf");
        assert_eq!(c["caption"], "Lucky Shrub Invoice");

        let c = json(&one("whatsapp", "whatsapp_reaction.json").0);
        assert_eq!(
            c["message_external_id"],
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA"
        );

        let c = json(&one("whatsapp", "whatsapp_location.json").0);
        assert_eq!(c["latitude"], 52.52);
        assert_eq!(c["name"], "Lucky Shrub Berlin");

        let c = json(&one("whatsapp", "whatsapp_system.json").0);
        assert_eq!(c["event"], "user_changed_number");
        assert_eq!(c["new_address"], "12195555358");
    }

    #[test]
    fn messenger_and_telegram_content_keeps_payloads_and_names() {
        let all = read_fixture("messenger", "messenger_postback.json");
        assert_eq!(json(&all[0].1)["payload"], "GET_STARTED");
        assert_eq!(json(&all[0].1)["text"], "Get Started");
        let c = json(&one("messenger", "messenger_quick_reply.json").0);
        assert_eq!(c["payload"], "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED");
        assert_eq!(c["text"], "Red");
        let c = json(&one("messenger", "messenger_attachment_location.json").0);
        assert_eq!(c["longitude"], 13.405);

        let (c, answered) = one("telegram", "telegram_callback.json");
        let c = json(&c);
        assert_eq!(c["payload"], "newsletter:yes");
        assert_eq!(c["text"], "Yes");
        assert_eq!(answered.as_deref(), Some("1111111:1380"));
        let c = json(&one("telegram", "telegram_contact.json").0);
        assert_eq!(c["contacts"][0]["phones"][0]["phone"], "+4915112345678");
        assert_eq!(c["contacts"][0]["name"], "Erika Mustermann");
        let c = json(&one("telegram", "telegram_document.json").0);
        assert_eq!(c["filename"], "invoice-2024-118.pdf");
        assert_eq!(c["caption"], "Invoice attached");
        let c = json(&one("telegram", "telegram_venue.json").0);
        assert_eq!(c["name"], "Brandenburger Tor");
        assert_eq!(c["address"], "Pariser Platz, 10117 Berlin");
    }

    #[test]
    fn without_a_platform_payload_the_body_is_the_content() {
        let (c, r) = read("whatsapp", MessageKind::Text, None, Some("Hallo"));
        assert_eq!(
            json(&c),
            serde_json::json!({"type": "text", "text": "Hallo"})
        );
        assert_eq!(r, None);
        let (c, _) = read(
            "sms",
            MessageKind::Document,
            Some(&serde_json::json!({"anything": 1})),
            Some("Rechnung"),
        );
        assert_eq!(json(&c)["caption"], "Rechnung");
    }
}

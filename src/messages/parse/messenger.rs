//! Messenger Platform webhooks (`object: "page"`).
//!
//! Shape: `entry[]` per page (`id` = page id, our `account_id`), each with `messaging[]` items
//! (and `standby[]` items — the same item shape, delivered while another app of the page holds
//! the conversation under the handover protocol; they are the customer's messages all the same,
//! so they are parsed too). Timestamps are unix **milliseconds**.
//!
//! Per item: `message` (text, quick reply or attachments; echoes of the page's own messages
//! are skipped), `message_edit`, `postback`, `reaction`, `delivery` and `read` (status updates);
//! any other item (optin, referral, handover, …) is kept as an `Unsupported` message.

use serde_json::Value;

use super::{
    array, at, content, expect_object, id_text, join_present, json_object, location_body, text,
    text_owned, unix_millis, why_skipped,
};
use crate::messages::inbound::{
    DeliveryStatus, InboundEvent, InboundMessage, MediaRef, ParseError, Skip, StatusUpdate,
};
use crate::messages::MessageKind;

const OBJECT: &str = "page";

/// Keys every messaging item has; the remaining key names the item's type.
const ENVELOPE_KEYS: [&str; 3] = ["sender", "recipient", "timestamp"];

/// Parses one Messenger Platform webhook body.
///
/// # Errors
/// [`ParseError::Malformed`] for a body that is not a JSON object, [`ParseError::WrongObject`]
/// unless `object` is `page`, [`ParseError::MissingField`] without an `entry` array. Problems
/// inside single items never fail the delivery: the item is skipped.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let root = json_object(body)?;
    expect_object(&root, OBJECT)?;
    let entries = root
        .get("entry")
        .and_then(Value::as_array)
        .ok_or(ParseError::MissingField("entry"))?;

    let mut events = Vec::new();
    for entry in entries {
        let page_id = id_text(entry.get("id"));
        let items = array(entry, &["messaging"])
            .iter()
            .chain(array(entry, &["standby"]));
        for item in items {
            item_events(item, page_id.as_deref(), &mut events);
        }
    }
    Ok(events)
}

/// What every item needs: who sent it, to which page, when (the timestamp is required for
/// messages; status items may fall back to their watermark).
struct Envelope {
    account_id: Option<String>,
    sender: String,
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
}

fn item_events(item: &Value, page_id: Option<&str>, events: &mut Vec<InboundEvent>) {
    let Some(sender) = id_text(at(item, &["sender", "id"])) else {
        events.push(InboundEvent::Skipped(Skip::MissingId));
        return;
    };
    let envelope = Envelope {
        account_id: page_id
            .map(str::to_string)
            .or_else(|| id_text(at(item, &["recipient", "id"]))),
        sender,
        timestamp: unix_millis(item.get("timestamp")),
    };

    if let Some(message) = item.get("message") {
        // Echo: a message the page itself sent, reported back. Hafen records outbound messages
        // when it sends them, so echoes are not stored again.
        if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
            events.push(InboundEvent::Skipped(Skip::Echo));
            return;
        }
        events.push(or_skipped(
            item,
            &["message", "mid"],
            inbound_message(item, message, &envelope),
        ));
    } else if let Some(edit) = item.get("message_edit") {
        events.push(or_skipped(
            item,
            &["message_edit", "mid"],
            message_edit(item, edit, &envelope),
        ));
    } else if let Some(postback) = item.get("postback") {
        events.push(or_skipped(
            item,
            &["sender", "id"],
            postback_message(item, postback, &envelope),
        ));
    } else if let Some(reaction) = item.get("reaction") {
        events.push(or_skipped(
            item,
            &["reaction", "mid"],
            reaction_message(item, reaction, &envelope),
        ));
    } else if let Some(delivery) = item.get("delivery") {
        status_events(item, delivery, DeliveryStatus::Delivered, &envelope, events);
    } else if let Some(read) = item.get("read") {
        status_events(item, read, DeliveryStatus::Read, &envelope, events);
    } else {
        events.push(or_skipped(
            item,
            &["sender", "id"],
            unsupported(item, &envelope),
        ));
    }
}

/// The message an item gave, or why it gave none (its id at `id`, its time).
fn or_skipped(item: &Value, id: &[&str], message: Option<InboundMessage>) -> InboundEvent {
    match message {
        Some(m) => InboundEvent::Message(m),
        None => InboundEvent::Skipped(why_skipped(item, &[id], &["timestamp"], unix_millis)),
    }
}

fn new_message(
    item: &Value,
    envelope: &Envelope,
    external_id: String,
    kind: MessageKind,
    body: Option<String>,
    media: Vec<MediaRef>,
) -> Option<InboundMessage> {
    Some(InboundMessage {
        account_id: envelope.account_id.clone(),
        address: envelope.sender.clone(),
        display_name: None,
        external_id,
        occurred_at: envelope.timestamp?,
        kind,
        body,
        media,
        new_address: None,
        raw: item.clone(),
    })
}

fn inbound_message(item: &Value, message: &Value, envelope: &Envelope) -> Option<InboundMessage> {
    let mid = text_owned(message, &["mid"])?;
    let text_body = content(message, &["text"]);
    let attachments = array(message, &["attachments"]);

    let (kind, body) = if at(message, &["quick_reply", "payload"]).is_some() {
        (MessageKind::QuickReply, text_body)
    } else if let Some(first) = attachments.first() {
        attachment_content(first, text_body)
    } else if text_body.is_some() {
        (MessageKind::Text, text_body)
    } else {
        (MessageKind::Unsupported, None)
    };
    let media = attachments.iter().filter_map(media_ref).collect();
    new_message(item, envelope, mid, kind, body, media)
}

/// Kind and body of a message by its first attachment.
fn attachment_content(
    attachment: &Value,
    text_body: Option<String>,
) -> (MessageKind, Option<String>) {
    let payload = attachment.get("payload").unwrap_or(&Value::Null);
    match text(attachment, &["type"]).unwrap_or_default() {
        "image" if payload.get("sticker_id").is_some_and(|s| !s.is_null()) => {
            (MessageKind::Sticker, text_body)
        }
        "image" => (MessageKind::Image, text_body),
        "video" => (MessageKind::Video, text_body),
        "audio" => (MessageKind::Audio, text_body),
        "file" => (MessageKind::Document, text_body),
        "location" => {
            let body = location_body(
                at(payload, &["coordinates", "lat"]),
                at(payload, &["coordinates", "long"]),
                text(attachment, &["title"]),
                None,
            );
            (MessageKind::Location, body.or(text_body))
        }
        // A shared link or content Messenger cannot show as a structured attachment: readable
        // as text (the message text, else the attachment's title and URL).
        "fallback" => {
            let body = text_body.or_else(|| {
                join_present(
                    [
                        text(attachment, &["title"]),
                        text(attachment, &["url"]).or_else(|| text(attachment, &["URL"])),
                    ],
                    " ",
                )
            });
            (MessageKind::Text, body)
        }
        // A shared structured message (generic template, product, …).
        "template" => (MessageKind::Template, text_body),
        _ => (MessageKind::Unsupported, None),
    }
}

/// Media attachments give a reference to the file; Messenger sends a URL, not an id.
fn media_ref(attachment: &Value) -> Option<MediaRef> {
    match text(attachment, &["type"])? {
        "image" | "video" | "audio" | "file" => Some(MediaRef {
            media_id: text_owned(attachment, &["payload", "url"])?,
            mime_type: None,
            sha256: None,
            filename: None,
        }),
        _ => None,
    }
}

/// `message_edit`: the user edited an earlier message; stored as a new text with its own id
/// (`<mid>:edit:<num_edit>`), the original stays as received.
fn message_edit(item: &Value, edit: &Value, envelope: &Envelope) -> Option<InboundMessage> {
    let mid = text(edit, &["mid"])?;
    let version = id_text(edit.get("num_edit"))
        .or_else(|| envelope.timestamp.map(|t| t.timestamp_millis().to_string()))?;
    let external_id = format!("{mid}:edit:{version}");
    let body = content(edit, &["text"]);
    new_message(item, envelope, external_id, MessageKind::Text, body, vec![])
}

fn postback_message(item: &Value, postback: &Value, envelope: &Envelope) -> Option<InboundMessage> {
    let timestamp = envelope.timestamp?;
    let external_id = text_owned(postback, &["mid"]).unwrap_or_else(|| {
        format!(
            "postback:{}:{}",
            envelope.sender,
            timestamp.timestamp_millis()
        )
    });
    let body = content(postback, &["title"]).or_else(|| content(postback, &["payload"]));
    new_message(
        item,
        envelope,
        external_id,
        MessageKind::Postback,
        body,
        vec![],
    )
}

fn reaction_message(item: &Value, reaction: &Value, envelope: &Envelope) -> Option<InboundMessage> {
    let timestamp = envelope.timestamp?;
    let target = text(reaction, &["mid"]).unwrap_or(envelope.sender.as_str());
    let external_id = format!("reaction:{target}:{}", timestamp.timestamp_millis());
    // `unreact` removes the reaction: no body, like WhatsApp's empty emoji.
    let body = if text(reaction, &["action"]) == Some("unreact") {
        None
    } else {
        content(reaction, &["emoji"]).or_else(|| content(reaction, &["reaction"]))
    };
    new_message(
        item,
        envelope,
        external_id,
        MessageKind::Reaction,
        body,
        vec![],
    )
}

/// `delivery` gives one update per `mids[]` entry; `read` (and a delivery without mids) only
/// has a watermark ("everything before this time"): one update with an empty id.
fn status_events(
    item: &Value,
    status_item: &Value,
    status: DeliveryStatus,
    envelope: &Envelope,
    events: &mut Vec<InboundEvent>,
) {
    // Meta's own delivery example has no `timestamp`: the watermark is the time it reports.
    let Some(occurred_at) = envelope
        .timestamp
        .or_else(|| unix_millis(status_item.get("watermark")))
    else {
        events.push(InboundEvent::Skipped(Skip::BadTimestamp));
        return;
    };
    let update = |external_id: String| {
        InboundEvent::Status(StatusUpdate {
            account_id: envelope.account_id.clone(),
            external_id,
            status,
            occurred_at,
            recipient: Some(envelope.sender.clone()),
            errors: vec![],
            raw: item.clone(),
        })
    };
    let mids: Vec<String> = array(status_item, &["mids"])
        .iter()
        .filter_map(|m| id_text(Some(m)))
        .collect();
    if mids.is_empty() {
        events.push(update(String::new()));
    } else {
        events.extend(mids.into_iter().map(update));
    }
}

/// An item type this parser does not know: kept whole, with an id from its type, sender and time.
fn unsupported(item: &Value, envelope: &Envelope) -> Option<InboundMessage> {
    let timestamp = envelope.timestamp?;
    let type_name = item
        .as_object()
        .and_then(|o| o.keys().find(|k| !ENVELOPE_KEYS.contains(&k.as_str())))
        .map_or("unknown", String::as_str);
    let external_id = format!(
        "{type_name}:{}:{}",
        envelope.sender,
        timestamp.timestamp_millis()
    );
    new_message(
        item,
        envelope,
        external_id,
        MessageKind::Unsupported,
        None,
        vec![],
    )
}

#[cfg(test)]
mod tests;

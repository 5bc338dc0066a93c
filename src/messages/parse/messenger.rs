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
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;
    use crate::messages::parse::test_support::{
        assert_never_panics, fixture, messages, one_message, skipped, statuses,
    };

    const PAGE: &str = "106540352242922";
    const PSID: &str = "6543210987654321";
    const TS: i64 = 1_458_692_752_478;

    fn at_millis(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn parse_fixture(name: &str) -> Vec<InboundEvent> {
        parse(fixture(name).as_bytes()).unwrap()
    }

    /// One message from the test PSID to the test page at `TS`.
    fn one(name: &str) -> InboundMessage {
        let m = one_message(parse, name);
        assert_eq!(m.account_id.as_deref(), Some(PAGE), "{name}");
        assert_eq!(m.address, PSID, "{name}");
        assert_eq!(m.display_name, None, "{name}");
        assert_eq!(m.occurred_at, at_millis(TS), "{name}");
        assert_eq!(m.raw["sender"]["id"], PSID, "{name}");
        m
    }

    fn url_media(url: &str) -> MediaRef {
        MediaRef {
            media_id: url.into(),
            mime_type: None,
            sha256: None,
            filename: None,
        }
    }

    #[test]
    fn shared_text_sample_is_a_quick_reply() {
        let m = one_message(parse, "messenger_text.json");
        assert_eq!(m.account_id.as_deref(), Some("<PAGE_ID>"));
        assert_eq!(m.address, "<PSID>");
        assert_eq!(m.external_id, "mid.1457764197618:41d102a3e1ae206a38");
        assert_eq!(m.occurred_at, at_millis(TS));
        // The documentation sample carries a quick_reply payload next to its text.
        assert_eq!(m.kind, MessageKind::QuickReply);
        assert_eq!(m.body.as_deref(), Some("hello, world!"));
        assert!(m.media.is_empty());
        assert_eq!(
            m.raw["message"]["quick_reply"]["payload"],
            "<DEVELOPER_DEFINED_PAYLOAD>"
        );
        assert_eq!(m.raw["recipient"]["id"], "<PAGE_ID>");
    }

    #[test]
    fn plain_text() {
        let m = one("messenger_text_plain.json");
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.body.as_deref(), Some("hello, world!"));
        assert_eq!(m.external_id, "m_1457764197618:41d102a3e1ae206a38");
    }

    #[test]
    fn quick_reply() {
        let m = one("messenger_quick_reply.json");
        assert_eq!(m.kind, MessageKind::QuickReply);
        assert_eq!(m.body.as_deref(), Some("Red"));
        assert_eq!(m.external_id, "m_quickreply1");
    }

    #[test]
    fn image_attachments() {
        let m = one("messenger_attachment_image.json");
        assert_eq!(m.kind, MessageKind::Image);
        assert_eq!(m.body, None);
        assert_eq!(
            m.media,
            vec![
                url_media("https://scontent.xx.fbcdn.net/v/t1.15752-9/image1.png"),
                url_media("https://scontent.xx.fbcdn.net/v/t1.15752-9/image2.png"),
            ]
        );
    }

    #[test]
    fn video_audio_file_attachments() {
        let m = one("messenger_attachment_video.json");
        assert_eq!(m.kind, MessageKind::Video);
        assert_eq!(m.external_id, "m_video1");
        assert_eq!(
            m.media,
            vec![url_media(
                "https://video.xx.fbcdn.net/v/t42.3356-2/clip.mp4"
            )]
        );

        let m = one("messenger_attachment_audio.json");
        assert_eq!(m.kind, MessageKind::Audio);
        assert_eq!(
            m.media,
            vec![url_media(
                "https://cdn.fbsbx.com/v/t59.3654-21/audioclip.mp4"
            )]
        );

        let m = one("messenger_attachment_file.json");
        assert_eq!(m.kind, MessageKind::Document);
        assert_eq!(
            m.media,
            vec![url_media("https://cdn.fbsbx.com/v/t59.2708-21/invoice.pdf")]
        );
    }

    #[test]
    fn sticker_attachment() {
        let m = one("messenger_attachment_sticker.json");
        assert_eq!(m.kind, MessageKind::Sticker);
        assert_eq!(m.media.len(), 1);
        assert_eq!(
            m.raw["message"]["attachments"][0]["payload"]["sticker_id"],
            369_239_263_222_822_u64
        );
    }

    #[test]
    fn location_attachment() {
        let m = one("messenger_attachment_location.json");
        assert_eq!(m.kind, MessageKind::Location);
        assert_eq!(m.body.as_deref(), Some("52.52,13.405 Pinned Location"));
        assert!(m.media.is_empty());
    }

    #[test]
    fn fallback_attachment_is_text() {
        let m = one("messenger_attachment_fallback.json");
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(
            m.body.as_deref(),
            Some("Lucky Shrub https://www.luckyshrub.com/")
        );
        assert!(m.media.is_empty());
    }

    #[test]
    fn postbacks() {
        let events = parse_fixture("messenger_postback.json");
        let m = messages(&events);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].kind, MessageKind::Postback);
        assert_eq!(m[0].body.as_deref(), Some("Get Started"));
        assert_eq!(m[0].external_id, "m_postback1");
        assert_eq!(m[0].occurred_at, at_millis(TS));
        // without a mid the id is made from sender and time
        assert_eq!(m[1].external_id, format!("postback:{PSID}:1458692752999"));
        assert_eq!(m[1].body.as_deref(), Some("Talk to a human"));
        assert_eq!(m[1].raw["postback"]["payload"], "HUMAN");
    }

    #[test]
    fn delivery_per_mid_and_watermark_only() {
        let events = parse_fixture("messenger_delivery.json");
        let s = statuses(&events);
        assert_eq!(events.len(), 3);
        assert_eq!(s[0].external_id, "mid.1458668856218:ed81099e15d3f4f233");
        assert_eq!(s[1].external_id, "mid.1458668856219:ed81099e15d3f4f234");
        for update in &s {
            assert_eq!(update.status, DeliveryStatus::Delivered);
            assert_eq!(update.recipient.as_deref(), Some(PSID));
            assert_eq!(update.account_id.as_deref(), Some(PAGE));
            assert!(update.errors.is_empty());
        }
        // Meta's example has no timestamp: the watermark is the time.
        assert_eq!(s[0].occurred_at, at_millis(1_458_668_856_253));
        assert_eq!(s[2].external_id, "");
        assert_eq!(s[2].occurred_at, at_millis(1_458_668_856_300));
        assert_eq!(s[2].raw["delivery"]["watermark"], 1_458_668_856_290_i64);
    }

    #[test]
    fn read_watermark() {
        let events = parse_fixture("messenger_read.json");
        let s = statuses(&events);
        assert_eq!(events.len(), 1);
        assert_eq!(s[0].status, DeliveryStatus::Read);
        assert_eq!(s[0].external_id, "");
        assert_eq!(s[0].occurred_at, at_millis(1_458_668_856_463));
        assert_eq!(s[0].recipient.as_deref(), Some(PSID));
        assert_eq!(s[0].raw["read"]["watermark"], 1_458_668_856_253_i64);
    }

    #[test]
    fn echoes_are_ignored() {
        let events = parse_fixture("messenger_echo.json");
        let m = messages(&events);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].external_id, "m_after_echo");
        assert_eq!(skipped(&events), vec![Skip::Echo]);
    }

    #[test]
    fn reactions() {
        let events = parse_fixture("messenger_reaction.json");
        let m = messages(&events);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].kind, MessageKind::Reaction);
        assert_eq!(m[0].body.as_deref(), Some("\u{2764}\u{fe0f}"));
        assert_eq!(m[0].external_id, format!("reaction:m_reacted1:{TS}"));
        assert_eq!(m[1].kind, MessageKind::Reaction);
        assert_eq!(m[1].body, None);
        assert_eq!(m[1].external_id, "reaction:m_reacted1:1458692753000");
    }

    #[test]
    fn message_edit() {
        let m = one("messenger_message_edit.json");
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.external_id, "m_edited1:edit:1");
        assert_eq!(m.body.as_deref(), Some("hello, world! (edited)"));
    }

    #[test]
    fn unknown_item_is_unsupported() {
        let m = one("messenger_unknown.json");
        assert_eq!(m.kind, MessageKind::Unsupported);
        assert_eq!(m.body, None);
        assert_eq!(m.external_id, format!("optin:{PSID}:{TS}"));
        assert_eq!(m.raw["optin"]["type"], "notification_messages");
    }

    #[test]
    fn standby_items_are_parsed() {
        let m = one("messenger_standby.json");
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.external_id, "m_standby1");
    }

    #[test]
    fn batch_keeps_order_and_skips_broken_items() {
        let events = parse_fixture("messenger_batch.json");
        let m = messages(&events);
        let ids: Vec<&str> = m.iter().map(|m| m.external_id.as_str()).collect();
        assert_eq!(ids, vec!["m_b1", "m_b2", "m_b3"]);
        assert_eq!(m[0].body.as_deref(), Some("one"));
        // unknown attachment type
        assert_eq!(m[1].kind, MessageKind::Unsupported);
        assert_eq!(m[1].body, None);
        assert!(m[1].media.is_empty());
        assert_eq!(m[2].account_id.as_deref(), Some("106540352242923"));
        assert_eq!(m[2].address, "1111");
    }

    #[test]
    fn recipient_is_the_account_without_entry_id() {
        let body = json!({"object": "page", "entry": [{"messaging": [{
            "sender": {"id": 42}, "recipient": {"id": "777"}, "timestamp": "1458692752478",
            "message": {"mid": "m_x", "text": "hi"}}]}]});
        let events = parse(body.to_string().as_bytes()).unwrap();
        let m = messages(&events)[0];
        assert_eq!(m.account_id.as_deref(), Some("777"));
        assert_eq!(m.address, "42");
        assert_eq!(m.occurred_at, at_millis(TS));
    }

    #[test]
    fn empty_message_is_unsupported() {
        let body = json!({"object": "page", "entry": [{"id": PAGE, "messaging": [{
            "sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": TS,
            "message": {"mid": "m_empty"}}]}]});
        let events = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(messages(&events)[0].kind, MessageKind::Unsupported);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(b"{\"object\": \"page\", "),
            Err(ParseError::Malformed)
        );
        assert_eq!(parse(b"\"page\""), Err(ParseError::Malformed));
        assert_eq!(
            parse(fixture("whatsapp_text.json").as_bytes()),
            Err(ParseError::WrongObject {
                expected: "page",
                found: Some("whatsapp_business_account".into())
            })
        );
        assert_eq!(
            parse(br#"{"object": "instagram", "entry": []}"#),
            Err(ParseError::WrongObject {
                expected: "page",
                found: Some("instagram".into())
            })
        );
        assert_eq!(
            parse(br#"{"object":"page","entry":5}"#),
            Err(ParseError::MissingField("entry"))
        );
        assert_eq!(
            parse(br#"{"object":"page","entry":[5, {"messaging": 3}]}"#),
            Ok(vec![])
        );
    }

    #[test]
    fn never_panics() {
        assert_never_panics(parse, "messenger_");
    }
}

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

use chrono::{DateTime, Utc};

use super::*;
use crate::messages::parse::test_support::{assert_never_panics, fixture, one_message};

const CHAT: &str = "1111111";
const NAME: &str = "Test Firstname Test Lastname";
const DATE: i64 = 1_441_645_532;

fn at_secs(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

/// One message in the private test chat, sent at `DATE`.
fn one(name: &str, message_id: u32) -> InboundMessage {
    let m = one_message(parse, name);
    assert_eq!(m.account_id, None, "{name}");
    assert_eq!(m.address, CHAT, "{name}");
    assert_eq!(m.display_name.as_deref(), Some(NAME), "{name}");
    assert_eq!(m.external_id, format!("{CHAT}:{message_id}"), "{name}");
    assert_eq!(m.occurred_at, at_secs(DATE), "{name}");
    assert!(m.raw["update_id"].is_u64(), "{name}");
    m
}

fn file(id: &str, mime: Option<&str>, name: Option<&str>) -> MediaRef {
    MediaRef {
        media_id: id.into(),
        mime_type: mime.map(Into::into),
        sha256: None,
        filename: name.map(Into::into),
    }
}

#[test]
fn shared_update_sample() {
    let m = one("telegram_update.json", 1365);
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.body.as_deref(), Some("/start"));
    assert!(m.media.is_empty());
    assert_eq!(m.raw["update_id"], 10000);
    assert_eq!(m.raw["message"]["from"]["username"], "Testusername");
}

#[test]
fn photo_takes_the_largest_size() {
    let m = one("telegram_photo.json", 1366);
    assert_eq!(m.kind, MessageKind::Image);
    assert_eq!(m.body.as_deref(), Some("Our new shop window"));
    assert_eq!(m.media, vec![file("AgACAgIAAxkBAAIBZ2Large", None, None)]);
}

#[test]
fn photo_size_order_does_not_matter() {
    let body = r#"{"update_id": 1, "message": {"message_id": 5, "date": 1441645532,
        "chat": {"id": 1, "type": "private"}, "photo": [
          {"file_id": "big", "width": 800, "height": 600},
          {"file_id": "small", "width": 90, "height": 67}]}}"#;
    let events = parse(body.as_bytes()).unwrap();
    match &events[..] {
        [InboundEvent::Message(m)] => assert_eq!(m.media[0].media_id, "big"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn document() {
    let m = one("telegram_document.json", 1367);
    assert_eq!(m.kind, MessageKind::Document);
    assert_eq!(m.body.as_deref(), Some("Invoice attached"));
    assert_eq!(
        m.media,
        vec![file(
            "BQACAgIAAxkBAAIBaGDocument",
            Some("application/pdf"),
            Some("invoice-2024-118.pdf")
        )]
    );
}

#[test]
fn location_and_venue() {
    let m = one("telegram_location.json", 1368);
    assert_eq!(m.kind, MessageKind::Location);
    assert_eq!(m.body.as_deref(), Some("52.520008,13.404954"));

    let m = one("telegram_venue.json", 1369);
    assert_eq!(m.kind, MessageKind::Location);
    assert_eq!(
        m.body.as_deref(),
        Some("52.516275,13.377704 Brandenburger Tor, Pariser Platz, 10117 Berlin")
    );
}

#[test]
fn contact() {
    let m = one("telegram_contact.json", 1370);
    assert_eq!(m.kind, MessageKind::Contacts);
    assert_eq!(m.body.as_deref(), Some("Erika Mustermann +4915112345678"));
}

#[test]
fn sticker() {
    let m = one("telegram_sticker.json", 1371);
    assert_eq!(m.kind, MessageKind::Sticker);
    assert_eq!(m.body.as_deref(), Some("😀"));
    assert_eq!(
        m.media,
        vec![file(
            "CAACAgIAAxkBAAIBbGSticker",
            Some("application/x-tgsticker"),
            None
        )]
    );
}

#[test]
fn voice_and_audio() {
    let m = one("telegram_voice.json", 1372);
    assert_eq!(m.kind, MessageKind::Audio);
    assert_eq!(
        m.media,
        vec![file("AwACAgIAAxkBAAIBbWVoice", Some("audio/ogg"), None)]
    );

    let m = one("telegram_audio.json", 1373);
    assert_eq!(m.kind, MessageKind::Audio);
    assert_eq!(
        m.media,
        vec![file(
            "CQACAgIAAxkBAAIBbmAudio",
            Some("audio/mpeg"),
            Some("jingle.mp3")
        )]
    );
}

#[test]
fn video_video_note_animation() {
    let m = one("telegram_video.json", 1374);
    assert_eq!(m.kind, MessageKind::Video);
    assert_eq!(m.body.as_deref(), Some("Unboxing"));
    assert_eq!(
        m.media,
        vec![file(
            "BAACAgIAAxkBAAIBb2Video",
            Some("video/mp4"),
            Some("unboxing.mp4")
        )]
    );

    let m = one("telegram_video_note.json", 1375);
    assert_eq!(m.kind, MessageKind::Video);
    assert_eq!(
        m.media,
        vec![file("DQACAgIAAxkBAAIBcGVideoNote", None, None)]
    );

    // Telegram sets `document` too for animations; it is still a video.
    let m = one("telegram_animation.json", 1376);
    assert_eq!(m.kind, MessageKind::Video);
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].media_id, "CgACAgIAAxkBAAIBcWAnimation");
}

#[test]
fn edited_message() {
    let m = one_message(parse, "telegram_edited.json");
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.address, CHAT);
    assert_eq!(m.external_id, format!("{CHAT}:1365:edit:1441645600"));
    assert_eq!(m.occurred_at, at_secs(1_441_645_600));
    assert_eq!(m.body.as_deref(), Some("/start again"));
    assert_eq!(m.display_name.as_deref(), Some(NAME));
}

#[test]
fn edit_without_edit_date_is_skipped() {
    let body = fixture("telegram_edited.json").replace("\"edit_date\"", "\"x\"");
    assert_eq!(
        parse(body.as_bytes()),
        Ok(vec![InboundEvent::Skipped(Skip::BadTimestamp)])
    );
}

#[test]
fn callback_query() {
    let m = one_message(parse, "telegram_callback.json");
    assert_eq!(m.kind, MessageKind::Button);
    assert_eq!(m.body.as_deref(), Some("newsletter:yes"));
    assert_eq!(m.address, CHAT);
    assert_eq!(m.external_id, "callback:4382bfdwdsb323b2d9");
    // the time of the message that carried the button
    assert_eq!(m.occurred_at, at_secs(1_441_645_700));
    assert_eq!(m.display_name.as_deref(), Some(NAME));
    assert_eq!(
        m.raw["callback_query"]["chat_instance"],
        "-4729338398232455"
    );
}

#[test]
fn callback_query_without_message_is_skipped() {
    let body = r#"{"update_id": 1, "callback_query": {"id": "9", "from": {"id": 5, "first_name": "A"},
        "inline_message_id": "AAA", "chat_instance": "1", "data": "x"}}"#;
    assert_eq!(
        parse(body.as_bytes()),
        Ok(vec![InboundEvent::Skipped(Skip::MissingId)])
    );
}

#[test]
fn group_chat_uses_title_and_negative_id() {
    let m = one_message(parse, "telegram_group.json");
    assert_eq!(m.address, "-1001234567890");
    assert_eq!(m.external_id, "-1001234567890:52");
    assert_eq!(m.display_name.as_deref(), Some("Lucky Shrub Customers"));
    assert_eq!(m.body.as_deref(), Some("Hello group"));
}

#[test]
fn new_members_are_system() {
    let m = one_message(parse, "telegram_new_members.json");
    assert_eq!(m.kind, MessageKind::System);
    assert_eq!(m.body.as_deref(), Some("Erika Mustermann joined the chat"));
}

#[test]
fn channel_post() {
    let m = one_message(parse, "telegram_channel_post.json");
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.address, "-1009876543210");
    assert_eq!(m.external_id, "-1009876543210:7");
    assert_eq!(m.display_name.as_deref(), Some("Lucky Shrub News"));
    assert_eq!(m.body.as_deref(), Some("Spring sale starts Monday"));
}

#[test]
fn poll_is_unsupported() {
    let m = one("telegram_poll.json", 1381);
    assert_eq!(m.kind, MessageKind::Unsupported);
    assert_eq!(m.body, None);
    assert_eq!(
        m.raw["message"]["poll"]["question"],
        "Best day for delivery?"
    );
}

#[test]
fn message_reaction() {
    let m = one_message(parse, "telegram_message_reaction.json");
    assert_eq!(m.kind, MessageKind::Reaction);
    assert_eq!(m.body.as_deref(), Some("👍"));
    assert_eq!(m.address, CHAT);
    assert_eq!(
        m.external_id,
        format!("{CHAT}:1365:reaction:{CHAT}:1441645900")
    );
    assert_eq!(m.occurred_at, at_secs(1_441_645_900));

    let removed = fixture("telegram_message_reaction.json")
        .replace(r#""new_reaction": ["#, r#""old_reaction2": ["#)
        .replace(r#""old_reaction": []"#, r#""new_reaction": []"#);
    let events = parse(removed.as_bytes()).unwrap();
    match &events[..] {
        [InboundEvent::Message(m)] => assert_eq!(m.body, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn administrative_updates_are_answered_and_counted_not_stored() {
    let administration = Ok(vec![InboundEvent::Skipped(Skip::Administration)]);
    assert_eq!(
        parse(fixture("telegram_my_chat_member.json").as_bytes()),
        administration
    );
    assert_eq!(
        parse(br#"{"update_id": 5, "poll_answer": {"poll_id": "1"}}"#),
        administration
    );
    assert_eq!(parse(br#"{"update_id": 5}"#), administration);
}

#[test]
fn message_without_date_or_chat_is_skipped() {
    let body = fixture("telegram_update.json").replace("\"date\"", "\"x\"");
    assert_eq!(
        parse(body.as_bytes()),
        Ok(vec![InboundEvent::Skipped(Skip::BadTimestamp)])
    );
    let body = r#"{"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "hi"}}"#;
    assert_eq!(
        parse(body.as_bytes()),
        Ok(vec![InboundEvent::Skipped(Skip::MissingId)])
    );
}

#[test]
fn errors() {
    assert_eq!(
        parse(b"{\"update_id\": 1, \"message\""),
        Err(ParseError::Malformed)
    );
    assert_eq!(parse(b"[{\"update_id\": 1}]"), Err(ParseError::Malformed));
    assert_eq!(parse(b"42"), Err(ParseError::Malformed));
    assert_eq!(
        parse(br#"{"message": {"text": "hi"}}"#),
        Err(ParseError::MissingField("update_id"))
    );
    assert_eq!(
        parse(br#"{"update_id": null}"#),
        Err(ParseError::MissingField("update_id"))
    );
    assert_eq!(
        parse(fixture("whatsapp_text.json").as_bytes()),
        Err(ParseError::MissingField("update_id"))
    );
}

#[test]
fn never_panics() {
    assert_never_panics(parse, "telegram_");
}

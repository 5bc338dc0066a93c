use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::messages::parse::test_support::{
    assert_never_panics, fixture, messages, one_message, skipped, statuses,
};

const ACCOUNT: &str = "106540352242922";
const SHEENA: &str = "16505551234";

fn at_secs(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn one(name: &str) -> InboundMessage {
    let m = one_message(parse, name);
    assert_eq!(m.account_id.as_deref(), Some(ACCOUNT), "{name}");
    m
}

/// The common case: from Sheena, with her contact entry.
fn one_from_sheena(name: &str) -> InboundMessage {
    let m = one(name);
    assert_eq!(m.address, SHEENA, "{name}");
    assert_eq!(m.display_name.as_deref(), Some("Sheena Nelson"), "{name}");
    assert_eq!(m.raw["contact"]["wa_id"], SHEENA, "{name}");
    assert_eq!(m.raw["metadata"]["phone_number_id"], ACCOUNT, "{name}");
    assert_eq!(m.raw["message"]["id"], m.external_id.as_str(), "{name}");
    m
}

#[test]
fn shared_text_sample() {
    let m = one_from_sheena("whatsapp_text.json");
    assert_eq!(
        m.external_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    );
    assert_eq!(m.occurred_at, at_secs(1_749_416_383));
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.body.as_deref(), Some("Does it come in another color?"));
    assert!(m.media.is_empty());
    assert_eq!(
        m.raw["message"]["text"]["body"],
        "Does it come in another color?"
    );
    assert_eq!(m.raw["contact"]["profile"]["name"], "Sheena Nelson");
}

/// The image sample with its media object changed.
fn image_with(change: impl Fn(&mut serde_json::Value)) -> InboundMessage {
    let text = fixture("whatsapp_image.json");
    let mut body: serde_json::Value = serde_json::from_str(text).unwrap();
    change(&mut body["entry"][0]["changes"][0]["value"]["messages"][0]["image"]);
    let events = parse(body.to_string().as_bytes()).unwrap();
    match events.into_iter().next() {
        Some(InboundEvent::Message(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_mime_type_with_a_line_break_or_a_path_in_a_media_id_is_dropped() {
    let m = image_with(|i| i["mime_type"] = "image/jpeg\r\nX-Injected: 1".into());
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].mime_type, None, "never a header with CR/LF");
    let m = image_with(|i| i["mime_type"] = "image/jpeg; charset=binary".into());
    assert_eq!(
        m.media[0].mime_type.as_deref(),
        Some("image/jpeg; charset=binary")
    );
    let m = image_with(|i| i["id"] = "../../me?fields=x".into());
    assert!(
        m.media.is_empty(),
        "not put into a Graph API path: {:?}",
        m.media
    );
    assert_eq!(m.kind, MessageKind::Image, "the message itself is kept");
}

#[test]
fn shared_image_sample() {
    let m = one_from_sheena("whatsapp_image.json");
    assert_eq!(m.kind, MessageKind::Image);
    assert_eq!(m.occurred_at, at_secs(1_744_344_496));
    assert_eq!(m.body.as_deref(), Some("Taj Mahal"));
    assert_eq!(
        m.media,
        vec![MediaRef {
            media_id: "1003383421387256".into(),
            mime_type: Some("image/jpeg".into()),
            // base64 "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=" as lowercase hex
            sha256: Some("49f227634806293b0995459bc310b593e1400f41591efcf07e9bced335f41942".into()),
            filename: None,
        }]
    );
}

#[test]
fn shared_button_reply_sample() {
    let m = one_from_sheena("whatsapp_interactive_button_reply.json");
    assert_eq!(m.kind, MessageKind::Interactive);
    assert_eq!(m.body.as_deref(), Some("Cancel"));
    assert_eq!(m.occurred_at, at_secs(1_750_025_136));
    assert_eq!(
        m.external_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA="
    );
    assert_eq!(m.raw["message"]["context"]["from"], "15550783881");
}

#[test]
fn shared_reaction_sample() {
    let m = one_from_sheena("whatsapp_reaction.json");
    assert_eq!(m.kind, MessageKind::Reaction);
    assert_eq!(m.body.as_deref(), Some("👍"));
    assert_eq!(m.occurred_at, at_secs(1_749_419_544));
    assert_eq!(
        m.raw["message"]["reaction"]["message_id"],
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA"
    );
}

#[test]
fn shared_status_sample() {
    let events = parse(fixture("whatsapp_status.json").as_bytes()).unwrap();
    assert_eq!(events.len(), 1);
    let s = statuses(&events)[0];
    assert_eq!(s.account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(
        s.external_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA"
    );
    assert_eq!(s.status, DeliveryStatus::Delivered);
    assert_eq!(s.occurred_at, at_secs(1_750_263_773));
    assert_eq!(s.recipient.as_deref(), Some(SHEENA));
    assert!(s.errors.is_empty());
    assert_eq!(s.raw["pricing"]["category"], "service");
}

#[test]
fn audio() {
    let m = one_from_sheena("whatsapp_audio.json");
    assert_eq!(m.kind, MessageKind::Audio);
    assert_eq!(m.body, None);
    assert_eq!(
        m.media,
        vec![MediaRef {
            media_id: "1003383421387256".into(),
            mime_type: Some("audio/ogg; codecs=opus".into()),
            sha256: Some("6ed8919ce20490a5e3ad8630a4fab69475297abd07db73918dd5f36fcfaeb11b".into()),
            filename: None,
        }]
    );
}

#[test]
fn video() {
    let m = one_from_sheena("whatsapp_video.json");
    assert_eq!(m.kind, MessageKind::Video);
    assert_eq!(m.body.as_deref(), Some("Cheese."));
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].media_id, "1166846181421424");
    assert_eq!(m.media[0].mime_type.as_deref(), Some("video/mp4"));
    assert_eq!(
        m.media[0].sha256.as_deref(),
        Some("0cab1c9617404faf2b24e221e189ca5945813e14d3f766345b09ca13bbe28ffc")
    );
}

#[test]
fn document() {
    let m = one_from_sheena("whatsapp_document.json");
    assert_eq!(m.kind, MessageKind::Document);
    assert_eq!(m.body.as_deref(), Some("Lucky Shrub Invoice"));
    assert_eq!(
        m.media,
        vec![MediaRef {
            media_id: "1003383421387256".into(),
            mime_type: Some("application/pdf".into()),
            sha256: Some("43cc23fa52b87b4cc1d02b5b114154151d6adddb17c9fddc06b027fa99e24008".into()),
            filename: Some("lucky-shrub-invoice.pdf".into()),
        }]
    );
}

#[test]
fn sticker() {
    let m = one_from_sheena("whatsapp_sticker.json");
    assert_eq!(m.kind, MessageKind::Sticker);
    assert_eq!(m.body, None);
    assert_eq!(m.media[0].mime_type.as_deref(), Some("image/webp"));
    assert_eq!(
        m.media[0].sha256.as_deref(),
        Some("57c4b13a4c7335e72f1669e0506e99208df1da050c125da678b23ebb55bf4c61")
    );
}

#[test]
fn location() {
    let m = one_from_sheena("whatsapp_location.json");
    assert_eq!(m.kind, MessageKind::Location);
    assert_eq!(
        m.body.as_deref(),
        Some("52.52,13.405 Lucky Shrub Berlin, Unter den Linden 1, 10117 Berlin")
    );
    assert!(m.media.is_empty());
}

#[test]
fn contacts() {
    let m = one_from_sheena("whatsapp_contacts.json");
    assert_eq!(m.kind, MessageKind::Contacts);
    // formatted_name, else first + last name
    assert_eq!(m.body.as_deref(), Some("Barbara J. Johnson, Pablo Morales"));
}

#[test]
fn list_reply() {
    let m = one_from_sheena("whatsapp_list_reply.json");
    assert_eq!(m.kind, MessageKind::Interactive);
    assert_eq!(
        m.body.as_deref(),
        Some("Priority Mail Express\nNext Day to 2 Days")
    );
}

#[test]
fn flow_reply() {
    let m = one_from_sheena("whatsapp_nfm_reply.json");
    assert_eq!(m.kind, MessageKind::Interactive);
    assert_eq!(m.body.as_deref(), Some("Sent"));
    assert!(m.raw["message"]["interactive"]["nfm_reply"]["response_json"].is_string());
}

#[test]
fn button() {
    let m = one_from_sheena("whatsapp_button.json");
    assert_eq!(m.kind, MessageKind::Button);
    assert_eq!(m.body.as_deref(), Some("Unsubscribe from Promos"));
}

#[test]
fn order() {
    let m = one_from_sheena("whatsapp_order.json");
    assert_eq!(m.kind, MessageKind::Order);
    assert_eq!(
        m.body.as_deref(),
        Some("3 items\nPlease deliver before Friday")
    );
}

#[test]
fn system_without_contacts() {
    let m = one("whatsapp_system.json");
    assert_eq!(m.kind, MessageKind::System);
    assert_eq!(m.address, SHEENA);
    assert_eq!(m.display_name, None);
    assert_eq!(m.raw["contact"], Value::Null);
    assert_eq!(
        m.body.as_deref(),
        Some("User Sheena Nelson changed from 16505551234 to 12195555358")
    );
    assert_eq!(m.occurred_at, at_secs(1_739_321_024));
}

#[test]
fn request_welcome_is_system() {
    let m = one_from_sheena("whatsapp_request_welcome.json");
    assert_eq!(m.kind, MessageKind::System);
    assert!(m.body.is_some());
}

#[test]
fn unsupported_keeps_raw() {
    let m = one_from_sheena("whatsapp_unsupported.json");
    assert_eq!(m.kind, MessageKind::Unsupported);
    assert_eq!(m.body, None);
    assert!(m.media.is_empty());
    assert_eq!(m.raw["message"]["errors"][0]["code"], 131_051);
}

#[test]
fn failed_status_with_errors() {
    let events = parse(fixture("whatsapp_status_failed.json").as_bytes()).unwrap();
    let s = statuses(&events);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].status, DeliveryStatus::Failed);
    assert_eq!(
        s[0].external_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA"
    );
    assert_eq!(s[0].occurred_at, at_secs(1_744_344_496));
    assert_eq!(s[0].recipient.as_deref(), Some(SHEENA));
    let text = "Unable to deliver the message. This recipient has chosen to stop receiving \
                marketing messages on WhatsApp from your business";
    assert_eq!(
        s[0].errors,
        vec![PlatformError {
            code: 131_050,
            title: text.into(),
            detail: Some(text.into())
        }]
    );
}

#[test]
fn status_error_fields_fall_back() {
    let body = json!({"object": OBJECT, "entry": [{"changes": [{"field": "messages", "value": {
        "statuses": [{"id": "wamid.X", "status": "failed", "timestamp": 1_700_000_000,
            "recipient_user_id": "US.1",
            "errors": [{"code": "131026", "message": "Message undeliverable"}, {}, 5]}]}}]}]});
    let events = parse(body.to_string().as_bytes()).unwrap();
    let s = statuses(&events)[0];
    assert_eq!(s.account_id, None);
    assert_eq!(s.recipient.as_deref(), Some("US.1"));
    assert_eq!(
        s.errors,
        vec![
            PlatformError {
                code: 131_026,
                title: "Message undeliverable".into(),
                detail: Some("Message undeliverable".into()),
            },
            PlatformError {
                code: 0,
                title: String::new(),
                detail: None
            },
            PlatformError {
                code: 0,
                title: String::new(),
                detail: None
            },
        ]
    );
}

#[test]
fn group_message_is_system() {
    let m = one_from_sheena("whatsapp_group.json");
    assert_eq!(m.kind, MessageKind::System);
    assert_eq!(
        m.body.as_deref(),
        Some(
            "text message in WhatsApp group \
             Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD: \
             What do you all think about this?"
        )
    );
    assert_eq!(
        m.raw["message"]["group_id"],
        "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
    );
}

#[test]
fn group_participants_update_is_system() {
    let m = one("whatsapp_group_participants.json");
    let group = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD";
    assert_eq!(m.kind, MessageKind::System);
    assert_eq!(m.address, group);
    assert_eq!(
        m.external_id,
        format!("group:{group}:group_participants_add:1739321024")
    );
    assert_eq!(m.occurred_at, at_secs(1_739_321_024));
    assert_eq!(
        m.body.as_deref(),
        Some(
            "Participants joined the WhatsApp group (group_participants_add; \
             added: 16505551234; reason: invite_link)"
        )
    );
    assert_eq!(m.raw["field"], "group_participants_update");
    assert_eq!(m.raw["group"]["group_id"], group);
}

#[test]
fn user_id_when_wa_id_is_missing() {
    let m = one("whatsapp_user_id_only.json");
    assert_eq!(m.address, "US.13491208655302741918");
    assert_eq!(m.display_name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(m.raw["contact"]["user_id"], "US.13491208655302741918");
    assert_eq!(
        m.body.as_deref(),
        Some("Hi, it's me without a phone number")
    );
}

#[test]
fn empty_from_falls_back_to_user_id() {
    let body = json!({"object": OBJECT, "entry": [{"changes": [{"field": "messages", "value": {
        "contacts": [{"profile": {"name": "Pablo"}, "wa_id": "", "user_id": "DE.77"}],
        "messages": [{"from": "", "user_id": "DE.77", "id": "wamid.U", "timestamp": "1700000000",
                      "type": "text", "text": {"body": "hi"}}]}}]}]});
    let events = parse(body.to_string().as_bytes()).unwrap();
    let m = messages(&events)[0];
    assert_eq!(m.address, "DE.77");
    assert_eq!(m.display_name.as_deref(), Some("Pablo"));
}

#[test]
fn batch_keeps_order_and_skips_broken_items() {
    let events = parse(fixture("whatsapp_batch.json").as_bytes()).unwrap();
    let ids: Vec<(&str, &str)> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => ("message", m.external_id.as_str()),
            InboundEvent::Status(s) => ("status", s.external_id.as_str()),
            InboundEvent::Skipped(why) => ("skipped", why.as_str()),
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("message", "wamid.BATCH1"),
            ("skipped", "missing_id"),
            ("message", "wamid.BATCH2"),
            ("skipped", "bad_timestamp"),
            ("skipped", "unusable"),
            ("status", "wamid.OUT1"),
            ("status", "wamid.OUT1"),
            ("skipped", "unusable"),
            ("skipped", "unknown_field"),
            ("message", "wamid.BATCH5"),
        ]
    );
    let m = messages(&events);
    assert_eq!(m[0].body.as_deref(), Some("first"));
    assert_eq!(m[0].display_name.as_deref(), Some("Sheena Nelson"));
    // unknown type
    assert_eq!(m[1].kind, MessageKind::Unsupported);
    assert_eq!(m[1].body, None);
    assert_eq!(m[1].address, "16505550000");
    assert_eq!(m[1].display_name.as_deref(), Some("Pablo Morales"));
    assert_eq!(m[1].raw["message"]["hologram"]["id"], "42");
    // other entry, other number
    assert_eq!(m[2].account_id.as_deref(), Some("106540352242923"));
    let s = statuses(&events);
    assert_eq!(s[0].status, DeliveryStatus::Sent);
    assert_eq!(s[1].status, DeliveryStatus::Read);
    assert_eq!(s[1].occurred_at, at_secs(1_749_416_395));
}

#[test]
fn removed_reaction_has_no_body() {
    let body = fixture("whatsapp_reaction.json").replace("\"👍\"", "\"\"");
    let events = parse(body.as_bytes()).unwrap();
    let m = messages(&events)[0];
    assert_eq!(m.kind, MessageKind::Reaction);
    assert_eq!(m.body, None);
}

#[test]
fn text_body_is_kept_verbatim() {
    let body =
        fixture("whatsapp_text.json").replace("Does it come in another color?", "  two\\nlines  ");
    let events = parse(body.as_bytes()).unwrap();
    assert_eq!(messages(&events)[0].body.as_deref(), Some("  two\nlines  "));
}

#[test]
fn sha256_forms() {
    let hex = "49f227634806293b0995459bc310b593e1400f41591efcf07e9bced335f41942";
    assert_eq!(sha256_hex(&hex.to_uppercase()).as_deref(), Some(hex));
    assert_eq!(
        sha256_hex("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=").as_deref(),
        Some(hex)
    );
    assert_eq!(
        sha256_hex("SfInY0gGKTsJlUWbwxC1k-FAD0FZHvzwfpvO0zX0GUI").as_deref(),
        Some(hex)
    );
    assert_eq!(sha256_hex("bm90IDMyIGJ5dGVz"), None);
    assert_eq!(sha256_hex("not base64 at all!"), None);
}

#[test]
fn media_without_id_has_no_media_ref() {
    let body = fixture("whatsapp_image.json").replace("\"id\": \"1003383421387256\"", "\"x\": 1");
    let events = parse(body.as_bytes()).unwrap();
    let m = messages(&events)[0];
    assert_eq!(m.kind, MessageKind::Image);
    assert!(m.media.is_empty());
}

#[test]
fn unknown_status_is_skipped() {
    let body = fixture("whatsapp_status.json").replace("\"delivered\"", "\"warning\"");
    assert_eq!(
        parse(body.as_bytes()).unwrap(),
        vec![InboundEvent::Skipped(Skip::Unusable)]
    );
}

#[test]
fn other_fields_are_ignored() {
    let body = json!({"object": OBJECT, "entry": [{"id": "1", "changes": [
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
        {"field": "smb_message_echoes", "value": {"message_echoes": [{"id": "x"}]}},
        {"field": "messages"},
        {"field": "messages", "value": 7},
    ]}]});
    assert_eq!(
        skipped(&parse(body.to_string().as_bytes()).unwrap()),
        vec![
            Skip::UnknownField,
            Skip::UnknownField,
            Skip::Unusable,
            Skip::Unusable
        ]
    );
}

#[test]
fn errors() {
    assert_eq!(parse(b"{not json"), Err(ParseError::Malformed));
    assert_eq!(parse(b"[1, 2]"), Err(ParseError::Malformed));
    assert_eq!(
        parse(fixture("messenger_text.json").as_bytes()),
        Err(ParseError::WrongObject {
            expected: OBJECT,
            found: Some("page".into())
        })
    );
    assert_eq!(
        parse(br#"{"entry": []}"#),
        Err(ParseError::WrongObject {
            expected: OBJECT,
            found: None
        })
    );
    assert_eq!(
        parse(br#"{"object": "whatsapp_business_account", "entry": 5}"#),
        Err(ParseError::MissingField("entry"))
    );
    assert_eq!(
        parse(br#"{"object": "whatsapp_business_account", "entry": []}"#),
        Ok(vec![])
    );
}

#[test]
fn never_panics() {
    assert_never_panics(parse, "whatsapp_");
}

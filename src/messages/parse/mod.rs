//! Platform webhook parsers: a raw, already verified webhook body → [`InboundEvent`]s.
//!
//! Each parser is a pure function (`parse(body) -> Result<Vec<InboundEvent>, ParseError>`) that
//! never panics. The body is read as a `serde_json::Value`, so unknown or extra fields never fail
//! a delivery. The rules they share:
//! - malformed JSON, or JSON that is not an object → [`ParseError::Malformed`];
//! - a wrong top-level `object` (Meta) → [`ParseError::WrongObject`];
//! - a message type the parser does not know → a message of kind `Unsupported` with its raw item;
//! - an item lacking what identifies it (id, sender, a valid timestamp) is skipped, the other
//!   items of the batch are kept.
//!
//! [`InboundEvent`]: crate::messages::inbound::InboundEvent
//! [`ParseError::Malformed`]: crate::messages::inbound::ParseError::Malformed
//! [`ParseError::WrongObject`]: crate::messages::inbound::ParseError::WrongObject

pub mod content;
pub mod messenger;
pub mod telegram;
pub mod whatsapp;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::messages::inbound::{ParseError, Skip};

/// Longest `object` value echoed back in [`ParseError::WrongObject`].
const MAX_ECHOED_OBJECT_CHARS: usize = 64;

/// Parses the body as a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ParseError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ParseError::Malformed),
    }
}

/// Checks the top-level `object` field of a Meta webhook.
pub(crate) fn expect_object(
    root: &serde_json::Map<String, Value>,
    expected: &'static str,
) -> Result<(), ParseError> {
    let found = root.get("object");
    if found.and_then(Value::as_str) == Some(expected) {
        return Ok(());
    }
    Err(ParseError::WrongObject {
        expected,
        found: found
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_ECHOED_OBJECT_CHARS).collect()),
    })
}

/// Follows a path of object keys; `None` as soon as one is missing or not an object.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

/// A string field, trimmed, `None` if missing, not a string or blank.
pub(crate) fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Like [`text`], owned.
pub(crate) fn text_owned(v: &Value, path: &[&str]) -> Option<String> {
    text(v, path).map(str::to_string)
}

/// A MIME type as a response header may carry it again: visible ASCII and spaces, `type/…`, at
/// most 255 bytes. Anything else is dropped (the sealed raw item still has it), so a CR/LF in a
/// webhook can never break the headers of the file's download later.
pub(crate) fn mime_type(v: &Value, path: &[&str]) -> Option<String> {
    text(v, path)
        .map(str::trim)
        .filter(|m| header_safe_mime(m))
        .map(str::to_string)
}

/// Whether a MIME type can go into a `Content-Type` header as it is. Also checked when a file
/// is downloaded, for what was stored before parsing dropped such types.
pub fn header_safe_mime(m: &str) -> bool {
    m.len() <= 255 && m.contains('/') && m.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// A platform's file id as it may go into an API path or query: letters, digits, `_` and `-`,
/// at most 256 bytes. WhatsApp media ids are digits, Telegram file ids URL-safe base64; an id
/// like `../../x?y` would address another API resource, so the reference is dropped.
pub(crate) fn file_id(id: Option<String>) -> Option<String> {
    id.filter(|i| {
        !i.is_empty()
            && i.len() <= 256
            && i.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// Message content (a text body, caption, title): kept exactly as sent, `None` if missing, not
/// a string or blank.
pub(crate) fn content(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// An identifier that platforms send as a string or as an integer (Telegram chat ids, some
/// Meta ids): the decimal text of an integer, or a non-blank string (trimmed).
/// Why `item` gave no event: an id missing at one of `ids`, else no time at `time` (read by
/// `read_time`), else something else.
pub(crate) fn why_skipped(
    item: &Value,
    ids: &[&[&str]],
    time: &[&str],
    read_time: fn(Option<&Value>) -> Option<DateTime<Utc>>,
) -> Skip {
    if ids.iter().any(|path| id_text(at(item, path)).is_none()) {
        Skip::MissingId
    } else if read_time(at(item, time)).is_none() {
        Skip::BadTimestamp
    } else {
        Skip::Unusable
    }
}

pub(crate) fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else {
                n.as_u64().map(|u| u.to_string())
            }
        }
        _ => None,
    }
}

/// A non-negative integer given as a JSON integer or as a string of digits.
fn non_negative_int(v: Option<&Value>) -> Option<i64> {
    let n = match v? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    (n >= 0).then_some(n)
}

/// Unix seconds (integer or string of digits) → time; `None` if missing, negative or out of range.
pub(crate) fn unix_seconds(v: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(non_negative_int(v)?, 0)
}

/// Unix milliseconds (integer or string of digits) → time; `None` if missing, negative or out of
/// range.
pub(crate) fn unix_millis(v: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(non_negative_int(v)?)
}

/// The text of a JSON number, or of a string that holds one (coordinates).
pub(crate) fn number_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|_| s.to_string())
        }
        _ => None,
    }
}

/// Joins the present, non-blank parts with `sep`; `None` if nothing is left.
pub(crate) fn join_present<'a, I>(parts: I, sep: &str) -> Option<String>
where
    I: IntoIterator<Item = Option<&'a str>>,
{
    let parts: Vec<&str> = parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(sep))
}

/// A location as text: `"lat,lon Name, Address"` (each part only if given).
pub(crate) fn location_body(
    lat: Option<&Value>,
    lon: Option<&Value>,
    name: Option<&str>,
    address: Option<&str>,
) -> Option<String> {
    let coordinates = match (number_text(lat), number_text(lon)) {
        (Some(lat), Some(lon)) => Some(format!("{lat},{lon}")),
        _ => None,
    };
    let place = join_present([name, address], ", ");
    join_present([coordinates.as_deref(), place.as_deref()], " ")
}

/// The array at `path`, or an empty slice.
pub(crate) fn array<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_accept_integers_and_digit_strings() {
        let t = unix_seconds(Some(&json!("1749416383"))).unwrap();
        assert_eq!(t.timestamp(), 1_749_416_383);
        assert_eq!(
            unix_seconds(Some(&json!(1_441_645_532)))
                .unwrap()
                .timestamp(),
            1_441_645_532
        );
        let m = unix_millis(Some(&json!(1_458_692_752_478_i64))).unwrap();
        assert_eq!(m.timestamp_millis(), 1_458_692_752_478);
    }

    #[test]
    fn timestamps_reject_garbage() {
        assert_eq!(unix_seconds(None), None);
        assert_eq!(unix_seconds(Some(&json!("abc"))), None);
        assert_eq!(unix_seconds(Some(&json!(-5))), None);
        assert_eq!(unix_seconds(Some(&json!(1.5))), None);
        assert_eq!(unix_seconds(Some(&json!(i64::MAX))), None);
        assert_eq!(unix_millis(Some(&json!(u64::MAX))), None);
        assert_eq!(unix_seconds(Some(&json!({"a": 1}))), None);
    }

    #[test]
    fn ids_from_strings_and_numbers() {
        assert_eq!(
            id_text(Some(&json!(-1001234567890_i64))).as_deref(),
            Some("-1001234567890")
        );
        assert_eq!(
            id_text(Some(&json!(u64::MAX))).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(id_text(Some(&json!(" 42 "))).as_deref(), Some("42"));
        assert_eq!(id_text(Some(&json!(""))), None);
        assert_eq!(id_text(Some(&json!(1.5))), None);
        assert_eq!(id_text(Some(&json!(null))), None);
        assert_eq!(id_text(None), None);
    }

    #[test]
    fn location_text() {
        assert_eq!(
            location_body(
                Some(&json!(52.52)),
                Some(&json!(13.405)),
                Some("Cafe"),
                Some("Main St 1")
            )
            .as_deref(),
            Some("52.52,13.405 Cafe, Main St 1")
        );
        assert_eq!(
            location_body(Some(&json!("1.5")), Some(&json!(-2)), None, None).as_deref(),
            Some("1.5,-2")
        );
        assert_eq!(
            location_body(None, Some(&json!(2)), None, Some("Addr")).as_deref(),
            Some("Addr")
        );
        assert_eq!(
            location_body(Some(&json!("x")), Some(&json!(2)), None, None),
            None
        );
    }

    #[test]
    fn object_checks() {
        assert_eq!(json_object(b"[1]"), Err(ParseError::Malformed));
        assert_eq!(json_object(b"{"), Err(ParseError::Malformed));
        let root = json_object(br#"{"object": 5}"#).unwrap();
        assert_eq!(
            expect_object(&root, "page"),
            Err(ParseError::WrongObject {
                expected: "page",
                found: None
            })
        );
        let long = format!(r#"{{"object": "{}"}}"#, "x".repeat(500));
        let root = json_object(long.as_bytes()).unwrap();
        match expect_object(&root, "page") {
            Err(ParseError::WrongObject { found: Some(f), .. }) => assert_eq!(f.len(), 64),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Helpers shared by the parsers' tests: fixtures, event accessors and the no-panic checks.
#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::Value;

    use crate::messages::inbound::{InboundEvent, InboundMessage, ParseError, StatusUpdate};

    pub(crate) type Parser = fn(&[u8]) -> Result<Vec<InboundEvent>, ParseError>;

    macro_rules! fixtures {
        ($($name:literal),* $(,)?) => {
            &[$(($name, include_str!(concat!("../../../tests/fixtures/webhooks/", $name)))),*]
        };
    }

    /// Every fixture in `tests/fixtures/webhooks/` (name, content).
    pub(crate) const FIXTURES: &[(&str, &str)] = fixtures![
        "messenger_attachment_audio.json",
        "messenger_attachment_fallback.json",
        "messenger_attachment_file.json",
        "messenger_attachment_image.json",
        "messenger_attachment_location.json",
        "messenger_attachment_sticker.json",
        "messenger_attachment_video.json",
        "messenger_batch.json",
        "messenger_delivery.json",
        "messenger_echo.json",
        "messenger_message_edit.json",
        "messenger_postback.json",
        "messenger_quick_reply.json",
        "messenger_reaction.json",
        "messenger_read.json",
        "messenger_standby.json",
        "messenger_text.json",
        "messenger_text_plain.json",
        "messenger_unknown.json",
        "telegram_animation.json",
        "telegram_audio.json",
        "telegram_callback.json",
        "telegram_channel_post.json",
        "telegram_contact.json",
        "telegram_document.json",
        "telegram_edited.json",
        "telegram_group.json",
        "telegram_location.json",
        "telegram_message_reaction.json",
        "telegram_my_chat_member.json",
        "telegram_new_members.json",
        "telegram_photo.json",
        "telegram_poll.json",
        "telegram_sticker.json",
        "telegram_update.json",
        "telegram_venue.json",
        "telegram_video.json",
        "telegram_video_note.json",
        "telegram_voice.json",
        "whatsapp_audio.json",
        "whatsapp_batch.json",
        "whatsapp_button.json",
        "whatsapp_contacts.json",
        "whatsapp_document.json",
        "whatsapp_group.json",
        "whatsapp_group_participants.json",
        "whatsapp_image.json",
        "whatsapp_interactive_button_reply.json",
        "whatsapp_list_reply.json",
        "whatsapp_location.json",
        "whatsapp_nfm_reply.json",
        "whatsapp_order.json",
        "whatsapp_reaction.json",
        "whatsapp_request_welcome.json",
        "whatsapp_status.json",
        "whatsapp_status_failed.json",
        "whatsapp_sticker.json",
        "whatsapp_system.json",
        "whatsapp_text.json",
        "whatsapp_unsupported.json",
        "whatsapp_user_id_only.json",
        "whatsapp_video.json",
    ];

    pub(crate) fn fixture(name: &str) -> &'static str {
        FIXTURES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("no fixture {name}"))
    }

    pub(crate) fn messages(events: &[InboundEvent]) -> Vec<&InboundMessage> {
        events
            .iter()
            .filter_map(|e| match e {
                InboundEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Why items were skipped, in order.
    pub(crate) fn skipped(events: &[InboundEvent]) -> Vec<crate::messages::inbound::Skip> {
        events
            .iter()
            .filter_map(|e| match e {
                InboundEvent::Skipped(why) => Some(*why),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn statuses(events: &[InboundEvent]) -> Vec<&StatusUpdate> {
        events
            .iter()
            .filter_map(|e| match e {
                InboundEvent::Status(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Parses a fixture that must give exactly one message.
    pub(crate) fn one_message(parse: Parser, name: &str) -> InboundMessage {
        let events = parse(fixture(name).as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(events.len(), 1, "{name}: {events:#?}");
        match events.into_iter().next() {
            Some(InboundEvent::Message(m)) => m,
            other => panic!("{name}: expected a message, got {other:?}"),
        }
    }

    const REPLACEMENTS: &[&str] = &[
        "null",
        "true",
        "0",
        "-1",
        "1.5e300",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "[null]",
        "[{}]",
        "18446744073709551615",
        "-9223372036854775808",
    ];

    /// Every node of the document replaced, one at a time, by values of every JSON type.
    fn shape_mutations(doc: &Value) -> Vec<Vec<u8>> {
        fn paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            out.push(prefix.clone());
            match v {
                Value::Object(map) => {
                    for (k, child) in map {
                        prefix.push(k.clone());
                        paths(child, prefix, out);
                        prefix.pop();
                    }
                }
                Value::Array(items) => {
                    for (i, child) in items.iter().enumerate() {
                        prefix.push(i.to_string());
                        paths(child, prefix, out);
                        prefix.pop();
                    }
                }
                _ => {}
            }
        }
        let mut all = Vec::new();
        paths(doc, &mut Vec::new(), &mut all);
        let mut out = Vec::new();
        for path in all {
            let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
            for replacement in REPLACEMENTS {
                let mut doc = doc.clone();
                let new: Value = serde_json::from_str(replacement).unwrap();
                if pointer.is_empty() {
                    doc = new;
                } else if let Some(slot) = doc.pointer_mut(&pointer) {
                    *slot = new;
                }
                out.push(serde_json::to_vec(&doc).unwrap());
            }
        }
        out
    }

    /// Feeds the parser garbage, truncations, byte flips and every shape mutation of the given
    /// fixtures, plus every other fixture whole: it must return (Ok or Err), never panic.
    pub(crate) fn assert_never_panics(parse: Parser, prefix: &str) {
        let garbage: &[&[u8]] = &[
            b"",
            b" ",
            b"null",
            b"0",
            b"\"object\"",
            b"[]",
            b"{}",
            b"{\"object\":\"page\",\"entry\":5}",
            b"{\"object\":\"whatsapp_business_account\",\"entry\":[5,null,{\"changes\":7}]}",
            b"{\"object\":\"page\",\"entry\":[{\"messaging\":{\"a\":1}}]}",
            b"{\"update_id\":1,\"message\":[]}",
            b"{\"update_id\":\"x\",\"callback_query\":{\"message\":5}}",
            b"\xff\xfe\x00garbage",
            b"{\"a\":",
        ];
        for g in garbage {
            let _ = parse(g);
        }
        // Deep nesting stops at serde_json's recursion limit.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse(deep.as_bytes()), Err(ParseError::Malformed));

        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for (name, content) in FIXTURES {
            let bytes = content.as_bytes();
            let _ = parse(bytes);
            if !name.starts_with(prefix) {
                continue;
            }
            for cut in (0..bytes.len()).step_by(7) {
                let _ = parse(bytes.get(..cut).unwrap());
            }
            for _ in 0..200 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let mut flipped = bytes.to_vec();
                let at = (seed >> 33) as usize % flipped.len();
                flipped[at] = (seed >> 24) as u8;
                let _ = parse(&flipped);
            }
            let doc: Value = serde_json::from_str(content).unwrap();
            for mutated in shape_mutations(&doc) {
                let _ = parse(&mutated);
            }
        }
    }
}

//! Telegram Bot API webhooks: the body is one `Update` object (no `object` field; `update_id`
//! is required). Times are unix seconds. The bot is the channel, so `account_id` is `None`.
//!
//! Updates turned into messages:
//! - `message`, `channel_post`, `business_message` — a message in a chat;
//! - `edited_message`, `edited_channel_post`, `edited_business_message` — an edit, stored as its
//!   own message `"<chat id>:<message id>:edit:<edit_date>"` at `edit_date`;
//! - `callback_query` — an inline keyboard button pressed: `Button` with the callback `data`;
//! - `message_reaction` — a user changed their reaction to a message: `Reaction`.
//!
//! Every other update (`my_chat_member`, `chat_member`, `chat_join_request`, `inline_query`,
//! `poll`, `poll_answer`, `pre_checkout_query`, `shipping_query`, `message_reaction_count`,
//! boosts, business connection events, …) is bot or chat administration, not conversation
//! content, and gives no events (`Ok(vec![])`): the webhook is answered, nothing is stored.

use serde_json::Value;

use super::{
    array, at, content, id_text, join_present, json_object, location_body, text, text_owned,
    unix_seconds, why_skipped,
};
use crate::messages::inbound::{InboundEvent, InboundMessage, MediaRef, ParseError, Skip};
use crate::messages::MessageKind;

const MESSAGE_UPDATES: [&str; 3] = ["message", "channel_post", "business_message"];
const EDIT_UPDATES: [&str; 3] = [
    "edited_message",
    "edited_channel_post",
    "edited_business_message",
];

/// Parses one Telegram `Update`.
///
/// # Errors
/// [`ParseError::Malformed`] for a body that is not a JSON object, [`ParseError::MissingField`]
/// without `update_id`. An update that cannot be stored (no chat, no time) gives `Ok(vec![])`.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let root = json_object(body)?;
    if id_text(root.get("update_id")).is_none() {
        return Err(ParseError::MissingField("update_id"));
    }
    let update = Value::Object(root);
    let chat_id: &[&str] = &["chat", "id"];
    let (item, message, time) = if let Some(m) = first_of(&update, &MESSAGE_UPDATES) {
        (m, chat_message(m, false, &update), "date")
    } else if let Some(m) = first_of(&update, &EDIT_UPDATES) {
        (m, chat_message(m, true, &update), "edit_date")
    } else if let Some(q) = update.get("callback_query") {
        (q, callback_query(q, &update), "date")
    } else if let Some(r) = update.get("message_reaction") {
        (r, reaction(r, &update), "date")
    } else {
        return Ok(vec![InboundEvent::Skipped(Skip::Administration)]);
    };
    Ok(vec![match message {
        Some(m) => InboundEvent::Message(m),
        None => InboundEvent::Skipped(why_skipped(item, &[chat_id], &[time], unix_seconds)),
    }])
}

fn first_of<'a>(update: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter()
        .find_map(|k| update.get(*k))
        .filter(|v| v.is_object())
}

/// `"First Last"` of a User (or of a private Chat), falling back to the username.
fn person_name(v: &Value) -> Option<String> {
    join_present([text(v, &["first_name"]), text(v, &["last_name"])], " ")
        .or_else(|| text_owned(v, &["username"]))
}

/// Private chats are named after the person, groups and channels by their title.
fn display_name(msg: &Value) -> Option<String> {
    let chat = msg.get("chat").unwrap_or(&Value::Null);
    let from = msg.get("from").unwrap_or(&Value::Null);
    match text(chat, &["type"]) {
        Some("private") | None => person_name(from).or_else(|| person_name(chat)),
        Some(_) => text_owned(chat, &["title"]).or_else(|| person_name(from)),
    }
}

fn chat_message(msg: &Value, edited: bool, update: &Value) -> Option<InboundMessage> {
    let chat_id = id_text(at(msg, &["chat", "id"]))?;
    let message_id = id_text(msg.get("message_id"))?;
    let (external_id, occurred_at) = if edited {
        let edit_date = unix_seconds(msg.get("edit_date"))?;
        let id = format!("{chat_id}:{message_id}:edit:{}", edit_date.timestamp());
        (id, edit_date)
    } else {
        (
            format!("{chat_id}:{message_id}"),
            unix_seconds(msg.get("date"))?,
        )
    };
    let (kind, body, media) = message_content(msg);
    Some(InboundMessage {
        account_id: None,
        address: chat_id,
        display_name: display_name(msg),
        external_id,
        occurred_at,
        kind,
        body,
        media,
        new_address: None,
        raw: update.clone(),
    })
}

/// Kind, readable body and media of a Message, by the field that carries its content.
fn message_content(msg: &Value) -> (MessageKind, Option<String>, Vec<MediaRef>) {
    let caption = content(msg, &["caption"]);
    let with_file = |kind: MessageKind, key: &str, body: Option<String>| {
        let media = msg.get(key).and_then(file_ref).into_iter().collect();
        (kind, body, media)
    };
    let has = |key: &str| msg.get(key).is_some_and(|v| !v.is_null());

    if let Some(body) = content(msg, &["text"]) {
        (MessageKind::Text, Some(body), vec![])
    } else if has("photo") {
        let largest = largest_photo(array(msg, &["photo"]));
        (
            MessageKind::Image,
            caption,
            largest.and_then(file_ref).into_iter().collect(),
        )
    } else if has("animation") {
        // A GIF or silent video; Telegram also sets `document` for these, so check it first.
        with_file(MessageKind::Video, "animation", caption)
    } else if has("video") {
        with_file(MessageKind::Video, "video", caption)
    } else if has("video_note") {
        with_file(MessageKind::Video, "video_note", caption)
    } else if has("voice") {
        with_file(MessageKind::Audio, "voice", caption)
    } else if has("audio") {
        with_file(MessageKind::Audio, "audio", caption)
    } else if has("document") {
        with_file(MessageKind::Document, "document", caption)
    } else if has("sticker") {
        let sticker = msg.get("sticker").unwrap_or(&Value::Null);
        let media = file_ref(sticker).map(|mut m| {
            m.mime_type = m
                .mime_type
                .or_else(|| Some(sticker_mime(sticker).to_string()));
            m
        });
        (
            MessageKind::Sticker,
            content(sticker, &["emoji"]),
            media.into_iter().collect(),
        )
    } else if has("venue") {
        let venue = msg.get("venue").unwrap_or(&Value::Null);
        let body = location_body(
            at(venue, &["location", "latitude"]),
            at(venue, &["location", "longitude"]),
            text(venue, &["title"]),
            text(venue, &["address"]),
        );
        (MessageKind::Location, body, vec![])
    } else if has("location") {
        let body = location_body(
            at(msg, &["location", "latitude"]),
            at(msg, &["location", "longitude"]),
            None,
            None,
        );
        (MessageKind::Location, body, vec![])
    } else if has("contact") {
        let contact = msg.get("contact").unwrap_or(&Value::Null);
        let name = join_present(
            [
                text(contact, &["first_name"]),
                text(contact, &["last_name"]),
            ],
            " ",
        );
        let body = join_present([name.as_deref(), text(contact, &["phone_number"])], " ");
        (MessageKind::Contacts, body, vec![])
    } else if let Some(body) = service_message(msg) {
        (MessageKind::System, Some(body), vec![])
    } else {
        // poll, dice, game, invoice, story, giveaway, paid media, … (kept in raw).
        (MessageKind::Unsupported, None, vec![])
    }
}

/// The largest size of a photo: by `file_size`, then by pixels; Telegram lists sizes smallest
/// first, and on a tie the later one wins.
fn largest_photo(sizes: &[Value]) -> Option<&Value> {
    sizes.iter().max_by_key(|s| {
        let n = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        (n("file_size"), n("width").saturating_mul(n("height")))
    })
}

fn file_ref(file: &Value) -> Option<MediaRef> {
    Some(MediaRef {
        media_id: super::file_id(text_owned(file, &["file_id"]))?,
        mime_type: super::mime_type(file, &["mime_type"]),
        sha256: None,
        filename: text_owned(file, &["file_name"]),
    })
}

/// Telegram's sticker formats: static WEBP, animated TGS, video WEBM.
fn sticker_mime(sticker: &Value) -> &'static str {
    let flag = |k: &str| sticker.get(k).and_then(Value::as_bool) == Some(true);
    if flag("is_animated") {
        "application/x-tgsticker"
    } else if flag("is_video") {
        "video/webm"
    } else {
        "image/webp"
    }
}

/// Service messages (members joining or leaving, title changes, …) as a readable line.
fn service_message(msg: &Value) -> Option<String> {
    let names = |key: &str| {
        let names: Vec<String> = array(msg, &[key]).iter().filter_map(person_name).collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    if let Some(joined) = names("new_chat_members") {
        return Some(format!("{joined} joined the chat"));
    }
    if let Some(left) = msg.get("left_chat_member") {
        let name = person_name(left).unwrap_or_else(|| "A member".to_string());
        return Some(format!("{name} left the chat"));
    }
    if let Some(title) = text(msg, &["new_chat_title"]) {
        return Some(format!("Chat title changed to {title}"));
    }
    let fixed = [
        ("new_chat_photo", "Chat photo changed"),
        ("delete_chat_photo", "Chat photo removed"),
        ("group_chat_created", "Group created"),
        ("supergroup_chat_created", "Supergroup created"),
        ("channel_chat_created", "Channel created"),
        ("pinned_message", "Message pinned"),
        ("migrate_to_chat_id", "Group migrated to a supergroup"),
        ("migrate_from_chat_id", "Supergroup migrated from a group"),
        (
            "message_auto_delete_timer_changed",
            "Auto-delete timer changed",
        ),
    ];
    fixed
        .iter()
        .find(|(key, _)| msg.get(*key).is_some_and(|v| !v.is_null()))
        .map(|(_, line)| (*line).to_string())
}

/// An inline keyboard button was pressed. A `CallbackQuery` has no time of its own: the time of
/// the message carrying the button is used (the press happened at or after it); a query without
/// that message (inline mode) has no usable time and is skipped.
fn callback_query(query: &Value, update: &Value) -> Option<InboundMessage> {
    let id = text(query, &["id"])?;
    let message = query.get("message").unwrap_or(&Value::Null);
    let address =
        id_text(at(message, &["chat", "id"])).or_else(|| id_text(at(query, &["from", "id"])))?;
    let occurred_at = unix_seconds(message.get("date"))?;
    let display_name = query.get("from").and_then(person_name);
    Some(InboundMessage {
        account_id: None,
        address,
        display_name,
        external_id: format!("callback:{id}"),
        occurred_at,
        kind: MessageKind::Button,
        body: content(query, &["data"]).or_else(|| content(query, &["game_short_name"])),
        media: vec![],
        new_address: None,
        raw: update.clone(),
    })
}

/// A user changed their reaction to a message (needs `message_reaction` in `allowed_updates`):
/// the new emoji, `None` when all reactions were removed.
fn reaction(r: &Value, update: &Value) -> Option<InboundMessage> {
    let chat_id = id_text(at(r, &["chat", "id"]))?;
    let message_id = id_text(r.get("message_id"))?;
    let occurred_at = unix_seconds(r.get("date"))?;
    let actor = id_text(at(r, &["user", "id"]))
        .or_else(|| id_text(at(r, &["actor_chat", "id"])))
        .unwrap_or_default();
    let emoji: String = array(r, &["new_reaction"])
        .iter()
        .filter_map(|t| match text(t, &["type"])? {
            "emoji" => text_owned(t, &["emoji"]),
            "paid" => Some("⭐".to_string()),
            _ => None,
        })
        .collect();
    let display_name = r
        .get("user")
        .and_then(person_name)
        .or_else(|| text_owned(r, &["actor_chat", "title"]));
    Some(InboundMessage {
        account_id: None,
        address: chat_id.clone(),
        display_name,
        external_id: format!(
            "{chat_id}:{message_id}:reaction:{actor}:{}",
            occurred_at.timestamp()
        ),
        occurred_at,
        kind: MessageKind::Reaction,
        body: (!emoji.is_empty()).then_some(emoji),
        media: vec![],
        new_address: None,
        raw: update.clone(),
    })
}

#[cfg(test)]
mod tests;

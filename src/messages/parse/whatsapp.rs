//! WhatsApp Cloud API webhooks (`object: "whatsapp_business_account"`).
//!
//! Shape: `entry[].changes[]` with `field` and `value`. For `field: "messages"` the value holds
//! `metadata.phone_number_id` (the business number the payload is for, our `account_id`),
//! `contacts[]` (profile names), `messages[]` (inbound) and `statuses[]` (delivery of our outbound
//! messages). Groups API fields (`group_lifecycle_update`, `group_participants_update`,
//! `group_settings_update`, `group_status_update`) carry `value.groups[]` and become `System`
//! messages addressed to the group id. Other fields (template status, account updates, echoes of
//! the WhatsApp Business app, …) carry no customer messages and are ignored.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

use super::{
    array, at, content, expect_object, id_text, join_present, json_object, location_body, text,
    text_owned, unix_seconds, why_skipped,
};
use crate::messages::inbound::{
    DeliveryStatus, InboundEvent, InboundMessage, MediaRef, ParseError, PlatformError, Skip,
    StatusUpdate,
};
use crate::messages::MessageKind;

const OBJECT: &str = "whatsapp_business_account";

/// Parses one WhatsApp Cloud API webhook body.
///
/// # Errors
/// [`ParseError::Malformed`] for a body that is not a JSON object, [`ParseError::WrongObject`]
/// unless `object` is `whatsapp_business_account`, [`ParseError::MissingField`] without an
/// `entry` array. Problems inside single items never fail the delivery: the item is skipped.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let root = json_object(body)?;
    expect_object(&root, OBJECT)?;
    let entries = root
        .get("entry")
        .and_then(Value::as_array)
        .ok_or(ParseError::MissingField("entry"))?;

    let mut events = Vec::new();
    for entry in entries {
        for change in array(entry, &["changes"]) {
            let Some(value) = change.get("value").filter(|v| v.is_object()) else {
                events.push(InboundEvent::Skipped(Skip::Unusable));
                continue;
            };
            match change.get("field").and_then(Value::as_str) {
                // A change without `field` is read as `messages`: lenient towards test tools.
                None | Some("messages") => {
                    messages(value, &mut events);
                    statuses(value, &mut events);
                }
                Some(field) if field.starts_with("group_") => groups(field, value, &mut events),
                Some(_) => events.push(InboundEvent::Skipped(Skip::UnknownField)),
            }
        }
    }
    Ok(events)
}

fn account_id(value: &Value) -> Option<String> {
    id_text(at(value, &["metadata", "phone_number_id"]))
}

fn messages(value: &Value, events: &mut Vec<InboundEvent>) {
    let account_id = account_id(value);
    let contacts = array(value, &["contacts"]);
    let metadata = value.get("metadata").cloned().unwrap_or(Value::Null);
    for item in array(value, &["messages"]) {
        events.push(
            match message(item, contacts, &metadata, account_id.clone()) {
                Some(message) => InboundEvent::Message(message),
                None => InboundEvent::Skipped(why_skipped(
                    item,
                    &[&["id"]],
                    &["timestamp"],
                    unix_seconds,
                )),
            },
        );
    }
}

fn message(
    item: &Value,
    contacts: &[Value],
    metadata: &Value,
    account_id: Option<String>,
) -> Option<InboundMessage> {
    let external_id = text_owned(item, &["id"])?;
    let occurred_at = unix_seconds(item.get("timestamp"))?;
    let wa_id = text(item, &["from"]);
    // Meta's business-scoped user id (BSUID): `from` may be empty for users with a username.
    let user_id = text(item, &["from_user_id"]).or_else(|| text(item, &["user_id"]));
    let address = wa_id.or(user_id)?.to_string();

    let contact = contacts.iter().find(|c| {
        let wa_match = wa_id.is_some() && text(c, &["wa_id"]) == wa_id;
        let user_match = user_id.is_some() && text(c, &["user_id"]) == user_id;
        wa_match || user_match
    });
    let display_name = contact.and_then(|c| {
        text_owned(c, &["profile", "name"]).or_else(|| text_owned(c, &["profile", "username"]))
    });

    let (mut kind, mut body, media) = message_content(item);
    // "User A changed from <old> to <new>": the contact moves to the new number.
    let new_address = (kind == MessageKind::System
        && text(item, &["system", "type"]) == Some("user_changed_number"))
    .then(|| id_text(at(item, &["system", "wa_id"])))
    .flatten();
    if let Some(group_id) = text(item, &["group_id"]) {
        // A message in a Groups API group: not a 1:1 exchange with the sender, so it is kept as
        // a system record of the group (content readable in the body, media still referenced).
        let what = format!("{} message in WhatsApp group {group_id}", kind.as_str());
        body = Some(match body {
            Some(inner) => format!("{what}: {inner}"),
            None => what,
        });
        kind = MessageKind::System;
    }

    Some(InboundMessage {
        account_id,
        address,
        display_name,
        external_id,
        occurred_at,
        kind,
        body,
        media,
        new_address,
        raw: json!({
            "message": item,
            "contact": contact.cloned().unwrap_or(Value::Null),
            "metadata": metadata,
        }),
    })
}

/// Kind, readable body and media of one `messages[]` item.
fn message_content(item: &Value) -> (MessageKind, Option<String>, Vec<MediaRef>) {
    let kind_name = text(item, &["type"]).unwrap_or_default();
    match kind_name {
        "text" => (MessageKind::Text, content(item, &["text", "body"]), vec![]),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let kind = match kind_name {
                "image" => MessageKind::Image,
                "video" => MessageKind::Video,
                "audio" => MessageKind::Audio,
                "document" => MessageKind::Document,
                _ => MessageKind::Sticker,
            };
            let object = item.get(kind_name).unwrap_or(&Value::Null);
            let media = media_ref(object).into_iter().collect();
            (kind, content(object, &["caption"]), media)
        }
        "location" => {
            let loc = item.get("location").unwrap_or(&Value::Null);
            let body = location_body(
                loc.get("latitude"),
                loc.get("longitude"),
                text(loc, &["name"]),
                text(loc, &["address"]),
            );
            (MessageKind::Location, body, vec![])
        }
        "contacts" => {
            let names = array(item, &["contacts"]).iter().map(|c| {
                text_owned(c, &["name", "formatted_name"]).or_else(|| {
                    join_present(
                        [
                            text(c, &["name", "first_name"]),
                            text(c, &["name", "last_name"]),
                        ],
                        " ",
                    )
                })
            });
            let names: Vec<String> = names.flatten().collect();
            let body = (!names.is_empty()).then(|| names.join(", "));
            (MessageKind::Contacts, body, vec![])
        }
        "interactive" => (MessageKind::Interactive, interactive_body(item), vec![]),
        "button" => {
            let body = content(item, &["button", "text"])
                .or_else(|| text_owned(item, &["button", "payload"]));
            (MessageKind::Button, body, vec![])
        }
        // An empty emoji means the user removed their reaction.
        "reaction" => (
            MessageKind::Reaction,
            content(item, &["reaction", "emoji"]),
            vec![],
        ),
        "order" => (MessageKind::Order, order_body(item), vec![]),
        "system" => {
            let body = content(item, &["system", "body"])
                .or_else(|| text(item, &["system", "type"]).map(|t| format!("System event: {t}")));
            (MessageKind::System, body, vec![])
        }
        // The user opened the chat for the first time (no content; a welcome message may follow).
        "request_welcome" => (
            MessageKind::System,
            Some("The user opened the chat (request_welcome)".to_string()),
            vec![],
        ),
        // `unsupported` (Meta could not deliver the content, see `errors[]` in raw), `unknown`
        // (older API versions) and any type this parser does not know.
        _ => (MessageKind::Unsupported, None, vec![]),
    }
}

fn interactive_body(item: &Value) -> Option<String> {
    let interactive = item.get("interactive")?;
    match text(interactive, &["type"])? {
        "button_reply" => content(interactive, &["button_reply", "title"]),
        "list_reply" => join_present(
            [
                text(interactive, &["list_reply", "title"]),
                text(interactive, &["list_reply", "description"]),
            ],
            "\n",
        ),
        // WhatsApp Flows response: `body` is the readable summary, `response_json` stays in raw.
        "nfm_reply" => content(interactive, &["nfm_reply", "body"]),
        other => content(interactive, &[other, "title"]),
    }
}

fn order_body(item: &Value) -> Option<String> {
    let count = array(item, &["order", "product_items"]).len();
    let items = match count {
        0 => None,
        1 => Some("1 item".to_string()),
        n => Some(format!("{n} items")),
    };
    join_present([items.as_deref(), text(item, &["order", "text"])], "\n")
}

fn media_ref(object: &Value) -> Option<MediaRef> {
    Some(MediaRef {
        media_id: super::file_id(id_text(object.get("id")))?,
        mime_type: super::mime_type(object, &["mime_type"]),
        sha256: text(object, &["sha256"]).and_then(sha256_hex),
        filename: text_owned(object, &["filename"]),
    })
}

/// Meta documents `sha256` as the file's SHA-256 and sends it base64-encoded; Hafen keeps it as
/// lowercase hex. Hex input is lowercased; anything that is not 32 bytes in either form is
/// dropped (the raw item still has it).
fn sha256_hex(s: &str) -> Option<String> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(s.to_ascii_lowercase());
    }
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(s).ok())
        .filter(|bytes| bytes.len() == 32)
        .map(hex::encode)
}

fn statuses(value: &Value, events: &mut Vec<InboundEvent>) {
    let account_id = account_id(value);
    for item in array(value, &["statuses"]) {
        events.push(match status(item, account_id.clone()) {
            Some(status) => InboundEvent::Status(status),
            None => {
                InboundEvent::Skipped(why_skipped(item, &[&["id"]], &["timestamp"], unix_seconds))
            }
        });
    }
}

fn status(item: &Value, account_id: Option<String>) -> Option<StatusUpdate> {
    let external_id = text_owned(item, &["id"])?;
    // Unknown status strings (e.g. `deleted`, `warning`) are skipped.
    let status = DeliveryStatus::parse(text(item, &["status"])?)?;
    let occurred_at = unix_seconds(item.get("timestamp"))?;
    let recipient =
        id_text(item.get("recipient_id")).or_else(|| id_text(item.get("recipient_user_id")));
    let errors = array(item, &["errors"])
        .iter()
        .map(platform_error)
        .collect();
    Some(StatusUpdate {
        account_id,
        external_id,
        status,
        occurred_at,
        recipient,
        errors,
        raw: item.clone(),
    })
}

pub(super) fn platform_error(e: &Value) -> PlatformError {
    let code = match e.get("code") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let message = text_owned(e, &["message"]);
    let title = text_owned(e, &["title"])
        .or_else(|| message.clone())
        .unwrap_or_default();
    PlatformError {
        code: code.unwrap_or(0),
        title,
        detail: text_owned(e, &["error_data", "details"]).or(message),
    }
}

/// Groups API notifications: one `System` message per `groups[]` item, addressed to the group.
fn groups(field: &str, value: &Value, events: &mut Vec<InboundEvent>) {
    let account_id = account_id(value);
    let metadata = value.get("metadata").cloned().unwrap_or(Value::Null);
    for item in array(value, &["groups"]) {
        let Some(group_id) = text(item, &["group_id"]) else {
            events.push(InboundEvent::Skipped(Skip::MissingId));
            continue;
        };
        let Some(occurred_at) = unix_seconds(item.get("timestamp")) else {
            events.push(InboundEvent::Skipped(Skip::BadTimestamp));
            continue;
        };
        let event_type = text(item, &["type"]).unwrap_or(field);
        let timestamp = occurred_at.timestamp();
        let mut external_id = format!("group:{group_id}:{event_type}:{timestamp}");
        if let Some(request) =
            text(item, &["request_id"]).or_else(|| text(item, &["join_request_id"]))
        {
            external_id.push(':');
            external_id.push_str(request);
        }
        events.push(InboundEvent::Message(InboundMessage {
            account_id: account_id.clone(),
            address: group_id.to_string(),
            display_name: text_owned(item, &["subject"]),
            external_id,
            occurred_at,
            kind: MessageKind::System,
            body: Some(group_body(event_type, item)),
            media: vec![],
            new_address: None,
            raw: json!({ "field": field, "group": item, "metadata": metadata }),
        }));
    }
}

fn group_body(event_type: &str, item: &Value) -> String {
    let what = match event_type {
        "group_create" => "WhatsApp group created",
        "group_delete" => "WhatsApp group deleted",
        "group_participants_add" => "Participants joined the WhatsApp group",
        "group_participants_remove" => "Participants left or were removed from the WhatsApp group",
        "group_join_request_created" => "Request to join the WhatsApp group",
        "group_join_request_revoked" => "Request to join the WhatsApp group withdrawn",
        "group_settings_update" => "WhatsApp group settings changed",
        "group_suspend" => "WhatsApp group suspended",
        "group_suspend_cleared" => "WhatsApp group suspension lifted",
        _ => "WhatsApp group event",
    };
    let participants = |key: &str| {
        let ids: Vec<&str> = array(item, &[key])
            .iter()
            .filter_map(|p| {
                text(p, &["wa_id"])
                    .or_else(|| text(p, &["user_id"]))
                    .or_else(|| text(p, &["input"]))
            })
            .collect();
        (!ids.is_empty()).then(|| ids.join(", "))
    };
    let added = participants("added_participants").map(|p| format!("added: {p}"));
    let removed = participants("removed_participants").map(|p| format!("removed: {p}"));
    let requester = text(item, &["wa_id"]).map(|w| format!("user: {w}"));
    let subject = text(item, &["subject"]).map(|s| format!("subject: {s}"));
    let reason = text(item, &["reason"]).map(|r| format!("reason: {r}"));
    let failed = (!array(item, &["errors"]).is_empty()).then(|| "failed".to_string());
    let details = join_present(
        [
            subject.as_deref(),
            added.as_deref(),
            removed.as_deref(),
            requester.as_deref(),
            reason.as_deref(),
            failed.as_deref(),
        ],
        "; ",
    );
    match details {
        Some(d) => format!("{what} ({event_type}; {d})"),
        None => format!("{what} ({event_type})"),
    }
}

#[cfg(test)]
mod tests;

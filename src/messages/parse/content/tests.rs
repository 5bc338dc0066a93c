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

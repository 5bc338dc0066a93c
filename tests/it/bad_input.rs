//! The bad-input catalogue (issue 9): hostile and odd request bodies, ids and strings. Every
//! refused case is a clear 4xx problem, never a 5xx, and stores nothing; every accepted odd
//! string comes back byte for byte.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{text_message, Backend, TestApp};

both_backends!(hostile_bodies_are_refused_and_store_nothing);
both_backends!(odd_strings_are_stored_and_returned_byte_exact);
both_backends!(hostile_ids_in_paths_are_not_found);
both_backends!(an_item_is_named_by_its_uuid_in_any_spelling_and_by_nothing_else);

async fn post_raw(app: &TestApp, path: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    crate::support::read(response).await
}

fn with(mut message: Value, field: &str, value: Value) -> Vec<u8> {
    message[field] = value;
    serde_json::to_vec(&message).unwrap()
}

async fn hostile_bodies_are_refused_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let path = format!("/v1/tenants/{tenant}/messages");
    let valid = text_message("whatsapp", "+4915199999999", "Hallo", Some("e1"));
    let before = app.counts();

    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut invalid_utf8 = br#"{"contact":{"channel":"whatsapp","address":"+4915199999999"},"direction":"in","occurred_at":"2026-11-26T10:00:00Z","kind":"text","body":""#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid_utf8.extend_from_slice(br#""}"#);
    let mut address = valid.clone();
    address["contact"]["address"] = json!("+49151\u{0}99999999");
    let mut traversal_channel = valid.clone();
    traversal_channel["contact"]["channel"] = json!("../../etc/passwd");
    let mut sql_address = valid.clone();
    sql_address["contact"]["address"] = json!("+49151'; DROP TABLE contacts; --");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("JSON nested 100 000 deep", nested.into_bytes()),
        (
            "a message nested 10 000 deep",
            format!(
                "{{\"messages\":{}{}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            )
            .into_bytes(),
        ),
        ("invalid UTF-8 in the body", invalid_utf8),
        (
            "a lone surrogate escape",
            with(valid.clone(), "body", json!("placeholder")).replace_str("placeholder", "\\ud800"),
        ),
        ("a NUL in the address", serde_json::to_vec(&address).unwrap()),
        ("a control character in the external id", with(valid.clone(), "external_id", json!("e\u{0}1"))),
        ("a huge number as time", with(valid.clone(), "occurred_at", json!(1e300))),
        ("a huge integer as time", br#"{"contact":{"channel":"whatsapp","address":"+4915199999999"},"direction":"in","occurred_at":123456789012345678901234567890,"kind":"text"}"#.to_vec()),
        ("year 1", with(valid.clone(), "occurred_at", json!("0001-01-01T00:00:00Z"))),
        ("before 1970", with(valid.clone(), "occurred_at", json!("1969-12-31T23:59:59Z"))),
        ("year 9999", with(valid.clone(), "occurred_at", json!("9999-12-31T23:59:59Z"))),
        ("two days ahead", with(valid.clone(), "occurred_at", json!((app.hafen.clock().now() + chrono::Duration::days(2)).to_rfc3339()))),
        ("a time with an impossible date", with(valid.clone(), "occurred_at", json!("2026-02-30T10:00:00Z"))),
        ("a path as channel", serde_json::to_vec(&traversal_channel).unwrap()),
        ("SQL as address", serde_json::to_vec(&sql_address).unwrap()),
        ("a body over the limit", with(valid.clone(), "body", json!("x".repeat(70_000)))),
        ("an empty batch", serde_json::to_vec(&json!({"messages": []})).unwrap()),
        ("a string where an object belongs", serde_json::to_vec(&json!({"contact": "x", "direction": "in", "occurred_at": "2026-11-26T10:00:00Z", "kind": "text"})).unwrap()),
        ("null", b"null".to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, body) in cases {
        let (status, problem) = post_raw(&app, &path, &agent, body).await;
        assert!(
            (400..500).contains(&status),
            "{what}: expected a 4xx, got {status}: {problem}"
        );
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:hafen:problem:")),
            "{what}: not a problem document: {problem}"
        );
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty())
                || problem["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{what}: no explanation: {problem}"
        );
    }
    let after = app.counts();
    assert_eq!(after.messages, before.messages, "nothing stored");
    assert_eq!(after.contacts, before.contacts, "no contact created");
    // The service still works after all that.
    let (status, stored) = app.post(&path, &agent, &valid).await;
    assert_eq!(status, 201, "{stored}");
}

async fn odd_strings_are_stored_and_returned_byte_exact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let path = format!("/v1/tenants/{tenant}/messages");
    let bodies = [
        "Grüße aus Köln – „Anführung“ … ß ẞ",
        "e\u{301} vs é (combining accent)",
        "👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 1️⃣ keycap",
        "\u{202e}gnp.exe right-to-left override",
        "zero\u{200b}width\u{feff}joiners",
        "'; DROP TABLE messages; -- and \" OR 1=1 --",
        "../../../etc/passwd",
        "NUL\u{0}inside a body",
        "tabs\tand\r\nnewlines",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 outside the BMP 𠜎",
        "",
    ];
    for (n, body) in bodies.iter().enumerate() {
        let message = text_message(
            "whatsapp",
            "+4915100000077",
            body,
            Some(&format!("odd-{n}")),
        );
        let (status, stored) = app.post(&path, &agent, &message).await;
        assert_eq!(status, 201, "{body:?}: {stored}");
        let id = stored["messages"][0]["id"]
            .as_str()
            .or_else(|| stored["id"].as_str())
            .unwrap()
            .to_string();
        let (status, read) = app
            .get(&format!("/v1/tenants/{tenant}/messages/{id}"), &agent)
            .await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(
            read["body"].as_str().unwrap_or_default().as_bytes(),
            body.as_bytes(),
            "{body:?} came back changed"
        );
    }
}

async fn hostile_ids_in_paths_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    for path in [
        format!("/v1/tenants/{tenant}/messages/..%2F..%2F..%2Fetc%2Fpasswd"),
        format!("/v1/tenants/{tenant}/messages/%2e%2e"),
        format!("/v1/tenants/{tenant}/messages/1%27%20OR%20%271%27=%271"),
        format!("/v1/tenants/{tenant}/contacts/%00"),
        format!("/v1/tenants/{tenant}/messages/{}", "9".repeat(5000)),
        "/v1/tenants/..%2F..%2F/contacts".to_string(),
        format!(
            "/v1/tenants/{tenant}/messages/{}/attachments/..%2F1",
            uuid::Uuid::now_v7()
        ),
        format!(
            "/v1/tenants/{tenant}/messages/{}/attachments/99999999999999999999",
            uuid::Uuid::now_v7()
        ),
    ] {
        let (status, problem) = app.get(&path, &agent).await;
        assert!(
            status == 404 || status == 400,
            "{path}: expected 404 or 400, got {status}: {problem}"
        );
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:hafen:problem:")),
            "{path}: {problem}"
        );
    }
}

/// Ids in paths are UUIDs (`http::extract::ItemId`): the same UUID upper case or without
/// hyphens finds the same item, answered with its canonical id; an id that is no UUID — however
/// close — is a 404 problem, for messages and contacts alike, and changes nothing.
async fn an_item_is_named_by_its_uuid_in_any_spelling_and_by_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let message = text_message("whatsapp", "+4915100000088", "Hallo", Some("spelled-1"));
    let (status, stored) = app
        .post(&format!("/v1/tenants/{tenant}/messages"), &agent, &message)
        .await;
    assert_eq!(status, 201, "{stored}");
    let id = stored["messages"][0]["id"]
        .as_str()
        .or_else(|| stored["id"].as_str())
        .unwrap()
        .to_string();
    let contact = stored["messages"][0]["contact_id"]
        .as_str()
        .or_else(|| stored["contact_id"].as_str())
        .unwrap()
        .to_string();
    for spelling in [id.to_uppercase(), id.replace('-', "")] {
        let (status, read) = app
            .get(&format!("/v1/tenants/{tenant}/messages/{spelling}"), &agent)
            .await;
        assert_eq!(status, 200, "{spelling}: {read}");
        assert_eq!(read["id"], json!(id), "{spelling}");
    }
    let before = app.counts();
    for path in [
        // One character short, one too many, one that is no hex digit.
        format!("/v1/tenants/{tenant}/messages/{}", &id[..35]),
        format!("/v1/tenants/{tenant}/messages/{id}0"),
        format!("/v1/tenants/{tenant}/messages/{}g", &id[..35]),
        format!("/v1/tenants/{tenant}/contacts/{}", &contact[..35]),
        format!("/v1/tenants/{tenant}/contacts/{contact}x/messages"),
        // The consent proof names the contact in a path of three parts.
        format!("/v1/tenants/{tenant}/contacts/0/consents/newsletter/proof"),
        // A message's file, the message named by no UUID (schemathesis found a 500 here).
        format!("/v1/tenants/{tenant}/messages/0/attachments/0"),
        format!(
            "/v1/tenants/{tenant}/messages/{}/attachments/2147483646",
            &id[..35]
        ),
    ] {
        let (status, problem) = app.get(&path, &agent).await;
        assert_eq!(status, 404, "{path}: {problem}");
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:hafen:problem:")),
            "{path}: {problem}"
        );
    }
    let (status, problem) = app
        .delete(
            &format!("/v1/tenants/{tenant}/contacts/{}", &contact[..35]),
            &agent,
        )
        .await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(app.counts(), before, "nothing changed");
}

/// Byte-level replace for building a body with an escape serde_json would never write.
trait ReplaceStr {
    fn replace_str(self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceStr for Vec<u8> {
    fn replace_str(self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(self)
            .unwrap()
            .replace(from, to)
            .into_bytes()
    }
}

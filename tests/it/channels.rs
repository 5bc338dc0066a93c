//! Channels: registration with sealed secrets, verified webhooks for WhatsApp, Messenger and
//! Telegram, every refusal storing nothing, delivery statuses.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{captured_logs, marker, Backend, TestApp};

both_backends!(
    channel_registration_keeps_secrets_sealed,
    whatsapp_webhook_handshake_signatures_and_every_sample,
    messenger_and_telegram_webhooks,
    refused_webhooks_store_nothing,
    statuses_update_outbound_messages_in_either_order,
    several_statuses_in_one_delivery_leave_each_message_at_its_newest,
    every_fixture_of_every_platform_is_accepted_and_readable,
    a_changed_number_moves_the_contact,
);

pub const WA_ACCOUNT: &str = "106540352242922";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub async fn create_channel(app: &TestApp, tenant: &str, body: Value) -> Value {
    let (status, channel) = app
        .post(
            &format!("/v1/tenants/{tenant}/channels"),
            &app.admin_token,
            &body,
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    channel
}

pub async fn whatsapp_channel(app: &TestApp, tenant: &str, app_secret: &str) -> String {
    let channel = create_channel(
        app,
        tenant,
        json!({"platform": "whatsapp", "name": "WhatsApp Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": app_secret, "verify_token": "verify-me", "access_token": "EAAG-test"}}),
    )
    .await;
    channel["id"].as_str().unwrap().to_string()
}

/// Posts a webhook body with optional headers; returns status and body.
pub async fn post_hook(
    app: &TestApp,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v.clone());
    }
    crate::support::read(req.send().await.unwrap()).await
}

pub fn signed(secret: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![(
        "x-hub-signature-256",
        hafen::channels::verify::meta_signature(secret, body),
    )]
}

async fn channel_registration_keeps_secrets_sealed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let other = app.create_tenant("Andere GmbH").await;
    let secret = marker("APPSECRET");
    let access = marker("ACCESSTOKEN");
    let channel = create_channel(
        &app,
        &tenant,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": secret, "verify_token": "vt", "access_token": access}}),
    )
    .await;
    let id = channel["id"].as_str().unwrap();
    assert_eq!(
        channel["webhook_path"],
        json!(format!("/hooks/whatsapp/{id}"))
    );
    assert_eq!(
        channel["secrets"],
        json!({"app_secret": true, "verify_token": true, "access_token": true, "bot_token": false, "webhook_secret": false})
    );
    assert!(!channel.to_string().contains(&secret));

    let admin = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    let (status, list) = app
        .get(&format!("/v1/tenants/{tenant}/channels"), &admin)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains(&access));
    assert_eq!(
        app.get(&format!("/v1/tenants/{tenant}/channels"), &agent)
            .await
            .0,
        403
    );
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{other}/channels/{id}"),
            &app.admin_token
        )
        .await
        .0,
        404
    );

    // Update: disable, remove the access token, keep the rest.
    let r = app
        .client
        .patch(app.url(&format!("/v1/tenants/{tenant}/channels/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"enabled": false, "secrets": {"access_token": null}}))
        .send()
        .await
        .unwrap();
    let (status, updated) = crate::support::read(r).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["enabled"], json!(false));
    assert_eq!(updated["secrets"]["access_token"], json!(false));
    assert_eq!(updated["secrets"]["app_secret"], json!(true));

    // Validation: a WhatsApp channel needs its app secret; Telegram's secret has a charset.
    let before = app.counts();
    let (status, body) = app
        .post(&format!("/v1/tenants/{tenant}/channels"), &admin, &json!({"platform": "whatsapp", "name": "x", "account_id": "1", "secrets": {"verify_token": "v"}}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("app_secret"));
    let (status, _) = app
        .post(&format!("/v1/tenants/{tenant}/channels"), &admin, &json!({"platform": "telegram", "name": "x", "secrets": {"webhook_secret": "not allowed!"}}))
        .await;
    assert_eq!(status, 422);
    // Secrets that authenticate webhooks must not be guessable (128 bits, a Meta app secret's).
    for (platform, field, weak) in [
        ("whatsapp", "app_secret", "x"),
        ("whatsapp", "app_secret", "my-app-secret"),
        (
            "messenger",
            "app_secret",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        ("telegram", "webhook_secret", "s3cret"),
    ] {
        let (status, body) = app
            .post(
                &format!("/v1/tenants/{tenant}/channels"),
                &admin,
                &json!({"platform": platform, "name": "x", "account_id": "1",
                        "secrets": {field: weak, "verify_token": "v"}}),
            )
            .await;
        assert_eq!(status, 422, "{weak}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(field) && detail.contains("128"), "{body}");
        assert!(
            weak.len() < 4 || !detail.contains(weak),
            "the value is not echoed: {body}"
        );
    }
    let r = app
        .client
        .patch(app.url(&format!("/v1/tenants/{tenant}/channels/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"secrets": {"app_secret": "short"}}))
        .send()
        .await
        .unwrap();
    let (status, body) = crate::support::read(r).await;
    assert_eq!(
        status, 422,
        "a weak secret is refused on change too: {body}"
    );
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/channels"),
            &admin,
            &json!({"platform": "icq", "name": "x"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(app.counts(), before);

    let on_disk = crate::storage::disk_image(&app);
    assert!(
        !crate::storage::contains(&on_disk, &secret),
        "app secret in the database"
    );
    assert!(
        !crate::storage::contains(&on_disk, &access),
        "access token in the database"
    );

    let r = app
        .client
        .delete(app.url(&format!("/v1/tenants/{tenant}/channels/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        app.get(&format!("/v1/tenants/{tenant}/channels/{id}"), &admin)
            .await
            .0,
        404
    );
    let logs = captured_logs().lock().unwrap().clone();
    assert!(!crate::storage::contains(&logs, &secret) && !crate::storage::contains(&logs, &access));
}

async fn whatsapp_webhook_handshake_signatures_and_every_sample(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let id = whatsapp_channel(&app, &tenant, "wa-secret-7f3a9c1e5b2d8f40").await;
    let hook = format!("/hooks/whatsapp/{id}");

    // Handshake.
    let r = app
        .client
        .get(app.url(&format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "1158201444");
    let r = app
        .client
        .get(app.url(&format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Every WhatsApp sample, signed: stored, readable, de-duplicated on retry.
    let agent = app.token(&tenant, "agent").await;
    let samples = [
        (
            "whatsapp_text.json",
            "text",
            Some("Does it come in another color?"),
        ),
        ("whatsapp_image.json", "image", None),
        ("whatsapp_reaction.json", "reaction", None),
        (
            "whatsapp_interactive_button_reply.json",
            "interactive",
            None,
        ),
        ("whatsapp_audio.json", "audio", None),
        ("whatsapp_video.json", "video", None),
        ("whatsapp_document.json", "document", None),
        ("whatsapp_sticker.json", "sticker", None),
        ("whatsapp_location.json", "location", None),
        ("whatsapp_contacts.json", "contacts", None),
        ("whatsapp_list_reply.json", "interactive", None),
        ("whatsapp_button.json", "button", None),
        ("whatsapp_order.json", "order", None),
        ("whatsapp_system.json", "system", None),
        ("whatsapp_unsupported.json", "unsupported", None),
        ("whatsapp_user_id_only.json", "text", None),
    ];
    for (n, (file, kind, body)) in samples.into_iter().enumerate() {
        // The documentation examples share message ids; give each file its own.
        let raw = String::from_utf8(fixture(file))
            .unwrap()
            .replace("wamid.", &format!("wamid.{n}x"))
            .into_bytes();
        let before = app.counts();
        let (status, receipt) = post_hook(
            &app,
            &hook,
            raw.clone(),
            &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
        )
        .await;
        assert_eq!(status, 200, "{file}: {receipt}");
        assert!(
            receipt["messages"].as_u64().unwrap() >= 1,
            "{file}: {receipt}"
        );
        assert_eq!(receipt["ignored"], json!(0), "{file}: {receipt}");
        let after = app.counts();
        assert!(after.messages > before.messages, "{file} stored");
        // Meta retries: the same delivery again is answered 200 and stored once.
        let (status, again) = post_hook(
            &app,
            &hook,
            raw.clone(),
            &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(again["messages"], json!(0), "{file}: {again}");
        assert_eq!(
            app.counts().messages,
            after.messages,
            "{file} not stored twice"
        );

        let stored = newest_message(&app, &tenant, &agent).await;
        assert_eq!(stored["kind"], json!(kind), "{file}: {stored}");
        assert_eq!(stored["channel_id"], json!(id));
        assert_eq!(stored["direction"], json!("in"));
        assert!(stored["raw"].is_object(), "{file}: raw payload kept");
        if let Some(body) = body {
            assert_eq!(stored["body"], json!(body));
        }
    }
    // The text sample's contact got its profile name, and the new number the system sample
    // announced (Sheena changed hers).
    let (_, contacts) = app
        .get(&format!("/v1/tenants/{tenant}/contacts?limit=500"), &agent)
        .await;
    assert!(
        contacts["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["address"] == json!("12195555358")
                && c["display_name"] == json!("Sheena Nelson")),
        "{contacts}"
    );
    // A batch of several messages in one POST is one transaction.
    let raw = fixture("whatsapp_batch.json");
    let (status, receipt) = post_hook(
        &app,
        &hook,
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert!(receipt["messages"].as_u64().unwrap() >= 2, "{receipt}");
}

/// The newest message of the tenant, via the audit-free store and then the API.
async fn newest_message(app: &TestApp, tenant: &str, token: &str) -> Value {
    use diesel::prelude::*;
    use hafen::store::schema::messages;
    let mut conn = app.db.connect();
    let id: String = messages::table
        .order(messages::received_at.desc())
        .then_order_by(messages::id.desc())
        .select(messages::id)
        .first(&mut conn)
        .unwrap();
    let (status, m) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{id}"), token)
        .await;
    assert_eq!(status, 200, "{m}");
    m
}

async fn messenger_and_telegram_webhooks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let messenger = create_channel(
        &app,
        &tenant,
        json!({"platform": "messenger", "name": "Facebook-Seite", "account_id": "106540352242922",
               "secrets": {"app_secret": "fb-secret-7f3a9c1e5b2d8f40", "verify_token": "fb-verify", "access_token": "EAAB"}}),
    )
    .await;
    let hook = format!("/hooks/messenger/{}", messenger["id"].as_str().unwrap());
    for file in [
        "messenger_text.json",
        "messenger_quick_reply.json",
        "messenger_postback.json",
        "messenger_attachment_image.json",
    ] {
        let raw = String::from_utf8(fixture(file))
            .unwrap()
            .replace("<PAGE_ID>", "106540352242922");
        let raw = raw.into_bytes();
        let (status, receipt) = post_hook(
            &app,
            &hook,
            raw.clone(),
            &signed("fb-secret-7f3a9c1e5b2d8f40", &raw),
        )
        .await;
        assert_eq!(status, 200, "{file}: {receipt}");
        assert!(
            receipt["messages"].as_u64().unwrap() >= 1,
            "{file}: {receipt}"
        );
        let stored = newest_message(&app, &tenant, &agent).await;
        assert_eq!(stored["channel"], json!("messenger"));
    }
    let r = app
        .client
        .get(app.url(&format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=fb-verify&hub.challenge=abc"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "abc");

    let telegram = create_channel(
        &app,
        &tenant,
        json!({"platform": "telegram", "name": "Bot", "secrets": {"webhook_secret": "tg_Secret-123-7f3a9c1e5b2d", "bot_token": "123:ABC"}}),
    )
    .await;
    let hook = format!("/hooks/telegram/{}", telegram["id"].as_str().unwrap());
    let header = |s: &str| vec![("x-telegram-bot-api-secret-token", s.to_string())];
    for file in [
        "telegram_update.json",
        "telegram_photo.json",
        "telegram_document.json",
        "telegram_location.json",
        "telegram_contact.json",
        "telegram_edited.json",
    ] {
        let raw = fixture(file);
        let (status, receipt) =
            post_hook(&app, &hook, raw, &header("tg_Secret-123-7f3a9c1e5b2d")).await;
        assert_eq!(status, 200, "{file}: {receipt}");
        assert_eq!(receipt["messages"], json!(1), "{file}: {receipt}");
    }
    let stored = {
        let raw = fixture("telegram_update.json");
        let (status, _) = post_hook(&app, &hook, raw, &header("tg_Secret-123-7f3a9c1e5b2d")).await;
        assert_eq!(status, 200);
        let (_, contacts) = app
            .get(&format!("/v1/tenants/{tenant}/contacts?limit=500"), &agent)
            .await;
        contacts
    };
    assert!(
        stored["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel"] == json!("telegram")
                && c["address"] == json!("1111111")
                && c["display_name"] == json!("Test Firstname Test Lastname")),
        "{stored}"
    );
    let before = app.counts();
    let (status, _) = post_hook(
        &app,
        &hook,
        fixture("telegram_update.json"),
        &header("tg_Secret-124-7f3a9c1e5b2d"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post_hook(&app, &hook, fixture("telegram_update.json"), &[]).await;
    assert_eq!(status, 401);
    assert_eq!(app.counts().messages, before.messages);
}

async fn refused_webhooks_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let id = whatsapp_channel(&app, &tenant, "wa-secret-7f3a9c1e5b2d8f40").await;
    let hook = format!("/hooks/whatsapp/{id}");
    let raw = fixture("whatsapp_text.json");
    let tampered = String::from_utf8(raw.clone())
        .unwrap()
        .replace("another color", "a free sample")
        .into_bytes();
    let before = app.counts();
    type Case<'a> = (u16, &'a str, Vec<u8>, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        (401, "no signature", raw.clone(), vec![]),
        (
            401,
            "wrong secret",
            raw.clone(),
            signed("other-secret", &raw),
        ),
        (
            401,
            "signature over a different body",
            raw.clone(),
            signed("wa-secret-7f3a9c1e5b2d8f40", b"{}"),
        ),
        (
            401,
            "replay with a tampered field",
            tampered.clone(),
            signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
        ),
        (
            401,
            "malformed header",
            raw.clone(),
            vec![("x-hub-signature-256", "sha256=xyz".into())],
        ),
    ];
    let mut rejected = 0;
    for (expected, what, body, headers) in cases {
        let (status, problem) = post_hook(&app, &hook, body, &headers).await;
        assert_eq!(status, expected, "{what}: {problem}");
        assert_eq!(problem["status"], json!(expected), "{what}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("X-Hub-Signature-256") && !detail.contains("API token"),
            "{what}: a platform is told about its signature, not asked for a token: {problem}"
        );
        rejected += 1;
    }
    let after = app.counts();
    assert_eq!(after.messages, before.messages);
    assert_eq!(after.contacts, before.contacts);
    assert_eq!(rejected, 5);
    assert_eq!(
        after.audit,
        before.audit + 1,
        "the first failure from a source is audited at once, the rest of its minute counted"
    );
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.hafen.channels.flush_rejections().await.unwrap(), 1);
    let details: Vec<String> = app
        .hafen
        .store()
        .read(|conn| hafen::audit::recent(conn, None, 100))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "webhook.rejected")
        .filter_map(|r| r.detail)
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("reason=signature source=127.0.0.0/24 count=4 more")),
        "{details:?}"
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "hafen_webhook_deliveries_total{platform=\"whatsapp\",outcome=\"bad_signature\"} 5"
        ),
        "{metrics}"
    );

    // Correctly signed but not a WhatsApp webhook, or not JSON: 400, nothing stored.
    let before = app.counts();
    for body in [
        b"{\"object\":\"page\",\"entry\":[]}".to_vec(),
        b"{\"object\": ".to_vec(),
        b"[1,2,3]".to_vec(),
    ] {
        let (status, _) = post_hook(
            &app,
            &hook,
            body.clone(),
            &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
        )
        .await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    }
    // Unknown channel, wrong platform in the path, oversized body.
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{}", uuid::Uuid::now_v7()),
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/telegram/{id}"),
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post_hook(&app, "/hooks/icq/x", raw.clone(), &[]).await;
    assert_eq!(status, 404);
    let big = vec![b' '; 70 * 1024];
    let (status, _) = post_hook(
        &app,
        &hook,
        big.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &big),
    )
    .await;
    assert_eq!(status, 413);
    // Events for another phone number of the same Meta app are not stored in this channel.
    let foreign = String::from_utf8(raw.clone())
        .unwrap()
        .replace(WA_ACCOUNT, "999999999")
        .into_bytes();
    let (status, receipt) = post_hook(
        &app,
        &hook,
        foreign.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &foreign),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(receipt["ignored"], json!(1));
    assert_eq!(receipt["ignored_reasons"], json!({"other_account": 1}));
    assert_eq!(app.counts(), before);
    // Items a delivery skips are counted by reason in the receipt and the metric; every item is
    // counted once.
    let batch = std::fs::read("tests/fixtures/webhooks/whatsapp_batch.json").unwrap();
    let (status, receipt) = post_hook(
        &app,
        &hook,
        batch.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &batch),
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(
        receipt["ignored_reasons"],
        json!({"missing_id": 1, "bad_timestamp": 1, "unusable": 2, "unknown_field": 1,
               "other_account": 1}),
        "{receipt}"
    );
    // Ten items: two messages, two statuses, six ignored.
    assert_eq!(
        (
            &receipt["messages"],
            &receipt["statuses"],
            &receipt["ignored"]
        ),
        (&json!(2), &json!(2), &json!(6)),
        "{receipt}"
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "hafen_webhook_items_ignored_total{platform=\"whatsapp\",reason=\"other_account\"} 2",
        "hafen_webhook_items_ignored_total{platform=\"whatsapp\",reason=\"unknown_field\"} 1",
        "hafen_webhook_items_ignored_total{platform=\"whatsapp\",reason=\"unusable\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }

    // A disabled channel refuses deliveries (after checking the signature).
    let r = app
        .client
        .patch(app.url(&format!("/v1/tenants/{tenant}/channels/{id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let before = app.counts();
    let (status, _) = post_hook(
        &app,
        &hook,
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(app.counts().messages, before.messages);
}

async fn statuses_update_outbound_messages_in_either_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let id = whatsapp_channel(&app, &tenant, "wa-secret-7f3a9c1e5b2d8f40").await;
    let hook = format!("/hooks/whatsapp/{id}");
    let agent = app.token(&tenant, "agent").await;
    let status_body = |wamid: &str, status: &str, ts: i64| {
        serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": WA_ACCOUNT},
            "statuses": [{"id": wamid, "status": status, "timestamp": ts.to_string(), "recipient_id": "4915112345678"}]}}]}]}))
        .unwrap()
    };
    let outbound = |wamid: &str| {
        json!({"contact": {"channel": "whatsapp", "address": "+4915112345678"}, "direction": "out",
               "occurred_at": "2026-11-26T10:00:00Z", "kind": "text", "body": "Ihre Bestellung ist unterwegs", "external_id": wamid})
    };

    // Status after the message.
    let (_, sent) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &agent,
            &outbound("wamid.AFTER"),
        )
        .await;
    for (s, ts) in [
        ("sent", 1764151200),
        ("delivered", 1764151201),
        ("read", 1764151230),
    ] {
        let body = status_body("wamid.AFTER", s, ts);
        let (status, receipt) = post_hook(
            &app,
            &hook,
            body.clone(),
            &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
        )
        .await;
        assert_eq!(status, 200, "{receipt}");
        assert_eq!(receipt["statuses"], json!(1));
    }
    // A late "delivered" does not move the status back.
    let body = status_body("wamid.AFTER", "delivered", 1764151201);
    post_hook(
        &app,
        &hook,
        body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
    )
    .await;
    let (_, m) = app
        .get(
            &format!(
                "/v1/tenants/{tenant}/messages/{}",
                sent["id"].as_str().unwrap()
            ),
            &agent,
        )
        .await;
    assert_eq!(m["delivery_status"], json!("read"), "{m}");
    assert_eq!(m["status_history"].as_array().unwrap().len(), 4);

    // Status before the message: kept, then attached when the message appears.
    let body = status_body("wamid.BEFORE", "delivered", 1764151300);
    let (status, _) = post_hook(
        &app,
        &hook,
        body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
    )
    .await;
    assert_eq!(status, 200);
    let (_, sent) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &agent,
            &outbound("wamid.BEFORE"),
        )
        .await;
    let (_, m) = app
        .get(
            &format!(
                "/v1/tenants/{tenant}/messages/{}",
                sent["id"].as_str().unwrap()
            ),
            &agent,
        )
        .await;
    assert_eq!(m["delivery_status"], json!("delivered"), "{m}");

    // A failed status keeps the platform's error.
    let failed = fixture("whatsapp_status_failed.json");
    let (status, _) = post_hook(
        &app,
        &hook,
        failed.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &failed),
    )
    .await;
    assert_eq!(status, 200);
}

/// Every sample payload in tests/fixtures/webhooks goes through its platform's webhook, signed,
/// and every stored message reads back decrypted.
async fn every_fixture_of_every_platform_is_accepted_and_readable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let wa = whatsapp_channel(&app, &tenant, "wa-secret-7f3a9c1e5b2d8f40").await;
    let fb = create_channel(
        &app,
        &tenant,
        json!({"platform": "messenger", "name": "Seite", "account_id": "106540352242922",
               "secrets": {"app_secret": "fb-secret-7f3a9c1e5b2d8f40", "verify_token": "v"}}),
    )
    .await;
    let tg = create_channel(
        &app,
        &tenant,
        json!({"platform": "telegram", "name": "Bot", "secrets": {"webhook_secret": "tgsecret-7f3a9c1e5b2d8f40"}}),
    )
    .await;
    let dir = format!("{}/tests/fixtures/webhooks", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut posted = 0;
    for file in &files {
        let raw = String::from_utf8(fixture(file))
            .unwrap()
            .replace("<PAGE_ID>", "106540352242922")
            .into_bytes();
        let (path, headers) = if file.starts_with("whatsapp") {
            (
                format!("/hooks/whatsapp/{wa}"),
                signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
            )
        } else if file.starts_with("messenger") {
            (
                format!("/hooks/messenger/{}", fb["id"].as_str().unwrap()),
                signed("fb-secret-7f3a9c1e5b2d8f40", &raw),
            )
        } else {
            (
                format!("/hooks/telegram/{}", tg["id"].as_str().unwrap()),
                vec![(
                    "x-telegram-bot-api-secret-token",
                    "tgsecret-7f3a9c1e5b2d8f40".to_string(),
                )],
            )
        };
        let (status, receipt) = post_hook(&app, &path, raw, &headers).await;
        assert_eq!(status, 200, "{file}: {receipt}");
        posted += 1;
    }
    assert!(posted >= 60, "{posted} fixtures");
    // Everything stored opens: page through every contact's messages.
    let (_, contacts) = app
        .get(&format!("/v1/tenants/{tenant}/contacts?limit=500"), &agent)
        .await;
    let mut read = 0;
    let mut by_external_id = std::collections::HashMap::new();
    for c in contacts["items"].as_array().unwrap() {
        let (status, page) = app
            .get(
                &format!(
                    "/v1/tenants/{tenant}/contacts/{}/messages?limit=500",
                    c["id"].as_str().unwrap()
                ),
                &agent,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for m in page["items"].as_array().unwrap() {
            // `content.type` is the kind, for every message of every platform.
            assert_eq!(m["content"]["type"], m["kind"], "{m}");
            by_external_id.insert(m["external_id"].as_str().unwrap().to_string(), m.clone());
        }
        read += page["items"].as_array().unwrap().len();
    }
    assert_eq!(read as i64, app.counts().messages);
    assert!(read >= 50, "{read} messages read back");

    // What people need from each kind is in `content`, through the API, on this backend.
    let content = |external_id: &str| {
        by_external_id
            .get(external_id)
            .unwrap_or_else(|| panic!("{external_id} not stored"))["content"]
            .clone()
    };
    let shared = content("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgG=");
    assert_eq!(shared["contacts"][0]["phones"][0]["wa_id"], "14155550123");
    let order = content("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgJ=");
    assert_eq!(order["items"][1]["product_id"], "nqryix03ez");
    assert_eq!(order["items"][1]["price"], 25.0);
    assert_eq!(order["total"], 105.0);
    let button = &by_external_id["wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgI="];
    assert_eq!(button["content"]["payload"], "Unsubscribe from Promos");
    assert_eq!(
        button["reply_to"],
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"
    );
    let list = content("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgH=");
    assert_eq!(list["id"], "priority_express");
    let unsupported = content("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgK=");
    assert_eq!(unsupported["errors"][0]["code"], 131051);
    let document = content("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgD=");
    assert_eq!(document["filename"], "lucky-shrub-invoice.pdf");
    assert_eq!(content("m_postback1")["payload"], "GET_STARTED");
    assert_eq!(
        content("m_quickreply1")["payload"],
        "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED"
    );
    let pressed = &by_external_id["callback:4382bfdwdsb323b2d9"];
    assert_eq!(pressed["content"]["payload"], "newsletter:yes");
    assert_eq!(pressed["content"]["text"], "Yes");
    assert_eq!(pressed["reply_to"], "1111111:1380");
    let card = content("1111111:1370");
    assert_eq!(card["contacts"][0]["phones"][0]["phone"], "+4915112345678");
}

/// WhatsApp's "user changed number" system message moves the contact to the new number: the
/// next message from that number continues the same conversation. Where another contact already
/// has the new number, nothing is merged and the audit log says why.
async fn a_changed_number_moves_the_contact(backend: Backend) {
    use diesel::prelude::*;
    use hafen::store::schema::audit_log;

    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let secret = "wa-secret-7f3a9c1e5b2d8f40";
    let wa = whatsapp_channel(&app, &tenant, secret).await;
    let hook = format!("/hooks/whatsapp/{wa}");
    let deliver = |body: String| {
        let body = body.into_bytes();
        let headers = signed(secret, &body);
        let (app, hook) = (&app, hook.clone());
        async move {
            let (status, receipt) = post_hook(app, &hook, body, &headers).await;
            assert_eq!(status, 200, "{receipt}");
        }
    };
    let text_from = |number: &str, id: &str| {
        String::from_utf8(fixture("whatsapp_text.json"))
            .unwrap()
            .replace("16505551234", number)
            .replace(
                "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                id,
            )
    };
    let dpo = app.token(&tenant, "dpo").await;
    let contact_of = |number: &'static str| {
        let app = &app;
        let (tenant, dpo) = (tenant.clone(), dpo.clone());
        async move {
            let (status, found) = app
                .post(
                    &format!("/v1/tenants/{tenant}/contacts/lookup"),
                    &dpo,
                    &json!({"channel": "whatsapp", "address": number}),
                )
                .await;
            match status {
                200 => Some(found),
                404 => None,
                _ => panic!("{status}: {found}"),
            }
        }
    };

    deliver(text_from("16505551234", "wamid.before")).await;
    let before = contact_of("16505551234").await.expect("the contact");
    let id = before["id"].as_str().unwrap().to_string();

    deliver(String::from_utf8(fixture("whatsapp_system.json")).unwrap()).await;
    assert!(
        contact_of("16505551234").await.is_none(),
        "the old number is no longer the contact's"
    );
    let after = contact_of("12195555358")
        .await
        .expect("found by the new number");
    assert_eq!(
        after["id"],
        id.as_str(),
        "the same contact, now under the new number"
    );
    assert_eq!(after["address"], "12195555358");
    // A new message from the old number is someone else's now: a new contact. (Ingest still
    // remembers the old number as this contact's; the write finds that it moved.)
    deliver(text_from("16505551234", "wamid.later")).await;
    let later = contact_of("16505551234")
        .await
        .expect("a new contact for the old number");
    assert_ne!(later["id"], id.as_str());

    deliver(text_from("12195555358", "wamid.after")).await;
    // Meta repeats a message sent before the change, from the old number: a duplicate, as the
    // platform's ids say, not a conflict the platform would retry for days.
    let retry = text_from("16505551234", "wamid.before").into_bytes();
    let (status, receipt) = post_hook(&app, &hook, retry.clone(), &signed(secret, &retry)).await;
    assert_eq!(
        (status, receipt["duplicates"].as_i64()),
        (200, Some(1)),
        "{receipt}"
    );
    let (_, page) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{id}/messages"),
            &agent,
        )
        .await;
    let mut kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["system", "text", "text"],
        "one conversation: {page}"
    );
    let system = &page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "system")
        .unwrap()["content"];
    assert_eq!(system["event"], "user_changed_number");
    assert_eq!(system["new_address"], "12195555358");

    // Another person already writes from the number a contact announces: nothing is merged.
    deliver(text_from("4915112345678", "wamid.other")).await;
    let announce = String::from_utf8(fixture("whatsapp_system.json"))
        .unwrap()
        .replace("\"from\": \"16505551234\"", "\"from\": \"12195555358\"")
        .replace("\"wa_id\": \"12195555358\"", "\"wa_id\": \"4915112345678\"")
        .replace("MUMxMAA=", "MUMxMAB=");
    deliver(announce).await;
    assert_eq!(contact_of("12195555358").await.unwrap()["id"], id.as_str());
    assert_ne!(
        contact_of("4915112345678").await.unwrap()["id"],
        id.as_str()
    );

    let mut conn = app.db.connect();
    let details: Vec<Option<String>> = audit_log::table
        .filter(audit_log::action.eq("contact.number_changed"))
        .order(audit_log::seq.asc())
        .select(audit_log::detail)
        .load(&mut conn)
        .unwrap();
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(
        details[0].as_deref().unwrap().starts_with("moved"),
        "{details:?}"
    );
    assert!(
        details[1].as_deref().unwrap().starts_with("not moved"),
        "{details:?}"
    );
    for d in details.iter().flatten() {
        assert!(
            !d.contains("12195555358") && !d.contains("16505551234"),
            "no numbers in the audit log: {d}"
        );
    }
}

/// Meta batches receipts: one delivery can carry several statuses of several messages, in any
/// order. They are stored together (one read of the messages' current statuses, one update),
/// and each message ends at its newest status: the later time, within one second the further
/// state; a status older than the one a message has does not move it back.
async fn several_statuses_in_one_delivery_leave_each_message_at_its_newest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let id = whatsapp_channel(&app, &tenant, "wa-secret-7f3a9c1e5b2d8f40").await;
    let hook = format!("/hooks/whatsapp/{id}");
    let agent = app.token(&tenant, "agent").await;
    let receipts = |statuses: &[(&str, &str, i64)]| {
        let statuses: Vec<_> = statuses
            .iter()
            .map(|(wamid, status, ts)| json!({"id": wamid, "status": status, "timestamp": ts.to_string(), "recipient_id": "4915112345678"}))
            .collect();
        serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": WA_ACCOUNT},
            "statuses": statuses}}]}]}))
        .unwrap()
    };
    let mut ids = Vec::new();
    for wamid in ["wamid.A", "wamid.B", "wamid.C"] {
        let (status, sent) = app
            .post(
                &format!("/v1/tenants/{tenant}/messages"),
                &agent,
                &json!({"contact": {"channel": "whatsapp", "address": "+4915112345678"}, "direction": "out",
                        "occurred_at": "2026-11-26T10:00:00Z", "kind": "text", "body": "Ihr Termin", "external_id": wamid}),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        ids.push(sent["id"].as_str().unwrap().to_string());
    }
    // C was read before this delivery.
    let earlier = receipts(&[("wamid.C", "read", 1764151400)]);
    let (status, _) = post_hook(
        &app,
        &hook,
        earlier.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &earlier),
    )
    .await;
    assert_eq!(status, 200);
    let body = receipts(&[
        ("wamid.A", "read", 1764151230),
        ("wamid.B", "delivered", 1764151300),
        ("wamid.A", "delivered", 1764151201),
        ("wamid.C", "delivered", 1764151300),
        ("wamid.B", "sent", 1764151300),
        ("wamid.A", "sent", 1764151200),
    ]);
    let (status, receipt) = post_hook(
        &app,
        &hook,
        body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["statuses"], json!(6));
    for (id, newest, history) in [
        (&ids[0], "read", 3),
        (&ids[1], "delivered", 2),
        (&ids[2], "read", 2),
    ] {
        let (_, m) = app
            .get(&format!("/v1/tenants/{tenant}/messages/{id}"), &agent)
            .await;
        assert_eq!(m["delivery_status"], json!(newest), "{m}");
        assert_eq!(
            m["status_history"].as_array().unwrap().len(),
            history,
            "{m}"
        );
    }
}

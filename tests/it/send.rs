//! The send path end to end against the local fake platform: success, idempotency, the
//! service window, a permanent failure, a transient failure and its retry, statuses.

use serde_json::json;

use crate::both_backends;
use crate::channels::{create_channel, post_hook, signed, WA_ACCOUNT};
use crate::fake_platform::FakePlatform;
use crate::support::{captured_logs, Backend, TestApp};

both_backends!(
    send_path_end_to_end,
    telegram_send_keeps_the_bot_token_out_of_logs
);

async fn inbound(
    app: &TestApp,
    tenant: &str,
    token: &str,
    channel: &str,
    address: &str,
    minutes_ago: i64,
) -> String {
    let at = app.hafen.clock().now() - chrono::Duration::minutes(minutes_ago);
    let (status, body) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            token,
            &json!({"contact": {"channel": channel, "address": address}, "direction": "in",
                    "occurred_at": at.to_rfc3339(), "kind": "text", "body": "Hallo, wo bleibt mein Paket?"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["contact_id"].as_str().unwrap().to_string()
}

async fn send_path_end_to_end(backend: Backend) {
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| c.whatsapp_api_base = base).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = create_channel(
        &app,
        &tenant,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG-token"}}),
    )
    .await;
    let agent = app.token(&tenant, "agent").await;
    let contact = inbound(&app, &tenant, &agent, "whatsapp", "+4915112345678", 60).await;
    let send = format!("/v1/tenants/{tenant}/contacts/{contact}/messages/send");

    // 1. Success: stored, sent, platform id recorded.
    let (status, receipt) = app
        .post(
            &send,
            &agent,
            &json!({"text": "Ihr Paket kommt morgen.", "idempotency_key": "k1"}),
        )
        .await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["status"], json!("sent"));
    let first_id = receipt["message_id"].as_str().unwrap().to_string();
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/{WA_ACCOUNT}/messages"));
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer EAAG-token")
    );
    assert_eq!(requests[0].body["to"], json!("4915112345678"));
    assert_eq!(requests[0].body["type"], json!("text"));
    assert_eq!(
        requests[0].body["text"]["body"],
        json!("Ihr Paket kommt morgen.")
    );
    let (_, m) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{first_id}"), &agent)
        .await;
    assert_eq!(m["direction"], json!("out"));
    assert_eq!(m["body"], json!("Ihr Paket kommt morgen."));
    assert_eq!(m["external_id"], json!("wamid.FAKE1"));
    assert_eq!(m["delivery_status"], json!("sent"));
    assert_eq!(m["channel_id"], channel["id"]);

    // 2. The same idempotency key again (here as a header): nothing is sent twice.
    let r = app
        .client
        .post(app.url(&send))
        .bearer_auth(&agent)
        .header("idempotency-key", "k1")
        .json(&json!({"text": "Ihr Paket kommt morgen."}))
        .send()
        .await
        .unwrap();
    let (status, again) = crate::support::read(r).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["message_id"], json!(first_id));
    assert_eq!(again["duplicate"], json!(true));
    // Its current status, not the `queued` it was stored with (migration 23).
    assert_eq!(again["status"], json!("sent"), "{again}");
    assert_eq!(fake.requests().len(), 1);

    // 3. The platform's delivery status arrives by webhook.
    let hook = format!("/hooks/whatsapp/{}", channel["id"].as_str().unwrap());
    let status_body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": WA_ACCOUNT},
        "statuses": [{"id": "wamid.FAKE1", "status": "delivered", "timestamp": (app.hafen.clock().now().timestamp() + 5).to_string(), "recipient_id": "4915112345678"}]}}]}]}))
    .unwrap();
    let (status, _) = post_hook(
        &app,
        &hook,
        status_body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &status_body),
    )
    .await;
    assert_eq!(status, 200);
    let (_, m) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{first_id}"), &agent)
        .await;
    assert_eq!(m["delivery_status"], json!("delivered"), "{m}");

    // 4. A permanent failure is stored as failed with the platform's error.
    fake.script(vec![(400, json!({"error": {"message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131026,
                                             "error_data": {"messaging_product": "whatsapp", "details": "Receiver is incapable of receiving this message"}, "fbtrace_id": "Az"}}))]);
    let (status, receipt) = app
        .post(&send, &agent, &json!({"text": "Noch eine Frage?"}))
        .await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["status"], json!("failed"));
    assert_eq!(receipt["error"]["code"], json!(131026));
    let failed_id = receipt["message_id"].as_str().unwrap();
    let (_, m) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{failed_id}"),
            &agent,
        )
        .await;
    assert_eq!(m["delivery_status"], json!("failed"));
    assert_eq!(
        m["status_history"][0]["errors"][0]["detail"],
        json!("Receiver is incapable of receiving this message")
    );

    // 5. A rate limit: queued (202), retried by the scheduled job once due, then sent.
    fake.script(vec![(429, json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}}))]);
    let (status, receipt) = app
        .post(&send, &agent, &json!({"text": "Wir melden uns gleich."}))
        .await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["status"], json!("queued"));
    let queued_id = receipt["message_id"].as_str().unwrap().to_string();
    let sent_before = fake.requests().len();
    assert_eq!(
        app.hafen.channels.run_due_sends().await.unwrap(),
        0,
        "not due yet"
    );
    assert_eq!(fake.requests().len(), sent_before);
    app.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(app.hafen.channels.run_due_sends().await.unwrap(), 1);
    assert_eq!(fake.requests().len(), sent_before + 1);
    assert_eq!(
        app.hafen.channels.run_due_sends().await.unwrap(),
        0,
        "sent once, not again"
    );
    let (_, m) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{queued_id}"),
            &agent,
        )
        .await;
    assert_eq!(m["delivery_status"], json!("sent"), "{m}");
    let retried = fake.requests();
    assert_eq!(
        retried[retried.len() - 1].body["text"]["body"],
        json!("Wir melden uns gleich.")
    );

    // 5b. A platform that keeps failing: retried with backoff until the last attempt, then the
    // message is failed for good and nothing is sent again.
    let max = hafen::channels::send::MAX_ATTEMPTS as usize;
    fake.script(vec![(500, json!({"error": {"message": "(#2) Service temporarily unavailable", "type": "OAuthException", "code": 2}})); max]);
    let (status, receipt) = app
        .post(&send, &agent, &json!({"text": "Noch ein Versuch."}))
        .await;
    assert_eq!(status, 202, "{receipt}");
    let failing_id = receipt["message_id"].as_str().unwrap().to_string();
    let before_retries = fake.requests().len();
    for _ in 1..max {
        app.clock.advance(chrono::Duration::hours(2));
        assert_eq!(app.hafen.channels.run_due_sends().await.unwrap(), 1);
    }
    assert_eq!(fake.requests().len(), before_retries + max - 1);
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.hafen.channels.run_due_sends().await.unwrap(),
        0,
        "given up after {max} attempts"
    );
    let (_, m) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{failing_id}"),
            &agent,
        )
        .await;
    assert_eq!(m["delivery_status"], json!("failed"), "{m}");

    // 6. Outside the 24-hour window only templates go out.
    app.clock.advance(chrono::Duration::hours(25));
    let before = app.counts();
    let (status, problem) = app.post(&send, &agent, &json!({"text": "Hallo?"})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("24-hour"));
    assert_eq!(
        app.counts().messages,
        before.messages,
        "a refused send stores nothing"
    );
    let (status, receipt) = app
        .post(&send, &agent, &json!({"template": {"name": "order_update", "language": "de", "components": [{"type": "body", "parameters": [{"type": "text", "text": "4711"}]}]}}))
        .await;
    assert_eq!(status, 201, "{receipt}");
    let last = fake.requests().pop().unwrap();
    assert_eq!(last.body["type"], json!("template"));
    assert_eq!(last.body["template"]["name"], json!("order_update"));
    assert_eq!(last.body["template"]["language"]["code"], json!("de"));

    // 7. Bad requests and roles.
    let dpo = app.token(&tenant, "dpo").await;
    assert_eq!(app.post(&send, &dpo, &json!({"text": "x"})).await.0, 403);
    assert_eq!(
        app.post(
            &send,
            &agent,
            &json!({"text": "x", "template": {"name": "a", "language": "de"}})
        )
        .await
        .0,
        422
    );
    assert_eq!(
        app.post(
            &send,
            &agent,
            &json!({"media": {"kind": "hologram", "url": "https://x"}})
        )
        .await
        .0,
        422
    );
    assert_eq!(
        app.post(
            &format!(
                "/v1/tenants/{tenant}/contacts/{}/messages/send",
                uuid::Uuid::now_v7()
            ),
            &agent,
            &json!({"text": "x"})
        )
        .await
        .0,
        404
    );
    fake.stop().await;
}

async fn telegram_send_keeps_the_bot_token_out_of_logs(backend: Backend) {
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| c.telegram_api_base = base).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let bot_token = format!("123456:{}", crate::support::marker("BOTTOKEN"));
    create_channel(&app, &tenant, json!({"platform": "telegram", "name": "Bot", "secrets": {"webhook_secret": "s3cret-7f3a9c1e5b2d8f40a1", "bot_token": bot_token}})).await;
    let agent = app.token(&tenant, "agent").await;
    let contact = inbound(&app, &tenant, &agent, "telegram", "1111111", 60 * 24 * 30).await;
    let send = format!("/v1/tenants/{tenant}/contacts/{contact}/messages/send");
    let (status, receipt) = app.post(&send, &agent, &json!({"text": "Guten Tag"})).await;
    assert_eq!(status, 201, "{receipt}");
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.path, format!("/bot{bot_token}/sendMessage"));
    assert_eq!(request.body["chat_id"], json!("1111111"));
    // A network failure is retried later, and its error does not carry the URL with the token.
    fake.stop().await;
    let (status, receipt) = app.post(&send, &agent, &json!({"text": "Noch da?"})).await;
    assert_eq!(status, 202, "{receipt}");
    assert!(!receipt.to_string().contains(&bot_token));
    let logs = captured_logs().lock().unwrap().clone();
    assert!(
        !crate::storage::contains(&logs, &bot_token),
        "bot token in the log"
    );
}

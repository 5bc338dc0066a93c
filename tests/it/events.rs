//! Outbound event webhooks: queued with the change, signed, retried, visible.

use serde_json::json;

use crate::both_backends;
use crate::channels::{fixture, post_hook, signed, whatsapp_channel};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};

both_backends!(
    inbound_messages_and_statuses_reach_the_company_signed_and_retried,
    event_hook_deliveries_are_paged
);

async fn inbound_messages_and_statuses_reach_the_company_signed_and_retried(backend: Backend) {
    let receiver = FakePlatform::start().await;
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = whatsapp_channel(&app, &tenant, "wa-secret").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    let hooks = format!("/v1/tenants/{tenant}/event-hooks");

    // Registration: validation, roles, the secret shown once.
    assert_eq!(
        app.post(
            &hooks,
            &agent,
            &json!({"url": format!("{}/in", receiver.base)})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.post(&hooks, &admin, &json!({"url": "http://crm.example.com/in"}))
            .await
            .0,
        422
    );
    assert_eq!(
        app.post(
            &hooks,
            &admin,
            &json!({"url": format!("{}/in", receiver.base), "secret": "short"})
        )
        .await
        .0,
        422
    );
    let (status, hook) = app
        .post(
            &hooks,
            &admin,
            &json!({"url": format!("{}/in", receiver.base), "secret": "a-secret-of-24-characters"}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["secret"], json!("a-secret-of-24-characters"));
    assert_eq!(
        hook["events"],
        json!(["message.received", "message.status"])
    );
    let (_, list) = app.get(&hooks, &admin).await;
    assert!(list[0].get("secret").is_none(), "{list}");
    assert_eq!(list[0]["url"], json!(format!("{}/in", receiver.base)));

    // A second hook whose receiver fails once.
    receiver.route(
        "/flaky",
        vec![
            (503, b"busy".to_vec(), "text/plain"),
            (204, Vec::new(), "text/plain"),
        ],
    );
    let (_, flaky) = app
        .post(
            &hooks,
            &admin,
            &json!({"url": format!("{}/flaky", receiver.base), "events": ["message.received"]}),
        )
        .await;
    let flaky_secret = flaky["secret"].as_str().unwrap().to_string();
    assert!(flaky_secret.len() >= 32, "a generated secret");

    // An inbound message: one delivery per hook, queued in the same transaction.
    let raw = fixture("whatsapp_text.json");
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{channel}"),
        raw.clone(),
        &signed("wa-secret", &raw),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.hafen.run_due_event_deliveries().await.unwrap(), 2);
    let delivered = receiver
        .requests()
        .into_iter()
        .find(|r| r.path == "/in")
        .expect("delivered");
    let timestamp: i64 = delivered
        .header("x-hafen-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        delivered.header("x-hafen-signature").unwrap(),
        hafen::events::signature("a-secret-of-24-characters", timestamp, &delivered.raw)
    );
    assert_eq!(delivered.header("x-hafen-event"), Some("message.received"));
    assert_eq!(delivered.body["event"], json!("message.received"));
    assert_eq!(
        delivered.body["message"]["body"],
        json!("Does it come in another color?")
    );
    assert_eq!(delivered.body["contact"]["address"], json!("16505551234"));
    assert_eq!(
        delivered.body["contact"]["display_name"],
        json!("Sheena Nelson")
    );
    assert_eq!(delivered.body["message"]["channel_id"], json!(channel));

    // The flaky receiver: first attempt failed, visible; retried after the backoff.
    let deliveries = format!("{hooks}/{}/deliveries", flaky["id"].as_str().unwrap());
    let (_, d) = app.get(&deliveries, &admin).await;
    let d = &d["items"];
    assert_eq!(d[0]["state"], json!("pending"), "{d}");
    assert_eq!(d[0]["last_status"], json!(503));
    assert_eq!(
        app.hafen.run_due_event_deliveries().await.unwrap(),
        0,
        "not due yet"
    );
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(app.hafen.run_due_event_deliveries().await.unwrap(), 1);
    let (_, d) = app.get(&deliveries, &admin).await;
    let d = &d["items"];
    assert_eq!(d[0]["state"], json!("delivered"), "{d}");
    assert_eq!(d[0]["attempts"], json!(2));

    // The retry of the same webhook (Meta resends) creates no second event.
    post_hook(
        &app,
        &format!("/hooks/whatsapp/{channel}"),
        raw.clone(),
        &signed("wa-secret", &raw),
    )
    .await;
    assert_eq!(app.hafen.run_due_event_deliveries().await.unwrap(), 0);

    // A status change goes to the hook that subscribed to it only.
    let status_body = fixture("whatsapp_status.json");
    let (status, receipt) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{channel}"),
        status_body.clone(),
        &signed("wa-secret", &status_body),
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["statuses"], json!(1), "{receipt}");
    let (_, d) = app
        .get(
            &format!("{hooks}/{}/deliveries", hook["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    let d = &d["items"];
    assert_eq!(d[0]["event"], json!("message.status"), "{d}");
    assert_eq!(app.hafen.run_due_event_deliveries().await.unwrap(), 1);
    let last = receiver.requests().pop().unwrap();
    assert_eq!(last.path, "/in");
    assert_eq!(last.body["event"], json!("message.status"));
    assert_eq!(
        last.body["status"]["status"],
        json!("delivered"),
        "{}",
        last.body
    );

    // Deleting a hook removes it; other tenants see nothing.
    let other = app.create_tenant("Andere GmbH").await;
    assert_eq!(
        app.get(
            &format!(
                "/v1/tenants/{other}/event-hooks/{}/deliveries",
                flaky["id"].as_str().unwrap()
            ),
            &app.admin_token
        )
        .await
        .0,
        404
    );
    let r = app
        .client
        .delete(app.url(&format!("{hooks}/{}", flaky["id"].as_str().unwrap())))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(app.get(&deliveries, &admin).await.0, 404);
    receiver.stop().await;
}

/// A hook's delivery list pages like every other list: `limit`, `after` = the previous page's
/// `next_cursor`, newest first, every delivery once; a bad cursor or limit is a 422.
async fn event_hook_deliveries_are_paged(backend: Backend) {
    let receiver = FakePlatform::start().await;
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let (status, hook) = app
        .post(
            &format!("/v1/tenants/{tenant}/event-hooks"),
            &admin,
            &json!({"url": format!("{}/in", receiver.base), "events": ["message.received"]}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let messages: Vec<serde_json::Value> = (0..7)
        .map(|i| {
            crate::support::text_message(
                "whatsapp",
                &format!("+4915140000{i:03}"),
                "Seite",
                Some(&format!("page.{i}")),
            )
        })
        .collect();
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &admin,
            &json!({ "messages": messages }),
        )
        .await;
    assert_eq!(status, 201);

    let deliveries = format!(
        "/v1/tenants/{tenant}/event-hooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    let mut seen: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    let mut path = format!("{deliveries}?limit=3");
    loop {
        let (status, page) = app.get(&path, &admin).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        seen.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{deliveries}?limit=3&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    let mut newest_first = seen.clone();
    newest_first.sort();
    newest_first.reverse();
    newest_first.dedup();
    assert_eq!(seen, newest_first, "newest first, each delivery once");
    let (_, all) = app.get(&deliveries, &admin).await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        7,
        "the default page holds them all"
    );
    assert_eq!(all["next_cursor"], json!(null));

    for bad in ["?limit=0", "?limit=501", "?after=not-a-cursor"] {
        let (status, problem) = app.get(&format!("{deliveries}{bad}"), &admin).await;
        assert_eq!(status, 422, "{bad}: {problem}");
    }
    let other = app.create_tenant("Andere GmbH").await;
    let (status, _) = app
        .get(&deliveries.replace(&tenant, &other), &app.admin_token)
        .await;
    assert_eq!(status, 404, "another tenant's hook is not found");
    let _ = app.stop().await;
}

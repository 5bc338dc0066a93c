//! Outbound event webhooks: queued with the change, signed, retried, visible.

use serde_json::json;

use crate::both_backends;
use crate::channels::{fixture, post_hook, signed, whatsapp_channel};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};

both_backends!(
    inbound_messages_and_statuses_reach_the_company_signed_and_retried,
    event_hook_deliveries_are_paged,
    event_hooks_reach_no_internal_address_unless_the_admin_allows_it,
    a_restricted_contacts_events_carry_ids_only_and_deliveries_are_audited
);

/// The test receivers listen on loopback, which only an `outbound_allow` entry opens.
pub async fn spawn_allowing_local_receivers(backend: Backend) -> TestApp {
    TestApp::spawn_configured(backend, |c| c.outbound_allow = vec!["127.0.0.1".into()]).await
}

/// SSRF through event hooks: a tenant admin cannot make Hafen post to loopback, the private
/// network, link-local metadata services or Hafen itself — refused at registration with the
/// reason, and again at delivery (the check runs where the client resolves the name, so a name
/// that turned internal after registration is refused too), without echoing what is there.
async fn event_hooks_reach_no_internal_address_unless_the_admin_allows_it(backend: Backend) {
    let receiver = FakePlatform::start().await;
    let port = receiver.base.rsplit(':').next().unwrap().to_string();
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let hooks = format!("/v1/tenants/{tenant}/event-hooks");
    let own_port = app.base.rsplit(':').next().unwrap().to_string();
    for url in [
        format!("http://127.0.0.1:{port}/in"),
        "http://127.1/in".to_string(),
        "http://2130706433/in".to_string(),
        "http://[::1]/in".to_string(),
        format!("http://localhost:{own_port}/v1/tenants"),
        "https://169.254.169.254/latest/meta-data/".to_string(),
        "https://10.0.0.1/".to_string(),
        "https://0.0.0.0/".to_string(),
        "https://[::ffff:127.0.0.1]/".to_string(),
        "https://127.0.0.1:5432/".to_string(),
        "https://[fd00::1]/".to_string(),
    ] {
        let (status, problem) = app.post(&hooks, &admin, &json!({ "url": url })).await;
        assert_eq!(status, 422, "{url}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("outbound policy") && detail.contains("outbound_allow"),
            "{url}: the reason is named: {problem}"
        );
    }
    let (_, list) = app.get(&hooks, &admin).await;
    assert_eq!(list, json!([]), "nothing was registered");

    // An admin allows the loopback receiver; the hooks register. Then the entry is removed
    // again: deliveries to an address literal and to a name that resolves there are refused.
    let (mut config, db, dir, clock, token) = app.stop().await;
    config.outbound_allow = vec!["127.0.0.1".into(), "localhost".into()];
    let app = TestApp::spawn_with(backend, config, db, dir, clock, Some(token)).await;
    for url in [
        format!("http://127.0.0.1:{port}/literal"),
        format!("http://localhost:{port}/name"),
    ] {
        let (status, hook) = app.post(&hooks, &admin, &json!({ "url": url })).await;
        assert_eq!(status, 201, "{url}: {hook}");
    }
    let (mut config, db, dir, clock, token) = app.stop().await;
    config.outbound_allow = Vec::new();
    let app = TestApp::spawn_with(backend, config, db, dir, clock, Some(token)).await;
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &admin,
            &json!({ "messages": [crate::support::text_message("whatsapp", "+4915140000001", "Hallo", None)] }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 2);
    assert!(
        receiver.requests().is_empty(),
        "nothing reached the internal receiver"
    );
    let (_, list) = app.get(&hooks, &admin).await;
    for hook in list.as_array().unwrap() {
        let (_, page) = app
            .get(
                &format!("{hooks}/{}/deliveries", hook["id"].as_str().unwrap()),
                &admin,
            )
            .await;
        let delivery = &page["items"][0];
        assert_eq!(delivery["state"], json!("failed"), "not retried: {page}");
        assert_eq!(delivery["last_status"], json!(null), "{page}");
        let error = delivery["last_error"].as_str().unwrap();
        assert!(
            error.contains("outbound_allow") && !error.contains("HTTP"),
            "{hook}: {error}"
        );
    }
    app.stop().await;
    receiver.stop().await;
}

async fn inbound_messages_and_statuses_reach_the_company_signed_and_retried(backend: Backend) {
    let receiver = FakePlatform::start().await;
    let app = spawn_allowing_local_receivers(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = whatsapp_channel(&app, &tenant, "wa-secret-7f3a9c1e5b2d8f40").await;
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
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 2);
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
        app.hafen.events.run_due_deliveries().await.unwrap(),
        0,
        "not due yet"
    );
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
    let (_, d) = app.get(&deliveries, &admin).await;
    let d = &d["items"];
    assert_eq!(d[0]["state"], json!("delivered"), "{d}");
    assert_eq!(d[0]["attempts"], json!(2));

    // The retry of the same webhook (Meta resends) creates no second event.
    post_hook(
        &app,
        &format!("/hooks/whatsapp/{channel}"),
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 0);

    // A status change goes to the hook that subscribed to it only.
    let status_body = fixture("whatsapp_status.json");
    let (status, receipt) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{channel}"),
        status_body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &status_body),
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
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
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
    let app = spawn_allowing_local_receivers(backend).await;
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

/// Art. 18: once the DPO restricted a contact, its events tell the company's systems that a
/// message came — ids only, no address, name or body — whether the event was queued before the
/// restriction or after it. Every delivery batch is in the audit log with what it carried.
async fn a_restricted_contacts_events_carry_ids_only_and_deliveries_are_audited(backend: Backend) {
    let receiver = FakePlatform::start().await;
    let app = spawn_allowing_local_receivers(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let dpo = app.token(&tenant, "dpo").await;
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/event-hooks"),
            &admin,
            &json!({"url": format!("{}/in", receiver.base), "events": ["message.received"]}),
        )
        .await;
    assert_eq!(status, 201);
    let number = crate::support::phone_marker();
    let send = |body: String| {
        let (app, tenant, admin, number) = (&app, &tenant, &admin, &number);
        async move {
            let mut message = crate::support::text_message("whatsapp", number, &body, None);
            message["contact"]["display_name"] = json!("Erika Beispiel");
            let (status, r) = app
                .post(
                    &format!("/v1/tenants/{tenant}/messages"),
                    admin,
                    &json!({ "messages": [message] }),
                )
                .await;
            assert_eq!(status, 201, "{r}");
        }
    };
    send(crate::support::marker("before")).await;
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
    let first = &receiver.requests()[0];
    assert_eq!(
        first.body["contact"]["display_name"],
        json!("Erika Beispiel")
    );
    let contact = first.body["contact"]["id"].as_str().unwrap().to_string();

    // One event queued before the restriction, one after it.
    let queued = crate::support::marker("queued");
    send(queued.clone()).await;
    let requests = format!("/v1/tenants/{tenant}/requests");
    let (status, request) = app
        .post(
            &requests,
            &dpo,
            &json!({"kind": "restriction", "contact_id": contact}),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().unwrap();
    let (status, r) = app
        .post(
            &format!("{requests}/{id}/identity"),
            &dpo,
            &json!({"method": "callback"}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let (status, r) = app
        .post(&format!("{requests}/{id}/restrict"), &dpo, &json!({}))
        .await;
    assert_eq!(status, 200, "{r}");
    let after = crate::support::marker("after");
    send(after.clone()).await;
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 2);
    let withheld: Vec<_> = receiver.requests().into_iter().skip(1).collect();
    assert_eq!(withheld.len(), 2);
    for r in &withheld {
        let text = String::from_utf8_lossy(&r.raw).to_string();
        for personal in [
            queued.as_str(),
            after.as_str(),
            number.trim_start_matches('+'),
            "Erika",
        ] {
            assert!(!text.contains(personal), "{personal} left Hafen: {text}");
        }
        assert_eq!(r.body["restricted"], json!(true), "{text}");
        assert_eq!(r.body["contact"]["id"], json!(contact));
        assert!(r.body["message"]["id"].is_string(), "{text}");
        assert_eq!(
            r.header("x-hafen-signature").map(str::len),
            Some(71),
            "still signed"
        );
    }
    let details: Vec<String> = app
        .hafen
        .store()
        .read(|conn| hafen::audit::recent(conn, None, 1000))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "event.deliver")
        .filter_map(|r| r.detail)
        .collect();
    assert!(
        details.contains(&"delivered=1 personal_data=1 restricted_withheld=0 failed=0".to_string()),
        "{details:?}"
    );
    assert!(
        details.contains(&"delivered=2 personal_data=0 restricted_withheld=2 failed=0".to_string()),
        "{details:?}"
    );
    app.stop().await;
    receiver.stop().await;
}

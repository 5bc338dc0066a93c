//! The hosted sign-up widget: renders without a pre-ticked box, refuses forged or unticked
//! forms, rate-limits, asks for confirmation by WhatsApp template, and answers every valid
//! submission the same way so nobody can learn whether a number is subscribed.

use serde_json::json;

use crate::both_backends;
use crate::channels::{create_channel, post_hook, signed, WA_ACCOUNT};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};

both_backends!(
    widget_sign_up_double_opt_in,
    widget_answers_new_and_subscribed_numbers_alike_in_time,
    the_per_number_limit_holds_across_restarts_and_address_floods
);

struct Form {
    token: String,
    cookie: String,
}

async fn open_form(app: &TestApp, path: &str) -> (Form, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    // Embeddable: no X-Frame-Options contradicting the policy (old browsers obey only it).
    assert!(
        r.headers().get("x-frame-options").is_none(),
        "{:?}",
        r.headers()
    );
    // Everything else still may not be framed.
    let other = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        other
            .headers()
            .get("x-frame-options")
            .map(|v| v.to_str().unwrap()),
        Some("DENY")
    );
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = r.text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (Form { token, cookie }, html)
}

async fn submit(
    app: &TestApp,
    path: &str,
    form: &Form,
    fields: &[(&str, &str)],
    with_cookie: bool,
) -> (u16, String) {
    let mut body: Vec<(&str, &str)> = fields.to_vec();
    body.push(("csrf", &form.token));
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", "Widget-Test/1.0")
        .header("referer", "https://www.muster.de/newsletter")
        .body(serde_urlencoded::to_string(&body).unwrap());
    if with_cookie {
        req = req.header("cookie", form.cookie.clone());
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn widget_sign_up_double_opt_in(backend: Backend) {
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| c.whatsapp_api_base = base).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = create_channel(
        &app,
        &tenant,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG"}}),
    )
    .await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let (status, purpose) = app
        .post(
            &format!("/v1/tenants/{tenant}/consent-purposes"),
            &admin,
            &json!({"name": "Newsletter", "texts": {"de": "Ich möchte den <Newsletter> per WhatsApp erhalten."},
                    "confirm_template": "newsletter_optin",
                    "widget": {"title": "Newsletter abonnieren", "color": "#aa3300", "privacy_url": "https://www.muster.de/datenschutz"}}),
        )
        .await;
    assert_eq!(status, 201, "{purpose}");
    let path = format!("/w/{tenant}/{}", purpose["id"].as_str().unwrap());

    let (form, html) = open_form(&app, &path).await;
    assert!(
        html.contains("Ich möchte den &lt;Newsletter&gt; per WhatsApp erhalten."),
        "escaped consent text"
    );
    assert!(
        html.contains("Newsletter abonnieren")
            && html.contains("#aa3300")
            && html.contains("https://www.muster.de/datenschutz")
    );
    assert!(
        html.contains(r#"type="checkbox" name="consent" value="yes" required>"#),
        "the box is not pre-ticked"
    );
    assert!(!html.contains("checked"));
    let consents = || {
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        hafen::store::schema::consents::table
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap()
    };

    // Forged (no cookie / wrong token) and unticked forms are refused; nothing is stored.
    let (status, _) = submit(
        &app,
        &path,
        &form,
        &[("phone", "+49 151 11111111"), ("consent", "yes")],
        false,
    )
    .await;
    assert_eq!(status, 403);
    let forged = Form {
        token: "AAAA".into(),
        cookie: "hafen_csrf=AAAA".into(),
    };
    let (status, _) = submit(
        &app,
        &path,
        &forged,
        &[("phone", "+49 151 11111111"), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 403);
    let (status, page) = submit(&app, &path, &form, &[("phone", "+49 151 11111111")], true).await;
    assert_eq!(status, 422);
    assert!(page.contains("Häkchen"));
    let (status, _) = submit(
        &app,
        &path,
        &form,
        &[("phone", "0815"), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(consents(), 0);
    assert!(fake.requests().is_empty());

    // A valid sign-up: requested, and the confirmation template goes out (no open window).
    let (status, done_new) = submit(
        &app,
        &path,
        &form,
        &[("phone", "+49 151 11111111"), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 200, "{done_new}");
    assert!(done_new.contains("Fast geschafft"));
    assert_eq!(consents(), 1);
    assert!(
        fake.requests().is_empty(),
        "the answer does not wait for the platform: the confirmation goes from the outbox"
    );
    assert_eq!(app.hafen.channels.run_due_sends().await.unwrap(), 1);
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["to"], json!("4915111111111"));
    assert_eq!(sent[0].body["type"], json!("template"));
    assert_eq!(sent[0].body["template"]["name"], json!("newsletter_optin"));

    // The person confirms in WhatsApp.
    let confirm = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": WA_ACCOUNT},
        "messages": [{"from": "4915111111111", "id": "wamid.CONFIRM", "timestamp": app.hafen.clock().now().timestamp().to_string(),
                      "type": "button", "button": {"text": "JA", "payload": "JA"}}]}}]}]}))
    .unwrap();
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{}", channel["id"].as_str().unwrap()),
        confirm.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &confirm),
    )
    .await;
    assert_eq!(status, 200);
    let agent = app.token(&tenant, "agent").await;
    let (_, contacts) = app
        .get(&format!("/v1/tenants/{tenant}/contacts"), &agent)
        .await;
    let contact = contacts["items"][0]["id"].as_str().unwrap().to_string();
    let (_, proof) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact}/consents"),
            &agent,
        )
        .await;
    assert_eq!(proof[0]["state"], json!("confirmed"), "{proof}");
    let requested = &proof[0]["history"][0];
    assert_eq!(requested["source"], json!("widget"));
    assert_eq!(
        requested["evidence"]["user_agent"],
        json!("Widget-Test/1.0")
    );
    assert_eq!(
        requested["evidence"]["page"],
        json!("https://www.muster.de/newsletter")
    );
    assert_eq!(requested["evidence"]["ip"], json!("127.0.0.1"));

    // Signing up a subscribed number answers exactly like a new one: nothing to learn.
    let (status, done_subscribed) = submit(
        &app,
        &path,
        &form,
        &[("phone", "+49 151 11111111"), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(done_subscribed, done_new);
    let (_, proof) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact}/consents"),
            &agent,
        )
        .await;
    assert_eq!(
        proof[0]["state"],
        json!("confirmed"),
        "a repeated sign-up does not reset a confirmed consent"
    );

    // Rate limit per number: the fourth attempt within a day is refused.
    let (status, _) = submit(
        &app,
        &path,
        &form,
        &[("phone", "+49 151 11111111"), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 200);
    let (status, page) = submit(
        &app,
        &path,
        &form,
        &[("phone", "+49 151 11111111"), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 429, "{page}");
    // A form older than two hours is refused.
    app.clock.advance(chrono::Duration::hours(3));
    let (status, _) = submit(
        &app,
        &path,
        &form,
        &[("phone", "+49 151 22222222"), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 403);

    // The embed script points at the page.
    let script = app
        .client
        .get(app.url(&format!("{path}/embed.js")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        script.contains(&format!("/w/{tenant}/{}", purpose["id"].as_str().unwrap()))
            && script.contains("iframe")
    );
    // Unknown tenant or purpose: 404.
    assert_eq!(
        app.client
            .get(app.url(&format!("/w/{tenant}/nope")))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    fake.stop().await;
}

/// The widget's answer time says nothing about a number: a new number (whose confirmation needs
/// a platform call) and a subscribed one (which needs none) are answered alike, even when the
/// platform takes two seconds — the confirmation goes out from the outbox afterwards.
async fn widget_answers_new_and_subscribed_numbers_alike_in_time(backend: Backend) {
    let platform_delay = std::time::Duration::from_secs(2);
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| c.whatsapp_api_base = base).await;
    let (channel, path) = newsletter_widget(&app).await;

    // One subscribed number: signed up and confirmed.
    let subscribed = "+49 151 33333333";
    let (form, _) = open_form(&app, &path).await;
    let (status, _) = submit(
        &app,
        &path,
        &form,
        &[("phone", subscribed), ("consent", "yes")],
        true,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.hafen.channels.run_due_sends().await.unwrap(), 1);
    let confirm = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": WA_ACCOUNT},
        "messages": [{"from": "4915133333333", "id": "wamid.CONFIRM", "timestamp": app.hafen.clock().now().timestamp().to_string(),
                      "type": "button", "button": {"text": "JA", "payload": "JA"}}]}}]}]}))
    .unwrap();
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{}", channel["id"].as_str().unwrap()),
        confirm.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &confirm),
    )
    .await;
    assert_eq!(status, 200);
    fake.slow_down(platform_delay);

    // Rounds of one new and one subscribed sign-up; each round a day later (fresh rate limits,
    // a fresh form).
    let (mut new_times, mut subscribed_times) = (Vec::new(), Vec::new());
    for round in 0..6 {
        app.clock.advance(chrono::Duration::hours(25));
        let (form, _) = open_form(&app, &path).await;
        let new_number = format!("+49 151 4444{round:04}");
        for (number, times) in [
            (new_number.as_str(), &mut new_times),
            (subscribed, &mut subscribed_times),
        ] {
            let started = std::time::Instant::now();
            let (status, page) = submit(
                &app,
                &path,
                &form,
                &[("phone", number), ("consent", "yes")],
                true,
            )
            .await;
            times.push(started.elapsed());
            assert_eq!(status, 200, "{page}");
        }
    }
    let median = |times: &mut Vec<std::time::Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (new_median, subscribed_median) = (median(&mut new_times), median(&mut subscribed_times));
    assert!(
        new_times.iter().all(|t| *t < platform_delay),
        "no answer waited for the platform: new {new_times:?}"
    );
    let gap = new_median.abs_diff(subscribed_median);
    assert!(
        gap < platform_delay / 10,
        "medians differ by {gap:?}: new {new_times:?}, subscribed {subscribed_times:?}"
    );
    fake.slow_down(std::time::Duration::ZERO);
    assert_eq!(
        app.hafen.channels.run_due_sends().await.unwrap(),
        6,
        "every new number's confirmation went out afterwards"
    );
    fake.stop().await;
}

/// The per-number limit protects the person whose number is entered (each sign-up sends them a
/// message): it is counted in the database, so neither a restart (another instance) nor a flood
/// of client addresses resets it.
async fn the_per_number_limit_holds_across_restarts_and_address_floods(backend: Backend) {
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| {
        c.whatsapp_api_base = base;
        // The test client is a trusted proxy: each request may come from another address.
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let (_, path) = newsletter_widget(&app).await;
    let victim = "+49 151 55555555";
    // From a new address each time: the address limit never bites, the number's does.
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(sign_up_from(&app, &path, victim, format!("2001:db8:{i}::1")).await);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let (config, db, dir, clock, token) = app.stop().await;
    let app = TestApp::spawn_with(backend, config, db, dir, clock, Some(token)).await;
    assert_eq!(
        sign_up_from(&app, &path, victim, "2001:db8:99::1".into()).await,
        429,
        "a restart forgives nothing"
    );
    app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(
        sign_up_from(&app, &path, victim, "2001:db8:99::1".into()).await,
        200,
        "a day later"
    );
    app.stop().await;
    fake.stop().await;
}

/// A valid sign-up of `number` from client address `from` (through the trusted test proxy).
async fn sign_up_from(app: &TestApp, path: &str, number: &str, from: String) -> u16 {
    let (form, _) = open_form(app, path).await;
    let body = serde_urlencoded::to_string([
        ("phone", number),
        ("consent", "yes"),
        ("csrf", form.token.as_str()),
    ])
    .unwrap();
    app.client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", form.cookie.clone())
        .header("x-forwarded-for", from)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A tenant with a WhatsApp channel and a newsletter purpose confirmed by template; the
/// channel and the widget's path.
async fn newsletter_widget(app: &TestApp) -> (serde_json::Value, String) {
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = create_channel(
        app,
        &tenant,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG"}}),
    )
    .await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let (status, purpose) = app
        .post(
            &format!("/v1/tenants/{tenant}/consent-purposes"),
            &admin,
            &json!({"name": "Newsletter", "texts": {"de": "Ich möchte den Newsletter per WhatsApp erhalten."},
                    "confirm_template": "newsletter_optin"}),
        )
        .await;
    assert_eq!(status, 201, "{purpose}");
    let path = format!("/w/{tenant}/{}", purpose["id"].as_str().unwrap());
    (channel, path)
}

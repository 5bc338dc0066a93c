//! Channels in the interface: the webhook URL built from `public_url` (a warning without it),
//! a channel disabled and enabled again, renamed with its credentials kept when left empty;
//! where each platform delivers a channel's events, and registering Hafen there.

use hafen::auth::Role;
use serde_json::json;

use crate::both_backends;
use crate::channels::{create_channel, WA_ACCOUNT};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};
use crate::ui::{add_user, hidden, Browser, PASSWORD};

both_backends!(
    channels_are_edited_and_disabled_and_show_the_public_webhook_url,
    webhooks_are_checked_and_registered_with_each_platform
);

async fn channels_are_edited_and_disabled_and_show_the_public_webhook_url(backend: Backend) {
    // Without public_url: the page warns, and shows the address it was opened at.
    let app = TestApp::spawn(backend).await;
    let t = app.create_tenant("Muster GmbH").await;
    let channel = create_channel(
        &app,
        &t,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG-token"}}),
    )
    .await;
    let id = channel["id"].as_str().unwrap().to_string();
    add_user(&app, "admin@muster.de", Role::TenantAdmin, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin@muster.de", PASSWORD, "").await, 303);
    let page = format!("/ui/t/{t}/channels");
    let (_, html, _) = browser.get(&page).await;
    assert!(html.contains("id=\"no-public-url\""), "{html}");
    assert!(
        html.contains(&format!("{}/hooks/whatsapp/{id}", app.base)),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");

    // Disabled, then enabled again.
    let r = browser
        .post(
            &format!("{page}/{id}/enabled"),
            &[("csrf", csrf.as_str()), ("enabled", "0")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, read) = app
        .get(&format!("/v1/tenants/{t}/channels/{id}"), &app.admin_token)
        .await;
    assert_eq!(read["enabled"], json!(false), "{read}");
    let (_, html, _) = browser.get(&page).await;
    assert!(
        html.contains("Webhooks dieses Kanals werden abgewiesen"),
        "{html}"
    );
    let r = browser
        .post(
            &format!("{page}/{id}/enabled"),
            &[("csrf", csrf.as_str()), ("enabled", "1")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, read) = app
        .get(&format!("/v1/tenants/{t}/channels/{id}"), &app.admin_token)
        .await;
    assert_eq!(read["enabled"], json!(true));

    // Renamed; empty credential fields keep the stored ones (the webhook still verifies).
    let r = browser
        .post(
            &format!("{page}/{id}/edit"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Kundenservice"),
                ("account_id", WA_ACCOUNT),
                ("app_secret", ""),
                ("access_token", ""),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, read) = app
        .get(&format!("/v1/tenants/{t}/channels/{id}"), &app.admin_token)
        .await;
    assert_eq!(read["name"], json!("Kundenservice"));
    let body =
        serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": []})).unwrap();
    let headers = crate::channels::signed("wa-secret-7f3a9c1e5b2d8f40", &body);
    let (status, _) =
        crate::channels::post_hook(&app, &format!("/hooks/whatsapp/{id}"), body, &headers).await;
    assert_eq!(status, 200, "the stored app secret still verifies");

    // Registering needs public_url: the page says so, and nothing is asked or audited.
    let (_, html, _) = browser.get(&page).await;
    assert!(html.contains("sobald public_url eingestellt ist"), "{html}");
    let before = crate::ui::audit_actions(&app).len();
    let r = browser
        .post(
            &format!("{page}/{id}/webhook/register"),
            &[("csrf", csrf.as_str())],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Eintragen fehlgeschlagen"), "{html}");
    assert!(html.contains("fehlt public_url"), "{html}");
    assert_eq!(crate::ui::audit_actions(&app).len(), before);
    let _ = app.stop().await;

    // With public_url: the URL is built from it, and no warning.
    let app = TestApp::spawn_configured(backend, |c| {
        c.public_url = Some("https://hafen.muster.de/".into())
    })
    .await;
    let t = app.create_tenant("Muster GmbH").await;
    let channel = create_channel(
        &app,
        &t,
        json!({"platform": "telegram", "name": "Bot",
               "secrets": {"bot_token": "123456:ABC-telegram-token-x", "webhook_secret": "tg-secret-4e1f9a2b7c3d"}}),
    )
    .await;
    add_user(&app, "admin@muster.de", Role::TenantAdmin, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = browser.get(&format!("/ui/t/{t}/channels")).await;
    assert!(!html.contains("id=\"no-public-url\""), "{html}");
    assert!(
        html.contains(&format!(
            "https://hafen.muster.de/hooks/telegram/{}",
            channel["id"].as_str().unwrap()
        )),
        "{html}"
    );
    let _ = app.stop().await;
}

/// The answer of a POST from the channels page, as text.
async fn click(browser: &Browser<'_>, app: &TestApp, action: &str, csrf: &str) -> (u16, String) {
    let r = browser
        .post(action, &[("csrf", csrf)], Some(&app.base))
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The outcome shown in one channel's card.
fn outcome<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"outcome-{id}\""))
        .unwrap_or_else(|| panic!("no outcome for {id} in {html}"));
    let rest = &html[at..];
    &rest[..rest.find("</p>").unwrap()]
}

/// A new channel's id.
async fn channel_id(app: &TestApp, tenant: &str, body: serde_json::Value) -> String {
    create_channel(app, tenant, body).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn webhooks_are_checked_and_registered_with_each_platform(backend: Backend) {
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| {
        c.public_url = Some("https://hafen.muster.de".into());
        c.whatsapp_api_base = base.clone();
        c.messenger_api_base = base.clone();
        c.telegram_api_base = base;
    })
    .await;
    let t = app.create_tenant("Muster GmbH").await;
    let tg_token = "123456:ABC-telegram-token-x";
    let tg_secret = "tg-secret-4e1f9a2b7c3d";
    let tg = channel_id(
        &app,
        &t,
        json!({"platform": "telegram", "name": "Bot",
               "secrets": {"bot_token": tg_token, "webhook_secret": tg_secret}}),
    )
    .await;
    let wa = channel_id(
        &app,
        &t,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt-7f3a", "access_token": "EAAG-token"}}),
    )
    .await;
    let fb = channel_id(
        &app,
        &t,
        json!({"platform": "messenger", "name": "Seite", "account_id": "1029384756",
               "secrets": {"app_secret": "fb-secret-7f3a9c1e5b2d8f40", "verify_token": "vt-fb", "access_token": "EAAB-page-token"}}),
    )
    .await;
    let hook = |platform: &str, id: &str| format!("https://hafen.muster.de/hooks/{platform}/{id}");
    let json_body = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
    add_user(&app, "admin@muster.de", Role::TenantAdmin, Some(&t)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin@muster.de", PASSWORD, "").await, 303);
    let page = format!("/ui/t/{t}/channels");
    let (_, html, _) = browser.get(&page).await;
    let csrf = hidden(&html, "csrf");
    assert!(html.contains("Bei Telegram eintragen"), "{html}");

    // Telegram: no webhook yet; a refused registration says why and is not audited; then
    // setWebhook with the channel's secret and only the updates Hafen stores.
    fake.route(
        &format!("/bot{tg_token}/getWebhookInfo"),
        vec![
            (200, json_body(json!({"ok": true, "result": {"url": "", "pending_update_count": 4}})), "application/json"),
            (200, json_body(json!({"ok": true, "result": {"url": hook("telegram", &tg), "pending_update_count": 0}})), "application/json"),
        ],
    );
    fake.route(
        &format!("/bot{tg_token}/setWebhook"),
        vec![
            (400, json_body(json!({"ok": false, "error_code": 400, "description": "Bad Request: bad webhook: Failed to resolve host"})), "application/json"),
            (200, json_body(json!({"ok": true, "result": true, "description": "Webhook was set"})), "application/json"),
        ],
    );
    let (status, html) = click(&browser, &app, &format!("{page}/{tg}/webhook"), &csrf).await;
    assert_eq!(status, 200);
    let said = outcome(&html, &tg);
    assert!(said.contains("keine Adresse eingetragen"), "{said}");
    assert!(said.contains("warten Updates auf Zustellung: 4"), "{said}");
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/setWebhook")),
        "checking registers nothing"
    );
    let (_, html) = click(
        &browser,
        &app,
        &format!("{page}/{tg}/webhook/register"),
        &csrf,
    )
    .await;
    let said = outcome(&html, &tg);
    assert!(said.contains("Eintragen fehlgeschlagen"), "{said}");
    assert!(said.contains("Failed to resolve host"), "{said}");
    assert!(!crate::ui::audit_actions(&app).contains(&"channel.webhook_register".to_string()));
    let (_, html) = click(
        &browser,
        &app,
        &format!("{page}/{tg}/webhook/register"),
        &csrf,
    )
    .await;
    let said = outcome(&html, &tg);
    assert!(
        said.contains("Eingetragen.") && said.contains("liefert an die Webhook-URL dieses Kanals"),
        "{said}"
    );
    let set: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/setWebhook"))
        .collect();
    assert_eq!(set.len(), 2);
    assert_eq!(set[1].body["url"], json!(hook("telegram", &tg)));
    assert_eq!(set[1].body["secret_token"], json!(tg_secret));
    let updates = set[1].body["allowed_updates"].as_array().unwrap();
    assert!(updates.contains(&json!("message")) && updates.contains(&json!("message_reaction")));
    assert!(
        !updates.contains(&json!("chat_member")),
        "only what Hafen stores: {updates:?}"
    );

    // WhatsApp: Meta delivers to the app's address; registering sets the number's override
    // with the channel's verify token.
    fake.route(
        &format!("/{WA_ACCOUNT}"),
        vec![
            (200, json_body(json!({"webhook_configuration": {"application": "https://crm.muster.de/meta"}, "id": WA_ACCOUNT})), "application/json"),
            (200, json_body(json!({"success": true})), "application/json"),
            (200, json_body(json!({"webhook_configuration": {"phone_number": hook("whatsapp", &wa), "application": "https://crm.muster.de/meta"}, "id": WA_ACCOUNT})), "application/json"),
        ],
    );
    let (_, html) = click(&browser, &app, &format!("{page}/{wa}/webhook"), &csrf).await;
    let said = outcome(&html, &wa);
    assert!(
        said.contains("an eine andere Adresse:")
            && said.contains("<code>https://crm.muster.de/meta</code> (eingetragen für die App)"),
        "{said}"
    );
    let (_, html) = click(
        &browser,
        &app,
        &format!("{page}/{wa}/webhook/register"),
        &csrf,
    )
    .await;
    let said = outcome(&html, &wa);
    assert!(
        said.contains("liefert an die Webhook-URL dieses Kanals")
            && said.contains("eingetragen für diese Nummer"),
        "{said}"
    );
    let posted = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == format!("/{WA_ACCOUNT}"))
        .expect("the override was posted");
    assert_eq!(
        posted.body["webhook_configuration"],
        json!({"override_callback_uri": hook("whatsapp", &wa), "verify_token": "vt-7f3a"})
    );
    assert_eq!(posted.authorization.as_deref(), Some("Bearer EAAG-token"));

    // Messenger: the page has no app; subscribing asks for every field Hafen stores.
    fake.route(
        "/me/subscribed_apps",
        vec![
            (200, json_body(json!({"data": []})), "application/json"),
            (200, json_body(json!({"success": true})), "application/json"),
            (200, json_body(json!({"data": [{"name": "Hafen Muster", "id": "55", "subscribed_fields": ["messages", "messaging_postbacks", "message_deliveries", "message_reads"]}]})), "application/json"),
        ],
    );
    let (_, html) = click(&browser, &app, &format!("{page}/{fb}/webhook"), &csrf).await;
    assert!(
        outcome(&html, &fb).contains("keine App abonniert"),
        "{html}"
    );
    let (_, html) = click(
        &browser,
        &app,
        &format!("{page}/{fb}/webhook/register"),
        &csrf,
    )
    .await;
    let said = outcome(&html, &fb);
    assert!(
        said.contains("hat die App abonniert") && said.contains("Hafen Muster"),
        "{said}"
    );
    let subscribe = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/me/subscribed_apps")
        .expect("the page was subscribed");
    assert_eq!(
        subscribe.query,
        "subscribed_fields=messages,messaging_postbacks,message_deliveries,message_reads"
    );
    let registered = crate::ui::audit_actions(&app)
        .into_iter()
        .filter(|a| a == "channel.webhook_register")
        .count();
    assert_eq!(registered, 3, "each accepted registration is audited once");

    // An agent may not: refused, nothing asked of the platform.
    add_user(&app, "agentin@muster.de", Role::Agent, Some(&t)).await;
    let mut agent = Browser::new(&app);
    assert_eq!(agent.sign_in("agentin@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = agent.get("/ui/account").await;
    let agent_csrf = hidden(&html, "csrf");
    let asked = fake.requests().len();
    let (status, _) = click(
        &agent,
        &app,
        &format!("{page}/{tg}/webhook/register"),
        &agent_csrf,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(fake.requests().len(), asked);
    let _ = app.stop().await;
    fake.stop().await;
}

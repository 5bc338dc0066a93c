//! Channels in the interface: the webhook URL built from `public_url` (a warning without it),
//! a channel disabled and enabled again, renamed with its credentials kept when left empty.

use hafen::auth::Role;
use serde_json::json;

use crate::both_backends;
use crate::channels::{create_channel, WA_ACCOUNT};
use crate::support::{Backend, TestApp};
use crate::ui::{add_user, hidden, Browser, PASSWORD};

both_backends!(channels_are_edited_and_disabled_and_show_the_public_webhook_url);

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

//! The hosted sign-up widget: renders without a pre-ticked box, refuses forged or unticked
//! forms, rate-limits, asks for confirmation by WhatsApp template, and answers every valid
//! submission the same way so nobody can learn whether a number is subscribed.

use serde_json::json;

use crate::both_backends;
use crate::channels::{create_channel, post_hook, signed, WA_ACCOUNT};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};

both_backends!(widget_sign_up_double_opt_in);

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
               "secrets": {"app_secret": "wa-secret", "verify_token": "vt", "access_token": "EAAG"}}),
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
        &signed("wa-secret", &confirm),
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

//! The agent's conversation view: a reply inside WhatsApp's 24-hour window reaches the (fake)
//! platform and shows with its delivery state in words; outside the window the page offers a
//! template, and free text is refused in words with nothing sent or stored.

use hafen::auth::Role;
use serde_json::json;

use crate::both_backends;
use crate::channels::{create_channel, WA_ACCOUNT};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};
use crate::ui::{add_user, hidden, Browser, PASSWORD};

both_backends!(an_agent_replies_in_the_window_and_sends_a_template_outside_it);

async fn inbound(app: &TestApp, tenant: &str, address: &str, minutes_ago: i64) -> String {
    let at = app.hafen.clock().now() - chrono::Duration::minutes(minutes_ago);
    let (status, body) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &json!({"contact": {"channel": "whatsapp", "address": address, "display_name": "Erika Mustermann"},
                    "direction": "in", "occurred_at": at.to_rfc3339(), "kind": "text", "body": "Wo bleibt mein Paket?"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["contact_id"].as_str().unwrap().to_string()
}

async fn an_agent_replies_in_the_window_and_sends_a_template_outside_it(backend: Backend) {
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| c.whatsapp_api_base = base).await;
    let t = app.create_tenant("Muster GmbH").await;
    create_channel(
        &app,
        &t,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG-token"}}),
    )
    .await;
    let recent = inbound(&app, &t, "+4915112340001", 60).await;
    let old = inbound(&app, &t, "+4915112340002", 60 * 48).await;
    add_user(&app, "agentin@muster.de", Role::Agent, Some(&t)).await;
    let mut agent = Browser::new(&app);
    assert_eq!(agent.sign_in("agentin@muster.de", PASSWORD, "").await, 303);

    // Inside the window: free text, sent, shown with its state.
    let page = format!("/ui/t/{t}/contacts/{recent}");
    let (status, html, _) = agent.get(&page).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Ihre Antwort") && !html.contains("Name der freigegebenen Vorlage"),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");
    let key = hidden(&html, "idempotency_key");
    let send = format!("{page}/send");
    let fields = [
        ("csrf", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("text", "Ihr Paket kommt morgen."),
    ];
    let r = agent.post(&send, &fields, Some(&app.base)).await;
    assert_eq!(r.status().as_u16(), 303);
    // The same form sent twice (a double click): one message.
    let r = agent.post(&send, &fields, Some(&app.base)).await;
    assert_eq!(r.status().as_u16(), 303);
    let sent = fake.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].body["to"], json!("4915112340001"));
    assert_eq!(
        sent[0].body["text"]["body"],
        json!("Ihr Paket kommt morgen.")
    );
    let (_, html, _) = agent.get(&page).await;
    assert!(html.contains("Ihr Paket kommt morgen."), "{html}");
    assert!(
        html.contains("<span class=\"delivery\">gesendet</span>"),
        "{html}"
    );
    // The agent's navigation offers only what an agent may open.
    assert!(html.contains(&format!("/ui/t/{t}/contacts\"")), "{html}");
    for hidden_page in [
        "/retention\"",
        "/requests\"",
        "/register\"",
        "href=\"/ui/users\"",
        "href=\"/ui/tokens\"",
        "href=\"/ui/audit\"",
    ] {
        assert!(
            !html.contains(hidden_page),
            "{hidden_page} offered to an agent"
        );
    }

    // Outside the window: a template is offered; free text is refused in words.
    let page = format!("/ui/t/{t}/contacts/{old}");
    let (_, html, _) = agent.get(&page).await;
    assert!(
        html.contains("seit mehr als 24 Stunden nicht geschrieben")
            && html.contains("Name der freigegebenen Vorlage"),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");
    let key = hidden(&html, "idempotency_key");
    let send = format!("{page}/send");
    let r = agent
        .post(
            &send,
            &[
                ("csrf", csrf.as_str()),
                ("idempotency_key", key.as_str()),
                ("text", "Hallo?"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Nicht gesendet"), "{html}");
    assert_eq!(fake.requests().len(), 1, "nothing sent");
    let r = agent
        .post(
            &send,
            &[
                ("csrf", csrf.as_str()),
                ("idempotency_key", key.as_str()),
                ("template", "paket_status"),
                ("language", "de"),
            ],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].body["type"], json!("template"));
    assert_eq!(sent[1].body["template"]["name"], json!("paket_status"));

    // A DPO reads conversations but does not send.
    add_user(&app, "dpo@muster.de", Role::Dpo, Some(&t)).await;
    let mut dpo = Browser::new(&app);
    assert_eq!(dpo.sign_in("dpo@muster.de", PASSWORD, "").await, 303);
    let (_, html, _) = dpo.get(&format!("/ui/t/{t}/contacts/{recent}")).await;
    assert!(!html.contains("id=\"reply\""), "{html}");
    assert!(
        html.contains(&format!("/ui/t/{t}/requests\"")) && html.contains("href=\"/ui/audit\""),
        "{html}"
    );
    assert!(
        !html.contains("href=\"/ui/users\"") && !html.contains("/channels\""),
        "{html}"
    );

    // A contact's page named by no UUID is not found (the id is stored as its 16 bytes, a
    // query could not even name it), and a form posted to one sends nothing.
    let (status, _, _) = dpo
        .get(&format!("/ui/t/{t}/contacts/{}", &recent[..35]))
        .await;
    assert_eq!(status, 404);
    let sent = fake.requests().len();
    for action in ["send", "handover"] {
        let r = agent
            .post(
                &format!("/ui/t/{t}/contacts/{recent}x/{action}"),
                &fields,
                Some(&app.base),
            )
            .await;
        assert_eq!(r.status().as_u16(), 404, "{action}");
    }
    assert_eq!(fake.requests().len(), sent);
    let _ = app.stop().await;
    fake.stop().await;
}

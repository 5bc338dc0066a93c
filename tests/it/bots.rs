//! Chatbots end to end: the example bot (examples/faq_bot.rs) registered on a WhatsApp and a
//! Telegram channel answers through the fake platform, hands over to a person on request, and
//! every step is marked and recorded.

use serde_json::{json, Value};

use crate::both_backends;
use crate::channels::{create_channel, fixture, post_hook, signed, whatsapp_channel};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};
use crate::ui::{add_user, hidden, Browser, PASSWORD};
use hafen::auth::Role;

#[allow(dead_code)]
#[path = "../../examples/faq_bot.rs"]
mod faq_bot;

both_backends!(
    the_example_bot_answers_on_whatsapp_and_telegram_and_hands_over,
    bot_registration_and_bot_tokens_are_bounded,
);

const WA_SECRET: &str = "wa-secret-7f3a9c1e5b2d8f40";
const TG_SECRET: &str = "tgsecret-7f3a9c1e5b2d8f40";
const HOURS: &str = "Montag bis Freitag 9 bis 18 Uhr";

/// The test clock's time (2026-11-26 12:00 UTC), as the bot checks signatures' freshness.
fn test_now() -> i64 {
    1_795_694_400
}

/// A WhatsApp text from Sheena, written a minute ago (inside the service window).
fn whatsapp_text(id: &str, text: &str) -> Vec<u8> {
    String::from_utf8(fixture("whatsapp_text.json"))
        .unwrap()
        .replace("1749416383", "1795694340")
        .replace(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            id,
        )
        .replace("Does it come in another color?", text)
        .into_bytes()
}

fn telegram_text(update: u32, text: &str) -> Vec<u8> {
    String::from_utf8(fixture("telegram_update.json"))
        .unwrap()
        .replace("10000", &update.to_string())
        .replace("1365", &(2000 + update).to_string())
        .replace("/start", text)
        .into_bytes()
}

/// Starts the example bot for one registration; returns its URL.
async fn start_bot(app: &TestApp, listener: std::net::TcpListener, registered: &Value) {
    let bot = faq_bot::FaqBot {
        hafen: app.base.clone(),
        token: registered["token"].as_str().unwrap().to_string(),
        secret: registered["secret"].as_str().unwrap().to_string(),
        opening_hours: HOURS.to_string(),
        client: reqwest::Client::new(),
        now: test_now,
    };
    tokio::spawn(faq_bot::serve(bot, listener).unwrap());
}

fn listener() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hafen", l.local_addr().unwrap().port());
    (l, url)
}

/// What the fake platform was asked to send, as text.
fn sent_texts(fake: &FakePlatform) -> Vec<String> {
    fake.requests()
        .iter()
        .filter_map(|r| {
            r.body["text"]["body"]
                .as_str()
                .or(r.body["text"].as_str())
                .map(str::to_string)
        })
        .collect()
}

async fn the_example_bot_answers_on_whatsapp_and_telegram_and_hands_over(backend: Backend) {
    use diesel::prelude::*;
    use hafen::store::schema::audit_log;

    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| {
        c.whatsapp_api_base = base.clone();
        c.telegram_api_base = base;
        c.outbound_allow = vec!["127.0.0.1".into()];
    })
    .await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    let wa = whatsapp_channel(&app, &tenant, WA_SECRET).await;
    let tg = create_channel(
        &app,
        &tenant,
        json!({"platform": "telegram", "name": "Bot", "secrets": {"webhook_secret": TG_SECRET, "bot_token": "123456:ABCdef"}}),
    )
    .await;
    let tg = tg["id"].as_str().unwrap().to_string();

    // One bot per channel, each with its own secret and token.
    let mut registered = Vec::new();
    for channel in [&wa, &tg] {
        let (l, url) = listener();
        let (status, bot) = app
            .post(
                &format!("/v1/tenants/{tenant}/bots"),
                &admin,
                &json!({"channel_id": channel, "name": "FAQ-Bot", "url": url,
                        "purpose": "Beantwortet Fragen zu Öffnungszeiten und verbindet mit Beschäftigten"}),
            )
            .await;
        assert_eq!(status, 201, "{bot}");
        assert!(bot["token"].is_string() && bot["secret"].is_string());
        start_bot(&app, l, &bot).await;
        registered.push(bot);
    }
    let wa_bot = registered[0]["id"].as_str().unwrap().to_string();
    let (_, listed) = app.get(&format!("/v1/tenants/{tenant}/bots"), &admin).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed[0].get("token").is_none(), "the token is shown once");

    // WhatsApp: a question about opening hours is answered by the bot, through the platform.
    let wa_hook = format!("/hooks/whatsapp/{wa}");
    let deliver_wa = |id: &str, text: &str| {
        let body = whatsapp_text(id, text);
        let headers = signed(WA_SECRET, &body);
        let (app, hook) = (&app, wa_hook.clone());
        async move {
            let (status, receipt) = post_hook(app, &hook, body, &headers).await;
            assert_eq!(status, 200, "{receipt}");
        }
    };
    deliver_wa("wamid.q1", "Wann habt ihr geöffnet?").await;
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
    assert!(
        sent_texts(&fake).contains(&HOURS.to_string()),
        "{:?}",
        sent_texts(&fake)
    );
    let dpo = app.token(&tenant, "dpo").await;
    let (_, contact) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/lookup"),
            &dpo,
            &json!({"channel": "whatsapp", "address": "16505551234"}),
        )
        .await;
    let contact = contact["id"].as_str().unwrap().to_string();
    let conversation = format!("/v1/tenants/{tenant}/contacts/{contact}/messages");
    let (_, page) = app.get(&conversation, &agent).await;
    let reply = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "out")
        .unwrap()
        .clone();
    assert_eq!(
        reply["sent_by_bot"],
        wa_bot.as_str(),
        "the reply is marked as the bot's"
    );
    assert_eq!(reply["body"], HOURS);

    // The person asks for a human: the bot says so, then hands over.
    deliver_wa("wamid.q2", "Ich möchte mit einem Menschen sprechen").await;
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
    let handover = format!("/v1/tenants/{tenant}/contacts/{contact}/handover");
    let (_, state) = app.get(&handover, &agent).await;
    assert!(state["handed_over_at"].is_string(), "{state}");
    assert!(sent_texts(&fake).iter().any(|t| t.contains("verbinde Sie")));

    // Now a person has the conversation: nothing goes to the bot, and the bot may not send.
    let sent_before = sent_texts(&fake).len();
    deliver_wa("wamid.q3", "Hallo? Öffnungszeiten?").await;
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 0);
    assert_eq!(sent_texts(&fake).len(), sent_before);
    let bot_token = registered[0]["token"].as_str().unwrap();
    let send = format!("/v1/tenants/{tenant}/contacts/{contact}/messages/send");
    let (status, refused) = app
        .post(&send, bot_token, &json!({"text": "Noch da?"}))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["detail"]
        .as_str()
        .unwrap()
        .contains("taken this conversation over"));
    // The agent answers (a person's message, not the bot's), then hands back.
    let (status, receipt) = app
        .post(&send, &agent, &json!({"text": "Ich bin für Sie da."}))
        .await;
    assert_eq!(status, 201, "{receipt}");
    let (status, _) = app.post(&send, bot_token, &json!({"text": "x"})).await;
    assert_eq!(status, 409);
    let (status, back) = app.delete(&handover, &agent).await;
    assert_eq!(status, 200, "{back}");
    assert!(back["handed_over_at"].is_null());
    let (status, _) = app.delete(&handover, bot_token).await;
    assert_eq!(
        status, 403,
        "a bot does not take a conversation back itself"
    );
    deliver_wa("wamid.q4", "Öffnungszeiten bitte").await;
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
    let (_, page) = app.get(&conversation, &agent).await;
    let marks: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "out")
        .map(|m| m["sent_by_bot"].clone())
        .collect();
    let by_bot = marks
        .iter()
        .filter(|m| m.as_str() == Some(wa_bot.as_str()))
        .count();
    assert_eq!(
        (marks.len(), by_bot),
        (4, 3),
        "three bot replies and the agent's: {marks:?}"
    );

    // Telegram: the same bot program on the Telegram channel.
    let tg_hook = format!("/hooks/telegram/{tg}");
    let secret_header = [("x-telegram-bot-api-secret-token", TG_SECRET.to_string())];
    let (status, _) = post_hook(
        &app,
        &tg_hook,
        telegram_text(1, "Habt ihr samstags offen?"),
        &secret_header,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
    let telegram_sends: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/sendMessage"))
        .collect();
    assert_eq!(telegram_sends.len(), 1);
    assert_eq!(telegram_sends[0].body["text"], HOURS);
    assert_eq!(telegram_sends[0].body["chat_id"], "1111111");
    let (status, _) = post_hook(
        &app,
        &tg_hook,
        telegram_text(2, "Bitte einen Mitarbeiter"),
        &secret_header,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.hafen.events.run_due_deliveries().await.unwrap(), 1);
    let (_, tg_contact) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/lookup"),
            &dpo,
            &json!({"channel": "telegram", "address": "1111111"}),
        )
        .await;
    let (_, state) = app
        .get(
            &format!(
                "/v1/tenants/{tenant}/contacts/{}/handover",
                tg_contact["id"].as_str().unwrap()
            ),
            &agent,
        )
        .await;
    assert!(
        state["handed_over_at"].is_string(),
        "Telegram hand-over: {state}"
    );

    // Every delivery is listed with the bot; the audit log marks the bot's sends and the
    // hand-overs, by whom.
    let (_, deliveries) = app
        .get(
            &format!("/v1/tenants/{tenant}/bots/{wa_bot}/deliveries"),
            &admin,
        )
        .await;
    let states: Vec<&str> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["delivered"; 3], "{deliveries}");
    let mut conn = app.db.connect();
    let entries: Vec<(String, Option<String>)> = audit_log::table
        .filter(
            audit_log::action
                .eq("message.send")
                .or(audit_log::action.like("conversation.%")),
        )
        .order(audit_log::seq.asc())
        .select((audit_log::action, audit_log::detail))
        .load(&mut conn)
        .unwrap();
    let bot_sends = entries
        .iter()
        .filter(|(a, d)| {
            a == "message.send"
                && d.as_deref()
                    .unwrap_or("")
                    .contains(&format!("bot={wa_bot}"))
        })
        .count();
    assert_eq!(bot_sends, 3, "{entries:?}");
    let handovers: Vec<(&str, &str)> = entries
        .iter()
        .filter(|(a, _)| a.starts_with("conversation."))
        .map(|(a, d)| (a.as_str(), d.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        handovers,
        [
            ("conversation.take_over", "by the bot"),
            ("conversation.hand_back", "by a person"),
            ("conversation.take_over", "by the bot"),
        ]
    );

    // The Art. 30 record names the bot as part of the processing of its channel.
    let (status, record) = app
        .get(
            &format!("/v1/tenants/{tenant}/reports/controller-record?format=json"),
            &dpo,
        )
        .await;
    assert_eq!(status, 200, "{record}");
    let text = record.to_string();
    assert!(text.contains("FAQ-Bot"), "{text}");
    assert!(
        text.contains("Beantwortet Fragen zu Öffnungszeiten"),
        "{text}"
    );

    // The agent's conversation view: the bot's replies marked in words, the kind in words, and
    // the conversation taken over and handed back from the page.
    add_user(&app, "agentin@muster.de", Role::Agent, Some(&tenant)).await;
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("agentin@muster.de", PASSWORD, "").await,
        303
    );
    let page = format!("/ui/t/{tenant}/contacts/{contact}");
    let (status, html, _) = browser.get(&page).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("automatisch gesendet vom Bot „FAQ-Bot“"),
        "{html}"
    );
    assert!(
        html.contains("Dieses Gespräch beantwortet der Bot"),
        "{html}"
    );
    assert!(
        !html.contains(" · text<"),
        "kinds in words, not codes: {html}"
    );
    let csrf = hidden(&html, "csrf");
    let form = format!("{page}/handover");
    let r = browser
        .post(
            &form,
            &[("csrf", csrf.as_str()), ("to", "person")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, state) = app.get(&handover, &agent).await;
    assert!(
        state["handed_over_at"].is_string(),
        "taken over from the page: {state}"
    );
    let (_, html, _) = browser.get(&page).await;
    assert!(
        html.contains("Eine Person hat das Gespräch übernommen seit"),
        "{html}"
    );
    let r = browser
        .post(
            &form,
            &[("csrf", csrf.as_str()), ("to", "bot")],
            Some(&app.base),
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, state) = app.get(&handover, &agent).await;
    assert!(
        state["handed_over_at"].is_null(),
        "handed back from the page: {state}"
    );
    fake.stop().await;
}

/// Registration refuses what would not work, a second bot on a channel, and bot tokens issued
/// on their own; a removed bot's token sends nothing; no bot decides automatically unless its
/// registration says how.
async fn bot_registration_and_bot_tokens_are_bounded(backend: Backend) {
    let app =
        TestApp::spawn_configured(backend, |c| c.outbound_allow = vec!["127.0.0.1".into()]).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    let wa = whatsapp_channel(&app, &tenant, WA_SECRET).await;
    let bots = format!("/v1/tenants/{tenant}/bots");
    let good = json!({"channel_id": wa, "name": "FAQ-Bot", "url": "http://127.0.0.1:9/hafen", "purpose": "FAQ"});
    let before = app.counts();
    for (change, field) in [
        (json!({"channel_id": "nope"}), "channel_id"),
        (json!({"name": " "}), "name"),
        (json!({"purpose": ""}), "purpose"),
        (json!({"url": "ftp://bot.example.de"}), "url"),
        (json!({"url": "https://10.0.0.1/hafen"}), "url"),
        (json!({"kinds": []}), "kinds"),
        (
            json!({"automated_decisions": {"logic": "", "effects": "x"}}),
            "automated_decisions.logic",
        ),
    ] {
        let mut input = good.clone();
        for (k, v) in change.as_object().unwrap() {
            input[k] = v.clone();
        }
        let (status, problem) = app.post(&bots, &admin, &input).await;
        assert_eq!(status, 422, "{change}: {problem}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let (status, _) = app.post(&bots, &agent, &good).await;
    assert_eq!(status, 403, "agents do not register bots");
    let (_, listed) = app.get(&bots, &admin).await;
    assert_eq!(listed, json!([]), "nothing was registered");
    assert_eq!(app.counts(), before);

    let (status, bot) = app.post(&bots, &admin, &good).await;
    assert_eq!(status, 201, "{bot}");
    let (status, again) = app.post(&bots, &admin, &good).await;
    assert_eq!(status, 409, "{again}");
    // Its hook is the bot's: not among the company's hooks, not deletable there.
    let (_, hooks) = app
        .get(&format!("/v1/tenants/{tenant}/event-hooks"), &admin)
        .await;
    assert_eq!(hooks, json!([]));
    let (status, _) = app
        .delete(
            &format!(
                "/v1/tenants/{tenant}/event-hooks/{}",
                bot["hook_id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    assert_eq!(status, 409);
    let (status, problem) = app
        .post(
            &format!("/v1/tenants/{tenant}/tokens"),
            &admin,
            &json!({"role": "bot"}),
        )
        .await;
    assert_eq!(status, 422, "a bot token comes with its bot: {problem}");

    // The bot's token sends only on its channel, and nothing once the bot is removed.
    let token = bot["token"].as_str().unwrap();
    let (status, stored) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &admin,
            &crate::support::text_message("whatsapp", "+4915140000001", "Hallo", None),
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    let contact = stored["contact_id"].as_str().unwrap().to_string();
    let send = format!("/v1/tenants/{tenant}/contacts/{contact}/messages/send");
    let (status, _) = app
        .post(
            &send,
            token,
            &json!({"text": "Hallo", "channel_id": "another"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .get(&format!("/v1/tenants/{tenant}/contacts"), token)
        .await;
    assert_eq!(status, 403, "a bot reads no contact list");
    let (status, _) = app
        .delete(
            &format!("/v1/tenants/{tenant}/bots/{}", bot["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.post(&send, token, &json!({"text": "Hallo"})).await;
    assert_eq!(status, 401, "the removed bot's token is revoked");
    let (_, listed) = app.get(&bots, &admin).await;
    assert_eq!(listed, json!([]));

    // A bot that decides about people says how; every person writing on its channel gets that
    // in their Art. 15 answer, with the bot among the recipients.
    let mut deciding = good.clone();
    deciding["name"] = json!("Bestell-Bot");
    deciding["automated_decisions"] = json!({
        "logic": "Der Bot nimmt Bestellungen bis 200 Euro ohne Prüfung an.",
        "effects": "Größere Bestellungen prüft eine Person; abgelehnt wird nichts automatisch."
    });
    let (status, bot) = app.post(&bots, &admin, &deciding).await;
    assert_eq!(
        status, 201,
        "a removed bot's channel takes a new one: {bot}"
    );
    assert_eq!(
        bot["automated_decisions"]["logic"],
        deciding["automated_decisions"]["logic"]
    );
    let dpo = app.token(&tenant, "dpo").await;
    let (status, request) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests"),
            &dpo,
            &json!({"kind": "access", "contact_id": contact, "received_on": "2026-11-20"}),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let (status, zip) = crate::records::export(
        &app,
        &tenant,
        &dpo,
        request["id"].as_str().unwrap(),
        Some(json!({"lang": "de"})),
    )
    .await;
    assert_eq!(status, 200);
    let files = crate::records::unzip(&zip);
    let data: Value = serde_json::from_slice(&files["data.json"]).unwrap();
    let decisions = data["information"]["automated_decisions"].as_str().unwrap();
    assert!(
        decisions.contains("Bestell-Bot")
            && decisions.contains("bis 200 Euro")
            && decisions.contains("prüft eine Person"),
        "{decisions}"
    );
    assert!(
        data["information"]
            .to_string()
            .contains("Chatbot „Bestell-Bot“"),
        "the bot is a recipient: {}",
        data["information"]
    );
}

//! Double opt-in over the chat: START → consent text → JA → confirmed; broadcasts reach only
//! confirmed contacts; STOP withdraws; unconfirmed requests expire; the ledger proves it all
//! and detects tampering.

use diesel::prelude::*;
use serde_json::{json, Value};
use sha2::Digest;

use crate::both_backends;
use crate::channels::{create_channel, post_hook, signed, WA_ACCOUNT};
use crate::fake_platform::FakePlatform;
use crate::support::{Backend, TestApp};

both_backends!(keyword_double_opt_in_broadcasts_stop_expiry_and_proof);

const TEXT_DE: &str = "Ja, ich möchte den Newsletter der Muster GmbH per WhatsApp erhalten (ca. 2 Nachrichten im Monat). Abmeldung jederzeit mit STOP.";

pub fn text_webhook(app: &TestApp, from: &str, body: &str, n: u32) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": WA_ACCOUNT},
        "contacts": [{"profile": {"name": "Kunde"}, "wa_id": from}],
        "messages": [{"from": from, "id": format!("wamid.C{n}{from}"), "timestamp": app.hafen.clock().now().timestamp().to_string(),
                      "type": "text", "text": {"body": body}}]}}]}]}))
    .unwrap()
}

pub async fn contact_of(app: &TestApp, tenant: &str, token: &str, number: &str) -> String {
    let (_, contacts) = app
        .get(&format!("/v1/tenants/{tenant}/contacts?limit=500"), token)
        .await;
    contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == json!(number))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sent_to(fake: &FakePlatform, number: &str) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.body["to"] == json!(number))
        .map(|r| {
            r.body["text"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

async fn finished_broadcast(app: &TestApp, tenant: &str, token: &str, id: &str) -> Value {
    for _ in 0..400 {
        let (_, b) = app
            .get(&format!("/v1/tenants/{tenant}/broadcasts/{id}"), token)
            .await;
        if b["state"] == json!("finished") {
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("broadcast did not finish");
}

async fn keyword_double_opt_in_broadcasts_stop_expiry_and_proof(backend: Backend) {
    let fake = FakePlatform::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_configured(backend, |c| {
        c.whatsapp_api_base = base;
        c.broadcast_rate_per_sec = 0;
    })
    .await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = create_channel(
        &app,
        &tenant,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG"}}),
    )
    .await;
    let hook = format!("/hooks/whatsapp/{}", channel["id"].as_str().unwrap());
    let admin = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    let (status, purpose) = app
        .post(
            &format!("/v1/tenants/{tenant}/consent-purposes"),
            &admin,
            &json!({"name": "Newsletter", "texts": {"de": TEXT_DE}}),
        )
        .await;
    assert_eq!(status, 201, "{purpose}");
    let purpose_id = purpose["id"].as_str().unwrap().to_string();
    assert_eq!(
        purpose["texts"][0]["sha256"],
        json!(hex::encode(sha2::Sha256::digest(TEXT_DE.as_bytes())))
    );

    let say = |from: &'static str, body: &'static str, n: u32| {
        let raw = text_webhook(&app, from, body, n);
        let hook = hook.clone();
        let app = &app;
        async move {
            let (status, receipt) = post_hook(
                app,
                &hook,
                raw.clone(),
                &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
            )
            .await;
            assert_eq!(status, 200, "{receipt}");
        }
    };
    let (a, b, c) = ("4915100000001", "4915100000002", "4915100000003");

    // A: START → the consent text with the reply hint; JA → confirmed and thanked.
    say(a, "START", 1).await;
    let to_a = sent_to(&fake, a);
    assert_eq!(to_a.len(), 1, "{to_a:?}");
    assert!(
        to_a[0].contains(TEXT_DE) && to_a[0].contains("JA"),
        "{to_a:?}"
    );
    say(a, "ja", 2).await;
    let to_a = sent_to(&fake, a);
    assert!(to_a[1].contains("bestätigt"), "{to_a:?}");
    // B: START, never confirms. C: just writes.
    say(b, "Start", 3).await;
    say(c, "Hallo, wann öffnen Sie?", 4).await;
    assert!(
        sent_to(&fake, c).is_empty(),
        "no keyword, no automatic answer"
    );
    let contact_a = contact_of(&app, &tenant, &agent, a).await;
    let contact_c = contact_of(&app, &tenant, &agent, c).await;

    // A push to C without consent is refused by the send path itself.
    let (status, problem) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/{contact_c}/messages/send"),
            &agent,
            &json!({"text": "Angebot!", "purpose_id": purpose_id}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("consent"));

    // Broadcast: only A receives it.
    let (status, started) = app
        .post(
            &format!("/v1/tenants/{tenant}/broadcasts"),
            &agent,
            &json!({"purpose_id": purpose_id, "text": "Neu im Shop: Winterjacken"}),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let done = finished_broadcast(&app, &tenant, &agent, started["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            done["targeted"].clone(),
            done["sent"].clone(),
            done["skipped"].clone()
        ),
        (json!(2), json!(1), json!(1)),
        "{done}"
    );
    assert!(sent_to(&fake, a)
        .iter()
        .any(|t| t == "Neu im Shop: Winterjacken"));
    assert!(!sent_to(&fake, b).iter().any(|t| t.contains("Winterjacken")));
    assert!(!sent_to(&fake, c).iter().any(|t| t.contains("Winterjacken")));

    // A scheduled broadcast waits for its time, then goes out (consent checked at send time).
    let later = (app.hafen.clock().now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, scheduled) = app
        .post(
            &format!("/v1/tenants/{tenant}/broadcasts"),
            &agent,
            &json!({"purpose_id": purpose_id, "text": "Später", "scheduled_at": later}),
        )
        .await;
    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled["state"], json!("scheduled"));
    assert_eq!(app.hafen.consent.run_due_broadcasts().await.unwrap(), 0);
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(app.hafen.consent.run_due_broadcasts().await.unwrap(), 1);
    let done = finished_broadcast(&app, &tenant, &agent, scheduled["id"].as_str().unwrap()).await;
    assert_eq!(done["sent"], json!(1), "{done}");
    assert!(sent_to(&fake, a).iter().any(|t| t == "Später"));

    // A push queued by a rate limit is cancelled when the person withdraws before the retry.
    fake.script(vec![(
        429,
        json!({"error": {"message": "(#130429) Rate limit hit", "code": 130429}}),
    )]);
    let (status, queued) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/{contact_a}/messages/send"),
            &agent,
            &json!({"text": "Nur für Abonnenten", "purpose_id": purpose_id}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    say(a, "STOP", 50).await;
    app.clock.advance(chrono::Duration::minutes(5));
    app.hafen.channels.run_due_sends().await.unwrap();
    let tries = fake
        .requests()
        .into_iter()
        .filter(|r| r.body["text"]["body"] == json!("Nur für Abonnenten"))
        .count();
    assert_eq!(
        tries, 1,
        "only the rate-limited first attempt reached the platform"
    );
    let (_, cancelled) = app
        .get(
            &format!(
                "/v1/tenants/{tenant}/messages/{}",
                queued["message_id"].as_str().unwrap()
            ),
            &agent,
        )
        .await;
    assert_eq!(cancelled["delivery_status"], json!("failed"), "{cancelled}");
    assert!(
        cancelled["status_history"][0]["errors"][0]["title"]
            .as_str()
            .unwrap()
            .contains("consent"),
        "{cancelled}"
    );
    // A confirms again (START, JA) for the rest of the story.
    say(a, "START", 51).await;
    say(a, "JA", 52).await;

    // STOP withdraws (accent- and case-insensitive) and is answered; the next broadcast skips A.
    say(a, "Stopp!", 5).await;
    assert!(sent_to(&fake, a).last().unwrap().contains("abgemeldet"));
    let (_, again) = app
        .post(
            &format!("/v1/tenants/{tenant}/broadcasts"),
            &agent,
            &json!({"purpose_id": purpose_id, "text": "Letzte Chance"}),
        )
        .await;
    let done = finished_broadcast(&app, &tenant, &agent, again["id"].as_str().unwrap()).await;
    assert_eq!(
        (done["sent"].clone(), done["skipped"].clone()),
        (json!(0), json!(2)),
        "{done}"
    );
    assert!(!sent_to(&fake, a).iter().any(|t| t == "Letzte Chance"));

    // The proof for A: every transition with source, keyword evidence and the text's hash.
    let (status, consents) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact_a}/consents"),
            &agent,
        )
        .await;
    assert_eq!(status, 200, "{consents}");
    let history = consents[0]["history"].as_array().unwrap();
    let events: Vec<&str> = history
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "requested",
            "confirmed",
            "withdrawn",
            "requested",
            "confirmed",
            "withdrawn"
        ]
    );
    assert_eq!(consents[0]["state"], json!("withdrawn"));
    assert!(history.iter().all(|e| e["source"] == json!("keyword")));
    let keywords: Vec<&str> = history
        .iter()
        .map(|e| e["evidence"]["keyword"].as_str().unwrap())
        .collect();
    assert_eq!(keywords, ["START", "JA", "STOP", "START", "JA", "STOPP"]);
    assert!(history
        .iter()
        .all(|e| e["text_sha256"] == purpose["texts"][0]["sha256"]));
    assert!(
        history.iter().all(|e| e["message_id"].is_string()),
        "the chat messages are referenced"
    );
    assert!(
        consents[0]["last_used_at"].is_string(),
        "the broadcast use is recorded"
    );

    // The printable proof: JSON and PDF.
    let proof_path =
        format!("/v1/tenants/{tenant}/contacts/{contact_a}/consents/{purpose_id}/proof");
    let (status, proof) = app.get(&proof_path, &agent).await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["texts"][0]["text"], json!(TEXT_DE));
    assert_eq!(proof["events"].as_array().unwrap().len(), 6);
    assert_eq!(proof["ledger_intact"], json!(true));
    assert_eq!(proof["address"], json!(a));
    let r = app
        .client
        .get(app.url(&format!("{proof_path}?format=pdf")))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/pdf");
    let pdf = r.bytes().await.unwrap().to_vec();
    let text = crate::documents::check_pdf(&pdf);
    assert!(
        text.contains("Nachweis der Einwilligung")
            && text.contains("STOPP")
            && text.contains("Muster GmbH"),
        "{text}"
    );
    // Every state and source in words, every time in German time to the second.
    for slug in [
        "confirmed",
        "requested",
        "Quelle: widget",
        "Quelle: keyword",
        "UTC",
    ] {
        assert!(!text.contains(slug), "{slug} in the proof: {text}");
    }
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("Einwilligung bestätigt (Double-Opt-in)"),
        "{text}"
    );
    assert!(
        has_german_stamp(&text),
        "no \"03.12.2026, 22:05:38 MEZ\": {text}"
    );
    if let Ok(dir) = std::env::var("HAFEN_SAMPLE_DIR") {
        std::fs::write(format!("{dir}/consent-proof-sample.pdf"), &pdf).unwrap();
    }

    // B's request expires after 48 hours.
    app.clock.advance(chrono::Duration::hours(46));
    assert_eq!(app.hafen.consent.expire_requests().await.unwrap(), 0);
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.hafen.consent.expire_requests().await.unwrap(), 1);
    let contact_b = contact_of(&app, &tenant, &agent, b).await;
    let (_, consents) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact_b}/consents"),
            &agent,
        )
        .await;
    assert_eq!(consents[0]["state"], json!("expired"), "{consents}");
    // A late JA does not confirm an expired request.
    say(b, "JA", 6).await;
    let (_, consents) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact_b}/consents"),
            &agent,
        )
        .await;
    assert_eq!(consents[0]["state"], json!("expired"));

    // The ledger verifies, and any edit is detected.
    let report = app.hafen.consent.verify_ledger().await.unwrap();
    assert!(report.broken.is_none(), "{report}");
    assert!(report.verified >= 5);
    use hafen::store::schema::consent_ledger;
    let mut conn = app.db.connect();
    diesel::update(consent_ledger::table.filter(consent_ledger::seq.eq(2)))
        .set(consent_ledger::source.eq("api"))
        .execute(&mut conn)
        .unwrap();
    let report = app.hafen.consent.verify_ledger().await.unwrap();
    assert_eq!(report.broken.map(|b| b.seq), Some(2));

    // Roles: an ingest token cannot read proofs; another tenant sees nothing.
    let ingest = app.token(&tenant, "ingest").await;
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{tenant}/contacts/{contact_a}/consents"),
            &ingest
        )
        .await
        .0,
        403
    );
    let other = app.create_tenant("Andere GmbH").await;
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{other}/contacts/{contact_a}/consents"),
            &app.admin_token
        )
        .await
        .0,
        404
    );
    fake.stop().await;
}

/// A server whose WhatsApp API is a fake, with one tenant and its WhatsApp channel (app secret
/// `wa-secret`): the fake, the server, the tenant and the channel's webhook path.
async fn whatsapp_tenant(backend: Backend) -> (FakePlatform, TestApp, String, String) {
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
    let hook = format!("/hooks/whatsapp/{}", channel["id"].as_str().unwrap());
    (fake, app, tenant, hook)
}

both_backends!(tenant_keywords_within_limits_withdraw);

/// A tenant's own opt-out word works; a keyword longer than 40 characters is refused and
/// changes nothing; a text longer than 256 characters is a conversation, never a keyword.
async fn tenant_keywords_within_limits_withdraw(backend: Backend) {
    let (fake, app, tenant, hook) = whatsapp_tenant(backend).await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    let settings = format!("/v1/tenants/{tenant}/consent-settings");
    let with_opt_out = |words: Vec<String>| {
        json!({"opt_in_keywords": ["START"], "confirm_keywords": ["JA"],
               "opt_out_keywords": words, "request_ttl_hours": 48})
    };
    let (status, problem) = app
        .put(&settings, &admin, &with_opt_out(vec!["X".repeat(41)]))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem.to_string().contains("opt_out_keywords"),
        "{problem}"
    );
    let (status, problem) = app
        .put(&settings, &admin, &with_opt_out(vec!["Halt".into()]))
        .await;
    assert_eq!(status, 204, "{problem}");

    let (_, purpose) = app
        .post(
            &format!("/v1/tenants/{tenant}/consent-purposes"),
            &admin,
            &json!({"name": "Newsletter", "texts": {"de": TEXT_DE}}),
        )
        .await;
    let number = "4915100000010";
    let raw = text_webhook(&app, number, "Hallo", 1);
    post_hook(
        &app,
        &hook,
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    let contact = contact_of(&app, &tenant, &agent, number).await;
    let consents = format!("/v1/tenants/{tenant}/contacts/{contact}/consents");
    let (status, outcome) = app
        .post(
            &consents,
            &agent,
            &json!({"action": "request", "purpose_id": purpose["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{outcome}");
    let state = |list: &Value| list[0]["state"].clone();
    for (n, (text, expected)) in [
        ("Ja", "confirmed"),
        ("STOP", "confirmed"), // the default word was replaced by the tenant's own
        (&*format!("Halt{}", "!".repeat(300)), "confirmed"), // over 256 characters
        ("Halt!", "withdrawn"),
    ]
    .into_iter()
    .enumerate()
    {
        let raw = text_webhook(&app, number, text, n as u32 + 2);
        let (status, receipt) = post_hook(
            &app,
            &hook,
            raw.clone(),
            &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
        )
        .await;
        assert_eq!(status, 200, "{receipt}");
        let (_, list) = app.get(&consents, &agent).await;
        assert_eq!(state(&list), json!(expected), "after {:.10}", text);
    }
    fake.stop().await;
}

both_backends!(ja_confirms_only_the_newest_request);

/// A "JA" answers the last question: with two pending requests, only the newer is confirmed.
async fn ja_confirms_only_the_newest_request(backend: Backend) {
    let (fake, app, tenant, hook) = whatsapp_tenant(backend).await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    let ingest = app.token(&tenant, "ingest").await;
    let mut purposes = Vec::new();
    for name in ["Newsletter", "Bestellinfos"] {
        let (_, p) = app
            .post(
                &format!("/v1/tenants/{tenant}/consent-purposes"),
                &admin,
                &json!({"name": name, "texts": {"de": format!("Ja zu {name}")}}),
            )
            .await;
        purposes.push(p["id"].as_str().unwrap().to_string());
    }
    let raw = text_webhook(&app, "4915100000009", "Hallo", 1);
    post_hook(
        &app,
        &hook,
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    let contact = contact_of(&app, &tenant, &agent, "4915100000009").await;
    let consents = format!("/v1/tenants/{tenant}/contacts/{contact}/consents");
    // An ingest token may not start a request (it would send a message).
    assert_eq!(
        app.post(
            &consents,
            &ingest,
            &json!({"action": "request", "purpose_id": purposes[0]})
        )
        .await
        .0,
        403
    );
    for p in &purposes {
        let (status, outcome) = app
            .post(
                &consents,
                &agent,
                &json!({"action": "request", "purpose_id": p}),
            )
            .await;
        assert_eq!(status, 201, "{outcome}");
        assert_eq!(outcome["consent"]["state"], json!("requested"));
        app.clock.advance(chrono::Duration::seconds(1));
    }
    let raw = text_webhook(&app, "4915100000009", "Ja", 2);
    post_hook(
        &app,
        &hook,
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    let (_, list) = app.get(&consents, &agent).await;
    let state = |p: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["purpose_id"] == json!(p))
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state(&purposes[1]), json!("confirmed"));
    assert_eq!(
        state(&purposes[0]),
        json!("requested"),
        "the older request stays pending"
    );
    // The DPO may withdraw on the person's behalf.
    let dpo = app.token(&tenant, "dpo").await;
    let (status, changed) = app
        .post(&consents, &dpo, &json!({"action": "withdraw"}))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed.as_array().unwrap().len(), 2);
    fake.stop().await;
}

/// Whether the text holds a time like "03.12.2026, 22:05:38 MEZ" (or MESZ).
fn has_german_stamp(text: &str) -> bool {
    let shape = "dd.dd.dddd, dd:dd:dd ME";
    let chars: Vec<char> = text.chars().collect();
    chars.windows(shape.len()).any(|w| {
        w.iter().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            other => *c == other,
        })
    })
}

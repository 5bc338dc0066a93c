//! Erasure requests decided per data item (Art. 17 GDPR): the rule of the item's channel and
//! category decides, only categories the contact has appear, every kept item has an end (or
//! waits for the DPO's decision), the retention run erases kept items when their end passes
//! and names the request, and the tenant's systems are told (Art. 19).

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::both_backends;
use crate::channels::{fixture, post_hook, signed, whatsapp_channel};
use crate::fake_platform::FakePlatform;
use crate::retention::{activate, message_at, rule, run};
use crate::support::{Backend, TestApp};

both_backends!(
    erasure_follows_the_rule_of_the_contacts_channel,
    an_unknown_end_waits_for_the_dpos_decision,
    a_hold_keeps_what_it_covers_until_released,
    kept_items_go_when_their_end_passes_even_if_the_rules_change,
    a_message_after_an_erasure_starts_a_new_contact,
);

const HGB: &str = "§ 257 Abs. 1 Nr. 2, 3, Abs. 4 HGB";

fn statutory(category: &str, channel: Option<&str>, start: &str, period: &str) -> Value {
    let mut r = rule(category, channel, start, period);
    r["ground"] = json!("statutory");
    r["norm"] = json!(HGB);
    r["end_of_year"] = json!(true);
    r
}

/// WhatsApp: commercial letters under § 257 HGB; everything else goes on request.
fn whatsapp_statutory_rest_none() -> Vec<Value> {
    vec![
        statutory("message_content", Some("whatsapp"), "collection", "P6Y"),
        statutory("message_metadata", Some("whatsapp"), "collection", "P6Y"),
        rule("message_content", None, "collection", "P90D"),
        rule("message_metadata", None, "collection", "P1Y"),
        rule("attachments", None, "collection", "P1Y"),
        rule("contacts", None, "conversation_end", "P1Y"),
        rule("delivery_statuses", None, "collection", "P90D"),
        rule("consent_requests", None, "collection", "P30D"),
        rule("consent_proofs", None, "consent_withdrawal", "P1Y"),
        rule("webhook_logs", None, "collection", "P30D"),
    ]
}

async fn erase(app: &TestApp, tenant: &str, token: &str, contact: &str) -> (String, u16, Value) {
    let (status, request) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests"),
            token,
            &json!({"kind": "erasure", "contact_id": contact}),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().unwrap().to_string();
    let (status, outcome) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests/{id}/erase"),
            token,
            &json!({}),
        )
        .await;
    (id, status, outcome)
}

fn category<'a>(outcome: &'a Value, name: &str) -> Option<&'a Value> {
    outcome["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == json!(name))
}

fn names(outcome: &Value) -> Vec<String> {
    outcome["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap().to_string())
        .collect()
}

fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(&mut app.db.connect())
        .unwrap()
        .n
}

async fn request(app: &TestApp, tenant: &str, id: &str) -> Value {
    let (status, r) = app
        .get(
            &format!("/v1/tenants/{tenant}/requests/{id}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    r
}

/// Certificates of the tenant that name `request`.
async fn certificates_of(app: &TestApp, tenant: &str, request: &str) -> Vec<Value> {
    let (status, all) = app
        .get(
            &format!("/v1/tenants/{tenant}/retention/certificates"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, 200, "{all}");
    all.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["run_id"] == json!(format!("erasure:{request}")))
        .cloned()
        .collect()
}

async fn erasure_follows_the_rule_of_the_contacts_channel(backend: Backend) {
    let receiver = FakePlatform::start().await;
    let app = crate::events::spawn_allowing_local_receivers(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    activate(&app, &tenant, &admin, &whatsapp_statutory_rest_none()).await;
    // The company's CRM listens only for statuses; it hears of the erasure anyway (Art. 19).
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/event-hooks"),
            &admin,
            &json!({"url": format!("{}/crm", receiver.base), "events": ["message.status"]}),
        )
        .await;
    assert_eq!(status, 201);

    // A Telegram-only contact: no rule keeps Telegram data, so everything goes.
    let (_, telegram) =
        message_at(&app, &tenant, "telegram", "777001", "2026-11-20T10:00:00Z").await;
    message_at(&app, &tenant, "telegram", "777001", "2026-11-21T10:00:00Z").await;
    let (id, status, outcome) = erase(&app, &tenant, &dpo, &telegram).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["erased"], json!(true), "{outcome}");
    assert_eq!(outcome["restricted"], json!(false));
    assert_eq!(
        names(&outcome),
        ["message_content", "message_metadata", "contacts"],
        "only what the contact has: no files, no consents"
    );
    let content = category(&outcome, "message_content").unwrap();
    assert_eq!(
        (
            content["present"].as_u64(),
            content["erased"].as_u64(),
            content["kept"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    assert!(
        !outcome.to_string().contains("HGB"),
        "no WhatsApp rule cited: {outcome}"
    );
    assert_eq!(
        request(&app, &tenant, &id).await["status"],
        json!("completed")
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM contact_keys WHERE contact_id = {}",
                app.db.id_sql(&telegram)
            )
        ),
        0,
        "the contact's key is destroyed"
    );
    assert_eq!(outcome["recipients_informed"], json!(1));
    assert!(app.hafen.events.run_due_deliveries().await.unwrap() >= 1);
    let told = receiver
        .requests()
        .into_iter()
        .find(|r| r.path == "/crm")
        .expect("the CRM is told");
    assert_eq!(told.body["event"], json!("contact.erasure"));
    assert_eq!(told.body["contact_id"], json!(telegram));
    assert_eq!(told.body["erased"], json!(true));

    // A WhatsApp contact: its messages are commercial letters, kept until the end of 2032
    // under § 257 HGB (Art. 17(3)(b)), restricted; the contact data goes with them.
    let (m1, whatsapp) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915120000001",
        "2026-03-01T10:00:00Z",
    )
    .await;
    let (_, status, outcome) = erase(&app, &tenant, &dpo, &whatsapp).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["restricted"], json!(true), "{outcome}");
    assert_eq!(outcome["restricted_until"], json!("2033-01-01T00:00:00Z"));
    assert_eq!(
        names(&outcome),
        ["message_content", "message_metadata", "contacts"]
    );
    let content = category(&outcome, "message_content").unwrap();
    assert_eq!(content["kept"], json!(1));
    assert_eq!(content["ground"], json!("statutory"));
    assert_eq!(content["until"], json!("2033-01-01T00:00:00Z"));
    let de = content["citation"]["de"].as_str().unwrap();
    assert!(
        de.starts_with("Art. 17 Abs. 3 lit. b DSGVO") && de.contains(HGB),
        "{de}"
    );
    assert!(content["citation"]["en"]
        .as_str()
        .unwrap()
        .starts_with("Art. 17(3)(b) GDPR"));
    let contacts = category(&outcome, "contacts").unwrap();
    assert_eq!(contacts["kept"], json!(1));
    assert_eq!(contacts["ground"], json!("none"));
    assert_eq!(
        contacts["until"],
        json!("2033-01-01T00:00:00Z"),
        "as long as the letters it identifies"
    );
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{tenant}/messages/{m1}"),
            &app.admin_token
        )
        .await
        .0,
        403,
        "kept data is restricted"
    );

    // The deletion report says it in words: the request, its state, the kept categories
    // with their grounds and end dates; no slugs, no JSON.
    let (status, report) = app
        .get(
            &format!("/v1/tenants/{tenant}/reports/deletion-report?format=json&lang=de"),
            &dpo,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let section = &report["sections"][0];
    let certificates = &section["tables"][0]["rows"];
    let text = certificates.to_string();
    assert!(
        text.contains("Löschantrag: Teile aufbewahrt und eingeschränkt"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Löschantrag {id} (Löschregeln Version 1)")),
        "{text}"
    );
    assert!(text.contains("Nachrichteninhalte: 2"), "{text}");
    for slug in ["\"completed\"", "\"restricted\"", "message_content", "{\""] {
        assert!(!text.contains(slug), "{slug} in {text}");
    }
    let kept = &section["tables"][1]["rows"];
    let content = kept
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[1] == json!("Nachrichteninhalte"))
        .unwrap_or_else(|| panic!("{kept}"));
    assert!(
        content[3]
            .as_str()
            .unwrap()
            .starts_with("Art. 17 Abs. 3 lit. b DSGVO"),
        "{content}"
    );
    // JSON carries the canonical date and says it is one; the PDF shows "01.01.2033".
    assert_eq!(content[4], json!("2033-01-01"));
    assert_eq!(section["tables"][1]["columns"][4]["type"], json!("date"));

    // With a file: the attachments appear, under their own rule (none): the file goes, the
    // kept letter stays.
    let channel = whatsapp_channel(&app, &tenant, "wa-secret-7f3a9c1e5b2d8f40").await;
    let raw = fixture("whatsapp_image.json");
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{channel}"),
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(status, 200);
    let (status, found) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/lookup"),
            &dpo,
            &json!({"channel": "whatsapp", "address": "16505551234"}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let with_file = found["id"].as_str().unwrap().to_string();
    let (_, status, outcome) = erase(&app, &tenant, &dpo, &with_file).await;
    assert_eq!(status, 200, "{outcome}");
    let files = category(&outcome, "attachments").expect("a contact with a file has attachments");
    assert_eq!(
        (files["erased"].as_u64(), files["kept"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) AS n FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.contact_id = {}", app.db.id_sql(&with_file))),
        0
    );
    assert_eq!(
        category(&outcome, "message_content").unwrap()["kept"],
        json!(1)
    );
    let _ = app.stop().await;
}

async fn an_unknown_end_waits_for_the_dpos_decision(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let mut rules = whatsapp_statutory_rest_none();
    rules.retain(|r| r["category"] != json!("contacts"));
    rules.push(statutory("contacts", None, "relationship_end", "P6Y"));
    rules.retain(|r| r.get("channel").is_none());
    activate(&app, &tenant, &admin, &rules).await;
    let (_, contact) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915120000002",
        "2026-11-20T10:00:00Z",
    )
    .await;

    let (id, status, outcome) = erase(&app, &tenant, &dpo, &contact).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["decision_needed"], json!(true), "{outcome}");
    let contacts = category(&outcome, "contacts").unwrap();
    assert_eq!(contacts["decision_needed"], json!(true));
    assert_eq!(contacts["until"], json!(null));
    assert_eq!(
        category(&outcome, "message_content").unwrap()["erased"],
        json!(1),
        "the rest went"
    );
    assert_eq!(
        request(&app, &tenant, &id).await["status"],
        json!("decision_needed")
    );

    // Bad decisions: 422 naming the field, nothing recorded.
    let decisions = format!("/v1/tenants/{tenant}/requests/{id}/decisions");
    for (body, field) in [
        (
            json!({"category": "contacts", "decision": "keep_until", "until": "2030-01-01", "reason": " "}),
            "reason",
        ),
        (
            json!({"category": "contacts", "decision": "keep_until", "until": "2026-01-01", "reason": "Vertrag"}),
            "until",
        ),
        (
            json!({"category": "contacts", "decision": "keep_until", "reason": "Vertrag"}),
            "until",
        ),
        (
            json!({"category": "contacts", "decision": "forget", "reason": "Vertrag"}),
            "decision",
        ),
        (
            json!({"category": "everything", "decision": "erase", "reason": "Vertrag"}),
            "category",
        ),
    ] {
        let (status, problem) = app.post(&decisions, &dpo, &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{field}: {problem}"
        );
    }
    let (status, _) = app
        .post(
            &decisions,
            &dpo,
            &json!({"category": "message_content", "decision": "erase", "reason": "x"}),
        )
        .await;
    assert_eq!(status, 409, "no decision waits for message content");
    assert_eq!(
        request(&app, &tenant, &id).await["status"],
        json!("decision_needed")
    );
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) AS n FROM erasure_items WHERE request_id = '{id}' AND decided_at IS NOT NULL")),
        0
    );

    // The DPO keeps the contact data until the end of June 2027 (the contract's last claims).
    let (status, outcome) = app
        .post(
            &decisions,
            &dpo,
            &json!({"category": "contacts", "decision": "keep_until", "until": "2027-06-30",
                    "reason": "Rahmenvertrag endet am 30.06.2027"}),
        )
        .await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["decision_needed"], json!(false));
    assert_eq!(
        category(&outcome, "contacts").unwrap()["until"],
        json!("2027-07-01T00:00:00Z")
    );
    assert_eq!(
        request(&app, &tenant, &id).await["status"],
        json!("completed")
    );

    // On 1 July 2027 the run erases it, with a certificate naming the request.
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2027, 6, 30, 12, 0, 0).unwrap());
    let key = format!(
        "SELECT COUNT(*) AS n FROM contact_keys WHERE contact_id = {}",
        app.db.id_sql(&contact)
    );
    run(&app, &tenant).await;
    assert_eq!(count(&app, &key), 1, "kept until the decided day");
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2027, 7, 1, 0, 0, 1).unwrap());
    run(&app, &tenant).await;
    assert_eq!(
        count(&app, &key),
        0,
        "erased the day after: its key is destroyed"
    );
    let certs = certificates_of(&app, &tenant, &id).await;
    assert!(
        certs.iter().any(|c| c["counts"]["contacts"] == json!(1)),
        "{certs:?}"
    );
    let _ = app.stop().await;
}

async fn a_hold_keeps_what_it_covers_until_released(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let rules: Vec<Value> = whatsapp_statutory_rest_none()
        .into_iter()
        .filter(|r| r.get("channel").is_none())
        .collect();
    activate(&app, &tenant, &admin, &rules).await;
    let (_, contact) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915120000003",
        "2026-11-20T10:00:00Z",
    )
    .await;
    let (status, hold) = app
        .post(
            &format!("/v1/tenants/{tenant}/legal-holds"),
            &dpo,
            &json!({"reason": "Klage Az. 3 O 12/26", "contact_id": contact}),
        )
        .await;
    assert_eq!(status, 201, "{hold}");

    let (id, status, outcome) = erase(&app, &tenant, &dpo, &contact).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["restricted"], json!(true), "{outcome}");
    let content = category(&outcome, "message_content").unwrap();
    assert_eq!(
        (content["kept"].as_u64(), content["held"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(content["citation"]["de"]
        .as_str()
        .unwrap()
        .contains("Art. 17 Abs. 3 lit. e DSGVO"));
    assert_eq!(
        outcome["decision_needed"],
        json!(false),
        "a hold is a decision already"
    );

    // Released: the next run erases everything the hold kept.
    let (status, _) = app
        .post(
            &format!(
                "/v1/tenants/{tenant}/legal-holds/{}/release",
                hold["id"].as_str().unwrap()
            ),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    run(&app, &tenant).await;
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM messages WHERE contact_id = {}",
                app.db.id_sql(&contact)
            )
        ),
        0
    );
    assert!(!certificates_of(&app, &tenant, &id).await.is_empty());
    let _ = app.stop().await;
}

async fn kept_items_go_when_their_end_passes_even_if_the_rules_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let mut rules = whatsapp_statutory_rest_none();
    rules[0]["end_of_year"] = json!(false);
    rules[0]["period"] = json!("P1Y");
    activate(&app, &tenant, &admin, &rules).await;
    let (m, contact) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915120000004",
        "2026-11-01T10:00:00Z",
    )
    .await;
    let (id, status, outcome) = erase(&app, &tenant, &dpo, &contact).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        category(&outcome, "message_content").unwrap()["until"],
        json!("2027-11-01T10:00:00Z")
    );

    // Later the tenant keeps WhatsApp content ten years: the erasure's promise still holds.
    rules[0]["period"] = json!("P10Y");
    activate(&app, &tenant, &admin, &rules).await;
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2027, 11, 1, 10, 0, 1).unwrap());
    run(&app, &tenant).await;
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM messages WHERE id = {} AND body_sealed IS NOT NULL",
                app.db.id_sql(&m)
            )
        ),
        0,
        "the content went when the erasure said it would"
    );
    let certs = certificates_of(&app, &tenant, &id).await;
    let later = certs
        .iter()
        .find(|c| {
            c["counts"]["message_content"] == json!(1)
                && c["rule_versions"].to_string().contains("retention_run")
        })
        .unwrap_or_else(|| panic!("a certificate of the run names the request: {certs:?}"));
    assert_eq!(later["state"], json!("completed"));
    let _ = app.stop().await;
}

use chrono::TimeZone;

/// Ingest remembers which contact an address belonged to (`messages::ingest::KnownContacts`),
/// so that a known sender's message is sealed without reading the contact again. After an
/// erasure that memory is wrong: the next message from the same address must start a new
/// contact, readable under a key of its own, never join the erased one under its destroyed key.
async fn a_message_after_an_erasure_starts_a_new_contact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    activate(&app, &tenant, &admin, &whatsapp_statutory_rest_none()).await;
    let (_, erased) = message_at(&app, &tenant, "telegram", "777002", "2026-11-20T10:00:00Z").await;
    let (_, again) = message_at(&app, &tenant, "telegram", "777002", "2026-11-21T10:00:00Z").await;
    assert_eq!(again, erased, "one person, one contact");
    let (_, status, outcome) = erase(&app, &tenant, &dpo, &erased).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["erased"], json!(true), "{outcome}");

    let (message, contact) =
        message_at(&app, &tenant, "telegram", "777002", "2026-11-22T10:00:00Z").await;
    assert_ne!(contact, erased, "a new contact, not the erased one");
    let (status, read) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{message}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["body"], json!("Rechnung anbei"), "{read}");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM messages WHERE contact_id = {}",
                app.db.id_sql(&erased)
            )
        ),
        0,
        "nothing joined the erased contact"
    );
    // The new contact is remembered in turn.
    let (_, next) = message_at(&app, &tenant, "telegram", "777002", "2026-11-23T10:00:00Z").await;
    assert_eq!(next, contact);
}

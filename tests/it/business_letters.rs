//! Business letters (§ 257 HGB) and the other messages follow different rules: marked at
//! ingest, by a channel's setting or by people (agents mark, only tenant admins and DPOs take
//! a mark away), kept six years under the defaults while an ordinary chat goes a year after it
//! falls silent; erasure keeps the letters and erases the rest; the records show both classes.

use chrono::TimeZone;
use serde_json::{json, Value};

use crate::both_backends;
use crate::channels::{post_hook, signed, WA_ACCOUNT};
use crate::support::{text_message, Backend, TestApp};

both_backends!(
    business_letters_follow_their_own_rules,
    people_and_channels_mark_business_letters,
    the_upgrade_keeps_stored_messages_where_the_defaults_kept_them,
);

async fn store(app: &TestApp, tenant: &str, address: &str, at: &str, letter: bool) -> Value {
    let mut m = text_message("whatsapp", address, "Ihre Bestellung Nr. 4711", None);
    m["occurred_at"] = json!(at);
    m["business_letter"] = json!(letter);
    let (status, body) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &m,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn message(app: &TestApp, tenant: &str, id: &str) -> (u16, Value) {
    app.get(
        &format!("/v1/tenants/{tenant}/messages/{id}"),
        &app.admin_token,
    )
    .await
}

async fn business_letters_follow_their_own_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    // On the install's defaults: a support chat and an order confirmation, both of January.
    let chat = store(
        &app,
        &tenant,
        "+4915130000001",
        "2026-01-10T10:00:00Z",
        false,
    )
    .await;
    let letter = store(
        &app,
        &tenant,
        "+4915130000002",
        "2026-01-10T10:00:00Z",
        true,
    )
    .await;
    let (_, view) = message(&app, &tenant, letter["id"].as_str().unwrap()).await;
    assert_eq!(view["business_letter"], json!(true));

    // The deletion concept shows both classes with their own periods and grounds.
    let (status, concept) = app
        .get(
            &format!("/v1/tenants/{tenant}/reports/deletion-concept?lang=de"),
            &dpo,
        )
        .await;
    assert_eq!(status, 200, "{concept}");
    let rows = concept["sections"][0]["tables"][0]["rows"].to_string();
    assert!(
        rows.contains("Nachrichteninhalte (Handels- und Geschäftsbriefe)"),
        "{rows}"
    );
    assert!(
        rows.contains("Nachrichteninhalte (übrige Nachrichten)"),
        "{rows}"
    );

    // A year after the chat fell silent it goes; the letter stays until 1 January 2033.
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2027, 1, 11, 3, 0, 0).unwrap());
    let (status, report) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/runs"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        message(&app, &tenant, chat["id"].as_str().unwrap()).await.0,
        404,
        "the chat is gone"
    );
    let (status, kept) = message(&app, &tenant, letter["id"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(kept["body"], json!("Ihre Bestellung Nr. 4711"));

    // An erasure request keeps the person's letters (Art. 17(3)(b)) and erases the rest.
    let contact = letter["contact_id"].as_str().unwrap().to_string();
    let mut later = text_message(
        "whatsapp",
        "+4915130000002",
        "Danke, alles angekommen",
        None,
    );
    later["occurred_at"] = json!("2027-01-11T02:00:00Z");
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &later,
        )
        .await;
    assert_eq!(status, 201);
    let (status, request) = app
        .post(
            &format!("/v1/tenants/{tenant}/requests"),
            &dpo,
            &json!({"kind": "erasure", "contact_id": contact}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, outcome) = app
        .post(
            &format!(
                "/v1/tenants/{tenant}/requests/{}/erase",
                request["id"].as_str().unwrap()
            ),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{outcome}");
    let content: Vec<&Value> = outcome["categories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["category"] == json!("message_content"))
        .collect();
    assert_eq!(
        content.len(),
        2,
        "letters and other messages answered apart: {outcome}"
    );
    let letters = content
        .iter()
        .find(|c| c["class"] == json!("business_letter"))
        .unwrap();
    assert_eq!(
        (letters["kept"].as_u64(), letters["erased"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(letters["until"], json!("2033-01-01T00:00:00Z"));
    assert!(letters["citation"]["de"]
        .as_str()
        .unwrap()
        .contains("§ 257"));
    let other = content
        .iter()
        .find(|c| c["class"] == json!("other"))
        .unwrap();
    assert_eq!(
        (other["kept"].as_u64(), other["erased"].as_u64()),
        (Some(0), Some(1))
    );
    let _ = app.stop().await;
}

async fn people_and_channels_mark_business_letters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let dpo = app.token(&tenant, "dpo").await;
    let first = store(
        &app,
        &tenant,
        "+4915130000003",
        "2026-11-20T10:00:00Z",
        false,
    )
    .await;
    let second = store(
        &app,
        &tenant,
        "+4915130000003",
        "2026-11-21T10:00:00Z",
        false,
    )
    .await;
    let other = store(
        &app,
        &tenant,
        "+4915130000004",
        "2026-11-21T10:00:00Z",
        false,
    )
    .await;
    let contact = first["contact_id"].as_str().unwrap();
    let path = format!("/v1/tenants/{tenant}/contacts/{contact}/business-letters");

    // An agent marks one message; another contact's message is refused and nothing changes.
    let (status, problem) = app
        .post(
            &path,
            &agent,
            &json!({"business_letter": true,
            "message_ids": [first["id"], other["id"]]}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("message_ids[1]"),
        "{problem}"
    );
    assert_eq!(
        message(&app, &tenant, first["id"].as_str().unwrap())
            .await
            .1["business_letter"],
        json!(false)
    );
    let (status, done) = app
        .post(
            &path,
            &agent,
            &json!({"business_letter": true, "message_ids": [first["id"]]}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["changed"], json!(1));
    assert_eq!(
        message(&app, &tenant, first["id"].as_str().unwrap())
            .await
            .1["business_letter"],
        json!(true)
    );
    assert_eq!(
        message(&app, &tenant, second["id"].as_str().unwrap())
            .await
            .1["business_letter"],
        json!(false)
    );

    // A message is named by its UUID in any spelling; anything else is refused, naming the
    // entry, and nothing changes.
    let second_id = second["id"].as_str().unwrap();
    let (status, problem) = app
        .post(
            &path,
            &agent,
            &json!({"business_letter": true,
            "message_ids": [second_id.to_uppercase(), "m-1"]}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("message_ids[1]") && detail.contains("UUID"),
        "{problem}"
    );
    assert_eq!(
        message(&app, &tenant, second_id).await.1["business_letter"],
        json!(false)
    );
    let (status, done) = app
        .post(
            &path,
            &agent,
            &json!({"business_letter": true,
            "message_ids": [second_id.to_uppercase().replace('-', "")]}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["changed"], json!(1));
    assert_eq!(
        message(&app, &tenant, second_id).await.1["business_letter"],
        json!(true)
    );

    // Taking the mark away shortens retention: not for agents; a DPO may.
    let (status, _) = app
        .post(&path, &agent, &json!({"business_letter": false}))
        .await;
    assert_eq!(status, 403);
    let (status, done) = app
        .post(&path, &dpo, &json!({"business_letter": false}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(done["changed"], json!(2));
    for bad in [
        json!({"business_letter": true, "message_ids": []}),
        json!({"business_letter": "yes"}),
    ] {
        let (status, _) = app.post(&path, &agent, &bad).await;
        assert!(matches!(status, 400 | 422), "{bad}: {status}");
    }
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/contacts/nobody/business-letters"),
            &agent,
            &json!({"business_letter": true}),
        )
        .await;
    assert_eq!(status, 404);

    // A channel whose every message is a business letter (an order line).
    let (status, channel) = app
        .post(&format!("/v1/tenants/{tenant}/channels"), &app.admin_token,
            &json!({"platform": "whatsapp", "name": "Bestellungen", "account_id": WA_ACCOUNT,
                    "business_letters": true,
                    "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "v", "access_token": "EAAG"}}))
        .await;
    assert_eq!(status, 201, "{channel}");
    assert_eq!(channel["business_letters"], json!(true));
    let raw = crate::consent::text_webhook(&app, "4915130000005", "Ich bestelle 3 Stück", 1);
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/whatsapp/{}", channel["id"].as_str().unwrap()),
        raw.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &raw),
    )
    .await;
    assert_eq!(status, 200);
    let ordered = crate::consent::contact_of(&app, &tenant, &agent, "4915130000005").await;
    let (_, page) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{ordered}/messages"),
            &agent,
        )
        .await;
    assert_eq!(page["items"][0]["business_letter"], json!(true), "{page}");
    let _ = app.stop().await;
}

/// Before business letters existed, the defaults kept every message six years. The upgrade
/// marks the messages already stored of tenants still on those defaults, so nothing goes
/// earlier than before without a person reviewing it; tenants with their own rules keep them.
async fn the_upgrade_keeps_stored_messages_where_the_defaults_kept_them(backend: Backend) {
    use diesel::prelude::*;
    use diesel_migrations::MigrationHarness;
    let app = TestApp::spawn(backend).await;
    let defaults = app.create_tenant("Auf Standard GmbH").await;
    let own = app.create_tenant("Eigene Regeln GmbH").await;
    let admin = app.token(&own, "tenant_admin").await;
    crate::retention::activate(
        &app,
        &own,
        &admin,
        &[crate::retention::rule(
            "message_content",
            None,
            "collection",
            "P2Y",
        )],
    )
    .await;
    store(
        &app,
        &defaults,
        "+4915130000006",
        "2026-11-20T10:00:00Z",
        false,
    )
    .await;
    store(&app, &own, "+4915130000007", "2026-11-20T10:00:00Z", false).await;
    let (_, db, _dir, _, _) = app.stop().await;
    let mut conn = db.connect();
    // Back to just before the business-letter migration (later ones reverted first), then up.
    let (reverted, applied) = match &mut conn {
        hafen::store::DbConn::Sqlite(c) => {
            let mut reverted = String::new();
            while !reverted.starts_with("20261204000012") {
                reverted = c
                    .revert_last_migration(hafen::store::SQLITE_MIGRATIONS)
                    .unwrap()
                    .to_string();
            }
            let applied = c
                .run_pending_migrations(hafen::store::SQLITE_MIGRATIONS)
                .unwrap()
                .len();
            (reverted, applied)
        }
        hafen::store::DbConn::Postgres(c) => {
            let mut reverted = String::new();
            while !reverted.starts_with("20261204000012") {
                reverted = c
                    .revert_last_migration(hafen::store::POSTGRES_MIGRATIONS)
                    .unwrap()
                    .to_string();
            }
            let applied = c
                .run_pending_migrations(hafen::store::POSTGRES_MIGRATIONS)
                .unwrap()
                .len();
            (reverted, applied)
        }
    };
    assert!(reverted.starts_with("20261204000012"), "{reverted}");
    assert!(applied >= 1);
    use hafen::store::schema::messages;
    let marked = |tenant: &str, conn: &mut hafen::store::DbConn| -> Vec<bool> {
        messages::table
            .filter(messages::tenant_id.eq(hafen::store::id::bind(tenant)))
            .select(messages::business_letter)
            .load(conn)
            .unwrap()
    };
    assert_eq!(
        marked(&defaults, &mut conn),
        vec![true],
        "kept as before: six years"
    );
    assert_eq!(
        marked(&own, &mut conn),
        vec![false],
        "the tenant's own rules decide"
    );
}

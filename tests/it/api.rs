//! The HTTP API: ingest, read back, paging, roles, tenant isolation, every error storing nothing.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{text_message, Backend, TestApp};

both_backends!(
    ingest_single_batch_duplicate_and_read_back,
    batch_is_atomic_and_duplicates_within_a_batch_are_stored_once,
    roles_and_tenant_isolation,
    every_rejected_request_stores_nothing,
    paging_through_contacts_and_messages,
);

async fn ingest_single_batch_duplicate_and_read_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let path = format!("/v1/tenants/{tenant}/messages");

    // Single message, with a display name and a raw payload.
    let mut one = text_message(
        "whatsapp",
        "+49 151 2345 6789",
        "Guten Tag, ich habe eine Frage",
        Some("wamid.A1"),
    );
    one["contact"]["display_name"] = json!("Erika Mustermann");
    one["raw"] = json!({"type": "text", "text": {"body": "Guten Tag, ich habe eine Frage"}});
    let (status, first) = app.post(&path, &agent, &one).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["duplicate"], json!(false));
    let message_id = first["id"].as_str().unwrap().to_string();
    let contact_id = first["contact_id"].as_str().unwrap().to_string();

    // The same external id again: not stored twice, answered with the first id.
    let (status, again) = app.post(&path, &agent, &one).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], json!(message_id));
    assert_eq!(again["duplicate"], json!(true));

    // The same external id from another contact is not "the same message": refused, and the
    // answer names neither the stored message nor its contact.
    let before = app.counts();
    let other = text_message(
        "whatsapp",
        "+49 151 9999 0000",
        "Wer bist du?",
        Some("wamid.A1"),
    );
    let (status, problem) = app.post(&path, &agent, &other).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        !problem.to_string().contains(&message_id) && !problem.to_string().contains(&contact_id),
        "{problem}"
    );
    assert_eq!(app.counts(), before, "nothing stored");

    // A batch: same contact written differently (normalises to the same number) and a new one.
    let batch = json!({ "messages": [
        text_message("whatsapp", "0049 151 23456789", "Zweite Nachricht", Some("wamid.A2")),
        text_message("telegram", "123456789", "Hallo über Telegram", None),
    ]});
    let (status, body) = app.post(&path, &agent, &batch).await;
    assert_eq!(status, 201, "{body}");
    let outcomes = body["messages"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(
        outcomes[0]["contact_id"],
        json!(contact_id),
        "same number, same contact"
    );
    assert_ne!(outcomes[1]["contact_id"], json!(contact_id));
    assert_eq!(app.counts().messages, 3);
    assert_eq!(app.counts().contacts, 2);

    // Read back, decrypted.
    let (status, message) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{message_id}"),
            &agent,
        )
        .await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["body"], json!("Guten Tag, ich habe eine Frage"));
    assert_eq!(message["external_id"], json!("wamid.A1"));
    assert_eq!(
        message["raw"]["text"]["body"],
        json!("Guten Tag, ich habe eine Frage")
    );
    assert_eq!(message["kind"], json!("text"));
    assert_eq!(message["direction"], json!("in"));
    assert_eq!(message["occurred_at"], json!("2026-11-26T10:00:00Z"));
    assert_eq!(message["erased"], json!(false));

    let (status, contact) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact_id}"),
            &agent,
        )
        .await;
    assert_eq!(status, 200, "{contact}");
    assert_eq!(contact["address"], json!("4915123456789"));
    assert_eq!(contact["display_name"], json!("Erika Mustermann"));
    assert_eq!(contact["channel"], json!("whatsapp"));

    let (status, page) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{contact_id}/messages"),
            &agent,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let bodies: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["Guten Tag, ich habe eine Frage", "Zweite Nachricht"]
    );

    // Each read of decrypted content left an audit entry.
    let actions = audit_actions(&app).await;
    for action in [
        "message.read",
        "contact.read",
        "contact.messages.read",
        "messages.ingest",
        "tenant.create",
        "token.create",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "no audit entry {action}: {actions:?}"
        );
    }
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    app.hafen
        .store()
        .read(|conn| hafen::audit::recent(conn, None, 1000))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect()
}

async fn batch_is_atomic_and_duplicates_within_a_batch_are_stored_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let ingest = app.token(&tenant, "ingest").await;
    let path = format!("/v1/tenants/{tenant}/messages");
    let before = app.counts();

    // The third message is invalid: the whole batch is refused, nothing stored.
    let bad = json!({ "messages": [
        text_message("whatsapp", "+4915100000001", "eins", Some("x1")),
        text_message("whatsapp", "+4915100000002", "zwei", Some("x2")),
        text_message("whatsapp", "not a number", "drei", Some("x3")),
    ]});
    let (status, body) = app.post(&path, &ingest, &bad).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("messages[2].contact.address"),
        "{body}"
    );
    assert_eq!(app.counts(), before);

    // The same external id twice in one batch: stored once, both answers name it.
    let twice = json!({ "messages": [
        text_message("whatsapp", "+4915100000001", "eins", Some("dup")),
        text_message("whatsapp", "+4915100000001", "eins", Some("dup")),
    ]});
    let (status, body) = app.post(&path, &ingest, &twice).await;
    assert_eq!(status, 201, "{body}");
    let m = body["messages"].as_array().unwrap();
    assert_eq!(m[0]["id"], m[1]["id"]);
    assert_eq!(m[1]["duplicate"], json!(true));
    assert_eq!(app.counts().messages, before.messages + 1);

    // External ids are per channel: the same id on another channel is another message.
    let (status, _) = app
        .post(
            &path,
            &ingest,
            &text_message("telegram", "42", "x", Some("dup")),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.counts().messages, before.messages + 2);

    // Batch limits.
    let (status, _) = app.post(&path, &ingest, &json!({ "messages": [] })).await;
    assert_eq!(status, 422);
}

async fn roles_and_tenant_isolation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.create_tenant("A GmbH").await;
    let b = app.create_tenant("B GmbH").await;
    let a_agent = app.token(&a, "agent").await;
    let a_ingest = app.token(&a, "ingest").await;
    let a_dpo = app.token(&a, "dpo").await;
    let a_admin = app.token(&a, "tenant_admin").await;
    let b_agent = app.token(&b, "agent").await;

    let (_, stored) = app
        .post(
            &format!("/v1/tenants/{b}/messages"),
            &b_agent,
            &text_message("whatsapp", "+4917600000001", "B intern", None),
        )
        .await;
    let b_message = stored["id"].as_str().unwrap();
    let b_contact = stored["contact_id"].as_str().unwrap();
    let before = app.counts();

    // A's tokens see nothing of B: the same 404 as for an object that does not exist.
    for path in [
        format!("/v1/tenants/{b}/messages/{b_message}"),
        format!("/v1/tenants/{b}/contacts"),
        format!("/v1/tenants/{b}/contacts/{b_contact}"),
        format!("/v1/tenants/{b}/contacts/{b_contact}/messages"),
    ] {
        let (status, body) = app.get(&path, &a_agent).await;
        assert_eq!(status, 404, "{path}: {body}");
        let (status, _) = app.get(&path, &a_admin).await;
        assert_eq!(status, 404, "{path}");
    }
    // B's object ids under A's tenant path are not found either.
    let (status, _) = app
        .get(&format!("/v1/tenants/{a}/messages/{b_message}"), &a_agent)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(&format!("/v1/tenants/{a}/contacts/{b_contact}"), &a_agent)
        .await;
    assert_eq!(status, 404);
    // Writing into B with A's token.
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{b}/messages"),
            &a_agent,
            &text_message("whatsapp", "+4917600000002", "fremd", None),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{b}/tokens"),
            &a_admin,
            &json!({"role": "agent"}),
        )
        .await;
    assert_eq!(status, 404);

    // Roles within the own tenant.
    let (status, body) = app
        .get(&format!("/v1/tenants/{a}/contacts"), &a_ingest)
        .await;
    assert_eq!(status, 403, "ingest may not read: {body}");
    assert_eq!(body["type"], json!("urn:hafen:problem:forbidden"));
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{a}/messages"),
            &a_dpo,
            &text_message("whatsapp", "+4917600000003", "x", None),
        )
        .await;
    assert_eq!(status, 403, "dpo may not write");
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{a}/tokens"),
            &a_agent,
            &json!({"role": "agent"}),
        )
        .await;
    assert_eq!(status, 403, "agent may not create tokens");
    let (status, _) = app
        .post("/v1/tenants", &a_admin, &json!({"name": "C"}))
        .await;
    assert_eq!(status, 403, "tenant admin may not create tenants");
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{a}/tokens"),
            &a_admin,
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, 422, "no install-wide tokens from a tenant admin");
    assert_eq!(app.counts(), before, "nothing refused was stored");
    let (status, _) = app.get(&format!("/v1/tenants/{a}/contacts"), &a_dpo).await;
    assert_eq!(status, 200, "dpo may read");

    // A tenant admin creates tokens within its tenant, and they work there only.
    let (status, body) = app
        .post(
            &format!("/v1/tenants/{a}/tokens"),
            &a_admin,
            &json!({"role": "dpo"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let new_dpo = body["token"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/tenants/{a}/contacts"), new_dpo)
            .await
            .0,
        200
    );
    assert_eq!(
        app.get(&format!("/v1/tenants/{b}/contacts"), new_dpo)
            .await
            .0,
        404
    );
}

async fn every_rejected_request_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let dpo = app.token(&tenant, "dpo").await;
    let path = app.url(&format!("/v1/tenants/{tenant}/messages"));
    let valid = text_message("whatsapp", "+4915199999999", "gültig", Some("e1"));
    let before = app.counts();

    let send = |token: Option<&str>, content_type: &str, body: Vec<u8>| {
        let mut req = app
            .client
            .post(&path)
            .header("content-type", content_type.to_string())
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let json_bytes = |v: &Value| serde_json::to_vec(v).unwrap();
    let cases: Vec<(u16, &str, reqwest::Response)> = vec![
        (400, "malformed", send(Some(&agent), "application/json", b"{\"contact\": ".to_vec()).await.unwrap()),
        (401, "unauthenticated", send(None, "application/json", json_bytes(&valid)).await.unwrap()),
        (401, "unauthenticated", send(Some("hfn_000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "application/json", json_bytes(&valid)).await.unwrap()),
        (401, "unauthenticated", send(Some("garbage"), "application/json", json_bytes(&valid)).await.unwrap()),
        (403, "forbidden", send(Some(&dpo), "application/json", json_bytes(&valid)).await.unwrap()),
        (413, "too-large", send(Some(&agent), "application/json", vec![b' '; 70 * 1024]).await.unwrap()),
        (415, "unsupported-media-type", send(Some(&agent), "text/plain", json_bytes(&valid)).await.unwrap()),
        (422, "invalid", send(Some(&agent), "application/json", json_bytes(&json!({"contact": {"channel": "whatsapp", "address": "+4915199999999"}, "direction": "sideways", "occurred_at": "2026-11-26T10:00:00Z", "kind": "text"}))).await.unwrap()),
        (422, "invalid", send(Some(&agent), "application/json", json_bytes(&text_message("whatsapp", "+4915199999999", "x", Some("")))).await.unwrap()),
        (422, "invalid", send(Some(&agent), "application/json", json_bytes(&json!({"contact": {"channel": "whatsapp", "address": "+4915199999999"}, "direction": "in", "occurred_at": "yesterday", "kind": "text"}))).await.unwrap()),
        (422, "invalid", send(Some(&agent), "application/json", json_bytes(&json!({"unexpected": true}))).await.unwrap()),
    ];
    for (expected, slug, response) in cases {
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let (status, body) = crate::support::read(response).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        assert_eq!(
            body["type"],
            json!(format!("urn:hafen:problem:{slug}")),
            "{body}"
        );
        assert_eq!(body["status"], json!(expected));
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
    // An oversized body over 413 also when Content-Length is not declared up front (chunked).
    let chunked = reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
    ));
    let response = app
        .client
        .post(&path)
        .bearer_auth(&agent)
        .header("content-type", "application/json")
        .body(chunked)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    // Unknown tenant and unknown routes.
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{}/messages", uuid::Uuid::now_v7()),
            &app.admin_token,
            &valid,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post("/v1/tenants/not-a-uuid/messages", &app.admin_token, &valid)
        .await;
    assert_eq!(status, 404);
    let (status, body) = app.get("/v1/nothing-here", &agent).await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], json!("urn:hafen:problem:not-found"));
    let (status, _) = app
        .get(&format!("/v1/tenants/{tenant}/contacts?limit=0"), &agent)
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .get(&format!("/v1/tenants/{tenant}/contacts?limit=abc"), &agent)
        .await;
    assert_eq!(status, 400);

    assert_eq!(
        app.counts(),
        before,
        "no rejected request stored anything, not even an audit entry"
    );

    // And the valid request still works afterwards.
    let (status, _) = app
        .post(&format!("/v1/tenants/{tenant}/messages"), &agent, &valid)
        .await;
    assert_eq!(status, 201);
}

async fn paging_through_contacts_and_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let mut messages = Vec::new();
    for i in 0..7 {
        let mut m = text_message(
            "whatsapp",
            &format!("+49151000000{i:02}"),
            &format!("c{i}"),
            None,
        );
        m["occurred_at"] = json!(format!("2026-11-26T10:00:{i:02}Z"));
        messages.push(m);
    }
    // Five messages of one contact, two sharing a timestamp (ordered by id then).
    for (i, second) in [5, 1, 3, 3, 9].iter().enumerate() {
        let mut m = text_message("telegram", "777", &format!("m{i}"), None);
        m["occurred_at"] = json!(format!("2026-11-26T11:00:{second:02}Z"));
        messages.push(m);
    }
    let (status, body) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &agent,
            &json!({ "messages": messages }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let telegram_contact = body["messages"][7]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=3&after={c}"),
            None => "?limit=3".into(),
        };
        let (status, page) = app
            .get(&format!("/v1/tenants/{tenant}/contacts{q}"), &agent)
            .await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 8, "no contact twice");

    let mut bodies = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=2&after={c}"),
            None => "?limit=2".into(),
        };
        let (status, page) = app
            .get(
                &format!("/v1/tenants/{tenant}/contacts/{telegram_contact}/messages{q}"),
                &agent,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        bodies.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        bodies,
        ["m1", "m2", "m3", "m0", "m4"],
        "time order, ties by insertion"
    );
    let (status, _) = app
        .get(
            &format!("/v1/tenants/{tenant}/contacts/{telegram_contact}/messages?after=bogus"),
            &agent,
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let doc: Value = r.json().await.unwrap();
    for path in [
        "/healthz",
        "/v1/tenants",
        "/v1/tenants/{tenant}/tokens",
        "/v1/tenants/{tenant}/messages",
        "/v1/tenants/{tenant}/messages/{id}",
        "/v1/tenants/{tenant}/contacts",
        "/v1/tenants/{tenant}/contacts/{id}",
        "/v1/tenants/{tenant}/contacts/{id}/messages",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// The answers every operation of a kind can give are documented once, by the document's
/// modifier, not in each handler: 401 and 403 wherever a token is asked for, 404 wherever the
/// path names a tenant or an object.
#[tokio::test]
async fn openapi_documents_the_generic_refusals_of_every_operation() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, doc) = app.get("/v1/openapi.json", "").await;
    assert_eq!(status, 200);
    let mut missing = Vec::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let mut expected = Vec::new();
            if op.get("security").is_some() {
                expected.extend(["401", "403"]);
            }
            let in_path = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path"));
            if in_path {
                expected.push("404");
            }
            for status in expected {
                match responses.get(status) {
                    Some(r) if r["content"]["application/problem+json"].is_object() => {}
                    _ => missing.push(format!("{method} {path} {status}")),
                }
            }
        }
    }
    assert!(operations > 50, "{operations}");
    assert!(missing.is_empty(), "undocumented refusals: {missing:#?}");
}

#[tokio::test]
async fn readiness_reports_the_database_and_its_schema() {
    let app = crate::support::TestApp::spawn(crate::support::Backend::Sqlite).await;
    let (status, body) = app.get("/readyz", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["pending_migrations"], 0);
    // Roll the newest migration back: the binary's schema is ahead, so not ready.
    let mut conn = app.db.connect();
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
    )
    .unwrap();
    let (status, body) = app.get("/readyz", "").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["pending_migrations"], 1);
    let (status, _) = app.get("/healthz", "").await;
    assert_eq!(status, 200, "liveness does not depend on the schema");
    // A newer Hafen (another instance, upgraded first) migrated the database further: this
    // one is not ready, so a load balancer stops sending it traffic.
    conn.batch_execute(
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('99990101000000')",
    )
    .unwrap();
    let (status, body) = app.get("/readyz", "").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["database"],
        "a newer Hafen migrated the database: upgrade this instance"
    );
    // Requests are counted by route pattern and status, and timed.
    let (_, _, metrics) = app.get_bytes("/metrics", &app.admin_token).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics
            .contains(r#"hafen_http_requests_total{method="GET",route="/readyz",status="503"} 2"#),
        "{metrics}"
    );
    assert!(metrics
        .contains(r#"hafen_http_request_duration_seconds_count{method="GET",route="/readyz"} 3"#));
}

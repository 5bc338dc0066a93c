//! The tenant-isolation matrix (issue 9), generated from the route table: every operation of
//! `/v1/openapi.json` whose path names a tenant, called by every tenant role of tenant A
//! against tenant B (which holds a contact, a message and a data-subject request): only 403/404,
//! no id of B in any answer. The same operations without a token: 401 each. And every role of
//! A on A's own objects: a status the document lists for the operation, never a 5xx. A new
//! endpoint is in the matrix as soon as it is documented; the test also fails if the document
//! lists fewer tenant operations than it did when the test was written.

use serde_json::json;

use crate::both_backends;
use crate::support::{text_message, Backend, TestApp};

both_backends!(no_tenant_role_reaches_another_tenant);

/// Tenant operations documented when this test was written: a floor, not the list.
const KNOWN_TENANT_OPERATIONS: usize = 40;

async fn no_tenant_role_reaches_another_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.create_tenant("Alpha Handel GmbH").await;
    let b = app.create_tenant("Beta Service AG").await;

    // Tenant B's objects, whose ids must never show up in an answer to A.
    let b_agent = app.token(&b, "agent").await;
    let b_dpo = app.token(&b, "dpo").await;
    let (status, stored) = app
        .post(
            &format!("/v1/tenants/{b}/messages"),
            &b_agent,
            &text_message("whatsapp", "+4915100000042", "nur für Beta", Some("b-1")),
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    let b_message = stored["id"].as_str().unwrap().to_string();
    let b_contact = stored["contact_id"].as_str().unwrap().to_string();
    let (status, request) = app
        .post(
            &format!("/v1/tenants/{b}/requests"),
            &b_dpo,
            &json!({"kind": "access", "contact_id": b_contact}),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let b_request = request["id"].as_str().unwrap().to_string();
    let secrets = [b.as_str(), &b_message, &b_contact, &b_request];

    let (status, doc) = app.get("/v1/openapi.json", &app.admin_token).await;
    assert_eq!(status, 200);
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains("{tenant}") {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push((method, path.clone()));
            }
        }
    }
    assert!(
        operations.len() >= KNOWN_TENANT_OPERATIONS,
        "only {} tenant operations documented",
        operations.len()
    );

    let mut calls = 0;
    for role in ["tenant_admin", "agent", "ingest", "dpo"] {
        let token = app.token(&a, role).await;
        for (method, template) in &operations {
            // B's real ids where the path takes one: a lookup must fail on the tenant, not on
            // an unknown id.
            let path = fill(template, &b, &b_message, &b_contact, &b_request);
            let (status, body) = call(&app, method, &path, Some(&token)).await;
            calls += 1;
            assert!(
                status == 403 || status == 404,
                "{role} of A: {} {path} answered {status}: {body}",
                method.to_uppercase()
            );
            let text = body.to_string();
            for secret in &secrets[1..] {
                assert!(
                    !text.contains(secret),
                    "{role} of A: {} {path} leaked an id of B: {text}",
                    method.to_uppercase()
                );
            }
        }
    }
    assert!(calls >= 4 * KNOWN_TENANT_OPERATIONS);

    // No tenant at all: without a token every documented operation that needs one is a 401
    // problem, whatever tenant its path names.
    for (method, template) in &operations {
        let path = fill(template, &b, &b_message, &b_contact, &b_request);
        let (status, body) = call(&app, method, &path, None).await;
        assert_eq!(
            status,
            401,
            "no token: {} {path}: {body}",
            method.to_uppercase()
        );
        assert_eq!(body["type"], json!("urn:hafen:problem:unauthenticated"));
    }

    // Own tenant: every role of A on A's own objects gets an answer the document lists for
    // that operation (allowed or 403, never a 5xx, never an undocumented status).
    let a_agent = app.token(&a, "agent").await;
    let (status, stored) = app
        .post(
            &format!("/v1/tenants/{a}/messages"),
            &a_agent,
            &text_message("whatsapp", "+4915100000043", "für Alpha", Some("a-1")),
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    let a_message = stored["id"].as_str().unwrap().to_string();
    let a_contact = stored["contact_id"].as_str().unwrap().to_string();
    let mut own = 0;
    for role in ["tenant_admin", "agent", "ingest", "dpo"] {
        let token = app.token(&a, role).await;
        for (method, template) in &operations {
            let path = fill(template, &a, &a_message, &a_contact, &b_request);
            let (status, body) = call(&app, method, &path, Some(&token)).await;
            let documented = &doc["paths"][template.as_str()][*method]["responses"];
            assert!(
                status < 500 && documented.get(status.to_string()).is_some(),
                "{role} of A on A: {} {path} answered {status}, documented {:?}: {body}",
                method.to_uppercase(),
                documented.as_object().map(|o| o.keys().collect::<Vec<_>>())
            );
            own += 1;
        }
    }
    assert!(own >= 4 * KNOWN_TENANT_OPERATIONS);

    // And B's data is untouched: its message still reads back for B.
    let (status, read) = app
        .get(&format!("/v1/tenants/{b}/messages/{b_message}"), &b_agent)
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["body"], json!("nur für Beta"));
}

/// One call with an empty JSON object as body (the handlers must refuse or accept it cleanly).
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let request = match method {
        "get" => app.client.get(app.url(path)),
        "post" => app.client.post(app.url(path)),
        "put" => app.client.put(app.url(path)),
        "patch" => app.client.patch(app.url(path)),
        _ => app.client.delete(app.url(path)),
    }
    .header("content-type", "application/json")
    .body("{}");
    let request = match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    };
    crate::support::read(request.send().await.unwrap()).await
}

/// Puts B's ids into a path template; parameters without a known object get a fresh UUID.
fn fill(template: &str, tenant: &str, message: &str, contact: &str, request: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(rest.len() - 1);
        let name = &rest[start + 1..end];
        let value = match name {
            "tenant" => tenant.to_string(),
            "id" if out.ends_with("/contacts/") => contact.to_string(),
            "id" if out.ends_with("/messages/") => message.to_string(),
            "id" if out.ends_with("/requests/") => request.to_string(),
            "n" => "0".to_string(),
            "section" => "controller".to_string(),
            "kind" => "toms".to_string(),
            _ => uuid::Uuid::now_v7().to_string(),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

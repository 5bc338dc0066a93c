//! The life of an API token (issue 20, item 4): issued with a name and an end, listed without
//! its secret, noted when used (coarsely), revoked with immediate effect, refused once expired
//! with a problem that says so; tenant admins cannot mint tenant-admin tokens unless allowed.

use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{Backend, TestApp};

both_backends!(
    tokens_are_listed_revoked_and_expire,
    the_install_bounds_token_lifetimes_and_may_let_tenant_admins_issue_admins
);

async fn get_status(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    app.get(path, token).await
}

async fn tokens_are_listed_revoked_and_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let other = app.create_tenant("Andere GmbH").await;
    let tenant_admin = app.token(&tenant, "tenant_admin").await;
    let other_admin = app.token(&other, "tenant_admin").await;
    let tokens = format!("/v1/tenants/{tenant}/tokens");
    let contacts = format!("/v1/tenants/{tenant}/contacts");

    // A tenant admin issues agent tokens, but no tenant-admin tokens.
    let audit = app.counts().audit;
    let (status, problem) = app
        .post(&tokens, &tenant_admin, &json!({"role": "tenant_admin"}))
        .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("install admin"),
        "{problem}"
    );
    for bad in [
        json!({"role": "agent", "expires_in_days": 0}),
        json!({"role": "agent", "name": "a\nb"}),
        json!({"role": "agent", "name": "x".repeat(101)}),
    ] {
        let (status, problem) = app.post(&tokens, &tenant_admin, &bad).await;
        assert_eq!(status, 422, "{bad}: {problem}");
    }
    assert_eq!(app.counts().audit, audit, "nothing refused was recorded");
    let (status, crm) = app
        .post(
            &tokens,
            &tenant_admin,
            &json!({"role": "agent", "name": "CRM-Anbindung", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(status, 201, "{crm}");
    let crm_token = crm["token"].as_str().unwrap().to_string();
    let crm_id = crm["id"].as_str().unwrap().to_string();
    let now = app.hafen.clock().now();
    let expires: chrono::DateTime<chrono::Utc> =
        crm["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires - now, chrono::Duration::days(30));

    // Used: the last use is noted, at most once an hour.
    assert_eq!(get_status(&app, &contacts, &crm_token).await.0, 200);
    let listed = |list: &Value, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == json!(id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (status, list) = app.get(&tokens, &tenant_admin).await;
    assert_eq!(status, 200, "{list}");
    let entry = listed(&list, &crm_id);
    assert_eq!(entry["name"], json!("CRM-Anbindung"));
    assert_eq!(entry["role"], json!("agent"));
    assert_eq!(entry["state"], json!("active"));
    assert_eq!(entry["tenant_id"], json!(tenant));
    let first_use = entry["last_used_at"].clone();
    assert!(first_use.is_string(), "{entry}");
    assert!(
        !list
            .to_string()
            .contains(&crm_token[crm_token.len() - 20..]),
        "no secret in the list"
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("token").is_none() && t.get("secret_hash").is_none()));
    app.clock.advance(chrono::Duration::minutes(30));
    assert_eq!(get_status(&app, &contacts, &crm_token).await.0, 200);
    let (_, list) = app.get(&tokens, &tenant_admin).await;
    assert_eq!(
        listed(&list, &crm_id)["last_used_at"],
        first_use,
        "not every request writes"
    );
    app.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(get_status(&app, &contacts, &crm_token).await.0, 200);
    let (_, list) = app.get(&tokens, &tenant_admin).await;
    assert_ne!(
        listed(&list, &crm_id)["last_used_at"],
        first_use,
        "an hour later it does"
    );

    // Another tenant sees nothing of these tokens and cannot revoke them.
    assert_eq!(app.get(&tokens, &other_admin).await.0, 404);
    assert_eq!(
        app.delete(&format!("{tokens}/{crm_id}"), &other_admin)
            .await
            .0,
        404
    );
    let (_, others) = app
        .get(&format!("/v1/tenants/{other}/tokens"), &other_admin)
        .await;
    assert!(!others.to_string().contains(&crm_id));
    assert_eq!(
        app.delete(
            &format!("/v1/tenants/{other}/tokens/{crm_id}"),
            &other_admin
        )
        .await
        .0,
        404
    );
    // The install-wide list and revocation are the install admin's.
    assert_eq!(app.get("/v1/tokens", &tenant_admin).await.0, 403);
    assert_eq!(
        app.delete(&format!("/v1/tokens/{crm_id}"), &tenant_admin)
            .await
            .0,
        403
    );
    let (status, all) = app.get("/v1/tokens", &app.admin_token).await;
    assert_eq!(status, 200);
    assert!(all.to_string().contains(&crm_id) && all.to_string().contains(&other));

    // Revoked: refused at once, and the problem says why.
    let (status, revoked) = app
        .delete(&format!("{tokens}/{crm_id}"), &tenant_admin)
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["state"], json!("revoked"));
    let (status, problem) = get_status(&app, &contacts, &crm_token).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(
        problem["type"].as_str().map(|t| t.ends_with("token-ended")),
        Some(true),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("revoked"),
        "{problem}"
    );
    // A second revocation changes nothing and records nothing.
    let audit = app.counts().audit;
    assert_eq!(
        app.delete(&format!("{tokens}/{crm_id}"), &tenant_admin)
            .await
            .0,
        200
    );
    assert_eq!(app.counts().audit, audit);

    // Expired: refused with its own words; an unknown or forged token is just unauthenticated.
    let (_, short) = app
        .post(
            &tokens,
            &tenant_admin,
            &json!({"role": "agent", "expires_in_days": 1}),
        )
        .await;
    let short_token = short["token"].as_str().unwrap();
    assert_eq!(get_status(&app, &contacts, short_token).await.0, 200);
    app.clock.advance(chrono::Duration::days(2));
    let (status, problem) = get_status(&app, &contacts, short_token).await;
    assert_eq!(status, 401);
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
    let forged = format!("{}x", &short_token[..short_token.len() - 1]);
    let (status, problem) = get_status(&app, &contacts, &forged).await;
    assert_eq!(status, 401);
    assert!(
        !problem.to_string().contains("expired"),
        "a forged secret learns nothing: {problem}"
    );
    let (_, list) = app.get(&tokens, &tenant_admin).await;
    assert_eq!(
        listed(&list, short["id"].as_str().unwrap())["state"],
        json!("expired")
    );

    // Every issue and revocation is in the audit log.
    let actions: Vec<String> = app
        .hafen
        .store()
        .read(|conn| hafen::audit::recent(conn, None, 1000))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert!(actions.iter().any(|a| a == "token.revoke"), "{actions:?}");
    assert!(actions.iter().filter(|a| *a == "token.create").count() >= 4);
    app.stop().await;
}

async fn the_install_bounds_token_lifetimes_and_may_let_tenant_admins_issue_admins(
    backend: Backend,
) {
    let app = TestApp::spawn_configured(backend, |c| {
        c.token_max_days = 90;
        c.tenant_admins_issue_admin_tokens = true;
    })
    .await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let tenant_admin = app.token(&tenant, "tenant_admin").await;
    let tokens = format!("/v1/tenants/{tenant}/tokens");
    let (status, created) = app
        .post(&tokens, &tenant_admin, &json!({"role": "tenant_admin"}))
        .await;
    assert_eq!(status, 201, "allowed by the setting: {created}");
    let expires: chrono::DateTime<chrono::Utc> =
        created["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires - app.hafen.clock().now(),
        chrono::Duration::days(90),
        "no expiry asked for: the maximum"
    );
    let (status, problem) = app
        .post(
            &tokens,
            &tenant_admin,
            &json!({"role": "agent", "expires_in_days": 91}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("token_max_days"));
    app.stop().await;
}

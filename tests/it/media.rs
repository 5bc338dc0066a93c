//! Media: the webhook's media id is downloaded through the platform API (WhatsApp, Telegram),
//! checked, sealed and served back decrypted; failures are retried on a schedule.

use base64::Engine;
use serde_json::json;
use sha2::Digest;

use crate::both_backends;
use crate::channels::{create_channel, post_hook, signed, WA_ACCOUNT};
use crate::fake_platform::FakePlatform;
use crate::support::{marker, Backend, TestApp};

both_backends!(whatsapp_and_telegram_media_are_downloaded_sealed_and_retried);

fn image_webhook(media_id: &str, sha256_b64: &str, wamid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": WA_ACCOUNT},
        "contacts": [{"profile": {"name": "Kunde"}, "wa_id": "4915112345678"}],
        "messages": [{"from": "4915112345678", "id": wamid, "timestamp": "1764151200", "type": "image",
                      "image": {"caption": "Das Paket", "mime_type": "image/jpeg", "sha256": sha256_b64, "id": media_id}}]}}]}]}))
    .unwrap()
}

async fn whatsapp_and_telegram_media_are_downloaded_sealed_and_retried(backend: Backend) {
    let fake = FakePlatform::start().await;
    let (wa, tg) = (fake.base.clone(), fake.base.clone());
    let app = TestApp::spawn_configured(backend, |c| {
        c.whatsapp_api_base = wa;
        c.telegram_api_base = tg;
    })
    .await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let channel = create_channel(
        &app,
        &tenant,
        json!({"platform": "whatsapp", "name": "Service", "account_id": WA_ACCOUNT,
               "secrets": {"app_secret": "wa-secret-7f3a9c1e5b2d8f40", "verify_token": "vt", "access_token": "EAAG-token"}}),
    )
    .await;
    let hook = format!("/hooks/whatsapp/{}", channel["id"].as_str().unwrap());
    let agent = app.token(&tenant, "agent").await;

    let file = format!("JPEG{}", marker("FILEMARKER")).into_bytes();
    let sha = sha2::Sha256::digest(&file);
    let sha_b64 = base64::engine::general_purpose::STANDARD.encode(sha);
    // The media lookup fails once (server error), then answers; the file follows.
    fake.route(
        "/MEDIA1",
        vec![
            (500, b"{}".to_vec(), "application/json"),
            (200, serde_json::to_vec(&json!({"url": format!("{}/files/one", fake.base), "mime_type": "image/jpeg", "sha256": hex::encode(sha), "file_size": file.len(), "id": "MEDIA1", "messaging_product": "whatsapp"})).unwrap(), "application/json"),
        ],
    );
    fake.route("/files/one", vec![(200, file.clone(), "image/jpeg")]);

    let body = image_webhook("MEDIA1", &sha_b64, "wamid.IMG1");
    let (status, receipt) = post_hook(
        &app,
        &hook,
        body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
    )
    .await;
    assert_eq!(status, 200, "{receipt}");
    let message_id = {
        use diesel::prelude::*;
        use hafen::store::schema::messages;
        let mut conn = app.db.connect();
        messages::table
            .filter(messages::kind.eq("image"))
            .select(messages::id)
            .first::<String>(&mut conn)
            .unwrap()
    };
    let read = |n: u32| {
        app.client
            .get(app.url(&format!(
                "/v1/tenants/{tenant}/messages/{message_id}/attachments/{n}"
            )))
            .bearer_auth(&agent)
            .send()
    };
    let (_, m) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{message_id}"),
            &agent,
        )
        .await;
    assert_eq!(m["attachments"][0]["state"], json!("pending"), "{m}");
    assert_eq!(
        read(0).await.unwrap().status().as_u16(),
        409,
        "not downloaded yet"
    );

    // First attempt: the platform fails; the download stays pending with a later attempt.
    assert_eq!(app.hafen.channels.run_due_downloads().await.unwrap(), 1);
    let (_, m) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{message_id}"),
            &agent,
        )
        .await;
    assert_eq!(m["attachments"][0]["state"], json!("pending"), "{m}");
    assert_eq!(m["attachments"][0]["attempts"], json!(1));
    assert_eq!(
        app.hafen.channels.run_due_downloads().await.unwrap(),
        0,
        "not due yet"
    );
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(app.hafen.channels.run_due_downloads().await.unwrap(), 1);
    let r = read(0).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().to_vec(), file);
    let lookup = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/MEDIA1")
        .unwrap();
    assert_eq!(lookup.authorization.as_deref(), Some("Bearer EAAG-token"));
    assert_eq!(read(1).await.unwrap().status().as_u16(), 404);

    // A MIME type with a line break, stored before parsing dropped such types, no longer breaks
    // the download: the file comes as application/octet-stream, no header is injected.
    {
        use diesel::prelude::*;
        use hafen::store::schema::attachments;
        let mut conn = app.db.connect();
        diesel::update(
            attachments::table
                .filter(attachments::message_id.eq(hafen::store::id::bind(&message_id))),
        )
        .set(attachments::mime_type.eq(Some("image/jpeg\r\nX-Injected: 1")))
        .execute(&mut conn)
        .unwrap();
    }
    let r = read(0).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/octet-stream"
    );
    assert!(r.headers().get("x-injected").is_none());
    assert_eq!(r.bytes().await.unwrap().to_vec(), file);

    // The file is sealed at rest.
    let marker_text = String::from_utf8(file[4..].to_vec()).unwrap();
    assert!(
        !crate::storage::contains(&crate::storage::disk_image(&app), &marker_text),
        "file content in the database"
    );

    // A file whose SHA-256 does not match is not stored.
    fake.route(
        "/MEDIA2",
        vec![(
            200,
            serde_json::to_vec(
                &json!({"url": format!("{}/files/two", fake.base), "mime_type": "image/jpeg"}),
            )
            .unwrap(),
            "application/json",
        )],
    );
    fake.route(
        "/files/two",
        vec![(200, b"tampered".to_vec(), "image/jpeg")],
    );
    let body = image_webhook("MEDIA2", &sha_b64, "wamid.IMG2");
    post_hook(
        &app,
        &hook,
        body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(app.hafen.channels.run_due_downloads().await.unwrap(), 1);
    {
        use diesel::prelude::*;
        use hafen::store::schema::attachments;
        let mut conn = app.db.connect();
        let (state, error): (String, Option<String>) = attachments::table
            .filter(attachments::n.eq(0))
            .order(attachments::created_at.desc())
            .then_order_by(attachments::id.desc())
            .select((attachments::state, attachments::last_error))
            .first(&mut conn)
            .unwrap();
        assert_eq!(state, "pending");
        assert!(error.unwrap().contains("SHA-256"));
    }

    // A file URL outside the platforms' hosts is refused for good; the host stays out of the
    // stored reason (a host name can say whom a file came from).
    let host = format!("kunde-{}.intern.example", marker("HOST").to_lowercase());
    fake.route(
        "/MEDIA3",
        vec![(
            200,
            serde_json::to_vec(
                &json!({"url": format!("https://{host}/secret.jpg"), "mime_type": "image/jpeg"}),
            )
            .unwrap(),
            "application/json",
        )],
    );
    let body = image_webhook("MEDIA3", &sha_b64, "wamid.IMG3");
    post_hook(
        &app,
        &hook,
        body.clone(),
        &signed("wa-secret-7f3a9c1e5b2d8f40", &body),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(10));
    app.hafen.channels.run_due_downloads().await.unwrap();
    {
        use diesel::prelude::*;
        use hafen::store::schema::attachments;
        let mut conn = app.db.connect();
        let refused: Vec<(String, Option<String>)> = attachments::table
            .filter(attachments::state.eq("failed"))
            .select((attachments::state, attachments::last_error))
            .load(&mut conn)
            .unwrap();
        assert_eq!(refused.len(), 1, "{refused:?}");
        let error = refused[0].1.clone().unwrap();
        assert!(error.contains("outbound policy"), "{error}");
        assert!(
            !error.contains(&host) && !error.contains("intern"),
            "{error}"
        );
    }

    // Telegram: getFile, then the file path.
    let telegram = create_channel(&app, &tenant, json!({"platform": "telegram", "name": "Bot", "secrets": {"webhook_secret": "s3cret-7f3a9c1e5b2d8f40a1", "bot_token": "42:TOKEN"}})).await;
    let largest = "AgACAgIAAxkBAAIBLARGE";
    fake.route("/bot42:TOKEN/getFile", vec![(200, serde_json::to_vec(&json!({"ok": true, "result": {"file_id": largest, "file_path": "photos/file_7.jpg"}})).unwrap(), "application/json")]);
    fake.route(
        "/file/bot42:TOKEN/photos/file_7.jpg",
        vec![(200, b"telegram photo".to_vec(), "image/jpeg")],
    );
    let update = serde_json::to_vec(&json!({"update_id": 9, "message": {"message_id": 5, "date": 1764151200,
        "chat": {"id": 777, "type": "private", "first_name": "Tim"}, "from": {"id": 777, "first_name": "Tim"},
        "photo": [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 100},
                  {"file_id": largest, "file_unique_id": "l", "width": 800, "height": 800, "file_size": 9000}]}}))
    .unwrap();
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/telegram/{}", telegram["id"].as_str().unwrap()),
        update,
        &[(
            "x-telegram-bot-api-secret-token",
            "s3cret-7f3a9c1e5b2d8f40a1".to_string(),
        )],
    )
    .await;
    assert_eq!(status, 200);
    assert!(app.hafen.channels.run_due_downloads().await.unwrap() >= 1);
    let photo_id = {
        use diesel::prelude::*;
        use hafen::store::schema::messages;
        let mut conn = app.db.connect();
        messages::table
            .filter(messages::channel.eq("telegram"))
            .select(messages::id)
            .first::<String>(&mut conn)
            .unwrap()
    };
    let r = app
        .client
        .get(app.url(&format!(
            "/v1/tenants/{tenant}/messages/{photo_id}/attachments/0"
        )))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment",
        "a photo has no name"
    );
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        b"telegram photo".to_vec()
    );

    // A document keeps the name the sender gave it: in the message view and the download.
    fake.route("/bot42:TOKEN/getFile", vec![(200, serde_json::to_vec(&json!({"ok": true, "result": {"file_id": "DOC1", "file_path": "documents/file_8.pdf"}})).unwrap(), "application/json")]);
    fake.route(
        "/file/bot42:TOKEN/documents/file_8.pdf",
        vec![(200, b"%PDF-1.7 invoice".to_vec(), "application/pdf")],
    );
    let update = serde_json::to_vec(&json!({"update_id": 10, "message": {"message_id": 6, "date": 1764151300,
        "chat": {"id": 777, "type": "private", "first_name": "Tim"}, "from": {"id": 777, "first_name": "Tim"},
        "document": {"file_id": "DOC1", "file_unique_id": "d", "file_name": "Rechnung März \"2026\".pdf",
                     "mime_type": "application/pdf", "file_size": 16}}}))
    .unwrap();
    let (status, _) = post_hook(
        &app,
        &format!("/hooks/telegram/{}", telegram["id"].as_str().unwrap()),
        update,
        &[(
            "x-telegram-bot-api-secret-token",
            "s3cret-7f3a9c1e5b2d8f40a1".to_string(),
        )],
    )
    .await;
    assert_eq!(status, 200);
    assert!(app.hafen.channels.run_due_downloads().await.unwrap() >= 1);
    let document_id = {
        use diesel::prelude::*;
        use hafen::store::schema::messages;
        let mut conn = app.db.connect();
        messages::table
            .filter(messages::channel.eq("telegram"))
            .filter(messages::kind.eq("document"))
            .select(messages::id)
            .first::<String>(&mut conn)
            .unwrap()
    };
    let (status, view) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{document_id}"),
            &agent,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["attachments"][0]["filename"],
        json!("Rechnung März \"2026\".pdf"),
        "{view}"
    );
    let r = app
        .client
        .get(app.url(&format!(
            "/v1/tenants/{tenant}/messages/{document_id}/attachments/0"
        )))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("filename=\"Rechnung M_rz _2026_.pdf\"")
            && disposition.contains("filename*=UTF-8''Rechnung%20M%C3%A4rz%20%222026%22.pdf"),
        "{disposition}"
    );
    // The conversation view offers the same file by its name, to a signed-in agent only.
    crate::ui::add_user(
        &app,
        "agentin@muster.de",
        hafen::auth::Role::Agent,
        Some(&tenant),
    )
    .await;
    let mut browser = crate::ui::Browser::new(&app);
    assert_eq!(
        browser
            .sign_in("agentin@muster.de", crate::ui::PASSWORD, "")
            .await,
        303
    );
    let contact = view["contact_id"].as_str().unwrap();
    let (status, html, _) = browser
        .get(&format!("/ui/t/{tenant}/contacts/{contact}"))
        .await;
    assert_eq!(status, 200);
    let link = format!("/ui/t/{tenant}/messages/{document_id}/attachments/0");
    assert!(
        html.contains(&link) && html.contains("Datei öffnen: Rechnung März"),
        "{html}"
    );
    let (status, _, headers) = browser.get(&link).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-disposition"].to_str().unwrap(),
        disposition
    );
    let (status, _, _) = crate::ui::Browser::new(&app).get(&link).await;
    assert_ne!(status, 200, "no file without a session");
    let get_file = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/getFile"))
        .unwrap();
    assert_eq!(get_file.path, "/bot42:TOKEN/getFile");
    fake.stop().await;
}

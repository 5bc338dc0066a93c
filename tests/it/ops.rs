//! Operations: an online backup keeps data and keystore apart, restores into an empty
//! database with every message readable, and refuses damaged backups and non-empty targets.

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::Value;

use hafen::clock::Clock as _;

use crate::both_backends;
use crate::storage::contains;
use crate::support::{marker, text_message, Backend, TestApp, TestDatabase};

both_backends!(
    backup_keeps_the_keystore_apart_and_restores_everything,
    key_rotation_rewraps_every_key_online_and_the_old_key_goes,
);

async fn backup_keeps_the_keystore_apart_and_restores_everything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let body = marker("BACKEDUP");
    let (status, stored) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &text_message("whatsapp", "+4915122223333", &body, None),
        )
        .await;
    assert_eq!(status, 201, "{stored}");
    let message = stored["id"].as_str().unwrap().to_string();

    // Online: the server keeps running while the backup is taken.
    let out = app.dir.path().join("backup-1");
    let steps = std::sync::Mutex::new(Vec::new());
    let manifest = hafen::backup::backup(&app.config, &out, app.clock.now(), &|s| {
        steps.lock().unwrap().push(s.to_string())
    })
    .expect("backup");
    assert!(steps.lock().unwrap().len() >= 3, "progress is reported");
    assert_eq!(manifest.contact_keys, 1);
    assert!(manifest.period_keys >= 1);
    let keystore = std::fs::read(out.join("keystore.age")).unwrap();
    assert!(
        keystore.starts_with(b"age-encryption.org/v1"),
        "the keystore is age-encrypted"
    );
    let data = std::fs::read(out.join(&manifest.data_file)).unwrap();
    assert!(
        !contains(&data, &body),
        "message bodies stay sealed in the backup"
    );
    if backend == Backend::Sqlite {
        // Opened as a copy: opening sets pragmas, which would change the backed-up file.
        let scratch = app.dir.path().join("inspect.db");
        std::fs::copy(out.join(&manifest.data_file), &scratch).unwrap();
        let mut copy = hafen::store::DatabaseUrl::sqlite(&scratch)
            .connect(Default::default())
            .unwrap();
        let keys: i64 = hafen::store::schema::contact_keys::table
            .count()
            .get_result(&mut copy)
            .unwrap();
        assert_eq!(keys, 0, "the data file holds no keystore");
    }
    // The backup is noted for /metrics.
    let (_, _, metrics) = app.get_bytes("/metrics", &app.admin_token).await;
    assert!(
        String::from_utf8(metrics)
            .unwrap()
            .contains("hafen_last_backup_timestamp_seconds 1"),
        "the last backup's time is exported"
    );
    let (config, _db, dir, clock, _) = app.stop().await;

    // A damaged backup is refused before anything is touched.
    let damaged = dir.path().join("backup-damaged");
    std::fs::create_dir(&damaged).unwrap();
    for f in ["manifest.json", "keystore.age", manifest.data_file.as_str()] {
        std::fs::copy(out.join(f), damaged.join(f)).unwrap();
    }
    let mut bytes = std::fs::read(damaged.join(&manifest.data_file)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(damaged.join(&manifest.data_file), bytes).unwrap();
    let err = hafen::backup::verify(&damaged).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");

    // Restore into a fresh, empty database with the same master key.
    let target_dir = Arc::new(tempfile::tempdir().unwrap());
    let data_dir = target_dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(
        config.data_dir.join("master.key"),
        data_dir.join("master.key"),
    )
    .unwrap();
    let target_db = Arc::new(TestDatabase::create(backend, &data_dir));
    let mut target = config.clone();
    target.data_dir = data_dir.clone();
    target.database_url = Some(hafen::sensitive::Sensitive::new(target_db.url.clone()));
    hafen::backup::restore(&target, &out, None, &|_| {}).expect("restore");
    // Not twice: the target is no longer empty.
    let again = hafen::backup::restore(&target, &out, None, &|_| {}).unwrap_err();
    assert!(again.to_string().contains("empty"), "{again}");

    let restored = TestApp::spawn_with(
        backend,
        target,
        target_db,
        target_dir,
        clock,
        Some(String::new()),
    )
    .await;
    let admin = restored
        .hafen
        .accounts
        .create_token(&hafen::auth::Actor::Cli, None, hafen::auth::Role::Admin)
        .await
        .unwrap()
        .token
        .expose()
        .clone();
    let (status, read): (u16, Value) = restored
        .get(&format!("/v1/tenants/{tenant}/messages/{message}"), &admin)
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(
        read["body"],
        serde_json::json!(body),
        "the restored message decrypts"
    );
    assert!(restored
        .hafen
        .audit
        .verify_chain()
        .await
        .unwrap()
        .broken
        .is_none());
}

async fn key_rotation_rewraps_every_key_online_and_the_old_key_goes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let body = marker("ROTATED");
    let (_, stored) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &text_message("whatsapp", "+4915144445555", &body, None),
        )
        .await;
    let message = stored["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .put(
            "/v1/register/processor",
            &app.admin_token,
            &serde_json::json!({"name": "Betrieb GmbH", "address": "Hamburg", "contact": "x@example.de"}),
        )
        .await;
    assert_eq!(status, 201);
    // A web interface user: the install key sealing login names must be re-wrapped too.
    let login = hafen::accounts::LoginName::parse("it@muster.de").unwrap();
    app.hafen
        .accounts
        .create_user(
            &hafen::auth::Actor::Cli,
            &login,
            hafen::accounts::NewPassword::parse("Leuchtturm am Hafen 2026").unwrap(),
            hafen::auth::Role::Admin,
            None,
        )
        .await
        .unwrap();
    let (config, db, dir, clock, admin) = app.stop().await;

    // Step 1: the new key becomes the master key; the old one is listed as previous.
    let old_key = config.data_dir.join("master.key");
    let new_key = dir.path().join("new.key");
    hafen::crypto::MasterKey::generate_identity_file(&new_key).unwrap();
    let mut during = config.clone();
    during.master_key_file = Some(new_key.clone());
    during.previous_master_key_files = vec![old_key.clone()];
    let app = TestApp::spawn_with(
        backend,
        during.clone(),
        db.clone(),
        dir.clone(),
        clock.clone(),
        Some(admin.clone()),
    )
    .await;

    // Step 2, online: the server serves while every key is re-wrapped.
    let master = hafen::bootstrap::load_master_key(&during).unwrap();
    let mut conn = db.connect();
    let report = hafen::rotation::rotate(&mut conn, &master, &|_, _| {}).unwrap();
    assert!(
        report.rewrapped >= 5,
        "tenant, contact, period, register and web interface keys: {report:?}"
    );
    let (status, read) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{message}"), &admin)
        .await;
    assert_eq!(
        (status, read["body"].clone()),
        (200, serde_json::json!(body))
    );
    // Resumable: a second run finds nothing left.
    let again = hafen::rotation::rotate(&mut conn, &master, &|_, _| {}).unwrap();
    assert_eq!(again.rewrapped, 0);
    drop(conn);
    let (_, db, dir, clock, admin) = app.stop().await;

    // Step 3: without the old key everything still opens.
    let mut after = during.clone();
    after.previous_master_key_files.clear();
    let app = TestApp::spawn_with(backend, after, db, dir, clock, Some(admin.clone())).await;
    let (status, read) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{message}"), &admin)
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["body"], serde_json::json!(body));
    let (status, entry) = app.get("/v1/register/processor", &admin).await;
    assert_eq!(status, 200, "{entry}");
    let users = app
        .hafen
        .accounts
        .list_users(&hafen::auth::Actor::Cli)
        .await
        .unwrap();
    assert_eq!(
        users[0].login, "it@muster.de",
        "login names open with the new key"
    );
    let signed_in = app
        .hafen
        .accounts
        .check_sign_in(
            "it@muster.de",
            hafen::sensitive::Sensitive::new("Leuchtturm am Hafen 2026".into()),
            None,
        )
        .await;
    assert!(signed_in.is_ok(), "the blind index still finds the user");
    // And the old key alone no longer opens anything.
    let old_only = hafen::crypto::MasterKey::new(
        hafen::crypto::MasterKey::load_identity_file(&old_key).unwrap(),
        &[],
    );
    let mut conn = app.db.connect();
    let wrapped: Vec<u8> = hafen::store::schema::contact_keys::table
        .select(hafen::store::schema::contact_keys::wrapped_key)
        .first(&mut conn)
        .unwrap();
    assert!(old_only.unwrap(&wrapped).is_err());
}

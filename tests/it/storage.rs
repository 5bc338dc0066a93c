//! Storage: nothing personal in plaintext, audit chain tamper-evidence, restart, migrations,
//! group commit, writes run again after a conflict, row binding of ciphertexts, crypto-erase.

use diesel::prelude::*;
use hafen::store::schema::{audit_log, contact_keys, messages};
use serde_json::json;

use crate::both_backends;
use crate::support::{captured_logs, marker, phone_marker, text_message, Backend, TestApp};

both_backends!(
    nothing_personal_reaches_disk_or_logs,
    audit_chain_reports_changed_removed_and_reordered_entries,
    restart_with_the_same_data_dir_reads_everything,
    migrations_go_up_down_and_up_again,
    concurrent_writes_share_commits,
    a_refused_write_in_a_merged_group_fails_alone,
    a_ciphertext_moved_to_another_row_does_not_open,
    a_destroyed_contact_key_erases_the_contact,
    a_write_that_keeps_conflicting_is_refused_as_busy,
    a_failed_write_takes_its_audit_entries_with_it,
    the_first_write_of_a_group_runs_without_a_savepoint,
    sqlite_copies_its_wal_back_beside_the_writer,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_writers_commit_side_by_side_and_keep_one_chain() {
    if crate::support::postgres_available() {
        several_writers(Backend::Postgres).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_with_another_transaction_is_run_again() {
    if crate::support::postgres_available() {
        deadlock_with_another_transaction(Backend::Postgres).await
    }
}

/// Ingests markers as body, name, number, external id and raw payload, then scans the
/// database files (SQLite main file and WAL) or a pg_dump, and the whole log, for them.
async fn nothing_personal_reaches_disk_or_logs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let body = marker("BODYMARKER");
    let name = marker("NAMEMARKER");
    let phone = phone_marker();
    let phone_digits = phone.trim_start_matches('+').to_string();
    let external = marker("EXTMARKER");
    let raw = marker("RAWMARKER");
    let psid = marker("PSIDMARKER");

    let mut m = text_message("whatsapp", &phone, &body, Some(&external));
    m["contact"]["display_name"] = json!(name);
    m["raw"] = json!({ "note": raw });
    let (status, stored) = app
        .post(&format!("/v1/tenants/{tenant}/messages"), &agent, &m)
        .await;
    assert_eq!(status, 201, "{stored}");
    let batch = json!({ "messages": [text_message("messenger", &psid, &body, None)] });
    assert_eq!(
        app.post(&format!("/v1/tenants/{tenant}/messages"), &agent, &batch)
            .await
            .0,
        201
    );
    // Reads and a rejected request also go through the logging paths.
    let id = stored["id"].as_str().unwrap();
    let (status, read) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{id}"), &agent)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        read["body"],
        json!(body),
        "the marker is readable through the API"
    );
    let mut bad = text_message("whatsapp", &format!("{phone}x"), &body, None);
    bad["contact"]["display_name"] = json!(name);
    assert_eq!(
        app.post(&format!("/v1/tenants/{tenant}/messages"), &agent, &bad)
            .await
            .0,
        422
    );

    let admin_token = app.admin_token.clone();
    let markers = [
        body.as_str(),
        name.as_str(),
        phone_digits.as_str(),
        external.as_str(),
        raw.as_str(),
        psid.as_str(),
        agent.as_str(),
        admin_token.as_str(),
    ];
    let on_disk = disk_image(&app);
    assert!(
        on_disk.len() > 10_000,
        "the scan read the database ({} bytes)",
        on_disk.len()
    );
    assert!(
        contains(&on_disk, "Muster GmbH"),
        "the scan sees plaintext where there is some"
    );
    for m in markers {
        assert!(
            !contains(&on_disk, m),
            "{m} found in the database ({backend:?})"
        );
    }

    let (config, db, dir, _, _) = app.stop().await;
    if backend == Backend::Sqlite {
        // After shutdown the WAL is checkpointed into the main file: scan that too.
        let file = std::fs::read(config.data_dir.join("hafen.db")).unwrap();
        for m in markers {
            assert!(
                !contains(&file, m),
                "{m} found in the checkpointed database"
            );
        }
    }
    drop((db, dir));
    let logs = captured_logs().lock().unwrap().clone();
    assert!(contains(&logs, "\"path\""), "the log capture works");
    for m in markers {
        assert!(!contains(&logs, m), "{m} found in the log output");
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The database as bytes: SQLite's files, or PostgreSQL's pg_dump.
pub fn disk_image(app: &TestApp) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => {
            let mut bytes = Vec::new();
            for name in ["hafen.db", "hafen.db-wal"] {
                if let Ok(b) = std::fs::read(app.data_dir().join(name)) {
                    bytes.extend(b);
                }
            }
            bytes
        }
        Backend::Postgres => {
            let out = std::process::Command::new("pg_dump")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "--inserts",
                    app.db.pg_name().unwrap(),
                ])
                .output()
                .expect("pg_dump runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

async fn audit_chain_reports_changed_removed_and_reordered_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    for i in 0..3 {
        let (status, _) = app
            .post(
                &format!("/v1/tenants/{tenant}/messages"),
                &agent,
                &text_message("whatsapp", "+4915111111111", &format!("m{i}"), None),
            )
            .await;
        assert_eq!(status, 201);
    }
    let intact = app.hafen.audit.verify_chain().await.unwrap();
    assert!(intact.broken.is_none(), "{intact}");
    let total = app.counts().audit;
    assert_eq!(intact.verified as i64, total);
    assert!(total >= 6);

    let mut conn = app.db.connect();
    // 1. Change an entry's contents.
    let original: String = audit_log::table
        .filter(audit_log::seq.eq(4))
        .select(audit_log::action)
        .first(&mut conn)
        .unwrap();
    diesel::update(audit_log::table.filter(audit_log::seq.eq(4)))
        .set(audit_log::action.eq("nothing.happened"))
        .execute(&mut conn)
        .unwrap();
    let report = app.hafen.audit.verify_chain().await.unwrap();
    assert_eq!(report.broken.as_ref().map(|b| b.seq), Some(4), "{report}");
    assert!(report.to_string().contains("changed"), "{report}");
    assert_eq!(report.verified, 3);
    diesel::update(audit_log::table.filter(audit_log::seq.eq(4)))
        .set(audit_log::action.eq(original))
        .execute(&mut conn)
        .unwrap();
    assert!(app
        .hafen
        .audit
        .verify_chain()
        .await
        .unwrap()
        .broken
        .is_none());

    // 2. Swap two entries (reorder).
    diesel::update(audit_log::table.filter(audit_log::seq.eq(2)))
        .set(audit_log::seq.eq(-2))
        .execute(&mut conn)
        .unwrap();
    diesel::update(audit_log::table.filter(audit_log::seq.eq(3)))
        .set(audit_log::seq.eq(2))
        .execute(&mut conn)
        .unwrap();
    diesel::update(audit_log::table.filter(audit_log::seq.eq(-2)))
        .set(audit_log::seq.eq(3))
        .execute(&mut conn)
        .unwrap();
    let report = app.hafen.audit.verify_chain().await.unwrap();
    assert_eq!(report.broken.as_ref().map(|b| b.seq), Some(2), "{report}");

    // 3. Remove an entry.
    diesel::update(audit_log::table.filter(audit_log::seq.eq(2)))
        .set(audit_log::seq.eq(-2))
        .execute(&mut conn)
        .unwrap();
    diesel::update(audit_log::table.filter(audit_log::seq.eq(3)))
        .set(audit_log::seq.eq(2))
        .execute(&mut conn)
        .unwrap();
    diesel::update(audit_log::table.filter(audit_log::seq.eq(-2)))
        .set(audit_log::seq.eq(3))
        .execute(&mut conn)
        .unwrap();
    assert!(
        app.hafen
            .audit
            .verify_chain()
            .await
            .unwrap()
            .broken
            .is_none(),
        "restored"
    );
    diesel::delete(audit_log::table.filter(audit_log::seq.eq(5)))
        .execute(&mut conn)
        .unwrap();
    let report = app.hafen.audit.verify_chain().await.unwrap();
    assert_eq!(report.broken.as_ref().map(|b| b.seq), Some(5), "{report}");
    assert!(report.to_string().contains("missing"), "{report}");

    // 4. Remove an entry and renumber the rest to hide the gap: the links give it away.
    let rows: Vec<i64> = audit_log::table
        .filter(audit_log::seq.gt(5))
        .select(audit_log::seq)
        .order(audit_log::seq.asc())
        .load(&mut conn)
        .unwrap();
    for seq in rows {
        diesel::update(audit_log::table.filter(audit_log::seq.eq(seq)))
            .set(audit_log::seq.eq(seq - 1))
            .execute(&mut conn)
            .unwrap();
    }
    let report = app.hafen.audit.verify_chain().await.unwrap();
    assert_eq!(report.broken.as_ref().map(|b| b.seq), Some(5), "{report}");
}

async fn restart_with_the_same_data_dir_reads_everything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let mut m = text_message("whatsapp", "+4915122222222", "vor dem Neustart", Some("r1"));
    m["contact"]["display_name"] = json!("Max");
    let (status, stored) = app
        .post(&format!("/v1/tenants/{tenant}/messages"), &agent, &m)
        .await;
    assert_eq!(status, 201);
    let id = stored["id"].as_str().unwrap().to_string();
    let (config, db, dir, clock, admin) = app.stop().await;

    let app = TestApp::spawn_with(backend, config, db, dir, clock, Some(admin)).await;
    let (status, message) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{id}"), &agent)
        .await;
    assert_eq!(status, 200, "the old token still works: {message}");
    assert_eq!(message["body"], json!("vor dem Neustart"));
    // The contact is found again by its number after the restart (blind index is stable).
    let (status, again) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &agent,
            &text_message("whatsapp", "+49 151 22222222", "danach", None),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["contact_id"], stored["contact_id"]);
    let (status, _) = app
        .post(&format!("/v1/tenants/{tenant}/messages"), &agent, &m)
        .await;
    assert_eq!(status, 200, "duplicate detection survives the restart");
    assert!(app
        .hafen
        .audit
        .verify_chain()
        .await
        .unwrap()
        .broken
        .is_none());
}

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::support::TestDatabase::create(backend, dir.path());
    let mut conn = db.connect();
    let up = hafen::store::run_migrations(&mut conn).unwrap();
    assert!(!up.is_empty());
    assert_eq!(hafen::store::schema_state(&mut conn).unwrap().pending, 0);
    let down = hafen::store::revert_all_migrations(&mut conn).unwrap();
    assert_eq!(down.len(), up.len());
    assert_eq!(
        hafen::store::schema_state(&mut conn).unwrap().pending,
        up.len()
    );
    let again = hafen::store::run_migrations(&mut conn).unwrap();
    assert_eq!(again, up);
    // The schema works after the round trip.
    let n: i64 = messages::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 0);
}

/// While one commit is in progress, every write that arrives meanwhile joins the next one,
/// and writes of one tenant share its statements (one merged run).
/// (One writer: with several, another writer would take them at once.)
async fn concurrent_writes_share_commits(backend: Backend) {
    let app = TestApp::spawn_configured(backend, |c| c.db_writers = 1).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let store = app.hafen.store().clone();
    warm_up_the_month(&app, &tenant).await;
    let before = store.group_stats();

    let (release, blocker) = hold_the_writer(&store).await;
    let writes: Vec<_> = (0..40)
        .map(|i| queue_ingest(&app, &tenant, &format!("+49151300{i:05}"), &format!("c{i}")))
        .collect();
    wait_until_queued(&store, 40).await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for w in writes {
        assert_eq!(w.await.unwrap().unwrap().len(), 1);
    }
    let after = store.group_stats();
    assert_eq!(after.jobs - before.jobs, 41);
    assert_eq!(
        after.groups - before.groups,
        2,
        "40 queued writes shared one commit"
    );
    assert_eq!(
        after.merged - before.merged,
        40,
        "the 40 writes of one tenant ran as one"
    );
    assert_eq!(app.counts().messages, 41, "40 and the warm-up");
    // Each write keeps its own audit entry, and the chain still verifies.
    let ingests: i64 = audit_log::table
        .filter(audit_log::action.eq("messages.ingest"))
        .count()
        .get_result(&mut app.db.connect())
        .unwrap();
    assert_eq!(ingests, 41);
    let chain = app.hafen.audit.verify_chain().await.unwrap();
    assert!(chain.broken.is_none(), "{chain:?}");
}

/// Writes merged in one group: the same message delivered twice is stored once (the second
/// delivery hears "duplicate" with the first's id); a write that its own rule refuses is answered
/// alone with its error, and the others of the group are stored.
async fn a_refused_write_in_a_merged_group_fails_alone(backend: Backend) {
    let app = TestApp::spawn_configured(backend, |c| c.db_writers = 1).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let store = app.hafen.store().clone();
    warm_up_the_month(&app, &tenant).await;
    // Both addresses are known contacts before the group, so no write of it creates one.
    let stored = queue_ingest(&app, &tenant, "+4915130000001", "taken")
        .await
        .unwrap()
        .unwrap();
    queue_ingest(&app, &tenant, "+4915130000002", "other")
        .await
        .unwrap()
        .unwrap();

    // The same message twice in one group: merged, stored once.
    let before = store.group_stats();
    let (release, blocker) = hold_the_writer(&store).await;
    let twice: Vec<_> = (0..2)
        .map(|_| queue_ingest(&app, &tenant, "+4915130000002", "twice"))
        .collect();
    wait_until_queued(&store, 2).await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    let mut outcomes = Vec::new();
    for w in twice {
        outcomes.push(w.await.unwrap().unwrap().remove(0));
    }
    assert_eq!(store.group_stats().merged - before.merged, 2);
    // Either may have reached the queue first: that one stored the message.
    assert_eq!(
        outcomes.iter().filter(|o| o.duplicate).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(outcomes[0].id, outcomes[1].id);
    assert_eq!(app.counts().messages, 4, "warm-up, taken, other, twice");

    // A write refused by its own rule (an external id stored for another contact) among good
    // ones: it hears the conflict, the good ones are stored.
    let before = store.group_stats();
    let (release, blocker) = hold_the_writer(&store).await;
    let mut writes: Vec<_> = (0..5)
        .map(|i| queue_ingest(&app, &tenant, &format!("+49151310{i:05}"), &format!("g{i}")))
        .collect();
    let refused = queue_ingest(&app, &tenant, "+4915130000002", "taken");
    writes.extend(
        (5..10).map(|i| queue_ingest(&app, &tenant, &format!("+49151310{i:05}"), &format!("g{i}"))),
    );
    wait_until_queued(&store, 11).await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    let refusal = refused.await.unwrap().unwrap_err();
    assert!(
        matches!(refusal, hafen::error::Error::Conflict(_)),
        "{refusal:?}"
    );
    for w in writes {
        let outcome = w.await.unwrap().unwrap().remove(0);
        assert!(!outcome.duplicate);
    }
    let after = store.group_stats();
    assert_eq!(after.groups - before.groups, 2, "the held one, then all 11");
    assert_eq!(
        after.merged, before.merged,
        "the merged run failed; each ran alone"
    );
    assert_eq!(
        app.counts().messages,
        14,
        "the ten good ones joined the four"
    );
    let taken = app
        .hafen
        .messages
        .read(
            &hafen::auth::Actor::System,
            &hafen::tenants::TenantId::parse(&tenant).unwrap(),
            &stored[0].id,
        )
        .await
        .unwrap();
    assert_eq!(
        taken.contact_id, stored[0].contact_id,
        "the taken id still names the first contact's message"
    );
}

/// The month's period keys exist once the first message of the month is in.
async fn warm_up_the_month(app: &TestApp, tenant: &str) {
    let warm = json!({ "messages": [text_message("whatsapp", "+4915130099999", "warm", None)] });
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &warm,
        )
        .await;
    assert_eq!(status, 201);
}

/// Starts the ingest of one text message (as the system) without waiting for it.
fn queue_ingest(
    app: &TestApp,
    tenant: &str,
    address: &str,
    external_id: &str,
) -> tokio::task::JoinHandle<hafen::error::Result<Vec<hafen::messages::ingest::IngestOutcome>>> {
    let hafen = app.hafen.clone();
    let tenant_id = hafen::tenants::TenantId::parse(tenant).unwrap();
    let (address, external_id) = (address.to_string(), external_id.to_string());
    tokio::spawn(async move {
        let m = hafen::messages::MessageInput {
            contact: hafen::messages::types::ContactInput {
                channel: "whatsapp".into(),
                address,
                display_name: None,
            },
            direction: hafen::messages::Direction::In,
            occurred_at: "2026-11-26T10:00:00Z".into(),
            kind: hafen::messages::MessageKind::Text,
            body: Some("gleichzeitig".into()),
            external_id: Some(external_id),
            raw: None,
            business_letter: false,
        };
        let m = hafen::messages::NewMessage::parse(m, "", hafen.clock().now()).unwrap();
        hafen
            .messages
            .ingest_batch(&hafen::auth::Actor::System, &tenant_id, vec![m])
            .await
    })
}

/// Polls until `n` writes wait behind the held writer.
async fn wait_until_queued(store: &hafen::store::Store, n: usize) {
    for _ in 0..2000 {
        if store.queued_writes() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(
        store.queued_writes(),
        n,
        "the writes are waiting behind the busy writer"
    );
}

async fn a_ciphertext_moved_to_another_row_does_not_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let path = format!("/v1/tenants/{tenant}/messages");
    let batch = json!({ "messages": [
        text_message("whatsapp", "+4915133333333", "geheim A", None),
        text_message("whatsapp", "+4915133333333", "harmlos B", None),
    ]});
    let (_, body) = app.post(&path, &agent, &batch).await;
    let a = body["messages"][0]["id"].as_str().unwrap().to_string();
    let b = body["messages"][1]["id"].as_str().unwrap().to_string();
    let mut conn = app.db.connect();
    let sealed_a: Option<Vec<u8>> = messages::table
        .filter(messages::id.eq(hafen::store::id::bind(&a)))
        .select(messages::body_sealed)
        .first(&mut conn)
        .unwrap();
    diesel::update(messages::table.filter(messages::id.eq(hafen::store::id::bind(&b))))
        .set(messages::body_sealed.eq(sealed_a))
        .execute(&mut conn)
        .unwrap();
    let (status, read) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{b}"), &agent)
        .await;
    assert_eq!(status, 500, "{read}");
    assert!(!read.to_string().contains("geheim"), "{read}");
    let (status, read) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{a}"), &agent)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["body"], json!("geheim A"));
}

async fn a_destroyed_contact_key_erases_the_contact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let (_, stored) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &agent,
            &text_message("whatsapp", "+4915144444444", "vergänglich", None),
        )
        .await;
    let contact = stored["contact_id"].as_str().unwrap().to_string();
    let id = stored["id"].as_str().unwrap().to_string();
    let tenant_id = hafen::tenants::TenantId::parse(&tenant).unwrap();
    app.hafen
        .contacts
        .crypto_erase(&hafen::auth::Actor::System, &tenant_id, &contact)
        .await
        .unwrap();
    let mut conn = app.db.connect();
    let keys: i64 = contact_keys::table
        .filter(contact_keys::contact_id.eq(hafen::store::id::bind(&contact)))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(keys, 0, "the only copy of the key is gone");
    let (status, message) = app
        .get(&format!("/v1/tenants/{tenant}/messages/{id}"), &agent)
        .await;
    assert_eq!(status, 200);
    assert_eq!(message["erased"], json!(true));
    assert_eq!(message["body"], json!(null));
    let (_, c) = app
        .get(&format!("/v1/tenants/{tenant}/contacts/{contact}"), &agent)
        .await;
    assert_eq!(c["erased"], json!(true));
    assert_eq!(c["address"], json!(null));
    // New messages from the same number start a new contact with a new key.
    let (status, again) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &agent,
            &text_message("whatsapp", "+4915144444444", "neu", None),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["contact_id"], json!(contact));
}

/// A transient conflict the database resolved by rolling the write back (a deadlock, a
/// serialization failure), as diesel reports it.
fn conflict() -> hafen::store::StoreError {
    hafen::store::StoreError::Query(diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::Unknown,
        Box::new("deadlock detected".to_string()),
    ))
}

/// A write that meets a conflict runs again in a later group, up to the limit; one that never
/// gets through is refused as busy (503 with Retry-After), never as an internal error, and the
/// writes beside it commit.
async fn a_write_that_keeps_conflicting_is_refused_as_busy(backend: Backend) {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let store = app.hafen.store().clone();
    let before = store.group_stats();

    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let refused = store
        .write(move |_| -> Result<(), _> {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(conflict())
        })
        .await;
    assert!(
        matches!(
            refused,
            Err(hafen::store::StoreError::Contended { attempts: 5 })
        ),
        "{refused:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), hafen::store::writer::ATTEMPTS);
    let error = hafen::error::Error::from(refused.unwrap_err());
    assert!(matches!(error, hafen::error::Error::Busy(_)), "{error:?}");

    // Twice in conflict, then through: the caller hears only the success, and the row is there.
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let t = tenant.clone();
    let renamed = store
        .write(move |conn| {
            if counted.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(conflict());
            }
            use hafen::store::schema::tenants;
            Ok(
                diesel::update(tenants::table.filter(tenants::id.eq(hafen::store::id::bind(&t))))
                    .set(tenants::name.eq("Muster AG"))
                    .execute(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(renamed, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(tenant_name(&app, &tenant), "Muster AG");
    let after = store.group_stats();
    assert_eq!(after.retries - before.retries, 4 + 2);

    // Retention's writes beside the writer (PostgreSQL) are run again the same way.
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let apart = store
        .write_apart(move |_| -> Result<(), _> {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(conflict())
        })
        .await;
    assert!(
        matches!(apart, Err(hafen::store::StoreError::Contended { .. })),
        "{apart:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), hafen::store::writer::ATTEMPTS);
    let _ = app.stop().await;
}

/// A real deadlock between a writer group and another transaction on the same database (another
/// instance, a retention batch): PostgreSQL rolls the write back, the writer runs it again
/// once the other transaction has committed, and the caller hears success.
async fn deadlock_with_another_transaction(backend: Backend) {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{mpsc, Arc, Mutex};
    let app = TestApp::spawn(backend).await;
    let first = app.create_tenant("Erste GmbH").await;
    let second = app.create_tenant("Zweite GmbH").await;
    let store = app.hafen.store().clone();
    let before = store.group_stats();

    // The other transaction holds the second tenant's row and, once the writer holds the
    // first's, asks for it. Its long deadlock_timeout makes the writer the one PostgreSQL
    // rolls back.
    let (have_first, writer_has_first) = mpsc::channel::<()>();
    let (holding, other_holds) = mpsc::channel::<()>();
    let mut other = app.db.connect();
    let (a, b) = (first.clone(), second.clone());
    let other_side = std::thread::spawn(move || {
        use diesel::connection::SimpleConnection;
        other
            .batch_execute(&format!(
                "SET deadlock_timeout = '20s'; BEGIN; \
                 UPDATE tenants SET name = 'Zweite AG' WHERE id = '{b}'"
            ))
            .unwrap();
        holding.send(()).unwrap();
        writer_has_first.recv().unwrap();
        other
            .batch_execute(&format!(
                "UPDATE tenants SET name = 'Erste AG' WHERE id = '{a}'; COMMIT"
            ))
            .unwrap();
    });
    other_holds.recv().unwrap();

    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let have_first = Arc::new(Mutex::new(have_first));
    let (a, b) = (first.clone(), second.clone());
    let written = store
        .write(move |conn| {
            use hafen::store::schema::tenants;
            counted.fetch_add(1, Ordering::SeqCst);
            diesel::update(tenants::table.filter(tenants::id.eq(hafen::store::id::bind(&a))))
                .set(tenants::name.eq("Erste KG"))
                .execute(conn)?;
            let _ = have_first.lock().unwrap().send(());
            Ok(
                diesel::update(tenants::table.filter(tenants::id.eq(hafen::store::id::bind(&b))))
                    .set(tenants::name.eq("Zweite KG"))
                    .execute(conn)?,
            )
        })
        .await;
    other_side.join().unwrap();
    assert_eq!(
        written.unwrap(),
        1,
        "the write went through after the deadlock"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "rolled back once, run again once"
    );
    assert!(store.group_stats().retries > before.retries);
    // The writer's second run came after the other transaction: its names stand.
    assert_eq!(tenant_name(&app, &first), "Erste KG");
    assert_eq!(tenant_name(&app, &second), "Zweite KG");
    let _ = app.stop().await;
}

/// Holds the writer (of a one-writer store) until `release` is sent; returns once it holds.
async fn hold_the_writer(
    store: &hafen::store::Store,
) -> (
    std::sync::mpsc::Sender<()>,
    tokio::task::JoinHandle<Result<(), hafen::store::StoreError>>,
) {
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let mut started_tx = Some(started_tx);
    let store = store.clone();
    let blocker = tokio::spawn(async move {
        store
            .write(move |_| {
                if let Some(tx) = started_tx.take() {
                    let _ = tx.send(());
                }
                hold.recv_timeout(std::time::Duration::from_secs(30)).ok();
                Ok(())
            })
            .await
    });
    started.await.unwrap();
    (release, blocker)
}

fn audit_actions(app: &TestApp, prefix: &str) -> Vec<String> {
    let mut conn = app.db.connect();
    audit_log::table
        .filter(audit_log::action.like(format!("{prefix}%")))
        .order(audit_log::seq.asc())
        .select(audit_log::action)
        .load(&mut conn)
        .unwrap()
}

/// A write's audit entries join the chain at its group's end; a write of the same group that
/// fails (its savepoint rolled back) leaves no entry behind, and the chain stays whole.
async fn a_failed_write_takes_its_audit_entries_with_it(backend: Backend) {
    use hafen::audit::{append, AuditEvent};
    let app = TestApp::spawn_configured(backend, |c| c.db_writers = 1).await;
    let store = app.hafen.store().clone();
    let at = app.hafen.clock().now();
    let (release, blocker) = hold_the_writer(&store).await;
    let write = |action: &'static str, fail: bool| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |conn| {
                    append(
                        conn,
                        at,
                        AuditEvent::new(&hafen::auth::Actor::System, action),
                    )?;
                    if fail {
                        return Err(conflict_free_failure());
                    }
                    append(
                        conn,
                        at,
                        AuditEvent::new(&hafen::auth::Actor::System, "test.second"),
                    )
                })
                .await
        })
    };
    let kept = write("test.kept", false);
    let dropped = write("test.dropped", true);
    let last = write("test.last", false);
    for _ in 0..2000 {
        if store.queued_writes() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Queued behind the one writer, they (and any background write) form its next group.
    assert!(
        store.queued_writes() >= 3,
        "the writes wait behind the held writer"
    );
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    kept.await.unwrap().unwrap();
    assert!(dropped.await.unwrap().is_err());
    last.await.unwrap().unwrap();
    let mut actions = audit_actions(&app, "test.");
    actions.sort();
    assert_eq!(
        actions,
        ["test.kept", "test.last", "test.second", "test.second"],
        "the failed write's entry went with it"
    );
    let report = app.hafen.audit.verify_chain().await.unwrap();
    assert!(report.intact(), "{report}");
    let _ = app.stop().await;
}

/// How deep in transactions a write runs: 1 directly in its group's transaction, 2 in a
/// savepoint of it.
fn transaction_depth(conn: &mut hafen::store::DbConn) -> u32 {
    use diesel::connection::TransactionManager;
    type Manager = <hafen::store::DbConn as diesel::Connection>::TransactionManager;
    Manager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .unwrap()
        .map_or(0, |d| d.get())
}

/// On SQLite the first write of a group needs no savepoint (nothing ran before it): it runs
/// directly in the transaction, the others in savepoints. When that first write fails -- here
/// after it changed a row, appended to the audit chain and met a database error -- the
/// transaction is rolled back and begun again for the others: they commit, and nothing of the
/// failed write remains. A long write (a retention batch) goes first in its group. PostgreSQL
/// runs every write in a savepoint (there the error aborts the transaction, and a write that
/// caught it would take the others down with it): the same outcome, one transaction.
async fn the_first_write_of_a_group_runs_without_a_savepoint(backend: Backend) {
    use hafen::audit::{append, AuditEvent};
    use hafen::store::schema::tenants;
    use std::sync::{Arc, Mutex};
    let app = TestApp::spawn_configured(backend, |c| c.db_writers = 1).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let store = app.hafen.store().clone();
    let at = app.hafen.clock().now();
    let depths: Arc<Mutex<Vec<(&'static str, u32)>>> = Arc::default();
    // Where the first write of a group runs: 1 in the transaction, 2 in a savepoint.
    let first_depth = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    };
    // Each write records its depth, appends an audit entry and renames the tenant; `fail` then
    // runs a statement the database refuses.
    let write = |name: &'static str, fail: bool| {
        let (store, depths, t) = (store.clone(), depths.clone(), tenant.clone());
        tokio::spawn(async move {
            store
                .write(move |conn| {
                    depths.lock().unwrap().push((name, transaction_depth(conn)));
                    append(conn, at, AuditEvent::new(&hafen::auth::Actor::System, name))?;
                    diesel::update(
                        tenants::table.filter(tenants::id.eq(hafen::store::id::bind(&t))),
                    )
                    .set(tenants::name.eq(name))
                    .execute(conn)?;
                    if fail {
                        diesel::sql_query("INSERT INTO tenants (id) VALUES (NULL)")
                            .execute(conn)?;
                    }
                    Ok(())
                })
                .await
        })
    };
    let queued = |n: usize| {
        let store = store.clone();
        async move {
            for _ in 0..2000 {
                if store.queued_writes() >= n {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            panic!("{n} writes did not queue");
        }
    };

    // A group whose first write fails.
    let before = store.group_stats();
    let (release, blocker) = hold_the_writer(&store).await;
    let failing = write("test.failing", true);
    queued(1).await;
    let kept = write("test.kept", false);
    queued(2).await;
    let last = write("test.last", false);
    queued(3).await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    assert!(failing.await.unwrap().is_err(), "the database refused it");
    kept.await.unwrap().unwrap();
    last.await.unwrap().unwrap();
    let after = store.group_stats();
    assert_eq!(
        after.groups - before.groups,
        2,
        "the held one, then the three"
    );
    assert_eq!(
        std::mem::take(&mut *depths.lock().unwrap()),
        [
            ("test.failing", first_depth),
            ("test.kept", 2),
            ("test.last", 2)
        ],
        "SQLite: the first ran bare; after its rollback the others ran in savepoints"
    );
    assert_eq!(tenant_name(&app, &tenant), "test.last");
    assert_eq!(
        audit_actions(&app, "test."),
        ["test.kept", "test.last"],
        "the failed write's entry went with its transaction"
    );
    assert!(app.hafen.audit.verify_chain().await.unwrap().intact());

    // A group whose first write commits: it ran bare, the next in a savepoint.
    let before = store.group_stats();
    let (release, blocker) = hold_the_writer(&store).await;
    let first = write("test.first", false);
    queued(1).await;
    let second = write("test.second", false);
    queued(2).await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(
        std::mem::take(&mut *depths.lock().unwrap()),
        [("test.first", first_depth), ("test.second", 2)]
    );
    let after = store.group_stats();
    // SQLite: the blocker, alone in its group, and the first of the next one.
    let bare = if backend == Backend::Sqlite { 2 } else { 0 };
    assert_eq!(after.bare - before.bare, bare);
    assert_eq!(tenant_name(&app, &tenant), "test.second");

    // A long write (a retention batch, `write_apart`) queued behind another goes first in the
    // group on SQLite, without a savepoint; on PostgreSQL it runs in a transaction of its own
    // beside the writer, without waiting for it.
    let (release, blocker) = hold_the_writer(&store).await;
    let normal = write("test.normal", false);
    queued(1).await;
    let long = {
        let (store, depths) = (store.clone(), depths.clone());
        tokio::spawn(async move {
            store
                .write_apart(move |conn| {
                    depths
                        .lock()
                        .unwrap()
                        .push(("test.long", transaction_depth(conn)));
                    Ok(())
                })
                .await
        })
    };
    let long = if backend == Backend::Sqlite {
        queued(2).await;
        Some(long)
    } else {
        long.await.unwrap().unwrap();
        None
    };
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    normal.await.unwrap().unwrap();
    if let Some(long) = long {
        long.await.unwrap().unwrap();
        assert_eq!(
            std::mem::take(&mut *depths.lock().unwrap()),
            [("test.long", 1), ("test.normal", 2)]
        );
    } else {
        assert_eq!(
            std::mem::take(&mut *depths.lock().unwrap()),
            [("test.long", 1), ("test.normal", 2)]
        );
    }

    // A write alone that fails: nothing of it stays, and the writer goes on.
    let alone = write("test.alone", true).await.unwrap();
    assert!(alone.is_err());
    assert_eq!(tenant_name(&app, &tenant), "test.normal");
    assert!(!audit_actions(&app, "test.").contains(&"test.alone".to_string()));
    write("test.after", false).await.unwrap().unwrap();
    assert_eq!(tenant_name(&app, &tenant), "test.after");
    assert!(app.hafen.audit.verify_chain().await.unwrap().intact());
    let _ = app.stop().await;
}

/// SQLite's WAL is copied back into the database file by a thread of its own, not by the
/// writer between two groups: the writer's own checkpoint waits for a WAL ten times SQLite's
/// default (a backstop that keeps the WAL from growing without end under unbroken load), and
/// what the writes put into the WAL is copied back without the writer. PostgreSQL has no WAL
/// of this kind and no such thread.
async fn sqlite_copies_its_wal_back_beside_the_writer(backend: Backend) {
    #[derive(QueryableByName)]
    struct Pages {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        wal_autocheckpoint: i32,
    }
    let app = TestApp::spawn(backend).await;
    let store = app.hafen.store().clone();
    if backend == Backend::Postgres {
        assert_eq!(store.checkpoint_stats(), None);
        return;
    }
    let writer_pages = store
        .write(|conn| Ok(diesel::sql_query("PRAGMA wal_autocheckpoint").get_result::<Pages>(conn)?))
        .await
        .unwrap()
        .wal_autocheckpoint;
    assert_eq!(
        writer_pages,
        hafen::store::checkpoint::WRITER_BACKSTOP_PAGES as i32
    );

    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    for i in 0..20 {
        let messages: Vec<_> = (0..50)
            .map(|j| {
                let address = format!("+4915140{i:02}{j:04}");
                text_message("whatsapp", &address, &format!("{i}-{j}"), None)
            })
            .collect();
        let path = format!("/v1/tenants/{tenant}/messages");
        let (status, body) = app
            .post(&path, &agent, &json!({ "messages": messages }))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // Written since the thread's last run, then copied back by one of its next ones: a run
    // after the writes, which found them in the WAL (it starts over only at a write) and
    // copied all of it back.
    let posted = store.checkpoint_stats().unwrap().runs;
    let mut copied = None;
    for _ in 0..400 {
        let s = store.checkpoint_stats().unwrap();
        if s.runs > posted && s.wal_pages > 0 && s.copied_pages == s.wal_pages {
            copied = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let copied = copied.expect("the checkpoint thread copied the WAL back");
    assert!(
        copied.wal_pages < hafen::store::checkpoint::WRITER_BACKSTOP_PAGES as i64,
        "below the writer's backstop: the thread did it ({copied:?})"
    );
    let _ = app.stop().await;
}

fn conflict_free_failure() -> hafen::store::StoreError {
    hafen::store::StoreError::from(hafen::error::Error::Conflict("this write fails".into()))
}

/// PostgreSQL's writers commit groups side by side: a write finishes while another writer's
/// group is still open (one writer would make it wait), and writes from all of them land in
/// one unbroken audit chain.
async fn several_writers(backend: Backend) {
    use hafen::audit::{append, AuditEvent};
    let app = TestApp::spawn_configured(backend, |c| c.db_writers = 4).await;
    let store = app.hafen.store().clone();
    let at = app.hafen.clock().now();
    let (release, blocker) = hold_the_writer(&store).await;
    let quick = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.write(move |conn| {
            append(
                conn,
                at,
                AuditEvent::new(&hafen::auth::Actor::System, "test.beside"),
            )
        }),
    )
    .await;
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    quick
        .expect("a write committed while another writer's group was open")
        .unwrap();

    let mut writes = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            store
                .write(move |conn| {
                    append(
                        conn,
                        at,
                        AuditEvent::new(&hafen::auth::Actor::System, "test.parallel")
                            .object("n", i.to_string()),
                    )
                })
                .await
        }));
    }
    for w in writes {
        w.await.unwrap().unwrap();
    }
    assert_eq!(audit_actions(&app, "test.parallel").len(), 200);
    let report = app.hafen.audit.verify_chain().await.unwrap();
    assert!(report.intact(), "{report}");
    assert_eq!(report.verified as i64, app.counts().audit);
    let _ = app.stop().await;
}

fn tenant_name(app: &TestApp, id: &str) -> String {
    use hafen::store::schema::tenants;
    tenants::table
        .filter(tenants::id.eq(hafen::store::id::bind(id)))
        .select(tenants::name)
        .first(&mut app.db.connect())
        .unwrap()
}

//! Retention: rules take effect only after their dry-run, every start point deletes on time
//! (with the injected clock), holds block deletion, restriction hides data, the preview
//! matches the run exactly, shredded data stays unreadable after a restore, certificates
//! chain, and only one instance sweeps at a time.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{text_message, Backend, TestApp};

both_backends!(
    rules_take_effect_only_after_their_preview_and_keep_every_version,
    a_second_admin_must_approve_when_configured,
    every_start_point_deletes_on_time,
    end_of_calendar_year_consent_withdrawal_and_unused_contacts,
    holds_block_deletion_until_released,
    restriction_hides_data_from_normal_reads,
    the_preview_lists_exactly_what_the_run_deletes,
    shredded_data_stays_unreadable_after_restoring_old_rows,
    certificates_chain_export_and_reveal_tampering,
    bad_retention_input_is_refused_and_changes_nothing,
    old_audit_entries_are_pruned_and_the_chain_still_verifies,
    one_person_cannot_delete_a_tenants_messages_at_once,
    the_space_a_run_frees_comes_back_without_waiting,
    whole_expired_months_are_shredded_first_only_when_nothing_under_them_is_kept,
    a_run_analyzes_tables_without_statistics_first,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shredded_month_is_unreadable_everywhere_while_its_rows_are_still_deleted() {
    if crate::support::postgres_available() {
        shredded_month_unreadable_before_its_rows_go(Backend::Postgres).await
    }
}

pub fn rule(category: &str, channel: Option<&str>, start: &str, period: &str) -> Value {
    let mut r = json!({
        "category": category, "start": start, "period": period,
        "legal_basis": "Test", "deletion_class": "LK 1",
    });
    if let Some(c) = channel {
        r["channel"] = json!(c);
    }
    r
}

/// Every category kept unless a test names it: the defaults would otherwise delete old data.
pub fn keep_all_but(named: &[Value]) -> Vec<Value> {
    let mut rules: Vec<Value> = named.to_vec();
    for category in [
        "contacts",
        "message_content",
        "attachments",
        "message_metadata",
        "delivery_statuses",
        "webhook_logs",
        "consent_requests",
        "consent_proofs",
    ] {
        let covered = named
            .iter()
            .any(|r| r["category"] == json!(category) && r.get("channel").is_none());
        if !covered {
            let start = if category == "consent_proofs" {
                "consent_withdrawal"
            } else {
                "collection"
            };
            rules.push(rule(category, None, start, "keep"));
        }
    }
    rules
}

/// Stores one message at `at`; returns (message id, contact id).
pub async fn message_at(
    app: &TestApp,
    tenant: &str,
    channel: &str,
    address: &str,
    at: &str,
) -> (String, String) {
    let mut m = text_message(channel, address, "Rechnung anbei", None);
    m["occurred_at"] = json!(at);
    let (status, body) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &app.admin_token,
            &m,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_string(),
        body["contact_id"].as_str().unwrap().to_string(),
    )
}

/// Previews and activates `rules` as `token`; returns the version.
pub async fn activate(app: &TestApp, tenant: &str, token: &str, rules: &[Value]) -> Value {
    let (status, preview) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/preview"),
            token,
            &json!({ "rules": rules }),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let (status, version) = app
        .put(
            &format!("/v1/tenants/{tenant}/retention/rules"),
            token,
            &json!({ "rules": rules, "preview_id": preview["preview_id"] }),
        )
        .await;
    assert_eq!(status, 201, "{version}");
    version
}

/// Runs retention for the tenant now; returns the certificate.
pub async fn run(app: &TestApp, tenant: &str) -> Value {
    let (status, report) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/runs"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ran"], json!(true));
    report["tenants"][0]["certificate"].clone()
}

async fn message_status(app: &TestApp, tenant: &str, id: &str) -> u16 {
    app.get(
        &format!("/v1/tenants/{tenant}/messages/{id}"),
        &app.admin_token,
    )
    .await
    .0
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

async fn rules_take_effect_only_after_their_preview_and_keep_every_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let admin = app.token(&tenant, "tenant_admin").await;
    let base = format!("/v1/tenants/{tenant}/retention");
    let a = keep_all_but(&[rule("message_metadata", None, "collection", "P1Y")]);
    let b = keep_all_but(&[rule("message_metadata", None, "collection", "P2Y")]);

    // No preview, or the preview of other rules: refused, nothing recorded.
    let (status, problem) = app
        .put(
            &format!("{base}/rules"),
            &admin,
            &json!({"rules": a, "preview_id": "0190a0a0-0000-7000-8000-000000000000"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("preview"),
        "{problem}"
    );
    let (_, preview_b) = app
        .post(&format!("{base}/preview"), &admin, &json!({"rules": b}))
        .await;
    let (status, _) = app
        .put(
            &format!("{base}/rules"),
            &admin,
            &json!({"rules": a, "preview_id": preview_b["preview_id"]}),
        )
        .await;
    assert_eq!(status, 422, "a preview of other rules does not count");
    let (_, versions) = app.get(&format!("{base}/rules/versions"), &admin).await;
    assert_eq!(versions, json!([]));
    let (_, in_force) = app.get(&format!("{base}/rules"), &admin).await;
    assert_eq!(in_force["active"], Value::Null, "the defaults apply");
    assert_eq!(in_force["effective"], in_force["defaults"]);

    // A preview expires.
    let (_, stale) = app
        .post(&format!("{base}/preview"), &admin, &json!({"rules": a}))
        .await;
    app.clock.advance(chrono::Duration::hours(25));
    let (status, _) = app
        .put(
            &format!("{base}/rules"),
            &admin,
            &json!({"rules": a, "preview_id": stale["preview_id"]}),
        )
        .await;
    assert_eq!(status, 422, "an old preview must be viewed again");

    let v1 = activate(&app, &tenant, &admin, &a).await;
    assert_eq!(
        (v1["version"].clone(), v1["state"].clone()),
        (json!(1), json!("active"))
    );
    let v2 = activate(&app, &tenant, &admin, &b).await;
    assert_eq!(v2["version"], json!(2));
    let (_, versions) = app.get(&format!("{base}/rules/versions"), &admin).await;
    let states: Vec<(i64, &str)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, vec![(2, "active"), (1, "superseded")]);
    assert!(versions[0]["proposed_by"]
        .as_str()
        .unwrap()
        .contains("tenant_admin"));
    assert!(versions[1]["superseded_at"].is_string());
    let (_, in_force) = app.get(&format!("{base}/rules"), &admin).await;
    assert_eq!(in_force["active"]["version"], json!(2));
    let metadata = in_force["effective"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["category"] == json!("message_metadata"))
        .unwrap()
        .clone();
    assert_eq!(metadata["period"], json!("P2Y"));

    // Roles: the DPO may look and preview but not change; agents neither; other tenants 404.
    let dpo = app.token(&tenant, "dpo").await;
    let agent = app.token(&tenant, "agent").await;
    assert_eq!(
        app.post(&format!("{base}/preview"), &dpo, &json!({"rules": a}))
            .await
            .0,
        200
    );
    let (_, p) = app
        .post(&format!("{base}/preview"), &dpo, &json!({"rules": a}))
        .await;
    assert_eq!(
        app.put(
            &format!("{base}/rules"),
            &dpo,
            &json!({"rules": a, "preview_id": p["preview_id"]})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.post(&format!("{base}/preview"), &agent, &json!({"rules": a}))
            .await
            .0,
        403
    );
    let other = app.create_tenant("Andere GmbH").await;
    let foreign = app.token(&other, "tenant_admin").await;
    assert_eq!(app.get(&format!("{base}/rules"), &foreign).await.0, 404);
    // The change is in the audit log.
    let mut conn = app.db.connect();
    use hafen::store::schema::audit_log;
    let actions: Vec<String> = audit_log::table
        .filter(audit_log::action.like("retention.rules.%"))
        .select(audit_log::action)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        actions,
        vec!["retention.rules.activate", "retention.rules.activate"]
    );
}

async fn a_second_admin_must_approve_when_configured(backend: Backend) {
    let app = TestApp::spawn_configured(backend, |c| c.retention_require_approval = true).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let first = app.token(&tenant, "tenant_admin").await;
    let second = app.token(&tenant, "tenant_admin").await;
    let rules = keep_all_but(&[rule("delivery_statuses", None, "collection", "P30D")]);
    let proposed = activate(&app, &tenant, &first, &rules).await;
    assert_eq!(proposed["state"], json!("pending_approval"));
    let base = format!("/v1/tenants/{tenant}/retention/rules");
    let (_, in_force) = app.get(&base, &first).await;
    assert_eq!(
        in_force["active"],
        Value::Null,
        "pending rules do not apply"
    );
    assert_eq!(in_force["pending"][0]["version"], json!(1));
    let (status, problem) = app
        .post(&format!("{base}/versions/1/approve"), &first, &json!({}))
        .await;
    assert_eq!(status, 403, "{problem}");
    let (status, approved) = app
        .post(&format!("{base}/versions/1/approve"), &second, &json!({}))
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], json!("active"));
    assert!(approved["decided_by"].as_str().is_some());
    assert_eq!(
        app.post(&format!("{base}/versions/1/approve"), &second, &json!({}))
            .await
            .0,
        409,
        "decided once"
    );
    // A rejected proposal never applies.
    let other = keep_all_but(&[rule("delivery_statuses", None, "collection", "P10D")]);
    activate(&app, &tenant, &first, &other).await;
    let (_, rejected) = app
        .post(&format!("{base}/versions/2/reject"), &second, &json!({}))
        .await;
    assert_eq!(rejected["state"], json!("rejected"));
    let (_, in_force) = app.get(&base, &first).await;
    assert_eq!(in_force["active"]["version"], json!(1));
}

async fn every_start_point_deletes_on_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let rules = keep_all_but(&[
        rule("message_metadata", Some("whatsapp"), "collection", "P1Y"),
        rule(
            "message_metadata",
            Some("telegram"),
            "conversation_end",
            "P30D",
        ),
        rule(
            "message_metadata",
            Some("messenger"),
            "relationship_end",
            "P90D",
        ),
        rule("message_metadata", None, "collection", "keep"),
    ]);
    activate(&app, &tenant, &app.admin_token, &rules).await;
    // Collection: one year after the message.
    let (wa_old, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000001",
        "2025-11-01T10:00:00Z",
    )
    .await;
    let (wa_new, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000001",
        "2026-01-01T10:00:00Z",
    )
    .await;
    // End of conversation: 30 days after the contact's last message on the channel.
    let (tg_ended_1, _) = message_at(
        &app,
        &tenant,
        "telegram",
        "100000001",
        "2026-09-01T10:00:00Z",
    )
    .await;
    let (tg_ended_2, _) = message_at(
        &app,
        &tenant,
        "telegram",
        "100000001",
        "2026-10-01T10:00:00Z",
    )
    .await;
    let (tg_going, _) = message_at(
        &app,
        &tenant,
        "telegram",
        "100000002",
        "2026-09-01T10:00:00Z",
    )
    .await;
    message_at(
        &app,
        &tenant,
        "telegram",
        "100000002",
        "2026-11-20T10:00:00Z",
    )
    .await;
    // End of relationship: 90 days after the contact was closed; an open one stays.
    let (fb_closed, closed_contact) = message_at(
        &app,
        &tenant,
        "messenger",
        "200000001",
        "2026-01-01T10:00:00Z",
    )
    .await;
    let (fb_open, _) = message_at(
        &app,
        &tenant,
        "messenger",
        "200000002",
        "2026-01-01T10:00:00Z",
    )
    .await;
    // Another channel follows the tenant-wide rule: keep.
    let (other, _) = message_at(
        &app,
        &tenant,
        "sms",
        "+4915100000003",
        "2010-01-01T10:00:00Z",
    )
    .await;
    let (status, contact) = app
        .put(
            &format!("/v1/tenants/{tenant}/contacts/{closed_contact}/relationship"),
            &app.admin_token,
            &json!({"ended_at": "2026-06-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 200, "{contact}");
    assert_eq!(
        contact["relationship_ended_at"],
        json!("2026-06-01T00:00:00Z")
    );

    let certificate = run(&app, &tenant).await;
    assert_eq!(certificate["state"], json!("completed"), "{certificate}");
    assert_eq!(
        certificate["counts"]["message_metadata"],
        json!(4),
        "{certificate}"
    );
    for gone in [&wa_old, &tg_ended_1, &tg_ended_2, &fb_closed] {
        assert_eq!(
            message_status(&app, &tenant, gone).await,
            404,
            "{gone} deleted"
        );
    }
    for kept in [&wa_new, &tg_going, &fb_open, &other] {
        assert_eq!(
            message_status(&app, &tenant, kept).await,
            200,
            "{kept} kept"
        );
    }
    // The Telegram chat goes on: its old messages stay with it. A year after the first run
    // the rest of WhatsApp is due.
    app.clock.set(at("2026-12-20T10:00:00Z"));
    message_at(
        &app,
        &tenant,
        "telegram",
        "100000002",
        "2026-12-20T10:00:00Z",
    )
    .await;
    app.clock.set(at("2027-01-02T00:00:00Z"));
    let certificate = run(&app, &tenant).await;
    assert_eq!(
        certificate["counts"]["message_metadata"],
        json!(1),
        "{certificate}"
    );
    assert_eq!(message_status(&app, &tenant, &wa_new).await, 404);
    assert_eq!(message_status(&app, &tenant, &tg_going).await, 200);
}

async fn end_of_calendar_year_consent_withdrawal_and_unused_contacts(backend: Backend) {
    use hafen::store::schema::{consent_ledger, consent_texts, consents, contacts};
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let mut content = rule("message_content", None, "collection", "P6Y");
    content["end_of_year"] = json!(true);
    let rules = keep_all_but(&[
        content,
        rule("consent_proofs", None, "consent_withdrawal", "P3Y"),
        rule("consent_requests", None, "collection", "PT48H"),
        rule("contacts", None, "conversation_end", "P1Y"),
    ]);
    activate(&app, &tenant, &app.admin_token, &rules).await;
    // HGB: six years from the end of 2019 end on 1 January 2026: due now. 2020's is not.
    let (due, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000011",
        "2019-03-15T10:00:00Z",
    )
    .await;
    let (kept, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000011",
        "2020-01-01T00:00:00Z",
    )
    .await;

    // Consents: a proof withdrawn 4 years ago (due), one withdrawn last year (kept), a request
    // never confirmed 3 days ago (due), one from an hour ago (kept).
    let (_, purpose) = app
        .post(
            &format!("/v1/tenants/{tenant}/consent-purposes"),
            &app.admin_token,
            &json!({"name": "Newsletter", "texts": {"de": "Ja zum Newsletter"}}),
        )
        .await;
    let purpose = purpose["id"].as_str().unwrap().to_string();
    let mut conn = app.db.connect();
    let text_id: String = consent_texts::table
        .select(consent_texts::id)
        .first(&mut conn)
        .unwrap();
    let micros = |s: &str| hafen::clock::to_micros(at(s));
    let mut consent_ids = Vec::new();
    for (i, (state, requested, withdrawn)) in [
        (
            "withdrawn",
            "2021-01-10T00:00:00Z",
            Some("2022-06-01T00:00:00Z"),
        ),
        (
            "withdrawn",
            "2024-01-10T00:00:00Z",
            Some("2025-06-01T00:00:00Z"),
        ),
        ("requested", "2026-11-23T12:00:00Z", None),
        ("requested", "2026-11-26T11:00:00Z", None),
    ]
    .into_iter()
    .enumerate()
    {
        let (_, contact) = message_at(
            &app,
            &tenant,
            "telegram",
            &format!("30000000{i}"),
            "2026-11-01T00:00:00Z",
        )
        .await;
        let row = hafen::consent::ConsentRow {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.clone(),
            contact_id: contact.clone(),
            purpose_id: purpose.clone(),
            state: state.into(),
            text_id: text_id.clone(),
            requested_at: micros(requested),
            expires_at: None,
            confirmed_at: withdrawn.map(|_| micros(requested) + 1),
            withdrawn_at: withdrawn.map(micros),
            last_used_at: None,
            updated_at: micros(requested),
        };
        diesel::insert_into(consents::table)
            .values(row.clone())
            .execute(&mut conn)
            .unwrap();
        hafen::consent::ledger::append(
            &mut conn,
            hafen::consent::ledger::LedgerEvent {
                tenant_id: tenant.clone(),
                consent_id: row.id.clone(),
                contact_id: contact,
                purpose_id: purpose.clone(),
                event: "requested",
                at: at(requested),
                source: "api".into(),
                text_id: text_id.clone(),
                text_hash: vec![1; 32],
                message_id: None,
                evidence_sealed: Some(vec![9; 40]),
            },
        )
        .unwrap();
        consent_ids.push(row.id);
    }
    // A contact nobody refers to any more, silent for two years: due. (Its message went.)
    let (old_message, lonely) = message_at(
        &app,
        &tenant,
        "messenger",
        "400000001",
        "2024-06-01T00:00:00Z",
    )
    .await;
    {
        use hafen::store::schema::messages;
        diesel::delete(
            messages::table.filter(messages::id.eq(hafen::store::id::bind(&old_message))),
        )
        .execute(&mut conn)
        .unwrap();
    }

    let certificate = run(&app, &tenant).await;
    let counts = &certificate["counts"];
    assert_eq!(counts["message_content"], json!(1), "{certificate}");
    assert_eq!(counts["consent_proofs"], json!(1), "{certificate}");
    assert_eq!(counts["consent_requests"], json!(1), "{certificate}");
    assert_eq!(counts["contacts"], json!(1), "{certificate}");
    assert!(certificate["keys_shredded"]
        .as_array()
        .unwrap()
        .contains(&json!(format!("contact:{lonely}"))));

    let (_, gone) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{due}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(gone["body"], Value::Null, "content deleted");
    assert!(gone["content_deleted_at"].is_string(), "{gone}");
    assert_eq!(
        gone["occurred_at"],
        json!("2019-03-15T10:00:00Z"),
        "metadata kept"
    );
    let (_, still) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{kept}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(still["body"], json!("Rechnung anbei"));
    let left: Vec<String> = consents::table
        .select(consents::id)
        .order(consents::requested_at)
        .load(&mut conn)
        .unwrap();
    assert_eq!(left, vec![consent_ids[1].clone(), consent_ids[3].clone()]);
    let redacted: Vec<(String, Option<Vec<u8>>)> = consent_ledger::table
        .filter(consent_ledger::redacted_at.is_not_null())
        .select((consent_ledger::consent_id, consent_ledger::evidence_sealed))
        .load(&mut conn)
        .unwrap();
    assert_eq!(redacted.len(), 2);
    assert!(redacted.iter().all(|(_, e)| e.is_none()), "evidence gone");
    let report = app.hafen.consent.verify_ledger().await.unwrap();
    assert!(
        report.broken.is_none(),
        "the ledger still verifies: {report}"
    );
    let n: i64 = contacts::table
        .filter(contacts::id.eq(hafen::store::id::bind(&lonely)))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 0);
    // On 1 January 2027 the 2020 message is due too.
    app.clock.set(at("2027-01-01T00:00:00Z"));
    let certificate = run(&app, &tenant).await;
    assert_eq!(
        certificate["counts"]["message_content"],
        json!(1),
        "{certificate}"
    );
}

async fn holds_block_deletion_until_released(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    activate(
        &app,
        &tenant,
        &app.admin_token,
        &keep_all_but(&[rule("message_metadata", None, "collection", "P1Y")]),
    )
    .await;
    let (a, held_contact) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000021",
        "2020-01-01T00:00:00Z",
    )
    .await;
    let (b, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000022",
        "2021-03-01T00:00:00Z",
    )
    .await;
    let (c, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000023",
        "2022-01-01T00:00:00Z",
    )
    .await;
    let holds = format!("/v1/tenants/{tenant}/legal-holds");
    let reason_marker = crate::support::marker("Klage");
    let (status, contact_hold) = app
        .post(
            &holds,
            &dpo,
            &json!({"contact_id": held_contact, "reason": reason_marker}),
        )
        .await;
    assert_eq!(status, 201, "{contact_hold}");
    assert_eq!(contact_hold["scope"], json!("contact"));
    let (status, range_hold) = app
        .post(
            &holds,
            &dpo,
            &json!({"data_from": "2021-01-01T00:00:00Z", "data_until": "2021-12-31T00:00:00Z", "reason": "Betriebsprüfung 2021"}),
        )
        .await;
    assert_eq!(status, 201, "{range_hold}");
    // A whole-tenant hold stops everything.
    let (_, tenant_hold) = app
        .post(
            &holds,
            &app.admin_token,
            &json!({"reason": "Datenpanne: Beweissicherung"}),
        )
        .await;
    let certificate = run(&app, &tenant).await;
    assert_eq!(certificate["counts"]["message_metadata"], json!(0));
    let (status, released) = app
        .post(
            &format!("{holds}/{}/release", tenant_hold["id"].as_str().unwrap()),
            &dpo,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["active"], json!(false));
    let certificate = run(&app, &tenant).await;
    assert_eq!(
        certificate["counts"]["message_metadata"],
        json!(1),
        "only the unheld one"
    );
    assert_eq!(message_status(&app, &tenant, &c).await, 404);
    assert_eq!(message_status(&app, &tenant, &a).await, 200);
    assert_eq!(message_status(&app, &tenant, &b).await, 200);
    // Releasing makes the data eligible again; a hold with an end lapses by itself.
    app.post(
        &format!("{holds}/{}/release", contact_hold["id"].as_str().unwrap()),
        &dpo,
        &json!({}),
    )
    .await;
    let certificate = run(&app, &tenant).await;
    assert_eq!(certificate["counts"]["message_metadata"], json!(1));
    assert_eq!(message_status(&app, &tenant, &a).await, 404);
    assert_eq!(message_status(&app, &tenant, &b).await, 200);
    let (_, list) = app.get(&holds, &dpo).await;
    let reasons: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"Betriebsprüfung 2021"),
        "reasons come back decrypted"
    );
    assert!(reasons.contains(&reason_marker.as_str()));
    let image = crate::storage::disk_image(&app);
    assert!(
        !crate::storage::contains(&image, &reason_marker),
        "hold reasons are sealed on disk"
    );
    assert_eq!(
        app.post(
            &format!("{holds}/{}/release", contact_hold["id"].as_str().unwrap()),
            &dpo,
            &json!({})
        )
        .await
        .0,
        409
    );
    let agent = app.token(&tenant, "agent").await;
    assert_eq!(
        app.post(&holds, &agent, &json!({"reason": "x"})).await.0,
        403
    );
}

async fn restriction_hides_data_from_normal_reads(backend: Backend) {
    use hafen::store::schema::audit_log;
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let agent = app.token(&tenant, "agent").await;
    let dpo = app.token(&tenant, "dpo").await;
    let (message, contact) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000031",
        "2026-11-20T10:00:00Z",
    )
    .await;
    let restriction = format!("/v1/tenants/{tenant}/contacts/{contact}/restriction");
    assert_eq!(
        app.post(&restriction, &agent, &json!({"reason": "Widerspruch"}))
            .await
            .0,
        403
    );
    let (status, view) = app
        .post(
            &restriction,
            &dpo,
            &json!({"reason": "§ 35 Abs. 3 BDSG: Aufbewahrungspflicht"}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["restricted"], json!(true));
    // Normal reads: refused or blanked, for everyone including admins and the DPO.
    for token in [&agent, &app.admin_token, &dpo] {
        assert_eq!(message_status_as(&app, &tenant, &message, token).await, 403);
        let (status, _) = app
            .get(
                &format!("/v1/tenants/{tenant}/contacts/{contact}/messages"),
                token,
            )
            .await;
        assert_eq!(status, 403);
        let (_, c) = app
            .get(&format!("/v1/tenants/{tenant}/contacts/{contact}"), token)
            .await;
        assert_eq!(
            (c["restricted"].clone(), c["address"].clone()),
            (json!(true), Value::Null)
        );
    }
    // The DPO's restricted export, naming an Art. 18(2) ground: readable and audited.
    let export = format!("/v1/tenants/{tenant}/contacts/{contact}/restricted");
    assert_eq!(
        app.get(&format!("{export}?ground=curiosity"), &dpo).await.0,
        422
    );
    assert_eq!(
        app.get(&format!("{export}?ground=legal_claims"), &agent)
            .await
            .0,
        403
    );
    assert_eq!(
        app.get(&format!("{export}?ground=legal_claims"), &app.admin_token)
            .await
            .0,
        403
    );
    let (status, data) = app
        .get(&format!("{export}?ground=legal_claims"), &dpo)
        .await;
    assert_eq!(status, 200, "{data}");
    assert_eq!(data["contact"]["address"], json!("4915100000031"));
    assert_eq!(
        data["messages"]["items"][0]["body"],
        json!("Rechnung anbei")
    );
    let mut conn = app.db.connect();
    let detail: Option<String> = audit_log::table
        .filter(audit_log::action.eq("contact.restricted.read"))
        .select(audit_log::detail)
        .first(&mut conn)
        .unwrap();
    assert!(detail.unwrap().contains("ground=legal_claims"));
    // Lifted: normal again.
    assert_eq!(app.delete(&restriction, &dpo).await.0, 200);
    assert_eq!(
        message_status_as(&app, &tenant, &message, &agent).await,
        200
    );
}

async fn message_status_as(app: &TestApp, tenant: &str, id: &str, token: &str) -> u16 {
    app.get(&format!("/v1/tenants/{tenant}/messages/{id}"), token)
        .await
        .0
}

async fn the_preview_lists_exactly_what_the_run_deletes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    for (i, day) in [
        "2024-01-05",
        "2024-02-07",
        "2024-02-09",
        "2025-11-01",
        "2026-11-25",
    ]
    .iter()
    .enumerate()
    {
        message_at(
            &app,
            &tenant,
            "whatsapp",
            &format!("+49151000004{i}"),
            &format!("{day}T08:00:00Z"),
        )
        .await;
        message_at(
            &app,
            &tenant,
            "telegram",
            &format!("50000000{i}"),
            &format!("{day}T09:00:00Z"),
        )
        .await;
    }
    let rules = keep_all_but(&[
        rule("message_content", None, "collection", "P400D"),
        rule("message_metadata", Some("telegram"), "collection", "P2Y"),
    ]);
    let (_, preview) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/preview"),
            &app.admin_token,
            &json!({"rules": rules}),
        )
        .await;
    let content = &preview["now"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == json!("message_content"))
        .unwrap()
        .clone();
    assert_eq!(content["count"], json!(6), "{preview}");
    assert_eq!(content["by_channel"], json!({"telegram": 3, "whatsapp": 3}));
    assert_eq!(content["by_month"], json!({"2024-01": 2, "2024-02": 4}));
    assert_eq!(content["contacts_affected"], json!(6));
    assert_eq!(content["oldest"], json!("2024-01-05T08:00:00Z"));
    assert_eq!(content["newest"], json!("2024-02-09T09:00:00Z"));
    let soon = preview["next_30_days"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == json!("message_content"))
        .unwrap()
        .clone();
    // 400 days after 1 November 2025 is 6 December 2026: within the next 30 days.
    assert_eq!(soon["count"], json!(2), "{preview}");
    assert_eq!(soon["by_month"], json!({"2025-11": 2}));
    let metadata = preview["now"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == json!("message_metadata"))
        .unwrap()
        .clone();
    assert_eq!(
        metadata["count"],
        json!(3),
        "telegram of early 2024 is over two years old"
    );
    assert_eq!(metadata["by_month"], json!({"2024-01": 1, "2024-02": 2}));
    let soon_meta = preview["next_30_days"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == json!("message_metadata"))
        .unwrap()
        .clone();
    assert_eq!(soon_meta["count"], json!(0));
    // Nothing was deleted by looking.
    assert_eq!(app.counts().messages, 10);
    let (status, _) = app
        .put(
            &format!("/v1/tenants/{tenant}/retention/rules"),
            &app.admin_token,
            &json!({"rules": rules, "preview_id": preview["preview_id"]}),
        )
        .await;
    assert_eq!(status, 201);
    let certificate = run(&app, &tenant).await;
    for category in preview["now"]["categories"].as_array().unwrap() {
        let name = category["category"].as_str().unwrap();
        assert_eq!(
            certificate["counts"][name], category["count"],
            "{name}: {certificate}"
        );
    }
    // The CLI's dry run says the same as the API's: nothing more is due now.
    let (_, dry) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/runs?dry_run=true"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(dry["tenants"][0]["forecast"]["total"], json!(0), "{dry}");
}

async fn shredded_data_stays_unreadable_after_restoring_old_rows(backend: Backend) {
    use hafen::store::schema::{messages, period_keys};
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    activate(
        &app,
        &tenant,
        &app.admin_token,
        &keep_all_but(&[rule("message_metadata", None, "collection", "P1Y")]),
    )
    .await;
    let (old, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000051",
        "2024-03-01T10:00:00Z",
    )
    .await;
    let (recent, _) = message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000051",
        "2026-11-01T10:00:00Z",
    )
    .await;
    // The "backup": the message rows as they are now (the data, without the keystore).
    let mut conn = app.db.connect();
    let backup: Vec<hafen::messages::MessageRow> = messages::table
        .select(hafen::messages::MessageRow::as_select())
        .load(&mut conn)
        .unwrap();
    assert_eq!(backup.len(), 2);
    let certificate = run(&app, &tenant).await;
    assert_eq!(certificate["counts"]["message_metadata"], json!(1));
    let shredded: Vec<&str> = certificate["keys_shredded"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k.as_str().and_then(|k| k.strip_prefix("period:")))
        .collect();
    assert_eq!(
        shredded.len(),
        1,
        "March 2024's period key went: {certificate}"
    );
    let destroyed: Option<Vec<u8>> = period_keys::table
        .filter(period_keys::id.eq(shredded[0]))
        .select(period_keys::wrapped_key)
        .first(&mut conn)
        .unwrap();
    assert!(destroyed.is_none(), "the wrapped key itself is gone");
    // Restore the old data rows next to the current keystore.
    for row in backup.into_iter().filter(|r| r.id == old) {
        diesel::insert_into(messages::table)
            .values(row)
            .execute(&mut conn)
            .unwrap();
    }
    let (status, view) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{old}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["shredded"], json!(true), "{view}");
    assert_eq!(view["body"], Value::Null);
    assert_eq!(view["erased"], json!(false));
    // The recent message, same contact, is unaffected.
    let (_, view) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{recent}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(view["body"], json!("Rechnung anbei"));
    assert_eq!(view["shredded"], json!(false));
}

async fn certificates_chain_export_and_reveal_tampering(backend: Backend) {
    use hafen::store::schema::retention_certificates;
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let dpo = app.token(&tenant, "dpo").await;
    activate(
        &app,
        &tenant,
        &app.admin_token,
        &keep_all_but(&[rule("message_metadata", None, "collection", "P1Y")]),
    )
    .await;
    message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000061",
        "2024-03-01T10:00:00Z",
    )
    .await;
    let first = run(&app, &tenant).await;
    // A run that died mid-way left its certificate "running": the next run closes it as
    // interrupted, in the chain, before it starts.
    {
        let mut conn = app.db.connect();
        diesel::insert_into(retention_certificates::table)
            .values((
                retention_certificates::id.eq("crashed-run"),
                retention_certificates::run_id.eq("crashed"),
                retention_certificates::tenant_id.eq(hafen::store::id::bind(&tenant)),
                retention_certificates::state.eq("running"),
                retention_certificates::rule_versions.eq("{}"),
                retention_certificates::started_at.eq(1_i64),
                retention_certificates::counts.eq("{\"message_metadata\":0}"),
                retention_certificates::ids_hash.eq(vec![0u8; 32]),
                retention_certificates::keys_shredded.eq("[]"),
                retention_certificates::errors.eq("[]"),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    let second = run(&app, &tenant).await;
    assert_eq!(first["counts"]["message_metadata"], json!(1));
    assert_eq!(second["counts"]["message_metadata"], json!(0));
    assert_eq!(second["seq"], json!(3), "the interrupted run took seq 2");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hafen_retention_deleted_items_total{category=\"message_metadata\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("hafen_retention_last_success_timestamp_seconds"));
    assert!(
        metrics.contains("hafen_retention_overdue_items{category=\"message_metadata\"} 0"),
        "a clean run leaves nothing overdue: {metrics}"
    );
    assert_eq!(first["rule_versions"], json!({"tenant_rules": 1}));
    assert_ne!(first["deleted_ids_sha256"], second["deleted_ids_sha256"]);
    let base = format!("/v1/tenants/{tenant}/retention/certificates");
    let (status, list) = app.get(&base, &dpo).await;
    assert_eq!(status, 200, "{list}");
    let states: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["interrupted", "completed", "completed"]);
    let (status, kind, csv) = app.get_bytes(&format!("{base}?format=csv"), &dpo).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.lines().next().unwrap().contains("message_metadata"));
    let (status, kind, pdf) = app.get_bytes(&format!("{base}?format=pdf"), &dpo).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    let text = crate::documents::check_pdf(&pdf);
    assert!(text.contains("Löschprotokoll"), "{text}");
    assert_eq!(app.get(&format!("{base}?format=xml"), &dpo).await.0, 422);
    let agent = app.token(&tenant, "agent").await;
    assert_eq!(app.get(&base, &agent).await.0, 403);
    assert!(app
        .hafen
        .retention
        .verify_certificates()
        .await
        .unwrap()
        .broken
        .is_none());
    // Someone lowers a count after the fact: the chain says so.
    let mut conn = app.db.connect();
    diesel::update(retention_certificates::table.filter(retention_certificates::seq.eq(1)))
        .set(retention_certificates::counts.eq("{\"message_metadata\":0}"))
        .execute(&mut conn)
        .unwrap();
    let report = app.hafen.retention.verify_certificates().await.unwrap();
    assert_eq!(report.broken.unwrap().seq, 1);
    let r = app
        .client
        .get(app.url(&base))
        .bearer_auth(&dpo)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-hafen-chain-intact"], "false");
}

async fn bad_retention_input_is_refused_and_changes_nothing(backend: Backend) {
    use hafen::store::schema::{legal_holds, retention_previews};
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let preview = format!("/v1/tenants/{tenant}/retention/preview");
    let forever = json!({"category": "message_content", "start": "collection", "legal_basis": "x", "period": ""});
    for (body, field) in [
        (json!({"rules": [forever]}), "rules[0].period"),
        (
            json!({"rules": [rule("message_content", None, "collection", "6 years")]}),
            "rules[0].period",
        ),
        (
            json!({"rules": [rule("audit_log", None, "collection", "P10Y")]}),
            "rules[0].category",
        ),
        (
            json!({"rules": [rule("consent_proofs", None, "collection", "P1Y")]}),
            "rules[0].start",
        ),
        (
            json!({"rules": [rule("webhook_logs", Some("whatsapp"), "collection", "P1Y")]}),
            "rules[0].channel",
        ),
        (
            json!({"rules": [rule("contacts", None, "collection", "P1Y"), rule("contacts", None, "collection", "P2Y")]}),
            "rules[1]",
        ),
        // A ground that keeps data against erasure names the provision, and has an end.
        (
            json!({"rules": [{"category": "message_content", "start": "collection", "period": "P6Y",
                "legal_basis": "Handelsbriefe", "ground": "statutory"}]}),
            "rules[0].norm",
        ),
        (
            json!({"rules": [{"category": "message_content", "start": "collection", "period": "P2Y",
                "legal_basis": "Rahmenvertrag", "ground": "contractual_or_bylaw", "norm": " "}]}),
            "rules[0].norm",
        ),
        (
            json!({"rules": [{"category": "message_content", "start": "collection", "period": "keep",
                "legal_basis": "Handelsbriefe", "ground": "statutory", "norm": "§ 257 HGB"}]}),
            "rules[0].period",
        ),
        (
            json!({"rules": [{"category": "message_content", "start": "collection", "period": "P1Y",
                "legal_basis": "x", "ground": "§ 35 BDSG"}]}),
            "rules[0].ground",
        ),
    ] {
        let (status, problem) = app.post(&preview, &app.admin_token, &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let (status, _) = app
        .post(&preview, &app.admin_token, &json!({"rules": "all"}))
        .await;
    assert!(status == 400 || status == 422);
    let holds = format!("/v1/tenants/{tenant}/legal-holds");
    for body in [
        json!({"reason": ""}),
        json!({"reason": "x", "contact_id": "nobody"}),
        json!({"reason": "x", "data_from": "2026-01-02T00:00:00Z", "data_until": "2026-01-01T00:00:00Z"}),
        json!({"reason": "x", "until": "2020-01-01T00:00:00Z"}),
        json!({"reason": "x", "unknown": 1}),
    ] {
        let (status, problem) = app.post(&holds, &app.admin_token, &body).await;
        assert!(
            matches!(status, 400 | 404 | 422),
            "{body}: {status} {problem}"
        );
        if body["contact_id"] == "nobody" {
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("not a contact id"),
                "{problem}"
            );
        }
    }
    let mut conn = app.db.connect();
    let previews: i64 = retention_previews::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    let held: i64 = legal_holds::table.count().get_result(&mut conn).unwrap();
    assert_eq!((previews, held), (0, 0), "nothing stored");
    assert_eq!(
        app.post(
            &format!("/v1/tenants/{tenant}/retention/runs"),
            "hfn_bad_token",
            &json!({})
        )
        .await
        .0,
        401
    );
}

/// Two instances on one PostgreSQL database: while one sweeps, the other does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_instance_sweeps_at_a_time() {
    if !crate::support::postgres_available() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000071",
        "2010-03-01T10:00:00Z",
    )
    .await;
    let other_instance = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hafen"))
            .args(args)
            .env_remove("HAFEN_CONFIG")
            .env("HAFEN_DATA_DIR", app.data_dir())
            .env("HAFEN_DATABASE_URL", &app.db.url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    // This instance holds the sweep lock: the other process skips, deleting nothing.
    let lock = app
        .hafen
        .retention
        .hold_sweep_lock()
        .await
        .unwrap()
        .expect("lock free");
    let out = other_instance(&["retention", "run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ran"], json!(false), "{report}");
    assert_eq!(app.counts().messages, 1);
    // This instance's own API also waits its turn.
    let (_, mine) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/runs"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(mine["ran"], json!(false));
    lock.release().await;
    // Released: the other process sweeps (defaults: 2010 is long past six years).
    let out = other_instance(&["retention", "run"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ran"], json!(true), "{report}");
    assert_eq!(app.counts().messages, 0);
    let out = other_instance(&["retention", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

async fn old_audit_entries_are_pruned_and_the_chain_still_verifies(backend: Backend) {
    use hafen::store::schema::audit_log;
    let app = TestApp::spawn_configured(backend, |c| c.audit_retention_years = 1).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    message_at(
        &app,
        &tenant,
        "whatsapp",
        "+4915100000081",
        "2026-11-20T10:00:00Z",
    )
    .await;
    let before = app.counts().audit;
    assert!(before >= 3);
    // 2026's entries are kept through 2027; in 2028 they go.
    app.clock.set(at("2027-12-31T12:00:00Z"));
    let (_, report) = app
        .post("/v1/retention/runs", &app.admin_token, &json!({}))
        .await;
    assert_eq!(report["audit_entries_pruned"], json!(0), "{report}");
    app.clock.set(at("2028-01-02T00:00:00Z"));
    let (status, report) = app
        .post("/v1/retention/runs", &app.admin_token, &json!({}))
        .await;
    assert_eq!(status, 200, "{report}");
    let pruned = report["audit_entries_pruned"].as_i64().unwrap();
    assert!(pruned >= before, "{report}");
    let chain = app.hafen.audit.verify_chain().await.unwrap();
    assert!(chain.broken.is_none(), "{chain}");
    // A tenant's run does not prune the install's log.
    let (_, report) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/runs"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(report["audit_entries_pruned"], json!(0));
    // Removing the oldest remaining entry without a prune record is caught.
    let mut conn = app.db.connect();
    let first: i64 = audit_log::table
        .select(diesel::dsl::min(audit_log::seq))
        .first::<Option<i64>>(&mut conn)
        .unwrap()
        .unwrap();
    diesel::delete(audit_log::table.filter(audit_log::seq.eq(first)))
        .execute(&mut conn)
        .unwrap();
    let chain = app.hafen.audit.verify_chain().await.unwrap();
    assert!(
        chain.broken.is_some(),
        "a silently removed prefix is reported"
    );
}

/// One tenant-admin token cannot delete a tenant's message content at once: a period below the
/// install's floor (one day) is refused, and a rule set whose preview deletes more than the
/// shipped 10 % of the messages waits for a second person — the preview says so beforehand.
async fn one_person_cannot_delete_a_tenants_messages_at_once(backend: Backend) {
    let shipped = hafen::config::Config::default();
    let app = TestApp::spawn_configured(backend, |c| {
        c.retention_approval_above_percent = shipped.retention_approval_above_percent;
        c.retention_min_period_days = shipped.retention_min_period_days;
    })
    .await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let first = app.token(&tenant, "tenant_admin").await;
    let second = app.token(&tenant, "tenant_admin").await;
    let agent = app.token(&tenant, "agent").await;
    // 20 messages, 19 of them a month old (kept by the install defaults).
    let messages: Vec<Value> = (0..20)
        .map(|i| {
            let mut m = text_message("whatsapp", &format!("+4915150000{i:03}"), "Inhalt", None);
            m["occurred_at"] = json!(if i == 0 {
                "2026-11-26T10:00:00Z"
            } else {
                "2026-10-27T10:00:00Z"
            });
            m
        })
        .collect();
    let (status, _) = app
        .post(
            &format!("/v1/tenants/{tenant}/messages"),
            &agent,
            &json!({ "messages": messages }),
        )
        .await;
    assert_eq!(status, 201);
    let preview = |rules: Vec<Value>| {
        let (app, tenant, first) = (&app, &tenant, &first);
        async move {
            app.post(
                &format!("/v1/tenants/{tenant}/retention/preview"),
                first,
                &json!({ "rules": rules }),
            )
            .await
        }
    };

    // Below the floor: refused, naming the setting; nothing recorded.
    let audit = app.counts().audit;
    for period in ["P0D", "PT12H"] {
        let (status, problem) = preview(keep_all_but(&[rule(
            "message_content",
            None,
            "collection",
            period,
        )]))
        .await;
        assert_eq!(status, 422, "{period}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("retention_min_period_days"),
            "{problem}"
        );
    }
    assert_eq!(app.counts().audit, audit);

    // 95 % at once: the preview says a second person is needed, and so it is.
    let rules = keep_all_but(&[rule("message_content", None, "collection", "P1D")]);
    let (status, report) = preview(rules.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["share_of_messages"], json!(0.95));
    assert!(
        report["needs_approval"]
            .as_str()
            .unwrap()
            .contains("95.0 %"),
        "{report}"
    );
    let (status, version) = app
        .put(
            &format!("/v1/tenants/{tenant}/retention/rules"),
            &first,
            &json!({ "rules": rules, "preview_id": report["preview_id"] }),
        )
        .await;
    assert_eq!(status, 201, "{version}");
    assert_eq!(version["state"], json!("pending_approval"), "{version}");
    let certificate = run(&app, &tenant).await;
    assert_eq!(
        app.counts().messages,
        20,
        "nothing deleted before the approval: {certificate}"
    );
    let decide = format!(
        "/v1/tenants/{tenant}/retention/rules/versions/{}/approve",
        version["version"]
    );
    assert_eq!(
        app.post(&decide, &first, &json!({})).await.0,
        403,
        "not by the proposer"
    );
    let (status, approved) = app.post(&decide, &second, &json!({})).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], json!("active"));

    // A small share goes through at once.
    let rules = keep_all_but(&[rule("message_content", None, "collection", "P2Y")]);
    let (_, report) = preview(rules.clone()).await;
    assert_eq!(report["needs_approval"], json!(null), "{report}");
    let version = activate(&app, &tenant, &first, &rules).await;
    assert_eq!(version["state"], json!("active"));
    app.stop().await;
}

#[derive(diesel::QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// What says the space came back: SQLite's database size in pages (the free pages are given
/// back to the file system); PostgreSQL's count of vacuums of `messages`.
fn space_probe(app: &TestApp) -> i64 {
    let mut conn = app.db.connect();
    let sql = match &conn {
        hafen::store::DbConn::Sqlite(_) => "SELECT page_count AS n FROM pragma_page_count()",
        hafen::store::DbConn::Postgres(_) => {
            "SELECT coalesce(sum(vacuum_count + autovacuum_count), 0)::bigint AS n \
             FROM pg_stat_user_tables WHERE relname = 'messages'"
        }
    };
    diesel::sql_query(sql)
        .get_result::<Number>(&mut conn)
        .unwrap()
        .n
}

/// Stores `n` messages of 2026-11-20 with `body` and activates rules that keep message
/// metadata for a year (everything else kept): a run at 2028-01-02 deletes exactly these.
async fn store_a_year_to_keep(app: &TestApp, tenant: &str, n: usize, body: &str) {
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            let mut m = text_message(
                "whatsapp",
                &format!("+49151{i:08}"),
                body,
                Some(&format!("wamid.YEAR{i}")),
            );
            m["occurred_at"] = json!("2026-11-20T10:00:00Z");
            m
        })
        .collect();
    // Ten to a request: a request body is at most 64 KiB.
    for batch in messages.chunks(10) {
        let (status, stored) = app
            .post(
                &format!("/v1/tenants/{tenant}/messages"),
                &app.admin_token,
                &json!({ "messages": batch }),
            )
            .await;
        assert_eq!(status, 201, "{stored}");
    }
    activate(
        app,
        tenant,
        &app.admin_token,
        &keep_all_but(&[rule("message_metadata", None, "collection", "P1Y")]),
    )
    .await;
}

/// A run's freed space comes back without waiting for anyone (issue 24): SQLite gives the
/// free pages back to the file system, PostgreSQL vacuums the tables the run deleted from
/// instead of leaving that to autovacuum's thresholds.
async fn the_space_a_run_frees_comes_back_without_waiting(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let body = "Lieferschein und Rechnung ".repeat(160);
    store_a_year_to_keep(&app, &tenant, 200, &body).await;
    let before = space_probe(&app);
    app.clock.set(at("2028-01-02T00:00:00Z"));
    let certificate = run(&app, &tenant).await;
    assert_eq!(
        certificate["counts"]["message_metadata"],
        json!(200),
        "{certificate}"
    );
    // The space comes back in the background, after the run answered: poll for it.
    let back = |now: i64| match backend {
        // 200 sealed bodies of 4 KiB took at least 200 pages.
        Backend::Sqlite => now <= before - 200,
        Backend::Postgres => now > before,
    };
    let mut now = space_probe(&app);
    for _ in 0..300 {
        if back(now) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        now = space_probe(&app);
    }
    assert!(back(now), "before the run {before}, 30 s after it {now}");
}

/// When PostgreSQL last analyzed `table` by request (autovacuum's own analyses are counted
/// apart), or None.
fn analyzed_at(app: &TestApp, table: &str) -> Option<i64> {
    #[derive(diesel::QueryableByName)]
    struct At {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        at: Option<i64>,
    }
    let mut conn = app.db.connect();
    diesel::sql_query(
        "SELECT (extract(epoch FROM last_analyze) * 1000000)::bigint AS at \
         FROM pg_stat_user_tables WHERE relname = $1",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .get_result::<At>(&mut conn)
    .unwrap()
    .at
}

/// A retention run refreshes PostgreSQL's statistics where autovacuum has not yet (issue 24):
/// without them PostgreSQL took each batch's due rows from the tenant's time index and sorted
/// all of them (a 1 000 000-message run: 9 000 deleted/s instead of 47 000, docs/benchmarks.md). Autovacuum is kept off
/// `messages` here so that the test, not its timing, decides that the table was never
/// analyzed. A table just analyzed is not analyzed again. SQLite keeps no statistics.
async fn a_run_analyzes_tables_without_statistics_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let store = app.hafen.store().clone();
    if backend == Backend::Postgres {
        let mut conn = app.db.connect();
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "ALTER TABLE messages SET (autovacuum_enabled = false)",
        )
        .unwrap();
    }
    store_a_year_to_keep(&app, &tenant, 20, "Rechnung").await;
    if backend == Backend::Postgres {
        assert_eq!(analyzed_at(&app, "messages"), None);
    }
    app.clock.set(at("2028-01-02T00:00:00Z"));
    let certificate = run(&app, &tenant).await;
    assert_eq!(
        certificate["counts"]["message_metadata"],
        json!(20),
        "{certificate}"
    );
    let again = store
        .read(|conn| hafen::store::backend::analyze_stale(conn, &["messages", "outbox"]))
        .await
        .unwrap();
    match backend {
        Backend::Sqlite => assert!(again.is_empty(), "{again:?}"),
        Backend::Postgres => {
            assert!(
                analyzed_at(&app, "messages").is_some(),
                "the run analyzed messages"
            );
            // At most 20 inserts (PostgreSQL may count them only after the run's ANALYZE) and
            // 20 deletes since: fewer than autovacuum's threshold of 50 + 10 %.
            assert!(again.is_empty(), "analyzed just before: {again:?}");
        }
    }
    app.stop().await;
}

/// The rules of `inputs` completed by the defaults, as a run applies them.
fn rule_set(inputs: &[Value]) -> hafen::retention::rules::RuleSet {
    let inputs: Vec<hafen::retention::rules::RuleInput> =
        serde_json::from_value(json!(inputs)).unwrap();
    hafen::retention::rules::RuleSet::parse(&inputs)
        .unwrap()
        .effective()
}

fn period_key_of(conn: &mut hafen::store::DbConn, message: &str) -> String {
    use hafen::store::schema::messages;
    messages::table
        .filter(messages::id.eq(hafen::store::id::bind(message)))
        .select(messages::period_key_id)
        .first::<Option<String>>(conn)
        .unwrap()
        .expect("sealed under a period key")
}

/// Which months a run shreds before deleting their rows: only those whose every row is due now
/// by rules counted from collection, with nothing under them held, kept as a business letter or
/// a status, or waiting to be sent. Then the run itself.
async fn whole_expired_months_are_shredded_first_only_when_nothing_under_them_is_kept(
    backend: Backend,
) {
    use hafen::retention::shred::whole_expired;
    use hafen::store::schema::{attachments, message_statuses, messages, outbox, period_keys};
    let app = TestApp::spawn(backend).await;
    let tenant = app.create_tenant("Muster GmbH").await;
    let one_year = keep_all_but(&[rule("message_metadata", None, "collection", "P1Y")]);
    activate(&app, &tenant, &app.admin_token, &one_year).await;
    let address = "+4915100000061";
    let (old, contact) =
        message_at(&app, &tenant, "whatsapp", address, "2024-03-01T10:00:00Z").await;
    // November 2026 has not closed yet (the clock says 26 November).
    let (recent, _) = message_at(&app, &tenant, "whatsapp", address, "2026-11-01T10:00:00Z").await;
    let mut conn = app.db.connect();
    let march = period_key_of(&mut conn, &old);
    let now = hafen::clock::Clock::now(app.clock.as_ref());
    let decide = |conn: &mut hafen::store::DbConn, inputs: &[Value]| {
        whole_expired(conn, &tenant, &rule_set(inputs), now)
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(decide(&mut conn, &one_year), vec![march.clone()]);
    // Rules that do not delete the whole month now.
    let mut whatsapp_kept = one_year.clone();
    whatsapp_kept.push(rule(
        "message_metadata",
        Some("whatsapp"),
        "collection",
        "keep",
    ));
    for (why, rules) in [
        ("kept", keep_all_but(&[])),
        (
            "counted from the conversation's end",
            keep_all_but(&[rule("message_metadata", None, "conversation_end", "P1Y")]),
        ),
        (
            "three years after collection: not over for March 2024",
            keep_all_but(&[rule("message_metadata", None, "collection", "P3Y")]),
        ),
        ("WhatsApp kept by a channel rule", whatsapp_kept),
    ] {
        assert!(decide(&mut conn, &rules).is_empty(), "{why}");
    }
    // A business letter under the key: the default keeps letters six years from the year's end.
    let mark_letter = |conn: &mut hafen::store::DbConn, letter: bool| {
        diesel::update(messages::table.filter(messages::id.eq(hafen::store::id::bind(&old))))
            .set(messages::business_letter.eq(letter))
            .execute(conn)
            .unwrap();
    };
    mark_letter(&mut conn, true);
    assert!(decide(&mut conn, &one_year).is_empty(), "a business letter");
    let mut letters_one_year = one_year.clone();
    let mut letters = rule("message_metadata", None, "collection", "P1Y");
    letters["class"] = json!("business_letter");
    letters_one_year.push(letters);
    assert_eq!(decide(&mut conn, &letters_one_year), vec![march.clone()]);
    mark_letter(&mut conn, false);
    // A delivery status received that month, sealed under the key, kept by its rule.
    let status_march = hafen::store::id::bind("00000000-0000-7000-8000-000000000303");
    diesel::insert_into(message_statuses::table)
        .values((
            message_statuses::id.eq(status_march.clone()),
            message_statuses::tenant_id.eq(hafen::store::id::bind(&tenant)),
            message_statuses::channel.eq("whatsapp"),
            message_statuses::external_index.eq(vec![7u8; 32]),
            message_statuses::status.eq("delivered"),
            message_statuses::occurred_at.eq(1_709_290_000_000_000i64),
            message_statuses::received_at.eq(1_709_290_000_000_000i64),
            message_statuses::period_key_id.eq(Some(&march)),
        ))
        .execute(&mut conn)
        .unwrap();
    assert!(decide(&mut conn, &one_year).is_empty(), "a status kept");
    let statuses_due = keep_all_but(&[
        rule("message_metadata", None, "collection", "P1Y"),
        rule("delivery_statuses", None, "collection", "P90D"),
    ]);
    assert_eq!(decide(&mut conn, &statuses_due), vec![march.clone()]);
    diesel::delete(message_statuses::table.filter(message_statuses::id.eq(status_march)))
        .execute(&mut conn)
        .unwrap();
    // A message of that month still waiting to be sent.
    diesel::insert_into(outbox::table)
        .values((
            outbox::message_id.eq(hafen::store::id::bind(&old)),
            outbox::tenant_id.eq(hafen::store::id::bind(&tenant)),
            outbox::channel_id.eq("channel"),
            outbox::request_sealed.eq(vec![0u8]),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(0i64),
        ))
        .execute(&mut conn)
        .unwrap();
    assert!(
        decide(&mut conn, &one_year).is_empty(),
        "waiting in the outbox"
    );
    diesel::delete(outbox::table).execute(&mut conn).unwrap();
    // Content alone due (it unbinds the row from the key), the rows kept as metadata.
    let content_due = keep_all_but(&[rule("message_content", None, "collection", "P90D")]);
    assert_eq!(decide(&mut conn, &content_due), vec![march.clone()]);
    // …but a file under the key stays unless its own rule lets it go.
    diesel::insert_into(attachments::table)
        .values((
            attachments::id.eq(hafen::store::id::bind(
                "00000000-0000-7000-8000-000000000f03",
            )),
            attachments::tenant_id.eq(hafen::store::id::bind(&tenant)),
            attachments::message_id.eq(hafen::store::id::bind(&old)),
            attachments::n.eq(0),
            attachments::media_ref_sealed.eq(vec![0u8]),
            attachments::state.eq("stored"),
            attachments::attempts.eq(0),
            attachments::next_attempt_at.eq(0i64),
            attachments::created_at.eq(0i64),
            attachments::period_key_id.eq(Some(&march)),
        ))
        .execute(&mut conn)
        .unwrap();
    assert!(decide(&mut conn, &content_due).is_empty(), "a file kept");
    let files_due = keep_all_but(&[
        rule("message_content", None, "collection", "P90D"),
        rule("attachments", None, "collection", "P90D"),
    ]);
    assert_eq!(decide(&mut conn, &files_due), vec![march.clone()]);
    assert_eq!(
        decide(&mut conn, &one_year),
        vec![march.clone()],
        "files go with their rows"
    );
    diesel::delete(attachments::table)
        .execute(&mut conn)
        .unwrap();
    // Holds: on the contact, on a range meeting March 2024; one on 2025 does not reach it.
    let holds = format!("/v1/tenants/{tenant}/legal-holds");
    for (why, hold, reaches) in [
        (
            // Named in another spelling of its UUID: the same contact.
            "the contact",
            json!({"contact_id": contact.to_uppercase(), "reason": "Klage"}),
            true,
        ),
        (
            "the first days of March",
            json!({"data_from": "2024-02-20T00:00:00Z", "data_until": "2024-03-02T00:00:00Z", "reason": "Prüfung"}),
            true,
        ),
        (
            "2025",
            json!({"data_from": "2025-01-01T00:00:00Z", "data_until": "2026-01-01T00:00:00Z", "reason": "Prüfung"}),
            false,
        ),
        (
            "the whole tenant",
            json!({"reason": "Beweissicherung"}),
            true,
        ),
    ] {
        let (status, placed) = app.post(&holds, &app.admin_token, &hold).await;
        assert_eq!(status, 201, "{placed}");
        let expected = if reaches { vec![] } else { vec![march.clone()] };
        assert_eq!(decide(&mut conn, &one_year), expected, "a hold on {why}");
        let release = format!("{holds}/{}/release", placed["id"].as_str().unwrap());
        let (status, _) = app.post(&release, &app.admin_token, &json!({})).await;
        assert_eq!(status, 200);
    }
    // The dry run names the month that becomes unreadable at once.
    let (status, dry) = app
        .post(
            &format!("/v1/tenants/{tenant}/retention/runs?dry_run=true"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        dry["tenants"][0]["forecast"]["unreadable_at_once"],
        json!([{"channel": "whatsapp", "month": "2024-03"}]),
        "{dry}"
    );
    // The run: March 2024 shredded (and named in the certificate), its row deleted, November kept.
    let certificate = run(&app, &tenant).await;
    assert_eq!(certificate["counts"]["message_metadata"], json!(1));
    assert!(
        certificate["keys_shredded"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("period:{march}"))),
        "{certificate}"
    );
    let wrapped: Option<Vec<u8>> = period_keys::table
        .filter(period_keys::id.eq(&march))
        .select(period_keys::wrapped_key)
        .first(&mut conn)
        .unwrap();
    assert!(wrapped.is_none());
    let (_, view) = app
        .get(
            &format!("/v1/tenants/{tenant}/messages/{recent}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(view["body"], json!("Rechnung anbei"));
}

/// PostgreSQL, two instances: one has read (and cached the key of) a message of March 2024;
/// the other's run shreds that month while its rows are still locked by another transaction.
/// Before any row is deleted, both instances answer "shredded" for it.
async fn shredded_month_unreadable_before_its_rows_go(backend: Backend) {
    use diesel::connection::SimpleConnection;
    use hafen::store::schema::{messages, period_keys};
    let a = TestApp::spawn(backend).await;
    let tenant = a.create_tenant("Muster GmbH").await;
    let one_year = keep_all_but(&[rule("message_metadata", None, "collection", "P1Y")]);
    activate(&a, &tenant, &a.admin_token, &one_year).await;
    let (old, _) = message_at(
        &a,
        &tenant,
        "whatsapp",
        "+4915100000062",
        "2024-03-01T10:00:00Z",
    )
    .await;
    let b = TestApp::spawn_with(
        backend,
        a.config.clone(),
        a.db.clone(),
        a.dir.clone(),
        a.clock.clone(),
        Some(a.admin_token.clone()),
    )
    .await;
    let path = format!("/v1/tenants/{tenant}/messages/{old}");
    let (status, view) = b.get(&path, &b.admin_token).await;
    assert_eq!((status, &view["body"]), (200, &json!("Rechnung anbei")));
    let mut conn = a.db.connect();
    let march = period_key_of(&mut conn, &old);
    // Another transaction holds the message row: the run cannot delete it yet.
    let mut blocker = a.db.connect();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM messages WHERE id = '{old}' FOR UPDATE;"
        ))
        .unwrap();
    let running = {
        let (client, url, token) = (
            a.client.clone(),
            a.url(&format!("/v1/tenants/{tenant}/retention/runs")),
            a.admin_token.clone(),
        );
        tokio::spawn(async move {
            crate::support::read(
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let destroyed: Option<i64> = period_keys::table
            .filter(period_keys::id.eq(&march))
            .select(period_keys::destroyed_at)
            .first(&mut conn)
            .unwrap();
        if destroyed.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "March 2024's key was not shredded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for (who, app) in [
        ("the instance that cached the key", &b),
        ("the running one", &a),
    ] {
        let (status, view) = app.get(&path, &app.admin_token).await;
        assert_eq!(status, 200, "{who}: {view}");
        assert_eq!(view["shredded"], json!(true), "{who}: {view}");
        assert_eq!(view["body"], Value::Null, "{who}");
    }
    let rows: i64 = messages::table
        .filter(messages::id.eq(hafen::store::id::bind(&old)))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(rows, 1, "the row is still there: unreadable came first");
    assert!(!running.is_finished());
    blocker.batch_execute("ROLLBACK;").unwrap();
    let (status, report) = running.await.unwrap();
    assert_eq!(status, 200, "{report}");
    let certificate = &report["tenants"][0]["certificate"];
    assert_eq!(
        certificate["counts"]["message_metadata"],
        json!(1),
        "{certificate}"
    );
    let (status, _) = b.get(&path, &b.admin_token).await;
    assert_eq!(status, 404);
}

//! Several instances on one PostgreSQL database, as docs/operations.md describes them: two
//! `hafen serve` processes with the same database, settings and master key, each on its own
//! port as a load balancer would spread traffic. They get the same platform deliveries at the
//! same moment (platforms retry to whichever instance the balancer picks), overlapping batches,
//! concurrent API pairs on the same contacts, a retention run on both at once, and a SIGKILL of
//! one under load. No answer may be a 5xx, every acknowledged message is stored once, the
//! chains verify, and the pair load over two instances takes at most twice as long as the same
//! load against one.
//!
//! PostgreSQL only: SQLite is one process's file. CI size as below; bigger:
//! `HAFEN_INSTANCES_SCALE=10 cargo test instances` (docs/testing.md).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::process::{
    activate_one_year_rule, api_message, env_number, load, run_retention, setup, stop_load, stored,
    telegram_update, verify_acknowledged, verify_chains, verify_no_orphans, whatsapp_delivery,
    Ledger, Node, Target, APP_SECRET, CONTACTS,
};
use crate::support::{postgres_available, Backend};

/// Every answer the instances gave, by status, with a sample body of each non-2xx status.
#[derive(Default)]
struct Answers {
    by_status: Mutex<BTreeMap<u16, usize>>,
    samples: Mutex<BTreeMap<u16, String>>,
}

impl Answers {
    /// Sends one request; the status (0 when the connection broke) and the body as JSON.
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let (status, body) = match request.timeout(Duration::from_secs(60)).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        };
        *self.by_status.lock().unwrap().entry(status).or_default() += 1;
        if !(200..300).contains(&status) {
            self.samples
                .lock()
                .unwrap()
                .entry(status)
                .or_insert(body.clone());
        }
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn server_errors(&self) -> usize {
        let by_status = self.by_status.lock().unwrap();
        by_status.range(500..).map(|(_, n)| n).sum()
    }

    fn summary(&self) -> String {
        format!(
            "{:?}, samples: {:?}",
            self.by_status.lock().unwrap(),
            self.samples.lock().unwrap()
        )
    }

    fn assert_no_server_errors(&self, phase: &str) {
        assert_eq!(self.server_errors(), 0, "{phase}: {}", self.summary());
    }
}

const IN_FLIGHT: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_answer_every_request() {
    if !postgres_available() {
        return;
    }
    let scale = env_number("HAFEN_INSTANCES_SCALE", 1);
    let client = reqwest::Client::new();
    let mut a = Node::new(Backend::Postgres);
    let (ok, admin, err) = a.cli(&["init"]);
    assert!(ok, "{err}");
    let mut b = a.beside();
    a.start(&client).await;
    b.start(&client).await;
    let ta = setup(&client, &a, admin.trim()).await;
    let tb = ta.through(&b);
    let ledger = Arc::new(Ledger::default());
    let answers = Arc::new(Answers::default());

    same_deliveries_to_both(&ta, &tb, &ledger, &answers, 100 * scale).await;
    answers.assert_no_server_errors("the same WhatsApp deliveries to both instances");
    overlapping_batches(&ta, &tb, &ledger, &answers, 20 * scale).await;
    answers.assert_no_server_errors("overlapping batches");
    same_telegram_updates_to_both(&ta, &tb, &answers, 20 * scale).await;
    answers.assert_no_server_errors("the same Telegram updates to both instances");

    // The pair load: first against one instance, then spread over both.
    let pairs = 150 * scale;
    let alone = api_pairs(&ta, &ta, &ledger, &answers, "alone", pairs).await;
    let spread = api_pairs(&ta, &tb, &ledger, &answers, "spread", pairs).await;
    answers.assert_no_server_errors("API messages in concurrent pairs");
    eprintln!(
        "instances: {} messages in concurrent pairs: one instance {:.2}s, two instances {:.2}s ({:.2}×)",
        2 * pairs,
        alone.as_secs_f64(),
        spread.as_secs_f64(),
        spread.as_secs_f64() / alone.as_secs_f64()
    );
    assert!(
        spread <= alone * 2,
        "two instances took {spread:?} for the pair load, one took {alone:?}"
    );

    retention_on_both(&a, &ta, &tb, &ledger, 500 * scale).await;

    // SIGKILL of one instance under load on both: the other answers every request.
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&[ta.clone(), tb.clone()], &ledger, &stop, "kill");
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.start(&client).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_load(&stop, tasks).await;

    channel_changes_reach_the_other_instance(&ta, &tb, &ledger, &answers).await;
    answers.assert_no_server_errors("channel changes across instances");

    let total = verify_acknowledged(&ta, &ledger, Some("old.")).await;
    // After the check above: an erased contact's messages stay as unreadable tombstones.
    erasure_reaches_the_other_instance(&ta, &tb, &answers).await;
    answers.assert_no_server_errors("a delivery after an erasure at the other instance");
    verify_no_orphans(&a);
    a.kill();
    b.kill();
    verify_chains(&a);
    let deadlocks = [&a, &b]
        .iter()
        .map(|n| n.log_text().matches("deadlock detected").count())
        .sum::<usize>();
    eprintln!(
        "instances: {total} messages stored once each; answers {}; deadlocks in the logs: {deadlocks}",
        answers.summary()
    );
}

/// Each WhatsApp delivery goes to both instances at the same moment; both must acknowledge it.
async fn same_deliveries_to_both(
    ta: &Target,
    tb: &Target,
    ledger: &Ledger,
    answers: &Answers,
    deliveries: usize,
) {
    futures_util::stream::iter(0..deliveries)
        .map(|n| async move {
            let id = format!("wamid.both.{n}");
            let body = format!("Zweimal zugestellt {n}");
            let delivery = whatsapp_delivery(&id, n, &body);
            let (sa, sb) = tokio::join!(
                answers.send(ta.whatsapp(&delivery)),
                answers.send(tb.whatsapp(&delivery))
            );
            assert_eq!((sa.0, sb.0), (200, 200), "{}", answers.summary());
            ledger.acknowledge([&id], |_| body.clone());
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
}

/// Batches of ten whose halves overlap with their neighbours', each sent to both instances at
/// once (one in reverse order), half to known contacts and half to new ones.
async fn overlapping_batches(
    ta: &Target,
    tb: &Target,
    ledger: &Ledger,
    answers: &Answers,
    batches: usize,
) {
    let body = |id: &str| format!("Überlappend {id}");
    futures_util::stream::iter(0..batches)
        .map(|k| async move {
            let ids: Vec<String> = (k * 5..k * 5 + 10).map(|j| format!("ov.{j}")).collect();
            // The contact follows from the message (an external id names one message of one
            // person), half of them known contacts, half new ones.
            let messages: Vec<Value> = (k * 5..k * 5 + 10)
                .zip(&ids)
                .map(|(j, id)| {
                    let contact = if j % 2 == 0 { j % CONTACTS } else { 1000 + j };
                    api_message(id, contact, &body(id), None)
                })
                .collect();
            let reversed: Vec<Value> = messages.iter().rev().cloned().collect();
            let (sa, sb) = tokio::join!(
                answers.send(ta.batch(&messages)),
                answers.send(tb.batch(&reversed))
            );
            for (status, _) in [&sa, &sb] {
                assert!(matches!(status, 200 | 201), "{}", answers.summary());
            }
            ledger.acknowledge(&ids, body);
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
}

/// Each Telegram update goes to both instances at once; it is stored once.
async fn same_telegram_updates_to_both(
    ta: &Target,
    tb: &Target,
    answers: &Answers,
    updates: usize,
) {
    futures_util::stream::iter(0..updates)
        .map(|n| async move {
            let chat = 7_000_000 + (n % 5) as i64;
            let update = telegram_update(90_000 + n as i64, 1 + n as i64, chat, "Moin");
            let (sa, sb) = tokio::join!(
                answers.send(ta.telegram(&update)),
                answers.send(tb.telegram(&update))
            );
            assert_eq!((sa.0, sb.0), (200, 200), "{}", answers.summary());
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let found = stored(ta).await;
    let telegram = found.keys().filter(|id| id.starts_with("700000")).count();
    assert_eq!(telegram, updates, "every Telegram update stored once");
}

/// `pairs` pairs of single-message API requests, the two of a pair at the same moment for the
/// same contact, one to each target; returns how long they all took.
async fn api_pairs(
    first: &Target,
    second: &Target,
    ledger: &Ledger,
    answers: &Answers,
    round: &str,
    pairs: usize,
) -> Duration {
    let body = |id: &str| format!("Paar {id}");
    let started = Instant::now();
    futures_util::stream::iter(0..pairs)
        .map(|n| async move {
            let ids = [format!("pair.{round}.{n}.a"), format!("pair.{round}.{n}.b")];
            let contact = n % CONTACTS;
            let (sa, sb) = tokio::join!(
                answers.send(first.batch(&[api_message(&ids[0], contact, &body(&ids[0]), None)])),
                answers.send(second.batch(&[api_message(&ids[1], contact, &body(&ids[1]), None)]))
            );
            assert_eq!((sa.0, sb.0), (201, 201), "{}", answers.summary());
            ledger.acknowledge(&ids, body);
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

/// Disabling, re-enabling, a new app secret and deleting a channel through one instance take
/// effect there at once, and at the other within the two seconds an instance keeps a channel
/// it read (docs/decisions.md, "Webhook channels kept for two seconds"). The other instance is
/// watched through Meta's handshake, which reads the channel as a delivery does and stores
/// nothing.
async fn channel_changes_reach_the_other_instance(
    ta: &Target,
    tb: &Target,
    ledger: &Ledger,
    answers: &Answers,
) {
    let channel = ta.hook.rsplit('/').next().unwrap().to_string();
    let url = format!("{}/v1/tenants/{}/channels/{channel}", ta.base, ta.tenant);
    let change = |patch: Value| {
        let request = ta.client.patch(&url).bearer_auth(&ta.admin).json(&patch);
        async move {
            let status = request.send().await.unwrap().status();
            assert_eq!(status, 200, "{patch}");
        }
    };
    let delivery = |n: usize| whatsapp_delivery(&format!("wamid.change.{n}"), n, "Kanal");
    let signed_with = |target: &Target, secret: &str, delivery: &Value| {
        let bytes = serde_json::to_vec(delivery).unwrap();
        target
            .client
            .post(&target.hook)
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                hafen::channels::verify::meta_signature(secret, &bytes),
            )
            .body(bytes)
    };
    // Both instances have the channel in hand before each change.
    let handshake = |target: &Target| {
        target
            .client
            .get(&target.hook)
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", "v"),
                ("hub.challenge", "c"),
            ])
            .send()
    };
    let seen_at_b = |expected: u16, what: &'static str| async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = handshake(tb).await.unwrap().status().as_u16();
            if status == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: B still answers {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let read_by_both = || async {
        assert_eq!(handshake(ta).await.unwrap().status(), 200);
        assert_eq!(handshake(tb).await.unwrap().status(), 200);
    };

    read_by_both().await;
    change(serde_json::json!({"enabled": false})).await;
    assert_eq!(
        answers.send(ta.whatsapp(&delivery(1))).await.0,
        403,
        "disabled at A, refused at A at once"
    );
    seen_at_b(403, "disabled at A").await;
    assert_eq!(
        answers.send(tb.whatsapp(&delivery(1))).await.0,
        403,
        "disabled at A, refused at B"
    );
    change(serde_json::json!({"enabled": true})).await;
    seen_at_b(200, "enabled again at A").await;
    assert_eq!(
        answers.send(tb.whatsapp(&delivery(2))).await.0,
        200,
        "enabled again"
    );
    ledger.acknowledge([&"wamid.change.2".to_string()], |_| "Kanal".into());

    read_by_both().await;
    let rotated = "rotated-app-secret-7f3a9c1e";
    change(serde_json::json!({"secrets": {"app_secret": rotated}})).await;
    let (old, _) = answers
        .send(signed_with(ta, APP_SECRET, &delivery(3)))
        .await;
    assert!(
        matches!(old, 401 | 403),
        "the old secret is refused at A at once: {old}"
    );
    // A refused delivery stores nothing, so B is asked again with the same one.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (new, body) = answers.send(signed_with(tb, rotated, &delivery(4))).await;
        if new == 200 {
            break;
        }
        assert!(
            new == 401 && Instant::now() < deadline,
            "the new secret works at B: {new} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ledger.acknowledge([&"wamid.change.4".to_string()], |_| "Kanal".into());
    let (old, _) = answers
        .send(signed_with(tb, APP_SECRET, &delivery(3)))
        .await;
    assert!(
        matches!(old, 401 | 403),
        "the old secret is refused at B: {old}"
    );

    read_by_both().await;
    let deleted = ta
        .client
        .delete(&url)
        .bearer_auth(&ta.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (gone, _) = answers.send(signed_with(ta, rotated, &delivery(5))).await;
    assert_eq!(gone, 404, "deleted at A, unknown at A at once");
    seen_at_b(404, "deleted at A").await;
    let (gone, _) = answers.send(signed_with(tb, rotated, &delivery(5))).await;
    assert_eq!(gone, 404, "deleted at A, unknown at B");
}

/// A person erased through one instance writes again through the other, which remembers
/// their contact from its own writes (`messages::ingest::KnownContacts`) and still holds
/// the contact's key in its key cache: the message starts a new contact, readable under a key
/// of its own, because the write checks what the instance remembered against the database.
async fn erasure_reaches_the_other_instance(ta: &Target, tb: &Target, answers: &Answers) {
    // Through the batch API: the WhatsApp channel's webhook is gone after the step before.
    let address = "+4917099999999";
    let from_person = |id: &str| {
        tb.client
            .post(tb.messages_url())
            .bearer_auth(&tb.admin)
            .json(&serde_json::json!({
                "contact": {"channel": "whatsapp", "address": address},
                "direction": "in", "kind": "text", "body": "Bitte löschen", "external_id": id,
                "occurred_at": crate::process::wall_clock().to_rfc3339(),
            }))
    };
    for id in ["erase.1", "erase.2"] {
        let (status, body) = answers.send(from_person(id)).await;
        assert_eq!(status, 201, "{body}");
    }
    let contact_of = || async {
        let (status, found) = ta
            .post_json(
                "/contacts/lookup",
                &serde_json::json!({"channel": "whatsapp", "address": address}),
            )
            .await;
        assert_eq!(status, 200, "a contact has the address: {found}");
        found["id"].as_str().unwrap().to_string()
    };
    let erased = contact_of().await;
    let (_, request) = ta
        .post_json(
            "/requests",
            &serde_json::json!({"kind": "erasure", "contact_id": erased}),
        )
        .await;
    let id = request["id"].as_str().expect("a request");
    let (status, outcome) = ta
        .post_json(&format!("/requests/{id}/erase"), &serde_json::json!({}))
        .await;
    assert_eq!(
        (status, &outcome["erased"]),
        (200, &Value::Bool(true)),
        "{outcome}"
    );

    let (status, body) = answers.send(from_person("erase.3")).await;
    assert_eq!(status, 201, "{body}");
    let contact = contact_of().await;
    assert_ne!(contact, erased, "a new contact, not the erased one");
    let messages: Value = ta
        .client
        .get(format!(
            "{}/v1/tenants/{}/contacts/{contact}/messages",
            ta.base, ta.tenant
        ))
        .bearer_auth(&ta.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap_or("(unreadable)"))
        .collect();
    assert_eq!(bodies, ["Bitte löschen"], "{messages}");
}

/// A retention run started on both instances at once runs once, with one certificate.
async fn retention_on_both(a: &Node, ta: &Target, tb: &Target, ledger: &Ledger, old: usize) {
    let at = Some("2025-06-01T10:00:00Z");
    for chunk in 0..old.div_ceil(100) {
        let ids: Vec<String> = (0..100).map(|k| format!("old.{chunk}.{k}")).collect();
        let messages: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| api_message(id, k % CONTACTS, "alt", at))
            .collect();
        let response = ta.batch(&messages).send().await.unwrap();
        assert_eq!(response.status(), 201);
        ledger.acknowledge(&ids, |_| "alt".into());
    }
    activate_one_year_rule(ta).await;
    let certificates = "SELECT COUNT(*) AS n FROM retention_certificates";
    let before = a.count(certificates);
    let (ra, rb) = tokio::join!(run_retention(ta.clone()), run_retention(tb.clone()));
    for (status, body) in [&ra, &rb] {
        assert!(*status > 0 && *status < 500, "{status} {body}");
    }
    eprintln!(
        "instances: retention run on both at once: {} ran={} and {} ran={}",
        ra.0, ra.1["ran"], rb.0, rb.1["ran"]
    );
    let ran: Vec<bool> = [&ra, &rb].iter().map(|r| r.1["ran"] == true).collect();
    assert_eq!(
        ran.iter().filter(|r| **r).count(),
        1,
        "one instance ran, the other says it did not"
    );
    assert_eq!(
        a.count(certificates) - before,
        1,
        "one run, one certificate: {ra:?} {rb:?}"
    );
    assert_eq!(
        a.count("SELECT COUNT(*) AS n FROM messages WHERE occurred_at < 1767225600000000"),
        0,
        "the run deleted every due message"
    );
}

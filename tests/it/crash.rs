//! Crash-kill: the real `hafen` binary is killed with SIGKILL at random moments while clients
//! ingest through the batch API and signed WhatsApp webhooks, while retention sweeps, and while
//! `hafen key rotate` re-wraps keys; it is restarted each time. Afterwards every message that
//! was acknowledged with a 2xx is present exactly once and decrypts to what was sent, nothing
//! is stored twice, the audit chain and the deletion certificates verify, and no contact, key
//! or message is left without its other half. Key rotation also runs under load: no request
//! may fail, and at the end the server reads everything without the old key.
//!
//! CI size: 50 kills during ingest, 5 during sweeps, 3 rotation kills, per backend. Bigger:
//! `HAFEN_CRASH_KILLS=500 cargo test crash` (docs/testing.md); `HAFEN_CRASH_SEED` repeats a run.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::both_backends;
use crate::process::{
    activate_one_year_rule, api_message, env_number, load, paged, run_retention, setup, stop_load,
    verify_acknowledged, verify_chains, verify_no_orphans, wall_clock, Ledger, Node, Target,
    CONTACTS,
};
use crate::support::Backend;

both_backends!(killed_at_random_it_loses_nothing_acknowledged);

/// A small deterministic generator: the seed is printed, `HAFEN_CRASH_SEED` repeats a run.
struct Dice(u64);

impl Dice {
    fn from_env() -> Self {
        let seed = std::env::var("HAFEN_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| wall_clock().timestamp_nanos_opt().unwrap_or(1) as u64 | 1);
        eprintln!("crash-kill seed: HAFEN_CRASH_SEED={seed}");
        Self(seed)
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(from + self.0 % (to - from))
    }
}

async fn killed_at_random_it_loses_nothing_acknowledged(backend: Backend) {
    let kills = env_number("HAFEN_CRASH_KILLS", 50);
    let sweep_kills = env_number("HAFEN_CRASH_SWEEP_KILLS", 5);
    let rotation_kills = env_number("HAFEN_CRASH_ROTATION_KILLS", 3);
    let mut dice = Dice::from_env();
    let mut node = Node::new(backend);
    let client = reqwest::Client::new();

    let (ok, admin, err) = node.cli(&["init"]);
    assert!(ok, "{err}");
    node.start(&client).await;
    let target = setup(&client, &node, admin.trim()).await;
    let ledger = Arc::new(Ledger::default());

    // 1. Ingest, killed at random moments.
    let started = Instant::now();
    for round in 0..kills {
        if !node.is_running() {
            node.start(&client).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = load(
            std::slice::from_ref(&target),
            &ledger,
            &stop,
            &format!("i{round}"),
        );
        tokio::time::sleep(dice.millis(20, 400)).await;
        node.kill();
        stop_load(&stop, tasks).await;
    }
    node.start(&client).await;
    let after_ingest = verify_acknowledged(&target, &ledger, None).await;
    let acked_ingest = ledger.acked.lock().unwrap().len();
    eprintln!(
        "crash-kill {backend:?}: {kills} kills during ingest in {:.1}s; {} requests sent, {} cut off; \
         {acked_ingest} messages acknowledged, {after_ingest} stored, all acknowledged present once",
        started.elapsed().as_secs_f64(),
        ledger.sent.load(Ordering::Relaxed),
        ledger.failed.load(Ordering::Relaxed),
    );
    verify_no_orphans(&node);
    verify_chains(&node);

    // 2. Retention sweeps (batches of 100), killed at random moments, under load.
    activate_one_year_rule(&target).await;
    let mut old = 0;
    for round in 0..sweep_kills {
        if !node.is_running() {
            node.start(&client).await;
        }
        // Fresh due messages each round, so every kill can land inside a sweep.
        old += seed_messages(&target, &ledger, &format!("old.{round}"), 2000, 0).await;
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = load(
            std::slice::from_ref(&target),
            &ledger,
            &stop,
            &format!("s{round}"),
        );
        // Kill once the sweep has begun deleting, somewhere inside it.
        let due = "SELECT COUNT(*) AS n FROM messages WHERE occurred_at < 1767225600000000";
        let before = node.count(due);
        let sweep = tokio::spawn(run_retention(target.clone()));
        let deadline = Instant::now() + Duration::from_secs(60);
        while node.count(due) == before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(dice.millis(0, 40)).await;
        node.kill();
        stop_load(&stop, tasks).await;
        let _ = sweep.await;
        let left = node.count(due);
        eprintln!(
            "crash-kill {backend:?}: sweep {round} killed, {left} of {old} due messages left"
        );
    }
    node.start(&client).await;
    let (status, report) = run_retention(target.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        node.count("SELECT COUNT(*) AS n FROM messages WHERE occurred_at < 1767225600000000"),
        0,
        "the last sweep finishes what the killed ones began"
    );
    let after_sweep = verify_acknowledged(&target, &ledger, Some("old.")).await;
    verify_no_orphans(&node);
    verify_chains(&node);

    // 3. Key rotation under load: the CLI is killed mid-run, then finishes; no request fails.
    // 2000 more contacts (recent messages, kept), so that a rotation run takes a while.
    seed_messages(&target, &ledger, "keys", 2000, 1000).await;
    let new_key = node.dir.path().join("new.key");
    let (ok, _, err) = node.cli(&["key", "generate", "--out", new_key.to_str().unwrap()]);
    assert!(ok, "{err}");
    node.previous_keys = vec![node.master_key.clone()];
    node.master_key = new_key;
    node.write_config();
    node.kill();
    node.start(&client).await;
    let failed_before = ledger.failed.load(Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(std::slice::from_ref(&target), &ledger, &stop, "r");
    let reader = tokio::spawn(read_continuously(target.clone(), stop.clone()));
    for round in 0..rotation_kills {
        let mut rotate = node
            .command(&["key", "rotate"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Kill after a few committed batches (one progress line each), inside the next one.
        let progress = rotate.stderr.take().unwrap();
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            std::io::BufReader::new(progress).lines().nth(1 + round % 3)
        })
        .await
        .unwrap();
        tokio::time::sleep(dice.millis(0, 150)).await;
        let _ = rotate.kill();
        rotate.wait().unwrap();
    }
    let (ok, out, err) = node.cli(&["key", "rotate"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("every key opens with the current master key"),
        "{out}"
    );
    eprintln!(
        "crash-kill {backend:?}: the last rotation run: {}",
        out.lines().next().unwrap_or_default()
    );
    stop_load(&stop, tasks).await;
    let reads = reader.await.unwrap();
    assert_eq!(
        ledger.failed.load(Ordering::Relaxed),
        failed_before,
        "no request may fail during rotation"
    );
    // The old key goes: everything still reads.
    node.previous_keys.clear();
    node.write_config();
    node.kill();
    node.start(&client).await;
    let after_rotation = verify_acknowledged(&target, &ledger, Some("old.")).await;
    verify_no_orphans(&node);
    verify_chains(&node);
    eprintln!(
        "crash-kill {backend:?}: {sweep_kills} sweep kills ({after_sweep} stored after the sweeps), \
         {rotation_kills} rotation kills with {reads} reads under load, {after_rotation} messages \
         verified with the new key alone"
    );
}

/// `count` acknowledged messages named `{prefix}.…`: with `new_contacts == 0` from mid-2025
/// (due under a one-year rule) to the usual contacts, else from now, each to a new contact.
async fn seed_messages(
    target: &Target,
    ledger: &Ledger,
    prefix: &str,
    count: usize,
    new_contacts: usize,
) -> usize {
    let at = (new_contacts == 0).then_some("2025-06-01T10:00:00Z");
    for chunk in 0..count.div_ceil(100) {
        let ids: Vec<String> = (0..100).map(|k| format!("{prefix}.{chunk}.{k}")).collect();
        let messages: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| {
                let contact = match new_contacts {
                    0 => k % CONTACTS,
                    first => first + chunk * 100 + k,
                };
                api_message(id, contact, "alt", at)
            })
            .collect();
        let response = target
            .client
            .post(format!(
                "{}/v1/tenants/{}/messages",
                target.base, target.tenant
            ))
            .bearer_auth(&target.admin)
            .json(&json!({ "messages": messages }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let mut acked = ledger.acked.lock().unwrap();
        for id in ids {
            acked.insert(id, "alt".into());
        }
    }
    count.div_ceil(100) * 100
}

/// Reads the contacts and one conversation again and again; every read must succeed.
async fn read_continuously(target: Target, stop: Arc<AtomicBool>) -> usize {
    let mut reads = 0;
    let contacts = paged(&target, &format!("/v1/tenants/{}/contacts", target.tenant)).await;
    while !stop.load(Ordering::SeqCst) {
        let contact = contacts[reads % contacts.len()]["id"].as_str().unwrap();
        for path in [
            format!("/v1/tenants/{}/contacts/{contact}", target.tenant),
            format!(
                "/v1/tenants/{}/contacts/{contact}/messages?limit=20",
                target.tenant
            ),
        ] {
            let response = target
                .client
                .get(format!("{}{path}", target.base))
                .bearer_auth(&target.admin)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path} during rotation");
            reads += 1;
        }
    }
    reads
}

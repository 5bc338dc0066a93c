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

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::{json, Value};

use crate::both_backends;
use crate::support::{Backend, TestDatabase};

both_backends!(killed_at_random_it_loses_nothing_acknowledged);

const APP_SECRET: &str = "crash-app-secret";
const WA_ACCOUNT: &str = "106540352242922";
/// Distinct contacts per path, so keys are created and shared across kills.
const CONTACTS: usize = 24;

/// The binary under test runs on the system clock, so the messages it should keep are dated by it.
fn wall_clock() -> chrono::DateTime<chrono::Utc> {
    use hafen::clock::Clock;
    hafen::clock::SystemClock.now()
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

/// One install of the real binary: its config file, data dir, database and (when running) process.
struct Node {
    dir: tempfile::TempDir,
    db: TestDatabase,
    port: u16,
    base: String,
    child: Option<Child>,
    master_key: PathBuf,
    previous_keys: Vec<PathBuf>,
}

impl Node {
    fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDatabase::create(backend, &dir.path().join("data"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let master_key = dir.path().join("data/master.key");
        let node = Self {
            dir,
            db,
            port,
            base: format!("http://127.0.0.1:{port}"),
            child: None,
            master_key,
            previous_keys: Vec::new(),
        };
        node.write_config();
        node
    }

    fn config_file(&self) -> PathBuf {
        self.dir.path().join("crash.toml")
    }

    /// The whole configuration, rewritten when the keys change.
    fn write_config(&self) {
        let data = self.dir.path().join("data");
        let previous: Vec<String> = self
            .previous_keys
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect();
        let config = format!(
            "data_dir = {data:?}\nlisten = \"127.0.0.1:{port}\"\ndatabase_url = {url:?}\n\
             master_key_file = {key:?}\nprevious_master_key_files = [{previous}]\n\
             log_filter = \"warn\"\nworkers = 2\nretention_schedule = \"\"\n\
             retention_batch_size = 100\nretry_interval_secs = 0\nwebhook_rate_per_ip = 0\n",
            data = data.display().to_string(),
            port = self.port,
            url = self.db.url,
            key = self.master_key.display().to_string(),
            previous = previous.join(", "),
        );
        std::fs::write(self.config_file(), config).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hafen"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HAFEN_CONFIG", self.config_file())
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs a CLI command to its end; (success, stdout, stderr).
    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn log(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap()
    }

    /// Starts `hafen serve` and polls `/readyz` until it answers 200.
    async fn start(&mut self, client: &reqwest::Client) {
        assert!(self.child.is_none());
        let child = self
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(self.log())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ready = client
                .get(format!("{}/readyz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if matches!(&ready, Ok(r) if r.status() == 200) {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("hafen serve exited with {status}:\n{}", self.log_text());
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.db.connect();
        diesel::sql_query(sql).get_result::<N>(&mut conn).unwrap().n
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "server log (last lines, newest first):\n{}",
                tail.join("\n")
            );
        }
    }
}

/// What the clients were told was stored: external id → body.
#[derive(Default)]
struct Ledger {
    acked: Mutex<HashMap<String, String>>,
    sent: AtomicU64,
    failed: AtomicU64,
}

/// Where the load goes: the tenant's batch endpoint and the channel's webhook.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    base: String,
    tenant: String,
    admin: String,
    hook: String,
}

/// Continuous load: `batch` clients posting 20 messages per request and `hooks` clients posting
/// one signed WhatsApp delivery each, until `stop` is set. Only 2xx answers go into the ledger.
fn load(
    target: &Target,
    ledger: &Arc<Ledger>,
    stop: &Arc<AtomicBool>,
    round: &str,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for client_no in 0..4 {
        let (t, ledger, stop) = (target.clone(), ledger.clone(), stop.clone());
        let round = format!("{round}.{client_no}");
        tasks.push(tokio::spawn(async move {
            let webhook = client_no % 2 == 1;
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let ids: Vec<String> = if webhook {
                    vec![format!("wamid.{round}.{n}")]
                } else {
                    (0..20).map(|k| format!("api.{round}.{n}.{k}")).collect()
                };
                let body = |id: &str| format!("Crash-Nachricht {id} äöü 🚢");
                let request = if webhook {
                    let bytes =
                        serde_json::to_vec(&whatsapp_delivery(&ids[0], n, &body(&ids[0]))).unwrap();
                    t.client
                        .post(&t.hook)
                        .header("content-type", "application/json")
                        .header(
                            "x-hub-signature-256",
                            hafen::channels::verify::meta_signature(APP_SECRET, &bytes),
                        )
                        .body(bytes)
                } else {
                    let messages: Vec<Value> = ids
                        .iter()
                        .enumerate()
                        .map(|(k, id)| api_message(id, (n + k) % CONTACTS, &body(id), None))
                        .collect();
                    t.client
                        .post(format!("{}/v1/tenants/{}/messages", t.base, t.tenant))
                        .bearer_auth(&t.admin)
                        .json(&json!({ "messages": messages }))
                };
                ledger.sent.fetch_add(1, Ordering::Relaxed);
                match request.timeout(Duration::from_secs(30)).send().await {
                    Ok(r) if r.status().is_success() => {
                        let mut acked = ledger.acked.lock().unwrap();
                        for id in &ids {
                            acked.insert(id.clone(), body(id));
                        }
                    }
                    Ok(r) => {
                        ledger.failed.fetch_add(1, Ordering::Relaxed);
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        // A refusal other than the server going away is a finding, not noise.
                        panic!("{status} for a valid request: {text}");
                    }
                    Err(_) => {
                        ledger.failed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            }
        }));
    }
    tasks
}

fn api_message(id: &str, contact: usize, body: &str, at: Option<&str>) -> Value {
    let now = wall_clock().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "contact": {"channel": "whatsapp", "address": format!("+49151{contact:08}")},
        "direction": "in", "occurred_at": at.unwrap_or(&now), "kind": "text",
        "body": body, "external_id": id,
    })
}

/// One WhatsApp Cloud API delivery carrying one text message, as Meta sends it.
fn whatsapp_delivery(id: &str, n: usize, body: &str) -> Value {
    let wa_id = format!("49160{:08}", n % CONTACTS);
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": WA_ACCOUNT},
            "contacts": [{"profile": {"name": "Kontakt"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": id,
                "timestamp": wall_clock().timestamp().to_string(),
                "type": "text", "text": {"body": body}}]
        }}]}]
    })
}

async fn stop_load(stop: &AtomicBool, tasks: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("a load client failed");
    }
}

/// Every message of the tenant, read and decrypted through the API: external id → bodies.
async fn stored(target: &Target) -> HashMap<String, Vec<String>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    for contact in paged(target, &format!("/v1/tenants/{}/contacts", target.tenant)).await {
        let contact = contact["id"].as_str().unwrap().to_string();
        let path = format!("/v1/tenants/{}/contacts/{contact}/messages", target.tenant);
        for m in paged(target, &path).await {
            assert_eq!(m["erased"], json!(false), "{m}");
            assert_eq!(m["shredded"], json!(false), "{m}");
            let id = m["external_id"].as_str().expect("external id").to_string();
            let body = m["body"].as_str().expect("body").to_string();
            found.entry(id).or_default().push(body);
        }
    }
    found
}

async fn paged(target: &Target, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut request = target
            .client
            .get(format!("{}{path}", target.base))
            .bearer_auth(&target.admin)
            .query(&[("limit", "500")]);
        if let Some(a) = &after {
            request = request.query(&[("after", a)]);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let page: Value = response.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => return items,
        }
    }
}

/// Everything acknowledged is there exactly once with its body, except ids starting with
/// `deleted` (retention removed those); nothing is there twice. Returns how many are stored.
async fn verify_acknowledged(target: &Target, ledger: &Ledger, deleted: Option<&str>) -> usize {
    let found = stored(target).await;
    for (id, bodies) in &found {
        assert_eq!(bodies.len(), 1, "{id} is stored {} times", bodies.len());
    }
    let acked = ledger.acked.lock().unwrap();
    let mut missing = Vec::new();
    for (id, body) in acked.iter() {
        match found.get(id) {
            Some(bodies) => assert_eq!(&bodies[0], body, "{id} reads back changed"),
            None if deleted.is_some_and(|prefix| id.starts_with(prefix)) => {}
            None => missing.push(id.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged messages are missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    found.len()
}

/// No contact without its key, no key without its contact, no message without its contact.
fn verify_no_orphans(node: &Node) {
    for (what, sql) in [
        (
            "contacts without a key",
            "SELECT COUNT(*) AS n FROM contacts c WHERE NOT EXISTS \
             (SELECT 1 FROM contact_keys k WHERE k.contact_id = c.id)",
        ),
        (
            "keys without a contact",
            "SELECT COUNT(*) AS n FROM contact_keys k WHERE NOT EXISTS \
             (SELECT 1 FROM contacts c WHERE c.id = k.contact_id)",
        ),
        (
            "messages without a contact",
            "SELECT COUNT(*) AS n FROM messages m WHERE NOT EXISTS \
             (SELECT 1 FROM contacts c WHERE c.id = m.contact_id)",
        ),
    ] {
        assert_eq!(node.count(sql), 0, "{what}");
    }
}

fn verify_chains(node: &Node) {
    for args in [["audit", "verify"], ["retention", "verify"]] {
        let (ok, out, err) = node.cli(&args);
        assert!(ok, "hafen {args:?}: {out}\n{err}");
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
        if node.child.is_none() {
            node.start(&client).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = load(&target, &ledger, &stop, &format!("i{round}"));
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
        if node.child.is_none() {
            node.start(&client).await;
        }
        // Fresh due messages each round, so every kill can land inside a sweep.
        old += seed_messages(&target, &ledger, &format!("old.{round}"), 2000, 0).await;
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = load(&target, &ledger, &stop, &format!("s{round}"));
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
    let tasks = load(&target, &ledger, &stop, "r");
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

/// A tenant, its admin token and a WhatsApp channel for the webhooks.
async fn setup(client: &reqwest::Client, node: &Node, admin: &str) -> Target {
    let created = |path: String, body: Value| async move {
        let response = client
            .post(format!("{}{path}", node.base))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{path}");
        response.json::<Value>().await.unwrap()
    };
    let tenant = created("/v1/tenants".into(), json!({"name": "Crash GmbH"})).await;
    let tenant = tenant["id"].as_str().unwrap().to_string();
    let channel = created(
        format!("/v1/tenants/{tenant}/channels"),
        json!({"platform": "whatsapp", "name": "Crash", "account_id": WA_ACCOUNT,
            "secrets": {"app_secret": APP_SECRET, "verify_token": "v", "access_token": "EAAG-crash"}}),
    )
    .await;
    let hook = format!(
        "{}/hooks/whatsapp/{}",
        node.base,
        channel["id"].as_str().unwrap()
    );
    Target {
        client: client.clone(),
        base: node.base.clone(),
        tenant,
        admin: admin.to_string(),
        hook,
    }
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

/// Messages are deleted a year after collection; everything else is kept.
async fn activate_one_year_rule(target: &Target) {
    let mut rules = vec![
        json!({"category": "message_metadata", "start": "collection",
        "period": "P1Y", "legal_basis": "Test", "deletion_class": "LK 1"}),
    ];
    for (category, start) in [
        ("contacts", "collection"),
        ("message_content", "collection"),
        ("attachments", "collection"),
        ("delivery_statuses", "collection"),
        ("webhook_logs", "collection"),
        ("consent_requests", "collection"),
        ("consent_proofs", "consent_withdrawal"),
    ] {
        rules.push(
            json!({"category": category, "start": start, "period": "keep",
            "legal_basis": "Test", "deletion_class": "LK 1"}),
        );
    }
    let base = format!("{}/v1/tenants/{}/retention", target.base, target.tenant);
    let preview: Value = target
        .client
        .post(format!("{base}/preview"))
        .bearer_auth(&target.admin)
        .json(&json!({ "rules": rules }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = target
        .client
        .put(format!("{base}/rules"))
        .bearer_auth(&target.admin)
        .json(&json!({ "rules": rules, "preview_id": preview["preview_id"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{preview}");
}

async fn run_retention(target: Target) -> (u16, Value) {
    match target
        .client
        .post(format!("{}/v1/retention/runs", target.base))
        .bearer_auth(&target.admin)
        .json(&json!({}))
        .send()
        .await
    {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or_default()),
        Err(_) => (0, Value::Null),
    }
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

//! The real `hafen` binary as a process of its own: its config file, data dir and database, and
//! what the process tests (crash-kill, several instances) share — the tenant they load, the
//! platforms' delivery formats, and the checks afterwards.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::{json, Value};

use crate::support::{Backend, TestDatabase};

pub const APP_SECRET: &str = "crash-app-secret-7f3a9c1e5b";
pub const WA_ACCOUNT: &str = "106540352242922";
pub const TELEGRAM_SECRET: &str = "tg_Secret-instances-7f3a9c1e5b";
/// Distinct contacts per path, so keys are created and shared across kills.
pub const CONTACTS: usize = 24;

/// The binary under test runs on the system clock, so the messages it should keep are dated by it.
pub fn wall_clock() -> chrono::DateTime<chrono::Utc> {
    use hafen::clock::Clock;
    hafen::clock::SystemClock.now()
}

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One instance of the real binary: its config file, data dir, the database (shared with the
/// instances beside it) and, when running, its process.
pub struct Node {
    pub dir: tempfile::TempDir,
    db: Arc<TestDatabase>,
    pub port: u16,
    pub base: String,
    child: Option<Child>,
    pub master_key: PathBuf,
    pub previous_keys: Vec<PathBuf>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Node {
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(TestDatabase::create(backend, &dir.path().join("data")));
        Self::with_database(dir, db)
    }

    fn with_database(dir: tempfile::TempDir, db: Arc<TestDatabase>) -> Self {
        let port = free_port();
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

    /// A second instance as an admin sets one up on another machine: the same database, the
    /// same settings and a copy of the master key, its own data dir and port.
    pub fn beside(&self) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let node = Self::with_database(dir, self.db.clone());
        std::fs::copy(&self.master_key, &node.master_key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&node.master_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        node
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("crash.toml")
    }

    /// The whole configuration, rewritten when the keys change.
    pub fn write_config(&self) {
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

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hafen"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HAFEN_CONFIG", self.config_file())
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs a CLI command to its end; (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
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

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts `hafen serve` and polls `/readyz` until it answers 200.
    pub async fn start(&mut self, client: &reqwest::Client) {
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
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn count(&self, sql: &str) -> i64 {
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
                "server log of {} (last lines, newest first):\n{}",
                self.base,
                tail.join("\n")
            );
        }
    }
}

/// Where the load goes: the tenant's batch endpoint and the channels' webhooks.
#[derive(Clone)]
pub struct Target {
    pub client: reqwest::Client,
    pub base: String,
    pub tenant: String,
    pub admin: String,
    /// The WhatsApp channel's webhook.
    pub hook: String,
    /// The Telegram channel's webhook.
    pub telegram_hook: String,
}

impl Target {
    /// The same tenant, channels and token, through another instance.
    pub fn through(&self, node: &Node) -> Self {
        let rebase = |url: &str| url.replacen(&self.base, &node.base, 1);
        Self {
            client: self.client.clone(),
            base: node.base.clone(),
            tenant: self.tenant.clone(),
            admin: self.admin.clone(),
            hook: rebase(&self.hook),
            telegram_hook: rebase(&self.telegram_hook),
        }
    }

    /// POSTs JSON to `path` below the tenant (`/v1/tenants/{t}{path}`) as the admin: the
    /// status and the answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/v1/tenants/{}{path}", self.base, self.tenant))
            .bearer_auth(&self.admin)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub fn messages_url(&self) -> String {
        format!("{}/v1/tenants/{}/messages", self.base, self.tenant)
    }

    /// A signed WhatsApp delivery to this instance's webhook.
    pub fn whatsapp(&self, delivery: &Value) -> reqwest::RequestBuilder {
        let bytes = serde_json::to_vec(delivery).unwrap();
        self.client
            .post(&self.hook)
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                hafen::channels::verify::meta_signature(APP_SECRET, &bytes),
            )
            .body(bytes)
    }

    /// A Telegram update with the channel's secret header.
    pub fn telegram(&self, update: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(&self.telegram_hook)
            .header("x-telegram-bot-api-secret-token", TELEGRAM_SECRET)
            .json(update)
    }

    /// A batch through the messages API.
    pub fn batch(&self, messages: &[Value]) -> reqwest::RequestBuilder {
        self.client
            .post(self.messages_url())
            .bearer_auth(&self.admin)
            .json(&json!({ "messages": messages }))
    }
}

/// A tenant, the first admin's token, a WhatsApp and a Telegram channel.
pub async fn setup(client: &reqwest::Client, node: &Node, admin: &str) -> Target {
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
    let telegram = created(
        format!("/v1/tenants/{tenant}/channels"),
        json!({"platform": "telegram", "name": "Bot",
            "secrets": {"webhook_secret": TELEGRAM_SECRET}}),
    )
    .await;
    let hook = |platform: &str, channel: &Value| {
        format!(
            "{}/hooks/{platform}/{}",
            node.base,
            channel["id"].as_str().unwrap()
        )
    };
    Target {
        client: client.clone(),
        base: node.base.clone(),
        tenant,
        admin: admin.to_string(),
        hook: hook("whatsapp", &channel),
        telegram_hook: hook("telegram", &telegram),
    }
}

/// One message for the batch API, from contact number `contact`.
pub fn api_message(id: &str, contact: usize, body: &str, at: Option<&str>) -> Value {
    let now = wall_clock().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "contact": {"channel": "whatsapp", "address": format!("+49151{contact:08}")},
        "direction": "in", "occurred_at": at.unwrap_or(&now), "kind": "text",
        "body": body, "external_id": id,
    })
}

/// One WhatsApp Cloud API delivery carrying one text message, as Meta sends it.
pub fn whatsapp_delivery(id: &str, n: usize, body: &str) -> Value {
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

/// One Telegram update carrying a text from chat `chat`, as the Bot API sends it.
pub fn telegram_update(update_id: i64, message_id: i64, chat: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": wall_clock().timestamp(),
            "chat": {"id": chat, "type": "private", "first_name": "Kontakt"},
            "from": {"id": chat, "is_bot": false, "first_name": "Kontakt"},
            "text": text
        }
    })
}

/// Every message of the tenant, read and decrypted through the API: external id → bodies.
pub async fn stored(target: &Target) -> HashMap<String, Vec<String>> {
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

/// Every item of a paged list.
pub async fn paged(target: &Target, path: &str) -> Vec<Value> {
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

/// No contact without its key (but an erased one's tombstone, whose sealed address is
/// emptied), no key without its contact, no message without its contact.
pub fn verify_no_orphans(node: &Node) {
    for (what, sql) in [
        (
            "contacts without a key",
            "SELECT COUNT(*) AS n FROM contacts c WHERE length(c.address_sealed) > 0 \
             AND NOT EXISTS (SELECT 1 FROM contact_keys k WHERE k.contact_id = c.id)",
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

/// The audit chain and the deletion certificates verify.
pub fn verify_chains(node: &Node) {
    for args in [["audit", "verify"], ["retention", "verify"]] {
        let (ok, out, err) = node.cli(&args);
        assert!(ok, "hafen {args:?}: {out}\n{err}");
    }
}

/// Messages are deleted a year after collection; everything else is kept.
pub async fn activate_one_year_rule(target: &Target) {
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
    let (_, preview) = target
        .post_json("/retention/preview", &json!({ "rules": rules }))
        .await;
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

/// Starts a retention run through the API; (status, body), status 0 when the connection broke.
pub async fn run_retention(target: Target) -> (u16, Value) {
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

/// What the clients were told was stored: external id → body.
#[derive(Default)]
pub struct Ledger {
    pub acked: Mutex<HashMap<String, String>>,
    pub sent: AtomicU64,
    /// Requests cut off (the connection broke: the instance was killed).
    pub failed: AtomicU64,
}

impl Ledger {
    pub fn acknowledge<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a String>,
        body: impl Fn(&str) -> String,
    ) {
        let mut acked = self.acked.lock().unwrap();
        for id in ids {
            acked.insert(id.clone(), body(id));
        }
    }
}

/// Continuous load until `stop` is set: per target, one client posting batches of 20 messages
/// and one posting single signed WhatsApp deliveries. Only 2xx answers go into the ledger; any
/// other answer fails the test (a broken connection is the instance going away).
pub fn load(
    targets: &[Target],
    ledger: &Arc<Ledger>,
    stop: &Arc<AtomicBool>,
    round: &str,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let clients = 4.max(2 * targets.len());
    for client_no in 0..clients {
        let t = targets[(client_no / 2) % targets.len()].clone();
        let (ledger, stop) = (ledger.clone(), stop.clone());
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
                    t.whatsapp(&whatsapp_delivery(&ids[0], n, &body(&ids[0])))
                } else {
                    let messages: Vec<Value> = ids
                        .iter()
                        .enumerate()
                        .map(|(k, id)| api_message(id, (n + k) % CONTACTS, &body(id), None))
                        .collect();
                    t.batch(&messages)
                };
                ledger.sent.fetch_add(1, Ordering::Relaxed);
                match request.timeout(Duration::from_secs(30)).send().await {
                    Ok(r) if r.status().is_success() => ledger.acknowledge(&ids, body),
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        // A refusal other than the server going away is a finding, not noise.
                        panic!("{status} for a valid request to {}: {text}", t.base);
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

pub async fn stop_load(stop: &AtomicBool, tasks: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("a load client failed");
    }
}

/// Everything acknowledged is there exactly once with its body, except ids starting with
/// `deleted` (retention removed those); nothing is there twice. Returns how many are stored.
pub async fn verify_acknowledged(target: &Target, ledger: &Ledger, deleted: Option<&str>) -> usize {
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

//! Quick ingest benchmark: a release-built Hafen in this process, clients over HTTP on loopback.
//!
//! ```sh
//! cargo run --release --example ingest_bench -- --mode batch  --clients 8 --requests 200
//! cargo run --release --example ingest_bench -- --mode single --clients 16 --requests 4000
//! cargo run --release --example ingest_bench -- --mode webhook --clients 64 --requests 20000
//! cargo run --release --example ingest_bench -- --mode status --clients 64 --requests 20000
//! cargo run --release --example ingest_bench -- --database postgres://postgres@127.0.0.1/bench
//! cargo run --release --example ingest_bench -- --mode webhook --clients 64 --requests 20000 \
//!     --database postgres://postgres@127.0.0.1/bench --instances 2 --writers 4
//! ```
//! Bodies are 1 KiB, spread over 1000 contacts; every message has a unique external id.
//! `webhook` posts one signed WhatsApp Cloud API delivery per request to `/hooks/whatsapp/{id}`.
//! `status` is the morning after a broadcast: `--requests` outbound messages are stored first
//! (batches of 1000, not measured), then one signed delivery receipt ("delivered") per request
//! names one of them, as Meta sends them by the hundred thousand (`--receipts-per-message 3`:
//! "sent", "delivered" and "read" for each, a third as many messages).
//! Prints messages/s and request latency percentiles, and a `BENCH {json}` line for
//! `examples/bench.rs`. See docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// `single` (one message per request), `batch` (`--batch` messages per request),
    /// `webhook` (one signed WhatsApp delivery per request) or `status` (one signed delivery
    /// receipt per request, for a broadcast stored beforehand).
    #[arg(long, default_value = "batch")]
    mode: String,
    #[arg(long, default_value_t = 100)]
    batch: usize,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests in total (after a warm-up of one request per client).
    #[arg(long, default_value_t = 200)]
    requests: usize,
    #[arg(long, default_value_t = 1000)]
    contacts: usize,
    #[arg(long, default_value_t = 1024)]
    body_bytes: usize,
    /// Database URL (default: SQLite in a temporary data dir).
    #[arg(long)]
    database: Option<String>,
    /// SQLite durability: full or normal.
    #[arg(long, default_value = "full")]
    sqlite_synchronous: String,
    /// PostgreSQL writer connections (`db_writers`; SQLite always has one).
    #[arg(long, default_value_t = 1)]
    writers: u32,
    /// Hafen instances on the one database (PostgreSQL), the clients spread over them in turn.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Post to this running Hafen (e.g. `http://127.0.0.1:8080`) instead of one started here;
    /// needs `--token` (an admin token).
    #[arg(long, requires = "token")]
    server: Option<String>,
    #[arg(long)]
    token: Option<String>,
    /// Delivery receipts waiting for a message Hafen never stored (sent from the same number by
    /// another system), written into the database before the load: every group of messages
    /// stored asks for the receipts waiting for its platform ids.
    #[arg(long, default_value_t = 0, conflicts_with = "server")]
    waiting_receipts: usize,
    /// `status` mode: receipts per broadcast message. 1 (the suite's): one "delivered" each;
    /// 3: "sent", "delivered" and "read" for every message, each round after the one before
    /// (`--requests` / 3 messages stored), as Meta reports a broadcast: every receipt after
    /// the first moves a status already stored.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    receipts_per_message: u8,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let result = actix_web::rt::System::new().block_on(run(args));
    // As `hafen` itself: the writers close their connections before the process exits.
    hafen::store::wait_for_writers(std::time::Duration::from_secs(30));
    result
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let (Some(base), Some(token)) = (&args.server, &args.token) {
        return load(
            &args,
            &[base.trim_end_matches('/').to_string()],
            token,
            None,
        )
        .await;
    }
    anyhow::ensure!(
        args.instances == 1 || args.database.is_some(),
        "several instances need a shared PostgreSQL database (--database)"
    );
    let dir = tempfile::tempdir()?;
    let mut config = hafen::Config::for_data_dir(&dir.path().join("data"));
    config.listen = "127.0.0.1:0".into();
    config.database_url = args.database.clone().map(hafen::sensitive::Sensitive::new);
    config.sqlite_synchronous = serde_json::from_value(json!(args.sqlite_synchronous))?;
    config.log_filter = "warn".into();
    config.db_writers = args.writers;
    // The load comes from one address; the benchmark measures capacity, not the flood limit.
    config.webhook_rate_per_ip = 0;
    hafen::telemetry::init(hafen::telemetry::LogFormat::Human, "warn");
    let mut admin = String::new();
    let (mut bases, mut running, mut database) = (Vec::new(), Vec::new(), None);
    // Every instance shares the data dir's master key and the database, as on several hosts.
    for _ in 0..args.instances.max(1) {
        let mut app =
            hafen::Application::build(&config, Arc::new(hafen::clock::SystemClock)).await?;
        if let Some(token) = app.take_admin_token() {
            admin = token.expose().clone();
        }
        bases.push(format!("http://127.0.0.1:{}", app.port()));
        database = Some(app.hafen().store().url().clone());
        let handle = app.handle();
        running.push((handle, actix_web::rt::spawn(app.run_until_stopped())));
    }
    let result = load(&args, &bases, &admin, database).await;
    for (handle, server) in running {
        handle.stop(true).await;
        let _ = server.await;
    }
    result
}

/// Creates a tenant (and a channel for webhooks), warms the contacts up, then measures; client
/// `n` talks to `bases[n % bases.len()]`.
async fn load(
    args: &Args,
    bases: &[String],
    admin: &str,
    database: Option<hafen::store::conn::DatabaseUrl>,
) -> anyhow::Result<()> {
    let admin = admin.to_string();
    let base = bases.first().map(String::as_str).unwrap_or_default();

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let tenant: serde_json::Value = client
        .post(format!("{base}/v1/tenants"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Bench GmbH"}))
        .send()
        .await?
        .json()
        .await?;
    let tenant = tenant["id"].as_str().unwrap_or_default().to_string();
    let receipts = args.mode == "status";
    let webhook = args.mode == "webhook" || receipts;
    let url = if webhook {
        let channel: serde_json::Value = client
            .post(format!("{base}/v1/tenants/{tenant}/channels"))
            .bearer_auth(&admin)
            .json(&json!({"platform": "whatsapp", "name": "Bench", "account_id": WA_ACCOUNT,
                "secrets": {"app_secret": APP_SECRET, "verify_token": "v", "access_token": "EAAG-bench"}}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = channel["id"].as_str().unwrap_or_default().to_string();
        bases
            .iter()
            .map(|base| Arc::new(format!("{base}/hooks/whatsapp/{id}")))
            .collect::<Vec<_>>()
    } else {
        bases
            .iter()
            .map(|base| Arc::new(format!("{base}/v1/tenants/{tenant}/messages")))
            .collect()
    };
    if let Some(url) = database.filter(|_| args.waiting_receipts > 0) {
        let (tenant, n) = (tenant.clone(), args.waiting_receipts);
        tokio::task::spawn_blocking(move || seed_waiting_receipts(&url, &tenant, n)).await??;
    }
    let per_request = if args.mode == "batch" { args.batch } else { 1 };
    let body = "x".repeat(args.body_bytes);
    let contacts = args.contacts;

    let rounds = usize::from(args.receipts_per_message);
    let broadcast_size = args.requests.div_ceil(rounds);
    if receipts {
        broadcast(
            &client,
            base,
            &tenant,
            &admin,
            broadcast_size,
            args.contacts,
        )
        .await?;
    }
    let make = move |seq: usize| {
        if receipts {
            // The warm-up's receipts name messages never stored (they wait for them).
            let (message, round) = if seq >= WARM_UP_SEQ || rounds == 1 {
                (seq, None)
            } else {
                (seq % broadcast_size, Some(seq / broadcast_size))
            };
            return whatsapp_receipt(message, message % contacts, round);
        }
        if webhook {
            return whatsapp_delivery(seq, seq % contacts, &body);
        }
        let one = |i: usize| {
            json!({
                "contact": {"channel": "whatsapp", "address": format!("+49151{:08}", i % contacts)},
                "direction": "in", "occurred_at": "2026-11-26T10:00:00Z", "kind": "text",
                "body": body, "external_id": format!("bench.{i}")
            })
        };
        if per_request == 1 {
            one(seq)
        } else {
            json!({"messages": (0..per_request).map(|k| one(seq * per_request + k)).collect::<Vec<_>>()})
        }
    };
    let make = Arc::new(make);
    // Webhooks authenticate by signature, the API by token.
    let send = move |client: &reqwest::Client, url: &str, admin: &str, body: &serde_json::Value| {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let request = client.post(url).header("content-type", "application/json");
        let request = if webhook {
            request.header(
                "x-hub-signature-256",
                hafen::channels::verify::meta_signature(APP_SECRET, &bytes),
            )
        } else {
            request.bearer_auth(admin)
        };
        request.body(bytes).send()
    };
    let ok_status = if webhook { 200 } else { 201 };

    // Warm-up: creates the contacts' keys (one age wrap each) outside the measured window (the
    // broadcast did that for receipts).
    let warm_ups = if receipts {
        0
    } else {
        args.contacts.div_ceil(per_request).max(1)
    };
    let warm: Vec<_> = (0..warm_ups).map(|i| make(WARM_UP_SEQ + i)).collect();
    for chunk in warm.chunks(args.clients.max(1)) {
        let sent = chunk
            .iter()
            .enumerate()
            .map(|(n, body)| send(&client, &url[n % url.len()], &admin, body));
        for response in futures_util::future::join_all(sent).await {
            response?.error_for_status()?;
        }
    }

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..args.clients {
        let (client, url, admin, next, make, send) = (
            client.clone(),
            url[n % url.len()].clone(),
            admin.clone(),
            next.clone(),
            make.clone(),
            send,
        );
        let total = args.requests;
        tasks.push(actix_web::rt::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let seq = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if seq >= total {
                    break;
                }
                let body = make(seq);
                let t = Instant::now();
                let r = send(&client, &url, &admin, &body).await;
                match r {
                    Ok(r) if r.status().as_u16() == ok_status => latencies.push(t.elapsed()),
                    Ok(r) => eprintln!("unexpected status {}", r.status()),
                    Err(e) => eprintln!("request failed: {e}"),
                }
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for t in tasks {
        latencies.extend(t.await?);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let messages = latencies.len() * per_request;
    let backend = match (&args.server, &args.database) {
        (Some(_), _) => "external",
        (None, Some(_)) => "postgres",
        (None, None) => "sqlite",
    };
    println!(
        "BENCH {}",
        json!({
            "bench": "ingest", "backend": backend, "mode": args.mode, "clients": args.clients,
            "instances": args.instances, "writers": args.writers,
            "messages": messages, "failed": args.requests - latencies.len(),
            "msgs_per_s": messages as f64 / elapsed.as_secs_f64(),
            "p50_ms": pct(0.50).as_secs_f64() * 1000.0, "p99_ms": pct(0.99).as_secs_f64() * 1000.0,
        })
    );
    println!(
        "backend={} mode={} clients={} msgs/request={} requests={} messages={} elapsed={:.2}s => {:.0} msgs/s, {:.0} req/s, p50={:.2}ms p99={:.2}ms",
        backend,
        args.mode,
        args.clients,
        per_request,
        latencies.len(),
        messages,
        elapsed.as_secs_f64(),
        messages as f64 / elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
    Ok(())
}

const APP_SECRET: &str = "bench-app-secret-7f3a9c1e5b";
const WA_ACCOUNT: &str = "106540352242922";

/// Stores the broadcast the receipts are for: message `i` went out to contact `i % contacts`
/// with the platform id `wamid.broadcast.{i}`.
async fn broadcast(
    client: &reqwest::Client,
    base: &str,
    tenant: &str,
    admin: &str,
    messages: usize,
    contacts: usize,
) -> anyhow::Result<()> {
    for start in (0..messages).step_by(1000) {
        let batch: Vec<_> = (start..(start + 1000).min(messages))
            .map(|i| {
                json!({
                    "contact": {"channel": "whatsapp", "address": format!("+49151{:08}", i % contacts)},
                    "direction": "out", "occurred_at": "2026-11-26T09:00:00Z", "kind": "text",
                    "body": "Unser Angebot der Woche", "external_id": format!("wamid.broadcast.{i}")
                })
            })
            .collect();
        client
            .post(format!("{base}/v1/tenants/{tenant}/messages"))
            .bearer_auth(admin)
            .json(&json!({ "messages": batch }))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// One WhatsApp Cloud API delivery receipt for broadcast message `seq`, as Meta sends it:
/// "delivered", or in `round` 0, 1, 2 "sent", "delivered", "read", a minute apart.
fn whatsapp_receipt(seq: usize, contact: usize, round: Option<usize>) -> serde_json::Value {
    let (status, timestamp) = match round {
        None => ("delivered", 1_764_151_260),
        Some(round) => (
            ["sent", "delivered", "read"][round.min(2)],
            1_764_151_200 + 60 * round,
        ),
    };
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": WA_ACCOUNT},
            "statuses": [{"id": format!("wamid.broadcast.{seq}"), "status": status,
                "timestamp": timestamp.to_string(), "recipient_id": format!("49151{contact:08}")}]
        }}]}]
    })
}

/// The warm-up's requests are numbered from here, apart from the measured ones (0, 1, …).
/// Far above any `--requests`: a measured request never reuses a warm-up's platform id.
const WARM_UP_SEQ: usize = 1_000_000_000;

/// When delivery `seq` was sent (Unix seconds): each a second after the one before, as in a
/// live stream, so every group moves its contacts' last message time as it does in
/// production; the warm-up's deliveries (`seq` from [`WARM_UP_SEQ`]) a day before the
/// measured ones.
fn delivery_time(seq: usize) -> usize {
    // 2025-11-01 00:00 UTC: the measured deliveries (from a day later) stay within November
    // up to ~2 500 000 requests, so all of a run's messages share one period key.
    const START: usize = 1_761_955_200;
    match seq.checked_sub(WARM_UP_SEQ) {
        Some(warm_up) => START + warm_up,
        None => START + 100_000 + seq,
    }
}

/// One WhatsApp Cloud API delivery carrying one text message, as Meta sends it.
fn whatsapp_delivery(seq: usize, contact: usize, body: &str) -> serde_json::Value {
    let wa_id = format!("49151{contact:08}");
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": WA_ACCOUNT},
            "contacts": [{"profile": {"name": "Bench Kontakt"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": format!("wamid.bench.{seq}"),
                "timestamp": delivery_time(seq).to_string(), "type": "text", "text": {"body": body}}]
        }}]}]
    })
}

/// Writes `n` delivery receipts of messages the tenant never stored (random platform ids).
fn seed_waiting_receipts(
    url: &hafen::store::conn::DatabaseUrl,
    tenant: &str,
    n: usize,
) -> anyhow::Result<()> {
    use diesel::connection::SimpleConnection;
    let mut conn = url.connect(Default::default())?;
    let columns = "id, tenant_id, channel, external_index, status, occurred_at, received_at";
    // The tenant's id as its 16 bytes (`hafen::store::id`).
    let sql = match &mut conn {
        hafen::store::DbConn::Sqlite(_) => format!(
            "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {n}) \
             INSERT INTO message_statuses ({columns}) SELECT unhex(printf('0000000000007000a000%012x', n)), \
             x'{hex}', 'whatsapp', randomblob(32), 'delivered', 0, 0 FROM k",
            hex = tenant.replace('-', "")
        ),
        hafen::store::DbConn::Postgres(_) => format!(
            "INSERT INTO message_statuses ({columns}) SELECT ('00000000-0000-7000-a000-' || lpad(to_hex(g), 12, '0'))::uuid, \
             '{tenant}'::uuid, 'whatsapp', decode(md5(g::text) || md5((g + 1)::text), 'hex'), 'delivered', 0, 0 \
             FROM generate_series(1, {n}) g"
        ),
    };
    conn.batch_execute(&sql)?;
    Ok(())
}

//! Retention sweep benchmark: delete a million expired messages while clients keep ingesting.
//!
//! ```sh
//! cargo build --release --example retention_bench
//! ./target/release/examples/retention_bench --expired 1000000
//! ./target/release/examples/retention_bench --expired 1000000 --database postgres://postgres@127.0.0.1/hafen_bench
//! ```
//! A release-built Hafen runs in this process. The expired messages are seeded as copies of
//! 1000 real, encrypted messages of 2015 (written straight into the database: seeding through
//! the API would take longer than the sweep). Then `--clients` clients ingest batches of 100
//! fresh 1 KiB messages at `--ingest-rate` messages/s in total, and one retention run deletes
//! every expired message. Prints the delete rate, the ingest latency during the sweep, and the
//! phases: when the expired content became unreadable (its month's period key destroyed: first
//! thing when the whole month is due), when the run answered (rows deleted) and when its space
//! came back, all from the run's start.
//! See docs/benchmarks.md.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use diesel::connection::SimpleConnection;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// Expired messages to delete.
    #[arg(long, default_value_t = 1_000_000)]
    expired: usize,
    /// Concurrent ingest clients during the sweep.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Ingest messages per second in total, in batches of 100 (0: as fast as possible).
    #[arg(long, default_value_t = 5000)]
    ingest_rate: usize,
    /// Items deleted per transaction (config retention_batch_size; default: the backend's).
    #[arg(long)]
    batch: Option<u32>,
    /// Database URL (default: SQLite in a temporary data dir). The database must be empty.
    #[arg(long)]
    database: Option<String>,
    /// How long to wait, after the run answered, for the freed space to come back.
    #[arg(long, default_value_t = 120)]
    reclaim_wait_secs: u64,
    /// Files (attachment rows) of one recent message, which stays: what every deleted
    /// message's foreign-key check reads when `attachments.message_id` leads no index.
    #[arg(long, default_value_t = 0)]
    files: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let result = actix_web::rt::System::new().block_on(run(args));
    // As `hafen` itself: the writers close their connections before the process exits.
    hafen::store::wait_for_writers(std::time::Duration::from_secs(30));
    result
}

const SEED: usize = 1000;
const BATCH: usize = 100;

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = hafen::Config::for_data_dir(&dir.path().join("data"));
    config.listen = "127.0.0.1:0".into();
    config.database_url = args.database.clone().map(hafen::sensitive::Sensitive::new);
    config.log_filter = "warn".into();
    config.retention_schedule = String::new();
    config.retention_batch_size = args.batch;
    hafen::telemetry::init(
        hafen::telemetry::LogFormat::Human,
        &std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
    );
    let mut app = hafen::Application::build(&config, Arc::new(hafen::clock::SystemClock)).await?;
    let admin = app
        .take_admin_token()
        .map(|t| t.expose().clone())
        .unwrap_or_default();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let db_url = app.hafen().store().url().clone();
    let server = actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients + 2)
        .build()?;
    let post = |path: String, body: serde_json::Value| {
        let (client, admin, base) = (client.clone(), admin.clone(), base.clone());
        async move {
            let r = client
                .post(format!("{base}{path}"))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await?;
            let status = r.status();
            let value: serde_json::Value = r.json().await?;
            anyhow::ensure!(status.is_success(), "{path}: {status} {value}");
            anyhow::Ok(value)
        }
    };
    let put = |path: String, body: serde_json::Value| {
        let (client, admin, base) = (client.clone(), admin.clone(), base.clone());
        async move {
            let r = client
                .put(format!("{base}{path}"))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
            anyhow::Ok(())
        }
    };
    let tenant = post("/v1/tenants".into(), json!({"name": "Bench GmbH"})).await?;
    let tenant = tenant["id"].as_str().unwrap_or_default().to_string();

    // Rules: message rows one year after collection; everything else kept.
    let mut rules = vec![
        json!({"category": "message_metadata", "start": "collection",
        "period": "P1Y", "legal_basis": "Benchmark"}),
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
        rules.push(json!({"category": category, "start": start, "period": "keep", "legal_basis": "Benchmark"}));
    }
    let preview = post(
        format!("/v1/tenants/{tenant}/retention/preview"),
        json!({ "rules": rules }),
    )
    .await?;
    put(
        format!("/v1/tenants/{tenant}/retention/rules"),
        json!({ "rules": rules, "preview_id": preview["preview_id"] }),
    )
    .await?;

    // Seed: 1000 real messages of 2015 over 1000 contacts, then copies up to --expired.
    let body = "x".repeat(1024);
    let message = |i: usize, at: &str, id: String| {
        json!({"contact": {"channel": "whatsapp", "address": format!("+49151{:08}", i % SEED)},
            "direction": "in", "occurred_at": at, "kind": "text", "body": body, "external_id": id})
    };
    for chunk in 0..SEED / BATCH {
        let batch: Vec<_> = (0..BATCH)
            .map(|k| {
                let i = chunk * BATCH + k;
                message(i, "2015-01-15T10:00:00Z", format!("seed.{i}"))
            })
            .collect();
        post(
            format!("/v1/tenants/{tenant}/messages"),
            json!({ "messages": batch }),
        )
        .await?;
    }
    let seeding = Instant::now();
    let copies = args.expired.saturating_sub(SEED);
    {
        let tenant = tenant.clone();
        let url = db_url.clone();
        tokio::task::spawn_blocking(move || seed_copies(&url, &tenant, copies)).await??;
    }
    if args.files > 0 {
        post(
            format!("/v1/tenants/{tenant}/messages"),
            json!({ "messages": [message(0, "2026-11-26T09:00:00Z", "files.anchor".into())] }),
        )
        .await?;
        let (url, tenant, files) = (db_url.clone(), tenant.clone(), args.files);
        tokio::task::spawn_blocking(move || seed_files(&url, &tenant, files)).await??;
    }
    eprintln!(
        "seeded {} expired messages and {} files in {:.1}s",
        SEED + copies,
        args.files,
        seeding.elapsed().as_secs_f64()
    );

    // Ingest during the sweep, paced to --ingest-rate.
    let sweeping = Arc::new(AtomicBool::new(true));
    let next = Arc::new(AtomicUsize::new(0));
    let interval = if args.ingest_rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64((args.clients * BATCH) as f64 / args.ingest_rate as f64)
    };
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, admin, base, tenant, sweeping, next, body) = (
            client.clone(),
            admin.clone(),
            base.clone(),
            tenant.clone(),
            sweeping.clone(),
            next.clone(),
            body.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            let url = format!("{base}/v1/tenants/{tenant}/messages");
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let mut tick = tokio::time::interval(interval.max(Duration::from_micros(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while sweeping.load(Ordering::Relaxed) {
                if !interval.is_zero() {
                    tick.tick().await;
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let batch: Vec<_> = (0..BATCH)
                    .map(|k| {
                        let i = seq * BATCH + k;
                        json!({"contact": {"channel": "whatsapp", "address": format!("+49151{:08}", i % SEED)},
                            "direction": "in", "occurred_at": "2026-11-26T10:00:00Z", "kind": "text",
                            "body": body, "external_id": format!("live.{i}")})
                    })
                    .collect();
                let t = Instant::now();
                match client
                    .post(&url)
                    .bearer_auth(&admin)
                    .json(&json!({ "messages": batch }))
                    .send()
                    .await
                {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(t.elapsed()),
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let vacuums_before = {
        let url = db_url.clone();
        tokio::task::spawn_blocking(move || space_probe(&mut url.connect(Default::default())?))
            .await??
    };
    let started = Instant::now();
    // The server's clock: the time it writes into `destroyed_at`.
    let started_wall =
        hafen::clock::to_micros(hafen::clock::Clock::now(&hafen::clock::SystemClock));
    let report = post(format!("/v1/tenants/{tenant}/retention/runs"), json!({})).await?;
    let sweep = started.elapsed();
    sweeping.store(false, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await?;
        latencies.extend(l);
        failures += f;
    }
    let ingest_window = started.elapsed();
    // The phases of issue 24: the content is unreadable once the period key of its month is
    // destroyed (from then on nothing of it can be read, in any backup either) -- at the run's
    // first write when the whole month is due, else with its last batch; the run answers once
    // every expired row is deleted; the space comes back afterwards (SQLite: free pages given
    // back; PostgreSQL: dead rows vacuumed).
    let unreadable = {
        let (url, tenant) = (db_url.clone(), tenant.clone());
        let destroyed =
            tokio::task::spawn_blocking(move || shredded_at(&url, &tenant, "2015-01")).await??;
        match destroyed {
            Some(at) => Duration::from_micros(at.saturating_sub(started_wall).max(0) as u64),
            None => anyhow::bail!("the run did not destroy the period key of January 2015"),
        }
    };
    let reclaimed = {
        let (url, polled_from) = (db_url.clone(), started.elapsed());
        let wait = Duration::from_secs(args.reclaim_wait_secs);
        tokio::task::spawn_blocking(move || space_back(&url, vacuums_before, wait))
            .await??
            .map(|after| polled_from + after)
    };
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0
    };
    let deleted = report["tenants"][0]["certificate"]["counts"]["message_metadata"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "backend={} batch={} expired={} deleted={} sweep={:.2}s => {:.0} deleted/s; ingest during sweep: {} msgs in {:.2}s = {:.0} msgs/s, p50={:.1}ms p99={:.1}ms max={:.1}ms failures={}",
        backend(&args),
        config.retention_batch(args.database.is_none()),
        SEED + copies,
        deleted,
        sweep.as_secs_f64(),
        deleted as f64 / sweep.as_secs_f64(),
        latencies.len() * BATCH,
        ingest_window.as_secs_f64(),
        (latencies.len() * BATCH) as f64 / ingest_window.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        latencies.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        failures,
    );
    println!(
        "BENCH {}",
        serde_json::json!({
            "bench": "sweep",
            "backend": backend(&args),
            "expired": SEED + copies, "deleted": deleted,
            "deleted_per_s": deleted as f64 / sweep.as_secs_f64(),
            "ingest_msgs_per_s": (latencies.len() * BATCH) as f64 / ingest_window.as_secs_f64(),
            "ingest_p50_ms": pct(0.50), "ingest_p99_ms": pct(0.99), "failures": failures,
            "ingest_offered_per_s": args.ingest_rate,
            "unreadable_s": unreadable.as_secs_f64(),
            "answered_s": sweep.as_secs_f64(),
            "reclaimed_s": reclaimed.map(|d| d.as_secs_f64()),
        })
    );
    handle.stop(true).await;
    let _ = server.await;
    Ok(())
}

/// When the tenant's period key of `period` was destroyed (micros since the epoch).
fn shredded_at(
    url: &hafen::store::conn::DatabaseUrl,
    tenant: &str,
    period: &str,
) -> anyhow::Result<Option<i64>> {
    use diesel::prelude::*;
    use hafen::store::schema::period_keys;
    let mut conn = url.connect(Default::default())?;
    let at: Option<Option<i64>> = period_keys::table
        .filter(period_keys::tenant_id.eq(hafen::store::id::bind(tenant)))
        .filter(period_keys::period.eq(period))
        .filter(period_keys::destroyed_at.is_not_null())
        .select(period_keys::destroyed_at)
        .order(period_keys::destroyed_at.desc())
        .first(&mut conn)
        .optional()?;
    Ok(at.flatten())
}

/// What says whether freed space is back: SQLite's free pages (back when none are left);
/// PostgreSQL's count of vacuums of `messages` (back when one ran after the run started).
fn space_probe(conn: &mut hafen::store::DbConn) -> anyhow::Result<i64> {
    #[derive(diesel::QueryableByName)]
    struct Probe {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sql = match conn {
        hafen::store::DbConn::Sqlite(_) => {
            "SELECT freelist_count AS n FROM pragma_freelist_count()"
        }
        hafen::store::DbConn::Postgres(_) => {
            "SELECT coalesce(sum(vacuum_count + autovacuum_count), 0)::bigint AS n \
             FROM pg_stat_user_tables WHERE relname = 'messages'"
        }
    };
    let probe: Probe = diesel::RunQueryDsl::get_result(diesel::sql_query(sql), conn)?;
    Ok(probe.n)
}

/// Waits, polling, until the space the run freed is back (see [`space_probe`]; `before` is the
/// probe taken before the run); how long that took, or None if not within `wait`.
fn space_back(
    url: &hafen::store::conn::DatabaseUrl,
    before: i64,
    wait: Duration,
) -> anyhow::Result<Option<Duration>> {
    let mut conn = url.connect(Default::default())?;
    let sqlite = matches!(conn, hafen::store::DbConn::Sqlite(_));
    let started = Instant::now();
    while started.elapsed() < wait {
        let now = space_probe(&mut conn)?;
        if (sqlite && now == 0) || (!sqlite && now > before) {
            return Ok(Some(started.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(None)
}

/// Copies the 1000 seed messages `copies` times (rounded to whole rounds), 100 000 rows per
/// statement. Copies keep the ciphertext of their original: the sweep never opens it. Their
/// ids ascend like the UUIDv7 ids Hafen gives (time-ordered), so index pages fill in order as
/// they do in production.
fn seed_copies(
    url: &hafen::store::conn::DatabaseUrl,
    tenant: &str,
    copies: usize,
) -> anyhow::Result<()> {
    let mut conn = url.connect(Default::default())?;
    let rounds_per_statement = 100;
    let mut left = copies.div_ceil(SEED);
    let mut done = 0usize;
    let columns = "tenant_id, contact_id, channel, direction, kind, occurred_at, received_at, body_sealed, channel_id, period_key_id";
    let copied = "m.tenant_id, m.contact_id, m.channel, m.direction, m.kind, m.occurred_at, m.received_at + 1, m.body_sealed, m.channel_id, m.period_key_id";
    // The seed rows are the only ones with external ids.
    let seed = format!(
        "m.tenant_id = {} AND m.external_index IS NOT NULL",
        id_literal(&conn, tenant)
    );
    while left > 0 {
        let n = left.min(rounds_per_statement);
        let sql = match &mut conn {
            hafen::store::DbConn::Sqlite(_) => format!(
                "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {n}) \
                 INSERT INTO messages (id, {columns}) SELECT unhex(printf('00000000%04x7%03x8000%012x', k.n + {done}, 0, m.rowid)), {copied} FROM messages m, k WHERE {seed}"
            ),
            hafen::store::DbConn::Postgres(_) => format!(
                "INSERT INTO messages (id, {columns}) SELECT ('00000000-' || lpad(to_hex(g + {done}), 4, '0') || '-7000-8000-' || lpad(to_hex(row_number() OVER ()), 12, '0'))::uuid, {copied} \
                 FROM messages m, generate_series(1, {n}) g WHERE {seed}"
            ),
        };
        conn.batch_execute(&sql)?;
        left -= n;
        done += n;
    }
    Ok(())
}

/// Attaches `files` rows to the tenant's one recent message (the anchor `--files` posts): files
/// of a message that stays, so the run deletes none of them.
fn seed_files(
    url: &hafen::store::conn::DatabaseUrl,
    tenant: &str,
    files: usize,
) -> anyhow::Result<()> {
    let mut conn = url.connect(Default::default())?;
    let columns = "id, tenant_id, message_id, n, media_ref_sealed, state, attempts, next_attempt_at, created_at";
    let tenant = id_literal(&conn, tenant);
    // The anchor is the only message from 2025-11-24 on (1 764 000 000 s): the copies are of 2015.
    let anchor = format!(
        "(SELECT id FROM messages WHERE tenant_id = {tenant} AND occurred_at >= 1764000000000000)"
    );
    let sql = match &mut conn {
        hafen::store::DbConn::Sqlite(_) => format!(
            "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {files}) \
             INSERT INTO attachments ({columns}) SELECT unhex(printf('00000000000070009000%012x', k.n)), \
             {tenant}, {anchor}, k.n, x'00', 'stored', 0, 0, 0 FROM k"
        ),
        hafen::store::DbConn::Postgres(_) => format!(
            "INSERT INTO attachments ({columns}) SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(g), 12, '0'))::uuid, \
             {tenant}, {anchor}, g, '\\x00'::bytea, 'stored', 0, 0, 0 FROM generate_series(1, {files}) g"
        ),
    };
    conn.batch_execute(&sql)?;
    Ok(())
}

/// The id `text` (a UUID) as a literal of the database's id columns (`hafen::store::id`): its 16
/// bytes as a blob on SQLite, a `uuid` on PostgreSQL.
fn id_literal(conn: &hafen::store::DbConn, text: &str) -> String {
    match conn {
        hafen::store::DbConn::Sqlite(_) => format!("x'{}'", text.replace('-', "")),
        hafen::store::DbConn::Postgres(_) => format!("'{text}'::uuid"),
    }
}

/// The backend `--database` names (a `sqlite://` URL is SQLite too).
fn backend(args: &Args) -> &'static str {
    match args.database.as_deref() {
        Some(url) if url.starts_with("postgres") => "postgres",
        _ => "sqlite",
    }
}

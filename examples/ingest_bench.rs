//! Quick ingest benchmark: a release-built Hafen in this process, clients over HTTP on loopback.
//!
//! ```sh
//! cargo run --release --example ingest_bench -- --mode batch  --clients 8 --requests 200
//! cargo run --release --example ingest_bench -- --mode single --clients 16 --requests 4000
//! cargo run --release --example ingest_bench -- --database postgres://postgres@127.0.0.1/bench
//! ```
//! Bodies are 1 KiB, spread over 1000 contacts; every message has a unique external id.
//! Prints messages/s and request latency percentiles. See docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// `single` (one message per request) or `batch` (`--batch` messages per request).
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
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    actix_web::rt::System::new().block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = hafen::Config::for_data_dir(&dir.path().join("data"));
    config.listen = "127.0.0.1:0".into();
    config.database_url = args.database.clone().map(hafen::sensitive::Sensitive::new);
    config.sqlite_synchronous = serde_json::from_value(json!(args.sqlite_synchronous))?;
    config.log_filter = "warn".into();
    hafen::telemetry::init(hafen::config::LogFormat::Human, "warn");
    let mut app = hafen::Application::build(&config, Arc::new(hafen::clock::SystemClock)).await?;
    let admin = app
        .take_admin_token()
        .map(|t| t.expose().clone())
        .unwrap_or_default();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = actix_web::rt::spawn(app.run_until_stopped());

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
    let url = Arc::new(format!("{base}/v1/tenants/{tenant}/messages"));
    let per_request = if args.mode == "single" { 1 } else { args.batch };
    let body = "x".repeat(args.body_bytes);

    let make = move |seq: usize| {
        let one = |i: usize| {
            json!({
                "contact": {"channel": "whatsapp", "address": format!("+49151{:08}", i % args.contacts)},
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

    // Warm-up: creates the contacts' keys (one age wrap each) outside the measured window.
    let warm: Vec<_> = (0..args.contacts.div_ceil(per_request).max(1))
        .map(|i| make(1_000_000 + i))
        .collect();
    for body in warm {
        client
            .post(url.as_str())
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
    }

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, url, admin, next, make) = (
            client.clone(),
            url.clone(),
            admin.clone(),
            next.clone(),
            make.clone(),
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
                let r = client
                    .post(url.as_str())
                    .bearer_auth(&admin)
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(t.elapsed()),
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
    println!(
        "backend={} mode={} clients={} msgs/request={} requests={} messages={} elapsed={:.2}s => {:.0} msgs/s, {:.0} req/s, p50={:.2}ms p99={:.2}ms",
        if args.database.is_some() { "postgres" } else { "sqlite" },
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
    handle.stop(true).await;
    let _ = server.await;
    Ok(())
}

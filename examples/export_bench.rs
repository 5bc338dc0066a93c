//! Subject access export benchmark: a release-built Hafen in this process; one contact with
//! `--messages` messages (1 KiB of chat words by default, `--body x` for one letter repeated) among `--others` messages of other contacts, then the time of
//! `POST …/requests/{id}/export` (decrypt, ZIP, PDF) over HTTP on loopback.
//!
//! ```sh
//! cargo run --release --example export_bench -- --messages 10000 --others 100000
//! ```

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use serde_json::{json, Value};

#[derive(Debug, Parser)]
struct Args {
    /// Messages of the contact that asks for its data.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Messages of other contacts stored beside them.
    #[arg(long, default_value_t = 100_000)]
    others: usize,
    #[arg(long, default_value_t = 1024)]
    body_bytes: usize,
    /// What the bodies say: `chat` (German and English chat words, order numbers and an
    /// emoji now and then, as customers write; the default) or `x` (one letter repeated, one
    /// word wider than a line: the figures before 2026-12-06 were measured with it).
    #[arg(long, default_value = "chat")]
    body: BodyKind,
    /// The export's language (`de` or `en`).
    #[arg(long, default_value = "de")]
    lang: String,
    /// Keep the export's ZIP here, to look at.
    #[arg(long)]
    save: Option<std::path::PathBuf>,
    /// Database URL (default: SQLite in a temporary data dir).
    #[arg(long)]
    database: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BodyKind {
    Chat,
    X,
}

/// Words customers and agents write, so the PDF lays out text as it will in use: repeated
/// words, numbers that never repeat, umlauts, punctuation, an emoji now and then.
const WORDS: &[&str] = &[
    "Hallo",
    "guten",
    "Tag,",
    "ich",
    "habe",
    "eine",
    "Frage",
    "zu",
    "meiner",
    "Bestellung",
    "Nr.",
    "die",
    "noch",
    "nicht",
    "angekommen",
    "ist.",
    "Können",
    "Sie",
    "bitte",
    "nachsehen?",
    "Vielen",
    "Dank",
    "für",
    "Ihre",
    "Nachricht!",
    "Wir",
    "prüfen",
    "das",
    "und",
    "melden",
    "uns",
    "morgen",
    "bei",
    "Ihnen.",
    "Die",
    "Lieferung",
    "kommt",
    "voraussichtlich",
    "am",
    "Donnerstag.",
    "Grüße",
    "aus",
    "München",
    "Straße",
    "Rückfrage:",
    "Rechnung",
    "Termin",
    "um",
    "Uhr",
    "verschieben?",
    "Ja,",
    "gern.",
    "Nein,",
    "leider",
    "nicht",
    "möglich.",
    "Thanks",
    "for",
    "your",
    "message,",
    "we",
    "will",
    "get",
    "back",
    "to",
    "you",
    "soon.",
    "Is",
    "the",
    "parcel",
    "on",
    "its",
    "way?",
    "Übermorgen",
    "wäre",
    "besser.",
    "Öffnungszeiten",
    "sind",
    "Montag",
    "bis",
    "Freitag",
    "von",
    "8",
    "18",
    "Ihr",
    "Kundenservice",
    "😊",
    "👍",
    "Adresse:",
    "Hauptstraße",
    "Berlin,",
    "Rücksendung",
    "Gutschein",
    "Kündigung",
    "Vertrag",
    "Passwort",
    "zurücksetzen",
    "funktioniert",
    "wieder,",
    "super!",
    "OK",
    "alles",
    "klar.",
];

/// A body of about `bytes` bytes, different for every `seed`.
fn chat_body(seed: usize, bytes: usize) -> String {
    let mut state = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut body = String::with_capacity(bytes + 32);
    while body.len() < bytes {
        if !body.is_empty() {
            body.push(' ');
        }
        let n = next();
        if n % 17 == 0 {
            body.push_str(&format!("{}", 100_000 + n % 900_000));
        } else {
            body.push_str(WORDS[(n >> 8) as usize % WORDS.len()]);
        }
    }
    body
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let result = actix_web::rt::System::new().block_on(run(args));
    // As `hafen` itself: the writers close their connections before the process exits.
    hafen::store::wait_for_writers(std::time::Duration::from_secs(30));
    result
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = hafen::Config::for_data_dir(&dir.path().join("data"));
    config.listen = "127.0.0.1:0".into();
    config.database_url = args.database.clone().map(hafen::sensitive::Sensitive::new);
    config.log_filter = "warn".into();
    hafen::telemetry::init(hafen::telemetry::LogFormat::Human, "warn");
    let mut app = hafen::Application::build(&config, Arc::new(hafen::clock::SystemClock)).await?;
    let admin = app
        .take_admin_token()
        .map(|t| t.expose().clone())
        .unwrap_or_default();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let (client, admin, base) = (client.clone(), admin.clone(), base.clone());
        async move {
            client
                .post(format!("{base}{path}"))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await?
                .error_for_status()?
                .json::<Value>()
                .await
        }
    };
    let tenant = post("/v1/tenants".into(), json!({"name": "Bench GmbH"})).await?;
    let tenant = tenant["id"].as_str().unwrap_or_default().to_string();
    let body = |i: usize| match args.body {
        BodyKind::Chat => chat_body(i, args.body_bytes),
        BodyKind::X => "x".repeat(args.body_bytes),
    };
    let seeded = Instant::now();
    let total = args.messages + args.others;
    let mut contact = String::new();
    for start in (0..total).step_by(100) {
        let batch: Vec<Value> = (start..(start + 100).min(total))
            .map(|i| {
                let address = if i < args.messages {
                    "+4915100000001".to_string()
                } else {
                    format!("+49152{:08}", i % 1000)
                };
                json!({"contact": {"channel": "whatsapp", "address": address},
                       "direction": if i % 2 == 0 { "in" } else { "out" },
                       "occurred_at": "2026-11-26T10:00:00Z", "kind": "text", "body": body(i)})
            })
            .collect();
        let stored = post(
            format!("/v1/tenants/{tenant}/messages"),
            json!({"messages": batch}),
        )
        .await?;
        if contact.is_empty() {
            contact = stored["messages"][0]["contact_id"]
                .as_str()
                .or_else(|| stored["contact_id"].as_str())
                .unwrap_or_default()
                .to_string();
        }
    }
    eprintln!(
        "seeded {total} messages in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let request = post(
        format!("/v1/tenants/{tenant}/requests"),
        json!({"kind": "access", "contact_id": contact}),
    )
    .await?;
    let id = request["id"].as_str().unwrap_or_default();
    let started = Instant::now();
    let zip = client
        .post(format!("{base}/v1/tenants/{tenant}/requests/{id}/export"))
        .bearer_auth(&admin)
        .json(&json!({ "lang": args.lang }))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let elapsed = started.elapsed();
    if let Some(path) = &args.save {
        std::fs::write(path, &zip)?;
    }
    println!(
        "backend={} export of {} messages among {} in {:.3} s ({} KiB ZIP)",
        backend(&args),
        args.messages,
        total,
        elapsed.as_secs_f64(),
        zip.len() / 1024
    );
    println!(
        "BENCH {}",
        json!({
            "bench": "export",
            "backend": backend(&args),
            "messages": args.messages, "stored": total, "seconds": elapsed.as_secs_f64(),
        })
    );
    handle.stop(true).await;
    let _ = server.await;
    Ok(())
}

/// The backend `--database` names (a `sqlite://` URL is SQLite too).
fn backend(args: &Args) -> &'static str {
    match args.database.as_deref() {
        Some(url) if url.starts_with("postgres") => "postgres",
        _ => "sqlite",
    }
}

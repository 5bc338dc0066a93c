//! The benchmark suite in one command: every scenario in one run, so that the ratios (Hafen
//! against each backend's plain-table limit and its limit with Hafen's row shape, PostgreSQL's
//! webhooks against SQLite's, and against the do-it-yourself pgcrypto peer) compare figures
//! taken minutes apart on the same machine. The targets are issue 24's.
//!
//! ```sh
//! cargo build --release --bin hafen --examples && ./target/release/examples/bench
//! ./target/release/examples/bench --ten-million   # export and memory with 10M stored
//! ./target/release/examples/bench --skip-postgres --out /tmp/table.md
//! ```
//! CI runs it at a smoke size on the debug build (`.ci/run`), so the suite itself stays working;
//! its figures there mean nothing.
//! It runs the sibling example binaries (`limits_bench`, `ingest_bench`, `retention_bench`,
//! `export_bench`), each printing one `BENCH {json}` line, plus a memory and start-up run of the
//! real `hafen serve` binary, and prints a Markdown table. PostgreSQL scenarios each get a fresh
//! database on `--pg` (dropped afterwards). See docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;

#[derive(Debug, Parser)]
struct Args {
    /// PostgreSQL server (without a database name); databases are created and dropped on it.
    /// Default: the local server through its socket where Debian puts it, as docs/operations.md
    /// has an instance on the database's machine reach it (no TCP, no TLS); else 127.0.0.1.
    #[arg(long)]
    pg: Option<String>,
    #[arg(long)]
    skip_postgres: bool,
    /// Rows of the raw-insert limits (the pgcrypto peer inserts a tenth).
    #[arg(long, default_value_t = 200_000)]
    limit_rows: usize,
    /// Batch-ingest requests of 100 messages each.
    #[arg(long, default_value_t = 1_000)]
    batch_requests: usize,
    /// Webhook deliveries (one message each) at 64 clients.
    #[arg(long, default_value_t = 60_000)]
    webhook_requests: usize,
    /// Expired messages the retention sweep deletes.
    #[arg(long, default_value_t = 1_000_000)]
    sweep_messages: usize,
    /// How long the sweep scenario waits for the freed space to come back.
    #[arg(long, default_value_t = 120)]
    reclaim_wait_secs: u64,
    /// Messages of the exported contact.
    #[arg(long, default_value_t = 10_000)]
    export_messages: usize,
    /// Messages stored besides the exported contact's.
    #[arg(long, default_value_t = 100_000)]
    export_others: usize,
    /// Messages ingested before memory and start-up are measured (SQLite).
    #[arg(long, default_value_t = 1_000_000)]
    rss_messages: usize,
    /// Also write the table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The large run of issue 24: 10 000 000 messages stored for the export and the memory
    /// scenarios (hours on 2 cores; overrides --export-others and --rss-messages).
    #[arg(long)]
    ten_million: bool,
}

/// One measured line of the table.
struct Line {
    scenario: String,
    result: String,
    compared: String,
    target: String,
    met: Option<bool>,
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.ten_million {
        args.export_others = 10_000_000 - args.export_messages;
        args.rss_messages = 10_000_000;
    }
    let bin = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("cannot find the example binaries"))?;
    let started = Instant::now();
    let mut lines = Vec::new();
    let mut backends = vec![Backend::Sqlite];
    if !args.skip_postgres {
        backends.push(Backend::Postgres);
    }
    let pg = args.pg.clone().unwrap_or_else(local_postgres);

    // Every limit on the same server as Hafen's scenarios (SQLite's ignore it).
    let pg_admin = format!("{pg}/postgres");
    let limit = |target: &str, table: &str, rows: usize| -> anyhow::Result<f64> {
        let out = run(
            &bin.join("limits_bench"),
            &[
                "--target",
                target,
                "--table",
                table,
                "--rows",
                &rows.to_string(),
                "--pg-admin",
                &pg_admin,
            ],
        )?;
        Ok(out["rows_per_s"].as_f64().unwrap_or(0.0))
    };
    // Each backend's limit twice: the plain table (primary key only) is what the database does
    // before any schema choice; Hafen's row shape adds its indexes and keys (issue 24).
    let mut limits = Vec::new();
    for backend in &backends {
        let target = backend.limits_target();
        let plain = limit(target, "plain", args.limit_rows)?;
        let shaped = limit(target, "hafen", args.limit_rows)?;
        lines.push(Line::figure(
            &format!(
                "1 limit: {} plain table (primary key only), batches of 1000",
                backend.name()
            ),
            per_s(plain, "rows"),
        ));
        lines.push(Line::info(
            &format!(
                "1 limit: {} with Hafen's row shape (six B-trees)",
                backend.name()
            ),
            per_s(shaped, "rows"),
            shaped / plain,
            "of the plain table",
        ));
        limits.push(Limits { plain, shaped });
    }
    let mut pgcrypto = 0.0;
    if !args.skip_postgres {
        pgcrypto = limit("pgcrypto", "hafen", args.limit_rows / 10)?;
        lines.push(Line::figure(
            "2 peer: PostgreSQL + pgcrypto",
            per_s(pgcrypto, "rows"),
        ));
    }

    let mut half_load = 2_500.0;
    for (i, backend) in backends.iter().enumerate() {
        let db = backend.database(&pg, "ingest")?;
        let out = run(
            &bin.join("ingest_bench"),
            &with_db(
                &[
                    "--mode",
                    "batch",
                    "--clients",
                    "8",
                    "--requests",
                    &args.batch_requests.to_string(),
                ],
                &db,
            ),
        )?;
        drop(db);
        let rate = out["msgs_per_s"].as_f64().unwrap_or(0.0);
        let limit = &limits[i];
        if *backend == Backend::Sqlite {
            half_load = rate / 2.0;
        }
        lines.push(Line::ratio(
            &format!("3 Hafen batch ingest, {}, 8 clients", backend.name()),
            ingest_result(&out),
            rate / limit.plain,
            &format!("of {} plain table", backend.name()),
            0.3,
        ));
        lines.push(Line::info(
            "3 … same run against Hafen's row shape",
            String::new(),
            rate / limit.shaped,
            "of the shaped limit",
        ));
        if *backend == Backend::Postgres {
            lines.push(Line::ratio(
                "3 … same run against the pgcrypto peer",
                String::new(),
                rate / pgcrypto,
                "× pgcrypto",
                10.0,
            ));
        }
    }

    let mut sqlite_webhooks = 0.0;
    // (mode, receipts per broadcast message, scratch database's name, what the line says)
    for (mode, receipts, scenario, what) in [
        ("webhook", "1", "webhook", "signed WhatsApp webhooks"),
        (
            "status",
            "1",
            "status",
            "signed WhatsApp delivery receipts (after a broadcast)",
        ),
        // As Meta reports a broadcast: every receipt after the first moves a stored status.
        (
            "status",
            "3",
            "status3",
            "signed WhatsApp receipts, sent + delivered + read per message",
        ),
    ] {
        let mut sqlite_rate = 0.0;
        for (i, backend) in backends.iter().enumerate() {
            let db = backend.database(&pg, scenario)?;
            let out = run(
                &bin.join("ingest_bench"),
                &with_db(
                    &[
                        "--mode",
                        mode,
                        "--receipts-per-message",
                        receipts,
                        "--clients",
                        "64",
                        "--requests",
                        &args.webhook_requests.to_string(),
                    ],
                    &db,
                ),
            )?;
            drop(db);
            let rate = out["msgs_per_s"].as_f64().unwrap_or(0.0);
            let p99 = out["p99_ms"].as_f64().unwrap_or(f64::MAX);
            // SQLite against its own plain table; PostgreSQL, the scale-out backend, against
            // SQLite's figure of the same run.
            let (ratio, of, wanted) = match backend {
                Backend::Sqlite => (rate / limits[i].plain, "of SQLite plain table", 0.15),
                Backend::Postgres => (
                    rate / f64::max(sqlite_rate, f64::MIN_POSITIVE),
                    "× SQLite's figure",
                    1.0,
                ),
            };
            if *backend == Backend::Sqlite {
                sqlite_rate = rate;
            }
            let mut line = Line::ratio(
                &format!("4 Hafen {what}, {}, 64 clients", backend.name()),
                ingest_result(&out),
                ratio,
                of,
                wanted,
            );
            line.target.push_str(", p99 < 100 ms");
            line.met = Some(ratio >= wanted && p99 < 100.0);
            lines.push(line);
        }
        if mode == "webhook" {
            sqlite_webhooks = sqlite_rate;
        }
    }
    if backends.contains(&Backend::Postgres) {
        // The scale-out configuration: two instances on one PostgreSQL, the clients split
        // between them (docs/operations.md, "Several instances").
        let db = Backend::Postgres.database(&pg, "webhook2")?;
        let out = run(
            &bin.join("ingest_bench"),
            &with_db(
                &[
                    "--mode",
                    "webhook",
                    "--clients",
                    "64",
                    "--requests",
                    &args.webhook_requests.to_string(),
                    "--instances",
                    "2",
                ],
                &db,
            ),
        )?;
        drop(db);
        let rate = out["msgs_per_s"].as_f64().unwrap_or(0.0);
        let p99 = out["p99_ms"].as_f64().unwrap_or(f64::MAX);
        let mut line = Line::ratio(
            "4 Hafen signed WhatsApp webhooks, PostgreSQL, two instances, 64 clients",
            ingest_result(&out),
            rate / sqlite_webhooks.max(f64::MIN_POSITIVE),
            "× SQLite's webhooks",
            1.0,
        );
        line.target.push_str(", p99 < 100 ms");
        line.met = Some(rate >= sqlite_webhooks && p99 < 100.0);
        lines.push(line);
    }

    for backend in &backends {
        let db = backend.database(&pg, "sweep")?;
        let out = run(
            &bin.join("retention_bench"),
            &with_db(
                &[
                    "--expired",
                    &args.sweep_messages.to_string(),
                    "--ingest-rate",
                    &format!("{half_load:.0}"),
                    "--reclaim-wait-secs",
                    &args.reclaim_wait_secs.to_string(),
                ],
                &db,
            ),
        )?;
        drop(db);
        let rate = out["deleted_per_s"].as_f64().unwrap_or(0.0);
        let p99 = out["ingest_p99_ms"].as_f64().unwrap_or(f64::MAX);
        let unreadable = out["unreadable_s"].as_f64().unwrap_or(f64::MAX);
        let reclaimed = out["reclaimed_s"].as_f64();
        let answered = out["answered_s"].as_f64().unwrap_or(f64::MAX);
        let offered = out["ingest_offered_per_s"].as_f64().unwrap_or(0.0);
        let reached = out["ingest_msgs_per_s"].as_f64().unwrap_or(0.0);
        let share = if offered > 0.0 {
            reached / offered
        } else {
            1.0
        };
        lines.push(Line {
            scenario: format!(
                "5 retention of {} expired, {}, ingest offered at half load",
                thousands(out["deleted"].as_f64().unwrap_or(0.0)),
                backend.name()
            ),
            result: format!(
                "{}; unreadable after {unreadable:.3} s, run answered after {answered:.1} s, space back {}; ingest {} msgs/s ({:.0} % of offered), p99 {p99:.0} ms",
                per_s(rate, "deleted"),
                reclaimed.map_or("not within the wait".into(), |s| format!("after {s:.1} s")),
                thousands(reached),
                share * 100.0,
            ),
            compared: String::new(),
            target: "unreadable ≤ 1 s, space back ≤ 30 s, ingest p99 < 100 ms at ≥ 95 % of offered"
                .into(),
            met: Some(
                unreadable <= 1.0
                    && reclaimed.is_some_and(|s| s <= 30.0)
                    && p99 < 100.0
                    && share >= 0.95,
            ),
        });
    }

    for backend in &backends {
        let db = backend.database(&pg, "export")?;
        let out = run(
            &bin.join("export_bench"),
            &with_db(
                &[
                    "--messages",
                    &args.export_messages.to_string(),
                    "--others",
                    &args.export_others.to_string(),
                ],
                &db,
            ),
        )?;
        drop(db);
        let seconds = out["seconds"].as_f64().unwrap_or(f64::MAX);
        lines.push(Line {
            scenario: format!(
                "6 subject access export, {} of {} messages, {}",
                thousands(args.export_messages as f64),
                thousands(out["stored"].as_f64().unwrap_or(0.0)),
                backend.name()
            ),
            result: format!("{seconds:.2} s"),
            compared: String::new(),
            target: "< 1 s".into(),
            met: Some(seconds < 1.0),
        });
    }

    let memory = memory_and_start_up(&bin, args.rss_messages)?;
    lines.push(Line {
        scenario: format!(
            "7 memory after ingesting {} messages, SQLite",
            thousands(args.rss_messages as f64)
        ),
        result: format!(
            "RSS {:.0} MB (peak {:.0} MB)",
            memory.rss_mb, memory.peak_mb
        ),
        compared: String::new(),
        target: "< 150 MB".into(),
        met: Some(memory.peak_mb < 150.0),
    });
    lines.push(Line {
        scenario: format!(
            "7 start-up to ready with {} stored, SQLite",
            thousands(args.rss_messages as f64)
        ),
        result: format!(
            "{:.2} s, RSS {:.0} MB after start",
            memory.start_up.as_secs_f64(),
            memory.start_rss_mb
        ),
        compared: String::new(),
        target: String::new(),
        met: None,
    });

    let postgres = (!args.skip_postgres).then_some(pg.as_str());
    let table = render(&lines, started.elapsed(), postgres);
    println!("{table}");
    if let Some(path) = &args.out {
        std::fs::write(path, &table)?;
    }
    Ok(())
}

/// The local PostgreSQL server: through its socket in Debian's directory where it lets us in,
/// else over TCP on 127.0.0.1.
fn local_postgres() -> String {
    let socket = "postgres://postgres@%2Fvar%2Frun%2Fpostgresql";
    if diesel::PgConnection::establish(&format!("{socket}/postgres")).is_ok() {
        socket.to_string()
    } else {
        "postgres://postgres@127.0.0.1:5432".to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One backend's two limits, in rows per second.
struct Limits {
    plain: f64,
    shaped: f64,
}

impl Backend {
    /// `limits_bench --target` for this backend.
    fn limits_target(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }

    /// A fresh database for one scenario (SQLite: the scenario makes its own temporary one).
    fn database(self, server: &str, scenario: &str) -> anyhow::Result<ScratchDb> {
        match self {
            Self::Sqlite => Ok(ScratchDb(None)),
            Self::Postgres => {
                let name = format!("hafen_bench_{}_{scenario}", std::process::id());
                let mut admin = diesel::PgConnection::establish(&format!("{server}/postgres"))?;
                // One statement per call: DROP and CREATE DATABASE refuse a transaction block.
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
                admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
                Ok(ScratchDb(Some((server.to_string(), name))))
            }
        }
    }
}

/// A PostgreSQL database dropped when the scenario is done.
struct ScratchDb(Option<(String, String)>);

impl ScratchDb {
    fn flag(&self) -> Vec<String> {
        match &self.0 {
            Some((server, name)) => vec!["--database".into(), format!("{server}/{name}")],
            None => Vec::new(),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.0 {
            if let Ok(mut admin) = diesel::PgConnection::establish(&format!("{server}/postgres")) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A scenario's arguments plus `--database` for PostgreSQL.
fn with_db(args: &[&str], db: &ScratchDb) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(db.flag());
    all
}

/// Runs one benchmark binary (its human output goes to stderr) and returns its `BENCH` line.
fn run<S: AsRef<std::ffi::OsStr>>(binary: &Path, args: &[S]) -> anyhow::Result<Value> {
    let mut shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    // The admin token of the throwaway install stays out of the log all the same.
    if let Some(i) = shown.iter().position(|a| a == "--token") {
        if let Some(token) = shown.get_mut(i + 1) {
            *token = "…".into();
        }
    }
    eprintln!("\n== {} {}", binary.display(), shown.join(" "));
    let output = Command::new(binary)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run {} (build the examples first): {e}",
                binary.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines().filter(|l| !l.starts_with("BENCH ")) {
        eprintln!("{line}");
    }
    if !output.status.success() {
        anyhow::bail!("{} failed: {}", binary.display(), output.status);
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .ok_or_else(|| anyhow::anyhow!("{} printed no BENCH line", binary.display()))?;
    Ok(serde_json::from_str(line)?)
}

struct Memory {
    rss_mb: f64,
    peak_mb: f64,
    start_up: Duration,
    start_rss_mb: f64,
}

/// Runs the real `hafen serve` on a fresh SQLite data dir, ingests `messages` through it, reads
/// its RSS, stops it, and times a restart until `/readyz` answers.
fn memory_and_start_up(bin: &Path, messages: usize) -> anyhow::Result<Memory> {
    let hafen = bin
        .parent()
        .map(|p| p.join("hafen"))
        .filter(|p| p.exists())
        .ok_or_else(|| {
            anyhow::anyhow!("target/release/hafen is missing: cargo build --release --bin hafen")
        })?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let init = Command::new(&hafen)
        .args(["init", "--data-dir"])
        .arg(&data)
        .env("HAFEN_LOG_FILTER", "warn")
        .stderr(Stdio::inherit())
        .output()?;
    anyhow::ensure!(init.status.success(), "hafen init failed");
    let token = String::from_utf8_lossy(&init.stdout).trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let serve = || -> anyhow::Result<(Child, Duration)> {
        let started = Instant::now();
        let child = Command::new(&hafen)
            .arg("serve")
            .env("HAFEN_DATA_DIR", &data)
            .env("HAFEN_LISTEN", format!("127.0.0.1:{port}"))
            .env("HAFEN_LOG_FILTER", "warn")
            // As the packaged unit runs it (systemd/hafen.service).
            .env("MALLOC_ARENA_MAX", "2")
            .stdout(Stdio::null())
            .spawn()?;
        wait_ready(&base, Duration::from_secs(600))?;
        Ok((child, started.elapsed()))
    };
    let (mut server, _) = serve()?;
    let loaded = run(
        &bin.join("ingest_bench"),
        &[
            "--server",
            &base,
            "--token",
            &token,
            "--mode",
            "batch",
            "--clients",
            "8",
            "--requests",
            &messages.div_ceil(100).to_string(),
        ],
    );
    let (rss_mb, peak_mb) = rss(server.id())?;
    stop(&mut server)?;
    loaded?;
    let (mut server, start_up) = serve()?;
    let (start_rss_mb, _) = rss(server.id())?;
    stop(&mut server)?;
    Ok(Memory {
        rss_mb,
        peak_mb,
        start_up,
        start_rss_mb,
    })
}

/// Polls `/readyz` (no fixed sleeps: a short pause between polls only). Plain HTTP/1.1 over
/// a socket: the server under test runs without TLS on loopback.
fn wait_ready(base: &str, limit: Duration) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://").to_string();
    let deadline = Instant::now() + limit;
    let ready = || -> std::io::Result<bool> {
        let mut stream = std::net::TcpStream::connect(&addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.ends_with(b" 200"))
    };
    while Instant::now() < deadline {
        if ready().unwrap_or(false) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    anyhow::bail!("hafen did not become ready within {limit:?}")
}

/// Current and peak resident set of a process, in MB (from /proc).
fn rss(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// SIGTERM (a graceful stop, as systemd does) and wait.
fn stop(child: &mut Child) -> anyhow::Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

impl Line {
    fn figure(scenario: &str, result: String) -> Self {
        Self {
            scenario: scenario.into(),
            result,
            compared: String::new(),
            target: String::new(),
            met: None,
        }
    }

    /// A ratio shown for understanding, with no target of its own.
    fn info(scenario: &str, result: String, ratio: f64, what: &str) -> Self {
        Self {
            scenario: scenario.into(),
            result,
            compared: format!("{:.0} % {what}", ratio * 100.0),
            target: String::new(),
            met: None,
        }
    }

    fn ratio(scenario: &str, result: String, ratio: f64, what: &str, target: f64) -> Self {
        let shown = if target >= 1.0 {
            format!("{} {what}", two_places_down(ratio))
        } else {
            format!("{:.0} % {what}", ratio * 100.0)
        };
        let wanted = if target >= 1.0 {
            format!("≥ {target:.0} {what}")
        } else {
            format!("≥ {:.0} % {what}", target * 100.0)
        };
        Self {
            scenario: scenario.into(),
            result,
            compared: shown,
            target: wanted,
            met: Some(ratio >= target),
        }
    }
}

fn ingest_result(out: &Value) -> String {
    format!(
        "{}, p50 {:.1} ms, p99 {:.1} ms",
        per_s(out["msgs_per_s"].as_f64().unwrap_or(0.0), "msgs"),
        out["p50_ms"].as_f64().unwrap_or(0.0),
        out["p99_ms"].as_f64().unwrap_or(0.0)
    )
}

fn per_s(rate: f64, unit: &str) -> String {
    format!("{} {unit}/s", thousands(rate))
}

/// 12345.6 → "12 346" (the thin grouping the docs use).
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn render(lines: &[Line], took: Duration, postgres: Option<&str>) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let postgres = postgres.map_or(String::new(), |url| format!(" PostgreSQL at `{url}`."));
    let mut out = format!(
        "Run {} on {cores} cores ({cpu}); suite took {:.1} min.{postgres}\n\n\
         | scenario | result | ratio | target | met |\n|---|---|---|---|---|\n",
        hafen::clock::Clock::now(&hafen::clock::SystemClock).format("%Y-%m-%d %H:%M UTC"),
        took.as_secs_f64() / 60.0
    );
    for l in lines {
        let met = match l.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {met} |\n",
            l.scenario, l.result, l.compared, l.target
        ));
    }
    out
}

/// `ratio` with two decimals, cut rather than rounded, so that a ratio below its target never
/// shows as the target (0.966 × beside "≥ 1 ×" read "1.0 ×" with "no" in the same row).
fn two_places_down(ratio: f64) -> String {
    format!("{:.2}", (ratio * 100.0).floor() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::two_places_down;

    #[test]
    fn a_ratio_below_its_target_never_shows_as_the_target() {
        assert_eq!(two_places_down(0.9999), "0.99");
        assert_eq!(two_places_down(0.965), "0.96");
        assert_eq!(two_places_down(1.0), "1.00");
        assert_eq!(two_places_down(2.708), "2.70");
    }
}

//! The yardsticks Hafen's ingest is measured against (docs/benchmarks.md):
//!
//! - `sqlite`: the limit — raw inserts of Hafen's message row shape (1 KiB body, 32-byte
//!   blind index, the same six B-trees: primary key and Hafen's five indexes) into SQLite with Hafen's pragmas, `--batch` rows per
//!   transaction, one prepared statement per row; `--table plain` inserts the same rows into a
//!   table with its primary key only (what the database does before any schema choice);
//! - `postgres`: the same rows into PostgreSQL as multi-row INSERTs;
//! - `pgcrypto`: the do-it-yourself peer — PostgreSQL with the body encrypted by
//!   `pgp_sym_encrypt_bytea` (default options) in the INSERT.
//!
//! ```sh
//! cargo run --release --example limits_bench -- --target sqlite --rows 200000
//! cargo run --release --example limits_bench -- --target sqlite --rows 200000 --table plain
//! cargo run --release --example limits_bench -- --target sqlite --rows 200000 --without external --without contact_time
//! cargo run --release --example limits_bench -- --target postgres --rows 200000
//! cargo run --release --example limits_bench -- --target pgcrypto --rows 20000
//! ```
//! PostgreSQL runs use a fresh database `hafen_limits_<random>` on `--pg-admin`, dropped after.

use std::time::Instant;

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Text};
use rand::RngCore;

#[derive(Debug, Parser)]
struct Args {
    /// sqlite, postgres or pgcrypto.
    #[arg(long, default_value = "sqlite")]
    target: String,
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// Rows per transaction (and per multi-row INSERT on PostgreSQL).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    #[arg(long, default_value_t = 1024)]
    body_bytes: usize,
    /// SQLite durability: full (Hafen's default) or normal.
    #[arg(long, default_value = "full")]
    sqlite_synchronous: String,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_admin: String,
    /// hafen: the message table with Hafen's five indexes; plain: its primary key only.
    #[arg(long, default_value = "hafen")]
    table: String,
    /// With `--table hafen`: leave out this index (`external`, `contact_time`, `tenant_time`,
    /// `idempotency`, `period_key`; repeatable), to see what each costs.
    #[arg(long)]
    without: Vec<String>,
}

impl Args {
    /// The statements that make the table the rows go into.
    fn schema(&self) -> anyhow::Result<String> {
        match self.table.as_str() {
            "hafen" => {
                for w in &self.without {
                    anyhow::ensure!(
                        INDEXES.contains(&format!("INDEX bench_{w} ")),
                        "no index {w}: external, contact_time, tenant_time, idempotency or period_key"
                    );
                }
                let mut indexes = Vec::new();
                for statement in INDEXES.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    let name = statement
                        .lines()
                        .find(|l| l.starts_with("CREATE"))
                        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("bench_")))
                        .unwrap_or_default();
                    if !self.without.iter().any(|w| name == format!("bench_{w}")) {
                        indexes.push(format!("{statement};"));
                    }
                }
                Ok(format!("{TABLE}\n{}", indexes.join("\n")))
            }
            "plain" => Ok(TABLE.to_string()),
            other => anyhow::bail!("unknown table {other}: hafen or plain"),
        }
    }
}

diesel::table! {
    bench_messages (id) {
        id -> Text,
        tenant_id -> Text,
        contact_id -> Text,
        channel -> Text,
        direction -> Text,
        kind -> Text,
        occurred_at -> BigInt,
        received_at -> BigInt,
        external_index -> Binary,
        body_sealed -> Binary,
        period_key_id -> Text,
        idempotency_index -> Nullable<Binary>,
    }
}

const TABLE: &str = "CREATE TABLE bench_messages (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    external_index BLOB,
    body_sealed BLOB,
    period_key_id TEXT,
    idempotency_index BLOB
);";

const INDEXES: &str =
    "-- Hafen's indexes on messages (migrations/*/…foundation, …channels, …retention,
-- …hot_indexes_lead_with_what_tells_rows_apart, …name_the_tenant_second).
CREATE UNIQUE INDEX bench_external ON bench_messages (external_index, tenant_id);
CREATE INDEX bench_contact_time ON bench_messages (contact_id, tenant_id, occurred_at, id);
CREATE INDEX bench_tenant_time ON bench_messages (tenant_id, occurred_at);
CREATE UNIQUE INDEX bench_idempotency ON bench_messages (tenant_id, idempotency_index)
    WHERE idempotency_index IS NOT NULL;
CREATE INDEX bench_period_key ON bench_messages (period_key_id);";

/// Rows of one month share their period key.
const PERIOD_KEY: &str = "0195f2a4-7c1e-7b3a-9d2e-20261100000b";
/// One tenant's rows.
const TENANT: &str = "01900000-0000-7000-8000-00000000000a";

struct Row {
    id: String,
    contact: String,
    at: i64,
    index: Vec<u8>,
    body: Vec<u8>,
}

fn rows(n: usize, body_bytes: usize) -> Vec<Row> {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|i| {
            let mut index = vec![0u8; 32];
            rng.fill_bytes(&mut index);
            // Sealed bodies are random-looking: nonce + ciphertext + tag.
            let mut body = vec![0u8; body_bytes + 40];
            rng.fill_bytes(&mut body);
            Row {
                id: uuid::Uuid::now_v7().hyphenated().to_string(),
                // Ids as Hafen stores them: text UUIDs, 36 characters.
                contact: format!("01900000-0000-7000-8000-{:012}", i % 1000),
                at: 1_780_000_000_000_000 + i as i64,
                index,
                body,
            }
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data = rows(args.rows, args.body_bytes);
    args.schema()?;
    let (label, seconds) = match args.target.as_str() {
        "sqlite" => ("SQLite raw", sqlite(&args, &data)?),
        "postgres" => ("PostgreSQL raw", postgres(&args, &data, false)?),
        "pgcrypto" => ("PostgreSQL + pgcrypto", postgres(&args, &data, true)?),
        other => anyhow::bail!("unknown target {other}: sqlite, postgres or pgcrypto"),
    };
    println!(
        "{label}, {} table{}: {} rows of {} B in batches of {}: {:.2} s, {:.0} rows/s",
        args.table,
        if args.without.is_empty() {
            String::new()
        } else {
            format!(" without {}", args.without.join(", "))
        },
        args.rows,
        args.body_bytes,
        args.batch,
        seconds,
        args.rows as f64 / seconds
    );
    println!(
        "BENCH {}",
        serde_json::json!({"bench": "limit", "target": args.target, "table": args.table,
            "without": args.without, "rows": args.rows,
            "batch": args.batch, "rows_per_s": args.rows as f64 / seconds})
    );
    Ok(())
}

fn sqlite(args: &Args, data: &[Row]) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("limits.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap_or_default())?;
    // Hafen's pragmas (store::conn).
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = 10000; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA secure_delete = ON; \
         PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = -{};",
        args.sqlite_synchronous.to_uppercase(),
        hafen::store::backend::SQLITE_WRITER_CACHE_KIB
    ))?;
    conn.batch_execute(&args.schema()?)?;
    let started = Instant::now();
    for chunk in data.chunks(args.batch) {
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            // A diesel insert (a cached prepared statement), as Hafen's writer does.
            for r in chunk {
                use bench_messages::dsl as m;
                diesel::insert_into(m::bench_messages)
                    .values((
                        m::id.eq(&r.id),
                        m::tenant_id.eq(TENANT),
                        m::contact_id.eq(&r.contact),
                        m::channel.eq("whatsapp"),
                        m::direction.eq("in"),
                        m::kind.eq("text"),
                        m::occurred_at.eq(r.at),
                        m::received_at.eq(r.at),
                        m::external_index.eq(&r.index),
                        m::body_sealed.eq(&r.body),
                        m::period_key_id.eq(PERIOD_KEY),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })?;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn postgres(args: &Args, data: &[Row], pgcrypto: bool) -> anyhow::Result<f64> {
    let name = format!("hafen_limits_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&args.pg_admin)?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let base = args
        .pg_admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or_default();
    let result = (|| -> anyhow::Result<f64> {
        let mut conn = PgConnection::establish(&format!("{base}/{name}"))?;
        conn.batch_execute(&args.schema()?.replace("BLOB", "BYTEA"))?;
        if pgcrypto {
            conn.batch_execute("CREATE EXTENSION pgcrypto")?;
        }
        let body = if pgcrypto {
            "pgp_sym_encrypt_bytea(${b}, 'a passphrase the company keeps')"
        } else {
            "${b}"
        };
        let started = Instant::now();
        for chunk in data.chunks(args.batch) {
            let mut sql = String::from("INSERT INTO bench_messages VALUES ");
            for (i, _) in chunk.iter().enumerate() {
                let p = i * 5;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, '{TENANT}', ${}, 'whatsapp', 'in', 'text', ${}, ${}, ${}, {}, '{PERIOD_KEY}', NULL)",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 3,
                    p + 4,
                    body.replace("{b}", &(p + 5).to_string())
                ));
            }
            let mut query = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
            for r in chunk {
                query = query
                    .bind::<Text, _>(r.id.clone())
                    .bind::<Text, _>(r.contact.clone())
                    .bind::<BigInt, _>(r.at)
                    .bind::<Binary, _>(r.index.clone())
                    .bind::<Binary, _>(r.body.clone());
            }
            query.execute(&mut conn)?;
        }
        Ok(started.elapsed().as_secs_f64())
    })();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
    result
}

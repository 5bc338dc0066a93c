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
//! # What a storage layout would change (issue 24): the UUIDs as 16 bytes or integer keys
//! # instead of text UUIDs, rows spread over months and PostgreSQL partitions per month;
//! # `--probes` then looks rows up by external id as a delivery receipt does, `--drop-period`
//! # removes the first month's rows.
//! cargo run --release --example limits_bench -- --target sqlite --keys binary --probes 20000
//! cargo run --release --example limits_bench -- --target sqlite --keys integer --probes 20000
//! cargo run --release --example limits_bench -- --target postgres --periods 36 --partitioned --probes 20000 --drop-period
//! # SQLite: one database file per month, each with the table and its indexes (binary keys)
//! cargo run --release --example limits_bench -- --target sqlite --keys binary --periods 12 --partitioned --probes 20000 --drop-period
//! ```
//! PostgreSQL runs use a fresh database `hafen_limits_<random>` on `--pg-admin`, dropped after.

use std::time::Instant;

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Text};
use rand::{Rng, RngCore};

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
    /// text: ids as Hafen stores them (36-character UUIDs); binary: the same UUIDs as 16 bytes
    /// (SQLite BLOB, PostgreSQL `uuid`); integer: 8-byte surrogate keys inside the database,
    /// the public UUID stored once (16 bytes, its own unique index).
    #[arg(long, default_value = "text")]
    keys: String,
    /// The rows are spread over this many months (period keys), in time order.
    #[arg(long, default_value_t = 1)]
    periods: usize,
    /// PostgreSQL: one partition per month (`PARTITION BY LIST (period_key_id)`); the unique
    /// indexes then name the period too, as PostgreSQL requires. SQLite: one database file per
    /// month, each with the whole table and its indexes (with `--keys binary`); a lookup that
    /// does not know the month asks every file.
    #[arg(long)]
    partitioned: bool,
    /// After the inserts, look this many stored rows up by external id and tenant (a delivery
    /// receipt's lookup: it does not know the month), one query each.
    #[arg(long, default_value_t = 0)]
    probes: usize,
    /// After the probes, remove the first month's rows: `DROP TABLE` of its partition when
    /// partitioned, `DELETE … WHERE period_key_id = …` otherwise.
    #[arg(long)]
    drop_period: bool,
}

/// How the rows' ids are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// 36-character text UUIDs, as Hafen stores them.
    Text,
    /// The same UUIDs as 16 bytes: a BLOB on SQLite, PostgreSQL's `uuid`.
    Binary,
    /// 8-byte surrogate keys; the public UUID stored once.
    Integer,
}

impl Args {
    fn keys(&self) -> anyhow::Result<Keys> {
        match self.keys.as_str() {
            "text" => Ok(Keys::Text),
            "binary" => Ok(Keys::Binary),
            "integer" => Ok(Keys::Integer),
            other => anyhow::bail!("unknown keys {other}: text, binary or integer"),
        }
    }

    /// The statements that make the table the rows go into, for `target`'s SQL dialect.
    fn schema(&self, postgres: bool) -> anyhow::Result<String> {
        let keys = self.keys()?;
        let integer = keys == Keys::Integer;
        anyhow::ensure!(
            !self.partitioned || postgres || keys == Keys::Binary,
            "--partitioned on SQLite (a file per month) is measured with --keys binary"
        );
        anyhow::ensure!(self.periods >= 1, "--periods must be at least 1");
        // SQLite's months are files, each holding the table as it is unpartitioned.
        let partitioned = self.partitioned && postgres;
        let table = table_sql(keys, postgres, partitioned);
        let mut statements = vec![table];
        match self.table.as_str() {
            "hafen" => {
                for w in &self.without {
                    anyhow::ensure!(
                        INDEX_NAMES.contains(&w.as_str()),
                        "no index {w}: external, contact_time, tenant_time, idempotency or period_key"
                    );
                }
                for (name, sql) in indexes(integer, partitioned) {
                    if !self.without.iter().any(|w| w == name) {
                        statements.push(sql);
                    }
                }
            }
            "plain" => anyhow::ensure!(
                keys == Keys::Text && !partitioned,
                "--table plain is the primary key only: no --keys or --partitioned"
            ),
            other => anyhow::bail!("unknown table {other}: hafen or plain"),
        }
        if partitioned {
            for p in 0..self.periods {
                statements.push(format!(
                    "CREATE TABLE bench_messages_p{p} PARTITION OF bench_messages FOR VALUES IN ({})",
                    period_literal(keys, postgres, p)
                ));
            }
        }
        let sql = statements.join(";\n") + ";";
        Ok(if postgres {
            sql.replace("BLOB", "BYTEA")
        } else {
            sql
        })
    }

    /// The month row `i` of `rows` belongs to (the rows are in time order).
    fn period_of(&self, i: usize) -> usize {
        i * self.periods / self.rows.max(1)
    }
}

/// The message table: Hafen's columns, with text, binary or integer keys.
fn table_sql(keys: Keys, postgres: bool, partitioned: bool) -> String {
    let integer = keys == Keys::Integer;
    let (id, reference) = match keys {
        // SQLite: the rowid itself; PostgreSQL: a bigint key.
        Keys::Integer => ("BIGINT", "BIGINT"),
        Keys::Binary if postgres => ("UUID", "UUID"),
        Keys::Binary => ("BLOB", "BLOB"),
        Keys::Text => ("TEXT", "TEXT"),
    };
    let id = if integer && !postgres {
        "id INTEGER PRIMARY KEY NOT NULL".to_string()
    } else if partitioned {
        format!("id {id} NOT NULL")
    } else {
        format!("id {id} PRIMARY KEY NOT NULL")
    };
    let public = if integer {
        "\n    public_id BLOB NOT NULL,"
    } else {
        ""
    };
    let period_null = if partitioned { " NOT NULL" } else { "" };
    let mut sql = format!(
        "CREATE TABLE bench_messages (
    {id},{public}
    tenant_id {reference} NOT NULL,
    contact_id {reference} NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    external_index BLOB,
    body_sealed BLOB,
    period_key_id {reference}{period_null},
    idempotency_index BLOB"
    );
    if partitioned {
        // A partitioned table's unique constraints must name the partition key.
        sql.push_str(",\n    PRIMARY KEY (id, period_key_id)\n) PARTITION BY LIST (period_key_id)");
    } else {
        sql.push_str("\n)");
    }
    sql
}

const INDEX_NAMES: [&str; 5] = [
    "external",
    "contact_time",
    "tenant_time",
    "idempotency",
    "period_key",
];

/// Hafen's indexes on messages (migrations/*/…foundation, …channels, …retention,
/// …hot_indexes_lead_with_what_tells_rows_apart, …name_the_tenant_second); with integer keys
/// the public id's unique index besides; partitioned, the unique ones name the period and the
/// period's own index is the partition.
fn indexes(integer: bool, partitioned: bool) -> Vec<(&'static str, String)> {
    let unique_tail = if partitioned { ", period_key_id" } else { "" };
    let mut all = vec![
        (
            "external",
            format!("CREATE UNIQUE INDEX bench_external ON bench_messages (external_index, tenant_id{unique_tail})"),
        ),
        (
            "contact_time",
            "CREATE INDEX bench_contact_time ON bench_messages (contact_id, tenant_id, occurred_at, id)".to_string(),
        ),
        (
            "tenant_time",
            "CREATE INDEX bench_tenant_time ON bench_messages (tenant_id, occurred_at)".to_string(),
        ),
        (
            "idempotency",
            format!("CREATE UNIQUE INDEX bench_idempotency ON bench_messages (tenant_id, idempotency_index{unique_tail}) WHERE idempotency_index IS NOT NULL"),
        ),
    ];
    if !partitioned {
        all.push((
            "period_key",
            "CREATE INDEX bench_period_key ON bench_messages (period_key_id)".to_string(),
        ));
    }
    if integer {
        all.push((
            "public_id",
            format!(
                "CREATE UNIQUE INDEX bench_public_id ON bench_messages (public_id{unique_tail})"
            ),
        ));
    }
    all
}

/// Period key `p` as an SQL literal.
fn period_literal(keys: Keys, postgres: bool, p: usize) -> String {
    match keys {
        Keys::Integer => (p + 1).to_string(),
        Keys::Binary if !postgres => format!("X'{}'", uuid_of(&period_key(p)).simple()),
        // PostgreSQL reads a quoted UUID as text or as `uuid`, whichever the column is.
        Keys::Text | Keys::Binary => format!("'{}'", period_key(p)),
    }
}

/// A UUID this benchmark wrote itself as text.
fn uuid_of(text: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(text).unwrap_or_default()
}

/// Rows of one month share their period key.
fn period_key(p: usize) -> String {
    format!("0195f2a4-7c1e-7b3a-9d2e-{:012}", 20_261_100 + p)
}

mod text_keys {
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
}

mod binary_keys {
    diesel::table! {
        bench_messages (id) {
            id -> Binary,
            tenant_id -> Binary,
            contact_id -> Binary,
            channel -> Text,
            direction -> Text,
            kind -> Text,
            occurred_at -> BigInt,
            received_at -> BigInt,
            external_index -> Binary,
            body_sealed -> Binary,
            period_key_id -> Binary,
            idempotency_index -> Nullable<Binary>,
        }
    }
}

/// Binary keys as PostgreSQL holds them (`uuid`).
mod uuid_keys {
    diesel::table! {
        bench_messages (id) {
            id -> Uuid,
            tenant_id -> Uuid,
            contact_id -> Uuid,
            channel -> Text,
            direction -> Text,
            kind -> Text,
            occurred_at -> BigInt,
            received_at -> BigInt,
            external_index -> Binary,
            body_sealed -> Binary,
            period_key_id -> Uuid,
            idempotency_index -> Nullable<Binary>,
        }
    }
}

mod integer_keys {
    diesel::table! {
        bench_messages (id) {
            id -> BigInt,
            public_id -> Binary,
            tenant_id -> BigInt,
            contact_id -> BigInt,
            channel -> Text,
            direction -> Text,
            kind -> Text,
            occurred_at -> BigInt,
            received_at -> BigInt,
            external_index -> Binary,
            body_sealed -> Binary,
            period_key_id -> BigInt,
            idempotency_index -> Nullable<Binary>,
        }
    }
}

/// One tenant's rows.
const TENANT: &str = "01900000-0000-7000-8000-00000000000a";
const TENANT_KEY: i64 = 1;
const CONTACTS: usize = 1000;

#[derive(Clone)]
struct Row {
    /// The message's UUID as text (text keys; binary and integer keys store its bytes).
    id: String,
    public_id: Vec<u8>,
    contact: usize,
    period: usize,
    at: i64,
    index: Vec<u8>,
    body: Vec<u8>,
}

impl Row {
    fn contact_text(&self) -> String {
        // Ids as Hafen stores them: text UUIDs, 36 characters.
        format!("01900000-0000-7000-8000-{:012}", self.contact)
    }

    fn contact_uuid(&self) -> uuid::Uuid {
        uuid_of(&self.contact_text())
    }
}

fn rows(args: &Args) -> Vec<Row> {
    let mut rng = rand::thread_rng();
    (0..args.rows)
        .map(|i| {
            let mut index = vec![0u8; 32];
            rng.fill_bytes(&mut index);
            // Sealed bodies are random-looking: nonce + ciphertext + tag.
            let mut body = vec![0u8; args.body_bytes + 40];
            rng.fill_bytes(&mut body);
            let id = uuid::Uuid::now_v7();
            Row {
                id: id.hyphenated().to_string(),
                public_id: id.as_bytes().to_vec(),
                contact: i % CONTACTS,
                period: args.period_of(i),
                at: 1_780_000_000_000_000 + i as i64,
                index,
                body,
            }
        })
        .collect()
}

/// What a run measured.
struct Measured {
    insert_s: f64,
    /// Mean time of one lookup by external id, in microseconds.
    probe_us: Option<f64>,
    /// A file per month: a lookup in the row's own month (de-duplication) and one of a row of
    /// the newest month asking the newest file first (a receipt), in microseconds.
    month_probes: Option<(f64, f64)>,
    /// Removing the first month's rows: (rows, seconds).
    dropped: Option<(usize, f64)>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.schema(args.target != "sqlite")?;
    let data = rows(&args);
    let (label, measured) = match args.target.as_str() {
        "sqlite" => ("SQLite raw", sqlite(&args, &data)?),
        "postgres" => ("PostgreSQL raw", postgres(&args, &data, false)?),
        "pgcrypto" => ("PostgreSQL + pgcrypto", postgres(&args, &data, true)?),
        other => anyhow::bail!("unknown target {other}: sqlite, postgres or pgcrypto"),
    };
    let seconds = measured.insert_s;
    let mut shape = Vec::new();
    if !args.without.is_empty() {
        shape.push(format!("without {}", args.without.join(", ")));
    }
    if args.keys != "text" {
        shape.push(format!("{} keys", args.keys));
    }
    if args.periods > 1 {
        shape.push(format!(
            "{} months{}",
            args.periods,
            if args.partitioned {
                " in partitions"
            } else {
                ""
            }
        ));
    }
    println!(
        "{label}, {} table{}: {} rows of {} B in batches of {}: {:.2} s, {:.0} rows/s",
        args.table,
        if shape.is_empty() {
            String::new()
        } else {
            format!(" ({})", shape.join("; "))
        },
        args.rows,
        args.body_bytes,
        args.batch,
        seconds,
        args.rows as f64 / seconds
    );
    if let Some(us) = measured.probe_us {
        println!(
            "  {} lookups by external id and tenant: {us:.1} µs each",
            args.probes
        );
    }
    if let Some((own, newest)) = measured.month_probes {
        println!(
            "  the same in the row's own month's file: {own:.1} µs each; rows of the newest month, newest file first: {newest:.1} µs each"
        );
    }
    if let Some((rows, s)) = measured.dropped {
        println!(
            "  the first month's {rows} rows removed, space back after {:.3} s ({})",
            s,
            if args.partitioned && args.target == "sqlite" {
                "its file deleted"
            } else if args.partitioned {
                "DROP TABLE of its partition"
            } else if args.target == "sqlite" {
                "DELETE by period key, incremental_vacuum"
            } else {
                "DELETE by period key, VACUUM"
            }
        );
    }
    println!(
        "BENCH {}",
        serde_json::json!({"bench": "limit", "target": args.target, "table": args.table,
            "without": args.without, "rows": args.rows, "keys": args.keys,
            "periods": args.periods, "partitioned": args.partitioned,
            "batch": args.batch, "rows_per_s": args.rows as f64 / seconds,
            "probe_us": measured.probe_us,
            "probe_own_month_us": measured.month_probes.map(|(own, _)| own),
            "probe_newest_first_us": measured.month_probes.map(|(_, newest)| newest),
            "drop_period_s": measured.dropped.map(|(_, s)| s)})
    );
    Ok(())
}

/// A SQLite database with Hafen's pragmas (store::conn) and the bench table.
fn sqlite_file(args: &Args, path: &std::path::Path) -> anyhow::Result<SqliteConnection> {
    let mut conn = SqliteConnection::establish(path.to_str().unwrap_or_default())?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = 10000; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA secure_delete = ON; \
         PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = -{};",
        args.sqlite_synchronous.to_uppercase(),
        hafen::store::backend::SQLITE_WRITER_CACHE_KIB
    ))?;
    conn.batch_execute(&args.schema(false)?)?;
    Ok(conn)
}

fn sqlite(args: &Args, data: &[Row]) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    if args.partitioned {
        return sqlite_files(args, data, dir.path());
    }
    let mut conn = sqlite_file(args, &dir.path().join("limits.db"))?;
    let keys = args.keys()?;
    let started = Instant::now();
    for chunk in data.chunks(args.batch) {
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            // A diesel insert (a cached prepared statement), as Hafen's writer does.
            for r in chunk {
                match keys {
                    Keys::Integer => insert_integer_row(conn, r)?,
                    Keys::Binary => insert_binary_row(conn, r)?,
                    Keys::Text => insert_text_row(conn, r)?,
                };
            }
            Ok(())
        })?;
    }
    let insert_s = started.elapsed().as_secs_f64();
    let probe_us = probe_sqlite(&mut conn, args, data)?;
    let dropped = match Removal::of(args, false)? {
        Some(removal) => Some(removal.run(&mut conn, |c, sql| diesel::sql_query(sql).execute(c))?),
        None => None,
    };
    Ok(Measured {
        insert_s,
        probe_us,
        month_probes: None,
        dropped,
    })
}

/// SQLite with one database file per month (`--partitioned`): each batch's rows go, in one
/// transaction per file they fall into, to their month's file; the rows come in time order, so
/// the indexes written are the current month's only. A lookup by external id asks every file
/// (it does not know the month); removing a month closes and deletes its file.
fn sqlite_files(args: &Args, data: &[Row], dir: &std::path::Path) -> anyhow::Result<Measured> {
    let path = |p: usize| dir.join(format!("limits-p{p}.db"));
    let mut files = (0..args.periods)
        .map(|p| sqlite_file(args, &path(p)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    for chunk in data.chunks(args.batch) {
        let mut rest = chunk;
        while let Some(first) = rest.first() {
            let month = first.period;
            let n = rest.iter().take_while(|r| r.period == month).count();
            let (these, after) = rest.split_at(n);
            files[month].transaction::<_, anyhow::Error, _>(|conn| {
                for r in these {
                    insert_binary_row(conn, r)?;
                }
                Ok(())
            })?;
            rest = after;
        }
    }
    let insert_s = started.elapsed().as_secs_f64();
    let (probe_us, month_probes) = if args.probes == 0 || data.is_empty() {
        (None, None)
    } else {
        let tenant = uuid_of(TENANT).as_bytes().to_vec();
        let count = |conn: &mut SqliteConnection, r: &Row| -> QueryResult<i64> {
            use binary_keys::bench_messages::dsl as m;
            m::bench_messages
                .filter(m::external_index.eq(&r.index))
                .filter(m::tenant_id.eq(&tenant))
                .count()
                .get_result::<i64>(conn)
        };
        let mut rng = rand::thread_rng();
        let mut pick = |from: &[Row]| -> Vec<Row> {
            (0..args.probes)
                .map(|_| from[rng.gen_range(0..from.len())].clone())
                .collect()
        };
        let per_probe =
            |started: Instant| started.elapsed().as_secs_f64() * 1e6 / args.probes as f64;
        // Not knowing the month: every file.
        let picks = pick(data);
        let started = Instant::now();
        for r in &picks {
            let mut found = 0;
            for conn in files.iter_mut() {
                found += count(conn, r)?;
            }
            anyhow::ensure!(found == 1, "a stored row was not found by its external id");
        }
        let every_file = per_probe(started);
        // De-duplication: a message's own time names its month, so one file.
        let started = Instant::now();
        for r in &picks {
            anyhow::ensure!(
                count(&mut files[r.period], r)? == 1,
                "not found in its month"
            );
        }
        let own_month = per_probe(started);
        // A receipt for a recent message: the newest file first, stopping at the first hit.
        let newest = data.iter().map(|r| r.period).max().unwrap_or(0);
        let recent: Vec<Row> = data
            .iter()
            .filter(|r| r.period == newest)
            .cloned()
            .collect();
        let picks = pick(&recent);
        let started = Instant::now();
        for r in &picks {
            let mut found = false;
            for conn in files.iter_mut().rev() {
                if count(conn, r)? == 1 {
                    found = true;
                    break;
                }
            }
            anyhow::ensure!(found, "a recent row was not found");
        }
        (Some(every_file), Some((own_month, per_probe(started))))
    };
    let dropped = if args.drop_period {
        let rows = data.iter().filter(|r| r.period == 0).count();
        let started = Instant::now();
        drop(files.remove(0));
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("limits-p0.db{suffix}"));
            if file.exists() {
                std::fs::remove_file(file)?;
            }
        }
        Some((rows, started.elapsed().as_secs_f64()))
    } else {
        None
    };
    Ok(Measured {
        insert_s,
        probe_us,
        month_probes,
        dropped,
    })
}

fn insert_text_row(conn: &mut SqliteConnection, r: &Row) -> QueryResult<usize> {
    use text_keys::bench_messages::dsl as m;
    diesel::insert_into(m::bench_messages)
        .values((
            m::id.eq(&r.id),
            m::tenant_id.eq(TENANT),
            m::contact_id.eq(r.contact_text()),
            m::channel.eq("whatsapp"),
            m::direction.eq("in"),
            m::kind.eq("text"),
            m::occurred_at.eq(r.at),
            m::received_at.eq(r.at),
            m::external_index.eq(&r.index),
            m::body_sealed.eq(&r.body),
            m::period_key_id.eq(period_key(r.period)),
        ))
        .execute(conn)
}

fn insert_binary_row(conn: &mut SqliteConnection, r: &Row) -> QueryResult<usize> {
    use binary_keys::bench_messages::dsl as m;
    diesel::insert_into(m::bench_messages)
        .values((
            m::id.eq(&r.public_id),
            m::tenant_id.eq(uuid_of(TENANT).as_bytes().as_slice()),
            m::contact_id.eq(r.contact_uuid().as_bytes().as_slice()),
            m::channel.eq("whatsapp"),
            m::direction.eq("in"),
            m::kind.eq("text"),
            m::occurred_at.eq(r.at),
            m::received_at.eq(r.at),
            m::external_index.eq(&r.index),
            m::body_sealed.eq(&r.body),
            m::period_key_id.eq(uuid_of(&period_key(r.period)).as_bytes().as_slice()),
        ))
        .execute(conn)
}

fn insert_integer_row(conn: &mut SqliteConnection, r: &Row) -> QueryResult<usize> {
    use integer_keys::bench_messages::dsl as m;
    // The rowid is SQLite's to give (the next integer: appended at the table's end).
    diesel::insert_into(m::bench_messages)
        .values((
            m::public_id.eq(&r.public_id),
            m::tenant_id.eq(TENANT_KEY),
            m::contact_id.eq(r.contact as i64 + 1),
            m::channel.eq("whatsapp"),
            m::direction.eq("in"),
            m::kind.eq("text"),
            m::occurred_at.eq(r.at),
            m::received_at.eq(r.at),
            m::external_index.eq(&r.index),
            m::body_sealed.eq(&r.body),
            m::period_key_id.eq(r.period as i64 + 1),
        ))
        .execute(conn)
}

/// Looks `args.probes` stored rows up by external id and tenant (spread over all months), one
/// cached prepared query each, as a delivery receipt finds its message; the mean time per
/// lookup in µs. (A macro: the same query for each backend's connection type.)
macro_rules! probe_with {
    ($name:ident, $conn:ty, $binary:ident, $tenant:expr) => {
        fn $name(conn: &mut $conn, args: &Args, data: &[Row]) -> anyhow::Result<Option<f64>> {
            if args.probes == 0 || data.is_empty() {
                return Ok(None);
            }
            let keys = args.keys()?;
            let mut rng = rand::thread_rng();
            let picks: Vec<&Row> = (0..args.probes)
                .map(|_| &data[rng.gen_range(0..data.len())])
                .collect();
            let started = Instant::now();
            for r in picks {
                let found: i64 = match keys {
                    Keys::Integer => {
                        use integer_keys::bench_messages::dsl as m;
                        m::bench_messages
                            .filter(m::external_index.eq(&r.index))
                            .filter(m::tenant_id.eq(TENANT_KEY))
                            .count()
                            .get_result(conn)?
                    }
                    Keys::Binary => {
                        use $binary::bench_messages::dsl as m;
                        m::bench_messages
                            .filter(m::external_index.eq(&r.index))
                            .filter(m::tenant_id.eq($tenant))
                            .count()
                            .get_result(conn)?
                    }
                    Keys::Text => {
                        use text_keys::bench_messages::dsl as m;
                        m::bench_messages
                            .filter(m::external_index.eq(&r.index))
                            .filter(m::tenant_id.eq(TENANT))
                            .count()
                            .get_result(conn)?
                    }
                };
                anyhow::ensure!(found == 1, "a stored row was not found by its external id");
            }
            Ok(Some(
                started.elapsed().as_secs_f64() * 1e6 / args.probes as f64,
            ))
        }
    };
}
probe_with!(
    probe_sqlite,
    SqliteConnection,
    binary_keys,
    uuid_of(TENANT).as_bytes().to_vec()
);
probe_with!(probe_postgres, PgConnection, uuid_keys, uuid_of(TENANT));

/// Removing the first month's rows: its partition dropped, or its rows deleted by period key.
struct Removal {
    sql: String,
    /// What gives the deleted rows' space back (a dropped partition's file is gone at once).
    reclaim: Option<&'static str>,
    rows: usize,
    partitioned: bool,
}

impl Removal {
    fn of(args: &Args, postgres: bool) -> anyhow::Result<Option<Self>> {
        if !args.drop_period {
            return Ok(None);
        }
        let sql = if args.partitioned {
            "DROP TABLE bench_messages_p0".to_string()
        } else {
            format!(
                "DELETE FROM bench_messages WHERE period_key_id = {}",
                period_literal(args.keys()?, postgres, 0)
            )
        };
        let reclaim = match (args.partitioned, postgres) {
            (true, _) => None,
            // What Hafen runs after a retention run (retention::sweep).
            (false, true) => Some("VACUUM bench_messages"),
            // auto_vacuum = INCREMENTAL: the free pages given back to the file system.
            (false, false) => Some("PRAGMA incremental_vacuum"),
        };
        Ok(Some(Self {
            sql,
            reclaim,
            rows: (0..args.rows).filter(|i| args.period_of(*i) == 0).count(),
            partitioned: args.partitioned,
        }))
    }

    /// Runs the removal with `execute` (which returns the rows a statement changed) and the
    /// reclaiming with `batch` (run to its end: SQLite's `incremental_vacuum` frees one page
    /// per step): the rows and the seconds until their space was back.
    fn run<C: SimpleConnection>(
        self,
        conn: &mut C,
        execute: impl FnOnce(&mut C, &str) -> QueryResult<usize>,
    ) -> anyhow::Result<(usize, f64)> {
        let started = Instant::now();
        let changed = execute(conn, &self.sql)?;
        if let Some(reclaim) = self.reclaim {
            conn.batch_execute(reclaim)?;
        }
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            self.partitioned || changed == self.rows,
            "deleted {changed} rows, expected {}",
            self.rows
        );
        Ok((self.rows, seconds))
    }
}

fn postgres(args: &Args, data: &[Row], pgcrypto: bool) -> anyhow::Result<Measured> {
    let name = format!("hafen_limits_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&args.pg_admin)?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let base = args
        .pg_admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or_default();
    let result = (|| -> anyhow::Result<Measured> {
        let mut conn = PgConnection::establish(&format!("{base}/{name}"))?;
        conn.batch_execute(&args.schema(true)?)?;
        if pgcrypto {
            conn.batch_execute("CREATE EXTENSION pgcrypto")?;
        }
        let keys = args.keys()?;
        let started = Instant::now();
        for chunk in data.chunks(args.batch) {
            insert_postgres_chunk(&mut conn, chunk, keys, pgcrypto)?;
        }
        let insert_s = started.elapsed().as_secs_f64();
        // Statistics, as autovacuum would have them by the time a receipt comes.
        conn.batch_execute("ANALYZE bench_messages")?;
        let probe_us = probe_postgres(&mut conn, args, data)?;
        let dropped = match Removal::of(args, true)? {
            Some(removal) => {
                Some(removal.run(&mut conn, |c, sql| diesel::sql_query(sql).execute(c))?)
            }
            None => None,
        };
        Ok(Measured {
            insert_s,
            probe_us,
            month_probes: None,
            dropped,
        })
    })();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
    result
}

/// One multi-row INSERT of `chunk`.
fn insert_postgres_chunk(
    conn: &mut PgConnection,
    chunk: &[Row],
    keys: Keys,
    pgcrypto: bool,
) -> anyhow::Result<()> {
    // The parameters of one row, <1> to <n>; the tenant is a literal.
    let integer = keys == Keys::Integer;
    let (columns, row_sql, per_row) = if integer {
        (
            "id, public_id, tenant_id, contact_id",
            format!("(<1>, <2>, {TENANT_KEY}, <3>, 'whatsapp', 'in', 'text', <4>, <4>, <5>, <6>, <7>, NULL)"),
            7,
        )
    } else {
        (
            "id, tenant_id, contact_id",
            format!(
                "(<1>, '{TENANT}', <2>, 'whatsapp', 'in', 'text', <3>, <3>, <4>, <5>, <6>, NULL)"
            ),
            6,
        )
    };
    let body_param = per_row - 1;
    let mut sql = format!(
        "INSERT INTO bench_messages ({columns}, channel, direction, kind, occurred_at, \
         received_at, external_index, body_sealed, period_key_id, idempotency_index) VALUES "
    );
    for i in 0..chunk.len() {
        if i > 0 {
            sql.push(',');
        }
        let mut values = row_sql.clone();
        for n in 1..=per_row {
            let mut param = format!("${}", i * per_row + n);
            if pgcrypto && n == body_param {
                param = format!("pgp_sym_encrypt_bytea({param}, 'a passphrase the company keeps')");
            }
            values = values.replace(&format!("<{n}>"), &param);
        }
        sql.push_str(&values);
    }
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
    for r in chunk {
        query = match keys {
            Keys::Integer => query
                // The surrogate key: grows with time like a sequence's.
                .bind::<BigInt, _>(r.at)
                .bind::<Binary, _>(r.public_id.clone())
                .bind::<BigInt, _>(r.contact as i64 + 1),
            Keys::Binary => query
                .bind::<diesel::sql_types::Uuid, _>(uuid_of(&r.id))
                .bind::<diesel::sql_types::Uuid, _>(r.contact_uuid()),
            Keys::Text => query
                .bind::<Text, _>(r.id.clone())
                .bind::<Text, _>(r.contact_text()),
        };
        query = query
            .bind::<BigInt, _>(r.at)
            .bind::<Binary, _>(r.index.clone())
            .bind::<Binary, _>(r.body.clone());
        query = match keys {
            Keys::Integer => query.bind::<BigInt, _>(r.period as i64 + 1),
            Keys::Binary => {
                query.bind::<diesel::sql_types::Uuid, _>(uuid_of(&period_key(r.period)))
            }
            Keys::Text => query.bind::<Text, _>(period_key(r.period)),
        };
    }
    query.execute(conn)?;
    Ok(())
}

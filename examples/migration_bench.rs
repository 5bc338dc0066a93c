//! Upgrade benchmark: how long one of the migrations that store an id family as 16 bytes instead
//! of text takes on a database of a given size, and how much room it needs while it runs —
//! migration 28 (a message's id with the outbox, attachments, delivery statuses and consent
//! ledger naming it), 29 (a contact's id with its key, consents, holds, messages, ledger and
//! requests naming it; the messages are copied again on SQLite) or 30 (a tenant's id with every
//! table naming it: on SQLite every table is copied again).
//!
//! ```sh
//! cargo build --release --example migration_bench
//! ./target/release/examples/migration_bench --migration 30 --messages 1000000
//! createdb -h 127.0.0.1 -U postgres hafen_migration
//! ./target/release/examples/migration_bench --migration 30 --messages 1000000 \
//!     --database postgres://postgres@127.0.0.1/hafen_migration
//! ```
//! The database (empty; SQLite in a temporary directory unless `--database` names one) is
//! migrated to the version before the migration and seeded in SQL with rows as Hafen writes them
//! at that version: one tenant, `--messages` messages of ~1 KiB sealed content among one contact
//! (with its key) per 100, a delivery status for every message, a file for every 100th, an
//! outbox entry for every 1000th and a consent ledger entry for every contact, naming one of its
//! messages. Then the migration — as `hafen migrate` runs it — is timed from there, and the rows
//! are checked to be there, with 16-byte ids. See docs/benchmarks.md and docs/operations.md
//! "Upgrades".

use std::time::Instant;

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use hafen::store::DbConn;

#[derive(Debug, Parser)]
struct Args {
    /// Messages in the database before the upgrade.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Database URL (default: SQLite in a temporary directory). The database must be empty.
    #[arg(long)]
    database: Option<String>,
    /// The migration timed: 28 (the message's ids), 29 (the contact's) or 30 (the tenant's).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(28..=30))]
    migration: u32,
}

const TENANT: &str = "01900000-0000-7000-8000-00000000be00";
/// Messages per contact.
const PER_CONTACT: usize = 100;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.messages >= PER_CONTACT,
        "--messages: at least {PER_CONTACT}"
    );
    let dir = tempfile::tempdir()?;
    let url = match &args.database {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("hafen.db").display()),
    };
    let url = hafen::store::conn::DatabaseUrl::parse(&url)?;
    let mut conn = url.connect(Default::default())?;
    let migration = format!("202612070000{}", args.migration);
    hafen::store::run_migrations(&mut conn)?;
    revert_through(&mut conn, &migration)?;

    let started = Instant::now();
    seed(&mut conn, args.messages, args.migration)?;
    let seeded = started.elapsed();
    let before = size(&mut conn)?;

    let started = Instant::now();
    let applied = match &mut conn {
        DbConn::Sqlite(c) => c.run_next_migration(hafen::store::SQLITE_MIGRATIONS),
        DbConn::Postgres(c) => c.run_next_migration(hafen::store::POSTGRES_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migration {migration}: {e}"))?
    .to_string();
    let took = started.elapsed();
    let after = size(&mut conn)?;
    anyhow::ensure!(
        applied.starts_with(&migration),
        "applied {applied}, not migration {migration}"
    );
    check(&mut conn, args.messages, args.migration)?;

    let backend = match conn {
        DbConn::Sqlite(_) => "sqlite",
        DbConn::Postgres(_) => "postgres",
    };
    println!(
        "backend={backend} migration {} on {} messages: {:.2} s (seeded in {:.1} s); \
         database {:.0} MiB before, {:.0} MiB after",
        args.migration,
        args.messages,
        took.as_secs_f64(),
        seeded.as_secs_f64(),
        before,
        after,
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "migration",
            "backend": backend,
            "migration": migration,
            "messages": args.messages,
            "secs": took.as_secs_f64(),
            "mib_before": before,
            "mib_after": after,
        })
    );
    Ok(())
}

/// Reverts migrations down to and including `version`.
fn revert_through(conn: &mut DbConn, version: &str) -> anyhow::Result<()> {
    loop {
        let reverted = match conn {
            DbConn::Sqlite(c) => c.revert_last_migration(hafen::store::SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.revert_last_migration(hafen::store::POSTGRES_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("reverting a migration: {e}"))?
        .to_string();
        if reverted.starts_with(version) {
            return Ok(());
        }
        anyhow::ensure!(
            reverted.as_str() > version,
            "reverted {reverted} before {version}"
        );
    }
}

/// The rows, in SQL, at the version before `migration`: the ids of statuses and files are 16
/// bytes already (migrations 25, 27), a message's id and the columns naming it from 28 on, a
/// contact's from 29 on; the tenant's id and the columns naming it are text.
fn seed(conn: &mut DbConn, messages: usize, migration: u32) -> anyhow::Result<()> {
    let (message_bytes, contact_bytes) = (migration > 28, migration > 29);
    let contacts = messages / PER_CONTACT;
    let (files, sends) = (messages / 100, messages / 1000);
    let sql = match conn {
        DbConn::Sqlite(_) => {
            let k = |n: usize| {
                format!(
                    "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < {}) ",
                    n.max(1) - 1
                )
            };
            let message = |n: &str| match message_bytes {
                false => format!("printf('00000000-0000-7000-8000-%012x', {n})"),
                true => format!("unhex(printf('00000000000070008000%012x', {n}))"),
            };
            let contact = |n: &str| match contact_bytes {
                false => format!("printf('00000000-0000-7000-c000-%012x', {n})"),
                true => format!("unhex(printf('0000000000007000c000%012x', {n}))"),
            };
            let id = |family: &str, n: &str| {
                format!("unhex(printf('000000000000700{family}0000%012x', {n}))")
            };
            format!(
                "INSERT INTO tenants (id, name, wrapped_key, created_at) VALUES ('{TENANT}', 'Bench', x'00', 0);
                 {k_c} INSERT INTO contacts (id, tenant_id, channel, address_index, address_sealed, first_seen_at, last_message_at)
                   SELECT {c_n}, '{TENANT}', 'whatsapp', randomblob(32), randomblob(48), 0, 0 FROM k;
                 {k_c} INSERT INTO contact_keys (contact_id, tenant_id, wrapped_key, created_at)
                   SELECT {c_n}, '{TENANT}', randomblob(200), 0 FROM k;
                 {k_m} INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, occurred_at, received_at,
                     external_index, body_sealed, raw_sealed, business_letter, period_key_id)
                   SELECT {m_n}, '{TENANT}', {c_of_m}, 'whatsapp', 'in', 'text', 1700000000000000 + n, 1700000000000000 + n,
                     randomblob(32), randomblob(300), randomblob(700), 0, 'period' FROM k;
                 {k_m} INSERT INTO message_statuses (id, tenant_id, channel, external_index, message_id, status, occurred_at, received_at)
                   SELECT {status}, '{TENANT}', 'whatsapp', randomblob(32), {m_n}, 'delivered', n, n FROM k;
                 {k_f} INSERT INTO attachments (id, tenant_id, message_id, n, media_ref_sealed, state, attempts, next_attempt_at, created_at)
                   SELECT {file}, '{TENANT}', {m_100}, 0, randomblob(64), 'stored', 0, 0, 0 FROM k;
                 {k_s} INSERT INTO outbox (message_id, tenant_id, channel_id, request_sealed, attempts, next_attempt_at)
                   SELECT {m_1000}, '{TENANT}', 'channel', randomblob(200), 0, 0 FROM k;
                 {k_c} INSERT INTO consent_ledger (seq, tenant_id, consent_id, contact_id, purpose_id, event, at, source,
                     text_id, text_hash, message_id, prev_hash, hash)
                   SELECT n + 1, '{TENANT}', {c_n}, {c_n}, 'purpose', 'confirmed', 0, 'keyword', 'text', randomblob(32),
                     {m_n}, randomblob(32), randomblob(32) FROM k;",
                k_c = k(contacts),
                k_m = k(messages),
                k_f = k(files),
                k_s = k(sends),
                c_n = contact("n"),
                m_n = message("n"),
                c_of_m = contact(&format!("n % {contacts}")),
                m_100 = message("n * 100"),
                m_1000 = message("n * 1000"),
                status = id("9", "n"),
                file = id("a", "n"),
            )
        }
        DbConn::Postgres(_) => {
            let g = |n: usize| format!("FROM generate_series(0, {}) n", n.max(1) - 1);
            let message = |n: &str| {
                let text = format!("'00000000-0000-7000-8000-' || lpad(to_hex({n}), 12, '0')");
                match message_bytes {
                    false => text,
                    true => format!("({text})::uuid"),
                }
            };
            let contact = |n: &str| {
                let text = format!("'00000000-0000-7000-c000-' || lpad(to_hex({n}), 12, '0')");
                match contact_bytes {
                    false => text,
                    true => format!("({text})::uuid"),
                }
            };
            let id = |family: &str, n: &str| {
                format!("('00000000-0000-700{family}-0000-' || lpad(to_hex({n}), 12, '0'))::uuid")
            };
            let bytes = |repeat: usize| format!("decode(repeat(md5(n::text), {repeat}), 'hex')");
            format!(
                "INSERT INTO tenants (id, name, wrapped_key, created_at) VALUES ('{TENANT}', 'Bench', '\\x00', 0);
                 INSERT INTO contacts (id, tenant_id, channel, address_index, address_sealed, first_seen_at, last_message_at)
                   SELECT {c_n}, '{TENANT}', 'whatsapp', {b2}, {b3}, 0, 0 {g_c};
                 INSERT INTO contact_keys (contact_id, tenant_id, wrapped_key, created_at)
                   SELECT {c_n}, '{TENANT}', {b13}, 0 {g_c};
                 INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, occurred_at, received_at,
                     external_index, body_sealed, raw_sealed, business_letter, period_key_id)
                   SELECT {m_n}, '{TENANT}', {c_of_m}, 'whatsapp', 'in', 'text', 1700000000000000 + n, 1700000000000000 + n,
                     {b2}, {b19}, {b44}, FALSE, 'period' {g_m};
                 INSERT INTO message_statuses (id, tenant_id, channel, external_index, message_id, status, occurred_at, received_at)
                   SELECT {status}, '{TENANT}', 'whatsapp', {b2}, {m_n}, 'delivered', n, n {g_m};
                 INSERT INTO attachments (id, tenant_id, message_id, n, media_ref_sealed, state, attempts, next_attempt_at, created_at)
                   SELECT {file}, '{TENANT}', {m_100}, 0, {b4}, 'stored', 0, 0, 0 {g_f};
                 INSERT INTO outbox (message_id, tenant_id, channel_id, request_sealed, attempts, next_attempt_at)
                   SELECT {m_1000}, '{TENANT}', 'channel', {b13}, 0, 0 {g_s};
                 INSERT INTO consent_ledger (seq, tenant_id, consent_id, contact_id, purpose_id, event, at, source,
                     text_id, text_hash, message_id, prev_hash, hash)
                   SELECT n + 1, '{TENANT}', {c_n}, {c_n}, 'purpose', 'confirmed', 0, 'keyword', 'text', {b2},
                     {m_n}, {b2}, {b2} {g_c};
                 ANALYZE;",
                g_c = g(contacts),
                g_m = g(messages),
                g_f = g(files),
                g_s = g(sends),
                c_n = contact("n"),
                m_n = message("n"),
                c_of_m = contact(&format!("n % {contacts}")),
                m_100 = message("n * 100"),
                m_1000 = message("n * 1000"),
                status = id("9", "n"),
                file = id("a", "n"),
                b2 = bytes(2),
                b3 = bytes(3),
                b4 = bytes(4),
                b13 = bytes(13),
                b19 = bytes(19),
                b44 = bytes(44),
            )
        }
    };
    conn.batch_execute(&sql)?;
    Ok(())
}

/// The database's size in MiB: SQLite's file (which keeps the pages a rewrite freed, for later
/// writes: after the upgrade, the room it needed), PostgreSQL's database.
fn size(conn: &mut DbConn) -> anyhow::Result<f64> {
    #[derive(QueryableByName)]
    struct Bytes {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let bytes = match conn {
        DbConn::Sqlite(c) => {
            let pages: Bytes = diesel::sql_query(
                "SELECT page_count * page_size AS bytes FROM pragma_page_count, pragma_page_size",
            )
            .get_result(c)?;
            pages.bytes
        }
        DbConn::Postgres(c) => {
            diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
                .get_result::<Bytes>(c)?
                .bytes
        }
    };
    Ok(bytes as f64 / (1024.0 * 1024.0))
}

/// Every seeded row is there after the upgrade, its message (after 29 its contact, after 30 its
/// tenant) named by 16 bytes.
fn check(conn: &mut DbConn, messages: usize, migration: u32) -> anyhow::Result<()> {
    use hafen::store::schema::{attachments, message_statuses, messages as m, outbox};
    let ids: i64 = m::table.count().get_result(conn)?;
    let statuses: i64 = message_statuses::table
        .filter(message_statuses::message_id.is_not_null())
        .count()
        .get_result(conn)?;
    let files: i64 = attachments::table.count().get_result(conn)?;
    let sends: i64 = outbox::table.count().get_result(conn)?;
    anyhow::ensure!(
        (ids, statuses, files, sends)
            == (
                messages as i64,
                messages as i64,
                (messages / 100) as i64,
                (messages / 1000) as i64
            ),
        "rows after the upgrade: {ids} messages, {statuses} statuses, {files} files, {sends} sends"
    );
    // Read through the new type: a text id would not read as one.
    let first: String = m::table.select(m::id).order(m::id).first(conn)?;
    anyhow::ensure!(
        first == "00000000-0000-7000-8000-000000000000",
        "first id {first}"
    );
    if migration == 30 {
        use hafen::store::schema::{contacts, tenants};
        let tenant: String = tenants::table.select(tenants::id).first(conn)?;
        let named: i64 = m::table
            .filter(m::tenant_id.eq(hafen::store::id::bind(TENANT)))
            .count()
            .get_result(conn)?;
        let of_contacts: i64 = contacts::table
            .filter(contacts::tenant_id.eq(hafen::store::id::bind(TENANT)))
            .count()
            .get_result(conn)?;
        anyhow::ensure!(
            tenant == TENANT
                && named == messages as i64
                && of_contacts == (messages / PER_CONTACT) as i64,
            "tenant {tenant}, {named} of its messages, {of_contacts} of its contacts"
        );
    }
    if migration >= 29 {
        use hafen::store::schema::contact_keys;
        let contact: String = m::table.select(m::contact_id).order(m::id).first(conn)?;
        let keys: i64 = contact_keys::table.count().get_result(conn)?;
        anyhow::ensure!(
            contact == "00000000-0000-7000-c000-000000000000"
                && keys == (messages / PER_CONTACT) as i64,
            "first message's contact {contact}, {keys} contact keys"
        );
    }
    Ok(())
}

//! Schema parity (issue 23): the SQLite and PostgreSQL migrations build the same tables, columns
//! and indexes (types mapped), and `src/store/schema.rs` — written by hand — says what they
//! build. A migration added to one folder only, a column typed differently, or a table! entry
//! that drifted from its migration fails here, not in production on the other backend.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use hafen::store::DbConn;

use crate::support::{postgres_available, TestDatabase};

/// A column as both backends can state it: Diesel's type name and whether it may be NULL.
type Columns = BTreeMap<String, (String, bool)>;
/// Tables with their columns, and every index as "table(col, …) [unique] [partial]".
#[derive(Debug, Default, PartialEq)]
struct Shape {
    tables: BTreeMap<String, Columns>,
    indexes: BTreeSet<String>,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text, column_name = "type")]
    kind: String,
    #[diesel(sql_type = Bool)]
    notnull: bool,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    unique: bool,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Bool)]
    partial: bool,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct PgIndex {
    #[diesel(sql_type = Text)]
    tablename: String,
    #[diesel(sql_type = Text)]
    indexdef: String,
}

/// Diesel's name for a column type of either backend.
fn diesel_type(sql: &str) -> String {
    match sql.to_ascii_uppercase().as_str() {
        "TEXT" | "CHARACTER VARYING" => "Text",
        "BLOB" | "BYTEA" => "Binary",
        // A UUID's 16 bytes (`store::id`): PostgreSQL's `uuid`, SQLite's declared `UUID`.
        "UUID" => "Id",
        "BIGINT" => "BigInt",
        "INTEGER" | "INT" => "Integer",
        "BOOLEAN" => "Bool",
        "DOUBLE PRECISION" | "REAL" => "Double",
        other => return format!("unmapped {other}"),
    }
    .to_string()
}

/// Tables the migration tool keeps for itself.
fn ours(table: &str) -> bool {
    !table.starts_with("__diesel") && !table.starts_with("sqlite_")
}

fn sqlite_shape(conn: &mut diesel::SqliteConnection) -> Shape {
    let mut shape = Shape::default();
    let tables: Vec<Name> =
        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .load(conn)
            .unwrap();
    for table in tables.into_iter().map(|t| t.name).filter(|t| ours(t)) {
        let columns: Vec<SqliteColumn> = diesel::sql_query(format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"
        ))
        .load(conn)
        .unwrap();
        let columns = columns
            .into_iter()
            // A primary key column is NOT NULL in PostgreSQL whatever the DDL says.
            .map(|c| (c.name, (diesel_type(&c.kind), !c.notnull && c.pk == 0)))
            .collect();
        let indexes: Vec<SqliteIndex> = diesel::sql_query(format!(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list('{table}')"
        ))
        .load(conn)
        .unwrap();
        for index in indexes.into_iter().filter(|i| i.origin != "pk") {
            let columns: Vec<Name> = diesel::sql_query(format!(
                "SELECT name FROM pragma_index_info('{}') ORDER BY seqno",
                index.name
            ))
            .load(conn)
            .unwrap();
            let columns: Vec<String> = columns.into_iter().map(|c| c.name).collect();
            shape
                .indexes
                .insert(index_key(&table, &columns, index.unique, index.partial));
        }
        shape.tables.insert(table, columns);
    }
    shape
}

fn pg_shape(conn: &mut diesel::PgConnection) -> Shape {
    let mut shape = Shape::default();
    let columns: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .load(conn)
    .unwrap();
    for c in columns.into_iter().filter(|c| ours(&c.table_name)) {
        shape.tables.entry(c.table_name).or_default().insert(
            c.column_name,
            (diesel_type(&c.data_type), c.is_nullable == "YES"),
        );
    }
    let indexes: Vec<PgIndex> = diesel::sql_query(
        "SELECT tablename::text, indexdef::text FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT LIKE '%_pkey'",
    )
    .load(conn)
    .unwrap();
    for index in indexes.into_iter().filter(|i| ours(&i.tablename)) {
        let def = index.indexdef;
        let open = def.find('(').unwrap();
        let close = def[open..].find(')').unwrap() + open;
        let columns: Vec<String> = def[open + 1..close]
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect();
        shape.indexes.insert(index_key(
            &index.tablename,
            &columns,
            def.starts_with("CREATE UNIQUE"),
            def.contains(" WHERE "),
        ));
    }
    shape
}

fn index_key(table: &str, columns: &[String], unique: bool, partial: bool) -> String {
    format!(
        "{table}({}){}{}",
        columns.join(", "),
        if unique { " unique" } else { "" },
        if partial { " partial" } else { "" }
    )
}

/// The tables and columns `src/store/schema.rs` declares, read from its `table!` blocks.
fn declared() -> BTreeMap<String, Columns> {
    let source = include_str!("../../src/store/schema.rs");
    let mut tables = BTreeMap::new();
    let mut current: Option<(String, Columns)> = None;
    for line in source.lines().map(str::trim) {
        match &mut current {
            Some(_) if line == "}" => {
                let (name, columns) = current.take().unwrap();
                tables.insert(name, columns);
            }
            Some((_, columns)) => {
                if let Some((column, kind)) = line.trim_end_matches(',').split_once(" -> ") {
                    let (kind, nullable) = match kind.strip_prefix("Nullable<") {
                        Some(inner) => (inner.trim_end_matches('>'), true),
                        None => (kind, false),
                    };
                    columns.insert(column.trim().to_string(), (kind.to_string(), nullable));
                }
            }
            None if line.ends_with(") {") && !line.starts_with("diesel") => {
                let name = line.split_whitespace().next().unwrap().to_string();
                current = Some((name, Columns::new()));
            }
            None => {}
        }
    }
    tables
}

fn migrated(backend: crate::support::Backend) -> (DbConn, TestDatabase, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(backend, dir.path());
    let mut conn = db.connect();
    hafen::store::run_migrations(&mut conn).unwrap();
    (conn, db, dir)
}

/// Indexes PostgreSQL has and SQLite deliberately lacks: the key of the message's one reference
/// to the contact of its tenant (migration 22, PostgreSQL only; docs/decisions.md).
const ONLY_POSTGRES: [&str; 1] = ["contacts(id, tenant_id) unique"];

#[test]
fn both_backends_and_schema_rs_describe_the_same_database() {
    let (mut sqlite, _db, _dir) = migrated(crate::support::Backend::Sqlite);
    let DbConn::Sqlite(conn) = &mut sqlite else {
        unreachable!()
    };
    let lite = sqlite_shape(conn);
    assert!(lite.tables.len() >= 30, "{:?}", lite.tables.keys());

    // schema.rs declares every table the migrations make, column by column, type by type.
    let declared = declared();
    assert_eq!(
        declared.keys().collect::<Vec<_>>(),
        lite.tables.keys().collect::<Vec<_>>(),
        "tables in schema.rs vs. the SQLite migrations"
    );
    for (table, columns) in &lite.tables {
        assert_eq!(
            &declared[table], columns,
            "{table}: schema.rs (left) vs. the SQLite migrations (right)"
        );
    }

    if !postgres_available() {
        return;
    }
    let (mut postgres, _pg_db, _pg_dir) = migrated(crate::support::Backend::Postgres);
    let DbConn::Postgres(conn) = &mut postgres else {
        unreachable!()
    };
    let pg = pg_shape(conn);
    for (table, columns) in &lite.tables {
        assert_eq!(
            Some(columns),
            pg.tables.get(table),
            "{table}: SQLite (left) vs. PostgreSQL (right)"
        );
    }
    assert_eq!(
        lite.tables.keys().collect::<Vec<_>>(),
        pg.tables.keys().collect::<Vec<_>>()
    );
    let only_sqlite: Vec<_> = lite.indexes.difference(&pg.indexes).collect();
    let only_pg: Vec<_> = pg
        .indexes
        .difference(&lite.indexes)
        .filter(|i| !ONLY_POSTGRES.contains(&i.as_str()))
        .collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "indexes only on SQLite: {only_sqlite:#?}\nonly on PostgreSQL: {only_pg:#?}"
    );
    // The connection goes before its database is dropped.
    drop(postgres);
}

#[derive(QueryableByName)]
struct Sql {
    #[diesel(sql_type = Text)]
    sql: String,
}

#[derive(QueryableByName)]
struct SqlitePlan {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlan {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// Most messages carry no idempotency key (everything that arrives, every send without one), so
/// the unique index on the key holds only the messages that have one (issue 24: no B-tree write
/// per message for nothing); the lookup a repeated send makes must still use it.
#[test]
fn the_idempotency_index_holds_only_keyed_messages_and_serves_the_lookup() {
    let (mut sqlite, _db, _dir) = migrated(crate::support::Backend::Sqlite);
    let DbConn::Sqlite(conn) = &mut sqlite else {
        unreachable!()
    };
    let index: Sql = diesel::sql_query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'messages_idempotency'",
    )
    .get_result(conn)
    .unwrap();
    assert!(
        squeeze(&index.sql).ends_with("WHERE idempotency_index IS NOT NULL"),
        "{}",
        index.sql
    );
    sqlite_plan_uses(
        conn,
        "SELECT id FROM messages WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND idempotency_index = x'01'",
        "messages_idempotency",
    );

    if !postgres_available() {
        return;
    }
    let (mut postgres, _pg_db, _pg_dir) = migrated(crate::support::Backend::Postgres);
    let DbConn::Postgres(conn) = &mut postgres else {
        unreachable!()
    };
    let index: Sql = diesel::sql_query(
        "SELECT indexdef::text AS sql FROM pg_indexes WHERE indexname = 'messages_idempotency'",
    )
    .get_result(conn)
    .unwrap();
    assert!(
        index.sql.ends_with("WHERE (idempotency_index IS NOT NULL)"),
        "{}",
        index.sql
    );
    postgres_plan_uses(
        conn,
        "SELECT id FROM messages WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND idempotency_index = '\\x01'::bytea",
        "messages_idempotency",
    );
    drop(postgres);
}

/// Retention asks, per expired month, whether a business letter was sealed under its period key
/// (`retention::shred`): the partial index of letters answers without reading the month's
/// other rows, which the index on the period key alone would walk.
#[test]
fn whether_a_month_holds_business_letters_is_answered_by_the_letters_index() {
    let lookup = "SELECT id FROM messages WHERE period_key_id = 'k' AND business_letter";
    let (mut sqlite, _db, _dir) = migrated(crate::support::Backend::Sqlite);
    let DbConn::Sqlite(conn) = &mut sqlite else {
        unreachable!()
    };
    sqlite_plan_uses(conn, lookup, "messages_letters_by_period");
    if !postgres_available() {
        return;
    }
    let (mut postgres, _pg_db, _pg_dir) = migrated(crate::support::Backend::Postgres);
    let DbConn::Postgres(conn) = &mut postgres else {
        unreachable!()
    };
    postgres_plan_uses(conn, lookup, "messages_letters_by_period");
    drop(postgres);
}

/// Asserts that SQLite answers `query` through `index`.
fn sqlite_plan_uses(conn: &mut diesel::SqliteConnection, query: &str, index: &str) {
    let plan: Vec<SqlitePlan> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {query}"))
        .load(conn)
        .unwrap();
    assert!(
        plan.iter().any(|p| p.detail.contains(index)),
        "{index}: {:?}",
        plan.iter().map(|p| &p.detail).collect::<Vec<_>>()
    );
}

/// Asserts that PostgreSQL answers `query` through `index`.
fn postgres_plan_uses(conn: &mut diesel::PgConnection, query: &str, index: &str) {
    // An empty table is scanned whole whatever the indexes; forbid that to see the index chosen.
    diesel::sql_query("SET enable_seqscan = off")
        .execute(conn)
        .unwrap();
    let plan: Vec<PgPlan> = diesel::sql_query(format!("EXPLAIN {query}"))
        .load(conn)
        .unwrap();
    assert!(
        plan.iter().any(|p| p.line.contains(index)),
        "{index}: {:?}",
        plan.iter().map(|p| &p.line).collect::<Vec<_>>()
    );
}

/// One space for every run of whitespace (SQLite keeps an index's SQL as it was written).
fn squeeze(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A webhook delivery finds its contact through the whole unique (address index, channel,
/// tenant) index even before PostgreSQL has statistics of the table (a young database:
/// autovacuum analyzes only after a minute). With `address_index = ANY(…)` and no statistics
/// it used the index for tenant and channel only and fetched every contact of the channel to
/// filter them — the webhook benchmark's largest single cost. Counted by PostgreSQL itself:
/// the heap tuples the lookup's index scan fetched in this transaction. A batch's many
/// addresses are probed one by one for the same reason.
#[test]
fn addresses_are_looked_up_by_the_whole_unique_index_without_statistics() {
    const TENANT: &str = "01900000-0000-7000-8000-000000000001";
    let tenant = hafen::tenants::TenantId::parse(TENANT).unwrap();
    let contacts_of_the_channel = |conn: &mut DbConn| {
        let zero = hex_literal(conn, 0);
        let tenant = id_literal(conn, TENANT);
        diesel::sql_query(format!(
            "INSERT INTO tenants (id, name, wrapped_key, created_at) VALUES ({tenant}, 'T', {zero}, 0)"
        ))
        .execute(conn)
        .unwrap();
        for n in 0..1000 {
            diesel::sql_query(format!(
                "INSERT INTO contacts (id, tenant_id, channel, address_index, address_sealed, first_seen_at, last_message_at) \
                 VALUES ({}, {tenant}, 'whatsapp', {}, {zero}, 0, 0)",
                id_literal(conn, &contact_id(n)),
                hex_literal(conn, n)
            ))
            .execute(conn)
            .unwrap();
        }
    };
    let (mut sqlite, _db, _dir) = migrated(crate::support::Backend::Sqlite);
    contacts_of_the_channel(&mut sqlite);
    let found = hafen::contacts::find_by_address_indexes(
        &mut sqlite,
        &tenant,
        "whatsapp",
        vec![vec![0, 0, 0x03, 0xe7]],
    )
    .unwrap();
    assert_eq!(
        found.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        [contact_id(999)]
    );
    if !postgres_available() {
        return;
    }
    let (mut postgres, _pg_db, _pg_dir) = migrated(crate::support::Backend::Postgres);
    diesel::sql_query("ALTER TABLE contacts SET (autovacuum_enabled = false)")
        .execute(&mut postgres)
        .unwrap();
    contacts_of_the_channel(&mut postgres);
    postgres
        .transaction(|conn| {
            let before = fetched(conn, "contacts");
            let found = hafen::contacts::find_by_address_indexes(
                conn,
                &tenant,
                "whatsapp",
                vec![vec![0, 0, 0x03, 0xe7]],
            )
            .unwrap();
            assert_eq!(
                found.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
                [contact_id(999)]
            );
            assert_eq!(
                fetched(conn, "contacts") - before,
                1,
                "contacts fetched to find one"
            );
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    // A batch's addresses: each probed, none of the channel's other contacts read.
    postgres
        .transaction(|conn| {
            let before = fetched(conn, "contacts");
            let wanted = (0..20u32)
                .map(|n| (n * 7).to_be_bytes().to_vec())
                .chain([vec![9; 4]]);
            let mut found: Vec<String> = hafen::contacts::find_by_address_indexes(
                conn,
                &tenant,
                "whatsapp",
                wanted.collect(),
            )
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
            found.sort();
            let mut expected: Vec<String> = (0..20u32).map(|n| contact_id(n * 7)).collect();
            expected.sort();
            assert_eq!(found, expected);
            assert_eq!(
                fetched(conn, "contacts") - before,
                20,
                "contacts fetched to find twenty"
            );
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    drop(postgres);
}

/// Rows of `table` fetched through index scans, as PostgreSQL counts them for this transaction
/// (the count may still hold earlier transactions' fetches, flushed lazily: compare two).
fn fetched(conn: &mut DbConn, table: &str) -> i64 {
    let fetched: Count = diesel::sql_query(format!(
        "SELECT COALESCE(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relname = '{table}'"
    ))
    .get_result(conn)
    .unwrap();
    fetched.n
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `n` as a 4-byte blob literal of the backend.
fn hex_literal(conn: &DbConn, n: u32) -> String {
    let hex: String = n.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect();
    match conn {
        DbConn::Postgres(_) => format!("'\\x{hex}'::bytea"),
        DbConn::Sqlite(_) => format!("x'{hex}'"),
    }
}

/// A merged writer group looks up the external ids of all its messages at once: on PostgreSQL
/// joined from an array (`messages::find_by_external_indexes`; as `= ANY(…)` on a table without
/// statistics it filtered every message of the tenant — the benchmark's batch ingest at 100 000
/// messages, docs/benchmarks.md), on SQLite as an `IN` list. Both find exactly the tenant's
/// messages with those ids: none of another tenant's with the same index, none missing.
#[test]
fn many_external_ids_are_found_at_once_and_only_the_tenants() {
    const TENANT: &str = "01900000-0000-7000-8000-000000000002";
    const OTHER: &str = "01900000-0000-7000-8000-000000000003";
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        if backend == crate::support::Backend::Postgres {
            // A young table: no statistics while the group looks its ids up.
            diesel::sql_query("ALTER TABLE messages SET (autovacuum_enabled = false)")
                .execute(&mut conn)
                .unwrap();
        }
        // The tenant's message n is 00000000-0000-7000-8000-…n, the other's …-8001-…n.
        let id = |t: u32, n: u32| format!("00000000-0000-7000-800{t}-{n:012}");
        for (t, tenant) in [(0, TENANT), (1, OTHER)] {
            let contact = contact_id(t);
            tenant_and_contact(&mut conn, tenant, &contact);
            for n in 0..300u32 {
                diesel::sql_query(format!(
                    "INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, occurred_at, received_at, business_letter, external_index) \
                     VALUES ({}, {}, {}, 'whatsapp', 'in', 'text', {n}, {n}, FALSE, {})",
                    id_literal(&conn, &id(t, n)),
                    id_literal(&conn, tenant),
                    id_literal(&conn, &contact),
                    hex_literal(&conn, n)
                ))
                .execute(&mut conn)
                .unwrap();
            }
        }
        // Every third stored id, and ten that are not stored.
        let wanted: Vec<Vec<u8>> = (0..100u32)
            .map(|n| (n * 3).to_be_bytes().to_vec())
            .chain((1000..1010u32).map(|n| n.to_be_bytes().to_vec()))
            .collect();
        let (rows, read) = conn
            .transaction(|conn| {
                let postgres = matches!(conn, DbConn::Postgres(_));
                let before = if postgres {
                    fetched(conn, "messages")
                } else {
                    0
                };
                let rows = hafen::messages::find_by_external_indexes(conn, TENANT, wanted).unwrap();
                let after = if postgres {
                    fetched(conn, "messages")
                } else {
                    0
                };
                Ok::<_, diesel::result::Error>((rows, after - before))
            })
            .unwrap();
        // Each id probed in the unique index: only the rows found were read, not the tenant's.
        assert!(read <= 100, "{backend:?}: {read} messages read");
        let mut found: Vec<String> = rows
            .into_iter()
            .map(|(index, found, contact)| {
                assert_eq!(contact, contact_id(0));
                let n = u32::from_be_bytes(index.unwrap().try_into().unwrap());
                assert_eq!(found, id(0, n));
                found
            })
            .collect();
        found.sort();
        found.dedup();
        assert_eq!(found.len(), 100, "{backend:?}: {found:?}");
    }
}

/// A tenant and one contact of it, for rows that need them; the ids as the schema holds them at
/// this version (text before migrations 29 and 30, 16 bytes since).
fn tenant_and_contact(conn: &mut DbConn, tenant: &str, contact: &str) {
    let zero = hex_literal(conn, 0);
    let id = id_literal_for(conn, "contacts", "id", contact);
    let tenant = id_literal_for(conn, "tenants", "id", tenant);
    diesel::sql_query(format!(
        "INSERT INTO tenants (id, name, wrapped_key, created_at) VALUES ({tenant}, 'T', {zero}, 0)"
    ))
    .execute(conn)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO contacts (id, tenant_id, channel, address_index, address_sealed, first_seen_at, last_message_at) \
         VALUES ({id}, {tenant}, 'whatsapp', {zero}, {zero}, 0, 0)"
    ))
    .execute(conn)
    .unwrap();
}

/// The indexes every message, status and webhook delivery writes or looks up lead with the column
/// that tells rows apart (issue 24, compact keys). They began with the tenant's 36-character id,
/// the same in all of a tenant's rows, so every comparison on the way down the tree went through
/// it first (on PostgreSQL through the collation). The tenant stays in the unique indexes (what
/// is unique is unchanged); a contact's id is unique on its own. Statuses are indexed by the
/// platform's id only while their message is unknown. Each lookup still uses its index.
#[test]
fn the_hot_indexes_lead_with_the_column_that_tells_rows_apart() {
    const INDEXES: [&str; 5] = [
        "contacts(address_index, channel, tenant_id) unique",
        "messages(external_index, tenant_id) unique",
        "messages(contact_id, tenant_id, occurred_at, id)",
        "message_statuses(external_index, tenant_id) partial",
        "message_statuses(message_id, tenant_id, occurred_at)",
    ];
    // Every query names the tenant too: with it second in the contact's and the message's
    // indexes, both columns match, so SQLite (no statistics) does not take the tenant's time
    // index instead — it did for the last lookup and for JOINED (the access export read all
    // of a tenant's messages: 21 s at 10 000 000).
    const LOOKUPS: [(&str, &str); 6] = [
        (
            "SELECT id FROM contacts WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND channel = 'whatsapp' AND address_index = {blob}",
            "contacts_address",
        ),
        (
            "SELECT id FROM messages WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND external_index = {blob}",
            "messages_external",
        ),
        (
            "SELECT id FROM messages WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND contact_id = '00000000-0000-7000-a000-000000000000' ORDER BY occurred_at, id",
            "messages_contact_time",
        ),
        (
            "SELECT id FROM message_statuses WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND message_id IS NULL AND external_index = {blob}",
            "message_statuses_external",
        ),
        (
            "SELECT id FROM message_statuses WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' \
             AND message_id = '00000000-0000-7000-8000-000000000001' ORDER BY occurred_at",
            "message_statuses_message",
        ),
        (
            "SELECT DISTINCT business_letter FROM messages WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND contact_id = '00000000-0000-7000-a000-000000000000'",
            "messages_contact_time",
        ),
    ];
    // Checked on SQLite only: PostgreSQL orders a join by its cost estimates, and on empty
    // tables every order costs the same.
    const JOINED: (&str, &str) = (
        "SELECT count(*) FROM message_statuses WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND message_id IN \
         (SELECT id FROM messages WHERE tenant_id = '01900000-0000-7000-8000-0000000000ff' AND contact_id = '00000000-0000-7000-a000-000000000000')",
        "message_statuses_message",
    );
    let (mut sqlite, _db, _dir) = migrated(crate::support::Backend::Sqlite);
    let DbConn::Sqlite(conn) = &mut sqlite else {
        unreachable!()
    };
    let shape = sqlite_shape(conn);
    for index in INDEXES {
        assert!(shape.indexes.contains(index), "SQLite lacks {index}");
    }
    let pending: Sql = diesel::sql_query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'message_statuses_external'",
    )
    .get_result(conn)
    .unwrap();
    assert!(
        squeeze(&pending.sql).ends_with("WHERE message_id IS NULL"),
        "{}",
        pending.sql
    );
    for (query, index) in LOOKUPS.into_iter().chain([JOINED]) {
        sqlite_plan_uses(conn, &query.replace("{blob}", "x'01'"), index);
    }

    if !postgres_available() {
        return;
    }
    let (mut postgres, _pg_db, _pg_dir) = migrated(crate::support::Backend::Postgres);
    let DbConn::Postgres(conn) = &mut postgres else {
        unreachable!()
    };
    let shape = pg_shape(conn);
    for index in INDEXES {
        assert!(shape.indexes.contains(index), "PostgreSQL lacks {index}");
    }
    let pending: Sql = diesel::sql_query(
        "SELECT indexdef::text AS sql FROM pg_indexes WHERE indexname = 'message_statuses_external'",
    )
    .get_result(conn)
    .unwrap();
    assert!(
        pending.sql.ends_with("WHERE (message_id IS NULL)"),
        "{}",
        pending.sql
    );
    // On empty tables PostgreSQL costs the address lookup through `contacts_tenant_id` (tenant,
    // 16-byte id) below the unique address index, whose entries are wider; with contacts stored
    // and still no statistics it takes the unique index, as
    // `addresses_are_looked_up_by_the_whole_unique_index_without_statistics` counts.
    for (query, index) in LOOKUPS
        .into_iter()
        .filter(|(_, i)| *i != "contacts_address")
    {
        postgres_plan_uses(conn, &query.replace("{blob}", "'\\x01'::bytea"), index);
    }
    drop(postgres);
}

/// A foreign key: `child.column` refers to a row of `parent`.
#[derive(QueryableByName)]
struct Reference {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// The first column of a whole (not partial) index.
#[derive(QueryableByName)]
struct Leading {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column: String,
}

/// The references to rows of `deleted` tables whose column leads no whole index.
fn unindexed(
    references: &[Reference],
    leading: &[Leading],
    deleted: &BTreeSet<&str>,
) -> Vec<String> {
    let led: BTreeSet<(&str, &str)> = leading
        .iter()
        .map(|l| (l.table_name.as_str(), l.column.as_str()))
        .collect();
    references
        .iter()
        .filter(|r| deleted.contains(r.parent.as_str()))
        .filter(|r| !led.contains(&(r.child.as_str(), r.column.as_str())))
        .map(|r| format!("{}.{} -> {}", r.child, r.column, r.parent))
        .collect()
}

/// Deleting a row makes the database look for rows that still refer to it, by the referring
/// column: on both backends, without an index leading with that column, that look reads the
/// whole referring table — once per deleted row. Retention and erasure delete messages and
/// contacts by the ten thousand, so every foreign key pointing at a table they delete from must
/// lead an index (`attachments.message_id` did not: a run deleting 100 000 messages read every stored
/// file 100 000 times).
#[test]
fn every_reference_to_rows_retention_deletes_leads_an_index() {
    use hafen::retention::coverage::{Ends, SEALED_TABLES};
    let deleted: BTreeSet<&str> = SEALED_TABLES
        .iter()
        .filter(|t| matches!(t.ends, Ends::Retention(_)))
        .map(|t| t.table)
        .collect();
    assert!(deleted.contains("messages") && deleted.contains("contacts"));
    let checked = |references: &[Reference]| {
        references
            .iter()
            .filter(|r| deleted.contains(r.parent.as_str()))
            .count()
    };

    let (mut sqlite, _db, _dir) = migrated(crate::support::Backend::Sqlite);
    let DbConn::Sqlite(conn) = &mut sqlite else {
        unreachable!()
    };
    let references: Vec<Reference> = diesel::sql_query(
        "SELECT m.name AS child, f.\"from\" AS \"column\", f.\"table\" AS parent \
         FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
    )
    .load(conn)
    .unwrap();
    let leading: Vec<Leading> = diesel::sql_query(
        "SELECT m.name AS table_name, ii.name AS \"column\" FROM sqlite_master m, \
         pragma_index_list(m.name) il, pragma_index_info(il.name) ii \
         WHERE m.type = 'table' AND ii.seqno = 0 AND il.partial = 0",
    )
    .load(conn)
    .unwrap();
    assert!(checked(&references) >= 5, "too few references found");
    let missing = unindexed(&references, &leading, &deleted);
    assert!(missing.is_empty(), "SQLite: {missing:#?}");

    if !postgres_available() {
        return;
    }
    let (mut postgres, _pg_db, _pg_dir) = migrated(crate::support::Backend::Postgres);
    let DbConn::Postgres(conn) = &mut postgres else {
        unreachable!()
    };
    let references: Vec<Reference> = diesel::sql_query(
        "SELECT child.relname::text AS child, a.attname::text AS \"column\", \
         parent.relname::text AS parent FROM pg_constraint c \
         JOIN pg_class child ON child.oid = c.conrelid \
         JOIN pg_class parent ON parent.oid = c.confrelid \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         WHERE c.contype = 'f'",
    )
    .load(conn)
    .unwrap();
    let leading: Vec<Leading> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, a.attname::text AS \"column\" FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
         WHERE n.nspname = 'public' AND i.indpred IS NULL",
    )
    .load(conn)
    .unwrap();
    assert!(checked(&references) >= 5, "too few references found");
    let missing = unindexed(&references, &leading, &deleted);
    assert!(missing.is_empty(), "PostgreSQL: {missing:#?}");
    drop(postgres);
}

/// A delivery receipt that overtook its message waits, indexed by the platform's id, until the
/// message arrives; every group of messages stored asks for the receipts waiting for its ids
/// (`status::attach_pending`). Asked for several ids at once SQLite, without statistics,
/// answered from the message index instead, reading every receipt still waiting — and receipts
/// of messages another system sent from the same number wait for ever. What the function runs
/// must probe the partial index. (SQLite only: this change is SQLite's; PostgreSQL keeps its
/// lookup planned with the actual values, `plan_with_actual_values`.)
#[test]
fn receipts_waiting_for_their_message_are_found_by_the_platform_ids() {
    use diesel::connection::{Connection as _, InstrumentationEvent};
    use std::sync::{Arc, Mutex};
    let (mut sqlite, _db, _dir) = migrated(crate::support::Backend::Sqlite);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let DbConn::Sqlite(conn) = &mut sqlite else {
        unreachable!()
    };
    let log = seen.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            log.lock().unwrap().push(query.to_string());
        }
    });
    let fresh: Vec<(Vec<u8>, String)> = (1..=3u8)
        .map(|n| (vec![n; 32], format!("message-{n}")))
        .collect();
    hafen::messages::status::attach_pending(
        &mut sqlite,
        "01900000-0000-7000-8000-000000000005",
        &fresh,
    )
    .unwrap();
    let asked = seen
        .lock()
        .unwrap()
        .iter()
        .find(|q| q.contains("message_statuses"))
        .cloned()
        .expect("attach_pending asked for no waiting receipts");
    let sql = asked.split(" -- binds").next().unwrap().to_string();
    assert_eq!(sql.matches('?').count(), 4, "{sql}");
    let DbConn::Sqlite(conn) = &mut sqlite else {
        unreachable!()
    };
    sqlite_plan_uses(conn, &sql, "message_statuses_external");
}

/// A reference of PostgreSQL: its columns and the table it points at.
#[derive(QueryableByName)]
struct PgReference {
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// PostgreSQL checks each foreign key of an inserted row with a trigger of its own; a message
/// checked its tenant (locking the one tenant row every writer shares) and then its contact. Since
/// migration 22 one reference to (contact_id, tenant_id) checks both: the messages table refers
/// to no other row of `contacts` or `tenants`, and a message naming a contact of another tenant
/// is refused — before, both checks passed separately. (PostgreSQL only: SQLite keeps its two
/// references, docs/decisions.md.)
#[test]
fn a_message_refers_to_the_contact_of_its_own_tenant_in_one_check_on_postgresql() {
    const TENANT: &str = "01900000-0000-7000-8000-000000000004";
    const OTHER: &str = "01900000-0000-7000-8000-000000000005";
    if !postgres_available() {
        return;
    }
    let (mut conn, _db, _dir) = migrated(crate::support::Backend::Postgres);
    let DbConn::Postgres(pg) = &mut conn else {
        unreachable!()
    };
    let references: Vec<PgReference> = diesel::sql_query(
        "SELECT (SELECT string_agg(a.attname::text, ', ' ORDER BY k.i) \
                 FROM unnest(c.conkey) WITH ORDINALITY k(attnum, i) \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
                parent.relname::text AS parent \
         FROM pg_constraint c JOIN pg_class parent ON parent.oid = c.confrelid \
         WHERE c.contype = 'f' AND c.conrelid = 'messages'::regclass \
           AND parent.relname IN ('contacts', 'tenants')",
    )
    .load(pg)
    .unwrap();
    let found: Vec<String> = references
        .iter()
        .map(|r| format!("({}) -> {}", r.columns, r.parent))
        .collect();
    assert_eq!(found, ["(contact_id, tenant_id) -> contacts"]);

    let (mine, theirs) = (contact_id(1), contact_id(2));
    tenant_and_contact(&mut conn, TENANT, &mine);
    tenant_and_contact(&mut conn, OTHER, &theirs);
    let insert = |conn: &mut DbConn, id: &str, contact: &str| {
        diesel::sql_query(format!(
            "INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, occurred_at, received_at, business_letter) \
             VALUES ('{id}', '{TENANT}', '{contact}', 'whatsapp', 'in', 'text', 0, 0, FALSE)"
        ))
        .execute(conn)
    };
    insert(&mut conn, &message_id(1), &mine).unwrap();
    let refused = insert(&mut conn, &message_id(2), &theirs).unwrap_err();
    assert!(
        refused.to_string().contains("messages_contact_of_tenant"),
        "{refused}"
    );
    let stored: Count = diesel::sql_query("SELECT count(*) AS n FROM messages")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(stored.n, 1);
    drop(conn);
}

/// The id of test message `n`: a UUID, as every id Hafen stores (`store::id`).
fn message_id(n: u32) -> String {
    format!("00000000-0000-7000-8000-{n:012}")
}

/// The contact most tests' messages belong to.
const CONTACT: &str = "00000000-0000-7000-a000-000000000000";

/// The id of test contact `n`, likewise.
fn contact_id(n: u32) -> String {
    format!("00000000-0000-7000-a000-{n:012}")
}

/// The id of test delivery status `n`, likewise.
fn status_id(n: u32) -> String {
    format!("00000000-0000-7000-9000-{n:012}")
}

/// A message row with every column set to a value of its own (`full`), or only those a row
/// must have.
fn message_row(tenant: &str, contact: &str, n: u32, full: bool) -> hafen::messages::MessageRow {
    let bytes = |tag: u8| full.then(|| vec![tag, (n % 251) as u8, 7]);
    let text = |tag: &str| full.then(|| format!("{tag}-{n}"));
    hafen::messages::MessageRow {
        id: message_id(n),
        tenant_id: tenant.to_string(),
        contact_id: contact.to_string(),
        channel: "whatsapp".into(),
        direction: "in".into(),
        kind: "text".into(),
        occurred_at: 1_000 + i64::from(n),
        received_at: 2_000 + i64::from(n),
        // Unique per message: the platform's id and the caller's idempotency key.
        external_index: full.then(|| n.to_be_bytes().to_vec()),
        external_id_sealed: bytes(2),
        body_sealed: bytes(3),
        raw_sealed: bytes(4),
        channel_id: text("channel"),
        delivery_status: text("status"),
        delivery_status_at: full.then_some(3_000 + i64::from(n)),
        idempotency_index: full.then(|| [n.to_be_bytes(), [5; 4]].concat()),
        period_key_id: text("period"),
        content_deleted_at: full.then_some(4_000 + i64::from(n)),
        business_letter: full,
        sent_by_bot: text("bot"),
    }
}

/// A writer group's messages and receipts go in with one statement each (on PostgreSQL one
/// array per column): what is read back is what was written, column for column, set or not,
/// and the receipts move their messages' status (on PostgreSQL in one statement for several).
#[test]
fn a_group_of_messages_is_stored_column_for_column() {
    use hafen::messages::status::StatusRow;
    use hafen::messages::MessageRow;
    use hafen::store::schema::{message_statuses, messages};
    const TENANT: &str = "01900000-0000-7000-8000-000000000006";
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        tenant_and_contact(&mut conn, TENANT, CONTACT);
        let rows: Vec<MessageRow> = (0..4)
            .map(|n| message_row(TENANT, CONTACT, n, n % 2 == 0))
            .collect();
        hafen::messages::insert_many(&mut conn, &rows.iter().collect::<Vec<_>>()).unwrap();
        let stored: Vec<MessageRow> = messages::table
            .order(messages::id)
            .select(MessageRow::as_select())
            .load(&mut conn)
            .unwrap();
        assert_eq!(format!("{stored:#?}"), format!("{rows:#?}"), "{backend:?}");

        // Receipts, likewise: two for stored messages (their status moves), one waiting.
        let receipt = |id: &str, index: u32, status: &str, at: i64, full: bool| StatusRow {
            id: id.to_string(),
            tenant_id: TENANT.to_string(),
            channel: "whatsapp".into(),
            external_index: index.to_be_bytes().to_vec(),
            message_id: None,
            status: status.into(),
            occurred_at: at,
            received_at: at + 1,
            errors_sealed: full.then(|| vec![9, 9]),
            raw_sealed: full.then(|| vec![8]),
            period_key_id: full.then(|| format!("period-{id}")),
        };
        let receipts = vec![
            receipt(&status_id(1), 0, "delivered", 5_000, true),
            receipt(&status_id(2), 2, "read", 6_000, false),
            receipt(&status_id(3), 77, "read", 7_000, true),
        ];
        let matched =
            hafen::messages::status::store(&mut conn, TENANT, &receipts.iter().collect::<Vec<_>>())
                .unwrap();
        let answered: Vec<StatusRow> = receipts
            .into_iter()
            .zip(matched)
            .map(|(row, message_id)| StatusRow { message_id, ..row })
            .collect();
        let kept: Vec<StatusRow> = message_statuses::table
            .order(message_statuses::id)
            .select(StatusRow::as_select())
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            format!("{kept:#?}"),
            format!("{answered:#?}"),
            "{backend:?}"
        );
        let matched: Vec<Option<&str>> = kept.iter().map(|r| r.message_id.as_deref()).collect();
        let (m0, m1, m2) = (message_id(0), message_id(1), message_id(2));
        assert_eq!(
            matched,
            [Some(m0.as_str()), Some(m2.as_str()), None],
            "{backend:?}"
        );
        let moved = hafen::messages::status::current(&mut conn, &[&m0, &m1, &m2]).unwrap();
        assert_eq!(
            moved,
            std::collections::HashMap::from([
                (m0.clone(), ("delivered".to_string(), 5_000)),
                (m2.clone(), ("read".to_string(), 6_000)),
            ]),
            "{backend:?}"
        );
        // The message's own row keeps the status it was stored with (migration 23).
        let kept: Vec<Option<String>> = messages::table
            .filter(messages::id.eq_any(hafen::store::id::bind_all(&[&m0, &m2])))
            .order(messages::id)
            .select(messages::delivery_status)
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            kept,
            [Some("status-0".into()), Some("status-2".into())],
            "{backend:?}"
        );
    }
}

/// Rows of `table` this transaction read, by any scan (PostgreSQL).
fn rows_read(conn: &mut DbConn, table: &str) -> i64 {
    let read: Count = diesel::sql_query(format!(
        "SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) AS n \
         FROM pg_stat_xact_user_tables WHERE relname = '{table}'"
    ))
    .get_result(conn)
    .unwrap();
    read.n
}

#[derive(QueryableByName)]
struct PreparedStatement {
    #[diesel(sql_type = Text)]
    statement: String,
}

/// What the writer sends PostgreSQL for every group — the messages' insert, the lookup of
/// their platform ids, the contacts' `last_message_at`, the receipts' insert and the status
/// they move — stays prepared on its connection
/// (parsed once, not per group: docs/benchmarks.md), so PostgreSQL may answer it with a
/// generic plan, made perhaps while the tables were young. Under such a plan each statement
/// still reads only the rows it names (`UPDATE … FROM unnest(…)` read every contact).
#[test]
fn the_writers_statements_stay_prepared_and_read_only_their_rows_under_a_generic_plan() {
    const TENANT: &str = "01900000-0000-7000-8000-000000000007";
    if !postgres_available() {
        return;
    }
    let (mut conn, _db, _dir) = migrated(crate::support::Backend::Postgres);
    for table in ["messages", "contacts"] {
        // No statistics but those the test makes.
        diesel::sql_query(format!(
            "ALTER TABLE {table} SET (autovacuum_enabled = false)"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    tenant_and_contact(&mut conn, TENANT, CONTACT);
    // A thousand contacts with statistics: there a join of the contacts to `unnest(…)` was
    // planned as a hash join that read them all (a table of a few pages is read whole under any
    // plan; at several thousands the join probed).
    diesel::sql_query(format!(
        "INSERT INTO contacts (id, tenant_id, channel, address_index, address_sealed, first_seen_at, last_message_at) \
         SELECT ('00000000-0000-7000-a000-' || lpad(n::text, 12, '0'))::uuid, '{TENANT}', \
           'whatsapp', int4send(n), int4send(n), 0, 0 \
         FROM generate_series(1, 1000) AS n"
    ))
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query("ANALYZE contacts")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .unwrap();
    // Young (no statistics) but more than a few pages.
    let rows: Vec<_> = (0..3000)
        .map(|n| message_row(TENANT, &contact_id(n % 1000), n, true))
        .collect();
    for group in rows.chunks(100) {
        hafen::messages::insert_many(&mut conn, &group.iter().collect::<Vec<_>>()).unwrap();
    }
    conn.transaction(|conn| {
        let before = rows_read(conn, "messages");
        let wanted: Vec<Vec<u8>> = (0..10u32).map(|n| n.to_be_bytes().to_vec()).collect();
        let found = hafen::messages::find_by_external_indexes(conn, TENANT, wanted).unwrap();
        assert_eq!(found.len(), 10);
        let read = rows_read(conn, "messages") - before;
        assert!(read <= 10, "{read} messages read for 10 ids");

        let before = rows_read(conn, "contacts");
        let latest = BTreeMap::from([(contact_id(1), 9_999), (contact_id(2), 9_999)]);
        hafen::contacts::touch_last_messages(conn, &latest).unwrap();
        let read = rows_read(conn, "contacts") - before;
        assert!(read <= 2, "{read} contacts read for 2");

        // Two receipts: each message looked up by its platform id, and nothing else of
        // `messages` read (the current status is kept apart, migration 23); with statistics now
        // (with them, the contacts' join to `unnest(…)` above became a hash join that read every
        // contact).
        diesel::sql_query("ANALYZE messages").execute(conn).unwrap();
        let before = rows_read(conn, "messages");
        let receipts = (3..5u32)
            .map(|n| hafen::messages::status::StatusRow {
                id: status_id(n),
                tenant_id: TENANT.to_string(),
                channel: "whatsapp".into(),
                external_index: n.to_be_bytes().to_vec(),
                message_id: None,
                status: "read".into(),
                occurred_at: 9_999,
                received_at: 9_999,
                errors_sealed: None,
                raw_sealed: None,
                period_key_id: None,
            })
            .collect::<Vec<_>>();
        hafen::messages::status::store(conn, TENANT, &receipts.iter().collect::<Vec<_>>()).unwrap();
        let read = rows_read(conn, "messages") - before;
        assert!(read <= 2, "{read} messages read for 2 receipts");
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    let touched: Count =
        diesel::sql_query("SELECT count(*) AS n FROM contacts WHERE last_message_at = 9999")
            .get_result(&mut conn)
            .unwrap();
    assert_eq!(touched.n, 2);

    // A large group (an import) takes the joined form of both updates: every row named moves.
    let latest: BTreeMap<String, i64> = (100..200).map(|n| (contact_id(n), 7_777)).collect();
    hafen::contacts::touch_last_messages(&mut conn, &latest).unwrap();
    let receipts = (100..200u32)
        .map(|n| hafen::messages::status::StatusRow {
            id: status_id(n),
            tenant_id: TENANT.to_string(),
            channel: "whatsapp".into(),
            external_index: n.to_be_bytes().to_vec(),
            message_id: None,
            status: "delivered".into(),
            occurred_at: 7_777,
            received_at: 7_777,
            errors_sealed: None,
            raw_sealed: None,
            period_key_id: None,
        })
        .collect::<Vec<_>>();
    hafen::messages::status::store(&mut conn, TENANT, &receipts.iter().collect::<Vec<_>>())
        .unwrap();
    for (table, column) in [
        ("contacts", "last_message_at = 7777"),
        (
            "message_delivery",
            "status = 'delivered' AND status_at = 7777",
        ),
    ] {
        let moved: Count =
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table} WHERE {column}"))
                .get_result(&mut conn)
                .unwrap();
        assert_eq!(moved.n, 100, "{table}");
    }
    let prepared: Vec<PreparedStatement> =
        diesel::sql_query("SELECT statement FROM pg_prepared_statements")
            .load(&mut conn)
            .unwrap();
    for statement in [
        "INSERT INTO messages",
        "CROSS JOIN LATERAL (SELECT m.external_index",
        "UPDATE contacts c SET last_message_at = $2[array_position",
        "UPDATE contacts c SET last_message_at = v.at",
        "INSERT INTO message_statuses",
        "INSERT INTO message_delivery",
    ] {
        let kept = prepared
            .iter()
            .filter(|p| p.statement.contains(statement))
            .count();
        assert_eq!(
            kept,
            1,
            "{statement}: prepared {kept} times in {:#?}",
            prepared.iter().map(|p| &p.statement).collect::<Vec<_>>()
        );
    }
}

/// A writer group with one writer takes the audit chain's lock right after `BEGIN`
/// (`store::backend::hold_audit_chain`); its own append at the end does not ask again — one
/// round trip less per group — while the lock stays held until the transaction ends, and the
/// next transaction asks anew.
#[test]
fn a_transaction_holding_the_audit_chain_asks_for_its_lock_once() {
    use diesel::connection::{Connection as _, InstrumentationEvent};
    use hafen::store::backend::{hold_audit_chain, lock_audit_chain};
    use std::sync::{Arc, Mutex};
    if !postgres_available() {
        return;
    }
    let (mut conn, db, _dir) = migrated(crate::support::Backend::Postgres);
    let mut other = db.connect();
    let asked: Arc<Mutex<usize>> = Arc::default();
    let DbConn::Postgres(pg) = &mut conn else {
        unreachable!()
    };
    let count = asked.clone();
    pg.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            if query.to_string().contains("pg_advisory_xact_lock") {
                *count.lock().unwrap() += 1;
            }
        }
    });
    #[derive(QueryableByName)]
    struct Got {
        #[diesel(sql_type = Bool)]
        got: bool,
    }
    let free = |other: &mut DbConn| -> bool {
        other
            .transaction(|o| {
                diesel::sql_query(
                    "SELECT pg_try_advisory_xact_lock(79445189021186) AS got", // "HAFEN" 2
                )
                .get_result::<Got>(o)
                .map(|g| g.got)
            })
            .unwrap()
    };
    conn.transaction(|c| {
        let held = hold_audit_chain(c).unwrap();
        lock_audit_chain(c).unwrap();
        lock_audit_chain(c).unwrap();
        assert!(
            !free(&mut other),
            "the chain's lock is held by the transaction"
        );
        drop(held);
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    assert_eq!(*asked.lock().unwrap(), 1, "asked once while held");
    assert!(free(&mut other), "released with the transaction");
    conn.transaction::<_, hafen::store::StoreError, _>(lock_audit_chain)
        .unwrap();
    assert_eq!(*asked.lock().unwrap(), 2, "the next transaction asks again");
}

/// Migration 23 moves the current delivery status out of the message's row: a status a receipt
/// had moved becomes the message's row in `message_delivery`; a message still `queued` (or
/// inbound, with none) gets no row and reads as before. Reverted, the status goes back.
#[test]
fn the_current_delivery_status_moves_out_of_the_message_and_back() {
    const TENANT: &str = "01900000-0000-7000-8000-000000000023";
    const MIGRATION: &str = "20261207000023";
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        // Back to just before migration 23: the later ones first.
        let revert = |conn: &mut DbConn| revert_through(conn, MIGRATION);
        revert(&mut conn);
        tenant_and_contact(&mut conn, TENANT, CONTACT);
        // Ids as Hafen writes them (UUIDs, in the order of their names here).
        let (inbound, queued, read) = (message_id(1), message_id(2), message_id(3));
        for (id, status, at) in [
            (&read, "'read'", "10"),
            (&queued, "'queued'", "20"),
            (&inbound, "NULL", "NULL"),
        ] {
            diesel::sql_query(format!(
                "INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, \
                   occurred_at, received_at, business_letter, delivery_status, delivery_status_at) \
                 VALUES ('{id}', '{TENANT}', '{CONTACT}', 'whatsapp', 'out', 'text', 0, 0, FALSE, \
                   {status}, {at})"
            ))
            .execute(&mut conn)
            .unwrap();
        }
        hafen::store::run_migrations(&mut conn).unwrap();
        let current =
            hafen::messages::status::current(&mut conn, &[&read, &queued, &inbound]).unwrap();
        assert_eq!(
            current,
            std::collections::HashMap::from([(read.clone(), ("read".to_string(), 10))]),
            "{backend:?}"
        );
        // A receipt after the upgrade moves it on; an older one does not.
        hafen::messages::status::bump(&mut conn, TENANT, &read, "failed", 30).unwrap();
        hafen::messages::status::bump(&mut conn, TENANT, &read, "delivered", 25).unwrap();
        hafen::messages::status::bump(&mut conn, TENANT, &queued, "sent", 21).unwrap();

        revert(&mut conn);
        // Before migration 28 a message's id is text: read as such.
        #[derive(QueryableByName, Debug, PartialEq)]
        struct Back {
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
            delivery_status: Option<String>,
            #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
            delivery_status_at: Option<i64>,
        }
        let back_rows: Vec<Back> = diesel::sql_query(
            "SELECT id, delivery_status, delivery_status_at FROM messages ORDER BY id",
        )
        .load(&mut conn)
        .unwrap();
        let back = |id: String, status: Option<&str>, at: Option<i64>| Back {
            id,
            delivery_status: status.map(str::to_string),
            delivery_status_at: at,
        };
        assert_eq!(
            back_rows,
            [
                back(inbound, None, None),
                back(queued, Some("sent"), Some(21)),
                back(read, Some("failed"), Some(30)),
            ],
            "{backend:?}"
        );
    }
}

/// A message's current status goes with the message (the one place messages are deleted), and
/// only with a message of the tenant named.
#[test]
fn a_deleted_message_takes_its_current_status_with_it() {
    const TENANT: &str = "01900000-0000-7000-8000-000000000024";
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        tenant_and_contact(&mut conn, TENANT, CONTACT);
        let rows: Vec<hafen::messages::MessageRow> = (0..2)
            .map(|n| message_row(TENANT, CONTACT, n, false))
            .collect();
        hafen::messages::insert_many(&mut conn, &rows.iter().collect::<Vec<_>>()).unwrap();
        let (m0, m1) = (message_id(0), message_id(1));
        for id in [&m0, &m1] {
            hafen::messages::status::bump(&mut conn, TENANT, id, "delivered", 10).unwrap();
        }
        let ids = [m0.clone()];
        let another_tenant = "01900000-0000-7000-8000-0000000000ff";
        hafen::messages::delete_with_dependants(&mut conn, another_tenant, &ids).unwrap();
        let current = |conn: &mut DbConn| {
            let mut ids: Vec<String> = hafen::messages::status::current(conn, &[&m0, &m1])
                .unwrap()
                .into_keys()
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(current(&mut conn), [m0.clone(), m1.clone()], "{backend:?}");
        hafen::messages::delete_with_dependants(&mut conn, TENANT, &ids).unwrap();
        assert_eq!(current(&mut conn), [m1], "{backend:?}");
    }
}

/// Migration 24 stores `message_delivery`'s ids as their 16 bytes (PostgreSQL `uuid`, SQLite a
/// 16-byte BLOB): the statuses stored before it read the same after it, by the same ids; new
/// ones are written as bytes too; reverted, the ids are their canonical text again.
#[test]
fn the_delivery_statuses_ids_become_16_bytes_and_back() {
    const TENANT: &str = "01900000-0000-7000-8000-000000000025";
    const MIGRATION: &str = "20261207000024";
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        let revert = |conn: &mut DbConn| revert_through(conn, MIGRATION);
        // How the ids are stored: their type and size, one entry per id.
        let stored = |conn: &mut DbConn| {
            let mut both = column_storage(conn, "message_delivery", "message_id");
            both.extend(column_storage(conn, "message_delivery", "tenant_id"));
            both
        };
        revert(&mut conn);
        let (early, late) = (message_id(1), message_id(2));
        diesel::sql_query(format!(
            "INSERT INTO message_delivery (message_id, tenant_id, status, status_at, status_rank) \
             VALUES ('{early}', '{TENANT}', 'delivered', 10, 2)"
        ))
        .execute(&mut conn)
        .unwrap();
        let text_size = match backend {
            crate::support::Backend::Sqlite => 36,
            // A short varlena header of one byte.
            crate::support::Backend::Postgres => 37,
        };
        assert!(
            stored(&mut conn).iter().all(|(_, size)| *size == text_size),
            "{backend:?}: {:?}",
            stored(&mut conn)
        );

        hafen::store::run_migrations(&mut conn).unwrap();
        hafen::messages::status::bump(&mut conn, TENANT, &late, "read", 20).unwrap();
        let bytes = match backend {
            crate::support::Backend::Sqlite => "blob",
            crate::support::Backend::Postgres => "uuid",
        };
        assert_eq!(
            stored(&mut conn),
            vec![(bytes.to_string(), 16); 4],
            "{backend:?}"
        );
        let current = hafen::messages::status::current(&mut conn, &[&early, &late]).unwrap();
        assert_eq!(
            current,
            std::collections::HashMap::from([
                (early.clone(), ("delivered".to_string(), 10)),
                (late.clone(), ("read".to_string(), 20)),
            ]),
            "{backend:?}"
        );
        // Deleted by its id and tenant, as bytes.
        hafen::messages::delete_with_dependants(&mut conn, TENANT, std::slice::from_ref(&early))
            .unwrap();
        assert_eq!(
            hafen::messages::status::current(&mut conn, &[&early, &late])
                .unwrap()
                .into_keys()
                .collect::<Vec<_>>(),
            std::slice::from_ref(&late),
            "{backend:?}"
        );

        revert(&mut conn);
        #[derive(QueryableByName, Debug, PartialEq)]
        struct Row {
            #[diesel(sql_type = Text)]
            message_id: String,
            #[diesel(sql_type = Text)]
            tenant_id: String,
        }
        let back: Vec<Row> =
            diesel::sql_query("SELECT message_id, tenant_id FROM message_delivery")
                .load(&mut conn)
                .unwrap();
        assert_eq!(
            back,
            [Row {
                message_id: late.clone(),
                tenant_id: TENANT.to_string()
            }],
            "{backend:?}"
        );
    }
}

/// Reverts the migrations down to and including `version`, the later ones first.
fn revert_through(conn: &mut DbConn, version: &str) {
    use diesel_migrations::MigrationHarness;
    loop {
        let reverted = match conn {
            DbConn::Sqlite(c) => c.revert_last_migration(hafen::store::SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.revert_last_migration(hafen::store::POSTGRES_MIGRATIONS),
        }
        .unwrap()
        .to_string();
        if reverted.starts_with(version) {
            return;
        }
        assert!(
            reverted.as_str() > version,
            "reverted {reverted} without meeting {version}"
        );
    }
}

/// Migration 25 stores a delivery status's own id as its 16 bytes: a receipt stored before it
/// reads the same after it; new ones go in as bytes (one statement per group on PostgreSQL);
/// deleted by id; reverted, the ids are their canonical text again.
#[test]
fn the_delivery_statuses_own_ids_become_16_bytes_and_back() {
    use hafen::messages::status::StatusRow;
    use hafen::store::schema::message_statuses;
    const TENANT: &str = "01900000-0000-7000-8000-000000000026";
    const MIGRATION: &str = "20261207000025";
    let receipt = |n: u32| StatusRow {
        id: status_id(n),
        tenant_id: TENANT.to_string(),
        channel: "whatsapp".into(),
        external_index: n.to_be_bytes().to_vec(),
        message_id: None,
        status: "delivered".into(),
        occurred_at: i64::from(n),
        received_at: i64::from(n),
        errors_sealed: None,
        raw_sealed: None,
        period_key_id: None,
    };
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        revert_through(&mut conn, MIGRATION);
        tenant_and_contact(&mut conn, TENANT, CONTACT);
        diesel::sql_query(format!(
            "INSERT INTO message_statuses (id, tenant_id, channel, external_index, status, \
               occurred_at, received_at) \
             VALUES ('{}', '{TENANT}', 'whatsapp', {}, 'delivered', 1, 1)",
            status_id(1),
            hex_literal(&conn, 1)
        ))
        .execute(&mut conn)
        .unwrap();
        hafen::store::run_migrations(&mut conn).unwrap();
        hafen::messages::status::store(&mut conn, TENANT, &[&receipt(2), &receipt(3)]).unwrap();
        let bytes = match backend {
            crate::support::Backend::Sqlite => "blob",
            crate::support::Backend::Postgres => "uuid",
        };
        assert_eq!(
            column_storage(&mut conn, "message_statuses", "id"),
            vec![(bytes.to_string(), 16); 3],
            "{backend:?}"
        );
        let read: Vec<String> = message_statuses::table
            .order(message_statuses::id)
            .select(message_statuses::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            read,
            [status_id(1), status_id(2), status_id(3)],
            "{backend:?}"
        );
        hafen::messages::status::delete(&mut conn, TENANT, &[status_id(2)]).unwrap();

        revert_through(&mut conn, MIGRATION);
        assert_eq!(
            column_text(&mut conn, "message_statuses", "id"),
            [Some(status_id(1)), Some(status_id(3))],
            "{backend:?}"
        );
    }
}

/// Migration 26 stores an event delivery's own id as its 16 bytes: a delivery stored before it
/// reads the same after it, is deleted by its id (retention's webhook logs) and, reverted, its id
/// is its canonical text again.
#[test]
fn the_event_deliveries_own_ids_become_16_bytes_and_back() {
    use hafen::store::schema::event_deliveries;
    const TENANT: &str = "01900000-0000-7000-8000-000000000027";
    const HOOK: &str = "01900000-0000-7000-8000-0000000000e0";
    const MIGRATION: &str = "20261207000026";
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        revert_through(&mut conn, MIGRATION);
        tenant_and_contact(&mut conn, TENANT, CONTACT);
        let blob = hex_literal(&conn, 1);
        diesel::sql_query(format!(
            "INSERT INTO event_hooks (id, tenant_id, url_sealed, secret_sealed, events, enabled, \
               created_at) VALUES ('{HOOK}', '{TENANT}', {blob}, {blob}, '[]', TRUE, 0)"
        ))
        .execute(&mut conn)
        .unwrap();
        let (kept, deleted) = (status_id(7), status_id(8));
        for id in [&kept, &deleted] {
            diesel::sql_query(format!(
                "INSERT INTO event_deliveries (id, tenant_id, hook_id, event, payload_sealed, \
                   state, attempts, next_attempt_at, created_at) \
                 VALUES ('{id}', '{TENANT}', '{HOOK}', 'message.received', {blob}, 'delivered', \
                   1, 0, 0)"
            ))
            .execute(&mut conn)
            .unwrap();
        }
        assert!(
            column_storage(&mut conn, "event_deliveries", "id")
                .iter()
                .all(|(_, size)| *size > 16),
            "{backend:?}: text before"
        );

        hafen::store::run_migrations(&mut conn).unwrap();
        let bytes = match backend {
            crate::support::Backend::Sqlite => "blob",
            crate::support::Backend::Postgres => "uuid",
        };
        assert_eq!(
            column_storage(&mut conn, "event_deliveries", "id"),
            [(bytes.to_string(), 16), (bytes.to_string(), 16)],
            "{backend:?}"
        );
        hafen::events::delete_deliveries(&mut conn, TENANT, std::slice::from_ref(&deleted))
            .unwrap();
        let read: Vec<String> = event_deliveries::table
            .select(event_deliveries::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(read, std::slice::from_ref(&kept), "{backend:?}");

        revert_through(&mut conn, MIGRATION);
        assert_eq!(
            column_text(&mut conn, "event_deliveries", "id"),
            [Some(kept.clone())],
            "{backend:?}"
        );
    }
}

/// Migration 27 stores an attachment's own id as its 16 bytes: attachments stored before it read
/// the same after it, one is deleted by its id (retention's files) and, reverted, the ids are
/// their canonical text again.
#[test]
fn the_attachments_own_ids_become_16_bytes_and_back() {
    use hafen::store::schema::attachments;
    const TENANT: &str = "01900000-0000-7000-8000-000000000028";
    const MIGRATION: &str = "20261207000027";
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        revert_through(&mut conn, MIGRATION);
        tenant_and_contact(&mut conn, TENANT, CONTACT);
        // Before migration 28 a message's id is text.
        diesel::sql_query(format!(
            "INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, \
               occurred_at, received_at, business_letter) \
             VALUES ('{}', '{TENANT}', '{CONTACT}', 'whatsapp', 'out', 'text', 0, 0, FALSE)",
            message_id(1)
        ))
        .execute(&mut conn)
        .unwrap();
        let blob = hex_literal(&conn, 1);
        let (kept, deleted) = (status_id(11), status_id(12));
        for (n, id) in [&kept, &deleted].into_iter().enumerate() {
            diesel::sql_query(format!(
                "INSERT INTO attachments (id, tenant_id, message_id, n, media_ref_sealed, state, \
                   attempts, next_attempt_at, created_at) \
                 VALUES ('{id}', '{TENANT}', '{}', {n}, {blob}, 'stored', 0, 0, 0)",
                message_id(1)
            ))
            .execute(&mut conn)
            .unwrap();
        }
        assert!(
            column_storage(&mut conn, "attachments", "id")
                .iter()
                .all(|(_, size)| *size > 16),
            "{backend:?}: text before"
        );

        hafen::store::run_migrations(&mut conn).unwrap();
        let bytes = match backend {
            crate::support::Backend::Sqlite => "blob",
            crate::support::Backend::Postgres => "uuid",
        };
        assert_eq!(
            column_storage(&mut conn, "attachments", "id"),
            [(bytes.to_string(), 16), (bytes.to_string(), 16)],
            "{backend:?}"
        );
        hafen::messages::attachments::delete(&mut conn, TENANT, std::slice::from_ref(&deleted))
            .unwrap();
        let read: Vec<String> = attachments::table
            .select(attachments::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(read, std::slice::from_ref(&kept), "{backend:?}");

        revert_through(&mut conn, MIGRATION);
        assert_eq!(
            column_text(&mut conn, "attachments", "id"),
            [Some(kept.clone())],
            "{backend:?}"
        );
    }
}

/// An id as the backend's literal for a column that holds ids as 16 bytes (since migration 24).
fn id_literal(conn: &DbConn, id: &str) -> String {
    match conn {
        DbConn::Postgres(_) => format!("'{id}'::uuid"),
        DbConn::Sqlite(_) => format!("unhex('{}')", id.replace('-', "")),
    }
}

/// An id as the literal `table`'s `column` takes at the database's current version: its 16
/// bytes once a migration converted the column, its text before.
fn id_literal_for(conn: &mut DbConn, table: &str, column: &str, id: &str) -> String {
    #[derive(QueryableByName)]
    struct Declared {
        #[diesel(sql_type = Text)]
        kind: String,
    }
    let sql = match conn {
        DbConn::Sqlite(_) => format!(
            "SELECT lower(type) AS kind FROM pragma_table_info('{table}') WHERE name = '{column}'"
        ),
        DbConn::Postgres(_) => format!(
            "SELECT data_type::text AS kind FROM information_schema.columns \
             WHERE table_name = '{table}' AND column_name = '{column}'"
        ),
    };
    let declared: Declared = diesel::sql_query(sql).get_result(conn).unwrap();
    match declared.kind.as_str() {
        "uuid" => id_literal(conn, id),
        _ => format!("'{id}'"),
    }
}

/// How `table`'s `column` holds its values (type, size), in the column's order; NULLs left out.
fn column_storage(conn: &mut DbConn, table: &str, column: &str) -> Vec<(String, i64)> {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = BigInt)]
        size: i64,
    }
    let sql = match conn {
        DbConn::Sqlite(_) => format!(
            "SELECT typeof({column}) AS kind, length({column}) AS size FROM {table} \
             WHERE {column} IS NOT NULL ORDER BY {column}"
        ),
        DbConn::Postgres(_) => format!(
            "SELECT pg_typeof({column})::text AS kind, pg_column_size({column})::bigint AS size \
             FROM {table} WHERE {column} IS NOT NULL ORDER BY {column}"
        ),
    };
    diesel::sql_query(sql)
        .load::<Stored>(conn)
        .unwrap()
        .into_iter()
        .map(|s| (s.kind, s.size))
        .collect()
}

/// How ids are held in a column: as text, or as their 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stored {
    Text,
    Bytes,
}

/// Asserts that every (table, column) of `naming` has rows, each holding its id as `stored`
/// says (text is longer than 16 bytes; bytes are the backend's 16-byte type).
fn assert_ids_stored(conn: &mut DbConn, naming: &[(&str, &str)], stored: Stored) {
    let bytes = match conn {
        DbConn::Sqlite(_) => "blob",
        DbConn::Postgres(_) => "uuid",
    };
    for (table, column) in naming {
        let found = column_storage(conn, table, column);
        let holds = |(kind, size): &(String, i64)| match stored {
            Stored::Text => *size > 16,
            Stored::Bytes => kind == bytes && *size == 16,
        };
        assert!(
            !found.is_empty() && found.iter().all(holds),
            "{table}.{column} as {stored:?}: {found:?}"
        );
    }
}

/// `table`'s `column` read as text (whatever the schema says it is), in the column's order.
fn column_text(conn: &mut DbConn, table: &str, column: &str) -> Vec<Option<String>> {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        value: Option<String>,
    }
    diesel::sql_query(format!(
        "SELECT {column} AS value FROM {table} ORDER BY {column} IS NULL, {column}"
    ))
    .load::<Value>(conn)
    .unwrap()
    .into_iter()
    .map(|v| v.value)
    .collect()
}

/// Migration 28 stores a message's id as its 16 bytes, with every column that names it (outbox,
/// attachments, delivery statuses, consent ledger) in the same migration: messages stored before
/// it keep their files, statuses, outbox entry and ledger link, which are found and deleted
/// through the new ids after it; the references still hold; reverted, every id is its canonical
/// text again.
#[test]
fn the_message_ids_become_16_bytes_with_every_column_naming_them_and_back() {
    use hafen::store::schema::{attachments, consent_ledger, message_statuses, messages, outbox};
    const TENANT: &str = "01900000-0000-7000-8000-000000000029";
    const MIGRATION: &str = "20261207000028";
    const NAMING: [(&str, &str); 5] = [
        ("messages", "id"),
        ("outbox", "message_id"),
        ("attachments", "message_id"),
        ("message_statuses", "message_id"),
        ("consent_ledger", "message_id"),
    ];
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        revert_through(&mut conn, MIGRATION);
        tenant_and_contact(&mut conn, TENANT, CONTACT);
        let (kept, deleted) = (message_id(1), message_id(2));
        let blob = hex_literal(&conn, 1);
        for (n, id) in [&kept, &deleted].into_iter().enumerate() {
            let (file, status) = (
                id_literal(&conn, &status_id(20 + n as u32)),
                id_literal(&conn, &status_id(30 + n as u32)),
            );
            for sql in [
                format!(
                    "INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, \
                       occurred_at, received_at, business_letter) \
                     VALUES ('{id}', '{TENANT}', '{CONTACT}', 'whatsapp', 'out', 'text', {n}, 0, FALSE)"
                ),
                format!(
                    "INSERT INTO attachments (id, tenant_id, message_id, n, media_ref_sealed, \
                       state, attempts, next_attempt_at, created_at) \
                     VALUES ({file}, '{TENANT}', '{id}', 0, {blob}, 'stored', 0, 0, 0)"
                ),
                format!(
                    "INSERT INTO message_statuses (id, tenant_id, channel, external_index, \
                       message_id, status, occurred_at, received_at) \
                     VALUES ({status}, '{TENANT}', 'whatsapp', {blob}, '{id}', 'sent', 0, 0)"
                ),
            ] {
                diesel::sql_query(sql).execute(&mut conn).unwrap();
            }
        }
        let waiting = id_literal(&conn, &status_id(39));
        for sql in [
            format!(
                "INSERT INTO outbox (message_id, tenant_id, channel_id, request_sealed, attempts, \
                   next_attempt_at) VALUES ('{kept}', '{TENANT}', 'ch', {blob}, 0, 0)"
            ),
            // A receipt still waiting for its message names none.
            format!(
                "INSERT INTO message_statuses (id, tenant_id, channel, external_index, status, \
                   occurred_at, received_at) \
                 VALUES ({waiting}, '{TENANT}', 'whatsapp', {blob}, 'sent', 0, 0)"
            ),
            format!(
                "INSERT INTO consent_ledger (seq, tenant_id, consent_id, contact_id, purpose_id, \
                   event, at, source, text_id, text_hash, message_id, prev_hash, hash) \
                 VALUES (1, '{TENANT}', 'k', '{CONTACT}', 'p', 'confirmed', 0, 'keyword', 't', {blob}, \
                   '{kept}', {blob}, {blob}), \
                   (2, '{TENANT}', 'k', '{CONTACT}', 'p', 'requested', 0, 'api', 't', {blob}, NULL, \
                   {blob}, {blob})"
            ),
        ] {
            diesel::sql_query(sql).execute(&mut conn).unwrap();
        }
        assert_ids_stored(&mut conn, &NAMING, Stored::Text);
        hafen::store::run_migrations(&mut conn).unwrap();
        assert_ids_stored(&mut conn, &NAMING, Stored::Bytes);
        // Read through the new type: the same ids, the same links.
        let ids: Vec<String> = messages::table
            .order(messages::id)
            .select(messages::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(ids, [kept.clone(), deleted.clone()], "{backend:?}");
        let waiting: Vec<String> = outbox::table
            .select(outbox::message_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(waiting, std::slice::from_ref(&kept), "{backend:?}");
        let linked: Vec<Option<String>> = consent_ledger::table
            .order(consent_ledger::seq)
            .select(consent_ledger::message_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(linked, [Some(kept.clone()), None], "{backend:?}");
        let history = hafen::messages::status::history(&mut conn, TENANT, &kept).unwrap();
        assert_eq!(history.len(), 1, "{backend:?}");
        assert_eq!(history[0].message_id.as_deref(), Some(kept.as_str()));

        // A message is deleted with its files and statuses through the new ids.
        hafen::messages::delete_with_dependants(&mut conn, TENANT, std::slice::from_ref(&deleted))
            .unwrap();
        let files: Vec<String> = attachments::table
            .select(attachments::message_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(files, std::slice::from_ref(&kept), "{backend:?}");
        let statuses: Vec<Option<String>> = message_statuses::table
            .order(message_statuses::id)
            .select(message_statuses::message_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(statuses, [Some(kept.clone()), None], "{backend:?}");
        // New messages go in as bytes; the references still hold.
        hafen::messages::insert_many(&mut conn, &[&message_row(TENANT, CONTACT, 3, false)])
            .unwrap();
        let orphan = diesel::insert_into(outbox::table)
            .values((
                outbox::message_id.eq(hafen::store::id::bind(message_id(9))),
                outbox::tenant_id.eq(hafen::store::id::bind(TENANT)),
                outbox::channel_id.eq("ch"),
                outbox::request_sealed.eq(vec![1u8]),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(0),
            ))
            .execute(&mut conn);
        assert!(
            orphan.is_err(),
            "{backend:?}: an outbox entry without its message"
        );

        revert_through(&mut conn, MIGRATION);
        let text = |id: &String| Some(id.clone());
        assert_eq!(
            column_text(&mut conn, "messages", "id"),
            [text(&kept), text(&message_id(3))],
            "{backend:?}"
        );
        for (table, column) in &NAMING[1..4] {
            let back: Vec<Option<String>> = column_text(&mut conn, table, column)
                .into_iter()
                .flatten()
                .map(Some)
                .collect();
            assert_eq!(back, [text(&kept)], "{backend:?}: {table}.{column}");
        }
        assert_eq!(
            column_text(&mut conn, "consent_ledger", "message_id"),
            [text(&kept), None],
            "{backend:?}"
        );
    }
}

/// Migration 29 stores a contact's id as its 16 bytes, with every column that names it (its
/// key, consents, legal holds, messages, the consent ledger, subject requests and erasure items)
/// in the same migration: a contact stored before it keeps all of these, found through the new
/// ids after it; a contact is deleted with its key through them; the references still hold (a
/// key or a message for no stored contact is refused); reverted, every id is its canonical text
/// again.
#[test]
fn the_contact_ids_become_16_bytes_with_every_column_naming_them_and_back() {
    use hafen::store::schema::{
        consent_ledger, consents, contact_keys, contacts, erasure_items, legal_holds, messages,
        subject_requests,
    };
    const TENANT: &str = "01900000-0000-7000-8000-000000000030";
    const MIGRATION: &str = "20261207000029";
    const NAMING: [(&str, &str); 8] = [
        ("contacts", "id"),
        ("contact_keys", "contact_id"),
        ("consents", "contact_id"),
        ("legal_holds", "contact_id"),
        ("messages", "contact_id"),
        ("consent_ledger", "contact_id"),
        ("erasure_items", "contact_id"),
        ("subject_requests", "contact_id"),
    ];
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        revert_through(&mut conn, MIGRATION);
        // `kept` has a row in every table naming a contact; `gone` only its key.
        let (kept, gone) = (contact_id(1), contact_id(2));
        tenant_and_contact(&mut conn, TENANT, &kept);
        let blob = hex_literal(&conn, 1);
        let message = id_literal(&conn, &message_id(1));
        for sql in [
            format!(
                "INSERT INTO contacts (id, tenant_id, channel, address_index, address_sealed, \
                   first_seen_at, last_message_at) \
                 VALUES ('{gone}', '{TENANT}', 'whatsapp', {blob}, {blob}, 0, 0)"
            ),
            format!(
                "INSERT INTO contact_keys (contact_id, tenant_id, wrapped_key, created_at) \
                 VALUES ('{kept}', '{TENANT}', {blob}, 0), ('{gone}', '{TENANT}', {blob}, 0)"
            ),
            format!(
                "INSERT INTO consent_purposes (id, tenant_id, name, created_at) \
                 VALUES ('p', '{TENANT}', 'news', 0)"
            ),
            format!(
                "INSERT INTO consent_texts (id, tenant_id, purpose_id, version, language, text, \
                   text_hash, created_at) VALUES ('t', '{TENANT}', 'p', 1, 'de', 'x', {blob}, 0)"
            ),
            format!(
                "INSERT INTO consents (id, tenant_id, contact_id, purpose_id, state, text_id, \
                   requested_at, updated_at) \
                 VALUES ('k', '{TENANT}', '{kept}', 'p', 'confirmed', 't', 0, 0)"
            ),
            // A hold on the contact, and one on a time span (no contact).
            format!(
                "INSERT INTO legal_holds (id, tenant_id, contact_id, reason_sealed, created_by, \
                   created_at) \
                 VALUES ('h1', '{TENANT}', '{kept}', {blob}, 'dpo', 0), \
                   ('h2', '{TENANT}', NULL, {blob}, 'dpo', 1)"
            ),
            format!(
                "INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, \
                   occurred_at, received_at, business_letter) \
                 VALUES ({message}, '{TENANT}', '{kept}', 'whatsapp', 'in', 'text', 0, 0, FALSE)"
            ),
            format!(
                "INSERT INTO consent_ledger (seq, tenant_id, consent_id, contact_id, purpose_id, \
                   event, at, source, text_id, text_hash, prev_hash, hash) \
                 VALUES (1, '{TENANT}', 'k', '{kept}', 'p', 'confirmed', 0, 'keyword', 't', \
                   {blob}, {blob}, {blob})"
            ),
            format!(
                "INSERT INTO subject_requests (id, tenant_id, contact_id, kind, received_on, \
                   due_on, status, created_by, created_at) \
                 VALUES ('r', '{TENANT}', '{kept}', 'erasure', '2026-12-01', '2027-01-01', \
                   'open', 'dpo', 0)"
            ),
            format!(
                "INSERT INTO erasure_items (id, tenant_id, request_id, contact_id, category, \
                   rule, requested_at, kept, held, state) \
                 VALUES ('e', '{TENANT}', 'r', '{kept}', 'messages', 'r1', 0, 0, 0, 'open')"
            ),
        ] {
            diesel::sql_query(sql).execute(&mut conn).unwrap();
        }
        assert_ids_stored(&mut conn, &NAMING, Stored::Text);
        hafen::store::run_migrations(&mut conn).unwrap();
        assert_ids_stored(&mut conn, &NAMING, Stored::Bytes);
        // Read through the new type: the same ids in every table.
        let ids: Vec<String> = contacts::table
            .order(contacts::id)
            .select(contacts::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(ids, [kept.clone(), gone.clone()], "{backend:?}");
        let one = |ids: Vec<String>| ids == std::slice::from_ref(&kept);
        let named = (
            consents::table
                .select(consents::contact_id)
                .load(&mut conn)
                .unwrap(),
            messages::table
                .select(messages::contact_id)
                .load(&mut conn)
                .unwrap(),
            consent_ledger::table
                .select(consent_ledger::contact_id)
                .load(&mut conn)
                .unwrap(),
            subject_requests::table
                .select(subject_requests::contact_id)
                .load(&mut conn)
                .unwrap(),
            erasure_items::table
                .select(erasure_items::contact_id)
                .load(&mut conn)
                .unwrap(),
        );
        assert!(
            one(named.0) && one(named.1) && one(named.2) && one(named.3) && one(named.4),
            "{backend:?}"
        );
        let held: Vec<Option<String>> = legal_holds::table
            .order(legal_holds::id)
            .select(legal_holds::contact_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(held, [Some(kept.clone()), None], "{backend:?}");
        let active = hafen::retention::holds::active(&mut conn, TENANT, 10).unwrap();
        assert!(active.holds(Some(&kept), 5), "{backend:?}");
        let keys =
            hafen::contacts::wrapped_keys(&mut conn, vec![kept.clone(), gone.clone()]).unwrap();
        assert_eq!(keys.len(), 2, "{backend:?}");

        // A contact is deleted with its key through the new ids.
        hafen::contacts::delete(&mut conn, TENANT, std::slice::from_ref(&gone)).unwrap();
        let left: Vec<String> = contact_keys::table
            .select(contact_keys::contact_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(left, std::slice::from_ref(&kept), "{backend:?}");
        // The references still hold: a key or a message for no stored contact is refused.
        let orphan_key = diesel::insert_into(contact_keys::table)
            .values((
                contact_keys::contact_id.eq(hafen::store::id::bind(&gone)),
                contact_keys::tenant_id.eq(hafen::store::id::bind(TENANT)),
                contact_keys::wrapped_key.eq(vec![1u8]),
                contact_keys::created_at.eq(0),
            ))
            .execute(&mut conn);
        assert!(
            orphan_key.is_err(),
            "{backend:?}: a key without its contact"
        );
        let orphan_message =
            hafen::messages::insert_many(&mut conn, &[&message_row(TENANT, &gone, 2, false)]);
        assert!(
            orphan_message.is_err(),
            "{backend:?}: a message without its contact"
        );
        hafen::messages::insert_many(&mut conn, &[&message_row(TENANT, &kept, 3, false)]).unwrap();

        revert_through(&mut conn, MIGRATION);
        assert_eq!(
            column_text(&mut conn, "contacts", "id"),
            [Some(kept.clone())],
            "{backend:?}"
        );
        for (table, column) in &NAMING[1..] {
            let back: Vec<String> = column_text(&mut conn, table, column)
                .into_iter()
                .flatten()
                .collect();
            assert!(
                !back.is_empty() && back.iter().all(|id| *id == kept),
                "{backend:?}: {table}.{column}: {back:?}"
            );
        }
        assert_eq!(
            column_text(&mut conn, "legal_holds", "contact_id"),
            [Some(kept.clone()), None],
            "{backend:?}"
        );
    }
}

/// Migration 30 stores a tenant's id as its 16 bytes, with every column that names it: every
/// table but the install's own. A row in each, made before the migration (each referring to
/// the rows of the tables it refers to), holds its tenant as 16 bytes after it, is read back
/// through the new type, and still refers to its parents (a channel of no stored tenant is
/// refused); the web sessions, rebuilt on SQLite with the web users they refer to, are kept;
/// the audit chain, whose hashes cover the tenant's id as text, still verifies; reverted,
/// every id is its canonical text again.
#[test]
fn the_tenant_ids_become_16_bytes_with_every_column_naming_them_and_back() {
    use hafen::store::schema::{channels, tenants};
    const TENANT: &str = "01900000-0000-7000-8000-000000000031";
    const MIGRATION: &str = "20261207000030";
    // Parents first: each table after every table it refers to.
    const TABLES: [&str; 27] = [
        "api_tokens",
        "channels",
        "event_hooks",
        "bots",
        "consent_purposes",
        "broadcasts",
        "consent_settings",
        "consent_texts",
        "contacts",
        "consents",
        "contact_keys",
        "legal_holds",
        "messages",
        "outbox",
        "attachments",
        "message_statuses",
        "subject_requests",
        "erasure_items",
        "event_deliveries",
        "period_keys",
        "register_entries",
        "retention_certificates",
        "retention_previews",
        "retention_rule_sets",
        "ui_users",
        "consent_ledger",
        "audit_log",
    ];
    let naming: Vec<(&str, &str)> = std::iter::once(("tenants", "id"))
        .chain(TABLES.iter().map(|t| (*t, "tenant_id")))
        .collect();
    for backend in [
        crate::support::Backend::Sqlite,
        crate::support::Backend::Postgres,
    ] {
        if backend == crate::support::Backend::Postgres && !postgres_available() {
            return;
        }
        let (mut conn, _db, _dir) = migrated(backend);
        // Entries of the audit chain written by Hafen, naming the tenant.
        let tenant = hafen::tenants::TenantId::parse(TENANT).unwrap();
        let zero = hex_literal(&conn, 0);
        diesel::sql_query(format!(
            "INSERT INTO tenants (id, name, wrapped_key, created_at) VALUES ({}, 'T', {zero}, 0)",
            id_literal(&conn, TENANT)
        ))
        .execute(&mut conn)
        .unwrap();
        for action in ["test.first", "test.second"] {
            let event =
                hafen::audit::AuditEvent::new(&hafen::auth::Actor::System, action).tenant(&tenant);
            hafen::audit::append(&mut conn, chrono::DateTime::UNIX_EPOCH, event).unwrap();
        }
        revert_through(&mut conn, MIGRATION);
        assert_ids_stored(
            &mut conn,
            &[("tenants", "id"), ("audit_log", "tenant_id")],
            Stored::Text,
        );
        let mut ids = BTreeMap::from([("tenants".to_string(), format!("'{TENANT}'"))]);
        // The audit log's rows are the chain's entries above.
        for (n, table) in TABLES
            .iter()
            .enumerate()
            .filter(|(_, t)| **t != "audit_log")
        {
            let id = format!("00000000-0000-7000-c000-{n:012}");
            let literal = a_row_of(&mut conn, table, &id, &ids);
            ids.insert(table.to_string(), literal);
        }
        a_row_of(
            &mut conn,
            "ui_sessions",
            "00000000-0000-7000-c000-000000000100",
            &ids,
        );
        assert_ids_stored(&mut conn, &naming, Stored::Text);

        hafen::store::run_migrations(&mut conn).unwrap();
        assert_ids_stored(&mut conn, &naming, Stored::Bytes);
        for (table, column) in &naming {
            let read = id_text(&mut conn, table, column);
            assert!(
                !read.is_empty() && read.iter().all(|t| t == TENANT),
                "{backend:?}: {table}.{column}: {read:?}"
            );
        }
        let sessions: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
            "(SELECT count(*) FROM ui_sessions)",
        ))
        .get_result(&mut conn)
        .unwrap();
        assert_eq!(sessions, 1, "{backend:?}: the web session kept");
        let report = hafen::audit::verify(&mut conn).unwrap();
        assert!(report.broken.is_none(), "{backend:?}: {report:?}");
        assert!(report.verified >= 2, "{backend:?}: {report:?}");
        // Found through the new type, and the references still hold.
        let found: Vec<String> = tenants::table
            .filter(tenants::id.eq(hafen::store::id::bind(TENANT)))
            .select(tenants::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(found, [TENANT], "{backend:?}");
        let orphan = diesel::insert_into(channels::table)
            .values((
                channels::id.eq("orphan"),
                channels::tenant_id.eq(hafen::store::id::bind(contact_id(7))),
                channels::platform.eq("whatsapp"),
                channels::name.eq("x"),
                channels::enabled.eq(true),
                channels::secrets_sealed.eq(vec![1u8]),
                channels::created_at.eq(0),
                channels::updated_at.eq(0),
                channels::business_letters.eq(false),
            ))
            .execute(&mut conn);
        assert!(orphan.is_err(), "{backend:?}: a channel of no tenant");

        revert_through(&mut conn, MIGRATION);
        assert_ids_stored(&mut conn, &naming, Stored::Text);
        for (table, column) in &naming {
            let back = column_text(&mut conn, table, column);
            assert!(
                !back.is_empty() && back.iter().all(|t| t.as_deref() == Some(TENANT)),
                "{backend:?}: {table}.{column}: {back:?}"
            );
        }
    }
}

/// One row of `table` whose every tenant column names the one tenant and whose every reference
/// names the row made before in the table it refers to (`made`: each table's id as a literal);
/// the other columns a value of their type where they must hold one. Its id is `id` (as the
/// column takes it); the literal of that id is returned.
fn a_row_of(conn: &mut DbConn, table: &str, id: &str, made: &BTreeMap<String, String>) -> String {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Bool)]
        required: bool,
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        refers_to: Option<String>,
    }
    let sql = match conn {
        DbConn::Sqlite(_) => format!(
            "SELECT c.name AS name, lower(c.type) AS kind, \
               (c.\"notnull\" = 1 AND c.dflt_value IS NULL) OR c.pk > 0 AS required, \
               (SELECT f.\"table\" FROM pragma_foreign_key_list('{table}') f WHERE f.\"from\" = c.name) \
                 AS refers_to \
             FROM pragma_table_info('{table}') c ORDER BY c.cid"
        ),
        DbConn::Postgres(_) => format!(
            "SELECT c.column_name::text AS name, c.data_type::text AS kind, \
               (c.is_nullable = 'NO' AND c.column_default IS NULL) AS required, \
               (SELECT r.confrelid::regclass::text FROM pg_constraint r \
                  JOIN pg_attribute a ON a.attrelid = r.conrelid AND a.attnum = ANY (r.conkey) \
                  WHERE r.contype = 'f' AND r.conrelid = '{table}'::regclass \
                    AND a.attname = c.column_name LIMIT 1) AS refers_to \
             FROM information_schema.columns c WHERE c.table_name = '{table}' \
             ORDER BY c.ordinal_position"
        ),
    };
    let columns: Vec<Column> = diesel::sql_query(sql).load(conn).unwrap();
    let mut own = None;
    let (mut names, mut values) = (Vec::new(), Vec::new());
    for column in &columns {
        let value = if column.name == "tenant_id" {
            made["tenants"].clone()
        } else if let Some(parent) = column.refers_to.as_ref().filter(|p| made.contains_key(*p)) {
            made[parent].clone()
        } else if column.name == "id" {
            let literal = match column.kind.as_str() {
                "uuid" => id_literal(conn, id),
                _ => format!("'{id}'"),
            };
            own = Some(literal.clone());
            literal
        } else if !column.required {
            continue;
        } else {
            match column.kind.as_str() {
                "uuid" => id_literal(conn, &contact_id(99)),
                "bytea" | "blob" => hex_literal(conn, 1),
                "boolean" => "FALSE".to_string(),
                "bigint" | "integer" | "smallint" => "0".to_string(),
                _ => "'x'".to_string(),
            }
        };
        names.push(column.name.clone());
        values.push(value);
    }
    diesel::sql_query(format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    ))
    .execute(conn)
    .unwrap_or_else(|e| panic!("{table}: {e}"));
    own.unwrap_or_else(|| made["tenants"].clone())
}

/// The ids in `table`'s `column` as Hafen reads them (its canonical text, through `store::id`).
fn id_text(conn: &mut DbConn, table: &str, column: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = hafen::store::id::Id)]
        value: String,
    }
    diesel::sql_query(format!(
        "SELECT {column} AS value FROM {table} WHERE {column} IS NOT NULL"
    ))
    .load::<Value>(conn)
    .unwrap()
    .into_iter()
    .map(|v| v.value)
    .collect()
}

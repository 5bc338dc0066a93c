//! The few statements that differ between SQLite and PostgreSQL and belong to no table: locks,
//! space, planning. A table's own multi-row statements live with the module that owns the table
//! (`messages::insert_many`, `contacts::touch_last_messages`).

use diesel::connection::SimpleConnection;

use super::{DbConn, StoreError};

/// Arbitrary constants naming Hafen's advisory locks in PostgreSQL.
const MIGRATION_LOCK: i64 = 0x4841_4645_4e01; // "HAFEN" 1
const AUDIT_LOCK: i64 = 0x4841_4645_4e02;
const CONSENT_LOCK: i64 = 0x4841_4645_4e03;
const RETENTION_LOCK: i64 = 0x4841_4645_4e04;
const CERTIFICATE_LOCK: i64 = 0x4841_4645_4e05;

/// Serialises migrations of several instances sharing one PostgreSQL database. SQLite has a
/// single process writing, and its own file lock.
pub fn with_migration_lock<T>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match conn {
        DbConn::Sqlite(_) => work(conn),
        DbConn::Postgres(_) => {
            conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let result = work(conn);
            let unlocked =
                conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            let value = result?;
            unlocked?;
            Ok(value)
        }
    }
}

/// Inside a transaction: makes appends to the audit chain strictly sequential across every
/// instance sharing the database. Released at commit or rollback.
pub fn lock_audit_chain(conn: &mut DbConn) -> Result<(), StoreError> {
    match conn {
        // The single writer already serialises; SQLite holds the write lock for the transaction.
        DbConn::Sqlite(_) => Ok(()),
        // Already held by this connection's transaction (`hold_audit_chain`): one round trip
        // less per writer group.
        DbConn::Postgres(_) if CHAIN_HELD_BY.get() == Some(connection_id(conn)) => Ok(()),
        DbConn::Postgres(_) => {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({AUDIT_LOCK})"))?;
            Ok(())
        }
    }
}

std::thread_local! {
    /// The connection whose running transaction holds the chain lock since its `BEGIN`, if
    /// any (`hold_audit_chain`).
    static CHAIN_HELD_BY: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn connection_id(conn: &DbConn) -> usize {
    std::ptr::from_ref(conn) as usize
}

/// Takes the chain lock for the transaction just begun on `conn` and remembers, on this thread,
/// that it is held, so that the transaction's own append does not ask for it again. The
/// returned guard forgets it: keep it until the transaction has ended (the lock ends with it).
pub fn hold_audit_chain(conn: &mut DbConn) -> Result<ChainHeld, StoreError> {
    lock_audit_chain(conn)?;
    if matches!(conn, DbConn::Postgres(_)) {
        CHAIN_HELD_BY.set(Some(connection_id(conn)));
    }
    Ok(ChainHeld)
}

/// See [`hold_audit_chain`].
pub struct ChainHeld;

impl Drop for ChainHeld {
    fn drop(&mut self) {
        CHAIN_HELD_BY.set(None);
    }
}

/// Inside a transaction: appends to the consent ledger in order across instances.
pub fn lock_consent_ledger(conn: &mut DbConn) -> Result<(), StoreError> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(_) => {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({CONSENT_LOCK})"))?;
            Ok(())
        }
    }
}

/// Session-level: whether this connection got the retention sweep lock (PostgreSQL; released
/// by [`release_retention_lock`] or when the connection closes, e.g. the process dies).
/// SQLite has one process; its caller serialises sweeps in memory.
pub fn try_retention_lock(conn: &mut DbConn) -> Result<bool, StoreError> {
    use diesel::RunQueryDsl;
    match conn {
        DbConn::Sqlite(_) => Ok(true),
        DbConn::Postgres(c) => {
            let got: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "pg_try_advisory_lock({RETENTION_LOCK})"
            )))
            .get_result(c)?;
            Ok(got)
        }
    }
}

pub fn release_retention_lock(conn: &mut DbConn) -> Result<(), StoreError> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(_) => {
            conn.batch_execute(&format!("SELECT pg_advisory_unlock({RETENTION_LOCK})"))?;
            Ok(())
        }
    }
}

/// Inside a transaction: appends to the certificate chain in order across instances.
pub fn lock_certificates(conn: &mut DbConn) -> Result<(), StoreError> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(_) => {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({CERTIFICATE_LOCK})"))?;
            Ok(())
        }
    }
}

/// Vacuums `tables` on PostgreSQL, so the space of the rows a retention run deleted is reused
/// at once rather than when autovacuum's thresholds are next met (minutes after a large run,
/// while ingest meanwhile grows the tables). Outside a transaction (VACUUM refuses one); it
/// takes no lock that holds up reads or writes. SQLite: nothing (see [`reclaim_space`]).
pub fn vacuum(conn: &mut DbConn, tables: &[&str]) -> Result<(), StoreError> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Postgres(c) => Ok(c.batch_execute(&format!("VACUUM {}", tables.join(", ")))?),
    }
}

/// Refreshes PostgreSQL's statistics of those of `tables` that autovacuum would soon analyze
/// (never analyzed, or more rows changed since than autovacuum's analyze threshold, read from
/// the server's settings: 50 + 10 % of the rows by default; per-table settings are not read),
/// so that the statements of a retention run are planned on what the tables hold now. Without
/// statistics — a young or freshly imported database, or right after a bulk load — PostgreSQL
/// took each batch's due rows from the tenant's time index and sorted all of them to find the
/// next ones by id (`EXPLAIN ANALYZE` among 200 000: 289 ms a batch, growing with the table;
/// with statistics the primary key gives them in order: 6.6 ms). `ANALYZE` reads a sample of
/// a fixed size whatever the table's and holds up no reads or writes; `SKIP_LOCKED` passes over
/// a table a vacuum is working on (Hafen's own after a run, or autovacuum's) instead of waiting
/// for it. Returns the tables analyzed. SQLite: nothing (Hafen's statements there name their
/// indexes where the choice matters; it keeps no statistics).
pub fn analyze_stale(conn: &mut DbConn, tables: &[&str]) -> Result<Vec<String>, StoreError> {
    use diesel::RunQueryDsl;
    match conn {
        DbConn::Sqlite(_) => Ok(Vec::new()),
        DbConn::Postgres(c) => {
            #[derive(diesel::QueryableByName)]
            struct Stale {
                #[diesel(sql_type = diesel::sql_types::Text)]
                relname: String,
                #[diesel(sql_type = diesel::sql_types::Text)]
                qualified: String,
            }
            let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
            let stale: Vec<Stale> = diesel::sql_query(
                "SELECT s.relname::text AS relname, \
                        format('%I.%I', s.schemaname, s.relname) AS qualified \
                 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
                 WHERE s.schemaname = current_schema() AND s.relname = ANY($1) \
                 AND (coalesce(s.last_analyze, s.last_autoanalyze) IS NULL \
                      OR s.n_mod_since_analyze > \
                         current_setting('autovacuum_analyze_threshold')::float8 \
                         + current_setting('autovacuum_analyze_scale_factor')::float8 \
                           * greatest(c.reltuples, 0)) \
                 ORDER BY s.relname",
            )
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&tables)
            .load(c)?;
            if stale.is_empty() {
                return Ok(Vec::new());
            }
            let qualified: Vec<&str> = stale.iter().map(|s| s.qualified.as_str()).collect();
            c.batch_execute(&format!("ANALYZE (SKIP_LOCKED) {}", qualified.join(", ")))?;
            Ok(stale.into_iter().map(|s| s.relname).collect())
        }
    }
}

/// Gives freed pages back to the file system, a few at a time so writers are not held up
/// (SQLite with auto_vacuum=INCREMENTAL; PostgreSQL: [`vacuum`]).
/// Returns the pages still free.
pub fn reclaim_space(conn: &mut DbConn, pages: u32) -> Result<i64, StoreError> {
    use diesel::RunQueryDsl;
    match conn {
        DbConn::Postgres(_) => Ok(0),
        DbConn::Sqlite(c) => {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let mode: Count = diesel::sql_query("SELECT auto_vacuum AS n FROM pragma_auto_vacuum")
                .get_result(c)?;
            if mode.n != 2 {
                return Ok(0);
            }
            c.batch_execute(&format!("PRAGMA incremental_vacuum({pages})"))?;
            let free: Count =
                diesel::sql_query("SELECT freelist_count AS n FROM pragma_freelist_count")
                    .get_result(c)?;
            Ok(free.n)
        }
    }
}

/// Page cache of SQLite's one writing connection, in KiB (SQLite's default is 2 MiB per
/// connection). Every insert and every retention delete walks the messages table's indexes;
/// once the file outgrows the cache each of those is a read from the OS. The readers keep the
/// default: they are many, and what they read is mostly in the OS page cache anyway.
pub const SQLITE_WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Gives the writing connection its larger page cache (PostgreSQL sizes its shared buffers
/// itself).
pub fn widen_writer_cache(conn: &mut DbConn) -> Result<(), StoreError> {
    match conn {
        DbConn::Sqlite(_) => {
            Ok(conn.batch_execute(&format!("PRAGMA cache_size = -{SQLITE_WRITER_CACHE_KIB}"))?)
        }
        DbConn::Postgres(_) => Ok(()),
    }
}

/// A condition that changes nothing but keeps diesel from caching the statement. Lookups by
/// blind index (one, or a list as `= ANY($n)`) need it on PostgreSQL: a cached statement gets a
/// generic plan, and the one PostgreSQL made while the table was nearly empty stayed with the
/// long-lived writer connection and scanned the tenant's rows — 30 ms per batch at 30 000
/// messages, 3.4 ms per webhook delivery at 20 000, growing with the table (found by the
/// benchmarks). Planned with the actual values, each lookup probes the unique index. SQLite
/// parses such a statement anew each time (microseconds); `IN (?, …)` lists never were cached.
pub fn plan_with_actual_values() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("TRUE")
}

/// A hand-written PostgreSQL statement that diesel keeps prepared on its connection, found by
/// its text. `diesel::sql_query` never is (diesel cannot know the text is fixed), and neither is
/// a multi-row `VALUES` list (its text grows with the rows); on the writer's connections such
/// statements were parsed and planned again for every group — a fifth of the time PostgreSQL
/// spent per webhook group (docs/benchmarks.md). Only for statements whose text is fixed and
/// whose plan cannot go wrong when PostgreSQL switches to a generic plan after five runs: one
/// probe of a unique index per element of an array (`LATERAL … LIMIT`, `= ANY` on a primary
/// key) or an `INSERT … SELECT FROM unnest(…)`. Checked with `force_generic_plan` on an
/// empty table and on a full one.
pub fn kept_prepared<Q>(query: Q) -> KeptPrepared<Q> {
    KeptPrepared(query)
}

/// One field of every row, as the array bound for that column of an `INSERT … SELECT * FROM
/// unnest(…)` (one array per column: a statement of fixed text for any number of rows).
pub fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

/// Up to how many ids a kept `UPDATE` of rows named by id takes each row's new values by
/// `array_position` (`WHERE id = ANY($1)`: a probe of the primary key under any plan, which a
/// join with `unnest(…)` is not); beyond, that costs ids × ids comparisons (58 ms against 10 ms
/// for 2 000 ids), and the statement joins instead.
pub const PROBED_BY_POSITION: usize = 64;

/// See [`kept_prepared`].
pub struct KeptPrepared<Q>(Q);

impl<Q> KeptPrepared<Q>
where
    Q: diesel::query_builder::Query<SqlType = diesel::sql_types::Untyped>
        + diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    /// Runs a statement that answers no rows (an INSERT, an UPDATE). Not `execute`: diesel
    /// hands it on by reference there, and the reference asks `Q`, not this wrapper, whether
    /// it may be cached — so it never would be. `load` hands it on whole.
    pub fn run(self, conn: &mut diesel::PgConnection) -> diesel::QueryResult<()> {
        use diesel::connection::{DefaultLoadingMode, LoadConnection};
        let rows = LoadConnection::<DefaultLoadingMode>::load(conn, self)?;
        for row in rows {
            row?;
        }
        Ok(())
    }
}

impl<Q> diesel::query_builder::QueryFragment<diesel::pg::Pg> for KeptPrepared<Q>
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    // The one difference to `Q`: its text is fixed, so it may be cached by that text.
    fn is_safe_to_cache_prepared(&self, _backend: &diesel::pg::Pg) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for KeptPrepared<Q> {
    // No type of its own: diesel then keys its cache by the statement's text and bind types.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for KeptPrepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for KeptPrepared<Q> {}

/// `column` as a value rows found otherwise are checked against, never the key to find them by:
/// `only_checked_id(messages::tenant_id)` (the id columns' form, below) beside
/// `messages::id.eq_any(ids)`. Without statistics SQLite estimates `tenant_id = ?` on an index leading with the tenant as more
/// selective than a list of ids on the primary key, and reads every row of the tenant instead
/// of probing each id — for every retention batch (a sweep of 1 000 000 read the tenant's
/// messages a hundred times; docs/benchmarks.md). A column inside an expression matches no
/// index on either backend; PostgreSQL, with statistics, probes the primary key either way.
pub fn only_checked<C>(column: C) -> diesel::dsl::Concat<C, &'static str>
where
    C: diesel::TextExpressionMethods,
    C::SqlType: diesel::sql_types::SqlType,
    &'static str: diesel::expression::AsExpression<C::SqlType>,
{
    column.concat("")
}

diesel::define_sql_function! {
    /// `coalesce(id, id)`: the id itself, in an expression no index matches ([`only_checked_id`]).
    #[sql_name = "coalesce"]
    fn same_id(first: crate::store::id::Id, second: crate::store::id::Id) -> crate::store::id::Id;
}

/// [`only_checked`] for an id column stored as 16 bytes (`store::id`), which has no text to
/// concatenate: `coalesce(column, column)`, as opaque to either planner.
pub fn only_checked_id<C>(column: C) -> same_id<C, C>
where
    C: diesel::Expression<SqlType = crate::store::id::Id> + Copy,
{
    same_id(column, column)
}

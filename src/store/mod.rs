//! Storage: both backends behind one connection type, migrations, the group-commit writer and
//! the pool for reads. Queries live with their domain (`tenants`, `messages`, …); the few
//! backend-specific statements are collected in [`backend`].

pub mod backend;
pub mod checkpoint;
pub mod conn;
pub mod id;
#[cfg(test)]
pub mod plans;
pub mod schema;
pub mod writer;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use checkpoint::CheckpointStats;
pub use conn::{DatabaseUrl, DbConn, DbPool, SqliteSync};
pub use writer::{wait_for_writers, Finisher, GroupStats, Mergeable, Writer};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("the transaction could not be committed: {0}")]
    Commit(String),
    /// A concurrent writer created the same contact first; prepare the write again.
    #[error("a concurrent write created the same object; retry")]
    Retry,
    #[error("the write was not committed: the database writer is not running")]
    WriterGone,
    /// Concurrent transactions (another instance, a retention batch) kept meeting this write
    /// in a deadlock or serialization failure; it was rolled back every time.
    #[error("the write met concurrent transactions {attempts} times and was not stored")]
    Contended { attempts: u32 },
    #[error("encryption: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// A domain rule refused the write inside its transaction; nothing of it was kept. It
    /// carries the domain's error (`crate::error::Error`, which converts both ways) to the
    /// caller unchanged; the store, below the domain, knows it only as an error.
    #[error("{0}")]
    Rejected(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// True when the file system holding the data (SQLite's directory, a PostgreSQL
    /// tablespace) is full. The database refused the statement and rolled it back; writes
    /// work again once there is space. Neither backend gives a portable code through diesel,
    /// so this reads their fixed messages: SQLite's SQLITE_FULL text and the OS's ENOSPC text
    /// PostgreSQL passes on ("could not extend file …: No space left on device").
    pub fn is_disk_full(&self) -> bool {
        let text = self.to_string();
        ["database or disk is full", "No space left on device"]
            .iter()
            .any(|m| text.contains(m))
    }

    /// True for a conflict with a concurrent transaction that the database resolved by
    /// rolling this one back: a deadlock or a serialization failure. Running the same write
    /// again, once the other transaction has finished, succeeds. diesel names serialization
    /// failures (SQLSTATE 40001) but not deadlocks (40P01), whose message PostgreSQL words
    /// "deadlock detected" in English and keeps the word in translations such as German's
    /// "Verklemmung (Deadlock) entdeckt".
    pub fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error as Diesel};
        match self {
            Self::Query(Diesel::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            Self::Query(Diesel::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                info.message().to_ascii_lowercase().contains("deadlock")
            }
            _ => false,
        }
    }

    /// What the caller hears once `attempts` runs all failed: a transient conflict becomes
    /// [`StoreError::Contended`]; any other error stays what it is.
    pub fn contended_after(self, attempts: u32) -> Self {
        if self.is_transient() {
            Self::Contended { attempts }
        } else {
            self
        }
    }

    /// True when a uniqueness constraint refused the write (a concurrent insert won the race).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// Runs every pending migration of the connection's backend; returns the versions applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    run_migrations_reporting(conn, |_| {})
}

/// Where an upgrade is: how many migrations it will run (said once, when there are any), a
/// migration about to run (its name), or one that ran and how long it took.
#[derive(Debug, Clone, Copy)]
pub enum MigrationStep<'a> {
    Planned(usize),
    Starting(&'a str),
    Done(&'a str, std::time::Duration),
}

/// Runs the pending migrations one after the other, each in its own transaction (an upgrade
/// interrupted between two resumes at the next), telling `report` before and after each: a
/// migration that rewrites a large table takes minutes (docs/operations.md "Upgrades"), and the
/// admin watching `hafen migrate` or the journal should see which one runs. Returns the versions
/// applied.
pub fn run_migrations_reporting(
    conn: &mut DbConn,
    mut report: impl FnMut(MigrationStep<'_>),
) -> Result<Vec<String>, StoreError> {
    backend::with_migration_lock(conn, |conn| match conn {
        DbConn::Sqlite(c) => run_each(c, SQLITE_MIGRATIONS, &mut report),
        DbConn::Postgres(c) => run_each(c, POSTGRES_MIGRATIONS, &mut report),
    })
}

fn run_each<DB, C>(
    conn: &mut C,
    source: EmbeddedMigrations,
    report: &mut dyn FnMut(MigrationStep<'_>),
) -> Result<Vec<String>, StoreError>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    let pending = conn.pending_migrations(source).map_err(failed)?;
    if !pending.is_empty() {
        report(MigrationStep::Planned(pending.len()));
    }
    let mut applied = Vec::new();
    for migration in pending {
        let name = migration.name().to_string();
        report(MigrationStep::Starting(&name));
        let started = std::time::Instant::now();
        let version = conn.run_migration(&*migration).map_err(failed)?;
        report(MigrationStep::Done(&name, started.elapsed()));
        applied.push(version.to_string());
    }
    Ok(applied)
}

/// Reverts every migration (tests check that each `down.sql` works).
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    let reverted = match conn {
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
        DbConn::Postgres(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(reverted.into_iter().map(|v| v.to_string()).collect())
}

/// How the database's schema compares with this binary's migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaState {
    /// Migrations this binary has that the database has not: run `hafen migrate`.
    pub pending: usize,
    /// Migrations the database has that this binary does not know: a newer Hafen migrated
    /// it (several instances mid-upgrade), and this one must not write to it.
    pub newer: usize,
}

impl SchemaState {
    pub fn is_current(&self) -> bool {
        self.pending == 0 && self.newer == 0
    }
}

/// The schema against this binary's migrations (`doctor`, readiness).
pub fn schema_state(conn: &mut DbConn) -> Result<SchemaState, StoreError> {
    use diesel::migration::MigrationSource;
    let migration_error =
        |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    let (applied, known): (Vec<String>, Vec<String>) = match conn {
        DbConn::Sqlite(c) => (
            c.applied_migrations()
                .map_err(migration_error)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map_err(migration_error)?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect(),
        ),
        DbConn::Postgres(c) => (
            c.applied_migrations()
                .map_err(migration_error)?
                .iter()
                .map(|v| v.to_string())
                .collect(),
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map_err(migration_error)?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect(),
        ),
    };
    Ok(SchemaState {
        pending: known.iter().filter(|v| !applied.contains(v)).count(),
        newer: applied.iter().filter(|v| !known.contains(v)).count(),
    })
}

#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub sqlite_sync: SqliteSync,
    pub pool_size: u32,
    pub max_group: usize,
    /// Writer connections on PostgreSQL (SQLite has one writer).
    pub writers: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sqlite_sync: SqliteSync::Full,
            pool_size: 8,
            max_group: 256,
            writers: 1,
        }
    }
}

/// The database as the rest of Hafen sees it: reads from a pool, writes through the writer.
#[derive(Clone)]
pub struct Store {
    url: DatabaseUrl,
    pool: DbPool,
    writer: Writer,
    finisher: Arc<dyn Finisher>,
    stats: Arc<Mutex<GroupStats>>,
    writer_threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// SQLite: the thread that copies the WAL back, so that the writer need not.
    checkpointer: Option<checkpoint::Checkpointer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url.redacted())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects, migrates on the plain connection, then builds the pool and the writers.
    /// `finisher` runs at the end of every write transaction (the audit chain's appends).
    pub fn open(
        url: &DatabaseUrl,
        options: StoreOptions,
        finisher: Arc<dyn Finisher>,
    ) -> Result<Self, StoreError> {
        let mut conn = url.connect(options.sqlite_sync)?;
        // One line when the upgrade starts, one for each migration that took a while (a fresh
        // database runs them all in a blink); each step in the debug log.
        let applied = run_migrations_reporting(&mut conn, |step| match step {
            MigrationStep::Planned(n) => tracing::info!(migrations = n, "migrating the database"),
            MigrationStep::Starting(name) => tracing::debug!(migration = name, "migrating"),
            MigrationStep::Done(name, took) if took.as_secs() >= 1 => {
                tracing::info!(migration = name, secs = took.as_secs_f64(), "migrated")
            }
            MigrationStep::Done(name, took) => {
                tracing::debug!(migration = name, secs = took.as_secs_f64(), "migrated")
            }
        })?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "database migrated");
        }
        let pool = conn::build_pool(url, options.sqlite_sync, options.pool_size)?;
        let writers = match url {
            DatabaseUrl::Sqlite(_) => 1,
            DatabaseUrl::Postgres(_) => options.writers.max(1),
        };
        let mut conns = vec![conn];
        while conns.len() < writers as usize {
            conns.push(url.connect(options.sqlite_sync)?);
        }
        for conn in &mut conns {
            backend::widen_writer_cache(conn)?;
        }
        let checkpointer = match (url, conns.first_mut()) {
            (DatabaseUrl::Sqlite(_), Some(writer)) => Some(checkpoint::Checkpointer::start(
                writer,
                url.connect(options.sqlite_sync)?,
                checkpoint::INTERVAL,
            )?),
            _ => None,
        };
        let stats = Arc::new(Mutex::new(GroupStats::default()));
        let (writer, threads) =
            Writer::start(conns, options.max_group, stats.clone(), finisher.clone())?;
        Ok(Self {
            url: url.clone(),
            pool,
            writer,
            finisher,
            stats,
            writer_threads: Arc::new(Mutex::new(threads)),
            checkpointer,
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs a read on a pooled connection off the async executor.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| StoreError::Pool(e.to_string()))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Pool(format!("read task failed: {e}")))?
    }

    /// A pooled connection held by the caller, for session state that must outlive one read
    /// (PostgreSQL advisory locks). Blocks: call from a blocking thread.
    pub fn dedicated_blocking(&self) -> Result<conn::PooledConn, StoreError> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// Runs a write in the next group commit; see [`writer`]. `work` runs again in a later
    /// group if it met a deadlock, so it must be repeatable.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Runs a write in the next group commit, merged with the writes of its kind and key that
    /// wait in the same group (see [`Mergeable`]); alone when merging fails.
    pub async fn write_mergeable<M: Mergeable>(&self, write: M) -> Result<M::Output, StoreError> {
        self.writer.write_mergeable(write).await
    }

    /// A long write that should not hold up the group-commit writer (retention batches). On
    /// PostgreSQL it runs in its own transaction on a pooled connection, beside the writer (row
    /// locks keep them apart; a deadlock with a writer group rolls this one back, and it runs
    /// again, as the writer's own jobs do); SQLite has one writer, so there it queues like any
    /// write, and runs first in its group, without a savepoint ([`Writer::write_long`]).
    pub async fn write_apart<T, F>(&self, mut work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        match self.url {
            DatabaseUrl::Sqlite(_) => self.writer.write_long(work).await,
            DatabaseUrl::Postgres(_) => {
                let (pool, finisher) = (self.pool.clone(), self.finisher.clone());
                tokio::task::spawn_blocking(move || {
                    let mut conn = pool.get().map_err(|e| StoreError::Pool(e.to_string()))?;
                    let mut attempt = 1;
                    loop {
                        let outcome: Result<T, StoreError> =
                            diesel::Connection::transaction(&mut *conn, |c| {
                            let _finishing = writer::Finishing::begin(finisher.as_ref());
                            let value = work(c)?;
                            finisher.finish(c)?;
                            Ok(value)
                        });
                        match outcome {
                            Err(e) if e.is_transient() && attempt < writer::ATTEMPTS => {
                                tracing::debug!(attempt, "a write beside the writer met a concurrent transaction; running it again");
                                std::thread::sleep(writer::jitter(attempt));
                                attempt += 1;
                            }
                            outcome => return outcome.map_err(|e| e.contended_after(attempt)),
                        }
                    }
                })
                .await
                .map_err(|e| StoreError::Pool(format!("write task failed: {e}")))?
            }
        }
    }

    /// Writes queued behind the one being committed.
    pub fn queued_writes(&self) -> usize {
        self.writer.queued()
    }

    pub fn group_stats(&self) -> GroupStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the WAL checkpoint thread did (SQLite; PostgreSQL has none).
    pub fn checkpoint_stats(&self) -> Option<CheckpointStats> {
        self.checkpointer.as_ref().map(|c| c.stats())
    }

    /// Stops accepting writes and waits until every queued write is committed.
    /// Only the last clone's call has an effect.
    pub fn close(self) {
        let threads = self.writer_threads.clone();
        drop(self);
        // Other clones still hold the writers open: the last one to close waits for them.
        if Arc::strong_count(&threads) == 1 {
            let handles = std::mem::take(&mut *threads.lock().unwrap_or_else(|e| e.into_inner()));
            for handle in handles {
                let _ = handle.join();
            }
        }
    }
}

/// When the newest backup finished, if any (`backup` writes the row when one completes; the
/// dashboard, the metrics and the TOM annex read it).
pub fn last_backup(conn: &mut DbConn) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    use diesel::prelude::*;
    use schema::backups;
    let at: Option<i64> = backups::table
        .select(diesel::dsl::max(backups::finished_at))
        .first(conn)?;
    Ok(at.map(crate::clock::from_micros))
}

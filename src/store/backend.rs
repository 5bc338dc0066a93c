//! The few statements that differ between SQLite and PostgreSQL, kept together.

use diesel::connection::SimpleConnection;

use super::{DbConn, StoreError};

/// Arbitrary constants naming Hafen's advisory locks in PostgreSQL.
const MIGRATION_LOCK: i64 = 0x4841_4645_4e01; // "HAFEN" 1
const AUDIT_LOCK: i64 = 0x4841_4645_4e02;
const CONSENT_LOCK: i64 = 0x4841_4645_4e03;

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
        DbConn::Postgres(_) => {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({AUDIT_LOCK})"))?;
            Ok(())
        }
    }
}

/// Inserts many messages. PostgreSQL takes one multi-row statement (a round trip per row would
/// dominate); SQLite runs in-process, so a cached prepared statement per row costs about the same.
pub fn insert_messages(
    conn: &mut DbConn,
    rows: &[crate::messages::MessageRow],
) -> Result<(), StoreError> {
    use crate::store::schema::messages;
    use diesel::RunQueryDsl;
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConn::Postgres(c) => {
            diesel::insert_into(messages::table)
                .values(rows)
                .execute(c)?;
        }
        DbConn::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(messages::table)
                    .values(row)
                    .execute(c)?;
            }
        }
    }
    Ok(())
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

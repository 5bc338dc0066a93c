//! Master key rotation: every wrapped data key (tenants, contacts, periods, register entries, the web interface's install key)
//! is unwrapped with the old master key and wrapped again to the new one and the recovery
//! recipients. It runs while the server serves (docs/operations.md has the steps):
//!
//! 1. `hafen key generate --out new.key`; make it the master key and list the old one in
//!    `previous_master_key_files`; restart (new keys are wrapped to the new master, old ones
//!    still open);
//! 2. `hafen key rotate`: re-wraps, in batches, every key that is not wrapped to exactly the
//!    current recipients. Each row is swapped only if it did not change meanwhile, so a key
//!    retention destroys during the run stays destroyed. Interrupted, it simply runs again;
//! 3. when it reports nothing left, drop `previous_master_key_files` and the old key.

use diesel::prelude::*;
use diesel::sql_types::{Binary, Text};

use crate::crypto::MasterKey;
use crate::store::id::{self, Id};
use crate::store::DbConn;

/// A table that holds wrapped keys: its key column, and its id column, which holds text or (a
/// contact's id since migration 29, a tenant's since 30) a UUID's 16 bytes (`store::id`).
#[derive(Debug, Clone, Copy)]
struct Wrapped {
    table: &'static str,
    column: &'static str,
    id: &'static str,
    id_bytes: bool,
}

const WRAPPED: [Wrapped; 5] = [
    Wrapped::bytes("tenants", "id"),
    Wrapped::bytes("contact_keys", "contact_id"),
    Wrapped::text("period_keys", "id"),
    Wrapped::text("register_entries", "id"),
    Wrapped::text("ui_keys", "id"),
];

impl Wrapped {
    const fn text(table: &'static str, id: &'static str) -> Self {
        Wrapped {
            table,
            column: "wrapped_key",
            id,
            id_bytes: false,
        }
    }

    const fn bytes(table: &'static str, id: &'static str) -> Self {
        Wrapped {
            id_bytes: true,
            ..Wrapped::text(table, id)
        }
    }

    /// Below every id of the table: the first page starts after it. (No UUID Hafen makes is
    /// the nil UUID.)
    fn before_all(&self) -> String {
        match self.id_bytes {
            true => uuid::Uuid::nil().hyphenated().to_string(),
            false => String::new(),
        }
    }
}

const BATCH: i64 = 500;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Binary)]
    wrapped: Vec<u8>,
}

/// A [`Row`] of a table whose id is stored as 16 bytes.
#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Id)]
    id: String,
    #[diesel(sql_type = Binary)]
    wrapped: Vec<u8>,
}

/// What a rotation pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// Keys looked at.
    pub seen: u64,
    /// Keys wrapped again to the current recipients.
    pub rewrapped: u64,
    /// Keys that changed meanwhile (destroyed or rewrapped by someone else): left alone.
    pub skipped: u64,
}

fn page(conn: &mut DbConn, spec: Wrapped, after: &str) -> anyhow::Result<Vec<Row>> {
    let Wrapped {
        table, column, id, ..
    } = spec;
    let placeholder = match conn {
        DbConn::Postgres(_) => "$1",
        DbConn::Sqlite(_) => "?",
    };
    let query = diesel::sql_query(format!(
        "SELECT {id} AS id, {column} AS wrapped FROM {table} \
         WHERE {id} > {placeholder} AND {column} IS NOT NULL ORDER BY {id} LIMIT {BATCH}"
    ));
    Ok(match spec.id_bytes {
        false => query.bind::<Text, _>(after).load(conn)?,
        true => query
            .bind::<Id, _>(id::bind(after))
            .load::<IdRow>(conn)?
            .into_iter()
            .map(|r| Row {
                id: r.id,
                wrapped: r.wrapped,
            })
            .collect(),
    })
}

fn swap(
    conn: &mut DbConn,
    spec: Wrapped,
    row: &str,
    old: &[u8],
    new: &[u8],
) -> anyhow::Result<bool> {
    let Wrapped {
        table, column, id, ..
    } = spec;
    let (a, b, c) = match conn {
        DbConn::Postgres(_) => ("$1", "$2", "$3"),
        DbConn::Sqlite(_) => ("?", "?", "?"),
    };
    let query = diesel::sql_query(format!(
        "UPDATE {table} SET {column} = {a} WHERE {id} = {b} AND {column} = {c}"
    ))
    .bind::<Binary, _>(new);
    let n = match spec.id_bytes {
        false => query
            .bind::<Text, _>(row)
            .bind::<Binary, _>(old)
            .execute(conn)?,
        true => query
            .bind::<Id, _>(id::bind(row))
            .bind::<Binary, _>(old)
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// Re-wraps every key not wrapped to exactly `master`'s current recipients. `progress` hears
/// (table, keys seen so far) after each batch.
pub fn rotate(
    conn: &mut DbConn,
    master: &MasterKey,
    progress: &dyn Fn(&str, u64),
) -> anyhow::Result<RotationReport> {
    let mut report = RotationReport::default();
    for spec in WRAPPED {
        let table = spec.table;
        let mut after = spec.before_all();
        loop {
            let rows = page(conn, spec, &after)?;
            let Some(last) = rows.last().map(|r| r.id.clone()) else {
                break;
            };
            // The age work happens before the transaction, so the write lock is held only for
            // the swaps and the server's writes wait milliseconds, not the whole batch.
            let mut swaps = Vec::with_capacity(rows.len());
            for row in &rows {
                report.seen += 1;
                if row.wrapped.is_empty() || master.is_current(&row.wrapped) {
                    continue;
                }
                let secret = master.unwrap(&row.wrapped).map_err(|e| {
                    anyhow::anyhow!(
                        "{table} {}: no configured key opens it ({e}); is the old key in previous_master_key_files?",
                        row.id
                    )
                })?;
                swaps.push((row, master.wrap(&secret)?));
            }
            conn.transaction::<_, anyhow::Error, _>(|conn| {
                for (row, rewrapped) in &swaps {
                    if swap(conn, spec, &row.id, &row.wrapped, rewrapped)? {
                        report.rewrapped += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
                Ok(())
            })?;
            progress(table, report.seen);
            after = last;
        }
    }
    Ok(report)
}

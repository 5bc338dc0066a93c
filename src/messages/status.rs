//! Delivery statuses (sent, delivered, read, failed) of outbound messages. Every status is kept
//! as history; the message carries the latest. A status may arrive before its message is known
//! (the platform answers the send call after the webhook fired): it is kept unmatched and
//! attached when a message with that platform id appears.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::clock::from_micros;
use crate::crypto::FieldBinding;
use crate::messages::inbound::{DeliveryStatus, PlatformError};
use crate::store::schema::{message_statuses, messages};
use crate::store::{DbConn, StoreError};

pub const TABLE: &str = "message_statuses";

pub fn binding<'a>(tenant: &'a str, id: &'a str, column: &'static str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: TABLE,
        column,
        row: id,
    }
}

/// A status to store, validated.
#[derive(Debug, Clone)]
pub struct NewStatus {
    pub channel: crate::address::ChannelName,
    pub external_id: crate::sensitive::Sensitive<String>,
    pub status: DeliveryStatus,
    pub occurred_at: DateTime<Utc>,
    pub errors: Vec<PlatformError>,
    pub raw: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = message_statuses)]
pub struct StatusRow {
    pub id: String,
    pub tenant_id: String,
    pub channel: String,
    pub external_index: Vec<u8>,
    pub message_id: Option<String>,
    pub status: String,
    pub occurred_at: i64,
    pub received_at: i64,
    pub errors_sealed: Option<Vec<u8>>,
    pub raw_sealed: Option<Vec<u8>>,
    pub period_key_id: Option<String>,
}

/// Later time wins; within the same second the further state (sent < delivered < read < failed).
fn rank(status: &str) -> u8 {
    match DeliveryStatus::parse(status) {
        Some(DeliveryStatus::Queued) | None => 0,
        Some(DeliveryStatus::Sent) => 1,
        Some(DeliveryStatus::Delivered) => 2,
        Some(DeliveryStatus::Read) => 3,
        Some(DeliveryStatus::Failed) => 4,
    }
}

/// Moves the message's current status forward if `status` at `at` is newer.
pub fn bump(conn: &mut DbConn, message_id: &str, status: &str, at: i64) -> Result<(), StoreError> {
    bump_all(conn, &[(message_id, status, at)])
}

/// Moves each message's current status forward to the newest of its statuses here, where that
/// is newer than what it has: one read of the messages' current statuses and one update per
/// message that moves (a single statement on PostgreSQL), for a whole group of receipts.
pub fn bump_all(conn: &mut DbConn, statuses: &[(&str, &str, i64)]) -> Result<(), StoreError> {
    let mut newest: HashMap<&str, (&str, i64)> = HashMap::with_capacity(statuses.len());
    for &(message_id, status, at) in statuses {
        let best = newest.entry(message_id).or_insert((status, at));
        if (at, rank(status)) > (best.1, rank(best.0)) {
            *best = (status, at);
        }
    }
    if newest.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = newest.keys().copied().collect();
    let current: Vec<(String, Option<String>, Option<i64>)> = match ids.as_slice() {
        [one] => messages::table
            .filter(messages::id.eq(one))
            .select((
                messages::id,
                messages::delivery_status,
                messages::delivery_status_at,
            ))
            .load(conn)?,
        _ => messages::table
            .filter(messages::id.eq_any(&ids))
            .select((
                messages::id,
                messages::delivery_status,
                messages::delivery_status_at,
            ))
            .load(conn)?,
    };
    let moves: Vec<(String, &str, i64)> = current
        .into_iter()
        .filter_map(|(id, current_status, current_at)| {
            let &(status, at) = newest.get(id.as_str())?;
            let newer = match (current_status.as_deref(), current_at) {
                (Some(s), Some(t)) => (at, rank(status)) > (t, rank(s)),
                _ => true,
            };
            newer.then_some((id, status, at))
        })
        .collect();
    match conn {
        DbConn::Postgres(c) if moves.len() > 1 => {
            use diesel::sql_types::{Array, BigInt, Text};
            let ids: Vec<&str> = moves.iter().map(|m| m.0.as_str()).collect();
            let statuses: Vec<&str> = moves.iter().map(|m| m.1).collect();
            let ats: Vec<i64> = moves.iter().map(|m| m.2).collect();
            // Kept prepared. A group's few messages each found by their primary key whatever
            // the plan (`array_position`; a join with `unnest` may get a generic hash join that
            // reads every message); a large group joins, linear in its ids
            // (`PROBED_BY_POSITION`).
            let sql = if ids.len() <= crate::store::backend::PROBED_BY_POSITION {
                "UPDATE messages m SET delivery_status = $2[array_position($1, m.id)], \
                   delivery_status_at = $3[array_position($1, m.id)] \
                 WHERE m.id = ANY($1)"
            } else {
                "UPDATE messages m SET delivery_status = v.status, delivery_status_at = v.at \
                 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(id, status, at) \
                 WHERE m.id = ANY($1) AND m.id = v.id"
            };
            crate::store::backend::kept_prepared(
                diesel::sql_query(sql)
                    .bind::<Array<Text>, _>(ids)
                    .bind::<Array<Text>, _>(statuses)
                    .bind::<Array<BigInt>, _>(ats),
            )
            .run(c)?;
        }
        _ => {
            for (id, status, at) in &moves {
                diesel::update(messages::table.filter(messages::id.eq(id)))
                    .set((
                        messages::delivery_status.eq(*status),
                        messages::delivery_status_at.eq(*at),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Stores statuses, matching each to a stored message by platform id.
pub fn store(
    conn: &mut DbConn,
    tenant: &str,
    mut rows: Vec<StatusRow>,
) -> Result<Vec<StatusRow>, StoreError> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let indexes: Vec<Vec<u8>> = rows.iter().map(|r| r.external_index.clone()).collect();
    let known: HashMap<Vec<u8>, String> = super::find_by_external_indexes(conn, tenant, indexes)?
        .into_iter()
        .filter_map(|(index, id, _)| index.map(|i| (i, id)))
        .collect();
    for row in &mut rows {
        row.message_id = known.get(&row.external_index).cloned();
    }
    insert_many(conn, &rows)?;
    let moved: Vec<(&str, &str, i64)> = rows
        .iter()
        .filter_map(|r| Some((r.message_id.as_deref()?, r.status.as_str(), r.occurred_at)))
        .collect();
    bump_all(conn, &moved)?;
    Ok(rows)
}

/// Inserts status rows: one statement on PostgreSQL (a round trip each would dominate a burst
/// of receipts), one array per column so that its text is fixed and it stays prepared
/// (`kept_prepared`); one cached statement per row on SQLite (in-process, as cheap).
fn insert_many(conn: &mut DbConn, rows: &[StatusRow]) -> Result<(), StoreError> {
    match conn {
        DbConn::Postgres(c) => {
            use crate::store::backend::column;
            use diesel::sql_types::{Array, BigInt, Binary, Nullable, Text};
            let query = diesel::sql_query(
                "INSERT INTO message_statuses (id, tenant_id, channel, external_index, \
                   message_id, status, occurred_at, received_at, errors_sealed, raw_sealed, \
                   period_key_id) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], \
                   $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bytea[], \
                   $10::bytea[], $11::text[])",
            )
            .bind::<Array<Text>, _>(column(rows, |r| r.id.as_str()))
            .bind::<Array<Text>, _>(column(rows, |r| r.tenant_id.as_str()))
            .bind::<Array<Text>, _>(column(rows, |r| r.channel.as_str()))
            .bind::<Array<Binary>, _>(column(rows, |r| r.external_index.as_slice()))
            .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.message_id.as_deref()))
            .bind::<Array<Text>, _>(column(rows, |r| r.status.as_str()))
            .bind::<Array<BigInt>, _>(column(rows, |r| r.occurred_at))
            .bind::<Array<BigInt>, _>(column(rows, |r| r.received_at))
            .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.errors_sealed.as_deref()))
            .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.raw_sealed.as_deref()))
            .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.period_key_id.as_deref()));
            crate::store::backend::kept_prepared(query).run(c)?;
        }
        DbConn::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(message_statuses::table)
                    .values(row)
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// Attaches statuses that arrived before their message; `fresh` pairs platform-id indexes
/// with the ids of messages just stored.
pub fn attach_pending(
    conn: &mut DbConn,
    tenant: &str,
    fresh: &[(Vec<u8>, String)],
) -> Result<(), StoreError> {
    if fresh.is_empty() {
        return Ok(());
    }
    let indexes: Vec<Vec<u8>> = fresh.iter().map(|(i, _)| i.clone()).collect();
    let pending: Vec<Pending> = match conn {
        DbConn::Sqlite(c) => waiting_on_sqlite(c, tenant, &indexes)?,
        DbConn::Postgres(c) => message_statuses::table
            .filter(message_statuses::tenant_id.eq(tenant))
            .filter(message_statuses::message_id.is_null())
            .filter(message_statuses::external_index.eq_any(indexes))
            .filter(crate::store::backend::plan_with_actual_values())
            .select(Pending::as_select())
            .load(c)?,
    };
    if pending.is_empty() {
        return Ok(());
    }
    let by_index: HashMap<&Vec<u8>, &String> = fresh.iter().map(|(i, m)| (i, m)).collect();
    for Pending {
        id: status_id,
        external_index: index,
        status,
        occurred_at: at,
    } in pending
    {
        if let Some(message_id) = by_index.get(&index) {
            diesel::update(message_statuses::table.filter(message_statuses::id.eq(&status_id)))
                .set(message_statuses::message_id.eq(Some(message_id.to_string())))
                .execute(conn)?;
            bump(conn, message_id, &status, at)?;
        }
    }
    Ok(())
}

/// A status still waiting for its message.
#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = message_statuses)]
struct Pending {
    id: String,
    external_index: Vec<u8>,
    status: String,
    occurred_at: i64,
}

/// The waiting statuses with these platform ids, on SQLite. Asked for more than one id, SQLite
/// (which has no statistics) answered `message_id IS NULL AND external_index IN (…)` from the
/// message index instead — reading every status of the tenant still waiting for its message,
/// for every group of messages stored; statuses of messages Hafen never stored (sent from the
/// same number by another system) wait there for ever. The partial index holds exactly the
/// waiting statuses, by platform id: named, so the plan cannot drift back.
fn waiting_on_sqlite(
    conn: &mut diesel::SqliteConnection,
    tenant: &str,
    indexes: &[Vec<u8>],
) -> Result<Vec<Pending>, StoreError> {
    use diesel::sql_types::{Binary, Text};
    let mut found = Vec::new();
    // Well below SQLite's limit on bound parameters.
    for chunk in indexes.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut query = diesel::sql_query(format!(
            "SELECT id, external_index, status, occurred_at FROM message_statuses \
             INDEXED BY message_statuses_external \
             WHERE tenant_id = ? AND message_id IS NULL AND external_index IN ({marks})"
        ))
        .into_boxed::<diesel::sqlite::Sqlite>()
        .bind::<Text, _>(tenant);
        for index in chunk {
            query = query.bind::<Binary, _>(index);
        }
        found.extend(query.load::<Pending>(conn)?);
    }
    Ok(found)
}

/// A status as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusView {
    pub status: String,
    pub occurred_at: DateTime<Utc>,
    pub errors: Vec<PlatformError>,
}

/// A message's status history, oldest first.
pub fn history(
    conn: &mut DbConn,
    tenant: &str,
    message_id: &str,
) -> Result<Vec<StatusRow>, StoreError> {
    Ok(message_statuses::table
        .filter(message_statuses::tenant_id.eq(tenant))
        .filter(message_statuses::message_id.eq(message_id))
        .order((
            message_statuses::occurred_at.asc(),
            message_statuses::received_at.asc(),
        ))
        .select(StatusRow::as_select())
        .load(conn)?)
}

impl StatusRow {
    /// A status whose period key was destroyed: what is stored in the clear, no errors.
    pub fn shredded_view(&self) -> StatusView {
        StatusView {
            status: self.status.clone(),
            occurred_at: from_micros(self.occurred_at),
            errors: Vec::new(),
        }
    }

    pub fn view(
        &self,
        keys: &crate::crypto::keyring::OwnerKeys,
    ) -> crate::error::Result<StatusView> {
        let errors = match &self.errors_sealed {
            Some(sealed) => {
                let bytes = keys
                    .seal
                    .open(&binding(&self.tenant_id, &self.id, "errors"), sealed)?;
                serde_json::from_slice(&bytes).map_err(crate::error::Error::internal)?
            }
            None => Vec::new(),
        };
        Ok(StatusView {
            status: self.status.clone(),
            occurred_at: from_micros(self.occurred_at),
            errors,
        })
    }
}

/// Deletes these delivery statuses: the one place status rows are deleted.
pub fn delete(conn: &mut DbConn, tenant: &str, ids: &[String]) -> Result<(), StoreError> {
    diesel::delete(
        message_statuses::table
            .filter(message_statuses::id.eq_any(ids))
            .filter(crate::store::backend::only_checked(message_statuses::tenant_id).eq(tenant))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes the delivery statuses of these messages (with the messages themselves).
pub(crate) fn delete_of_messages(
    conn: &mut DbConn,
    tenant: &str,
    message_ids: &[String],
) -> Result<(), StoreError> {
    let as_nullable: Vec<Option<String>> = message_ids.iter().cloned().map(Some).collect();
    diesel::delete(
        message_statuses::table
            .filter(message_statuses::tenant_id.eq(tenant))
            .filter(message_statuses::message_id.eq_any(as_nullable))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

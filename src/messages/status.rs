//! Delivery statuses (sent, delivered, read, failed) of outbound messages. Every status is kept
//! as history; the latest is kept in `message_delivery`, apart from the message's row (which
//! keeps the status it was stored with: migration 23 says why). A status may arrive before its message is known
//! (the platform answers the send call after the webhook fired): it is kept unmatched and
//! attached when a message with that platform id appears.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::clock::from_micros;
use crate::crypto::FieldBinding;
use crate::messages::inbound::{DeliveryStatus, PlatformError};
use crate::store::id;
use crate::store::schema::{message_delivery, message_statuses};
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
    /// Stored as its 16 bytes (`store::id`): a row is inserted by value.
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    pub channel: String,
    pub external_index: Vec<u8>,
    /// Its message's id, stored as 16 bytes too; none while the status waits for its message.
    #[diesel(serialize_as = crate::store::id::BoundOptionalId)]
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
pub fn bump(
    conn: &mut DbConn,
    tenant: &str,
    message_id: &str,
    status: &str,
    at: i64,
) -> Result<(), StoreError> {
    bump_all(conn, tenant, &[(message_id, status, at)])
}

/// Moves each message's current status forward to the newest of its statuses here, where that
/// is newer than the one it has, for a whole group of receipts: one upsert of
/// `message_delivery` whose own condition keeps a newer status (one statement for the group on
/// PostgreSQL, nothing read first). The message's row is not written: on PostgreSQL that update
/// wrote an entry into every index of `messages` (migration 23).
pub fn bump_all(
    conn: &mut DbConn,
    tenant: &str,
    statuses: &[(&str, &str, i64)],
) -> Result<(), StoreError> {
    let mut newest: HashMap<&str, (&str, i64)> = HashMap::with_capacity(statuses.len());
    for &(message_id, status, at) in statuses {
        let best = newest.entry(message_id).or_insert((status, at));
        if (at, rank(status)) > (best.1, rank(best.0)) {
            *best = (status, at);
        }
    }
    // In the order of the messages' ids: two writers moving the same messages lock their rows
    // in the same order (PostgreSQL's writers run side by side).
    let mut moves: Vec<(&str, &str, i64)> = newest
        .into_iter()
        .map(|(id, (s, at))| (id, s, at))
        .collect();
    moves.sort_unstable_by_key(|m| m.0);
    match conn {
        DbConn::Postgres(c) => {
            if moves.is_empty() {
                return Ok(());
            }
            use crate::store::id::Id;
            use diesel::sql_types::{Array, BigInt, Integer, Text};
            let ranks: Vec<i32> = moves.iter().map(|m| i32::from(rank(m.1))).collect();
            crate::store::backend::kept_prepared(
                diesel::sql_query(
                    "INSERT INTO message_delivery \
                       (message_id, tenant_id, status, status_at, status_rank) \
                     SELECT v.id, $2, v.status, v.at, v.rank \
                     FROM unnest($1::uuid[], $3::text[], $4::bigint[], $5::integer[]) \
                       AS v(id, status, at, rank) \
                     ON CONFLICT (message_id) DO UPDATE SET status = excluded.status, \
                       status_at = excluded.status_at, status_rank = excluded.status_rank \
                     WHERE (excluded.status_at, excluded.status_rank) \
                       > (message_delivery.status_at, message_delivery.status_rank)",
                )
                .bind::<Array<Id>, _>(moves.iter().map(|m| id::bind(m.0)).collect::<Vec<_>>())
                .bind::<Id, _>(id::bind(tenant))
                .bind::<Array<Text>, _>(moves.iter().map(|m| m.1).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(moves.iter().map(|m| m.2).collect::<Vec<_>>())
                .bind::<Array<Integer>, _>(ranks),
            )
            .run(c)?;
        }
        DbConn::Sqlite(c) => {
            // The upsert's `WHERE` is `FilterDsl`'s, not `QueryDsl`'s (not a table query).
            use diesel::query_dsl::methods::FilterDsl;
            use diesel::upsert::excluded;
            use message_delivery::dsl as d;
            for &(message_id, status, at) in &moves {
                diesel::insert_into(message_delivery::table)
                    .values((
                        d::message_id.eq(id::bind(message_id)),
                        d::tenant_id.eq(id::bind(tenant)),
                        d::status.eq(status),
                        d::status_at.eq(at),
                        d::status_rank.eq(i32::from(rank(status))),
                    ))
                    .on_conflict(d::message_id)
                    .do_update()
                    .set((
                        d::status.eq(excluded(d::status)),
                        d::status_at.eq(excluded(d::status_at)),
                        d::status_rank.eq(excluded(d::status_rank)),
                    ))
                    // Only where the stored status is older (or as old and not as far).
                    .filter(
                        d::status_at.lt(at).or(d::status_at
                            .eq(at)
                            .and(d::status_rank.lt(i32::from(rank(status))))),
                    )
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// The current status of each of these messages that has had one reported: the newest (status,
/// time), by message id. A message missing here has the status it was stored with.
pub fn current(
    conn: &mut DbConn,
    message_ids: &[&str],
) -> Result<HashMap<String, (String, i64)>, StoreError> {
    let mut found = HashMap::with_capacity(message_ids.len());
    // Well below SQLite's limit on bound parameters.
    for chunk in message_ids.chunks(500) {
        let rows: Vec<(String, String, i64)> = message_delivery::table
            .filter(message_delivery::message_id.eq_any(id::bind_all(chunk)))
            .filter(crate::store::backend::plan_with_actual_values())
            .select((
                message_delivery::message_id,
                message_delivery::status,
                message_delivery::status_at,
            ))
            .load(conn)?;
        found.extend(rows.into_iter().map(|(id, s, at)| (id, (s, at))));
    }
    Ok(found)
}

/// The current status of one message: the newest reported, else `stored`, the status it was
/// stored with (`queued` for a send).
pub fn current_or_stored(
    conn: &mut DbConn,
    message_id: &str,
    stored: Option<String>,
) -> Result<Option<String>, StoreError> {
    let mut current = current(conn, &[message_id])?;
    Ok(current
        .remove(message_id)
        .map(|(status, _)| status)
        .or(stored))
}

/// Puts the current delivery status into messages read from the database: the newest reported
/// where there is one, else the status the message was stored with (`queued` for a send).
pub fn with_current(conn: &mut DbConn, rows: &mut [super::MessageRow]) -> Result<(), StoreError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut current = current(conn, &ids)?;
    for row in rows {
        if let Some((status, at)) = current.remove(&row.id) {
            row.delivery_status = Some(status);
            row.delivery_status_at = Some(at);
        }
    }
    Ok(())
}

/// Stores statuses, matching each to a stored message by platform id: the id of the message
/// each was matched to, in their order (the rows' own `message_id` is not read).
pub fn store(
    conn: &mut DbConn,
    tenant: &str,
    rows: &[&StatusRow],
) -> Result<Vec<Option<String>>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let indexes: Vec<Vec<u8>> = rows.iter().map(|r| r.external_index.clone()).collect();
    let known: HashMap<Vec<u8>, String> = super::find_by_external_indexes(conn, tenant, indexes)?
        .into_iter()
        .filter_map(|(index, id, _)| index.map(|i| (i, id)))
        .collect();
    let matched: Vec<(&StatusRow, Option<&str>)> = rows
        .iter()
        .map(|r| (*r, known.get(&r.external_index).map(String::as_str)))
        .collect();
    insert_many(conn, &matched)?;
    let moved: Vec<(&str, &str, i64)> = matched
        .iter()
        .filter_map(|(r, message)| Some(((*message)?, r.status.as_str(), r.occurred_at)))
        .collect();
    bump_all(conn, tenant, &moved)?;
    Ok(matched
        .iter()
        .map(|(_, message)| message.map(str::to_string))
        .collect())
}

/// Inserts status rows, each with the message it was matched to: one statement on PostgreSQL
/// (a round trip each would dominate a burst of receipts), one array per column so that its
/// text is fixed and it stays prepared (`kept_prepared`); one cached statement per row on
/// SQLite (in-process, as cheap).
fn insert_many(conn: &mut DbConn, rows: &[(&StatusRow, Option<&str>)]) -> Result<(), StoreError> {
    match conn {
        DbConn::Postgres(c) => {
            use crate::store::backend::column;
            use diesel::sql_types::{Array, BigInt, Binary, Nullable, Text};
            let query = diesel::sql_query(
                "INSERT INTO message_statuses (id, tenant_id, channel, external_index, \
                   message_id, status, occurred_at, received_at, errors_sealed, raw_sealed, \
                   period_key_id) \
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bytea[], \
                   $5::uuid[], $6::text[], $7::bigint[], $8::bigint[], $9::bytea[], \
                   $10::bytea[], $11::text[])",
            )
            .bind::<Array<crate::store::id::Id>, _>(column(rows, |(r, _)| id::bind(&r.id)))
            .bind::<Array<crate::store::id::Id>, _>(column(rows, |(r, _)| id::bind(&r.tenant_id)))
            .bind::<Array<Text>, _>(column(rows, |(r, _)| r.channel.as_str()))
            .bind::<Array<Binary>, _>(column(rows, |(r, _)| r.external_index.as_slice()))
            .bind::<Array<Nullable<crate::store::id::Id>>, _>(column(rows, |(_, message)| {
                message.map(id::bind)
            }))
            .bind::<Array<Text>, _>(column(rows, |(r, _)| r.status.as_str()))
            .bind::<Array<BigInt>, _>(column(rows, |(r, _)| r.occurred_at))
            .bind::<Array<BigInt>, _>(column(rows, |(r, _)| r.received_at))
            .bind::<Array<Nullable<Binary>>, _>(column(rows, |(r, _)| r.errors_sealed.as_deref()))
            .bind::<Array<Nullable<Binary>>, _>(column(rows, |(r, _)| r.raw_sealed.as_deref()))
            .bind::<Array<Nullable<Text>>, _>(column(rows, |(r, _)| r.period_key_id.as_deref()));
            crate::store::backend::kept_prepared(query).run(c)?;
        }
        DbConn::Sqlite(c) => {
            for (row, message) in rows {
                let row = StatusRow {
                    message_id: message.map(str::to_string),
                    ..(*row).clone()
                };
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
            .filter(message_statuses::tenant_id.eq(id::bind(tenant)))
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
            diesel::update(
                message_statuses::table.filter(message_statuses::id.eq(id::bind(&status_id))),
            )
            .set(message_statuses::message_id.eq(id::bind(message_id)))
            .execute(conn)?;
            bump(conn, tenant, message_id, &status, at)?;
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
    use diesel::sql_types::Binary;
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
        .bind::<crate::store::id::Id, _>(id::bind(tenant));
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
        .filter(message_statuses::tenant_id.eq(id::bind(tenant)))
        .filter(message_statuses::message_id.eq(id::bind(message_id)))
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
            .filter(message_statuses::id.eq_any(id::bind_all(ids)))
            .filter(
                crate::store::backend::only_checked_id(message_statuses::tenant_id)
                    .eq(id::bind(tenant)),
            )
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes the delivery statuses of these messages, their history and their current status
/// (with the messages themselves).
pub(crate) fn delete_of_messages(
    conn: &mut DbConn,
    tenant: &str,
    message_ids: &[String],
) -> Result<(), StoreError> {
    // `message_delivery` has no index on the tenant that a planner could prefer to the ids.
    diesel::delete(
        message_delivery::table
            .filter(message_delivery::message_id.eq_any(id::bind_all(message_ids)))
            .filter(message_delivery::tenant_id.eq(id::bind(tenant)))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    diesel::delete(
        message_statuses::table
            .filter(message_statuses::tenant_id.eq(id::bind(tenant)))
            .filter(message_statuses::message_id.eq_any(id::bind_all(message_ids)))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

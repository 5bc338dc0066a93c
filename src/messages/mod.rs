//! Messages: validated input, sealed storage, decrypted reads.

pub mod attachments;
pub mod classify;
pub mod content;
pub mod inbound;
pub mod ingest;
pub mod parse;
pub mod read;
pub mod status;
pub mod types;

use diesel::prelude::*;

use crate::crypto::FieldBinding;
use crate::infra::Infra;
use crate::periods::PeriodKeys;
use crate::store::schema::messages;
use crate::store::{DbConn, StoreError};

/// The messages service: storing what arrives (sealed under the contact's and the period's
/// keys, one write per batch), reading it back, classifying it for retention.
#[derive(Debug, Clone)]
pub struct Messages {
    pub(crate) infra: Infra,
    pub(crate) periods: PeriodKeys,
    /// Who else wants freshly stored inbound messages (handed in: bots sit above messages).
    pub(crate) follow_ups: FollowUps,
    /// Contacts recently written to, by address (`ingest::KnownContacts`).
    pub(crate) known: std::sync::Arc<ingest::KnownContacts>,
}

impl Messages {
    pub fn new(infra: Infra, periods: PeriodKeys, follow_ups: FollowUps) -> Self {
        Self {
            infra,
            periods,
            follow_ups,
            known: Default::default(),
        }
    }
}

/// The events beyond `message.received` that a batch of freshly stored inbound messages (their
/// `message.received` payloads) calls for, queued in the transaction that stores them, so
/// none is missed or sent twice: a chatbot's `bot.message` (`bots::events_for`). Bots sit above
/// messages (they reply through channels), so the composition root hands the function in.
pub type FollowUps = fn(
    &mut DbConn,
    &str,
    &[serde_json::Value],
) -> Result<Vec<(crate::events::EventKind, serde_json::Value)>, StoreError>;

pub use types::{Direction, MessageInput, MessageKind, NewMessage};

pub const TABLE: &str = "messages";

/// Where a message's sealed field lives (the AEAD binding).
pub fn binding<'a>(tenant: &'a str, message_id: &'a str, column: &'static str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: TABLE,
        column,
        row: message_id,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    pub id: String,
    pub tenant_id: String,
    pub contact_id: String,
    pub channel: String,
    pub direction: String,
    pub kind: String,
    pub occurred_at: i64,
    pub received_at: i64,
    pub external_index: Option<Vec<u8>>,
    pub external_id_sealed: Option<Vec<u8>>,
    pub body_sealed: Option<Vec<u8>>,
    pub raw_sealed: Option<Vec<u8>>,
    pub channel_id: Option<String>,
    pub delivery_status: Option<String>,
    pub delivery_status_at: Option<i64>,
    pub idempotency_index: Option<Vec<u8>>,
    /// The period key the content is sealed under (with the contact's key); see
    /// `periods`. None for content deleted by retention.
    pub period_key_id: Option<String>,
    pub content_deleted_at: Option<i64>,
    /// A business letter (Handels- oder Geschäftsbrief): kept under the statutory rules.
    pub business_letter: bool,
    /// The bot that sent this message (an automated reply), if a bot did.
    pub sent_by_bot: Option<String>,
}

/// (external id index, message id, contact id) of a stored message.
pub type ExternalMatch = (Option<Vec<u8>>, String, String);

/// Stored messages whose external id index is one of `indexes`.
pub fn find_by_external_indexes(
    conn: &mut DbConn,
    tenant: &str,
    indexes: Vec<Vec<u8>>,
) -> Result<Vec<ExternalMatch>, StoreError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        // Many indexes (a merged writer group, a batch) on PostgreSQL: one probe of the unique
        // (external index, tenant) index per id, forced by the `LATERAL … LIMIT 1` whatever the
        // statistics say. Without statistics (a young table: autovacuum analyzes after a
        // minute) PostgreSQL guessed a tenant matches few rows and read them all instead — as
        // `external_index = ANY(…)` (122 ms for 800 indexes among 100 000 messages) and still
        // as a plain join from the array (24 ms: a hash of the tenant's messages); probed, 1.2 ms.
        DbConn::Postgres(c) if indexes.len() > 1 => {
            use diesel::sql_types::{Array, Binary, Text};
            Ok(diesel::sql_query(
                "SELECT found.external_index, found.id, found.contact_id \
                 FROM unnest($2::bytea[]) AS wanted(ix) \
                 CROSS JOIN LATERAL (SELECT m.external_index, m.id, m.contact_id FROM messages m \
                   WHERE m.external_index = wanted.ix AND m.tenant_id = $1 LIMIT 1) AS found",
            )
            .bind::<Text, _>(tenant)
            .bind::<Array<Binary>, _>(indexes)
            .load::<ExternalRow>(c)?
            .into_iter()
            .map(|r| (r.external_index, r.id, r.contact_id))
            .collect())
        }
        // Planned per execution even for one index: a cached generic plan on PostgreSQL, made
        // while the table was nearly empty, scanned the tenant's messages for every webhook
        // delivery (3.4 ms each at 20 000 messages, growing).
        _ => Ok(messages::table
            .filter(messages::tenant_id.eq(tenant))
            .filter(messages::external_index.eq_any(indexes))
            .filter(crate::store::backend::plan_with_actual_values())
            .select((messages::external_index, messages::id, messages::contact_id))
            .load(conn)?),
    }
}

#[derive(diesel::QueryableByName)]
struct ExternalRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
    external_index: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    contact_id: String,
}

/// Inserts many messages. PostgreSQL takes one multi-row statement (a round trip per row would
/// dominate); SQLite runs in-process, so a cached prepared statement per row costs about the same.
pub fn insert_many(conn: &mut DbConn, rows: &[MessageRow]) -> Result<(), StoreError> {
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

/// Deletes what messages say (body, raw payload, platform id) and unbinds them from their
/// period key; the rows stay as metadata. The one place message content is deleted, for
/// retention and erasure alike (`retention::run::delete_items`).
pub fn delete_content(
    conn: &mut DbConn,
    tenant: &str,
    ids: &[String],
    at: i64,
) -> Result<(), StoreError> {
    diesel::update(
        messages::table
            .filter(messages::id.eq_any(ids))
            .filter(crate::store::backend::only_checked(messages::tenant_id).eq(tenant))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .set((
        messages::body_sealed.eq(None::<Vec<u8>>),
        messages::raw_sealed.eq(None::<Vec<u8>>),
        messages::external_id_sealed.eq(None::<Vec<u8>>),
        messages::period_key_id.eq(None::<String>),
        messages::content_deleted_at.eq(Some(at)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Deletes messages with what hangs off them (their files and delivery statuses): the one
/// place message rows are deleted.
pub fn delete_with_dependants(
    conn: &mut DbConn,
    tenant: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    attachments::delete_of_messages(conn, tenant, ids)?;
    status::delete_of_messages(conn, tenant, ids)?;
    diesel::delete(
        messages::table
            .filter(messages::id.eq_any(ids))
            .filter(crate::store::backend::only_checked(messages::tenant_id).eq(tenant))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

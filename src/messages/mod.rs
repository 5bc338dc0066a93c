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
use crate::store::id;
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
    /// Stored as its 16 bytes (`store::id`): a row is inserted by value.
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
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
        // PostgreSQL: one probe of the unique (external index, tenant) index per id, forced by
        // the `LATERAL … LIMIT 1` whatever the statistics say — so the statement can stay
        // prepared with a generic plan. Without statistics (a young table: autovacuum analyzes
        // after a minute) PostgreSQL guessed a tenant matches few rows and read them all
        // instead — as `external_index = ANY(…)` (122 ms for 800 indexes among 100 000
        // messages; a cached generic plan of it scanned the tenant's messages for every webhook
        // delivery, 3.4 ms each at 20 000 messages, growing) and still as a plain join from the
        // array (24 ms: a hash of the tenant's messages); probed, 1.2 ms.
        DbConn::Postgres(c) => {
            use diesel::sql_types::{Array, Binary};
            Ok(crate::store::backend::kept_prepared(
                diesel::sql_query(
                    "SELECT found.external_index, found.id, found.contact_id \
                     FROM unnest($2::bytea[]) AS wanted(ix) \
                     CROSS JOIN LATERAL (SELECT m.external_index, m.id, m.contact_id \
                       FROM messages m \
                       WHERE m.external_index = wanted.ix AND m.tenant_id = $1 LIMIT 1) AS found",
                )
                .bind::<crate::store::id::Id, _>(id::bind(tenant))
                .bind::<Array<Binary>, _>(indexes),
            )
            .load::<ExternalRow>(c)?
            .into_iter()
            .map(|r| (r.external_index, r.id, r.contact_id))
            .collect())
        }
        // SQLite parses an `IN (…)` list anew each time (microseconds).
        DbConn::Sqlite(_) => Ok(messages::table
            .filter(messages::tenant_id.eq(id::bind(tenant)))
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
    #[diesel(sql_type = crate::store::id::Id)]
    id: String,
    #[diesel(sql_type = crate::store::id::Id)]
    contact_id: String,
}

/// Inserts many messages. PostgreSQL takes one multi-row statement (a round trip per row would
/// dominate); SQLite runs in-process, so a cached prepared statement per row costs about the same.
pub fn insert_many(conn: &mut DbConn, rows: &[&MessageRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConn::Postgres(c) => insert_many_postgres(c, rows)?,
        DbConn::Sqlite(c) => {
            // By value: diesel derives no insert from a reference for a row whose ids it
            // converts (`serialize_as`), so each row is copied into its statement.
            for row in rows {
                diesel::insert_into(messages::table)
                    .values((*row).clone())
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// One statement of fixed text for any number of rows, one array per column, so that it stays
/// prepared (`kept_prepared`): a multi-row `VALUES` list was parsed and planned again for every
/// writer group.
fn insert_many_postgres(
    c: &mut diesel::PgConnection,
    rows: &[&MessageRow],
) -> Result<(), StoreError> {
    use crate::store::backend::column;
    use crate::store::id::{self, Id};
    use diesel::sql_types::{Array, BigInt, Binary, Bool, Nullable, Text};
    let text = |field: fn(&MessageRow) -> &String| column(rows, move |r| field(r).as_str());
    let query = diesel::sql_query(
        "INSERT INTO messages (id, tenant_id, contact_id, channel, direction, kind, \
           occurred_at, received_at, external_index, external_id_sealed, body_sealed, raw_sealed, \
           channel_id, delivery_status, delivery_status_at, idempotency_index, period_key_id, \
           content_deleted_at, business_letter, sent_by_bot) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], \
           $6::text[], $7::bigint[], $8::bigint[], $9::bytea[], $10::bytea[], $11::bytea[], \
           $12::bytea[], $13::text[], $14::text[], $15::bigint[], $16::bytea[], $17::text[], \
           $18::bigint[], $19::boolean[], $20::text[])",
    )
    .bind::<Array<Id>, _>(column(rows, |r| id::bind(&r.id)))
    .bind::<Array<Id>, _>(column(rows, |r| id::bind(&r.tenant_id)))
    .bind::<Array<Id>, _>(column(rows, |r| id::bind(&r.contact_id)))
    .bind::<Array<Text>, _>(text(|r| &r.channel))
    .bind::<Array<Text>, _>(text(|r| &r.direction))
    .bind::<Array<Text>, _>(text(|r| &r.kind))
    .bind::<Array<BigInt>, _>(column(rows, |r| r.occurred_at))
    .bind::<Array<BigInt>, _>(column(rows, |r| r.received_at))
    .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.external_index.as_deref()))
    .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.external_id_sealed.as_deref()))
    .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.body_sealed.as_deref()))
    .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.raw_sealed.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.channel_id.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.delivery_status.as_deref()))
    .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.delivery_status_at))
    .bind::<Array<Nullable<Binary>>, _>(column(rows, |r| r.idempotency_index.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.period_key_id.as_deref()))
    .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.content_deleted_at))
    .bind::<Array<Bool>, _>(column(rows, |r| r.business_letter))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.sent_by_bot.as_deref()));
    crate::store::backend::kept_prepared(query).run(c)?;
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
            .filter(messages::id.eq_any(id::bind_all(ids)))
            .filter(
                crate::store::backend::only_checked_id(messages::tenant_id).eq(id::bind(tenant)),
            )
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
            .filter(messages::id.eq_any(id::bind_all(ids)))
            .filter(
                crate::store::backend::only_checked_id(messages::tenant_id).eq(id::bind(tenant)),
            )
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

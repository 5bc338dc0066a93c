//! Messages: validated input, sealed storage, decrypted reads.

pub mod ingest;
pub mod read;
pub mod types;

use diesel::prelude::*;

use crate::crypto::FieldBinding;
use crate::store::schema::messages;
use crate::store::{DbConn, StoreError};

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
}

/// The stored message with this external id index, as (message id, contact id).
pub fn find_by_external_index(
    conn: &mut DbConn,
    tenant: &str,
    index: &[u8],
) -> Result<Option<(String, String)>, StoreError> {
    Ok(messages::table
        .filter(messages::tenant_id.eq(tenant))
        .filter(messages::external_index.eq(index))
        .select((messages::id, messages::contact_id))
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConn, row: &MessageRow) -> Result<(), StoreError> {
    diesel::insert_into(messages::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

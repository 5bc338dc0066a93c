//! Attachments: files a message references. The webhook carries only a media id; the row is
//! stored `pending` with the message, and the download job ([`crate::channels::media`]) fetches
//! the file, checks it and stores it sealed under the contact's key. Failed downloads are
//! retried on a schedule and never dropped silently: after the last attempt the row stays,
//! `failed`, with the reason.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::clock::from_micros;
use crate::crypto::keyring::OwnerKeys;
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::messages::inbound::MediaRef;
use crate::store::id;
use crate::store::schema::attachments;
use crate::store::{DbConn, StoreError};

pub const TABLE: &str = "attachments";

pub fn binding<'a>(tenant: &'a str, id: &'a str, column: &'static str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: TABLE,
        column,
        row: id,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub struct AttachmentRow {
    /// Stored as its 16 bytes, as its message's (`store::id`): a row is inserted by value.
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub message_id: String,
    pub n: i32,
    pub channel_id: Option<String>,
    pub media_ref_sealed: Vec<u8>,
    pub mime_type: Option<String>,
    pub expected_sha256: Option<String>,
    pub size: Option<i64>,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub content_sealed: Option<Vec<u8>>,
    pub created_at: i64,
    /// Sealed under the message's keys: contact key bound to this period key.
    pub period_key_id: Option<String>,
}

impl AttachmentRow {
    /// A pending download for the `n`th file of a message.
    pub fn pending(
        tenant: &str,
        message_id: &str,
        n: i32,
        channel_id: Option<String>,
        media: &MediaRef,
        (period_key_id, keys): (&str, &OwnerKeys),
        now: i64,
    ) -> Result<Self> {
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let reference = serde_json::to_vec(media).map_err(Error::internal)?;
        Ok(Self {
            media_ref_sealed: keys
                .seal
                .seal(&binding(tenant, &id, "media_ref"), &reference)?,
            id,
            tenant_id: tenant.to_string(),
            message_id: message_id.to_string(),
            n,
            channel_id,
            mime_type: media.mime_type.clone().filter(|m| m.len() <= 255),
            expected_sha256: media.sha256.clone().filter(|h| h.len() == 64),
            size: None,
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            content_sealed: None,
            created_at: now,
            period_key_id: Some(period_key_id.to_string()),
        })
    }
}

pub fn insert(conn: &mut DbConn, rows: &[&AttachmentRow]) -> Result<(), StoreError> {
    for row in rows {
        diesel::insert_into(attachments::table)
            .values((*row).clone())
            .execute(conn)?;
    }
    Ok(())
}

/// An attachment as a message view lists it (without content).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub n: i32,
    /// The file's name as the sender gave it (documents on WhatsApp and Telegram); also the
    /// download's `Content-Disposition` file name.
    pub filename: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<i64>,
    /// pending, stored or failed.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// An attachment as listed: its view (without the file name) and what opens the name.
pub struct Listed {
    pub view: AttachmentView,
    pub id: String,
    pub media_ref_sealed: Vec<u8>,
    pub period_key_id: Option<String>,
}

/// (id, n, mime type, size, state, attempts, next attempt, sealed reference, period key).
type AttachmentSummary = (
    String,
    i32,
    Option<String>,
    Option<i64>,
    String,
    i32,
    i64,
    Vec<u8>,
    Option<String>,
);

/// The attachments of a message, without their content; [`filename`] opens each one's name.
pub fn list(conn: &mut DbConn, tenant: &str, message_id: &str) -> Result<Vec<Listed>, StoreError> {
    let rows: Vec<AttachmentSummary> = attachments::table
        .filter(attachments::tenant_id.eq(id::bind(tenant)))
        .filter(attachments::message_id.eq(id::bind(message_id)))
        .order(attachments::n.asc())
        .select((
            attachments::id,
            attachments::n,
            attachments::mime_type,
            attachments::size,
            attachments::state,
            attachments::attempts,
            attachments::next_attempt_at,
            attachments::media_ref_sealed,
            attachments::period_key_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, n, mime_type, size, state, attempts, next, sealed, period)| Listed {
                view: AttachmentView {
                    next_attempt_at: (state == "pending").then(|| from_micros(next)),
                    n,
                    filename: None,
                    mime_type,
                    size,
                    state,
                    attempts,
                },
                id,
                media_ref_sealed: sealed,
                period_key_id: period,
            },
        )
        .collect())
}

/// The file name the sender gave, from an attachment's sealed platform reference.
pub fn filename(
    keys: &OwnerKeys,
    tenant: &str,
    id: &str,
    media_ref_sealed: &[u8],
) -> Result<Option<String>> {
    let reference = keys
        .seal
        .open(&binding(tenant, id, "media_ref"), media_ref_sealed)?;
    let media: MediaRef = serde_json::from_slice(&reference).map_err(Error::internal)?;
    Ok(media.filename.filter(|f| !f.trim().is_empty()))
}

pub fn find(
    conn: &mut DbConn,
    tenant: &str,
    message_id: &str,
    n: i32,
) -> Result<Option<AttachmentRow>, StoreError> {
    Ok(attachments::table
        .filter(attachments::tenant_id.eq(id::bind(tenant)))
        .filter(attachments::message_id.eq(id::bind(message_id)))
        .filter(attachments::n.eq(n))
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()?)
}

/// Deletes these files (their sealed platform reference and content): the one place
/// attachment rows are deleted.
pub fn delete(conn: &mut DbConn, tenant: &str, ids: &[String]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(
        attachments::table
            .filter(attachments::id.eq_any(id::bind_all(ids)))
            .filter(
                crate::store::backend::only_checked_id(attachments::tenant_id).eq(id::bind(tenant)),
            )
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes the files of these messages (with the messages themselves).
pub(crate) fn delete_of_messages(
    conn: &mut DbConn,
    tenant: &str,
    message_ids: &[String],
) -> Result<(), StoreError> {
    diesel::delete(
        attachments::table
            .filter(attachments::tenant_id.eq(id::bind(tenant)))
            .filter(attachments::message_id.eq_any(id::bind_all(message_ids)))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

//! Reading messages back, decrypted. Every read that returns content is audited first: if the
//! audit entry cannot be written, no content leaves.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::Messages;
use super::{binding, Direction, MessageKind, MessageRow};
use crate::audit::AuditEvent;
use crate::auth::{Actor, Permission};
use crate::clock::from_micros;
use crate::contacts;
use crate::contacts::restrict::{refuse_if_restricted, RestrictedGround};
use crate::crypto::keyring::OwnerKeys;
use crate::error::{Error, Result};
use crate::page::{Page, PageRequest};
use crate::periods::{self as keys, PeriodState};
use crate::store::id;
use crate::store::schema::messages;
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// A message as the API shows it, decrypted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: String,
    pub contact_id: String,
    pub channel: String,
    pub direction: Direction,
    pub kind: MessageKind,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The readable content as one text (text, caption, button or list title, emoji, …).
    pub body: Option<String>,
    /// The content by kind (`content.type` is `kind`): shared contacts' numbers, an order's
    /// items and prices, a button's payload, a list entry's id, a file's name, the platform's
    /// error codes. Absent when the content can no longer be read (erased, shredded).
    pub content: Option<super::content::Content>,
    /// The platform id (`external_id`) of the message this one answers or quotes.
    pub reply_to: Option<String>,
    pub external_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub raw: Option<serde_json::Value>,
    /// True when the contact's data key was destroyed: the content can no longer be read.
    pub erased: bool,
    /// True when retention destroyed the period key the content was sealed under (e.g. this
    /// row came back from an old backup): the content can never be read again.
    pub shredded: bool,
    /// When retention deleted the content (the row stays until its own period ends).
    pub content_deleted_at: Option<DateTime<Utc>>,
    /// The registered channel it came through or went out on.
    pub channel_id: Option<String>,
    /// Marked as a business letter (§ 257 HGB): kept under the rules for business letters.
    pub business_letter: bool,
    /// The bot that sent it (an automated reply); null for messages of people.
    pub sent_by_bot: Option<String>,
    /// Latest delivery status of an outbound message (queued, sent, delivered, read, failed).
    pub delivery_status: Option<String>,
    pub delivery_status_at: Option<DateTime<Utc>>,
    /// Every status reported, oldest first (single-message reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_history: Option<Vec<super::status::StatusView>>,
    /// Files of the message (single-message reads only); content at `…/attachments/{n}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<super::attachments::AttachmentView>>,
}

impl MessageView {
    fn open(row: MessageRow, keys: Option<&OwnerKeys>, periods: &PeriodStates) -> Result<Self> {
        let (bound, shredded) = match (&row.period_key_id, keys) {
            (Some(period), Some(keys)) => match periods.get(period) {
                Some(PeriodState::Live(p)) => (Some(keys.within_period(p)), false),
                _ => (None, true),
            },
            (None, Some(keys)) => (
                Some(OwnerKeys {
                    seal: keys.seal.clone(),
                    blind: keys.blind.clone(),
                }),
                false,
            ),
            (_, None) => (None, false),
        };
        let keys = bound.as_ref();
        let open = |column: &'static str,
                    sealed: &Option<Vec<u8>>|
         -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
            match (keys, sealed) {
                (Some(keys), Some(sealed)) => Ok(Some(
                    keys.seal
                        .open(&binding(&row.tenant_id, &row.id, column), sealed)?,
                )),
                _ => Ok(None),
            }
        };
        let text = |bytes: Option<zeroize::Zeroizing<Vec<u8>>>| -> Result<Option<String>> {
            bytes
                .map(|b| {
                    String::from_utf8(b.to_vec()).map_err(|_| {
                        Error::internal(anyhow::anyhow!("a sealed text field is not UTF-8"))
                    })
                })
                .transpose()
        };
        let body = text(open("body", &row.body_sealed)?)?;
        let external_id = text(open("external_id", &row.external_id_sealed)?)?;
        let raw: Option<serde_json::Value> = open("raw", &row.raw_sealed)?
            .map(|b| serde_json::from_slice(&b).map_err(Error::internal))
            .transpose()?;
        let kind = MessageKind::from_stored(&row.kind);
        let readable = keys.is_some() && row.content_deleted_at.is_none();
        let (content, reply_to) = if readable {
            let (content, reply_to) = crate::messages::parse::content::read(
                &row.channel,
                kind,
                raw.as_ref(),
                body.as_deref(),
            );
            (Some(content), reply_to)
        } else {
            (None, None)
        };
        Ok(Self {
            business_letter: row.business_letter,
            sent_by_bot: row.sent_by_bot,
            erased: keys.is_none() && !shredded,
            shredded,
            content_deleted_at: row.content_deleted_at.map(from_micros),
            direction: Direction::from_stored(&row.direction),
            kind,
            content,
            reply_to,
            occurred_at: from_micros(row.occurred_at),
            received_at: from_micros(row.received_at),
            body,
            external_id,
            raw,
            delivery_status_at: row.delivery_status_at.map(from_micros),
            delivery_status: row.delivery_status,
            channel_id: row.channel_id,
            status_history: None,
            attachments: None,
            id: row.id,
            contact_id: row.contact_id,
            channel: row.channel,
        })
    }
}

/// A restricted contact's data, read by the DPO.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RestrictedExport {
    /// The Art. 18(2) ground named for this read.
    pub ground: RestrictedGround,
    pub contact: contacts::ContactView,
    pub messages: Page<MessageView>,
}

type PeriodStates = std::collections::HashMap<String, PeriodState>;

/// Position in a contact's timeline: (occurred_at, id), encoded opaquely.
fn encode_cursor(row: &MessageRow) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", row.occurred_at, row.id))
}

fn decode_cursor(cursor: &str) -> Result<(i64, String)> {
    let invalid = || Error::invalid("after", "is not a cursor returned by this API");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once(':').ok_or_else(invalid)?;
    // The id is a message's UUID: anything else is refused here, not handed to a query.
    let id = crate::store::id::canonical(id).ok_or_else(invalid)?;
    Ok((at.parse().map_err(|_| invalid())?, id))
}

fn load_message(
    conn: &mut DbConn,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<MessageRow>, StoreError> {
    let mut row = messages::table
        .filter(messages::tenant_id.eq(id::bind(tenant.as_str())))
        .filter(messages::id.eq(id::bind(id)))
        .select(MessageRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = &mut row {
        super::status::with_current(conn, std::slice::from_mut(row))?;
    }
    Ok(row)
}

fn contact_page(
    conn: &mut DbConn,
    tenant: &TenantId,
    contact_id: &str,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<MessageRow>, StoreError> {
    let mut query = messages::table
        .filter(messages::tenant_id.eq(id::bind(tenant.as_str())))
        .filter(messages::contact_id.eq(id::bind(contact_id)))
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            messages::occurred_at.gt(at).or(messages::occurred_at
                .eq(at)
                .and(messages::id.gt(id::bind(&id)))),
        );
    }
    let mut rows = query
        .order((messages::occurred_at.asc(), messages::id.asc()))
        .limit(limit)
        .select(MessageRow::as_select())
        .load(conn)?;
    super::status::with_current(conn, &mut rows)?;
    Ok(rows)
}

/// A downloaded file, decrypted.
pub struct AttachmentContent {
    pub bytes: Vec<u8>,
    pub mime_type: Option<String>,
    /// The name the sender gave it, if any.
    pub filename: Option<String>,
}

impl Messages {
    /// One message, decrypted.
    pub async fn read(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<MessageView> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let (keys, t, id_owned) = (self.infra.keys.clone(), tenant.clone(), id.to_string());
        let (row, contact_keys, history, attachments, periods) = self
            .infra
            .store
            .read(move |conn| {
                let Some(row) = load_message(conn, &t, &id_owned)? else {
                    return Ok(Err(Error::NotFound));
                };
                if let Err(e) = refuse_if_restricted(conn, t.as_str(), &row.contact_id)? {
                    return Ok(Err(e));
                }
                let history = super::status::history(conn, t.as_str(), &row.id)?;
                let attachments = super::attachments::list(conn, t.as_str(), &row.id)?;
                let period_ids = row
                    .period_key_id
                    .iter()
                    .chain(history.iter().filter_map(|s| s.period_key_id.as_ref()))
                    .cloned()
                    .collect();
                let periods = match keys::open_blocking(&keys, conn, &period_ids) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                let contact_keys = match crate::contacts::keys_of(
                    &keys,
                    conn,
                    std::slice::from_ref(&row.contact_id),
                ) {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(e)),
                };
                // Each file's name, where its keys still open it (not shredded, not erased).
                let attachments: Vec<_> = attachments
                    .into_iter()
                    .map(|a| {
                        let mut view = a.view;
                        if let Some(base) = contact_keys.get(&row.contact_id) {
                            if let Ok(Ok(bound)) =
                                keys::bound_blocking(&keys, conn, base, a.period_key_id.as_deref())
                            {
                                view.filename = super::attachments::filename(
                                    &bound,
                                    t.as_str(),
                                    &a.id,
                                    &a.media_ref_sealed,
                                )
                                .ok()
                                .flatten();
                            }
                        }
                        view
                    })
                    .collect();
                Ok(Ok((row, contact_keys, history, attachments, periods)))
            })
            .await??;
        self.infra
            .record(
                AuditEvent::new(actor, "message.read")
                    .tenant(tenant)
                    .object("message", id),
            )
            .await?;
        let keys = contact_keys.get(&row.contact_id).cloned();
        let mut view = MessageView::open(row, keys.as_deref(), &periods)?;
        if !attachments.is_empty() {
            view.attachments = Some(attachments);
        }
        if !history.is_empty() {
            let tenant_keys = self.infra.tenant_keys(tenant).await?;
            view.status_history = Some(
                history
                    .iter()
                    .map(|s| match &s.period_key_id {
                        None => s.view(&tenant_keys),
                        Some(p) => match periods.get(p) {
                            Some(PeriodState::Live(pk)) => s.view(&tenant_keys.within_period(pk)),
                            _ => Ok(s.shredded_view()),
                        },
                    })
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        Ok(view)
    }

    /// The decrypted content of a message's `n`th attachment and its MIME type.
    pub async fn read_attachment(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        message_id: &str,
        n: i32,
    ) -> Result<AttachmentContent> {
        actor.authorize(tenant, Permission::ReadContent)?;
        // The API's and the interface's paths name the message: no UUID, no such message (a
        // column of 16-byte ids could not even bind it).
        let id = crate::store::id::canonical(message_id).ok_or(Error::NotFound)?;
        let (keys, t) = (self.infra.keys.clone(), tenant.clone());
        let (row, contact_keys) = self
            .infra
            .store
            .read(move |conn| {
                let Some(row) = super::attachments::find(conn, t.as_str(), &id, n)? else {
                    return Ok(Err(Error::NotFound));
                };
                let contact: String = messages::table
                    .filter(messages::id.eq(id::bind(&id)))
                    .select(messages::contact_id)
                    .first(conn)?;
                if let Err(e) = refuse_if_restricted(conn, t.as_str(), &contact)? {
                    return Ok(Err(e));
                }
                let found = crate::contacts::keys_of(&keys, conn, std::slice::from_ref(&contact));
                let contact_keys = match found {
                    Ok(mut k) => k.remove(&contact),
                    Err(e) => return Ok(Err(e)),
                };
                let bound = match contact_keys {
                    None => None,
                    Some(base) => {
                        match keys::bound_blocking(&keys, conn, &base, row.period_key_id.as_deref())
                        {
                            Ok(Ok(k)) => Some(k),
                            Ok(Err(_)) => {
                                return Ok(Err(Error::Conflict(
                                    "this file was shredded by retention".into(),
                                )))
                            }
                            Err(e) => return Ok(Err(e)),
                        }
                    }
                };
                Ok(Ok((row, bound)))
            })
            .await??;
        let Some(sealed) = row
            .content_sealed
            .as_ref()
            .filter(|_| row.state == "stored")
        else {
            return Err(Error::Conflict(format!(
                "the file is {} ({} download attempts{})",
                row.state,
                row.attempts,
                row.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            )));
        };
        let keys = contact_keys.ok_or_else(|| Error::Conflict("this contact was erased".into()))?;
        self.infra
            .record(
                AuditEvent::new(actor, "attachment.read")
                    .tenant(tenant)
                    .object("message", message_id)
                    .detail(format!("n={n}")),
            )
            .await?;
        let content = keys.seal.open(
            &super::attachments::binding(&row.tenant_id, &row.id, "content"),
            sealed,
        )?;
        let filename =
            super::attachments::filename(&keys, &row.tenant_id, &row.id, &row.media_ref_sealed)?;
        Ok(AttachmentContent {
            bytes: content.to_vec(),
            mime_type: row.mime_type,
            filename,
        })
    }

    /// A contact's messages in time order, decrypted, one page at a time.
    pub async fn read_of_contact(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        page: PageRequest,
    ) -> Result<Page<MessageView>> {
        actor.authorize(tenant, Permission::ReadContent)?;
        let event = AuditEvent::new(actor, "contact.messages.read")
            .tenant(tenant)
            .object("contact", contact_id);
        self.of_contact(tenant, contact_id, page, Some(event), true)
            .await
    }

    /// The DPO's read of a restricted contact: contact and messages, for one of the grounds
    /// Art. 18(2) allows, audited with that ground.
    pub async fn read_restricted(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        ground: RestrictedGround,
        page: PageRequest,
    ) -> Result<RestrictedExport> {
        actor.authorize(tenant, Permission::ReadRestricted)?;
        let (keys, t, cid) = (
            self.infra.keys.clone(),
            tenant.clone(),
            contact_id.to_string(),
        );
        let (row, contact_keys) = self
            .infra
            .store
            .read(move |conn| {
                let Some(row) = contacts::find(conn, &t, &cid)? else {
                    return Ok(Err(Error::NotFound));
                };
                Ok(
                    crate::contacts::keys_of(&keys, conn, std::slice::from_ref(&cid))
                        .map(|k| (row, k)),
                )
            })
            .await??;
        let event = AuditEvent::new(actor, "contact.restricted.read")
            .tenant(tenant)
            .object("contact", contact_id)
            .detail(format!("ground={}", ground.as_str()));
        let messages = self
            .of_contact(tenant, contact_id, page, Some(event), false)
            .await?;
        let contact = contacts::ContactView::open_restricted(
            &row,
            contact_keys.get(contact_id).map(|k| k.as_ref()),
        )?;
        Ok(RestrictedExport {
            ground,
            contact,
            messages,
        })
    }

    /// A page of a contact's messages, opened. `event` is recorded before any content leaves;
    /// None only for callers that audit the whole operation themselves (the DSR export).
    pub(crate) async fn of_contact(
        &self,
        tenant: &TenantId,
        contact_id: &str,
        page: PageRequest,
        event: Option<AuditEvent>,
        refuse_restricted: bool,
    ) -> Result<Page<MessageView>> {
        let after = page.after.as_deref().map(decode_cursor).transpose()?;
        let limit = i64::from(page.limit);
        let (keys, t, cid) = (
            self.infra.keys.clone(),
            tenant.clone(),
            contact_id.to_string(),
        );
        let (rows, contact_keys, periods) = self
            .infra
            .store
            .read(move |conn| {
                if contacts::find(conn, &t, &cid)?.is_none() {
                    return Ok(Err(Error::NotFound));
                }
                if refuse_restricted {
                    if let Err(e) = refuse_if_restricted(conn, t.as_str(), &cid)? {
                        return Ok(Err(e));
                    }
                }
                let rows = contact_page(conn, &t, &cid, after, limit + 1)?;
                let period_ids = rows
                    .iter()
                    .filter_map(|r| r.period_key_id.clone())
                    .collect();
                let periods = match keys::open_blocking(&keys, conn, &period_ids) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                let keys = crate::contacts::keys_of(&keys, conn, std::slice::from_ref(&cid));
                Ok(keys.map(|k| (rows, k, periods)))
            })
            .await??;
        if let Some(event) = event {
            let count = format!("count={}", rows.len().min(page.limit as usize));
            let event = match event.detail.clone() {
                Some(d) => event.detail(format!("{d} {count}")),
                None => event.detail(count),
            };
            self.infra.record(event).await?;
        }
        let keys = contact_keys.get(contact_id).cloned();
        let mut rows = rows;
        let next_cursor = if rows.len() > page.limit as usize {
            rows.truncate(page.limit as usize);
            rows.last().map(encode_cursor)
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|row| MessageView::open(row, keys.as_deref(), &periods))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let row = MessageRow {
            id: "0195f2a4-7c1e-7b3a-9d2e-000000000001".into(),
            tenant_id: String::new(),
            contact_id: String::new(),
            channel: String::new(),
            direction: "in".into(),
            kind: "text".into(),
            occurred_at: 42,
            received_at: 0,
            external_index: None,
            external_id_sealed: None,
            body_sealed: None,
            raw_sealed: None,
            channel_id: None,
            delivery_status: None,
            delivery_status_at: None,
            idempotency_index: None,
            period_key_id: None,
            content_deleted_at: None,
            business_letter: false,
            sent_by_bot: None,
        };
        assert_eq!(
            decode_cursor(&encode_cursor(&row)).unwrap(),
            (42, row.id.clone())
        );
        assert!(decode_cursor("!!").is_err());
        // A cursor's id is a message's UUID: anything else is refused before any query.
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("42:abc")).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("x:y")).is_err());
    }
}

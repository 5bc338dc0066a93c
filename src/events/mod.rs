//! Outbound event webhooks: a tenant registers URLs of its own systems (CRM, UC platform) that
//! receive new inbound messages and delivery-status changes as JSON. Events are queued in the
//! same transaction as the change they report, so none is lost; delivery is retried with
//! backoff, and every attempt is visible through the API. Each request is signed:
//! `X-Hafen-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
//! `X-Hafen-Timestamp`, so the receiver can check origin and freshness.

mod delivery;
mod hooks;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::crypto::keyring::OwnerKeys;
use crate::crypto::FieldBinding;
use crate::egress::{Purpose, Refusal};
use crate::error::{Error, Result};
use crate::infra::Infra;
use crate::page::{Page, PageRequest};
use crate::store::id;
use crate::store::schema::{event_deliveries, event_hooks};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

pub use delivery::*;
pub use hooks::*;

/// Attempts before a delivery is given up (it stays listed as `failed`).
pub const MAX_ATTEMPTS: i32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    #[serde(rename = "message.received")]
    MessageReceived,
    #[serde(rename = "message.status")]
    MessageStatus,
    /// A contact was erased or restricted on request (Art. 19 GDPR): sent to every hook,
    /// whatever it subscribed to.
    #[serde(rename = "contact.erasure")]
    ContactErasure,
    /// An inbound message for the channel's bot (docs/channels.md, "Chatbots"): delivered only
    /// to that bot's hook, never to the company's hooks.
    #[serde(rename = "bot.message")]
    BotMessage,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::MessageStatus => "message.status",
            Self::ContactErasure => "contact.erasure",
            Self::BotMessage => "bot.message",
        }
    }

    /// Events every hook receives: the law requires telling recipients (Art. 19 GDPR).
    fn is_legal_notice(self) -> bool {
        self == Self::ContactErasure
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "message.received" => Some(Self::MessageReceived),
            "message.status" => Some(Self::MessageStatus),
            "contact.erasure" => Some(Self::ContactErasure),
            "bot.message" => Some(Self::BotMessage),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub event: String,
    /// pending, delivered or failed.
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = event_hooks)]
pub(crate) struct HookRow {
    pub(crate) id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    tenant_id: String,
    url_sealed: Vec<u8>,
    secret_sealed: Vec<u8>,
    events: String,
    enabled: bool,
    created_at: i64,
    /// A bot's hook: receives only the events of this channel's messages.
    channel_id: Option<String>,
}

impl HookRow {
    /// A hook with its URL and secret sealed under the tenant's keys.
    pub(crate) fn sealed(
        keys: &OwnerKeys,
        tenant: &str,
        (url, secret): (&str, &str),
        events: &[EventKind],
        channel_id: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        Ok(Self {
            url_sealed: keys
                .seal
                .seal(&binding(tenant, "event_hooks", "url", &id), url.as_bytes())?,
            secret_sealed: keys.seal.seal(
                &binding(tenant, "event_hooks", "secret", &id),
                secret.as_bytes(),
            )?,
            id,
            tenant_id: tenant.to_string(),
            events: events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(","),
            enabled: true,
            created_at: to_micros(now),
            channel_id,
        })
    }

    pub(crate) fn insert(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        diesel::insert_into(event_hooks::table)
            .values(self.clone())
            .execute(conn)?;
        Ok(())
    }

    /// The hook's URL, opened.
    pub(crate) fn url(&self, keys: &OwnerKeys) -> Result<String> {
        Ok(keys.seal.open_string(
            &binding(&self.tenant_id, "event_hooks", "url", &self.id),
            &self.url_sealed,
        )?)
    }

    pub(crate) fn find(
        conn: &mut DbConn,
        tenant: &str,
        id: &str,
    ) -> Result<Option<Self>, StoreError> {
        Ok(event_hooks::table
            .filter(event_hooks::tenant_id.eq(id::bind(tenant)))
            .filter(event_hooks::id.eq(id))
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// Stops deliveries to the hook (a removed bot's); what was delivered stays listed.
    pub(crate) fn disable(conn: &mut DbConn, id: &str) -> Result<(), StoreError> {
        diesel::update(event_hooks::table.filter(event_hooks::id.eq(id)))
            .set(event_hooks::enabled.eq(false))
            .execute(conn)?;
        diesel::update(
            event_deliveries::table
                .filter(event_deliveries::hook_id.eq(id))
                .filter(event_deliveries::state.eq("pending")),
        )
        .set((
            event_deliveries::state.eq("failed"),
            event_deliveries::last_error.eq("the bot was removed"),
        ))
        .execute(conn)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = event_deliveries)]
struct DeliveryRow {
    /// Stored as its 16 bytes (`store::id`): a row is inserted by value.
    #[diesel(serialize_as = crate::store::id::BoundId)]
    id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    tenant_id: String,
    hook_id: String,
    event: String,
    payload_sealed: Vec<u8>,
    state: String,
    attempts: i32,
    next_attempt_at: i64,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
    /// The payload is sealed under the tenant key bound to this period key.
    period_key_id: Option<String>,
}

fn binding<'a>(
    tenant: &'a str,
    table: &'static str,
    column: &'static str,
    row: &'a str,
) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table,
        column,
        row,
    }
}

/// Queues one delivery per subscribed, enabled hook for each event. Runs inside the write
/// transaction of the change the events report.
pub fn enqueue(
    conn: &mut DbConn,
    tenant: &str,
    (period_key_id, keys): (&str, &OwnerKeys),
    events: Vec<(EventKind, serde_json::Value)>,
    now: i64,
) -> Result<usize, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let hooks: Vec<(String, String, Option<String>)> = event_hooks::table
        .filter(event_hooks::tenant_id.eq(id::bind(tenant)))
        .filter(event_hooks::enabled.eq(true))
        .select((
            event_hooks::id,
            event_hooks::events,
            event_hooks::channel_id,
        ))
        .load(conn)?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let restricted = Restricted::find(conn, tenant, events.iter().map(|(_, p)| p))?;
    let mut queued = 0;
    for (kind, payload) in events {
        let mut payload = restricted.withhold(kind, payload);
        for (hook_id, subscribed, channel) in &hooks {
            let wanted = kind.is_legal_notice()
                || (subscribed.split(',').any(|e| e == kind.as_str())
                    // A bot's hook gets its own channel's messages only.
                    && channel
                        .as_deref()
                        .is_none_or(|c| payload["message"]["channel_id"] == c));
            if !wanted {
                continue;
            }
            let id = uuid::Uuid::now_v7().hyphenated().to_string();
            payload["delivery_id"] = serde_json::json!(id);
            let body = zeroize::Zeroizing::new(
                serde_json::to_vec(&payload).map_err(|e| StoreError::Commit(e.to_string()))?,
            );
            let row = DeliveryRow {
                payload_sealed: keys
                    .seal
                    .seal(&binding(tenant, "event_deliveries", "payload", &id), &body)?,
                id,
                tenant_id: tenant.to_string(),
                hook_id: hook_id.clone(),
                event: kind.as_str().to_string(),
                state: "pending".into(),
                attempts: 0,
                next_attempt_at: now,
                last_status: None,
                last_error: None,
                created_at: now,
                delivered_at: None,
                period_key_id: Some(period_key_id.to_string()),
            };
            diesel::insert_into(event_deliveries::table)
                .values(row)
                .execute(conn)?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// The events service: the company's event hooks, and delivering what they subscribed to.
#[derive(Debug, Clone)]
pub struct Events {
    pub(crate) infra: Infra,
}

/// Deletes these event deliveries (their sealed payloads) — retention's webhook logs.
pub fn delete_deliveries(
    conn: &mut DbConn,
    tenant: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    diesel::delete(
        event_deliveries::table
            .filter(event_deliveries::id.eq_any(id::bind_all(ids)))
            .filter(
                crate::store::backend::only_checked_id(event_deliveries::tenant_id)
                    .eq(id::bind(tenant)),
            )
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
}

impl Events {
    pub fn new(infra: Infra) -> Self {
        Self { infra }
    }

    /// The keys of a delivery's payload: the tenant key bound to its period key.
    async fn delivery_keys(
        &self,
        tenant_keys: &std::sync::Arc<OwnerKeys>,
        period: Option<&str>,
    ) -> Result<std::sync::Arc<OwnerKeys>> {
        let (keyring, base, period) = (
            self.infra.keys.clone(),
            tenant_keys.clone(),
            period.map(str::to_string),
        );
        self.infra
            .store
            .read(move |conn| {
                Ok(
                    crate::periods::bound_blocking(&keyring, conn, &base, period.as_deref())
                        .and_then(|bound| {
                            bound.map_err(|_| {
                                Error::Conflict("the event was shredded by retention".into())
                            })
                        }),
                )
            })
            .await?
    }

    /// A hook's delivery attempts, newest first, one page at a time.
    pub async fn list_deliveries(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        hook: &str,
        page: PageRequest,
    ) -> Result<Page<DeliveryView>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let before = page
            .after
            .as_deref()
            .map(|a| uuid::Uuid::try_parse(a).map(|u| u.hyphenated().to_string()))
            .transpose()
            .map_err(|_| Error::invalid("after", "is not a cursor returned by this API"))?;
        let limit = i64::from(page.limit);
        let (t, h) = (tenant.clone(), hook.to_string());
        let mut rows = self
            .infra
            .store
            .read(move |conn| {
                let exists: Option<String> = event_hooks::table
                    .filter(event_hooks::id.eq(&h))
                    .filter(event_hooks::tenant_id.eq(id::bind(t.as_str())))
                    .select(event_hooks::id)
                    .first(conn)
                    .optional()?;
                if exists.is_none() {
                    return Ok(None);
                }
                let mut query = event_deliveries::table
                    .filter(event_deliveries::hook_id.eq(&h))
                    .into_boxed();
                if let Some(before) = &before {
                    query = query.filter(event_deliveries::id.lt(id::bind(before)));
                }
                Ok(Some(
                    query
                        .order(event_deliveries::id.desc())
                        .limit(limit + 1)
                        .select(DeliveryRow::as_select())
                        .load(conn)?,
                ))
            })
            .await?
            .ok_or(Error::NotFound)?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.clone())
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|r| DeliveryView {
                next_attempt_at: (r.state == "pending").then(|| from_micros(r.next_attempt_at)),
                id: r.id,
                event: r.event,
                state: r.state,
                attempts: r.attempts,
                last_status: r.last_status,
                last_error: r.last_error,
                created_at: from_micros(r.created_at),
                delivered_at: r.delivered_at.map(from_micros),
            })
            .collect();
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = signature("secret-secret-16", 1, b"{}");
        assert!(a.starts_with("sha256="));
        assert_ne!(a, signature("secret-secret-16", 2, b"{}"));
        assert_ne!(a, signature("secret-secret-16", 1, b"{ }"));
        assert_ne!(a, signature("other-secret-xx", 1, b"{}"));
        assert!(validate_url("http://example.com/hook").is_err());
        assert!(validate_url("https://crm.example.com/hook").is_ok());
        assert!(validate_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(validate_url("http://localhost.evil.example/hook").is_err());
        assert!(validate_url("http://127.evil.example/hook").is_err());
        assert!(validate_url("http://localhost@evil.example/hook").is_err());
        assert!(validate_url("https://user:pw@crm.example.com/hook").is_err());
    }

    /// Every receipt queued for a hook asks whether its message's contact is restricted
    /// (Art. 18): asked by the messages' ids, not by reading the tenant's messages (SQLite,
    /// without statistics, took the tenant's time index — a scan of every stored message for
    /// each group of receipts, on the ingest path).
    #[test]
    fn restricted_contacts_are_found_from_the_events_ids() {
        let mut conn = crate::store::plans::migrated_sqlite();
        // A group of receipts, as after a broadcast (with a handful of ids SQLite still
        // probed each one).
        let payloads: Vec<serde_json::Value> = (0..50)
            .map(|n| {
                serde_json::json!({"status": {"message_id": format!("00000000-0000-7000-8000-{n:012}")}})
            })
            .chain([serde_json::json!({"message": {"contact_id": "00000000-0000-7000-a000-000000000001"}})])
            .collect();
        crate::store::plans::assert_reads_only_named_rows(&mut conn, 2, |conn| {
            delivery::Restricted::find(
                conn,
                "00000000-0000-7000-b000-000000000001",
                payloads.iter(),
            )
            .unwrap();
        });
    }
}

//! Outbound event webhooks: a tenant registers URLs of its own systems (CRM, UC platform) that
//! receive new inbound messages and delivery-status changes as JSON. Events are queued in the
//! same transaction as the change they report, so none is lost; delivery is retried with
//! backoff, and every attempt is visible through the API. Each request is signed:
//! `X-Hafen-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
//! `X-Hafen-Timestamp`, so the receiver can check origin and freshness.

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
use crate::store::schema::{event_deliveries, event_hooks};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// Attempts before a delivery is given up (it stays listed as `failed`).
pub const MAX_ATTEMPTS: i32 = 12;
const LEASE: Duration = Duration::minutes(2);

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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    /// HTTPS URL (plain HTTP only for localhost) that receives the events.
    pub url: String,
    /// Signing secret; generated when absent and returned once.
    #[serde(default)]
    pub secret: Option<String>,
    /// Default: all events.
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookView {
    pub id: String,
    pub url: String,
    pub events: Vec<EventKind>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// Only in the answer to the creation: the signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
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
            .values(self)
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
            .filter(event_hooks::tenant_id.eq(tenant))
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

/// A signing secret: the caller's (checked for strength), or 32 random bytes.
pub(crate) fn signing_secret(given: Option<String>) -> Result<String> {
    match given {
        Some(s) if s.len() > 256 || s.chars().any(char::is_control) => Err(Error::invalid(
            "secret",
            "must be at most 256 characters without control characters",
        )),
        Some(s) => {
            crate::crypto::strength::check(&s)
                .map_err(|reason| Error::invalid("secret", reason))?;
            Ok(s)
        }
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            Ok(URL_SAFE_NO_PAD.encode(bytes))
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = event_deliveries)]
struct DeliveryRow {
    id: String,
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

/// The form of a hook URL; where it may lead is the egress policy's question.
pub(crate) fn validate_url(url: &str) -> Result<url::Url> {
    let invalid = || {
        Error::invalid(
            "url",
            "must be an https:// URL (http:// only for localhost) of at most 2048 characters",
        )
    };
    if url.len() > 2048 {
        return Err(invalid());
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    // Plain HTTP only where nothing crosses a network; decided on the parsed host, so
    // "http://localhost.example" or "http://localhost@example" do not pass.
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let ok = match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => loopback,
        _ => false,
    };
    if !ok || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid());
    }
    Ok(parsed)
}

/// Why a delivery was refused by the egress policy, as the tenant sees it in the delivery log.
const REFUSED_DELIVERY: &str = "not sent: the hook's address is not a public internet address and not on the install's outbound allow-list (outbound_allow); an admin can allow an internal system there";

/// Signs `body` as the receiver will check it.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
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
        .filter(event_hooks::tenant_id.eq(tenant))
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
                .values(&row)
                .execute(conn)?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Art. 18 GDPR: the contacts among a batch of events whose processing is restricted. Their
/// events still say that something happened — ids only — so the company's systems stay in step,
/// but carry nothing about whom or what: no address, name, body or platform id.
#[derive(Debug, Default)]
struct Restricted {
    contacts: std::collections::HashSet<String>,
    messages: std::collections::HashSet<String>,
}

impl Restricted {
    fn find<'a>(
        conn: &mut DbConn,
        tenant: &str,
        payloads: impl Iterator<Item = &'a serde_json::Value>,
    ) -> Result<Self, StoreError> {
        use crate::store::schema::{contacts, messages};
        let (mut contact_ids, mut message_ids) = (Vec::new(), Vec::new());
        for p in payloads {
            if let Some(c) = p["message"]["contact_id"].as_str() {
                contact_ids.push(c.to_string());
            }
            if let Some(m) = p["status"]["message_id"].as_str() {
                message_ids.push(m.to_string());
            }
        }
        let mut found = Self::default();
        if !contact_ids.is_empty() {
            found.contacts = contacts::table
                .filter(contacts::tenant_id.eq(tenant))
                .filter(contacts::id.eq_any(&contact_ids))
                .filter(contacts::restricted_at.is_not_null())
                .select(contacts::id)
                .load::<String>(conn)?
                .into_iter()
                .collect();
        }
        if !message_ids.is_empty() {
            found.messages = messages::table
                .inner_join(contacts::table.on(contacts::id.eq(messages::contact_id)))
                .filter(messages::tenant_id.eq(tenant))
                .filter(messages::id.eq_any(&message_ids))
                .filter(contacts::restricted_at.is_not_null())
                .select(messages::id)
                .load::<String>(conn)?
                .into_iter()
                .collect();
        }
        Ok(found)
    }

    fn covers(&self, payload: &serde_json::Value) -> bool {
        payload["message"]["contact_id"]
            .as_str()
            .is_some_and(|c| self.contacts.contains(c))
            || payload["status"]["message_id"]
                .as_str()
                .is_some_and(|m| self.messages.contains(m))
    }

    /// The event as the company's systems may receive it.
    fn withhold(&self, kind: EventKind, payload: serde_json::Value) -> serde_json::Value {
        if kind.is_legal_notice() || !self.covers(&payload) {
            return payload;
        }
        let p = &payload;
        match kind {
            EventKind::MessageReceived | EventKind::BotMessage => serde_json::json!({
                "event": p["event"],
                "tenant_id": p["tenant_id"],
                "restricted": true,
                "message": {
                    "id": p["message"]["id"],
                    "contact_id": p["message"]["contact_id"],
                    "channel": p["message"]["channel"],
                    "channel_id": p["message"]["channel_id"],
                },
                "contact": { "id": p["message"]["contact_id"], "restricted": true },
            }),
            _ => serde_json::json!({
                "event": p["event"],
                "tenant_id": p["tenant_id"],
                "restricted": true,
                "status": { "message_id": p["status"]["message_id"] },
            }),
        }
    }
}

/// Claims a due delivery for one attempt (see `Hafen::claim_for_attempt`).
fn claim_delivery(
    conn: &mut DbConn,
    row: &DeliveryRow,
    now: i64,
    lease: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        event_deliveries::table
            .filter(event_deliveries::id.eq(&row.id))
            .filter(event_deliveries::next_attempt_at.le(now)),
    )
    .set(event_deliveries::next_attempt_at.eq(lease))
    .execute(conn)?)
}

/// Whether a delivered event carries personal data (and so is audited): a message with its
/// contact's address, name and body. Statuses carry ids and a state; erasure notices ids.
fn carries_personal_data(payload: &serde_json::Value) -> bool {
    (payload["event"] == EventKind::MessageReceived.as_str()
        || payload["event"] == EventKind::BotMessage.as_str())
        && payload["restricted"] != true
}

/// The events service: the company's event hooks, and delivering what they subscribed to.
#[derive(Debug, Clone)]
pub struct Events {
    pub(crate) infra: Infra,
}

impl Events {
    pub fn new(infra: Infra) -> Self {
        Self { infra }
    }
}

impl Events {
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

    pub async fn create_hook(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: HookInput,
    ) -> Result<HookView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let url = validate_url(&input.url)?;
        if let Err(refused) = self
            .infra
            .outbound
            .policy()
            .check_reachable(&url, Purpose::Hook)
            .await
        {
            return Err(Error::invalid("url", refused.to_string()));
        }
        let secret = signing_secret(input.secret)?;
        let mut events = input
            .events
            .unwrap_or_else(|| vec![EventKind::MessageReceived, EventKind::MessageStatus]);
        events.dedup();
        if events.is_empty() {
            return Err(Error::invalid("events", "name at least one event"));
        }
        if events.contains(&EventKind::BotMessage) {
            return Err(Error::invalid(
                "events",
                "bot.message goes to a channel's bot: register the bot (POST /v1/tenants/{tenant}/bots)",
            ));
        }
        let keys = self.infra.tenant_keys(tenant).await?;
        let now = self.infra.clock.now();
        let row = HookRow::sealed(
            &keys,
            tenant.as_str(),
            (&input.url, &secret),
            &events,
            None,
            now,
        )?;
        let id = row.id.clone();
        let event = AuditEvent::new(actor, "event_hook.create")
            .tenant(tenant)
            .object("event_hook", &id);
        self.infra
            .store
            .write(move |conn| {
                row.insert(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(HookView {
            id,
            url: input.url,
            events,
            enabled: true,
            created_at: now,
            secret: Some(secret),
        })
    }

    pub async fn list_hooks(&self, actor: &Actor, tenant: &TenantId) -> Result<Vec<HookView>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let t = tenant.clone();
        let rows: Vec<HookRow> = self
            .infra
            .store
            .read(move |conn| {
                // A bot's hook is the bot's: listed, and removed, with it (`…/bots`).
                Ok(event_hooks::table
                    .filter(event_hooks::tenant_id.eq(t.as_str()))
                    .filter(event_hooks::channel_id.is_null())
                    .order(event_hooks::id.asc())
                    .select(HookRow::as_select())
                    .load(conn)?)
            })
            .await?;
        rows.into_iter()
            .map(|r| {
                let url = keys.seal.open_string(
                    &binding(&r.tenant_id, "event_hooks", "url", &r.id),
                    &r.url_sealed,
                )?;
                Ok(HookView {
                    events: r.events.split(',').filter_map(EventKind::parse).collect(),
                    id: r.id,
                    url,
                    enabled: r.enabled,
                    created_at: from_micros(r.created_at),
                    secret: None,
                })
            })
            .collect()
    }

    pub async fn delete_hook(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<()> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        self.infra.ensure_tenant(tenant).await?;
        let (t, id_owned) = (tenant.clone(), id.to_string());
        let at = self.infra.clock.now();
        let event = AuditEvent::new(actor, "event_hook.delete")
            .tenant(tenant)
            .object("event_hook", id);
        let deleted = self.infra
            .store
            .write(move |conn| {
                diesel::delete(
                    event_deliveries::table
                        .filter(event_deliveries::hook_id.eq(&id_owned))
                        .filter(event_deliveries::tenant_id.eq(t.as_str())),
                )
                .execute(conn)?;
                if HookRow::find(conn, t.as_str(), &id_owned)?
                    .is_some_and(|h| h.channel_id.is_some())
                {
                    return Err(StoreError::from(Error::Conflict(
                        "this hook delivers to a bot: remove the bot (DELETE /v1/tenants/{tenant}/bots/{id})"
                            .into(),
                    )));
                }
                let n = diesel::delete(
                    event_hooks::table
                        .filter(event_hooks::id.eq(&id_owned))
                        .filter(event_hooks::tenant_id.eq(t.as_str())),
                )
                .execute(conn)?;
                if n > 0 {
                    audit::append(conn, at, event.clone())?;
                }
                Ok(n)
            })
            .await?;
        if deleted == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
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
                    .filter(event_hooks::tenant_id.eq(t.as_str()))
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
                    query = query.filter(event_deliveries::id.lt(before.clone()));
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

    /// Delivers every queued event whose time has come; returns how many were attempted.
    pub async fn run_due_deliveries(&self) -> Result<usize> {
        let now = to_micros(self.infra.clock.now());
        let due: Vec<DeliveryRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(event_deliveries::table
                    .filter(event_deliveries::state.eq("pending"))
                    .filter(event_deliveries::next_attempt_at.le(now))
                    .order(event_deliveries::next_attempt_at.asc())
                    .limit(100)
                    .select(DeliveryRow::as_select())
                    .load(conn)?)
            })
            .await?;
        let mut attempted = Vec::new();
        for row in due {
            if self
                .infra
                .claim_for_attempt(&row, (now, LEASE), claim_delivery)
                .await?
            {
                attempted.push(self.deliver_event(row).await?);
            }
        }
        let count = attempted.len();
        self.audit_deliveries(attempted).await?;
        Ok(count)
    }

    /// The payload as it may leave now: a contact restricted since the event was queued gets
    /// the withheld form.
    async fn deliverable(
        &self,
        row: &DeliveryRow,
        body: zeroize::Zeroizing<Vec<u8>>,
    ) -> Result<(zeroize::Zeroizing<Vec<u8>>, Exposure)> {
        let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return Ok((body, Exposure::None));
        };
        let Some(kind) = EventKind::parse(&row.event) else {
            return Ok((body, Exposure::None));
        };
        let (tenant, probe) = (row.tenant_id.clone(), payload.clone());
        let restricted = self
            .infra
            .store
            .read(move |conn| Restricted::find(conn, &tenant, std::iter::once(&probe)))
            .await?;
        if !restricted.covers(&payload) {
            let exposure = match carries_personal_data(&payload) {
                true => Exposure::Personal,
                false => Exposure::None,
            };
            return Ok((body, exposure));
        }
        let withheld = restricted.withhold(kind, payload);
        let bytes = serde_json::to_vec(&withheld).map_err(|e| Error::Internal(e.into()))?;
        Ok((zeroize::Zeroizing::new(bytes), Exposure::Withheld))
    }

    async fn deliver_event(&self, row: DeliveryRow) -> Result<DeliverySummary> {
        let mut summary = DeliverySummary {
            tenant: row.tenant_id.clone(),
            hook: row.hook_id.clone(),
            ..Default::default()
        };
        let tenant = TenantId::parse(&row.tenant_id)?;
        let keys = self.infra.tenant_keys(&tenant).await?;
        let hook_id = row.hook_id.clone();
        let hook: Option<HookRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(event_hooks::table
                    .filter(event_hooks::id.eq(&hook_id))
                    .select(HookRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        let t = row.tenant_id.as_str();
        let outcome = match hook {
            None => Err((None, "the hook was deleted".to_string(), false)),
            Some(hook) => {
                let url = keys.seal.open_string(
                    &binding(t, "event_hooks", "url", &hook.id),
                    &hook.url_sealed,
                )?;
                let secret = zeroize::Zeroizing::new(keys.seal.open_string(
                    &binding(t, "event_hooks", "secret", &hook.id),
                    &hook.secret_sealed,
                )?);
                let body = self
                    .delivery_keys(&keys, row.period_key_id.as_deref())
                    .await?
                    .seal
                    .open(
                        &binding(t, "event_deliveries", "payload", &row.id),
                        &row.payload_sealed,
                    )?;
                let (body, exposure) = self.deliverable(&row, body).await?;
                summary.personal = exposure == Exposure::Personal;
                summary.restricted = exposure == Exposure::Withheld;
                let timestamp = self.infra.clock.now().timestamp();
                match self.infra.outbound.post_hook(&url) {
                    Err(refused) => Err(refused_delivery(&row, &refused)),
                    Ok(request) => {
                        let sent = request
                            .header("content-type", "application/json")
                            .header("x-hafen-event", &row.event)
                            .header("x-hafen-delivery", &row.id)
                            .header("x-hafen-timestamp", timestamp.to_string())
                            .header("x-hafen-signature", signature(&secret, timestamp, &body))
                            .body(body.to_vec())
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
                            Ok(r) => Err((
                                Some(r.status().as_u16()),
                                format!("the receiver answered HTTP {}", r.status().as_u16()),
                                true,
                            )),
                            Err(e) => match Refusal::in_error(&e) {
                                Some(refused) => Err(refused_delivery(&row, refused)),
                                None => Err((None, format!("network: {}", e.without_url()), true)),
                            },
                        }
                    }
                }
            }
        };
        summary.delivered = outcome.is_ok();
        let now = self.infra.clock.now();
        let attempts = row.attempts + 1;
        let id = row.id.clone();
        self.infra
            .store
            .write(move |conn| {
                let target = event_deliveries::table.filter(event_deliveries::id.eq(&id));
                match &outcome {
                    Ok(status) => {
                        diesel::update(target)
                            .set((
                                event_deliveries::state.eq("delivered"),
                                event_deliveries::attempts.eq(attempts),
                                event_deliveries::last_status.eq(Some(i32::from(*status))),
                                event_deliveries::last_error.eq(None::<String>),
                                event_deliveries::delivered_at.eq(Some(to_micros(now))),
                            ))
                            .execute(conn)?;
                    }
                    Err((status, error, retry)) => {
                        let give_up = !*retry || attempts >= MAX_ATTEMPTS;
                        // 30 s, 1 min, 2 min … capped at 6 hours.
                        let wait =
                            Duration::seconds(30 * 2i64.pow((attempts - 1).clamp(0, 10) as u32))
                                .min(Duration::hours(6));
                        diesel::update(target)
                            .set((
                                event_deliveries::state.eq(if give_up {
                                    "failed"
                                } else {
                                    "pending"
                                }),
                                event_deliveries::attempts.eq(attempts),
                                event_deliveries::last_status.eq(status.map(i32::from)),
                                event_deliveries::last_error.eq(Some(error)),
                                event_deliveries::next_attempt_at.eq(to_micros(now + wait)),
                            ))
                            .execute(conn)?;
                    }
                }
                Ok(())
            })
            .await?;
        Ok(summary)
    }

    /// One audit entry per hook and batch: what left Hafen, and how much of it was personal.
    async fn audit_deliveries(&self, attempts: Vec<DeliverySummary>) -> Result<()> {
        let mut per_hook: std::collections::BTreeMap<(String, String), [usize; 4]> =
            Default::default();
        for a in attempts {
            let counts = per_hook.entry((a.tenant, a.hook)).or_default();
            if a.delivered {
                counts[0] += 1;
                counts[1] += usize::from(a.personal);
                counts[2] += usize::from(a.restricted);
            } else {
                counts[3] += 1;
            }
        }
        let entries: Vec<AuditEvent> = per_hook
            .into_iter()
            .filter(|(_, [delivered, ..])| *delivered > 0)
            .filter_map(|((tenant, hook), [delivered, personal, restricted, failed])| {
                let tenant = TenantId::parse(&tenant).ok()?;
                Some(
                    AuditEvent::new(&Actor::System, "event.deliver")
                        .tenant(&tenant)
                        .object("event_hook", hook)
                        .detail(format!(
                            "delivered={delivered} personal_data={personal} restricted_withheld={restricted} failed={failed}"
                        )),
                )
            })
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let at = self.infra.clock.now();
        self.infra
            .store
            .write(move |conn| {
                for e in &entries {
                    audit::append(conn, at, e.clone())?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// What a delivered event tells about a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exposure {
    /// A message with its contact's address, name and body.
    Personal,
    /// A restricted contact's event: ids only.
    Withheld,
    /// Ids and states only.
    None,
}

/// What one delivery attempt did, for the audit entry of its batch.
#[derive(Debug, Default)]
struct DeliverySummary {
    tenant: String,
    hook: String,
    delivered: bool,
    personal: bool,
    restricted: bool,
}

/// A delivery the egress policy refused: logged for the admin, failed for good, and the reason
/// the tenant sees says nothing about what is behind the address.
fn refused_delivery(row: &DeliveryRow, refused: &Refusal) -> (Option<u16>, String, bool) {
    tracing::warn!(
        tenant = %row.tenant_id,
        hook = %row.hook_id,
        delivery = %row.id,
        host = %refused.host,
        reason = %refused.reason,
        "event delivery refused by the outbound policy"
    );
    (None, REFUSED_DELIVERY.to_string(), false)
}

/// Deletes these event deliveries (their sealed payloads) — retention's webhook logs.
pub fn delete_deliveries(
    conn: &mut DbConn,
    tenant: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    diesel::delete(
        event_deliveries::table
            .filter(event_deliveries::tenant_id.eq(tenant))
            .filter(event_deliveries::id.eq_any(ids))
            .filter(crate::store::backend::plan_with_actual_values()),
    )
    .execute(conn)?;
    Ok(())
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
}

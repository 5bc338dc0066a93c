//! Delivering queued events: claimed one at a time, signed, posted, retried with backoff up
//! to `MAX_ATTEMPTS`, personal data withheld from a restricted contact, every attempt audited.

use super::*;
use crate::store::id;

pub(super) const LEASE: Duration = Duration::minutes(2);

/// Why a delivery was refused by the egress policy, as the tenant sees it in the delivery log.
pub(super) const REFUSED_DELIVERY: &str = "not sent: the hook's address is not a public internet address and not on the install's outbound allow-list (outbound_allow); an admin can allow an internal system there";

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

/// Art. 18 GDPR: the contacts among a batch of events whose processing is restricted. Their
/// events still say that something happened — ids only — so the company's systems stay in step,
/// but carry nothing about whom or what: no address, name, body or platform id.
#[derive(Debug, Default)]
pub(super) struct Restricted {
    pub(super) contacts: std::collections::HashSet<String>,
    pub(super) messages: std::collections::HashSet<String>,
}

impl Restricted {
    pub(super) fn find<'a>(
        conn: &mut DbConn,
        tenant: &str,
        payloads: impl Iterator<Item = &'a serde_json::Value>,
    ) -> Result<Self, StoreError> {
        use crate::store::schema::{contacts, messages};
        let (mut contact_ids, mut message_ids) = (Vec::new(), Vec::new());
        // Hafen's own ids (canonical UUIDs); anything else names no stored contact or message.
        for p in payloads {
            if let Some(c) = p["message"]["contact_id"]
                .as_str()
                .and_then(crate::store::id::canonical)
            {
                contact_ids.push(c);
            }
            if let Some(m) = p["status"]["message_id"]
                .as_str()
                .and_then(crate::store::id::canonical)
            {
                message_ids.push(m);
            }
        }
        let mut found = Self::default();
        if !contact_ids.is_empty() {
            found.contacts = contacts::table
                .filter(contacts::tenant_id.eq(id::bind(tenant)))
                .filter(contacts::id.eq_any(id::bind_all(&contact_ids)))
                .filter(contacts::restricted_at.is_not_null())
                .select(contacts::id)
                .load::<String>(conn)?
                .into_iter()
                .collect();
        }
        if !message_ids.is_empty() {
            found.messages = messages::table
                .inner_join(contacts::table.on(contacts::id.eq(messages::contact_id)))
                .filter(messages::id.eq_any(id::bind_all(&message_ids)))
                .filter(
                    crate::store::backend::only_checked_id(messages::tenant_id)
                        .eq(id::bind(tenant)),
                )
                .filter(contacts::restricted_at.is_not_null())
                .select(messages::id)
                .load::<String>(conn)?
                .into_iter()
                .collect();
        }
        Ok(found)
    }

    pub(super) fn covers(&self, payload: &serde_json::Value) -> bool {
        payload["message"]["contact_id"]
            .as_str()
            .is_some_and(|c| self.contacts.contains(c))
            || payload["status"]["message_id"]
                .as_str()
                .is_some_and(|m| self.messages.contains(m))
    }

    /// The event as the company's systems may receive it.
    pub(super) fn withhold(
        &self,
        kind: EventKind,
        payload: serde_json::Value,
    ) -> serde_json::Value {
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
pub(super) fn claim_delivery(
    conn: &mut DbConn,
    row: &DeliveryRow,
    now: i64,
    lease: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        event_deliveries::table
            .filter(event_deliveries::id.eq(id::bind(&row.id)))
            .filter(event_deliveries::next_attempt_at.le(now)),
    )
    .set(event_deliveries::next_attempt_at.eq(lease))
    .execute(conn)?)
}

/// Whether a delivered event carries personal data (and so is audited): a message with its
/// contact's address, name and body. Statuses carry ids and a state; erasure notices ids.
pub(super) fn carries_personal_data(payload: &serde_json::Value) -> bool {
    (payload["event"] == EventKind::MessageReceived.as_str()
        || payload["event"] == EventKind::BotMessage.as_str())
        && payload["restricted"] != true
}

/// What a delivered event tells about a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exposure {
    /// A message with its contact's address, name and body.
    Personal,
    /// A restricted contact's event: ids only.
    Withheld,
    /// Ids and states only.
    None,
}

/// What one delivery attempt did, for the audit entry of its batch.
#[derive(Debug, Default)]
pub(super) struct DeliverySummary {
    pub(super) tenant: String,
    pub(super) hook: String,
    pub(super) delivered: bool,
    pub(super) personal: bool,
    pub(super) restricted: bool,
}

/// A delivery the egress policy refused: logged for the admin, failed for good, and the reason
/// the tenant sees says nothing about what is behind the address.
pub(super) fn refused_delivery(
    row: &DeliveryRow,
    refused: &Refusal,
) -> (Option<u16>, String, bool) {
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

impl Events {
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
    pub(super) async fn deliverable(
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

    pub(super) async fn deliver_event(&self, row: DeliveryRow) -> Result<DeliverySummary> {
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
                let target = event_deliveries::table.filter(event_deliveries::id.eq(id::bind(&id)));
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
    pub(super) async fn audit_deliveries(&self, attempts: Vec<DeliverySummary>) -> Result<()> {
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

//! Storing messages: validate, find or create contacts, seal, then one write that commits the
//! whole batch (or nothing) together with its audit entry.

mod contact;
mod known;
pub(crate) use contact::*;
pub(crate) use known::{AddressKey, KnownContacts};
mod seal;
pub(crate) use seal::*;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::attachments::AttachmentRow;
use super::status::{self, NewStatus, StatusRow};
use super::Messages;
use super::{binding, MessageRow, NewMessage};
use crate::address::{Address, ChannelName, DisplayName};
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::to_micros;
use crate::contacts::find::address_index;
use crate::contacts::{self, ContactKeyRow, ContactRow};
use crate::crypto::keyring::{KeyOwner, OwnerKeys};
use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::periods::{PeriodKey, PeriodSlot};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// Most messages one request may carry.
pub const MAX_BATCH: usize = 1000;
/// A concurrent writer may create the same contact first; then the batch is prepared again,
/// finding what that writer committed. Each round at least one competing writer commits, so a
/// batch contended by several writers (several instances, overlapping deliveries) needs about
/// as many rounds as there are writers.
const ATTEMPTS: usize = 8;

/// What happened to one submitted message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IngestOutcome {
    pub id: String,
    pub contact_id: String,
    /// True when a message with the same `external_id` was already stored: this is its id.
    pub duplicate: bool,
}

/// Everything one batch will write, sealed and ready. Each run of the write reads it (a write
/// may run merged, then alone, or again after a deadlock); it is never copied.
struct Prepared {
    tenant: String,
    new_contacts: Vec<(ContactRow, ContactKeyRow)>,
    new_keys: Vec<(String, Arc<OwnerKeys>)>,
    messages: Vec<MessageRow>,
    /// Latest message time per contact, to move `last_message_at` forward.
    latest: BTreeMap<String, i64>,
    statuses: Vec<StatusRow>,
    attachments: Vec<AttachmentRow>,
    /// Tenant keys bound to this month's event period key, and that key's id.
    event_keys: (String, Arc<OwnerKeys>),
    /// Every period key the rows are sealed under: must still be live at commit.
    period_ids: BTreeSet<String>,
    /// Event payloads for the tenant's event hooks: per inbound message, and per status
    /// (in the order of `statuses`; the message id is filled in once matched).
    message_events: Vec<(String, serde_json::Value)>,
    status_events: Vec<serde_json::Value>,
    /// Contacts that move to a new address, announced by a message of the batch.
    address_changes: Vec<AddressChange>,
    /// Every existing contact the batch resolved, from memory (`known`) or from the database,
    /// with the address index it was found under: the write confirms that each still has it,
    /// or fails with `StoreError::Retry`.
    confirm: Vec<(String, Vec<u8>)>,
    /// Every contact the batch resolved, by address: remembered once the write committed.
    seen: Vec<(AddressKey, String)>,
    /// Every address the batch looked up: forgotten when the write finds memory out of date.
    asked: Vec<AddressKey>,
}

impl Messages {
    /// Stores a batch atomically. Messages whose external id is already stored are not stored
    /// again; their outcome names the stored message.
    pub async fn ingest_batch(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        batch: Vec<NewMessage>,
    ) -> Result<Vec<IngestOutcome>> {
        if batch.is_empty() {
            return Err(Error::invalid("messages", "must hold at least one message"));
        }
        self.ingest(actor, tenant, batch, Vec::new()).await
    }

    /// Stores messages and delivery statuses in one transaction (a webhook delivery).
    pub(crate) async fn ingest(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        batch: Vec<NewMessage>,
        statuses: Vec<NewStatus>,
    ) -> Result<Vec<IngestOutcome>> {
        actor.authorize(tenant, Permission::WriteMessages)?;
        if batch.len() > MAX_BATCH {
            return Err(Error::invalid(
                "messages",
                format!("must hold at most {MAX_BATCH} messages"),
            ));
        }
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let batch = Arc::new(batch);
        for attempt in 1..=ATTEMPTS {
            let now = self.infra.clock.now();
            let now_micros = to_micros(now);
            let mut slots: BTreeSet<PeriodSlot> = batch
                .iter()
                .map(|m| PeriodSlot::new(m.channel.as_str(), to_micros(m.occurred_at)))
                .collect();
            slots.extend(
                statuses
                    .iter()
                    .map(|s| PeriodSlot::new(s.channel.as_str(), now_micros)),
            );
            let event_slot = PeriodSlot::new(crate::periods::EVENTS_SCOPE, now_micros);
            slots.insert(event_slot.clone());
            let periods = self.periods.live_keys(tenant, slots).await?;
            let event_keys = periods
                .get(&event_slot)
                .map(|p| (p.id.clone(), Arc::new(tenant_keys.within_period(&p.keys))))
                .ok_or_else(|| Error::internal(anyhow::anyhow!("no event period key")))?;
            let mut prepared = {
                let (keys, known, tenant, tenant_keys, batch, statuses) = (
                    self.infra.keys.clone(),
                    self.known.clone(),
                    tenant.clone(),
                    tenant_keys.clone(),
                    batch.clone(),
                    statuses.clone(),
                );
                let context = Context {
                    tenant_keys,
                    periods,
                    event_keys,
                };
                self.infra
                    .store
                    .read(move |conn| {
                        Ok(prepare(
                            conn,
                            (&keys, &known),
                            &tenant,
                            &context,
                            &batch,
                            &statuses,
                            now,
                        ))
                    })
                    .await??
            };
            let seen = std::mem::take(&mut prepared.seen);
            let asked = std::mem::take(&mut prepared.asked);
            let write = Write {
                prepared,
                event: AuditEvent::new(actor, "messages.ingest").tenant(tenant),
                at: self.infra.clock.now(),
                follow_ups: self.follow_ups,
            };
            match self.infra.store.write_mergeable(write).await {
                Ok((outcomes, new_keys, queued_work)) => {
                    for (id, keys) in new_keys {
                        self.infra.keys.remember(KeyOwner::Contact(id), keys);
                    }
                    self.known.remember(seen);
                    if queued_work {
                        // Deliver events and fetch files now rather than at the next scheduled
                        // run; whatever fails is retried by the scheduler.
                        self.infra.due.ask();
                    }
                    let fresh = outcomes.iter().filter(|o| !o.duplicate).count();
                    self.infra.metrics.ingested.inc_by(fresh as u64);
                    return Ok(outcomes);
                }
                Err(e)
                    if attempt < ATTEMPTS
                        && (matches!(e, StoreError::Retry) || e.is_unique_violation()) =>
                {
                    // A period key may have been destroyed meanwhile, or a contact taken from
                    // memory erased or moved: look them up afresh.
                    self.periods.forget(&[]);
                    self.known.forget(&asked);
                    tracing::debug!(
                        attempt,
                        "a concurrent write changed a contact, message or period key; preparing again"
                    );
                }
                Err(e) if matches!(e, StoreError::Retry) || e.is_unique_violation() => break,
                Err(e) => return Err(e.into()),
            }
        }
        // Still contended after every round: the same request will very likely succeed in a
        // moment (503 with Retry-After), nothing was stored.
        Err(Error::Busy(
            "the messages kept meeting concurrent writes of the same contacts; nothing was stored, retry"
                .into(),
        ))
    }
}

/// The keys a batch is sealed with.
struct Context {
    tenant_keys: Arc<OwnerKeys>,
    periods: HashMap<PeriodSlot, PeriodKey>,
    event_keys: (String, Arc<OwnerKeys>),
}

impl Context {
    fn period(&self, scope: &str, at: i64) -> Result<&PeriodKey> {
        self.periods
            .get(&PeriodSlot::new(scope, at))
            .ok_or_else(|| Error::internal(anyhow::anyhow!("no period key for {scope}")))
    }
}

/// Finds or creates each distinct contact and seals every field. Runs on a blocking thread.
fn prepare(
    conn: &mut DbConn,
    (keyring, known): (&KeyRing, &KnownContacts),
    tenant: &TenantId,
    context: &Context,
    batch: &[NewMessage],
    statuses: &[NewStatus],
    now: DateTime<Utc>,
) -> Result<Prepared> {
    let t = tenant.as_str();
    let tenant_keys = context.tenant_keys.as_ref();
    let indexes: Vec<Vec<u8>> = batch
        .iter()
        .map(|m| address_index(tenant_keys, &m.channel, &m.address))
        .collect();

    // (channel, address index) -> (contact id, keys)
    let mut resolved: HashMap<(String, Vec<u8>), (String, Arc<OwnerKeys>)> = HashMap::new();
    // Contacts this instance stored messages for lately are taken from memory; the writer
    // confirms each of them (`Prepared::confirm`).
    let mut assumed: BTreeMap<(&str, &Vec<u8>), String> = BTreeMap::new();
    let mut wanted: BTreeMap<&str, BTreeSet<&Vec<u8>>> = BTreeMap::new();
    for (message, index) in batch.iter().zip(&indexes) {
        let channel = message.channel.as_str();
        match known.get(&AddressKey::new(t, channel, index)) {
            Some(id) => {
                assumed.insert((channel, index), id);
            }
            None => {
                wanted.entry(channel).or_default().insert(index);
            }
        }
    }
    let assumed_ids: Vec<String> = assumed.values().cloned().collect();
    let assumed_keys = crate::contacts::keys_of(keyring, conn, &assumed_ids)?;
    let mut confirm = Vec::with_capacity(assumed.len());
    for ((channel, index), id) in assumed {
        match assumed_keys.get(&id) {
            Some(keys) => {
                resolved.insert(
                    (channel.to_string(), index.clone()),
                    (id.clone(), keys.clone()),
                );
                confirm.push((id, index.clone()));
            }
            // Its key is gone (erased or deleted): look the address up like any other.
            None => {
                known.forget(&[AddressKey::new(t, channel, index)]);
                wanted.entry(channel).or_default().insert(index);
            }
        }
    }
    let mut existing = Vec::new();
    for (channel, channel_indexes) in wanted {
        let channel_indexes = channel_indexes.into_iter().cloned().collect();
        existing.extend(contacts::find_by_address_indexes(
            conn,
            tenant,
            channel,
            channel_indexes,
        )?);
    }
    let existing_ids: Vec<String> = existing.iter().map(|c| c.id.clone()).collect();
    let existing_keys = crate::contacts::keys_of(keyring, conn, &existing_ids)?;
    for row in existing {
        let keys = existing_keys.get(&row.id).ok_or_else(|| {
            // Erasure replaces the address index together with the key, so this cannot
            // happen unless the database was edited by hand.
            Error::internal(anyhow::anyhow!(
                "contact {} has an address index but no key",
                row.id
            ))
        })?;
        resolved.insert(
            (row.channel.clone(), row.address_index.clone()),
            (row.id.clone(), keys.clone()),
        );
        // Read on another connection than the write's: an erasure may commit in between.
        confirm.push((row.id, row.address_index));
    }

    let mut prepared = Prepared {
        tenant: t.to_string(),
        new_contacts: Vec::new(),
        new_keys: Vec::new(),
        messages: Vec::with_capacity(batch.len()),
        latest: BTreeMap::new(),
        statuses: Vec::with_capacity(statuses.len()),
        attachments: Vec::new(),
        event_keys: context.event_keys.clone(),
        period_ids: BTreeSet::from([context.event_keys.0.clone()]),
        message_events: Vec::new(),
        status_events: Vec::with_capacity(statuses.len()),
        address_changes: Vec::new(),
        confirm,
        seen: Vec::new(),
        asked: batch
            .iter()
            .zip(&indexes)
            .map(|(m, index)| AddressKey::new(t, m.channel.as_str(), index))
            .collect(),
    };
    let now_micros = to_micros(now);
    for status in statuses {
        let period = context.period(status.channel.as_str(), now_micros)?;
        prepared.period_ids.insert(period.id.clone());
        prepared.statuses.push(seal_status(
            t,
            tenant_keys,
            (&period.id, &period.keys),
            status,
            now_micros,
        )?);
        prepared.status_events.push(serde_json::json!({
            "event": EventKind::MessageStatus.as_str(),
            "tenant_id": t,
            "status": {
                "platform_message_id": status.external_id.expose(),
                "message_id": null,
                "status": status.status.as_str(),
                "occurred_at": status.occurred_at,
                "errors": status.errors,
            },
        }));
    }
    for (message, index) in batch.iter().zip(indexes) {
        let lookup = (message.channel.as_str().to_string(), index);
        let (contact_id, keys) = match resolved.get(&lookup) {
            Some(found) => found.clone(),
            None => {
                let seed = ContactSeed {
                    channel: &message.channel,
                    address: &message.address,
                    display_name: message.display_name.as_ref(),
                    last_message_at: to_micros(message.occurred_at),
                };
                let created = new_contact(keyring, t, seed, (tenant_keys, &lookup.1), now_micros)?;
                let entry = (created.0.id.clone(), created.2.clone());
                prepared.new_keys.push((created.0.id.clone(), created.2));
                prepared.new_contacts.push((created.0, created.1));
                resolved.insert(lookup, entry.clone());
                entry
            }
        };
        let period = context.period(message.channel.as_str(), to_micros(message.occurred_at))?;
        prepared.period_ids.insert(period.id.clone());
        let contact_keys = keys;
        let keys = contact_keys.within_period(&period.keys);
        let mut row = seal_message(t, &contact_id, &keys, tenant_keys, message, now_micros)?;
        row.period_key_id = Some(period.id.clone());
        if let Some(new) = &message.new_address {
            prepared.address_changes.push(AddressChange {
                message_id: row.id.clone(),
                contact_id: contact_id.clone(),
                channel: message.channel.as_str().to_string(),
                address_index: address_index(tenant_keys, &message.channel, new),
                address_sealed: contact_keys
                    .seal
                    .seal_str(&contacts::binding(t, &contact_id, "address"), new.expose())?,
            });
        }
        let latest = prepared.latest.entry(contact_id).or_insert(row.occurred_at);
        *latest = (*latest).max(row.occurred_at);
        for (n, media) in message.media.iter().enumerate() {
            prepared.attachments.push(AttachmentRow::pending(
                t,
                &row.id,
                n as i32,
                message.channel_id.clone(),
                media,
                (&period.id, &keys),
                now_micros,
            )?);
        }
        if message.direction == super::Direction::In {
            prepared
                .message_events
                .push((row.id.clone(), received_event(t, &row, message)));
        }
        prepared.messages.push(row);
    }
    let moving: BTreeSet<&str> = prepared
        .address_changes
        .iter()
        .map(|c| c.contact_id.as_str())
        .collect();
    // A contact moving to a new address is not remembered under its old one.
    let seen = resolved
        .iter()
        .filter(|(_, (id, _))| !moving.contains(id.as_str()))
        .map(|((channel, index), (id, _))| (AddressKey::new(t, channel, index), id.clone()))
        .collect();
    prepared.seen = seen;
    Ok(prepared)
}

/// Outcomes, the new contacts' keys, and whether event deliveries or downloads were queued.
type Applied = (Vec<IngestOutcome>, Vec<(String, Arc<OwnerKeys>)>, bool);

/// One batch's write, as the writer runs it: alone, or merged with the other batches of the
/// same tenant and event month that wait in its group (a burst of webhook deliveries becomes
/// one insert per table).
struct Write {
    prepared: Prepared,
    event: AuditEvent,
    at: DateTime<Utc>,
    follow_ups: super::FollowUps,
}

impl crate::store::Mergeable for Write {
    type Output = Applied;

    fn key(&self) -> String {
        format!("{}/{}", self.prepared.tenant, self.prepared.event_keys.0)
    }

    fn rows(&self) -> usize {
        self.prepared.messages.len() + self.prepared.statuses.len()
    }

    fn run(conn: &mut DbConn, writes: &[&Self]) -> Result<Vec<Applied>, StoreError> {
        apply(conn, writes)
    }
}

/// What one write of a merged run keeps apart from the others: its outcomes and its counts.
struct Share {
    outcomes: Vec<IngestOutcome>,
    stored: usize,
    statuses: usize,
}

/// The write: runs inside the writer's transaction (in its own savepoint), for one batch or
/// several of one tenant and event month. A batch's own rule failing (an external id of another
/// contact) fails them all; the writer then runs each alone.
fn apply(conn: &mut DbConn, writes: &[&Write]) -> Result<Vec<Applied>, StoreError> {
    let Some(first) = writes.first() else {
        return Ok(Vec::new());
    };
    let t = first.prepared.tenant.as_str();
    let (follow_ups, (event_period, event_keys)) = (first.follow_ups, &first.prepared.event_keys);
    let at = writes.iter().map(|w| w.at).max().unwrap_or(first.at);
    let period_ids: BTreeSet<String> = writes
        .iter()
        .flat_map(|w| w.prepared.period_ids.iter().cloned())
        .collect();
    crate::periods::ensure_live(conn, &period_ids)?;
    confirm_known(conn, t, writes.iter().flat_map(|w| &w.prepared.confirm))?;
    for (contact, key) in writes.iter().flat_map(|w| &w.prepared.new_contacts) {
        if contacts::exists_with_address(conn, t, &contact.channel, &contact.address_index)? {
            return Err(StoreError::Retry);
        }
        contacts::insert(conn, contact, key)?;
    }
    // De-duplicate by external id: against what is stored, and within the batches themselves.
    let wanted: Vec<Vec<u8>> = writes
        .iter()
        .flat_map(|w| &w.prepared.messages)
        .filter_map(|m| m.external_index.clone())
        .collect();
    let mut known: HashMap<Vec<u8>, (String, String)> =
        super::find_by_external_indexes(conn, t, wanted)?
            .into_iter()
            .filter_map(|(index, id, contact)| index.map(|i| (i, (id, contact))))
            .collect();
    let mut shares = Vec::with_capacity(writes.len());
    let mut fresh: Vec<&MessageRow> = Vec::new();
    let mut latest: BTreeMap<String, i64> = BTreeMap::new();
    for write in writes {
        let prepared = &write.prepared;
        // A platform's verified delivery names its message ids itself, and its receipt hands
        // no ids back: a known id from another contact is the platform repeating a message
        // whose sender has since moved (a changed number), not another person's message.
        let from_platform = matches!(write.event.actor, crate::auth::Actor::Channel { .. });
        let mut outcomes = Vec::with_capacity(prepared.messages.len());
        let mut stored = 0;
        for (position, row) in prepared.messages.iter().enumerate() {
            if let Some(index) = &row.external_index {
                if let Some((id, contact_id)) = known.get(index) {
                    // The same platform id from another person is not the same message:
                    // answering "duplicate" would hand the caller that other person's ids. (Two
                    // contact rows of one address, from a race between instances, are the same
                    // person.)
                    if *contact_id != row.contact_id
                        && !from_platform
                        && !same_address(conn, t, contact_id, &row.contact_id)?
                    {
                        return Err(StoreError::from(crate::error::Error::Conflict(format!(
                            "message {position}: its external_id is already stored for another contact; an external id names one message"
                        ))));
                    }
                    outcomes.push(IngestOutcome {
                        id: id.clone(),
                        contact_id: contact_id.clone(),
                        duplicate: true,
                    });
                    continue;
                }
                known.insert(index.clone(), (row.id.clone(), row.contact_id.clone()));
            }
            outcomes.push(IngestOutcome {
                id: row.id.clone(),
                contact_id: row.contact_id.clone(),
                duplicate: false,
            });
            stored += 1;
            fresh.push(row);
        }
        for (contact, at) in &prepared.latest {
            let latest = latest.entry(contact.clone()).or_insert(*at);
            *latest = (*latest).max(*at);
        }
        shares.push(Share {
            outcomes,
            stored,
            statuses: prepared.statuses.len(),
        });
    }
    // SQLite allows 32766 bound parameters per statement; 12 columns × 1000 rows stays below.
    for chunk in fresh.chunks(1000) {
        super::insert_many(conn, chunk)?;
    }
    // Receipts come for what was sent, never for a message someone sent in: only outgoing
    // messages (sent through another system, imported) can have a receipt waiting for them.
    let fresh_indexes: Vec<(Vec<u8>, String)> = fresh
        .iter()
        .filter(|m| m.direction == super::Direction::Out.as_str())
        .filter_map(|m| m.external_index.clone().map(|i| (i, m.id.clone())))
        .collect();
    status::attach_pending(conn, t, &fresh_indexes)?;
    let fresh_ids: std::collections::HashSet<&str> = fresh.iter().map(|m| m.id.as_str()).collect();
    let attachments: Vec<&AttachmentRow> = writes
        .iter()
        .flat_map(|w| &w.prepared.attachments)
        .filter(|a| fresh_ids.contains(a.message_id.as_str()))
        .collect();
    super::attachments::insert(conn, &attachments)?;
    let mut queued_work = !attachments.is_empty();
    let statuses: Vec<&StatusRow> = writes.iter().flat_map(|w| &w.prepared.statuses).collect();
    let matched = status::store(conn, t, &statuses)?;
    let received: Vec<serde_json::Value> = writes
        .iter()
        .flat_map(|w| &w.prepared.message_events)
        .filter(|(id, _)| fresh_ids.contains(id.as_str()))
        .map(|(_, payload)| payload.clone())
        .collect();
    let follow = follow_ups(conn, t, &received)?;
    let mut events: Vec<(EventKind, serde_json::Value)> = received
        .into_iter()
        .map(|payload| (EventKind::MessageReceived, payload))
        .chain(follow)
        .collect();
    let status_events = writes.iter().flat_map(|w| &w.prepared.status_events);
    for (message_id, payload) in matched.into_iter().zip(status_events) {
        let mut payload = payload.clone();
        payload["status"]["message_id"] = serde_json::json!(message_id);
        events.push((EventKind::MessageStatus, payload));
    }
    queued_work |=
        crate::events::enqueue(conn, t, (event_period, event_keys), events, to_micros(at))? > 0;
    crate::contacts::touch_last_messages(conn, &latest)?;
    for write in writes {
        for change in &write.prepared.address_changes {
            if fresh_ids.contains(change.message_id.as_str()) {
                move_contact(conn, t, change, &write.event, at)?;
            }
        }
    }
    // One audit entry per batch, as when it runs alone: the trail names each caller's write.
    let mut applied = Vec::with_capacity(writes.len());
    for (write, share) in writes.iter().zip(shares) {
        let duplicates = share.outcomes.len() - share.stored;
        audit::append(
            conn,
            write.at,
            write.event.clone().detail(format!(
                "stored={} duplicates={duplicates} statuses={}",
                share.stored, share.statuses
            )),
        )?;
        applied.push((share.outcomes, write.prepared.new_keys.clone(), queued_work));
    }
    Ok(applied)
}

/// Each existing contact the batch resolved (from memory, or read on another connection before
/// the write) must still be the one at its address: not erased (which replaces the index),
/// moved to a new number or deleted since — here or on another instance. Checked in the
/// writer's transaction, the rows locked until its commit on PostgreSQL
/// (`contacts::address_indexes_of`); otherwise `StoreError::Retry`, and the batch is prepared
/// again from the database.
fn confirm_known<'a>(
    conn: &mut DbConn,
    tenant: &str,
    confirm: impl Iterator<Item = &'a (String, Vec<u8>)>,
) -> Result<(), StoreError> {
    let confirm: Vec<&(String, Vec<u8>)> = confirm.collect();
    if confirm.is_empty() {
        return Ok(());
    }
    let ids: BTreeSet<String> = confirm.iter().map(|(id, _)| id.clone()).collect();
    let now = contacts::address_indexes_of(conn, tenant, ids.into_iter().collect())?;
    if confirm.iter().all(|(id, index)| now.get(id) == Some(index)) {
        Ok(())
    } else {
        Err(StoreError::Retry)
    }
}

//! Sending to a contact through its platform.
//!
//! The message is stored (sealed, status `queued`) together with an outbox entry before the
//! platform is called, so nothing is lost if the call or the process fails. The outbox entry
//! is leased while an attempt runs, so the retry job never sends the same message twice at
//! once; an idempotency key makes a repeated API call return the first message instead of
//! sending again. Transient failures are retried with exponential backoff (`queue`: `Channels::run_due_sends`).

mod queue;
mod request;
pub use request::*;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::platform::{Outbound, SendOutcome};
use super::policy::{may_send, SendContext};
use super::Channels;
use super::{Channel, Platform};
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission, Role};
use crate::clock::{from_micros, to_micros};
use crate::contacts::{self, ContactRow};
use crate::crypto::keyring::OwnerKeys;
use crate::error::{Error, Result};
use crate::messages::inbound::{DeliveryStatus, PlatformError};
use crate::messages::ingest::external_index;
use crate::messages::status::{self, NewStatus};
use crate::messages::{binding, Direction, MessageKind, MessageRow};
use crate::sensitive::Sensitive;
use crate::store::id;
use crate::store::schema::{channels, messages, outbox};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

use queue::*;

/// What the send path asks of the domains that send through it, inside the transaction that
/// queues a message: whose bot a token is, and whether a contact's consent is confirmed. Bots
/// and consent sit above channels (a bot replies and a consent request goes out through
/// [`Channels::submit`]), so the composition root hands their answers in as functions instead
/// of channels calling up (docs/architecture.md, "Module layers").
#[derive(Debug, Clone, Copy)]
pub struct SendGate {
    /// The bot an API token belongs to (`bots::sender_of_token`), if it is one in force.
    pub bot_of_token: fn(&mut DbConn, &str, &str) -> Result<Option<BotSender>, StoreError>,
    /// Whether the contact's consent for the purpose is confirmed (`consent::confirmed`).
    pub consent_confirmed: fn(&mut DbConn, &str, &str, &str) -> Result<bool, StoreError>,
}

impl SendGate {
    pub const fn new(
        bot_of_token: fn(&mut DbConn, &str, &str) -> Result<Option<BotSender>, StoreError>,
        consent_confirmed: fn(&mut DbConn, &str, &str, &str) -> Result<bool, StoreError>,
    ) -> Self {
        Self {
            bot_of_token,
            consent_confirmed,
        }
    }
}

/// A bot as the send path sees it: the channel it may send on, and whether it is switched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotSender {
    pub id: String,
    pub channel_id: String,
    pub enabled: bool,
}

/// Why nothing goes to a restricted contact.
const RESTRICTED: &str =
    "processing of this contact's data is restricted (Art. 18 GDPR): nothing is sent";

/// An attempt holds its outbox entry this long; a crashed attempt is retried after it.
const LEASE: Duration = Duration::minutes(2);
/// Attempts before a transiently failing message is given up as failed.
pub const MAX_ATTEMPTS: i32 = 8;

/// The contact's last inbound message: when, and through which channel.
fn last_inbound(
    conn: &mut DbConn,
    tenant: &str,
    contact: &str,
) -> Result<Option<(i64, Option<String>)>, StoreError> {
    Ok(messages::table
        .filter(messages::tenant_id.eq(id::bind(tenant)))
        .filter(messages::contact_id.eq(id::bind(contact)))
        .filter(messages::direction.eq("in"))
        .order(messages::occurred_at.desc())
        .select((messages::occurred_at, messages::channel_id))
        .first(conn)
        .optional()?)
}

fn enabled_channels(
    conn: &mut DbConn,
    tenant: &str,
    platform: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(channels::table
        .filter(channels::tenant_id.eq(id::bind(tenant)))
        .filter(channels::platform.eq(platform))
        .filter(channels::enabled.eq(true))
        .select(channels::id)
        .load(conn)?)
}

struct Target {
    contact: ContactRow,
    keys: std::sync::Arc<OwnerKeys>,
    last_inbound: Option<(i64, Option<String>)>,
    enabled: Vec<String>,
    existing: Option<(String, Option<String>)>,
    /// Whether consent for the message's purpose is confirmed (None: no purpose, no push).
    consent: Option<bool>,
    /// A person has the conversation (taken over from the channel's bot).
    handed_over: bool,
}

/// When a stored message goes to the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// Now, within the request; the answer reports the platform's.
    Now,
    /// From the outbox, by the next run of due work: the answer never waits for the platform
    /// (the widget must answer every sign-up in the same time, whatever its state).
    Outbox,
}

fn receipt(
    id: &str,
    status: &str,
    error: Option<PlatformError>,
    next: Option<DateTime<Utc>>,
) -> SendReceipt {
    SendReceipt {
        message_id: id.to_string(),
        status: status.to_string(),
        error,
        next_attempt_at: next,
        duplicate: false,
    }
}

impl Channels {
    /// Sends a message to a contact. See the module docs for the guarantees.
    pub async fn send(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        request: SendRequest,
        header_key: Option<String>,
    ) -> Result<SendReceipt> {
        self.submit(
            actor,
            tenant,
            contact_id,
            request,
            header_key,
            Dispatch::Now,
        )
        .await
    }

    /// The bot a request comes from (a token of role `bot`), checked to be in force; None for
    /// everyone else.
    async fn replying_bot(&self, actor: &Actor, tenant: &TenantId) -> Result<Option<BotSender>> {
        let Actor::Token {
            id,
            role: Role::Bot,
            ..
        } = actor
        else {
            return Ok(None);
        };
        let (t, token, gate) = (tenant.clone(), id.as_str().to_string(), self.gate);
        let bot = self
            .infra
            .store
            .read(move |conn| (gate.bot_of_token)(conn, t.as_str(), &token))
            .await?;
        bot.filter(|b| b.enabled).map(Some).ok_or_else(|| {
            Error::Forbidden("this token's bot was removed: it sends nothing".into())
        })
    }

    /// Stores a message with its outbox entry and sends it as `dispatch` says.
    pub(crate) async fn submit(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        contact_id: &str,
        request: SendRequest,
        header_key: Option<String>,
        dispatch: Dispatch,
    ) -> Result<SendReceipt> {
        actor.authorize(tenant, Permission::SendMessages)?;
        let request = SendRequest {
            idempotency_key: request.idempotency_key.or(header_key),
            ..request
        };
        let Validated {
            outbound,
            channel_id,
            idempotency_key,
            purpose_id,
        } = request.validate()?;
        // A bot sends on its own channel only, and not where a person has taken over.
        let bot = self.replying_bot(actor, tenant).await?;
        let channel_id = match (&bot, channel_id) {
            (Some(bot), Some(asked)) if asked != bot.channel_id => {
                return Err(Error::Forbidden(
                    "a bot sends on its own channel only".into(),
                ))
            }
            (Some(bot), _) => Some(bot.channel_id.clone()),
            (None, asked) => asked,
        };
        let tenant_keys = self.infra.tenant_keys(tenant).await?;
        let idempotency_index = idempotency_key
            .as_ref()
            // Bound to the contact: the same key for another contact is another request.
            .map(|k| {
                tenant_keys
                    .blind
                    .index(&[b"idempotency", contact_id.as_bytes(), k.as_bytes()])
            });

        let purpose_owned = purpose_id.clone();
        let gate = self.gate;
        let (keys, t, cid, idx) = (
            self.infra.keys.clone(),
            tenant.clone(),
            contact_id.to_string(),
            idempotency_index.clone(),
        );
        let target = self
            .infra
            .store
            .read(move |conn| {
                let Some(contact) = contacts::find(conn, &t, &cid)? else {
                    return Ok(Err(Error::NotFound));
                };
                let existing = match &idx {
                    Some(i) => messages::table
                        .filter(messages::tenant_id.eq(id::bind(t.as_str())))
                        .filter(messages::idempotency_index.eq(i))
                        .filter(crate::store::backend::plan_with_actual_values())
                        .select((messages::id, messages::delivery_status))
                        .first::<(String, Option<String>)>(conn)
                        .optional()?,
                    None => None,
                };
                let existing = match existing {
                    Some((id, stored)) => {
                        let status = crate::messages::status::current_or_stored(conn, &id, stored)?;
                        Some((id, status))
                    }
                    None => None,
                };
                let found =
                    crate::contacts::keys_of(&keys, conn, std::slice::from_ref(&contact.id));
                let last = last_inbound(conn, t.as_str(), &contact.id)?;
                let enabled = enabled_channels(conn, t.as_str(), &contact.channel)?;
                let consent = match &purpose_owned {
                    Some(p) => Some((gate.consent_confirmed)(conn, t.as_str(), &contact.id, p)?),
                    None => None,
                };
                let handed_over =
                    contacts::handed_over_at(conn, t.as_str(), &contact.id)?.is_some();
                Ok(found.and_then(|mut k| {
                    let keys = k
                        .remove(&contact.id)
                        .ok_or_else(|| Error::Conflict("this contact was erased".into()))?;
                    Ok(Target {
                        contact,
                        keys,
                        last_inbound: last,
                        enabled,
                        existing,
                        consent,
                        handed_over,
                    })
                }))
            })
            .await??;
        if let Some((message_id, status)) = target.existing {
            return Ok(SendReceipt {
                message_id,
                status: status.unwrap_or_else(|| "queued".into()),
                error: None,
                next_attempt_at: None,
                duplicate: true,
            });
        }
        if target.contact.restricted_at.is_some() {
            return Err(Error::Conflict(RESTRICTED.into()));
        }
        if bot.is_some() && target.handed_over {
            return Err(Error::Conflict(
                "a person has taken this conversation over: the bot sends nothing until an agent hands it back"
                    .into(),
            ));
        }
        let platform = Platform::parse(&target.contact.channel).ok_or_else(|| {
            Error::invalid(
                "contact",
                "this contact's channel has no platform to send through",
            )
        })?;
        let channel_id = match channel_id {
            Some(id) => id,
            None => target
                .last_inbound
                .as_ref()
                .and_then(|(_, c)| c.clone())
                .filter(|c| target.enabled.contains(c))
                .or_else(|| (target.enabled.len() == 1).then(|| target.enabled[0].clone()))
                .ok_or_else(|| Error::invalid("channel_id", "name the channel to send through"))?,
        };
        let channel = self
            .channel(tenant, &channel_id)
            .await
            .map_err(|e| match e {
                Error::NotFound => Error::invalid("channel_id", "no such channel"),
                other => other,
            })?;
        if channel.platform != platform {
            return Err(Error::invalid(
                "channel_id",
                "the channel's platform differs from the contact's",
            ));
        }
        if !channel.enabled {
            return Err(Error::Conflict("the channel is disabled".into()));
        }
        let now = self.infra.clock.now();
        may_send(&SendContext {
            platform,
            message: &outbound,
            last_inbound: target.last_inbound.as_ref().map(|(t, _)| from_micros(*t)),
            now,
            consent: target.consent,
        })
        .map_err(Error::Conflict)?;

        // Store message + outbox entry (leased for this attempt), then call the platform.
        let message_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let t = tenant.as_str();
        let period = self
            .periods
            .live_key(tenant, platform.as_str(), to_micros(now))
            .await?;
        let message_keys = target.keys.within_period(&period.keys);
        let seal = |column: &'static str, bytes: &[u8]| {
            message_keys
                .seal
                .seal(&binding(t, &message_id, column), bytes)
        };
        let request_json =
            zeroize::Zeroizing::new(serde_json::to_vec(&outbound).map_err(Error::internal)?);
        let row = MessageRow {
            id: message_id.clone(),
            tenant_id: t.to_string(),
            contact_id: target.contact.id.clone(),
            channel: platform.as_str().to_string(),
            direction: Direction::Out.as_str().to_string(),
            kind: kind_of(&outbound).as_str().to_string(),
            occurred_at: to_micros(now),
            received_at: to_micros(now),
            external_index: None,
            external_id_sealed: None,
            body_sealed: body_of(&outbound)
                .map(|b| seal("body", b.as_bytes()))
                .transpose()?,
            raw_sealed: None,
            channel_id: Some(channel.id.clone()),
            delivery_status: Some(DeliveryStatus::Queued.as_str().to_string()),
            delivery_status_at: Some(to_micros(now)),
            idempotency_index,
            period_key_id: Some(period.id.clone()),
            business_letter: channel.business_letters,
            content_deleted_at: None,
            sent_by_bot: bot.as_ref().map(|b| b.id.clone()),
        };
        let entry = OutboxRow {
            message_id: message_id.clone(),
            tenant_id: t.to_string(),
            channel_id: channel.id.clone(),
            purpose_id: purpose_id.clone(),
            request_sealed: message_keys
                .seal
                .seal(&outbox_binding(t, &message_id), &request_json)?,
            attempts: 0,
            next_attempt_at: match dispatch {
                Dispatch::Now => to_micros(now + LEASE),
                Dispatch::Outbox => to_micros(now),
            },
            last_error: None,
        };
        let event = AuditEvent::new(actor, "message.send")
            .tenant(tenant)
            .object("message", &message_id)
            .detail(match &bot {
                Some(bot) => format!("channel={} kind={} bot={}", channel.id, row.kind, bot.id),
                None => format!("channel={} kind={}", channel.id, row.kind),
            });
        let stored = self
            .infra
            .store
            .write(move |conn| {
                crate::messages::insert_many(conn, &[&row])?;
                diesel::insert_into(outbox::table)
                    .values(entry.clone())
                    .execute(conn)?;
                audit::append(conn, now, event.clone())?;
                Ok(())
            })
            .await;
        match stored {
            Ok(()) => {}
            // The same idempotency key raced us: answer with the winner.
            Err(e) if e.is_unique_violation() => {
                return Err(Error::Conflict(
                    "a request with this idempotency key is in progress; retry".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        if dispatch == Dispatch::Outbox {
            self.infra.due.ask();
            return Ok(receipt(&message_id, "queued", None, Some(now)));
        }
        let address = contacts::ContactView::open(&target.contact, Some(&target.keys))?
            .address
            .ok_or_else(|| Error::Conflict("this contact was erased".into()))?;
        self.attempt(
            &channel,
            &message_id,
            &Sensitive::new(address),
            &outbound,
            0,
        )
        .await
    }

    /// The keys a message's content is sealed under: its contact's key bound to its period key.
    pub(crate) async fn message_keys(
        &self,
        tenant: &TenantId,
        message_id: &str,
    ) -> Result<std::sync::Arc<OwnerKeys>> {
        let contact_keys = self.message_contact_keys(tenant, message_id).await?;
        let (keys, t, id) = (
            self.infra.keys.clone(),
            tenant.clone(),
            message_id.to_string(),
        );
        self.infra
            .store
            .read(move |conn| {
                let period: Option<String> = messages::table
                    .filter(messages::tenant_id.eq(id::bind(t.as_str())))
                    .filter(messages::id.eq(id::bind(&id)))
                    .select(messages::period_key_id)
                    .first(conn)?;
                Ok(
                    crate::periods::bound_blocking(&keys, conn, &contact_keys, period.as_deref())
                        .and_then(|bound| {
                            bound.map_err(|_| {
                                Error::Conflict(
                                    "this message's content was deleted by retention".into(),
                                )
                            })
                        }),
                )
            })
            .await?
    }

    async fn message_contact_keys(
        &self,
        tenant: &TenantId,
        message_id: &str,
    ) -> Result<std::sync::Arc<OwnerKeys>> {
        let (keys, t, id) = (
            self.infra.keys.clone(),
            tenant.clone(),
            message_id.to_string(),
        );
        self.infra
            .store
            .read(move |conn| {
                let contact: Option<String> = messages::table
                    .filter(messages::tenant_id.eq(id::bind(t.as_str())))
                    .filter(messages::id.eq(id::bind(&id)))
                    .select(messages::contact_id)
                    .first(conn)
                    .optional()?;
                let Some(contact) = contact else {
                    return Ok(Err(Error::NotFound));
                };
                Ok(
                    crate::contacts::keys_of(&keys, conn, std::slice::from_ref(&contact)).and_then(
                        |mut k| {
                            k.remove(&contact)
                                .ok_or_else(|| Error::Conflict("this contact was erased".into()))
                        },
                    ),
                )
            })
            .await?
    }
}

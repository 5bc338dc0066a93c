//! Chatbots: a program of the company's that answers a channel's messages (FAQ, opening hours,
//! order status) and hands a conversation over to a person when it should.
//!
//! A bot is registered per channel with its endpoint, a signing secret and the kinds of message
//! it wants. Hafen delivers each such inbound message to it as a signed `bot.message` event
//! (the event hooks' queue: stored with the message, retried, every attempt listed), and the bot
//! answers through the send API with its own token (role `bot`): the same service-window,
//! consent and restriction rules as every send, on its own channel only. Each message a bot sends
//! is marked with the bot, in the conversation and in the audit log.
//!
//! Hand-over: the bot (when the person asks for one) or an agent takes a conversation over; from
//! then on the bot gets nothing from that person and may send nothing to them, until an agent
//! hands it back. Restricted contacts (Art. 18) never reach a bot.
//!
//! The bot is part of the processing: the Art. 30 record names it per channel (purpose, and as a
//! recipient), and a bot that takes automated decisions (Art. 22) describes their logic and
//! effects, which the Art. 15 answer gives every person who wrote on its channel.

mod handover;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::audit::{self, AuditEvent};
use crate::auth::token::{self, TokenSpec};
use crate::auth::{Actor, ApiToken, Permission, Role};
use crate::channels::send::BotSender;
use crate::channels::Channels;
use crate::clock::{from_micros, to_micros};
use crate::egress::Purpose;
use crate::error::{Error, Result};
use crate::events::{self, EventKind, HookRow};
use crate::infra::Infra;
use crate::messages::MessageKind;
use crate::page::{Page, PageRequest};
use crate::store::id;
use crate::store::schema::{bots, contacts};
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

/// What a bot gets when its registration names no kinds: what people write or choose, not
/// reactions, platform notices or content the platform could not deliver.
pub const DEFAULT_KINDS: [MessageKind; 13] = [
    MessageKind::Text,
    MessageKind::Image,
    MessageKind::Audio,
    MessageKind::Video,
    MessageKind::Document,
    MessageKind::Sticker,
    MessageKind::Location,
    MessageKind::Contacts,
    MessageKind::Interactive,
    MessageKind::Button,
    MessageKind::Postback,
    MessageKind::QuickReply,
    MessageKind::Order,
];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotInput {
    /// The channel whose messages the bot answers (one bot per channel).
    pub channel_id: String,
    /// How people and the records name it, e.g. "FAQ-Bot Kundenservice".
    #[schema(example = "FAQ-Bot")]
    pub name: String,
    /// HTTPS URL (plain HTTP only for localhost) that receives the `bot.message` events.
    pub url: String,
    /// Signing secret of the deliveries; generated when absent and returned once.
    #[serde(default)]
    pub secret: Option<String>,
    /// The message kinds it receives; default: text, media, location, contacts and choices.
    #[serde(default)]
    pub kinds: Option<Vec<MessageKind>>,
    /// What it does, for the Art. 30 record, e.g. "Beantwortet Fragen zu Öffnungszeiten und
    /// übergibt an Beschäftigte".
    pub purpose: String,
    /// Only for a bot that decides about people automatically (Art. 22 GDPR), e.g. whether an
    /// order is accepted: its logic and effects, given to every person in their Art. 15 answer.
    #[serde(default)]
    pub automated_decisions: Option<AutomatedDecisions>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutomatedDecisions {
    /// The logic involved, in words a person understands.
    pub logic: String,
    /// The significance and the envisaged consequences for the person.
    pub effects: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BotView {
    pub id: String,
    pub channel_id: String,
    pub name: String,
    pub url: String,
    pub kinds: Vec<MessageKind>,
    pub purpose: String,
    pub automated_decisions: Option<AutomatedDecisions>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// The event hook that delivers to it: its attempts are at `…/bots/{id}/deliveries`.
    pub hook_id: String,
    /// The token it replies with (role `bot`); its id, for the token list.
    pub token_id: String,
    /// Only in the answer to the registration: the deliveries' signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Only in the answer to the registration: the bot's API token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Who has a conversation: the bot or a person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HandoverView {
    pub contact_id: String,
    /// Since when a person has the conversation; null: the bot answers.
    pub handed_over_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bots)]
pub struct BotRow {
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    pub channel_id: String,
    pub hook_id: String,
    pub token_id: String,
    pub name: String,
    pub purpose: String,
    pub kinds: String,
    pub decision_logic: Option<String>,
    pub decision_effects: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub removed_at: Option<i64>,
}

impl BotRow {
    fn kinds(&self) -> Vec<MessageKind> {
        self.kinds
            .split(',')
            .filter(|k| !k.is_empty())
            .map(MessageKind::from_stored)
            .collect()
    }

    fn receives(&self, kind: &str) -> bool {
        self.kinds.split(',').any(|k| k == kind)
    }

    pub fn automated_decisions(&self) -> Option<AutomatedDecisions> {
        match (&self.decision_logic, &self.decision_effects) {
            (Some(logic), Some(effects)) => Some(AutomatedDecisions {
                logic: logic.clone(),
                effects: effects.clone(),
            }),
            _ => None,
        }
    }

    fn view(self, url: String) -> BotView {
        BotView {
            kinds: self.kinds(),
            automated_decisions: self.automated_decisions(),
            id: self.id,
            channel_id: self.channel_id,
            name: self.name,
            url,
            purpose: self.purpose,
            enabled: self.enabled,
            created_at: from_micros(self.created_at),
            hook_id: self.hook_id,
            token_id: self.token_id,
            secret: None,
            token: None,
        }
    }
}

/// A line of text a person wrote for the records: 1–`max` characters, no control characters.
fn words(field: &str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > max
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::invalid(
            field,
            format!("must be 1-{max} characters without control characters"),
        ));
    }
    Ok(text.to_string())
}

/// Bots in force (registered, not removed), of the tenant.
pub fn active(conn: &mut DbConn, tenant: &str) -> Result<Vec<BotRow>, StoreError> {
    Ok(bots::table
        .filter(bots::tenant_id.eq(id::bind(tenant)))
        .filter(bots::removed_at.is_null())
        .order(bots::created_at.asc())
        .select(BotRow::as_select())
        .load(conn)?)
}

/// The bot a token belongs to, if it is in force.
pub fn of_token(
    conn: &mut DbConn,
    tenant: &str,
    token_id: &str,
) -> Result<Option<BotRow>, StoreError> {
    Ok(bots::table
        .filter(bots::tenant_id.eq(id::bind(tenant)))
        .filter(bots::token_id.eq(token_id))
        .filter(bots::removed_at.is_null())
        .select(BotRow::as_select())
        .first(conn)
        .optional()?)
}

/// The `bot.message` events for a batch of freshly stored inbound messages (their
/// `message.received` payloads): one per message whose channel has a bot that wants its kind,
/// unless a person has the conversation or the contact's processing is restricted. Runs in the
/// transaction that stores the messages, so a bot misses no message and gets none twice.
pub fn events_for(
    conn: &mut DbConn,
    tenant: &str,
    received: &[serde_json::Value],
) -> Result<Vec<(EventKind, serde_json::Value)>, StoreError> {
    if received.is_empty() {
        return Ok(Vec::new());
    }
    let bots: Vec<BotRow> = active(conn, tenant)?
        .into_iter()
        .filter(|b| b.enabled)
        .collect();
    if bots.is_empty() {
        return Ok(Vec::new());
    }
    let contact_ids: Vec<&str> = received
        .iter()
        .filter_map(|p| p["message"]["contact_id"].as_str())
        .collect();
    let withheld: std::collections::HashSet<String> = contacts::table
        .filter(contacts::tenant_id.eq(id::bind(tenant)))
        .filter(contacts::id.eq_any(id::bind_all(&contact_ids)))
        .filter(
            contacts::handed_over_at
                .is_not_null()
                .or(contacts::restricted_at.is_not_null()),
        )
        .select(contacts::id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for payload in received {
        let message = &payload["message"];
        let Some(bot) = bots
            .iter()
            .find(|b| message["channel_id"] == b.channel_id.as_str())
        else {
            continue;
        };
        let contact = message["contact_id"].as_str().unwrap_or_default();
        if withheld.contains(contact) || !bot.receives(message["kind"].as_str().unwrap_or("")) {
            continue;
        }
        let mut event = payload.clone();
        event["event"] = serde_json::json!(EventKind::BotMessage.as_str());
        event["bot"] = serde_json::json!({ "id": bot.id, "name": bot.name });
        event["reply"] = serde_json::json!({
            "send": format!("/v1/tenants/{tenant}/contacts/{contact}/messages/send"),
            "handover": format!("/v1/tenants/{tenant}/contacts/{contact}/handover"),
        });
        out.push((EventKind::BotMessage, event));
    }
    Ok(out)
}

/// The bots service: one chatbot per channel (its hook, its token), the hand-over between bot
/// and person.
#[derive(Debug, Clone)]
pub struct Bots {
    pub(crate) infra: Infra,
    pub(crate) channels: Channels,
    pub(crate) events: events::Events,
    /// A bot's token follows the install's token rules.
    pub(crate) accounts: Accounts,
}

impl Bots {
    pub fn new(
        infra: Infra,
        channels: Channels,
        events: events::Events,
        accounts: Accounts,
    ) -> Self {
        Self {
            infra,
            channels,
            events,
            accounts,
        }
    }
}

impl Bots {
    /// Registers a channel's bot: its hook, its token and itself in one transaction. The answer
    /// carries the signing secret and the token, once.
    pub async fn create(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: BotInput,
    ) -> Result<BotView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let name = words("name", &input.name, 100)?;
        let purpose = words("purpose", &input.purpose, 500)?;
        let decisions = input
            .automated_decisions
            .map(|d| {
                Ok::<_, Error>(AutomatedDecisions {
                    logic: words("automated_decisions.logic", &d.logic, 2000)?,
                    effects: words("automated_decisions.effects", &d.effects, 2000)?,
                })
            })
            .transpose()?;
        let url = events::validate_url(&input.url)?;
        if let Err(refused) = self
            .infra
            .outbound
            .policy()
            .check_reachable(&url, Purpose::Hook)
            .await
        {
            return Err(Error::invalid("url", refused.to_string()));
        }
        let channel = self
            .channels
            .channel(tenant, &input.channel_id)
            .await
            .map_err(|e| match e {
                Error::NotFound => Error::invalid("channel_id", "no such channel"),
                other => other,
            })?;
        let mut kinds = input.kinds.unwrap_or_else(|| DEFAULT_KINDS.to_vec());
        kinds.dedup();
        if kinds.is_empty() {
            return Err(Error::invalid("kinds", "name at least one kind of message"));
        }
        let secret = events::signing_secret(input.secret)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let now = self.infra.clock.now();
        let hook = HookRow::sealed(
            &keys,
            tenant.as_str(),
            (&input.url, &secret),
            &[EventKind::BotMessage],
            Some(channel.id.clone()),
            now,
        )?;
        let api_token = std::sync::Arc::new(ApiToken::generate());
        let spec = TokenSpec {
            role: Role::Bot,
            tenant: Some(tenant.clone()),
            name: Some(format!("Bot: {name}")),
            expires_at: self.accounts.token_policy.max_lifetime.map(|l| now + l),
        };
        let row = BotRow {
            id: uuid::Uuid::now_v7().hyphenated().to_string(),
            tenant_id: tenant.as_str().to_string(),
            channel_id: channel.id.clone(),
            hook_id: hook.id.clone(),
            token_id: api_token.id().as_str().to_string(),
            name,
            purpose,
            kinds: kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(","),
            decision_logic: decisions.as_ref().map(|d| d.logic.clone()),
            decision_effects: decisions.as_ref().map(|d| d.effects.clone()),
            enabled: true,
            created_at: to_micros(now),
            removed_at: None,
        };
        let event = AuditEvent::new(actor, "bot.create")
            .tenant(tenant)
            .object("bot", &row.id)
            .detail(format!(
                "channel={} token={} automated_decisions={}",
                channel.id,
                row.token_id,
                decisions.is_some()
            ));
        let (stored, token_owned, actor_owned, t) = (
            row.clone(),
            api_token.clone(),
            actor.clone(),
            tenant.clone(),
        );
        self.infra
            .store
            .write(move |conn| {
                if !active(conn, t.as_str())?
                    .iter()
                    .all(|b| b.channel_id != stored.channel_id)
                {
                    return Err(StoreError::from(Error::Conflict(
                        "this channel has a bot already: remove it first".into(),
                    )));
                }
                token::insert(conn, &token_owned, &spec, &actor_owned, now)?;
                hook.insert(conn)?;
                diesel::insert_into(bots::table)
                    .values(stored.clone())
                    .execute(conn)?;
                audit::append(conn, now, event.clone())?;
                Ok(())
            })
            .await?;
        let mut view = row.view(input.url);
        view.secret = Some(secret);
        view.token = Some(api_token.reveal().expose().to_string());
        Ok(view)
    }

    pub async fn list(&self, actor: &Actor, tenant: &TenantId) -> Result<Vec<BotView>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let t = tenant.clone();
        let rows = self
            .infra
            .store
            .read(move |conn| {
                let mut out = Vec::new();
                for bot in active(conn, t.as_str())? {
                    let hook = HookRow::find(conn, t.as_str(), &bot.hook_id)?;
                    out.push((bot, hook));
                }
                Ok(out)
            })
            .await?;
        rows.into_iter()
            .map(|(bot, hook)| {
                let url = match hook {
                    Some(h) => h.url(&keys)?,
                    None => String::new(),
                };
                Ok(bot.view(url))
            })
            .collect()
    }

    /// Removes a bot: its token is revoked and its hook stops; what it sent stays marked, and
    /// the row stays for the records (a removed bot still answered earlier messages).
    pub async fn remove(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<()> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let (t, id_owned) = (tenant.clone(), id.to_string());
        let now = self.infra.clock.now();
        let event = AuditEvent::new(actor, "bot.remove")
            .tenant(tenant)
            .object("bot", id);
        let removed = self
            .infra
            .store
            .write(move |conn| {
                let Some(bot) = active(conn, t.as_str())?
                    .into_iter()
                    .find(|b| b.id == id_owned)
                else {
                    return Ok(false);
                };
                diesel::update(bots::table.filter(bots::id.eq(&bot.id)))
                    .set((
                        bots::removed_at.eq(Some(to_micros(now))),
                        bots::enabled.eq(false),
                    ))
                    .execute(conn)?;
                token::revoke(conn, &bot.token_id, now)?;
                HookRow::disable(conn, &bot.hook_id)?;
                audit::append(conn, now, event.clone())?;
                Ok(true)
            })
            .await?;
        if !removed {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// The delivery attempts to a bot, newest first.
    pub async fn deliveries(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        page: PageRequest,
    ) -> Result<Page<events::DeliveryView>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let (t, id_owned) = (tenant.clone(), id.to_string());
        let hook = self
            .infra
            .store
            .read(move |conn| {
                Ok(bots::table
                    .filter(bots::tenant_id.eq(id::bind(t.as_str())))
                    .filter(bots::id.eq(&id_owned))
                    .select(bots::hook_id)
                    .first::<String>(conn)
                    .optional()?)
            })
            .await?
            .ok_or(Error::NotFound)?;
        self.events
            .list_deliveries(actor, tenant, &hook, page)
            .await
    }

    /// The tenant's bots as the records and the conversation view name them (removed ones too:
    /// they answered earlier messages), by id.
    pub async fn names(
        &self,
        tenant: &TenantId,
    ) -> Result<std::collections::HashMap<String, BotRow>> {
        let t = tenant.clone();
        let rows: Vec<BotRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(bots::table
                    .filter(bots::tenant_id.eq(id::bind(t.as_str())))
                    .select(BotRow::as_select())
                    .load(conn)?)
            })
            .await?;
        Ok(rows.into_iter().map(|b| (b.id.clone(), b)).collect())
    }
}

/// The channel a token's bot sends on, if the token is a bot's that is in force (the send
/// path's [`crate::channels::send::SendGate`]).
pub fn sender_of_token(
    conn: &mut DbConn,
    tenant: &str,
    token_id: &str,
) -> Result<Option<BotSender>, StoreError> {
    Ok(of_token(conn, tenant, token_id)?.map(|bot| BotSender {
        id: bot.id,
        channel_id: bot.channel_id,
        enabled: bot.enabled,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bot_gets_only_the_kinds_it_names() {
        let bot = BotRow {
            id: "b".into(),
            tenant_id: "t".into(),
            channel_id: "c".into(),
            hook_id: "h".into(),
            token_id: "k".into(),
            name: "FAQ".into(),
            purpose: "FAQ".into(),
            kinds: "text,button".into(),
            decision_logic: None,
            decision_effects: None,
            enabled: true,
            created_at: 0,
            removed_at: None,
        };
        assert!(bot.receives("text") && bot.receives("button"));
        assert!(!bot.receives("reaction") && !bot.receives("tex"));
        assert_eq!(bot.kinds(), [MessageKind::Text, MessageKind::Button]);
        assert!(bot.automated_decisions().is_none());
    }

    #[test]
    fn words_for_the_records_are_checked() {
        assert!(words("name", "  ", 10).is_err());
        assert!(words("name", "a\u{7}b", 10).is_err());
        assert!(words("name", &"x".repeat(11), 10).is_err());
        assert_eq!(words("name", " FAQ-Bot ", 10).unwrap(), "FAQ-Bot");
    }
}

//! Receiving a verified webhook delivery: events → messages and statuses, stored in one
//! transaction. Events addressed to another platform account than the channel's are not
//! stored (Meta sends every number of an app to the app's URL unless a per-number override is
//! set): they are counted in the receipt and the audit entry.

use std::collections::BTreeMap;

use serde::Serialize;

use super::inbound::{InboundEvent, InboundMessage, ParseError, Skip, StatusUpdate};
use super::verify::{meta_signature_valid, telegram_secret_valid};
use super::{parse, Channel, Platform};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::messages::status::NewStatus;
use crate::messages::types::{Address, ChannelName, DisplayName};
use crate::messages::{Direction, MessageKind, NewMessage};
use crate::sensitive::Sensitive;
use crate::service::Hafen;

/// What a delivery amounted to.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    /// Messages stored.
    pub messages: usize,
    /// Messages already stored (a platform's retry): answered, stored once.
    pub duplicates: usize,
    /// Delivery statuses stored.
    pub statuses: usize,
    /// Items answered but not stored: every item of the delivery is counted once, here or above.
    pub ignored: usize,
    /// Why, per reason: `other_account`, `echo`, `administration`, `unknown_field`,
    /// `missing_id`, `bad_timestamp`, `unusable` (only reasons that occurred).
    pub ignored_reasons: BTreeMap<String, usize>,
}

impl Receipt {
    fn ignore(&mut self, why: Skip) {
        self.ignored += 1;
        *self
            .ignored_reasons
            .entry(why.as_str().to_string())
            .or_default() += 1;
    }
}

/// A webhook delivery as it arrived: the platform's authenticity header, the raw body, and the
/// address it came from (for the audit entry of a refusal).
pub struct Delivery<'a> {
    pub authenticity: Option<&'a str>,
    pub body: &'a [u8],
    pub source: Option<std::net::IpAddr>,
}

/// Why a delivery was not accepted. Nothing of it was stored.
#[derive(Debug)]
pub enum Refused {
    /// The authenticity header is missing or wrong (audited, once per source and minute).
    BadSignature,
    Disabled,
    /// Not this platform's format.
    Malformed(ParseError),
    Failed(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

impl Hafen {
    /// Accepts a platform's webhook delivery for `channel`: authenticity over the raw body
    /// before anything is parsed, then the channel's state, then the platform's parser, then one
    /// transaction for everything it holds. Each outcome is counted in the webhook metric.
    pub async fn accept_webhook(
        &self,
        channel: &Channel,
        delivery: Delivery<'_>,
    ) -> std::result::Result<Receipt, Refused> {
        let platform = channel.platform.as_str();
        if !authentic(channel, &delivery) {
            self.infra.metrics.webhook(platform, "bad_signature");
            self.channels
                .audit_rejected(&channel.id, &channel.tenant, delivery.source)
                .await?;
            tracing::warn!(channel = %channel.id, platform, source = ?delivery.source, "webhook rejected: signature missing or wrong");
            return Err(Refused::BadSignature);
        }
        if !channel.enabled {
            self.infra.metrics.webhook(platform, "disabled");
            return Err(Refused::Disabled);
        }
        let events = match channel.platform {
            Platform::Whatsapp => parse::whatsapp::parse(delivery.body),
            Platform::Messenger => parse::messenger::parse(delivery.body),
            Platform::Telegram => parse::telegram::parse(delivery.body),
        }
        .map_err(|e| {
            self.infra.metrics.webhook(platform, "malformed");
            Refused::Malformed(e)
        })?;
        let receipt = self.receive_webhook(channel, events).await?;
        self.infra.metrics.webhook(platform, "accepted");
        Ok(receipt)
    }

    pub async fn receive_webhook(
        &self,
        channel: &Channel,
        events: Vec<InboundEvent>,
    ) -> Result<Receipt> {
        let channel_name = ChannelName::parse("channel", channel.platform.as_str())?;
        let mut receipt = Receipt::default();
        let mut messages = Vec::new();
        let mut statuses = Vec::new();
        for event in events {
            let account = match &event {
                InboundEvent::Message(m) => m.account_id.as_deref(),
                InboundEvent::Status(s) => s.account_id.as_deref(),
                InboundEvent::Skipped(_) => None,
            };
            if let (Some(expected), Some(got)) = (channel.account_id.as_deref(), account) {
                if expected != got {
                    receipt.ignore(Skip::OtherAccount);
                    continue;
                }
            }
            match event {
                InboundEvent::Message(m) => {
                    match to_message(&channel_name, &channel.id, channel.business_letters, m) {
                        Some(m) => messages.push(m),
                        None => receipt.ignore(Skip::Unusable),
                    }
                }
                InboundEvent::Status(s) => match to_status(&channel_name, s) {
                    Some(s) => statuses.push(s),
                    None => receipt.ignore(Skip::Unusable),
                },
                InboundEvent::Skipped(why) => receipt.ignore(why),
            }
        }
        if messages.is_empty() && statuses.is_empty() {
            self.count_ignored(channel, &receipt);
            return Ok(receipt);
        }
        receipt.statuses = statuses.len();
        let actor = Actor::Channel {
            id: channel.id.clone(),
            tenant: channel.tenant.clone(),
        };
        // Texts that may be consent keywords (START, JA, STOP), in message order.
        let keyword_texts: Vec<Option<String>> = messages
            .iter()
            .map(|m| match m.kind {
                MessageKind::Text
                | MessageKind::Button
                | MessageKind::QuickReply
                | MessageKind::Interactive => m.body.as_ref().map(|b| b.expose().clone()),
                _ => None,
            })
            .collect();
        let outcomes = self
            .messages
            .ingest(&actor, &channel.tenant, messages, statuses)
            .await?;
        for (outcome, text) in outcomes.iter().zip(keyword_texts) {
            if let Some(text) = text {
                // A failure here fails the delivery: the platform sends it again, and the
                // redelivery (a duplicate) repeats the opt-out, so a STOP is never lost.
                self.consent
                    .handle_keywords(
                        &channel.tenant,
                        &outcome.contact_id,
                        &outcome.id,
                        &text,
                        outcome.duplicate,
                    )
                    .await?;
            }
        }
        receipt.duplicates = outcomes.iter().filter(|o| o.duplicate).count();
        receipt.messages = outcomes.len() - receipt.duplicates;
        self.count_ignored(channel, &receipt);
        Ok(receipt)
    }

    /// The metric of ignored items, for a delivery that was answered 200 (a failed one comes
    /// again and is counted then).
    fn count_ignored(&self, channel: &Channel, receipt: &Receipt) {
        for (reason, n) in &receipt.ignored_reasons {
            self.infra
                .metrics
                .webhook_items_ignored(channel.platform.as_str(), reason, *n as u64);
        }
    }
}

/// Whether the delivery carries the channel's proof: Meta's HMAC-SHA256 of the raw body with
/// the app secret, or Telegram's secret token, compared in constant time. A channel without the
/// secret accepts nothing.
fn authentic(channel: &Channel, delivery: &Delivery<'_>) -> bool {
    match channel.platform {
        Platform::Whatsapp | Platform::Messenger => match channel.secrets.app_secret.as_deref() {
            Some(secret) => meta_signature_valid(secret, delivery.authenticity, delivery.body),
            None => false,
        },
        Platform::Telegram => match channel.secrets.webhook_secret.as_deref() {
            Some(secret) => telegram_secret_valid(secret, delivery.authenticity),
            None => false,
        },
    }
}

fn to_message(
    channel: &ChannelName,
    channel_id: &str,
    letters: bool,
    m: InboundMessage,
) -> Option<NewMessage> {
    let address = Address::parse_platform_id("address", channel, &m.address).ok()?;
    let display_name = m
        .display_name
        .as_deref()
        .and_then(|n| DisplayName::parse("display_name", n).ok());
    let raw = serde_json::to_vec(&m.raw).ok().map(Sensitive::new);
    Some(NewMessage {
        channel: channel.clone(),
        address,
        display_name,
        direction: Direction::In,
        occurred_at: m.occurred_at,
        kind: m.kind,
        body: m.body.map(Sensitive::new),
        external_id: Some(Sensitive::new(m.external_id)).filter(|e| !e.expose().is_empty()),
        raw,
        channel_id: Some(channel_id.to_string()),
        media: m.media,
        business_letter: letters,
        new_address: m
            .new_address
            .and_then(|a| Address::parse_platform_id("new_address", channel, &a).ok()),
    })
}

fn to_status(channel: &ChannelName, s: StatusUpdate) -> Option<NewStatus> {
    if s.external_id.is_empty() {
        // Messenger read watermarks name no message; nothing to attach them to.
        return None;
    }
    Some(NewStatus {
        channel: channel.clone(),
        external_id: Sensitive::new(s.external_id),
        status: s.status,
        occurred_at: s.occurred_at,
        errors: s.errors,
        raw: Some(s.raw),
    })
}

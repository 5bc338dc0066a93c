//! Receiving a verified webhook delivery: events → messages and statuses, stored in one
//! transaction. Events addressed to another platform account than the channel's are not
//! stored (Meta sends every number of an app to the app's URL unless a per-number override is
//! set): they are counted in the receipt and the audit entry.

use std::collections::BTreeMap;

use serde::Serialize;

use super::verify::{meta_signature_valid, telegram_secret_valid};
use super::{Channel, Platform};
use crate::address::{Address, ChannelName, DisplayName};
use crate::error::Error;
use crate::messages::inbound::{InboundEvent, InboundMessage, ParseError, Skip, StatusUpdate};
use crate::messages::parse;
use crate::messages::status::NewStatus;
use crate::messages::{Direction, NewMessage};
use crate::sensitive::Sensitive;

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
    pub(crate) fn ignore(&mut self, why: Skip) {
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

impl super::Channels {
    /// Accepts a platform's webhook delivery for `channel`: authenticity over the raw body
    /// before anything is parsed (a forged one is counted for the audit log), then the
    /// channel's state, then the platform's parser. What it holds is stored by
    /// `inbound::Inbound`.
    pub async fn accept(
        &self,
        channel: &Channel,
        delivery: Delivery<'_>,
    ) -> std::result::Result<Vec<InboundEvent>, Refused> {
        let platform = channel.platform.as_str();
        if !authentic(channel, &delivery) {
            self.infra.metrics.webhook(platform, "bad_signature");
            self.audit_rejected(&channel.id, &channel.tenant, delivery.source)
                .await?;
            tracing::warn!(channel = %channel.id, platform, source = ?delivery.source, "webhook rejected: signature missing or wrong");
            return Err(Refused::BadSignature);
        }
        if !channel.enabled {
            self.infra.metrics.webhook(platform, "disabled");
            return Err(Refused::Disabled);
        }
        match channel.platform {
            Platform::Whatsapp => parse::whatsapp::parse(delivery.body),
            Platform::Messenger => parse::messenger::parse(delivery.body),
            Platform::Telegram => parse::telegram::parse(delivery.body),
        }
        .map_err(|e| {
            self.infra.metrics.webhook(platform, "malformed");
            Refused::Malformed(e)
        })
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

pub(crate) fn to_message(
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

pub(crate) fn to_status(channel: &ChannelName, s: StatusUpdate) -> Option<NewStatus> {
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

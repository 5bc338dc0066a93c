//! What arrives from the platforms, from the webhook to the store: the channel accepts a
//! delivery (`Channels::accept`: authenticity, state, parser), the messages and statuses it
//! holds are stored in one transaction (`Messages::ingest`, which also queues the events and a
//! bot's message), and consent keywords among them are acted on (`Consent::handle_keywords`).
//! It sits above channels, messages and consent so that none of them calls another back.

use crate::address::ChannelName;
use crate::auth::Actor;
use crate::channels::webhook::{to_message, to_status, Delivery, Receipt, Refused};
use crate::channels::{Channel, Channels};
use crate::consent::Consent;
use crate::error::Result;
use crate::infra::Infra;
use crate::messages::inbound::{InboundEvent, Skip};
use crate::messages::{MessageKind, Messages};

/// The inbound service: a webhook delivery from acceptance to the store.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub(crate) infra: Infra,
    pub(crate) channels: Channels,
    pub(crate) messages: Messages,
    pub(crate) consent: Consent,
}

impl Inbound {
    pub fn new(infra: Infra, channels: Channels, messages: Messages, consent: Consent) -> Self {
        Self {
            infra,
            channels,
            messages,
            consent,
        }
    }
}

impl Inbound {
    /// Takes a platform's webhook delivery for `channel`: accepted by the channel (authentic,
    /// enabled, parsed), then one transaction for everything it holds. Each outcome is counted
    /// in the webhook metric.
    pub async fn accept_webhook(
        &self,
        channel: &Channel,
        delivery: Delivery<'_>,
    ) -> std::result::Result<Receipt, Refused> {
        let events = self.channels.accept(channel, delivery).await?;
        let receipt = self.receive_webhook(channel, events).await?;
        self.infra
            .metrics
            .webhook(channel.platform.as_str(), "accepted");
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

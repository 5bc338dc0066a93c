//! Messenger channels: WhatsApp Cloud API, Facebook Messenger, Telegram.
//!
//! - [`inbound`]: the events a webhook delivers, in Hafen's terms.
//! - [`parse`]: one parser per platform, raw verified body → events.

pub mod media;
pub mod platform;
pub mod policy;
pub mod registry;
pub mod rejections;
pub mod send;
pub mod subscription;
pub mod verify;
pub mod webhook;

pub use registry::{Channel, Platform};

use std::sync::Arc;

use crate::infra::Infra;
use crate::periods::PeriodKeys;
use platform::PlatformClient;

/// The channels service: the company's channels (credentials sealed), sending through the
/// platforms' APIs (the outbox and its retries), fetching files, where a platform delivers,
/// and forged webhooks counted for the audit log.
#[derive(Debug, Clone)]
pub struct Channels {
    pub(crate) infra: Infra,
    pub(crate) periods: PeriodKeys,
    /// Largest file downloaded from a platform.
    pub(crate) max_media_bytes: usize,
    /// Every request to a platform's API goes through this one client (egress policy, timeouts).
    pub(crate) platforms: PlatformClient,
    /// Webhook signature failures, audited per channel, source and minute.
    pub(crate) webhook_rejections: Arc<rejections::RejectionTally>,
    /// The channels webhooks name, opened, for two seconds after their read.
    pub(crate) webhook_channels: Arc<registry::ChannelCache>,
    /// What the send path asks bots and consent (handed in: they sit above channels).
    pub(crate) gate: send::SendGate,
}

impl Channels {
    pub fn new(
        infra: Infra,
        periods: PeriodKeys,
        max_media_bytes: usize,
        platforms: PlatformClient,
        gate: send::SendGate,
    ) -> Self {
        Self {
            infra,
            periods,
            max_media_bytes,
            platforms,
            webhook_rejections: Arc::default(),
            webhook_channels: Arc::default(),
            gate,
        }
    }
}

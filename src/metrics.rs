//! Prometheus metrics, served at `/metrics` (loopback or admin token; see `http`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub platform: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendLabels {
    pub platform: String,
    pub outcome: String,
}

/// Every metric Hafen exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Webhook deliveries by platform and outcome (accepted, bad_signature, malformed, disabled).
    pub webhooks: Family<WebhookLabels, Counter>,
    /// Sends to platforms by outcome (sent, failed, retry).
    pub sends: Family<SendLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("hafen");
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by platform and outcome",
            webhooks.clone(),
        );
        let sends = Family::<SendLabels, Counter>::default();
        registry.register(
            "platform_sends",
            "Messages sent to platforms by outcome",
            sends.clone(),
        );
        Self {
            registry,
            webhooks,
            sends,
        }
    }
}

impl Metrics {
    pub fn webhook(&self, platform: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                platform: platform.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn send(&self, platform: &str, outcome: &str) {
        self.sends
            .get_or_create(&SendLabels {
                platform: platform.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

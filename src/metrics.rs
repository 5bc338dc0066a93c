//! Prometheus metrics, served at `/metrics` (loopback or admin token; see `http`).

use std::collections::BTreeMap;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub platform: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IgnoredLabels {
    pub platform: String,
    pub reason: String,
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
    /// Items of accepted webhook deliveries that were not stored, by platform and reason
    /// (`messages::inbound::Skip`).
    pub webhook_items_ignored: Family<IgnoredLabels, Counter>,
    /// Sends to platforms by outcome (sent, failed, retry).
    pub sends: Family<SendLabels, Counter>,
    /// Items deleted by retention, by category.
    pub retention_deleted: Family<CategoryLabels, Counter>,
    /// Items due for deletion but not deleted at the end of each tenant's last sweep (held back
    /// by errors), summed over tenants, by category. Set through [`Metrics::record_overdue`].
    pub retention_overdue: Family<CategoryLabels, Gauge>,
    /// Each tenant's share of `retention_overdue`: a run for one tenant replaces only its own.
    overdue_by_tenant: std::sync::Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    /// Unix time of the last retention run that finished without errors.
    pub retention_last_success: Gauge,
    /// Unix time this instance last finished a retention run, with or without errors (0: not
    /// since it started).
    pub retention_last_run: Gauge,
    /// Data-subject requests open past their deadline (counted at each scrape).
    pub dsr_overdue: Gauge,
    /// Unix time the newest backup finished (0: none yet); counted at each scrape.
    pub last_backup: Gauge,
    /// Messages stored (API and webhooks; duplicates not counted): its rate is the ingest rate.
    pub ingested: Counter,
    /// Data-key cache lookups that found the key unwrapped / had to unwrap it (set at scrape).
    pub key_cache_hits: Gauge,
    pub key_cache_misses: Gauge,
    /// HTTP requests by method, route pattern (never ids) and status.
    pub requests: Family<RequestLabels, Counter>,
    /// HTTP request latency by method and route pattern.
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabels {
    pub category: String,
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
        let webhook_items_ignored = Family::<IgnoredLabels, Counter>::default();
        registry.register(
            "webhook_items_ignored",
            "Items of accepted webhook deliveries not stored, by platform and reason",
            webhook_items_ignored.clone(),
        );
        let sends = Family::<SendLabels, Counter>::default();
        registry.register(
            "platform_sends",
            "Messages sent to platforms by outcome",
            sends.clone(),
        );
        let retention_deleted = Family::<CategoryLabels, Counter>::default();
        registry.register(
            "retention_deleted_items",
            "Items deleted by retention, by category",
            retention_deleted.clone(),
        );
        let retention_overdue = Family::<CategoryLabels, Gauge>::default();
        registry.register(
            "retention_overdue_items",
            "Items due for deletion that the last run left in place, by category",
            retention_overdue.clone(),
        );
        let retention_last_success = Gauge::default();
        registry.register(
            "retention_last_success_timestamp_seconds",
            "Unix time of the last retention run without errors",
            retention_last_success.clone(),
        );
        let retention_last_run = Gauge::default();
        registry.register(
            "retention_last_run_timestamp_seconds",
            "Unix time this instance last finished a retention run, with or without errors",
            retention_last_run.clone(),
        );
        let dsr_overdue = Gauge::default();
        registry.register(
            "dsr_overdue_requests",
            "Data-subject requests open past their deadline (Art. 12(3) GDPR)",
            dsr_overdue.clone(),
        );
        let last_backup = Gauge::default();
        registry.register(
            "last_backup_timestamp_seconds",
            "Unix time the newest backup finished (0: none yet)",
            last_backup.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            request_seconds.clone(),
        );
        let ingested = Counter::default();
        registry.register(
            "messages_ingested",
            "Messages stored (API and webhooks, without duplicates)",
            ingested.clone(),
        );
        let key_cache_hits = Gauge::default();
        registry.register(
            "key_cache_hits",
            "Data-key lookups served from the unwrapped-key cache since start",
            key_cache_hits.clone(),
        );
        let key_cache_misses = Gauge::default();
        registry.register(
            "key_cache_misses",
            "Data-key lookups that had to unwrap (age) since start",
            key_cache_misses.clone(),
        );
        Self {
            registry,
            ingested,
            key_cache_hits,
            key_cache_misses,
            dsr_overdue,
            last_backup,
            requests,
            request_seconds,
            webhooks,
            webhook_items_ignored,
            sends,
            retention_deleted,
            retention_overdue,
            overdue_by_tenant: Default::default(),
            retention_last_success,
            retention_last_run,
        }
    }
}

impl Metrics {
    /// Records what a sweep of `tenant` left overdue per category (every category, zeros
    /// included) and sets each category's gauge to the sum over all tenants.
    pub fn record_overdue(&self, tenant: &str, left: BTreeMap<String, u64>) {
        let mut by_tenant = self
            .overdue_by_tenant
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_tenant.insert(tenant.to_string(), left);
        let mut total: BTreeMap<&str, u64> = BTreeMap::new();
        for counts in by_tenant.values() {
            for (category, n) in counts {
                *total.entry(category).or_default() += n;
            }
        }
        for (category, n) in total {
            self.retention_overdue
                .get_or_create(&CategoryLabels {
                    category: category.into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    pub fn webhook(&self, platform: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                platform: platform.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn webhook_items_ignored(&self, platform: &str, reason: &str, n: u64) {
        self.webhook_items_ignored
            .get_or_create(&IgnoredLabels {
                platform: platform.into(),
                reason: reason.into(),
            })
            .inc_by(n);
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

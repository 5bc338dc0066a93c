//! Webhook deliveries that failed their signature check, audited without letting a flood write
//! the audit log full: the first rejection of a channel from a source network in a minute is
//! written at once; the rest of that minute is one entry with the count, written when the
//! minute is over (by the next rejection or the next run of due work). The metric
//! `hafen_webhooks_total{outcome="bad_signature"}` keeps the exact number.
//!
//! The source is the client's network (IPv4 /24, IPv6 /64), not its address: the audit log is
//! kept for years, and a flood from one network is one source.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use super::Channels;
use crate::audit::{self, AuditEvent};
use crate::auth::Actor;
use crate::error::Result;
use crate::tenants::TenantId;

/// One audit interval.
pub const INTERVAL: Duration = Duration::minutes(1);
/// Sources tracked at once; beyond, rejections count under one shared source.
const MAX_SOURCES: usize = 10_000;

/// The source of a request as the audit log names it.
pub fn source_network(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Some(IpAddr::V6(v6)) => ipv6_network(v6),
        None => "unknown".into(),
    }
}

/// An IPv6 address's /64: one subscriber's allocation, the unit a client is counted by.
pub fn ipv6_network(v6: std::net::Ipv6Addr) -> String {
    let s = v6.segments();
    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
}

#[derive(Debug, Clone)]
struct Window {
    tenant: TenantId,
    started: DateTime<Utc>,
    /// Rejections after the first (which was audited at once).
    more: u64,
}

#[derive(Debug, Default)]
pub struct RejectionTally {
    windows: Mutex<HashMap<(String, String), Window>>,
}

/// What to write to the audit log now.
type Due = Vec<AuditEvent>;

impl RejectionTally {
    /// Counts a rejection; returns the entries to write now.
    fn count(&self, channel: &str, tenant: &TenantId, source: String, now: DateTime<Utc>) -> Due {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Self::expired(&mut windows, now);
        let source = if windows.len() >= MAX_SOURCES
            && !windows.contains_key(&(channel.to_string(), source.clone()))
        {
            "many".to_string()
        } else {
            source
        };
        let key = (channel.to_string(), source.clone());
        match windows.get_mut(&key) {
            Some(w) => w.more += 1,
            None => {
                windows.insert(
                    key,
                    Window {
                        tenant: tenant.clone(),
                        started: now,
                        more: 0,
                    },
                );
                due.push(entry(channel, tenant, &source, 1, None));
            }
        }
        due
    }

    /// Closes every window older than the interval; returns the summaries to write.
    fn expired(windows: &mut HashMap<(String, String), Window>, now: DateTime<Utc>) -> Due {
        let over: Vec<(String, String)> = windows
            .iter()
            .filter(|(_, w)| now - w.started >= INTERVAL)
            .map(|(k, _)| k.clone())
            .collect();
        let mut due = Vec::new();
        for key in over {
            if let Some(w) = windows.remove(&key) {
                if w.more > 0 {
                    due.push(entry(&key.0, &w.tenant, &key.1, w.more, Some(w.started)));
                }
            }
        }
        due
    }
}

fn entry(
    channel: &str,
    tenant: &TenantId,
    source: &str,
    count: u64,
    since: Option<DateTime<Utc>>,
) -> AuditEvent {
    let actor = Actor::Channel {
        id: channel.to_string(),
        tenant: tenant.clone(),
    };
    let detail = match since {
        None => format!("reason=signature source={source} count=1"),
        Some(at) => format!(
            "reason=signature source={source} count={count} more in the minute from {}",
            at.format("%Y-%m-%dT%H:%M:%SZ")
        ),
    };
    AuditEvent::new(&actor, "webhook.rejected")
        .tenant(tenant)
        .object("channel", channel)
        .detail(detail)
}

impl Channels {
    /// Audits a webhook delivery whose signature failed (aggregated, see the module docs).
    pub async fn audit_rejected(
        &self,
        channel: &str,
        tenant: &TenantId,
        source: Option<IpAddr>,
    ) -> Result<()> {
        let due = self.webhook_rejections.count(
            channel,
            tenant,
            source_network(source),
            self.infra.clock.now(),
        );
        self.write_audit(due).await
    }

    /// Writes the counts of rejection windows that are over.
    pub async fn flush_rejections(&self) -> Result<usize> {
        let due = {
            let mut windows = self
                .webhook_rejections
                .windows
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            RejectionTally::expired(&mut windows, self.infra.clock.now())
        };
        let n = due.len();
        self.write_audit(due).await?;
        Ok(n)
    }

    async fn write_audit(&self, due: Due) -> Result<()> {
        if due.is_empty() {
            return Ok(());
        }
        let at = self.infra.clock.now();
        self.infra
            .store
            .write(move |conn| {
                for e in &due {
                    audit::append(conn, at, e.clone())?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_flood_is_two_entries_a_minute_per_channel_and_source() {
        let tally = RejectionTally::default();
        let tenant = TenantId::generate();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        let net = source_network(Some("203.0.113.7".parse().unwrap()));
        assert_eq!(net, "203.0.113.0/24");
        let mut written = 0;
        for i in 0..2000 {
            written += tally
                .count(
                    "ch1",
                    &tenant,
                    net.clone(),
                    t0 + Duration::milliseconds(5 * i),
                )
                .len();
        }
        assert_eq!(written, 1, "the first at once");
        // Another source and another channel each get their own first entry.
        assert_eq!(tally.count("ch1", &tenant, "other".into(), t0).len(), 1);
        assert_eq!(tally.count("ch2", &tenant, net.clone(), t0).len(), 1);
        // A minute later the count of the rest is written, and a new window begins.
        let due = tally.count("ch1", &tenant, net.clone(), t0 + INTERVAL);
        let details: Vec<String> = due.iter().filter_map(|e| e.detail.clone()).collect();
        assert!(
            details.iter().any(|d| d.contains("count=1999 more")),
            "{details:?}"
        );
        assert!(
            details.iter().any(|d| d.ends_with("count=1")),
            "{details:?}"
        );
        assert_eq!(
            source_network(Some("2001:db8:1:2:3:4:5:6".parse().unwrap())),
            "2001:db8:1:2::/64"
        );
    }
}

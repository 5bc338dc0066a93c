//! The hosted sign-up widget: a page per tenant and purpose (embeddable as an iframe) where a
//! person enters their WhatsApp number and ticks the (never pre-ticked) consent box; Hafen then
//! asks for confirmation in WhatsApp. Protected by a CSRF token (signed, time-limited, double
//! submitted as a cookie) and rate limits per IP address and per number. The answer is the same
//! whether or not the number is already subscribed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::Consent;
use super::{Evidence, Source};
use crate::address::{Address, ChannelName};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store::id;
use crate::tenants::TenantId;

/// How long a form may be open before it is submitted.
const TOKEN_LIFETIME: Duration = Duration::hours(2);

/// Sliding-window counters per client network (IPv4 address, IPv6 /64). In memory: a restart
/// forgives, which is acceptable for addresses; the per-number limit, which protects the person
/// who receives the confirmation messages, is counted in the database instead.
/// When a key was last seen (allowed or not), and its hits within the window.
type Seen = (DateTime<Utc>, VecDeque<DateTime<Utc>>);

#[derive(Debug)]
pub struct RateLimiter {
    hits: Mutex<HashMap<String, Seen>>,
    capacity: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl RateLimiter {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            hits: Mutex::default(),
            capacity: capacity.max(10),
        }
    }

    /// Counts a hit for `key`; false when `limit` hits within `window` were already counted.
    pub fn allow(&self, key: &str, limit: usize, window: Duration, now: DateTime<Utc>) -> bool {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if hits.len() >= self.capacity && !hits.contains_key(key) {
            hits.retain(|_, (_, q)| q.back().is_some_and(|t| now - *t < window));
            if hits.len() >= self.capacity {
                // Still full (addresses rotating faster than the window): forget the tenth seen
                // least recently. Never everything — that would reset the counters of the
                // clients being limited right now too.
                let mut seen: Vec<(DateTime<Utc>, String)> =
                    hits.iter().map(|(k, (at, _))| (*at, k.clone())).collect();
                seen.sort_unstable();
                for (_, k) in seen.into_iter().take(self.capacity / 10) {
                    hits.remove(&k);
                }
            }
        }
        let (seen, queue) = hits
            .entry(key.to_string())
            .or_insert((now, VecDeque::new()));
        *seen = now;
        while queue.front().is_some_and(|t| now - *t >= window) {
            queue.pop_front();
        }
        if queue.len() >= limit {
            return false;
        }
        queue.push_back(now);
        true
    }
}

/// The rate-limit key of a client: its IPv4 address, or its IPv6 /64 (one subscriber's whole
/// allocation: a flood from one /64 is one client).
pub fn client_key(ip: Option<&str>) -> String {
    match ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V6(v6)) => crate::channels::rejections::ipv6_network(v6),
        Some(ip) => ip.to_string(),
        None => "-".into(),
    }
}

/// Limits of the widget.
#[derive(Debug, Clone, Copy)]
pub struct WidgetLimits {
    pub per_ip_per_hour: usize,
    pub per_number_per_day: usize,
}

impl Default for WidgetLimits {
    fn default() -> Self {
        Self {
            per_ip_per_hour: 10,
            per_number_per_day: 3,
        }
    }
}

/// What a sign-up form carries besides the number.
#[derive(Debug, Clone, Default)]
pub struct SignUp {
    pub phone: String,
    pub consent_ticked: bool,
    pub csrf_form: Option<String>,
    pub csrf_cookie: Option<String>,
    pub language: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub page: Option<String>,
    pub origin: Option<String>,
}

/// Why a sign-up was refused, in words for the person at the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignUpRefusal {
    /// The form expired or was not ours (403).
    Csrf,
    /// The consent box was not ticked (422).
    ConsentMissing,
    /// Not a phone number (422).
    BadNumber,
    /// Too many attempts (429).
    RateLimited,
}

impl Consent {
    /// Sign-ups through the widget for this contact (any purpose, any state) since `since`,
    /// counted from the audit entries every request writes: subscribed or not, each attempt
    /// counts the same, so the limit itself tells nothing.
    async fn widget_requests_since(
        &self,
        tenant: &TenantId,
        contact: &str,
        since: DateTime<Utc>,
    ) -> Result<i64> {
        use crate::store::schema::audit_log;
        use diesel::prelude::*;
        let (t, c, since) = (
            tenant.clone(),
            contact.to_string(),
            crate::clock::to_micros(since),
        );
        let source = format!("% source={}", Source::Widget.as_str());
        Ok(self
            .infra
            .store
            .read(move |conn| {
                // `audit_log_object` (object_type, object_id) finds the contact's few entries.
                Ok(audit_log::table
                    .filter(audit_log::object_type.eq("contact"))
                    .filter(audit_log::object_id.eq(&c))
                    .filter(audit_log::at.gt(since))
                    .filter(audit_log::tenant_id.eq(id::bind(t.as_str())))
                    .filter(audit_log::action.eq("consent.request"))
                    .filter(audit_log::detail.like(source))
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await?)
    }

    fn csrf_mac(&self, tenant: &str, purpose: &str, issued: i64) -> Vec<u8> {
        let key = self.infra.keys.master().derive("widget-csrf");
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()) else {
            return Vec::new();
        };
        mac.update(tenant.as_bytes());
        mac.update(b"\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(&issued.to_be_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A fresh token for the form (and its cookie).
    pub fn widget_token(&self, tenant: &TenantId, purpose: &str) -> String {
        let issued = self.infra.clock.now().timestamp();
        let mut raw = issued.to_be_bytes().to_vec();
        raw.extend(self.csrf_mac(tenant.as_str(), purpose, issued));
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn token_valid(
        &self,
        tenant: &TenantId,
        purpose: &str,
        form: Option<&str>,
        cookie: Option<&str>,
    ) -> bool {
        let (Some(form), Some(cookie)) = (form, cookie) else {
            return false;
        };
        if !bool::from(form.as_bytes().ct_eq(cookie.as_bytes())) {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(form) else {
            return false;
        };
        if raw.len() != 8 + 32 {
            return false;
        }
        let (issued_bytes, mac) = raw.split_at(8);
        let issued = i64::from_be_bytes(issued_bytes.try_into().unwrap_or([0; 8]));
        let age = self.infra.clock.now().timestamp() - issued;
        let fresh = (0..=TOKEN_LIFETIME.num_seconds()).contains(&age);
        fresh && bool::from(mac.ct_eq(&self.csrf_mac(tenant.as_str(), purpose, issued)))
    }

    /// The consent text the widget shows (latest version, in `language` or German) and the
    /// purpose's name; NotFound for an unknown tenant or purpose.
    pub async fn widget_purpose(
        &self,
        tenant: &TenantId,
        purpose: &str,
        language: &str,
    ) -> Result<(String, String)> {
        let view = self
            .list_purposes(&Actor::System, tenant)
            .await?
            .into_iter()
            .find(|p| p.id == purpose)
            .ok_or(Error::NotFound)?;
        let latest = view.texts.iter().map(|t| t.version).max().unwrap_or(1);
        let text = view
            .texts
            .iter()
            .filter(|t| t.version == latest)
            .find(|t| t.language == language)
            .or_else(|| {
                view.texts
                    .iter()
                    .find(|t| t.version == latest && t.language == "de")
            })
            .map(|t| t.text.clone())
            .ok_or(Error::NotFound)?;
        Ok((view.name, text))
    }

    /// Handles a submitted form. `Ok(())` is the uniform "check your WhatsApp" answer.
    pub async fn widget_sign_up(
        &self,
        tenant: &TenantId,
        purpose: &str,
        form: SignUp,
    ) -> Result<std::result::Result<(), SignUpRefusal>> {
        self.widget_purpose(tenant, purpose, &form.language).await?;
        if !self.token_valid(
            tenant,
            purpose,
            form.csrf_form.as_deref(),
            form.csrf_cookie.as_deref(),
        ) {
            return Ok(Err(SignUpRefusal::Csrf));
        }
        if !form.consent_ticked {
            return Ok(Err(SignUpRefusal::ConsentMissing));
        }
        let channel = ChannelName::parse("channel", "whatsapp")?;
        let Ok(address) = Address::parse("phone", &channel, &form.phone) else {
            return Ok(Err(SignUpRefusal::BadNumber));
        };
        let now = self.infra.clock.now();
        let limits = self.widget_limits;
        let ip_key = format!("ip:{}:{}", tenant.as_str(), client_key(form.ip.as_deref()));
        if !self
            .widget_rate
            .allow(&ip_key, limits.per_ip_per_hour, Duration::hours(1), now)
        {
            return Ok(Err(SignUpRefusal::RateLimited));
        }
        let contact = self
            .messages
            .ensure_contact(tenant, &channel, &address)
            .await?;
        // Each sign-up sends the number a message: counted in the database, so the limit holds
        // across instances and restarts and no flood of addresses resets it.
        if self
            .widget_requests_since(tenant, &contact, now - Duration::days(1))
            .await?
            >= limits.per_number_per_day as i64
        {
            return Ok(Err(SignUpRefusal::RateLimited));
        }
        let evidence = Evidence {
            ip: form.ip,
            user_agent: form.user_agent,
            page: form.page,
            origin: form.origin,
            keyword: None,
            note: Some("double opt-in via the hosted sign-up widget".into()),
        };
        let outcome = self
            .request(
                &Actor::System,
                tenant,
                &contact,
                purpose,
                &form.language,
                Source::Widget,
                evidence,
                // The confirmation goes out from the outbox: the answer must not wait for the
                // platform, or its time would tell a new number from a subscribed one.
                crate::channels::send::Dispatch::Outbox,
            )
            .await?;
        if let Some(reason) = outcome.confirmation_error {
            // The person sees the same answer; the admin finds the reason in the log.
            tracing::warn!(tenant = %tenant, %reason, "widget sign-up: the confirmation message could not be sent");
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod limiter_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_flood_of_keys_evicts_the_oldest_and_never_resets_the_limited() {
        let limiter = RateLimiter::with_capacity(100);
        let t0 = Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        let hour = Duration::hours(1);
        for _ in 0..3 {
            assert!(limiter.allow("victim", 3, hour, t0));
        }
        assert!(!limiter.allow("victim", 3, hour, t0));
        // 10 000 fresh keys later, within the window, "victim" is still limited: it was used
        // more recently than the keys that get evicted.
        for i in 0..10_000 {
            let at = t0 + Duration::milliseconds(i);
            limiter.allow(&format!("k{i}"), 3, hour, at);
            if i % 50 == 0 {
                assert!(
                    !limiter.allow("victim", 3, hour, at),
                    "reset after {i} keys"
                );
            }
        }
        assert_eq!(
            client_key(Some("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            client_key(Some("2001:db8:1:2::1")),
            "one /64, one key"
        );
        assert_ne!(
            client_key(Some("2001:db8:1:3::1")),
            client_key(Some("2001:db8:1:2::1"))
        );
        assert_eq!(client_key(Some("203.0.113.9")), "203.0.113.9");
    }
}

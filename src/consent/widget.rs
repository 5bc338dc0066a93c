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

use super::{Evidence, Source};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::messages::types::{Address, ChannelName};
use crate::service::Hafen;
use crate::tenants::TenantId;

/// How long a form may be open before it is submitted.
const TOKEN_LIFETIME: Duration = Duration::hours(2);

/// Sliding-window counters (per IP, per number). In memory: a restart forgives.
#[derive(Debug, Default)]
pub struct RateLimiter {
    hits: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl RateLimiter {
    /// Counts a hit for `key`; false when `limit` hits within `window` were already counted.
    pub fn allow(&self, key: &str, limit: usize, window: Duration, now: DateTime<Utc>) -> bool {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if hits.len() > 100_000 {
            hits.retain(|_, q| q.back().is_some_and(|t| now - *t < window));
            // Still full (e.g. rotating addresses): forget everything rather than grow.
            if hits.len() > 100_000 {
                hits.clear();
            }
        }
        let queue = hits.entry(key.to_string()).or_default();
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

impl Hafen {
    fn csrf_mac(&self, tenant: &str, purpose: &str, issued: i64) -> Vec<u8> {
        let key = self.keys.master().derive("widget-csrf");
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
        let issued = self.clock.now().timestamp();
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
        let age = self.clock.now().timestamp() - issued;
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
        let now = self.clock.now();
        let limits = self.widget_limits;
        let ip_key = format!(
            "ip:{}:{}",
            tenant.as_str(),
            form.ip.as_deref().unwrap_or("-")
        );
        if !self
            .widget_rate
            .allow(&ip_key, limits.per_ip_per_hour, Duration::hours(1), now)
        {
            return Ok(Err(SignUpRefusal::RateLimited));
        }
        // Keyed by the blind index, so the limiter holds no phone numbers.
        let keys = self.tenant_keys(tenant).await?;
        let number_key = format!(
            "n:{}",
            hex::encode(keys.blind.index(&[b"widget", address.expose().as_bytes()]))
        );
        if !self.widget_rate.allow(
            &number_key,
            limits.per_number_per_day,
            Duration::days(1),
            now,
        ) {
            return Ok(Err(SignUpRefusal::RateLimited));
        }
        let contact = self.ensure_contact(tenant, &channel, &address).await?;
        let evidence = Evidence {
            ip: form.ip,
            user_agent: form.user_agent,
            page: form.page,
            origin: form.origin,
            keyword: None,
            note: Some("double opt-in via the hosted sign-up widget".into()),
        };
        let outcome = self
            .request_consent(
                &Actor::System,
                tenant,
                &contact,
                purpose,
                &form.language,
                Source::Widget,
                evidence,
            )
            .await?;
        if let Some(reason) = outcome.confirmation_error {
            // The person sees the same answer; the admin finds the reason in the log.
            tracing::warn!(tenant = %tenant, %reason, "widget sign-up: the confirmation message could not be sent");
        }
        Ok(Ok(()))
    }
}

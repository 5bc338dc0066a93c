//! Where a platform delivers a channel's events, and asking it to deliver them to Hafen.
//!
//! - Telegram: `getWebhookInfo` tells the URL, the updates waiting and the last delivery
//!   error; `setWebhook` sets the URL with the channel's `webhook_secret` as `secret_token`
//!   and asks only for the updates Hafen stores (`allowed_updates`), so the rest never leave
//!   Telegram.
//! - WhatsApp: a phone number's `webhook_configuration` tells which callback Meta uses for it
//!   (the number's own override, the business account's or the app's); registering sets the
//!   number's override (`override_callback_uri` with the channel's verify token), which Meta
//!   confirms by calling the webhook with `hub.challenge` before it answers.
//! - Messenger: the callback URL belongs to the Meta app and is set with the app's own token,
//!   which Hafen does not hold. A page token can subscribe the page to the app's webhook fields
//!   (`subscribed_apps`) and show which fields the page receives: that is the check here.

use serde_json::{json, Value};

use super::platform::{answer, needs, PlatformClient, PlatformFailure};
use super::Channels;
use super::{Channel, Platform};
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::error::Result;
use crate::tenants::TenantId;

/// The Messenger webhook fields Hafen stores: messages, button presses, delivery and read
/// receipts.
pub const MESSENGER_FIELDS: [&str; 4] = [
    "messages",
    "messaging_postbacks",
    "message_deliveries",
    "message_reads",
];

/// The Telegram updates Hafen stores (`parse::telegram`); Telegram keeps the others.
/// `message_reaction` is delivered only when asked for.
pub const TELEGRAM_UPDATES: [&str; 8] = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "callback_query",
    "message_reaction",
];

/// Where the platform delivers a channel's events, as it reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The webhook URL (`None`: no webhook, Telegram keeps updates for `getUpdates`), the
    /// updates waiting, and the last error Telegram met delivering one.
    Telegram {
        url: Option<String>,
        pending: u64,
        last_error: Option<String>,
    },
    /// The callback Meta uses for this phone number, and where it is set.
    Whatsapp {
        url: Option<String>,
        level: MetaLevel,
    },
    /// The apps the page is subscribed to, and the fields Hafen stores that none of them
    /// receives.
    Messenger {
        apps: Vec<String>,
        missing: Vec<&'static str>,
    },
}

/// Where a WhatsApp number's callback URL is set: Meta uses the most specific one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaLevel {
    /// The number's own override.
    Number,
    /// The WhatsApp Business Account's override.
    BusinessAccount,
    /// The app's callback URL.
    App,
    /// Nowhere: Meta delivers this number's events to no one.
    Nowhere,
}

impl Delivery {
    /// Whether the platform delivers this channel's events to `url`. For Messenger the URL is
    /// the app's and not visible with a page token: true when the page receives every field
    /// Hafen stores.
    pub fn reaches(&self, url: &str) -> bool {
        match self {
            Self::Telegram { url: to, .. } | Self::Whatsapp { url: to, .. } => {
                to.as_deref() == Some(url)
            }
            Self::Messenger { apps, missing } => !apps.is_empty() && missing.is_empty(),
        }
    }
}

impl PlatformClient {
    /// Asks the platform where it delivers `channel`'s events.
    pub async fn delivery(
        &self,
        channel: &Channel,
    ) -> std::result::Result<Delivery, PlatformFailure> {
        match channel.platform {
            Platform::Telegram => {
                let token = needs(channel.secrets.bot_token.as_deref(), "bot_token")?;
                let request = self.http().get(format!(
                    "{}/bot{token}/getWebhookInfo",
                    self.endpoints().telegram
                ));
                let (_, body) = answer(request).await?;
                Ok(telegram_delivery(&body))
            }
            Platform::Whatsapp => {
                let token = needs(channel.secrets.access_token.as_deref(), "access_token")?;
                let number = needs(channel.account_id.as_deref(), "account_id")?;
                let request = self
                    .http()
                    .get(format!(
                        "{}/{number}?fields=webhook_configuration",
                        self.endpoints().whatsapp
                    ))
                    .bearer_auth(token);
                let (_, body) = answer(request).await?;
                Ok(whatsapp_delivery(&body))
            }
            Platform::Messenger => {
                let token = needs(channel.secrets.access_token.as_deref(), "access_token")?;
                let request = self
                    .http()
                    .get(format!("{}/me/subscribed_apps", self.endpoints().messenger))
                    .bearer_auth(token);
                let (_, body) = answer(request).await?;
                Ok(messenger_delivery(&body))
            }
        }
    }

    /// Asks the platform to deliver `channel`'s events to `url` (Messenger: subscribes the
    /// page to the fields Hafen stores), then reads back where it delivers them.
    pub async fn register_webhook(
        &self,
        channel: &Channel,
        url: &str,
    ) -> std::result::Result<Delivery, PlatformFailure> {
        let request = match channel.platform {
            Platform::Telegram => {
                let token = needs(channel.secrets.bot_token.as_deref(), "bot_token")?;
                let secret = needs(channel.secrets.webhook_secret.as_deref(), "webhook_secret")?;
                self.http()
                    .post(format!(
                        "{}/bot{token}/setWebhook",
                        self.endpoints().telegram
                    ))
                    .json(&json!({
                        "url": url,
                        "secret_token": secret,
                        "allowed_updates": TELEGRAM_UPDATES,
                    }))
            }
            Platform::Whatsapp => {
                let token = needs(channel.secrets.access_token.as_deref(), "access_token")?;
                let number = needs(channel.account_id.as_deref(), "account_id")?;
                let verify = needs(channel.secrets.verify_token.as_deref(), "verify_token")?;
                self.http()
                    .post(format!("{}/{number}", self.endpoints().whatsapp))
                    .bearer_auth(token)
                    .json(&json!({
                        "webhook_configuration": {
                            "override_callback_uri": url,
                            "verify_token": verify,
                        }
                    }))
            }
            Platform::Messenger => {
                let token = needs(channel.secrets.access_token.as_deref(), "access_token")?;
                self.http()
                    .post(format!(
                        "{}/me/subscribed_apps?subscribed_fields={}",
                        self.endpoints().messenger,
                        MESSENGER_FIELDS.join(",")
                    ))
                    .bearer_auth(token)
            }
        };
        answer(request).await?;
        self.delivery(channel).await
    }
}

fn text_at(body: &Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `getWebhookInfo`: `{"ok": true, "result": {"url", "pending_update_count",
/// "last_error_message"}}`; an empty `url` means no webhook.
fn telegram_delivery(body: &Value) -> Delivery {
    Delivery::Telegram {
        url: text_at(body, "/result/url"),
        pending: body
            .pointer("/result/pending_update_count")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        last_error: text_at(body, "/result/last_error_message"),
    }
}

/// `GET /{phone-number-id}?fields=webhook_configuration`: `{"webhook_configuration":
/// {"phone_number", "whatsapp_business_account", "application"}}`, most specific first.
fn whatsapp_delivery(body: &Value) -> Delivery {
    [
        ("phone_number", MetaLevel::Number),
        ("whatsapp_business_account", MetaLevel::BusinessAccount),
        ("application", MetaLevel::App),
    ]
    .into_iter()
    .find_map(|(field, level)| {
        text_at(body, &format!("/webhook_configuration/{field}")).map(|url| Delivery::Whatsapp {
            url: Some(url),
            level,
        })
    })
    .unwrap_or(Delivery::Whatsapp {
        url: None,
        level: MetaLevel::Nowhere,
    })
}

/// `GET /me/subscribed_apps` with a page token: `{"data": [{"name", "id",
/// "subscribed_fields": [...]}]}`.
fn messenger_delivery(body: &Value) -> Delivery {
    let apps = body
        .get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let received: Vec<&str> = apps
        .iter()
        .filter_map(|a| a.get("subscribed_fields").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    Delivery::Messenger {
        apps: apps
            .iter()
            .filter_map(|a| text_at(a, "/name").or_else(|| text_at(a, "/id")))
            .collect(),
        missing: MESSENGER_FIELDS
            .into_iter()
            .filter(|f| !received.contains(f))
            .collect(),
    }
}

impl Channels {
    /// Where the platform delivers a channel's events (see [`PlatformClient::delivery`]).
    pub async fn webhook_delivery(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<std::result::Result<Delivery, PlatformFailure>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let channel = self.channel(tenant, id).await?;
        Ok(self.platforms.delivery(&channel).await)
    }

    /// Registers a channel's webhook at `public_base` (the configured `public_url`; without
    /// it there is no address to register) with its platform. Audited as
    /// `channel.webhook_register` when the platform accepted it.
    pub async fn register_webhook(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        public_base: Option<&str>,
    ) -> Result<std::result::Result<Delivery, PlatformFailure>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let channel = self.channel(tenant, id).await?;
        let Some(base) = public_base else {
            return Ok(Err(PlatformFailure::Missing("public_url")));
        };
        let url = channel.webhook_url(base);
        let delivery = self.platforms.register_webhook(&channel, &url).await;
        if delivery.is_ok() {
            let event = AuditEvent::new(actor, "channel.webhook_register")
                .tenant(tenant)
                .object("channel", id)
                .detail(format!("platform={}", channel.platform.as_str()));
            let at = self.infra.clock.now();
            self.infra
                .store
                .write(move |conn| audit::append(conn, at, event.clone()))
                .await?;
        }
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_reports_its_url_backlog_and_last_error() {
        let d = telegram_delivery(&json!({"ok": true, "result": {
            "url": "https://hafen.muster.de/hooks/telegram/x", "has_custom_certificate": false,
            "pending_update_count": 12, "last_error_date": 1764151200,
            "last_error_message": "Wrong response from the webhook: 401 Unauthorized"}}));
        assert_eq!(
            d,
            Delivery::Telegram {
                url: Some("https://hafen.muster.de/hooks/telegram/x".into()),
                pending: 12,
                last_error: Some("Wrong response from the webhook: 401 Unauthorized".into()),
            }
        );
        assert!(d.reaches("https://hafen.muster.de/hooks/telegram/x"));
        assert!(!d.reaches("https://hafen.muster.de/hooks/telegram/y"));
        let none = telegram_delivery(
            &json!({"ok": true, "result": {"url": "", "pending_update_count": 0}}),
        );
        assert!(matches!(none, Delivery::Telegram { url: None, .. }));
    }

    #[test]
    fn whatsapp_uses_the_most_specific_callback() {
        let all = json!({"webhook_configuration": {"phone_number": "https://a/n",
            "whatsapp_business_account": "https://a/w", "application": "https://a/app"}});
        assert_eq!(
            whatsapp_delivery(&all),
            Delivery::Whatsapp {
                url: Some("https://a/n".into()),
                level: MetaLevel::Number
            }
        );
        let app = json!({"webhook_configuration": {"application": "https://a/app"}, "id": "1"});
        assert_eq!(
            whatsapp_delivery(&app),
            Delivery::Whatsapp {
                url: Some("https://a/app".into()),
                level: MetaLevel::App
            }
        );
        assert_eq!(
            whatsapp_delivery(&json!({"id": "1"})),
            Delivery::Whatsapp {
                url: None,
                level: MetaLevel::Nowhere
            }
        );
    }

    #[test]
    fn messenger_names_the_fields_no_app_receives() {
        let d = messenger_delivery(&json!({"data": [
            {"name": "Hafen", "id": "1", "subscribed_fields": ["messages", "message_reads"]},
            {"id": "2", "subscribed_fields": ["messaging_postbacks"]}]}));
        assert_eq!(
            d,
            Delivery::Messenger {
                apps: vec!["Hafen".into(), "2".into()],
                missing: vec!["message_deliveries"],
            }
        );
        assert!(!d.reaches("ignored"));
        let unsubscribed = messenger_delivery(&json!({"data": []}));
        assert!(!unsubscribed.reaches("ignored"));
        let complete = messenger_delivery(&json!({"data": [{"name": "Hafen",
            "subscribed_fields": MESSENGER_FIELDS}]}));
        assert!(complete.reaches("ignored"));
    }
}

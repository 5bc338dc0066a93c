//! The platforms' send APIs. Base URLs are configuration, so tests point them at a local fake
//! that answers in the real formats. Error classification decides what is retried: rate limits,
//! server errors and network failures are transient; everything else is final.

use std::time::Duration;

use serde_json::{json, Value};

use crate::egress::{self, EgressPolicy, Refusal};

use super::{Channel, Platform};
use crate::messages::inbound::PlatformError;

/// Where the platform APIs live.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub whatsapp: String,
    pub messenger: String,
    pub telegram: String,
}

impl Endpoints {
    pub fn all(&self) -> [&str; 3] {
        [&self.whatsapp, &self.messenger, &self.telegram]
    }
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            whatsapp: "https://graph.facebook.com/v21.0".into(),
            messenger: "https://graph.facebook.com/v21.0".into(),
            telegram: "https://api.telegram.org".into(),
        }
    }
}

/// What to send.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outbound {
    Text {
        text: String,
    },
    /// WhatsApp message template (the only kind allowed outside the 24-hour window).
    Template {
        name: String,
        language: String,
        components: Option<Value>,
    },
    /// A file by public URL: image, video, audio or document.
    Media {
        kind: String,
        url: String,
        caption: Option<String>,
    },
}

/// How a send attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// Accepted; the platform's message id (Telegram: `<chat id>:<message id>`).
    Sent(String),
    /// Refused for good (bad number, template not approved, blocked…).
    Failed(PlatformError),
    /// Try again later (rate limit, server error, network).
    Retry(PlatformError, Option<Duration>),
}

/// The platforms' APIs at their configured endpoints, reached through the one outbound client
/// (egress policy, timeouts) every request of Hafen's goes through.
#[derive(Debug, Clone)]
pub struct PlatformClient {
    out: egress::Client,
    endpoints: Endpoints,
}

impl Default for PlatformClient {
    fn default() -> Self {
        let endpoints = Endpoints::default();
        let policy = EgressPolicy::new(&endpoints.all(), &[]).unwrap_or_default();
        Self::new(
            endpoints,
            egress::Client::new(policy, Duration::from_secs(30)),
        )
    }
}

impl PlatformClient {
    pub fn new(endpoints: Endpoints, out: egress::Client) -> Self {
        Self { out, endpoints }
    }

    /// A GET to `url` if the policy permits it (see [`egress::Client::get`]).
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, Refusal> {
        self.out.get(url)
    }

    pub fn policy(&self) -> &EgressPolicy {
        self.out.policy()
    }

    pub fn http(&self) -> &reqwest::Client {
        self.out.http()
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Sends `message` to `address` through `channel`.
    pub async fn send(&self, channel: &Channel, address: &str, message: &Outbound) -> SendOutcome {
        let request = match self.build(channel, address, message) {
            Ok(r) => r,
            Err(e) => return SendOutcome::Failed(e),
        };
        let response = match request.send().await {
            Ok(r) => r,
            // `without_url`: Telegram puts the bot token in the URL; it must not reach a log.
            Err(e) => return SendOutcome::Retry(network_error(&e.without_url()), None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match channel.platform {
            Platform::Whatsapp | Platform::Messenger => {
                graph_outcome(channel.platform, status, &body, retry_after)
            }
            Platform::Telegram => telegram_outcome(status, &body, address),
        }
    }

    fn build(
        &self,
        channel: &Channel,
        address: &str,
        message: &Outbound,
    ) -> Result<reqwest::RequestBuilder, PlatformError> {
        let missing = |what: &str| PlatformError {
            code: 0,
            title: format!("the channel has no {what}"),
            detail: Some(format!("set secrets.{what} on the channel")),
        };
        match channel.platform {
            Platform::Whatsapp => {
                let token = channel
                    .secrets
                    .access_token
                    .as_deref()
                    .ok_or_else(|| missing("access_token"))?;
                let account = channel.account_id.as_deref().unwrap_or_default();
                let to = address.strip_prefix("id:").unwrap_or(address);
                let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to});
                match message {
                    Outbound::Text { text } => {
                        body["type"] = json!("text");
                        body["text"] = json!({"body": text, "preview_url": false});
                    }
                    Outbound::Template {
                        name,
                        language,
                        components,
                    } => {
                        body["type"] = json!("template");
                        body["template"] = json!({"name": name, "language": {"code": language}});
                        if let Some(c) = components {
                            body["template"]["components"] = c.clone();
                        }
                    }
                    Outbound::Media { kind, url, caption } => {
                        body["type"] = json!(kind);
                        body[kind.as_str()] = json!({"link": url});
                        if let Some(c) = caption.as_ref().filter(|_| kind != "audio") {
                            body[kind.as_str()]["caption"] = json!(c);
                        }
                    }
                }
                Ok(self
                    .http()
                    .post(format!("{}/{account}/messages", self.endpoints.whatsapp))
                    .bearer_auth(token)
                    .json(&body))
            }
            Platform::Messenger => {
                let token = channel
                    .secrets
                    .access_token
                    .as_deref()
                    .ok_or_else(|| missing("access_token"))?;
                let content = match message {
                    Outbound::Text { text } => json!({"text": text}),
                    Outbound::Media { kind, url, .. } => {
                        let kind = if kind == "document" {
                            "file"
                        } else {
                            kind.as_str()
                        };
                        json!({"attachment": {"type": kind, "payload": {"url": url, "is_reusable": false}}})
                    }
                    Outbound::Template { .. } => {
                        return Err(PlatformError {
                            code: 0,
                            title: "templates are a WhatsApp feature".into(),
                            detail: None,
                        })
                    }
                };
                let body = json!({"recipient": {"id": address}, "messaging_type": "RESPONSE", "message": content});
                Ok(self
                    .http()
                    .post(format!("{}/me/messages", self.endpoints.messenger))
                    .bearer_auth(token)
                    .json(&body))
            }
            Platform::Telegram => {
                let token = channel
                    .secrets
                    .bot_token
                    .as_deref()
                    .ok_or_else(|| missing("bot_token"))?;
                let (method, body) = match message {
                    Outbound::Text { text } => {
                        ("sendMessage", json!({"chat_id": address, "text": text}))
                    }
                    Outbound::Media { kind, url, caption } => {
                        let (method, field) = match kind.as_str() {
                            "image" => ("sendPhoto", "photo"),
                            "video" => ("sendVideo", "video"),
                            "audio" => ("sendAudio", "audio"),
                            _ => ("sendDocument", "document"),
                        };
                        let mut body = json!({"chat_id": address, field: url});
                        if let Some(c) = caption {
                            body["caption"] = json!(c);
                        }
                        (method, body)
                    }
                    Outbound::Template { .. } => {
                        return Err(PlatformError {
                            code: 0,
                            title: "templates are a WhatsApp feature".into(),
                            detail: None,
                        })
                    }
                };
                Ok(self
                    .http()
                    .post(format!("{}/bot{token}/{method}", self.endpoints.telegram))
                    .json(&body))
            }
        }
    }
}

impl PlatformClient {
    /// Asks the platform who these credentials belong to (WhatsApp: the phone number;
    /// Messenger: the page; Telegram: `getMe`), to test a channel before traffic depends on
    /// it. Returns the platform's name for the account, or why it failed.
    pub async fn check(&self, channel: &Channel) -> Result<String, PlatformError> {
        self.check_account(channel)
            .await
            .map_err(PlatformFailure::into_error)
    }

    /// [`PlatformClient::check`] with the kind of failure kept, so a page can word it.
    pub async fn check_account(&self, channel: &Channel) -> Result<String, PlatformFailure> {
        let request = match channel.platform {
            Platform::Whatsapp => {
                let token = needs(channel.secrets.access_token.as_deref(), "access_token")?;
                let account = needs(channel.account_id.as_deref(), "account_id")?;
                self.out
                    .http()
                    .get(format!(
                        "{}/{account}?fields=display_phone_number,verified_name",
                        self.endpoints.whatsapp
                    ))
                    .bearer_auth(token)
            }
            Platform::Messenger => {
                let token = needs(channel.secrets.access_token.as_deref(), "access_token")?;
                self.out
                    .http()
                    .get(format!("{}/me?fields=name", self.endpoints.messenger))
                    .bearer_auth(token)
            }
            Platform::Telegram => {
                let token = needs(channel.secrets.bot_token.as_deref(), "bot_token")?;
                self.out
                    .http()
                    .get(format!("{}/bot{token}/getMe", self.endpoints.telegram))
            }
        };
        let (status, body) = answer(request).await?;
        ["/verified_name", "/name", "/result/username"]
            .iter()
            .find_map(|p| body.pointer(p).and_then(Value::as_str))
            .map(str::to_string)
            .ok_or(PlatformFailure::Refused {
                status,
                detail: None,
            })
    }
}

/// A setting the channel must have for a call to the platform, or [`PlatformFailure::Missing`].
pub(crate) fn needs<'a>(
    value: Option<&'a str>,
    what: &'static str,
) -> Result<&'a str, PlatformFailure> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(PlatformFailure::Missing(what))
}

/// Sends a request to a platform's account API and reads its JSON answer: a 2xx answer's body,
/// or why there was none (no connection; the platform's status and message otherwise).
pub(crate) async fn answer(
    request: reqwest::RequestBuilder,
) -> Result<(u16, Value), PlatformFailure> {
    let response = request.send().await.map_err(|e| {
        let e = e.without_url();
        PlatformFailure::Unreachable {
            timeout: e.is_timeout(),
            detail: e.to_string(),
        }
    })?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    // Telegram answers some refusals with 200 and `"ok": false`.
    if (200..300).contains(&status) && body.get("ok") != Some(&Value::Bool(false)) {
        return Ok((status, body));
    }
    Err(PlatformFailure::Refused {
        status,
        detail: body
            .pointer("/error/message")
            .or_else(|| body.pointer("/description"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Why a call to a platform's account API (a channel test, a webhook registration) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformFailure {
    /// The channel lacks a setting the call needs (`access_token`, `account_id`, `bot_token`,
    /// `verify_token`, `webhook_secret`, or `public_url` in the configuration).
    Missing(&'static str),
    /// No answer: no connection, or none in time.
    Unreachable { timeout: bool, detail: String },
    /// The platform answered, but not as asked: its status and message.
    Refused { status: u16, detail: Option<String> },
}

impl PlatformFailure {
    pub fn into_error(self) -> PlatformError {
        match self {
            Self::Missing(what) => PlatformError {
                code: 0,
                title: format!("the channel has no {what}"),
                detail: Some(match what {
                    "public_url" => "set public_url in the configuration".into(),
                    "account_id" => "set account_id on the channel".into(),
                    _ => format!("set secrets.{what} on the channel"),
                }),
            },
            Self::Unreachable { timeout, detail } => PlatformError {
                code: 0,
                title: if timeout {
                    "the platform did not answer in time"
                } else {
                    "the platform could not be reached"
                }
                .into(),
                detail: Some(detail),
            },
            Self::Refused { status, detail } => PlatformError {
                code: i64::from(status),
                title: format!("the platform answered {status}"),
                detail,
            },
        }
    }
}

fn network_error(e: &reqwest::Error) -> PlatformError {
    PlatformError {
        code: 0,
        title: if e.is_timeout() {
            "the platform did not answer in time"
        } else {
            "the platform could not be reached"
        }
        .into(),
        detail: Some(e.to_string()),
    }
}

/// Graph API (WhatsApp, Messenger): `{"error": {"message", "type", "code", "error_subcode",
/// "error_data": {"details"}}}` on failure.
fn graph_outcome(
    platform: Platform,
    status: u16,
    body: &Value,
    retry_after: Option<Duration>,
) -> SendOutcome {
    if (200..300).contains(&status) {
        let id = match platform {
            Platform::Whatsapp => body.pointer("/messages/0/id"),
            _ => body.get("message_id"),
        }
        .and_then(Value::as_str);
        return match id {
            Some(id) => SendOutcome::Sent(id.to_string()),
            None => SendOutcome::Retry(
                PlatformError {
                    code: 0,
                    title: "the platform answered without a message id".into(),
                    detail: None,
                },
                None,
            ),
        };
    }
    let error = body.get("error");
    let code = error
        .and_then(|e| e.get("code"))
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(status));
    let platform_error = PlatformError {
        code,
        title: error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("the platform refused the message")
            .to_string(),
        detail: error
            .and_then(|e| e.pointer("/error_data/details"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    // Graph's throttling and temporary codes: 1, 2 (service), 4, 17, 32, 613 (rate limits),
    // 80007 (WhatsApp rate limit), 130429 (throughput), 131000 (unknown), 131056 (pair rate
    // limit), 133004 (temporarily unavailable).
    let transient_code = matches!(
        code,
        1 | 2 | 4 | 17 | 32 | 613 | 80007 | 130429 | 131000 | 131056 | 133004
    );
    if status == 429 || status >= 500 || transient_code {
        SendOutcome::Retry(platform_error, retry_after)
    } else {
        SendOutcome::Failed(platform_error)
    }
}

/// Bot API: `{"ok": true, "result": {...}}` or `{"ok": false, "error_code", "description",
/// "parameters": {"retry_after"}}`.
fn telegram_outcome(status: u16, body: &Value, chat: &str) -> SendOutcome {
    if body.get("ok").and_then(Value::as_bool) == Some(true) {
        return match body.pointer("/result/message_id").and_then(Value::as_i64) {
            Some(id) => SendOutcome::Sent(format!("{chat}:{id}")),
            None => SendOutcome::Retry(
                PlatformError {
                    code: 0,
                    title: "Telegram answered without a message id".into(),
                    detail: None,
                },
                None,
            ),
        };
    }
    let code = body
        .get("error_code")
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(status));
    let error = PlatformError {
        code,
        title: body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("Telegram refused the message")
            .to_string(),
        detail: None,
    };
    let retry_after = body
        .pointer("/parameters/retry_after")
        .and_then(Value::as_u64)
        .map(Duration::from_secs);
    if code == 429 || status >= 500 || status == 0 {
        SendOutcome::Retry(error, retry_after)
    } else {
        SendOutcome::Failed(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_are_classified() {
        let rate = json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}});
        assert!(matches!(
            graph_outcome(Platform::Whatsapp, 400, &rate, None),
            SendOutcome::Retry(..)
        ));
        let bad = json!({"error": {"message": "(#131026) Message undeliverable", "code": 131026, "error_data": {"details": "Receiver is incapable"}}});
        match graph_outcome(Platform::Whatsapp, 400, &bad, None) {
            SendOutcome::Failed(e) => {
                assert_eq!(e.code, 131026);
                assert_eq!(e.detail.as_deref(), Some("Receiver is incapable"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            graph_outcome(Platform::Messenger, 503, &Value::Null, None),
            SendOutcome::Retry(..)
        ));
        let ok = json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.X"}]});
        assert_eq!(
            graph_outcome(Platform::Whatsapp, 200, &ok, None),
            SendOutcome::Sent("wamid.X".into())
        );
        let ok = json!({"recipient_id": "1", "message_id": "m_1"});
        assert_eq!(
            graph_outcome(Platform::Messenger, 200, &ok, None),
            SendOutcome::Sent("m_1".into())
        );
    }

    #[test]
    fn telegram_errors_are_classified() {
        let ok = json!({"ok": true, "result": {"message_id": 77, "chat": {"id": 5}}});
        assert_eq!(
            telegram_outcome(200, &ok, "5"),
            SendOutcome::Sent("5:77".into())
        );
        let limited = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 3", "parameters": {"retry_after": 3}});
        assert!(
            matches!(telegram_outcome(429, &limited, "5"), SendOutcome::Retry(_, Some(d)) if d == Duration::from_secs(3))
        );
        let blocked = json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"});
        assert!(matches!(
            telegram_outcome(403, &blocked, "5"),
            SendOutcome::Failed(_)
        ));
    }
}

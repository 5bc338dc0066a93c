//! A channel's platform secrets: sealed in the database, never shown again, and reported only
//! as which of them are set.

use super::*;

/// A channel's secrets. Which ones a platform needs: WhatsApp and Messenger `app_secret` and
/// `verify_token` (webhooks) and `access_token` (sending, media); Telegram `webhook_secret`
/// (webhooks) and `bot_token` (sending, files).
#[derive(Default, Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct ChannelSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for ChannelSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelSecrets([redacted])")
    }
}

/// Which secrets are set; what the API shows instead of the secrets.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct SecretsSet {
    pub app_secret: bool,
    pub verify_token: bool,
    pub access_token: bool,
    pub bot_token: bool,
    pub webhook_secret: bool,
}

impl From<&ChannelSecrets> for SecretsSet {
    fn from(s: &ChannelSecrets) -> Self {
        Self {
            app_secret: s.app_secret.is_some(),
            verify_token: s.verify_token.is_some(),
            access_token: s.access_token.is_some(),
            bot_token: s.bot_token.is_some(),
            webhook_secret: s.webhook_secret.is_some(),
        }
    }
}

/// Secrets in a create request.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretsInput {
    #[serde(default)]
    pub app_secret: Option<String>,
    #[serde(default)]
    pub verify_token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub bot_token: Option<String>,
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// Secrets in an update: absent = keep, `null` = remove, a value = replace.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretsPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub app_secret: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub verify_token: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub bot_token: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<Option<String>>,
}

/// Distinguishes a field set to `null` (Some(None)) from an absent one (None, via `default`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(super) fn secrets_binding<'a>(tenant: &'a str, id: &'a str) -> FieldBinding<'a> {
    FieldBinding {
        tenant,
        table: "channels",
        column: "secrets",
        row: id,
    }
}

pub(super) fn check_secret(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > 4096 || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            format!("secrets.{field}"),
            "must be 1-4096 characters without control characters",
        ));
    }
    Ok(())
}

impl ChannelSecrets {
    pub(super) fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("app_secret", &self.app_secret),
            ("verify_token", &self.verify_token),
            ("access_token", &self.access_token),
            ("bot_token", &self.bot_token),
            ("webhook_secret", &self.webhook_secret),
        ] {
            if let Some(v) = value {
                check_secret(field, v)?;
                // The secrets that authenticate webhooks must not be guessable. The verify
                // token only lets someone trigger Meta's handshake echo; access and bot tokens
                // are the platforms' own.
                if matches!(field, "app_secret" | "webhook_secret") {
                    crate::crypto::strength::check(v)
                        .map_err(|reason| Error::invalid(format!("secrets.{field}"), reason))?;
                }
            }
        }
        if let Some(s) = &self.webhook_secret {
            // Telegram's setWebhook accepts 1-256 characters of A-Z a-z 0-9 _ -.
            if s.len() > 256
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Error::invalid(
                    "secrets.webhook_secret",
                    "must be 1-256 characters of A-Z, a-z, 0-9, '_' or '-'",
                ));
            }
        }
        Ok(())
    }

    /// What a platform needs before its webhook can be verified.
    pub(super) fn require_for(&self, platform: Platform) -> Result<()> {
        let missing = |field: &str| {
            Error::invalid(
                format!("secrets.{field}"),
                format!("is required for {}", platform.as_str()),
            )
        };
        match platform {
            Platform::Whatsapp | Platform::Messenger => {
                if self.app_secret.is_none() {
                    return Err(missing("app_secret"));
                }
                if self.verify_token.is_none() {
                    return Err(missing("verify_token"));
                }
            }
            Platform::Telegram => {
                if self.webhook_secret.is_none() {
                    return Err(missing("webhook_secret"));
                }
            }
        }
        Ok(())
    }

    pub(super) fn apply(&mut self, patch: SecretsPatch) {
        for (slot, change) in [
            (&mut self.app_secret, patch.app_secret),
            (&mut self.verify_token, patch.verify_token),
            (&mut self.access_token, patch.access_token),
            (&mut self.bot_token, patch.bot_token),
            (&mut self.webhook_secret, patch.webhook_secret),
        ] {
            if let Some(change) = change {
                *slot = change;
            }
        }
    }
}

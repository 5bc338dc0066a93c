//! Channel registrations: which platform account routes to which tenant, and its secrets.
//! Secrets are sealed under the tenant's key, never returned (only whether each is set) and
//! never logged.

mod cache;
mod secrets;
pub(crate) use cache::ChannelCache;
pub use secrets::*;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Channels;
use crate::audit::{self, AuditEvent};
use crate::auth::{Actor, Permission};
use crate::clock::{from_micros, to_micros};
use crate::crypto::FieldBinding;
use crate::error::{Error, Result};
use crate::store::id;
use crate::store::schema::channels;
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

pub use crate::address::{channel_label, Platform};

/// What a platform's webhooks ask of Hafen (its identity is in `crate::address`).
impl Platform {
    /// Meta's platforms verify webhooks with a GET handshake and sign every POST.
    pub fn is_meta(self) -> bool {
        matches!(self, Self::Whatsapp | Self::Messenger)
    }

    /// The request header that proves a webhook delivery comes from the platform: Meta's HMAC
    /// of the body, Telegram's secret token.
    pub fn authenticity_header(self) -> &'static str {
        match self {
            Self::Whatsapp | Self::Messenger => "x-hub-signature-256",
            Self::Telegram => "x-telegram-bot-api-secret-token",
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub platform: Platform,
    /// A name for people, e.g. "WhatsApp Kundenservice".
    pub name: String,
    /// WhatsApp `phone_number_id`, Messenger page id, Telegram bot id (optional).
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub secrets: SecretsInput,
    /// Every message on this channel is a business letter (§ 257 HGB), e.g. an order or
    /// invoice channel: kept under the rules for business letters. Default false.
    #[serde(default)]
    pub business_letters: Option<bool>,
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub account_id: Option<Option<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub secrets: Option<SecretsPatch>,
    #[serde(default)]
    pub business_letters: Option<bool>,
}

/// A channel as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub platform: Platform,
    pub name: String,
    pub account_id: Option<String>,
    pub enabled: bool,
    /// Every message on this channel counts as a business letter.
    pub business_letters: bool,
    /// Path of this channel's webhook; prefix it with Hafen's public HTTPS address.
    pub webhook_path: String,
    pub secrets: SecretsSet,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = channels)]
pub struct ChannelRow {
    pub id: String,
    #[diesel(serialize_as = crate::store::id::BoundId)]
    pub tenant_id: String,
    pub platform: String,
    pub name: String,
    pub account_id: Option<String>,
    pub enabled: bool,
    pub secrets_sealed: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
    pub business_letters: bool,
}

/// A channel with its secrets opened, for the webhook and send paths.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub tenant: TenantId,
    pub platform: Platform,
    pub account_id: Option<String>,
    pub enabled: bool,
    pub secrets: ChannelSecrets,
    /// Every message on this channel is a business letter (e.g. an order channel).
    pub business_letters: bool,
}

/// Where a channel's webhook is served, below the install's public address.
pub fn webhook_path(platform: Platform, id: &str) -> String {
    format!("/hooks/{}/{id}", platform.as_str())
}

impl Channel {
    /// This channel's webhook address below `public_base` (`public_url` without its slash).
    pub fn webhook_url(&self, public_base: &str) -> String {
        format!("{public_base}{}", webhook_path(self.platform, &self.id))
    }
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must be 1-200 characters without control characters",
        ));
    }
    Ok(name.to_string())
}

fn validate_account(platform: Platform, account: Option<String>) -> Result<Option<String>> {
    let account = account
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    match (&account, platform) {
        (None, Platform::Whatsapp) => Err(Error::invalid(
            "account_id",
            "the WhatsApp phone_number_id is required",
        )),
        (None, Platform::Messenger) => Err(Error::invalid(
            "account_id",
            "the Facebook page id is required",
        )),
        (Some(a), _)
            if a.len() > 64
                || !a
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') =>
        {
            Err(Error::invalid(
                "account_id",
                "must be a platform id of at most 64 letters, digits, '.', '_' or '-'",
            ))
        }
        _ => Ok(account),
    }
}

impl ChannelRow {
    fn view(&self, secrets: &ChannelSecrets) -> ChannelView {
        let platform = Platform::parse(&self.platform).unwrap_or(Platform::Whatsapp);
        ChannelView {
            webhook_path: webhook_path(platform, &self.id),
            id: self.id.clone(),
            platform,
            name: self.name.clone(),
            account_id: self.account_id.clone(),
            enabled: self.enabled,
            business_letters: self.business_letters,
            secrets: SecretsSet::from(secrets),
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        }
    }
}

fn load(
    conn: &mut DbConn,
    tenant: Option<&TenantId>,
    id: &str,
) -> Result<Option<ChannelRow>, StoreError> {
    let mut query = channels::table
        .filter(channels::id.eq(id.to_string()))
        .into_boxed();
    if let Some(t) = tenant {
        query = query.filter(channels::tenant_id.eq(id::bind(t.as_str())));
    }
    Ok(query
        .select(ChannelRow::as_select())
        .first(conn)
        .optional()?)
}

impl Channels {
    fn open_secrets(
        &self,
        keys: &crate::crypto::keyring::OwnerKeys,
        row: &ChannelRow,
    ) -> Result<ChannelSecrets> {
        let bytes = keys.seal.open(
            &secrets_binding(&row.tenant_id, &row.id),
            &row.secrets_sealed,
        )?;
        serde_json::from_slice(&bytes).map_err(Error::internal)
    }

    fn seal_secrets(
        &self,
        keys: &crate::crypto::keyring::OwnerKeys,
        tenant: &str,
        id: &str,
        secrets: &ChannelSecrets,
    ) -> Result<Vec<u8>> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(secrets).map_err(Error::internal)?);
        Ok(keys.seal.seal(&secrets_binding(tenant, id), &json)?)
    }

    pub async fn create(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: ChannelInput,
    ) -> Result<ChannelView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let name = validate_name(&input.name)?;
        let account_id = validate_account(input.platform, input.account_id)?;
        let s = input.secrets;
        let secrets = ChannelSecrets {
            app_secret: s.app_secret,
            verify_token: s.verify_token,
            access_token: s.access_token,
            bot_token: s.bot_token,
            webhook_secret: s.webhook_secret,
        };
        secrets.validate()?;
        secrets.require_for(input.platform)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let now = to_micros(self.infra.clock.now());
        let row = ChannelRow {
            secrets_sealed: self.seal_secrets(&keys, tenant.as_str(), &id, &secrets)?,
            id: id.clone(),
            tenant_id: tenant.as_str().to_string(),
            platform: input.platform.as_str().to_string(),
            name,
            account_id,
            enabled: input.enabled.unwrap_or(true),
            created_at: now,
            updated_at: now,
            business_letters: input.business_letters.unwrap_or(false),
        };
        let view = row.view(&secrets);
        let event = AuditEvent::new(actor, "channel.create")
            .tenant(tenant)
            .object("channel", &id)
            .detail(format!("platform={}", input.platform.as_str()));
        let at = self.infra.clock.now();
        self.infra
            .store
            .write(move |conn| {
                diesel::insert_into(channels::table)
                    .values(row.clone())
                    .execute(conn)?;
                audit::append(conn, at, event.clone())
            })
            .await?;
        Ok(view)
    }

    pub async fn list(&self, actor: &Actor, tenant: &TenantId) -> Result<Vec<ChannelView>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let t = tenant.clone();
        let rows: Vec<ChannelRow> = self
            .infra
            .store
            .read(move |conn| {
                Ok(channels::table
                    .filter(channels::tenant_id.eq(id::bind(t.as_str())))
                    .order(channels::id.asc())
                    .select(ChannelRow::as_select())
                    .load(conn)?)
            })
            .await?;
        rows.iter()
            .map(|r| Ok(r.view(&self.open_secrets(&keys, r)?)))
            .collect()
    }

    pub async fn read(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<ChannelView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let (t, id) = (tenant.clone(), id.to_string());
        let row = self
            .infra
            .store
            .read(move |conn| load(conn, Some(&t), &id))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(row.view(&self.open_secrets(&keys, &row)?))
    }

    pub async fn update(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        patch: ChannelPatch,
    ) -> Result<ChannelView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let (t, id_owned) = (tenant.clone(), id.to_string());
        let mut row = self
            .infra
            .store
            .read(move |conn| load(conn, Some(&t), &id_owned))
            .await?
            .ok_or(Error::NotFound)?;
        let platform = Platform::parse(&row.platform)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("unknown platform stored")))?;
        let mut secrets = self.open_secrets(&keys, &row)?;
        let mut changed = Vec::new();
        if let Some(name) = patch.name {
            row.name = validate_name(&name)?;
            changed.push("name");
        }
        if let Some(account) = patch.account_id {
            row.account_id = validate_account(platform, account)?;
            changed.push("account_id");
        }
        if let Some(enabled) = patch.enabled {
            row.enabled = enabled;
            changed.push(if enabled { "enabled" } else { "disabled" });
        }
        if let Some(letters) = patch.business_letters {
            row.business_letters = letters;
            changed.push(if letters {
                "business_letters"
            } else {
                "not_business_letters"
            });
        }
        if let Some(p) = patch.secrets {
            secrets.apply(p);
            secrets.validate()?;
            secrets.require_for(platform)?;
            changed.push("secrets");
        }
        row.secrets_sealed = self.seal_secrets(&keys, tenant.as_str(), &row.id, &secrets)?;
        row.updated_at = to_micros(self.infra.clock.now());
        let view = row.view(&secrets);
        let event = AuditEvent::new(actor, "channel.update")
            .tenant(tenant)
            .object("channel", id)
            .detail(format!("changed={}", changed.join(",")));
        let at = self.infra.clock.now();
        let written = self
            .infra
            .store
            .write(move |conn| {
                diesel::update(channels::table.filter(channels::id.eq(row.id.clone())))
                    .set(row.clone())
                    .execute(conn)?;
                audit::append(conn, at, event.clone())
            })
            .await;
        // Also after a failed write: whether it committed may be unknown.
        self.webhook_channels.forget(id);
        written?;
        Ok(view)
    }

    /// Removes a channel. Its messages stay (they belong to the contacts, under retention).
    pub async fn delete(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<()> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        self.infra.ensure_tenant(tenant).await?;
        let (t, id_owned) = (tenant.clone(), id.to_string());
        let event = AuditEvent::new(actor, "channel.delete")
            .tenant(tenant)
            .object("channel", id);
        let at = self.infra.clock.now();
        let deleted = self
            .infra
            .store
            .write(move |conn| {
                let n = diesel::delete(
                    channels::table
                        .filter(channels::id.eq(id_owned.clone()))
                        .filter(channels::tenant_id.eq(id::bind(t.as_str()))),
                )
                .execute(conn)?;
                if n > 0 {
                    audit::append(conn, at, event.clone())?;
                }
                Ok(n)
            })
            .await;
        // Also after a failed write: whether it committed may be unknown.
        self.webhook_channels.forget(id);
        if deleted? == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// The channel a webhook names, with its secrets; NotFound unless it exists for `platform`.
    /// Kept for two seconds after its read (`ChannelCache`): this instance's changes apply at
    /// once, another instance's within that time.
    pub async fn channel_for_webhook(&self, platform: Platform, id: &str) -> Result<Channel> {
        if uuid::Uuid::try_parse(id).is_err() {
            return Err(Error::NotFound);
        }
        let cache = &self.webhook_channels;
        let channel = match cache.fresh(id, self.infra.clock.now()) {
            Some(channel) => channel,
            None => {
                let began = cache.read_begins();
                let id_owned = id.to_string();
                let row = self
                    .infra
                    .store
                    .read(move |conn| load(conn, None, &id_owned))
                    .await?
                    .ok_or(Error::NotFound)?;
                let channel = self.open_channel(row).await?;
                cache.keep(began, &channel, self.infra.clock.now());
                channel
            }
        };
        if channel.platform != platform {
            return Err(Error::NotFound);
        }
        Ok(channel)
    }

    /// A tenant's channel by id, with its secrets (send path).
    pub async fn channel(&self, tenant: &TenantId, id: &str) -> Result<Channel> {
        let (t, id_owned) = (tenant.clone(), id.to_string());
        let row = self
            .infra
            .store
            .read(move |conn| load(conn, Some(&t), &id_owned))
            .await?
            .ok_or(Error::NotFound)?;
        self.open_channel(row).await
    }

    /// Tests a channel's credentials against the platform (`PlatformClient::check`):
    /// `Ok` with the account's name there, or the platform's refusal as a conflict.
    pub async fn test(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<String> {
        self.check(actor, tenant, id)
            .await?
            .map_err(crate::channels::platform::PlatformFailure::into_error)
            .map_err(|e| {
                Error::Conflict(match e.detail {
                    Some(d) => format!("{}: {d}", e.title),
                    None => e.title,
                })
            })
    }

    /// The same test, with the kind of failure kept for the interface to word.
    pub async fn check(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<std::result::Result<String, crate::channels::platform::PlatformFailure>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let channel = self.channel(tenant, id).await?;
        Ok(self.platforms.check_account(&channel).await)
    }

    async fn open_channel(&self, row: ChannelRow) -> Result<Channel> {
        let tenant = TenantId::parse(&row.tenant_id)?;
        let keys = self.infra.tenant_keys(&tenant).await?;
        let secrets = self.open_secrets(&keys, &row)?;
        Ok(Channel {
            platform: Platform::parse(&row.platform)
                .ok_or_else(|| Error::internal(anyhow::anyhow!("unknown platform stored")))?,
            id: row.id,
            tenant,
            account_id: row.account_id,
            enabled: row.enabled,
            secrets,
            business_letters: row.business_letters,
        })
    }
}

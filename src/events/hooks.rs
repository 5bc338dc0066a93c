//! A tenant's event hooks: where its systems want events, validated (a public address or one
//! on the allow-list) and signed with a secret of its own.

use super::*;
use crate::store::id;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    /// HTTPS URL (plain HTTP only for localhost) that receives the events.
    pub url: String,
    /// Signing secret; generated when absent and returned once.
    #[serde(default)]
    pub secret: Option<String>,
    /// Default: all events.
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookView {
    pub id: String,
    pub url: String,
    pub events: Vec<EventKind>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// Only in the answer to the creation: the signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A signing secret: the caller's (checked for strength), or 32 random bytes.
pub(crate) fn signing_secret(given: Option<String>) -> Result<String> {
    match given {
        Some(s) if s.len() > 256 || s.chars().any(char::is_control) => Err(Error::invalid(
            "secret",
            "must be at most 256 characters without control characters",
        )),
        Some(s) => {
            crate::crypto::strength::check(&s)
                .map_err(|reason| Error::invalid("secret", reason))?;
            Ok(s)
        }
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            Ok(URL_SAFE_NO_PAD.encode(bytes))
        }
    }
}

/// The form of a hook URL; where it may lead is the egress policy's question.
pub(crate) fn validate_url(url: &str) -> Result<url::Url> {
    let invalid = || {
        Error::invalid(
            "url",
            "must be an https:// URL (http:// only for localhost) of at most 2048 characters",
        )
    };
    if url.len() > 2048 {
        return Err(invalid());
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    // Plain HTTP only where nothing crosses a network; decided on the parsed host, so
    // "http://localhost.example" or "http://localhost@example" do not pass.
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let ok = match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => loopback,
        _ => false,
    };
    if !ok || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid());
    }
    Ok(parsed)
}

impl Events {
    pub async fn create_hook(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        input: HookInput,
    ) -> Result<HookView> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let url = validate_url(&input.url)?;
        if let Err(refused) = self
            .infra
            .outbound
            .policy()
            .check_reachable(&url, Purpose::Hook)
            .await
        {
            return Err(Error::invalid("url", refused.to_string()));
        }
        let secret = signing_secret(input.secret)?;
        let mut events = input
            .events
            .unwrap_or_else(|| vec![EventKind::MessageReceived, EventKind::MessageStatus]);
        events.dedup();
        if events.is_empty() {
            return Err(Error::invalid("events", "name at least one event"));
        }
        if events.contains(&EventKind::BotMessage) {
            return Err(Error::invalid(
                "events",
                "bot.message goes to a channel's bot: register the bot (POST /v1/tenants/{tenant}/bots)",
            ));
        }
        let keys = self.infra.tenant_keys(tenant).await?;
        let now = self.infra.clock.now();
        let row = HookRow::sealed(
            &keys,
            tenant.as_str(),
            (&input.url, &secret),
            &events,
            None,
            now,
        )?;
        let id = row.id.clone();
        let event = AuditEvent::new(actor, "event_hook.create")
            .tenant(tenant)
            .object("event_hook", &id);
        self.infra
            .store
            .write(move |conn| {
                row.insert(conn)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(HookView {
            id,
            url: input.url,
            events,
            enabled: true,
            created_at: now,
            secret: Some(secret),
        })
    }

    pub async fn list_hooks(&self, actor: &Actor, tenant: &TenantId) -> Result<Vec<HookView>> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        let keys = self.infra.tenant_keys(tenant).await?;
        let t = tenant.clone();
        let rows: Vec<HookRow> = self
            .infra
            .store
            .read(move |conn| {
                // A bot's hook is the bot's: listed, and removed, with it (`…/bots`).
                Ok(event_hooks::table
                    .filter(event_hooks::tenant_id.eq(id::bind(t.as_str())))
                    .filter(event_hooks::channel_id.is_null())
                    .order(event_hooks::id.asc())
                    .select(HookRow::as_select())
                    .load(conn)?)
            })
            .await?;
        rows.into_iter()
            .map(|r| {
                let url = keys.seal.open_string(
                    &binding(&r.tenant_id, "event_hooks", "url", &r.id),
                    &r.url_sealed,
                )?;
                Ok(HookView {
                    events: r.events.split(',').filter_map(EventKind::parse).collect(),
                    id: r.id,
                    url,
                    enabled: r.enabled,
                    created_at: from_micros(r.created_at),
                    secret: None,
                })
            })
            .collect()
    }

    pub async fn delete_hook(&self, actor: &Actor, tenant: &TenantId, id: &str) -> Result<()> {
        actor.authorize(tenant, Permission::ManageChannels)?;
        self.infra.ensure_tenant(tenant).await?;
        let (t, id_owned) = (tenant.clone(), id.to_string());
        let at = self.infra.clock.now();
        let event = AuditEvent::new(actor, "event_hook.delete")
            .tenant(tenant)
            .object("event_hook", id);
        let deleted = self.infra
            .store
            .write(move |conn| {
                diesel::delete(
                    event_deliveries::table
                        .filter(event_deliveries::hook_id.eq(&id_owned))
                        .filter(event_deliveries::tenant_id.eq(id::bind(t.as_str()))),
                )
                .execute(conn)?;
                if HookRow::find(conn, t.as_str(), &id_owned)?
                    .is_some_and(|h| h.channel_id.is_some())
                {
                    return Err(StoreError::from(Error::Conflict(
                        "this hook delivers to a bot: remove the bot (DELETE /v1/tenants/{tenant}/bots/{id})"
                            .into(),
                    )));
                }
                let n = diesel::delete(
                    event_hooks::table
                        .filter(event_hooks::id.eq(&id_owned))
                        .filter(event_hooks::tenant_id.eq(id::bind(t.as_str()))),
                )
                .execute(conn)?;
                if n > 0 {
                    audit::append(conn, at, event.clone())?;
                }
                Ok(n)
            })
            .await?;
        if deleted == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}

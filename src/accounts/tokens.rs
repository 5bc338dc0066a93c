//! A token's life: issued (with a name, optionally an end), used (the last use is noted, coarsely),
//! listed, revoked. Authentication reads the database on every request — there is no token
//! cache — so a revocation holds on every instance from the moment it is committed.

use chrono::{DateTime, Duration, Utc};

use super::Accounts;
use serde::Serialize;

use crate::audit::{self, AuditEvent};
use crate::auth::token::{self, TokenRow, TokenSpec};
use crate::auth::{Actor, ApiToken, Permission, Role};
use crate::clock::from_micros;
use crate::error::{Error, Result};
use crate::sensitive::Sensitive;
use crate::tenants::TenantId;

/// The install's rules for issuing tokens (configuration).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenPolicy {
    /// Longest a token may live (`token_max_days`); None: no maximum.
    pub max_lifetime: Option<Duration>,
    /// Whether a tenant admin may issue tenant-admin tokens (`tenant_admins_issue_admin_tokens`).
    /// Off: only an install admin can, so one leaked tenant-admin token cannot mint more.
    pub tenant_admins_issue_admin_tokens: bool,
}

/// A created token: the secret is in `token` and is never shown again.
#[derive(Debug)]
pub struct CreatedToken {
    pub id: String,
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub token: Sensitive<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A token as listed: never its secret or hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: Option<String>,
    pub role: Role,
    pub tenant_id: Option<String>,
    /// Who issued it: `cli`, `token:<id>/<role>` or `user:<id>/<role>`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Within an hour: the time is written at most once an hour.
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// active, expired or revoked.
    pub state: &'static str,
}

impl TokenView {
    fn of(row: TokenRow, now: DateTime<Utc>) -> Result<Self> {
        let expires_at = row.expires_at.map(from_micros);
        let revoked_at = row.revoked_at.map(from_micros);
        let state = match (revoked_at, expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(end)) if end <= now => "expired",
            _ => "active",
        };
        Ok(Self {
            role: row.role.parse()?,
            id: row.id,
            name: row.name,
            tenant_id: row.tenant_id,
            created_by: row.created_by,
            created_at: from_micros(row.created_at),
            last_used_at: row.last_used_at.map(from_micros),
            expires_at,
            revoked_at,
            state,
        })
    }
}

/// A token's name: what it is for ("CRM integration"), at most 100 characters.
pub fn validate_name(name: Option<String>) -> Result<Option<String>> {
    let Some(name) = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must be at most 100 characters without control characters",
        ));
    }
    Ok(Some(name))
}

/// `90d`, `12h` or `4w`: a lifetime as an admin types it.
pub fn parse_lifetime(text: &str) -> Result<Duration> {
    let invalid = || {
        Error::invalid(
            "expires_in",
            "must be a number of hours, days or weeks such as 12h, 90d or 4w",
        )
    };
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| invalid())?;
    if !(1..=100_000).contains(&n) {
        return Err(invalid());
    }
    match unit {
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        "w" => Ok(Duration::weeks(n)),
        _ => Err(invalid()),
    }
}

impl Accounts {
    /// Resolves a bearer token to the actor it belongs to, noting its use (at most hourly).
    pub async fn authenticate(&self, bearer: &str) -> Result<Actor> {
        let presented = ApiToken::parse(bearer)?;
        let now = self.infra.clock.now();
        let verified = self
            .infra
            .store
            .read(move |conn| Ok(token::verify(conn, &presented, now)))
            .await??;
        if verified.touch {
            if let Actor::Token { id, .. } = &verified.actor {
                let id = id.as_str().to_string();
                // Not worth failing a request for: a missed update only makes "last used" older.
                if let Err(e) = self
                    .infra
                    .store
                    .write(move |conn| token::touch(conn, &id, now))
                    .await
                {
                    tracing::warn!(error = %e, "the token's last use could not be noted");
                }
            }
        }
        Ok(verified.actor)
    }

    /// Issues a token for `role` (in `tenant`, unless the role is install-wide).
    pub async fn create_token(
        &self,
        actor: &Actor,
        tenant: Option<&TenantId>,
        role: Role,
    ) -> Result<CreatedToken> {
        let spec = TokenSpec {
            role,
            tenant: tenant.cloned(),
            name: None,
            expires_at: None,
        };
        self.issue_token(actor, spec, None).await
    }

    /// Issues a token as `spec` says, living `lifetime` (or the install's maximum).
    pub async fn issue_token(
        &self,
        actor: &Actor,
        mut spec: TokenSpec,
        lifetime: Option<Duration>,
    ) -> Result<CreatedToken> {
        self.authorize_issue(actor, &spec)?;
        spec.name = validate_name(spec.name)?;
        let now = self.infra.clock.now();
        let lifetime = match (lifetime, self.token_policy.max_lifetime) {
            (Some(l), Some(max)) if l > max => {
                return Err(Error::invalid(
                    "expires_in",
                    format!(
                        "is longer than this install allows ({} days, token_max_days)",
                        max.num_days()
                    ),
                ))
            }
            (Some(l), _) => Some(l),
            (None, max) => max,
        };
        spec.expires_at = lifetime.map(|l| now + l);
        if let Some(t) = &spec.tenant {
            self.infra.ensure_tenant(t).await?;
        }
        let token = std::sync::Arc::new(ApiToken::generate());
        let mut event = AuditEvent::new(actor, "token.create")
            .object("token", token.id().as_str())
            .detail(match spec.expires_at {
                Some(end) => format!("role={} expires={}", spec.role, end.format("%Y-%m-%d")),
                None => format!("role={}", spec.role),
            });
        if let Some(t) = &spec.tenant {
            event = event.tenant(t);
        }
        let (stored, actor_owned, spec_owned) = (token.clone(), actor.clone(), spec.clone());
        self.infra
            .store
            .write(move |conn| {
                token::insert(conn, &stored, &spec_owned, &actor_owned, now)?;
                audit::append(conn, now, event.clone())
            })
            .await?;
        Ok(CreatedToken {
            id: token.id().as_str().to_string(),
            role: spec.role,
            tenant: spec.tenant,
            token: token.reveal(),
            expires_at: spec.expires_at,
        })
    }

    fn authorize_issue(&self, actor: &Actor, spec: &TokenSpec) -> Result<()> {
        if spec.role == Role::Bot {
            return Err(Error::invalid(
                "role",
                "a bot's token comes with its bot: register the bot (POST /v1/tenants/{tenant}/bots)",
            ));
        }
        match (&spec.tenant, spec.role.is_install_wide()) {
            (Some(t), false) => actor.authorize(t, Permission::ManageTokens)?,
            (None, true) => actor.authorize_install(Permission::ManageTenants)?,
            (Some(_), true) => return Err(Error::invalid(
                "role",
                "admin tokens are install-wide: create them with `hafen token create --role admin`",
            )),
            // The processor's DPO: install-wide, created by an admin.
            (None, false) if spec.role == Role::Dpo => {
                actor.authorize_install(Permission::ManageTenants)?
            }
            (None, false) => return Err(Error::invalid("tenant", "this role needs a tenant")),
        }
        if spec.role == Role::TenantAdmin
            && !self.token_policy.tenant_admins_issue_admin_tokens
            && actor.authorize_install(Permission::ManageTenants).is_err()
        {
            return Err(Error::Forbidden(
                "only an install admin issues tenant-admin tokens (or set tenant_admins_issue_admin_tokens = true)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Tokens the actor may see: every token for an install admin (`tenant` None), a tenant's
    /// for whoever manages its tokens.
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<TokenView>> {
        match tenant {
            Some(t) => {
                actor.authorize(t, Permission::ManageTokens)?;
                self.infra.ensure_tenant(t).await?;
            }
            None => actor.authorize_install(Permission::ManageTenants)?,
        }
        let t = tenant.cloned();
        let rows = self
            .infra
            .store
            .read(move |conn| token::list(conn, t.as_ref()))
            .await?;
        let now = self.infra.clock.now();
        rows.into_iter().map(|r| TokenView::of(r, now)).collect()
    }

    /// Revokes a token at once. Within `tenant`, only that tenant's tokens are found.
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        tenant: Option<&TenantId>,
        id: &str,
    ) -> Result<TokenView> {
        match tenant {
            Some(t) => actor.authorize(t, Permission::ManageTokens)?,
            None => actor.authorize_install(Permission::ManageTenants)?,
        }
        let now = self.infra.clock.now();
        let (scope, id_owned, actor_owned) = (tenant.cloned(), id.to_string(), actor.clone());
        let row = self
            .infra
            .store
            .write(move |conn| {
                let Some(row) = token::find(conn, &id_owned)? else {
                    return Ok(None);
                };
                if scope
                    .as_ref()
                    .is_some_and(|t| row.tenant_id.as_deref() != Some(t.as_str()))
                {
                    return Ok(None);
                }
                if token::revoke(conn, &id_owned, now)? {
                    let mut event = AuditEvent::new(&actor_owned, "token.revoke")
                        .object("token", id_owned.as_str())
                        .detail(format!("role={}", row.role));
                    if let Some(t) = row
                        .tenant_id
                        .as_deref()
                        .and_then(|t| TenantId::parse(t).ok())
                    {
                        event = event.tenant(&t);
                    }
                    audit::append(conn, now, event)?;
                }
                token::find(conn, &id_owned)
            })
            .await?
            .ok_or(Error::NotFound)?;
        TokenView::of(row, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_and_names_as_an_admin_types_them() {
        assert_eq!(parse_lifetime("90d").unwrap(), Duration::days(90));
        assert_eq!(parse_lifetime("12h").unwrap(), Duration::hours(12));
        assert_eq!(parse_lifetime(" 4w ").unwrap(), Duration::weeks(4));
        for bad in ["", "d", "0d", "-1d", "90", "90m", "1.5d", "999999d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?}");
        }
        assert_eq!(validate_name(Some("  ".into())).unwrap(), None);
        assert_eq!(
            validate_name(Some(" CRM ".into())).unwrap().as_deref(),
            Some("CRM")
        );
        assert!(validate_name(Some("a\nb".into())).is_err());
        assert!(validate_name(Some("x".repeat(101))).is_err());
    }
}

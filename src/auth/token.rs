//! API tokens: `hfn_<id>_<secret>`. The id finds the row; only a SHA-256 of the secret is
//! stored and it is compared in constant time. The secret is 256 random bits, so a fast hash
//! is enough (there is nothing to brute-force, unlike a password).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Actor, Role};
use crate::clock::{from_micros, to_micros};
use crate::error::{Error, Result};
use crate::sensitive::Sensitive;
use crate::store::id;
use crate::store::schema::api_tokens;
use crate::store::{DbConn, StoreError};
use crate::tenants::TenantId;

const PREFIX: &str = "hfn_";
const ID_BYTES: usize = 12;
const SECRET_BYTES: usize = 32;

/// The public part of a token, safe to log and to write into the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

impl TokenId {
    pub fn generate() -> Self {
        let mut id = [0u8; ID_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut id);
        Self(hex::encode(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token as presented by a client or freshly created; the secret part stays [`Sensitive`].
#[derive(Debug)]
pub struct ApiToken {
    id: TokenId,
    secret: Sensitive<String>,
}

impl ApiToken {
    pub fn generate() -> Self {
        let mut secret = [0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self {
            id: TokenId::generate(),
            secret: Sensitive::new(URL_SAFE_NO_PAD.encode(secret)),
        }
    }

    /// Parses `hfn_<24 hex>_<43 base64url>`; anything else is not a token.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = text.strip_prefix(PREFIX).ok_or(Error::Unauthenticated)?;
        if rest.len() != ID_BYTES * 2 + 1 + 43 || !rest.is_char_boundary(ID_BYTES * 2) {
            return Err(Error::Unauthenticated);
        }
        let (id, secret) = rest.split_at(ID_BYTES * 2);
        let secret = secret.strip_prefix('_').ok_or(Error::Unauthenticated)?;
        if !id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(Error::Unauthenticated);
        }
        if URL_SAFE_NO_PAD.decode(secret).map(|s| s.len()) != Ok(SECRET_BYTES) {
            return Err(Error::Unauthenticated);
        }
        Ok(Self {
            id: TokenId(id.to_string()),
            secret: Sensitive::new(secret.to_string()),
        })
    }

    pub fn id(&self) -> &TokenId {
        &self.id
    }

    /// The full token text, shown exactly once to whoever created it.
    pub fn reveal(&self) -> Sensitive<String> {
        Sensitive::new(format!("{PREFIX}{}_{}", self.id.0, self.secret.expose()))
    }

    fn secret_hash(&self) -> Vec<u8> {
        Sha256::digest(self.secret.expose().as_bytes()).to_vec()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: Option<String>,
    pub role: String,
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
    pub name: Option<String>,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
struct NewTokenRow<'a> {
    id: &'a str,
    tenant_id: Option<crate::store::id::BoundId>,
    role: &'a str,
    secret_hash: Vec<u8>,
    created_at: i64,
    created_by: &'a str,
    name: Option<&'a str>,
    expires_at: Option<i64>,
}

/// What a new token is: its role and tenant, and optionally a name and an end.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub name: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Stores a new token.
pub fn insert(
    conn: &mut DbConn,
    token: &ApiToken,
    spec: &TokenSpec,
    created_by: &Actor,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let created_by = created_by.audit_label();
    diesel::insert_into(api_tokens::table)
        .values(NewTokenRow {
            id: token.id.as_str(),
            tenant_id: spec.tenant.as_ref().map(|t| id::bind(t.as_str())),
            role: spec.role.as_str(),
            secret_hash: token.secret_hash(),
            created_at: to_micros(at),
            created_by: &created_by,
            name: spec.name.as_deref(),
            expires_at: spec.expires_at.map(to_micros),
        })
        .execute(conn)?;
    Ok(())
}

/// How often the last-use time is written at most: often enough to tell a dormant token from a
/// busy one, rarely enough that authentication stays a read.
pub const LAST_USE_GRANULARITY: chrono::Duration = chrono::Duration::hours(1);

/// A verified token: who it is, and whether its last-use time is due for an update.
#[derive(Debug)]
pub struct Verified {
    pub actor: Actor,
    pub touch: bool,
}

/// Verifies a presented token against its stored hash; returns who it is. A revoked or expired
/// token is told so — only to whoever holds its secret, so nobody learns which ids exist.
pub fn verify(
    conn: &mut DbConn,
    presented: &ApiToken,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Verified> {
    let row: Option<TokenRow> = api_tokens::table
        .filter(api_tokens::id.eq(presented.id.as_str()))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
        .map_err(|e| Error::from(StoreError::from(e)))?;
    // Compare even when the row is missing, so timing says nothing about which ids exist.
    let stored = row
        .as_ref()
        .map(|r| r.secret_hash.clone())
        .unwrap_or_else(|| vec![0u8; 32]);
    let matches: bool = stored.ct_eq(&presented.secret_hash()).into();
    let row = match row {
        Some(row) if matches => row,
        _ => return Err(Error::Unauthenticated),
    };
    let now_micros = to_micros(now);
    if let Some(at) = row.revoked_at {
        return Err(Error::TokenEnded(format!(
            "this API token was revoked on {}; ask an admin for a new one",
            from_micros(at).format("%Y-%m-%d %H:%M UTC")
        )));
    }
    if let Some(at) = row.expires_at.filter(|at| *at <= now_micros) {
        return Err(Error::TokenEnded(format!(
            "this API token expired on {}; ask an admin for a new one",
            from_micros(at).format("%Y-%m-%d %H:%M UTC")
        )));
    }
    let role: Role = row.role.parse().map_err(|_| {
        Error::internal(anyhow::anyhow!(
            "token {} has an unknown role in the database",
            row.id
        ))
    })?;
    let tenant = row.tenant_id.as_deref().map(TenantId::parse).transpose()?;
    let touch = row
        .last_used_at
        .is_none_or(|at| now_micros - at >= LAST_USE_GRANULARITY.num_microseconds().unwrap_or(0));
    Ok(Verified {
        actor: Actor::Token {
            id: presented.id.clone(),
            role,
            tenant,
        },
        touch,
    })
}

/// Records that a token was used, unless another request already did within the granularity.
pub fn touch(
    conn: &mut DbConn,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let now = to_micros(now);
    let stale = now - LAST_USE_GRANULARITY.num_microseconds().unwrap_or(0);
    diesel::update(
        api_tokens::table.filter(api_tokens::id.eq(id)).filter(
            api_tokens::last_used_at
                .is_null()
                .or(api_tokens::last_used_at.le(stale)),
        ),
    )
    .set(api_tokens::last_used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Every token, or a tenant's; newest first. Never the hashes' use: callers map to views.
pub fn list(conn: &mut DbConn, tenant: Option<&TenantId>) -> Result<Vec<TokenRow>, StoreError> {
    let mut query = api_tokens::table.into_boxed();
    if let Some(t) = tenant {
        query = query.filter(api_tokens::tenant_id.eq(id::bind(t.as_str())));
    }
    Ok(query
        .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
        .select(TokenRow::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<TokenRow>, StoreError> {
    Ok(api_tokens::table
        .filter(api_tokens::id.eq(id))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

/// Revokes a token; false if it was revoked already.
pub fn revoke(
    conn: &mut DbConn,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(Some(to_micros(now))))
    .execute(conn)?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_token_round_trips_and_garbage_is_rejected() {
        let t = ApiToken::generate();
        let text = t.reveal();
        let parsed = ApiToken::parse(text.expose()).unwrap();
        assert_eq!(parsed.id(), t.id());
        assert_eq!(parsed.secret_hash(), t.secret_hash());
        for bad in [
            "",
            "hfn_",
            "Bearer x",
            &text.expose()[..text.expose().len() - 1],
            &text.expose().replace("hfn_", "hfx_"),
        ] {
            assert!(ApiToken::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{t:?}").contains(&text.expose()[30..]));
    }
}

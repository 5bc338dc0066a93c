//! API tokens: issued per tenant, listed, revoked. Install-wide tokens are listed and revoked
//! under /v1/tokens by an install admin; they are issued on the server (`hafen token create`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::{json_body, Caller, InTenant, TokenPathId};
use super::problem::ApiError;
use crate::accounts::tokens::TokenView;
use crate::auth::token::TokenSpec;
use crate::auth::Role;
use crate::service::Hafen;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub role: Role,
    /// What the token is for ("CRM integration"), at most 100 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Days until the token expires (1–36500). Default: the install's maximum
    /// (`token_max_days`), or never.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36500)]
    pub expires_in_days: Option<u32>,
}

/// A new token. `token` is shown only in this response; store it now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenCreated {
    pub id: String,
    pub role: Role,
    pub tenant_id: Option<String>,
    pub token: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Create an API token for a tenant. Admin, or the tenant's own tenant_admin (a tenant-admin
/// token only by an admin, unless `tenant_admins_issue_admin_tokens` is set).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/tokens", tag = "tokens",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = CreateToken,
    responses(
        (status = 201, body = TokenCreated),
        (status = 400, body = super::problem::Problem),
        (status = 413, body = super::problem::Problem),
        (status = 415, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: CreateToken = json_body(&req, body).await?;
    let lifetime = match input.expires_in_days {
        Some(d @ 1..=36500) => Some(chrono::Duration::days(i64::from(d))),
        Some(_) => {
            return Err(
                crate::error::Error::invalid("expires_in_days", "must be 1 to 36500").into(),
            )
        }
        None => None,
    };
    let spec = TokenSpec {
        role: input.role,
        tenant: Some(tenant),
        name: input.name,
        expires_at: None,
    };
    let created = hafen.accounts.issue_token(&actor, spec, lifetime).await?;
    Ok(HttpResponse::Created().json(TokenCreated {
        id: created.id,
        role: created.role,
        tenant_id: created.tenant.map(|t| t.to_string()),
        token: created.token.expose().clone(),
        expires_at: created.expires_at,
    }))
}

/// A tenant's tokens, newest first (never their secrets).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/tokens", tag = "tokens",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = Vec<TokenView>)),
    security(("bearer" = [])))]
pub async fn list_tenant(hafen: web::Data<Hafen>, who: InTenant) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.accounts.list_tokens(&actor, Some(&tenant)).await?))
}

/// Revoke one of a tenant's tokens, with immediate effect on every instance.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/tokens/{id}", tag = "tokens",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Token id")),
    responses((status = 200, description = "Revoked (or revoked already)", body = TokenView)),
    security(("bearer" = [])))]
pub async fn revoke_tenant(
    hafen: web::Data<Hafen>,
    who: InTenant,
    TokenPathId(id): TokenPathId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(
        hafen
            .accounts
            .revoke_token(&actor, Some(&tenant), &id)
            .await?,
    ))
}

/// Every token of the install, newest first. Admin only.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenView>)),
    security(("bearer" = [])))]
pub async fn list_all(hafen: web::Data<Hafen>, caller: Caller) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(hafen.accounts.list_tokens(&caller.0, None).await?))
}

/// Revoke any token, with immediate effect on every instance. Admin only.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, description = "Revoked (or revoked already)", body = TokenView)),
    security(("bearer" = [])))]
pub async fn revoke_any(
    hafen: web::Data<Hafen>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(hafen.accounts.revoke_token(&caller.0, None, &path).await?))
}

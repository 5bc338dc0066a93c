//! Tenants and tokens.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::{json_body, Caller};
use super::problem::ApiError;
use crate::auth::Role;
use crate::service::{Hafen, TenantView};
use crate::tenants::{TenantId, TenantName};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The controller's name, e.g. "Muster GmbH".
    pub name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub role: Role,
}

/// A new token. `token` is shown only in this response; store it now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenCreated {
    pub id: String,
    pub role: Role,
    pub tenant_id: Option<String>,
    pub token: String,
}

/// Create a tenant (a controller). Admin only.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, body = TenantView),
        (status = 400, body = super::problem::Problem), (status = 401, body = super::problem::Problem),
        (status = 403, body = super::problem::Problem), (status = 413, body = super::problem::Problem),
        (status = 415, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    hafen: web::Data<Hafen>,
    caller: Caller,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let input: CreateTenant = json_body(&req, body).await?;
    let name = TenantName::parse(&input.name)?;
    let tenant = hafen.create_tenant(&caller.0, name).await?;
    Ok(HttpResponse::Created().json(tenant))
}

/// Create an API token for a tenant. Admin, or the tenant's own tenant_admin.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/tokens", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = CreateToken,
    responses(
        (status = 201, body = TokenCreated),
        (status = 401, body = super::problem::Problem), (status = 403, body = super::problem::Problem),
        (status = 404, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_token(
    hafen: web::Data<Hafen>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let tenant = TenantId::parse(&path)?;
    let input: CreateToken = json_body(&req, body).await?;
    let created = hafen
        .create_token(&caller.0, Some(&tenant), input.role)
        .await?;
    Ok(HttpResponse::Created().json(TokenCreated {
        id: created.id,
        role: created.role,
        tenant_id: created.tenant.map(|t| t.to_string()),
        token: created.token.expose().clone(),
    }))
}

//! Tenants.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{json_body, Caller};
use super::problem::ApiError;
use crate::accounts::TenantView;
use crate::service::Hafen;
use crate::tenants::TenantName;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The controller's name, e.g. "Muster GmbH".
    pub name: String,
}

/// Create a tenant (a controller). Admin only.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, body = TenantView),
        (status = 400, body = super::problem::Problem), (status = 413, body = super::problem::Problem),
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
    let tenant = hafen.tenants.create(&caller.0, name).await?;
    Ok(HttpResponse::Created().json(tenant))
}

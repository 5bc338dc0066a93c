//! Outbound event webhooks of a tenant.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{json_body, query, InTenant, ItemId, PageQuery};
use super::problem::ApiError;
use crate::events::{DeliveryView, HookInput, HookView};
use crate::page::Page;
use crate::service::Hafen;

/// Register a URL of the company's own systems for new messages and status changes.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/event-hooks", tag = "event-hooks",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = HookInput,
    responses((status = 201, description = "Created; `secret` is shown only now", body = HookView),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: HookInput = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(hafen.events.create_hook(&actor, &tenant, input).await?))
}

/// The tenant's event hooks.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/event-hooks", tag = "event-hooks",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = Vec<HookView>)),
    security(("bearer" = [])))]
pub async fn list(hafen: web::Data<Hafen>, who: InTenant) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.events.list_hooks(&actor, &tenant).await?))
}

/// Remove a hook and its delivery history.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/event-hooks/{id}", tag = "event-hooks",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Hook id")),
    responses((status = 204)),
    security(("bearer" = [])))]
pub async fn delete(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    hafen.events.delete_hook(&actor, &tenant, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Delivery attempts of a hook, newest first, one page at a time.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/event-hooks/{id}/deliveries", tag = "event-hooks",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Hook id"),
        PageQuery),
    responses((status = 200, body = Page<DeliveryView>),
        (status = 400, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn deliveries(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let page = query::<PageQuery>(&req)?.into_request()?;
    Ok(HttpResponse::Ok().json(
        hafen
            .events
            .list_deliveries(&actor, &tenant, &id, page)
            .await?,
    ))
}

//! Channel registrations: create, list, read, update, delete.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{json_body, InTenant, ItemId};
use super::problem::ApiError;
use crate::channels::registry::{ChannelInput, ChannelPatch, ChannelView};
use crate::service::Hafen;

/// Register a channel (WhatsApp number, Facebook page, Telegram bot). Secrets are stored
/// encrypted and never returned.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/channels", tag = "channels",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = ChannelInput,
    responses((status = 201, body = ChannelView),
        (status = 400, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: ChannelInput = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(hafen.channels.create(&actor, &tenant, input).await?))
}

/// The tenant's channels.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/channels", tag = "channels",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = Vec<ChannelView>)),
    security(("bearer" = [])))]
pub async fn list(hafen: web::Data<Hafen>, who: InTenant) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.channels.list(&actor, &tenant).await?))
}

/// One channel.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/channels/{id}", tag = "channels",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = ChannelView)),
    security(("bearer" = [])))]
pub async fn read(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.channels.read(&actor, &tenant, &id).await?))
}

/// Change name, account id, enabled, or secrets (absent = keep, null = remove).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/channels/{id}", tag = "channels",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Channel id")),
    request_body = ChannelPatch,
    responses((status = 200, body = ChannelView),
        (status = 400, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn update(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let patch: ChannelPatch = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(hafen.channels.update(&actor, &tenant, &id, patch).await?))
}

/// Remove a channel; its messages stay.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/channels/{id}", tag = "channels",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Channel id")),
    responses((status = 204)),
    security(("bearer" = [])))]
pub async fn delete(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    hafen.channels.delete(&actor, &tenant, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! Chatbots of a channel, and who has a conversation: the bot or a person.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{json_body, query, InTenant, ItemId, PageQuery};
use super::problem::{ApiError, Problem};
use crate::bots::{BotInput, BotView, HandoverView};
use crate::events::DeliveryView;
use crate::page::Page;
use crate::service::Hafen;

/// Register a channel's bot: it receives the channel's messages as signed `bot.message` events
/// and replies through the send API with the token in the answer.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/bots", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = BotInput,
    responses((status = 201, description = "Registered; `secret` and `token` are shown only now", body = BotView),
        (status = 409, description = "The channel has a bot already", body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: BotInput = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(hafen.bots.create(&actor, &tenant, input).await?))
}

/// The tenant's bots in force.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/bots", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = Vec<BotView>)),
    security(("bearer" = [])))]
pub async fn list(hafen: web::Data<Hafen>, who: InTenant) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.bots.list(&actor, &tenant).await?))
}

/// Remove a bot: its token is revoked, deliveries stop; its messages stay marked as its own.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/bots/{id}", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Bot id")),
    responses((status = 204)),
    security(("bearer" = [])))]
pub async fn delete(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    hafen.bots.remove(&actor, &tenant, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Delivery attempts to a bot, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/bots/{id}/deliveries", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Bot id"),
        PageQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 400, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn deliveries(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let page = query::<PageQuery>(&req)?.into_request()?;
    Ok(HttpResponse::Ok().json(hafen.bots.deliveries(&actor, &tenant, &id, page).await?))
}

/// Who has the conversation with a contact: the bot, or (since when) a person.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts/{id}/handover", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = HandoverView)),
    security(("bearer" = [])))]
pub async fn handover_state(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.bots.handover_state(&actor, &tenant, &id).await?))
}

/// A person takes the conversation over (asked by the bot or an agent): the bot gets nothing
/// more from this contact and may send nothing to them.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/contacts/{id}/handover", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = HandoverView)),
    security(("bearer" = [])))]
pub async fn take_over(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.bots.take_over(&actor, &tenant, &id).await?))
}

/// An agent hands the conversation back to the bot.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/contacts/{id}/handover", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = HandoverView)),
    security(("bearer" = [])))]
pub async fn hand_back(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.bots.hand_back(&actor, &tenant, &id).await?))
}

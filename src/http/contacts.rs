//! Contacts and their conversations.

use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::{query, InTenant, ItemId, PageQuery};
use super::problem::ApiError;
use crate::contacts::ContactView;
use crate::messages::read::MessageView;
use crate::page::Page;
use crate::service::Hafen;

/// The tenant's contacts, decrypted, in the order they were first seen.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses((status = 200, body = Page<ContactView>),
        (status = 400, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let page = query::<PageQuery>(&req)?.into_request()?;
    Ok(HttpResponse::Ok().json(hafen.contacts.list(&actor, &tenant, page).await?))
}

/// One contact, decrypted.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts/{id}", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = ContactView)),
    security(("bearer" = [])))]
pub async fn read(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.contacts.read(&actor, &tenant, &id).await?))
}

/// A contact's messages, decrypted, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts/{id}/messages", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id"), PageQuery),
    responses((status = 200, body = Page<MessageView>),
        (status = 400, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn messages(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let page = query::<PageQuery>(&req)?.into_request()?;
    Ok(HttpResponse::Ok().json(
        hafen
            .messages
            .read_of_contact(&actor, &tenant, &id, page)
            .await?,
    ))
}

/// Send a message to the contact through its platform (text, WhatsApp template, or media by
/// URL). 201 when the platform accepted it or refused it for good (see `status`), 202 when it
/// is queued for a retry.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/contacts/{id}/messages/send", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key")),
    request_body = crate::channels::send::SendRequest,
    responses((status = 201, body = crate::channels::send::SendReceipt), (status = 202, body = crate::channels::send::SendReceipt),
        (status = 200, description = "The idempotency key named an earlier request", body = crate::channels::send::SendReceipt),
        (status = 400, body = super::problem::Problem), (status = 409, description = "Not allowed now (service window, disabled channel)", body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn send(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let request: crate::channels::send::SendRequest = super::extract::json_body(&req, body).await?;
    let header_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let receipt = hafen
        .channels
        .send(&actor, &tenant, &id, request, header_key)
        .await?;
    let mut response = if receipt.duplicate {
        HttpResponse::Ok()
    } else if receipt.status == "queued" {
        HttpResponse::Accepted()
    } else {
        HttpResponse::Created()
    };
    Ok(response.json(receipt))
}

/// Mark a contact's messages as business letters (§ 257 HGB: they prepare, conclude, execute
/// or cancel a deal) — or take the mark away. Business letters are kept under the rules for
/// business letters, the other messages under the shorter ones. Agents may mark; only tenant
/// admins and DPOs may unmark (it shortens retention).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/contacts/{id}/business-letters", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    request_body = crate::messages::classify::ClassifyInput,
    responses((status = 200, body = crate::messages::classify::ClassifyOutcome),
        (status = 400, body = super::problem::Problem), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn business_letters(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: crate::messages::classify::ClassifyInput =
        super::extract::json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(hafen.messages.classify(&actor, &tenant, &id, input).await?))
}

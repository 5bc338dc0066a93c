//! Data-subject requests: the register, the access/portability export, erasure and
//! restriction; and the DPO's contact lookup by address.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{json_body, query, InTenant, ItemId};
use super::problem::{ApiError, Problem};
use crate::contacts::ContactView;
use crate::requests::access::ExportOptions;
use crate::requests::erase::{DecisionInput, ErasureOutcome};
use crate::requests::{IdentityCheck, NewRequest, RejectGround, RequestView};
use crate::service::Hafen;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendInput {
    /// Why more time is needed; the data subject must be told (Art. 12(3)).
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityInput {
    /// How the requester's identity was confirmed.
    pub method: IdentityCheck,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    pub ground: RejectGround,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupInput {
    /// whatsapp, messenger or telegram.
    pub channel: String,
    /// Phone number (any common notation), page-scoped id or chat id.
    pub address: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only open requests past their deadline.
    pub overdue: Option<bool>,
}

/// Register a request (access, portability, erasure, restriction). The deadline is one month
/// from `received_on`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewRequest,
    responses((status = 201, body = RequestView), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: NewRequest = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(hafen.requests.create(&actor, &tenant, input).await?))
}

/// The tenant's requests, newest first (`?overdue=true`: open ones past their deadline).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/requests", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ListQuery),
    responses((status = 200, body = Vec<RequestView>)),
    security(("bearer" = [])))]
pub async fn list(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let q: ListQuery = query(&req)?;
    Ok(HttpResponse::Ok().json(
        hafen
            .requests
            .list(&actor, &tenant, q.overdue.unwrap_or(false))
            .await?,
    ))
}

/// One request.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/requests/{id}", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    responses((status = 200, body = RequestView)),
    security(("bearer" = [])))]
pub async fn read(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.requests.read(&actor, &tenant, &id).await?))
}

/// Extend the deadline by two months (within the first month, with a reason).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests/{id}/extend", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    request_body = ExtendInput,
    responses((status = 200, body = RequestView), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn extend(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: ExtendInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .requests
            .extend(&actor, &tenant, &id, &input.reason)
            .await?,
    ))
}

/// Record that the requester's identity was confirmed, and how (Art. 12(6)).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests/{id}/identity", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    request_body = IdentityInput,
    responses((status = 200, body = RequestView), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn identity(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: IdentityInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .requests
            .record_identity_check(&actor, &tenant, &id, input.method)
            .await?,
    ))
}

/// Close a request without acting on it, naming the ground.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests/{id}/reject", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    request_body = RejectInput,
    responses((status = 200, body = RequestView), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn reject(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: RejectInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .requests
            .reject(&actor, &tenant, &id, input.ground)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LetterQuery {
    /// `de` (default) or `en`.
    pub lang: Option<String>,
    /// `pdf` (default) or `json`.
    pub format: Option<String>,
}

/// The letter to the data subject answering the request (erasure or restriction with what
/// was erased and what is kept until when, the cover letter of an access or portability
/// export, a rejection with its ground). Audited: the request's history shows each one.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/requests/{id}/letter", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id"),
        LetterQuery),
    responses((status = 200, description = "The letter: PDF, or JSON (`hafen.letter.v1`)"),
        (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn letter(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let q: LetterQuery = query(&req)?;
    let lang = crate::i18n::Lang::parse(q.lang.as_deref().unwrap_or("de"))?;
    let letter = hafen
        .requests
        .letter(
            &actor,
            &tenant,
            &id,
            lang,
            q.format.as_deref().unwrap_or("pdf"),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(letter.content_type)
        .insert_header(("X-Hafen-Content-SHA256", letter.sha256.clone()))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", letter.file_name),
        ))
        .body(letter.bytes))
}

/// The access (Art. 15) or portability (Art. 20) export: a ZIP (`application/zip`), or
/// age-encrypted (`application/octet-stream`) when a recipient or passphrase is given.
/// The body is optional.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests/{id}/export", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    request_body = ExportOptions,
    responses((status = 200, description = "ZIP, or age-encrypted ZIP"), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn export(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let empty = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0")
        || (!req.headers().contains_key(header::CONTENT_LENGTH)
            && !req.headers().contains_key(header::TRANSFER_ENCODING));
    let options: ExportOptions = if empty {
        ExportOptions::default()
    } else {
        json_body(&req, body).await?
    };
    let export = hafen.requests.export(&actor, &tenant, &id, options).await?;
    Ok(HttpResponse::Ok()
        .content_type(if export.encrypted {
            "application/octet-stream"
        } else {
            "application/zip"
        })
        .insert_header(("X-Hafen-Content-SHA256", export.sha256.clone()))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", export.file_name),
        ))
        .body(export.bytes))
}

/// Erase the contact's data, per category: what no ground keeps goes at once; what a rule's
/// ground (statutory, contractual or by-law, legal claims) or a legal hold keeps is restricted
/// until its end. A category whose end cannot be computed waits for the DPO's decision (status
/// `decision_needed`).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests/{id}/erase", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    responses((status = 200, body = ErasureOutcome), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn erase(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.requests.erase(&actor, &tenant, &id).await?))
}

/// Record the DPO's decision on a category of an erasure whose end could not be computed:
/// keep it until a date, or erase it now. The request completes once no decision waits.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests/{id}/decisions", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    request_body = DecisionInput,
    responses((status = 200, body = ErasureOutcome), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn decide(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: DecisionInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .requests
            .decide_erasure(&actor, &tenant, &id, input)
            .await?,
    ))
}

/// Answer a restriction request: the contact is restricted (Art. 18).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/requests/{id}/restrict", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Request id")),
    responses((status = 200, body = RequestView), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn restrict(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(
        hafen
            .requests
            .answer_restriction(&actor, &tenant, &id)
            .await?,
    ))
}

/// Find a contact by channel and address (blind index; audited).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/contacts/lookup", tag = "requests",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = LookupInput,
    responses((status = 200, body = ContactView), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn lookup(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: LookupInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .requests
            .lookup_contact(&actor, &tenant, &input.channel, &input.address)
            .await?,
    ))
}

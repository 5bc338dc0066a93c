//! Consent purposes, settings, and a contact's consents.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{json_body, InTenant, ItemId};
use super::problem::ApiError;
use crate::consent::flow::RequestOutcome;
use crate::consent::{
    ConsentTextsInput, ConsentView, Evidence, PurposeInput, PurposeView, SettingsInput, Source,
};
use crate::error::Error;
use crate::service::Hafen;

/// Create a consent purpose (list) with its first consent text.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/consent-purposes", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id")), request_body = PurposeInput,
    responses((status = 201, body = PurposeView), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_purpose(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: PurposeInput = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(hafen.consent.create_purpose(&actor, &tenant, input).await?))
}

/// The tenant's consent purposes with every text version.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/consent-purposes", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = Vec<PurposeView>)),
    security(("bearer" = [])))]
pub async fn list_purposes(
    hafen: web::Data<Hafen>,
    who: InTenant,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.consent.list_purposes(&actor, &tenant).await?))
}

/// A new version of a purpose's consent texts (earlier versions stay).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/consent-purposes/{id}/texts", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Purpose id")),
    request_body = ConsentTextsInput,
    responses((status = 201, body = PurposeView), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn add_texts(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: ConsentTextsInput = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(
        hafen
            .consent
            .add_purpose_texts(&actor, &tenant, &id, input)
            .await?,
    ))
}

/// Keywords (opt-in, confirm, opt-out), request lifetime and the default purpose.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/consent-settings", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id")), request_body = SettingsInput,
    responses((status = 204), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn put_settings(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: SettingsInput = json_body(&req, body).await?;
    hafen.consent.put_settings(&actor, &tenant, input).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentAction {
    /// `request` (sends the confirmation request) or `withdraw`.
    pub action: String,
    /// Required for `request`; for `withdraw` absent means every purpose.
    #[serde(default)]
    pub purpose_id: Option<String>,
    /// Language of the consent text to send (`de` default, `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// Where the person agreed (for the record), e.g. "Hotline, Gespräch 2026-11-26".
    #[serde(default)]
    pub note: Option<String>,
}

/// Start a double opt-in for a contact, or withdraw consent on their behalf.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/contacts/{id}/consents", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    request_body = ConsentAction,
    responses((status = 201, description = "Requested", body = RequestOutcome), (status = 200, description = "Withdrawn: the purposes changed", body = Vec<String>),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn act(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: ConsentAction = json_body(&req, body).await?;
    if input.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(Error::invalid("note", "must be at most 500 characters").into());
    }
    match input.action.as_str() {
        "request" => {
            let purpose = input
                .purpose_id
                .ok_or_else(|| Error::invalid("purpose_id", "is required to request consent"))?;
            let language = input.language.unwrap_or_else(|| "de".into());
            if !matches!(language.as_str(), "de" | "en") {
                return Err(Error::invalid("language", "must be de or en").into());
            }
            let evidence = Evidence {
                note: input.note,
                ..Evidence::default()
            };
            let outcome = hafen
                .consent
                .request(
                    &actor,
                    &tenant,
                    &id,
                    &purpose,
                    &language,
                    Source::Api,
                    evidence,
                    crate::channels::send::Dispatch::Now,
                )
                .await?;
            Ok(HttpResponse::Created().json(outcome))
        }
        "withdraw" => {
            let changed = hafen
                .consent
                .withdraw(&actor, &tenant, &id, input.purpose_id.as_deref())
                .await?;
            Ok(HttpResponse::Ok().json(changed))
        }
        _ => Err(Error::invalid("action", "must be request or withdraw").into()),
    }
}

/// The contact's consents, each with its full ledger history (the proof).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts/{id}/consents", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = Vec<ConsentView>)),
    security(("bearer" = [])))]
pub async fn list(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.consent.of_contact(&actor, &tenant, &id).await?))
}

/// Send one message to every contact with confirmed consent for a purpose (runs in the
/// background; poll the returned broadcast for its counts).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/broadcasts", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = crate::consent::broadcast::BroadcastInput,
    responses((status = 202, body = crate::consent::broadcast::BroadcastView), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn start_broadcast(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: crate::consent::broadcast::BroadcastInput = json_body(&req, body).await?;
    Ok(HttpResponse::Accepted().json(
        hafen
            .consent
            .start_broadcast(&actor, &tenant, input)
            .await?,
    ))
}

/// A broadcast's progress and counts.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/broadcasts/{id}", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Broadcast id")),
    responses((status = 200, body = crate::consent::broadcast::BroadcastView)),
    security(("bearer" = [])))]
pub async fn read_broadcast(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.consent.read_broadcast(&actor, &tenant, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// `json` (default) or `pdf`.
    pub format: Option<String>,
}

/// The consent proof for one contact and purpose, as JSON or printable PDF.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts/{id}/consents/{purpose}/proof", tag = "consent",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id"),
        ("purpose" = String, Path, description = "Purpose id"), ProofQuery),
    responses((status = 200, body = crate::consent::proof::ConsentProof, description = "JSON, or application/pdf with format=pdf")),
    security(("bearer" = [])))]
pub async fn proof(
    hafen: web::Data<Hafen>,
    who: InTenant,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let (_, id, purpose) = path.into_inner();
    // The contact's id is stored as its 16 bytes: what names none is no contact (as `ItemId`).
    let id = crate::store::id::canonical(&id).ok_or(crate::error::Error::NotFound)?;
    let query: ProofQuery = super::extract::query(&req)?;
    let proof = hafen.consent.proof(&actor, &tenant, &id, &purpose).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(HttpResponse::Ok().json(proof)),
        Some("pdf") => Ok(HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"einwilligung-{id}-{purpose}.pdf\""),
            ))
            .body(crate::consent::proof::render_pdf(
                &proof,
                hafen.register.letterhead(&tenant).await?,
            )?)),
        Some(_) => Err(Error::invalid("format", "must be json or pdf").into()),
    }
}

//! Retention rules with their dry-run, legal holds, sweeps, deletion certificates; and the
//! contact-level restriction (Art. 18) and relationship end.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::extract::{json_body, query, Caller, InTenant, ItemId};
use super::problem::{ApiError, Problem};
use crate::contacts::restrict::RestrictedGround;
use crate::contacts::ContactView;
use crate::error::Error;
use crate::messages::read::RestrictedExport;
use crate::page::PageRequest;
use crate::retention::certificates::{self, CertificateView};
use crate::retention::holds::{HoldInput, HoldView};
use crate::retention::rules::RuleInput;
use crate::retention::{PreviewReport, RuleSetVersion, RulesView, RunReport};
use crate::service::Hafen;

/// A proposed rule set.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    pub rules: Vec<RuleInput>,
}

/// A rule set to activate, citing the preview of exactly these rules.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateInput {
    pub rules: Vec<RuleInput>,
    pub preview_id: String,
}

/// Dry-run: what these rules would delete now and within 30 days. Changes nothing but
/// records the preview, whose id the activation must cite.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/retention/preview", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = RulesInput,
    responses((status = 200, body = PreviewReport), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn preview(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: RulesInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .retention
            .preview(&actor, &tenant, input.rules)
            .await?,
    ))
}

/// The rules in force (active version completed by the install's defaults) and pending ones.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/retention/rules", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = RulesView)),
    security(("bearer" = [])))]
pub async fn rules(hafen: web::Data<Hafen>, who: InTenant) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.retention.rules(&actor, &tenant).await?))
}

/// A new version of the rules. Active at once, or `pending_approval` when the install
/// requires a second admin.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/retention/rules", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = ActivateInput,
    responses((status = 201, body = RuleSetVersion), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_rules(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: ActivateInput = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(
        hafen
            .retention
            .propose(&actor, &tenant, input.rules, &input.preview_id)
            .await?,
    ))
}

/// Every version of the rules, newest first: who changed what, and when.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/retention/rules/versions", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = Vec<RuleSetVersion>)),
    security(("bearer" = [])))]
pub async fn versions(hafen: web::Data<Hafen>, who: InTenant) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.retention.versions(&actor, &tenant).await?))
}

fn version(s: &str) -> Result<i32, ApiError> {
    s.parse::<i32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Error::NotFound.into())
}

/// A second admin approves a pending version; it becomes active.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/retention/rules/versions/{version}/approve", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id"), ("version" = i32, Path, description = "Version")),
    responses((status = 200, body = RuleSetVersion), (status = 403, body = Problem, description = "The proposer cannot approve"),
        (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn approve(
    hafen: web::Data<Hafen>,
    who: InTenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let (_, v) = path.into_inner();
    Ok(HttpResponse::Ok().json(
        hafen
            .retention
            .decide(&actor, &tenant, version(&v)?, true)
            .await?,
    ))
}

/// A second admin rejects a pending version.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/retention/rules/versions/{version}/reject", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id"), ("version" = i32, Path, description = "Version")),
    responses((status = 200, body = RuleSetVersion), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn reject(
    hafen: web::Data<Hafen>,
    who: InTenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let (_, v) = path.into_inner();
    Ok(HttpResponse::Ok().json(
        hafen
            .retention
            .decide(&actor, &tenant, version(&v)?, false)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// List what is due without deleting anything.
    pub dry_run: Option<bool>,
}

/// Runs retention for this tenant now (or lists what is due, with `dry_run=true`).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/retention/runs", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id"), RunQuery),
    responses((status = 200, body = RunReport)),
    security(("bearer" = [])))]
pub async fn run_tenant(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let q: RunQuery = query(&req)?;
    Ok(HttpResponse::Ok().json(
        hafen
            .retention
            .run(&actor, Some(&tenant), q.dry_run.unwrap_or(false))
            .await?,
    ))
}

/// Runs retention for every tenant (admin).
#[utoipa::path(post, path = "/v1/retention/runs", tag = "retention", params(RunQuery),
    responses((status = 200, body = RunReport)),
    security(("bearer" = [])))]
pub async fn run_all(
    hafen: web::Data<Hafen>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q: RunQuery = query(&req)?;
    Ok(HttpResponse::Ok().json(
        hafen
            .retention
            .run(&caller.0, None, q.dry_run.unwrap_or(false))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (default), `csv` or `pdf`.
    pub format: Option<String>,
}

/// The tenant's deletion certificates, oldest first, with the chain's verification.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/retention/certificates", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id"), FormatQuery),
    responses((status = 200, body = Vec<CertificateView>, description = "JSON; text/csv or application/pdf by format")),
    security(("bearer" = [])))]
pub async fn certificates(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let q: FormatQuery = query(&req)?;
    if !matches!(q.format.as_deref(), None | Some("json" | "csv" | "pdf")) {
        return Err(Error::invalid("format", "must be json, csv or pdf").into());
    }
    let (list, chain) = hafen.retention.certificates(&actor, &tenant).await?;
    let file = |ext: &str| {
        (
            "Content-Disposition",
            format!(
                "attachment; filename=\"loeschprotokoll-{}.{ext}\"",
                tenant.as_str()
            ),
        )
    };
    Ok(match q.format.as_deref() {
        Some("csv") => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(file("csv"))
            .body(certificates::to_csv(&list)),
        Some("pdf") => {
            let name = hafen.tenants.name(&tenant).await?;
            HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header(file("pdf"))
                .body(certificates::to_pdf(
                    &name,
                    &list,
                    chain.broken.is_none(),
                    hafen.clock().now(),
                    hafen.register.letterhead(&tenant).await?,
                )?)
        }
        _ => HttpResponse::Ok()
            .insert_header(("X-Hafen-Chain-Intact", chain.broken.is_none().to_string()))
            .json(list),
    })
}

/// Place a legal hold: on the whole tenant, one contact, or a range of data time.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/legal-holds", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = HoldInput,
    responses((status = 201, body = HoldView), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn place_hold(
    hafen: web::Data<Hafen>,
    who: InTenant,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: HoldInput = json_body(&req, body).await?;
    Ok(HttpResponse::Created().json(hafen.retention.place_hold(&actor, &tenant, input).await?))
}

/// The tenant's legal holds, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/legal-holds", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, body = Vec<HoldView>)),
    security(("bearer" = [])))]
pub async fn list_holds(hafen: web::Data<Hafen>, who: InTenant) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.retention.list_holds(&actor, &tenant).await?))
}

/// Release a hold: its data becomes eligible for deletion again.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/legal-holds/{id}/release", tag = "retention",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Hold id")),
    responses((status = 200, body = HoldView), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn release_hold(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(hafen.retention.release_hold(&actor, &tenant, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictInput {
    /// Why processing is restricted (sealed; shown to the tenant's admins and DPO).
    pub reason: String,
}

/// Restrict processing of a contact's data (Art. 18 GDPR, § 35(3) BDSG).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/contacts/{id}/restriction", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    request_body = RestrictInput,
    responses((status = 200, body = ContactView), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn restrict(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: RestrictInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .contacts
            .restrict(&actor, &tenant, &id, &input.reason)
            .await?,
    ))
}

/// Lift the restriction.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/contacts/{id}/restriction", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    responses((status = 200, body = ContactView)),
    security(("bearer" = [])))]
pub async fn lift_restriction(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    Ok(HttpResponse::Ok().json(
        hafen
            .contacts
            .lift_restriction(&actor, &tenant, &id)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RestrictedQuery {
    /// The Art. 18(2) ground: consent, legal_claims, protection_of_others, public_interest,
    /// data_subject_request.
    pub ground: String,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// The DPO's read of a restricted contact, naming the ground; audited.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts/{id}/restricted", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id"), RestrictedQuery),
    responses((status = 200, body = RestrictedExport), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn read_restricted(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let q: RestrictedQuery = query(&req)?;
    let ground = RestrictedGround::parse(&q.ground)?;
    let page = PageRequest::new(q.after, q.limit)?;
    Ok(HttpResponse::Ok().json(
        hafen
            .messages
            .read_restricted(&actor, &tenant, &id, ground, page)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationshipInput {
    /// When the business relationship ended; null: it continues (again).
    pub ended_at: Option<DateTime<Utc>>,
}

/// Record the end of the business relationship (the `relationship_end` start point).
#[utoipa::path(put, path = "/v1/tenants/{tenant}/contacts/{id}/relationship", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Contact id")),
    request_body = RelationshipInput,
    responses((status = 200, body = ContactView), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn relationship(
    hafen: web::Data<Hafen>,
    who: InTenant,
    ItemId(id): ItemId,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let input: RelationshipInput = json_body(&req, body).await?;
    Ok(HttpResponse::Ok().json(
        hafen
            .contacts
            .set_relationship_end(&actor, &tenant, &id, input.ended_at)
            .await?,
    ))
}

//! The GDPR register (processor and per tenant, versioned) and the reports built from it.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{json_value, query, Caller, InTenant};
use super::problem::{ApiError, Problem};
use crate::i18n::Lang;
use crate::records::report::{CsvDialect, Format, Kind, Report};
use crate::register::{EntryView, Scope, Section};
use crate::service::Hafen;
use crate::tenants::TenantId;

/// `?format=json|csv|xlsx|pdf&lang=de|en&csv=excel|rfc4180` (defaults: json, de, excel).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub format: Option<String>,
    pub lang: Option<String>,
    /// For CSV: `excel` (UTF-8 with BOM, `;` in German, values as the reader writes them) or
    /// `rfc4180` (`,`, no BOM, the canonical values of the JSON) for tools.
    pub csv: Option<String>,
}

fn section(s: &str) -> Result<Section, ApiError> {
    Ok(s.parse::<Section>()?)
}

fn entry_response(entry: Option<EntryView>) -> Result<HttpResponse, ApiError> {
    match entry {
        Some(e) => Ok(HttpResponse::Ok().json(e)),
        None => Err(crate::error::Error::NotFound.into()),
    }
}

/// The current version of a processor-wide section (`processor`, `measures`).
#[utoipa::path(get, path = "/v1/register/{section}", tag = "records",
    params(("section" = String, Path, description = "processor or measures")),
    responses((status = 200, body = EntryView), (status = 422, body = Problem, description = "not a section"),
        (status = 404, body = Problem, description = "nothing entered yet")),
    security(("bearer" = [])))]
pub async fn get_install(
    hafen: web::Data<Hafen>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = section(&path)?;
    entry_response(
        hafen
            .register
            .entry(&caller.0, &Scope::Processor, s)
            .await?,
    )
}

/// A new version of a processor-wide section. The previous version is kept; an unchanged
/// document creates no version (200 instead of 201).
#[utoipa::path(put, path = "/v1/register/{section}", tag = "records",
    params(("section" = String, Path, description = "processor or measures")),
    request_body(content = Object, description = "processor: Party; measures: [Measure]"),
    responses((status = 201, body = EntryView), (status = 200, body = EntryView),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_install(
    hafen: web::Data<Hafen>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let s = section(&path)?;
    put(&hafen, &caller, Scope::Processor, s, &req, body).await
}

/// Every version of a processor-wide section, newest first.
#[utoipa::path(get, path = "/v1/register/{section}/versions", tag = "records",
    params(("section" = String, Path, description = "processor or measures")),
    responses((status = 200, body = Vec<EntryView>), (status = 422, body = Problem, description = "not a section")),
    security(("bearer" = [])))]
pub async fn history_install(
    hafen: web::Data<Hafen>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = section(&path)?;
    Ok(HttpResponse::Ok().json(
        hafen
            .register
            .history(&caller.0, &Scope::Processor, s)
            .await?,
    ))
}

/// The current version of a tenant's section (`controller`, `activities`, `subprocessors`).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/register/{section}", tag = "records",
    params(("tenant" = String, Path, description = "Tenant id"),
        ("section" = String, Path, description = "controller, activities or subprocessors")),
    responses((status = 200, body = EntryView), (status = 422, body = Problem, description = "not a section")),
    security(("bearer" = [])))]
pub async fn get_tenant(
    hafen: web::Data<Hafen>,
    who: InTenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let (_, s) = path.into_inner();
    let scope = Scope::Tenant(tenant);
    entry_response(hafen.register.entry(&actor, &scope, section(&s)?).await?)
}

/// A new version of a tenant's section.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/register/{section}", tag = "records",
    params(("tenant" = String, Path, description = "Tenant id"),
        ("section" = String, Path, description = "controller, activities or subprocessors")),
    request_body(content = Object, description = "controller: Controller; activities: [Activity]; subprocessors: [SubProcessor]"),
    responses((status = 201, body = EntryView), (status = 200, body = EntryView),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_tenant(
    hafen: web::Data<Hafen>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (t, s) = path.into_inner();
    let scope = Scope::Tenant(TenantId::parse(&t)?);
    put(&hafen, &caller, scope, section(&s)?, &req, body).await
}

/// Every version of a tenant's section, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/register/{section}/versions", tag = "records",
    params(("tenant" = String, Path, description = "Tenant id"),
        ("section" = String, Path, description = "controller, activities or subprocessors")),
    responses((status = 200, body = Vec<EntryView>), (status = 422, body = Problem, description = "not a section")),
    security(("bearer" = [])))]
pub async fn history_tenant(
    hafen: web::Data<Hafen>,
    who: InTenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let (_, s) = path.into_inner();
    let scope = Scope::Tenant(tenant);
    Ok(HttpResponse::Ok().json(hafen.register.history(&actor, &scope, section(&s)?).await?))
}

async fn put(
    hafen: &Hafen,
    caller: &Caller,
    scope: Scope,
    section: Section,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let value = json_value(req, body).await?;
    let (entry, created) = hafen
        .register
        .put(&caller.0, &scope, section, value)
        .await?;
    Ok(if created {
        HttpResponse::Created().json(entry)
    } else {
        HttpResponse::Ok().json(entry)
    })
}

fn report_params(req: &HttpRequest) -> Result<(Format, Lang), ApiError> {
    let q: ReportQuery = query(req)?;
    let mut format = q.format.as_deref().unwrap_or("json").parse::<Format>()?;
    if let Some(dialect) = q.csv.as_deref() {
        format = format.with_csv(CsvDialect::parse(dialect)?);
    }
    let lang = Lang::parse(q.lang.as_deref().unwrap_or("de"))?;
    Ok((format, lang))
}

pub(crate) fn report_response(report: &Report, format: Format, bytes: Vec<u8>) -> HttpResponse {
    let scope = report.tenant_id.as_deref().unwrap_or("install");
    let name = format!(
        "{}-{}-{}.{}",
        report.kind,
        scope,
        report.generated_at.format("%Y%m%d"),
        format.as_str()
    );
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header(("X-Hafen-Content-SHA256", report.content_sha256.clone()))
        .insert_header((
            "X-Hafen-Register-Version",
            report.register_version.to_string(),
        ))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(bytes)
}

/// The processor's record over all tenants (Art. 30(2)): `processor-record`.
#[utoipa::path(get, path = "/v1/reports/{kind}", tag = "records",
    params(("kind" = String, Path, description = "processor-record"), ReportQuery),
    responses((status = 200, body = Report, description = "JSON; CSV, XLSX or PDF by format"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn install_report(
    hafen: web::Data<Hafen>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let kind: Kind = path.parse()?;
    let (format, lang) = report_params(&req)?;
    let (report, bytes) = hafen
        .records
        .report(&caller.0, kind, None, lang, format)
        .await?;
    Ok(report_response(&report, format, bytes))
}

/// A tenant's report: `controller-record`, `toms`, `subprocessors`, `deletion-concept`,
/// `deletion-report`, `consent-statistics`, `request-log`, `avv-terms`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/reports/{kind}", tag = "records",
    params(("tenant" = String, Path, description = "Tenant id"),
        ("kind" = String, Path, description = "Report kind"), ReportQuery),
    responses((status = 200, body = Report, description = "JSON; CSV, XLSX or PDF by format"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn tenant_report(
    hafen: web::Data<Hafen>,
    who: InTenant,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let InTenant { actor, tenant } = who;
    let (_, k) = path.into_inner();
    let kind: Kind = k.parse()?;
    if kind.is_install_wide() {
        return Err(crate::error::Error::invalid(
            "kind",
            "processor-record covers every tenant: use /v1/reports/processor-record",
        )
        .into());
    }
    let (format, lang) = report_params(&req)?;
    let (report, bytes) = hafen
        .records
        .report(&actor, kind, Some(&tenant), lang, format)
        .await?;
    Ok(report_response(&report, format, bytes))
}

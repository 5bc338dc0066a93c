//! The dashboard and the tenant list.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::{layout, query_param, see_other, when, Area, Posted, SignedIn, UiError};
use crate::i18n::Text;
use crate::service::Hafen;
use crate::tenants::TenantName;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/dashboard", web::get().to(dashboard))
        .route("/ui/tenants", web::get().to(tenants))
        .route("/ui/tenants", web::post().to(create_tenant))
        .route("/ui/tenant", web::get().to(pick_tenant));
}

async fn dashboard(hafen: web::Data<Hafen>, who: SignedIn) -> Result<HttpResponse, UiError> {
    let d = hafen
        .overview
        .dashboard(who.actor())
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let missing = super::missing_entries(&hafen, &who).await;
    // Channel health is for those who look after channels: to anyone else an empty list would
    // read as "no channels".
    let sees_channels = who.tenants.iter().any(|(tenant, _)| {
        who.actor()
            .authorize(tenant, crate::auth::Permission::ManageChannels)
            .is_ok()
    });
    let content = html! {
        h1 { (t(Text::Dashboard)) }
        @if !missing.is_empty() {
            section.notice.warn #records-missing aria-labelledby="missing" {
                h2 #missing { (t(Text::RecordsMissing)) }
                ul { @for (what, href) in &missing { li { a href=(href) { (what) } } } }
            }
        }
        div.cards {
            section.card aria-labelledby="ingest" {
                h2 #ingest { (t(Text::IngestRate)) }
                p.figure { (d.received_last_hour) } p { (t(Text::Messages)) ", " (t(Text::LastHour)) }
                p.figure { (d.received_last_day) } p { (t(Text::Messages)) ", " (t(Text::LastDay)) }
            }
            @if d.install_wide {
            section.card aria-labelledby="overdue" {
                h2 #overdue { (t(Text::RetentionOverdue)) }
                @match d.retention_overdue {
                    Some(n) => p.figure.warn[n > 0] { (n) },
                    None => { p.figure { "—" } p.hint { (t(Text::OverdueUnknown)) } },
                }
                p { (t(Text::LastRun)) ": "
                    @match d.retention_last_success { Some(at) => (when(at)), None => (t(Text::Never)) } }
                @if let Some(at) = d.retention_failed_since {
                    p.warn { (t(Text::RunFailed)) ": " (when(at)) }
                }
                p.hint {
                    @if d.approval_always { (t(Text::ApprovalAlways)) }
                    @else { (t(Text::ApprovalAbove)) " " (crate::i18n::percent(d.approval_above_percent, who.lang)) }
                }
            }
            section.card aria-labelledby="backup" {
                h2 #backup { (t(Text::LastBackup)) }
                @match d.last_backup {
                    Some(at) => p.figure.small { (when(at)) },
                    None => p.figure.small.warn { (t(Text::NoBackup)) },
                }
            }
            }
        }
        @if sees_channels { section aria-labelledby="health" {
            h2 #health { (t(Text::ChannelHealth)) }
            @if d.channels.is_empty() { p { (t(Text::None_)) } } @else {
                table {
                    thead { tr { th { (t(Text::Tenant)) } th { (t(Text::Name)) } th { (t(Text::Platform)) } th { (t(Text::Status)) } th { (t(Text::LastMessage)) } } }
                    tbody {
                        @for c in &d.channels {
                            tr {
                                td { (c.tenant) }
                                td { a href={ "/ui/t/" (c.tenant_id) "/channels" } { (c.name) } }
                                td { (super::contacts::platform_name(&c.platform)) }
                                td { @if c.enabled { (t(Text::Enabled)) } @else { span.warn { (t(Text::Disabled)) } } }
                                td { @match c.last_message { Some(at) => (when(at)), None => (t(Text::Never)) } }
                            }
                        }
                    }
                }
            }
        } }
        section aria-labelledby="dsr" {
            h2 #dsr { (t(Text::OpenRequests)) }
            @if d.open_requests.is_empty() { p { (t(Text::None_)) } } @else {
                table {
                    thead { tr { th { (t(Text::Tenant)) } th { (t(Text::Kind)) } th { (t(Text::Received)) } th { (t(Text::Deadline)) } } }
                    tbody {
                        @for r in &d.open_requests {
                            tr {
                                td { (r.tenant) }
                                td { a href={ "/ui/t/" (r.tenant_id) "/requests" } { (t(super::requests::kind_text(r.request.kind))) } }
                                td { (r.request.received_on) }
                                td {
                                    (r.request.extended_due_on.as_deref().unwrap_or(&r.request.due_on))
                                    @if r.request.overdue { " " strong.warn { (t(Text::Overdue)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(
        &who,
        Area::Dashboard,
        None,
        t(Text::Dashboard),
        content,
    ))
}

async fn tenants(who: SignedIn) -> Result<HttpResponse, UiError> {
    let t = |x: Text| who.t(x);
    let may_create = who
        .actor()
        .authorize_install(crate::auth::Permission::ManageTenants)
        .is_ok();
    let content = html! {
        h1 { (t(Text::Tenants)) }
        @if who.tenants.is_empty() { p { (t(Text::NoTenant)) } } @else {
            table {
                thead { tr { th { (t(Text::Name)) } th { "ID" } th {} } }
                tbody {
                    @for (id, name) in &who.tenants {
                        tr {
                            td { (name) }
                            td { code { (id.as_str()) } }
                            td { a href={ "/ui/t/" (id.as_str()) "/channels" } { (t(Text::Open)) } }
                        }
                    }
                }
            }
        }
        @if may_create {
            h2 { (t(Text::CreateTenant)) }
            form method="post" action="/ui/tenants" {
                input type="hidden" name="csrf" value=(who.session.csrf);
                label for="tenant-name" { (t(Text::TenantName)) }
                input #tenant-name type="text" name="name" required maxlength="200";
                button type="submit" { (t(Text::CreateTenant)) }
            }
        }
    };
    Ok(layout(&who, Area::Tenants, None, t(Text::Tenants), content))
}

async fn create_tenant(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
) -> Result<HttpResponse, UiError> {
    let name = TenantName::parse(form.get("name")).map_err(UiError::domain(who.lang))?;
    let tenant = hafen
        .tenants
        .create(who.actor(), name)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other(&format!("/ui/t/{}/channels", tenant.id)))
}

/// The tenant picker: the same area, another tenant.
async fn pick_tenant(req: HttpRequest, who: SignedIn) -> Result<HttpResponse, UiError> {
    let (tenant, _) = who.tenant(&query_param(&req, "id"))?;
    let requested = query_param(&req, "area");
    let area = match requested.as_str() {
        a @ ("channels" | "retention" | "holds" | "consent" | "contacts" | "requests"
        | "certificates") => a,
        _ => "channels",
    };
    let mut response = see_other(&format!("/ui/t/{}/{area}", tenant.as_str()));
    let _ = response.add_cookie(&super::tenant_cookie(&tenant, who.secure));
    Ok(response)
}

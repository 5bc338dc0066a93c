//! Reports (choose kind, tenant, format, language; download) and the audit log viewer with
//! chain verification.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::{layout, query_param, when, Area, SignedIn, UiError};
use crate::clock::from_micros;
use crate::error::Error;
use crate::i18n::Lang;
use crate::i18n::Text;
use crate::records::report::{Format, Kind};
use crate::service::Hafen;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/reports", web::get().to(reports))
        .route("/ui/reports/download", web::get().to(download))
        .route("/ui/audit", web::get().to(audit));
}

async fn reports(who: SignedIn) -> Result<HttpResponse, UiError> {
    let t = |x: Text| who.t(x);
    let install_wide = matches!(who.actor().person(), Some((_, None)));
    let content = html! {
        h1 { (t(Text::Reports)) }
        form method="get" action="/ui/reports/download" {
            label for="r-kind" { (t(Text::Report)) }
            select #r-kind name="kind" {
                @for k in Kind::ALL {
                    @if install_wide || !k.is_install_wide() {
                        option value=(k.as_str()) { (k.title(who.lang)) }
                    }
                }
            }
            label for="r-tenant" { (t(Text::Tenant)) }
            select #r-tenant name="tenant" {
                @if install_wide { option value="" { (t(Text::InstallWide)) } }
                @for (id, name) in &who.tenants { option value=(id.as_str()) { (name) } }
            }
            label for="r-format" { (t(Text::Format)) }
            select #r-format name="format" {
                option value="pdf" { "PDF" } option value="xlsx" { "XLSX" } option value="csv" { "CSV" } option value="json" { "JSON" }
            }
            label for="r-lang" { (t(Text::Language)) }
            select #r-lang name="lang" {
                option value="de" selected[who.lang == Lang::De] { "Deutsch" }
                option value="en" selected[who.lang == Lang::En] { "English" }
            }
            button type="submit" { (t(Text::Download)) }
        }
    };
    Ok(layout(&who, Area::Reports, None, t(Text::Reports), content))
}

/// A report as a file. A GET (it changes nothing but the audit log, and the session cookie
/// is SameSite=Strict, so another site cannot make the browser fetch it signed in).
async fn download(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    let kind: Kind = query_param(&req, "kind").as_str().parse().map_err(&e)?;
    let format: Format = query_param(&req, "format").as_str().parse().map_err(&e)?;
    let lang = Lang::parse(query_param(&req, "lang").as_str()).map_err(&e)?;
    let tenant = match query_param(&req, "tenant").as_str() {
        "" => None,
        id => Some(who.tenant(id)?.0),
    };
    let tenant = match (kind.is_install_wide(), tenant) {
        (true, _) => None,
        (false, Some(t)) => Some(t),
        (false, None) => {
            return Err(e(Error::invalid(
                "tenant",
                "this report is about one tenant: choose it",
            )))
        }
    };
    let (report, bytes) = hafen
        .records
        .report(who.actor(), kind, tenant.as_ref(), lang, format)
        .await
        .map_err(&e)?;
    Ok(crate::http::records::report_response(
        &report, format, bytes,
    ))
}

async fn audit(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    let tenant = match query_param(&req, "tenant").as_str() {
        "" => None,
        id => Some(who.tenant(id)?.0),
    };
    let group = crate::audit::AuditGroup::parse(&query_param(&req, "area"));
    let entries = hafen
        .audit
        .entries(who.actor(), tenant.as_ref(), group, 200)
        .await
        .map_err(&e)?;
    let verify = query_param(&req, "verify").as_str() == "1";
    let chain = if verify {
        who.actor()
            .authorize_processor(crate::auth::Permission::ExportRecords)
            .map_err(&e)?;
        Some(hafen.audit.verify_chain().await.map_err(&e)?)
    } else {
        None
    };
    let t = |x: Text| who.t(x);
    let actors = hafen
        .accounts
        .actor_names(entries.iter().map(|a| a.actor.as_str()))
        .await
        .map_err(&e)?;
    let actor_name = |label: &str| {
        actors
            .get(label)
            .map_or_else(|| label.to_string(), |n| n.show(who.lang))
    };
    let install_wide = matches!(who.actor().person(), Some((_, None)));
    let name_of = |id: &Option<String>| {
        id.as_deref()
            .and_then(|id| who.tenants.iter().find(|(t, _)| t.as_str() == id))
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let content = html! {
        h1 { (t(Text::Audit)) }
        form.inline method="get" action="/ui/audit" {
            @if install_wide {
                label for="a-tenant" { (t(Text::Tenant)) }
                select #a-tenant name="tenant" {
                    option value="" { (t(Text::AllTenants)) }
                    @for (id, name) in &who.tenants { option value=(id.as_str()) selected[tenant.as_ref() == Some(id)] { (name) } }
                }
            }
            label for="a-area" { (t(Text::AuditArea)) }
            select #a-area name="area" {
                option value="" { (t(Text::AllEntries)) }
                @for g in crate::audit::AuditGroup::ALL {
                    option value=(g.slug()) selected[group == Some(g)] { (t(audit_group_text(g))) }
                }
            }
            button type="submit" { (t(Text::Filter)) }
        }
        @if install_wide {
            form.inline method="get" action="/ui/audit" {
                input type="hidden" name="verify" value="1";
                button type="submit" { (t(Text::VerifyChain)) }
            }
        }
        @if let Some(report) = &chain {
            p #chain role="status" {
                @if report.intact() { span.ok { "✓ " (t(Text::ChainIntact)) " (" (report.verified) " " (t(Text::Entries)) ")" } }
                @else { strong.warn { "✗ " (t(Text::ChainBroken)) @if let Some(b) = &report.broken { " #" (b.seq) ": " (b.reason) } } }
            }
        }
        table {
            thead { tr { th { "#" } th { (t(Text::Time)) } th { (t(Text::Tenant)) } th { (t(Text::Actor)) } th { (t(Text::Action)) } th { (t(Text::Object)) } } }
            tbody {
                @for a in &entries {
                    tr {
                        td { (a.seq) }
                        td { (when(from_micros(a.at))) }
                        td { (name_of(&a.tenant_id)) }
                        td { (actor_name(&a.actor)) }
                        td title=(a.action) { (crate::i18n::audit_words::action(&a.action, who.lang).unwrap_or(&a.action)) }
                        td { @if let (Some(k), Some(id)) = (&a.object_type, &a.object_id) { (crate::i18n::audit_words::object(k, who.lang).unwrap_or(k)) " " code { (id) } } }
                    }
                }
            }
        }
    };
    Ok(layout(&who, Area::Audit, None, t(Text::Audit), content))
}

fn audit_group_text(g: crate::audit::AuditGroup) -> Text {
    use crate::audit::AuditGroup as G;
    match g {
        G::SignIns => Text::GroupSignIns,
        G::Tokens => Text::Tokens,
        G::Contacts => Text::GroupContacts,
        G::Requests => Text::Requests,
        G::Consent => Text::Consent,
        G::Retention => Text::Retention,
        G::Channels => Text::GroupChannels,
        G::Messages => Text::GroupMessages,
        G::Webhooks => Text::GroupWebhooks,
        G::Reports => Text::Reports,
    }
}

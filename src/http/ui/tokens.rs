//! API tokens in the interface: listed with their name, role, tenant, issuer, last use and end;
//! issued (the secret shown once, on the answer page only); revoked at once. Admins see every
//! token, tenant admins their tenant's — the same rules as `/v1/tokens`.

use actix_web::{web, HttpResponse};
use maud::html;

use super::{layout, see_other, when, Area, Posted, SignedIn, UiError};
use crate::accounts::tokens::TokenView;
use crate::auth::token::TokenSpec;
use crate::auth::Role;
use crate::error::Error;
use crate::i18n::Text;
use crate::service::Hafen;
use crate::tenants::TenantId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/tokens", web::get().to(tokens))
        .route("/ui/tokens", web::post().to(create))
        .route("/ui/tokens/{id}/revoke", web::post().to(revoke));
}

fn install_wide(who: &SignedIn) -> bool {
    matches!(who.actor().person(), Some((_, None)))
}

/// The tokens this person may manage: every one for an admin, else their tenants'.
async fn visible(hafen: &Hafen, who: &SignedIn) -> Result<Vec<TokenView>, Error> {
    if install_wide(who) {
        return hafen.accounts.list_tokens(who.actor(), None).await;
    }
    let mut all = Vec::new();
    for (tenant, _) in &who.tenants {
        all.extend(
            hafen
                .accounts
                .list_tokens(who.actor(), Some(tenant))
                .await?,
        );
    }
    Ok(all)
}

fn state_text(state: &str) -> Text {
    match state {
        "revoked" => Text::TokenRevoked,
        "expired" => Text::TokenExpired,
        _ => Text::TokenActive,
    }
}

async fn tokens(hafen: web::Data<Hafen>, who: SignedIn) -> Result<HttpResponse, UiError> {
    let list = visible(&hafen, &who)
        .await
        .map_err(UiError::domain(who.lang))?;
    page(&hafen, &who, &list, None).await
}

async fn page(
    hafen: &Hafen,
    who: &SignedIn,
    list: &[TokenView],
    issued: Option<(&str, &TokenView)>,
) -> Result<HttpResponse, UiError> {
    let t = |x: Text| who.t(x);
    let issuers = hafen
        .accounts
        .actor_names(list.iter().map(|k| k.created_by.as_str()))
        .await
        .map_err(UiError::domain(who.lang))?;
    let issuer = |label: &str| {
        issuers
            .get(label)
            .map_or_else(|| label.to_string(), |n| n.show(who.lang))
    };
    let tenant_name = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| who.tenants.iter().find(|(t, _)| t.as_str() == id))
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| t(Text::InstallWide).to_string())
    };
    let day = |at: Option<chrono::DateTime<chrono::Utc>>| match at {
        Some(at) => when(at),
        None => t(Text::Never).to_string(),
    };
    let content = html! {
        h1 { (t(Text::Tokens)) }
        @if let Some((secret, view)) = issued {
            section.notice role="status" {
                p { strong { (t(Text::TokenShownOnce)) } }
                p { code #new-token { (secret) } }
                p.hint { (view.name.as_deref().unwrap_or("")) " · " (view.role.as_str()) }
            }
        }
        p.hint { (t(Text::TokensHint)) }
        table {
            thead { tr {
                th { (t(Text::Name)) } th { (t(Text::Role)) } th { (t(Text::Tenant)) }
                th { (t(Text::CreatedBy)) } th { (t(Text::Created)) } th { (t(Text::LastUsed)) }
                th { (t(Text::Expires)) } th { (t(Text::Status)) } th {}
            } }
            tbody {
                @for token in list {
                    tr {
                        td { (token.name.as_deref().unwrap_or("—")) br; small { code { (token.id) } } }
                        td { (token.role.as_str()) }
                        td { (tenant_name(&token.tenant_id)) }
                        td { (issuer(&token.created_by)) }
                        td { (when(token.created_at)) }
                        td { (day(token.last_used_at)) }
                        td { (day(token.expires_at)) }
                        td { @if token.state == "active" { (t(state_text(token.state))) } @else { span.warn { (t(state_text(token.state))) } } }
                        td {
                            @if token.state == "active" {
                                form method="post" action={ "/ui/tokens/" (token.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(who.session.csrf);
                                    button.secondary type="submit" { (t(Text::Revoke)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (t(Text::CreateToken)) }
        form method="post" action="/ui/tokens" {
            input type="hidden" name="csrf" value=(who.session.csrf);
            label for="k-name" { (t(Text::Name)) }
            input #k-name type="text" name="name" maxlength="100" autocomplete="off";
            label for="k-role" { (t(Text::Role)) }
            select #k-role name="role" {
                @for r in [Role::Agent, Role::Ingest, Role::Dpo, Role::TenantAdmin] { option value=(r.as_str()) { (r.as_str()) } }
            }
            label for="k-tenant" { (t(Text::Tenant)) }
            select #k-tenant name="tenant" {
                @for (id, name) in &who.tenants { option value=(id.as_str()) { (name) } }
            }
            label for="k-days" { (t(Text::ExpiresInDays)) }
            input #k-days type="number" name="days" min="1" max="36500";
            button type="submit" { (t(Text::CreateToken)) }
        }
    };
    let mut response = layout(who, Area::Tokens, None, t(Text::Tokens), content);
    // The page may carry a new secret: never cached.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

async fn create(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    let role: Role = form.get("role").parse().map_err(&e)?;
    let tenant = TenantId::parse(form.get("tenant")).map_err(&e)?;
    let lifetime = match form.opt("days") {
        None => None,
        Some(d) => match d.parse::<i64>() {
            Ok(d @ 1..=36500) => Some(chrono::Duration::days(d)),
            _ => {
                return Err(e(Error::invalid(
                    "days",
                    "must be a number of days from 1 to 36500",
                )))
            }
        },
    };
    let spec = TokenSpec {
        role,
        tenant: Some(tenant),
        name: form.opt("name"),
        expires_at: None,
    };
    let created = hafen
        .accounts
        .issue_token(who.actor(), spec, lifetime)
        .await
        .map_err(&e)?;
    let list = visible(&hafen, &who).await.map_err(&e)?;
    let view = list
        .iter()
        .find(|v| v.id == created.id)
        .cloned()
        .ok_or_else(|| e(Error::NotFound))?;
    page(&hafen, &who, &list, Some((created.token.expose(), &view))).await
}

async fn revoke(
    hafen: web::Data<Hafen>,
    Posted { who, .. }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    if install_wide(&who) {
        hafen
            .accounts
            .revoke_token(who.actor(), None, &path)
            .await
            .map_err(&e)?;
        return Ok(see_other("/ui/tokens"));
    }
    for (tenant, _) in &who.tenants {
        match hafen
            .accounts
            .revoke_token(who.actor(), Some(tenant), &path)
            .await
        {
            Ok(_) => return Ok(see_other("/ui/tokens")),
            Err(Error::NotFound) => continue,
            Err(other) => return Err(e(other)),
        }
    }
    Err(e(Error::NotFound))
}

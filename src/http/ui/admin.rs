//! People who may sign in: listed and created by admins (all) and tenant admins (their
//! tenant's). A password set here, at creation or by *Reset access* (which also removes TOTP and
//! lifts a lockout), works only to choose one's own at the next sign-in.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::{layout, query_param, see_other, when, Area, Posted, SignedIn, UiError};
use crate::accounts::{LoginName, NewPassword};
use crate::auth::Role;
use crate::i18n::Text;
use crate::service::Hafen;
use crate::tenants::TenantId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/users", web::get().to(users))
        .route("/ui/users", web::post().to(create_user))
        .route("/ui/users/{id}/disable", web::post().to(disable_user))
        .route("/ui/users/{id}/reset", web::post().to(reset_user));
}

async fn users(
    req: HttpRequest,
    hafen: web::Data<Hafen>,
    who: SignedIn,
) -> Result<HttpResponse, UiError> {
    let list = hafen
        .accounts
        .list_users(who.actor())
        .await
        .map_err(UiError::domain(who.lang))?;
    let t = |x: Text| who.t(x);
    let install_wide = matches!(who.actor().person(), Some((_, None)));
    let own_id = who.session.user_id.clone();
    let tenant_name = |id: &Option<TenantId>| {
        id.as_ref()
            .and_then(|id| who.tenants.iter().find(|(t, _)| t == id))
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| "—".into())
    };
    let reset_done = query_param(&req, "reset") == "done";
    let content = html! {
        h1 { (t(Text::Users)) }
        @if reset_done { p.notice role="status" { (t(Text::UserReset)) } }
        table {
            thead { tr { th { (t(Text::Login)) } th { (t(Text::Role)) } th { (t(Text::Tenant)) } th { (t(Text::TwoFactor)) } th { (t(Text::Created)) } th {} } }
            tbody {
                @for u in &list {
                    tr {
                        td { (u.login) @if u.locked { " " span.warn { (t(Text::Locked)) } } }
                        td { (u.role.as_str()) }
                        td { (tenant_name(&u.tenant)) }
                        td { (if u.totp { t(Text::Yes) } else { t(Text::No) }) }
                        td { (when(u.created_at)) }
                        td {
                            @if u.id != own_id {
                                form method="post" action={ "/ui/users/" (u.id) "/disable" } {
                                    input type="hidden" name="csrf" value=(who.session.csrf);
                                    button.secondary type="submit" { (t(Text::Disable)) }
                                }
                                details {
                                    summary { (t(Text::ResetAccess)) }
                                    form method="post" action={ "/ui/users/" (u.id) "/reset" } {
                                        input type="hidden" name="csrf" value=(who.session.csrf);
                                        p.hint { (t(Text::ResetHint)) }
                                        label for={ "r-" (u.id) } { (t(Text::TemporaryPassword)) }
                                        input id={ "r-" (u.id) } type="password" name="password" required minlength="12" autocomplete="new-password";
                                        button type="submit" { (t(Text::ResetAccess)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (t(Text::CreateUser)) }
        form method="post" action="/ui/users" {
            input type="hidden" name="csrf" value=(who.session.csrf);
            label for="u-login" { (t(Text::Login)) }
            input #u-login type="text" name="login" required autocomplete="off";
            label for="u-password" { (t(Text::Password)) " (≥ 12)" }
            input #u-password type="password" name="password" required minlength="12" autocomplete="new-password";
            label for="u-role" { (t(Text::Role)) }
            select #u-role name="role" {
                @for r in [Role::Agent, Role::Dpo, Role::TenantAdmin] { option value=(r.as_str()) { (r.as_str()) } }
                @if install_wide { option value="admin" { "admin" } }
            }
            label for="u-tenant" { (t(Text::Tenant)) }
            select #u-tenant name="tenant" {
                @if install_wide { option value="" { "— (admin, " (t(Text::InstallWide)) ")" } }
                @for (id, name) in &who.tenants { option value=(id.as_str()) { (name) } }
            }
            button type="submit" { (t(Text::CreateUser)) }
        }
    };
    Ok(layout(&who, Area::Users, None, t(Text::Users), content))
}

async fn create_user(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    let login = LoginName::parse(form.get("login")).map_err(&e)?;
    let password = NewPassword::parse(form.untrimmed("password")).map_err(&e)?;
    let role: Role = form.get("role").parse().map_err(&e)?;
    let tenant = form
        .opt("tenant")
        .map(|t| TenantId::parse(&t))
        .transpose()
        .map_err(&e)?;
    hafen
        .accounts
        .create_user(who.actor(), &login, password, role, tenant.as_ref())
        .await
        .map_err(&e)?;
    Ok(see_other("/ui/users"))
}

async fn disable_user(
    hafen: web::Data<Hafen>,
    Posted { who, .. }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    hafen
        .accounts
        .disable_user(who.actor(), &path)
        .await
        .map_err(UiError::domain(who.lang))?;
    Ok(see_other("/ui/users"))
}

async fn reset_user(
    hafen: web::Data<Hafen>,
    Posted { who, form }: Posted,
    path: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let e = UiError::domain(who.lang);
    let password = NewPassword::parse(form.untrimmed("password")).map_err(&e)?;
    hafen
        .accounts
        .reset_user(who.actor(), &path, password)
        .await
        .map_err(&e)?;
    Ok(see_other("/ui/users?reset=done"))
}

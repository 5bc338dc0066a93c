//! The web interface under `/ui/`: server-rendered pages (maud), one module per area, each
//! calling the same domain operations as the API as a signed-in [`Actor::User`]. Everything
//! ships in the binary; the pages pass `default-src 'none'` with only same-origin scripts and
//! styles. Security rules (docs/ui.md): session cookie HttpOnly, SameSite=Strict, Path=/ui,
//! Secure under TLS; every form carries the session's CSRF token and must come from this
//! origin; sign-in is audited and locks after repeated failures.

mod account;
mod admin;
mod channels;
mod contacts;
mod form;
mod message_content;
mod pages;
mod records;
mod register;
mod requests;
mod retention;
mod sign_in;
mod tenant;
mod tokens;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use maud::{html, Markup, DOCTYPE};

pub use form::{Form, Kept, Posted};
pub use register::missing_entries;
pub use sign_in::SignInRate;

use crate::accounts::Session;
use crate::auth::Actor;
use crate::error::Error;
use crate::i18n::{Lang, Text};
use crate::service::Hafen;
use crate::tenants::TenantId;

/// `public_url`, checked: where the platforms reach this install (None: not configured).
#[derive(Debug, Clone, Default)]
pub struct PublicUrl(pub Option<String>);

pub const SESSION_COOKIE: &str = "hafen_session";
/// The tenant a person last worked in: kept across pages that belong to no tenant, so the
/// navigation never silently switches to another one.
pub const TENANT_COOKIE: &str = "hafen_tenant";
const LANG_COOKIE: &str = "hafen_lang";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("static/ui.css");
const JS: &str = include_str!("static/ui.js");
const FAVICON: &str = include_str!("static/favicon.svg");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui", web::get().to(home))
        .route("/ui/", web::get().to(home))
        .route("/ui/static/ui.css", web::get().to(css))
        .route("/ui/static/ui.js", web::get().to(js))
        .route("/ui/static/favicon.svg", web::get().to(favicon))
        .route("/favicon.ico", web::get().to(favicon))
        .route("/", web::get().to(home))
        .route("/ui/lang/{lang}", web::get().to(switch_language));
    sign_in::routes(cfg);
    pages::routes(cfg);
    admin::routes(cfg);
    tokens::routes(cfg);
    account::routes(cfg);
    channels::routes(cfg);
    tenant::routes(cfg);
    contacts::routes(cfg);
    message_content::routes(cfg);
    requests::routes(cfg);
    retention::routes(cfg);
    register::routes(cfg);
    records::routes(cfg);
}

async fn home(req: HttpRequest) -> HttpResponse {
    let to = if req.cookie(SESSION_COOKIE).is_some() {
        "/ui/dashboard"
    } else {
        "/ui/sign-in"
    };
    see_other(to)
}

/// An anchor on the install's colour; also answers `/favicon.ico`, which browsers ask for.
async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

/// A page under /ui/ that does not exist: a page, in the interface's language, not JSON.
pub fn missing_page(req: &HttpRequest) -> HttpResponse {
    let lang = lang_of(req);
    let t = |x: Text| x.get(lang);
    page(
        StatusCode::NOT_FOUND,
        bare(
            lang,
            t(Text::PageNotFound),
            html! {
                h1 { (t(Text::PageNotFound)) }
                p { (t(Text::PageNotFoundHint)) }
                p { a href="/ui/" { (t(Text::ToTheInterface)) } }
            },
        ),
    )
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(JS)
}

/// Switches the interface language (a cookie, so it works before sign-in too) and goes back
/// to the page it came from (only a local path, never another site).
async fn switch_language(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let lang = Lang::parse(&path).unwrap_or_default();
    let back = req
        .query_string()
        .strip_prefix("back=")
        .and_then(|b| {
            url::form_urlencoded::parse(format!("b={b}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|b| local_page(&b))
        .unwrap_or_else(|| "/ui/".into());
    let mut cookie = Cookie::new(LANG_COOKIE, lang.as_str());
    cookie.set_path("/ui");
    cookie.set_same_site(SameSite::Lax);
    cookie.set_max_age(actix_web::cookie::time::Duration::days(365));
    let mut response = see_other(&back);
    let _ = response.add_cookie(&cookie);
    response
}

/// `path` if it is a page of this interface (a local path under /ui/, nothing a browser could
/// read as another site or another header): the only kind of address the interface redirects
/// to on a request's word.
pub fn local_page(path: &str) -> Option<String> {
    let local = path.starts_with("/ui/")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path.len() <= 2000;
    local.then(|| path.to_string())
}

/// A query-string parameter, decoded; empty when absent.
pub fn query_param(req: &HttpRequest, name: &str) -> String {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// The language of a request: the cookie, else the browser's preference, else German.
pub fn lang_of(req: &HttpRequest) -> Lang {
    if let Some(c) = req.cookie(LANG_COOKIE) {
        return Lang::parse(c.value()).unwrap_or_default();
    }
    let prefers_english = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("en"));
    if prefers_english {
        Lang::En
    } else {
        Lang::De
    }
}

/// Whether cookies get `Secure`: under TLS, or behind a trusted TLS proxy that says so.
pub fn secure_transport(req: &HttpRequest) -> bool {
    crate::http::forwarded::https(req)
}

/// The pages a person whose password was set by an admin may open before choosing their own.
const OPEN_BEFORE_OWN_PASSWORD: &[&str] = &["/ui/account", "/ui/account/password", "/ui/sign-out"];

/// A person signed in, with the language and the tenants they can see.
pub struct SignedIn {
    pub session: Session,
    /// The person's login name, shown in the header.
    pub login: String,
    /// The tenant chosen last (cookie), if the person may still see it.
    pub chosen: Option<TenantId>,
    /// Cookies get `Secure`.
    pub secure: bool,
    pub lang: Lang,
    pub tenants: Vec<(TenantId, String)>,
    pub path: String,
}

impl SignedIn {
    pub fn actor(&self) -> &Actor {
        &self.session.actor
    }

    pub fn t(&self, text: Text) -> &'static str {
        text.get(self.lang)
    }

    /// The tenant of a `/ui/t/{tenant}/…` page. A tenant the person cannot see is "not
    /// found", as in the API.
    pub fn tenant(&self, id: &str) -> Result<(TenantId, String), UiError> {
        self.tenants
            .iter()
            .find(|(t, _)| t.as_str() == id)
            .cloned()
            .ok_or(UiError::Domain(Error::NotFound, self.lang))
    }
}

impl FromRequest for SignedIn {
    type Error = UiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, UiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let hafen = req.app_data::<web::Data<Hafen>>().cloned();
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
        let chosen = req.cookie(TENANT_COOKIE).map(|c| c.value().to_string());
        let secure = secure_transport(req);
        let lang = lang_of(req);
        let path = req.path().to_string();
        // After signing in, a person who followed a link gets the page they asked for.
        let wanted = (req.method() == actix_web::http::Method::GET)
            .then(|| match req.query_string() {
                "" => path.clone(),
                q => format!("{path}?{q}"),
            })
            .and_then(|p| local_page(&p))
            .filter(|p| p != "/ui/dashboard");
        Box::pin(async move {
            let sign_in = || UiError::SignIn(wanted.clone());
            let hafen = hafen.ok_or_else(sign_in)?;
            let cookie = cookie.ok_or_else(sign_in)?;
            let session = hafen
                .accounts
                .session(&cookie)
                .await
                .map_err(|e| UiError::Domain(e, lang))?
                .ok_or_else(sign_in)?;
            if session.must_change_password && !OPEN_BEFORE_OWN_PASSWORD.contains(&path.as_str()) {
                return Err(UiError::OwnPasswordFirst);
            }
            let tenants = hafen
                .overview
                .visible_tenants(&session.actor)
                .await
                .map_err(|e| UiError::Domain(e, lang))?;
            let (login, _) = hafen
                .accounts
                .own_account(&session.actor)
                .await
                .map_err(|e| UiError::Domain(e, lang))?;
            let chosen = chosen.and_then(|c| {
                tenants
                    .iter()
                    .find(|(t, _)| t.as_str() == c)
                    .map(|(t, _)| t.clone())
            });
            Ok(SignedIn {
                session,
                login,
                chosen,
                secure,
                lang,
                tenants,
                path,
            })
        })
    }
}

/// What a page can fail with: no session (to the sign-in page), a domain error (a page that
/// says what went wrong, with the API's status), or a refused form.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No live session: to the sign-in page, which returns to the page asked for (GET only).
    #[error("sign-in required")]
    SignIn(Option<String>),
    /// The password was set by an admin: to the account page to choose one's own.
    #[error("own password required")]
    OwnPasswordFirst,
    #[error("{0}")]
    Domain(Error, Lang),
    #[error("form refused: {}", .0.get(Lang::En))]
    Form(Text, Lang),
    /// A request refused before its fields were read, with its own status (413, 415).
    #[error("request refused: {}", .1.get(Lang::En))]
    Refused(StatusCode, Text, Lang),
}

impl UiError {
    pub fn domain(lang: Lang) -> impl Fn(Error) -> UiError {
        move |e| UiError::Domain(e, lang)
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn(_) | UiError::OwnPasswordFirst => StatusCode::SEE_OTHER,
            UiError::Form(..) => StatusCode::FORBIDDEN,
            UiError::Refused(status, ..) => *status,
            UiError::Domain(e, _) => super::problem::domain_parts(e).0,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (lang, message) = match self {
            UiError::SignIn(wanted) => return see_other(&sign_in::url(wanted.as_deref())),
            UiError::OwnPasswordFirst => return see_other("/ui/account"),
            UiError::Form(why, lang) | UiError::Refused(_, why, lang) => {
                tracing::info!(reason = why.get(Lang::En), "web interface form refused");
                (*lang, why.get(*lang).to_string())
            }
            UiError::Domain(e, lang) => {
                match e {
                    Error::Internal(cause) => tracing::error!(
                        error = %crate::telemetry::chain(cause.as_ref()),
                        "web interface request failed"
                    ),
                    other => tracing::debug!(error = %other, "web interface request refused"),
                }
                return error_page(self.status_code(), *lang, domain_message(e, *lang));
            }
        };
        error_page(self.status_code(), lang, (message, None))
    }
}

/// What a domain error means for the person who met it, in the page's language, and the
/// server's own (English) words as a technical detail where they add something.
fn domain_message(e: &Error, lang: Lang) -> (String, Option<String>) {
    let t = |x: Text| x.get(lang).to_string();
    match e {
        Error::NotFound => (t(Text::NotFound), None),
        Error::Forbidden(why) => (t(Text::ForbiddenHint), Some(why.clone())),
        Error::Invalid { .. } => (t(Text::InputRefused), Some(e.to_string())),
        Error::Conflict(why) => (t(Text::ConflictHint), Some(why.clone())),
        Error::Busy(_) | Error::Unavailable(_) => (t(Text::TryAgainHint), Some(e.to_string())),
        Error::Unauthenticated | Error::TokenEnded(_) => (t(Text::SignInAgainHint), None),
        Error::Internal(_) => (t(Text::InternalHint), None),
    }
}

/// An error as a page: what happened in words, the technical detail marked as English, and
/// the way back (to the form as it was typed, where the browser keeps it).
fn error_page(
    status: StatusCode,
    lang: Lang,
    (message, detail): (String, Option<String>),
) -> HttpResponse {
    let title = Text::Error.get(lang);
    page(
        status,
        bare(
            lang,
            title,
            html! {
                p.brand { a href="/ui/dashboard" { "Hafen" } }
                h1 { (title) }
                p.error role="alert" { (message) }
                @if let Some(detail) = detail {
                    p.technical { small { (Text::TechnicalDetail.get(lang)) " " span lang="en" { (detail) } } }
                }
                p { a href="/ui/" data-back { (Text::BackToForm.get(lang)) } }
            },
        ),
    )
}

/// An HTML response with the interface's CSP.
pub fn page(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CSP))
        .body(body.into_string())
}

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · Hafen" }
        link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml";
        link rel="stylesheet" href="/ui/static/ui.css";
        script src="/ui/static/ui.js" defer {}
    }
}

fn language_switch(lang: Lang, back: &str) -> Markup {
    let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    html! {
        nav.lang aria-label=(Text::Language.get(lang)) {
            @for l in [Lang::De, Lang::En] {
                @if l == lang {
                    span aria-current="true" { (Text::lang_name(l)) }
                } @else {
                    a href={ "/ui/lang/" (l.as_str()) "?back=" (back) } lang=(l.as_str()) { (Text::lang_name(l)) }
                }
            }
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(lang: Lang, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head { (head(title)) }
            body.bare {
                main #main { (content) }
            }
        }
    }
}

/// Where a page sits in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Dashboard,
    Tenants,
    Channels,
    Retention,
    Holds,
    Consent,
    Contacts,
    Requests,
    Certificates,
    Register,
    Reports,
    Audit,
    Users,
    Tokens,
    Account,
}

/// A page of the signed-in interface: skip link, navigation, language switch, sign-out.
pub fn layout(
    who: &SignedIn,
    area: Area,
    tenant: Option<&TenantId>,
    title: &str,
    content: Markup,
) -> HttpResponse {
    let lang = who.lang;
    let t = |x: Text| x.get(lang);
    let current = tenant
        .or(who.chosen.as_ref())
        .or(who.tenants.first().map(|(t, _)| t));
    let current_name = current.and_then(|c| {
        who.tenants
            .iter()
            .find(|(t, _)| t == c)
            .map(|(_, n)| n.as_str())
    });
    let link = |a: Area, href: String, label: Text| {
        html! {
            li { a href=(href) aria-current=[(a == area).then_some("page")] { (t(label)) } }
        }
    };
    let (role, _) = who
        .actor()
        .person()
        .unwrap_or((crate::auth::Role::Agent, None));
    // The navigation offers only pages the person may open (in the tenant shown).
    let may = |p: crate::auth::Permission| match current {
        Some(t) => who.actor().authorize(t, p).is_ok(),
        None => who.actor().authorize_install(p).is_ok(),
    };
    use crate::auth::Permission as P;
    let body = html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head { (head(title)) }
            body {
                a.skip href="#main" { (t(Text::SkipToContent)) }
                header {
                    a.brand href="/ui/dashboard" { "Hafen" }
                    (language_switch(lang, &who.path))
                    form.signout method="post" action="/ui/sign-out" {
                        input type="hidden" name="csrf" value=(who.session.csrf);
                        a.who href="/ui/account" aria-current=[(area == Area::Account).then_some("page")] { (t(Text::SignedInAs)) " " strong { (who.login) } " (" (role.as_str()) ")" }
                        button type="submit" { (t(Text::SignOut)) }
                    }
                }
                nav.main aria-label="Hafen" {
                    ul {
                        (link(Area::Dashboard, "/ui/dashboard".into(), Text::Dashboard))
                        (link(Area::Tenants, "/ui/tenants".into(), Text::Tenants))
                        @if let Some(tid) = current {
                            @let base = format!("/ui/t/{}", tid.as_str());
                            li.current-tenant { small { (t(Text::Tenant)) } br; strong { (current_name.unwrap_or("")) } }
                            @if may(P::ManageChannels) { (link(Area::Channels, format!("{base}/channels"), Text::Channels)) }
                            @if may(P::ViewRetention) { (link(Area::Retention, format!("{base}/retention"), Text::Retention)) }
                            @if may(P::ManageHolds) { (link(Area::Holds, format!("{base}/holds"), Text::Holds)) }
                            @if may(P::ManageConsent) { (link(Area::Consent, format!("{base}/consent"), Text::Consent)) }
                            @if may(P::ReadContent) { (link(Area::Contacts, format!("{base}/contacts"), Text::Contacts)) }
                            @if may(P::HandleRequests) { (link(Area::Requests, format!("{base}/requests"), Text::Requests)) }
                            @if may(P::ViewRetention) { (link(Area::Certificates, format!("{base}/certificates"), Text::Certificates)) }
                            @if may(P::ManageRecords) { (link(Area::Register, format!("{base}/register"), Text::Register)) }
                            li.divider role="presentation" {}
                        }
                        @if may(P::ExportRecords) {
                            (link(Area::Reports, "/ui/reports".into(), Text::Reports))
                            (link(Area::Audit, "/ui/audit".into(), Text::Audit))
                        }
                        @if may(P::ManageTokens) {
                            (link(Area::Users, "/ui/users".into(), Text::Users))
                            (link(Area::Tokens, "/ui/tokens".into(), Text::Tokens))
                        }
                    }
                    @if who.tenants.len() > 1 {
                        @if let Some(tid) = current {
                            form.tenant-pick method="get" action="/ui/tenant" {
                                label for="tenant-pick" { (t(Text::Tenant)) }
                                select #tenant-pick name="id" data-autosubmit {
                                    @for (id, name) in &who.tenants {
                                        option value=(id.as_str()) selected[id == tid] { (name) }
                                    }
                                }
                                input type="hidden" name="area" value=(area_slug(area));
                                noscript { button type="submit" { (t(Text::Open)) } }
                            }
                        }
                    }
                }
                main #main { (content) }
            }
        }
    };
    let mut response = page(StatusCode::OK, body);
    // A tenant page makes its tenant the chosen one.
    if let Some(t) = tenant.filter(|t| who.chosen.as_ref() != Some(*t)) {
        let _ = response.add_cookie(&tenant_cookie(t, who.secure));
    }
    response
}

/// The chosen-tenant cookie: the tenant id only (not personal), for the interface's paths.
pub fn tenant_cookie(tenant: &TenantId, secure: bool) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(TENANT_COOKIE, tenant.as_str().to_string())
        .path("/ui")
        .http_only(true)
        .secure(secure)
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish()
}

pub fn area_slug(area: Area) -> &'static str {
    match area {
        Area::Channels => "channels",
        Area::Retention => "retention",
        Area::Holds => "holds",
        Area::Consent => "consent",
        Area::Contacts => "contacts",
        Area::Requests => "requests",
        Area::Certificates => "certificates",
        Area::Register => "register",
        _ => "channels",
    }
}

/// A date and time for people (UTC, as the audit log keeps it).
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

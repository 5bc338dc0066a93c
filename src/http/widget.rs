//! The hosted double opt-in sign-up page (`/w/{tenant}/{purpose}`), its form submission, and
//! an embed script that places it in an iframe on the company's website.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use super::extract::raw_body;
use super::problem::ApiError;
use crate::consent::widget::{SignUp, SignUpRefusal};
use crate::consent::WidgetStyle;
use crate::error::Error;
use crate::i18n::{Lang, Text};
use crate::service::Hafen;
use crate::tenants::TenantId;

const COOKIE: &str = "hafen_csrf";
/// Framing is the point of the widget: any site may embed it; nothing else is allowed.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors *; base-uri 'none'";

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Form {
    phone: Option<String>,
    consent: Option<String>,
    csrf: Option<String>,
    lang: Option<String>,
}

/// The page's language: English when asked for, German otherwise (never an error: the page
/// is for the public, and a wrong `lang` should still show the form).
fn language(lang: Option<&str>) -> Lang {
    match lang {
        Some("en") => Lang::En,
        _ => Lang::De,
    }
}

/// The page around a sign-up form or its answer, in the purpose's colour (checked to be
/// `#rrggbb` when the purpose was saved, so it goes into the style sheet as it is).
fn page(style: &WidgetStyle, lang: Lang, title: &str, body: Markup) -> String {
    let color = style.color.as_deref().unwrap_or("#005f73");
    let css = format!(
        "body{{font-family:system-ui,sans-serif;max-width:32rem;margin:1.5rem auto;padding:0 1rem;color:#1b1b1b}}h1{{color:{color};font-size:1.4rem}}
label{{display:block;margin:.8rem 0}}input[type=tel]{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}
button{{background:{color};color:#fff;border:0;padding:.6rem 1.2rem;font-size:1rem;border-radius:.3rem;cursor:pointer}}
.consent{{display:flex;gap:.6rem;align-items:flex-start}}.error{{color:#a4161a;font-weight:600}}.small{{font-size:.85rem;color:#555}}"
    );
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(css)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// What the form shows: the purpose's words, and what the person entered when it comes back.
struct FormPage<'a> {
    style: &'a WidgetStyle,
    name: &'a str,
    text: &'a str,
    token: &'a str,
    lang: Lang,
    error: Option<Text>,
    phone: &'a str,
}

fn form_page(f: FormPage<'_>) -> String {
    let lang = f.lang;
    let title = f.style.title.as_deref().unwrap_or(f.name);
    let body = html! {
        h1 { (title) }
        @if let Some(intro) = &f.style.intro { p { (intro) } }
        @if let Some(error) = f.error { p.error role="alert" { (error.get(lang)) } }
        form method="post" id="signup" {
            input type="hidden" name="csrf" value=(f.token);
            input type="hidden" name="lang" value=(lang.as_str());
            label {
                (Text::SignUpNumber.get(lang))
                input type="tel" name="phone" autocomplete="tel" placeholder="+49 151 23456789" required value=(f.phone);
            }
            label.consent {
                input type="checkbox" name="consent" value="yes" required;
                span { (Text::SignUpAgree.get(lang)) " " (f.text) }
            }
            button type="submit" { (Text::SignUpSubmit.get(lang)) }
        }
        @if let Some(url) = &f.style.privacy_url {
            p.small { a href=(url) target="_blank" rel="noopener" { (Text::SignUpPrivacy.get(lang)) } }
        }
    };
    page(f.style, lang, title, body)
}

/// The answer to a sign-up the form accepted.
fn done_page(style: &WidgetStyle, lang: Lang) -> String {
    let title = Text::SignUpDoneTitle.get(lang);
    let body = html! {
        h1 { (title) }
        p id="done" { (Text::SignUpDoneText.get(lang)) }
    };
    page(style, lang, title, body)
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CSP))
        .body(body)
}

async fn style_of(
    hafen: &Hafen,
    tenant: &TenantId,
    purpose: &str,
) -> Result<WidgetStyle, ApiError> {
    let view = hafen
        .consent
        .list_purposes(&crate::auth::Actor::System, tenant)
        .await?
        .into_iter()
        .find(|p| p.id == purpose)
        .ok_or(Error::NotFound)?;
    Ok(view.widget.unwrap_or_default())
}

/// Over HTTPS (cookies for embedded widgets need `Secure; SameSite=None`).
fn csrf_cookie(token: &str, https: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, token.to_string())
        .path("/w/")
        .http_only(true)
        .finish();
    if https {
        cookie.set_secure(true);
        cookie.set_same_site(SameSite::None);
    } else {
        cookie.set_same_site(SameSite::Lax);
    }
    cookie
}

/// How the form comes back: first shown, or refused with the reason and the number entered.
struct Shown<'a> {
    status: StatusCode,
    error: Option<Text>,
    phone: &'a str,
}

/// The form for `purpose`, with a fresh CSRF token in the page and in its cookie.
async fn form_response(
    hafen: &Hafen,
    req: &HttpRequest,
    (tenant, purpose): (&TenantId, &str),
    (style, lang): (&WidgetStyle, Lang),
    shown: Shown<'_>,
) -> Result<HttpResponse, ApiError> {
    let (name, text) = hafen
        .consent
        .widget_purpose(tenant, purpose, lang.as_str())
        .await?;
    let token = hafen.consent.widget_token(tenant, purpose);
    let page = form_page(FormPage {
        style,
        name: &name,
        text: &text,
        token: &token,
        lang,
        error: shown.error,
        phone: shown.phone,
    });
    let mut response = html(shown.status, page);
    response
        .add_cookie(&csrf_cookie(&token, super::forwarded::https(req)))
        .map_err(|e| Error::internal(anyhow::anyhow!("{e}")))?;
    Ok(response)
}

/// The sign-up page.
pub async fn show(
    hafen: web::Data<Hafen>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (tenant, purpose) = path.into_inner();
    let tenant = TenantId::parse(&tenant)?;
    let query: PageQuery = super::extract::query(&req)?;
    let lang = language(query.lang.as_deref());
    let style = style_of(&hafen, &tenant, &purpose).await?;
    let shown = Shown {
        status: StatusCode::OK,
        error: None,
        phone: "",
    };
    form_response(&hafen, &req, (&tenant, &purpose), (&style, lang), shown).await
}

/// The form submission.
pub async fn submit(
    hafen: web::Data<Hafen>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (tenant, purpose) = path.into_inner();
    let tenant = TenantId::parse(&tenant)?;
    let raw = raw_body(&req, body).await?;
    let form: Form = serde_urlencoded::from_bytes(&raw)
        .map_err(|_| ApiError::Malformed("the form could not be read".into()))?;
    let lang = language(form.lang.as_deref());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect::<String>())
    };
    let phone = form.phone.clone().unwrap_or_default();
    let sign_up = SignUp {
        phone: phone.clone(),
        consent_ticked: form.consent.as_deref() == Some("yes"),
        csrf_form: form.csrf,
        csrf_cookie: req.cookie(COOKIE).map(|c| c.value().to_string()),
        language: lang.as_str().to_string(),
        ip: super::forwarded::client_ip(&req).map(|ip| ip.to_string()),
        user_agent: header("user-agent"),
        page: header("referer"),
        origin: header("origin"),
    };
    let outcome = hafen
        .consent
        .widget_sign_up(&tenant, &purpose, sign_up)
        .await?;
    let style = style_of(&hafen, &tenant, &purpose).await?;
    let (status, message) = match outcome {
        Ok(()) => return Ok(html(StatusCode::OK, done_page(&style, lang))),
        Err(SignUpRefusal::Csrf) => (StatusCode::FORBIDDEN, Text::SignUpExpired),
        Err(SignUpRefusal::ConsentMissing) => {
            (StatusCode::UNPROCESSABLE_ENTITY, Text::SignUpTickConsent)
        }
        Err(SignUpRefusal::BadNumber) => (StatusCode::UNPROCESSABLE_ENTITY, Text::SignUpBadNumber),
        Err(SignUpRefusal::RateLimited) => (StatusCode::TOO_MANY_REQUESTS, Text::SignUpTooMany),
    };
    let shown = Shown {
        status,
        error: Some(message),
        phone: &phone,
    };
    form_response(&hafen, &req, (&tenant, &purpose), (&style, lang), shown).await
}

/// `<script src=".../embed.js" async></script>` places the widget where the script stands.
pub async fn embed(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (tenant, purpose) = path.into_inner();
    let tenant = TenantId::parse(&tenant)?;
    // The page's address comes from the script's own URL in the browser, never from request
    // headers a client (or a shared cache) could set.
    // Purposes are named by UUIDs: anything else names none (and needs no quoting below).
    let purpose = uuid::Uuid::parse_str(&purpose).map_err(|_| Error::NotFound)?;
    let page = format!("/w/{}/{}", tenant.as_str(), purpose.hyphenated());
    let script = format!(
        "(function(){{var s=document.currentScript;var f=document.createElement('iframe');\
f.src=new URL({page:?},s.src).href;f.title='Anmeldung';f.style.cssText='width:100%;max-width:34rem;height:32rem;border:0';\
s.parentNode.insertBefore(f,s);}})();"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(script))
}

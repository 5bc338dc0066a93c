//! The hosted double opt-in sign-up page (`/w/{tenant}/{purpose}`), its form submission, and
//! an embed script that places it in an iframe on the company's website.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::raw_body;
use super::problem::ApiError;
use crate::consent::widget::{SignUp, SignUpRefusal};
use crate::consent::WidgetStyle;
use crate::error::Error;
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

fn language(lang: Option<&str>) -> &'static str {
    match lang {
        Some("en") => "en",
        _ => "de",
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

struct Words {
    number: &'static str,
    agree: &'static str,
    submit: &'static str,
    privacy: &'static str,
    done_title: &'static str,
    done_text: &'static str,
}

fn words(lang: &str) -> Words {
    if lang == "en" {
        Words {
            number: "Your WhatsApp number",
            agree: "I agree:",
            submit: "Sign up",
            privacy: "Privacy policy",
            done_title: "Almost done",
            done_text: "If this number can receive our messages, we have just sent you a WhatsApp message. Reply YES to confirm your sign-up. Without your confirmation you will not receive anything.",
        }
    } else {
        Words {
            number: "Ihre WhatsApp-Nummer",
            agree: "Ich willige ein:",
            submit: "Anmelden",
            privacy: "Datenschutzerklärung",
            done_title: "Fast geschafft",
            done_text: "Wenn diese Nummer unsere Nachrichten empfangen kann, haben wir Ihnen soeben eine WhatsApp-Nachricht geschickt. Antworten Sie mit JA, um Ihre Anmeldung zu bestätigen. Ohne Ihre Bestätigung erhalten Sie nichts.",
        }
    }
}

fn page(style: &WidgetStyle, title: &str, body: &str) -> String {
    let color = style.color.as_deref().unwrap_or("#005f73");
    format!(
        r#"<!doctype html><html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:1.5rem auto;padding:0 1rem;color:#1b1b1b}}h1{{color:{color};font-size:1.4rem}}
label{{display:block;margin:.8rem 0}}input[type=tel]{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}
button{{background:{color};color:#fff;border:0;padding:.6rem 1.2rem;font-size:1rem;border-radius:.3rem;cursor:pointer}}
.consent{{display:flex;gap:.6rem;align-items:flex-start}}.error{{color:#a4161a;font-weight:600}}.small{{font-size:.85rem;color:#555}}</style></head>
<body>{body}</body></html>"#,
        title = escape(title),
        color = color,
        body = body
    )
}

fn form_page(
    style: &WidgetStyle,
    name: &str,
    text: &str,
    token: &str,
    lang: &str,
    error: Option<&str>,
    phone: &str,
) -> String {
    let w = words(lang);
    let title = style.title.clone().unwrap_or_else(|| name.to_string());
    let intro = style
        .intro
        .as_deref()
        .map(|i| format!("<p>{}</p>", escape(i)))
        .unwrap_or_default();
    let privacy = style
        .privacy_url
        .as_deref()
        .map(|u| {
            format!(
                r#"<p class="small"><a href="{}" target="_blank" rel="noopener">{}</a></p>"#,
                escape(u),
                w.privacy
            )
        })
        .unwrap_or_default();
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>{title}</h1>{intro}{error}<form method="post" id="signup">
<input type="hidden" name="csrf" value="{token}"><input type="hidden" name="lang" value="{lang}">
<label>{number}<input type="tel" name="phone" autocomplete="tel" placeholder="+49 151 23456789" required value="{phone}"></label>
<label class="consent"><input type="checkbox" name="consent" value="yes" required><span>{agree} {text}</span></label>
<button type="submit">{submit}</button></form>{privacy}"#,
        title = escape(&title),
        token = escape(token),
        lang = lang,
        number = w.number,
        phone = escape(phone),
        agree = w.agree,
        text = escape(text),
        submit = w.submit,
    );
    page(style, &title, &body)
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
    let (name, text) = hafen
        .consent
        .widget_purpose(&tenant, &purpose, lang)
        .await?;
    let style = style_of(&hafen, &tenant, &purpose).await?;
    let token = hafen.consent.widget_token(&tenant, &purpose);
    let transport = super::forwarded::https(&req);
    let mut response = html(
        StatusCode::OK,
        form_page(&style, &name, &text, &token, lang, None, ""),
    );
    response
        .add_cookie(&csrf_cookie(&token, transport))
        .map_err(|e| Error::internal(anyhow::anyhow!("{e}")))?;
    Ok(response)
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
        language: lang.to_string(),
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
    let w = words(lang);
    let (status, message) = match outcome {
        Ok(()) => {
            let body = format!(
                r#"<h1>{}</h1><p id="done">{}</p>"#,
                w.done_title, w.done_text
            );
            return Ok(html(StatusCode::OK, page(&style, w.done_title, &body)));
        }
        Err(SignUpRefusal::Csrf) => (
            StatusCode::FORBIDDEN,
            if lang == "en" {
                "This form has expired. Please try again."
            } else {
                "Das Formular ist abgelaufen. Bitte versuchen Sie es erneut."
            },
        ),
        Err(SignUpRefusal::ConsentMissing) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            if lang == "en" {
                "Please tick the consent box."
            } else {
                "Bitte setzen Sie das Häkchen bei der Einwilligung."
            },
        ),
        Err(SignUpRefusal::BadNumber) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            if lang == "en" {
                "Please enter your number in international format, e.g. +49 151 23456789."
            } else {
                "Bitte geben Sie Ihre Nummer im internationalen Format ein, z. B. +49 151 23456789."
            },
        ),
        Err(SignUpRefusal::RateLimited) => (
            StatusCode::TOO_MANY_REQUESTS,
            if lang == "en" {
                "Too many attempts. Please try again later."
            } else {
                "Zu viele Versuche. Bitte versuchen Sie es später erneut."
            },
        ),
    };
    let (name, text) = hafen
        .consent
        .widget_purpose(&tenant, &purpose, lang)
        .await?;
    let token = hafen.consent.widget_token(&tenant, &purpose);
    let transport = super::forwarded::https(&req);
    let mut response = html(
        status,
        form_page(&style, &name, &text, &token, lang, Some(message), &phone),
    );
    response
        .add_cookie(&csrf_cookie(&token, transport))
        .map_err(|e| Error::internal(anyhow::anyhow!("{e}")))?;
    Ok(response)
}

/// `<script src=".../embed.js" async></script>` places the widget where the script stands.
pub async fn embed(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (tenant, purpose) = path.into_inner();
    let tenant = TenantId::parse(&tenant)?;
    // The page's address comes from the script's own URL in the browser, never from request
    // headers a client (or a shared cache) could set.
    let page = format!("/w/{}/{}", tenant.as_str(), escape(&purpose));
    let script = format!(
        "(function(){{var s=document.currentScript;var f=document.createElement('iframe');\
f.src=new URL({page:?},s.src).href;f.title='Anmeldung';f.style.cssText='width:100%;max-width:34rem;height:32rem;border:0';\
s.parentNode.insertBefore(f,s);}})();"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(script))
}

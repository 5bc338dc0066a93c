//! Sign-in and sign-out. The sign-in form has no session yet, so it carries a double-submit
//! token (a random value in a cookie and in the form, which another site can neither read nor
//! set); every attempt is audited and five failures lock the name (see `accounts::users`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use maud::html;
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::{
    bare, lang_of, local_page, page, query_param, secure_transport, see_other, Form, SignedIn,
    UiError, SESSION_COOKIE,
};
use crate::error::Error;
use crate::http::forwarded::client_ip;
use crate::http::limits::IpRateLimit;
use crate::i18n::{Lang, Text};
use crate::sensitive::Sensitive;
use crate::service::Hafen;

const SIGN_IN_COOKIE: &str = "hafen_signin";

/// Sign-in attempts per second and address, before names are even looked at.
pub struct SignInRate(pub IpRateLimit);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/sign-in", web::get().to(form))
        .route("/ui/sign-in", web::post().to(submit))
        .route("/ui/sign-out", web::post().to(sign_out));
}

/// The sign-in page, returning to `next` (a checked local page) after signing in.
pub fn url(next: Option<&str>) -> String {
    match next {
        Some(next) => format!(
            "/ui/sign-in?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish()
        ),
        None => "/ui/sign-in".into(),
    }
}

fn cookie<'a>(req: &HttpRequest, name: &'a str, value: String, path: &'a str) -> Cookie<'a> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_path(path);
    c.set_secure(secure_transport(req));
    c
}

fn render(
    req: &HttpRequest,
    lang: Lang,
    status: StatusCode,
    message: Option<Text>,
    next: Option<&str>,
) -> HttpResponse {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let t = |x: Text| x.get(lang);
    // Switching the language keeps the page to return to.
    let here = url(next);
    let body = bare(
        lang,
        t(Text::SignIn),
        html! {
            div.signin {
                p.brand { "Hafen" }
                (super::language_switch(lang, &here))
                h1 { (t(Text::SignIn)) }
                @if let Some(m) = message {
                    p.error role="alert" { (t(m)) }
                }
                form method="post" action="/ui/sign-in" {
                    input type="hidden" name="token" value=(token);
                    @if let Some(next) = next {
                        input type="hidden" name="next" value=(next);
                    }
                    label for="login" { (t(Text::Login)) }
                    input #login type="text" name="login" autocomplete="username" required autofocus;
                    label for="password" { (t(Text::Password)) }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    label for="code" { (t(Text::TotpCode)) }
                    input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}";
                    button type="submit" { (t(Text::SignIn)) }
                }
            }
        },
    );
    let mut response = page(status, body);
    let _ = response.add_cookie(&cookie(req, SIGN_IN_COOKIE, token, "/ui/sign-in"));
    response
}

async fn form(req: HttpRequest) -> HttpResponse {
    let next = local_page(&query_param(&req, "next"));
    render(&req, lang_of(&req), StatusCode::OK, None, next.as_deref())
}

async fn submit(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    rate: web::Data<SignInRate>,
) -> Result<HttpResponse, UiError> {
    let lang = lang_of(&req);
    if let Some(ip) = client_ip(&req) {
        if !rate.0.allow(ip, hafen.clock().now()) {
            return Ok(render(
                &req,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                Some(Text::SignInFailed),
                None,
            ));
        }
    }
    let form = Form::read_unchecked(&req, body, lang).await?;
    let next = local_page(form.get("next"));
    let cookie_token = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_string());
    let token_ok = cookie_token.is_some_and(|c| {
        !c.is_empty() && bool::from(c.as_bytes().ct_eq(form.get("token").as_bytes()))
    });
    if !token_ok {
        return Ok(render(
            &req,
            lang,
            StatusCode::FORBIDDEN,
            Some(Text::SignInExpired),
            next.as_deref(),
        ));
    }
    let password = Sensitive::new(form.untrimmed("password").to_string());
    let code = form.opt("code");
    match hafen
        .accounts
        .check_sign_in(form.get("login"), password, code.as_deref())
        .await
    {
        Ok(user) => {
            let id = match hafen.accounts.start_session(&user).await {
                Ok(id) => id,
                // Reset or disabled while the password was being checked: a failed sign-in.
                Err(Error::Unauthenticated) => {
                    return Ok(render(
                        &req,
                        lang,
                        StatusCode::UNAUTHORIZED,
                        Some(Text::SignInFailed),
                        next.as_deref(),
                    ))
                }
                Err(e) => return Err(UiError::Domain(e, lang)),
            };
            let mut response = see_other(next.as_deref().unwrap_or("/ui/dashboard"));
            let _ = response.add_cookie(&cookie(&req, SESSION_COOKIE, id.expose().clone(), "/ui"));
            let mut spent = cookie(&req, SIGN_IN_COOKIE, String::new(), "/ui/sign-in");
            spent.make_removal();
            let _ = response.add_cookie(&spent);
            Ok(response)
        }
        Err(_) => Ok(render(
            &req,
            lang,
            StatusCode::UNAUTHORIZED,
            Some(Text::SignInFailed),
            next.as_deref(),
        )),
    }
}

async fn sign_out(
    req: HttpRequest,
    body: web::Payload,
    hafen: web::Data<Hafen>,
    who: SignedIn,
) -> Result<HttpResponse, UiError> {
    Form::read(&req, body, &hafen, &who.session, who.lang).await?;
    hafen
        .accounts
        .end_session(&who.session)
        .await
        .map_err(UiError::domain(who.lang))?;
    let mut response = see_other("/ui/sign-in");
    let mut gone = cookie(&req, SESSION_COOKIE, String::new(), "/ui");
    gone.make_removal();
    let _ = response.add_cookie(&gone);
    Ok(response)
}
